//! Looks: the list, a details page, the map and a statistics page fit a 1366×768 laptop and a 1920×1080 wall screen
//! without scrolling sideways (wide tables scroll inside their card). With ANXU_SCREENSHOTS=1 each page is saved at
//! both sizes to `docs/screenshots/` for the README; CI leaves the files alone.

use std::path::PathBuf;

use crate::webdriver::{Browser, Options};
use crate::{env::env, menu, open_from_list, signed_in};

/// The laptop and the wall screen.
const SIZES: [(u32, u32); 2] = [(1366, 768), (1920, 1080)];

fn screenshot_dir() -> Option<PathBuf> {
    std::env::var("ANXU_SCREENSHOTS")
        .is_ok_and(|v| v == "1")
        .then(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs").join("screenshots"))
}

/// At each size: the page is no wider than the window; saves `{name}-{width}.png` when screenshots are wanted.
fn fits_and_capture(b: &Browser, name: &str) {
    for (width, height) in SIZES {
        b.resize(width, height);
        let v = b.exec(
            "return [window.innerWidth, document.documentElement.scrollWidth, document.body.scrollWidth];",
            vec![],
        );
        let n = |i: usize| v[i].as_i64().unwrap_or(i64::MAX);
        let (inner, doc, body) = (n(0), n(1), n(2));
        assert!(inner <= i64::from(width), "the window is {width} wide, the page {inner}");
        assert!(
            doc <= inner && body <= inner,
            "{name} is wider than a {width}×{height} screen: document {doc}, body {body}, window {inner} ({})",
            b.url()
        );
        if let Some(dir) = screenshot_dir() {
            std::fs::create_dir_all(&dir).expect("docs/screenshots");
            let png = b.screenshot();
            assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
            std::fs::write(dir.join(format!("{name}-{width}.png")), png).expect("write the screenshot");
        }
    }
}

#[test]
fn the_permit_list_fits_a_laptop_and_a_wall_screen() {
    let Some(env) = env() else { return };
    let b = signed_in(env, "xh_keyuan", &Options::default());
    menu(&b, "/permits");
    b.wait_for("table.permits tbody tr");
    fits_and_capture(&b, "permits-list");
}

#[test]
fn the_details_page_fits_a_laptop_and_a_wall_screen() {
    let Some(env) = env() else { return };
    // 黄龙体育中心演唱会: 12 000 people, so 杭州市 decides.
    let b = signed_in(env, "hz_kezhang", &Options::default());
    open_from_list(&b, "P-DEMO-0005", "活动详情");
    b.wait_for("nav.tabs");
    fits_and_capture(&b, "permit-details");
}

#[test]
fn the_map_fits_a_laptop_and_a_wall_screen() {
    let Some(env) = env() else { return };
    let b = signed_in(env, "zj_commander", &Options::default());
    menu(&b, "/map");
    b.wait_for("svg.choropleth");
    fits_and_capture(&b, "map");
}

#[test]
fn a_statistics_page_fits_a_laptop_and_a_wall_screen() {
    let Some(env) = env() else { return };
    let b = signed_in(env, "zj_analyst", &Options::default());
    menu(&b, "/stats/survey_by_region");
    b.wait_for("table.report");
    fits_and_capture(&b, "stats-survey");
}
