//! The life of a permit application 大型群众性活动安全许可: pre-review of the portal submission, acceptance,
//! the approval steps of the approving region's flow, and the organizer's withdrawal.
//!
//! ```text
//!  portal: organizer submits ──▶ [待初审 PendingPreReview]
//!    pre-review:  通过 ─▶ [初审通过 PreReviewPassed]   退回 (opinion) ─▶ [初审退回 PreReviewReturned] ─重新提交─▶ 待初审
//!  portal: organizer uploads materials, 提交审批 ─▶ [受理中 PendingAcceptance]
//!    acceptance:  受理 ─▶ [审批中 InApproval, step 0]   不予受理 (reason) ─▶ [不予受理 NotAccepted] (final)
//!    each step k: 通过 ─▶ step k + 1, or after the last step ─▶ [已许可 Permitted] (final)
//!                 不许可 (reasons) ─▶ [不许可 Denied] (final)
//!                 退回 (opinion) ─▶ [审批退回 ApprovalReturned] ─重新提交─▶ 受理中
//!  the organizer may 撤回 at any time before a final state ─▶ [已撤回 Withdrawn] (final)
//! ```
//!
//! This module only decides whether an action may happen and where it leads. Who may act for which region, and
//! storing opinions and history, belong to the callers.
//!
//! Resubmission after an approval return: the application goes back to 受理中 with no current step, and
//! [`Progress::steps`] keeps the length of the returned round's flow as a record. The next 受理 starts again at step
//! 0 with the number of steps it is given (the region's flow may have changed meanwhile); from then on that number is
//! fixed until the application leaves approval.

/// The longest opinion or reason, in characters.
pub const OPINION_MAX_LEN: usize = 1000;

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 待初审: submitted at the portal, waiting for pre-review.
    PendingPreReview,
    /// 初审通过: the organizer may now upload materials and submit for approval.
    PreReviewPassed,
    /// 初审退回: the organizer must revise and resubmit.
    PreReviewReturned,
    /// 受理中: submitted for approval, waiting for acceptance.
    PendingAcceptance,
    /// 审批中: accepted, at one step of the approval flow.
    InApproval,
    /// 审批退回: returned from an approval step; the organizer must revise and resubmit.
    ApprovalReturned,
    /// 不予受理 (final).
    NotAccepted,
    /// 已许可 (final).
    Permitted,
    /// 不许可 (final).
    Denied,
    /// 已撤回 (final).
    Withdrawn,
}

impl Status {
    /// Every status, in the order of the application's life.
    pub const ALL: [Status; 10] = [
        Self::PendingPreReview,
        Self::PreReviewPassed,
        Self::PreReviewReturned,
        Self::PendingAcceptance,
        Self::InApproval,
        Self::ApprovalReturned,
        Self::NotAccepted,
        Self::Permitted,
        Self::Denied,
        Self::Withdrawn,
    ];

    /// The code used in storage and URLs.
    pub fn code(self) -> &'static str {
        match self {
            Self::PendingPreReview => "pending_pre_review",
            Self::PreReviewPassed => "pre_review_passed",
            Self::PreReviewReturned => "pre_review_returned",
            Self::PendingAcceptance => "pending_acceptance",
            Self::InApproval => "in_approval",
            Self::ApprovalReturned => "approval_returned",
            Self::NotAccepted => "not_accepted",
            Self::Permitted => "permitted",
            Self::Denied => "denied",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The name shown on pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::PendingPreReview => "待初审",
            Self::PreReviewPassed => "初审通过",
            Self::PreReviewReturned => "初审退回",
            Self::PendingAcceptance => "受理中",
            Self::InApproval => "审批中",
            Self::ApprovalReturned => "审批退回",
            Self::NotAccepted => "不予受理",
            Self::Permitted => "已许可",
            Self::Denied => "不许可",
            Self::Withdrawn => "已撤回",
        }
    }

    /// The status with this [`code`](Self::code).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// True when the application is closed and accepts no action.
    pub fn is_final(self) -> bool {
        matches!(self, Self::NotAccepted | Self::Permitted | Self::Denied | Self::Withdrawn)
    }

    /// True before acceptance was ever possible: the pre-review phase, where no flow has been chosen.
    fn is_pre_review(self) -> bool {
        matches!(self, Self::PendingPreReview | Self::PreReviewPassed | Self::PreReviewReturned)
    }
}

