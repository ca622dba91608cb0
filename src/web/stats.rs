//! 统计中心: the report pages and their Excel exports. Every page is one definition of `reports/` run with the
//! analyst's filters (region within their own, period, kind); the table is sortable by any column, region rows
//! drill down, the chart is drawn with plotters, and 【导出Excel】 writes the same table, in the same order, with the
//! same filters, to a workbook. Everything works with links and GET forms.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Datelike, NaiveDate, TimeDelta};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::AppState;
use super::download::encode_filename;
use super::error::AppError;
use super::layout::{FieldExtra, page, select_field, text_field};
use super::session::Ctx;
use crate::analytics::charts;
use crate::domain::FieldErrors;
use crate::domain::activity::ActivityKind;
use crate::domain::calendar::parse_date;
use crate::domain::region::{Adcode, RegionTree};
use crate::domain::user::Permission;
use crate::reports::xlsx::{ExportMeta, report_workbook};
use crate::reports::{ChartKind, ColumnFormat, Param, Params, Report, Table, display};
use crate::store::StoreError;
use crate::store::audit::{self, NewAudit};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/stats", get(index))
        .route("/stats/{id}", get(report_page))
        .route("/stats/{id}/export", get(export))
}

/// The content type of xlsx files.
pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The menu entry of the survey statistics, and the reports shown as its tabs.
const SURVEY_MENU: &str = "/stats/survey_by_region";
const SURVEY_TABS: [(&str, &str); 3] =
    [("survey_by_region", "按地区"), ("survey_by_month", "按月份"), ("survey_by_agency", "按风评机构")];

/// The longest period a report accepts, in days.
const MAX_DAYS: i64 = 366 * 10;

/// The most charts a report page draws (one per plotted column).
const MAX_CHARTS: usize = 3;

/// The raw query string of a report page.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct ReportQuery {
    region: Option<String>,
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
}

/// A parsed report view: the filters and the order of the rows.
#[derive(Debug, Clone)]
pub(crate) struct View {
    region: Adcode,
    from: NaiveDate,
    /// The last day, inclusive.
    to: NaiveDate,
    kind: Option<ActivityKind>,
    /// The column sorted by, with `true` for descending.
    sort: Option<(usize, bool)>,
}

