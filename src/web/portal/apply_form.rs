//! The application form (`/apply/new`, `/apply/{ref}/edit`): every field parsed with the domain parsers into an
//! `ApplicationRecord` whose organizer block is the account's unit. Refused: attendance above the venue's capacity
//! and attendance below the permit threshold of 规模配置. A start less than 20 days away is only a warning.

use axum::Form;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDateTime;
use maud::{Markup, html};
use serde::Deserialize;

use super::apply::{
    MENU, beijing_now, beijing_today, county, county_options, lead_banner, lead_warning, load, ref_from,
};
use crate::domain::activity::{ActivityKind, Attendance, parse_count};
use crate::domain::region::{Adcode, RegionTree};
use crate::domain::scale::{RoutingError, ScaleRules, route};
use crate::domain::text::parse_name;
use crate::domain::user::{Mobile, Permission};
use crate::domain::{FieldError, FieldErrors};
use crate::exchange::records::{ApplicationRecord, AssessmentRecord, OrganizerRecord, VenueRecord};
use crate::store::portal::{self, Unit};
use crate::store::{StoreError, config};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{FieldExtra, csrf_field, page, select_field, text_field};
use crate::web::session::Ctx;

/// Limits as the intranet checks imported records.
const NAME_MAX: usize = 100;
const VENUE_MAX: usize = 100;
const ADDRESS_MAX: usize = 200;
const CONTACT_MAX: usize = 32;
const AGENCY_MAX: usize = 100;
const SESSIONS_MAX: u32 = 1000;
/// The 举办地 selects (up to three counties).
const REGION_FIELDS: [&str; 3] = ["region1", "region2", "region3"];
/// 风险等级
const RISK_GRADES: [&str; 3] = ["低", "中", "高"];
/// `datetime-local` value format.
const DATETIME_LOCAL: &str = "%Y-%m-%dT%H:%M";

/// The form as posted (or as loaded from a record), kept as text to show it again.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct ApplicationForm {
    name: String,
    kind: String,
    region1: String,
    region2: String,
    region3: String,
    venue_name: String,
    venue_address: String,
    venue_region: String,
    capacity: String,
    start_at: String,
    end_at: String,
    sessions: String,
    attendance: String,
    contact_name: String,
    contact_mobile: String,
    agency: String,
    risk_grade: String,
}

/// A `datetime-local` value, `YYYY-MM-DDTHH:MM` (seconds, and a space instead of `T`, allowed).
fn parse_datetime(field: &'static str, label: &str, raw: &str) -> Result<NaiveDateTime, FieldError> {
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
    let fmt = if b.len() == 16 { DATETIME_LOCAL } else { "%Y-%m-%dT%H:%M:%S" };
    shaped
        .then(|| NaiveDateTime::parse_from_str(&raw.replacen(' ', "T", 1), fmt).ok())
        .flatten()
        .ok_or_else(|| FieldError::new(field, format!("请填写有效的{label}，格式为 YYYY-MM-DD HH:MM")))
}

/// A county of the province from a select.
fn parse_county(regions: &RegionTree, field: &'static str, raw: &str) -> Result<Adcode, FieldError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .and_then(|c| county(regions, c))
        .ok_or_else(|| FieldError::new(field, "请选择本省的县（市、区）"))
}

