//! 用户配置 (seed 7.3): list, add, modify, freeze and unfreeze users of the administrator's region and below. The
//! system administrator manages system administrators and the business types only: security and audit
//! administrators are listed but cannot be created, changed or frozen here (`UserType::manages`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::account::type_options;
use super::error::{AppError, encode_query};
use super::layout::{FieldExtra, csrf_field, notice, page, pager, region_options, select_field, text_field};
use super::session::Ctx;
use crate::auth;
use crate::clock::beijing;
use crate::domain::FieldErrors;
use crate::domain::region::Adcode;
use crate::domain::text::parse_name;
use crate::domain::user::{LoginName, Mobile, Permission, UserProfile, UserType};
use crate::store::roles::{self, Role};
use crate::store::users::{self, NewUser, User, UserFilter, UserUpdate};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/users", get(list_users).post(create_user))
        .route("/config/users/new", get(new_user_form))
        .route("/config/users/{id}", get(edit_user_form).post(update_user))
        .route("/config/users/{id}/freeze", get(confirm_freeze).post(freeze_user))
        .route("/config/users/{id}/unfreeze", get(confirm_unfreeze).post(unfreeze_user))
}

const PER_PAGE: u32 = 20;

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    region: Option<String>,
    user_type: Option<String>,
    status: Option<String>,
    q: Option<String>,
    page: Option<u32>,
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "created" => Some("用户已添加。"),
        "updated" => Some("用户信息已保存。"),
        "frozen" => Some("用户已冻结，其会话已全部结束。"),
        "unfrozen" => Some("用户已解冻。"),
        _ => None,
    }
}

fn status_label(u: &User, now: chrono::NaiveDateTime) -> (&'static str, String) {
    if u.frozen {
        ("tag-danger", "已冻结".to_string())
    } else if let Some(until) = u.locked_until.filter(|t| *t > now) {
        ("tag-warn", format!("锁定至 {}", beijing(until)))
    } else {
        ("tag-ok", "正常".to_string())
    }
}

async fn list_users(State(app): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::ManageUsers)?;
    let region = q
        .region
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(Adcode::parse)
        .filter(|c| app.regions.is_within(*c, ctx.user.region))
        .unwrap_or(ctx.user.region);
    let user_type = q.user_type.as_deref().and_then(|t| UserType::parse(t).ok());
    let frozen = match q.status.as_deref() {
        Some("frozen") => Some(true),
        Some("active") => Some(false),
        _ => None,
    };
    let text = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| s.chars().take(32).collect::<String>());
    let page_no = q.page.unwrap_or(0).min(100_000);
    let filter = UserFilter {
        scope_path: app.regions.path_key(region),
        user_type,
        frozen,
        text: text.clone(),
        page: page_no,
        per_page: PER_PAGE,
    };
    let result = app.store.read(move |c| users::list(c, &filter)).await?;
    let now = app.clock.now();
    let mut type_opts = vec![(String::new(), "全部类型".to_string())];
    type_opts.extend(type_options());
    let mut region_opts = region_options(&app.regions, ctx.user.region);
    if let Some(first) = region_opts.first_mut() {
        first.1 = format!("{}（含下级）", first.1);
    }
    let status_opts =
        [("", "全部状态"), ("active", "正常"), ("frozen", "已冻结")].map(|(a, b)| (a.to_string(), b.to_string()));
    let base_query = format!(
        "region={}&user_type={}&status={}&q={}",
        region,
        user_type.map_or("", UserType::code),
        q.status.as_deref().map_or("", |s| if matches!(s, "active" | "frozen") { s } else { "" }),
        encode_query(text.as_deref().unwrap_or(""))
    );
    let no_errors = FieldErrors::default();
    Ok(page(
        &ctx,
        "/config/users",
        "用户配置",
        html! {
            div.page-head {
                h1 { "用户配置" }
                a.button.primary href=(ctx.href("/config/users/new")) { "添加用户" }
            }
            (notice(notice_text(q.notice.as_deref())))
            form.filters.card method="get" action="/config/users" {
                @if ctx.embed { input type="hidden" name="embed" value="1"; }
                (select_field("region", "所属地区", &region.to_string(), &region_opts, &no_errors, false))
                (select_field("user_type", "用户类型", user_type.map_or("", UserType::code), &type_opts, &no_errors, false))
                (select_field("status", "状态", q.status.as_deref().unwrap_or(""), &status_opts, &no_errors, false))
                (text_field("q", "姓名或用户名", text.as_deref().unwrap_or(""), &no_errors, "search", FieldExtra { maxlength: Some(32), ..FieldExtra::default() }))
                button type="submit" { "查询" }
            }
            div.card.table-wrap {
                table.data {
                    caption.sr-only { "用户列表" }
                    thead { tr { th { "登录用户名" } th { "真实名称" } th { "所属地区" } th { "用户类型" } th { "审批角色" } th { "手机" } th { "状态" } th { "操作" } } }
                    tbody {
                        @for u in &result.rows {
                            @let (class, status) = status_label(u, now);
                            tr {
                                td { (u.login_name) }
                                td { (u.real_name) }
                                td { (app.regions.full_name(u.region)) }
                                td { (u.user_type.label()) }
                                td { (u.approval_role_name.as_deref().unwrap_or("—")) }
                                td { (u.mobile) }
                                td { span.tag.(class) { (status) } }
                                td.actions {
                                    @if ctx.user.user_type.manages(u.user_type) {
                                        a href=(ctx.href(&format!("/config/users/{}", u.id))) { "修改" }
                                        @if u.id != ctx.user.id {
                                            @if u.frozen { a href=(ctx.href(&format!("/config/users/{}/unfreeze", u.id))) { "解冻" } }
                                            @else { a href=(ctx.href(&format!("/config/users/{}/freeze", u.id))) { "冻结" } }
                                        }
                                    } @else {
                                        span.muted { "三员分立，不可管理" }
                                    }
                                }
                            }
                        }
                        @if result.rows.is_empty() { tr { td.empty colspan="8" { "没有符合条件的用户" } } }
                    }
                }
            }
            (pager(&ctx, "/config/users", &base_query, page_no, PER_PAGE, result.total))
        },
    ))
}