impl View {
    /// Parses `q` for `report` and a user of region `scope`. Bad dates and kinds are field errors (the defaults
    /// apply); a region outside the scope is "not found".
    fn parse(
        q: &ReportQuery,
        report: &Report,
        regions: &RegionTree,
        scope: Adcode,
        today: NaiveDate,
    ) -> Result<(View, FieldErrors), AppError> {
        let mut errors = FieldErrors::default();
        let region = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => scope,
            Some(raw) => match Adcode::parse(raw) {
                Some(c) if regions.get(c).is_some() && regions.is_within(c, scope) => c,
                _ => return Err(AppError::NotFound),
            },
        };
        let default_to = today;
        let default_from = NaiveDate::from_ymd_opt(today.year() - 1, today.month(), 1).unwrap_or(today);
        let mut date = |field: &'static str, raw: &Option<String>, default: NaiveDate| match raw
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => default,
            Some(s) => parse_date(field, s).unwrap_or_else(|_| {
                errors.push(field, "请按 YYYY-MM-DD 填写有效日期");
                default
            }),
        };
        let mut from = date("from", &q.from, default_from);
        let mut to = date("to", &q.to, default_to);
        if to < from {
            errors.push("to", "结束日期不能早于开始日期");
            (from, to) = (default_from, default_to);
        } else if (to - from).num_days() > MAX_DAYS {
            errors.push("from", "统计期间最长十年");
            (from, to) = (default_from, default_to);
        }
        let kind = match q.kind.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match ActivityKind::parse(raw) {
                Ok(k) => Some(k),
                Err(_) => {
                    errors.push("kind", "请选择有效的活动类型");
                    None
                }
            },
        };
        let sort = q
            .sort
            .as_deref()
            .and_then(|name| report.column_index(name.trim()))
            .map(|i| (i, q.dir.as_deref() == Some("desc")));
        Ok((View { region, from, to, kind, sort }, errors))
    }

    /// The report's parameters for this view.
    fn params(&self, regions: &RegionTree) -> Params {
        Params::new(regions, self.region, self.from, self.to + TimeDelta::days(1), self.kind.map(|k| k.code().into()))
    }

    /// The query string of this view (without the sort when `with_sort` is false).
    fn query(&self, report: &Report, with_sort: bool) -> String {
        let mut s = format!("region={}&from={}&to={}", self.region, self.from, self.to);
        if let Some(k) = self.kind {
            let _ = write!(s, "&kind={}", k.code());
        }
        if with_sort
            && let Some((i, desc)) = self.sort
            && let Some(c) = report.columns.get(i)
        {
            let _ = write!(s, "&sort={}&dir={}", c.name, if desc { "desc" } else { "asc" });
        }
        s
    }

    /// The link to `path` with this view changed by `f`.
    fn link(&self, ctx: &Ctx, path: &str, report: &Report, f: impl FnOnce(&mut View)) -> String {
        let mut v = self.clone();
        f(&mut v);
        ctx.href(&format!("{path}?{}", v.query(report, true)))
    }

    /// The filters as the 参数 sheet and the audit log name them.
    fn described(&self, report: &Report, regions: &RegionTree) -> Vec<(String, String)> {
        let mut out = vec![
            ("统计地区".to_string(), regions.full_name(self.region)),
            ("统计期间".to_string(), format!("{} 至 {}", self.from, self.to)),
        ];
        if report.has_param(Param::Kind) {
            out.push(("活动类型".into(), self.kind.map_or("全部类型", |k| k.short_label()).into()));
        }
        if let Some((i, desc)) = self.sort
            && let Some(c) = report.columns.get(i)
        {
            out.push(("排序".into(), format!("{}（{}）", c.title, if desc { "从大到小" } else { "从小到大" })));
        }
        out
    }
}

/// Beijing's calendar day now.
fn today(app: &AppState) -> NaiveDate {
    (app.clock.now() + TimeDelta::hours(8)).date()
}

/// The report of a path id; unknown ids are "not found".
fn report_of(app: &AppState, id: Result<Path<String>, PathRejection>) -> Result<Report, AppError> {
    let Ok(Path(id)) = id else { return Err(AppError::NotFound) };
    app.reports.get(id.trim()).cloned().ok_or(AppError::NotFound)
}

/// Runs the report of `view` and sorts it; blocking.
fn run(
    conn: &duckdb::Connection,
    report: &Report,
    view: &View,
    regions: &RegionTree,
) -> crate::store::StoreResult<Table> {
    let mut table = report.run(conn, &view.params(regions))?;
    if let Some((i, desc)) = view.sort {
        table.sort_by(i, desc);
    }
    Ok(table)
}

/// The charts of a report: one per plotted column (at most [`MAX_CHARTS`]), the categories shown as on the page.
fn charts_of(report: &Report, table: &Table, regions: &RegionTree) -> Vec<String> {
    let Some(spec) = &report.chart else { return Vec::new() };
    let Some(cat) = report.column_index(&spec.category) else { return Vec::new() };
    spec.values
        .iter()
        .filter_map(|v| report.column_index(v))
        .take(MAX_CHARTS)
        .map(|i| {
            let column = &report.columns[i];
            let items: Vec<(String, f64)> = table
                .rows
                .iter()
                .filter_map(|row| {
                    let value = row.get(i).and_then(crate::reports::Cell::as_number)?;
                    Some((display(&row[cat], &report.columns[cat], regions), value))
                })
                .collect();
            let percent = column.format == ColumnFormat::Percent;
            match spec.kind {
                ChartKind::Bar => {
                    let height = (90 + 30 * items.len().min(charts::MAX_BARS)).clamp(200, 560);
                    charts::hbar(&column.title, &items, percent, (640, height as u32))
                }
                ChartKind::Column | ChartKind::Line => {
                    let unit = if percent { "比例" } else { column.title.as_str() };
                    let items: Vec<(String, f64)> = if percent {
                        items.into_iter().map(|(l, v)| (l, (v * 1000.0).round() / 10.0)).collect()
                    } else {
                        items
                    };
                    charts::columns(&column.title, &items, if percent { "%" } else { unit }, (640, 340))
                }
            }
        })
        .collect()
}

