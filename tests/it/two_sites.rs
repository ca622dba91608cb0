//! Both sites in one process, carrying bundles by hand: an organizer registers and applies on the portal; the bundle
//! is imported on the intranet; pre-review, acceptance and a two-step approval happen there; each result bundle is
//! imported on the portal; the organizer sees each notification; a stand-in SMS gateway receives exactly the
//! expected texts, and its failing then recovering loses no message.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anxu::clock::Clock;
use anxu::store::sms::{self, Gateway};
use anxu::store::{Actor, StoreResult};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use chrono::TimeDelta;
use serde_json::Value;

use crate::harness::{Client, Resp, TestApp};

#[derive(Clone)]
struct Gateway2 {
    bodies: Arc<Mutex<Vec<Value>>>,
    fail: Arc<AtomicBool>,
}

async fn gateway_handler(State(g): State<Gateway2>, Json(body): Json<Value>) -> StatusCode {
    g.bodies.lock().unwrap().push(body);
    if g.fail.load(Ordering::SeqCst) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
}

async fn start_gateway() -> (String, Gateway2) {
    let g = Gateway2 { bodies: Arc::default(), fail: Arc::new(AtomicBool::new(false)) };
    let router = Router::new().route("/send", post(gateway_handler)).with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}/send"), g)
}

fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (k, val) = v.split(';').next()?.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

/// Registers an organizer through the portal's registration form.
async fn register(portal: &TestApp) {
    let form = portal.anon().get("/register").await;
    let token = cookie_of(&form.headers, "anxu_login_csrf").unwrap();
    let fields = [
        ("kind", "organizer"),
        ("unit_name", "杭州钱塘演艺有限公司"),
        ("credit_code", "91330106MA27XL0E27"),
        ("contact_name", "王经理"),
        ("mobile", "13911112222"),
        ("login_name", "qiantang"),
        ("password", "Qiantang@2026"),
        ("confirm_password", "Qiantang@2026"),
        ("csrf", token.as_str()),
    ];
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/register")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("anxu_login_csrf={token}"))
        .body(axum::body::Body::from(serde_urlencoded::to_string(fields).unwrap()))
        .unwrap();
    use tower::ServiceExt;
    let res = portal.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "registration");
}

async fn latest_bundle(app: &TestApp, table: &str) -> Vec<u8> {
    let sql = format!("SELECT bundle FROM {table} ORDER BY sequence DESC LIMIT 1");
    app.state.store.read(move |c| Ok(c.query_row(&sql, [], |r| r.get::<_, Vec<u8>>(0))?)).await.unwrap()
}

