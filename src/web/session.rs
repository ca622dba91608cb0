//! Sessions on the web side: the cookie, the middleware that resolves it and checks CSRF on every non-GET request,
//! and the [`Ctx`] extractor that handlers take.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::TimeDelta;

use super::AppState;
use super::error::AppError;
use crate::auth;
use crate::domain::user::Permission;
use crate::store::sessions::{self, SessionState};
use crate::store::{Actor, users::User};

/// The session cookie.
pub const SESSION_COOKIE: &str = "anxu_session";
/// The double-submit cookie of the sign-in form, which has no session yet.
pub const LOGIN_CSRF_COOKIE: &str = "anxu_login_csrf";
/// The largest form body the middleware buffers to read the CSRF token.
const FORM_LIMIT: usize = 256 * 1024;
/// A session's last-seen time is written at most this often.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// The signed-in user of a request, put into the request's extensions by [`resolve_session`].
#[derive(Debug, Clone)]
pub struct Current {
    /// The session and its user.
    pub state: SessionState,
}

/// A session cookie was sent but its session had ended.
#[derive(Debug, Clone, Copy)]
struct Expired;

/// Reads one cookie from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, optionally Secure; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The caller's address, for the audit log.
pub fn source(req_ext: &axum::http::Extensions) -> String {
    req_ext.get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_string(), |ci| ci.0.ip().to_string())
}

