//! `GET /apply/{ref}`: one application of the signed-in organizer — its content and status, the 20-day warning, the
//! material list of the approving region with the uploaded files and the upload form (`apply_upload`), the buttons
//! its status allows (提交初审, 提交审批, 修改申请, 重新提交, 撤回), the rectification opinions with their feedback
//! forms and the notifications about it. The event buttons post to `/apply/{ref}/submit`; withdrawing asks first.

use axum::Form;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::apply::{
    MENU, beijing_now, beijing_today, county, county_label, kind_label, lead_banner, lead_warning, local, ref_from,
    status_label, status_tag,
};
use super::apply_upload::upload_form;
use crate::clock::beijing;
use crate::domain::FieldErrors;
use crate::domain::region::Adcode;
use crate::domain::scale::route;
use crate::domain::text::parse_note;
use crate::domain::user::Permission;
use crate::domain::workflow::Status;
use crate::exchange::records::PortalEvent;
use crate::store::materials::{self, MaterialKind};
use crate::store::portal::{self, DRAFT, Notification, PortalApplication, PortalFile, Rectification};
use crate::store::{StoreError, config};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{csrf_field, notice, page, size_label};
use crate::web::session::Ctx;

/// The material code of the 安全风险评估报告 (sent as the assessment's report).
pub(super) const RISK_ASSESSMENT: &str = "risk_assessment";
/// Longest rectification feedback.
const FEEDBACK_MAX: usize = 2000;

/// Everything the details page shows.
pub(super) struct Loaded {
    pub(super) a: PortalApplication,
    pub(super) files: Vec<PortalFile>,
    /// The approving region's material list, with the risk assessment report added when the list lacks it.
    pub(super) kinds: Vec<MaterialKind>,
    /// Which bureau is expected to approve, and why.
    routing: Option<String>,
    rects: Vec<Rectification>,
    notes: Vec<Notification>,
}

impl Loaded {
    /// Names of the required materials without an uploaded file.
    fn missing(&self) -> Vec<String> {
        self.kinds
            .iter()
            .filter(|k| k.required && !self.files.iter().any(|f| f.kind == k.code))
            .map(|k| k.name.clone())
            .collect()
    }

    fn status(&self) -> Option<Status> {
        Status::parse(&self.a.status)
    }
}

/// Loads the signed-in organizer's application `portal_ref` with its files, list, opinions and notifications.
pub(super) async fn load_all(app: &AppState, ctx: &Ctx, portal_ref: &str) -> Result<Loaded, AppError> {
    ctx.require(Permission::Apply)?;
    let (uid, r, regions) = (ctx.user.id, portal_ref.to_string(), app.regions.clone());
    let loaded = app
        .store
        .read(move |c| {
            let a = portal::application(c, uid, &r)?;
            let files = portal::files(c, &r)?;
            let rules = config::scale_rules(c)?;
            let counties: Vec<Adcode> = a.data.regions.iter().filter_map(|x| county(&regions, *x)).collect();
            let routing = route(&rules, &regions, &counties, a.data.attendance).ok();
            // The intranet checks the materials against the approving bureau's list (or its nearest ancestor's).
            let list_region = routing
                .as_ref()
                .map(|x| x.bureau)
                .or_else(|| counties.first().copied())
                .unwrap_or(regions.root().adcode);
            let (_, mut kinds) = materials::effective(c, &regions.path_key(list_region))?;
            if !kinds.iter().any(|k| k.code == RISK_ASSESSMENT) {
                kinds.push(MaterialKind {
                    code: RISK_ASSESSMENT.into(),
                    name: "安全风险评估报告".into(),
                    required: false,
                });
            }
            let rects = portal::rectifications(c, &r)?;
            let notes = portal::notifications(c, uid)?.into_iter().filter(|n| n.portal_ref == r).collect();
            Ok(Loaded { a, files, kinds, routing: routing.map(|x| x.reason), rects, notes })
        })
        .await?;
    Ok(loaded)
}

