//! 数据交换 (the portal's system administrator): export what is new (applications, feedback, filings) as one signed
//! application bundle, download past bundles again, import result bundles from the intranet (organizers are
//! notified and their SMS queued), and manage the keys: this side's public key and the trusted intranet key.
//! The intranet's counterpart is `web::exchange` (结果导出).

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use crate::clock::beijing;
use crate::domain::FieldErrors;
use crate::domain::user::Permission;
use crate::store::StoreError;
use crate::store::exchange::{self as ex, ImportOutcome};
use crate::store::portal;
use crate::web::AppState;
use crate::web::download::{BundleUpload, KeyForm, MAX_BUNDLE, read_bundle_upload};
use crate::web::error::AppError;
use crate::web::layout::{FieldExtra, csrf_field, notice, page, text_field};
use crate::web::session::Ctx;

/// The menu entry of the page.
const MENU: &str = "/exchange";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/exchange", get(exchange_page))
        .route("/exchange/export", post(export))
        .route("/exchange/exports/{id}", get(download_export))
        .route("/exchange/import", post(import).layer(DefaultBodyLimit::max(MAX_BUNDLE + 1024 * 1024)))
        .route("/exchange/keys", post(trust_key))
        .route("/exchange/public-key", get(public_key))
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    notice: Option<String>,
}

async fn exchange_page(State(app): State<AppState>, ctx: Ctx, Query(q): Query<PageQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::Exchange)?;
    let info = match q.notice.as_deref() {
        Some("nothing") => Some("没有待导出的记录。"),
        Some("key") => Some("内网公钥已导入。"),
        _ => None,
    };
    render(&app, &ctx, info, None, &FieldErrors::default()).await
}

fn import_label(status: &str) -> &str {
    match status {
        "applied" => "已导入",
        "held" => "暂存（缺号）",
        "duplicate" => "重复，未生效",
        "refused" => "已拒绝",
        other => other,
    }
}

async fn render(
    app: &AppState,
    ctx: &Ctx,
    info: Option<&str>,
    error: Option<&str>,
    errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let (pending, exports, imports, keys) = app
        .store
        .read(move |c| Ok((portal::pending_outbox(c)?, portal::exports(c)?, ex::imports(c)?, ex::trusted_keys(c)?)))
        .await?;
    let me = app.key.public();
    Ok(page(
        ctx,
        MENU,
        "数据交换",
        html! {
            div.page-head { h1 { "数据交换" } }
            (notice(info))
            @if let Some(e) = error { div.form-error role="alert" { (e) } }
            div.card {
                h2 { "待导出的申请文件" }
                p { "待导出记录 " strong.pending { (pending) } " 条（申请提交、整改反馈、活动备案）。" }
                form method="post" action=(ctx.href("/exchange/export")) {
                    (csrf_field(ctx))
                    button.primary type="submit" disabled[pending == 0] { "导出申请文件" }
                }
                p.hint { "导出的文件已签名，连同附件一并写入；请保存后带到内网，由内网管理员在“结果导出”中导入。" }
            }
            div.card {
                h2 { "导入内网结果文件" }
                form method="post" enctype="multipart/form-data"
                    action=(ctx.href(&format!("/exchange/import?csrf={}", ctx.csrf))) {
                    div.field {
                        label for="f-bundle" { "结果文件（.anxb）" }
                        input id="f-bundle" type="file" name="bundle" accept=".anxb" required;
                    }
                    button.primary type="submit" { "导入" }
                }
                p.hint { "文件先验签再读取；导入后承办方即收到消息通知，短信进入发送队列。同一文件重复导入不会重复生效；缺号的文件暂存，待缺失文件导入后自动生效。" }
            }
            div.card.table-wrap {
                h2 { "导出记录" }
                table.data {
                    thead { tr { th { "序号" } th { "记录条数" } th { "时间" } th { "操作" } } }
                    tbody {
                        @for (id, seq, records, at) in &exports {
                            tr {
                                td.num { (seq) }
                                td.num { (records) }
                                td.nowrap { (beijing(*at)) }
                                td { a href=(ctx.href(&format!("/exchange/exports/{id}"))) { "下载" } }
                            }
                        }
                        @if exports.is_empty() { tr { td.empty colspan="4" { "尚无导出记录" } } }
                    }
                }
            }
            div.card.table-wrap {
                h2 { "导入记录" }
                table.data {
                    thead { tr { th { "序号" } th { "结果" } th { "说明" } th { "时间" } } }
                    tbody {
                        @for i in &imports {
                            tr {
                                td.num { (i.sequence.map_or("—".to_string(), |s| s.to_string())) }
                                td { (import_label(&i.status)) }
                                td { (i.detail) }
                                td.nowrap { (beijing(i.at)) }
                            }
                        }
                        @if imports.is_empty() { tr { td.empty colspan="4" { "尚无导入记录" } } }
                    }
                }
            }
            div.card {
                h2 { "密钥" }
                p { "本端公钥（SM2），编号 " code.key-id { (me.key_id()) } "。请下载后交内网管理员导入。" }
                p { a.button href=(ctx.href("/exchange/public-key")) { "下载本端公钥" } }
                h3 { "已信任的内网公钥" }
                ul {
                    @for k in &keys { li { code { (k.key_id) } " · " (k.label) " · " (beijing(k.imported_at)) } }
                    @if keys.is_empty() { li { "尚未导入内网公钥，无法导入结果文件。" } }
                }
                form method="post" action=(ctx.href("/exchange/keys")) {
                    (csrf_field(ctx))
                    (text_field("public_key", "内网公钥（十六进制）", "", errors, "text", FieldExtra { required: true, maxlength: Some(200), ..FieldExtra::default() }))
                    (text_field("label", "说明", "", errors, "text", FieldExtra { required: true, maxlength: Some(40), hint: Some("例如：省厅公安内网 2026"), ..FieldExtra::default() }))
                    button type="submit" { "导入公钥" }
                }
            }
        },
    ))
}

