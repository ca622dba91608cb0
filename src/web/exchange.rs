//! 结果导出 (seed 1.4 / 2.4 / 3.4): export pending results as one signed bundle, download past bundles again,
//! import application bundles from the portal, and manage the keys both sides trust.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::download::{BundleUpload, KeyForm, MAX_BUNDLE, read_bundle_upload};
use super::error::AppError;
use super::layout::{FieldExtra, csrf_field, notice, page, text_field};
use super::session::Ctx;
use crate::clock::beijing;
use crate::domain::FieldErrors;
use crate::domain::user::Permission;
use crate::domain::workflow::{Status, action_label};
use crate::exchange::read_bundle;
use crate::store::exchange::{self as ex, ImportOutcome};

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
    render(&app, &ctx, q.notice.as_deref(), None, &FieldErrors::default()).await
}

async fn render(
    app: &AppState,
    ctx: &Ctx,
    info: Option<&str>,
    error: Option<&str>,
    errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let scope = app.regions.path_key(ctx.user.region);
    let (pending, exports, imports, keys) = app
        .store
        .read(move |c| Ok((ex::pending_results(c, &scope)?, ex::exports(c)?, ex::imports(c)?, ex::trusted_keys(c)?)))
        .await?;
    let me = app.key.public();
    let info_text = match info {
        Some("exported") => Some("审批结果文件已生成，请保存后到外网导入。"),
        Some("nothing") => Some("没有待导出的审批结果。"),
        Some("key") => Some("外网公钥已导入。"),
        _ => None,
    };
    Ok(page(
        ctx,
        "/exchange",
        "结果导出",
        html! {
            div.page-head { h1 { "结果导出" } }
            (notice(info_text))
            @if let Some(e) = error { div.form-error role="alert" { (e) } }
            div.card {
                h2 { "待导出的审批结果（" (pending.len()) " 条）" }
                div.table-wrap {
                    table.data {
                        thead { tr { th { "活动名称" } th { "承办单位" } th { "办理结果" } th { "状态" } th { "意见" } th { "时间" } } }
                        tbody {
                            @for r in &pending {
                                tr {
                                    td { a href=(ctx.href(&format!("/permits/{}", r.activity_id))) { (r.activity) } }
                                    td { (r.organizer) }
                                    td { (action_label(&r.action).unwrap_or(&r.action)) }
                                    td { (Status::parse(&r.status).map_or(r.status.as_str(), |s| s.label())) }
                                    td { (r.opinion) }
                                    td.nowrap { (beijing(r.created_at)) }
                                }
                            }
                            @if pending.is_empty() { tr { td.empty colspan="6" { "没有待导出的审批结果" } } }
                        }
                    }
                }
                form method="post" action=(ctx.href("/exchange/export")) {
                    (csrf_field(ctx))
                    button.primary type="submit" disabled[pending.is_empty()] { "导出审批结果文件" }
                }
                p.hint { "导出时按短信模版生成通知短信，连同决定文书一并写入签名文件；到外网导入后，承办方即收到通知。" }
            }
            div.card {
                h2 { "导入外网申请文件" }
                form method="post" enctype="multipart/form-data" action=(ctx.href(&format!("/exchange/import?csrf={}", ctx.csrf))) {
                    div.field {
                        label for="f-bundle" { "申请文件（.anxb）" }
                        input id="f-bundle" type="file" name="bundle" required;
                    }
                    button.primary type="submit" { "导入" }
                }
                p.hint { "文件先验签再读取；同一文件重复导入不会重复生效；缺号的文件暂存，待缺失文件导入后自动生效。" }
            }
            div.card.table-wrap {
                h2 { "导出记录" }
                table.data {
                    thead { tr { th { "序号" } th { "结果条数" } th { "导出人" } th { "时间" } th { "文件摘要（SM3）" } th { "操作" } } }
                    tbody {
                        @for e in &exports {
                            tr {
                                td.num { (e.sequence) }
                                td.num { (e.results) }
                                td { (e.by) }
                                td.nowrap { (beijing(e.at)) }
                                td { code { (&e.hash[..16.min(e.hash.len())]) "…" } }
                                td { a href=(ctx.href(&format!("/exchange/exports/{}", e.id))) { "下载" } }
                            }
                        }
                        @if exports.is_empty() { tr { td.empty colspan="6" { "尚无导出记录" } } }
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
                p { "本端公钥（SM2），编号 " code { (me.key_id()) } "。请导出后交外网管理员导入。" }
                p { a.button href=(ctx.href("/exchange/public-key")) { "下载本端公钥" } }
                h3 { "已信任的外网公钥" }
                ul { @for k in &keys { li { code { (k.key_id) } " · " (k.label) " · " (beijing(k.imported_at)) } } @if keys.is_empty() { li { "尚未导入外网公钥，无法导入申请文件。" } } }
                form method="post" action=(ctx.href("/exchange/keys")) {
                    (csrf_field(ctx))
                    (text_field("public_key", "外网公钥（十六进制）", "", errors, "text", FieldExtra { required: true, maxlength: Some(200), ..FieldExtra::default() }))
                    (text_field("label", "说明", "", errors, "text", FieldExtra { required: true, maxlength: Some(40), hint: Some("例如：省厅外网门户 2026"), ..FieldExtra::default() }))
                    button type="submit" { "导入公钥" }
                }
            }
        },
    ))
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

async fn export(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let (now, actor, scope, key, uid) =
        (app.clock.now(), ctx.actor(), app.regions.path_key(ctx.user.region), app.key.clone(), ctx.user.id);
    let id = app.store.write(move |tx| ex::export_results(tx, now, &scope, &key, uid, &actor)).await?;
    Ok(match id {
        Some(id) => Redirect::to(&ctx.href(&format!("/exchange/exports/{id}"))).into_response(),
        None => Redirect::to(&ctx.href("/exchange?notice=nothing")).into_response(),
    })
}

async fn download_export(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let (seq, bytes) = app.store.read(move |c| ex::export_bundle(c, id)).await?;
    Ok(super::download::bundle(&format!("anxu-results-{seq:06}.anxb"), bytes))
}

async fn public_key(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    Ok(super::download::public_key(&app, "intranet"))
}

async fn trust_key(State(app): State<AppState>, ctx: Ctx, Form(f): Form<KeyForm>) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let (key, label) = match f.parse(&app, "外网") {
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

/// The import page again (422) with `message`.
async fn import_refused(app: &AppState, ctx: &Ctx, message: &str) -> Result<Response, AppError> {
    let page = render(app, ctx, None, Some(message), &FieldErrors::default()).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn import(
    State(app): State<AppState>,
    ctx: Ctx,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    const NO_FILE: &str = "请选择要导入的申请文件";
    const BAD_UPLOAD: &str = "上传的文件不完整或无法识别，未做任何修改，请重新选择文件后导入";
    ctx.require(Permission::Exchange)?;
    let bytes = match read_bundle_upload(form).await? {
        BundleUpload::File(bytes) => bytes,
        BundleUpload::Missing => return import_refused(&app, &ctx, NO_FILE).await,
        BundleUpload::Broken => return import_refused(&app, &ctx, BAD_UPLOAD).await,
    };
    let outcome = import_bundle(&app, &ctx, bytes).await?;
    let (status, info, error) = match &outcome {
        ImportOutcome::Applied(seqs) => (
            StatusCode::OK,
            Some(format!("已导入第 {} 号申请文件。", seqs.iter().map(u64::to_string).collect::<Vec<_>>().join("、"))),
            None,
        ),
        ImportOutcome::Held { sequence, missing_from } => (
            StatusCode::ACCEPTED,
            Some(format!("第 {sequence} 号文件已暂存：缺少第 {missing_from} 号起的文件。")),
            None,
        ),
        ImportOutcome::Duplicate(seq) => {
            (StatusCode::OK, Some(format!("第 {seq} 号文件已导入过，未作任何修改。")), None)
        }
        ImportOutcome::Refused(reason) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(reason.clone())),
    };
    let body = render(&app, &ctx, None, error.as_deref(), &FieldErrors::default()).await?;
    let body = html! { @if let Some(i) = info { div.notice role="status" { (i) } } (body) };
    Ok((status, body).into_response())
}

/// Verifies, saves the attachments, and imports an application bundle (also used by the demo set-up).
pub async fn import_bundle(app: &AppState, ctx: &Ctx, bytes: Vec<u8>) -> Result<ImportOutcome, AppError> {
    let files = app.files.clone();
    let checked = {
        let bytes = bytes.clone();
        app.store
            .read(move |c| {
                let attachments =
                    read_bundle(&bytes, &|id| ex::lookup_key(c, id)).map(|v| ex::attachments(&v)).unwrap_or_default();
                for (f, b) in &attachments {
                    files.save(f, b).map_err(|e| crate::store::StoreError::Conflict(e.to_string()))?;
                }
                Ok(attachments.len())
            })
            .await?
    };
    tracing::info!(attachments = checked, "saved bundle attachments");
    let (now, actor, regions, uid) = (app.clock.now(), ctx.actor(), app.regions.clone(), ctx.user.id);
    Ok(app.store.write(move |tx| ex::import_applications(tx, now, &bytes, &regions, uid, &actor)).await?)
}