async fn index(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewStatistics)?;
    Ok(page(
        &ctx,
        "/stats",
        "统计报表",
        html! {
            div.page-head { h1 { "统计报表" } }
            div.report-list {
                @for r in app.reports.all() {
                    section.card {
                        h2 { a href=(ctx.href(&format!("/stats/{}", r.id))) { (r.title) } }
                        p.muted { (r.description) }
                    }
                }
            }
        },
    ))
}

async fn report_page(
    State(app): State<AppState>,
    ctx: Ctx,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewStatistics)?;
    let report = report_of(&app, id)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let (view, errors) = View::parse(&q, &report, &app.regions, ctx.user.region, today(&app))?;
    let (regions, r, v) = (app.regions.clone(), report.clone(), view.clone());
    let (table, charts) = app
        .store
        .read(move |conn| {
            let table = run(conn, &r, &v, &regions)?;
            let charts = charts_of(&r, &table, &regions);
            Ok((table, charts))
        })
        .await?;
    let current = if report.id.starts_with("survey_") { SURVEY_MENU } else { "/stats" };
    Ok(page(&ctx, current, &report.title, render(&app, &ctx, &report, &view, &errors, &table, &charts)))
}

/// The report page of a computed table.
fn render(
    app: &AppState,
    ctx: &Ctx,
    report: &Report,
    view: &View,
    errors: &FieldErrors,
    table: &Table,
    charts: &[String],
) -> Markup {
    let regions = &app.regions;
    let path = format!("/stats/{}", report.id);
    let group = report.group_column();
    html! {
        div.page-head {
            h1 { (report.title) }
            @if report.id.starts_with("survey_") {
                nav.tabs aria-label="勘查统计" {
                    @for (id, label) in SURVEY_TABS {
                        @if id == report.id { strong aria-current="page" { (label) } }
                        @else { a href=(view.link(ctx, &format!("/stats/{id}"), report, |v| v.sort = None)) { (label) } }
                    }
                }
            }
            nav.breadcrumbs aria-label="地区层级" {
                @for (i, r) in regions.path(view.region).iter().filter(|r| regions.is_within(r.adcode, ctx.user.region)).enumerate() {
                    @if i > 0 { span aria-hidden="true" { " › " } }
                    @if r.adcode == view.region { span aria-current="page" { (r.name) } }
                    @else { a href=(view.link(ctx, &path, report, |v| v.region = r.adcode)) { (r.name) } }
                }
            }
        }
        p.muted.description { (report.description) }
        @if !errors.is_empty() {
            div.form-error role="alert" { "部分查询条件无效，已按默认值统计，请修改标红的项目。" }
        }
        (filter_form(ctx, app, report, view, errors, &path))
        div.card.table-wrap {
            div.table-head {
                span { (regions.full_name(view.region)) " · " (view.from) " 至 " (view.to) " · 共 " (table.rows.len()) " 行" }
                a.button href=(ctx.href(&format!("{path}/export?{}", view.query(report, true)))) download { "导出Excel" }
            }
            table.data.report {
                caption.sr-only { (report.title) }
                thead {
                    tr {
                        @for (i, c) in report.columns.iter().enumerate() {
                            @let state = view.sort.filter(|(s, _)| *s == i).map(|(_, d)| d);
                            @let next_desc = match state { Some(true) => false, Some(false) => true, None => c.format.is_numeric() };
                            th.num[c.format.is_numeric()] aria-sort=(match state { Some(true) => "descending", Some(false) => "ascending", None => "none" }) {
                                a href=(view.link(ctx, &path, report, |v| v.sort = Some((i, next_desc)))) title="点击排序" {
                                    (c.title)
                                    @match state { Some(true) => " ▼", Some(false) => " ▲", None => "" }
                                }
                            }
                        }
                    }
                }
                tbody {
                    @for row in &table.rows {
                        tr {
                            @for (i, (c, cell)) in report.columns.iter().zip(row).enumerate() {
                                @let text = display(cell, c, regions);
                                @let drill = (group == Some(i)).then(|| cell.as_region()).flatten()
                                    .filter(|a| *a != view.region && regions.get(*a).is_some() && regions.is_within(*a, ctx.user.region));
                                td.num[c.format.is_numeric()] {
                                    @if let Some(a) = drill { a href=(view.link(ctx, &path, report, |v| v.region = a)) { (text) } }
                                    @else { (text) }
                                }
                            }
                        }
                    }
                    @if table.rows.is_empty() { tr { td.empty colspan=(report.columns.len()) { "所选条件下没有数据" } } }
                }
            }
        }
        @if !charts.is_empty() {
            div.charts {
                @for svg in charts { figure.card.chart { (PreEscaped(svg)) } }
            }
        }
    }
}

