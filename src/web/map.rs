//! 地图势态: the situation map for commanders. An SVG choropleth of the region's cities (or counties), drill-down by
//! clicking, breadcrumbs back, a selectable classification with its legend, count or density, filters, venue dots,
//! and the right panel (活动比例, 观众数量, 场馆活动, 风评机构活动). The URL holds the whole view; everything works
//! with links and GET forms, without JavaScript.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::{NaiveDate, TimeDelta};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{FieldExtra, page, select_field, text_field};
use super::session::Ctx;
use crate::analytics::charts;
use crate::analytics::classify::Method;
use crate::analytics::map::{self, MapFigures, MapQuery, Metric, Shaded, UnitRow};
use crate::analytics::svgmap::{self, ViewGeometry, WIDTH};
use crate::domain::FieldErrors;
use crate::domain::activity::ActivityKind;
use crate::domain::calendar::parse_date;
use crate::domain::region::{Adcode, RegionLevel, RegionTree};
use crate::domain::user::Permission;
use crate::domain::workflow::Status;
use crate::geo::shapes::Shapes;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/map", get(map_page))
}

/// The raw query string of the map.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct MapParams {
    region: Option<String>,
    layer: Option<String>,
    metric: Option<String>,
    method: Option<String>,
    k: Option<String>,
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    dots: Option<String>,
}

/// Which units a province view draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    City,
    County,
}

/// A fully parsed view: everything the URL can say.
#[derive(Debug, Clone)]
pub(crate) struct View {
    region: Adcode,
    layer: Layer,
    metric: Metric,
    method: Method,
    k: usize,
    from: NaiveDate,
    to: NaiveDate,
    kind: Option<ActivityKind>,
    status: Option<Status>,
    dots: bool,
}

/// The classes a legend may have.
const K_CHOICES: [usize; 5] = [3, 4, 5, 6, 7];

/// The longest period the map accepts, in days.
const MAX_DAYS: i64 = 366 * 10;

impl View {
    /// Parses the query for a user of region `scope`; bad values become field errors and their defaults. A region
    /// outside the scope is "not found".
    fn parse(
        q: &MapParams,
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
        let mut date = |field: &'static str, raw: &Option<String>, default: NaiveDate| match raw
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => default,
            Some(s) => parse_date(field, s).unwrap_or_else(|e| {
                errors.push(field, e.message);
                default
            }),
        };
        let default_from = today - TimeDelta::days(365);
        let default_to = today + TimeDelta::days(60);
        let mut from = date("from", &q.from, default_from);
        let mut to = date("to", &q.to, default_to);
        if to < from {
            errors.push("to", "结束日期不能早于开始日期");
            (from, to) = (default_from, default_to);
        } else if (to - from).num_days() > MAX_DAYS {
            errors.push("from", "查询期间最长十年");
            (from, to) = (default_from, default_to);
        }
        let kind = match q.kind.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => ActivityKind::parse(raw).map_err(|_| errors.push("kind", "请选择有效的活动类型")).ok(),
        };
        let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => {
                let s = Status::parse(raw);
                if s.is_none() {
                    errors.push("status", "请选择有效的办理状态");
                }
                s
            }
        };
        let method = q.method.as_deref().and_then(Method::parse).unwrap_or(Method::Quantile);
        let metric = q.metric.as_deref().and_then(Metric::parse).unwrap_or(Metric::Count);
        let k = q.k.as_deref().and_then(|k| k.trim().parse().ok()).filter(|k| K_CHOICES.contains(k)).unwrap_or(5);
        let layer = if q.layer.as_deref() == Some("county") { Layer::County } else { Layer::City };
        let dots = q.dots.as_deref() == Some("1");
        Ok((View { region, layer, metric, method, k, from, to, kind, status, dots }, errors))
    }

    /// The query string of this view.
    fn query(&self) -> String {
        let mut s = format!(
            "region={}&metric={}&method={}&k={}&from={}&to={}",
            self.region,
            self.metric.code(),
            self.method.code(),
            self.k,
            self.from.format("%Y-%m-%d"),
            self.to.format("%Y-%m-%d")
        );
        if self.layer == Layer::County {
            s.push_str("&layer=county");
        }
        if let Some(k) = self.kind {
            let _ = write!(s, "&kind={}", k.code());
        }
        if let Some(st) = self.status {
            let _ = write!(s, "&status={}", st.code());
        }
        if self.dots {
            s.push_str("&dots=1");
        }
        s
    }

    /// The link to this view, changed by `f`.
    fn link(&self, ctx: &Ctx, f: impl FnOnce(&mut View)) -> String {
        let mut v = self.clone();
        f(&mut v);
        ctx.href(&format!("/map?{}", v.query()))
    }

    /// The drawn units and their level (2 cities, 3 counties).
    fn units(&self, regions: &RegionTree) -> (Vec<Adcode>, usize) {
        let Some(r) = regions.get(self.region) else { return (Vec::new(), 3) };
        match r.level {
            RegionLevel::Province if self.layer == Layer::City => {
                (regions.children(self.region).map(|c| c.adcode).collect(), 2)
            }
            RegionLevel::Province => (
                regions
                    .subtree(self.region)
                    .into_iter()
                    .filter(|c| c.level == RegionLevel::County)
                    .map(|c| c.adcode)
                    .collect(),
                3,
            ),
            RegionLevel::City => (regions.children(self.region).map(|c| c.adcode).collect(), 3),
            RegionLevel::County => (vec![self.region], 3),
        }
    }

    fn map_query(&self, regions: &RegionTree, unit_depth: usize) -> MapQuery {
        MapQuery {
            scope: self.region,
            scope_path: regions.path_key(self.region),
            scope_depth: regions.path(self.region).len(),
            unit_depth,
            from: self.from,
            to: self.to,
            kind: self.kind.map(|k| k.code().to_string()),
            status: self.status.map(|s| s.code().to_string()),
        }
    }
}

