//! `GET/POST /register`: a unit (承办方 or 政府单位) registers itself and its account on the portal. There is no
//! session yet, so the form's CSRF token is a double-submit cookie like the sign-in form's (`anxu_login_csrf`, here
//! with `Path=/`); the session middleware checks it for `POST /register`. Success leads to the sign-in page.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth;
use crate::domain::activity::CreditCode;
use crate::domain::text::parse_name;
use crate::domain::user::{LoginName, Mobile, UserType};
use crate::domain::{FieldError, FieldErrors};
use crate::store::portal::{self, Registration};
use crate::store::{Actor, StoreError};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{FieldExtra, bare_page, select_field, text_field};
use crate::web::session::{LOGIN_CSRF_COOKIE, cookie, set_cookie, source};

/// Longest unit name (the intranet refuses longer organizer names).
const UNIT_NAME_MAX: usize = 100;
/// Longest contact name (as the intranet's check of application records).
const CONTACT_MAX: usize = 32;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/register", get(register_form).post(register))
}

/// The registration form as posted; every field is kept to show it again.
#[derive(Debug, Default, Clone, Deserialize)]
struct RegisterForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    unit_name: String,
    #[serde(default)]
    credit_code: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    login_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

/// What the form parses into, before the password is hashed.
struct Parsed {
    kind: UserType,
    unit_name: String,
    credit_code: CreditCode,
    contact_name: String,
    mobile: Mobile,
    login: LoginName,
}

fn parse_kind(raw: &str) -> Result<UserType, FieldError> {
    UserType::PORTAL
        .into_iter()
        .find(|t| t.code() == raw.trim())
        .ok_or_else(|| FieldError::new("kind", "请选择单位类型（承办方或政府单位）"))
}

impl RegisterForm {
    fn parse(&self, app: &AppState, e: &mut FieldErrors) -> Option<Parsed> {
        let kind = e.take(parse_kind(&self.kind));
        let unit_name = e.take(parse_name("unit_name", "单位名称", &self.unit_name, UNIT_NAME_MAX));
        let credit_code = e.take(CreditCode::parse(&self.credit_code));
        let contact_name = e.take(parse_name("contact_name", "联系人", &self.contact_name, CONTACT_MAX));
        let mobile = e.take(Mobile::parse(&self.mobile));
        let login = e.take(LoginName::parse(&self.login_name));
        e.take(app.policy.get().check_password("password", &self.password));
        if self.password != self.confirm_password {
            e.push("confirm_password", "两次输入的密码不一致");
        }
        let parsed = Parsed {
            kind: kind?,
            unit_name: unit_name?,
            credit_code: credit_code?,
            contact_name: contact_name?,
            mobile: mobile?,
            login: login?,
        };
        e.is_empty().then_some(parsed)
    }
}

fn register_page(token: &str, f: &RegisterForm, errors: &FieldErrors) -> Markup {
    let kinds: Vec<(String, String)> = std::iter::once((String::new(), "请选择".to_string()))
        .chain(UserType::PORTAL.iter().map(|t| (t.code().to_string(), t.label().to_string())))
        .collect();
    let req = |maxlength: usize| FieldExtra { required: true, maxlength: Some(maxlength), ..FieldExtra::default() };
    bare_page(
        "单位注册",
        html! {
            div.card.login-card {
                h1 { "安许 · 单位注册" }
                p.subtitle { "大型群众性活动安全许可系统（外网）" }
                @if !errors.is_empty() {
                    div.form-error role="alert" { "请修改标红的项目后再提交，本次未注册。" }
                }
                form method="post" action="/register" {
                    input type="hidden" name="csrf" value=(token);
                    (select_field("kind", "单位类型", f.kind.trim(), &kinds, errors, true))
                    div.hint { "承办方：申请大型群众性活动安全许可；政府单位：报备本单位举办的活动。" }
                    (text_field("unit_name", "单位名称", &f.unit_name, errors, "text", req(UNIT_NAME_MAX)))
                    (text_field("credit_code", "统一社会信用代码", &f.credit_code, errors, "text",
                        FieldExtra { hint: Some("18 位，含校验位"), ..req(18) }))
                    (text_field("contact_name", "联系人", &f.contact_name, errors, "text", req(CONTACT_MAX)))
                    (text_field("mobile", "手机", &f.mobile, errors, "tel",
                        FieldExtra { autocomplete: Some("tel"), ..req(13) }))
                    (text_field("login_name", "登录用户名", &f.login_name, errors, "text",
                        FieldExtra { autocomplete: Some("username"),
                            hint: Some("3 到 32 位英文字母、数字、下划线、点或减号，以字母开头"), ..req(32) }))
                    (text_field("password", "密码", "", errors, "password",
                        FieldExtra { autocomplete: Some("new-password"),
                            hint: Some("至少 8 位，包含小写字母、大写字母、数字、符号中的至少 3 类"), ..req(64) }))
                    (text_field("confirm_password", "确认密码", "", errors, "password",
                        FieldExtra { autocomplete: Some("new-password"), ..req(64) }))
                    button.primary type="submit" { "注册" }
                }
                p { "已有账号？" a href="/login" { "返回登录" } }
            }
        },
    )
}

/// The token of this browser's double-submit cookie, or a new one.
fn form_token(headers: &HeaderMap) -> String {
    cookie(headers, LOGIN_CSRF_COOKIE).unwrap_or_else(auth::random_token)
}

fn with_cookie(app: &AppState, token: &str, status: StatusCode, body: Markup) -> Response {
    let c = set_cookie(LOGIN_CSRF_COOKIE, token, "/", None, app.config.secure_cookies);
    (status, [(header::SET_COOKIE, c)], body).into_response()
}

async fn register_form(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = form_token(&headers);
    let body = register_page(&token, &RegisterForm::default(), &FieldErrors::default());
    with_cookie(&app, &token, StatusCode::OK, body)
}

async fn register(
    State(app): State<AppState>,
    headers: HeaderMap,
    req_ext: axum::http::Extensions,
    Form(f): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let token = form_token(&headers);
    let mut errors = FieldErrors::default();
    let refuse = |errors: &FieldErrors| {
        with_cookie(&app, &token, StatusCode::UNPROCESSABLE_ENTITY, register_page(&token, &f, errors))
    };
    let Some(p) = f.parse(&app, &mut errors) else { return Ok(refuse(&errors)) };
    let password = f.password.clone();
    let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let r = Registration {
        kind: p.kind,
        login: p.login,
        password_hash,
        credit_code: p.credit_code,
        unit_name: p.unit_name,
        contact_name: p.contact_name,
        contact_mobile: p.mobile,
    };
    let actor = Actor { id: None, login: r.login.as_str().to_string(), region: None, source: source(&req_ext) };
    let (now, province) = (app.clock.now(), app.regions.root().adcode);
    match app.store.write(move |tx| portal::register(tx, now, province, &r, &actor)).await {
        Ok(_) => Ok(Redirect::to("/login?registered=1").into_response()),
        Err(StoreError::Invalid(e)) => Ok(refuse(&e)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_kinds_are_the_portal_types_only() {
        assert_eq!(parse_kind("organizer"), Ok(UserType::Organizer));
        assert_eq!(parse_kind(" government_unit "), Ok(UserType::GovernmentUnit));
        for bad in ["", "system_admin", "approver", "承办方"] {
            assert_eq!(parse_kind(bad).unwrap_err().field, "kind", "{bad:?}");
        }
    }
}