fn filter_form(ctx: &Ctx, app: &AppState, report: &Report, view: &View, errors: &FieldErrors, path: &str) -> Markup {
    let mut kinds = vec![(String::new(), "全部类型".to_string())];
    kinds.extend(ActivityKind::ALL.iter().map(|k| (k.code().to_string(), k.short_label().to_string())));
    let regions = super::layout::region_options(&app.regions, ctx.user.region);
    let date_extra = FieldExtra { maxlength: Some(10), hint: Some("YYYY-MM-DD"), ..FieldExtra::default() };
    html! {
        form.filters.card method="get" action=(path) aria-label="统计条件" {
            @if ctx.embed { input type="hidden" name="embed" value="1"; }
            (select_field("region", "统计地区", &view.region.to_string(), &regions, errors, false))
            @if report.has_param(Param::Dates) {
                (text_field("from", "开始日期", &view.from.to_string(), errors, "date", date_extra))
                (text_field("to", "结束日期", &view.to.to_string(), errors, "date", date_extra))
            }
            @if report.has_param(Param::Kind) {
                (select_field("kind", "活动类型", view.kind.map_or("", |k| k.code()), &kinds, errors, false))
            }
            @if let Some((i, desc)) = view.sort {
                @if let Some(c) = report.columns.get(i) {
                    input type="hidden" name="sort" value=(c.name);
                    input type="hidden" name="dir" value=(if desc { "desc" } else { "asc" });
                }
            }
            button type="submit" { "统计" }
        }
    }
}

/// The user as the 参数 sheet names them.
pub(crate) fn exporter(ctx: &Ctx) -> String {
    format!("{}（{}）", ctx.user.real_name, ctx.user.login_name)
}

/// Beijing's time now, as the 参数 sheet shows it.
pub(crate) fn beijing_now(app: &AppState) -> chrono::NaiveDateTime {
    app.clock.now() + TimeDelta::hours(8)
}

/// Records an export in the audit log (before the file leaves): who exported which data with which filters.
pub(crate) async fn audit_export(
    app: &AppState,
    ctx: &Ctx,
    action: &'static str,
    object: String,
    filters: &[(String, String)],
) -> Result<(), AppError> {
    let actor = ctx.actor();
    let now = app.clock.now();
    let detail = filters.iter().map(|(k, v)| format!("{k}：{v}")).collect::<Vec<_>>().join("；");
    app.store
        .write(move |tx| {
            let (object, detail) = (object.clone(), detail.clone());
            audit::append(tx, now, NewAudit { actor: &actor, action, object, ok: true, detail })
        })
        .await?;
    Ok(())
}

/// An xlsx download named `name`.
pub(crate) fn xlsx_response(name: &str, body: axum::body::Body) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", encode_filename(name)))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    ([(header::CONTENT_TYPE, HeaderValue::from_static(XLSX)), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

