//! The permit workflow in the browser: approvers take demo applications through 活动初审, 受理 and both 审批 steps
//! by clicks and typing; an action dialog opens, shows a field error and closes without changing anything; and the
//! same approval works with JavaScript switched off.

use crate::webdriver::{Browser, Options};
use crate::{env::env, fact, open_from_list, sign_in, sign_out, signed_in};

/// In the open action dialog: picks the radio `decision`, types `opinion` (if any) and presses 确定; waits for the
/// details page's notice.
fn decide(b: &Browser, title: &str, decision: &str, opinion: &str) {
    let dialog = b.wait_for("div.dialog[role=dialog]");
    assert_eq!(dialog.find("h1").text(), title, "the {title} dialog is open");
    b.find(&format!("div.dialog input[name=decision][value={decision}]")).click();
    if !opinion.is_empty() {
        b.find("div.dialog #f-opinion").send_keys(opinion);
    }
    b.find("div.dialog button.primary[type=submit]").follow();
    let notice = b.wait_for("div.notice[role=status]");
    assert!(notice.text().contains("办理完成"), "no success notice after {title}: {}", notice.text());
    assert!(b.try_find("div.dialog").is_none(), "the dialog closed after {title}");
}

/// `login` approves the current step of `portal_ref` with 通过 and answers the status shown afterwards.
fn approve_step(env: &crate::env::Env, b: &Browser, login: &str, portal_ref: &str) -> String {
    sign_out(b);
    sign_in(env, b, login);
    open_from_list(b, portal_ref, "审批");
    decide(b, "审批", "pass", &format!("同意举办（{login}）"));
    fact(b, "状态")
}

#[test]
fn an_approver_pre_reviews_accepts_and_approves_by_clicks_and_typing() {
    let Some(env) = env() else { return };
    let b = signed_in(env, "xh_keyuan", &Options::default());

    // 活动初审: 西湖音乐节 waits for pre-review.
    open_from_list(&b, "P-DEMO-0001", "活动初审");
    decide(&b, "活动初审", "pass", "");
    let status = fact(&b, "状态");
    assert!(status.contains("初审通过"), "after 活动初审: {status}");

    // 受理: 西湖半程马拉松 was submitted for acceptance by its organizer.
    open_from_list(&b, "P-DEMO-0002", "受理");
    decide(&b, "受理", "accept", "");
    let status = fact(&b, "状态");
    assert!(status.contains("审批中") && status.contains("第 1/2 步"), "after 受理: {status}");
    assert!(b.find("#documents").text().contains("受理通知书"), "the acceptance notice is listed");

    // 审批: the 科长 and then the 分管局长 of 西湖区 pass their steps.
    let status = approve_step(env, &b, "xh_kezhang", "P-DEMO-0002");
    assert!(status.contains("第 2/2 步"), "after the first step: {status}");
    let status = approve_step(env, &b, "xh_juzhang", "P-DEMO-0002");
    assert!(status.contains("已许可"), "after the last step: {status}");
    let history = b.find("#history").text();
    let expected = ["受理", "通过", "西湖分局科长", "西湖分局分管局长", "同意举办（xh_juzhang）"];
    for expected in expected {
        assert!(history.contains(expected), "审批明细 lacks {expected}: {history}");
    }
    assert!(b.find("#documents").text().contains("安全许可决定书"), "the permit is listed under 文书");
    assert!(
        b.try_find("div.permit-actions a.button.primary").is_none(),
        "no action is left on a permitted application"
    );
}

#[test]
fn an_action_dialog_opens_shows_its_error_and_closes_without_changing_anything() {
    let Some(env) = env() else { return };
    // 杭州春季人才招聘会 crosses counties, so 杭州市 reviews it.
    let b = signed_in(env, "hz_kezhang", &Options::default());
    open_from_list(&b, "P-DEMO-0004", "活动详情");
    let before = fact(&b, "状态");
    assert!(before.contains("待初审"), "{before}");
    let history = b.find("#history").text();

    b.find_xpath("//div[contains(@class,'permit-actions')]//a[normalize-space()='活动初审']").follow();
    let dialog = b.wait_for("div.dialog[role=dialog]");
    assert_eq!(dialog.attr("aria-labelledby").as_deref(), Some("action-title"));
    assert!(dialog.find(".permit-summary").text().contains("杭州春季人才招聘会"), "the dialog names the application");

    // 退回初审 needs a reason: the dialog stays open with the message at the field.
    b.find("div.dialog input[name=decision][value=return]").click();
    b.find("div.dialog button.primary[type=submit]").follow();
    let error = b.wait_for("#f-opinion-err");
    assert!(error.text().contains("须填写退回意见"), "{}", error.text());
    assert!(b.find("div.dialog .form-error").text().contains("本次未做任何办理"), "the dialog says nothing was done");

    // 取消 closes it: back on the details page, nothing changed.
    b.find_xpath("//div[contains(@class,'dialog')]//a[normalize-space()='取消']").follow();
    b.wait_for("nav.tabs");
    assert!(b.try_find("div.dialog").is_none(), "the dialog closed");
    assert!(b.try_find("div.notice").is_none(), "no notice: nothing was done");
    assert_eq!(fact(&b, "状态"), before);
    assert_eq!(b.find("#history").text(), history, "no history row was written");
}

#[test]
fn without_javascript_an_approver_signs_in_and_approves() {
    let Some(env) = env() else { return };
    let b = env.browser(&Options { javascript: false, ..Options::default() });
    // JavaScript is really off: a page's own script does not run.
    b.goto(
        "data:text/html;charset=utf-8,<p id='x'>off</p><script>document.getElementById('x').textContent='on';</script>",
    );
    assert_eq!(b.find("#x").text(), "off", "page scripts must not run in this browser");

    // 西溪湿地灯会 waits for the 科长's step.
    sign_in(env, &b, "xh_kezhang");
    open_from_list(&b, "P-DEMO-0003", "审批");
    decide(&b, "审批", "pass", "现场踏勘合格，同意");
    let status = fact(&b, "状态");
    assert!(status.contains("第 2/2 步"), "after the first step: {status}");
    let status = approve_step(env, &b, "xh_juzhang", "P-DEMO-0003");
    assert!(status.contains("已许可"), "after the last step: {status}");
    assert!(b.find("#documents").text().contains("安全许可决定书"));
}
