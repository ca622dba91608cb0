//! The portal's 我的备案, 消息通知 and 数据交换: a government unit files an activity with its attachments in one form,
//! the portal administrator exports it as a signed application bundle that verifies and that the intranet imports;
//! refused files and fields write nothing; result bundles from an untrusted key are refused, from the trusted
//! intranet they notify the organizer; each page answers 403 to the other user types.

use anxu::clock::Clock;
use anxu::demo::{SAMPLE_PDF, sample_application};
use anxu::exchange::records::{ApplicationRecords, RECORDS_FILE, ResultRecord, ResultRecords};
use anxu::exchange::{BundleBuilder, Channel, KeyPair, read_bundle};
use anxu::store::Actor;
use anxu::store::exchange::ImportOutcome;
use axum::http::{StatusCode, header};
use chrono::TimeDelta;

use crate::harness::{Client, Resp, TestApp};

/// gov_demo's 统一社会信用代码 (see `demo::seed_portal`).
const GOV_CREDIT_CODE: &str = "121000004000003980";

/// A `datetime-local` value in Beijing time, `days` from now at `hour`:00.
fn local_at(app: &TestApp, days: i64, hour: u32) -> String {
    let d = (app.clock.now() + TimeDelta::hours(8) + TimeDelta::days(days)).date();
    format!("{d}T{hour:02}:00")
}

/// The fields of a valid filing named `name`, held in 西湖区 and 上城区.
fn filing_fields(app: &TestApp, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_string()),
        ("kind", "festival".into()),
        ("regions", "330106".into()),
        ("regions", "330102".into()),
        ("venue", "西湖文化广场".into()),
        ("start_at", local_at(app, 30, 18)),
        ("end_at", local_at(app, 30, 22)),
        ("attendance", "3000".into()),
        ("contact", "王科长".into()),
        ("mobile", "13900571234".into()),
    ]
}

/// Posts the new-filing form with `fields` and `files`.
async fn post_filing(c: &Client<'_>, fields: &[(&'static str, String)], files: &[(&str, &str, &[u8])]) -> Resp {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post_multipart("/file/new", &fields, files).await
}

/// A result bundle (intranet → portal) signed by `key`.
fn result_bundle(app: &TestApp, key: &KeyPair, sequence: u64, records: &ResultRecords) -> Vec<u8> {
    let mut b = BundleBuilder::new(Channel::Results, sequence, None);
    b.add_file(RECORDS_FILE, &serde_json::to_vec(records).unwrap()).unwrap();
    b.finish(key, app.clock.now().and_utc())
}

fn system() -> Actor {
    Actor { id: None, login: "system".into(), region: None, source: "test".into() }
}