/// The application's position: its status, and in approval the 0-based current step of a flow of `steps` steps.
///
/// Invariants (see [`Progress::is_consistent`]): `step` is `Some(k)` with `k < steps` exactly when the status is
/// [`Status::InApproval`]; `steps` is 0 in the pre-review phase and at least 1 in and after approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Where the application stands.
    pub status: Status,
    /// The 0-based current approval step; `Some` only in [`Status::InApproval`].
    pub step: Option<u32>,
    /// The number of steps of the flow fixed at the latest acceptance; 0 if never accepted.
    pub steps: u32,
}

impl Progress {
    /// A freshly submitted application: 待初审, no flow yet.
    pub fn submitted() -> Self {
        Self { status: Status::PendingPreReview, step: None, steps: 0 }
    }

    /// True when the invariants hold; positions read back from storage should be checked with this.
    pub fn is_consistent(self) -> bool {
        let step_ok = match (self.status, self.step) {
            (Status::InApproval, Some(k)) => k < self.steps,
            (Status::InApproval, None) => false,
            (_, step) => step.is_none(),
        };
        let steps_ok = match self.status {
            s if s.is_pre_review() => self.steps == 0,
            Status::InApproval | Status::ApprovalReturned | Status::Permitted | Status::Denied => self.steps >= 1,
            // 受理中, 不予受理 and 已撤回 happen both before the first acceptance and after a return.
            _ => true,
        };
        step_ok && steps_ok
    }

    /// This position moved to `status` outside approval, keeping the recorded number of steps.
    fn to(self, status: Status) -> Self {
        Self { status, step: None, steps: self.steps }
    }
}

/// Who performs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The public-security bureau: pre-review, acceptance and approval steps.
    Police,
    /// The organizer 承办单位, at the portal.
    Organizer,
}

/// The decision taken at an approval step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 通过: on to the next step, or permitted after the last one.
    Pass,
    /// 退回: back to the organizer for revision.
    Return,
    /// 不许可: refused for good.
    Deny,
}

/// Something done to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 通过初审 (police).
    PassPreReview,
    /// 退回初审 (police), with a required opinion.
    ReturnPreReview {
        /// Why it is returned.
        opinion: String,
    },
    /// 提交审批 (organizer), from 初审通过 once the materials are uploaded.
    SubmitForAcceptance,
    /// 重新提交 (organizer): from 初审退回 back to 待初审, from 审批退回 back to 受理中.
    Resubmit,
    /// 受理 (police).
    Accept {
        /// The number of steps of the approving region's flow (at least 1), fixed for this round of approval.
        steps: u32,
    },
    /// 不予受理 (police), with a required reason.
    NotAccept {
        /// Why it is not accepted.
        reason: String,
    },
    /// The decision at the current approval step (police). The opinion is optional for [`Decision::Pass`] and
    /// required otherwise.
    Step {
        /// 通过, 退回 or 不许可.
        decision: Decision,
        /// The step's opinion.
        opinion: String,
    },
    /// 撤回 (organizer), at any time before a final status.
    Withdraw,
}

impl Action {
    /// One representative of every kind of action, in button order, with empty opinions and one step.
    pub fn samples() -> [Action; 10] {
        [
            Self::PassPreReview,
            Self::ReturnPreReview { opinion: String::new() },
            Self::SubmitForAcceptance,
            Self::Resubmit,
            Self::Accept { steps: 1 },
            Self::NotAccept { reason: String::new() },
            Self::Step { decision: Decision::Pass, opinion: String::new() },
            Self::Step { decision: Decision::Return, opinion: String::new() },
            Self::Step { decision: Decision::Deny, opinion: String::new() },
            Self::Withdraw,
        ]
    }

    /// Who performs it.
    pub fn side(&self) -> Side {
        match self {
            Self::SubmitForAcceptance | Self::Resubmit | Self::Withdraw => Side::Organizer,
            Self::PassPreReview
            | Self::ReturnPreReview { .. }
            | Self::Accept { .. }
            | Self::NotAccept { .. }
            | Self::Step { .. } => Side::Police,
        }
    }