impl ApplicationForm {
    /// The form of a saved record.
    pub(super) fn from_record(a: &ApplicationRecord) -> Self {
        let venue = a.venues.first();
        let region = |i: usize| a.regions.get(i).map(u32::to_string).unwrap_or_default();
        let assessment = a.assessments.first();
        Self {
            name: a.name.clone(),
            kind: a.kind.clone(),
            region1: region(0),
            region2: region(1),
            region3: region(2),
            venue_name: venue.map(|v| v.name.clone()).unwrap_or_default(),
            venue_address: venue.map(|v| v.address.clone()).unwrap_or_default(),
            venue_region: venue.map(|v| v.region.to_string()).unwrap_or_default(),
            capacity: venue.map(|v| v.capacity.to_string()).unwrap_or_default(),
            start_at: a.start_at.format(DATETIME_LOCAL).to_string(),
            end_at: a.end_at.format(DATETIME_LOCAL).to_string(),
            sessions: a.sessions.to_string(),
            attendance: a.attendance.to_string(),
            contact_name: a.contact_name.clone(),
            contact_mobile: a.contact_mobile.clone(),
            agency: assessment.map(|s| s.agency.clone()).unwrap_or_default(),
            risk_grade: assessment.map(|s| s.risk_grade.clone()).unwrap_or_default(),
        }
    }

    /// The 20-day warning for the start as entered, if it parses.
    fn warning(&self, app: &AppState) -> Option<String> {
        let start = parse_datetime("start_at", "开始时间", &self.start_at).ok()?;
        lead_warning(beijing_today(app), start)
    }

    /// Parses every field (all problems are collected) into the record to store; `now` is Beijing local time.
    pub(super) fn parse(
        &self,
        regions: &RegionTree,
        rules: &ScaleRules,
        unit: &Unit,
        now: NaiveDateTime,
    ) -> Result<ApplicationRecord, FieldErrors> {
        let mut e = FieldErrors::default();
        let name = e.take(parse_name("name", "活动名称", &self.name, NAME_MAX));
        let kind = e.take(ActivityKind::parse(&self.kind));

        let mut counties: Vec<Adcode> = Vec::new();
        let mut region_error = false;
        for (field, raw) in REGION_FIELDS.into_iter().zip([&self.region1, &self.region2, &self.region3]) {
            if raw.trim().is_empty() {
                continue;
            }
            match parse_county(regions, field, raw) {
                Ok(c) if counties.contains(&c) => {
                    region_error = true;
                    e.push(field, "举办地不能重复选择");
                }
                Ok(c) => counties.push(c),
                Err(x) => {
                    region_error = true;
                    e.0.push(x);
                }
            }
        }
        if counties.is_empty() && !region_error {
            e.push("region1", "请选择活动举办地（县、市、区）");
        }

        let venue_name = e.take(parse_name("venue_name", "场地名称", &self.venue_name, VENUE_MAX));
        let venue_address = e.take(parse_name("venue_address", "场地地址", &self.venue_address, ADDRESS_MAX));
        let venue_region = if self.venue_region.trim().is_empty() {
            e.push("venue_region", "请选择场地所在县区");
            None
        } else {
            e.take(parse_county(regions, "venue_region", &self.venue_region))
        };
        if let Some(v) = venue_region
            && !counties.is_empty()
            && !counties.contains(&v)
        {
            e.push("venue_region", "场地所在县区应为所选活动举办地之一");
        }
        let capacity = e.take(parse_count("capacity", "核定容量", &self.capacity));

        let start = e.take(parse_datetime("start_at", "开始时间", &self.start_at));
        let end = e.take(parse_datetime("end_at", "结束时间", &self.end_at));
        if let Some(s) = start
            && s < now
        {
            e.push("start_at", "开始时间不能早于当前时间");
        }
        if let (Some(s), Some(t)) = (start, end)
            && t <= s
        {
            e.push("end_at", "结束时间应晚于开始时间");
        }
        let sessions = e.take(parse_count("sessions", "场次", &self.sessions).and_then(|n| {
            if n > SESSIONS_MAX {
                Err(FieldError::new("sessions", format!("场次不能超过 {SESSIONS_MAX}")))
            } else {
                Ok(n)
            }
        }));
        let attendance = e.take(Attendance::parse("attendance", &self.attendance)).map(Attendance::get);
        if let Some(att) = attendance {
            if let Some(cap) = capacity
                && att > cap
            {
                e.push("attendance", format!("每场预计人数超过场地核定容量 {cap} 人"));
            } else if counties.is_empty() {
                if att < rules.permit_min {
                    let below = RoutingError::BelowThreshold { attendance: att, permit_min: rules.permit_min };
                    e.push("attendance", below.to_string());
                }
            } else if let Err(err) = route(rules, regions, &counties, att) {
                let field = if matches!(err, RoutingError::BelowThreshold { .. }) { "attendance" } else { "region1" };
                e.push(field, err.to_string());
            }
        }

        let contact_name = e.take(parse_name("contact_name", "联系人", &self.contact_name, CONTACT_MAX));
        let contact_mobile =
            e.take(Mobile::parse(&self.contact_mobile).map_err(|x| FieldError::new("contact_mobile", x.message)));

        let agency = self.agency.trim();
        let grade = self.risk_grade.trim();
        let agency = if agency.is_empty() {
            Some(None)
        } else {
            e.take(parse_name("agency", "风评机构", agency, AGENCY_MAX)).map(Some)
        };
        if !grade.is_empty() && !RISK_GRADES.contains(&grade) {
            e.push("risk_grade", "风险等级应为 低、中 或 高");
        }
        match (&agency, grade.is_empty()) {
            (Some(Some(_)), true) => e.push("risk_grade", "填写风评机构时请选择风险等级"),
            (Some(None), false) => e.push("agency", "选择风险等级时请填写风评机构名称"),
            _ => {}
        }

        let record = (|| -> Option<ApplicationRecord> {
            let venue = VenueRecord {
                name: venue_name?,
                region: venue_region?.get(),
                address: venue_address?,
                lon: None,
                lat: None,
                capacity: capacity?,
            };
            Some(ApplicationRecord {
                name: name?,
                kind: kind?.code().to_string(),
                organizer: OrganizerRecord {
                    credit_code: unit.credit_code.clone(),
                    name: unit.unit_name.clone(),
                    contact_name: unit.contact_name.clone(),
                    contact_mobile: unit.contact_mobile.clone(),
                },
                regions: counties.iter().map(|c| c.get()).collect(),
                venues: vec![venue],
                start_at: start?,
                end_at: end?,
                sessions: sessions?,
                attendance: attendance?,
                contact_name: contact_name?,
                contact_mobile: contact_mobile?.as_str().to_string(),
                materials: Vec::new(),
                assessments: agency?
                    .map(|agency| AssessmentRecord { agency, risk_grade: grade.to_string(), report: None })
                    .into_iter()
                    .collect(),
            })
        })();
        match record {
            Some(r) if e.is_empty() => Ok(r),
            _ => Err(e),
        }
    }
}

