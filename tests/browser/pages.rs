//! The other pages in the browser: the map's drill-down, breadcrumbs and legend; a filter of 许可管理; the Excel
//! download; and a page embedded (`?embed=1`) in another site's iframe, allowed or refused by `frame-ancestors`.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use serde_json::Value;

use crate::webdriver::{Browser, Options, wait_for_download};
use crate::{env::env, eventually, list_total, menu, signed_in};

/// The legend: its title and the text of each class line (without the 0 and 无数据 lines).
fn legend(b: &Browser) -> (String, Vec<String>) {
    let title = b.find(".legend .legend-title").text();
    let mut lines: Vec<String> = b.find_all(".legend li").iter().map(|li| li.text()).collect();
    assert!(lines.len() >= 2, "the legend has its 0 and 无数据 lines: {lines:?}");
    lines.truncate(lines.len() - 2);
    (title, lines)
}

/// The colours the legend's class swatches show (an SVG box's fill, else the background).
fn swatch_colours(b: &Browser) -> Vec<String> {
    let v = b.exec(
        "return [...document.querySelectorAll('.legend li .swatch')].slice(0, -2).map(s => {
             const box = s.querySelector('rect');
             return box ? getComputedStyle(box).fill : getComputedStyle(s).backgroundColor;
         });",
        vec![],
    );
    v.as_array().map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// The text of the current breadcrumb.
fn current_region(b: &Browser) -> String {
    b.find("nav.breadcrumbs [aria-current=page]").text()
}

#[test]
fn the_map_drills_into_a_city_and_back_and_its_legend_follows_the_classification() {
    let Some(env) = env() else { return };
    let b = signed_in(env, "zj_commander", &Options::default());
    menu(&b, "/map");
    b.wait_for("svg.choropleth");
    assert_eq!(current_region(&b), "浙江省");
    assert_eq!(b.find_all("svg.choropleth g.regions a").len(), 11, "the 11 cities of 浙江省, each a link");

    // The legend: every class has its range and count in words, not only a colour.
    let (title, before) = legend(&b);
    assert!(title.contains("分位数"), "{title}");
    assert!(before.len() >= 2, "{before:?}");
    for line in &before {
        assert!(line.contains('–') && line.contains("个地区"), "a class line names its range and count: {line}");
    }
    let colours = swatch_colours(&b);
    assert_eq!(colours.len(), before.len(), "{colours:?}");
    for c in &colours {
        assert!(c.starts_with("rgb(") && c != "rgb(0, 0, 0)", "a swatch is not coloured: {colours:?}");
    }
    let mut distinct = colours.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), colours.len(), "each class has its own colour: {colours:?}");

    // Another classification: 等间距 in 3 classes.
    b.find("#f-method option[value=equal]").click();
    b.find("#f-k option[value='3']").click();
    b.find("form.filters button[type=submit]").follow();
    eventually("the legend of 等间距", || b.find(".legend .legend-title").text().contains("等间距").then_some(()));
    let (_, after) = legend(&b);
    assert_eq!(after.len(), 3, "three classes: {after:?}");
    assert_ne!(after, before, "the legend follows the classification");
    assert_eq!(swatch_colours(&b).len(), 3);

    // Drill into 杭州市 by clicking it on the map; the classification stays.
    b.find("svg.choropleth g.regions a[aria-label^='杭州市']").follow();
    eventually("杭州市 in the breadcrumbs", || (current_region(&b) == "杭州市").then_some(()));
    let url = b.url();
    assert!(url.contains("region=330100") && url.contains("method=equal") && url.contains("k=3"), "{url}");
    assert_eq!(b.find_all("svg.choropleth g.regions path.region").len(), 13, "the 13 counties of 杭州市");
    assert!(b.find("#map-heading").text().starts_with("杭州市"));

    // And back with the breadcrumbs.
    b.find_xpath("//nav[contains(@class,'breadcrumbs')]//a[normalize-space()='浙江省']").follow();
    eventually("浙江省 in the breadcrumbs", || (current_region(&b) == "浙江省").then_some(()));
    assert_eq!(b.find_all("svg.choropleth g.regions a").len(), 11);
    assert_eq!(legend(&b).1.len(), 3, "the classification survives the way back");
}

/// 许可管理 → 活动列表 as `b`'s user, filtered by 类型 with clicks; answers the kind's label and the totals before
/// and after.
fn filter_by_kind(b: &Browser, code: &str) -> (String, i64, i64) {
    menu(b, "/permits");
    b.wait_for("table.permits");
    let all = list_total(b);
    let option = b.find(&format!("#f-kind option[value={code}]"));
    let label = option.text();
    option.click();
    b.find("form.filters button[type=submit]").follow();
    eventually("the filtered list", || b.url().contains(&format!("kind={code}")).then_some(()));
    (label, all, list_total(b))
}

