//! The state machine as a table of (state, action, user) → outcome, through the store's single entry point for
//! police actions; a refused action changes nothing.

use anxu::demo::act_as;
use anxu::domain::workflow::{Action, Decision};

use crate::harness::TestApp;

/// Statuses the table starts from, and how to reach them from a fresh application.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    PendingPreReview,
    PreReviewPassed,
    PendingAcceptance,
    InApprovalStep1,
    InApprovalStep2,
    Permitted,
}

async fn reach(app: &TestApp, start: Start) -> (i64, String) {
    let id = app.seed_application("状态机测试", "330106", 2000).await;
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {id}")).await;
    let steps: &[(&str, Action)] = match start {
        Start::PendingPreReview => &[],
        Start::PreReviewPassed | Start::PendingAcceptance => &[("xh_keyuan", Action::PassPreReview)],
        _ => &[("xh_keyuan", Action::PassPreReview)],
    };
    for (who, a) in steps {
        act_as(&app.state, who, &pr, a.clone()).unwrap();
    }
    if matches!(start, Start::PreReviewPassed) {
        return (id, pr);
    }
    if start != Start::PendingPreReview {
        app.submit_for_acceptance(id).await;
    }
    let pass = || Action::Step { decision: Decision::Pass, opinion: String::new() };
    let more: Vec<(&str, Action)> = match start {
        Start::InApprovalStep1 => vec![("xh_keyuan", Action::Accept { steps: 0 })],
        Start::InApprovalStep2 => vec![("xh_keyuan", Action::Accept { steps: 0 }), ("xh_kezhang", pass())],
        Start::Permitted => {
            vec![("xh_keyuan", Action::Accept { steps: 0 }), ("xh_kezhang", pass()), ("xh_juzhang", pass())]
        }
        _ => vec![],
    };
    for (who, a) in more {
        act_as(&app.state, who, &pr, a).unwrap();
    }
    (id, pr)
}

fn actions() -> Vec<(&'static str, Action)> {
    let op = || "意见".to_string();
    vec![
        ("pass_pre_review", Action::PassPreReview),
        ("return_pre_review", Action::ReturnPreReview { opinion: op() }),
        ("accept", Action::Accept { steps: 0 }),
        ("not_accept", Action::NotAccept { reason: op() }),
        ("step_pass", Action::Step { decision: Decision::Pass, opinion: op() }),
        ("step_return", Action::Step { decision: Decision::Return, opinion: op() }),
        ("step_deny", Action::Step { decision: Decision::Deny, opinion: op() }),
    ]
}

/// Who may do what: only approvers of the approving region (西湖区), only in the right status, and at an approval
/// step only the step's role (step 1 科长, step 2 分管局长).
fn allowed(start: Start, action: &str, user: &str) -> bool {
    let bureau_approver = matches!(user, "xh_keyuan" | "xh_kezhang" | "xh_juzhang");
    match (start, action) {
        (Start::PendingPreReview, "pass_pre_review" | "return_pre_review") => bureau_approver,
        (Start::PendingAcceptance, "accept" | "not_accept") => bureau_approver,
        (Start::InApprovalStep1, a) if a.starts_with("step_") => user == "xh_kezhang",
        (Start::InApprovalStep2, a) if a.starts_with("step_") => user == "xh_juzhang",
        _ => false,
    }
}

#[tokio::test]
async fn state_action_user_table() {
    let users = ["xh_keyuan", "xh_kezhang", "xh_juzhang", "hz_kezhang", "hz_admin", "zj_commander"];
    let starts = [
        Start::PendingPreReview,
        Start::PreReviewPassed,
        Start::PendingAcceptance,
        Start::InApprovalStep1,
        Start::InApprovalStep2,
        Start::Permitted,
    ];
    let mut checked = 0;
    for start in starts {
        let app = TestApp::new();
        // Refusals change nothing, so they share one application; each allowed action gets a fresh one.
        let shared = reach(&app, start).await;
        for (code, action) in actions() {
            for user in users {
                let (id, pr) = if allowed(start, code, user) { reach(&app, start).await } else { shared.clone() };
                let before = app.dump(&format!("(SELECT * FROM activities WHERE id = {id})")).await;
                let history =
                    app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id}")).await;
                let outcome = act_as(&app.state, user, &pr, action.clone());
                let want = allowed(start, code, user);
                assert_eq!(outcome.is_ok(), want, "{start:?} {code} by {user}: {outcome:?}");
                let after_history =
                    app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id}")).await;
                if want {
                    assert_eq!(after_history, history + 1, "one history row per transition");
                } else {
                    assert_eq!(app.dump(&format!("(SELECT * FROM activities WHERE id = {id})")).await, before);
                    assert_eq!(after_history, history, "a refusal writes no history");
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 6 * 7 * 6);
}