/// The portal administrator exports; the intranet administrator imports.
async fn portal_to_intranet(portal_admin: &Client<'_>, portal: &TestApp, intranet_admin: &Client<'_>) {
    let r = portal_admin.post_form("/exchange/export", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let bytes = latest_bundle(portal, "portal_exports").await;
    let r = intranet_admin.post_multipart("/exchange/import", &[], &[("bundle", "applications.anxb", &bytes)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("已导入"), "{}", r.body);
}

/// The intranet administrator exports the results; the portal administrator imports them.
async fn intranet_to_portal(intranet_admin: &Client<'_>, intranet: &TestApp, portal_admin: &Client<'_>) -> Resp {
    let r = intranet_admin.post_form("/exchange/export", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let bytes = latest_bundle(intranet, "exports").await;
    let r = portal_admin.post_multipart("/exchange/import", &[], &[("bundle", "results.anxb", &bytes)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r
}

async fn decide(c: &Client<'_>, path: &str, decision: &str) {
    let page = c.get(path).await;
    let sel = scraper::Selector::parse("input[name=revision]").unwrap();
    let rev = page.html().select(&sel).next().and_then(|e| e.value().attr("value")).unwrap().to_string();
    let r = c.post_form(path, &[("decision", decision), ("opinion", "同意"), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}: {}", r.body);
}

fn local_at(app: &TestApp, days: i64) -> String {
    let d = (app.clock.now() + TimeDelta::hours(8) + TimeDelta::days(days)).date();
    format!("{d}T19:00")
}

#[tokio::test]
async fn an_application_from_the_portal_to_a_permit_and_back() {
    let intranet = TestApp::new();
    let portal = TestApp::portal();
    // Trust set-up through both 数据交换 pages.
    let hz_admin = intranet.login_as("hz_admin").await;
    let portal_admin = portal.login_as("portal_admin").await;
    let portal_key = portal.state.key.public().to_hex();
    let intranet_key = intranet.state.key.public().to_hex();
    let r = hz_admin.post_form("/exchange/keys", &[("public_key", portal_key.as_str()), ("label", "外网门户")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r =
        portal_admin.post_form("/exchange/keys", &[("public_key", intranet_key.as_str()), ("label", "公安内网")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // An organizer registers and applies.
    register(&portal).await;
    let mut org = portal.anon();
    assert_eq!(org.sign_in("qiantang", "Qiantang@2026").await.status, StatusCode::SEE_OTHER);
    let start = local_at(&portal, 30);
    let end = start.replace("T19:00", "T22:00");
    let fields = [
        ("name", "钱塘江烟花晚会"),
        ("kind", "festival"),
        ("region1", "330106"),
        ("region2", ""),
        ("region3", ""),
        ("venue_name", "钱塘江北岸观景带"),
        ("venue_address", "杭州市西湖区之江路 1 号"),
        ("venue_region", "330106"),
        ("capacity", "8000"),
        ("start_at", start.as_str()),
        ("end_at", end.as_str()),
        ("sessions", "1"),
        ("attendance", "3000"),
        ("contact_name", "王经理"),
        ("contact_mobile", "13911112222"),
        ("agency", "浙江安评咨询有限公司"),
        ("risk_grade", "中"),
    ];
    let r = org.post_form("/apply/new", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let portal_ref = r.location().trim_start_matches("/apply/").split('?').next().unwrap().to_string();
    for kind in ["legal_entity", "activity_plan", "security_plan", "venue_consent", "risk_assessment"] {
        let path = format!("/apply/{portal_ref}/upload");
        let r = org
            .post_multipart(&path, &[("kind", kind)], &[("file", &format!("{kind}.pdf"), anxu::demo::SAMPLE_PDF)])
            .await;
        assert!(r.status == StatusCode::SEE_OTHER || r.status == StatusCode::OK, "{kind}: {}", r.body);
    }
    let r = org.post_form(&format!("/apply/{portal_ref}/submit"), &[("event", "submit")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // To the intranet; pre-review passes.
    portal_to_intranet(&portal_admin, &portal, &hz_admin).await;
    let id = intranet.scalar(&format!("SELECT id FROM activities WHERE portal_ref = '{portal_ref}'")).await;
    assert_eq!(intranet.scalar(&format!("SELECT count(*) FROM materials WHERE activity_id = {id}")).await, 4);
    let keyuan = intranet.login_as("xh_keyuan").await;
    decide(&keyuan, &format!("/permits/{id}/pre-review"), "pass").await;
    // A site survey with one rectification opinion.
    let survey_date = (intranet.clock.now() + TimeDelta::hours(8)).date().to_string();
    let fields = [
        ("survey_date", survey_date.as_str()),
        ("surveyors", "张警官、李警官"),
        ("report", "观景带护栏高度不足。"),
        ("rectifications", "加高临江护栏至 1.2 米"),
    ];
    let r = keyuan.post_multipart(&format!("/permits/{id}/survey"), &fields, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Back to the portal: the organizer is notified at once and the SMS is queued.
    intranet_to_portal(&hz_admin, &intranet, &portal_admin).await;
    // The organizer answers the rectification opinion.
    let rect = portal
        .scalar(&format!("SELECT rectification_id FROM portal_rectifications WHERE portal_ref = '{portal_ref}'"))
        .await;
    let rect_id = rect.to_string();
    let r = org
        .post_form(
            &format!("/apply/{portal_ref}/feedback"),
            &[("rectification_id", rect_id.as_str()), ("feedback", "护栏已加高至 1.2 米")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let notes = org.get("/notifications").await;
    assert!(notes.body.contains("初审通过"), "{}", notes.body);
    assert_eq!(portal.scalar("SELECT count(*) FROM sms_outbox").await, 1);

    // Submission for approval, acceptance and the two steps of 杭州's flow.
    let r = org.post_form(&format!("/apply/{portal_ref}/submit"), &[("event", "submit_for_acceptance")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    portal_to_intranet(&portal_admin, &portal, &hz_admin).await;
    assert_eq!(
        intranet.text(&format!("SELECT feedback FROM rectifications WHERE id = {rect}")).await,
        "护栏已加高至 1.2 米"
    );
    decide(&keyuan, &format!("/permits/{id}/accept"), "accept").await;
    intranet_to_portal(&hz_admin, &intranet, &portal_admin).await;
    let kezhang = intranet.login_as("xh_kezhang").await;
    decide(&kezhang, &format!("/permits/{id}/approve"), "pass").await;
    let juzhang = intranet.login_as("xh_juzhang").await;
    decide(&juzhang, &format!("/permits/{id}/approve"), "pass").await;
    intranet_to_portal(&hz_admin, &intranet, &portal_admin).await;

    // The organizer sees every decision, with the permit document.
    let notes = org.get("/notifications").await;
    for status in ["初审通过", "审批中", "已许可"] {
        assert!(notes.body.contains(status), "{status}: {}", notes.body);
    }
    let details = org.get(&format!("/apply/{portal_ref}")).await;
    assert!(details.body.contains("已许可"));
    let doc: i64 = portal
        .scalar(&format!("SELECT id FROM notifications WHERE portal_ref = '{portal_ref}' AND document IS NOT NULL ORDER BY id DESC LIMIT 1"))
        .await;
    let printed = org.get(&format!("/apply/{portal_ref}/document/{doc}")).await;
    assert_eq!(printed.status, StatusCode::OK);
    assert!(printed.body.contains("安全许可决定书"), "{}", printed.body);

    // SMS: three texts queued; the gateway fails first, then recovers; nothing is lost or sent twice.
    assert_eq!(portal.scalar("SELECT count(*) FROM sms_outbox WHERE status = 'pending'").await, 3);
    let (url, gw) = start_gateway().await;
    gw.fail.store(true, Ordering::SeqCst);
    let now = portal.clock.now();
    let g = Gateway { url, account: "anxu".into(), secret: "s".into(), signature: "【浙江公安】".into() };
    let actor = Actor { id: None, login: "test".into(), region: None, source: "test".into() };
    portal.state.store.write(move |tx| -> StoreResult<()> { sms::set_gateway(tx, now, &g, &actor) }).await.unwrap();
    assert_eq!(anxu::sms_delivery::deliver_due(&portal.state).await.unwrap(), 0);
    assert_eq!(portal.scalar("SELECT count(*) FROM sms_outbox WHERE status = 'pending' AND attempts = 1").await, 3);
    gw.fail.store(false, Ordering::SeqCst);
    portal.advance(TimeDelta::minutes(2));
    assert_eq!(anxu::sms_delivery::deliver_due(&portal.state).await.unwrap(), 3);
    assert_eq!(anxu::sms_delivery::deliver_due(&portal.state).await.unwrap(), 0);
    let bodies = gw.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 6, "three failed attempts, three deliveries");
    let delivered: Vec<String> =
        bodies[3..].iter().map(|b| b["content"].as_str().unwrap_or_default().to_string()).collect();
    for text in &delivered {
        assert!(text.starts_with("【浙江公安】") && text.contains("钱塘江烟花晚会"), "{text}");
        assert_eq!(bodies[3..].iter().filter(|b| b["mobile"] == "13911112222").count(), 3);
    }
    assert_eq!(portal.scalar("SELECT count(*) FROM sms_outbox WHERE status = 'sent'").await, 3);
}