    /// The code used in forms, storage and history; a step's code names its decision.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PassPreReview => "pass_pre_review",
            Self::ReturnPreReview { .. } => "return_pre_review",
            Self::SubmitForAcceptance => "submit_for_acceptance",
            Self::Resubmit => "resubmit",
            Self::Accept { .. } => "accept",
            Self::NotAccept { .. } => "not_accept",
            Self::Step { decision: Decision::Pass, .. } => "step_pass",
            Self::Step { decision: Decision::Return, .. } => "step_return",
            Self::Step { decision: Decision::Deny, .. } => "step_deny",
            Self::Withdraw => "withdraw",
        }
    }

    /// The name shown on buttons and in history.
    pub fn label(&self) -> &'static str {
        match self {
            Self::PassPreReview => "通过初审",
            Self::ReturnPreReview { .. } => "退回初审",
            Self::SubmitForAcceptance => "提交审批",
            Self::Resubmit => "重新提交",
            Self::Accept { .. } => "受理",
            Self::NotAccept { .. } => "不予受理",
            Self::Step { decision: Decision::Pass, .. } => "通过",
            Self::Step { decision: Decision::Return, .. } => "退回",
            Self::Step { decision: Decision::Deny, .. } => "不许可",
            Self::Withdraw => "撤回",
        }
    }

    /// The trimmed opinion or reason this action carries, if it carries one (possibly empty).
    pub fn opinion(&self) -> Option<&str> {
        match self {
            Self::ReturnPreReview { opinion } | Self::Step { opinion, .. } => Some(opinion.trim()),
            Self::NotAccept { reason } => Some(reason.trim()),
            _ => None,
        }
    }

    /// True when the opinion or reason must not be empty.
    fn opinion_required(&self) -> bool {
        match self {
            Self::ReturnPreReview { .. } | Self::NotAccept { .. } => true,
            Self::Step { decision, .. } => *decision != Decision::Pass,
            _ => false,
        }
    }
}

/// The label of the action with this [`code`](Action::code), e.g. `"step_deny"` → 不许可.
/// The organizer's portal events (history rows written by the application import) have labels too.
pub fn action_label(code: &str) -> Option<&'static str> {
    Action::samples().iter().find(|a| a.code() == code).map(|a| a.label()).or(match code {
        "submit" => Some("提交申请"),
        "submit_for_acceptance" => Some("提交受理材料"),
        "resubmit" => Some("重新提交"),
        "withdraw" => Some("撤回申请"),
        _ => None,
    })
}

/// The label of an action code, or the code itself when unknown.
fn label_or_code(code: &str) -> &str {
    action_label(code).unwrap_or(code)
}

/// Why an action cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The action is not possible in this status (or the position is inconsistent).
    #[error("当前状态为「{}」，不能{}", .status.label(), label_or_code(.action))]
    NotAllowed {
        /// The status the application is in.
        status: Status,
        /// The refused action's [`code`](Action::code).
        action: &'static str,
    },
    /// A return, a refusal or a denial needs an opinion or reason.
    #[error("请填写意见或理由")]
    OpinionRequired,
    /// The opinion or reason is longer than [`OPINION_MAX_LEN`].
    #[error("意见或理由不能超过 {max} 个字符", max = OPINION_MAX_LEN)]
    OpinionTooLong,
    /// 受理 with a flow of no steps.
    #[error("审批流程至少需要一个步骤，请先配置审批流程")]
    NoSteps,
}

