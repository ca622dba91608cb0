//! The three administrators: the security administrator (安全管理员) owns the password, lock-out and session policy
//! (stored, validated, audited, in force at once); the system administrator neither sets the policy, nor reads the
//! audit log, nor manages security or audit administrators; the audit administrator only reads.

use axum::http::StatusCode;
use chrono::TimeDelta;

use crate::harness::TestApp;
use anxu::setup::DEMO_PASSWORD;

const FIELDS: [&str; 6] = [
    "password_min_len",
    "password_classes",
    "lockout_after",
    "lockout_minutes",
    "session_idle_minutes",
    "session_absolute_hours",
];

const DEFAULTS: [&str; 6] = ["8", "3", "5", "15", "30", "8"];

/// The policy form with `values` in the order of `FIELDS`.
fn form(values: [&'static str; 6]) -> Vec<(&'static str, &'static str)> {
    FIELDS.into_iter().zip(values).collect()
}

/// `DEFAULTS` with field `i` set to `v`.
fn with(i: usize, v: &'static str) -> [&'static str; 6] {
    let mut values = DEFAULTS;
    values[i] = v;
    values
}

async fn policy_changes(app: &TestApp) -> i64 {
    app.scalar("SELECT count(*) FROM audit_log WHERE action = 'security.policy'").await
}

#[tokio::test]
async fn the_security_admin_lowers_the_lock_out_threshold_and_sign_in_follows_it() {
    let app = TestApp::new();
    // Under the default policy three failures do not lock.
    let mut probe = app.anon();
    for _ in 0..3 {
        assert_eq!(probe.sign_in("hz_kezhang", "Wrong@2026").await.texts(".form-error"), vec!["用户名或密码错误"]);
    }
    assert_eq!(probe.sign_in("hz_kezhang", DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);

    let sec = app.login_as("zj_secadmin").await;
    let page = sec.get("/security/policy").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.texts("#policy-saved")[0].contains("系统默认"), "{}", page.body);
    assert!(page.has("input#f-lockout_after[value='5']"), "{}", page.body);
    let r = sec.post_form("/security/policy", &form(with(2, "3"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/security/policy?notice=saved");
    let page = sec.get("/security/policy").await;
    assert!(page.texts("#policy-summary")[0].contains("连续 3 次登录失败"), "{}", page.body);
    assert!(page.texts("#policy-saved")[0].contains("zj_secadmin"));
    assert!(page.has("input#f-lockout_after[value='3']"));
    assert_eq!(app.scalar("SELECT lockout_after FROM security_policy ORDER BY id DESC LIMIT 1").await, 3);

    // Now the third failure locks.
    let mut c = app.anon();
    for i in 1..=2 {
        assert_eq!(c.sign_in("xh_keyuan", "Wrong@2026").await.texts(".form-error"), vec!["用户名或密码错误"], "{i}");
    }
    let r = c.sign_in("xh_keyuan", "Wrong@2026").await;
    assert!(r.texts(".form-error")[0].contains("账号已锁定"), "{}", r.body);
    assert_eq!(c.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::UNAUTHORIZED);

    // The change is in the audit log, naming the value before and after.
    assert_eq!(policy_changes(&app).await, 1);
    let detail = app.text("SELECT detail FROM audit_log WHERE action = 'security.policy'").await;
    assert_eq!(detail, "连续登录失败锁定次数 5→3 次");
    assert_eq!(app.text("SELECT actor_login FROM audit_log WHERE action = 'security.policy'").await, "zj_secadmin");

    // The security administrator sees the locked account and unlocks it.
    let locked = sec.get("/security/locked").await;
    assert_eq!(locked.texts("tbody td:first-child"), vec!["xh_keyuan"]);
    let id = app.user_id("xh_keyuan").await;
    let r = sec.post_form(&format!("/security/locked/{id}/unlock"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(c.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'user.unlock'").await, 1);
    // Unlocking an account that is not locked is refused.
    assert_eq!(sec.post_form(&format!("/security/locked/{id}/unlock"), &[]).await.status, StatusCode::CONFLICT);

    // Saving the policy in force changes nothing and records nothing.
    let r = sec.post_form("/security/policy", &form(with(2, "3"))).await;
    assert_eq!(r.location(), "/security/policy?notice=unchanged");
    assert_eq!(policy_changes(&app).await, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM security_policy").await, 1);
}

#[tokio::test]
async fn session_lifetimes_and_the_password_rule_follow_the_policy_at_once() {
    let app = TestApp::new();
    let approver = app.login_as("xh_keyuan").await;
    app.advance(TimeDelta::minutes(6));
    assert_eq!(approver.get("/").await.status, StatusCode::OK, "6 idle minutes are allowed by default");

    let sec = app.login_as("zj_secadmin").await;
    let r = sec.post_form("/security/policy", &form(["12", "3", "5", "15", "5", "8"])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let detail = app.text("SELECT detail FROM audit_log WHERE action = 'security.policy'").await;
    assert!(detail.contains("密码最小长度 8→12") && detail.contains("会话空闲超时 30→5"), "{detail}");

    app.advance(TimeDelta::minutes(6));
    let r = approver.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().contains("expired=1"), "{}", r.location());

    // New passwords must meet the new length; the form says so.
    let zj = app.login_as("zj_admin").await;
    let new_form = zj.get("/config/users/new").await;
    assert!(new_form.body.contains("12 到 64 个字符"), "{}", new_form.body);
    let before = app.dump("users").await;
    let r = zj
        .post_form(
            "/config/users",
            &[
                ("login_name", "short_pw"),
                ("real_name", "短密码"),
                ("region", "330100"),
                ("mobile", "13700001111"),
                ("user_type", "commander"),
                ("approval_role", ""),
                ("password", "Abcdef1!xyz"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("password").unwrap().contains("12"), "{:?}", r.field_error("password"));
    assert_eq!(app.dump("users").await, before);
}

#[tokio::test]
async fn bad_values_are_refused_in_chinese_and_nothing_changes() {
    let app = TestApp::new();
    let sec = app.login_as("zj_secadmin").await;
    let policy_before = app.dump("security_policy").await;
    let audit_before = app.dump("audit_log").await;
    for (values, field, words) in [
        (with(0, "7"), "password_min_len", "8 到 32"),
        (with(0, "33"), "password_min_len", "8 到 32"),
        (with(1, "2"), "password_classes", "3 到 4"),
        (with(1, "5"), "password_classes", "3 到 4"),
        (with(2, "2"), "lockout_after", "3 到 10"),
        (with(2, "11"), "lockout_after", "3 到 10"),
        (with(2, "abc"), "lockout_after", "应为整数"),
        (with(2, "-1"), "lockout_after", "3 到 10"),
        (with(3, "4"), "lockout_minutes", "5 到 1440"),
        (with(3, "1441"), "lockout_minutes", "5 到 1440"),
        (with(4, "121"), "session_idle_minutes", "5 到 120"),
        (with(4, "4"), "session_idle_minutes", "5 到 120"),
        (with(5, "0"), "session_absolute_hours", "1 到 24"),
        (with(5, "25"), "session_absolute_hours", "1 到 24"),
        (with(5, ""), "session_absolute_hours", "请填写"),
        (["8", "3", "5", "15", "90", "1"], "session_idle_minutes", "不能长于"),
        (with(3, "99999999999999999999999"), "lockout_minutes", "应为整数"),
    ] {
        let r = sec.post_form("/security/policy", &form(values)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{values:?}");
        let message = r.field_error(field).unwrap_or_default();
        assert!(message.contains(words), "{values:?}: {message:?}");
        assert!(message.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "Chinese: {message:?}");
        assert!(r.texts(".form-error")[0].contains("未保存任何内容"));
        assert_eq!(app.dump("security_policy").await, policy_before, "{values:?}");
        assert_eq!(app.dump("audit_log").await, audit_before, "{values:?}");
    }
    // Sign-in still follows the default: four failures do not lock.
    let mut c = app.anon();
    for _ in 0..4 {
        c.sign_in("xh_keyuan", "Wrong@2026").await;
    }
    assert_eq!(c.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_system_admin_neither_sets_the_policy_nor_reads_the_audit_log_nor_makes_officers() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let policy_before = app.dump("security_policy").await;
    let users_before = app.dump("users").await;
    for path in ["/security/policy", "/security/locked", "/audit"] {
        let r = zj.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "GET {path}");
        assert_eq!(r.texts("h1"), vec!["无权访问"]);
    }
    assert_eq!(zj.post_form("/security/policy", &form(with(2, "3"))).await.status, StatusCode::FORBIDDEN);
    let id = app.user_id("xh_keyuan").await;
    assert_eq!(zj.post_form(&format!("/security/locked/{id}/unlock"), &[]).await.status, StatusCode::FORBIDDEN);
    let menu = zj.get("/").await.texts("nav.menu a");
    assert!(!menu.iter().any(|m| m == "安全策略" || m == "审计日志" || m == "锁定账号"), "{menu:?}");

    // It cannot give the security or audit administrator's type, and its form does not offer them.
    let new_form = zj.get("/config/users/new").await;
    assert!(new_form.has("select#f-user_type option[value=commander]"));
    assert!(!new_form.has("select#f-user_type option[value=security_admin]"));
    assert!(!new_form.has("select#f-user_type option[value=audit_admin]"));
    for t in ["security_admin", "audit_admin"] {
        let r = zj
            .post_form(
                "/config/users",
                &[
                    ("login_name", "officer2"),
                    ("real_name", "第二安全员"),
                    ("region", "330000"),
                    ("mobile", "13700001111"),
                    ("user_type", t),
                    ("approval_role", ""),
                    ("password", "Abcdefg1!"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
        assert!(r.field_error("user_type").unwrap().contains("三员分立"), "{t}");
    }
    // Nor turn a user it manages into one, nor touch the officers' accounts.
    let analyst = app.user_id("zj_analyst").await;
    let change = [
        ("real_name", "省厅分析员"),
        ("region", "330000"),
        ("mobile", "13900000000"),
        ("user_type", "audit_admin"),
        ("approval_role", ""),
        ("password", ""),
    ];
    assert_eq!(
        zj.post_form(&format!("/config/users/{analyst}"), &change).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for login in ["zj_secadmin", "zj_auditor"] {
        let id = app.user_id(login).await;
        assert_eq!(zj.get(&format!("/config/users/{id}")).await.status, StatusCode::FORBIDDEN, "{login}");
        assert_eq!(zj.get(&format!("/config/users/{id}/freeze")).await.status, StatusCode::FORBIDDEN, "{login}");
        let r = zj.post_form(&format!("/config/users/{id}/freeze"), &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{login}");
        let reset = [
            ("real_name", "改名"),
            ("region", "330000"),
            ("mobile", "13900000000"),
            ("user_type", "security_admin"),
            ("approval_role", ""),
            ("password", "Abcdefg1!"),
        ];
        assert_eq!(zj.post_form(&format!("/config/users/{id}"), &reset).await.status, StatusCode::FORBIDDEN);
    }
    // The list still shows them, without actions.
    let list = zj.get("/config/users?user_type=security_admin").await;
    assert_eq!(list.texts("tbody td:first-child"), vec!["zj_secadmin"]);
    assert!(!list.has("tbody td.actions a"), "{}", list.body);
    assert_eq!(app.dump("users").await, users_before);
    assert_eq!(app.dump("security_policy").await, policy_before);
}

#[tokio::test]
async fn the_audit_admin_reads_every_change_but_cannot_make_one() {
    let app = TestApp::new();
    let auditor = app.login_as("zj_auditor").await;
    let policy_before = app.dump("security_policy").await;
    assert_eq!(auditor.get("/security/policy").await.status, StatusCode::FORBIDDEN);
    assert_eq!(auditor.post_form("/security/policy", &form(with(2, "3"))).await.status, StatusCode::FORBIDDEN);
    assert_eq!(auditor.get("/security/locked").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.dump("security_policy").await, policy_before);

    // The security administrator's pages are its only ones.
    let sec = app.login_as("zj_secadmin").await;
    assert_eq!(sec.get("/").await.texts("nav.menu a"), vec!["首页", "安全策略", "锁定账号"]);
    for path in ["/audit", "/config/users", "/config/roles", "/permits", "/map", "/stats"] {
        assert_eq!(sec.get(path).await.status, StatusCode::FORBIDDEN, "GET {path}");
    }

    // Each change is in the audit log, which the audit administrator reads.
    for values in [with(2, "4"), with(3, "30"), with(2, "6")] {
        assert_eq!(sec.post_form("/security/policy", &form(values)).await.status, StatusCode::SEE_OTHER);
    }
    assert_eq!(policy_changes(&app).await, 3);
    assert_eq!(app.scalar("SELECT count(*) FROM security_policy").await, 3);
    let log = auditor.get("/audit?actor=zj_secadmin").await;
    assert_eq!(log.status, StatusCode::OK);
    let details: Vec<String> = log.texts("tbody tr").into_iter().filter(|t| t.contains("安全策略")).collect();
    assert_eq!(details.len(), 3, "{}", log.body);
    assert!(details.iter().any(|d| d.contains("锁定时长 15→30 分钟")), "{details:?}");
}

#[tokio::test]
async fn the_policy_survives_a_restart() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let db = dir.path().join("anxu.duckdb");
    let clock = std::sync::Arc::new(anxu::clock::ManualClock::new(
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(2, 0, 0).unwrap(),
    ));
    {
        let state = TestApp::open(Some(&db), &dir, clock.clone(), anxu::config::Config::default());
        anxu::setup::seed_demo(&state.store, &state.regions, anxu::clock::Clock::now(&*clock)).unwrap();
        let app = TestApp::from_state(state, clock.clone(), dir.clone());
        let sec = app.login_as("zj_secadmin").await;
        assert_eq!(sec.post_form("/security/policy", &form(with(2, "3"))).await.status, StatusCode::SEE_OTHER);
    }
    let state = TestApp::open(Some(&db), &dir, clock.clone(), anxu::config::Config::default());
    assert_eq!(state.policy.get().lockout_after, 3);
    let app = TestApp::from_state(state, clock, dir);
    let mut c = app.anon();
    for _ in 0..2 {
        c.sign_in("xh_keyuan", "Wrong@2026").await;
    }
    assert!(c.sign_in("xh_keyuan", "Wrong@2026").await.texts(".form-error")[0].contains("账号已锁定"));
}
