//! `POST /apply/{ref}/upload`: one material file for an application that may still change. The form is multipart,
//! so its CSRF token travels in the action URL's query. The file is read with a cap, checked (`files::check`: type,
//! size, content; the name loses any path), written to disk under its SM3 on a blocking thread, and recorded in one
//! write that checks the application's owner and status again. A refusal names its reason and changes nothing.

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::apply::{ref_from, status_label};
use super::apply_details::{Extra, Loaded, load_all, render, respond};
use crate::files::{MAX_UPLOAD, UPLOAD_EXTENSIONS, UploadError};
use crate::store::{StoreError, portal};
use crate::web::AppState;
use crate::web::error::{AppError, encode_query};
use crate::web::layout::select_field;
use crate::web::session::Ctx;

/// What the file input offers.
const ACCEPT: &str = ".pdf,.jpg,.jpeg,.png,.docx,.xlsx";
/// The most bytes read of the kind field.
const KIND_CAP: usize = 256;
/// The answer to a body that is not a readable multipart form.
const BAD_FORM: &str = "提交的表单不完整或无法识别，未做任何修改。请返回申请详情重新上传。";

/// The upload form of the details page.
pub(super) fn upload_form(ctx: &Ctx, l: &Loaded, x: &Extra) -> Markup {
    let action = ctx.href(&format!("/apply/{}/upload?csrf={}", l.a.portal_ref, encode_query(&ctx.csrf)));
    let options: Vec<(String, String)> = std::iter::once((String::new(), "请选择".to_string()))
        .chain(l.kinds.iter().map(|k| (k.code.clone(), k.name.clone())))
        .collect();
    let ferr = x.upload.get("file");
    html! {
        form.upload method="post" enctype="multipart/form-data" action=(action) {
            h3 { "上传材料" }
            (select_field("kind", "材料类型", x.upload_kind.trim(), &options, &x.upload, true))
            div.field.has-error[ferr.is_some()] {
                label for="f-file" { "文件" span.req aria-hidden="true" { "*" } }
                input id="f-file" type="file" name="file" accept=(ACCEPT)
                    aria-invalid=[ferr.map(|_| "true")] aria-describedby=[ferr.map(|_| "f-file-err")];
                div.hint { "支持 " (UPLOAD_EXTENSIONS) "，单个文件不超过 " (MAX_UPLOAD / 1024 / 1024) " MB" }
                @if let Some(e) = ferr { div.field-error id="f-file-err" role="alert" { (e) } }
            }
            button.primary type="submit" { "上传" }
        }
    }
}

/// The reason a file was refused, naming the file.
fn refusal(name: &str, e: &UploadError) -> String {
    let base: String = name.rsplit(['/', '\\']).next().unwrap_or(name).chars().take(100).collect();
    let reason = match e {
        UploadError::Empty => "文件为空（0 字节）".to_string(),
        UploadError::TooLarge => format!("文件超过 {} MB 的大小上限", MAX_UPLOAD / 1024 / 1024),
        UploadError::Type => format!("文件类型不允许，只能上传 {UPLOAD_EXTENSIONS} 文件"),
        UploadError::Content => "文件内容与扩展名不符（可能是改了扩展名的其他类型文件）".to_string(),
        UploadError::Io => "文件保存失败，请稍后重试".to_string(),
    };
    format!("「{base}」未上传：{reason}。未做任何修改。")
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

/// The posted kind and file (name, bytes).
#[derive(Default)]
struct Posted {
    kind: String,
    file: Option<(String, Vec<u8>)>,
}

/// Reads `kind` and `file`; stops after a file larger than [`MAX_UPLOAD`] (refused anyway; the file input is the
/// form's last field).
async fn read_upload(mut mp: Multipart) -> Result<Posted, AppError> {
    let mut p = Posted::default();
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let file_name = field.file_name().unwrap_or_default().to_string();
                let (bytes, over) = read_capped(&mut field, MAX_UPLOAD + 1).await?;
                if !(file_name.is_empty() && bytes.is_empty()) {
                    p.file = Some((file_name, bytes));
                }
                if over {
                    break;
                }
            }
            "kind" => {
                let (bytes, _) = read_capped(&mut field, KIND_CAP).await?;
                p.kind = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {}
        }
    }
    Ok(p)
}

pub(super) async fn upload(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let portal_ref = ref_from(path)?;
    let l = load_all(&app, &ctx, &portal_ref).await?;
    let Ok(mp) = mp else { return Err(AppError::Conflict(BAD_FORM.into())) };
    let posted = read_upload(mp).await?;
    let mut x = Extra { upload_kind: posted.kind.trim().to_string(), ..Extra::default() };
    if !portal::editable(&l.a.status) {
        x.message = Some(format!("申请当前为「{}」状态，不能上传材料。", status_label(&l.a.status)));
        return Ok(respond(StatusCode::CONFLICT, render(&app, &ctx, &l, &x)));
    }
    let kind = posted.kind.trim().to_string();
    if !l.kinds.iter().any(|k| k.code == kind) {
        x.upload.push("kind", "请选择材料类型");
    }
    let checked = match posted.file {
        None => {
            x.upload.push("file", "请选择要上传的文件");
            None
        }
        Some((name, bytes)) => match crate::files::check(&name, &bytes, false) {
            Ok(c) => Some((c, bytes)),
            Err(e) => {
                x.upload.push("file", refusal(&name, &e));
                None
            }
        },
    };
    let Some((checked, bytes)) = checked.filter(|_| x.upload.is_empty()) else {
        x.message = Some("材料未上传，请按提示修改后重试。".into());
        return Ok(respond(StatusCode::UNPROCESSABLE_ENTITY, render(&app, &ctx, &l, &x)));
    };
    let shown = checked.name.clone();
    let files = app.files.clone();
    let saved = tokio::task::spawn_blocking(move || files.save(&checked, &bytes).map(|()| checked))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let checked = match saved {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "saving a portal upload failed");
            x.upload.push("file", refusal(&shown, &e));
            return Ok(respond(StatusCode::INTERNAL_SERVER_ERROR, render(&app, &ctx, &l, &x)));
        }
    };
    let (now, uid, r) = (app.clock.now(), ctx.user.id, portal_ref.clone());
    let done = app
        .store
        .write(move |tx| {
            let a = portal::application(tx, uid, &r)?;
            if !portal::editable(&a.status) {
                return Err(StoreError::Conflict(format!(
                    "申请当前为「{}」状态，不能上传材料。",
                    status_label(&a.status)
                )));
            }
            portal::add_file(tx, now, &r, &kind, &checked)
        })
        .await;
    match done {
        Ok(_) => Ok(Redirect::to(&format!("{}#materials", ctx.href(&format!("/apply/{portal_ref}?notice=uploaded"))))
            .into_response()),
        Err(StoreError::Conflict(m)) => {
            let x = Extra { message: Some(m), ..Extra::default() };
            Ok(respond(StatusCode::CONFLICT, render(&app, &ctx, &l, &x)))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_file_and_the_reason() {
        let m = refusal("../../evil.exe", &UploadError::Type);
        assert!(m.starts_with("「evil.exe」"), "{m}");
        assert!(m.contains("文件类型不允许"));
        assert!(refusal("a.pdf", &UploadError::TooLarge).contains("20 MB"));
        assert!(refusal("a.pdf", &UploadError::Content).contains("内容与扩展名不符"));
        assert!(refusal("a.pdf", &UploadError::Empty).contains("文件为空"));
    }
}
