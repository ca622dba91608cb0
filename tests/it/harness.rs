//! `TestApp` and `Client`: a fresh in-memory anxu with the demo users, and a browser-like client that keeps its
//! cookies and fills in the CSRF token.

use std::sync::Arc;

use anxu::clock::{Clock, ManualClock};
use anxu::config::Config;
use anxu::setup::{DEMO_PASSWORD, load_regions, open_app, seed_demo};
use anxu::web::{AppState, router};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{NaiveDate, TimeDelta};
use http_body_util::BodyExt;
use scraper::{Html, Selector};
use tower::ServiceExt;

/// A fresh application on an in-memory database, with the demo roles and users and a manual clock.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: Arc<ManualClock>,
    /// Holds the attachment directory for the app's lifetime.
    pub _dir: Arc<tempfile::TempDir>,
    /// The demo portal's signing key, trusted by the app.
    pub portal: anxu::exchange::KeyPair,
}

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as received (downloads).
    pub bytes: Vec<u8>,
}

impl Resp {
    /// The body parsed as HTML.
    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// Texts of the elements matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let sel = Selector::parse(css).expect("valid selector");
        self.html().select(&sel).map(|e| e.text().collect::<String>().trim().to_string()).collect()
    }

    /// Whether any element matches `css`.
    pub fn has(&self, css: &str) -> bool {
        let sel = Selector::parse(css).expect("valid selector");
        self.html().select(&sel).next().is_some()
    }

    /// The `Location` header.
    pub fn location(&self) -> String {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }

    /// The field error shown for form field `name`.
    pub fn field_error(&self, name: &str) -> Option<String> {
        self.texts(&format!("#f-{name}-err")).into_iter().next()
    }
}

impl TestApp {
    /// A new app with the demo data, the clock at 2026-12-01 10:00 Beijing time.
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A new portal-site app with the portal's demo accounts (`org_demo`, `gov_demo`, `portal_admin`).
    pub fn portal() -> Self {
        let config = Config { site: anxu::config::Site::Portal, ..Config::default() };
        let start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(2, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let state = Self::open(None, &dir, clock.clone(), config);
        anxu::demo::seed_portal(&state).unwrap();
        Self::from_state(state, clock, dir)
    }

    /// A new app with `config`.
    pub fn with_config(config: Config) -> Self {
        let start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(2, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let state = Self::open(None, &dir, clock.clone(), config);
        seed_demo(&state.store, &state.regions, clock.now()).unwrap();
        Self::from_state(state, clock, dir)
    }

    /// Opens an app state on `db` (in memory for `None`) with attachments under `dir`.
    pub fn open(
        db: Option<&std::path::Path>,
        dir: &tempfile::TempDir,
        clock: Arc<ManualClock>,
        config: Config,
    ) -> AppState {
        let key = anxu::exchange::KeyPair::generate();
        open_app(db, &dir.path().join("files"), key, load_regions(None).unwrap(), clock, config).unwrap()
    }

    /// Wraps an opened state.
    pub fn from_state(state: AppState, clock: Arc<ManualClock>, dir: Arc<tempfile::TempDir>) -> Self {
        let router = router(state.clone());
        let portal = anxu::demo::demo_portal(&state).unwrap();
        Self { state, router, clock, _dir: dir, portal }
    }

    /// Imports an application bundle with `events` from the trusted portal; panics unless it applies.
    pub fn import_events(&self, events: Vec<anxu::exchange::records::ApplicationEvent>, files: &[(String, Vec<u8>)]) {
        let records = anxu::exchange::records::ApplicationRecords {
            applications: events,
            feedback: Vec::new(),
            filings: Vec::new(),
        };
        let bytes = anxu::demo::next_bundle(&self.state, &self.portal, &records, files).unwrap();
        let outcome = anxu::demo::import(&self.state, bytes).unwrap();
        assert!(matches!(outcome, anxu::store::exchange::ImportOutcome::Applied(_)), "{outcome:?}");
    }

    /// Imports one new application held in county `region` and returns its activity id (status 待初审).
    pub async fn seed_application(&self, name: &str, region: &str, attendance: u32) -> i64 {
        let portal_ref = format!("P-T-{}", self.scalar("SELECT count(*) + 1 FROM activities").await);
        let start = self.clock.now() + TimeDelta::days(40);
        let counties = [region.parse::<u32>().unwrap()];
        let (record, files) =
            anxu::demo::sample_application(&portal_ref, name, "performance", &counties, attendance, start);
        let now = self.clock.now();
        self.import_events(
            vec![anxu::demo::event(&portal_ref, anxu::exchange::records::PortalEvent::Submit, now, Some(record))],
            &files,
        );
        self.scalar(&format!("SELECT id FROM activities WHERE portal_ref = '{portal_ref}'")).await
    }

    /// The organizer submits the application `id` for acceptance (after a passed pre-review).
    pub async fn submit_for_acceptance(&self, id: i64) {
        let portal_ref = self.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await;
        let now = self.clock.now();
        self.import_events(
            vec![anxu::demo::event(&portal_ref, anxu::exchange::records::PortalEvent::SubmitForAcceptance, now, None)],
            &[],
        );
    }

    /// One text value of a SQL query on the store.
    pub async fn text(&self, sql: &str) -> String {
        let sql = sql.to_string();
        self.state.store.read(move |c| Ok(c.query_row(&sql, [], |r| r.get::<_, String>(0))?)).await.unwrap()
    }

    /// Moves the clock.
    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// A client without a session.
    pub fn anon(&self) -> Client<'_> {
        Client { app: self, session: None, csrf: None }
    }

    /// A client signed in as demo user `login`.
    pub async fn login_as(&self, login: &str) -> Client<'_> {
        let mut c = self.anon();
        let r = c.sign_in(login, DEMO_PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "sign-in of {login} failed: {}", r.body);
        c
    }

