//! 用户配置: add, modify, freeze, unfreeze; region scoping; bad input refused with Chinese field errors.

use axum::http::StatusCode;

use crate::harness::TestApp;
use anxu::setup::DEMO_PASSWORD;

fn new_user<'a>(login: &'a str, role: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("login_name", login),
        ("real_name", "王五"),
        ("region", "330106"),
        ("mobile", "13912345678"),
        ("user_type", "approver"),
        ("approval_role", role),
        ("password", "Start#2026x"),
    ]
}

#[tokio::test]
async fn an_administrator_adds_a_user_who_must_change_the_password() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    let role = app.role_id("科员").await.to_string();
    let r = admin.post_form("/config/users", &new_user("wangwu", &role)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = admin.get("/config/users?q=wangwu").await;
    assert_eq!(list.texts("tbody td:first-child"), vec!["wangwu"]);
    assert_eq!(
        app.scalar("SELECT count(*) FROM audit_log WHERE action = 'user.create' AND object LIKE '%wangwu'").await,
        1
    );
    // First sign-in leads to the password page, and nowhere else until it is changed.
    let mut c = app.anon();
    assert_eq!(c.sign_in("wangwu", "Start#2026x").await.status, StatusCode::SEE_OTHER);
    let home = c.get("/").await;
    assert_eq!(home.location(), "/account/password");
    let r = c
        .post_form(
            "/account/password",
            &[("old_password", "Start#2026x"), ("new_password", "Mine#2026yy"), ("confirm_password", "Mine#2026yy")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_taken_login_name_is_a_field_error() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    let role = app.role_id("科员").await.to_string();
    let before = app.dump("users").await;
    let r = admin.post_form("/config/users", &new_user("xh_keyuan", &role)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field_error("login_name").unwrap(), "该登录用户名已被使用");
    assert_eq!(app.dump("users").await, before);
}

#[tokio::test]
async fn every_field_refuses_bad_input_in_chinese_and_nothing_changes() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    let role = app.role_id("科员").await.to_string();
    let long = "长".repeat(40);
    let cases: Vec<(&str, String)> = vec![
        ("login_name", String::new()),
        ("login_name", "a".repeat(40)),
        ("login_name", "<script>".into()),
        ("login_name", "张三".into()),
        ("real_name", String::new()),
        ("real_name", long.clone()),
        ("real_name", "<script>alert(1)</script>".into()),
        ("region", String::new()),
        ("region", "abc".into()),
        ("region", "330203".into()), // 宁波市海曙区: outside 杭州市
        ("region", "999999".into()),
        ("mobile", String::new()),
        ("mobile", "12345".into()),
        ("mobile", "<script>".into()),
        ("user_type", String::new()),
        ("user_type", "root".into()),
        ("approval_role", String::new()),
        ("approval_role", "x".into()),
        ("approval_role", "999999".into()),
        ("password", String::new()),
        ("password", "short".into()),
        ("password", "a".repeat(100)),
    ];
    let before = app.dump("users").await;
    for (field, value) in &cases {
        let mut form = new_user("zhaoliu", &role);
        for f in form.iter_mut() {
            if f.0 == *field {
                f.1 = value;
            }
        }
        let r = admin.post_form("/config/users", &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value:?}");
        let msg = r.field_error(field).unwrap_or_else(|| panic!("no error for {field}={value:?}: {}", r.body));
        assert!(msg.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "not Chinese: {msg}");
        assert!(!r.body.contains("<script>alert"), "markup echoed unescaped");
    }
    // A role for a non-approver is refused too.
    let mut form = new_user("zhaoliu", &role);
    form[4].1 = "commander";
    let r = admin.post_form("/config/users", &form).await;
    assert_eq!(r.field_error("approval_role").unwrap(), "只有审批人员可以设置审批角色");
    assert_eq!(app.dump("users").await, before);
}

#[tokio::test]
async fn modifying_a_user_keeps_the_login_and_a_reset_ends_sessions() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    let victim = app.login_as("xh_keyuan").await;
    let id = app.user_id("xh_keyuan").await;
    let role = app.role_id("科长").await.to_string();
    let form = [
        ("login_name", "renamed"),
        ("real_name", "西湖分局新科长"),
        ("region", "330106"),
        ("mobile", "13700001111"),
        ("user_type", "approver"),
        ("approval_role", role.as_str()),
        ("password", ""),
    ];
    let r = admin.post_form(&format!("/config/users/{id}"), &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM users WHERE id = {id} AND login_name = 'xh_keyuan' AND real_name = '西湖分局新科长'"
        ))
        .await,
        1
    );
    assert_eq!(victim.get("/").await.status, StatusCode::OK, "no password change, session lives");
    let mut reset = form;
    reset[6].1 = "Reset#2026ab";
    assert_eq!(admin.post_form(&format!("/config/users/{id}"), &reset).await.status, StatusCode::SEE_OTHER);
    assert_eq!(victim.get("/").await.status, StatusCode::SEE_OTHER, "password reset ends sessions");
}

