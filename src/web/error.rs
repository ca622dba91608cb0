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
        error_page(status, title, &message)
    }
}

/// The message for form text that is not UTF-8.
pub(crate) const NOT_UTF8: &str = "提交的内容含有无效的字符编码（不是 UTF-8 文本），未做任何修改。请检查输入后重试。";

/// A form field's bytes as text; bytes that are not UTF-8 refuse the request. A field that was cut at its read
/// limit (`cut`) may end inside a character: it is decoded leniently, since its length rule refuses it anyway.
pub(crate) fn utf8_field(bytes: Vec<u8>, cut: bool) -> Result<String, AppError> {
    if cut {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    String::from_utf8(bytes).map_err(|_| AppError::BadRequest(NOT_UTF8.into()))
}

/// The Chinese page for a refusal that axum answers by itself in plain English text or with an empty body: a path
/// id out of range, a query or form value of the wrong type, a body over the limit, an unsupported method or media
/// type. The status is kept.
pub fn rejection_page(status: StatusCode) -> Response {
    let (title, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => return AppError::TooLarge.into_response(),
        StatusCode::METHOD_NOT_ALLOWED => ("请求方式不支持", "此地址不支持该请求方式，未做任何修改。"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("请求无效", "提交的内容格式无法识别，未做任何修改。请通过页面上的表单提交。")
        }
        _ => ("请求无效", "请求的地址或参数无效（例如编号超出范围、数值或字符无效），未做任何修改。"),
    };
    error_page(status, title, message)
}

/// An error page: the title as heading, the message, a link home; never cached.
fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
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
