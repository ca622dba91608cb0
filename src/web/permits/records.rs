//! The records approvers add on the intranet: 踏勘 (`/permits/{id}/survey`: report, optional attachment and the
//! rectification opinions 整改意见) and 检查记录 (`/permits/{id}/inspection`). Both forms are multipart with an
//! optional attachment, so their CSRF token travels in the action URL's query. An attachment is checked, written to
//! disk on a blocking thread, and its metadata stored in the same transaction as the record.

use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDateTime, TimeDelta};
use maud::{Markup, html};

use super::upload::{BAD_FORM, Posted, check_upload, read_form, save_upload, store_file};
use super::{MENU, id_from, in_record_region, load_row, summary, textarea_field};
use crate::domain::calendar::parse_date;
use crate::domain::text::{parse_name, parse_note};
use crate::domain::user::Permission;
use crate::domain::{FieldError, FieldErrors};
use crate::files::{MAX_UPLOAD, UPLOAD_EXTENSIONS};
use crate::store::activities::{self, ActivityRow, NewInspection, NewSurvey};
use crate::store::{Actor, StoreError, StoreResult};
use crate::web::AppState;
use crate::web::error::{AppError, encode_query};
use crate::web::layout::{FieldExtra, page, text_field};
use crate::web::session::Ctx;

const SURVEYORS_MAX: usize = 100;
const REPORT_MAX: usize = 5000;
const OPINION_MAX: usize = 500;
const OPINIONS_MAX: usize = 50;
const FINDINGS_MAX: usize = 5000;
/// What the file input offers.
const ACCEPT: &str = ".pdf,.jpg,.jpeg,.png,.docx,.xlsx";

/// The activity, if the user is an approver (else 403) who sees it (else 404) from a region that may add records
/// (else 403).
async fn record_row(
    app: &AppState,
    ctx: &Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<ActivityRow, AppError> {
    ctx.require(Permission::Approve)?;
    let id = id_from(path)?;
    let row = load_row(app, ctx, id).await?;
    if !in_record_region(&app.regions, &ctx.user, &row) {
        return Err(AppError::Forbidden);
    }
    Ok(row)
}

/// Why no record may be added now (a final status), if so.
fn closed(row: &ActivityRow) -> Option<String> {
    let s = row.progress.status;
    s.is_final().then(|| format!("该活动已是「{}」状态，不能再添加记录。", s.label()))
}

// ---- parsing ----

fn required_note(field: &'static str, label: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let v = parse_note(field, label, raw, max)?;
    if v.is_empty() { Err(FieldError::new(field, format!("请填写{label}"))) } else { Ok(v) }
}

/// 整改意见: one per non-empty line, each at most [`OPINION_MAX`] characters, at most [`OPINIONS_MAX`] lines.
fn parse_rectifications(raw: &str) -> Result<Vec<String>, FieldError> {
    let field = "rectifications";
    let lines: Vec<&str> = raw.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.len() > OPINIONS_MAX {
        return Err(FieldError::new(
            field,
            format!("整改意见最多 {OPINIONS_MAX} 条（每行一条），当前 {} 条", lines.len()),
        ));
    }
    for (i, line) in lines.iter().enumerate() {
        if line.chars().count() > OPINION_MAX {
            return Err(FieldError::new(field, format!("第 {} 条整改意见超过 {OPINION_MAX} 个字符", i + 1)));
        }
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(FieldError::new(field, format!("第 {} 条整改意见不能包含控制字符", i + 1)));
        }
    }
    Ok(lines.into_iter().map(String::from).collect())
}

/// A `datetime-local` value, `YYYY-MM-DDTHH:MM` (seconds and a space instead of `T` allowed).
fn parse_datetime_local(field: &'static str, raw: &str) -> Result<NaiveDateTime, FieldError> {
    let raw = raw.trim();
    let b = raw.as_bytes();
    let shaped = matches!(b.len(), 16 | 19)
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => matches!(*c, b'T' | b' '),
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    let fmt = if b.len() == 16 { "%Y-%m-%dT%H:%M" } else { "%Y-%m-%dT%H:%M:%S" };
    shaped
        .then(|| NaiveDateTime::parse_from_str(&raw.replacen(' ', "T", 1), fmt).ok())
        .flatten()
        .ok_or_else(|| FieldError::new(field, "请填写有效的检查时间，格式为 YYYY-MM-DD HH:MM"))
}