/// What a details page shows besides the application: a notice, a refusal, the upload form's errors, a feedback
/// form's error.
#[derive(Debug, Default)]
pub(super) struct Extra {
    pub(super) notice: Option<&'static str>,
    pub(super) message: Option<String>,
    pub(super) upload: FieldErrors,
    pub(super) upload_kind: String,
    /// Rectification id, the text as posted, the error.
    pub(super) feedback: Option<(i64, String, String)>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "saved" => Some("申请已保存。"),
        "uploaded" => Some("材料已上传。"),
        "submit" => Some("已提交初审，请等待公安机关初审。"),
        "submit_for_acceptance" => Some("已提交审批，请等待公安机关受理。"),
        "resubmit" => Some("已重新提交。"),
        "withdraw" => Some("申请已撤回。"),
        "feedback" => Some("整改反馈已提交。"),
        _ => None,
    }
}

fn section(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        section.card.tab-panel id=(id) aria-labelledby=(format!("h-{id}")) {
            h2 id=(format!("h-{id}")) { (title) }
            (body)
        }
    }
}

fn event_button(ctx: &Ctx, portal_ref: &str, event: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(ctx.href(&format!("/apply/{portal_ref}/submit"))) {
            (csrf_field(ctx))
            input type="hidden" name="event" value=(event);
            button.primary type="submit" { (label) }
        }
    }
}

/// The buttons the status allows.
fn actions(ctx: &Ctx, l: &Loaded) -> Markup {
    let r = &l.a.portal_ref;
    let status = l.status();
    html! {
        div.permit-actions {
            @if portal::editable(&l.a.status) { a.button href=(ctx.href(&format!("/apply/{r}/edit"))) { "修改申请" } }
            @if l.a.status == DRAFT { (event_button(ctx, r, "submit", "提交初审")) }
            @if status == Some(Status::PreReviewPassed) { (event_button(ctx, r, "submit_for_acceptance", "提交审批")) }
            @if matches!(status, Some(Status::PreReviewReturned | Status::ApprovalReturned)) {
                (event_button(ctx, r, "resubmit", "重新提交"))
            }
            @if status.is_some_and(|s| !s.is_final()) {
                a.button href=(ctx.href(&format!("/apply/{r}/withdraw"))) { "撤回" }
            }
            a.button href=(ctx.href("/apply")) { "返回列表" }
        }
    }
}

fn basic(app: &AppState, l: &Loaded) -> Markup {
    let d = &l.a.data;
    let label =
        |code: u32| Adcode::from_stored(i64::from(code)).map_or(code.to_string(), |c| county_label(&app.regions, c));
    let places = d.regions.iter().map(|c| label(*c)).collect::<Vec<_>>().join("、");
    html! {
        dl.facts.detail-grid {
            dt { "编号" } dd { (l.a.portal_ref) }
            dt { "状态" } dd { (status_tag(&l.a.status)) }
            dt { "活动名称" } dd { (d.name) }
            dt { "活动类型" } dd { (kind_label(&d.kind)) }
            dt { "承办单位" } dd { (d.organizer.name) " " span.muted { "（" (d.organizer.credit_code) "）" } }
            dt { "举办地" } dd { (places) }
            @for v in &d.venues {
                dt { "场地" }
                dd { (v.name) "，" (v.address) "（" (label(v.region)) "），核定容量 " (v.capacity) " 人" }
            }
            dt { "活动时间" } dd { (local(d.start_at)) " 至 " (local(d.end_at)) }
            dt { "场次" } dd { (d.sessions) }
            dt { "每场预计人数" } dd { (d.attendance) }
            dt { "联系人" } dd { (d.contact_name) " " (d.contact_mobile) }
            dt { "安全风险评估" }
            dd {
                @if d.assessments.is_empty() { span.muted { "未填写" } }
                @for s in &d.assessments { (s.agency) " · 风险等级：" (s.risk_grade) }
            }
            @if let Some(reason) = &l.routing { dt { "审批机关" } dd { (reason) } }
            dt { "更新时间" } dd { (beijing(l.a.updated_at)) }
        }
    }
}

