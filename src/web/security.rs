//! 安全管理 (the security administrator's pages): 安全策略 — the password rule, lock-out and session lifetimes, one
//! province-wide policy saved by the provincial security administrator — and 锁定账号, the accounts locked after
//! failed sign-ins, with 【解锁】. Nobody else opens these pages, and the security administrator opens no other.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{FieldExtra, csrf_field, notice, page, text_field};
use super::session::Ctx;
use crate::clock::beijing;
use crate::domain::FieldErrors;
use crate::domain::security::{SETTINGS, SecurityPolicy};
use crate::domain::user::Permission;
use crate::store::policy::{self, PolicyVersion};
use crate::store::users;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/security/policy", get(show_policy).post(save_policy))
        .route("/security/locked", get(locked_accounts))
        .route("/security/locked/{id}/unlock", post(unlock))
}

#[derive(Debug, Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

/// The raw fields of the policy form (names as in [`SETTINGS`]).
#[derive(Debug, Deserialize, Default, Clone)]
struct PolicyForm {
    #[serde(default)]
    password_min_len: String,
    #[serde(default)]
    password_classes: String,
    #[serde(default)]
    lockout_after: String,
    #[serde(default)]
    lockout_minutes: String,
    #[serde(default)]
    session_idle_minutes: String,
    #[serde(default)]
    session_absolute_hours: String,
}

impl PolicyForm {
    fn from_policy(p: &SecurityPolicy) -> Self {
        let [a, b, c, d, e, f] = p.values().map(|v| v.to_string());
        Self {
            password_min_len: a,
            password_classes: b,
            lockout_after: c,
            lockout_minutes: d,
            session_idle_minutes: e,
            session_absolute_hours: f,
        }
    }

    /// The six values in the order of [`SETTINGS`].
    fn raw(&self) -> [&str; 6] {
        [
            self.password_min_len.as_str(),
            self.password_classes.as_str(),
            self.lockout_after.as_str(),
            self.lockout_minutes.as_str(),
            self.session_idle_minutes.as_str(),
            self.session_absolute_hours.as_str(),
        ]
    }
}

/// The policy is province-wide: only a security administrator of the province saves it.
fn is_provincial(app: &AppState, ctx: &Ctx) -> bool {
    ctx.user.region == app.regions.root().adcode
}

/// The policy in words.
fn summary(p: &SecurityPolicy) -> Markup {
    html! {
        ul #policy-summary {
            li { "密码至少 " (p.password_min_len) " 个字符，须含小写字母、大写字母、数字、符号中的至少 " (p.password_classes) " 类；" }
            li { "连续 " (p.lockout_after) " 次登录失败，账号锁定 " (p.lockout_for.num_minutes()) " 分钟；" }
            li { "会话空闲 " (p.session_idle.num_minutes()) " 分钟，或登录 " (p.session_absolute.num_hours()) " 小时后结束。" }
        }
    }
}

fn policy_page(
    app: &AppState,
    ctx: &Ctx,
    current: &PolicyVersion,
    form: &PolicyForm,
    errors: &FieldErrors,
    note: Option<&str>,
) -> Markup {
    page(
        ctx,
        "/security/policy",
        "安全策略",
        html! {
            h1 { "安全策略" }
            (notice(note))
            div.card {
                h2 { "现行策略" }
                (summary(&current.policy))
                p.hint #policy-saved {
                    @match &current.saved {
                        Some((login, at)) => { "由 " (login) " 于 " (beijing(*at)) " 保存。" }
                        None => { "系统默认策略，尚未修改。" }
                    }
                }
            }
            div.card.narrow {
                h2 { "修改策略" }
                @if is_provincial(app, ctx) {
                    @if !errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                    form method="post" action=(ctx.href("/security/policy")) {
                        (csrf_field(ctx))
                        @for (s, value) in SETTINGS.iter().zip(form.raw()) {
                            @let label = format!("{}（{}）", s.label, s.unit);
                            @let hint = format!("取值 {} 到 {}", s.range.start(), s.range.end());
                            (text_field(s.field, &label, value, errors, "text",
                                FieldExtra { required: true, maxlength: Some(6), hint: Some(hint.as_str()), ..FieldExtra::default() }))
                        }
                        div.form-actions { button.primary type="submit" { "保存" } }
                    }
                    p.hint { "保存后立即生效：新设或重置的密码须符合新的密码规则（已有密码不受影响）；登录失败锁定按新规则计算；会话超时对所有已登录的会话生效。每次修改都记入审计日志。" }
                } @else {
                    div.notice.warn #policy-readonly { "安全策略全省统一，只有省级安全管理员可以修改。" }
                }
            }
        },
    )
}

