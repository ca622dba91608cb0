//! 短信发送 (portal, system administrator): the outbox by status, the gateway settings, 【重发】 of a waiting or
//! failed message and 【立即发送】 of the due ones. Delivery itself is `crate::sms_delivery`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use crate::clock::beijing;
use crate::domain::FieldErrors;
use crate::domain::user::Permission;
use crate::sms_delivery;
use crate::store::sms::{self, Gateway, Sms};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{FieldExtra, csrf_field, notice, page, text_field};
use crate::web::session::Ctx;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/outbox", get(outbox_page))
        .route("/outbox/gateway", post(save_gateway))
        .route("/outbox/send", post(send_now))
        .route("/outbox/{id}/retry", post(retry))
}

/// Longest gateway URL, in characters.
const URL_MAX: usize = 200;
/// Longest account, in characters.
const ACCOUNT_MAX: usize = 50;
/// Longest secret, in characters.
const SECRET_MAX: usize = 200;
/// Longest signature, in characters.
const SIGNATURE_MAX: usize = 20;

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    status: Option<String>,
    notice: Option<String>,
    n: Option<u32>,
}

/// A known status filter, else none (all).
fn status_filter(raw: Option<&str>) -> Option<&'static str> {
    match raw? {
        "pending" => Some("pending"),
        "sent" => Some("sent"),
        "failed" => Some("failed"),
        _ => None,
    }
}

/// The tag class and Chinese name of a status.
fn status_tag(status: &str) -> (&'static str, &'static str) {
    match status {
        "pending" => ("tag-warn", "待发送"),
        "sent" => ("tag-ok", "已发送"),
        "failed" => ("tag-danger", "发送失败"),
        _ => ("tag-muted", "未知"),
    }
}

/// A mobile number with its middle hidden: 138****1234.
fn mask_mobile(m: &str) -> String {
    let chars: Vec<char> = m.chars().collect();
    let n = chars.len();
    if n >= 8 {
        format!("{}****{}", chars[..3].iter().collect::<String>(), chars[n - 4..].iter().collect::<String>())
    } else if n >= 3 {
        format!("****{}", chars[n - 2..].iter().collect::<String>())
    } else {
        "****".to_string()
    }
}

/// The raw fields of the gateway form.
#[derive(Debug, Deserialize, Default, Clone)]
struct GatewayForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    signature: String,
}

impl GatewayForm {
    fn from_gateway(g: &Gateway) -> Self {
        Self { url: g.url.clone(), account: g.account.clone(), secret: String::new(), signature: g.signature.clone() }
    }

    /// Parses the form; an empty secret keeps `stored`'s.
    fn parse(&self, stored: Option<&Gateway>) -> Result<Gateway, FieldErrors> {
        let mut e = FieldErrors::default();
        let url = self.url.trim();
        if url.is_empty() {
            e.push("url", "请填写网关地址");
        } else if url.chars().count() > URL_MAX {
            e.push("url", format!("网关地址不能超过 {URL_MAX} 个字符"));
        } else if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            e.push("url", "网关地址不能包含空格或控制字符");
        } else if url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
            e.push("url", "暂不支持 https，请通过内网代理使用 http 地址");
        } else if !url.starts_with("http://") {
            e.push("url", "网关地址须以 http:// 开头，例如 http://10.0.0.8:8080/sms/send");
        } else if sms_delivery::parse_url(url).is_err() {
            e.push("url", "网关地址格式不正确，应为 http://主机[:端口]/路径");
        }
        let account = self.account.trim();
        if account.chars().count() > ACCOUNT_MAX {
            e.push("account", format!("账号不能超过 {ACCOUNT_MAX} 个字符"));
        } else if account.chars().any(char::is_control) {
            e.push("account", "账号不能包含换行或控制字符");
        }
        let secret = if self.secret.is_empty() {
            stored.map(|g| g.secret.clone()).unwrap_or_default()
        } else if self.secret.chars().count() > SECRET_MAX {
            e.push("secret", format!("密钥不能超过 {SECRET_MAX} 个字符"));
            String::new()
        } else if self.secret.chars().any(char::is_control) {
            e.push("secret", "密钥不能包含换行或控制字符");
            String::new()
        } else {
            self.secret.clone()
        };
        let signature = self.signature.trim();
        let sig_len = signature.chars().count();
        if sig_len == 0 {
            e.push("signature", "请填写短信签名，例如【浙江公安】");
        } else if sig_len > SIGNATURE_MAX {
            e.push("signature", format!("短信签名不能超过 {SIGNATURE_MAX} 个字符"));
        } else if signature.chars().any(char::is_control) {
            e.push("signature", "短信签名不能包含换行或控制字符");
        }
        if e.is_empty() {
            Ok(Gateway { url: url.to_string(), account: account.to_string(), secret, signature: signature.to_string() })
        } else {
            Err(e)
        }
    }
}

/// What the page shows: counts, the gateway, the messages of the filter.
struct Outbox {
    counts: (i64, i64, i64),
    gateway: Option<Gateway>,
    messages: Vec<Sms>,
}