#[tokio::test]
async fn freezing_ends_sessions_and_blocks_sign_in_until_unfrozen() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    let victim = app.login_as("xh_keyuan").await;
    let id = app.user_id("xh_keyuan").await;
    let confirm = admin.get(&format!("/config/users/{id}/freeze")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.has("form[method=post] button[type=submit]"));
    assert_eq!(admin.post_form(&format!("/config/users/{id}/freeze"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(victim.get("/").await.status, StatusCode::SEE_OTHER);
    let mut c = app.anon();
    let r = c.sign_in("xh_keyuan", DEMO_PASSWORD).await;
    assert_eq!(r.texts(".form-error"), vec!["账号已被冻结，请联系管理员"]);
    // Freezing twice is refused with a message.
    assert_eq!(admin.post_form(&format!("/config/users/{id}/freeze"), &[]).await.status, StatusCode::CONFLICT);
    assert_eq!(admin.post_form(&format!("/config/users/{id}/unfreeze"), &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(c.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);
    let actions = app.scalar("SELECT count(*) FROM audit_log WHERE action IN ('user.freeze', 'user.unfreeze')").await;
    assert_eq!(actions, 2);
    // Nobody freezes themselves.
    let me = app.user_id("hz_admin").await;
    assert_eq!(admin.post_form(&format!("/config/users/{me}/freeze"), &[]).await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_city_administrator_cannot_see_or_touch_another_citys_users() {
    let app = TestApp::new();
    let ningbo = app.login_as("nb_admin").await;
    let hz_user = app.user_id("xh_keyuan").await;
    let list = ningbo.get("/config/users").await;
    assert_eq!(list.status, StatusCode::OK);
    let logins = list.texts("tbody td:first-child");
    assert!(logins.contains(&"nb_admin".to_string()));
    assert!(!logins.iter().any(|l| l.starts_with("xh_") || l.starts_with("hz_") || l.starts_with("zj_")), "{logins:?}");
    // A region filter outside the scope falls back to the own region.
    let list = ningbo.get("/config/users?region=330100").await;
    assert!(!list.texts("tbody td:first-child").contains(&"xh_keyuan".to_string()));
    let before = app.dump("users").await;
    assert_eq!(ningbo.get(&format!("/config/users/{hz_user}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(ningbo.get(&format!("/config/users/{hz_user}/freeze")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(ningbo.post_form(&format!("/config/users/{hz_user}/freeze"), &[]).await.status, StatusCode::NOT_FOUND);
    let form = [
        ("real_name", "改名"),
        ("region", "330203"),
        ("mobile", "13700001111"),
        ("user_type", "commander"),
        ("approval_role", ""),
        ("password", ""),
    ];
    assert_eq!(ningbo.post_form(&format!("/config/users/{hz_user}"), &form).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.dump("users").await, before);
    // The provincial administrator sees both cities.
    let zj = app.login_as("zj_admin").await;
    assert_eq!(zj.get(&format!("/config/users/{hz_user}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_user_list_filters_by_region_type_status_and_text() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let logins = |r: crate::harness::Resp| r.texts("tbody td:first-child");
    let all = logins(zj.get("/config/users").await);
    assert_eq!(all.len(), anxu::setup::DEMO_USERS.len());
    assert_eq!(logins(zj.get("/config/users?region=330106").await), vec!["xh_juzhang", "xh_keyuan", "xh_kezhang"]);
    assert_eq!(logins(zj.get("/config/users?user_type=audit_admin").await), vec!["zj_auditor"]);
    assert_eq!(logins(zj.get("/config/users?q=%E5%AE%81%E6%B3%A2").await), vec!["nb_admin"]);
    let id = app.user_id("zj_analyst").await;
    zj.post_form(&format!("/config/users/{id}/freeze"), &[]).await;
    assert_eq!(logins(zj.get("/config/users?status=frozen").await), vec!["zj_analyst"]);
    // Bad filter values are ignored, not errors.
    assert_eq!(zj.get("/config/users?user_type=root&status=x&region=abc&page=999").await.status, StatusCode::OK);
}