async fn show_policy(State(app): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::ManageSecurity)?;
    let current = app.store.read(policy::current).await?;
    let note = match q.notice.as_deref() {
        Some("saved") => Some("安全策略已保存，立即生效。"),
        Some("unchanged") => Some("提交的策略与现行策略相同，未做修改。"),
        _ => None,
    };
    let form = PolicyForm::from_policy(&current.policy);
    Ok(policy_page(&app, &ctx, &current, &form, &FieldErrors::default(), note))
}

async fn save_policy(
    State(app): State<AppState>,
    ctx: Ctx,
    Form(form): Form<PolicyForm>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ManageSecurity)?;
    if !is_provincial(&app, &ctx) {
        return Err(AppError::Forbidden);
    }
    let new = match SecurityPolicy::parse(form.raw()) {
        Ok(p) => p,
        Err(errors) => {
            let current = app.store.read(policy::current).await?;
            let body = policy_page(&app, &ctx, &current, &form, &errors, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
        }
    };
    let (now, actor, user_id) = (app.clock.now(), ctx.actor(), ctx.user.id);
    let saved = app.store.write(move |tx| policy::save(tx, now, &new, user_id, &actor)).await?;
    let code = match saved {
        Some(version) => {
            app.policy.offer(version);
            "saved"
        }
        None => "unchanged",
    };
    Ok(Redirect::to(&ctx.href(&format!("/security/policy?notice={code}"))).into_response())
}

async fn locked_accounts(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NoticeQuery>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ManageSecurity)?;
    let scope = app.regions.path_key(ctx.user.region);
    let now = app.clock.now();
    let rows = app.store.read(move |c| users::list_locked(c, &scope, now)).await?;
    let note = match q.notice.as_deref() {
        Some("unlocked") => Some("账号已解锁，可以重新登录。"),
        _ => None,
    };
    Ok(page(
        &ctx,
        "/security/locked",
        "锁定账号",
        html! {
            h1 { "锁定账号" }
            (notice(note))
            p.hint { "连续登录失败达到安全策略规定次数的账号会被暂时锁定，到期自动解除；确认是本人操作后可以提前解锁。" }
            div.card.table-wrap {
                table.data {
                    caption.sr-only { "锁定账号列表" }
                    thead { tr { th { "登录用户名" } th { "真实名称" } th { "所属地区" } th { "用户类型" } th { "锁定至" } th { "操作" } } }
                    tbody {
                        @for u in &rows {
                            tr {
                                td { (u.login_name) }
                                td { (u.real_name) }
                                td { (app.regions.full_name(u.region)) }
                                td { (u.user_type.label()) }
                                td { (u.locked_until.map(beijing).unwrap_or_default()) }
                                td.actions {
                                    form.inline method="post" action=(ctx.href(&format!("/security/locked/{}/unlock", u.id))) {
                                        (csrf_field(&ctx))
                                        button.link type="submit" { "解锁" }
                                    }
                                }
                            }
                        }
                        @if rows.is_empty() { tr { td.empty colspan="6" { "没有被锁定的账号" } } }
                    }
                }
            }
        },
    ))
}

async fn unlock(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Response, AppError> {
    ctx.require(Permission::ManageSecurity)?;
    let (now, actor) = (app.clock.now(), ctx.actor());
    let scope = app.regions.path_key(ctx.user.region);
    app.store.write(move |tx| users::unlock(tx, now, id, &scope, &actor)).await?;
    Ok(Redirect::to(&ctx.href("/security/locked?notice=unlocked")).into_response())
}
