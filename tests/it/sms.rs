//! SMS delivery (portal): the outbox drained through a fake HTTP gateway — waiting without a gateway, failing with
//! backoff, delivering each message exactly once, giving up after `MAX_ATTEMPTS`, retry by hand — and the minimal
//! HTTP client refusing what it cannot send without panicking.

use anxu::clock::Clock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anxu::sms_delivery::{deliver_due, send};
use anxu::store::sms::{self, Gateway, MAX_ATTEMPTS, Sms};
use anxu::store::{Actor, StoreError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::TimeDelta;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::TestApp;

const SIGNATURE: &str = "【浙江公安】";

/// A fake gateway: records every JSON body; answers 500 while `fail` is set, else 200.
#[derive(Clone)]
struct Fake {
    bodies: Arc<Mutex<Vec<Value>>>,
    fail: Arc<AtomicBool>,
}

impl Fake {
    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    fn set_fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

async fn fake_handler(State(f): State<Fake>, Json(body): Json<Value>) -> StatusCode {
    f.bodies.lock().unwrap().push(body);
    if f.fail.load(Ordering::SeqCst) { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

/// Starts the fake gateway on a free local port; returns its URL.
async fn fake_gateway() -> (String, Fake) {
    let fake = Fake { bodies: Arc::default(), fail: Arc::new(AtomicBool::new(false)) };
    let router = axum::Router::new().route("/sms/send", post(fake_handler)).with_state(fake.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}/sms/send"), fake)
}

fn actor() -> Actor {
    Actor { id: None, login: "test".into(), region: None, source: "test".into() }
}

fn gateway(url: &str) -> Gateway {
    Gateway { url: url.into(), account: "anxu".into(), secret: "s3cret".into(), signature: SIGNATURE.into() }
}

async fn set_gateway(app: &TestApp, url: &str) {
    let (now, g) = (app.clock.now(), gateway(url));
    app.state.store.write(move |tx| sms::set_gateway(tx, now, &g, &actor())).await.unwrap();
}

async fn enqueue(app: &TestApp, mobile: &'static str, text: &'static str, source: &'static str) {
    let now = app.clock.now();
    app.state.store.write(move |tx| sms::enqueue(tx, now, mobile, text, source)).await.unwrap();
}

/// All messages, oldest first.
async fn messages(app: &TestApp) -> Vec<Sms> {
    let mut all = app.state.store.read(|c| sms::list(c, None)).await.unwrap();
    all.sort_by_key(|m| m.id);
    all
}

async fn counts(app: &TestApp) -> (i64, i64, i64) {
    app.state.store.read(sms::counts).await.unwrap()
}

const MESSAGES: [(&str, &str, &str); 3] = [
    ("13800000001", "您申请的活动已通过初审。", "result:1"),
    ("13800000002", "您申请的活动已受理。", "result:2"),
    ("13800000003", "您申请的活动已获安全许可。", "result:3"),
];

#[tokio::test]
async fn messages_wait_fail_with_backoff_and_are_delivered_exactly_once() {
    let app = TestApp::new();
    for (mobile, text, source) in MESSAGES {
        enqueue(&app, mobile, text, source).await;
    }
    // The same source again queues nothing.
    enqueue(&app, "13800000001", "重复", "result:1").await;
    assert_eq!(counts(&app).await, (3, 0, 0));

    // No gateway: nothing is sent, nothing is marked.
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    for m in messages(&app).await {
        assert_eq!((m.status.as_str(), m.attempts, m.last_error.as_deref()), ("pending", 0, None));
    }

    let (url, fake) = fake_gateway().await;
    set_gateway(&app, &url).await;

    // The gateway fails: every message is tried once, keeps its error, and waits for its backoff.
    fake.set_fail(true);
    let before = app.clock.now();
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    for m in messages(&app).await {
        assert_eq!(m.status, "pending");
        assert_eq!(m.attempts, 1);
        let error = m.last_error.clone().unwrap_or_default();
        assert!(error.contains("500"), "{error}");
        assert!(m.next_attempt_at > before, "{m:?}");
        assert!(m.sent_at.is_none());
    }
    assert_eq!(fake.bodies().len(), 3);
    // Not due again before the backoff has passed.
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    assert_eq!(fake.bodies().len(), 3);

    // After the backoff, with the gateway working again, all three go out.
    app.advance(TimeDelta::minutes(5));
    fake.set_fail(false);
    assert_eq!(deliver_due(&app.state).await.unwrap(), 3);
    assert_eq!(counts(&app).await, (0, 3, 0));
    for m in messages(&app).await {
        assert_eq!((m.status.as_str(), m.attempts, m.last_error.as_deref()), ("sent", 2, None));
        assert_eq!(m.sent_at, Some(app.clock.now()));
    }

    // The gateway saw the three failed attempts, then each text once more — signed, with the account.
    let bodies = fake.bodies();
    assert_eq!(bodies.len(), 6);
    let expected: Vec<(String, String)> =
        MESSAGES.iter().map(|(m, t, _)| (m.to_string(), format!("{SIGNATURE}{t}"))).collect();
    let seen = |range: std::ops::Range<usize>| {
        let mut v: Vec<(String, String)> = bodies[range]
            .iter()
            .map(|b| (b["mobile"].as_str().unwrap().to_string(), b["content"].as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(seen(0..3), expected);
    assert_eq!(seen(3..6), expected);
    for b in &bodies {
        assert_eq!((b["account"].as_str(), b["secret"].as_str()), (Some("anxu"), Some("s3cret")));
    }

    // Nothing is sent twice.
    app.advance(TimeDelta::hours(2));
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    assert_eq!(fake.bodies().len(), 6);
}

#[tokio::test]
async fn concurrent_rounds_send_each_message_once() {
    let app = TestApp::new();
    for (mobile, text, source) in MESSAGES {
        enqueue(&app, mobile, text, source).await;
    }
    let (url, fake) = fake_gateway().await;
    set_gateway(&app, &url).await;
    let (a, b) = tokio::join!(deliver_due(&app.state), deliver_due(&app.state));
    assert_eq!(a.unwrap() + b.unwrap(), 3);
    assert_eq!(fake.bodies().len(), 3);
    assert_eq!(counts(&app).await, (0, 3, 0));
}

#[tokio::test]
async fn a_message_failing_max_attempts_times_is_failed_until_retried() {
    let app = TestApp::new();
    enqueue(&app, "13900000009", "测试短信", "test:1").await;
    let (url, fake) = fake_gateway().await;
    set_gateway(&app, &url).await;
    fake.set_fail(true);
    for _ in 0..MAX_ATTEMPTS {
        assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
        app.advance(TimeDelta::hours(1));
    }
    let m = messages(&app).await.remove(0);
    assert_eq!((m.status.as_str(), m.attempts), ("failed", MAX_ATTEMPTS));
    assert!(m.last_error.as_deref().unwrap_or_default().contains("500"));
    assert_eq!(counts(&app).await, (0, 0, 1));
    assert_eq!(fake.bodies().len(), MAX_ATTEMPTS as usize);

    // Failed messages are not retried automatically.
    app.advance(TimeDelta::hours(3));
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    assert_eq!(fake.bodies().len(), MAX_ATTEMPTS as usize);

    // 【重发】 puts it back for an attempt now; it is audited.
    let (now, id) = (app.clock.now(), m.id);
    app.state.store.write(move |tx| sms::retry(tx, now, id, &actor())).await.unwrap();
    let m = messages(&app).await.remove(0);
    assert_eq!((m.status.as_str(), m.next_attempt_at), ("pending", now));
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'sms.retry'").await, 1);

    fake.set_fail(false);
    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);
    assert_eq!(counts(&app).await, (0, 1, 0));

    // A sent message cannot be retried.
    let now = app.clock.now();
    let again = app.state.store.write(move |tx| sms::retry(tx, now, id, &actor())).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

#[tokio::test]
async fn unusable_gateways_fail_the_attempt_without_losing_the_message() {
    let app = TestApp::new();
    enqueue(&app, "13700000007", "网关不可用", "test:2").await;
    set_gateway(&app, "https://sms.example.com/send").await;
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    let m = messages(&app).await.remove(0);
    assert_eq!((m.status.as_str(), m.attempts), ("pending", 1));
    assert!(m.last_error.as_deref().unwrap_or_default().contains("https"), "{m:?}");
}

/// A free local port with nothing listening on it.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// Reads one whole request (headers and `Content-Length` body) from `s`.
async fn read_request(s: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return;
            }
        }
        let n = s.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A one-connection server that answers `response` as raw bytes and closes; returns its URL.
async fn raw_server(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            read_request(&mut s).await;
            let _ = s.write_all(response).await;
            let _ = s.shutdown().await;
        }
    });
    format!("http://{addr}/send")
}

#[tokio::test]
async fn send_refuses_what_it_cannot_deliver_without_panicking() {
    let err = send(&gateway("https://sms.example.com/send"), "13800000001", "x").await.unwrap_err();
    assert!(err.contains("https"), "{err}");

    let err = send(&gateway(&format!("http://127.0.0.1:{}/send", closed_port().await)), "13800000001", "x").await;
    assert!(err.is_err());

    for bad in [
        "",
        "ftp://gw/send",
        "http://",
        "http:///send",
        "http://gw:99999/send",
        "http://gw:abc/send",
        "http://g w/send",
        "http://user:pw@gw/send",
        "http://[::1/send",
        "gw:8080/send",
        "http://gw/短信",
        "HTTPS://gw/",
    ] {
        assert!(send(&gateway(bad), "13800000001", "x").await.is_err(), "{bad:?}");
    }

    // Status lines: 2xx only, anything malformed is an error with a reason.
    assert!(send(&gateway(&raw_server(b"HTTP/1.1 204 No Content\r\n\r\n").await), "1", "x").await.is_ok());
    let err = send(&gateway(&raw_server(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await), "1", "x").await;
    assert!(err.as_ref().unwrap_err().contains("404"), "{err:?}");
    let err = send(&gateway(&raw_server(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n").await), "1", "x").await;
    assert!(err.as_ref().unwrap_err().contains("302"), "{err:?}");
    assert!(send(&gateway(&raw_server(b"garbage\r\n\r\n").await), "1", "x").await.is_err());
    assert!(send(&gateway(&raw_server(b"HTTP/1.1 2x0 OK\r\n\r\n").await), "1", "x").await.is_err());
    assert!(send(&gateway(&raw_server(b"").await), "1", "x").await.is_err());
    assert!(send(&gateway(&raw_server(b"HTTP/1.1 200").await), "1", "x").await.is_err());
}

#[tokio::test]
async fn outbox_page_for_the_portal_administrator() {
    let app = TestApp::portal();
    enqueue(&app, "13812341234", "页面短信", "test:page").await;
    let admin = app.login_as(anxu::demo::PORTAL_ADMIN).await;
    let r = admin.get("/outbox").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("138****1234") && !r.body.contains("13812341234"));
    assert_eq!(r.texts("#count-pending"), ["待发送 1"]);

    // Refused settings: Chinese field errors, 422, nothing written.
    let before = app.dump("sms_gateway").await;
    let r = admin
        .post_form(
            "/outbox/gateway",
            &[("url", "https://gw.example/send"), ("account", "a"), ("secret", "s"), ("signature", SIGNATURE)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field_error("url").as_deref(), Some("暂不支持 https，请通过内网代理使用 http 地址"));
    let long_signature = "签".repeat(21);
    let r = admin
        .post_form(
            "/outbox/gateway",
            &[("url", "http://gw/ send"), ("account", &"a".repeat(51)), ("signature", &long_signature)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["url", "account", "signature"] {
        assert!(r.field_error(field).is_some(), "{field}");
    }
    assert_eq!(app.dump("sms_gateway").await, before);

    // Saved; an empty secret later keeps the stored one, which is never shown.
    let (url, fake) = fake_gateway().await;
    let fields = [("url", url.as_str()), ("account", "anxu"), ("secret", "s3cret"), ("signature", SIGNATURE)];
    let r = admin.post_form("/outbox/gateway", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = admin
        .post_form("/outbox/gateway", &[("url", &url), ("account", "anxu"), ("secret", ""), ("signature", SIGNATURE)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.text("SELECT secret FROM sms_gateway").await, "s3cret");
    assert!(!admin.get("/outbox").await.body.contains("s3cret"));

    // 【立即发送】
    let r = admin.post_form("/outbox/send", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let shown = admin.get(&r.location()).await;
    assert!(shown.texts(".notice").concat().contains("1 条"), "{}", shown.body);
    let bodies = fake.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["content"], format!("{SIGNATURE}页面短信"));
    assert_eq!(shown.texts("#count-sent"), ["已发送 1"]);

    // A sent message cannot be retried.
    let id = app.scalar("SELECT id FROM sms_outbox").await;
    assert_eq!(admin.post_form(&format!("/outbox/{id}/retry"), &[]).await.status, StatusCode::CONFLICT);

    // Only the administrator.
    let org = app.login_as("org_demo").await;
    assert_eq!(org.get("/outbox").await.status, StatusCode::FORBIDDEN);
}