/// The raw fields of the user form.
#[derive(Debug, Deserialize, Default, Clone)]
struct UserForm {
    #[serde(default)]
    login_name: String,
    #[serde(default)]
    real_name: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    user_type: String,
    #[serde(default)]
    approval_role: String,
    #[serde(default)]
    password: String,
}

impl UserForm {
    fn from_user(u: &User) -> Self {
        Self {
            login_name: u.login_name.clone(),
            real_name: u.real_name.clone(),
            region: u.region.to_string(),
            mobile: u.mobile.clone(),
            user_type: u.user_type.code().to_string(),
            approval_role: u.approval_role_id.map(|r| r.to_string()).unwrap_or_default(),
            password: String::new(),
        }
    }

    /// Parses the profile; `password_required` for a new user.
    fn parse(
        &self,
        app: &AppState,
        ctx: &Ctx,
        password_required: bool,
    ) -> Result<(UserProfile, Option<String>), FieldErrors> {
        let mut e = FieldErrors::default();
        let real_name = e.take(parse_name("real_name", "真实名称", &self.real_name, 32));
        let region = e.take(app.regions.parse_within("region", &self.region, ctx.user.region));
        let mobile = e.take(Mobile::parse(&self.mobile));
        let user_type = match e.take(UserType::parse(&self.user_type)) {
            Some(t) if !ctx.user.user_type.manages(t) => {
                e.push("user_type", "系统管理员不能添加或设置安全管理员、审计管理员（三员分立）");
                None
            }
            parsed => parsed,
        };
        let approval_role = match (user_type, self.approval_role.trim()) {
            (Some(t), "") if t.needs_approval_role() => {
                e.push("approval_role", "审批人员必须设置审批角色");
                None
            }
            (Some(t), raw) if t.needs_approval_role() => match raw.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    e.push("approval_role", "请选择有效的审批角色");
                    None
                }
            },
            (Some(_), "") | (None, _) => None,
            (Some(_), _) => {
                e.push("approval_role", "只有审批人员可以设置审批角色");
                None
            }
        };
        let password = match (self.password.as_str(), password_required) {
            ("", false) => None,
            ("", true) => {
                e.push("password", "请设置初始密码");
                None
            }
            (pw, _) => e.take(app.policy.get().check_password("password", pw)).map(|()| pw.to_string()),
        };
        match (real_name, region, mobile, user_type) {
            (Some(real_name), Some(region), Some(mobile), Some(user_type)) if e.is_empty() => {
                Ok((UserProfile { real_name, region, mobile, user_type, approval_role }, password))
            }
            _ => Err(e),
        }
    }
}

