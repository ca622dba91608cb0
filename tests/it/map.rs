//! 地图势态: every number on the map page equals a plain SQL count over the same filters, for several filter
//! combinations; drill-down, breadcrumbs, classification and region scope.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::NaiveDate;

use crate::harness::TestApp;
use anxu::demo_data::{DemoSpec, generate};
use anxu::geo::shapes::Shapes;

/// An app with the demo users and a generated province-wide data set.
pub async fn app_with_demo_data(activities: usize) -> TestApp {
    let app = TestApp::new();
    let regions = app.state.regions.clone();
    let spec = DemoSpec { activities, seed: 7, today: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() };
    app.state.store.write(move |tx| generate(tx, &regions, Shapes::builtin(), &spec)).await.unwrap();
    app
}

fn number(s: &str) -> i64 {
    s.replace([',', ' '], "").parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// The region table of the page: name → (activities, audience).
fn page_table(r: &crate::harness::Resp) -> BTreeMap<String, (i64, i64)> {
    let cells = r.texts(".region-table tbody td");
    cells.chunks(5).map(|c| (c[0].trim().to_string(), (number(&c[1]), number(&c[2])))).collect()
}

/// The same figures by plain SQL: activities whose start falls in the period, grouped by the named level of the
/// counties they take place in (a join through the parent, not the path the application uses).
async fn sql_table(app: &TestApp, by_city: bool, within: &str, filter: &str) -> BTreeMap<String, (i64, i64)> {
    // One row per activity and drawn unit: an activity in two counties of one city counts once for the city.
    let unit_of = if by_city { "c.parent" } else { "c.adcode" };
    let sql = format!(
        "SELECT string_agg(u.name || '=' || n || '/' || aud, ';' ORDER BY u.name) FROM (
            SELECT x.unit, count(*) AS n, sum(x.attendance::BIGINT * x.sessions) AS aud FROM (
                SELECT DISTINCT a.id, a.attendance, a.sessions, {unit_of} AS unit
                FROM activities a, activity_regions ar, regions c
                WHERE ar.activity_id = a.id AND c.adcode = ar.region AND ({within}) AND ({filter})
            ) x GROUP BY 1
        ) t JOIN regions u ON u.adcode = t.unit"
    );
    let text = app.text(&format!("SELECT coalesce(({sql}), '')")).await;
    text.split(';')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let (n, aud) = v.split_once('/').unwrap();
            (k.to_string(), (n.parse().unwrap(), aud.parse().unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn every_number_equals_plain_sql_for_several_filter_combinations() {
    let app = app_with_demo_data(2500).await;
    let c = app.login_as("zj_commander").await;
    let cases: &[(&str, bool, &str, &str)] = &[
        ("from=2025-01-01&to=2026-12-31", true, "true", "a.start_at >= '2025-01-01' AND a.start_at < '2027-01-01'"),
        (
            "from=2025-06-01&to=2026-05-31&kind=performance",
            true,
            "true",
            "a.start_at >= '2025-06-01' AND a.start_at < '2026-06-01' AND a.kind = 'performance'",
        ),
        (
            "from=2024-12-01&to=2027-01-31&status=permitted&layer=county",
            false,
            "true",
            "a.start_at >= '2024-12-01' AND a.start_at < '2027-02-01' AND a.status = 'permitted'",
        ),
        (
            "region=330100&from=2025-01-01&to=2026-12-31&kind=sports",
            false,
            "c.parent = 330100",
            "a.start_at >= '2025-01-01' AND a.start_at < '2027-01-01' AND a.kind = 'sports'",
        ),
        (
            "region=330200&from=2026-01-01&to=2026-12-31&status=in_approval&metric=density&method=jenks&k=3",
            false,
            "c.parent = 330200",
            "a.start_at >= '2026-01-01' AND a.start_at < '2027-01-01' AND a.status = 'in_approval'",
        ),
    ];
    for (query, by_city, within, filter) in cases {
        let r = c.get(&format!("/map?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
        let expected = sql_table(&app, *by_city, within, filter).await;
        let shown = page_table(&r);
        // Every region with activities shows SQL's figures; every other drawn region shows zero.
        for (name, figures) in &shown {
            assert_eq!(expected.get(name).copied().unwrap_or((0, 0)), *figures, "{query}: {name}");
        }
        for name in expected.keys() {
            assert!(shown.contains_key(name), "{query}: {name} is missing on the page");
        }
        // The panel's total: distinct activities of the whole region under the filters.
        let total = app
            .scalar(&format!(
                "SELECT count(DISTINCT a.id) FROM activities a, activity_regions ar, regions c
                 WHERE ar.activity_id = a.id AND c.adcode = ar.region AND ({within}) AND ({filter})"
            ))
            .await;
        let big = r.texts("p.big strong");
        assert_eq!(number(&big[0]), total, "{query}");
        // By kind: the panel's table.
        let kinds = r.texts(".panels table tbody td");
        let shown_sum: i64 = kinds.chunks(3).map(|c| number(&c[1])).sum();
        assert_eq!(shown_sum, total, "{query}");
    }
}

#[tokio::test]
async fn drill_down_breadcrumbs_legend_and_scope() {
    let app = app_with_demo_data(1500).await;
    let c = app.login_as("zj_commander").await;
    let r = c.get("/map").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.texts("svg.choropleth path.region").len(), 11, "one path per city");
    assert!(r.has("svg.choropleth a[href^='/map?region=330100']"), "a city links to its drill-down");
    let r = c.get("/map?region=330100&method=equal&k=3").await;
    assert_eq!(r.texts("svg.choropleth path.region").len(), 13, "杭州市's counties");
    assert_eq!(r.texts("nav.breadcrumbs a"), vec!["浙江省"]);
    assert!(r.texts(".legend .legend-title")[0].contains("等间距"));
    let classes = r.texts(".legend li").len();
    assert!(classes <= 3 + 2, "k classes plus zero and no data");
    let jenks = c.get("/map?region=330100&method=jenks&k=7").await;
    assert_ne!(jenks.texts(".legend li"), r.texts(".legend li"), "the legend follows the classification");
    // A county is shown alone; a bad filter is explained and changes nothing else.
    let r = c.get("/map?region=330106&from=2026-02-30").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.field_error("from").is_some());
    assert_eq!(r.texts("nav.breadcrumbs a"), vec!["浙江省", "杭州市"]);
    // Venue dots on demand.
    let r = c.get("/map?region=330100&dots=1&from=2024-01-01&to=2027-12-31").await;
    assert!(r.has("svg.choropleth g.dots circle"));
    // Regions outside the user's scope, and users without the map.
    let r = c.get("/map?region=999999").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let approver = app.login_as("xh_keyuan").await;
    assert_eq!(approver.get("/map").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_county_layer_svg_stays_small() {
    let app = app_with_demo_data(200).await;
    let c = app.login_as("zj_commander").await;
    let r = c.get("/map?layer=county").await;
    assert_eq!(r.texts("svg.choropleth path.region").len(), 90);
    let start = r.body.find("<svg class=\"choropleth\"").unwrap();
    let end = r.body[start..].find("</svg>").unwrap();
    assert!(end < 300 * 1024, "the county SVG has {end} bytes");
}

#[tokio::test]
async fn generated_applications_in_approval_can_be_approved_by_their_bureau() {
    let app = app_with_demo_data(3000).await;
    let id = app
        .scalar(
            "SELECT coalesce(min(id), 0) FROM activities WHERE starts_with(portal_ref, 'DEMO-')
             AND status = 'in_approval' AND step = 0 AND bureau IN (330100, 330106)",
        )
        .await;
    assert!(id > 0, "the demo data has a 杭州市 or 西湖区 application at its first approval step");
    let bureau = app.scalar(&format!("SELECT bureau FROM activities WHERE id = {id}")).await;
    assert_eq!(
        app.scalar(&format!("SELECT count(*) FROM activities WHERE id = {id} AND flow_id IS NOT NULL")).await,
        1,
        "it carries the 杭州市 flow"
    );
    let kezhang = app.login_as(if bureau == 330100 { "hz_kezhang" } else { "xh_kezhang" }).await;
    let path = format!("/permits/{id}/approve");
    let form = kezhang.get(&path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let sel = scraper::Selector::parse("input[name=revision]").unwrap();
    let rev = form.html().select(&sel).next().and_then(|e| e.value().attr("value")).unwrap().to_string();
    let r = kezhang.post_form(&path, &[("decision", "pass"), ("opinion", "同意"), ("revision", &rev)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.scalar(&format!("SELECT step FROM activities WHERE id = {id}")).await,
        1,
        "on to the second step (0-based)"
    );
}