/// Resolves the session cookie, ends sessions that expired, sends users who must change their password there, and
/// refuses any non-GET request whose CSRF token does not match.
pub async fn resolve_session(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if req.uri().query().is_some_and(|q| !form_is_utf8(q.as_bytes())) {
        return AppError::BadRequest(super::error::NOT_UTF8.into()).into_response();
    }
    let mut current = None;
    let mut expired = false;
    if let Some(token) = cookie(req.headers(), SESSION_COOKIE) {
        let sid = auth::session_id(&token);
        let found = app.store.read({
            let sid = sid.clone();
            move |c| sessions::find(c, &sid)
        });
        match found.await {
            Ok(Some(st)) => {
                let now = app.clock.now();
                let policy = app.policy.get();
                let s = &st.session;
                if s.ended_at.is_some() || st.user.frozen {
                    expired = true;
                } else if !policy.session_alive(s.created_at, s.last_seen_at, now) {
                    let reason = if now - s.last_seen_at > policy.session_idle { "idle" } else { "absolute" };
                    if let Err(e) = app.store.write(move |tx| sessions::end(tx, now, &sid, reason)).await {
                        return AppError::from(e).into_response();
                    }
                    expired = true;
                } else {
                    if now - s.last_seen_at >= TOUCH_EVERY
                        && let Err(e) = app.store.write(move |tx| sessions::touch(tx, now, &sid)).await
                    {
                        return AppError::from(e).into_response();
                    }
                    current = Some(Current { state: st });
                }
            }
            Ok(None) => {}
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    let path = req.uri().path().to_string();
    if let Some(cur) = &current
        && cur.state.user.must_change_password
        && !matches!(path.as_str(), "/account/password" | "/logout" | "/login" | "/register")
        && !path.starts_with("/static/")
    {
        return Redirect::to("/account/password").into_response();
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let expected = match (&current, path.as_str()) {
            // The sign-in form is checked against its own cookie, whether or not a session exists.
            (_, "/login" | "/register") => cookie(req.headers(), LOGIN_CSRF_COOKIE),
            (Some(cur), _) => Some(cur.state.session.csrf.clone()),
            (None, _) => {
                let next = if path == "/logout" { "/".to_string() } else { path };
                return AppError::Unauthenticated { next, expired }.into_response();
            }
        };
        req = match check_csrf(req, expected.as_deref()).await {
            Ok(req) => req,
            Err(e) => return e.into_response(),
        };
    }
    if let Some(cur) = current {
        req.extensions_mut().insert(cur);
    } else if expired {
        req.extensions_mut().insert(Expired);
    }
    next.run(req).await
}

/// Compares the request's CSRF token with `expected`: the `X-CSRF-Token` header, else the `csrf` query parameter
/// (multipart uploads put it there, so their bodies are never buffered here), else the `csrf` field of a urlencoded
/// form, whose body is read (up to a limit) and handed on intact.
async fn check_csrf(req: Request, expected: Option<&str>) -> Result<Request, AppError> {
    let field = |pairs: Vec<(String, String)>| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v);
    let matches = |provided: Option<String>| match (provided, expected) {
        (Some(p), Some(e)) => constant_time_eq(p.as_bytes(), e.as_bytes()),
        _ => false,
    };
    let outside_body = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().query().and_then(|q| serde_urlencoded::from_str(q).ok()).and_then(field));
    if outside_body.is_some() {
        return if matches(outside_body) { Ok(req) } else { Err(AppError::Csrf) };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::Csrf);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| AppError::TooLarge)?;
    if !matches(serde_urlencoded::from_bytes(&bytes).ok().and_then(field)) {
        return Err(AppError::Csrf);
    }
    // The form extractor would replace bytes that are not UTF-8 silently; such a form is refused instead.
    if !form_is_utf8(&bytes) {
        return Err(AppError::BadRequest(super::error::NOT_UTF8.into()));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Whether an `application/x-www-form-urlencoded` string (a form body or a query string) decodes to UTF-8 text.
/// The separators `&` and `=` are ASCII and never part of a multi-byte character, so decoding the whole string at
/// once tells the same as decoding each name and value.
fn form_is_utf8(raw: &[u8]) -> bool {
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%'
            && let (Some(high), Some(low)) = (hex(raw.get(i + 1)), hex(raw.get(i + 2)))
        {
            decoded.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What every page handler knows about the request: the signed-in user, the CSRF token for its forms, whether the
/// page is embedded, and who to name in the audit log.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The user.
    pub user: User,
    /// The session's id (hashed token).
    pub session_id: String,
    /// The CSRF token for forms.
    pub csrf: String,
    /// The full name of the user's region.
    pub region_name: String,
    /// `?embed=1`: render without navigation and keep the flag on links.
    pub embed: bool,
    /// The caller's address.
    pub source: String,
    /// Which side this is.
    pub site: crate::config::Site,
}

impl Ctx {
    /// `path` with `embed=1` added when the page is embedded.
    pub fn href(&self, path: &str) -> String {
        if !self.embed {
            return path.to_string();
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}embed=1")
    }

    /// Refuses the request unless the user's type may do `p`.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.user.user_type.can(p) { Ok(()) } else { Err(AppError::Forbidden) }
    }

    /// The user as an audit actor.
    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.user.id),
            login: self.user.login_name.clone(),
            region: Some(self.user.region),
            source: self.source.clone(),
        }
    }
}

/// Whether the request asks for the embedded rendering.
pub fn is_embed(parts: &Parts) -> bool {
    parts.uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "embed=1"))
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        let Some(cur) = parts.extensions.get::<Current>() else {
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
            return Err(AppError::Unauthenticated { next, expired: parts.extensions.get::<Expired>().is_some() });
        };
        Ok(Ctx {
            user: cur.state.user.clone(),
            session_id: cur.state.session.id.clone(),
            csrf: cur.state.session.csrf.clone(),
            region_name: app.regions.full_name(cur.state.user.region),
            embed: is_embed(parts),
            source: source(&parts.extensions),
            site: app.config.site,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::form_is_utf8;

    #[test]
    fn form_text_must_be_utf8() {
        assert!(form_is_utf8(b"name=%E8%A5%BF%E6%B9%96&csrf=abc"));
        assert!(form_is_utf8("name=西湖+音乐节".as_bytes()));
        assert!(form_is_utf8(b"q=100%25&x=%zz%"));
        assert!(!form_is_utf8(b"name=%FF%FE"));
        assert!(!form_is_utf8(b"name=\xff&csrf=abc"));
        assert!(!form_is_utf8(b"name=%E8%A5&x=1"));
    }
}
