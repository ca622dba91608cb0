//! Sending stored attachments: the bytes are read from the file store on a blocking thread, the type comes from
//! the checked upload, and the name travels RFC 5987-encoded so that Chinese names arrive intact.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::AppError;

/// RFC 5987 percent-encoding of a file name for `filename*=UTF-8''…`.
pub(crate) fn encode_filename(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The bytes stored under `sm3`; metadata without bytes on disk answers 404 (and is logged).
pub(crate) async fn stored_bytes(app: &AppState, sm3: String) -> Result<Vec<u8>, AppError> {
    let files = app.files.clone();
    tokio::task::spawn_blocking(move || files.read(&sm3))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .ok_or_else(|| {
            tracing::warn!("attachment metadata without bytes on disk");
            AppError::NotFound
        })
}

/// An attachment download of the file stored under `sm3`.
pub(crate) async fn attachment(app: &AppState, name: &str, mime: &str, sm3: String) -> Result<Response, AppError> {
    let bytes = stored_bytes(app, sm3).await?;
    let content_type =
        HeaderValue::from_str(mime).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", encode_filename(name)))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok(([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::encode_filename;

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(encode_filename("方案 v1.pdf"), "%E6%96%B9%E6%A1%88%20v1.pdf");
        assert_eq!(encode_filename("a\"b.pdf"), "a%22b.pdf");
    }
}
