//! Attachments (`/permits/files/{file_id}`) and printable decision documents (`/permits/documents/{doc_id}`) of
//! activities the user's region sees; anything else answers 404.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::Markup;

use super::id_from;
use crate::domain::user::Permission;
use crate::store::{activities, workflow};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::Ctx;

/// RFC 5987 percent-encoding of a file name for `filename*=UTF-8''…`.
fn encode_filename(name: &str) -> String {
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

pub(super) async fn file(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let id = id_from(path)?;
    let scope = app.regions.path_key(ctx.user.region);
    let (name, mime, sm3) = app.store.read(move |c| activities::file_in_scope(c, id, &scope)).await?;
    let files = app.files.clone();
    let bytes = tokio::task::spawn_blocking(move || files.read(&sm3))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .ok_or_else(|| {
            tracing::warn!(file_id = id, "attachment metadata without bytes on disk");
            AppError::NotFound
        })?;
    let content_type =
        HeaderValue::from_str(&mime).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", encode_filename(&name)))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok(([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

pub(super) async fn document(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let id = id_from(path)?;
    let scope = app.regions.path_key(ctx.user.region);
    let doc = app.store.read(move |c| workflow::document_in_scope(c, id, &scope)).await?;
    Ok(crate::documents::render_page(&doc))
}

#[cfg(test)]
mod tests {
    use super::encode_filename;

    #[test]
    fn file_names_are_percent_encoded() {
        assert_eq!(encode_filename("plan-1.pdf"), "plan-1.pdf");
        assert_eq!(encode_filename("方案 a.pdf"), "%E6%96%B9%E6%A1%88%20a.pdf");
        assert_eq!(encode_filename("a;b\"c.pdf"), "a%3Bb%22c.pdf");
    }
}