fn file_link(ctx: &Ctx, f: &PortalFile) -> Markup {
    html! {
        a.file-link href=(ctx.href(&format!("/apply/files/{}", f.id))) { (f.name) }
        " " span.muted { "（" (size_label(f.size)) "）" }
    }
}

fn materials_section(ctx: &Ctx, l: &Loaded, x: &Extra) -> Markup {
    let others: Vec<&PortalFile> = l.files.iter().filter(|f| !l.kinds.iter().any(|k| k.code == f.kind)).collect();
    let missing = l.missing();
    html! {
        div.table-wrap {
            table.data.materials {
                thead { tr { th { "材料" } th { "要求" } th { "已上传" } } }
                tbody {
                    @for k in &l.kinds {
                        tr {
                            td { (k.name) }
                            td.nowrap {
                                @if k.required { span.tag.tag-warn { "必需" } } @else { span.tag.tag-muted { "容缺后补" } }
                            }
                            td {
                                @let mine: Vec<&PortalFile> = l.files.iter().filter(|f| f.kind == k.code).collect();
                                @if mine.is_empty() { span.muted { "未上传" } }
                                ul.plain.files { @for f in mine { li { (file_link(ctx, f)) } } }
                            }
                        }
                    }
                    @if !others.is_empty() {
                        tr {
                            td { "其他" } td { "—" }
                            td { ul.plain.files { @for f in &others { li { (file_link(ctx, f)) } } } }
                        }
                    }
                }
            }
        }
        @if !missing.is_empty() && l.a.status != DRAFT {
            p.muted.missing { "尚缺必需材料：" (missing.join("、")) }
        }
        @if portal::editable(&l.a.status) { (upload_form(ctx, l, x)) }
    }
}

fn rectifications_section(ctx: &Ctx, l: &Loaded, x: &Extra) -> Markup {
    let r = &l.a.portal_ref;
    html! {
        @for (i, rect) in l.rects.iter().enumerate() {
            article.record {
                h3 { "整改意见 " (i + 1) }
                p.pre { (rect.opinion) }
                @if let Some(fb) = &rect.feedback {
                    dl.facts { dt { "整改反馈" } dd.pre { (fb) } }
                } @else {
                    @let (value, err) = match &x.feedback {
                        Some((id, v, e)) if *id == rect.id => (v.as_str(), Some(e.as_str())),
                        _ => ("", None),
                    };
                    @let fid = format!("f-feedback-{}", rect.id);
                    form method="post" action=(ctx.href(&format!("/apply/{r}/feedback"))) {
                        (csrf_field(ctx))
                        input type="hidden" name="rectification_id" value=(rect.id);
                        div.field.has-error[err.is_some()] {
                            label for=(fid) { "整改反馈" span.req aria-hidden="true" { "*" } }
                            textarea id=(fid) name="feedback" rows="4" maxlength=(FEEDBACK_MAX)
                                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{fid}-err"))] { (value) }
                            div.hint { "说明整改落实情况，不超过 " (FEEDBACK_MAX) " 个字符" }
                            @if let Some(e) = err { div.field-error id=(format!("{fid}-err")) role="alert" { (e) } }
                        }
                        button.primary type="submit" { "提交反馈" }
                    }
                }
            }
        }
    }
}

