//! Sign-in, lock-out, session lifetimes, sign-out, CSRF and password change.

use axum::http::{StatusCode, header};
use chrono::TimeDelta;

use crate::harness::TestApp;
use anxu::setup::DEMO_PASSWORD;

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_records_it() {
    let app = TestApp::new();
    let mut c = app.anon();
    let r = c.sign_in("xh_keyuan", DEMO_PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cookie = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("anxu_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let home = c.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.texts("h1")[0].contains("西湖分局科员"));
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'login' AND result = 'ok'").await, 1);
}

#[tokio::test]
async fn each_sign_in_gets_a_new_session_id() {
    let app = TestApp::new();
    let mut c = app.login_as("xh_keyuan").await;
    let first = c.session.clone().unwrap();
    c.sign_in("xh_keyuan", DEMO_PASSWORD).await;
    let second = c.session.clone().unwrap();
    assert_ne!(first, second);
    // The replaced session no longer works.
    let mut old = app.anon();
    old.session = Some(first);
    assert_eq!(old.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_message() {
    let app = TestApp::new();
    let mut c = app.anon();
    for (login, pw) in [("xh_keyuan", "Wrong@2026"), ("nobody", "Wrong@2026")] {
        let r = c.sign_in(login, pw).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.texts(".form-error"), vec!["用户名或密码错误"]);
        assert!(c.session.is_none());
    }
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'login' AND result = 'refused'").await, 2);
    let r = c.sign_in("", "").await;
    assert_eq!(r.texts(".form-error"), vec!["请输入登录用户名和密码"]);
}

#[tokio::test]
async fn five_failures_lock_for_fifteen_minutes() {
    let app = TestApp::new();
    let mut c = app.anon();
    for i in 1..=4 {
        let r = c.sign_in("xh_keyuan", "Wrong@2026").await;
        assert_eq!(r.texts(".form-error"), vec!["用户名或密码错误"], "attempt {i}");
    }
    let r = c.sign_in("xh_keyuan", "Wrong@2026").await;
    assert!(r.texts(".form-error")[0].contains("账号已锁定"), "{}", r.body);
    // Even the right password is refused while locked.
    let r = c.sign_in("xh_keyuan", DEMO_PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.texts(".form-error")[0].contains("账号已锁定"));
    app.advance(TimeDelta::minutes(14));
    assert_eq!(c.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    app.advance(TimeDelta::minutes(1) + TimeDelta::seconds(1));
    assert_eq!(c.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);
    // A success resets the count: four more failures do not lock.
    let mut d = app.anon();
    for _ in 0..4 {
        d.sign_in("xh_keyuan", "Wrong@2026").await;
    }
    assert_eq!(d.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_end_after_thirty_idle_minutes() {
    let app = TestApp::new();
    let c = app.login_as("xh_keyuan").await;
    app.advance(TimeDelta::minutes(29));
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    app.advance(TimeDelta::minutes(30) + TimeDelta::seconds(1));
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login?next=/") && r.location().contains("expired=1"), "{}", r.location());
    // It stays ended.
    app.advance(-TimeDelta::minutes(20));
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.scalar("SELECT count(*) FROM sessions WHERE end_reason = 'idle'").await, 1);
}

#[tokio::test]
async fn sessions_end_eight_hours_after_sign_in_however_busy() {
    let app = TestApp::new();
    let c = app.login_as("xh_keyuan").await;
    for _ in 0..16 {
        app.advance(TimeDelta::minutes(29));
        assert_eq!(c.get("/").await.status, StatusCode::OK);
    }
    // 7 h 44 min so far.
    app.advance(TimeDelta::minutes(17));
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.scalar("SELECT count(*) FROM sessions WHERE end_reason = 'absolute'").await, 1);
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::new();
    let c = app.login_as("xh_keyuan").await;
    let r = c.post_form("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'logout'").await, 1);
}

#[tokio::test]
async fn posts_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::new();
    let c = app.login_as("hz_admin").await;
    let before = app.dump("approval_roles").await;
    for body in ["name=新角色", "name=新角色&csrf=", "name=新角色&csrf=forged"] {
        let r = c.post_raw("/config/roles", body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}");
        assert!(r.texts("h1")[0].contains("表单已失效"));
    }
    assert_eq!(app.dump("approval_roles").await, before);
    // Sign-out needs the token too.
    assert_eq!(c.post_raw("/logout", "").await.status, StatusCode::FORBIDDEN);
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    // The sign-in form needs its own cookie token.
    let r = app.anon().post_raw("/login", "login_name=xh_keyuan&password=Anxu%402026&csrf=x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn anonymous_posts_go_to_sign_in_and_change_nothing() {
    let app = TestApp::new();
    let before = app.dump("users").await;
    let r = app.anon().post_raw("/config/users", "login_name=evil").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login"));
    assert_eq!(app.dump("users").await, before);
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_keeps_this_one() {
    let app = TestApp::new();
    let other = app.login_as("xh_keyuan").await;
    let c = app.login_as("xh_keyuan").await;
    let r = c
        .post_form(
            "/account/password",
            &[("old_password", DEMO_PASSWORD), ("new_password", "Better#2027"), ("confirm_password", "Better#2027")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    assert_eq!(other.get("/").await.status, StatusCode::SEE_OTHER);
    let mut fresh = app.anon();
    assert_eq!(fresh.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fresh.sign_in("xh_keyuan", "Better#2027").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn password_change_refuses_weak_mismatched_or_wrong_input() {
    let app = TestApp::new();
    let c = app.login_as("xh_keyuan").await;
    let before = app.dump("users").await;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("Wrong@2026", "Better#2027", "Better#2027", "old_password"),
        (DEMO_PASSWORD, "short1A", "short1A", "new_password"),
        (DEMO_PASSWORD, "alllowercase", "alllowercase", "new_password"),
        (DEMO_PASSWORD, "Better#2027", "Better#2028", "confirm_password"),
        (DEMO_PASSWORD, DEMO_PASSWORD, DEMO_PASSWORD, "new_password"),
    ];
    for (old, new, confirm, field) in cases {
        let r = c
            .post_form(
                "/account/password",
                &[("old_password", old), ("new_password", new), ("confirm_password", confirm)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.field_error(field).is_some(), "{field}: {}", r.body);
    }
    assert_eq!(app.dump("users").await, before);
}
