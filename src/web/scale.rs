//! 规模配置: the attendance thresholds that decide whether a permit is needed and which bureau approves. The rules
//! are province-wide: every administrator may view them and try them out, only the provincial administrator saves.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{FieldExtra, csrf_field, notice, page, select_field, text_field};
use super::session::Ctx;
use crate::domain::FieldErrors;
use crate::domain::activity::Attendance;
use crate::domain::region::{Adcode, RegionLevel};
use crate::domain::scale::{Routing, ScaleRules, route};
use crate::domain::user::Permission;
use crate::store::config;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/config/scale", get(show_scale).post(save_scale))
}

/// Fields of the try-out form, one per county select.
const TRY_COUNTIES: [&str; 3] = ["county_0", "county_1", "county_2"];

#[derive(Debug, Deserialize, Default)]
struct ScaleQuery {
    notice: Option<String>,
    county_0: Option<String>,
    county_1: Option<String>,
    county_2: Option<String>,
    attendance: Option<String>,
}

/// The raw fields of the rules form.
#[derive(Debug, Deserialize, Default, Clone)]
struct ScaleForm {
    #[serde(default)]
    permit_min: String,
    #[serde(default)]
    city_min: String,
    #[serde(default)]
    province_min: String,
}

impl ScaleForm {
    fn from_rules(r: &ScaleRules) -> Self {
        Self {
            permit_min: r.permit_min.to_string(),
            city_min: r.city_min.to_string(),
            province_min: r.province_min.map(|p| p.to_string()).unwrap_or_default(),
        }
    }
}

/// The try-out form as typed and its outcome.
#[derive(Debug, Default)]
struct TryOut {
    counties: [String; 3],
    attendance: String,
    errors: FieldErrors,
    /// `None` until the form was sent.
    outcome: Option<Result<Routing, String>>,
}

/// Whether the user may change the province-wide rules.
fn is_provincial(app: &AppState, ctx: &Ctx) -> bool {
    ctx.user.region == app.regions.root().adcode
}

fn county_options(app: &AppState) -> Vec<(String, String)> {
    let mut opts = vec![(String::new(), "（不选）".to_string())];
    opts.extend(app.regions.all().filter(|r| r.level == RegionLevel::County).map(|r| {
        let city = r.parent.map(|p| app.regions.name(p)).unwrap_or_default();
        (r.adcode.to_string(), format!("{city} {}", r.name))
    }));
    opts
}

fn try_out(app: &AppState, rules: &ScaleRules, q: &ScaleQuery) -> TryOut {
    let counties = [q.county_0.clone(), q.county_1.clone(), q.county_2.clone()].map(Option::unwrap_or_default);
    let attendance = q.attendance.clone().unwrap_or_default();
    let mut t = TryOut { counties, attendance, ..TryOut::default() };
    if q.attendance.is_none() {
        return t;
    }
    let mut codes = Vec::new();
    for (field, raw) in TRY_COUNTIES.into_iter().zip(&t.counties) {
        match raw.trim() {
            "" => {}
            raw => match Adcode::parse(raw).filter(|c| app.regions.get(*c).is_some()) {
                Some(c) => codes.push(c),
                None => t.errors.push(field, "请选择有效的县（市、区）"),
            },
        }
    }
    let attendance = t.errors.take(Attendance::parse("attendance", &t.attendance));
    if let (Some(a), true) = (attendance, t.errors.is_empty()) {
        t.outcome = Some(route(rules, &app.regions, &codes, a.get()).map_err(|e| e.to_string()));
    }
    t
}

fn explanation(rules: &ScaleRules) -> Markup {
    html! {
        ul.scale-rules {
            li { "每场次预计参加人数达到 " (rules.permit_min) " 人以上的大型群众性活动，须申请安全许可；人数不足的，不受理。" }
            li { (rules.permit_min) " 至 " (rules.city_min.saturating_sub(1)) " 人的，由活动所在地县级公安机关审批；" }
            @match rules.province_min {
                Some(p) => {
                    li { (rules.city_min) " 至 " (p.saturating_sub(1)) " 人的，由活动所在地设区的市级公安机关审批；" }
                    li { (p) " 人以上的，由省级公安机关审批；" }
                }
                None => {
                    li { (rules.city_min) " 人以上的，由活动所在地设区的市级公安机关审批；" }
                }
            }
            li { "跨县（市、区）举办的活动，由共同上级公安机关审批；跨设区的市举办的，由省级公安机关审批。" }
        }
    }
}

struct ScalePage<'a> {
    rules: &'a ScaleRules,
    form: &'a ScaleForm,
    errors: &'a FieldErrors,
    tryout: &'a TryOut,
    notice: Option<&'a str>,
}

