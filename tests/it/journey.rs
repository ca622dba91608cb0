//! A full application through the pages: imported from the portal on 结果导出, pre-reviewed, its result exported,
//! submitted for acceptance, accepted, approved in two steps, printed as a permit, exported again.

use anxu::clock::Clock;
use anxu::demo::{event, next_bundle, sample_application};
use anxu::exchange::read_bundle;
use anxu::exchange::records::{ApplicationRecords, PortalEvent, RECORDS_FILE, ResultRecords};
use axum::http::StatusCode;
use chrono::TimeDelta;

use crate::harness::{Client, TestApp};

async fn revision(c: &Client<'_>, path: &str) -> String {
    let page = c.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    let sel = scraper::Selector::parse("input[name=revision]").unwrap();
    page.html().select(&sel).next().and_then(|e| e.value().attr("value")).unwrap().to_string()
}

async fn decide(c: &Client<'_>, path: &str, decision: &str, opinion: &str) {
    let rev = revision(c, path).await;
    let r = c.post_form(path, &[("decision", decision), ("opinion", opinion), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{path} {decision}: {}", r.body);
}

fn results_of(app: &TestApp, bytes: &[u8]) -> ResultRecords {
    let me = app.state.key.public();
    let v = read_bundle(bytes, &|id| (id == me.key_id()).then(|| me.clone())).expect("result bundle verifies");
    serde_json::from_slice(v.file(RECORDS_FILE).unwrap()).unwrap()
}

#[tokio::test]
async fn from_import_to_a_printed_permit_through_the_pages() {
    let app = TestApp::new();
    let admin = app.login_as("hz_admin").await;
    // 1. The portal's bundle arrives and is imported on 结果导出.
    let start = app.clock.now() + TimeDelta::days(30);
    let (record, files) = sample_application("P-J-1", "钱塘江音乐节", "performance", &[330106], 3000, start);
    let records = ApplicationRecords {
        applications: vec![event("P-J-1", PortalEvent::Submit, app.clock.now(), Some(record))],
        feedback: Vec::new(),
        filings: Vec::new(),
    };
    let bundle = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    let r = admin.post_multipart("/exchange/import", &[], &[("bundle", "applications-000001.anxb", &bundle)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("已导入第 1 号申请文件"));
    let id = app.scalar("SELECT id FROM activities WHERE portal_ref = 'P-J-1'").await;

    // 2. Pre-review by the 西湖 approver, from the list.
    let keyuan = app.login_as("xh_keyuan").await;
    let list = keyuan.get("/permits").await;
    assert!(list.has(&format!("a[href='/permits/{id}/pre-review']")), "{}", list.body);
    decide(&keyuan, &format!("/permits/{id}/pre-review"), "pass", "").await;

    // 3. The result is exported; the organizer learns of it and submits for acceptance.
    let r = admin.post_form("/exchange/export", &[]).await;
    let bytes = admin.get(&r.location()).await;
    assert_eq!(bytes.status, StatusCode::OK);
    let exported = app
        .state
        .store
        .read(|c| {
            Ok(c.query_row("SELECT bundle FROM exports ORDER BY sequence DESC LIMIT 1", [], |r| {
                r.get::<_, Vec<u8>>(0)
            })?)
        })
        .await
        .unwrap();
    let first = results_of(&app, &exported);
    assert_eq!(first.results[0].status, "pre_review_passed");
    let second = ApplicationRecords {
        applications: vec![event("P-J-1", PortalEvent::SubmitForAcceptance, app.clock.now(), None)],
        feedback: Vec::new(),
        filings: Vec::new(),
    };
    let bundle = next_bundle(&app.state, &app.portal, &second, &[]).unwrap();
    let r = admin.post_multipart("/exchange/import", &[], &[("bundle", "applications-000002.anxb", &bundle)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // 4. Acceptance, then the two steps of 杭州's flow: 科长, 分管局长.
    app.advance(TimeDelta::days(1));
    let keyuan = app.login_as("xh_keyuan").await;
    let admin = app.login_as("hz_admin").await;
    decide(&keyuan, &format!("/permits/{id}/accept"), "accept", "").await;
    let kezhang = app.login_as("xh_kezhang").await;
    decide(&kezhang, &format!("/permits/{id}/approve"), "pass", "同意").await;
    let juzhang = app.login_as("xh_juzhang").await;
    decide(&juzhang, &format!("/permits/{id}/approve"), "pass", "同意许可").await;
    assert_eq!(app.text(&format!("SELECT status FROM activities WHERE id = {id}")).await, "permitted");

    // 5. The details show the whole history and the permit, which prints.
    let details = keyuan.get(&format!("/permits/{id}")).await;
    assert!(details.body.contains("已许可"));
    let history = app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id}")).await;
    assert_eq!(history, 6, "submit, pre-review, submit for acceptance, accept, two steps");
    let doc = app.scalar(&format!("SELECT id FROM documents WHERE activity_id = {id} AND kind = 'permit'")).await;
    let printed = keyuan.get(&format!("/permits/documents/{doc}")).await;
    assert_eq!(printed.status, StatusCode::OK);
    assert!(printed.body.contains("安全许可决定书") && printed.body.contains("钱塘江音乐节"));
    assert!(printed.body.contains("浙杭西湖公(治)许字〔2026〕第0001号"), "{}", printed.body);
    // Another city cannot open it.
    let nb = app.login_as("nb_admin").await;
    assert_eq!(nb.get(&format!("/permits/documents/{doc}")).await.status, StatusCode::NOT_FOUND);

    // 6. The permit leaves in the next result bundle with its document and SMS.
    let r = admin.post_form("/exchange/export", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let exported = app
        .state
        .store
        .read(|c| {
            Ok(c.query_row("SELECT bundle FROM exports ORDER BY sequence DESC LIMIT 1", [], |r| {
                r.get::<_, Vec<u8>>(0)
            })?)
        })
        .await
        .unwrap();
    let last = results_of(&app, &exported);
    let permit = last.results.iter().find(|r| r.status == "permitted").expect("the permit is exported");
    assert!(permit.document.as_ref().unwrap().1.contains("许字"));
    assert!(permit.sms.contains("钱塘江音乐节"));

    // Every step above kept the map's derived table in step with the activities and their regions.
    let drift = app.state.store.read(|c| Ok(anxu::store::places::differences(c)?)).await.unwrap();
    assert_eq!(drift, 0, "activity_places differs from a fresh derivation");
    let status = app
        .state
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT string_agg(DISTINCT p.status) FROM activity_places p JOIN activities a ON a.id = p.activity_id
                 WHERE a.name = '钱塘江音乐节'",
                [],
                |r| r.get::<_, String>(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(status, "permitted");
}

#[tokio::test]
async fn applications_in_approval_keep_their_flow_version() {
    let app = TestApp::new();
    let id = app.seed_application("流程版本测试", "330106", 2000).await;
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await;
    use anxu::domain::workflow::{Action, Decision};
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr, Action::PassPreReview).unwrap();
    app.submit_for_acceptance(id).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr, Action::Accept { steps: 0 }).unwrap();
    // 杭州 changes its flow to a single 科员 step.
    let admin = app.login_as("hz_admin").await;
    let keyuan = app.role_id("科员").await.to_string();
    let form = [
        ("flow_name", "简化流程"),
        ("step_name_0", "科员审批"),
        ("step_role_0", keyuan.as_str()),
        ("step_days_0", "2"),
    ];
    assert_eq!(admin.post_form("/config/flows/edit", &form).await.status, StatusCode::SEE_OTHER);
    // The application in approval still needs 科长 then 分管局长.
    assert_eq!(app.scalar(&format!("SELECT steps FROM activities WHERE id = {id}")).await, 2);
    let pass = || Action::Step { decision: Decision::Pass, opinion: String::new() };
    assert!(anxu::demo::act_as(&app.state, "xh_keyuan", &pr, pass()).is_err());
    anxu::demo::act_as(&app.state, "xh_kezhang", &pr, pass()).unwrap();
    anxu::demo::act_as(&app.state, "xh_juzhang", &pr, pass()).unwrap();
    assert_eq!(app.text(&format!("SELECT status FROM activities WHERE id = {id}")).await, "permitted");
    // A new application is accepted into the new one-step flow.
    let other = app.seed_application("新流程申请", "330106", 2000).await;
    let pr2 = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {other}")).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr2, Action::PassPreReview).unwrap();
    app.submit_for_acceptance(other).await;
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr2, Action::Accept { steps: 0 }).unwrap();
    assert_eq!(app.scalar(&format!("SELECT steps FROM activities WHERE id = {other}")).await, 1);
    anxu::demo::act_as(&app.state, "xh_keyuan", &pr2, pass()).unwrap();
    assert_eq!(app.text(&format!("SELECT status FROM activities WHERE id = {other}")).await, "permitted");
}
