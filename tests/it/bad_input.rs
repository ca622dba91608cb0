//! Bad input everywhere (issue 8): oversized requests and uploads are cut off with a Chinese message and change
//! nothing; markup, SQL and path fragments in the text fields of the main forms are either stored as they are and
//! shown escaped, or refused with a field error that shows them back escaped; bodies and queries that are not UTF-8,
//! numbers out of range and ids beyond i64 are refused with a Chinese page, never a 500.

use anxu::clock::Clock;
use anxu::demo::{SAMPLE_PDF, act_as, next_bundle, sample_application};
use anxu::domain::workflow::Action;
use anxu::exchange::records::{ApplicationRecords, PortalEvent};
use axum::http::{StatusCode, header};
use chrono::TimeDelta;

use crate::access_matrix::{changed, csrf_pair, digests, gist, multipart_body, multipart_type, request, send};
use crate::harness::{Client, Resp, TestApp};

const SCRIPT: &str = "<script>alert(1)</script>";
const SQL: &str = "'; DROP TABLE users; --";
const PATH: &str = "../../etc/passwd";
const PAYLOADS: [&str; 3] = [SCRIPT, SQL, PATH];

/// `s` as maud escapes it in text and attribute values.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `s` as a SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `fields` with `name` set to `value`.
fn with<'a>(fields: &[(&'a str, &'a str)], name: &str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|&(k, v)| (k, if k == name { value } else { v })).collect()
}

/// An application of 西湖区 accepted and at the first approval step (科长审核).
pub(crate) async fn in_approval(app: &TestApp, name: &str) -> i64 {
    let id = app.seed_application(name, "330106", 1200).await;
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await;
    act_as(&app.state, "xh_keyuan", &pr, Action::PassPreReview).unwrap();
    app.submit_for_acceptance(id).await;
    act_as(&app.state, "xh_keyuan", &pr, Action::Accept { steps: 0 }).unwrap();
    id
}

/// A refusal on a Chinese error page with `status`: HTML, one of the error headings, none of axum's English texts.
fn assert_chinese_refusal(r: &Resp, status: StatusCode, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", gist(r));
    let ct = r.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(ct.starts_with("text/html"), "{what}: content type {ct:?}: {}", gist(r));
    let h1 = r.texts("h1");
    let titles = ["请求无效", "未找到", "提交内容过大", "请求方式不支持", "操作未执行"];
    assert!(h1.iter().any(|h| titles.contains(&h.as_str())), "{what}: headings {h1:?}");
    for english in ["Failed to", "Cannot parse", "Invalid URL", "Invalid `boundary`", "Expected request"] {
        assert!(!r.body.contains(english), "{what}: axum's own text {english:?} shown");
    }
}

/// Checks the answer `r` to a form whose `field` carried `payload`: either refused (422) with a field error that
/// shows the value back escaped and nothing stored, or accepted (303), stored as it is (`stored` rows) and shown
/// escaped on `shown`. Returns whether it was stored.
fn verdict(what: &str, field: &str, payload: &str, r: &Resp, stored: i64, shown: Option<&Resp>) -> bool {
    let ctx = format!("{what} {field}={payload:?}");
    assert!(!r.body.contains(SCRIPT), "{ctx}: raw markup in the answer");
    match r.status {
        StatusCode::UNPROCESSABLE_ENTITY => {
            assert!(r.field_error(field).is_some(), "{ctx}: refused without a field error: {}", gist(r));
            assert!(r.body.contains(&escaped(payload)), "{ctx}: the refused value is not shown back escaped");
            assert_eq!(stored, 0, "{ctx}: refused, yet stored");
            false
        }
        StatusCode::SEE_OTHER => {
            assert!(stored >= 1, "{ctx}: accepted, yet not stored as it was typed");
            let page = shown.unwrap_or_else(|| panic!("{ctx}: no page to show it"));
            assert_eq!(page.status, StatusCode::OK, "{ctx}: {}", gist(page));
            assert!(!page.body.contains(SCRIPT), "{ctx}: raw markup on the page");
            assert!(page.body.contains(&escaped(payload)), "{ctx}: the stored value is not shown");
            true
        }
        other => panic!("{ctx}: answered {other}: {}", gist(r)),
    }
}

