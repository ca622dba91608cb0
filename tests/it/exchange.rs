//! The exchange: importing application bundles (replay, gap, fork, bad signature), exporting result bundles that
//! verify, with SMS text and decision documents; the concurrent approval step.

use anxu::clock::Clock;
use anxu::demo::{event, next_bundle, sample_application};
use anxu::exchange::records::{ApplicationRecords, PortalEvent, RECORDS_FILE, ResultRecords};
use anxu::exchange::{KeyPair, read_bundle};
use anxu::store::exchange::ImportOutcome;
use axum::http::StatusCode;
use chrono::TimeDelta;

use crate::harness::TestApp;

fn one_submit(app: &TestApp, portal_ref: &str) -> (ApplicationRecords, Vec<(String, Vec<u8>)>) {
    let start = app.clock.now() + TimeDelta::days(30);
    let (record, files) = sample_application(portal_ref, "测试音乐会", "performance", &[330106], 2000, start);
    let records = ApplicationRecords {
        applications: vec![event(portal_ref, PortalEvent::Submit, app.clock.now(), Some(record))],
        feedback: Vec::new(),
        filings: Vec::new(),
    };
    (records, files)
}

#[tokio::test]
async fn replay_changes_nothing_and_a_fork_is_refused() {
    let app = TestApp::new();
    let (records, files) = one_submit(&app, "P-X-1");
    let bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    assert!(matches!(anxu::demo::import(&app.state, bytes.clone()).unwrap(), ImportOutcome::Applied(_)));
    let before = (app.dump("activities").await, app.dump("materials").await, app.dump("approval_history").await);
    assert_eq!(anxu::demo::import(&app.state, bytes).unwrap(), ImportOutcome::Duplicate(1));
    assert_eq!((app.dump("activities").await, app.dump("materials").await, app.dump("approval_history").await), before);
    // Sequence 1 again with other content.
    let (other, files2) = one_submit(&app, "P-X-2");
    let fork =
        anxu::exchange::records::application_bundle(&app.portal, 1, None, &other, &files2, app.clock.now().and_utc())
            .unwrap();
    assert!(matches!(anxu::demo::import(&app.state, fork).unwrap(), ImportOutcome::Refused(r) if r.contains("不一致")));
    assert_eq!(app.scalar("SELECT count(*) FROM activities WHERE portal_ref = 'P-X-2'").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM imports WHERE status = 'refused'").await, 1);
}

#[tokio::test]
async fn a_gap_is_held_then_applied_in_order() {
    let app = TestApp::new();
    let (r1, f1) = one_submit(&app, "P-G-1");
    let b1 = next_bundle(&app.state, &app.portal, &r1, &f1).unwrap();
    let (r2, f2) = one_submit(&app, "P-G-2");
    let h1 = anxu::exchange::bundle_hash(&b1);
    let b2 = anxu::exchange::records::application_bundle(&app.portal, 2, Some(h1), &r2, &f2, app.clock.now().and_utc())
        .unwrap();
    assert_eq!(
        anxu::demo::import(&app.state, b2.clone()).unwrap(),
        ImportOutcome::Held { sequence: 2, missing_from: 1 }
    );
    assert_eq!(app.scalar("SELECT count(*) FROM activities").await, 0);
    // Held again: still one held row.
    anxu::demo::import(&app.state, b2).unwrap();
    assert_eq!(app.scalar("SELECT count(*) FROM imports WHERE status = 'held'").await, 1);
    assert_eq!(anxu::demo::import(&app.state, b1).unwrap(), ImportOutcome::Applied(vec![1, 2]));
    assert_eq!(app.scalar("SELECT count(*) FROM activities").await, 2);
}

#[tokio::test]
async fn unknown_keys_and_tampered_bundles_are_refused_before_parsing() {
    let app = TestApp::new();
    let (records, files) = one_submit(&app, "P-K-1");
    let stranger = KeyPair::generate();
    let bytes = next_bundle(&app.state, &stranger, &records, &files).unwrap();
    assert!(
        matches!(anxu::demo::import(&app.state, bytes).unwrap(), ImportOutcome::Refused(r) if r.contains("校验失败"))
    );
    let mut bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(matches!(anxu::demo::import(&app.state, bytes).unwrap(), ImportOutcome::Refused(_)));
    assert_eq!(app.scalar("SELECT count(*) FROM activities").await, 0);
}

#[tokio::test]
async fn invalid_records_refuse_the_whole_bundle() {
    let app = TestApp::new();
    let (mut records, files) = one_submit(&app, "P-V-1");
    let (good, _) = one_submit(&app, "P-V-2");
    records.applications.extend(good.applications);
    if let Some(a) = records.applications[0].application.as_mut() {
        a.organizer.credit_code = "91350100M000100Y44".into();
    }
    let bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    let outcome = anxu::demo::import(&app.state, bytes);
    // The refusal rolls the whole bundle back: nothing of it is stored.
    assert!(outcome.is_err() || matches!(outcome, Ok(ImportOutcome::Refused(_))), "{outcome:?}");
    assert_eq!(app.scalar("SELECT count(*) FROM activities").await, 0);
}

#[tokio::test]
async fn results_export_as_a_signed_bundle_with_sms_and_documents() {
    let app = TestApp::new();
    let id = app.seed_application("导出测试音乐会", "330106", 2000).await;
    anxu::demo::act_as(
        &app.state,
        "xh_keyuan",
        &app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await,
        anxu::domain::workflow::Action::PassPreReview,
    )
    .unwrap();
    app.submit_for_acceptance(id).await;
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr, anxu::domain::workflow::Action::Accept { steps: 0 }).unwrap();
    let admin = app.login_as("hz_admin").await;
    let page = admin.get("/exchange").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.texts("td a").iter().filter(|t| t.contains("导出测试音乐会")).count(), 2, "two pending results");
    let r = admin.post_form("/exchange/export", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let download = admin.get(&r.location()).await;
    assert_eq!(download.status, StatusCode::OK);
    let bytes = app
        .state
        .store
        .read(|c| Ok(c.query_row("SELECT bundle FROM exports", [], |r| r.get::<_, Vec<u8>>(0))?))
        .await
        .unwrap();
    let me = app.state.key.public();
    let v = read_bundle(&bytes, &|id| (id == me.key_id()).then(|| me.clone())).expect("the bundle verifies");
    let records: ResultRecords = serde_json::from_slice(v.file(RECORDS_FILE).unwrap()).unwrap();
    assert_eq!(records.results.len(), 2);
    for r in &records.results {
        assert!(!r.sms.contains('{') && r.sms.contains("导出测试音乐会"), "{}", r.sms);
    }
    let accepted = records.results.iter().find(|r| r.status == "in_approval").unwrap();
    let (file, number) = accepted.document.clone().unwrap();
    assert!(number.contains("受字〔2026〕第0001号"), "{number}");
    assert!(String::from_utf8_lossy(v.file(&file).unwrap()).contains("受理通知书"));
    assert_eq!(app.scalar("SELECT count(*) FROM results WHERE export_id IS NULL").await, 0);
    // Nothing pending now.
    let r = admin.post_form("/exchange/export", &[]).await;
    assert!(r.location().contains("notice=nothing"));
    // Another city's administrator sees none of 杭州's results.
    let nb = app.login_as("nb_admin").await;
    assert!(!nb.get("/exchange").await.body.contains("导出测试音乐会"));
}

