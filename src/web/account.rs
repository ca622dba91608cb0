//! Signing in and out, the home page, and changing one's own password.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{FieldExtra, bare_page, csrf_field, menu_for, notice, page, text_field};
use super::session::{Ctx, LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie, set_cookie, source};
use crate::auth;
use crate::clock::beijing;
use crate::config::Site;
use crate::domain::FieldErrors;
use crate::domain::user::UserType;
use crate::store::sessions::{self, LoginOutcome};
use crate::store::users;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/account/password", get(password_form).post(change_password))
}

async fn home(ctx: Ctx) -> Markup {
    let menu = menu_for(ctx.user.user_type, ctx.site);
    page(
        &ctx,
        "/",
        "首页",
        html! {
            div.card {
                h1 { "欢迎，" (ctx.user.real_name) }
                dl.facts {
                    dt { "用户类型" } dd { (ctx.user.user_type.label()) }
                    dt { "所属地区" } dd { (ctx.region_name) }
                    @if let Some(role) = &ctx.user.approval_role_name { dt { "审批角色" } dd { (role) } }
                    dt { "职责" } dd { (ctx.user.user_type.duties()) }
                }
            }
            @if !menu.is_empty() {
                div.card {
                    h2 { "可用功能" }
                    ul.links {
                        @for (group, items) in &menu { @for (label, href) in items {
                            li { a href=(ctx.href(href)) { (group) " → " (label) } }
                        } }
                    }
                }
            }
        },
    )
}

#[derive(Debug, Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    registered: Option<String>,
}

/// Only local paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.starts_with("/login") => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn login_page(site: Site, token: &str, next: &str, login: &str, message: Option<&str>, info: Option<&str>) -> Markup {
    bare_page(
        "登录",
        html! {
            div.card.login-card {
                h1 { @match site { Site::Intranet => "安许 · 审批内网", Site::Portal => "安许 · 外网门户" } }
                p.subtitle { "大型群众性活动安全许可系统" }
                (notice(info))
                @if let Some(m) = message { div.form-error role="alert" { (m) } }
                form method="post" action="/login" {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="next" value=(next);
                    (text_field("login_name", "登录用户名", login, &FieldErrors::default(), "text",
                        FieldExtra { required: true, maxlength: Some(32), autocomplete: Some("username"), hint: None }))
                    (text_field("password", "密码", "", &FieldErrors::default(), "password",
                        FieldExtra { required: true, maxlength: Some(64), autocomplete: Some("current-password"), hint: None }))
                    button.primary type="submit" { "登录" }
                }
                @if site == Site::Portal {
                    p.hint { "承办方、政府单位首次使用请先 " a href="/register" { "注册" } "。" }
                }
            }
        },
    )
}

async fn login_form(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let token = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_else(auth::random_token);
    let info = if q.expired.is_some() {
        Some("会话已结束（超时、冻结或已在别处退出），请重新登录。")
    } else {
        q.registered.is_some().then_some("注册成功，请登录。")
    };
    let body = login_page(app.config.site, &token, &safe_next(q.next.as_deref()), "", None, info);
    let c = set_cookie(LOGIN_CSRF_COOKIE, &token, "/", None, app.config.secure_cookies);
    ([(header::SET_COOKIE, c)], body).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    login_name: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    req_ext: axum::http::Extensions,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let token = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let next = safe_next(f.next.as_deref());
    let refuse = |msg: &str| {
        (StatusCode::UNAUTHORIZED, login_page(app.config.site, &token, &next, f.login_name.trim(), Some(msg), None))
            .into_response()
    };
    if f.login_name.trim().is_empty() || f.password.is_empty() {
        return Ok(refuse("请输入登录用户名和密码"));
    }
    if f.login_name.chars().count() > 64 || f.password.chars().count() > 256 {
        return Ok(refuse("用户名或密码错误"));
    }
    let now = app.clock.now();
    let result = auth::sign_in(&app.store, now, &f.login_name, &f.password, &source(&req_ext)).await?;
    match result {
        Ok(signed) => {
            // A fresh session id at every sign-in; an older session of this browser ends.
            if let Some(old) = cookie(&headers, SESSION_COOKIE) {
                let old = auth::session_id(&old);
                app.store.write(move |tx| sessions::end(tx, now, &old, "replaced")).await?;
            }
            let c = set_cookie(SESSION_COOKIE, &signed.token, "/", None, app.config.secure_cookies);
            let clear = set_cookie(LOGIN_CSRF_COOKIE, "", "/", Some(0), app.config.secure_cookies);
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut().append(header::SET_COOKIE, c.parse().map_err(|_| AppError::Internal("cookie".into()))?);
            res.headers_mut()
                .append(header::SET_COOKIE, clear.parse().map_err(|_| AppError::Internal("cookie".into()))?);
            Ok(res)
        }
        Err(LoginOutcome::Frozen) => Ok(refuse("账号已被冻结，请联系管理员")),
        Err(LoginOutcome::Locked(until)) => {
            Ok(refuse(&format!("连续登录失败次数过多，账号已锁定，请于 {} 后再试", beijing(until))))
        }
        Err(_) => Ok(refuse("用户名或密码错误")),
    }
}