fn notifications_section(ctx: &Ctx, l: &Loaded) -> Markup {
    let r = &l.a.portal_ref;
    html! {
        @if l.notes.is_empty() { p.muted { "暂无通知。" } }
        ol.plain.timeline {
            @for n in &l.notes {
                li {
                    span.muted { (beijing(n.at)) } " " strong { (n.title) }
                    div { (n.body) }
                    @if n.document.is_some() {
                        a href=(ctx.href(&format!("/apply/{r}/document/{}", n.id))) target="_blank" rel="noopener" { "查看文书" }
                    }
                }
            }
        }
    }
}

/// The details page.
pub(super) fn render(app: &AppState, ctx: &Ctx, l: &Loaded, x: &Extra) -> Markup {
    let open = l.status().is_none_or(|s| !s.is_final());
    let warning = if open { lead_warning(beijing_today(app), l.a.data.start_at) } else { None };
    page(
        ctx,
        MENU,
        &l.a.data.name,
        html! {
            div.page-head {
                h1 { (l.a.data.name) " " (status_tag(&l.a.status)) }
                (actions(ctx, l))
            }
            (notice(x.notice))
            @if let Some(m) = &x.message { div.form-error role="alert" { (m) } }
            (lead_banner(warning.as_deref()))
            (section("basic", "基本信息", basic(app, l)))
            (section("materials", "报批材料", materials_section(ctx, l, x)))
            @if !l.rects.is_empty() { (section("rectifications", "整改意见", rectifications_section(ctx, l, x))) }
            (section("notifications", "办理进度与通知", notifications_section(ctx, l)))
        },
    )
}

