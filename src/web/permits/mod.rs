//! 许可管理: the list of applications, their details, the police actions (活动初审, 受理, 审批), the records added on
//! the intranet (踏勘, 检查记录), attachments and the printable decision documents.
//!
//! Who may do what is decided here only for showing buttons ([`ops`]); the store (`workflow::act`) checks every
//! action again in its transaction and refuses with a Chinese message.

mod actions;
mod deadline;
mod details;
mod downloads;
mod list;
mod records;
mod upload;

use crate::web::filters::id_from;
use crate::web::layout::size_label;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use maud::{Markup, html};

use super::AppState;
use super::error::AppError;
use super::session::Ctx;
use crate::domain::FieldErrors;
use crate::domain::region::{Adcode, RegionLevel, RegionTree};
use crate::domain::user::Permission;
use crate::domain::workflow::{Side, Status, allowed};
use crate::store::activities::{self, ActivityRow, FileInfo};
use crate::store::users::User;

/// The largest request body of the two upload forms: one attachment and the text fields.
const UPLOAD_BODY_LIMIT: usize = crate::files::MAX_UPLOAD + 512 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/permits", get(list::list))
        .route("/permits/export", get(list::export))
        .route("/permits/files/{file_id}", get(downloads::file))
        .route("/permits/documents/{doc_id}", get(downloads::document))
        .route("/permits/{id}", get(details::details))
        .route("/permits/{id}/pre-review", get(actions::pre_review_page).post(actions::pre_review))
        .route("/permits/{id}/accept", get(actions::accept_page).post(actions::accept))
        .route("/permits/{id}/approve", get(actions::approve_page).post(actions::approve))
        .route(
            "/permits/{id}/survey",
            get(records::survey_page_get).post(records::add_survey).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route(
            "/permits/{id}/inspection",
            get(records::inspection_page_get)
                .post(records::add_inspection)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
}

/// The menu entry these pages belong to.
const MENU: &str = "/permits";

/// The activity `id` as the list shows it, if the user's region sees it (else 404).
async fn load_row(app: &AppState, ctx: &Ctx, id: i64) -> Result<ActivityRow, AppError> {
    let scope = app.regions.path_key(ctx.user.region);
    Ok(app.store.read(move |c| activities::get_row(c, id, &scope)).await?)
}

/// Today in Beijing.
fn beijing_today(app: &AppState) -> NaiveDate {
    (app.clock.now() + TimeDelta::hours(8)).date()
}

/// A stored Beijing-local time (activity times, inspections), shown as it is.
fn local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// What a user may do with an activity, as buttons and links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// 【活动详情】
    Details,
    /// 【踏勘详情】
    Surveys,
    /// 【活动初审】
    PreReview,
    /// 【受理】
    Accept,
    /// 【审批】
    Approve,
    /// 【添加踏勘记录】
    AddSurvey,
    /// 【添加检查记录】
    AddInspection,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Self::Details => "活动详情",
            Self::Surveys => "踏勘详情",
            Self::PreReview => "活动初审",
            Self::Accept => "受理",
            Self::Approve => "审批",
            Self::AddSurvey => "添加踏勘记录",
            Self::AddInspection => "添加检查记录",
        }
    }

    /// The link, keeping `embed=1` before any fragment.
    fn link(self, ctx: &Ctx, id: i64) -> String {
        let suffix = match self {
            Self::Details => "",
            Self::Surveys => return format!("{}#surveys", ctx.href(&format!("/permits/{id}"))),
            Self::PreReview => "/pre-review",
            Self::Accept => "/accept",
            Self::Approve => "/approve",
            Self::AddSurvey => "/survey",
            Self::AddInspection => "/inspection",
        };
        ctx.href(&format!("/permits/{id}{suffix}"))
    }

    /// Whether this is a workflow action (shown as a primary button).
    fn is_action(self) -> bool {
        matches!(self, Self::PreReview | Self::Accept | Self::Approve)
    }
}

/// Whether `user`'s region contains the approving bureau or one of the regions the activity is held in.
fn in_record_region(regions: &RegionTree, user: &User, row: &ActivityRow) -> bool {
    regions.is_within(row.bureau, user.region) || row.regions.iter().any(|r| regions.is_within(*r, user.region))
}