#[test]
fn a_filter_on_the_permit_list_narrows_it() {
    let Some(env) = env() else { return };
    let b = signed_in(env, "xh_keyuan", &Options::default());
    let (label, all, some) = filter_by_kind(&b, "sports");
    assert!(0 < some && some < all, "体育 narrows {all} to {some}");
    let kinds: Vec<String> = b.find_all("table.permits tbody tr td:nth-child(2)").iter().map(|td| td.text()).collect();
    assert!(!kinds.is_empty());
    assert!(kinds.iter().all(|k| *k == label), "every row is {label}: {kinds:?}");
    assert_eq!(b.find("#f-kind").attr("name").as_deref(), Some("kind"));
    let selected = b.exec("return document.getElementById('f-kind').value;", vec![]);
    assert_eq!(selected, Value::String("sports".into()), "the form keeps the filter");
}

fn cell_text(d: &Data) -> String {
    d.to_string()
}

#[test]
fn the_excel_download_arrives_and_is_a_valid_workbook() {
    let Some(env) = env() else { return };
    let downloads = tempfile::tempdir().expect("download directory");
    let opts = Options { download_dir: Some(downloads.path().to_path_buf()), ..Options::default() };
    let b = signed_in(env, "xh_keyuan", &opts);
    let (label, _, some) = filter_by_kind(&b, "sports");
    let link = b.find("div.list-foot a.button[download]");
    assert!(link.text().contains(&format!("{some} 条")), "{}", link.text());
    link.click();

    let path = wait_for_download(downloads.path(), ".xlsx");
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    assert!(name.starts_with("活动列表-西湖区-"), "{name}");
    let bytes = std::fs::read(&path).expect("read the download");
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip package");
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("a valid xlsx");
    assert_eq!(book.sheet_names(), vec!["数据".to_string(), "参数".to_string()]);
    let data = book.worksheet_range("数据").expect("数据 sheet");
    let header: Vec<String> = data.rows().next().map(|r| r.iter().map(cell_text).collect()).unwrap_or_default();
    assert_eq!(header.first().map(String::as_str), Some("申请编号"), "{header:?}");
    assert_eq!(data.height() as i64 - 1, some, "one row per listed activity");
    let kind_col = header.iter().position(|h| h == "活动类型").expect("活动类型 column");
    let params = book.worksheet_range("参数").expect("参数 sheet");
    let filters: Vec<(String, String)> = params.rows().map(|r| (cell_text(&r[0]), cell_text(&r[1]))).collect();
    assert!(filters.contains(&("类型".to_string(), label.clone())), "{filters:?}");
    assert!(filters.iter().any(|(k, v)| k == "导出人" && v.contains("xh_keyuan")), "{filters:?}");
    for row in data.rows().skip(1) {
        assert!(!cell_text(&row[kind_col]).is_empty(), "every row has its kind");
    }
}

#[test]
fn an_embedded_page_renders_without_the_menu_in_an_allowed_frame_and_is_refused_elsewhere() {
    let Some(env) = env() else { return };
    let b = signed_in(env, "xh_keyuan", &Options::default());

    // A site whose origin --frame-ancestors allows embeds /permits?embed=1.
    b.goto(&env.allowed_host);
    let frame = b.wait_for("iframe#embedded");
    b.enter_frame(&frame);
    b.wait_for("main.content table.permits");
    assert!(b.find("body").attr("class").unwrap_or_default().contains("embed"));
    assert!(b.try_find("nav.menu").is_none(), "no menu when embedded");
    assert!(b.try_find("header.topbar").is_none(), "no top bar when embedded");
    assert_eq!(b.find("main.content h1").text(), "活动列表");
    let href = b.find("table.permits td.actions a").attr("href").unwrap_or_default();
    assert!(href.contains("embed=1"), "links stay embedded: {href}");
    b.leave_frame();

    // The same page in a site that is not allowed: Chromium refuses to render it.
    b.goto(&env.refused_host);
    let frame = b.wait_for("iframe#embedded");
    b.enter_frame(&frame);
    let (href, rendered) = eventually("the refused frame to settle", || {
        let v = b.exec("return [location.href, !!document.querySelector('main.content')];", vec![]);
        let href = v[0].as_str().unwrap_or_default().to_string();
        (href != "about:blank").then_some((href, v[1].as_bool().unwrap_or(true)))
    });
    assert!(!rendered, "the page must not render inside a frame of {}: {href}", env.refused_host);
    b.leave_frame();
}
