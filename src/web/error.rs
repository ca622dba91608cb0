//! The one error type of requests, rendered as a Chinese page. Internal details go to the log only.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::bare_page;
use crate::store::StoreError;

/// Why a request did not go through.
#[derive(Debug)]
pub enum AppError {
    /// Not signed in (or the session has ended): go to the sign-in page, then back to `next`.
    Unauthenticated {
        /// Where to return after signing in.
        next: String,
        /// Whether a session just ended, to say so.
        expired: bool,
    },
    /// The object does not exist or lies outside the user's region.
    NotFound,
    /// The user's type may not do this.
    Forbidden,
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// The request body is too large.
    TooLarge,
    /// Refused in the current state; the message is for the user.
    Conflict(String),
    /// The request's parameters are invalid (outside a form that can show field errors); the message is for the user.
    BadRequest(String),
    /// A bug or an unavailable database; logged, shown as a generic message.
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid(errors) => {
                Self::Conflict(errors.0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("；"))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Self::Unauthenticated { next, expired } => {
                let mut to = format!("/login?next={}", encode_query(&next));
                if expired {
                    to.push_str("&expired=1");
                }
                return Redirect::to(&to).into_response();
            }
            Self::NotFound => {
                (StatusCode::NOT_FOUND, "未找到", "您访问的内容不存在，或不在您的管辖地区内。".to_string())
            }
            Self::Forbidden => (StatusCode::FORBIDDEN, "无权访问", "您的用户类型无权使用此功能。".to_string()),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "表单已失效",
                "表单校验失败（可能已过期或来自其他网站），未做任何修改。请返回刷新页面后重试。".to_string(),
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "提交内容过大",
                "提交的内容超过了允许的大小，未做任何修改。".to_string(),
            ),
            Self::Conflict(m) => (StatusCode::CONFLICT, "操作未执行", m),
            Self::BadRequest(m) => (StatusCode::UNPROCESSABLE_ENTITY, "请求无效", m),
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "系统错误",
                    "系统暂时无法完成此操作，请稍后重试或联系管理员。".to_string(),
                )
            }
        };
        let body = bare_page(
            title,
            html! {
                div.card.error-card {
                    h1 { (title) }
                    p { (message) }
                    p { a href="/" { "返回首页" } }
                }
            },
        );
        (status, [(header::CACHE_CONTROL, "no-store")], body).into_response()
    }
}

/// Percent-encodes a value for a query string.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
