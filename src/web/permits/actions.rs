//! The police actions, each a GET page that works as a dialog without JavaScript and its POST: 活动初审
//! (`/permits/{id}/pre-review`), 受理 (`/accept`) and 审批 (`/approve`). The form carries the revision the approver
//! saw; the store refuses the action when another approver acted first (409, the form is shown again).

use axum::Form;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{MENU, Op, id_from, load_row, ops, summary, textarea_field};
use crate::domain::FieldErrors;
use crate::domain::text::parse_note;
use crate::domain::user::Permission;
use crate::domain::workflow::{Action, Decision, OPINION_MAX_LEN, Side, allowed};
use crate::store::StoreError;
use crate::store::activities::ActivityRow;
use crate::store::workflow;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{csrf_field, page};
use crate::web::session::Ctx;

/// Which of the three action pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PreReview,
    Accept,
    Approve,
}

impl Kind {
    fn op(self) -> Op {
        match self {
            Self::PreReview => Op::PreReview,
            Self::Accept => Op::Accept,
            Self::Approve => Op::Approve,
        }
    }

    fn title(self) -> &'static str {
        self.op().label()
    }

    fn path(self, id: i64) -> String {
        match self {
            Self::PreReview => format!("/permits/{id}/pre-review"),
            Self::Accept => format!("/permits/{id}/accept"),
            Self::Approve => format!("/permits/{id}/approve"),
        }
    }

    /// The radio choices: value and the manual's wording.
    fn choices(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::PreReview => &[("pass", "通过初审"), ("return", "退回初审")],
            Self::Accept => &[("accept", "受理"), ("not_accept", "不予受理")],
            Self::Approve => &[("pass", "通过"), ("deny", "不许可"), ("return", "退回")],
        }
    }

    fn opinion_label(self) -> &'static str {
        match self {
            Self::PreReview => "退回意见",
            Self::Accept => "不予受理理由",
            Self::Approve => "审批意见",
        }
    }

    fn opinion_hint(self) -> &'static str {
        match self {
            Self::PreReview => "退回初审时必填，将告知承办单位需要修改的内容",
            Self::Accept => "不予受理时必填，将写入不予受理通知书",
            Self::Approve => "不许可、退回时必填；通过时可不填。不许可的理由将写入不予安全许可决定书",
        }
    }

    /// The action code whose availability decides whether the page offers the form.
    fn code(self) -> &'static str {
        match self {
            Self::PreReview => "pass_pre_review",
            Self::Accept => "accept",
            Self::Approve => "step_pass",
        }
    }
}

/// The raw form.
#[derive(Debug, Deserialize, Default, Clone)]
pub(super) struct ActionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    opinion: String,
    #[serde(default)]
    revision: String,
}

/// Parses the form into the revision and the action; nothing is written on error.
fn parse(kind: Kind, form: &ActionForm) -> Result<(i64, Action), FieldErrors> {
    let mut e = FieldErrors::default();
    let label = kind.opinion_label();
    let opinion = e.take(parse_note("opinion", label, &form.opinion, OPINION_MAX_LEN)).unwrap_or_default();
    let needs_opinion = |e: &mut FieldErrors, what: &str| {
        if opinion.is_empty() && e.get("opinion").is_none() {
            e.push("opinion", format!("{what}须填写{label}"));
        }
    };
    let action = match (kind, form.decision.trim()) {
        (Kind::PreReview, "pass") => Some(Action::PassPreReview),
        (Kind::PreReview, "return") => {
            needs_opinion(&mut e, "退回初审");
            Some(Action::ReturnPreReview { opinion: opinion.clone() })
        }
        (Kind::Accept, "accept") => Some(Action::Accept { steps: 0 }),
        (Kind::Accept, "not_accept") => {
            needs_opinion(&mut e, "不予受理");
            Some(Action::NotAccept { reason: opinion.clone() })
        }
        (Kind::Approve, "pass") => Some(Action::Step { decision: Decision::Pass, opinion: opinion.clone() }),
        (Kind::Approve, "deny") => {
            needs_opinion(&mut e, "不许可");
            Some(Action::Step { decision: Decision::Deny, opinion: opinion.clone() })
        }
        (Kind::Approve, "return") => {
            needs_opinion(&mut e, "退回");
            Some(Action::Step { decision: Decision::Return, opinion: opinion.clone() })
        }
        _ => {
            e.push("decision", "请选择办理结果");
            None
        }
    };
    let revision = form.revision.trim().parse::<i64>().ok();
    if revision.is_none() {
        e.push("revision", "表单已失效，请返回活动详情刷新后重新办理");
    }
    match (revision, action) {
        (Some(r), Some(a)) if e.is_empty() => Ok((r, a)),
        _ => Err(e),
    }
}