async fn export(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let (now, actor, key, files, uid) = (app.clock.now(), ctx.actor(), app.key.clone(), app.files.clone(), ctx.user.id);
    let id = app.store.write(move |tx| portal::export_applications(tx, now, &key, &files, uid, &actor)).await?;
    Ok(match id {
        Some(id) => Redirect::to(&ctx.href(&format!("/exchange/exports/{id}"))).into_response(),
        None => Redirect::to(&ctx.href("/exchange?notice=nothing")).into_response(),
    })
}

async fn download_export(State(app): State<AppState>, ctx: Ctx, Path(raw): Path<String>) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let id = raw.trim().parse::<i64>().ok().filter(|id| *id > 0).ok_or(AppError::NotFound)?;
    let (seq, bytes) = app.store.read(move |c| portal::export_bundle(c, id)).await?;
    Ok(crate::web::download::bundle(&format!("anxu-applications-{seq:06}.anxb"), bytes))
}

async fn public_key(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    Ok(crate::web::download::public_key(&app, "portal"))
}

async fn trust_key(State(app): State<AppState>, ctx: Ctx, Form(f): Form<KeyForm>) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let (key, label) = match f.parse(&app, "内网") {
        Ok(parsed) => parsed,
        Err(errors) => {
            return Ok(
                (StatusCode::UNPROCESSABLE_ENTITY, render(&app, &ctx, None, None, &errors).await?).into_response()
            );
        }
    };
    let (now, actor) = (app.clock.now(), ctx.actor());
    app.store.write(move |tx| ex::trust_key(tx, now, &key, &label, &actor)).await?;
    Ok(Redirect::to(&ctx.href("/exchange?notice=key")).into_response())
}

/// No file was chosen.
const NO_FILE: &str = "请选择要导入的结果文件";
/// The upload broke off or is not a multipart form.
const BAD_UPLOAD: &str = "上传的内容不完整或无法识别，未做任何修改，请重新选择文件导入";

/// The page again with `message`, 422.
async fn refused(app: &AppState, ctx: &Ctx, message: &str) -> Result<Response, AppError> {
    let page = render(app, ctx, None, Some(message), &FieldErrors::default()).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn import(
    State(app): State<AppState>,
    ctx: Ctx,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let bytes = match read_bundle_upload(form).await? {
        BundleUpload::File(bytes) => bytes,
        BundleUpload::Missing => return refused(&app, &ctx, NO_FILE).await,
        BundleUpload::Broken => return refused(&app, &ctx, BAD_UPLOAD).await,
    };
    let (now, actor, files, uid) = (app.clock.now(), ctx.actor(), app.files.clone(), ctx.user.id);
    let outcome = app.store.write(move |tx| portal::import_results(tx, now, &bytes, &files, uid, &actor)).await;
    let (status, info, error) = match outcome {
        Ok(ImportOutcome::Applied(seqs)) => (
            StatusCode::OK,
            Some(format!(
                "已导入第 {} 号结果文件，相关承办方已收到消息通知。",
                seqs.iter().map(u64::to_string).collect::<Vec<_>>().join("、")
            )),
            None,
        ),
        Ok(ImportOutcome::Held { sequence, missing_from }) => (
            StatusCode::ACCEPTED,
            Some(format!("第 {sequence} 号文件已暂存：缺少第 {missing_from} 号起的文件，导入缺失文件后自动生效。")),
            None,
        ),
        Ok(ImportOutcome::Duplicate(seq)) => {
            (StatusCode::OK, Some(format!("第 {seq} 号文件已导入过，未作任何修改。")), None)
        }
        Ok(ImportOutcome::Refused(reason)) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(reason)),
        // A signed bundle whose content cannot be applied: nothing was written.
        Err(StoreError::Conflict(m)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, None, Some(format!("结果文件无法导入，未做任何修改：{m}")))
        }
        Err(e) => return Err(e.into()),
    };
    let body = render(&app, &ctx, info.as_deref(), error.as_deref(), &FieldErrors::default()).await?;
    Ok((status, body).into_response())
}
