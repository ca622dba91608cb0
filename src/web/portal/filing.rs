//! 我的备案 (government units): the unit's filings (`/file`), a new filing with its 报备材料 and optional 评估报告 in
//! one multipart form (`/file/new`), one filing (`/file/{ref}`) and its attachments (`/file/{ref}/files/{id}`).
//!
//! A filing goes into the outbox with its attachments when it is filed, so the files come with the form: they are
//! checked and written to disk first, then one write records them, files the filing (which names them by their
//! bundle names `f{id}.{ext}`) and gives them to the new filing. A refused field or file answers 422 and writes
//! nothing.

use std::collections::HashMap;

use axum::Router;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{NaiveDateTime, TimeDelta};
use maud::{Markup, html};
use serde::Deserialize;

use crate::clock::beijing;
use crate::domain::activity::{ActivityKind, Attendance};
use crate::domain::region::{Adcode, RegionLevel, RegionTree};
use crate::domain::text::{parse_name, parse_note};
use crate::domain::user::{Mobile, Permission};
use crate::domain::{FieldError, FieldErrors};
use crate::exchange::records::{AttachmentRecord, FilingRecord};
use crate::files::{CheckedFile, MAX_UPLOAD};
use crate::store::filings::{KIND_FILING, KIND_RISK_ASSESSMENT, attachment_label};
use crate::store::portal::{self, PortalFile, Unit};
use crate::store::portal_filings::{self, PENDING_OWNER, PortalFiling};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{FieldExtra, notice, page, region_names, select_field, size_label, text_field};
use crate::web::session::Ctx;

/// The menu entry these pages belong to.
const MENU: &str = "/file";

/// The largest body of the new-filing form: two attachments and the text fields.
const FORM_BODY_LIMIT: usize = 2 * MAX_UPLOAD + 1024 * 1024;
/// The most bytes read of one text field; longer input is cut and then refused by its length rule.
const TEXT_CAP: usize = 16 * 1024;
/// The most counties one filing may name.
const MAX_COUNTIES: usize = 30;
/// The answer to a body that is not a readable multipart form.
const BAD_FORM: &str = "提交的表单不完整或无法识别，未做任何修改。请返回重新填写。";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/file", get(list))
        .route("/file/new", get(new_form).post(create).layer(DefaultBodyLimit::max(FORM_BODY_LIMIT)))
        .route("/file/{portal_ref}", get(details))
        .route("/file/{portal_ref}/files/{file_id}", get(download))
}

// ---- helpers ----

/// A stored Beijing-local time (activity times), shown as it is.
fn local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn kind_label(code: &str) -> &str {
    ActivityKind::parse(code).map_or(code, |k| k.label())
}

/// A filing reference from the path (`F-000001`); anything else is "not found".
fn ref_from(path: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    let Ok(Path(raw)) = path else { return Err(AppError::NotFound) };
    let ok = !raw.is_empty() && raw.len() <= 32 && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok { Ok(raw) } else { Err(AppError::NotFound) }
}