#[derive(Debug, Default, Clone)]
struct SurveyForm {
    survey_date: String,
    surveyors: String,
    report: String,
    rectifications: String,
}

impl SurveyForm {
    fn from_posted(p: &Posted) -> Self {
        Self {
            survey_date: p.get("survey_date"),
            surveyors: p.get("surveyors"),
            report: p.get("report"),
            rectifications: p.get("rectifications"),
        }
    }

    fn parse(&self, e: &mut FieldErrors) -> Option<NewSurvey> {
        let date = e.take(
            parse_date("survey_date", &self.survey_date)
                .map_err(|_| FieldError::new("survey_date", "请填写有效的踏勘日期，格式为 YYYY-MM-DD")),
        );
        let surveyors = e.take(parse_name("surveyors", "踏勘人员", &self.surveyors, SURVEYORS_MAX));
        let report = e.take(required_note("report", "踏勘报告", &self.report, REPORT_MAX));
        let rectifications = e.take(parse_rectifications(&self.rectifications));
        Some(NewSurvey {
            date: date?,
            surveyors: surveyors?,
            report: report?,
            file_id: None,
            rectifications: rectifications?,
        })
    }
}

#[derive(Debug, Default, Clone)]
struct InspectionForm {
    inspected_at: String,
    findings: String,
}

impl InspectionForm {
    fn from_posted(p: &Posted) -> Self {
        Self { inspected_at: p.get("inspected_at"), findings: p.get("findings") }
    }

    fn parse(&self, e: &mut FieldErrors) -> Option<NewInspection> {
        let at = e.take(parse_datetime_local("inspected_at", &self.inspected_at));
        let findings = e.take(required_note("findings", "检查情况", &self.findings, FINDINGS_MAX));
        Some(NewInspection { at: at?, findings: findings?, file_id: None })
    }
}

// ---- pages ----

/// One record page: the form's own fields, then the attachment.
struct RecordView<'a> {
    title: &'static str,
    /// `survey` or `inspection`.
    slug: &'static str,
    file_label: &'static str,
    fields: Markup,
    errors: &'a FieldErrors,
    message: Option<&'a str>,
}

fn record_page(app: &AppState, ctx: &Ctx, row: &ActivityRow, v: RecordView<'_>) -> Markup {
    let action = ctx.href(&format!("/permits/{}/{}?csrf={}", row.id, v.slug, encode_query(&ctx.csrf)));
    let ferr = v.errors.get("file");
    let back = ctx.href(&format!("/permits/{}", row.id));
    page(
        ctx,
        MENU,
        v.title,
        html! {
            div.card.narrow.dialog role="dialog" aria-labelledby="record-title" {
                h1 id="record-title" { (v.title) }
                (summary(app, ctx, row))
                @if let Some(m) = v.message { div.form-error role="alert" { (m) } }
                @if !v.errors.is_empty() {
                    div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" }
                }
                @if v.message.is_none() {
                    form method="post" enctype="multipart/form-data" action=(action) {
                        (v.fields)
                        div.field.has-error[ferr.is_some()] {
                            label for="f-file" { (v.file_label) }
                            input id="f-file" type="file" name="file" accept=(ACCEPT)
                                aria-invalid=[ferr.map(|_| "true")] aria-describedby=[ferr.map(|_| "f-file-err")];
                            div.hint {
                                "可选。支持 " (UPLOAD_EXTENSIONS) "，不超过 " (MAX_UPLOAD / 1024 / 1024) " MB"
                                @if !v.errors.is_empty() { "。如已选择附件，请重新选择" }
                            }
                            @if let Some(e) = ferr { div.field-error id="f-file-err" role="alert" { (e) } }
                        }
                        div.form-actions {
                            button.primary type="submit" { "保存" }
                            a.button href=(back) { "取消" }
                        }
                    }
                } @else {
                    div.form-actions { a.button href=(back) { "返回活动详情" } }
                }
            }
        },
    )
}

fn survey_page(
    app: &AppState,
    ctx: &Ctx,
    row: &ActivityRow,
    f: &SurveyForm,
    errors: &FieldErrors,
    message: Option<&str>,
) -> Markup {
    let fields = html! {
        (text_field("survey_date", "踏勘日期", &f.survey_date, errors, "date", FieldExtra { required: true, maxlength: Some(10), ..FieldExtra::default() }))
        (text_field("surveyors", "踏勘人员", &f.surveyors, errors, "text", FieldExtra { required: true, maxlength: Some(SURVEYORS_MAX), ..FieldExtra::default() }))
        (textarea_field("report", "踏勘报告", &f.report, errors, true, REPORT_MAX, None))
        (textarea_field("rectifications", "整改意见", &f.rectifications, errors, false, OPINIONS_MAX * (OPINION_MAX + 1),
            Some("每行一条，最多 50 条，每条不超过 500 个字符；承办单位将逐条反馈")))
    };
    let (title, slug, file_label) = ("添加踏勘记录", "survey", "踏勘报告附件");
    let view = RecordView { title, slug, file_label, fields, errors, message };
    record_page(app, ctx, row, view)
}

