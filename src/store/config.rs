//! Workflow configuration: approval flows (versioned), scale rules, the holiday calendar, SMS templates and the
//! material lists. Every change writes its audit record in the same transaction.

use chrono::{NaiveDate, NaiveDateTime};
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::{StoreError, StoreResult, adcode_at};
use crate::domain::FieldErrors;
use crate::domain::calendar::{DayEntry, DayKind, HolidayCalendar, OFFICIAL_DAYS, parse_date};
use crate::domain::region::Adcode;
use crate::domain::scale::ScaleRules;
use crate::domain::sms::{SmsKind, SmsTemplate};

/// Default material list of the province (报批材料, 条例 art 13 and common local rules): code, name, required.
pub const DEFAULT_MATERIALS: &[(&str, &str, bool)] = &[
    ("legal_entity", "承办单位法人资格证明及安全责任人身份证明", true),
    ("activity_plan", "大型群众性活动方案及说明（含合作协议）", true),
    ("security_plan", "安全工作方案", true),
    ("venue_consent", "场所管理者同意提供场所的证明", true),
    ("risk_assessment", "安全风险评估报告", true),
    ("fire_safety", "消防安全检查合格证明", false),
    ("insurance", "公众责任险保单", false),
    ("other_permits", "其他依法应当取得的批准文件", false),
];

/// Seeds what a fresh database needs: the official holidays, the default scale rules and the province's material
/// list. Idempotent: only empty tables are filled.
pub fn seed_defaults(tx: &Transaction<'_>, now: NaiveDateTime, province: Adcode) -> StoreResult<()> {
    let n: i64 = tx.query_row("SELECT count(*) FROM calendar_days", [], |r| r.get(0))?;
    if n == 0 {
        for (day, kind, name) in OFFICIAL_DAYS {
            let day = parse_date("date", day).map_err(|e| StoreError::Conflict(e.message))?;
            tx.execute(
                "INSERT INTO calendar_days (day, kind, name) VALUES (?, ?, ?)",
                params![day, kind.code(), name],
            )?;
        }
    }
    let n: i64 = tx.query_row("SELECT count(*) FROM scale_rules", [], |r| r.get(0))?;
    if n == 0 {
        let d = ScaleRules::default();
        tx.execute(
            "INSERT INTO scale_rules (permit_min, city_min, province_min, created_at) VALUES (?, ?, ?, ?)",
            params![d.permit_min, d.city_min, d.province_min, now],
        )?;
    }
    let n: i64 = tx.query_row("SELECT count(*) FROM material_kinds", [], |r| r.get(0))?;
    if n == 0 {
        for (i, (code, name, required)) in DEFAULT_MATERIALS.iter().enumerate() {
            tx.execute(
                "INSERT INTO material_kinds (region, code, name, required, position) VALUES (?, ?, ?, ?, ?)",
                params![province.get(), code, name, required, i as i64],
            )?;
        }
    }
    Ok(())
}

// ---- calendar ----

/// The calendar as stored.
pub fn calendar(conn: &Connection) -> StoreResult<HolidayCalendar> {
    let mut s = conn.prepare("SELECT day, kind FROM calendar_days")?;
    let rows = s.query_map([], |r| Ok((r.get::<_, NaiveDate>(0)?, r.get::<_, String>(1)?)))?;
    let mut entries = Vec::new();
    for row in rows {
        let (day, kind) = row?;
        if let Ok(kind) = DayKind::parse(&kind) {
            entries.push((day, kind));
        }
    }
    Ok(HolidayCalendar::new(entries))
}