#[tokio::test]
async fn exactly_one_of_two_simultaneous_step_decisions_succeeds() {
    let app = TestApp::new();
    let id = app.seed_application("并发测试", "330106", 2000).await;
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr, anxu::domain::workflow::Action::PassPreReview).unwrap();
    app.submit_for_acceptance(id).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr, anxu::domain::workflow::Action::Accept { steps: 0 }).unwrap();
    let revision = app.scalar(&format!("SELECT revision FROM activities WHERE id = {id}")).await;
    let a = app.login_as("xh_kezhang").await;
    let b = app.login_as("xh_kezhang").await;
    let rev = revision.to_string();
    let path = format!("/permits/{id}/approve");
    let form = |decision: &'static str| vec![("decision", decision), ("opinion", "同意"), ("revision", rev.as_str())];
    let (fa, fb) = (form("pass"), form("pass"));
    let (ra, rb) = tokio::join!(a.post_form(&path, &fa), b.post_form(&path, &fb));
    let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 409], "{} / {}", ra.body, rb.body);
    let loser = if ra.status == StatusCode::CONFLICT { ra } else { rb };
    assert!(loser.body.contains("已被他人处理"));
    assert_eq!(
        app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id} AND action = 'step_pass'"))
            .await,
        1
    );
    assert_eq!(app.scalar(&format!("SELECT step FROM activities WHERE id = {id}")).await, 1);
}

#[tokio::test]
async fn an_application_below_the_threshold_is_returned_at_once_with_the_reason() {
    let app = TestApp::new();
    let id = app.seed_application("小型展销", "330106", 800).await;
    assert_eq!(app.text(&format!("SELECT status FROM activities WHERE id = {id}")).await, "pre_review_returned");
    let reason = app.text(&format!("SELECT opinion FROM results WHERE activity_id = {id}")).await;
    assert!(reason.contains("低于 1000 人") && reason.contains("不属于需要安全许可"), "{reason}");
    assert_eq!(app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id}")).await, 2);
    // The organizer corrects the attendance and resubmits: back to 待初审 with a bureau.
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await;
    let start = app.clock.now() + TimeDelta::days(40);
    let (record, files) = sample_application(&pr, "小型展销", "exhibition", &[330106, 330212], 1500, start);
    app.import_events(vec![event(&pr, PortalEvent::Resubmit, app.clock.now(), Some(record))], &files);
    assert_eq!(app.text(&format!("SELECT status FROM activities WHERE id = {id}")).await, "pending_pre_review");
    // The map's derived table followed the new audience, the added county (and its city) and the status.
    let places = app
        .text(&format!(
            "SELECT string_agg(region || ':' || status || ':' || audience, ',' ORDER BY region)
             FROM activity_places WHERE activity_id = {id}"
        ))
        .await;
    assert_eq!(
        places,
        "330000:pending_pre_review:1500,330100:pending_pre_review:1500,330106:pending_pre_review:1500,\
         330200:pending_pre_review:1500,330212:pending_pre_review:1500"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM activity_places").await, app.scalar(DERIVED_PLACES).await);
    // The resubmission sent its risk assessment again: two assessments, one (activity, agency) pair for the map.
    assert_eq!(app.scalar(&format!("SELECT count(*) FROM assessments WHERE activity_id = {id}")).await, 2);
    assert_eq!(app.scalar(&format!("SELECT count(*) FROM activity_agencies WHERE activity_id = {id}")).await, 1);
}

/// The rows a fresh derivation of activity_places would have, for comparing counts after changes.
const DERIVED_PLACES: &str = "SELECT count(*) FROM (SELECT DISTINCT ar.activity_id, up.adcode FROM activity_regions ar \
     JOIN regions g ON g.adcode = ar.region JOIN regions up ON starts_with(g.path, up.path))";