fn inspection_page(
    app: &AppState,
    ctx: &Ctx,
    row: &ActivityRow,
    f: &InspectionForm,
    errors: &FieldErrors,
    message: Option<&str>,
) -> Markup {
    let fields = html! {
        (text_field("inspected_at", "检查时间", &f.inspected_at, errors, "datetime-local", FieldExtra { required: true, maxlength: Some(19), ..FieldExtra::default() }))
        (textarea_field("findings", "检查情况", &f.findings, errors, true, FINDINGS_MAX, None))
    };
    let (title, slug, file_label) = ("添加检查记录", "inspection", "检查材料");
    let view = RecordView { title, slug, file_label, fields, errors, message };
    record_page(app, ctx, row, view)
}

fn respond(status: StatusCode, body: Markup) -> Response {
    (status, body).into_response()
}

fn beijing_now(app: &AppState) -> NaiveDateTime {
    app.clock.now() + TimeDelta::hours(8)
}

pub(super) async fn survey_page_get(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let row = record_row(&app, &ctx, path).await?;
    let form = SurveyForm { survey_date: beijing_now(&app).format("%Y-%m-%d").to_string(), ..SurveyForm::default() };
    let message = closed(&row);
    let status = if message.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    Ok(respond(status, survey_page(&app, &ctx, &row, &form, &FieldErrors::default(), message.as_deref())))
}

pub(super) async fn inspection_page_get(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let row = record_row(&app, &ctx, path).await?;
    let form = InspectionForm {
        inspected_at: beijing_now(&app).format("%Y-%m-%dT%H:%M").to_string(),
        ..InspectionForm::default()
    };
    let message = closed(&row);
    let status = if message.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    Ok(respond(status, inspection_page(&app, &ctx, &row, &form, &FieldErrors::default(), message.as_deref())))
}

/// Where to go after a record was added: the details page at the record's section.
fn added(ctx: &Ctx, id: i64, what: &str, anchor: &str) -> Response {
    Redirect::to(&format!("{}#{anchor}", ctx.href(&format!("/permits/{id}?notice={what}")))).into_response()
}

/// What differs between the two record forms; [`add_record`] does the rest.
trait RecordForm: Sized {
    /// The parsed record.
    type Record: Clone + Send + 'static;
    /// The notice code and the details section to return to.
    const DONE: (&'static str, &'static str);
    fn from_posted(p: &Posted) -> Self;
    fn parse(&self, e: &mut FieldErrors) -> Option<Self::Record>;
    fn page(app: &AppState, ctx: &Ctx, row: &ActivityRow, f: &Self, e: &FieldErrors, message: Option<&str>) -> Markup;
    /// Stores the record with its attachment's id, in the caller's transaction.
    fn store(
        tx: &duckdb::Transaction<'_>,
        now: NaiveDateTime,
        id: i64,
        record: Self::Record,
        file_id: Option<i64>,
        user_id: i64,
        actor: &Actor,
    ) -> StoreResult<()>;
}

impl RecordForm for SurveyForm {
    type Record = NewSurvey;
    const DONE: (&'static str, &'static str) = ("survey", "surveys");
    fn from_posted(p: &Posted) -> Self {
        SurveyForm::from_posted(p)
    }
    fn parse(&self, e: &mut FieldErrors) -> Option<NewSurvey> {
        SurveyForm::parse(self, e)
    }
    fn page(app: &AppState, ctx: &Ctx, row: &ActivityRow, f: &Self, e: &FieldErrors, message: Option<&str>) -> Markup {
        survey_page(app, ctx, row, f, e, message)
    }
    fn store(
        tx: &duckdb::Transaction<'_>,
        now: NaiveDateTime,
        id: i64,
        record: NewSurvey,
        file_id: Option<i64>,
        user_id: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        activities::add_survey(tx, now, id, &NewSurvey { file_id, ..record }, user_id, actor)
    }
}

