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

/// A bundle file download.
pub(crate) fn bundle(name: &str, bytes: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// This side's public key as a text download, named after the side and its key id.
pub(crate) fn public_key(app: &AppState, side: &str) -> Response {
    let k = app.key.public();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"anxu-{side}-{}.pub\"", k.key_id()))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let content_type = HeaderValue::from_static("text/plain; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition)], format!("{}\n", k.to_hex()))
        .into_response()
}

/// The form that trusts the other side's public key.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct KeyForm {
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    label: String,
}

impl KeyForm {
    /// Parses the key (refusing this side's own) and its label; `other` names the other side, e.g. 外网.
    pub(crate) fn parse(
        &self,
        app: &AppState,
        other: &str,
    ) -> Result<(crate::exchange::PublicKey, String), crate::domain::FieldErrors> {
        use crate::domain::{FieldError, FieldErrors};
        let mut errors = FieldErrors::default();
        let key = errors
            .take(crate::exchange::PublicKey::from_hex(self.public_key.trim()).map_err(|_| {
                FieldError::new("public_key", format!("公钥格式不正确，应为{other}导出的十六进制 SM2 公钥"))
            }))
            .and_then(|k| {
                if k.key_id() == app.key.public().key_id() {
                    errors.push("public_key", format!("这是本端的公钥，请导入{other}导出的公钥"));
                    None
                } else {
                    Some(k)
                }
            });
        let label = errors.take(crate::domain::text::parse_name("label", "说明", &self.label, 40));
        match (key, label) {
            (Some(k), Some(l)) if errors.is_empty() => Ok((k, l)),
            _ => Err(errors),
        }
    }
}

/// The largest bundle either side imports; the route's body limit adds 1 MiB for the form around it.
pub(crate) const MAX_BUNDLE: usize = 200 * 1024 * 1024;

/// What the `bundle` field of an import form held.
pub(crate) enum BundleUpload {
    /// The whole file.
    File(Vec<u8>),
    /// No form, no field or an empty file.
    Missing,
    /// The body broke off or could not be read.
    Broken,
}

/// Reads the `bundle` field of an import form. Errors are answered, never taken for the end of the body: a cut-off
/// bundle must not be read as a whole one. Over [`MAX_BUNDLE`] is [`AppError::TooLarge`].
pub(crate) async fn read_bundle_upload(
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<BundleUpload, AppError> {
    let too_large = |status: axum::http::StatusCode| status == axum::http::StatusCode::PAYLOAD_TOO_LARGE;
    let Ok(mut form) = form else { return Ok(BundleUpload::Missing) };
    let mut bytes: Option<Vec<u8>> = None;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if too_large(e.status()) => return Err(AppError::TooLarge),
            Err(_) => return Ok(BundleUpload::Broken),
        };
        if field.name() != Some("bundle") {
            continue;
        }
        let mut buf = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() + chunk.len() > MAX_BUNDLE {
                        return Err(AppError::TooLarge);
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if too_large(e.status()) => return Err(AppError::TooLarge),
                Err(_) => return Ok(BundleUpload::Broken),
            }
        }
        bytes = Some(buf);
    }
    Ok(bytes.filter(|b| !b.is_empty()).map_or(BundleUpload::Missing, BundleUpload::File))
}
