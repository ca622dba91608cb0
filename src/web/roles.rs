//! 角色配置 (seed 7.1): approval roles — add, modify, delete (refused while held, naming the holders).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{FieldExtra, csrf_field, notice, page, text_field};
use super::session::Ctx;
use crate::domain::FieldErrors;
use crate::domain::role::RoleInput;
use crate::domain::user::Permission;
use crate::store::StoreError;
use crate::store::roles::{self, Role};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/roles", get(list_roles).post(create_role))
        .route("/config/roles/new", get(new_role_form))
        .route("/config/roles/{id}", get(edit_role_form).post(update_role))
        .route("/config/roles/{id}/delete", get(confirm_delete).post(delete_role))
}

#[derive(Debug, Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn list_roles(State(app): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::ManageRoles)?;
    let path = app.regions.path_key(ctx.user.region);
    let rows = {
        let path = path.clone();
        app.store.read(move |c| roles::list_visible(c, &path)).await?
    };
    let text = match q.notice.as_deref() {
        Some("created") => Some("审批角色已添加。"),
        Some("updated") => Some("审批角色已保存。"),
        Some("deleted") => Some("审批角色已删除。"),
        _ => None,
    };
    Ok(page(
        &ctx,
        "/config/roles",
        "角色配置",
        html! {
            div.page-head {
                h1 { "角色配置" }
                a.button.primary href=(ctx.href("/config/roles/new")) { "添加审批角色" }
            }
            (notice(text))
            p.hint { "上级地区定义的角色可供本地区使用，但只能由上级管理员修改。" }
            div.card.table-wrap {
                table.data {
                    caption.sr-only { "审批角色列表" }
                    thead { tr { th { "角色名称" } th { "说明" } th { "所属地区" } th { "使用人数" } th { "操作" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.name) }
                                td { (r.description) }
                                td { (app.regions.full_name(r.region)) }
                                td.num { (r.users) }
                                td.actions {
                                    @if app.regions.is_within(r.region, ctx.user.region) {
                                        a href=(ctx.href(&format!("/config/roles/{}", r.id))) { "修改" }
                                        a href=(ctx.href(&format!("/config/roles/{}/delete", r.id))) { "删除" }
                                    } @else {
                                        span.muted { "上级定义" }
                                    }
                                }
                            }
                        }
                        @if rows.is_empty() { tr { td.empty colspan="5" { "还没有审批角色" } } }
                    }
                }
            }
        },
    ))
}

#[derive(Debug, Deserialize, Default, Clone)]
struct RoleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

fn role_form_page(ctx: &Ctx, id: Option<i64>, form: &RoleForm, errors: &FieldErrors) -> Markup {
    let title = if id.is_some() { "修改审批角色" } else { "添加审批角色" };
    let action = id.map_or_else(|| "/config/roles".to_string(), |id| format!("/config/roles/{id}"));
    page(
        ctx,
        "/config/roles",
        title,
        html! {
            div.card.narrow {
                h1 { (title) }
                @if !errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                form method="post" action=(ctx.href(&action)) {
                    (csrf_field(ctx))
                    (text_field("name", "角色名称", &form.name, errors, "text", FieldExtra { required: true, maxlength: Some(20), hint: Some("例如：科员、科长、分管局长"), ..FieldExtra::default() }))
                    (text_field("description", "说明", &form.description, errors, "text", FieldExtra { maxlength: Some(200), ..FieldExtra::default() }))
                    div.form-actions {
                        button.primary type="submit" { "保存" }
                        a.button href=(ctx.href("/config/roles")) { "取消" }
                    }
                }
            }
        },
    )
}

fn invalid(ctx: &Ctx, id: Option<i64>, form: &RoleForm, errors: &FieldErrors) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, role_form_page(ctx, id, form, errors)).into_response()
}

async fn new_role_form(ctx: Ctx) -> Result<Markup, AppError> {
    ctx.require(Permission::ManageRoles)?;
    Ok(role_form_page(&ctx, None, &RoleForm::default(), &FieldErrors::default()))
}

