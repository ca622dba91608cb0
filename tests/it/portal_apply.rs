//! The organizer side of the portal: registration, the application form with its refusals and the 20-day warning,
//! material uploads (refused files change nothing, names lose their path), submission into the outbox, and that
//! nobody else reaches an organizer's application.

use anxu::clock::Clock;
use anxu::demo::SAMPLE_PDF;
use anxu::files::MAX_UPLOAD;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::TimeDelta;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::harness::{Client, Resp, TestApp};

/// The value a response sets for cookie `name` (as the harness reads the sign-in form's cookie).
fn set_cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let first = v.split(';').next()?;
        let (k, val) = first.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

/// A valid registration with `login` and `credit_code`; `overrides` replace fields.
fn registration<'a>(login: &'a str, credit_code: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("kind", "organizer"),
        ("unit_name", "杭州新乐演出有限公司"),
        ("credit_code", credit_code),
        ("contact_name", "李经理"),
        ("mobile", "13900001111"),
        ("login_name", login),
        ("password", "Regist@2026"),
        ("confirm_password", "Regist@2026"),
    ];
    for &(k, v) in overrides {
        if let Some(f) = fields.iter_mut().find(|f| f.0 == k) {
            f.1 = v;
        }
    }
    fields
}

/// Fills in the registration form as a browser without a session: GET for the double-submit cookie, then POST.
async fn register(app: &TestApp, fields: &[(&str, &str)]) -> Resp {
    let form = app.anon().get("/register").await;
    assert_eq!(form.status, StatusCode::OK);
    let token = set_cookie_value(&form.headers, "anxu_login_csrf").expect("registration CSRF cookie");
    assert!(form.has(&format!("form[action='/register'] input[name=csrf][value='{token}']")));
    let mut all = fields.to_vec();
    all.push(("csrf", token.as_str()));
    let req = Request::builder()
        .method("POST")
        .uri("/register")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("anxu_login_csrf={token}"))
        .body(Body::from(serde_urlencoded::to_string(&all).unwrap()))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes: bytes.to_vec() }
}

/// A `datetime-local` value in Beijing time, `days` from now at `hour`:00.
fn local_at(app: &TestApp, days: i64, hour: u32) -> String {
    let d = (app.clock.now() + TimeDelta::hours(8) + TimeDelta::days(days)).date();
    format!("{d}T{hour:02}:00")
}

/// A valid application form held in 西湖区, starting `days` from now, with `attendance` and a 5000-seat venue.
fn application(app: &TestApp, name: &str, days: i64, attendance: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_string()),
        ("kind", "performance".into()),
        ("region1", "330106".into()),
        ("region2", String::new()),
        ("region3", String::new()),
        ("venue_name", "西湖文化广场".into()),
        ("venue_address", "杭州市西湖区示范路 1 号".into()),
        ("venue_region", "330106".into()),
        ("capacity", "5000".into()),
        ("start_at", local_at(app, days, 19)),
        ("end_at", local_at(app, days, 22)),
        ("sessions", "1".into()),
        ("attendance", attendance.into()),
        ("contact_name", "陈经理".into()),
        ("contact_mobile", "13800571234".into()),
        ("agency", "浙江安评咨询有限公司".into()),
        ("risk_grade", "中".into()),
    ]
}

async fn post_owned(c: &Client<'_>, path: &str, fields: &[(&'static str, String)]) -> Resp {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post_form(path, &fields).await
}