/// What a form page shows besides the fields.
struct FormView<'a> {
    /// `None` for a new application.
    portal_ref: Option<&'a str>,
    form: &'a ApplicationForm,
    errors: &'a FieldErrors,
    /// A refusal of the whole form (409).
    message: Option<&'a str>,
}

fn form_page(app: &AppState, ctx: &Ctx, unit: &Unit, v: FormView<'_>) -> Markup {
    let f = v.form;
    let errors = v.errors;
    let (title, action, back) = match v.portal_ref {
        Some(r) => (format!("修改申请 {r}"), format!("/apply/{r}/edit"), format!("/apply/{r}")),
        None => ("新建申请".to_string(), "/apply/new".to_string(), "/apply".to_string()),
    };
    let choose = || (String::new(), "请选择".to_string());
    let kinds: Vec<(String, String)> = std::iter::once(choose())
        .chain(ActivityKind::ALL.iter().map(|k| (k.code().to_string(), k.label().to_string())))
        .collect();
    let counties = county_options(&app.regions);
    let first: Vec<(String, String)> = std::iter::once(choose()).chain(counties.iter().cloned()).collect();
    let more: Vec<(String, String)> =
        std::iter::once((String::new(), "（不选）".to_string())).chain(counties.iter().cloned()).collect();
    let grades: Vec<(String, String)> = std::iter::once((String::new(), "未评估 / 不填".to_string()))
        .chain(RISK_GRADES.iter().map(|g| (g.to_string(), g.to_string())))
        .collect();
    let req = |maxlength: usize| FieldExtra { required: true, maxlength: Some(maxlength), ..FieldExtra::default() };
    let opt = |maxlength: usize| FieldExtra { maxlength: Some(maxlength), ..FieldExtra::default() };
    let warning = f.warning(app);
    page(
        ctx,
        MENU,
        &title,
        html! {
            div.page-head { h1 { (title) } }
            @if let Some(m) = v.message { div.form-error role="alert" { (m) } }
            @if !errors.is_empty() {
                div.form-error role="alert" { "请修改标红的项目后再保存，本次未保存任何内容。" }
            }
            (lead_banner(warning.as_deref()))
            form.card method="post" action=(ctx.href(&action)) {
                (csrf_field(ctx))
                h2 { "承办单位" }
                dl.facts {
                    dt { "单位名称" } dd { (unit.unit_name) }
                    dt { "统一社会信用代码" } dd { (unit.credit_code) }
                }
                h2 { "活动信息" }
                (text_field("name", "活动名称", &f.name, errors, "text", req(NAME_MAX)))
                (select_field("kind", "活动类型", f.kind.trim(), &kinds, errors, true))
                h2 { "举办地与场地" }
                (select_field("region1", "举办地（县、市、区）", f.region1.trim(), &first, errors, true))
                (select_field("region2", "举办地二（跨县区时选择）", f.region2.trim(), &more, errors, false))
                (select_field("region3", "举办地三（跨县区时选择）", f.region3.trim(), &more, errors, false))
                (text_field("venue_name", "场地名称", &f.venue_name, errors, "text", req(VENUE_MAX)))
                (text_field("venue_address", "场地地址", &f.venue_address, errors, "text", req(ADDRESS_MAX)))
                (select_field("venue_region", "场地所在县区", f.venue_region.trim(), &first, errors, true))
                (text_field("capacity", "核定容量（人）", &f.capacity, errors, "number", req(8)))
                h2 { "时间与规模" }
                (text_field("start_at", "开始时间", &f.start_at, errors, "datetime-local",
                    FieldExtra { hint: Some("依法应至少在活动开始 20 日前提出申请"), ..req(19) }))
                (text_field("end_at", "结束时间", &f.end_at, errors, "datetime-local", req(19)))
                (text_field("sessions", "场次", &f.sessions, errors, "number", req(4)))
                (text_field("attendance", "每场预计人数", &f.attendance, errors, "number",
                    FieldExtra { hint: Some("按人数最多的一场填写，不得超过场地核定容量"), ..req(8) }))
                h2 { "活动联系人" }
                (text_field("contact_name", "联系人", &f.contact_name, errors, "text", req(CONTACT_MAX)))
                (text_field("contact_mobile", "手机", &f.contact_mobile, errors, "tel", req(13)))
                h2 { "安全风险评估" }
                (text_field("agency", "风评机构", &f.agency, errors, "text",
                    FieldExtra { hint: Some("委托第三方评估的，填写机构名称；评估报告在申请详情页上传"), ..opt(AGENCY_MAX) }))
                (select_field("risk_grade", "风险等级", f.risk_grade.trim(), &grades, errors, false))
                div.form-actions {
                    button.primary type="submit" { "保存" }
                    a.button href=(ctx.href(&back)) { "取消" }
                }
            }
        },
    )
}