/// Why `ctx`'s user cannot take this action on `row` now, or `None` when the form may be offered.
fn refusal(app: &AppState, ctx: &Ctx, row: &ActivityRow, kind: Kind) -> Option<String> {
    if ops(&app.regions, &ctx.user, row).contains(&kind.op()) {
        return None;
    }
    let status = row.progress.status;
    Some(if !allowed(row.progress, Side::Police).contains(&kind.code()) {
        format!("该申请当前状态为「{}」，不能办理{}。", status.label(), kind.title())
    } else if ctx.user.region != row.bureau {
        format!("该申请由{}公安机关审批，只有该机关的审批人员可以办理。", app.regions.name(row.bureau))
    } else {
        format!("当前审批步骤「{}」不由您的审批角色办理。", row.step_name.as_deref().unwrap_or("—"))
    })
}

/// What the page shows besides the activity.
struct View<'a> {
    form: &'a ActionForm,
    errors: &'a FieldErrors,
    /// A refusal or conflict message.
    message: Option<&'a str>,
    /// Whether to offer the form.
    show_form: bool,
}

fn action_page(app: &AppState, ctx: &Ctx, kind: Kind, row: &ActivityRow, v: &View<'_>) -> Markup {
    let title = kind.title();
    let derr = v.errors.get("decision");
    page(
        ctx,
        MENU,
        title,
        html! {
            div.card.narrow.dialog role="dialog" aria-labelledby="action-title" {
                h1 id="action-title" { (title) }
                (summary(app, ctx, row))
                @if let Some(m) = v.message { div.form-error role="alert" { (m) } }
                @if !v.errors.is_empty() {
                    div.form-error role="alert" {
                        "请修改标红的项目后再提交，本次未做任何办理。"
                        @if let Some(r) = v.errors.get("revision") { " " (r) }
                    }
                }
                @if v.show_form {
                    form method="post" action=(ctx.href(&kind.path(row.id))) {
                        (csrf_field(ctx))
                        input type="hidden" name="revision" value=(v.form.revision);
                        fieldset.field.choices.has-error[derr.is_some()] id="f-decision"
                            aria-describedby=[derr.map(|_| "f-decision-err")] {
                            legend { "办理结果" span.req aria-hidden="true" { "*" } }
                            @for (value, text) in kind.choices() {
                                label.choice {
                                    input type="radio" name="decision" value=(value)
                                        checked[v.form.decision.trim() == *value] required;
                                    " " (text)
                                }
                            }
                            @if let Some(e) = derr { div.field-error id="f-decision-err" role="alert" { (e) } }
                        }
                        (textarea_field("opinion", kind.opinion_label(), &v.form.opinion, v.errors, false,
                            OPINION_MAX_LEN, Some(kind.opinion_hint())))
                        div.form-actions {
                            button.primary type="submit" { "确定" }
                            a.button href=(ctx.href(&format!("/permits/{}", row.id))) { "取消" }
                        }
                    }
                } @else {
                    div.form-actions { a.button href=(ctx.href(&format!("/permits/{}", row.id))) { "返回活动详情" } }
                }
            }
        },
    )
}

async fn show(
    app: AppState,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    kind: Kind,
) -> Result<Response, AppError> {
    ctx.require(Permission::Approve)?;
    let id = id_from(path)?;
    let row = load_row(&app, &ctx, id).await?;
    let refused = refusal(&app, &ctx, &row, kind);
    let form = ActionForm { revision: row.revision.to_string(), ..ActionForm::default() };
    let view = View {
        form: &form,
        errors: &FieldErrors::default(),
        message: refused.as_deref(),
        show_form: refused.is_none(),
    };
    let status = if refused.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    Ok((status, action_page(&app, &ctx, kind, &row, &view)).into_response())
}

