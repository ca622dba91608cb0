//! 节假日配置: the province-wide holidays and make-up working days that time limits in working days follow. Every
//! administrator may view them; only the provincial administrator adds, replaces or removes entries.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{FieldExtra, csrf_field, notice, page, select_field, text_field};
use super::session::Ctx;
use crate::domain::FieldErrors;
use crate::domain::calendar::{DayEntry, DayKind, parse_date};
use crate::domain::user::Permission;
use crate::store::config;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/calendar", get(show_calendar).post(set_day))
        .route("/config/calendar/remove", post(remove_day))
}

/// Years the page shows.
const YEAR_MIN: i32 = 2000;
const YEAR_MAX: i32 = 2100;

#[derive(Debug, Deserialize, Default)]
struct CalendarQuery {
    year: Option<String>,
    notice: Option<String>,
}

/// The raw fields of the add/replace form.
#[derive(Debug, Deserialize, Default, Clone)]
struct DayForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    year: String,
}

#[derive(Debug, Deserialize, Default)]
struct RemoveForm {
    #[serde(default)]
    date: String,
}

/// The current year in Beijing.
fn this_year(app: &AppState) -> i32 {
    (app.clock.now() + TimeDelta::hours(8)).year()
}

/// A year from a query or form, else the current year.
fn year_or_current(app: &AppState, raw: Option<&str>) -> i32 {
    raw.and_then(|y| y.trim().parse::<i32>().ok())
        .filter(|y| (YEAR_MIN..=YEAR_MAX).contains(y))
        .unwrap_or_else(|| this_year(app).clamp(YEAR_MIN, YEAR_MAX))
}

/// Whether the user may change the province-wide calendar.
fn is_provincial(app: &AppState, ctx: &Ctx) -> bool {
    ctx.user.region == app.regions.root().adcode
}

fn weekday_label(d: NaiveDate) -> &'static str {
    match d.weekday() {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

/// The entries of `year` and its number of working days under the stored calendar.
async fn load_year(app: &AppState, year: i32) -> Result<(Vec<DayEntry>, usize), AppError> {
    Ok(app
        .store
        .read(move |c| {
            let entries = config::calendar_entries(c, year)?;
            let cal = config::calendar(c)?;
            let working = match (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year, 12, 31)) {
                (Some(first), Some(last)) => {
                    first.iter_days().take_while(|d| *d <= last).filter(|d| cal.is_working_day(*d)).count()
                }
                _ => 0,
            };
            Ok((entries, working))
        })
        .await?)
}

struct CalendarPage<'a> {
    year: i32,
    entries: &'a [DayEntry],
    working: usize,
    form: &'a DayForm,
    errors: &'a FieldErrors,
    notice: Option<&'a str>,
}