fn scale_page(app: &AppState, ctx: &Ctx, sp: &ScalePage<'_>) -> Markup {
    let editable = is_provincial(app, ctx);
    let counties = county_options(app);
    let t = sp.tryout;
    page(
        ctx,
        "/config/scale",
        "规模配置",
        html! {
            h1 { "规模配置" }
            (notice(sp.notice))
            div.card {
                h2 { "现行规则" }
                (explanation(sp.rules))
            }
            div.card.narrow {
                h2 { "人数阀值" }
                @if editable {
                    @if !sp.errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                    form method="post" action=(ctx.href("/config/scale")) {
                        (csrf_field(ctx))
                        (text_field("permit_min", "许可起点人数", &sp.form.permit_min, sp.errors, "text",
                            FieldExtra { required: true, maxlength: Some(8), hint: Some("每场次预计人数达到此数须申请安全许可（条例规定为 1000 人）"), ..FieldExtra::default() }))
                        (text_field("city_min", "市级审批人数阀值", &sp.form.city_min, sp.errors, "text",
                            FieldExtra { required: true, maxlength: Some(8), hint: Some("达到此数由设区的市级公安机关审批（条例规定为 5000 人）"), ..FieldExtra::default() }))
                        (text_field("province_min", "省级审批人数阀值", &sp.form.province_min, sp.errors, "text",
                            FieldExtra { maxlength: Some(8), hint: Some("可不填；填写后达到此数由省级公安机关审批"), ..FieldExtra::default() }))
                        div.form-actions { button.primary type="submit" { "保存" } }
                    }
                    p.hint { "新规则只用于之后提交的申请；已提交的申请保留提交时确定的审批机关。" }
                } @else {
                    div.notice.warn #scale-readonly { "规模配置全省统一，只有省级系统管理员可以修改。您可以查看现行规则并试算。" }
                    dl.facts {
                        dt { "许可起点人数" } dd { (sp.rules.permit_min) " 人" }
                        dt { "市级审批人数阀值" } dd { (sp.rules.city_min) " 人" }
                        dt { "省级审批人数阀值" } dd {
                            @match sp.rules.province_min { Some(v) => { (v) " 人" } None => { "未设置" } }
                        }
                    }
                }
            }
            div.card.narrow #tryout {
                h2 { "试算" }
                p.hint { "选择活动举办地（最多 3 个县、市、区）并填写每场次预计人数，查看由哪一级公安机关审批。" }
                form.tryout method="get" action="/config/scale" {
                    @if ctx.embed { input type="hidden" name="embed" value="1"; }
                    @for (i, field) in TRY_COUNTIES.into_iter().enumerate() {
                        (select_field(field, &format!("活动地 {}", i + 1), &t.counties[i], &counties, &t.errors, false))
                    }
                    (text_field("attendance", "每场次预计人数", &t.attendance, &t.errors, "text",
                        FieldExtra { required: true, maxlength: Some(8), ..FieldExtra::default() }))
                    div.form-actions { button type="submit" { "试算" } }
                }
                @match &t.outcome {
                    Some(Ok(r)) => {
                        div.tryout-result #tryout-result role="status" {
                            dl.facts {
                                dt { "审批机关" } dd #tryout-bureau { (app.regions.name(r.bureau)) "公安机关" }
                                dt { "级别" } dd { (r.level.bureau_label()) }
                                dt { "理由" } dd #tryout-reason { (r.reason) }
                            }
                        }
                    }
                    Some(Err(message)) => {
                        div.form-error #tryout-result role="alert" { (message) }
                    }
                    None => {}
                }
            }
        },
    )
}

async fn show_scale(State(app): State<AppState>, ctx: Ctx, Query(q): Query<ScaleQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let rules = app.store.read(config::scale_rules).await?;
    let tryout = try_out(&app, &rules, &q);
    let text = match q.notice.as_deref() {
        Some("saved") => Some("规模配置已保存，新规则用于之后提交的申请。"),
        _ => None,
    };
    let form = ScaleForm::from_rules(&rules);
    let sp = ScalePage { rules: &rules, form: &form, errors: &FieldErrors::default(), tryout: &tryout, notice: text };
    Ok(scale_page(&app, &ctx, &sp))
}

async fn save_scale(State(app): State<AppState>, ctx: Ctx, Form(form): Form<ScaleForm>) -> Result<Response, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    if !is_provincial(&app, &ctx) {
        return Err(AppError::Forbidden);
    }
    let rules = match ScaleRules::parse(&form.permit_min, &form.city_min, &form.province_min) {
        Ok(r) => r,
        Err(e) => {
            let current = app.store.read(config::scale_rules).await?;
            let errors = FieldErrors(e);
            let tryout = TryOut::default();
            let sp = ScalePage { rules: &current, form: &form, errors: &errors, tryout: &tryout, notice: None };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, scale_page(&app, &ctx, &sp)).into_response());
        }
    };
    let (now, actor, user_id) = (app.clock.now(), ctx.actor(), ctx.user.id);
    app.store.write(move |tx| config::set_scale_rules(tx, now, &rules, user_id, &actor)).await?;
    Ok(Redirect::to(&ctx.href("/config/scale?notice=saved")).into_response())
}