/// Everything computed for one view, off the async workers.
pub(crate) struct Computed {
    figures: MapFigures,
    shaded: Shaded,
    geometry: std::sync::Arc<ViewGeometry>,
    kind_chart: String,
    month_chart: String,
    venue_chart: String,
    agency_chart: String,
}

/// Runs the queries, shades the regions and draws the charts of `view`; blocking.
fn compute(conn: &duckdb::Connection, regions: &RegionTree, view: &View) -> crate::store::StoreResult<Computed> {
    let (units, unit_depth) = view.units(regions);
    let figures = map::figures(conn, &view.map_query(regions, unit_depth), view.dots)?;
    let shapes = Shapes::builtin();
    let unit_attrs: Vec<(Adcode, String, Option<f64>)> =
        units.iter().map(|u| (*u, regions.name(*u), shapes.get(*u).map(|s| s.area_km2))).collect();
    let shaded = map::shade(&unit_attrs, &figures.units, view.metric, view.method, view.k)?;
    let geometry = svgmap::view_geometry(shapes, &units);
    let p = &figures.panels;
    let total = p.activities.max(1) as f64;
    let kinds: Vec<(String, f64)> = p.kinds.iter().map(|(code, n, _)| (kind_label(code), *n as f64 / total)).collect();
    let months: Vec<(String, f64)> =
        p.months.iter().map(|(m, _, a)| (m.format("%Y-%m").to_string(), *a as f64)).collect();
    let venues: Vec<(String, f64)> = p.venues.iter().map(|(n, c)| (n.clone(), *c as f64)).collect();
    let agencies: Vec<(String, f64)> = p.agencies.iter().map(|(n, c)| (n.clone(), *c as f64)).collect();
    Ok(Computed {
        kind_chart: charts::hbar("活动比例", &kinds, true, (560, 300)),
        month_chart: charts::columns("观众数量（按月）", &months, "人次", (560, 320)),
        venue_chart: charts::hbar("场馆活动", &venues, false, (560, 420)),
        agency_chart: charts::hbar("风评机构活动", &agencies, false, (560, 420)),
        figures,
        shaded,
        geometry,
    })
}

fn kind_label(code: &str) -> String {
    ActivityKind::parse(code).map_or_else(|_| code.to_string(), |k| k.short_label().to_string())
}

/// Beijing's calendar day now.
pub(crate) fn today(app: &AppState) -> NaiveDate {
    (app.clock.now() + TimeDelta::hours(8)).date()
}

async fn map_page(State(app): State<AppState>, ctx: Ctx, Query(q): Query<MapParams>) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewMap)?;
    let (view, errors) = View::parse(&q, &app.regions, ctx.user.region, today(&app))?;
    let regions = app.regions.clone();
    let v = view.clone();
    let computed = app.store.read(move |conn| compute(conn, &regions, &v)).await?;
    Ok(page(&ctx, "/map", "地图势态", render(&app, &ctx, &view, &errors, &computed)))
}

