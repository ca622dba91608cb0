//! 统计中心: the survey statistics equal plain SQL counts, 0/0 shows "—", the Excel file holds what the page shows
//! (values, formats, the 参数 sheet), every report opens and exports, the 许可管理 list exports with its filters, and a
//! malformed definition stops the start.

use std::collections::BTreeMap;
use std::io::Cursor;

use axum::http::{StatusCode, header};
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

use crate::harness::{Resp, TestApp};
use crate::map::app_with_demo_data;

fn number(s: &str) -> f64 {
    s.replace([',', ' ', '%'], "").parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

fn book(r: &Resp) -> Xlsx<Cursor<Vec<u8>>> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ct = r.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(ct.contains("spreadsheetml"), "{ct}");
    open_workbook_from_rs(Cursor::new(r.bytes.clone())).expect("a valid xlsx")
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn cell_number(d: &Data) -> f64 {
    match d {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        Data::DateTime(t) => t.as_f64(),
        other => panic!("not a number: {other:?}"),
    }
}

/// The page's report table as rows of cell texts.
fn page_rows(r: &Resp) -> Vec<Vec<String>> {
    let html = r.html();
    let row_sel = scraper::Selector::parse("table.report tbody tr").unwrap();
    let cell_sel = scraper::Selector::parse("td").unwrap();
    html.select(&row_sel)
        .map(|tr| tr.select(&cell_sel).map(|td| td.text().collect::<String>().trim().to_string()).collect())
        .filter(|cells: &Vec<String>| cells.len() > 1)
        .collect()
}

/// The 参数 sheet as name → value.
fn params_sheet(b: &mut Xlsx<Cursor<Vec<u8>>>) -> BTreeMap<String, String> {
    let range = b.worksheet_range("参数").expect("参数 sheet");
    range.rows().map(|r| (cell_text(&r[0]), cell_text(&r[1]))).collect()
}

/// Plain SQL for the survey figures of each city of the province in a period: surveys, opinions, feedbacks.
async fn survey_sql(app: &TestApp, from: &str, to_exclusive: &str) -> BTreeMap<String, (i64, i64, i64)> {
    let sql = format!(
        "SELECT string_agg(name || '=' || surveys || '/' || opinions || '/' || feedbacks, ';' ORDER BY name) FROM (
            SELECT p.name,
                   (SELECT count(DISTINCT s.id) FROM surveys s, activity_regions ar, regions c
                     WHERE ar.activity_id = s.activity_id AND c.adcode = ar.region AND c.parent = p.adcode
                       AND s.survey_date >= DATE '{from}' AND s.survey_date < DATE '{to_exclusive}') AS surveys,
                   (SELECT count(DISTINCT r.id) FROM rectifications r, surveys s, activity_regions ar, regions c
                     WHERE r.survey_id = s.id AND ar.activity_id = s.activity_id AND c.adcode = ar.region
                       AND c.parent = p.adcode
                       AND s.survey_date >= DATE '{from}' AND s.survey_date < DATE '{to_exclusive}') AS opinions,
                   (SELECT count(DISTINCT r.id) FROM rectifications r, surveys s, activity_regions ar, regions c
                     WHERE r.survey_id = s.id AND r.feedback IS NOT NULL AND ar.activity_id = s.activity_id
                       AND c.adcode = ar.region AND c.parent = p.adcode
                       AND s.survey_date >= DATE '{from}' AND s.survey_date < DATE '{to_exclusive}') AS feedbacks
            FROM regions p WHERE p.level = 'city')"
    );
    app.text(&format!("SELECT coalesce(({sql}), '')"))
        .await
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let n: Vec<i64> = v.split('/').map(|x| x.parse().unwrap()).collect();
            (k.to_string(), (n[0], n[1], n[2]))
        })
        .collect()
}