    /// One value of a SQL query on the store.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sql.to_string();
        self.state.store.read(move |c| Ok(c.query_row(&sql, [], |r| r.get::<_, i64>(0))?)).await.unwrap()
    }

    /// A text dump of a table, to compare before and after a refused request.
    pub async fn dump(&self, table: &str) -> String {
        let sql = format!("SELECT string_agg(CAST(t AS VARCHAR), '\n' ORDER BY CAST(t AS VARCHAR)) FROM {table} t");
        self.state
            .store
            .read(move |c| Ok(c.query_row(&sql, [], |r| r.get::<_, Option<String>>(0))?.unwrap_or_default()))
            .await
            .unwrap()
    }

    /// The id of the user with `login`.
    pub async fn user_id(&self, login: &str) -> i64 {
        self.scalar(&format!("SELECT id FROM users WHERE login_name = '{login}'")).await
    }

    /// The id of the role named `name`.
    pub async fn role_id(&self, name: &str) -> i64 {
        self.scalar(&format!("SELECT id FROM approval_roles WHERE name = '{name}' AND deleted_at IS NULL")).await
    }
}

/// A browser-like client: keeps the session cookie and the CSRF token of its pages.
pub struct Client<'a> {
    app: &'a TestApp,
    pub session: Option<String>,
    pub csrf: Option<String>,
}

fn set_cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let first = v.split(';').next()?;
        let (k, val) = first.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

impl Client<'_> {
    async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes: bytes.to_vec() }
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(s) = &self.session {
            b = b.header(header::COOKIE, format!("anxu_session={s}"));
        }
        b
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.request("GET", path).body(Body::empty()).unwrap()).await
    }

    /// POST a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = &self.csrf {
            all.push(("csrf", t));
        }
        self.post_raw(path, &serde_urlencoded::to_string(&all).unwrap()).await
    }

    /// POST a urlencoded body as it is.
    pub async fn post_raw(&self, path: &str, body: &str) -> Resp {
        let req = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// POSTs a multipart form (fields and files) with the CSRF token in the query, as the upload forms do.
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Resp {
        let boundary = "anxu-test-boundary-7f3a";
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, filename, bytes) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let sep = if path.contains('?') { '&' } else { '?' };
        let uri = format!("{path}{sep}csrf={}", self.csrf.clone().unwrap_or_default());
        let req = self
            .request("POST", &uri)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Signs in through the sign-in form; on success keeps the session and reads the CSRF token of the home page.
    pub async fn sign_in(&mut self, login: &str, password: &str) -> Resp {
        let form = self.get("/login").await;
        let token = set_cookie_value(&form.headers, "anxu_login_csrf").expect("login CSRF cookie");
        let body =
            serde_urlencoded::to_string([("login_name", login), ("password", password), ("csrf", &token)]).unwrap();
        let mut req = self.request("POST", "/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        let cookie = match &self.session {
            Some(s) => format!("anxu_login_csrf={token}; anxu_session={s}"),
            None => format!("anxu_login_csrf={token}"),
        };
        req = req.header(header::COOKIE, cookie);
        let r = self.send(req.body(Body::from(body)).unwrap()).await;
        if let Some(s) = set_cookie_value(&r.headers, "anxu_session") {
            self.session = Some(s);
            self.refresh_csrf().await;
        }
        r
    }

    /// Reads the CSRF token from a page that has a form (the password page always has one).
    pub async fn refresh_csrf(&mut self) {
        let page = self.get("/account/password").await;
        let sel = Selector::parse("input[name=csrf]").unwrap();
        self.csrf = page.html().select(&sel).next().and_then(|e| e.value().attr("value")).map(str::to_string);
    }
}