/// Whether `user` may add surveys and inspections to `row`: an approver of the right region, while the application
/// is open.
fn may_record(regions: &RegionTree, user: &User, row: &ActivityRow) -> bool {
    user.user_type.can(Permission::Approve) && !row.progress.status.is_final() && in_record_region(regions, user, row)
}

/// Everything `user` may do with `row` now, in button order.
fn ops(regions: &RegionTree, user: &User, row: &ActivityRow) -> Vec<Op> {
    let mut out = vec![Op::Details];
    if row.has_survey {
        out.push(Op::Surveys);
    }
    let approver = user.user_type.can(Permission::Approve);
    if approver && user.region == row.bureau {
        let codes = allowed(row.progress, Side::Police);
        if codes.contains(&"pass_pre_review") {
            out.push(Op::PreReview);
        }
        if codes.contains(&"accept") {
            out.push(Op::Accept);
        }
        if codes.contains(&"step_pass") && user.approval_role_id.is_some() && user.approval_role_id == row.step_role_id
        {
            out.push(Op::Approve);
        }
    }
    if may_record(regions, user, row) {
        out.push(Op::AddSurvey);
        out.push(Op::AddInspection);
    }
    out
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Permitted => "tag-ok",
        Status::NotAccepted | Status::Denied => "tag-danger",
        Status::PreReviewReturned | Status::ApprovalReturned => "tag-warn",
        Status::Withdrawn => "tag-muted",
        _ => "tag-info",
    }
}

/// The status as a tag with its label, and in approval the step: 第 k/n 步 · 步骤名.
fn status_tag(row: &ActivityRow) -> Markup {
    let p = row.progress;
    html! {
        span.tag.(status_class(p.status)) { (p.status.label()) }
        @if p.status == Status::InApproval {
            @if let Some(k) = p.step {
                span.step { "第 " (k + 1) "/" (p.steps) " 步 · " (row.step_name.as_deref().unwrap_or("—")) }
            }
        }
    }
}

/// The approving organ's name, e.g. 杭州市公安局西湖区分局.
fn bureau_label(regions: &RegionTree, code: Adcode) -> String {
    let path = regions.path(code);
    let province = path.first().map_or(String::new(), |r| r.name.clone());
    let city = path.iter().find(|r| r.level == RegionLevel::City).map(|r| r.name.as_str());
    let county = path.iter().find(|r| r.level == RegionLevel::County).map(|r| r.name.as_str());
    crate::documents::bureau_name(&province, city, county)
}

/// A download link for an attachment.
fn file_link(ctx: &Ctx, f: &FileInfo) -> Markup {
    html! {
        a.file-link href=(ctx.href(&format!("/permits/files/{}", f.id))) { (f.name) }
        " " span.muted { "（" (size_label(f.size)) "）" }
    }
}

/// A labelled textarea with its error message (ids as [`super::layout::text_field`], so `#f-{name}-err`).
fn textarea_field(
    name: &str,
    label: &str,
    value: &str,
    errors: &FieldErrors,
    required: bool,
    maxlength: usize,
    hint: Option<&str>,
) -> Markup {
    let err = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.field.has-error[err.is_some()] {
            label for=(id) { (label) @if required { span.req aria-hidden="true" { "*" } } }
            textarea id=(id) name=(name) rows="5" maxlength=(maxlength)
                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-err"))] { (value) }
            @if let Some(hint) = hint { div.hint { (hint) } }
            @if let Some(e) = err { div.field-error id=(format!("{id}-err")) role="alert" { (e) } }
        }
    }
}

/// The few facts an action or record page repeats so the approver knows what they act on.
fn summary(app: &AppState, ctx: &Ctx, row: &ActivityRow) -> Markup {
    html! {
        dl.facts.permit-summary {
            dt { "活动名称" } dd { a href=(ctx.href(&format!("/permits/{}", row.id))) { (row.name) } }
            dt { "承办单位" } dd { (row.organizer) }
            dt { "活动时间" } dd { (local(row.start_at)) " 至 " (local(row.end_at)) }
            dt { "每场人数" } dd { (row.attendance) }
            dt { "审批机关" } dd { (bureau_label(&app.regions, row.bureau)) }
            dt { "状态" } dd { (status_tag(row)) }
        }
    }
}