/// The scale rules and the account's unit, which every form needs.
async fn context(app: &AppState, ctx: &Ctx) -> Result<(ScaleRules, Unit), AppError> {
    ctx.require(Permission::Apply)?;
    let uid = ctx.user.id;
    app.store.read(move |c| Ok((config::scale_rules(c)?, portal::unit(c, uid)?))).await.map_err(|e| match e {
        StoreError::NotFound => AppError::Conflict("未找到本账号的单位信息，请联系外网管理员。".into()),
        e => e.into(),
    })
}

fn respond(status: StatusCode, body: Markup) -> Response {
    (status, body).into_response()
}

fn saved(ctx: &Ctx, portal_ref: &str) -> Response {
    Redirect::to(&ctx.href(&format!("/apply/{portal_ref}?notice=saved"))).into_response()
}

pub(super) async fn new_form(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, AppError> {
    let (_, unit) = context(&app, &ctx).await?;
    let form = ApplicationForm {
        contact_name: unit.contact_name.clone(),
        contact_mobile: unit.contact_mobile.clone(),
        sessions: "1".into(),
        ..ApplicationForm::default()
    };
    let view = FormView { portal_ref: None, form: &form, errors: &FieldErrors::default(), message: None };
    Ok(form_page(&app, &ctx, &unit, view))
}

pub(super) async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    Form(form): Form<ApplicationForm>,
) -> Result<Response, AppError> {
    let (rules, unit) = context(&app, &ctx).await?;
    let record = match form.parse(&app.regions, &rules, &unit, beijing_now(&app)) {
        Ok(r) => r,
        Err(errors) => {
            let view = FormView { portal_ref: None, form: &form, errors: &errors, message: None };
            return Ok(respond(StatusCode::UNPROCESSABLE_ENTITY, form_page(&app, &ctx, &unit, view)));
        }
    };
    let (now, uid) = (app.clock.now(), ctx.user.id);
    let portal_ref = app.store.write(move |tx| portal::create_draft(tx, now, uid, &record)).await?;
    Ok(saved(&ctx, &portal_ref))
}

