//! 许可管理: the list and its filters, who sees which buttons, the police actions with their field errors and stale
//! revisions, surveys with rectifications and attachments, downloads within the region only.

use anxu::domain::workflow::Action;
use anxu::web::error::encode_query;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::TimeDelta;
use http_body_util::BodyExt;
use scraper::Selector;
use tower::ServiceExt;

use crate::harness::{Client, Resp, TestApp};

/// The `revision` carried by an action page's form.
fn revision_of(r: &Resp) -> String {
    let sel = Selector::parse("input[name=revision]").unwrap();
    r.html().select(&sel).next().and_then(|e| e.value().attr("value")).expect("a revision field").to_string()
}

/// POSTs a multipart form (CSRF token in the query, as the page's form does) with an optional `file`.
async fn post_multipart(
    app: &TestApp,
    c: &Client<'_>,
    path: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> Resp {
    let boundary = "anxu-test-boundary-5e8c1f";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let req = Request::builder()
        .method("POST")
        .uri(format!("{path}?csrf={}", c.csrf.as_deref().unwrap_or_default()))
        .header(header::COOKIE, format!("anxu_session={}", c.session.as_deref().unwrap_or_default()))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes: bytes.to_vec() }
}

const SURVEY: &[(&str, &str)] = &[
    ("survey_date", "2026-12-02"),
    ("surveyors", "张三、李四"),
    ("report", "场地出入口设置合理，疏散通道畅通。"),
    ("rectifications", "增设应急照明\n\n加强入口安检力量\n"),
];

async fn portal_ref(app: &TestApp, id: i64) -> String {
    app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await
}

/// An application of 西湖区 accepted and at the first step (科长审核) of the 杭州市 flow.
async fn in_approval(app: &TestApp, name: &str) -> i64 {
    let id = app.seed_application(name, "330106", 1200).await;
    let pr = portal_ref(app, id).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr, Action::PassPreReview).unwrap();
    app.submit_for_acceptance(id).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr, Action::Accept { steps: 0 }).unwrap();
    id
}

