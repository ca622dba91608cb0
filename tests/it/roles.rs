//! 角色配置: add, modify, delete; deletion refused while a user holds the role.

use axum::http::StatusCode;

use crate::harness::TestApp;

#[tokio::test]
async fn roles_are_added_modified_and_deleted() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    let r = admin.post_form("/config/roles", &[("name", "大队长"), ("description", "市局治安支队")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = app.role_id("大队长").await;
    let r = admin.post_form(&format!("/config/roles/{id}"), &[("name", "支队长"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let list = admin.get("/config/roles").await;
    assert!(list.texts("tbody td:first-child").contains(&"支队长".to_string()));
    assert_eq!(admin.get(&format!("/config/roles/{id}/delete")).await.status, StatusCode::OK);
    assert_eq!(admin.post_form(&format!("/config/roles/{id}/delete"), &[]).await.status, StatusCode::SEE_OTHER);
    let list = admin.get("/config/roles").await;
    assert!(!list.texts("tbody td:first-child").contains(&"支队长".to_string()));
    let audit = app
        .scalar("SELECT count(*) FROM audit_log WHERE action IN ('role.create', 'role.update', 'role.delete')")
        .await;
    assert_eq!(audit, 3 + 3, "three demo roles were created at seeding");
}

#[tokio::test]
async fn deleting_a_role_in_use_is_refused_naming_the_holders() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let id = app.role_id("科员").await;
    let before = app.dump("approval_roles").await;
    let confirm = zj.get(&format!("/config/roles/{id}/delete")).await;
    assert!(confirm.texts(".form-error")[0].contains("西湖分局科员（xh_keyuan）"));
    assert!(!confirm.has("button[type=submit].danger"));
    let r = zj.post_form(&format!("/config/roles/{id}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("西湖分局科员（xh_keyuan）"));
    assert_eq!(app.dump("approval_roles").await, before);
}

#[tokio::test]
async fn a_city_cannot_edit_the_provinces_roles_but_may_use_them() {
    let app = TestApp::new();
    let hz = app.login_as("hz_admin").await;
    let id = app.role_id("科长").await;
    let list = hz.get("/config/roles").await;
    assert!(list.texts("tbody td:first-child").contains(&"科长".to_string()));
    assert_eq!(hz.get(&format!("/config/roles/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(hz.post_form(&format!("/config/roles/{id}/delete"), &[]).await.status, StatusCode::NOT_FOUND);
    // Roles of 宁波 are not visible in 杭州, nor assignable there.
    let nb = app.login_as("nb_admin").await;
    nb.post_form("/config/roles", &[("name", "宁波专岗"), ("description", "")]).await;
    let nb_role = app.role_id("宁波专岗").await;
    assert!(!hz.get("/config/roles").await.texts("tbody td:first-child").contains(&"宁波专岗".to_string()));
    let role = nb_role.to_string();
    let form = [
        ("login_name", "hzuser"),
        ("real_name", "某某"),
        ("region", "330106"),
        ("mobile", "13912345678"),
        ("user_type", "approver"),
        ("approval_role", role.as_str()),
        ("password", "Start#2026x"),
    ];
    let r = hz.post_form("/config/users", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("approval_role").is_some());
}

#[tokio::test]
async fn role_forms_refuse_bad_input() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    let before = app.dump("approval_roles").await;
    let long_name = "长".repeat(21);
    let long_desc = "长".repeat(201);
    for (name, desc, field) in [
        ("", "", "name"),
        ("   ", "", "name"),
        (long_name.as_str(), "", "name"),
        ("<script>", "", "name"),
        ("科员", "", "name"),
        ("好名字", long_desc.as_str(), "description"),
        ("好名字", "a\u{1}b", "description"),
    ] {
        let r = admin.post_form("/config/roles", &[("name", name), ("description", desc)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(r.field_error(field).is_some(), "{name:?}/{desc:?}: {}", r.body);
    }
    assert_eq!(app.dump("approval_roles").await, before);
}