async fn load(app: &AppState, status: Option<&'static str>) -> Result<Outbox, AppError> {
    let (counts, gateway, messages) =
        app.store.read(move |c| Ok((sms::counts(c)?, sms::gateway(c)?, sms::list(c, status)?))).await?;
    Ok(Outbox { counts, gateway, messages })
}

fn notice_text(code: Option<&str>, n: Option<u32>) -> Option<String> {
    Some(match code? {
        "gateway" => "短信网关设置已保存。".to_string(),
        "retried" => "该短信已重新加入发送队列，将立即尝试发送。".to_string(),
        "sent" => format!(
            "立即发送完成：本次发送成功 {} 条。未成功的短信按退避时间自动重试，失败原因见列表。",
            n.unwrap_or(0)
        ),
        "nogateway" => "尚未配置短信网关，短信保持待发送；请先保存网关设置。".to_string(),
        "busy" => "正在发送中（后台发送任务正在运行），请稍后刷新查看结果。".to_string(),
        _ => return None,
    })
}

fn outbox_markup(
    ctx: &Ctx,
    data: &Outbox,
    status: Option<&str>,
    form: &GatewayForm,
    errors: &FieldErrors,
    info: Option<String>,
) -> Markup {
    let (pending, sent, failed) = data.counts;
    let filters: [(Option<&str>, &str, Option<i64>); 4] = [
        (None, "全部", None),
        (Some("pending"), "待发送", Some(pending)),
        (Some("sent"), "已发送", Some(sent)),
        (Some("failed"), "发送失败", Some(failed)),
    ];
    let status_q = status.unwrap_or("");
    page(
        ctx,
        "/outbox",
        "短信发送",
        html! {
            div.page-head {
                h1 { "短信发送" }
                form.inline method="post" action=(ctx.href("/outbox/send")) {
                    (csrf_field(ctx))
                    button.primary type="submit" { "立即发送" }
                }
            }
            (notice(info.as_deref()))
            @if data.gateway.is_none() {
                div.form-error role="alert" { "尚未配置短信网关：短信将保持“待发送”，配置网关后自动发送。" }
            }
            div.card {
                h2 { "发送情况" }
                p #sms-counts {
                    span.tag.tag-warn #count-pending { "待发送 " (pending) } " "
                    span.tag.tag-ok #count-sent { "已发送 " (sent) } " "
                    span.tag.tag-danger #count-failed { "发送失败 " (failed) }
                }
                p.hint { "待发送的短信由后台每 5 秒自动发送；失败后按 30 秒、1 分钟、2 分钟……最长 1 小时的间隔重试，连续失败 "
                    (sms::MAX_ATTEMPTS) " 次后标记为发送失败，可手动【重发】。" }
            }
            div.card.narrow {
                h2 { "短信网关设置" }
                @if !errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                form method="post" action=(ctx.href("/outbox/gateway")) {
                    (csrf_field(ctx))
                    (text_field("url", "网关地址", &form.url, errors, "text",
                        FieldExtra { required: true, maxlength: Some(URL_MAX), autocomplete: Some("off"),
                            hint: Some("以 http:// 开头，例如 http://10.0.0.8:8080/sms/send；暂不支持 https") }))
                    (text_field("account", "账号", &form.account, errors, "text",
                        FieldExtra { maxlength: Some(ACCOUNT_MAX), autocomplete: Some("off"), ..FieldExtra::default() }))
                    (text_field("secret", "密钥", "", errors, "password",
                        FieldExtra { maxlength: Some(SECRET_MAX), autocomplete: Some("new-password"),
                            hint: Some(if data.gateway.is_some() { "留空则保留已保存的密钥" } else { "网关分配的密钥" }), ..FieldExtra::default() }))
                    (text_field("signature", "短信签名", &form.signature, errors, "text",
                        FieldExtra { required: true, maxlength: Some(SIGNATURE_MAX),
                            hint: Some("加在每条短信开头，含括号，例如【浙江公安】；最多 20 个字符"), ..FieldExtra::default() }))
                    div.form-actions { button.primary type="submit" { "保存" } }
                }
            }
            nav.sms-kinds aria-label="按状态筛选" {
                @for (value, label, count) in filters {
                    @let href = match value { Some(v) => format!("/outbox?status={v}"), None => "/outbox".to_string() };
                    a.active[value == status] href=(ctx.href(&href)) aria-current=[(value == status).then_some("page")] {
                        (label) @if let Some(c) = count { "（" (c) "）" }
                    }
                }
            }
            div.card.table-wrap {
                table.data #outbox {
                    caption.sr-only { "短信列表" }
                    thead { tr { th { "时间" } th { "手机号" } th { "短信内容" } th { "状态" } th { "尝试次数" } th { "下次尝试" } th { "最近错误" } th { "操作" } } }
                    tbody {
                        @for m in &data.messages {
                            @let (class, label) = status_tag(&m.status);
                            tr data-id=(m.id) {
                                td.nowrap { (beijing(m.created_at)) }
                                td.nowrap { (mask_mobile(&m.mobile)) }
                                td { (m.text) }
                                td.nowrap {
                                    span.tag.(class) { (label) }
                                    @if let Some(at) = m.sent_at { br; span.hint { (beijing(at)) } }
                                }
                                td { (m.attempts) }
                                td.nowrap { @if m.status == "pending" { (beijing(m.next_attempt_at)) } @else { "—" } }
                                td { (m.last_error.as_deref().unwrap_or("—")) }
                                td.actions {
                                    @if m.status != "sent" {
                                        form.inline method="post" action=(ctx.href(&format!("/outbox/{}/retry", m.id))) {
                                            (csrf_field(ctx))
                                            input type="hidden" name="status" value=(status_q);
                                            button.link type="submit" aria-label=(format!("重发第 {} 条短信", m.id)) { "重发" }
                                        }
                                    }
                                }
                            }
                        }
                        @if data.messages.is_empty() { tr { td.empty colspan="8" { "没有短信" } } }
                    }
                }
            }
        },
    )
}

