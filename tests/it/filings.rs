//! 备案管理: filings of government units arrive inside application bundles, are listed and shown within the regions
//! they are held in, their attachments download within those regions only; re-imports change nothing and one bad
//! filing refuses the whole bundle.

use anxu::clock::Clock;
use anxu::demo::{SAMPLE_PDF, next_bundle};
use anxu::exchange::records::{ApplicationRecords, AttachmentRecord, FilingRecord};
use anxu::store::exchange::ImportOutcome;
use anxu::web::error::encode_query;
use axum::http::{StatusCode, header};
use chrono::TimeDelta;

use crate::harness::{Resp, TestApp};

/// A filing of 西湖区's culture bureau held in `counties`, starting 30 days from now, with one 报备材料 and one
/// 评估报告, and the bundle files they name.
fn filing(app: &TestApp, portal_ref: &str, name: &str, counties: &[u32]) -> (FilingRecord, Vec<(String, Vec<u8>)>) {
    let start = app.clock.now() + TimeDelta::days(30);
    let slug: String = portal_ref.chars().filter(char::is_ascii_alphanumeric).collect();
    let record = FilingRecord {
        portal_ref: portal_ref.into(),
        unit_name: "杭州市西湖区文化和广电旅游体育局".into(),
        credit_code: "11330106002500123J".into(),
        name: name.into(),
        kind: "festival".into(),
        regions: counties.to_vec(),
        venue: "西湖文化广场".into(),
        start_at: start,
        end_at: start + TimeDelta::hours(3),
        attendance: 3000,
        contact_name: "王科长".into(),
        contact_mobile: "13900571234".into(),
        filed_at: app.clock.now().and_utc(),
        attachments: vec![
            AttachmentRecord {
                kind: "filing".into(),
                file: format!("{slug}-filing.pdf"),
                name: "活动报备表.pdf".into(),
            },
            AttachmentRecord {
                kind: "risk_assessment".into(),
                file: format!("{slug}-risk.pdf"),
                name: "风险评估报告.pdf".into(),
            },
        ],
    };
    let files = record.attachments.iter().map(|a| (a.file.clone(), SAMPLE_PDF.to_vec())).collect();
    (record, files)
}

/// Signs and imports the filings as the next bundle; panics unless it applies.
fn import_filings(app: &TestApp, items: Vec<(FilingRecord, Vec<(String, Vec<u8>)>)>) -> Vec<u8> {
    let mut filings = Vec::new();
    let mut files = Vec::new();
    for (r, f) in items {
        filings.push(r);
        files.extend(f);
    }
    let records = ApplicationRecords { applications: vec![], feedback: vec![], filings };
    let bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    let outcome = anxu::demo::import(&app.state, bytes.clone()).unwrap();
    assert!(matches!(outcome, ImportOutcome::Applied(_)), "{outcome:?}");
    bytes
}

async fn filing_id(app: &TestApp, portal_ref: &str) -> i64 {
    app.scalar(&format!("SELECT id FROM filings WHERE portal_ref = '{portal_ref}'")).await
}

async fn file_of(app: &TestApp, id: i64, kind: &str) -> i64 {
    app.scalar(&format!("SELECT file_id FROM filing_files WHERE filing_id = {id} AND kind = '{kind}'")).await
}