/// Applies `action` to `p`, returning the new position, or why it is not allowed. Opinions are trimmed; required ones
/// must be non-empty; at most [`OPINION_MAX_LEN`] characters. Whether the action is possible in `p` is checked before
/// its opinion, and an inconsistent `p` allows nothing.
pub fn apply(p: Progress, action: &Action) -> Result<Progress, WorkflowError> {
    use Status as S;
    let not_allowed = WorkflowError::NotAllowed { status: p.status, action: action.code() };
    if !p.is_consistent() {
        return Err(not_allowed);
    }
    let next = match (p.status, action) {
        (S::PendingPreReview, Action::PassPreReview) => p.to(S::PreReviewPassed),
        (S::PendingPreReview, Action::ReturnPreReview { .. }) => p.to(S::PreReviewReturned),
        (S::PreReviewReturned, Action::Resubmit) => p.to(S::PendingPreReview),
        (S::PreReviewPassed, Action::SubmitForAcceptance) => p.to(S::PendingAcceptance),
        (S::PendingAcceptance, Action::Accept { steps }) => {
            if *steps == 0 {
                return Err(WorkflowError::NoSteps);
            }
            Progress { status: S::InApproval, step: Some(0), steps: *steps }
        }
        (S::PendingAcceptance, Action::NotAccept { .. }) => p.to(S::NotAccepted),
        (S::InApproval, Action::Step { decision, .. }) => match decision {
            Decision::Pass => match p.step {
                Some(k) if k + 1 < p.steps => Progress { step: Some(k + 1), ..p },
                _ => p.to(S::Permitted),
            },
            Decision::Return => p.to(S::ApprovalReturned),
            Decision::Deny => p.to(S::Denied),
        },
        (S::ApprovalReturned, Action::Resubmit) => p.to(S::PendingAcceptance),
        (s, Action::Withdraw) if !s.is_final() => p.to(S::Withdrawn),
        _ => return Err(not_allowed),
    };
    if let Some(opinion) = action.opinion() {
        if action.opinion_required() && opinion.is_empty() {
            return Err(WorkflowError::OpinionRequired);
        }
        if opinion.chars().count() > OPINION_MAX_LEN {
            return Err(WorkflowError::OpinionTooLong);
        }
    }
    Ok(next)
}