async fn role_options(app: &AppState, ctx: &Ctx) -> Result<Vec<(String, String)>, AppError> {
    let path = app.regions.path_key(ctx.user.region);
    let roles: Vec<Role> = app.store.read(move |c| roles::list_visible(c, &path)).await?;
    let mut opts = vec![(String::new(), "（无）".to_string())];
    opts.extend(roles.into_iter().map(|r| (r.id.to_string(), format!("{}（{}）", r.name, app.regions.name(r.region)))));
    Ok(opts)
}

async fn user_form_page(
    app: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    form: &UserForm,
    errors: &FieldErrors,
) -> Result<Markup, AppError> {
    let roles = role_options(app, ctx).await?;
    let types: Vec<(String, String)> =
        type_options().into_iter().filter(|(code, _)| is_manageable(ctx, code)).collect();
    let password_hint = match id {
        Some(_) => "留空则不修改；重置后该用户的会话全部结束，下次登录须修改密码".to_string(),
        None => format!("{}；用户首次登录须修改", app.policy.get().password_hint()),
    };
    let title = if id.is_some() { "修改用户" } else { "添加用户" };
    let action = id.map_or_else(|| "/config/users".to_string(), |id| format!("/config/users/{id}"));
    Ok(page(
        ctx,
        "/config/users",
        title,
        html! {
            div.card.narrow {
                h1 { (title) }
                @if !errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                form method="post" action=(ctx.href(&action)) {
                    (csrf_field(ctx))
                    @if id.is_none() {
                        (text_field("login_name", "登录用户名", &form.login_name, errors, "text",
                            FieldExtra { required: true, maxlength: Some(32), autocomplete: Some("off"), hint: Some("3–32 位英文字母、数字、下划线、点或减号，以字母开头；创建后不可修改") }))
                    } @else {
                        div.field { span.label { "登录用户名" } span.value { (form.login_name) } }
                    }
                    (text_field("real_name", "真实名称", &form.real_name, errors, "text", FieldExtra { required: true, maxlength: Some(32), ..FieldExtra::default() }))
                    (select_field("region", "所属地区", &form.region, &region_options(&app.regions, ctx.user.region), errors, true))
                    (text_field("mobile", "手机", &form.mobile, errors, "tel", FieldExtra { required: true, maxlength: Some(13), ..FieldExtra::default() }))
                    (select_field("user_type", "用户类型", &form.user_type, &types, errors, true))
                    (select_field("approval_role", "审批角色（仅审批人员）", &form.approval_role, &roles, errors, false))
                    (text_field("password", if id.is_some() { "重置密码" } else { "初始密码" }, "", errors, "password",
                        FieldExtra { required: id.is_none(), maxlength: Some(64), autocomplete: Some("new-password"),
                            hint: Some(password_hint.as_str()) }))
                    div.form-actions {
                        button.primary type="submit" { "保存" }
                        a.button href=(ctx.href("/config/users")) { "取消" }
                    }
                }
            }
        },
    ))
}

async fn new_user_form(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, AppError> {
    ctx.require(Permission::ManageUsers)?;
    let form = UserForm {
        region: ctx.user.region.to_string(),
        user_type: UserType::Approver.code().into(),
        ..UserForm::default()
    };
    user_form_page(&app, &ctx, None, &form, &FieldErrors::default()).await
}

async fn hash_off_thread(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Re-renders the form with `errors` as 422, or turns a store error into its page.
async fn refused(
    app: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    form: &UserForm,
    err: crate::store::StoreError,
) -> Result<Response, AppError> {
    match err {
        crate::store::StoreError::Invalid(errors) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, user_form_page(app, ctx, id, form, &errors).await?).into_response())
        }
        other => Err(other.into()),
    }
}

async fn create_user(State(app): State<AppState>, ctx: Ctx, Form(form): Form<UserForm>) -> Result<Response, AppError> {
    ctx.require(Permission::ManageUsers)?;
    let login = LoginName::parse(&form.login_name);
    let parsed = form.parse(&app, &ctx, true);
    let (login, (profile, password)) = match (login, parsed) {
        (Ok(l), Ok(p)) => (l, p),
        (l, p) => {
            let mut errors = p.err().unwrap_or_default();
            if let Err(e) = l {
                errors.0.insert(0, e);
            }
            return refused(&app, &ctx, None, &form, crate::store::StoreError::Invalid(errors)).await;
        }
    };
    let Some(password) = password else {
        return Err(AppError::Internal("password missing after parse".into()));
    };
    let new = NewUser {
        login_name: login,
        profile,
        password_hash: hash_off_thread(password).await?,
        must_change_password: true,
    };
    let now = app.clock.now();
    let actor = ctx.actor();
    match app.store.write(move |tx| users::create(tx, now, &new, &actor)).await {
        Ok(_) => Ok(Redirect::to(&ctx.href("/config/users?notice=created")).into_response()),
        Err(e) => refused(&app, &ctx, None, &form, e).await,
    }
}