async fn export(
    State(app): State<AppState>,
    ctx: Ctx,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ViewStatistics)?;
    let report = report_of(&app, id)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let (view, errors) = View::parse(&q, &report, &app.regions, ctx.user.region, today(&app))?;
    if !errors.is_empty() {
        // An export must say exactly what it holds: bad filters are corrected on the page first.
        let first = errors.0.first().map_or("", |e| e.message.as_str());
        return Err(AppError::BadRequest(format!(
            "统计条件无效：{first}。请返回统计页面修改后再导出，未生成任何文件。"
        )));
    }
    let filters = view.described(&report, &app.regions);
    audit_export(&app, &ctx, "stats.export", format!("report:{} {}", report.id, report.title), &filters).await?;
    let meta = ExportMeta { user: exporter(&ctx), generated_at: beijing_now(&app), filters };
    let (regions, r, v) = (app.regions.clone(), Arc::new(report.clone()), view.clone());
    let bytes = app
        .store
        .read(move |conn| {
            let table = run(conn, &r, &v, &regions)?;
            report_workbook(&r, &table, &meta, &regions)
                .map_err(|e| StoreError::Conflict(format!("生成Excel失败：{e}")))
        })
        .await?;
    let name = format!("{}-{}-{}至{}.xlsx", report.title, app.regions.name(view.region), view.from, view.to);
    Ok(xlsx_response(&name, axum::body::Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::Catalog;

    fn report(id: &str) -> Report {
        Catalog::builtin().expect("catalog").get(id).expect("report").clone()
    }

    #[test]
    fn a_view_survives_its_own_query_string() {
        let regions = crate::setup::load_regions(None).expect("regions");
        let r = report("survey_by_region");
        let scope = regions.root().adcode;
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let q: ReportQuery = serde_urlencoded::from_str(
            "region=330100&from=2026-01-01&to=2026-06-30&kind=sports&sort=feedback_rate&dir=desc",
        )
        .expect("query");
        let (v, errors) = View::parse(&q, &r, &regions, scope, today).expect("view");
        assert!(errors.is_empty());
        assert_eq!(v.sort, Some((4, true)));
        let again: ReportQuery = serde_urlencoded::from_str(&v.query(&r, true)).expect("query");
        let (w, _) = View::parse(&again, &r, &regions, scope, today).expect("view");
        assert_eq!(v.query(&r, true), w.query(&r, true));
        let p = w.params(&regions);
        assert_eq!(p.to, NaiveDate::from_ymd_opt(2026, 7, 1).expect("date"), "the last day is inclusive");
        assert_eq!(p.depth, 2);
    }

    #[test]
    fn bad_values_become_messages_and_defaults_and_foreign_regions_are_not_found() {
        let regions = crate::setup::load_regions(None).expect("regions");
        let r = report("survey_by_region");
        let hangzhou = Adcode::parse("330100").expect("code");
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let q: ReportQuery = serde_urlencoded::from_str("from=2026-02-30&to=x&kind=opera&sort=nope").expect("q");
        let (v, errors) = View::parse(&q, &r, &regions, hangzhou, today).expect("view");
        for f in ["from", "to", "kind"] {
            assert!(errors.get(f).is_some(), "{f}");
        }
        assert_eq!((v.region, v.sort, v.to), (hangzhou, None, today));
        assert_eq!(v.from, NaiveDate::from_ymd_opt(2025, 12, 1).expect("date"), "from the same month a year ago");
        let q: ReportQuery = serde_urlencoded::from_str("region=330200").expect("q");
        assert!(matches!(View::parse(&q, &r, &regions, hangzhou, today), Err(AppError::NotFound)));
        let q: ReportQuery = serde_urlencoded::from_str("from=2026-05-01&to=2026-04-01").expect("q");
        let (_, errors) = View::parse(&q, &r, &regions, hangzhou, today).expect("view");
        assert!(errors.get("to").is_some());
    }
}
