//! The only place that knows HTTP and HTML: the router, its middleware, and the pages by area.

mod account;
mod audit;
mod calendar;
mod download;
pub mod error;
mod exchange;
mod filings;
mod filters;
mod flows;
mod layout;
mod map;
mod materials;
mod permits;
mod portal;
mod roles;
mod scale;
mod security;
pub mod session;
mod sms;
mod stats;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::clock::Clock;
use crate::config::{Config, Site};
use crate::domain::region::RegionTree;
use crate::exchange::KeyPair;
use crate::files::FileStore;
use crate::store::Store;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The province's regions.
    pub regions: Arc<RegionTree>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Arc<Config>,
    /// The security policy in force (stored in the database; refreshed by every save on 安全策略).
    pub policy: crate::store::policy::PolicyCache,
    /// Attachments on disk.
    pub files: FileStore,
    /// This side's signing key for result bundles.
    pub key: Arc<KeyPair>,
    /// The report definitions of the statistics centre, checked against the database at start-up.
    pub reports: Arc<crate::reports::Catalog>,
    /// Held while a round of SMS delivery runs, so that the worker and 【立即发送】 never send a message twice.
    pub sms_delivery: Arc<tokio::sync::Mutex<()>>,
}

/// The largest request body accepted anywhere (uploads arrive with the workflow and set their own limits).
const BODY_LIMIT: usize = 1024 * 1024;

/// The site's router: the intranet's pages or the portal's, with sign-in, health and static files on both.
pub fn router(state: AppState) -> Router {
    let pages = match state.config.site {
        Site::Intranet => intranet_routes(),
        Site::Portal => portal::routes(),
    };
    Router::new()
        .merge(account::routes())
        .merge(pages)
        .route("/healthz", get(healthz))
        .route("/static/{file}", get(static_file))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), session::resolve_session))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The police intranet's pages.
fn intranet_routes() -> Router<AppState> {
    Router::new()
        .merge(users::routes())
        .merge(roles::routes())
        .merge(audit::routes())
        .merge(security::routes())
        .merge(exchange::routes())
        .merge(permits::routes())
        .merge(filings::routes())
        .merge(materials::routes())
        .merge(flows::routes())
        .merge(scale::routes())
        .merge(calendar::routes())
        .merge(sms::routes())
        .merge(map::routes())
        .merge(stats::routes())
}

async fn not_found() -> error::AppError {
    error::AppError::NotFound
}

/// `/healthz`: 200 while the database answers, 503 once it has failed for good.
async fn healthz(State(app): State<AppState>) -> Response {
    let fatal = app.store.health().fatal();
    let probe = match &fatal {
        Some(_) => None,
        None => app.store.ping().await.err(),
    };
    let body = match (fatal, probe) {
        (None, None) => return (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok" }))).into_response(),
        (Some(f), _) => f,
        (None, Some(e)) => e.to_string(),
    };
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "status": "数据库故障", "error": body })))
        .into_response()
}

/// Files under `static/`, built into the binary so it runs from any directory.
const STATIC_FILES: &[(&str, &str, &[u8])] =
    &[("app.css", "text/css; charset=utf-8", include_bytes!("../../static/app.css"))];

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match STATIC_FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, bytes)) => {
            ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "public, max-age=3600")], *bytes).into_response()
        }
        None => error::AppError::NotFound.into_response(),
    }
}

/// Security headers on every response: a CSP without inline script and with the configured frame ancestors,
/// nosniff, no referrer across origins, and no caching of pages. Refusals that axum answers by itself in English
/// become Chinese pages with the same status first.
async fn security_headers(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    if is_plain_rejection(&res) {
        let allow = res.headers().get(header::ALLOW).cloned();
        res = error::rejection_page(res.status());
        if let Some(allow) = allow {
            res.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let ancestors = std::iter::once("'self'")
        .chain(app.config.frame_ancestors.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}"
    );
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Whether `res` is a refusal that axum's routing or extractors answered by themselves: a client error in plain
/// text (e.g. "Cannot parse `99999999999999999999` to a `i64`") or the empty 405 of a route without that method.
fn is_plain_rejection(res: &Response) -> bool {
    let status = res.status();
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    status.is_client_error() && (plain || status == StatusCode::METHOD_NOT_ALLOWED)
}