pub(super) fn respond(status: StatusCode, body: Markup) -> Response {
    (status, body).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct DetailsQuery {
    notice: Option<String>,
}

pub(super) async fn details(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DetailsQuery>, QueryRejection>,
) -> Result<Markup, AppError> {
    let portal_ref = ref_from(path)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let l = load_all(&app, &ctx, &portal_ref).await?;
    let x = Extra { notice: notice_text(q.notice.as_deref()), ..Extra::default() };
    Ok(render(&app, &ctx, &l, &x))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(super) struct EventForm {
    event: String,
}

fn parse_event(raw: &str) -> Option<PortalEvent> {
    match raw.trim() {
        "submit" => Some(PortalEvent::Submit),
        "submit_for_acceptance" => Some(PortalEvent::SubmitForAcceptance),
        "resubmit" => Some(PortalEvent::Resubmit),
        "withdraw" => Some(PortalEvent::Withdraw),
        _ => None,
    }
}

/// Why `event` cannot go out now, checked before the store's state machine: required materials before 受理, the
/// report of an assessment that is not filled in, a start that has passed.
fn precheck(app: &AppState, l: &Loaded, event: PortalEvent) -> Option<String> {
    if event == PortalEvent::Withdraw {
        return None;
    }
    if l.a.data.start_at < beijing_now(app) {
        return Some("活动开始时间已过，请先【修改申请】再提交。".into());
    }
    let to_acceptance = event == PortalEvent::SubmitForAcceptance
        || (event == PortalEvent::Resubmit && l.status() == Some(Status::ApprovalReturned));
    let missing = l.missing();
    if to_acceptance && !missing.is_empty() {
        return Some(format!("以下必需材料尚未上传：{}。请上传后再提交。", missing.join("、")));
    }
    if l.files.iter().any(|f| f.kind == RISK_ASSESSMENT) && l.a.data.assessments.is_empty() {
        return Some("已上传安全风险评估报告，请先在【修改申请】中填写风评机构和风险等级。".into());
    }
    None
}

/// `POST /apply/{ref}/submit`: 提交初审, 提交审批, 重新提交 or 撤回.
pub(super) async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    Form(f): Form<EventForm>,
) -> Result<Response, AppError> {
    let portal_ref = ref_from(path)?;
    let l = load_all(&app, &ctx, &portal_ref).await?;
    let Some(event) = parse_event(&f.event) else {
        return Err(AppError::Conflict("未知的操作，未做任何修改。".into()));
    };
    let refuse = |m: String| {
        respond(StatusCode::CONFLICT, render(&app, &ctx, &l, &Extra { message: Some(m), ..Extra::default() }))
    };
    if let Some(m) = precheck(&app, &l, event) {
        return Ok(refuse(m));
    }
    let (now, uid, actor, r) = (app.clock.now(), ctx.user.id, ctx.actor(), portal_ref.clone());
    match app.store.write(move |tx| portal::submit(tx, now, uid, &r, event, &actor)).await {
        Ok(_) => Ok(Redirect::to(&ctx.href(&format!("/apply/{portal_ref}?notice={}", f.event.trim()))).into_response()),
        Err(StoreError::Conflict(m)) => Ok(refuse(m)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /apply/{ref}/withdraw`: asks before withdrawing.
pub(super) async fn confirm_withdraw(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let portal_ref = ref_from(path)?;
    let l = load_all(&app, &ctx, &portal_ref).await?;
    if l.status().is_none_or(|s| s.is_final()) {
        let m = format!("申请当前为「{}」状态，不能撤回。", status_label(&l.a.status));
        return Ok(respond(
            StatusCode::CONFLICT,
            render(&app, &ctx, &l, &Extra { message: Some(m), ..Extra::default() }),
        ));
    }
    let back = ctx.href(&format!("/apply/{portal_ref}"));
    let body = page(
        &ctx,
        MENU,
        "撤回申请",
        html! {
            div.card.narrow.dialog role="dialog" aria-labelledby="withdraw-title" {
                h1 id="withdraw-title" { "撤回申请" }
                p { "确认撤回申请「" (l.a.data.name) "」（" (portal_ref) "）？" }
                p.muted { "撤回后本申请办结，不能恢复；如仍需举办活动，须重新提交申请。" }
                form method="post" action=(ctx.href(&format!("/apply/{portal_ref}/submit"))) {
                    (csrf_field(&ctx))
                    input type="hidden" name="event" value="withdraw";
                    div.form-actions {
                        button.primary.danger type="submit" { "确认撤回" }
                        a.button href=(back) { "取消" }
                    }
                }
            }
        },
    );
    Ok(respond(StatusCode::OK, body))
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub(super) struct FeedbackForm {
    rectification_id: String,
    feedback: String,
}

/// `POST /apply/{ref}/feedback`: answers one rectification opinion (once).
pub(super) async fn feedback(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    Form(f): Form<FeedbackForm>,
) -> Result<Response, AppError> {
    let portal_ref = ref_from(path)?;
    let l = load_all(&app, &ctx, &portal_ref).await?;
    let id = f.rectification_id.trim().parse::<i64>().map_err(|_| AppError::NotFound)?;
    let rect = l.rects.iter().find(|x| x.id == id).ok_or(AppError::NotFound)?;
    if rect.feedback.is_some() {
        let x = Extra { message: Some("该整改意见已反馈，不能重复提交。".into()), ..Extra::default() };
        return Ok(respond(StatusCode::CONFLICT, render(&app, &ctx, &l, &x)));
    }
    let text = parse_note("feedback", "整改反馈", &f.feedback, FEEDBACK_MAX).and_then(|t| {
        if t.is_empty() { Err(crate::domain::FieldError::new("feedback", "请填写整改反馈")) } else { Ok(t) }
    });
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            let x = Extra { feedback: Some((id, f.feedback.clone(), e.message)), ..Extra::default() };
            return Ok(respond(StatusCode::UNPROCESSABLE_ENTITY, render(&app, &ctx, &l, &x)));
        }
    };
    let (now, uid, r) = (app.clock.now(), ctx.user.id, portal_ref.clone());
    app.store.write(move |tx| portal::give_feedback(tx, now, uid, &r, id, &text)).await?;
    Ok(Redirect::to(&format!("{}#rectifications", ctx.href(&format!("/apply/{portal_ref}?notice=feedback"))))
        .into_response())
}