/// Whether the form's type code is one the signed-in administrator may give.
fn is_manageable(ctx: &Ctx, code: &str) -> bool {
    UserType::parse(code).is_ok_and(|t| ctx.user.user_type.manages(t))
}

/// The user `id` within the administrator's region, refused (403) when its type is not one the administrator
/// manages (a security or audit administrator).
async fn load_in_scope(app: &AppState, ctx: &Ctx, id: i64) -> Result<User, AppError> {
    ctx.require(Permission::ManageUsers)?;
    let scope = app.regions.path_key(ctx.user.region);
    let user = app.store.read(move |c| users::get_in_scope(c, id, &scope)).await?;
    if !ctx.user.user_type.manages(user.user_type) {
        return Err(AppError::Forbidden);
    }
    Ok(user)
}

async fn edit_user_form(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Markup, AppError> {
    let user = load_in_scope(&app, &ctx, id).await?;
    user_form_page(&app, &ctx, Some(id), &UserForm::from_user(&user), &FieldErrors::default()).await
}

async fn update_user(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(mut form): Form<UserForm>,
) -> Result<Response, AppError> {
    let user = load_in_scope(&app, &ctx, id).await?;
    form.login_name = user.login_name.clone();
    let (profile, password) = match form.parse(&app, &ctx, false) {
        Ok(p) => p,
        Err(errors) => return refused(&app, &ctx, Some(id), &form, crate::store::StoreError::Invalid(errors)).await,
    };
    let password_hash = match password {
        Some(pw) => Some(hash_off_thread(pw).await?),
        None => None,
    };
    let change = UserUpdate { profile, password_hash };
    let now = app.clock.now();
    let actor = ctx.actor();
    let scope = app.regions.path_key(ctx.user.region);
    match app.store.write(move |tx| users::update(tx, now, id, &scope, &change, &actor)).await {
        Ok(()) => Ok(Redirect::to(&ctx.href("/config/users?notice=updated")).into_response()),
        Err(e) => refused(&app, &ctx, Some(id), &form, e).await,
    }
}

fn confirm_page(ctx: &Ctx, user: &User, freeze: bool) -> Markup {
    let (title, verb, explain) = if freeze {
        ("冻结用户", "freeze", "冻结后该用户立即退出所有会话，且不能再登录，直到被解冻。用户数据和操作记录全部保留。")
    } else {
        ("解冻用户", "unfreeze", "解冻后该用户可以重新登录，登录失败锁定同时解除。")
    };
    page(
        ctx,
        "/config/users",
        title,
        html! {
            div.card.narrow.dialog role="dialog" aria-labelledby="confirm-title" {
                h1 id="confirm-title" { (title) }
                p { "确认" (title) "「" (user.real_name) "（" (user.login_name) "）」吗？" }
                p.hint { (explain) }
                form method="post" action=(ctx.href(&format!("/config/users/{}/{verb}", user.id))) {
                    (csrf_field(ctx))
                    div.form-actions {
                        button.primary.danger[freeze] type="submit" { "确认" (title) }
                        a.button href=(ctx.href("/config/users")) { "取消" }
                    }
                }
            }
        },
    )
}

async fn confirm_freeze(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Markup, AppError> {
    let user = load_in_scope(&app, &ctx, id).await?;
    Ok(confirm_page(&ctx, &user, true))
}

async fn confirm_unfreeze(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Markup, AppError> {
    let user = load_in_scope(&app, &ctx, id).await?;
    Ok(confirm_page(&ctx, &user, false))
}

async fn set_frozen(app: AppState, ctx: Ctx, id: i64, frozen: bool) -> Result<Response, AppError> {
    load_in_scope(&app, &ctx, id).await?;
    let now = app.clock.now();
    let actor = ctx.actor();
    let scope = app.regions.path_key(ctx.user.region);
    app.store.write(move |tx| users::set_frozen(tx, now, id, &scope, frozen, &actor)).await?;
    let code = if frozen { "frozen" } else { "unfrozen" };
    Ok(Redirect::to(&ctx.href(&format!("/config/users?notice={code}"))).into_response())
}

async fn freeze_user(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Response, AppError> {
    set_frozen(app, ctx, id, true).await
}

async fn unfreeze_user(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> Result<Response, AppError> {
    set_frozen(app, ctx, id, false).await
}
