//! 消息管理: the SMS templates of pre-review, acceptance and approval for the administrator's region, with the
//! fill-ins the messages name (address, contact phone, materials to bring) and a preview.

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
use crate::domain::sms::{PLACEHOLDERS, SmsKind, SmsTemplate, TEXT_MAX_LEN};
use crate::domain::user::Permission;
use crate::domain::{FieldError, FieldErrors};
use crate::store::config::{self, SmsSetting};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/sms/{kind}", get(show_sms).post(save_sms))
}

/// Longest address and materials text, in characters.
const FILL_MAX: usize = 100;
/// Longest contact phone, in characters.
const PHONE_MAX: usize = 20;

#[derive(Debug, Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

/// The raw fields of the template form.
#[derive(Debug, Deserialize, Default, Clone)]
struct SmsForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    materials: String,
}

impl SmsForm {
    fn from_setting(s: &SmsSetting) -> Self {
        Self {
            text: s.template.text().to_string(),
            address: s.address.clone(),
            phone: s.phone.clone(),
            materials: s.materials.clone(),
        }
    }
}

/// Optional one-line text of at most `max` characters (trimmed; no line breaks or control characters).
fn one_line(field: &'static str, label: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("{label}不能超过 {max} 个字符")));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, format!("{label}须为一行，不能包含换行或控制字符")));
    }
    Ok(value.to_string())
}

/// Optional contact phone: digits and dashes, at most [`PHONE_MAX`] characters.
fn parse_phone(raw: &str) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.chars().count() > PHONE_MAX || !value.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return Err(FieldError::new(
            "phone",
            format!("联系电话只能由数字和“-”组成，不超过 {PHONE_MAX} 位，例如 0571-87000000"),
        ));
    }
    Ok(value.to_string())
}

/// The kind named in the path, else 404.
fn kind_of(raw: &str) -> Result<SmsKind, AppError> {
    SmsKind::parse(raw).ok_or(AppError::NotFound)
}

fn source_text(app: &AppState, ctx: &Ctx, s: &SmsSetting) -> String {
    match s.region {
        Some(r) if r == ctx.user.region => format!("本地区（{}）自行设置的模版。", app.regions.name(r)),
        Some(r) => format!("本地区未单独设置，沿用上级「{}」的模版。", app.regions.full_name(r)),
        None => "本地区及上级地区都未设置，使用系统默认模版。".to_string(),
    }
}

fn sms_page(
    app: &AppState,
    ctx: &Ctx,
    kind: SmsKind,
    current: &SmsSetting,
    form: &SmsForm,
    errors: &FieldErrors,
    notice_text: Option<&str>,
) -> Markup {
    let path = format!("/sms/{}", kind.code());
    let text_err = errors.get("text");
    page(
        ctx,
        &path,
        kind.label(),
        html! {
            h1 { (kind.label()) }
            @if ctx.embed {
                nav.sms-kinds aria-label="短信模版" {
                    @for k in SmsKind::ALL {
                        a.active[k == kind] href=(ctx.href(&format!("/sms/{}", k.code()))) { (k.label()) }
                    }
                }
            }
            (notice(notice_text))
            div.card {
                p #sms-source { (source_text(app, ctx, current)) }
                h2 { "预览" }
                p.sms-preview #sms-preview { (current.template.preview()) }
                p.hint { "预览中的占位符以示例数据填写；发送时按实际申请和下方的地址、联系电话、提交材料填写。" }
            }
            div.card.narrow {
                h2 { "修改本地区模版" }
                p.hint { "保存后本地区及未单独设置的下级地区使用此模版。" }
                @if !errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                form method="post" action=(ctx.href(&path)) {
                    (csrf_field(ctx))
                    div.field.has-error[text_err.is_some()] {
                        label for="f-text" { "模版内容" span.req aria-hidden="true" { "*" } }
                        textarea.sms-text id="f-text" name="text" rows="4" maxlength=(TEXT_MAX_LEN) required
                            aria-invalid=[text_err.map(|_| "true")] aria-describedby=[text_err.map(|_| "f-text-err")] { (form.text) }
                        div.hint { "须为一行，最多 " (TEXT_MAX_LEN) " 个字符；占位符写作 {活动名称} 的形式，可用的占位符见下表。" }
                        @if let Some(e) = text_err { div.field-error id="f-text-err" role="alert" { (e) } }
                    }
                    (text_field("address", "地址", &form.address, errors, "text",
                        FieldExtra { maxlength: Some(FILL_MAX), hint: Some("填入 {地址}：办理或领取文书的地点"), ..FieldExtra::default() }))
                    (text_field("phone", "联系电话", &form.phone, errors, "tel",
                        FieldExtra { maxlength: Some(PHONE_MAX), hint: Some("填入 {联系电话}"), ..FieldExtra::default() }))
                    (text_field("materials", "提交材料", &form.materials, errors, "text",
                        FieldExtra { maxlength: Some(FILL_MAX), hint: Some("填入 {提交材料}：需要携带或补交的材料"), ..FieldExtra::default() }))
                    div.form-actions { button.primary type="submit" { "保存" } }
                }
            }
            div.card.table-wrap {
                table.data.placeholders {
                    caption { "可用的占位符" }
                    thead { tr { th { "占位符" } th { "说明" } } }
                    tbody {
                        @for (name, description) in PLACEHOLDERS {
                            tr { td.nowrap { code { "{" (name) "}" } } td { (description) } }
                        }
                    }
                }
            }
        },
    )
}

async fn load(app: &AppState, ctx: &Ctx, kind: SmsKind) -> Result<SmsSetting, AppError> {
    let path = app.regions.path_key(ctx.user.region);
    Ok(app.store.read(move |c| config::sms_setting(c, &path, kind)).await?)
}

async fn show_sms(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(kind): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ManageSms)?;
    let kind = kind_of(&kind)?;
    let current = load(&app, &ctx, kind).await?;
    let text = match q.notice.as_deref() {
        Some("saved") => Some("短信模版已保存。"),
        _ => None,
    };
    let form = SmsForm::from_setting(&current);
    Ok(sms_page(&app, &ctx, kind, &current, &form, &FieldErrors::default(), text))
}

async fn save_sms(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(kind): Path<String>,
    Form(form): Form<SmsForm>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ManageSms)?;
    let kind = kind_of(&kind)?;
    let mut e = FieldErrors::default();
    let template = e.take(SmsTemplate::parse(kind, &form.text));
    let address = e.take(one_line("address", "地址", &form.address, FILL_MAX));
    let phone = e.take(parse_phone(&form.phone));
    let materials = e.take(one_line("materials", "提交材料", &form.materials, FILL_MAX));
    let setting = match (template, address, phone, materials) {
        (Some(template), Some(address), Some(phone), Some(materials)) if e.is_empty() => {
            SmsSetting { template, address, phone, materials, region: Some(ctx.user.region) }
        }
        _ => {
            let current = load(&app, &ctx, kind).await?;
            let body = sms_page(&app, &ctx, kind, &current, &form, &e, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
        }
    };
    let (now, actor, region, user_id) = (app.clock.now(), ctx.actor(), ctx.user.region, ctx.user.id);
    app.store.write(move |tx| config::save_sms(tx, now, region, &setting, user_id, &actor)).await?;
    Ok(Redirect::to(&ctx.href(&format!("/sms/{}?notice=saved", kind.code()))).into_response())
}