async fn logout(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let now = app.clock.now();
    let actor = ctx.actor();
    let sid = ctx.session_id.clone();
    app.store.write(move |tx| sessions::logout(tx, now, &sid, &actor)).await?;
    let c = set_cookie(SESSION_COOKIE, "", "/", Some(0), app.config.secure_cookies);
    Ok(([(header::SET_COOKIE, c)], Redirect::to("/login")).into_response())
}

fn password_page(ctx: &Ctx, hint: &str, errors: &FieldErrors, done: bool) -> Markup {
    page(
        ctx,
        "/account/password",
        "修改密码",
        html! {
            div.card.narrow {
                h1 { "修改密码" }
                @if ctx.user.must_change_password { div.notice.warn role="status" { "首次登录或密码被管理员重置后，须先修改密码。" } }
                @if done { div.notice role="status" { "密码已修改，其他会话已退出。" } }
                form method="post" action=(ctx.href("/account/password")) {
                    (csrf_field(ctx))
                    (text_field("old_password", "当前密码", "", errors, "password",
                        FieldExtra { required: true, maxlength: Some(64), autocomplete: Some("current-password"), hint: None }))
                    (text_field("new_password", "新密码", "", errors, "password",
                        FieldExtra { required: true, maxlength: Some(64), autocomplete: Some("new-password"), hint: Some(hint) }))
                    (text_field("confirm_password", "确认新密码", "", errors, "password",
                        FieldExtra { required: true, maxlength: Some(64), autocomplete: Some("new-password"), hint: None }))
                    button.primary type="submit" { "保存" }
                }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn password_form(State(app): State<AppState>, ctx: Ctx, Query(q): Query<DoneQuery>) -> Markup {
    password_page(&ctx, &app.policy.get().password_hint(), &FieldErrors::default(), q.done.is_some())
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn change_password(
    State(app): State<AppState>,
    ctx: Ctx,
    Form(f): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::default();
    let policy = app.policy.get();
    errors.take(policy.check_password("new_password", &f.new_password));
    if f.new_password != f.confirm_password {
        errors.push("confirm_password", "两次输入的新密码不一致");
    }
    if f.new_password == f.old_password {
        errors.push("new_password", "新密码不能与当前密码相同");
    }
    let id = ctx.user.id;
    let hash = app.store.read(move |c| users::password_hash(c, id)).await?;
    let old = f.old_password.clone();
    let old_ok = tokio::task::spawn_blocking(move || auth::verify_password(&old, &hash))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if !old_ok {
        errors.push("old_password", "当前密码不正确");
    }
    if !errors.is_empty() {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, password_page(&ctx, &policy.password_hint(), &errors, false))
            .into_response());
    }
    let new = f.new_password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let now = app.clock.now();
    let actor = ctx.actor();
    let keep = ctx.session_id.clone();
    app.store.write(move |tx| users::change_own_password(tx, now, id, &hash, Some(&keep), &actor)).await?;
    Ok(Redirect::to(&ctx.href("/account/password?done=1")).into_response())
}

/// Used by the user list to show the types an administrator may create.
pub(super) fn type_options() -> Vec<(String, String)> {
    UserType::ALL.iter().map(|t| (t.code().to_string(), t.label().to_string())).collect()
}