/// Calendar entries of `year`, ordered by day.
pub fn calendar_entries(conn: &Connection, year: i32) -> StoreResult<Vec<DayEntry>> {
    let mut s = conn.prepare("SELECT day, kind, name FROM calendar_days WHERE year(day) = ? ORDER BY day")?;
    let rows =
        s.query_map([year], |r| Ok((r.get::<_, NaiveDate>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (date, kind, name) = row?;
        if let Ok(kind) = DayKind::parse(&kind) {
            out.push(DayEntry { date, kind, name });
        }
    }
    Ok(out)
}

/// Adds or replaces the entry of a day.
pub fn set_calendar_day(tx: &Transaction<'_>, now: NaiveDateTime, e: &DayEntry, actor: &Actor) -> StoreResult<()> {
    tx.execute(
        "INSERT OR REPLACE INTO calendar_days (day, kind, name) VALUES (?, ?, ?)",
        params![e.date, e.kind.code(), e.name],
    )?;
    let detail = format!("{} {} {}", e.date, e.kind.label(), e.name);
    append(tx, now, NewAudit { actor, action: "calendar.set", object: format!("日历 {}", e.date), ok: true, detail })
}

/// Removes the entry of a day (it becomes an ordinary day again).
pub fn remove_calendar_day(tx: &Transaction<'_>, now: NaiveDateTime, day: NaiveDate, actor: &Actor) -> StoreResult<()> {
    let n = tx.execute("DELETE FROM calendar_days WHERE day = ?", [day])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    append(
        tx,
        now,
        NewAudit { actor, action: "calendar.remove", object: format!("日历 {day}"), ok: true, detail: String::new() },
    )
}

// ---- scale rules ----

/// The scale rules in force.
pub fn scale_rules(conn: &Connection) -> StoreResult<ScaleRules> {
    Ok(conn
        .query_row("SELECT permit_min, city_min, province_min FROM scale_rules ORDER BY id DESC LIMIT 1", [], |r| {
            Ok(ScaleRules { permit_min: r.get(0)?, city_min: r.get(1)?, province_min: r.get(2)? })
        })
        .optional()?
        .unwrap_or_default())
}

/// Puts new scale rules in force (the old ones stay as history).
pub fn set_scale_rules(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    rules: &ScaleRules,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO scale_rules (permit_min, city_min, province_min, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
        params![rules.permit_min, rules.city_min, rules.province_min, user_id, now],
    )?;
    let detail = format!(
        "许可起点 {} 人；市级 {} 人；省级 {}",
        rules.permit_min,
        rules.city_min,
        rules.province_min.map_or("未设".to_string(), |p| format!("{p} 人"))
    );
    append(tx, now, NewAudit { actor, action: "scale.set", object: "规模配置".into(), ok: true, detail })
}

// ---- flows ----

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStep {
    /// 步骤名称
    pub name: String,
    /// 审批角色
    pub role_id: i64,
    /// Role name (read back).
    pub role_name: String,
    /// 审批时长, working days.
    pub time_limit_days: i64,
}

/// A flow version.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Id of this version.
    pub id: i64,
    /// The region it belongs to.
    pub region: Adcode,
    /// Version number.
    pub version: i64,
    /// 流程名字
    pub name: String,
    /// Ordered steps.
    pub steps: Vec<FlowStep>,
}

fn steps_of(conn: &Connection, flow_id: i64) -> StoreResult<Vec<FlowStep>> {
    let mut s = conn.prepare(
        "SELECT s.name, s.role_id, coalesce(r.name, '（已删除角色）'), s.time_limit_days FROM flow_steps s
         LEFT JOIN approval_roles r ON r.id = s.role_id WHERE s.flow_id = ? ORDER BY s.position",
    )?;
    let rows = s
        .query_map([flow_id], |r| {
            Ok(FlowStep { name: r.get(0)?, role_id: r.get(1)?, role_name: r.get(2)?, time_limit_days: r.get(3)? })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The newest flow of the region with path `path` or, if it has none, of its nearest ancestor that has one.
pub fn effective_flow(conn: &Connection, path: &str) -> StoreResult<Option<Flow>> {
    let head = conn
        .query_row(
            "SELECT f.id, f.region, f.version, f.name FROM flows f JOIN regions g ON g.adcode = f.region
             WHERE starts_with(?, g.path) ORDER BY length(g.path) DESC, f.version DESC LIMIT 1",
            [path],
            |r| Ok((r.get::<_, i64>(0)?, adcode_at(r, 1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)),
        )
        .optional()?;
    let Some((id, region, version, name)) = head else { return Ok(None) };
    Ok(Some(Flow { id, region, version, name, steps: steps_of(conn, id)? }))
}

/// The flow id and its number of steps used to accept an application approved at region path `path`.
pub fn flow_for(conn: &Connection, path: &str) -> StoreResult<Option<(i64, u32)>> {
    Ok(effective_flow(conn, path)?
        .filter(|f| !f.steps.is_empty())
        .map(|f| (f.id, u32::try_from(f.steps.len()).unwrap_or(u32::MAX))))
}

/// Saves a new version of the flow of `region`. Applications already in approval keep their version.
pub fn save_flow(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    region: Adcode,
    name: &str,
    steps: &[FlowStep],
    user_id: i64,
    actor: &Actor,
) -> StoreResult<i64> {
    let region_path: String =
        tx.query_row("SELECT path FROM regions WHERE adcode = ?", [region.get()], |r| r.get(0))?;
    let mut errors = FieldErrors::default();
    for (i, s) in steps.iter().enumerate() {
        let usable: bool = tx.query_row(
            "SELECT count(*) > 0 FROM approval_roles r JOIN regions g ON g.adcode = r.region
             WHERE r.id = ? AND r.deleted_at IS NULL AND starts_with(?, g.path)",
            params![s.role_id, region_path],
            |r| r.get(0),
        )?;
        if !usable {
            errors.push("steps", format!("第 {} 步的审批角色不存在或不适用于本地区", i + 1));
        }
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let version: i64 =
        tx.query_row("SELECT coalesce(max(version), 0) + 1 FROM flows WHERE region = ?", [region.get()], |r| r.get(0))?;
    let id: i64 = tx.query_row(
        "INSERT INTO flows (region, version, name, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        params![region.get(), version, name, user_id, now],
        |r| r.get(0),
    )?;
    for (i, s) in steps.iter().enumerate() {
        tx.execute(
            "INSERT INTO flow_steps (flow_id, position, name, role_id, time_limit_days) VALUES (?, ?, ?, ?, ?)",
            params![id, i as i64, s.name, s.role_id, s.time_limit_days],
        )?;
    }
    let detail =
        steps.iter().map(|s| format!("{}（{} 个工作日）", s.name, s.time_limit_days)).collect::<Vec<_>>().join(" → ");
    append(
        tx,
        now,
        NewAudit { actor, action: "flow.save", object: format!("{name} 第 {version} 版"), ok: true, detail },
    )?;
    Ok(id)
}

/// Flow steps using a role (for refusing its deletion): "flow name（region）".
pub fn flows_using_role(conn: &Connection, role_id: i64) -> StoreResult<Vec<String>> {
    let mut s = conn.prepare(
        "SELECT DISTINCT f.name || '（' || g.name || '）' FROM flows f JOIN flow_steps s ON s.flow_id = f.id
         JOIN regions g ON g.adcode = f.region
         WHERE s.role_id = ? AND f.version = (SELECT max(version) FROM flows f2 WHERE f2.region = f.region)
         ORDER BY 1",
    )?;
    let rows = s.query_map([role_id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

// ---- SMS templates ----

/// A region's template with its fill-ins.
#[derive(Debug, Clone)]
pub struct SmsSetting {
    /// The template.
    pub template: SmsTemplate,
    /// 地址
    pub address: String,
    /// 联系电话
    pub phone: String,
    /// 提交材料
    pub materials: String,
    /// The region whose setting this is; `None` for the built-in default.
    pub region: Option<Adcode>,
}

/// The template of `kind` in force at region path `path` (its own, else the nearest ancestor's, else the default).
pub fn sms_setting(conn: &Connection, path: &str, kind: SmsKind) -> StoreResult<SmsSetting> {
    let found = conn
        .query_row(
            "SELECT t.text, t.address, t.phone, t.materials, t.region FROM sms_templates t
             JOIN regions g ON g.adcode = t.region
             WHERE t.kind = ? AND starts_with(?, g.path) ORDER BY length(g.path) DESC LIMIT 1",
            params![kind.code(), path],
            |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, adcode_at(r, 4)?)),
        )
        .optional()?;
    Ok(match found {
        Some((text, address, phone, materials, region)) => SmsSetting {
            template: SmsTemplate::parse(kind, &text).unwrap_or_else(|_| SmsTemplate::default_for(kind)),
            address,
            phone,
            materials,
            region: Some(region),
        },
        None => SmsSetting {
            template: SmsTemplate::default_for(kind),
            address: String::new(),
            phone: String::new(),
            materials: String::new(),
            region: None,
        },
    })
}

/// Saves the template of `kind` for `region`.
pub fn save_sms(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    region: Adcode,
    s: &SmsSetting,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let kind = s.template.kind();
    tx.execute("DELETE FROM sms_templates WHERE region = ? AND kind = ?", params![region.get(), kind.code()])?;
    tx.execute(
        "INSERT INTO sms_templates (region, kind, text, address, phone, materials, updated_by, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params![region.get(), kind.code(), s.template.text(), s.address, s.phone, s.materials, user_id, now],
    )?;
    append(
        tx,
        now,
        NewAudit { actor, action: "sms.save", object: kind.label().into(), ok: true, detail: s.template.text().into() },
    )
}