async fn submit(
    app: AppState,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ActionForm>, FormRejection>,
    kind: Kind,
) -> Result<Response, AppError> {
    ctx.require(Permission::Approve)?;
    let id = id_from(path)?;
    let Ok(Form(form)) = form else {
        return Err(AppError::Conflict("提交的表单无法识别，未做任何办理。请返回活动详情刷新后重试。".into()));
    };
    let row = load_row(&app, &ctx, id).await?;
    let (revision, action) = match parse(kind, &form) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let view = View { form: &form, errors: &errors, message: None, show_form: true };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, action_page(&app, &ctx, kind, &row, &view)).into_response());
        }
    };
    let (now, regions, user, actor) = (app.clock.now(), app.regions.clone(), ctx.user.clone(), ctx.actor());
    let done = app.store.write(move |tx| workflow::act(tx, now, &regions, id, revision, &action, &user, &actor)).await;
    match done {
        Ok(_) => Ok(Redirect::to(&ctx.href(&format!("/permits/{id}?notice=done"))).into_response()),
        Err(StoreError::Conflict(message)) => {
            // Show where the application stands now; offer the form again only if the action is still possible.
            let row = load_row(&app, &ctx, id).await?;
            let show_form = refusal(&app, &ctx, &row, kind).is_none();
            let form = ActionForm { revision: row.revision.to_string(), ..form };
            let view =
                View { form: &form, errors: &FieldErrors::default(), message: Some(message.as_str()), show_form };
            Ok((StatusCode::CONFLICT, action_page(&app, &ctx, kind, &row, &view)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn pre_review_page(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    show(app, ctx, path, Kind::PreReview).await
}

pub(super) async fn accept_page(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    show(app, ctx, path, Kind::Accept).await
}

pub(super) async fn approve_page(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    show(app, ctx, path, Kind::Approve).await
}

pub(super) async fn pre_review(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, AppError> {
    submit(app, ctx, path, form, Kind::PreReview).await
}

pub(super) async fn accept(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, AppError> {
    submit(app, ctx, path, form, Kind::Accept).await
}

pub(super) async fn approve(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, AppError> {
    submit(app, ctx, path, form, Kind::Approve).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(decision: &str, opinion: &str, revision: &str) -> ActionForm {
        ActionForm { decision: decision.into(), opinion: opinion.into(), revision: revision.into() }
    }

    #[test]
    fn opinions_are_required_for_returns_refusals_and_denials() {
        assert_eq!(parse(Kind::PreReview, &form("pass", "", "3")), Ok((3, Action::PassPreReview)));
        for (kind, decision) in [
            (Kind::PreReview, "return"),
            (Kind::Accept, "not_accept"),
            (Kind::Approve, "deny"),
            (Kind::Approve, "return"),
        ] {
            let e = parse(kind, &form(decision, "  ", "1")).unwrap_err();
            assert!(e.get("opinion").is_some_and(|m| m.contains("须填写")), "{kind:?} {decision}");
        }
        assert_eq!(parse(Kind::Accept, &form("accept", "", "0")), Ok((0, Action::Accept { steps: 0 })));
        let (_, a) = parse(Kind::Approve, &form("pass", " 同意 ", "0")).unwrap();
        assert_eq!(a, Action::Step { decision: Decision::Pass, opinion: "同意".into() });
    }

    #[test]
    fn bad_choices_and_revisions_are_field_errors() {
        let e = parse(Kind::PreReview, &form("accept", "", "1")).unwrap_err();
        assert!(e.get("decision").is_some());
        let e = parse(Kind::Approve, &form("pass", "", "abc")).unwrap_err();
        assert!(e.get("revision").is_some());
        let long = "长".repeat(OPINION_MAX_LEN + 1);
        let e = parse(Kind::Approve, &form("deny", &long, "1")).unwrap_err();
        assert!(e.get("opinion").is_some_and(|m| m.contains("不能超过")));
    }
}