/// The codes of the actions possible from `p` for `side`, in button order (used to show only allowed buttons).
/// Opinions are not considered: an action listed here may still fail for a missing opinion.
pub fn allowed(p: Progress, side: Side) -> Vec<&'static str> {
    Action::samples()
        .iter()
        .filter(|a| a.side() == side && !matches!(apply(p, a), Err(WorkflowError::NotAllowed { .. })))
        .map(|a| a.code())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn portal_events_in_the_history_have_labels() {
        for code in ["submit", "submit_for_acceptance", "resubmit", "withdraw"] {
            assert!(super::action_label(code).is_some(), "{code}");
        }
        assert_eq!(super::action_label("step_deny"), Some("不许可"));
        assert_eq!(super::action_label("nonsense"), None);
    }

    use super::*;

    use Status as S;

    /// Every legal transition: (from, action code, to). In 审批中 the sample position is step 0 of 2, so 通过 stays
    /// in approval; the last step is covered by [`three_step_flow_to_permitted`].
    const LEGAL: &[(Status, &str, Status)] = &[
        (S::PendingPreReview, "pass_pre_review", S::PreReviewPassed),
        (S::PendingPreReview, "return_pre_review", S::PreReviewReturned),
        (S::PreReviewReturned, "resubmit", S::PendingPreReview),
        (S::PreReviewPassed, "submit_for_acceptance", S::PendingAcceptance),
        (S::PendingAcceptance, "accept", S::InApproval),
        (S::PendingAcceptance, "not_accept", S::NotAccepted),
        (S::InApproval, "step_pass", S::InApproval),
        (S::InApproval, "step_return", S::ApprovalReturned),
        (S::InApproval, "step_deny", S::Denied),
        (S::ApprovalReturned, "resubmit", S::PendingAcceptance),
        (S::PendingPreReview, "withdraw", S::Withdrawn),
        (S::PreReviewPassed, "withdraw", S::Withdrawn),
        (S::PreReviewReturned, "withdraw", S::Withdrawn),
        (S::PendingAcceptance, "withdraw", S::Withdrawn),
        (S::InApproval, "withdraw", S::Withdrawn),
        (S::ApprovalReturned, "withdraw", S::Withdrawn),
    ];

    /// A consistent position in `status`: two steps recorded once approval has begun, at step 0 in approval.
    fn at(status: Status) -> Progress {
        let (step, steps) = match status {
            S::InApproval => (Some(0), 2),
            S::ApprovalReturned | S::Permitted | S::Denied => (None, 2),
            _ => (None, 0),
        };
        Progress { status, step, steps }
    }

    /// The samples with non-empty opinions, so only the status decides.
    fn actions() -> Vec<Action> {
        Action::samples()
            .into_iter()
            .map(|a| match a {
                Action::ReturnPreReview { .. } => Action::ReturnPreReview { opinion: "材料不全".into() },
                Action::NotAccept { .. } => Action::NotAccept { reason: "不符合条件".into() },
                Action::Step { decision, .. } => Action::Step { decision, opinion: "意见".into() },
                a => a,
            })
            .collect()
    }

    #[test]
    fn codes_and_labels() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.code()), Some(s));
        }
        assert_eq!(Status::parse("nope"), None);
        let labels: Vec<_> = Status::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels.join(" "), "待初审 初审通过 初审退回 受理中 审批中 审批退回 不予受理 已许可 不许可 已撤回");
        let finals: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [S::NotAccepted, S::Permitted, S::Denied, S::Withdrawn]);

        let samples = Action::samples();
        let labels: Vec<_> = samples.iter().map(|a| a.label()).collect();
        assert_eq!(labels.join(" "), "通过初审 退回初审 提交审批 重新提交 受理 不予受理 通过 退回 不许可 撤回");
        let mut codes: Vec<_> = samples.iter().map(|a| a.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 10);
        assert_eq!(action_label("step_deny"), Some("不许可"));
        assert_eq!(action_label("nope"), None);
        let organizer: Vec<_> = samples.iter().filter(|a| a.side() == Side::Organizer).map(|a| a.code()).collect();
        assert_eq!(organizer, ["submit_for_acceptance", "resubmit", "withdraw"]);
    }

    #[test]
    fn every_status_and_action() {
        let mut legal_seen = 0;
        for status in Status::ALL {
            let p = at(status);
            assert!(p.is_consistent(), "{p:?}");
            for action in actions() {
                let expected = LEGAL.iter().find(|(s, a, _)| *s == status && *a == action.code()).map(|t| t.2);
                let got = apply(p, &action);
                match expected {
                    Some(to) => {
                        legal_seen += 1;
                        let next = got.unwrap_or_else(|e| panic!("{status:?} {action:?}: {e}"));
                        assert_eq!(next.status, to, "{status:?} {action:?}");
                        assert!(next.is_consistent(), "{status:?} {action:?} → {next:?}");
                    }
                    None => assert_eq!(
                        got,
                        Err(WorkflowError::NotAllowed { status, action: action.code() }),
                        "{status:?} {action:?}"
                    ),
                }
            }
        }
        assert_eq!(legal_seen, LEGAL.len());
    }

    #[test]
    fn allowed_buttons() {
        let p = Progress::submitted();
        assert_eq!(allowed(p, Side::Police), ["pass_pre_review", "return_pre_review"]);
        assert_eq!(allowed(p, Side::Organizer), ["withdraw"]);
        assert_eq!(allowed(at(S::InApproval), Side::Police), ["step_pass", "step_return", "step_deny"]);
        assert_eq!(allowed(at(S::ApprovalReturned), Side::Organizer), ["resubmit", "withdraw"]);
        for status in Status::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(allowed(at(status), Side::Police).is_empty());
            assert!(allowed(at(status), Side::Organizer).is_empty());
        }
        // `allowed` agrees with the table of legal transitions.
        for status in Status::ALL {
            let mut both = allowed(at(status), Side::Police);
            both.extend(allowed(at(status), Side::Organizer));
            both.sort_unstable();
            let mut legal: Vec<_> = LEGAL.iter().filter(|t| t.0 == status).map(|t| t.1).collect();
            legal.sort_unstable();
            assert_eq!(both, legal, "{status:?}");
        }
    }

    #[test]
    fn required_opinions() {
        for blank in ["", "  ", "\n\t "] {
            let cases = [
                (at(S::PendingPreReview), Action::ReturnPreReview { opinion: blank.into() }),
                (at(S::PendingAcceptance), Action::NotAccept { reason: blank.into() }),
                (at(S::InApproval), Action::Step { decision: Decision::Return, opinion: blank.into() }),
                (at(S::InApproval), Action::Step { decision: Decision::Deny, opinion: blank.into() }),
            ];
            for (p, action) in cases {
                assert_eq!(apply(p, &action), Err(WorkflowError::OpinionRequired), "{action:?}");
            }
            let pass = Action::Step { decision: Decision::Pass, opinion: blank.into() };
            assert_eq!(apply(at(S::InApproval), &pass).map(|p| p.step), Ok(Some(1)));
        }
        let long = "长".repeat(OPINION_MAX_LEN + 1);
        let pass = Action::Step { decision: Decision::Pass, opinion: long };
        assert_eq!(apply(at(S::InApproval), &pass), Err(WorkflowError::OpinionTooLong));
        let deny = Action::Step { decision: Decision::Deny, opinion: format!("  {}  ", "长".repeat(OPINION_MAX_LEN)) };
        assert_eq!(apply(at(S::InApproval), &deny).map(|p| p.status), Ok(S::Denied));
        // The status is checked before the opinion.
        let ret = Action::ReturnPreReview { opinion: String::new() };
        assert!(matches!(apply(at(S::Permitted), &ret), Err(WorkflowError::NotAllowed { .. })));
        assert_eq!(ret.opinion(), Some(""));
        assert_eq!(Action::NotAccept { reason: " 理由 ".into() }.opinion(), Some("理由"));
        assert_eq!(Action::Withdraw.opinion(), None);
    }

    #[test]
    fn accept_needs_steps() {
        assert_eq!(apply(at(S::PendingAcceptance), &Action::Accept { steps: 0 }), Err(WorkflowError::NoSteps));
        assert!(matches!(
            apply(at(S::PendingPreReview), &Action::Accept { steps: 0 }),
            Err(WorkflowError::NotAllowed { .. })
        ));
    }

    #[test]
    fn messages() {
        let e = WorkflowError::NotAllowed { status: S::Permitted, action: "withdraw" };
        assert_eq!(e.to_string(), "当前状态为「已许可」，不能撤回");
        assert_eq!(WorkflowError::OpinionTooLong.to_string(), "意见或理由不能超过 1000 个字符");
    }

    /// Applies `actions` in order, each of which must succeed.
    fn walk(mut p: Progress, actions: &[Action]) -> Progress {
        for action in actions {
            p = apply(p, action).unwrap_or_else(|e| panic!("{p:?} {action:?}: {e}"));
            assert!(p.is_consistent(), "{p:?}");
        }
        p
    }

    fn step(decision: Decision, opinion: &str) -> Action {
        Action::Step { decision, opinion: opinion.into() }
    }

    #[test]
    fn three_step_flow_to_permitted() {
        let p = walk(
            Progress::submitted(),
            &[Action::PassPreReview, Action::SubmitForAcceptance, Action::Accept { steps: 3 }],
        );
        assert_eq!(p, Progress { status: S::InApproval, step: Some(0), steps: 3 });
        let p = walk(p, &[step(Decision::Pass, "")]);
        assert_eq!((p.step, p.steps), (Some(1), 3));
        let p = walk(p, &[step(Decision::Pass, "同意")]);
        assert_eq!((p.step, p.steps), (Some(2), 3));
        let p = walk(p, &[step(Decision::Pass, "同意许可")]);
        assert_eq!(p, Progress { status: S::Permitted, step: None, steps: 3 });
        for action in actions() {
            assert!(apply(p, &action).is_err());
        }
    }

    #[test]
    fn single_step_flow() {
        let p = Progress { status: S::InApproval, step: Some(0), steps: 1 };
        assert_eq!(apply(p, &step(Decision::Pass, "")).map(|p| p.status), Ok(S::Permitted));
    }

    #[test]
    fn return_mid_flow_then_resubmit() {
        let p = walk(
            Progress::submitted(),
            &[
                Action::ReturnPreReview { opinion: "请补充联系人".into() },
                Action::Resubmit,
                Action::PassPreReview,
                Action::SubmitForAcceptance,
                Action::Accept { steps: 3 },
                step(Decision::Pass, ""),
                step(Decision::Return, "安保方案不完整"),
            ],
        );
        assert_eq!(p, Progress { status: S::ApprovalReturned, step: None, steps: 3 });
        let p = walk(p, &[Action::Resubmit]);
        // Back to acceptance, no current step, the returned round's flow length kept as a record.
        assert_eq!(p, Progress { status: S::PendingAcceptance, step: None, steps: 3 });
        // The next acceptance starts again at step 0 with the steps it is given.
        let p = walk(p, &[Action::Accept { steps: 2 }]);
        assert_eq!(p, Progress { status: S::InApproval, step: Some(0), steps: 2 });
        let p = walk(p, &[step(Decision::Pass, ""), step(Decision::Pass, "")]);
        assert_eq!(p.status, S::Permitted);
    }

    #[test]
    fn inconsistent_positions_allow_nothing() {
        let bad = [
            Progress { status: S::InApproval, step: None, steps: 2 },
            Progress { status: S::InApproval, step: Some(2), steps: 2 },
            Progress { status: S::PendingPreReview, step: None, steps: 1 },
            Progress { status: S::PendingAcceptance, step: Some(0), steps: 1 },
            Progress { status: S::ApprovalReturned, step: None, steps: 0 },
        ];
        for p in bad {
            assert!(!p.is_consistent(), "{p:?}");
            for action in actions() {
                assert!(matches!(apply(p, &action), Err(WorkflowError::NotAllowed { .. })), "{p:?} {action:?}");
            }
            assert!(allowed(p, Side::Police).is_empty() && allowed(p, Side::Organizer).is_empty());
        }
    }

    /// Applies the actions that succeed from a fresh submission and checks the invariants along the way.
    fn check_random_walk(actions: &[Action]) {
        let mut p = Progress::submitted();
        let mut accepted = false;
        let mut history: Vec<(Progress, &'static str, Progress)> = Vec::new();
        for action in actions {
            let result = apply(p, action);
            if p.status.is_final() {
                assert!(matches!(result, Err(WorkflowError::NotAllowed { .. })), "{p:?} {action:?}");
            }
            let Ok(next) = result else { continue };
            assert!(next.is_consistent(), "{p:?} {action:?} → {next:?}");
            assert_eq!(next.step.is_some(), next.status == S::InApproval);
            if let Action::Accept { steps } = action {
                accepted = true;
                assert_eq!((next.step, next.steps), (Some(0), *steps));
            } else {
                // Only an acceptance chooses the flow.
                assert_eq!(next.steps, p.steps, "{p:?} {action:?}");
            }
            assert_eq!(next.steps == 0, !accepted);
            if let (Some(k), Some(j)) = (p.step, next.step) {
                assert_eq!(j, k + 1, "a step only moves forward by one");
            }
            history.push((p, action.code(), next));
            p = next;
        }
        for pair in history.windows(2) {
            assert_eq!(pair[0].2, pair[1].0);
        }
        if let Some(first) = history.first() {
            assert_eq!(first.0, Progress::submitted());
        }
        if let Some(last) = history.last() {
            assert_eq!(last.2, p);
        }
        for (from, code, to) in &history {
            assert!(
                LEGAL.iter().any(|t| t.0 == from.status && t.1 == *code && (t.2 == to.status || *code == "step_pass")),
                "{from:?} {code} {to:?}"
            );
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;
        use super::check_random_walk;

        fn opinion() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(String::new()),
                Just(" \n ".to_string()),
                Just("同意".to_string()),
                Just("长".repeat(OPINION_MAX_LEN + 1)),
            ]
        }

        fn action() -> impl Strategy<Value = Action> {
            let decision = prop_oneof![Just(Decision::Pass), Just(Decision::Return), Just(Decision::Deny)];
            prop_oneof![
                3 => Just(Action::PassPreReview),
                2 => opinion().prop_map(|opinion| Action::ReturnPreReview { opinion }),
                3 => Just(Action::SubmitForAcceptance),
                2 => Just(Action::Resubmit),
                3 => (0u32..4).prop_map(|steps| Action::Accept { steps }),
                1 => opinion().prop_map(|reason| Action::NotAccept { reason }),
                6 => (decision, opinion()).prop_map(|(decision, opinion)| Action::Step { decision, opinion }),
                1 => Just(Action::Withdraw),
            ]
        }

        proptest! {
            #[test]
            fn random_walks_keep_invariants(actions in prop::collection::vec(action(), 0..=30)) {
                check_random_walk(&actions);
            }
        }
    }
}