async fn outbox_page(State(app): State<AppState>, ctx: Ctx, Query(q): Query<PageQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::Exchange)?;
    let status = status_filter(q.status.as_deref());
    let data = load(&app, status).await?;
    let form = data.gateway.as_ref().map(GatewayForm::from_gateway).unwrap_or_default();
    let info = notice_text(q.notice.as_deref(), q.n);
    Ok(outbox_markup(&ctx, &data, status, &form, &FieldErrors::default(), info))
}

async fn save_gateway(
    State(app): State<AppState>,
    ctx: Ctx,
    Form(form): Form<GatewayForm>,
) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let stored = app.store.read(sms::gateway).await?;
    let gateway = match form.parse(stored.as_ref()) {
        Ok(g) => g,
        Err(errors) => {
            let data = load(&app, None).await?;
            let shown = GatewayForm { secret: String::new(), ..form };
            let body = outbox_markup(&ctx, &data, None, &shown, &errors, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
        }
    };
    let (now, actor) = (app.clock.now(), ctx.actor());
    app.store.write(move |tx| sms::set_gateway(tx, now, &gateway, &actor)).await?;
    Ok(Redirect::to(&ctx.href("/outbox?notice=gateway")).into_response())
}

#[derive(Debug, Deserialize, Default)]
struct RetryForm {
    #[serde(default)]
    status: String,
}

async fn retry(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(form): Form<RetryForm>,
) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    let (now, actor) = (app.clock.now(), ctx.actor());
    app.store.write(move |tx| sms::retry(tx, now, id, &actor)).await?;
    let back = match status_filter(Some(form.status.as_str())) {
        Some(s) => format!("/outbox?status={s}&notice=retried"),
        None => "/outbox?notice=retried".to_string(),
    };
    Ok(Redirect::to(&ctx.href(&back)).into_response())
}

async fn send_now(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require(Permission::Exchange)?;
    if app.store.read(sms::gateway).await?.is_none() {
        return Ok(Redirect::to(&ctx.href("/outbox?notice=nogateway")).into_response());
    }
    let to = match sms_delivery::try_deliver_due(&app).await? {
        Some(n) => format!("/outbox?notice=sent&n={n}"),
        None => "/outbox?notice=busy".to_string(),
    };
    Ok(Redirect::to(&ctx.href(&to)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_mobile("13812341234"), "138****1234");
        assert_eq!(mask_mobile("+8613812341234"), "+86****1234");
        assert_eq!(mask_mobile("12345"), "****45");
        assert_eq!(mask_mobile("1"), "****");
        assert_eq!(mask_mobile("一二三四五六七八"), "一二三****五六七八");
    }

    fn form(url: &str, account: &str, secret: &str, signature: &str) -> GatewayForm {
        GatewayForm { url: url.into(), account: account.into(), secret: secret.into(), signature: signature.into() }
    }

    #[test]
    fn gateway_form() {
        let g = form("http://10.0.0.8:8080/sms", "acc", "s3", "【浙江公安】").parse(None).unwrap();
        assert_eq!(g.url, "http://10.0.0.8:8080/sms");
        let kept = form("http://gw/", "acc", "", "【浙江公安】").parse(Some(&g)).unwrap();
        assert_eq!(kept.secret, "s3");
        let e = form("https://gw/", "acc", "", "【浙江公安】").parse(None).unwrap_err();
        assert_eq!(e.get("url"), Some("暂不支持 https，请通过内网代理使用 http 地址"));
        assert!(form("ftp://gw/", "", "", "x").parse(None).unwrap_err().get("url").is_some());
        assert!(form("http://g w/", "", "", "x").parse(None).unwrap_err().get("url").is_some());
        assert!(
            form(&format!("http://gw/{}", "a".repeat(200)), "", "", "x").parse(None).unwrap_err().get("url").is_some()
        );
        assert!(form("http://gw/", &"a".repeat(51), "", "x").parse(None).unwrap_err().get("account").is_some());
        assert!(form("http://gw/", "", "", "").parse(None).unwrap_err().get("signature").is_some());
        assert!(form("http://gw/", "", "", &"签".repeat(21)).parse(None).unwrap_err().get("signature").is_some());
        assert!(form("http://gw/", "", "", &"签".repeat(20)).parse(None).is_ok());
    }
}
