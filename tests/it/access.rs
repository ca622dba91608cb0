//! The menu per user type; embedding; security headers; unknown pages; the audit log. Who may use which route, the
//! CSRF refusals and "no change on GET" are the matrix in `access_matrix`.

use axum::http::{StatusCode, header};

use crate::harness::TestApp;
use anxu::config::Config;

#[tokio::test]
async fn the_menu_shows_only_what_the_type_may_use() {
    let app = TestApp::new();
    let menu = |r: crate::harness::Resp| r.texts("nav.menu a");
    assert_eq!(
        menu(app.login_as("hz_admin").await.get("/").await),
        vec![
            "首页",
            "活动列表",
            "备案列表",
            "初审短信模版",
            "受理短信模版",
            "审批短信模版",
            "结果导出",
            "角色配置",
            "流程配置",
            "用户配置",
            "规模配置",
            "节假日配置",
            "材料清单配置"
        ]
    );
    assert_eq!(menu(app.login_as("zj_auditor").await.get("/").await), vec!["首页", "审计日志"]);
    assert_eq!(menu(app.login_as("xh_keyuan").await.get("/").await), vec!["首页", "活动列表", "备案列表"]);
    assert_eq!(menu(app.login_as("zj_commander").await.get("/").await), vec!["首页", "地图势态"]);
    assert_eq!(menu(app.login_as("zj_analyst").await.get("/").await), vec!["首页", "勘查统计", "统计报表"]);
}

#[tokio::test]
async fn embed_renders_without_navigation_and_keeps_the_flag() {
    let app = TestApp::new();
    let c = app.login_as("hz_admin").await;
    let r = c.get("/config/users?embed=1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.has("nav.menu") && !r.has("header.topbar"));
    assert!(r.has("a[href='/config/users/new?embed=1']"));
    let r = c.get("/config/users").await;
    assert!(r.has("nav.menu") && r.has("header.topbar"));
}

#[tokio::test]
async fn security_headers_and_frame_ancestors() {
    let app = TestApp::new();
    let r = app.anon().get("/login").await;
    let csp = r.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    assert_eq!(r.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(!r.body.contains("<script>"), "no inline script");
    let cfg = Config { frame_ancestors: vec!["https://portal.gat.zj".into()], ..Config::default() };
    let app = TestApp::with_config(cfg);
    let r = app.anon().get("/login").await;
    let csp = r.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self' https://portal.gat.zj"), "{csp}");
}

#[tokio::test]
async fn a_get_to_sign_out_signs_nobody_out() {
    // Every route × user type, own and other region, the CSRF refusals and "no change on GET" are in
    // `access_matrix`; sign-out is a POST, and a GET to it is refused with a Chinese page.
    let app = TestApp::new();
    let admin = app.login_as("zj_admin").await;
    let r = admin.get("/logout").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.texts("h1"), vec!["请求方式不支持"]);
    assert_eq!(admin.get("/").await.status, StatusCode::OK, "GET /logout does not sign out");
}

#[tokio::test]
async fn unknown_pages_and_static_files() {
    let app = TestApp::new();
    let c = app.login_as("hz_admin").await;
    let r = c.get("/no/such/page").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.texts("h1"), vec!["未找到"]);
    let css = app.anon().get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/css"));
    assert_eq!(app.anon().get("/static/../Cargo.toml").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audit_log_records_and_filters() {
    let app = TestApp::new();
    let mut bad = app.anon();
    bad.sign_in("xh_keyuan", "Wrong@2026").await;
    let admin = app.login_as("hz_admin").await;
    admin.post_form("/config/roles", &[("name", "中队长"), ("description", "")]).await;
    let auditor = app.login_as("zj_auditor").await;
    let r = auditor.get("/audit?action=login&result=refused").await;
    assert_eq!(r.status, StatusCode::OK);
    let rows = r.texts("tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("xh_keyuan") && rows[0].contains("密码错误"));
    let r = auditor.get("/audit?action=role.create&actor=hz_admin").await;
    let rows = r.texts("tbody tr");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("中队长"));
    let r = auditor.get("/audit?from=2026-12-01&until=2026-12-01").await;
    assert!(r.texts("tbody tr").len() >= 3);
    let r = auditor.get("/audit?from=2026-11-01&until=2026-11-30").await;
    assert_eq!(r.texts("td.empty"), vec!["没有符合条件的记录"]);
    let r = auditor.get("/audit?from=yesterday").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.field_error("from").is_some());
    // Nobody changes it: there is no route but GET.
    assert_eq!(auditor.post_form("/audit", &[]).await.status, StatusCode::METHOD_NOT_ALLOWED);
}