#[tokio::test]
async fn a_filing_is_seen_and_downloaded_within_its_region_only() {
    let app = TestApp::new();
    import_filings(&app, vec![filing(&app, "F-T-1", "西湖跨年灯会", &[330106])]);
    let id = filing_id(&app, "F-T-1").await;
    let (material, report) = (file_of(&app, id, "filing").await, file_of(&app, id, "risk_assessment").await);
    let details = format!("/filings/{id}");
    let downloads = [format!("/filings/files/{material}"), format!("/filings/files/{report}")];

    for login in ["hz_admin", "xh_keyuan"] {
        let c = app.login_as(login).await;
        let list = c.get("/filings").await;
        assert_eq!(list.status, StatusCode::OK, "{login}");
        assert!(list.body.contains("西湖跨年灯会"), "{login}");
        assert!(list.body.contains("杭州市西湖区文化和广电旅游体育局"), "{login}");
        assert!(list.has(&format!("a[href='{details}']")), "{login}");

        let d = c.get(&details).await;
        assert_eq!(d.status, StatusCode::OK, "{login}");
        assert!(d.body.contains("11330106002500123J"));
        assert!(d.body.contains("西湖区"));
        for (url, name) in downloads.iter().zip(["活动报备表.pdf", "风险评估报告.pdf"]) {
            assert!(d.has(&format!("a[href='{url}']")), "{login}: {url}");
            assert!(d.texts(&format!("a[href='{url}']")).concat().contains(name));
        }
        assert_eq!(d.texts("#filing-files a").concat(), "活动报备表.pdf");
        assert_eq!(d.texts("#assessments a").concat(), "风险评估报告.pdf");

        for url in &downloads {
            let r = c.get(url).await;
            assert_eq!(r.status, StatusCode::OK, "{login}: {url}");
            assert_eq!(r.headers[header::CONTENT_TYPE], "application/pdf");
            assert!(
                r.headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment; filename*=UTF-8''")
            );
            assert_eq!(r.body.as_bytes(), SAMPLE_PDF);
        }
        // Filing attachments are not served as permit attachments.
        assert_eq!(c.get(&format!("/permits/files/{material}")).await.status, StatusCode::NOT_FOUND);
    }

    let nb = app.login_as("nb_admin").await;
    let list = nb.get("/filings").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("西湖跨年灯会"));
    assert_eq!(nb.get(&details).await.status, StatusCode::NOT_FOUND);
    for url in &downloads {
        assert_eq!(nb.get(url).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(nb.get("/filings/abc").await.status, StatusCode::NOT_FOUND);
    assert_eq!(nb.get("/filings/files/0").await.status, StatusCode::NOT_FOUND);

    let commander = app.login_as("zj_commander").await;
    assert_eq!(commander.get("/filings").await.status, StatusCode::FORBIDDEN);
    assert_eq!(commander.get(&details).await.status, StatusCode::FORBIDDEN);
    assert_eq!(commander.get(&downloads[0]).await.status, StatusCode::FORBIDDEN);
}

async fn snapshot(app: &TestApp) -> (String, String, String) {
    (app.dump("filings").await, app.dump("filing_files").await, app.dump("files").await)
}

#[tokio::test]
async fn importing_again_changes_nothing() {
    let app = TestApp::new();
    let bytes = import_filings(&app, vec![filing(&app, "F-R-1", "重复导入测试", &[330106])]);
    let before = snapshot(&app).await;
    assert_eq!(app.scalar("SELECT count(*) FROM filing_files").await, 2);
    // The same bundle again is a replay.
    assert_eq!(anxu::demo::import(&app.state, bytes).unwrap(), ImportOutcome::Duplicate(1));
    assert_eq!(snapshot(&app).await, before);
    // The same filing in a later bundle is skipped.
    app.advance(TimeDelta::hours(1));
    import_filings(&app, vec![filing(&app, "F-R-1", "重复导入测试", &[330106])]);
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn a_bad_filing_refuses_the_whole_bundle() {
    let app = TestApp::new();
    let (good, mut files) = filing(&app, "F-B-1", "正常报备", &[330106]);
    let (mut bad, more) = filing(&app, "F-B-2", "错误报备", &[330106]);
    files.extend(more);
    bad.credit_code = "91350100M000100Y44".into();
    let records = ApplicationRecords { applications: vec![], feedback: vec![], filings: vec![good, bad] };
    let bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    let outcome = anxu::demo::import(&app.state, bytes);
    let message = match &outcome {
        Ok(ImportOutcome::Refused(r)) => r.clone(),
        Err(e) => e.to_string(),
        Ok(other) => panic!("applied: {other:?}"),
    };
    assert!(message.contains("F-B-2") && message.contains("统一社会信用代码"), "{message}");
    assert_eq!(app.scalar("SELECT count(*) FROM filings").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM filing_files").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM files").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM imports WHERE status = 'applied'").await, 0);

    // A county outside the province and an attachment missing from the bundle are refused too.
    for broken in [
        {
            let (mut r, _) = filing(&app, "F-B-3", "地区错误", &[330106]);
            r.regions = vec![110101];
            r
        },
        {
            let (mut r, _) = filing(&app, "F-B-4", "缺少附件", &[330106]);
            r.attachments[0].file = "missing.pdf".into();
            r
        },
    ] {
        let (_, files) = filing(&app, &broken.portal_ref, &broken.name, &[330106]);
        let records = ApplicationRecords { applications: vec![], feedback: vec![], filings: vec![broken] };
        let bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
        let outcome = anxu::demo::import(&app.state, bytes);
        assert!(outcome.is_err() || matches!(outcome, Ok(ImportOutcome::Refused(_))), "{outcome:?}");
        assert_eq!(app.scalar("SELECT count(*) FROM filings").await, 0);
    }
}

#[tokio::test]
async fn filters_by_text_kind_region_and_dates() {
    let app = TestApp::new();
    let (mut fair, fair_files) = filing(&app, "F-F-2", "湖滨人才招聘会", &[330102, 330203]);
    fair.kind = "job_fair".into();
    import_filings(&app, vec![filing(&app, "F-F-1", "西湖音乐焰火", &[330106]), (fair, fair_files)]);
    let shows = |r: &Resp| (r.body.contains("西湖音乐焰火"), r.body.contains("湖滨人才招聘会"));

    let c = app.login_as("hz_admin").await;
    assert_eq!(shows(&c.get("/filings").await), (true, true));
    assert_eq!(shows(&c.get(&format!("/filings?q={}", encode_query("焰火"))).await), (true, false));
    assert_eq!(shows(&c.get(&format!("/filings?q={}", encode_query("文化和广电"))).await), (true, true));
    assert_eq!(shows(&c.get("/filings?kind=job_fair").await), (false, true));
    assert_eq!(shows(&c.get("/filings?region=330106").await), (true, false));
    assert_eq!(shows(&c.get("/filings?region=330102").await), (false, true));
    // A region outside the user's is ignored (the whole scope is listed).
    assert_eq!(shows(&c.get("/filings?region=330203").await), (true, true));
    // A bad date is a field error and the list is still shown; unknown values are ignored.
    let r = c.get("/filings?from=2026-13-01&kind=nope&page=y").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.field_error("from").unwrap().contains("开始日期"));
    assert_eq!(shows(&r), (true, true));
    let r = c.get("/filings?from=2027-01-05&until=2027-01-01").await;
    assert!(r.field_error("until").is_some());
    // The filings start 30 days after 2026-12-01.
    assert_eq!(shows(&c.get("/filings?from=2026-12-31&until=2026-12-31").await), (true, true));
    assert_eq!(shows(&c.get("/filings?until=2026-12-30").await), (false, false));
    assert_eq!(shows(&c.get("/filings?from=2027-01-01").await), (false, false));

    // A filing held in two cities is seen from both; the other one only from 杭州.
    let nb = app.login_as("nb_admin").await;
    assert_eq!(shows(&nb.get("/filings").await), (false, true));
    let xh = app.login_as("xh_keyuan").await;
    assert_eq!(shows(&xh.get("/filings").await), (true, false));
}