/// The page of a computed view; also used by the benchmark.
pub(crate) fn render(app: &AppState, ctx: &Ctx, view: &View, errors: &FieldErrors, c: &Computed) -> Markup {
    let regions = &app.regions;
    let title = format!("{}{}", regions.name(view.region), view.metric.label());
    html! {
        div.page-head {
            h1 { "地图势态" }
            nav.breadcrumbs aria-label="地区层级" {
                @for (i, r) in regions.path(view.region).iter().filter(|r| regions.is_within(r.adcode, ctx.user.region)).enumerate() {
                    @if i > 0 { span aria-hidden="true" { " › " } }
                    @if r.adcode == view.region { span aria-current="page" { (r.name) } }
                    @else { a href=(view.link(ctx, |v| { v.region = r.adcode; v.layer = Layer::City; })) { (r.name) } }
                }
            }
        }
        (filter_form(ctx, view, errors))
        div.map-layout {
            section.card.map-card aria-labelledby="map-heading" {
                h2 #map-heading { (title) "（" (view.from.format("%Y-%m-%d")) " 至 " (view.to.format("%Y-%m-%d")) "）" }
                (view_switches(ctx, view, regions))
                (map_svg(ctx, view, regions, c))
                (legend(view, &c.shaded))
                (region_table(ctx, view, regions, &c.shaded))
            }
            aside.panels aria-label="统计面板" {
                section.card.panel {
                    h2 { "活动比例" }
                    p.big { "活动总数 " strong { (charts::thousands(c.figures.panels.activities as f64)) } " 场" }
                    (PreEscaped(&c.kind_chart))
                    table.data.compact {
                        caption.sr-only { "各类型活动数" }
                        thead { tr { th { "活动类型" } th.num { "活动数" } th.num { "比例" } } }
                        tbody {
                            @for (code, n, _) in &c.figures.panels.kinds {
                                tr { td { (kind_label(code)) } td.num { (charts::thousands(*n as f64)) } td.num { (percent(*n, c.figures.panels.activities)) } }
                            }
                        }
                    }
                }
                section.card.panel {
                    h2 { "观众数量" }
                    p.big { "观众总数 " strong { (charts::thousands(c.figures.panels.audience as f64)) } " 人次" }
                    (PreEscaped(&c.month_chart))
                }
                section.card.panel {
                    h2 { "场馆活动" }
                    (PreEscaped(&c.venue_chart))
                }
                section.card.panel {
                    h2 { "风评机构活动" }
                    (PreEscaped(&c.agency_chart))
                }
            }
        }
    }
}

fn percent(n: i64, total: i64) -> String {
    if total == 0 { "—".to_string() } else { format!("{:.1}%", n as f64 * 100.0 / total as f64) }
}

fn filter_form(ctx: &Ctx, view: &View, errors: &FieldErrors) -> Markup {
    let mut kinds = vec![(String::new(), "全部类型".to_string())];
    kinds.extend(ActivityKind::ALL.iter().map(|k| (k.code().to_string(), k.short_label().to_string())));
    let mut statuses = vec![(String::new(), "全部状态".to_string())];
    statuses.extend(Status::ALL.iter().map(|s| (s.code().to_string(), s.label().to_string())));
    let methods: Vec<(String, String)> =
        Method::ALL.iter().map(|m| (m.code().to_string(), m.label().to_string())).collect();
    let ks: Vec<(String, String)> = K_CHOICES.iter().map(|k| (k.to_string(), format!("{k} 级"))).collect();
    let metrics: Vec<(String, String)> =
        [Metric::Count, Metric::Density].iter().map(|m| (m.code().to_string(), m.label().to_string())).collect();
    html! {
        form.filters.card method="get" action="/map" aria-label="地图筛选" {
            @if ctx.embed { input type="hidden" name="embed" value="1"; }
            input type="hidden" name="region" value=(view.region);
            @if view.layer == Layer::County { input type="hidden" name="layer" value="county"; }
            (text_field("from", "开始日期", &view.from.format("%Y-%m-%d").to_string(), errors, "date", FieldExtra::default()))
            (text_field("to", "结束日期", &view.to.format("%Y-%m-%d").to_string(), errors, "date", FieldExtra::default()))
            (select_field("kind", "活动类型", view.kind.map_or("", |k| k.code()), &kinds, errors, false))
            (select_field("status", "办理状态", view.status.map_or("", |s| s.code()), &statuses, errors, false))
            (select_field("metric", "指标", view.metric.code(), &metrics, errors, false))
            (select_field("method", "分级方法", view.method.code(), &methods, errors, false))
            (select_field("k", "分级数", &view.k.to_string(), &ks, errors, false))
            div.field.check {
                input #f-dots type="checkbox" name="dots" value="1" checked[view.dots];
                label for="f-dots" { "显示场馆" }
            }
            button type="submit" { "查询" }
        }
    }
}