#[tokio::test]
async fn survey_statistics_equal_sql_and_the_export_equals_the_page() {
    let app = app_with_demo_data(2500).await;
    let c = app.login_as("zj_analyst").await;
    let query = "from=2025-01-01&to=2026-11-30";
    let r = c.get(&format!("/stats/survey_by_region?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rows = page_rows(&r);
    assert_eq!(rows.len(), 11, "one row per city");
    let expected = survey_sql(&app, "2025-01-01", "2026-12-01").await;
    let mut some_opinions = false;
    for row in &rows {
        let (surveys, opinions, feedbacks) = expected[&row[0]];
        assert_eq!(
            (number(&row[1]) as i64, number(&row[2]) as i64, number(&row[3]) as i64),
            (surveys, opinions, feedbacks),
            "{}",
            row[0]
        );
        if opinions == 0 {
            assert_eq!(row[4], "—", "0/0 is shown as —");
        } else {
            some_opinions = true;
            let rate = feedbacks as f64 * 100.0 / opinions as f64;
            assert!((number(&row[4]) - rate).abs() < 0.051, "{}: {} vs {rate}", row[0], row[4]);
        }
    }
    assert!(some_opinions, "the demo data has rectification opinions");
    assert!(r.has("svg"), "the chart is drawn");
    assert!(r.has("table.report a[href*='region=330100']"), "a city row drills down");

    // The export: same rows, numbers as numbers, the rate as a fraction, the filters on the 参数 sheet.
    let x = c.get(&format!("/stats/survey_by_region/export?{query}")).await;
    let mut b = book(&x);
    assert_eq!(b.sheet_names(), vec!["数据".to_string(), "参数".to_string()]);
    let data = b.worksheet_range("数据").unwrap();
    let sheet: Vec<&[Data]> = data.rows().collect();
    assert_eq!(cell_text(&sheet[0][0]), "地区");
    assert_eq!(cell_text(&sheet[0][4]), "整改反馈率");
    assert_eq!(sheet.len(), rows.len() + 1);
    for (page, xl) in rows.iter().zip(&sheet[1..]) {
        assert_eq!(cell_text(&xl[0]), page[0]);
        for i in 1..4 {
            assert_eq!(cell_number(&xl[i]), number(&page[i]), "{} column {i}", page[0]);
        }
        if page[4] == "—" {
            assert_eq!(cell_text(&xl[4]), "—");
        } else {
            assert!((cell_number(&xl[4]) * 100.0 - number(&page[4])).abs() < 0.051, "the rate is a fraction");
        }
    }
    let params = params_sheet(&mut b);
    assert_eq!(params["报表"], "勘查统计（按地区）");
    assert_eq!(params["统计期间"], "2025-01-01 至 2026-11-30");
    assert_eq!(params["统计地区"], "浙江省");
    assert!(params["导出人"].contains("zj_analyst"), "{:?}", params["导出人"]);
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'stats.export'").await, 1);
}

#[tokio::test]
async fn zero_over_zero_is_a_dash_drill_down_and_sorting() {
    let app = app_with_demo_data(1500).await;
    let c = app.login_as("zj_analyst").await;
    // A period without surveys: every count 0, every rate —, never 0 % or NaN.
    let r = c.get("/stats/survey_by_region?from=2020-01-01&to=2020-01-31").await;
    let rows = page_rows(&r);
    assert_eq!(rows.len(), 11);
    for row in &rows {
        assert_eq!(&row[1..], ["0", "0", "0", "—"], "{}", row[0]);
    }
    assert!(!r.body.contains("NaN"));
    // Drill-down to 杭州市: its counties, the breadcrumbs back to the province.
    let r = c.get("/stats/survey_by_region?region=330100&from=2025-01-01&to=2026-11-30").await;
    assert_eq!(page_rows(&r).len(), 13, "杭州市's counties");
    assert_eq!(r.texts("nav.breadcrumbs a"), vec!["浙江省"]);
    // Sorting by a column, both directions; the header says which.
    let r = c.get("/stats/survey_by_region?from=2025-01-01&to=2026-11-30&sort=surveys&dir=desc").await;
    let surveys: Vec<f64> = page_rows(&r).iter().map(|row| number(&row[1])).collect();
    assert!(surveys.windows(2).all(|w| w[0] >= w[1]), "{surveys:?}");
    assert!(r.has("th[aria-sort=descending]"));
    let r = c.get("/stats/survey_by_region?from=2025-01-01&to=2026-11-30&sort=surveys&dir=asc").await;
    let surveys: Vec<f64> = page_rows(&r).iter().map(|row| number(&row[1])).collect();
    assert!(surveys.windows(2).all(|w| w[0] <= w[1]), "{surveys:?}");
    // The tabs of 勘查统计.
    let r = c.get("/stats/survey_by_month?from=2026-01-01&to=2026-06-30").await;
    assert_eq!(page_rows(&r).len(), 6, "one row per month");
    // Bad filters: explained on the page, refused for an export (nothing written, no audit row).
    let r = c.get("/stats/survey_by_region?from=2026-02-30").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.field_error("from").is_some());
    let x = c.get("/stats/survey_by_region/export?from=2026-02-30").await;
    assert_eq!(x.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(x.body.contains("统计条件无效"));
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'stats.export'").await, 0);
    // Scope and permissions.
    assert_eq!(c.get("/stats/survey_by_region?region=999999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/stats/no_such_report").await.status, StatusCode::NOT_FOUND);
    let approver = app.login_as("xh_keyuan").await;
    assert_eq!(approver.get("/stats/survey_by_region").await.status, StatusCode::FORBIDDEN);
    assert_eq!(approver.get("/stats/survey_by_region/export").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_report_opens_and_its_export_equals_the_page() {
    let app = app_with_demo_data(1500).await;
    let c = app.login_as("zj_analyst").await;
    let index = c.get("/stats").await;
    assert_eq!(index.status, StatusCode::OK);
    let ids: Vec<String> = app.state.reports.all().iter().map(|r| r.id.clone()).collect();
    assert!(ids.len() >= 8);
    for id in &ids {
        assert!(index.has(&format!("a[href='/stats/{id}']")), "{id} is listed");
        let query = "from=2025-01-01&to=2026-11-30";
        let r = c.get(&format!("/stats/{id}?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.body);
        let rows = page_rows(&r);
        let x = c.get(&format!("/stats/{id}/export?{query}")).await;
        let mut b = book(&x);
        let data = b.worksheet_range("数据").unwrap();
        let sheet: Vec<&[Data]> = data.rows().collect();
        assert_eq!(sheet.len(), rows.len() + 1, "{id}: rows");
        let titles: Vec<String> = r.texts("table.report thead th");
        let xl_titles: Vec<String> = sheet[0].iter().map(cell_text).collect();
        assert_eq!(titles, xl_titles, "{id}: headers");
        // Every numeric cell equals the page's figure (formats: thousands, one decimal, percent).
        for (page, xl) in rows.iter().zip(&sheet[1..]) {
            for (shown, cell) in page.iter().zip(xl.iter()) {
                match cell {
                    Data::Float(v) if shown.ends_with('%') => {
                        assert!((v * 100.0 - number(shown)).abs() < 0.051, "{id}: {shown} vs {v}");
                    }
                    Data::Float(v) => assert!((v - number(shown)).abs() < 0.051, "{id}: {shown} vs {v}"),
                    Data::String(s) => assert_eq!(s, shown, "{id}"),
                    _ => {}
                }
            }
        }
        assert_eq!(params_sheet(&mut b)["报表"], app.state.reports.get(id).unwrap().title, "{id}");
    }
}

#[tokio::test]
async fn activities_by_kind_and_month_equal_sql() {
    let app = app_with_demo_data(1500).await;
    let c = app.login_as("zj_analyst").await;
    let r = c.get("/stats/activities_by_kind_month?from=2026-01-01&to=2026-06-30").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let titles = r.texts("table.report thead th");
    assert_eq!(titles[1], "体育比赛");
    let rows = page_rows(&r);
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let month = &row[0];
        let count = |kind: &str| {
            let kind_filter = if kind.is_empty() { String::new() } else { format!("AND a.kind = '{kind}'") };
            format!("SELECT count(*) FROM activities a WHERE strftime(a.start_at, '%Y-%m') = '{month}' {kind_filter}")
        };
        assert_eq!(number(&row[1]) as i64, app.scalar(&count("sports")).await, "{month} sports");
        assert_eq!(number(row.last().unwrap()) as i64, app.scalar(&count("")).await, "{month} total");
    }
}

#[tokio::test]
async fn the_activity_list_exports_with_its_filters() {
    let app = app_with_demo_data(1500).await;
    let admin = app.login_as("zj_admin").await;
    let list = admin.get("/permits?status=permitted&region=330100").await;
    assert!(list.has("a[href^='/permits/export?status=permitted']"), "the list links its export");
    let r = admin.get("/permits/export?status=permitted&region=330100").await;
    let mut b = book(&r);
    let data = b.worksheet_range("数据").unwrap();
    let sheet: Vec<&[Data]> = data.rows().collect();
    assert_eq!(cell_text(&sheet[0][0]), "申请编号");
    let expected = app
        .scalar(
            "SELECT count(*) FROM activities a WHERE a.status = 'permitted' AND (
                starts_with((SELECT path FROM regions WHERE adcode = a.bureau), '/330000/330100/')
                OR EXISTS (SELECT 1 FROM activity_regions r JOIN regions g ON g.adcode = r.region
                           WHERE r.activity_id = a.id AND starts_with(g.path, '/330000/330100/')))",
        )
        .await;
    assert!(expected > 0);
    assert_eq!(sheet.len() as i64 - 1, expected);
    assert!(sheet[1..].iter().all(|row| cell_text(&row[10]) == "已许可"), "the status filter holds");
    assert!(matches!(sheet[1][6], Data::DateTime(_)), "start times are dates: {:?}", sheet[1][6]);
    let params = params_sheet(&mut b);
    assert_eq!(params["状态"], "已许可");
    assert_eq!(params["地区"], "浙江省杭州市");
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'permits.export'").await, 1);
    // A bad filter is refused with a message; users without the list are refused.
    let bad = admin.get("/permits/export?from=2026-13-01").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'permits.export'").await, 1);
    let commander = app.login_as("zj_commander").await;
    assert_eq!(commander.get("/permits/export").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_malformed_definition_stops_the_start_with_its_file_and_line() {
    let app = TestApp::new();
    let bad_sql = "title = \"坏报表\"\nparams = [\"region\"]\nsql = \"\"\"\nSELECT nope FROM no_such_table\nWHERE starts_with(path, :region_path)\n\"\"\"\n\n[[columns]]\nname = \"nope\"\ntitle = \"无\"\nformat = \"integer\"\n";
    let err = anxu::setup::check_reports(&app.state.store, anxu::reports::Catalog::parse(&[("bad.toml", bad_sql)]))
        .expect_err("refused");
    let msg = err.to_string();
    assert!(msg.contains("reports/bad.toml:3"), "{msg}");
    let bad_toml = "title = \"坏报表\"\nparams = [\"region\"\n";
    let err = anxu::setup::check_reports(&app.state.store, anxu::reports::Catalog::parse(&[("broken.toml", bad_toml)]))
        .expect_err("refused");
    assert!(err.to_string().contains("reports/broken.toml:"), "{err}");
    // The built-in definitions pass.
    anxu::setup::check_reports(&app.state.store, anxu::reports::Catalog::builtin()).expect("built-in reports");
}