impl RecordForm for InspectionForm {
    type Record = NewInspection;
    const DONE: (&'static str, &'static str) = ("inspection", "inspections");
    fn from_posted(p: &Posted) -> Self {
        InspectionForm::from_posted(p)
    }
    fn parse(&self, e: &mut FieldErrors) -> Option<NewInspection> {
        InspectionForm::parse(self, e)
    }
    fn page(app: &AppState, ctx: &Ctx, row: &ActivityRow, f: &Self, e: &FieldErrors, message: Option<&str>) -> Markup {
        inspection_page(app, ctx, row, f, e, message)
    }
    fn store(
        tx: &duckdb::Transaction<'_>,
        now: NaiveDateTime,
        id: i64,
        record: NewInspection,
        file_id: Option<i64>,
        user_id: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        activities::add_inspection(tx, now, id, &NewInspection { file_id, ..record }, user_id, actor)
    }
}

/// Adds a survey or an inspection: parse, check and save the attachment, then one write with the record and the
/// attachment's metadata. Field errors re-render the form (422) and write nothing.
async fn add_record<F: RecordForm>(
    app: AppState,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let row = record_row(&app, &ctx, path).await?;
    let Ok(mp) = mp else { return Err(AppError::Conflict(BAD_FORM.into())) };
    let posted = read_form(mp).await?;
    let form = F::from_posted(&posted);
    let mut errors = FieldErrors::default();
    let record = form.parse(&mut errors);
    let file = check_upload(&mut errors, posted.upload);
    let refuse = |errors: &FieldErrors| {
        respond(StatusCode::UNPROCESSABLE_ENTITY, F::page(&app, &ctx, &row, &form, errors, None))
    };
    let Some(record) = record.filter(|_| errors.is_empty()) else { return Ok(refuse(&errors)) };
    let file = match save_upload(&app, file).await {
        Ok(f) => f,
        Err(e) => {
            errors.push("file", format!("附件：{e}"));
            return Ok(refuse(&errors));
        }
    };
    let (now, actor, user_id, id) = (app.clock.now(), ctx.actor(), ctx.user.id, row.id);
    let done = app
        .store
        .write(move |tx| {
            let file_id = store_file(tx, now, file.as_ref())?;
            F::store(tx, now, id, record.clone(), file_id, user_id, &actor)
        })
        .await;
    match done {
        Ok(()) => Ok(added(&ctx, id, F::DONE.0, F::DONE.1)),
        Err(StoreError::Conflict(m)) => Ok(respond(
            StatusCode::CONFLICT,
            F::page(&app, &ctx, &row, &form, &FieldErrors::default(), Some(m.as_str())),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn add_survey(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    add_record::<SurveyForm>(app, ctx, path, mp).await
}

pub(super) async fn add_inspection(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    add_record::<InspectionForm>(app, ctx, path, mp).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectifications_are_lines() {
        assert_eq!(parse_rectifications(" 增设出口 \r\n\n 加强安检\n").unwrap(), vec!["增设出口", "加强安检"]);
        assert!(parse_rectifications("").unwrap().is_empty());
        let long = format!("好\n{}", "长".repeat(OPINION_MAX + 1));
        assert!(parse_rectifications(&long).unwrap_err().message.contains("第 2 条"));
        let many = vec!["一条"; OPINIONS_MAX + 1].join("\n");
        assert!(parse_rectifications(&many).unwrap_err().message.contains("最多 50 条"));
        assert!(parse_rectifications("a\u{0}b").is_err());
    }

    #[test]
    fn datetime_local_values() {
        let t = parse_datetime_local("f", "2026-12-05T19:30").unwrap();
        assert_eq!(t.format("%Y-%m-%d %H:%M").to_string(), "2026-12-05 19:30");
        assert!(parse_datetime_local("f", "2026-12-05 19:30:15").is_ok());
        for bad in ["", "2026-12-05", "2026-13-05T19:30", "2026-12-05T25:00", "2026-12-5T19:30", "+2026-12-05T19:3"] {
            assert!(parse_datetime_local("f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn survey_form_collects_every_error() {
        let mut e = FieldErrors::default();
        let f = SurveyForm {
            survey_date: "2026-02-30".into(),
            surveyors: String::new(),
            report: "  ".into(),
            ..SurveyForm::default()
        };
        assert!(f.parse(&mut e).is_none());
        for field in ["survey_date", "surveyors", "report"] {
            assert!(e.get(field).is_some(), "{field}");
        }
    }
}