#[tokio::test]
async fn oversized_requests_and_uploads_are_cut_off_with_a_chinese_message() {
    let app = TestApp::new();
    let id = in_approval(&app, "超大请求测试音乐节").await;
    let hz = app.login_as("hz_admin").await;
    let xh = app.login_as("xh_keyuan").await;
    let (hz_token, xh_token) = (hz.csrf.clone().unwrap(), xh.csrf.clone().unwrap());
    let before = digests(&app).await;

    // A form over the 256 KiB the CSRF check reads, and one over the 1 MiB request limit.
    for size in [300 * 1024, 2 * 1024 * 1024] {
        let body = format!("{}&name={}&description=", csrf_pair(&hz_token), "a".repeat(size));
        let r = hz.post_raw("/config/roles", &body).await;
        assert_chinese_refusal(&r, StatusCode::PAYLOAD_TOO_LARGE, "form body");
        assert_eq!(r.texts("h1"), vec!["提交内容过大"]);
    }
    // With the token in the header the body is not read for it: the form's own limit answers, in Chinese too.
    let form = Some("application/x-www-form-urlencoded");
    let header = [("x-csrf-token", hz_token.as_str())];
    let body = format!("name={}", "a".repeat(2 * 1024 * 1024)).into_bytes();
    let r = send(&app, request("POST", "/config/roles", hz.session.as_deref(), form, &header, body)).await;
    assert_chinese_refusal(&r, StatusCode::PAYLOAD_TOO_LARGE, "form over the limit, token in the header");

    // A record form whose text field alone is larger than the upload limit.
    let huge = "长".repeat(8 * 1024 * 1024);
    let body = multipart_body(&[("report", &huge), ("survey_date", "2026-12-02"), ("surveyors", "张三")], &[]);
    let uri = format!("/permits/{id}/survey?{}", csrf_pair(&xh_token));
    let ct = multipart_type();
    let r = send(&app, request("POST", &uri, xh.session.as_deref(), Some(ct.as_str()), &[], body)).await;
    assert_chinese_refusal(&r, StatusCode::PAYLOAD_TOO_LARGE, "multipart over the limit");
    // A file just over 20 MiB within the request limit: the form again, with the attachment's error.
    let mut pdf = SAMPLE_PDF.to_vec();
    pdf.resize(anxu::files::MAX_UPLOAD + 1, b' ');
    let fields = [("survey_date", "2026-12-02"), ("surveyors", "张三"), ("report", "场地良好")];
    let r = xh.post_multipart(&format!("/permits/{id}/survey"), &fields, &[("file", "plan.pdf", &pdf)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", gist(&r));
    assert!(r.field_error("file").is_some_and(|e| e.starts_with("附件")), "{}", gist(&r));

    let after = digests(&app).await;
    assert!(changed(&before, &after).is_empty(), "refused requests changed {:?}", changed(&before, &after));

    // An application bundle larger than the 1 MiB default limit is read whole and imports (it was cut off at
    // 1 MiB before the import route had its own limit).
    let now = app.clock.now();
    let start = now + TimeDelta::days(40);
    let (record, mut files) = sample_application("P-BIG-1", "大附件音乐节", "performance", &[330106], 1200, start);
    files[0].1.resize(1_500_000, b' ');
    let records = ApplicationRecords {
        applications: vec![anxu::demo::event("P-BIG-1", PortalEvent::Submit, now, Some(record))],
        feedback: vec![],
        filings: vec![],
    };
    let bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    assert!(bytes.len() > 1024 * 1024);
    let r = hz.post_multipart("/exchange/import", &[], &[("bundle", "applications.anxb", &bytes)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", gist(&r));
    assert!(r.texts(".notice").join(" ").contains("已导入"), "{}", gist(&r));
    assert_eq!(app.scalar("SELECT count(*) FROM activities WHERE portal_ref = 'P-BIG-1'").await, 1);
}

#[tokio::test]
async fn markup_sql_and_paths_are_stored_literally_or_refused_and_always_escaped() {
    let app = TestApp::new();
    let id = in_approval(&app, "注入测试音乐节").await;
    let hz = app.login_as("hz_admin").await;
    let xh = app.login_as("xh_keyuan").await;
    let mut n = 0;

    // 用户配置: the login name refuses all three, the real name refuses markup and quotes.
    let mut stored = 0;
    for field in ["login_name", "real_name"] {
        for payload in PAYLOADS {
            n += 1;
            let login = format!("inj{n}");
            let base = [
                ("login_name", login.as_str()),
                ("real_name", "注入测试"),
                ("region", "330106"),
                ("mobile", "13900000001"),
                ("user_type", "commander"),
                ("approval_role", ""),
                ("password", "Inject@2026"),
            ];
            let r = hz.post_form("/config/users", &with(&base, field, payload)).await;
            let count = app.scalar(&format!("SELECT count(*) FROM users WHERE {field} = {}", lit(payload))).await;
            let shown = if r.status == StatusCode::SEE_OTHER {
                let uid = app.scalar(&format!("SELECT id FROM users WHERE {field} = {}", lit(payload))).await;
                Some(hz.get(&format!("/config/users/{uid}")).await)
            } else {
                None
            };
            stored += usize::from(verdict("user", field, payload, &r, count, shown.as_ref()));
        }
    }
    assert!(stored >= 1, "no user field stored a payload");

    // 角色配置: the name refuses markup and quotes, the description keeps everything.
    let mut stored = 0;
    for field in ["name", "description"] {
        for payload in PAYLOADS {
            n += 1;
            let name = format!("注入角色{n}");
            let base = [("name", name.as_str()), ("description", "说明")];
            let r = hz.post_form("/config/roles", &with(&base, field, payload)).await;
            let sql = format!("FROM approval_roles WHERE {field} = {}", lit(payload));
            let count = app.scalar(&format!("SELECT count(*) {sql}")).await;
            let shown = if r.status == StatusCode::SEE_OTHER {
                let rid = app.scalar(&format!("SELECT max(id) {sql}")).await;
                Some(hz.get(&format!("/config/roles/{rid}")).await)
            } else {
                None
            };
            stored += usize::from(verdict("role", field, payload, &r, count, shown.as_ref()));
        }
    }
    assert!(stored >= 3, "the role description must keep every payload");

    // 踏勘 and 检查记录 (multipart): reports, opinions and findings keep everything.
    let details = format!("/permits/{id}");
    let mut stored = 0;
    let survey = [
        ("survey_date", "2026-12-02"),
        ("surveyors", "张三、李四"),
        ("report", "场地出入口设置合理。"),
        ("rectifications", "增设应急照明"),
    ];
    for (field, table, column) in [
        ("surveyors", "surveys", "surveyors"),
        ("report", "surveys", "report"),
        ("rectifications", "rectifications", "opinion"),
    ] {
        for payload in PAYLOADS {
            let r = xh.post_multipart(&format!("/permits/{id}/survey"), &with(&survey, field, payload), &[]).await;
            let count = app.scalar(&format!("SELECT count(*) FROM {table} WHERE {column} = {}", lit(payload))).await;
            let shown = if r.status == StatusCode::SEE_OTHER { Some(xh.get(&details).await) } else { None };
            stored += usize::from(verdict("survey", field, payload, &r, count, shown.as_ref()));
        }
    }
    let inspection = [("inspected_at", "2026-12-01T09:00"), ("findings", "消防通道畅通")];
    for payload in PAYLOADS {
        let path = format!("/permits/{id}/inspection");
        let r = xh.post_multipart(&path, &with(&inspection, "findings", payload), &[]).await;
        let count = app.scalar(&format!("SELECT count(*) FROM inspections WHERE findings = {}", lit(payload))).await;
        let shown = if r.status == StatusCode::SEE_OTHER { Some(xh.get(&details).await) } else { None };
        stored += usize::from(verdict("inspection", "findings", payload, &r, count, shown.as_ref()));
    }
    assert!(stored >= 9, "reports, opinions and findings must keep every payload");
    // A path in an attachment's name: only the last part is kept.
    let r = xh
        .post_multipart(&format!("/permits/{id}/survey"), &survey, &[("file", "../../etc/passwd.pdf", SAMPLE_PDF)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", gist(&r));
    assert_eq!(app.scalar("SELECT count(*) FROM files WHERE name = 'passwd.pdf'").await, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM files WHERE contains(name, '/') OR contains(name, '..')").await, 0);

    // 消息管理: the template, the address and the materials keep everything; the phone refuses all three.
    let mut stored = 0;
    let sms =
        [("text", "{活动名称}初审{审批结果}"), ("address", "杭州市西湖区"), ("phone", ""), ("materials", "身份证")];
    for field in ["text", "address", "phone", "materials"] {
        for payload in PAYLOADS {
            let r = hz.post_form("/sms/pre_review", &with(&sms, field, payload)).await;
            let count = app
                .scalar(&format!(
                    "SELECT count(*) FROM sms_templates WHERE kind = 'pre_review' AND region = 330100 AND {field} = {}",
                    lit(payload)
                ))
                .await;
            let shown = if r.status == StatusCode::SEE_OTHER { Some(hz.get("/sms/pre_review").await) } else { None };
            stored += usize::from(verdict("sms", field, payload, &r, count, shown.as_ref()));
        }
    }
    assert!(stored >= 9, "the template, the address and the materials must keep every payload");

    // Nothing was dropped: every table still answers.
    assert!(app.scalar("SELECT count(*) FROM users").await >= 12);
}

/// A valid application form held in 西湖区, 40 days from now.
fn application(app: &TestApp) -> Vec<(&'static str, String)> {
    let at = |hour: u32| {
        let d = (app.clock.now() + TimeDelta::hours(8) + TimeDelta::days(40)).date();
        format!("{d}T{hour:02}:00")
    };
    vec![
        ("name", "西湖草地音乐节".to_string()),
        ("kind", "performance".into()),
        ("region1", "330106".into()),
        ("region2", String::new()),
        ("region3", String::new()),
        ("venue_name", "西湖文化广场".into()),
        ("venue_address", "杭州市西湖区示范路 1 号".into()),
        ("venue_region", "330106".into()),
        ("capacity", "5000".into()),
        ("start_at", at(19)),
        ("end_at", at(22)),
        ("sessions", "1".into()),
        ("attendance", "3000".into()),
        ("contact_name", "陈经理".into()),
        ("contact_mobile", "13800571234".into()),
        ("agency", "浙江安评咨询有限公司".into()),
        ("risk_grade", "中".into()),
    ]
}

async fn post_application(c: &Client<'_>, fields: &[(&'static str, String)]) -> Resp {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post_form("/apply/new", &fields).await
}

#[tokio::test]
async fn portal_application_fields_are_stored_literally_or_refused_and_always_escaped() {
    let app = TestApp::portal();
    let org = app.login_as("org_demo").await;
    let mut stored = 0;
    for field in ["name", "venue_name", "venue_address", "contact_name", "agency"] {
        for payload in PAYLOADS {
            let mut fields = application(&app);
            for f in fields.iter_mut().filter(|f| f.0 == field) {
                f.1 = payload.to_string();
            }
            // The drafts share one JSON column: count the new ones.
            let sql = format!("SELECT count(*) FROM portal_applications WHERE contains(data, {})", lit(payload));
            let earlier = app.scalar(&sql).await;
            let r = post_application(&org, &fields).await;
            let count = app.scalar(&sql).await - earlier;
            let shown = if r.status == StatusCode::SEE_OTHER { Some(org.get(&r.location()).await) } else { None };
            stored += usize::from(verdict("application", field, payload, &r, count, shown.as_ref()));
        }
    }
    assert!(stored >= 1, "no application field stored a payload");

    // Numbers beyond any range are field errors.
    for (field, value) in [("attendance", "99999999999999999999"), ("capacity", "99999999999999999999")] {
        let mut fields = application(&app);
        for f in fields.iter_mut().filter(|f| f.0 == field) {
            f.1 = value.to_string();
        }
        let r = post_application(&org, &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", gist(&r));
        assert!(r.field_error(field).is_some(), "{field}: {}", gist(&r));
    }
}

#[tokio::test]
async fn text_that_is_not_utf8_is_refused_and_changes_nothing() {
    let app = TestApp::new();
    let id = in_approval(&app, "编码测试音乐节").await;
    let hz = app.login_as("hz_admin").await;
    let xh = app.login_as("xh_keyuan").await;
    let before = digests(&app).await;
    let token = csrf_pair(hz.csrf.as_deref().unwrap());

    // Percent-encoded and raw bytes that are not UTF-8 in an urlencoded form.
    let r = hz.post_raw("/config/roles", &format!("name=%FF%FE&description=x&{token}")).await;
    assert_chinese_refusal(&r, StatusCode::UNPROCESSABLE_ENTITY, "percent-encoded bytes");
    assert!(r.body.contains("UTF-8"), "{}", gist(&r));
    let mut body = b"name=".to_vec();
    body.extend_from_slice(b"\xff\xfe\xfd");
    body.extend_from_slice(format!("&description=x&{token}").as_bytes());
    let form = Some("application/x-www-form-urlencoded");
    let r = send(&app, request("POST", "/config/roles", hz.session.as_deref(), form, &[], body)).await;
    assert_chinese_refusal(&r, StatusCode::UNPROCESSABLE_ENTITY, "raw bytes");
    // In a query string.
    let r = hz.get("/config/users?q=%E8%A5").await;
    assert_chinese_refusal(&r, StatusCode::UNPROCESSABLE_ENTITY, "query");
    // In a multipart text field.
    let marker = "@@not-utf8@@";
    let raw = multipart_body(&[("survey_date", "2026-12-02"), ("surveyors", "张三"), ("report", marker)], &[]);
    let at = raw.windows(marker.len()).position(|w| w == marker.as_bytes()).unwrap();
    let mut body = raw[..at].to_vec();
    body.extend_from_slice(b"\xc3\x28 bad");
    body.extend_from_slice(&raw[at + marker.len()..]);
    let uri = format!("/permits/{id}/survey?{}", csrf_pair(xh.csrf.as_deref().unwrap()));
    let ct = multipart_type();
    let r = send(&app, request("POST", &uri, xh.session.as_deref(), Some(ct.as_str()), &[], body)).await;
    assert_chinese_refusal(&r, StatusCode::UNPROCESSABLE_ENTITY, "multipart field");

    assert!(changed(&before, &digests(&app).await).is_empty(), "refused text changed a table");
}

#[tokio::test]
async fn huge_numbers_and_ids_beyond_i64_are_refused_cleanly() {
    let app = TestApp::new();
    let id = in_approval(&app, "数字测试音乐节").await;
    let hz = app.login_as("hz_admin").await;
    let zj = app.login_as("zj_admin").await;
    let xh = app.login_as("xh_kezhang").await;
    let auditor = app.login_as("zj_auditor").await;
    let secadmin = app.login_as("zj_secadmin").await;
    let before = digests(&app).await;
    let big = "99999999999999999999";

    // Ids beyond i64 (and negative ones) in paths: a Chinese 400 or 404, never axum's text or a 500.
    for (c, path) in [
        (&hz, format!("/config/users/{big}")),
        (&hz, format!("/config/users/{big}/freeze")),
        (&hz, format!("/config/roles/{big}")),
        (&hz, format!("/config/roles/{big}/delete")),
        (&hz, format!("/exchange/exports/{big}")),
        (&hz, "/config/users/-1".to_string()),
        (&xh, format!("/permits/{big}")),
        (&xh, format!("/permits/{big}/approve")),
        (&xh, format!("/permits/files/{big}")),
        (&xh, format!("/permits/documents/{big}")),
        (&xh, format!("/filings/{big}")),
        (&xh, format!("/filings/files/{big}")),
    ] {
        let r = c.get(&path).await;
        let status = if r.status == StatusCode::NOT_FOUND { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
        assert_chinese_refusal(&r, status, &path);
    }
    for (c, path) in [
        (&hz, format!("/config/users/{big}/freeze")),
        (&hz, format!("/config/roles/{big}/delete")),
        (&secadmin, format!("/security/locked/{big}/unlock")),
    ] {
        let r = c.post_form(&path, &[]).await;
        assert_chinese_refusal(&r, StatusCode::BAD_REQUEST, &path);
    }

    // Pages out of range: lists that parse leniently show the first page, the others refuse in Chinese.
    for (c, path) in
        [(&hz, "/config/users?page=-1"), (&auditor, "/audit?page=-1"), (&hz, "/config/users?page=99999999999")]
    {
        let r = c.get(path).await;
        assert_chinese_refusal(&r, StatusCode::BAD_REQUEST, path);
    }
    for path in ["/permits?page=-1".to_string(), format!("/permits?page={big}"), "/filings?page=-1".to_string()] {
        let r = xh.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", gist(&r));
    }
    let r = zj.get(&format!("/config/calendar?year={big}")).await;
    assert_eq!(r.status, StatusCode::OK, "a year out of range shows the current one: {}", gist(&r));

    // Numbers in forms: field errors.
    let r = xh
        .post_form(&format!("/permits/{id}/approve"), &[("decision", "pass"), ("opinion", ""), ("revision", big)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", gist(&r));
    let r = zj.post_form("/config/scale", &[("permit_min", big), ("city_min", big), ("province_min", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", gist(&r));
    assert!(r.field_error("permit_min").is_some(), "{}", gist(&r));
    let r = secadmin
        .post_form(
            "/security/policy",
            &[
                ("password_min_len", big),
                ("password_classes", "3"),
                ("lockout_after", "5"),
                ("lockout_minutes", "15"),
                ("session_idle_minutes", "30"),
                ("session_absolute_hours", "8"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", gist(&r));

    // A method a route does not have, and a body that is not a form: Chinese pages too.
    let r = auditor.post_form("/audit", &[]).await;
    assert_chinese_refusal(&r, StatusCode::METHOD_NOT_ALLOWED, "POST /audit");
    assert!(r.headers.get(header::ALLOW).is_some(), "the Allow header is kept");
    let json = Some("application/json");
    let header = [("x-csrf-token", hz.csrf.as_deref().unwrap())];
    let r = send(&app, request("POST", "/config/roles", hz.session.as_deref(), json, &header, b"{}".to_vec())).await;
    assert_chinese_refusal(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "JSON body");

    assert!(changed(&before, &digests(&app).await).is_empty(), "refused numbers changed a table");
}