fn view_switches(ctx: &Ctx, view: &View, regions: &RegionTree) -> Markup {
    let province = regions.get(view.region).is_some_and(|r| r.level == RegionLevel::Province);
    html! {
        div.switches {
            @if province {
                span { "显示层级：" }
                @for (layer, label) in [(Layer::City, "按市"), (Layer::County, "按县（市、区）")] {
                    @if view.layer == layer { strong aria-current="true" { (label) } }
                    @else { a href=(view.link(ctx, |v| v.layer = layer)) { (label) } }
                }
            }
            span { "指标：" }
            @for m in [Metric::Count, Metric::Density] {
                @if view.metric == m { strong aria-current="true" { (m.label()) } }
                @else { a href=(view.link(ctx, |v| v.metric = m)) { (m.label()) } }
            }
            @if view.dots { a href=(view.link(ctx, |v| v.dots = false)) { "隐藏场馆" } }
            @else { a href=(view.link(ctx, |v| v.dots = true)) { "显示场馆" } }
        }
    }
}

/// A figure for people: integers with separators, densities with one decimal.
fn value_text(metric: Metric, v: f64) -> String {
    match metric {
        Metric::Count => charts::thousands(v.round()),
        Metric::Density => format!("{v:.1}"),
    }
}

fn fill(row: &UnitRow, colours: &[&'static str]) -> &'static str {
    match (row.value, row.class) {
        (None, _) => "url(#no-data)",
        (Some(_), Some(c)) => colours.get(c).copied().unwrap_or(charts::NO_DATA),
        (Some(_), None) => charts::ZERO,
    }
}

fn tooltip(view: &View, row: &UnitRow) -> String {
    let mut t = format!(
        "{}：活动 {} 场，观众 {} 人次",
        row.name,
        charts::thousands(row.activities as f64),
        charts::thousands(row.audience as f64)
    );
    match (view.metric, row.density) {
        (Metric::Density, Some(d)) => {
            let _ = write!(t, "，每万平方公里 {d:.1} 场");
        }
        (Metric::Density, None) => t.push_str("，面积未知（无数据）"),
        _ => {}
    }
    t
}

fn map_svg(ctx: &Ctx, view: &View, regions: &RegionTree, c: &Computed) -> Markup {
    let g = &c.geometry;
    let colours = charts::sequential(c.shaded.breaks.len().max(1));
    let drillable = |a: Adcode| a != view.region && regions.get(a).is_some();
    let rows: std::collections::HashMap<Adcode, &UnitRow> = c.shaded.rows.iter().map(|r| (r.adcode, r)).collect();
    let h = g.projection.height;
    let max_dot = c.figures.dots.iter().map(|d| d.activities).max().unwrap_or(1).max(1) as f64;
    html! {
        svg.choropleth viewBox=(format!("0 0 {WIDTH} {h:.0}")) role="group" aria-labelledby="map-heading"
            preserveAspectRatio="xMidYMid meet" {
            defs {
                pattern #no-data width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                    rect width="8" height="8" fill=(charts::NO_DATA) {}
                    line x1="0" y1="0" x2="0" y2="8" stroke="#888" stroke-width="2" {}
                }
            }
            g.regions {
                @for (adcode, d) in &g.paths {
                    @if let Some(row) = rows.get(adcode) {
                        @if drillable(*adcode) {
                            a href=(view.link(ctx, |v| { v.region = *adcode; v.layer = Layer::City; })) aria-label=(tooltip(view, row)) {
                                path.region d=(d) fill=(fill(row, &colours)) { title { (tooltip(view, row)) } }
                            }
                        } @else {
                            path.region d=(d) fill=(fill(row, &colours)) role="img" aria-label=(tooltip(view, row)) { title { (tooltip(view, row)) } }
                        }
                    }
                }
            }
            @if g.paths.len() <= 30 {
                g.labels aria-hidden="true" {
                    @for row in &c.shaded.rows {
                        @if let Some((x, y)) = g.anchors.get(&row.adcode) {
                            text x=(format!("{x:.0}")) y=(format!("{y:.0}")) text-anchor="middle" {
                                tspan x=(format!("{x:.0}")) { (row.name) }
                                tspan x=(format!("{x:.0}")) dy="1.2em" { (row.value.map_or("无数据".to_string(), |v| value_text(view.metric, v))) }
                            }
                        }
                    }
                }
            }
            @if view.dots {
                g.dots {
                    @for d in &c.figures.dots {
                        @let (x, y) = g.projection.point(::geo::Coord { x: d.lon, y: d.lat });
                        circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r=(format!("{:.1}", 3.0 + 9.0 * (d.activities as f64 / max_dot).sqrt())) {
                            title { (d.name) "：活动 " (charts::thousands(d.activities as f64)) " 场" }
                        }
                    }
                }
            }
        }
    }
}

fn legend(view: &View, s: &Shaded) -> Markup {
    let colours = charts::sequential(s.breaks.len().max(1));
    html! {
        div.legend role="group" aria-label="图例" {
            div.legend-title { (view.metric.label()) " · " (view.method.label()) }
            ul {
                @for (i, r) in s.ranges.iter().enumerate() {
                    li {
                        (swatch(colours.get(i).copied().unwrap_or(charts::NO_DATA)))
                        span.range { (value_text(view.metric, r.lower)) " – " (value_text(view.metric, r.upper)) }
                        span.count { (r.count) " 个地区" }
                    }
                }
                li {
                    (swatch(charts::ZERO))
                    span.range { "0（无活动）" }
                    span.count { (s.zero) " 个地区" }
                }
                li {
                    span.swatch.no-data aria-hidden="true" {}
                    span.range { "无数据" }
                    span.count { (s.no_data) " 个地区" }
                }
            }
        }
    }
}

/// A legend's colour box: an SVG fill, since the CSP (`style-src 'self'`) drops inline `style` attributes.
fn swatch(colour: &str) -> Markup {
    html! {
        svg.swatch viewBox="0 0 14 9" preserveAspectRatio="none" aria-hidden="true" focusable="false" {
            rect width="14" height="9" fill=(colour) {}
        }
    }
}

fn region_table(ctx: &Ctx, view: &View, regions: &RegionTree, s: &Shaded) -> Markup {
    html! {
        details.region-table {
            summary { "各地区数据表" }
            table.data.compact {
                caption.sr-only { "各地区活动数、观众数与密度" }
                thead { tr { th { "地区" } th.num { "活动数" } th.num { "观众人次" } th.num { "每万平方公里" } th { "分级" } } }
                tbody {
                    @for r in &s.rows {
                        tr {
                            td {
                                @if r.adcode != view.region && regions.get(r.adcode).is_some() {
                                    a href=(view.link(ctx, |v| { v.region = r.adcode; v.layer = Layer::City; })) { (r.name) }
                                } @else { (r.name) }
                            }
                            td.num { (charts::thousands(r.activities as f64)) }
                            td.num { (charts::thousands(r.audience as f64)) }
                            td.num { (r.density.map_or("—".to_string(), |d| format!("{d:.1}"))) }
                            td { (match (r.value, r.class) { (None, _) => "无数据".to_string(), (Some(_), None) => "0".to_string(), (Some(_), Some(c)) => format!("第 {} 级", c + 1) }) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_survives_its_own_query_string() {
        let regions = crate::setup::load_regions(None).expect("regions");
        let scope = regions.root().adcode;
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let q: MapParams = serde_urlencoded::from_str(
            "region=330100&metric=density&method=jenks&k=4&from=2026-01-01&to=2026-06-30&kind=sports&status=permitted&dots=1",
        )
        .expect("query");
        let (v, errors) = View::parse(&q, &regions, scope, today).expect("view");
        assert!(errors.is_empty());
        let again: MapParams = serde_urlencoded::from_str(&v.query()).expect("query");
        let (w, _) = View::parse(&again, &regions, scope, today).expect("view");
        assert_eq!(v.query(), w.query());
        assert_eq!(w.method, Method::NaturalBreaks);
        assert_eq!(w.k, 4);
        assert!(w.dots);
    }

    #[test]
    fn bad_values_become_messages_and_defaults_and_foreign_regions_are_not_found() {
        let regions = crate::setup::load_regions(None).expect("regions");
        let hangzhou = Adcode::parse("330100").expect("code");
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let q: MapParams =
            serde_urlencoded::from_str("from=2026-13-01&to=x&kind=opera&status=zzz&k=99&method=x").expect("q");
        let (v, errors) = View::parse(&q, &regions, hangzhou, today).expect("view");
        for f in ["from", "to", "kind", "status"] {
            assert!(errors.get(f).is_some(), "{f}");
        }
        assert_eq!(v.region, hangzhou);
        assert_eq!(v.k, 5);
        assert_eq!(v.from, today - TimeDelta::days(365));
        let q: MapParams = serde_urlencoded::from_str("region=330200").expect("q");
        assert!(matches!(View::parse(&q, &regions, hangzhou, today), Err(AppError::NotFound)));
        let q: MapParams = serde_urlencoded::from_str("from=2026-05-01&to=2026-04-01").expect("q");
        let (_, errors) = View::parse(&q, &regions, hangzhou, today).expect("view");
        assert!(errors.get("to").is_some());
    }
}