/// Saves a new draft and returns its reference.
async fn new_draft(app: &TestApp, c: &Client<'_>, name: &str, days: i64) -> String {
    let r = post_owned(c, "/apply/new", &application(app, name, days, "3000")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location();
    let portal_ref = loc.strip_prefix("/apply/").and_then(|s| s.split('?').next()).unwrap().to_string();
    assert_eq!(loc, format!("/apply/{portal_ref}?notice=saved"));
    portal_ref
}

#[tokio::test]
async fn registration_refuses_bad_fields_and_then_signs_in() {
    let app = TestApp::portal();
    let users = app.scalar("SELECT count(*) FROM users").await;

    let r = register(&app, &registration("newco", "91330106MA27XL0E28", &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.field_error("credit_code").unwrap().contains("校验位"));

    let r = register(&app, &registration("newco", "91330106MA27XL0E27", &[("confirm_password", "Other@2026")])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field_error("confirm_password").as_deref(), Some("两次输入的密码不一致"));
    // What was entered is kept, the passwords are not.
    assert!(r.has("input[name=unit_name][value='杭州新乐演出有限公司']"));
    assert!(!r.body.contains("Regist@2026"));

    let r = register(&app, &registration("org_demo", "91330106MA27XL0E27", &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("login_name").unwrap().contains("已被使用"));

    let r = register(&app, &registration("newco", "91350100M000100Y43", &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("credit_code").unwrap().contains("已注册"));

    let r = register(&app, &registration("newco", "91330106MA27XL0E27", &[("kind", "system_admin")])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("kind").is_some());
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, users, "refusals write nothing");

    let r = register(&app, &registration("NewCo", " 91330106ma27xl0e27 ", &[])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/login?registered=1");
    assert_eq!(app.scalar("SELECT count(*) FROM portal_units WHERE credit_code = '91330106MA27XL0E27'").await, 1);
    assert_eq!(app.text("SELECT user_type FROM users WHERE login_name = 'newco'").await, "organizer");

    let mut c = app.anon();
    let r = c.sign_in("newco", "Regist@2026").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = c.get("/apply").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.has("a[href='/apply/new']"));
}

#[tokio::test]
async fn the_form_refuses_crowds_above_capacity_and_below_the_threshold_and_warns_late_applications() {
    let app = TestApp::portal();
    let org = app.login_as("org_demo").await;
    let form = org.get("/apply/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.has("select[name=region1] option[value='330106']"));
    assert!(form.texts("select[name=region1] option[value='330106']")[0].contains("杭州市 西湖区"));

    let r = post_owned(&org, "/apply/new", &application(&app, "超员演出", 30, "6000")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.field_error("attendance").as_deref(), Some("每场预计人数超过场地核定容量 5000 人"));
    assert!(r.has("input[name=name][value='超员演出']"));

    let r = post_owned(&org, "/apply/new", &application(&app, "小型演出", 30, "999")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = r.field_error("attendance").unwrap();
    assert!(e.contains("低于 1000 人") && e.contains("不属于需要安全许可"), "{e}");
    assert_eq!(app.scalar("SELECT count(*) FROM portal_applications").await, 0);

    // Less than 20 days ahead: saved, with a warning on the details page and on the form.
    let late = new_draft(&app, &org, "临时演出", 10).await;
    let d = org.get(&format!("/apply/{late}")).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.texts(".lead-time")[0].contains("距活动开始不足 20 日，依法应至少提前 20 日申请"));
    assert!(d.body.contains("草稿"));
    let edit = org.get(&format!("/apply/{late}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.has(".lead-time"));
    assert!(edit.has("input[name=attendance][value='3000']"));

    let early = new_draft(&app, &org, "春节演出", 30).await;
    assert!(!org.get(&format!("/apply/{early}")).await.has(".lead-time"));
    let list = org.get("/apply").await;
    assert!(list.body.contains("临时演出") && list.body.contains("春节演出"));
    let organizer = app.text(&format!("SELECT data FROM portal_applications WHERE portal_ref = '{early}'")).await;
    assert!(organizer.contains("91350100M000100Y43"), "the organizer block is the unit's");
}

#[tokio::test]
async fn uploads_are_checked_and_refusals_change_nothing() {
    let app = TestApp::portal();
    let org = app.login_as("org_demo").await;
    let r = new_draft(&app, &org, "西湖音乐节", 30).await;
    let path = format!("/apply/{r}/upload");
    let kind = [("kind", "security_plan")];

    let refused: [(&str, Vec<u8>, &str); 4] = [
        ("evil.exe", SAMPLE_PDF.to_vec(), "文件类型不允许"),
        ("big.pdf", vec![b'%'; MAX_UPLOAD + 1], "超过 20 MB"),
        ("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec(), "内容与扩展名不符"),
        ("empty.pdf", Vec::new(), "文件为空"),
    ];
    for (name, bytes, reason) in &refused {
        let (name, reason) = (*name, *reason);
        let resp = org.post_multipart(&path, &kind, &[("file", name, bytes.as_slice())]).await;
        assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let e = resp.field_error("file").unwrap_or_default();
        assert!(e.contains(name) && e.contains(reason), "{name}: {e}");
    }
    let resp = org.post_multipart(&path, &[("kind", "no_such_kind")], &[("file", "a.pdf", SAMPLE_PDF)]).await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.field_error("kind").is_some());
    assert_eq!(app.scalar("SELECT count(*) FROM portal_files").await, 0);

    let resp = org.post_multipart(&path, &kind, &[("file", "../x.pdf", SAMPLE_PDF)]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(app.text("SELECT name FROM portal_files").await, "x.pdf");
    let id = app.scalar("SELECT id FROM portal_files").await;
    let d = org.get(&format!("/apply/{r}")).await;
    assert!(d.has(&format!("a[href='/apply/files/{id}']")));
    let file = org.get(&format!("/apply/files/{id}")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body.as_bytes(), SAMPLE_PDF);
    let disposition = file.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap();
    assert!(disposition.ends_with("''x.pdf"), "{disposition}");
}

#[tokio::test]
async fn submitting_queues_one_event_and_submission_for_approval_needs_the_required_materials() {
    let app = TestApp::portal();
    let org = app.login_as("org_demo").await;
    let r = new_draft(&app, &org, "西湖音乐节", 30).await;
    let d = org.get(&format!("/apply/{r}")).await;
    assert!(d.has("form[action$='/submit'] input[name=event][value=submit]"));

    let resp = org.post_form(&format!("/apply/{r}/submit"), &[("event", "submit")]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(
        app.text(&format!("SELECT status FROM portal_applications WHERE portal_ref = '{r}'")).await,
        "pending_pre_review"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM portal_outbox").await, 1);
    let d = org.get(&format!("/apply/{r}")).await;
    assert!(d.texts(".page-head .tag")[0].contains("待初审"));
    assert!(d.has(&format!("a[href='/apply/{r}/withdraw']")));
    assert!(!d.has("input[name=event][value=submit]"));

    // Submitted: no second submission, no changes.
    let again = org.post_form(&format!("/apply/{r}/submit"), &[("event", "submit")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(org.get(&format!("/apply/{r}/edit")).await.status, StatusCode::CONFLICT);
    assert_eq!(app.scalar("SELECT count(*) FROM portal_outbox").await, 1);

    // After a passed pre-review, 提交审批 names the required materials still missing.
    app.state
        .store
        .write(|tx| Ok(tx.execute("UPDATE portal_applications SET status = 'pre_review_passed'", [])?))
        .await
        .unwrap();
    let resp = org.post_form(&format!("/apply/{r}/submit"), &[("event", "submit_for_acceptance")]).await;
    assert_eq!(resp.status, StatusCode::CONFLICT);
    let message = resp.texts(".form-error")[0].clone();
    assert!(message.contains("以下必需材料尚未上传") && message.contains("安全工作方案"), "{message}");
    assert_eq!(app.scalar("SELECT count(*) FROM portal_outbox").await, 1);

    // Withdrawing asks first.
    let confirm = org.get(&format!("/apply/{r}/withdraw")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.has("form input[name=event][value=withdraw]"));
    let resp = org.post_form(&format!("/apply/{r}/submit"), &[("event", "withdraw")]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(
        app.text(&format!("SELECT status FROM portal_applications WHERE portal_ref = '{r}'")).await,
        "withdrawn"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM portal_outbox").await, 2);
}

#[tokio::test]
async fn another_account_gets_404_and_a_government_unit_403() {
    let app = TestApp::portal();
    let org = app.login_as("org_demo").await;
    let r = new_draft(&app, &org, "西湖音乐节", 30).await;
    let up = org
        .post_multipart(
            &format!("/apply/{r}/upload"),
            &[("kind", "security_plan")],
            &[("file", "plan.pdf", SAMPLE_PDF)],
        )
        .await;
    assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
    let file_id = app.scalar("SELECT id FROM portal_files").await;

    let reg = register(&app, &registration("otherco", "91110000100000589A", &[])).await;
    assert_eq!(reg.status, StatusCode::SEE_OTHER, "{}", reg.body);
    let mut other = app.anon();
    assert_eq!(other.sign_in("otherco", "Regist@2026").await.status, StatusCode::SEE_OTHER);

    for path in [
        format!("/apply/{r}"),
        format!("/apply/{r}/edit"),
        format!("/apply/{r}/withdraw"),
        format!("/apply/{r}/document/1"),
        format!("/apply/files/{file_id}"),
    ] {
        assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let before = app.dump("portal_applications").await;
    let submit = other.post_form(&format!("/apply/{r}/submit"), &[("event", "submit")]).await;
    assert_eq!(submit.status, StatusCode::NOT_FOUND);
    let edit = post_owned(&other, &format!("/apply/{r}/edit"), &application(&app, "改名", 30, "3000")).await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    let upload = other
        .post_multipart(&format!("/apply/{r}/upload"), &[("kind", "security_plan")], &[("file", "b.pdf", SAMPLE_PDF)])
        .await;
    assert_eq!(upload.status, StatusCode::NOT_FOUND);
    assert_eq!(app.dump("portal_applications").await, before);
    assert_eq!(app.scalar("SELECT count(*) FROM portal_files").await, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM portal_outbox").await, 0);
    assert!(!other.get("/apply").await.body.contains("西湖音乐节"));

    let gov = app.login_as("gov_demo").await;
    for path in ["/apply", "/apply/new", format!("/apply/{r}").as_str()] {
        assert_eq!(gov.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
}