#[tokio::test]
async fn a_filing_with_its_attachments_is_exported_in_a_bundle_that_verifies_and_imports() {
    let app = TestApp::portal();
    let gov = app.login_as("gov_demo").await;
    let form = gov.get("/file/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.has("form[enctype='multipart/form-data'] input[type=file][name=filing_file]"));
    // The unit's contact is filled in.
    assert!(form.has("input[name=mobile][value='13800571234']"));

    let r = post_filing(
        &gov,
        &filing_fields(&app, "西湖区新春游园会"),
        &[("filing_file", "filing-form.pdf", SAMPLE_PDF), ("assessment_file", "risk-report.pdf", SAMPLE_PDF)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/file/F-000001?notice=filed");

    let list = gov.get("/file").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("西湖区新春游园会"));
    assert!(list.body.contains("F-000001"));
    assert!(list.texts(".tag").contains(&"待报送".to_string()));

    let details = gov.get("/file/F-000001").await;
    assert_eq!(details.status, StatusCode::OK);
    assert!(details.body.contains("filing-form.pdf") && details.body.contains("risk-report.pdf"));
    assert!(details.body.contains("西湖区、上城区"));
    assert_eq!(app.scalar("SELECT count(*) FROM portal_files WHERE owner = 'F-000001'").await, 2);
    let file_id = app.scalar("SELECT id FROM portal_files WHERE owner = 'F-000001' AND kind = 'filing'").await;
    let download = gov.get(&format!("/file/F-000001/files/{file_id}")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.body.starts_with("%PDF"));
    assert_eq!(gov.get("/file/F-999999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(gov.get(&format!("/file/F-999999/files/{file_id}")).await.status, StatusCode::NOT_FOUND);
    // Filing is for government units only.
    let org = app.login_as("org_demo").await;
    assert_eq!(org.get("/file").await.status, StatusCode::FORBIDDEN);
    assert_eq!(org.get("/file/F-000001").await.status, StatusCode::FORBIDDEN);

    // The portal administrator exports it.
    let admin = app.login_as("portal_admin").await;
    let page = admin.get("/exchange").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.texts("strong.pending"), vec!["1".to_string()]);
    let r = admin.post_form("/exchange/export", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/exchange/exports/1");
    let dl = admin.get("/exchange/exports/1").await;
    assert_eq!(dl.status, StatusCode::OK);
    let disposition = dl.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap().to_string();
    assert!(disposition.contains("anxu-applications-000001.anxb"), "{disposition}");
    // Nothing new: no second bundle.
    let again = admin.post_form("/exchange/export", &[]).await;
    assert_eq!(again.location(), "/exchange?notice=nothing");
    assert_eq!(app.scalar("SELECT count(*) FROM portal_exports").await, 1);
    assert!(gov.get("/file").await.texts(".tag").contains(&"已报送".to_string()));

    // The bundle verifies with the portal's public key and carries the filing with its files.
    let bytes: Vec<u8> = app
        .state
        .store
        .read(|c| Ok(c.query_row("SELECT bundle FROM portal_exports WHERE sequence = 1", [], |r| r.get(0))?))
        .await
        .unwrap();
    let pk = app.state.key.public();
    let v = read_bundle(&bytes, &|id| (id == pk.key_id()).then(|| pk.clone())).expect("bundle verifies");
    let records: ApplicationRecords = serde_json::from_slice(v.file(RECORDS_FILE).unwrap()).unwrap();
    assert_eq!(records.filings.len(), 1);
    let f = &records.filings[0];
    assert_eq!(f.portal_ref, "F-000001");
    assert_eq!(f.credit_code, GOV_CREDIT_CODE);
    assert_eq!(f.regions, vec![330106, 330102]);
    assert_eq!(f.attendance, 3000);
    assert_eq!(f.attachments.len(), 2);
    for a in &f.attachments {
        assert_eq!(v.file(&a.file), Some(SAMPLE_PDF), "{a:?}");
    }
    let kinds: Vec<&str> = f.attachments.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, vec!["filing", "risk_assessment"]);

    // The intranet, trusting the portal's key, imports it as a filing with both attachments.
    let intranet = TestApp::new();
    let now = intranet.clock.now();
    intranet
        .state
        .store
        .write(move |tx| anxu::store::exchange::trust_key(tx, now, &pk, "外网门户", &system()))
        .await
        .unwrap();
    assert_eq!(anxu::demo::import(&intranet.state, bytes).unwrap(), ImportOutcome::Applied(vec![1]));
    assert_eq!(intranet.scalar("SELECT count(*) FROM filings WHERE portal_ref = 'F-000001'").await, 1);
    assert_eq!(intranet.scalar("SELECT count(*) FROM filing_files").await, 2);
    // …and it shows up in 备案管理 with both attachments.
    let officer = intranet.login_as("hz_admin").await;
    let list = officer.get("/filings").await;
    assert_eq!(list.status, StatusCode::OK);
    let id = intranet.scalar("SELECT id FROM filings WHERE portal_ref = 'F-000001'").await;
    assert!(list.has(&format!("a[href='/filings/{id}']")), "{}", list.body);
    let details = officer.get(&format!("/filings/{id}")).await;
    assert_eq!(details.status, StatusCode::OK);
    let links = details.html().select(&scraper::Selector::parse("a[href^='/filings/files/']").unwrap()).count();
    assert_eq!(links, 2, "{}", details.body);
}

#[tokio::test]
async fn refused_files_and_fields_answer_422_and_write_nothing() {
    let app = TestApp::portal();
    let gov = app.login_as("gov_demo").await;
    let before = (app.dump("filings").await, app.dump("portal_files").await, app.dump("portal_outbox").await);

    let exe: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00";
    let r = post_filing(&gov, &filing_fields(&app, "烟花晚会"), &[("filing_file", "setup.exe", exe)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.field_error("filing_file").unwrap().contains("只能上传"), "{:?}", r.field_error("filing_file"));
    // The text is kept for correction.
    assert!(r.has("input[name=name][value='烟花晚会']"));

    // A PDF name over other content, as the optional report.
    let r = post_filing(
        &gov,
        &filing_fields(&app, "烟花晚会"),
        &[("filing_file", "filing.pdf", SAMPLE_PDF), ("assessment_file", "report.pdf", exe)],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("assessment_file").is_some());

    // No 报备材料.
    let r = post_filing(&gov, &filing_fields(&app, "烟花晚会"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field_error("filing_file").as_deref(), Some("请上传报备材料"));

    // Bad fields with a good file.
    let mut fields = filing_fields(&app, "");
    fields.retain(|(k, _)| *k != "regions" && *k != "end_at");
    fields.push(("regions", "110101".into()));
    fields.push(("end_at", local_at(&app, 29, 18)));
    fields.push(("mobile", "12345".into()));
    let r = post_filing(&gov, &fields, &[("filing_file", "filing.pdf", SAMPLE_PDF)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field_error("name").as_deref(), Some("请填写活动名称"));
    assert!(r.field_error("regions").is_some());
    assert_eq!(r.field_error("end_at").as_deref(), Some("结束时间应晚于开始时间"));

    // A start in the past.
    let mut fields = filing_fields(&app, "烟花晚会");
    fields.retain(|(k, _)| *k != "start_at");
    fields.push(("start_at", local_at(&app, -1, 18)));
    let r = post_filing(&gov, &fields, &[("filing_file", "filing.pdf", SAMPLE_PDF)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("start_at").is_some());

    let after = (app.dump("filings").await, app.dump("portal_files").await, app.dump("portal_outbox").await);
    assert_eq!(after, before);
    assert_eq!(app.scalar("SELECT count(*) FROM filings").await, 0);
}

#[tokio::test]
async fn each_page_answers_403_to_the_other_user_types() {
    let app = TestApp::portal();
    let gov = app.login_as("gov_demo").await;
    let r = gov.get("/notifications").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.has("article.notification"));
    assert!(r.body.contains("暂无消息"));
    assert!(!r.has("form[action='/notifications/read']"));
    assert_eq!(gov.get("/exchange").await.status, StatusCode::FORBIDDEN);

    let org = app.login_as("org_demo").await;
    assert_eq!(org.get("/notifications").await.status, StatusCode::OK);
    assert_eq!(org.get("/exchange").await.status, StatusCode::FORBIDDEN);
    assert_eq!(org.post_form("/exchange/export", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(org.get("/exchange/public-key").await.status, StatusCode::FORBIDDEN);

    let admin = app.login_as("portal_admin").await;
    assert_eq!(admin.get("/notifications").await.status, StatusCode::FORBIDDEN);
    assert_eq!(admin.get("/file").await.status, StatusCode::FORBIDDEN);
    assert_eq!(admin.get("/file/new").await.status, StatusCode::FORBIDDEN);
    let key = admin.get("/exchange/public-key").await;
    assert_eq!(key.status, StatusCode::OK);
    assert_eq!(key.body.trim(), app.state.key.public().to_hex());
}

#[tokio::test]
async fn a_result_bundle_signed_by_an_untrusted_key_is_refused() {
    let app = TestApp::portal();
    let admin = app.login_as("portal_admin").await;
    let stranger = KeyPair::generate();
    let bytes = result_bundle(&app, &stranger, 1, &ResultRecords::default());
    let r = admin.post_multipart("/exchange/import", &[], &[("bundle", "results-000001.anxb", &bytes)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let message = r.texts(".form-error").join(" ");
    assert!(message.contains("校验失败"), "{message}");
    assert_eq!(app.scalar("SELECT count(*) FROM imports WHERE status = 'refused'").await, 1);
    assert!(admin.get("/exchange").await.texts("td").contains(&"已拒绝".to_string()));
    // No file chosen.
    let r = admin.post_multipart("/exchange/import", &[], &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.texts(".form-error").join(" ").contains("请选择"));
}

#[tokio::test]
async fn results_from_the_trusted_intranet_notify_the_organizer_until_read() {
    let app = TestApp::portal();
    let admin = app.login_as("portal_admin").await;
    let intranet = KeyPair::generate();
    // This side's own key is not the intranet's.
    let own = app.state.key.public().to_hex();
    let r = admin.post_form("/exchange/keys", &[("public_key", &own), ("label", "本端")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("public_key").is_some());
    let hex = intranet.public().to_hex();
    let r = admin.post_form("/exchange/keys", &[("public_key", &hex), ("label", "省厅公安内网")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/exchange?notice=key");
    assert!(admin.get("/exchange").await.body.contains(&intranet.public().key_id()));

    // An application of org_demo, and the intranet's pre-review result for it.
    let uid = app.user_id("org_demo").await;
    let now = app.clock.now();
    let (record, _) =
        sample_application("P-X", "西湖音乐节", "performance", &[330106], 3000, now + TimeDelta::days(40));
    let portal_ref =
        app.state.store.write(move |tx| anxu::store::portal::create_draft(tx, now, uid, &record)).await.unwrap();
    let records = ResultRecords {
        results: vec![ResultRecord {
            result_id: 1,
            portal_ref: portal_ref.clone(),
            kind: "pre_review".into(),
            action: "pass_pre_review".into(),
            status: "pre_review_passed".into(),
            opinion: "材料齐全".into(),
            sms: "您的活动申请已通过初审。".into(),
            mobile: "13800571234".into(),
            document: None,
            rectifications: Vec::new(),
            decided_at: now.and_utc(),
        }],
    };
    let bytes = result_bundle(&app, &intranet, 1, &records);
    let r = admin.post_multipart("/exchange/import", &[], &[("bundle", "results-000001.anxb", &bytes)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.texts(".notice").join(" ").contains("已导入第 1 号结果文件"));
    assert_eq!(app.scalar("SELECT count(*) FROM sms_outbox").await, 1);
    // The same file again changes nothing.
    let r = admin.post_multipart("/exchange/import", &[], &[("bundle", "results-000001.anxb", &bytes)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.texts(".notice").join(" ").contains("已导入过"));
    assert_eq!(app.scalar("SELECT count(*) FROM notifications").await, 1);

    let org = app.login_as("org_demo").await;
    let page = org.get("/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("article.notification.unread"));
    assert!(page.texts("article.notification .tag").contains(&"未读".to_string()));
    assert!(page.body.contains(&portal_ref));
    assert!(page.body.contains("材料齐全"));
    // No decision document with a pre-review pass: no link.
    assert!(!page.body.contains("/document/"));
    let r = org.post_form("/notifications/read", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = org.get("/notifications").await;
    assert!(page.has("article.notification"));
    assert!(!page.has("article.notification.unread"));
    assert!(!page.texts(".tag").contains(&"未读".to_string()));
    // Another user's notifications are not shown.
    let gov = app.login_as("gov_demo").await;
    assert!(!gov.get("/notifications").await.has("article.notification"));
}
