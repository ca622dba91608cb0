//! The multipart body of the record forms: the known text fields and one optional attachment, read with limits;
//! the attachment checked, written to disk on a blocking thread, and its metadata stored in the record's transaction.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use duckdb::Transaction;

use crate::domain::FieldErrors;
use crate::files::{CheckedFile, MAX_UPLOAD, UploadError};
use crate::store::StoreResult;
use crate::store::activities;
use crate::web::AppState;
use crate::web::error::AppError;

/// The most bytes read of one text field; longer input is cut and then refused by its length rule.
const TEXT_CAP: usize = 256 * 1024;
/// The text fields the two forms have.
const TEXT_FIELDS: [&str; 6] = ["survey_date", "surveyors", "report", "rectifications", "inspected_at", "findings"];
/// The answer to a body that is not a readable multipart form.
pub(super) const BAD_FORM: &str = "提交的表单不完整或无法识别，未做任何修改。请返回活动详情重新填写。";

/// An uploaded file as received.
pub(super) struct Upload {
    name: String,
    bytes: Vec<u8>,
}

pub(super) struct Posted {
    fields: HashMap<&'static str, String>,
    pub(super) upload: Option<Upload>,
}

impl Posted {
    pub(super) fn get(&self, key: &str) -> String {
        self.fields.get(key).cloned().unwrap_or_default()
    }
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE { AppError::TooLarge } else { AppError::Conflict(BAD_FORM.into()) }
}

/// Reads a field up to `cap` bytes; true when there was more (the rest is not read).
async fn read_capped(field: &mut Field<'_>, cap: usize) -> Result<(Vec<u8>, bool), AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf, false))
}

/// Reads the known text fields and the `file` field; stops reading after a file larger than [`MAX_UPLOAD`] (it is
/// refused anyway; the file input is the form's last field).
pub(super) async fn read_form(mut mp: Multipart) -> Result<Posted, AppError> {
    let mut posted = Posted { fields: HashMap::new(), upload: None };
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let (bytes, over) = read_capped(&mut field, MAX_UPLOAD + 1).await?;
            if !(file_name.is_empty() && bytes.is_empty()) {
                posted.upload = Some(Upload { name: file_name, bytes });
            }
            if over {
                break;
            }
        } else if let Some(key) = TEXT_FIELDS.iter().find(|k| **k == name) {
            let (bytes, cut) = read_capped(&mut field, TEXT_CAP).await?;
            posted.fields.insert(*key, crate::web::error::utf8_field(bytes, cut)?);
        }
    }
    Ok(posted)
}

/// Checks the optional attachment; a refusal is the field error "附件：…".
pub(super) fn check_upload(errors: &mut FieldErrors, upload: Option<Upload>) -> Option<(CheckedFile, Vec<u8>)> {
    let u = upload?;
    match crate::files::check(&u.name, &u.bytes, false) {
        Ok(f) => Some((f, u.bytes)),
        Err(e) => {
            errors.push("file", format!("附件：{e}"));
            None
        }
    }
}

/// Writes the checked attachment to disk on a blocking thread.
pub(super) async fn save_upload(
    app: &AppState,
    file: Option<(CheckedFile, Vec<u8>)>,
) -> Result<Option<CheckedFile>, UploadError> {
    let Some((checked, bytes)) = file else { return Ok(None) };
    let files = app.files.clone();
    tokio::task::spawn_blocking(move || files.save(&checked, &bytes).map(|()| checked))
        .await
        .map_err(|_| UploadError::Io)?
        .map(Some)
}

/// Stores the attachment's metadata in the record's transaction.
pub(super) fn store_file(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    file: Option<&CheckedFile>,
) -> StoreResult<Option<i64>> {
    let Some(f) = file else { return Ok(None) };
    let size = i64::try_from(f.size).unwrap_or(i64::MAX);
    Ok(Some(activities::add_file(tx, now, &f.sm3, &f.name, f.mime, size)?))
}