/// The signed-in government unit.
async fn load_unit(app: &AppState, ctx: &Ctx) -> Result<Unit, AppError> {
    let uid = ctx.user.id;
    match app.store.read(move |c| portal::unit(c, uid)).await {
        Ok(u) => Ok(u),
        Err(crate::store::StoreError::NotFound) => {
            Err(AppError::Conflict("本账号没有登记单位信息，无法报备活动，请联系外网管理员。".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Beijing now.
fn beijing_now(app: &AppState) -> NaiveDateTime {
    app.clock.now() + TimeDelta::hours(8)
}

// ---- list ----

#[derive(Debug, Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

fn state_tag(f: &PortalFiling) -> Markup {
    html! {
        @if f.exported { span.tag.tag-ok { "已报送" } }
        @else { span.tag.tag-warn { "待报送" } }
    }
}

async fn list(State(app): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::File)?;
    let unit = load_unit(&app, &ctx).await?;
    let code = unit.credit_code.clone();
    let rows = app.store.read(move |c| portal_filings::filings_of(c, &code)).await?;
    let info = match q.notice.as_deref() {
        Some("filed") => Some("备案已提交，将随下一批数据交换报送公安机关。"),
        _ => None,
    };
    Ok(page(
        &ctx,
        MENU,
        "我的备案",
        html! {
            div.page-head {
                h1 { "我的备案" }
                a.button.primary href=(ctx.href("/file/new")) { "新建备案" }
            }
            (notice(info))
            p.hint { "报备单位：" (unit.unit_name) "（" (unit.credit_code) "）。政府单位举办的活动无需申请安全许可，报备即可。" }
            div.card.table-wrap {
                table.data.permits.filings {
                    caption.sr-only { "备案列表" }
                    thead {
                        tr {
                            th { "活动名称" } th { "类型" } th { "举办地" } th { "活动时间" } th { "人数" }
                            th { "报备时间" } th { "状态" } th { "操作" }
                        }
                    }
                    tbody {
                        @for f in &rows {
                            tr {
                                td { (f.name) div.muted.ref { (f.portal_ref) } }
                                td.nowrap { (ActivityKind::parse(&f.kind).map_or(f.kind.as_str(), |k| k.short_label())) }
                                td { (region_names(&app.regions, &f.regions)) }
                                td.nowrap { (local(f.start_at)) br; "至 " (local(f.end_at)) }
                                td.num { (f.attendance) }
                                td.nowrap { (beijing(f.filed_at)) }
                                td { (state_tag(f)) }
                                td.actions { a href=(ctx.href(&format!("/file/{}", f.portal_ref))) { "查看" } }
                            }
                        }
                        @if rows.is_empty() { tr { td.empty colspan="8" { "尚无备案。点击“新建备案”报备本单位举办的活动。" } } }
                    }
                }
            }
        },
    ))
}

// ---- details and downloads ----

async fn details(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::File)?;
    let portal_ref = ref_from(path)?;
    let unit = load_unit(&app, &ctx).await?;
    let code = unit.credit_code.clone();
    let (f, files) = app
        .store
        .read(move |c| {
            let f = portal_filings::filing_of(c, &code, &portal_ref)?;
            let files = portal::files(c, &f.portal_ref)?;
            Ok((f, files))
        })
        .await?;
    let attachments = |kind: &str, empty: &str| -> Markup {
        let mine: Vec<&PortalFile> = files.iter().filter(|x| x.kind == kind).collect();
        html! {
            @if mine.is_empty() { p.muted { (empty) } }
            @else {
                ul.plain.files {
                    @for x in mine {
                        li {
                            a.file-link href=(ctx.href(&format!("/file/{}/files/{}", f.portal_ref, x.id))) { (x.name) }
                            " " span.muted { "（" (size_label(x.size)) "）" }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &ctx,
        MENU,
        &f.name,
        html! {
            div.page-head {
                h1 { (f.name) }
                div.permit-actions { a.button href=(ctx.href("/file")) { "返回列表" } }
            }
            section.card {
                h2 { "基本信息" }
                dl.facts.detail-grid {
                    dt { "备案编号" } dd { (f.portal_ref) " " (state_tag(&f)) }
                    dt { "活动名称" } dd { (f.name) }
                    dt { "类型" } dd { (kind_label(&f.kind)) }
                    dt { "举办地" } dd { (region_names(&app.regions, &f.regions)) }
                    dt { "活动场地" } dd.pre { (f.venue) }
                    dt { "活动时间" } dd { (local(f.start_at)) " 至 " (local(f.end_at)) }
                    dt { "每场人数" } dd { (f.attendance) }
                    dt { "报备单位" } dd { (unit.unit_name) }
                    dt { "统一社会信用代码" } dd { (unit.credit_code) }
                    dt { "联系人/手机" } dd { (f.contact_name) " / " (f.contact_mobile) }
                    dt { "报备时间" } dd { (beijing(f.filed_at)) }
                }
                @if !f.exported { p.hint { "本备案尚待外网管理员导出，报送公安机关后状态变为“已报送”。" } }
            }
            section.card {
                h2 { (attachment_label(KIND_FILING)) }
                (attachments(KIND_FILING, "暂无报备材料。"))
            }
            section.card {
                h2 { (attachment_label(KIND_RISK_ASSESSMENT)) }
                (attachments(KIND_RISK_ASSESSMENT, "未上传评估报告。"))
            }
        },
    ))
}

async fn download(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::File)?;
    let Ok(Path((raw_ref, raw_id))) = path else { return Err(AppError::NotFound) };
    let portal_ref = ref_from(Ok(Path(raw_ref)))?;
    let file_id = raw_id.trim().parse::<i64>().ok().filter(|id| *id > 0).ok_or(AppError::NotFound)?;
    let unit = load_unit(&app, &ctx).await?;
    let code = unit.credit_code;
    let file = app
        .store
        .read(move |c| {
            let f = portal_filings::filing_of(c, &code, &portal_ref)?;
            portal::files(c, &f.portal_ref)?
                .into_iter()
                .find(|x| x.id == file_id)
                .ok_or(crate::store::StoreError::NotFound)
        })
        .await?;
    crate::web::download::attachment(&app, &file.name, &file.mime, file.sm3.clone()).await
}

// ---- the form ----

/// The raw text fields of the form.
#[derive(Debug, Default, Clone)]
struct FilingForm {
    name: String,
    kind: String,
    regions: Vec<String>,
    venue: String,
    start_at: String,
    end_at: String,
    attendance: String,
    contact: String,
    mobile: String,
}

/// The text fields of the form.
const TEXT_FIELDS: [&str; 8] = ["name", "kind", "venue", "start_at", "end_at", "attendance", "contact", "mobile"];
/// The file inputs: 报备材料 (required) and 评估报告 (optional).
const FILE_FIELDS: [(&str, &str, &str); 2] =
    [("filing_file", KIND_FILING, "报备材料"), ("assessment_file", KIND_RISK_ASSESSMENT, "评估报告")];

/// A filing parsed from the form.
#[derive(Debug)]
struct Parsed {
    name: String,
    kind: ActivityKind,
    counties: Vec<Adcode>,
    venue: String,
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
    attendance: Attendance,
    contact: String,
    mobile: Mobile,
}

/// A `datetime-local` value, `YYYY-MM-DDTHH:MM` (seconds and a space instead of `T` allowed).
fn parse_datetime_local(field: &'static str, label: &str, raw: &str) -> Result<NaiveDateTime, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldError::new(field, format!("请填写{label}")));
    }
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
        .ok_or_else(|| FieldError::new(field, format!("请填写有效的{label}，格式为 YYYY-MM-DD HH:MM")))
}

impl FilingForm {
    /// Parses the fields; `now` is Beijing local time. The rules are those the intranet checks on import.
    fn parse(&self, regions: &RegionTree, scope: Adcode, now: NaiveDateTime, e: &mut FieldErrors) -> Option<Parsed> {
        let name = e.take(parse_name("name", "活动名称", &self.name, 100));
        let kind = e.take(ActivityKind::parse(&self.kind));
        let mut counties: Vec<Adcode> = Vec::new();
        let mut bad_county = false;
        for raw in self.regions.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            match Adcode::parse(raw).filter(|c| {
                regions.get(*c).is_some_and(|r| r.level == RegionLevel::County) && regions.is_within(*c, scope)
            }) {
                Some(c) if !counties.contains(&c) => counties.push(c),
                Some(_) => {}
                None => bad_county = true,
            }
        }
        if bad_county {
            e.push("regions", "请从列表中选择有效的县（市、区）");
        } else if counties.is_empty() {
            e.push("regions", "请选择举办地（县、市、区）");
        } else if counties.len() > MAX_COUNTIES {
            e.push("regions", format!("举办地最多选择 {MAX_COUNTIES} 个县（市、区）"));
        }
        let venue = match parse_note("venue", "活动场地", &self.venue, 200) {
            Ok(v) if v.is_empty() => {
                e.push("venue", "请填写活动场地");
                None
            }
            other => e.take(other),
        };
        let start_at = e.take(parse_datetime_local("start_at", "开始时间", &self.start_at));
        let end_at = e.take(parse_datetime_local("end_at", "结束时间", &self.end_at));
        if let Some(s) = start_at
            && s < now
        {
            e.push("start_at", "开始时间不能早于当前时间");
        }
        if let (Some(s), Some(t)) = (start_at, end_at)
            && t <= s
        {
            e.push("end_at", "结束时间应晚于开始时间");
        }
        let attendance = e.take(Attendance::parse("attendance", &self.attendance));
        let contact = e.take(parse_name("contact", "联系人", &self.contact, 32));
        let mobile = e.take(Mobile::parse(&self.mobile));
        match (name, kind, venue, start_at, end_at, attendance, contact, mobile) {
            (
                Some(name),
                Some(kind),
                Some(venue),
                Some(start_at),
                Some(end_at),
                Some(attendance),
                Some(contact),
                Some(mobile),
            ) if e.is_empty() => {
                Some(Parsed { name, kind, counties, venue, start_at, end_at, attendance, contact, mobile })
            }
            _ => None,
        }
    }
}

/// An uploaded file as received.
struct Upload {
    name: String,
    bytes: Vec<u8>,
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE { AppError::TooLarge } else { AppError::Conflict(BAD_FORM.into()) }
}

/// Reads a field up to `cap` bytes; true when there was more (the rest is not read).
async fn read_capped(field: &mut Field<'_>, cap: usize) -> Result<(Vec<u8>, bool), AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf, false))
}

/// Reads the text fields and the two files; stops reading after a file larger than [`MAX_UPLOAD`] (it is refused
/// anyway; the file inputs are the form's last fields).
async fn read_form(mut mp: Multipart) -> Result<(FilingForm, HashMap<&'static str, Upload>), AppError> {
    let mut form = FilingForm::default();
    let mut uploads = HashMap::new();
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if let Some((key, _, _)) = FILE_FIELDS.iter().find(|(k, _, _)| *k == name) {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let (bytes, over) = read_capped(&mut field, MAX_UPLOAD + 1).await?;
            if !(file_name.is_empty() && bytes.is_empty()) {
                uploads.insert(*key, Upload { name: file_name, bytes });
            }
            if over {
                break;
            }
        } else if name == "regions" {
            let (bytes, cut) = read_capped(&mut field, 64).await?;
            let value = crate::web::error::utf8_field(bytes, cut)?;
            if form.regions.len() <= MAX_COUNTIES {
                form.regions.push(value);
            }
        } else if let Some(key) = TEXT_FIELDS.iter().find(|k| **k == name) {
            let (bytes, cut) = read_capped(&mut field, TEXT_CAP).await?;
            let value = crate::web::error::utf8_field(bytes, cut)?;
            match *key {
                "name" => form.name = value,
                "kind" => form.kind = value,
                "venue" => form.venue = value,
                "start_at" => form.start_at = value,
                "end_at" => form.end_at = value,
                "attendance" => form.attendance = value,
                "contact" => form.contact = value,
                _ => form.mobile = value,
            }
        }
    }
    Ok((form, uploads))
}

/// The display name of a checked upload, sure to end with the extension its content was checked against (a long
/// name is cut to 100 characters by the check, which could cut the extension off; the bundle name and the
/// intranet's check both read the extension from this name).
fn with_extension(checked: &CheckedFile, original: &str) -> String {
    let base = original.rsplit(['/', '\\']).next().unwrap_or("");
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let suffix = format!(".{ext}");
    if checked.name.to_ascii_lowercase().ends_with(&suffix) {
        return checked.name.clone();
    }
    let stem: String = checked.name.chars().take(90).collect();
    format!("{stem}{suffix}")
}

/// Checks the upload of file input `field`; a refusal is a field error "报备材料：…".
fn check_upload(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    upload: Option<Upload>,
    required: bool,
) -> Option<(CheckedFile, Vec<u8>)> {
    let Some(u) = upload else {
        if required {
            errors.push(field, format!("请上传{label}"));
        }
        return None;
    };
    match crate::files::check(&u.name, &u.bytes, false) {
        Ok(mut f) => {
            f.name = with_extension(&f, &u.name);
            Some((f, u.bytes))
        }
        Err(e) => {
            errors.push(field, format!("{label}：{e}"));
            None
        }
    }
}

/// The bundle file name `portal::export_applications` gives a portal file: `f{id}.{ext}`.
fn bundle_file_name(id: i64, name: &str) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_else(|| "bin".into());
    format!("f{id}.{ext}")
}

/// County choices grouped by city: (city name, [(adcode, county name)]).
fn county_groups(regions: &RegionTree, scope: Adcode) -> Vec<(String, Vec<(String, String)>)> {
    let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for r in regions.subtree(scope).into_iter().filter(|r| r.level == RegionLevel::County) {
        let city = r.parent.map(|p| regions.name(p)).unwrap_or_default();
        match groups.last_mut() {
            Some((name, items)) if *name == city => items.push((r.adcode.to_string(), r.name.clone())),
            _ => groups.push((city, vec![(r.adcode.to_string(), r.name.clone())])),
        }
    }
    groups
}

fn form_page(app: &AppState, ctx: &Ctx, unit: &Unit, f: &FilingForm, errors: &FieldErrors) -> Markup {
    let mut kinds = vec![(String::new(), "请选择".to_string())];
    kinds.extend(ActivityKind::ALL.iter().map(|k| (k.code().to_string(), k.label().to_string())));
    let regions_err = errors.get("regions");
    let groups = county_groups(&app.regions, ctx.user.region);
    let file_input = |name: &str, label: &str, required: bool| {
        let err = errors.get(name);
        let id = format!("f-{name}");
        html! {
            div.field.has-error[err.is_some()] {
                label for=(id) { (label) @if required { span.req aria-hidden="true" { "*" } } }
                input id=(id) type="file" name=(name) required[required] accept=".pdf,.jpg,.jpeg,.png,.docx,.xlsx"
                    aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-err"))];
                div.hint { "PDF、JPG、PNG、DOCX、XLSX，不超过 " (MAX_UPLOAD / 1024 / 1024) " MB" }
                @if let Some(e) = err { div.field-error id=(format!("{id}-err")) role="alert" { (e) } }
            }
        }
    };
    page(
        ctx,
        MENU,
        "新建备案",
        html! {
            div.page-head { h1 { "新建备案" } }
            @if !errors.is_empty() {
                div.form-error role="alert" { "提交的内容有误，未做任何保存，请修改标红的项目（附件需重新选择）。" }
            }
            form.card method="post" enctype="multipart/form-data"
                action=(ctx.href(&format!("/file/new?csrf={}", ctx.csrf))) {
                p.hint { "报备单位：" (unit.unit_name) "（" (unit.credit_code) "）" }
                (text_field("name", "活动名称", &f.name, errors, "text", FieldExtra { required: true, maxlength: Some(100), ..FieldExtra::default() }))
                (select_field("kind", "活动类型", &f.kind, &kinds, errors, true))
                div.field.has-error[regions_err.is_some()] {
                    label for="f-regions" { "举办地（县、市、区）" span.req aria-hidden="true" { "*" } }
                    select id="f-regions" name="regions" multiple size="8" required
                        aria-invalid=[regions_err.map(|_| "true")] aria-describedby=[regions_err.map(|_| "f-regions-err")] {
                        @for (city, items) in &groups {
                            optgroup label=(city) {
                                @for (code, name) in items {
                                    option value=(code) selected[f.regions.iter().any(|r| r.trim() == code.as_str())] { (name) }
                                }
                            }
                        }
                    }
                    div.hint { "可按住 Ctrl（Mac 上为 ⌘）多选。" }
                    @if let Some(e) = regions_err { div.field-error id="f-regions-err" role="alert" { (e) } }
                }
                (text_field("venue", "活动场地", &f.venue, errors, "text", FieldExtra { required: true, maxlength: Some(200), hint: Some("场地名称及地址"), ..FieldExtra::default() }))
                (text_field("start_at", "开始时间", &f.start_at, errors, "datetime-local", FieldExtra { required: true, maxlength: Some(19), ..FieldExtra::default() }))
                (text_field("end_at", "结束时间", &f.end_at, errors, "datetime-local", FieldExtra { required: true, maxlength: Some(19), ..FieldExtra::default() }))
                (text_field("attendance", "每场人数", &f.attendance, errors, "text", FieldExtra { required: true, maxlength: Some(8), hint: Some("每场预计参加人数"), ..FieldExtra::default() }))
                (text_field("contact", "联系人", &f.contact, errors, "text", FieldExtra { required: true, maxlength: Some(32), ..FieldExtra::default() }))
                (text_field("mobile", "联系手机", &f.mobile, errors, "tel", FieldExtra { required: true, maxlength: Some(13), ..FieldExtra::default() }))
                (file_input("filing_file", "报备材料", true))
                (file_input("assessment_file", "评估报告", false))
                div.form-actions {
                    button.primary type="submit" { "提交备案" }
                    a.button href=(ctx.href("/file")) { "取消" }
                }
            }
        },
    )
}

async fn new_form(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, AppError> {
    ctx.require(Permission::File)?;
    let unit = load_unit(&app, &ctx).await?;
    let form =
        FilingForm { contact: unit.contact_name.clone(), mobile: unit.contact_mobile.clone(), ..FilingForm::default() };
    Ok(form_page(&app, &ctx, &unit, &form, &FieldErrors::default()))
}

async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::File)?;
    let unit = load_unit(&app, &ctx).await?;
    let Ok(mp) = mp else { return Err(AppError::Conflict(BAD_FORM.into())) };
    let (form, mut uploads) = read_form(mp).await?;
    let mut errors = FieldErrors::default();
    let parsed = form.parse(&app.regions, ctx.user.region, beijing_now(&app), &mut errors);
    let mut checked = Vec::new();
    for (field, kind, label) in FILE_FIELDS {
        if let Some(f) = check_upload(&mut errors, field, label, uploads.remove(field), kind == KIND_FILING) {
            checked.push((kind, f));
        }
    }
    let refuse = |errors: &FieldErrors| {
        (StatusCode::UNPROCESSABLE_ENTITY, form_page(&app, &ctx, &unit, &form, errors)).into_response()
    };
    let Some(p) = parsed.filter(|_| errors.is_empty()) else { return Ok(refuse(&errors)) };

    // The bytes go to disk first (content-addressed, harmless if the write below fails).
    let files = app.files.clone();
    let saved = tokio::task::spawn_blocking(move || {
        for (_, (f, bytes)) in &checked {
            files.save(f, bytes)?;
        }
        Ok::<_, crate::files::UploadError>(checked.into_iter().map(|(k, (f, _))| (k, f)).collect::<Vec<_>>())
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let saved = match saved {
        Ok(s) => s,
        Err(e) => {
            errors.push("filing_file", format!("附件：{e}"));
            return Ok(refuse(&errors));
        }
    };

    let now = app.clock.now();
    let record = FilingRecord {
        portal_ref: String::new(),
        unit_name: unit.unit_name.clone(),
        credit_code: unit.credit_code.clone(),
        name: p.name,
        kind: p.kind.code().to_string(),
        regions: p.counties.iter().map(|c| c.get()).collect(),
        venue: p.venue,
        start_at: p.start_at,
        end_at: p.end_at,
        attendance: p.attendance.get(),
        contact_name: p.contact,
        contact_mobile: p.mobile.as_str().to_string(),
        filed_at: now.and_utc(),
        attachments: Vec::new(),
    };
    let actor = ctx.actor();
    let portal_ref = app
        .store
        .write(move |tx| {
            let mut record = record.clone();
            let mut ids = Vec::new();
            for (kind, f) in &saved {
                let id = portal::add_file(tx, now, PENDING_OWNER, kind, f)?;
                ids.push(id);
                record.attachments.push(AttachmentRecord {
                    kind: (*kind).to_string(),
                    file: bundle_file_name(id, &f.name),
                    name: f.name.clone(),
                });
            }
            let portal_ref = portal::file_filing(tx, now, record, &actor)?;
            portal_filings::set_owner(tx, &ids, &portal_ref)?;
            Ok(portal_ref)
        })
        .await?;
    Ok(Redirect::to(&ctx.href(&format!("/file/{portal_ref}?notice=filed"))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_names_and_extensions() {
        assert_eq!(bundle_file_name(7, "报备表.PDF"), "f7.pdf");
        assert_eq!(bundle_file_name(8, "noext"), "f8.bin");
        let long = format!("{}.pdf", "长".repeat(120));
        let checked = crate::files::check(&long, b"%PDF-1.4", false).unwrap();
        let name = with_extension(&checked, &long);
        assert!(name.ends_with(".pdf"), "{name}");
        assert!(name.chars().count() <= 100);
        let short = crate::files::check("a.pdf", b"%PDF-1.4", false).unwrap();
        assert_eq!(with_extension(&short, "a.pdf"), "a.pdf");
    }

    #[test]
    fn times_from_datetime_local() {
        assert!(parse_datetime_local("start_at", "开始时间", "2026-12-05T19:30").is_ok());
        assert!(parse_datetime_local("start_at", "开始时间", "2026-12-05 19:30:00").is_ok());
        for bad in ["", "2026-13-05T19:30", "tomorrow", "2026-12-05"] {
            assert!(parse_datetime_local("start_at", "开始时间", bad).is_err(), "{bad:?}");
        }
    }
}