async fn create_role(State(app): State<AppState>, ctx: Ctx, Form(form): Form<RoleForm>) -> Result<Response, AppError> {
    ctx.require(Permission::ManageRoles)?;
    let input = match RoleInput::parse(&form.name, &form.description) {
        Ok(i) => i,
        Err(e) => return Ok(invalid(&ctx, None, &form, &FieldErrors(e))),
    };
    let (now, actor, region) = (app.clock.now(), ctx.actor(), ctx.user.region);
    match app.store.write(move |tx| roles::create(tx, now, region, &input, &actor)).await {
        Ok(_) => Ok(Redirect::to(&ctx.href("/config/roles?notice=created")).into_response()),
        Err(StoreError::Invalid(e)) => Ok(invalid(&ctx, None, &form, &e)),
        Err(e) => Err(e.into()),
    }
}

async fn load_editable(app: &AppState, ctx: &Ctx, id: i64) -> Result<Role, AppError> {
    ctx.require(Permission::ManageRoles)?;
    let scope = app.regions.path_key(ctx.user.region);
    Ok(app.store.read(move |c| roles::get_editable(c, id, &scope)).await?)
}

async fn edit_role_form(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Markup, AppError> {
    let role = load_editable(&app, &ctx, id).await?;
    let form = RoleForm { name: role.name, description: role.description };
    Ok(role_form_page(&ctx, Some(id), &form, &FieldErrors::default()))
}

async fn update_role(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Result<Response, AppError> {
    load_editable(&app, &ctx, id).await?;
    let input = match RoleInput::parse(&form.name, &form.description) {
        Ok(i) => i,
        Err(e) => return Ok(invalid(&ctx, Some(id), &form, &FieldErrors(e))),
    };
    let (now, actor, scope) = (app.clock.now(), ctx.actor(), app.regions.path_key(ctx.user.region));
    match app.store.write(move |tx| roles::update(tx, now, id, &scope, &input, &actor)).await {
        Ok(()) => Ok(Redirect::to(&ctx.href("/config/roles?notice=updated")).into_response()),
        Err(StoreError::Invalid(e)) => Ok(invalid(&ctx, Some(id), &form, &e)),
        Err(e) => Err(e.into()),
    }
}

async fn confirm_delete(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Markup, AppError> {
    let role = load_editable(&app, &ctx, id).await?;
    let holders = app
        .store
        .read(move |c| {
            let mut h = roles::holders(c, id)?.holders;
            h.extend(crate::store::config::flows_using_role(c, id)?.into_iter().map(|f| format!("审批流程 {f}")));
            Ok(h)
        })
        .await?;
    Ok(page(
        &ctx,
        "/config/roles",
        "删除审批角色",
        html! {
            div.card.narrow.dialog role="dialog" aria-labelledby="confirm-title" {
                h1 id="confirm-title" { "删除审批角色" }
                @if holders.is_empty() {
                    p { "确认删除审批角色「" (role.name) "」吗？已有审批记录中的角色名称会保留。" }
                    form method="post" action=(ctx.href(&format!("/config/roles/{id}/delete"))) {
                        (csrf_field(&ctx))
                        div.form-actions {
                            button.primary.danger type="submit" { "确认删除" }
                            a.button href=(ctx.href("/config/roles")) { "取消" }
                        }
                    }
                } @else {
                    div.form-error role="alert" { "该角色正被以下用户或流程使用，不能删除：" (holders.join("、")) }
                    p { "请先为这些用户更换审批角色。" }
                    a.button href=(ctx.href("/config/roles")) { "返回" }
                }
            }
        },
    ))
}

async fn delete_role(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Response, AppError> {
    ctx.require(Permission::ManageRoles)?;
    let (now, actor, scope) = (app.clock.now(), ctx.actor(), app.regions.path_key(ctx.user.region));
    app.store.write(move |tx| roles::delete(tx, now, id, &scope, &actor)).await?;
    Ok(Redirect::to(&ctx.href("/config/roles?notice=deleted")).into_response())
}