#[tokio::test]
async fn the_list_shows_what_each_user_may_do_and_other_regions_see_nothing() {
    let app = TestApp::new();
    let id = app.seed_application("西湖草坪音乐会", "330106", 1200).await;
    let pre_review = format!("a[href='/permits/{id}/pre-review']");

    let keyuan = app.login_as("xh_keyuan").await;
    let r = keyuan.get("/permits").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("西湖草坪音乐会") && r.body.contains("待初审"));
    assert!(r.has(&pre_review), "{}", r.body);
    assert!(r.has(&format!("a[href='/permits/{id}']")));

    // 杭州's administrator sees the row but cannot act on it.
    let admin = app.login_as("hz_admin").await;
    let r = admin.get("/permits").await;
    assert!(r.body.contains("西湖草坪音乐会"));
    assert!(!r.has(&pre_review));
    assert_eq!(admin.get(&format!("/permits/{id}/pre-review")).await.status, StatusCode::FORBIDDEN);

    // 宁波 sees nothing of it.
    let nb = app.login_as("nb_admin").await;
    let r = nb.get("/permits").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("西湖草坪音乐会"));
    assert_eq!(nb.get(&format!("/permits/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_commander_may_not_open_permits() {
    let app = TestApp::new();
    let id = app.seed_application("指挥员不可见", "330106", 1200).await;
    let c = app.login_as("zj_commander").await;
    for path in ["/permits".to_string(), format!("/permits/{id}")] {
        let r = c.get(&path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(r.texts("h1"), vec!["无权访问"]);
    }
}

#[tokio::test]
async fn returning_a_pre_review_needs_an_opinion_and_changes_nothing_without() {
    let app = TestApp::new();
    let id = app.seed_application("退回测试", "330106", 1200).await;
    let c = app.login_as("xh_keyuan").await;
    let path = format!("/permits/{id}/pre-review");
    let page = c.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    let rev = revision_of(&page);
    let before = (app.dump("activities").await, app.dump("approval_history").await, app.dump("audit_log").await);
    let r = c.post_form(&path, &[("decision", "return"), ("opinion", "  "), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("opinion").unwrap().contains("退回意见"), "{:?}", r.field_error("opinion"));
    let r = c.post_form(&path, &[("opinion", "材料不全"), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("decision").is_some());
    let after = (app.dump("activities").await, app.dump("approval_history").await, app.dump("audit_log").await);
    assert_eq!(after, before);
}

#[tokio::test]
async fn passing_the_pre_review_moves_the_status_and_records_history() {
    let app = TestApp::new();
    let id = app.seed_application("通过测试", "330106", 1200).await;
    let c = app.login_as("xh_keyuan").await;
    let path = format!("/permits/{id}/pre-review");
    let rev = revision_of(&c.get(&path).await);
    let r = c.post_form(&path, &[("decision", "pass"), ("opinion", ""), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/permits/{id}?notice=done"));
    assert_eq!(app.text(&format!("SELECT status FROM activities WHERE id = {id}")).await, "pre_review_passed");
    // The organizer's submission and the pre-review.
    assert_eq!(app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id}")).await, 2);
    let details = c.get(&r.location()).await;
    assert_eq!(details.status, StatusCode::OK);
    assert!(details.has("div.notice"));
    assert!(details.texts("#history td").iter().any(|t| t == "通过初审"), "{}", details.body);
    assert!(details.body.contains("待初审 → 初审通过"));
}

#[tokio::test]
async fn a_stale_revision_is_refused_with_409() {
    let app = TestApp::new();
    let id = app.seed_application("并发初审", "330106", 1200).await;
    let (a, b) = (app.login_as("xh_keyuan").await, app.login_as("xh_kezhang").await);
    let path = format!("/permits/{id}/pre-review");
    let rev = revision_of(&a.get(&path).await);
    assert_eq!(revision_of(&b.get(&path).await), rev);
    let r = a.post_form(&path, &[("decision", "pass"), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = b.post_form(&path, &[("decision", "return"), ("opinion", "请补充材料"), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.texts("div.form-error").iter().any(|t| t.contains("已被他人处理")), "{}", r.body);
    // The organizer's submission and the pre-review.
    assert_eq!(app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id}")).await, 2);
    assert_eq!(app.text(&format!("SELECT status FROM activities WHERE id = {id}")).await, "pre_review_passed");
}

#[tokio::test]
async fn only_the_current_steps_role_gets_the_approval_form() {
    let app = TestApp::new();
    let id = in_approval(&app, "审批角色测试").await;
    let approve = format!("a[href='/permits/{id}/approve']");
    let kezhang = app.login_as("xh_kezhang").await;
    let list = kezhang.get("/permits").await;
    assert!(list.has(&approve));
    assert!(list.body.contains("第 1/2 步 · 科长审核"), "{}", list.body);
    let page = kezhang.get(&format!("/permits/{id}/approve")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("input[name=decision][value=deny]"));

    let keyuan = app.login_as("xh_keyuan").await;
    assert!(!keyuan.get("/permits").await.has(&approve));
    let r = keyuan.get(&format!("/permits/{id}/approve")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(!r.has("input[name=decision]"));
    // Denial needs an opinion.
    let rev = revision_of(&page);
    let r = kezhang.post_form(&format!("/permits/{id}/approve"), &[("decision", "deny"), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("opinion").is_some());
}

#[tokio::test]
async fn an_acceptance_past_its_deadline_is_marked_overdue() {
    let app = TestApp::new();
    let id = app.seed_application("期限测试", "330106", 1200).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &portal_ref(&app, id).await, Action::PassPreReview).unwrap();
    // Submitted on Tuesday 2026-12-01: five working days end on 8 December.
    app.submit_for_acceptance(id).await;
    let c = app.login_as("xh_keyuan").await;
    let r = c.get("/permits").await;
    assert!(r.body.contains("2026-12-08") && !r.body.contains("已超期"), "{}", r.body);
    assert!(r.has(&format!("a[href='/permits/{id}/accept']")));
    app.advance(TimeDelta::days(8));
    // A fresh sign-in: the first session has long been idle.
    let c = app.login_as("xh_keyuan").await;
    let r = c.get("/permits").await;
    assert!(r.texts("span.tag-danger").iter().any(|t| t == "已超期"), "{}", r.body);
}

#[tokio::test]
async fn a_survey_with_two_rectification_lines() {
    let app = TestApp::new();
    let id = app.seed_application("踏勘测试", "330106", 1200).await;
    let c = app.login_as("xh_keyuan").await;
    let page = c.get(&format!("/permits/{id}/survey")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("form[enctype='multipart/form-data']"));
    let r = post_multipart(&app, &c, &format!("/permits/{id}/survey"), SURVEY, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/permits/{id}?notice=survey#surveys"));
    assert_eq!(app.scalar(&format!("SELECT count(*) FROM surveys WHERE activity_id = {id}")).await, 1);
    assert_eq!(app.scalar(&format!("SELECT count(*) FROM rectifications WHERE activity_id = {id}")).await, 2);
    let details = c.get(&format!("/permits/{id}")).await;
    assert!(details.body.contains("增设应急照明") && details.body.contains("未反馈"));
    assert!(c.get("/permits").await.has(&format!("a[href='/permits/{id}#surveys']")));
}

#[tokio::test]
async fn refused_uploads_write_nothing() {
    let app = TestApp::new();
    let id = app.seed_application("附件测试", "330106", 1200).await;
    let c = app.login_as("xh_keyuan").await;
    let path = format!("/permits/{id}/survey");
    let before = (app.dump("surveys").await, app.dump("files").await, app.dump("rectifications").await);
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let cases: [(&str, &[u8], &str); 2] =
        [("tool.exe", b"MZ\x90\0\x03\0\0\0", "只能上传"), ("scan.pdf", png, "文件内容与扩展名不符")];
    for (name, bytes, message) in cases {
        let r = post_multipart(&app, &c, &path, SURVEY, Some((name, bytes))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let e = r.field_error("file").unwrap_or_default();
        assert!(e.starts_with("附件：") && e.contains(message), "{name}: {e}");
        // The text is kept for another try.
        assert!(r.body.contains("场地出入口设置合理"));
    }
    assert_eq!((app.dump("surveys").await, app.dump("files").await, app.dump("rectifications").await), before);
}

#[tokio::test]
async fn attachments_download_within_the_region_only() {
    let app = TestApp::new();
    let id = app.seed_application("下载测试", "330106", 1200).await;
    let c = app.login_as("xh_keyuan").await;
    let pdf = anxu::demo::SAMPLE_PDF;
    let r = post_multipart(&app, &c, &format!("/permits/{id}/survey"), SURVEY, Some(("report.pdf", pdf))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let file_id = app.scalar(&format!("SELECT file_id FROM surveys WHERE activity_id = {id}")).await;
    let url = format!("/permits/files/{file_id}");
    assert!(c.get(&format!("/permits/{id}")).await.has(&format!("a[href='{url}']")));

    for login in ["xh_keyuan", "hz_admin"] {
        let r = app.login_as(login).await.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{login}");
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/pdf");
        let disposition = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert_eq!(disposition, "attachment; filename*=UTF-8''report.pdf");
        assert_eq!(r.body.as_bytes(), pdf);
    }
    let nb = app.login_as("nb_admin").await;
    assert_eq!(nb.get(&url).await.status, StatusCode::NOT_FOUND);
    // A material imported with the application downloads too, within the region only.
    let material = app.scalar(&format!("SELECT min(file_id) FROM materials WHERE activity_id = {id}")).await;
    let r = c.get(&format!("/permits/files/{material}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(nb.get(&format!("/permits/files/{material}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/permits/files/abc").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn filters_by_status_text_and_dates() {
    let app = TestApp::new();
    let lights = app.seed_application("西湖灯光秀", "330106", 1200).await;
    app.seed_application("湖畔音乐会", "330106", 1200).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &portal_ref(&app, lights).await, Action::PassPreReview).unwrap();
    let c = app.login_as("hz_admin").await;
    let shows = |r: &Resp| (r.body.contains("西湖灯光秀"), r.body.contains("湖畔音乐会"));

    let r = c.get("/permits").await;
    assert_eq!(shows(&r), (true, true));
    let r = c.get("/permits?status=pre_review_passed").await;
    assert_eq!(shows(&r), (true, false));
    let r = c.get("/permits?status=pending_pre_review").await;
    assert_eq!(shows(&r), (false, true));
    let r = c.get(&format!("/permits?q={}", encode_query("灯光"))).await;
    assert_eq!(shows(&r), (true, false));
    // Unknown values are ignored; a bad date is a field error and the list is still shown.
    let r = c.get("/permits?status=bogus&kind=nope&region=999999&sort=x&page=y").await;
    assert_eq!((r.status, shows(&r)), (StatusCode::OK, (true, true)));
    let r = c.get("/permits?from=2026-13-01").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.field_error("from").unwrap().contains("开始日期"));
    assert_eq!(shows(&r), (true, true));
    // The applications start 40 days after 2026-12-01.
    let r = c.get("/permits?from=2027-01-01&until=2027-01-31").await;
    assert_eq!(shows(&r), (true, true));
    let r = c.get("/permits?until=2026-12-31").await;
    assert_eq!(shows(&r), (false, false));
}
