//! Accessibility basics, checked in the rendered pages of every user type: each form field has a label, each image
//! and map region a text alternative, each chart a name, no inline `style` attribute (the CSP would drop it, so
//! whatever it carried — a legend colour — would silently vanish), and the keyboard focus is visible.

use serde_json::Value;

use crate::webdriver::{Browser, Options};
use crate::{env::env, open_from_list, sign_in, sign_out};

/// The checks run in the page; answers one line per problem.
const AUDIT: &str = r#"
const problems = [];
const show = el => el.outerHTML.replace(/\s+/g, ' ').slice(0, 160);
const text = el => (el && el.textContent || '').trim();
for (const el of document.querySelectorAll('input, select, textarea')) {
  const type = (el.getAttribute('type') || '').toLowerCase();
  if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
  const byFor = el.id && [...document.querySelectorAll('label[for]')].some(l => l.htmlFor === el.id && text(l));
  const wrapped = text(el.closest('label'));
  const ids = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
  const aria = (el.getAttribute('aria-label') || '').trim()
    || ids.map(id => text(document.getElementById(id))).join('');
  if (!byFor && !wrapped && !aria) problems.push('form field without a label: ' + show(el));
}
for (const img of document.querySelectorAll('img')) {
  if (!img.hasAttribute('alt')) problems.push('image without alt: ' + show(img));
}
for (const path of document.querySelectorAll('svg.choropleth path.region')) {
  const link = path.closest('a');
  const named = text(path.querySelector('title')) || path.getAttribute('aria-label')
    || (link && link.getAttribute('aria-label'));
  if (!named) problems.push('map region without a text alternative: ' + show(path));
}
for (const svg of document.querySelectorAll('svg[role=img]')) {
  if (!(svg.getAttribute('aria-label') || '').trim() && !text(svg.querySelector('title')))
    problems.push('chart without a name: ' + show(svg));
}
for (const el of document.querySelectorAll('[style]')) problems.push('inline style, dropped by the CSP: ' + show(el));
if (!document.documentElement.lang) problems.push('<html> without lang');
if (!document.title.trim()) problems.push('page without a title');
if (!document.querySelector('h1')) problems.push('page without a heading');
return problems;
"#;

/// After one Tab from the top of the page: whether the focused element shows an outline.
const FOCUS: &str = r#"
const el = document.activeElement;
if (!el || el === document.body) return 'Tab focused nothing';
const s = getComputedStyle(el);
if (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2)
  return 'focus not visible on ' + el.outerHTML.slice(0, 120) + ': outline ' + s.outlineStyle + ' ' + s.outlineWidth;
return null;
"#;

/// The problems of the page `b` shows, each prefixed with its address.
fn audit(b: &Browser) -> Vec<String> {
    let url = b.url();
    let mut out: Vec<String> = match b.exec(AUDIT, vec![]) {
        Value::Array(items) => items.iter().map(|p| format!("{url}: {}", p.as_str().unwrap_or_default())).collect(),
        other => vec![format!("{url}: the audit answered {other}")],
    };
    b.press("\u{E004}");
    if let Value::String(problem) = b.exec(FOCUS, vec![]) {
        out.push(format!("{url}: {problem}"));
    }
    out
}

/// Opens `paths` one after another as the signed-in user and audits each.
fn audit_paths(env: &crate::env::Env, b: &Browser, paths: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for path in paths {
        b.goto(&env.url(path));
        problems.extend(audit(b));
    }
    problems
}

/// Every entry of `login`'s menu, then `extra`.
fn audit_user(env: &crate::env::Env, b: &Browser, login: &str, extra: &[&str]) -> Vec<String> {
    sign_in(env, b, login);
    let mut paths: Vec<String> = b.find_all("nav.menu a").iter().filter_map(|a| a.attr("href")).collect();
    paths.extend(extra.iter().map(|p| p.to_string()));
    paths.dedup();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    audit_paths(env, b, &refs)
}

fn assert_clean(problems: &[String]) {
    assert!(problems.is_empty(), "accessibility problems:\n{}", problems.join("\n"));
}

#[test]
fn the_approver_pages_are_accessible() {
    let Some(env) = env() else { return };
    let b = env.browser(&Options::default());
    b.goto(&env.url("/login"));
    let mut problems = audit(&b);
    problems.extend(audit_user(env, &b, "xh_keyuan", &["/account/password"]));
    // The details page, its record forms, and an action dialog (西湖音乐节 is never final in these tests).
    open_from_list(&b, "P-DEMO-0001", "活动详情");
    problems.extend(audit(&b));
    for button in ["添加踏勘记录", "添加检查记录"] {
        open_from_list(&b, "P-DEMO-0001", "活动详情");
        b.find_xpath(&format!("//div[contains(@class,'permit-actions')]//a[normalize-space()='{button}']")).follow();
        b.wait_for("main form");
        problems.extend(audit(&b));
    }
    // An action dialog: 杭州春季人才招聘会 waits for 杭州市's pre-review (the dialog test only cancels it).
    sign_out(&b);
    sign_in(env, &b, "hz_kezhang");
    open_from_list(&b, "P-DEMO-0004", "活动初审");
    b.wait_for("div.dialog form");
    problems.extend(audit(&b));
    assert_clean(&problems);
}

#[test]
fn the_administrator_pages_are_accessible() {
    let Some(env) = env() else { return };
    let b = env.browser(&Options::default());
    let extra = ["/config/users/new", "/config/roles/new", "/config/flows/edit", "/config/materials/edit"];
    let mut problems = audit_user(env, &b, "hz_admin", &extra);
    sign_out(&b);
    problems.extend(audit_user(env, &b, "zj_secadmin", &[]));
    assert_clean(&problems);
}

#[test]
fn the_commander_analyst_and_auditor_pages_are_accessible() {
    let Some(env) = env() else { return };
    let b = env.browser(&Options::default());
    let mut problems = audit_user(env, &b, "zj_commander", &["/map?region=330100", "/map?layer=county&dots=1"]);
    sign_out(&b);
    problems.extend(audit_user(env, &b, "zj_analyst", &["/stats/activities_by_kind_month", "/stats/venue_use"]));
    sign_out(&b);
    problems.extend(audit_user(env, &b, "zj_auditor", &[]));
    assert_clean(&problems);
}
