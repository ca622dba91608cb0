//! End-to-end tests in headless Chromium: the real `anxu` binary with demo data, driven through chromedriver the way
//! a person uses it — clicks and typing. One server and one chromedriver serve the whole test binary (see `env`);
//! every test opens its own browser, so the tests run in parallel and touch different demo applications.
//!
//! Without Chromium the tests fail and name `.ci/run`, which installs it; ANXU_SKIP_BROWSER=1 skips them.
//! ANXU_SCREENSHOTS=1 writes the README's screenshots to `docs/screenshots/`.

mod a11y;
mod env;
mod looks;
mod pages;
mod webdriver;
mod workflow;

use std::time::{Duration, Instant};

use env::{DEMO_PASSWORD, Env};
use webdriver::{Browser, Options, WAIT};

/// Signs `login` in through the sign-in page and waits for the top bar.
fn sign_in(env: &Env, b: &Browser, login: &str) {
    b.goto(&env.url("/login"));
    b.find("#f-login_name").send_keys(login);
    b.find("#f-password").send_keys(DEMO_PASSWORD);
    b.find("main form button[type=submit]").follow();
    b.wait_for("header.topbar");
    assert!(b.find("header.topbar .who").text().contains("所属地区"), "{login} is not signed in: {}", b.url());
}

/// A new browser with `login` signed in.
fn signed_in(env: &Env, login: &str, opts: &Options) -> Browser {
    let b = env.browser(opts);
    sign_in(env, &b, login);
    b
}

/// Signs out with the top bar's 【退出】 and waits for the sign-in page.
fn sign_out(b: &Browser) {
    b.find("header.topbar form button[type=submit]").follow();
    b.wait_for("#f-login_name");
}

/// Opens a menu entry by clicking it.
fn menu(b: &Browser, href: &str) {
    b.find(&format!("nav.menu a[href='{href}']")).follow();
}

/// Polls `probe` until it answers `Some`, for up to [`WAIT`].
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The N of the list's pager line 共 N 条.
fn list_total(b: &Browser) -> i64 {
    let text = b.find("nav.pager span").text();
    text.split('共')
        .nth(1)
        .and_then(|s| s.split('条').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no total in the pager line {text:?}"))
}

/// 许可管理 → 活动列表: types `portal_ref` into the search field, 查询, and clicks `action` (活动详情, 活动初审, 受理,
/// 审批 …) in the application's row.
fn open_from_list(b: &Browser, portal_ref: &str, action: &str) {
    menu(b, "/permits");
    let q = b.wait_for("#f-q");
    q.clear();
    q.send_keys(portal_ref);
    b.find("form.filters button[type=submit]").follow();
    b.find_xpath(&format!(
        "//table[contains(@class,'permits')]//tr[.//div[contains(@class,'ref') and normalize-space()='{portal_ref}']]\
         //td[contains(@class,'actions')]//a[normalize-space()='{action}']"
    ))
    .follow();
}

/// The value of the fact `label` (e.g. 状态) on an application's details page.
fn fact(b: &Browser, label: &str) -> String {
    b.find_xpath(&format!(
        "//dl[contains(@class,'detail-grid')]/dt[normalize-space()='{label}']/following-sibling::dd[1]"
    ))
    .text()
}