fn calendar_page(app: &AppState, ctx: &Ctx, cp: &CalendarPage<'_>) -> Markup {
    let editable = is_provincial(app, ctx);
    let year = cp.year;
    let holidays = cp.entries.iter().filter(|e| e.kind == DayKind::Holiday).count();
    let makeups = cp.entries.len() - holidays;
    let kinds: Vec<(String, String)> =
        DayKind::ALL.iter().map(|k| (k.code().to_string(), k.label().to_string())).collect();
    let cols = if editable { 5 } else { 4 };
    page(
        ctx,
        "/config/calendar",
        "节假日配置",
        html! {
            div.page-head {
                h1 { "节假日配置：" (year) " 年" }
                nav.year-nav aria-label="选择年份" {
                    @if year > YEAR_MIN { a href=(ctx.href(&format!("/config/calendar?year={}", year - 1))) { "‹ " (year - 1) " 年" } }
                    @if year < YEAR_MAX { a href=(ctx.href(&format!("/config/calendar?year={}", year + 1))) { (year + 1) " 年 ›" } }
                }
            }
            (notice(cp.notice))
            div.card {
                p.calendar-summary {
                    (year) " 年共有工作日 " strong #working-days { (cp.working) } " 天；"
                    "本年登记放假 " (holidays) " 天、调休上班 " (makeups) " 天。"
                }
                p.hint {
                    "审批时限按工作日计算：周一至周五为工作日，登记为放假的日子除外；登记为调休上班的周六、周日算作工作日。"
                    "节假日按国务院办公厅每年公布的安排全省统一设置。"
                }
                @if !editable {
                    div.notice.warn #calendar-readonly { "节假日全省统一，只有省级系统管理员可以修改。" }
                }
            }
            div.card.table-wrap {
                table.data {
                    caption.sr-only { (year) " 年节假日与调休上班日" }
                    thead { tr { th { "日期" } th { "星期" } th { "类型" } th { "名称" } @if editable { th { "操作" } } } }
                    tbody {
                        @for e in cp.entries {
                            tr {
                                td.nowrap { (e.date.format("%Y-%m-%d")) }
                                td { (weekday_label(e.date)) }
                                td {
                                    @match e.kind {
                                        DayKind::Holiday => span.tag.tag-warn { (e.kind.label()) },
                                        DayKind::MakeupWorkday => span.tag.tag-ok { (e.kind.label()) },
                                    }
                                }
                                td { (e.name) }
                                @if editable {
                                    td.actions {
                                        form.inline method="post" action=(ctx.href("/config/calendar/remove")) {
                                            (csrf_field(ctx))
                                            input type="hidden" name="date" value=(e.date.format("%Y-%m-%d"));
                                            button.link type="submit" aria-label=(format!("删除 {}", e.date.format("%Y-%m-%d"))) { "删除" }
                                        }
                                    }
                                }
                            }
                        }
                        @if cp.entries.is_empty() {
                            tr { td.empty colspan=(cols) { (year) " 年还没有登记节假日；未登记的年份按周一至周五为工作日计算。" } }
                        }
                    }
                }
            }
            @if editable {
                div.card.narrow {
                    h2 { "添加或修改" }
                    p.hint { "已登记的日期再次保存时，以新内容替换。调休上班日须为周六或周日。" }
                    @if !cp.errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                    form method="post" action=(ctx.href("/config/calendar")) {
                        (csrf_field(ctx))
                        input type="hidden" name="year" value=(year);
                        (text_field("date", "日期", &cp.form.date, cp.errors, "date",
                            FieldExtra { required: true, maxlength: Some(10), hint: Some("格式为 YYYY-MM-DD"), ..FieldExtra::default() }))
                        (select_field("kind", "类型", &cp.form.kind, &kinds, cp.errors, true))
                        (text_field("name", "名称", &cp.form.name, cp.errors, "text",
                            FieldExtra { required: true, maxlength: Some(DayEntry::NAME_MAX), hint: Some("所属节日，例如：春节"), ..FieldExtra::default() }))
                        div.form-actions { button.primary type="submit" { "保存" } }
                    }
                }
            }
        },
    )
}

async fn show_calendar(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<CalendarQuery>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let year = year_or_current(&app, q.year.as_deref());
    let (entries, working) = load_year(&app, year).await?;
    let text = match q.notice.as_deref() {
        Some("saved") => Some("节假日已保存。"),
        Some("removed") => Some("节假日记录已删除，该日恢复按星期计算。"),
        _ => None,
    };
    let form = DayForm { kind: DayKind::Holiday.code().to_string(), ..DayForm::default() };
    let cp =
        CalendarPage { year, entries: &entries, working, form: &form, errors: &FieldErrors::default(), notice: text };
    Ok(calendar_page(&app, &ctx, &cp))
}

/// Refuses the request unless the user is the provincial administrator.
fn require_provincial(app: &AppState, ctx: &Ctx) -> Result<(), AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    if is_provincial(app, ctx) { Ok(()) } else { Err(AppError::Forbidden) }
}

async fn set_day(State(app): State<AppState>, ctx: Ctx, Form(form): Form<DayForm>) -> Result<Response, AppError> {
    require_provincial(&app, &ctx)?;
    let entry = match DayEntry::parse(&form.date, &form.kind, &form.name) {
        Ok(e) => e,
        Err(e) => {
            let year = year_or_current(&app, Some(&form.year));
            let (entries, working) = load_year(&app, year).await?;
            let errors = FieldErrors(e);
            let cp = CalendarPage { year, entries: &entries, working, form: &form, errors: &errors, notice: None };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, calendar_page(&app, &ctx, &cp)).into_response());
        }
    };
    let year = entry.date.year();
    let (now, actor) = (app.clock.now(), ctx.actor());
    app.store.write(move |tx| config::set_calendar_day(tx, now, &entry, &actor)).await?;
    Ok(Redirect::to(&ctx.href(&format!("/config/calendar?year={year}&notice=saved"))).into_response())
}

async fn remove_day(State(app): State<AppState>, ctx: Ctx, Form(form): Form<RemoveForm>) -> Result<Response, AppError> {
    require_provincial(&app, &ctx)?;
    let day = parse_date("date", &form.date).map_err(|_| AppError::NotFound)?;
    let (now, actor) = (app.clock.now(), ctx.actor());
    app.store.write(move |tx| config::remove_calendar_day(tx, now, day, &actor)).await?;
    let year = day.year();
    Ok(Redirect::to(&ctx.href(&format!("/config/calendar?year={year}&notice=removed"))).into_response())
}