/// Why the application cannot be changed now, if so.
fn locked(status: &str) -> Option<String> {
    (!portal::editable(status)).then(|| format!("申请当前为「{}」状态，不能修改。", super::apply::status_label(status)))
}

pub(super) async fn edit_form(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let portal_ref = ref_from(path)?;
    let a = load(&app, &ctx, &portal_ref).await?;
    let (_, unit) = context(&app, &ctx).await?;
    let form = ApplicationForm::from_record(&a.data);
    let message = locked(&a.status);
    let status = if message.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    let view = FormView {
        portal_ref: Some(portal_ref.as_str()),
        form: &form,
        errors: &FieldErrors::default(),
        message: message.as_deref(),
    };
    Ok(respond(status, form_page(&app, &ctx, &unit, view)))
}

pub(super) async fn update(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    Form(form): Form<ApplicationForm>,
) -> Result<Response, AppError> {
    let portal_ref = ref_from(path)?;
    let a = load(&app, &ctx, &portal_ref).await?;
    let (rules, unit) = context(&app, &ctx).await?;
    let refuse = |status: StatusCode, errors: &FieldErrors, message: Option<&str>| {
        let view = FormView { portal_ref: Some(portal_ref.as_str()), form: &form, errors, message };
        respond(status, form_page(&app, &ctx, &unit, view))
    };
    if let Some(m) = locked(&a.status) {
        return Ok(refuse(StatusCode::CONFLICT, &FieldErrors::default(), Some(m.as_str())));
    }
    let record = match form.parse(&app.regions, &rules, &unit, beijing_now(&app)) {
        Ok(r) => r,
        Err(errors) => return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, &errors, None)),
    };
    let (now, uid, r) = (app.clock.now(), ctx.user.id, portal_ref.clone());
    match app.store.write(move |tx| portal::update_draft(tx, now, uid, &r, &record)).await {
        Ok(()) => Ok(saved(&ctx, &portal_ref)),
        Err(StoreError::Conflict(m)) => Ok(refuse(StatusCode::CONFLICT, &FieldErrors::default(), Some(m.as_str()))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::region::DEFAULT_REGIONS_CSV;
    use crate::domain::user::UserType;

    fn unit() -> Unit {
        Unit {
            user_id: 1,
            kind: UserType::Organizer,
            credit_code: "91350100M000100Y43".into(),
            unit_name: "杭州文旅演艺有限公司".into(),
            contact_name: "陈经理".into(),
            contact_mobile: "13800571234".into(),
        }
    }

    fn good() -> ApplicationForm {
        ApplicationForm {
            name: "西湖音乐节".into(),
            kind: "performance".into(),
            region1: "330106".into(),
            venue_name: "西湖文化广场".into(),
            venue_address: "杭州市西湖区示范路 1 号".into(),
            venue_region: "330106".into(),
            capacity: "5000".into(),
            start_at: "2027-01-10T19:30".into(),
            end_at: "2027-01-10T22:00".into(),
            sessions: "1".into(),
            attendance: "3000".into(),
            contact_name: "陈经理".into(),
            contact_mobile: "138-0057-1234".into(),
            agency: "浙江安评咨询有限公司".into(),
            risk_grade: "中".into(),
            ..ApplicationForm::default()
        }
    }

    fn parse(f: &ApplicationForm) -> Result<ApplicationRecord, FieldErrors> {
        let tree = RegionTree::parse_csv(DEFAULT_REGIONS_CSV).unwrap();
        let now = NaiveDateTime::parse_from_str("2026-12-01T10:00", DATETIME_LOCAL).unwrap();
        f.parse(&tree, &ScaleRules::default(), &unit(), now)
    }

    #[test]
    fn a_good_form_becomes_a_record_and_back() {
        let r = parse(&good()).unwrap();
        assert_eq!(r.regions, vec![330106]);
        assert_eq!(r.organizer.credit_code, "91350100M000100Y43");
        assert_eq!(r.contact_mobile, "13800571234");
        assert_eq!(r.assessments.len(), 1);
        let again = ApplicationForm::from_record(&r);
        assert_eq!(parse(&again).unwrap(), r);
    }

    #[test]
    fn refusals() {
        let over = ApplicationForm { attendance: "6000".into(), ..good() };
        assert_eq!(parse(&over).unwrap_err().get("attendance"), Some("每场预计人数超过场地核定容量 5000 人"));
        let small = ApplicationForm { attendance: "999".into(), ..good() };
        assert!(parse(&small).unwrap_err().get("attendance").unwrap().contains("低于 1000 人"));
        let twice = ApplicationForm { region2: "330106".into(), ..good() };
        assert!(parse(&twice).unwrap_err().get("region2").is_some());
        let city = ApplicationForm { region1: "330100".into(), ..good() };
        assert!(parse(&city).unwrap_err().get("region1").is_some());
        let elsewhere = ApplicationForm { venue_region: "330102".into(), ..good() };
        assert!(parse(&elsewhere).unwrap_err().get("venue_region").is_some());
        let backwards = ApplicationForm { end_at: "2027-01-10T18:00".into(), ..good() };
        assert!(parse(&backwards).unwrap_err().get("end_at").is_some());
        let past = ApplicationForm { start_at: "2026-11-30T19:30".into(), ..good() };
        assert!(parse(&past).unwrap_err().get("start_at").is_some());
        let no_grade = ApplicationForm { risk_grade: String::new(), ..good() };
        assert!(parse(&no_grade).unwrap_err().get("risk_grade").is_some());
        let no_agency = ApplicationForm { agency: String::new(), ..good() };
        assert!(parse(&no_agency).unwrap_err().get("agency").is_some());
        let none = ApplicationForm { agency: String::new(), risk_grade: String::new(), ..good() };
        assert!(parse(&none).unwrap().assessments.is_empty());
        let empty = parse(&ApplicationForm::default()).unwrap_err();
        for field in ["name", "kind", "region1", "venue_name", "venue_address", "venue_region", "capacity", "start_at"]
        {
            assert!(empty.get(field).is_some(), "{field}");
        }
    }
}
