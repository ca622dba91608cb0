//! 备案管理: filings of activities that government units run themselves (条例 art 25, no permit needed). They
//! arrive inside application bundles, are checked with the bundle before anything is written and stored after its
//! applications; the intranet lists them, shows their details and serves their attachments within the reader's
//! region.

use chrono::{NaiveDate, NaiveDateTime};
use duckdb::{Connection, OptionalExt, Row, Transaction, params};

use super::activities::{FileInfo, add_file};
use super::{StoreError, StoreResult};
use crate::domain::activity::{ActivityKind, Attendance, CreditCode};
use crate::domain::region::{Adcode, RegionLevel, RegionTree};
use crate::domain::text::{parse_name, parse_note};
use crate::domain::user::Mobile;
use crate::exchange::VerifiedBundle;
use crate::exchange::records::FilingRecord;
use crate::files::CheckedFile;

/// Attachment kind of 报备材料.
pub const KIND_FILING: &str = "filing";
/// Attachment kind of 评估报告.
pub const KIND_RISK_ASSESSMENT: &str = "risk_assessment";

/// The Chinese name of an attachment kind.
pub fn attachment_label(kind: &str) -> &'static str {
    match kind {
        KIND_RISK_ASSESSMENT => "评估报告",
        _ => "报备材料",
    }
}

// ---- import ----

/// A filing checked against the domain rules, with its values cleaned, ready to write.
#[derive(Debug)]
pub struct CheckedFiling<'a> {
    record: &'a FilingRecord,
    kind: ActivityKind,
    credit_code: CreditCode,
    unit_name: String,
    name: String,
    venue: String,
    counties: Vec<Adcode>,
    contact_name: String,
    contact_mobile: Mobile,
}

/// Checks every filing of a bundle before anything is written; the error names the filing, in Chinese.
pub fn check<'a>(
    records: &'a [FilingRecord],
    bundle: &VerifiedBundle,
    regions: &RegionTree,
) -> Result<Vec<CheckedFiling<'a>>, String> {
    let mut out = Vec::new();
    for (i, f) in records.iter().enumerate() {
        let at = |m: String| format!("第 {} 条备案（{}）：{m}", i + 1, f.portal_ref);
        if f.portal_ref.is_empty()
            || f.portal_ref.len() > 64
            || !f.portal_ref.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(at("编号无效".into()));
        }
        let name = parse_name("name", "活动名称", &f.name, 100).map_err(|x| at(x.message))?;
        let kind = ActivityKind::parse(&f.kind).map_err(|x| at(x.message))?;
        let unit_name = parse_name("unit_name", "报备单位", &f.unit_name, 100).map_err(|x| at(x.message))?;
        let credit_code = CreditCode::parse(&f.credit_code).map_err(|x| at(x.message))?;
        let venue = parse_note("venue", "活动地点", &f.venue, 200).map_err(|x| at(x.message))?;
        if venue.is_empty() {
            return Err(at("缺少活动地点".into()));
        }
        let mut counties: Vec<Adcode> = Vec::new();
        for code in &f.regions {
            let c = Adcode::from_stored(i64::from(*code))
                .filter(|c| regions.get(*c).is_some_and(|r| r.level == RegionLevel::County))
                .ok_or_else(|| at(format!("举办地 {code} 不是本省的县区")))?;
            if !counties.contains(&c) {
                counties.push(c);
            }
        }
        if counties.is_empty() {
            return Err(at("缺少举办地区".into()));
        }
        if f.end_at <= f.start_at {
            return Err(at("结束时间应晚于开始时间".into()));
        }
        Attendance::parse("attendance", &f.attendance.to_string()).map_err(|x| at(x.message))?;
        let contact_name = parse_name("contact", "联系人", &f.contact_name, 32).map_err(|x| at(x.message))?;
        let contact_mobile = Mobile::parse(&f.contact_mobile).map_err(|x| at(x.message))?;
        for m in &f.attachments {
            if m.kind != KIND_FILING && m.kind != KIND_RISK_ASSESSMENT {
                return Err(at(format!("附件「{}」的类别 {} 无效", m.name, m.kind)));
            }
            let bytes = bundle.file(&m.file).ok_or_else(|| at(format!("缺少附件文件 {}", m.file)))?;
            crate::files::check(&m.name, bytes, false).map_err(|x| at(format!("附件「{}」：{x}", m.name)))?;
        }
        out.push(CheckedFiling {
            record: f,
            kind,
            credit_code,
            unit_name,
            name,
            venue,
            counties,
            contact_name,
            contact_mobile,
        });
    }
    Ok(out)
}

/// Stores checked filings with their attachments' metadata (the bytes are on disk already, see [`attachments`]).
/// A filing whose portal reference was imported before is skipped: importing is idempotent.
pub fn write(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    filings: &[CheckedFiling<'_>],
    bundle: &VerifiedBundle,
) -> StoreResult<()> {
    for f in filings {
        let r = f.record;
        let known: bool =
            tx.query_row("SELECT count(*) > 0 FROM filings WHERE portal_ref = ?", [&r.portal_ref], |x| x.get(0))?;
        if known {
            continue;
        }
        let regions = f.counties.iter().map(|c| c.get().to_string()).collect::<Vec<_>>().join(",");
        let id: i64 = tx.query_row(
            "INSERT INTO filings (portal_ref, unit_name, credit_code, name, kind, regions, venue, start_at, end_at,
                 attendance, contact_name, contact_mobile, filed_at, received_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            params![
                r.portal_ref,
                f.unit_name,
                f.credit_code.as_str(),
                f.name,
                f.kind.code(),
                regions,
                f.venue,
                r.start_at,
                r.end_at,
                r.attendance,
                f.contact_name,
                f.contact_mobile.as_str(),
                r.filed_at.naive_utc(),
                now
            ],
            |x| x.get(0),
        )?;
        for m in &r.attachments {
            let bytes = bundle.file(&m.file).ok_or_else(|| StoreError::Conflict(format!("缺少附件文件 {}", m.file)))?;
            let c = crate::files::check(&m.name, bytes, false).map_err(|e| StoreError::Conflict(e.to_string()))?;
            let file_id = add_file(tx, now, &c.sm3, &c.name, c.mime, c.size as i64)?;
            tx.execute(
                "INSERT INTO filing_files (filing_id, kind, file_id) VALUES (?, ?, ?)",
                params![id, m.kind, file_id],
            )?;
        }
    }
    Ok(())
}

/// The attachments of `records` found in the bundle, checked, for saving on disk before the import.
pub fn attachments(records: &[FilingRecord], bundle: &VerifiedBundle) -> Vec<(CheckedFile, Vec<u8>)> {
    records
        .iter()
        .flat_map(|f| f.attachments.iter())
        .filter_map(|m| {
            let bytes = bundle.file(&m.file)?;
            crate::files::check(&m.name, bytes, false).ok().map(|f| (f, bytes.to_vec()))
        })
        .collect()
}

// ---- list and details ----

/// One filing as the list and the details show it.
#[derive(Debug, Clone)]
pub struct FilingRow {
    /// Id.
    pub id: i64,
    /// The portal's reference.
    pub portal_ref: String,
    /// 报备单位
    pub unit_name: String,
    /// Its 统一社会信用代码.
    pub credit_code: String,
    /// 活动名称
    pub name: String,
    /// 类型
    pub kind: ActivityKind,
    /// 举办地区 (counties).
    pub regions: Vec<Adcode>,
    /// 活动地点
    pub venue: String,
    /// Start (Beijing time).
    pub start_at: NaiveDateTime,
    /// End (Beijing time).
    pub end_at: NaiveDateTime,
    /// Expected attendance per session.
    pub attendance: i64,
    /// 联系人
    pub contact_name: String,
    /// 联系电话
    pub contact_mobile: String,
    /// 报备时间 on the portal (UTC).
    pub filed_at: NaiveDateTime,
    /// When imported (UTC).
    pub received_at: NaiveDateTime,
}

/// Filters of the 备案管理 list.
#[derive(Debug, Clone, Default)]
pub struct FilingFilter {
    /// Region path of the reader: filings held within it.
    pub scope_path: String,
    /// A narrower region path.
    pub region_path: Option<String>,
    /// Exact kind.
    pub kind: Option<ActivityKind>,
    /// Starting on or after this day.
    pub from: Option<NaiveDate>,
    /// Starting on or before this day.
    pub until: Option<NaiveDate>,
    /// Name, unit or reference contains.
    pub text: Option<String>,
    /// 0-based page.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

const ROW_SELECT: &str = "SELECT f.id, f.portal_ref, f.unit_name, f.credit_code, f.name, f.kind, f.regions, f.venue,
        f.start_at, f.end_at, f.attendance, f.contact_name, f.contact_mobile, f.filed_at, f.received_at
    FROM filings f";

/// Held (in one of its counties) within the region path `$1`.
const VISIBLE: &str = "EXISTS (SELECT 1 FROM regions g
        WHERE list_contains(string_split(f.regions, ','), CAST(g.adcode AS VARCHAR)) AND starts_with(g.path, $1))";

fn row_from(r: &Row<'_>) -> duckdb::Result<FilingRow> {
    let kind: String = r.get(5)?;
    let regions: String = r.get(6)?;
    Ok(FilingRow {
        id: r.get(0)?,
        portal_ref: r.get(1)?,
        unit_name: r.get(2)?,
        credit_code: r.get(3)?,
        name: r.get(4)?,
        kind: ActivityKind::parse(&kind)
            .map_err(|_| duckdb::Error::FromSqlConversionFailure(5, duckdb::types::Type::Text, kind.clone().into()))?,
        regions: regions
            .split(',')
            .filter_map(|s| s.trim().parse::<i64>().ok().and_then(Adcode::from_stored))
            .collect(),
        venue: r.get(7)?,
        start_at: r.get(8)?,
        end_at: r.get(9)?,
        attendance: r.get(10)?,
        contact_name: r.get(11)?,
        contact_mobile: r.get(12)?,
        filed_at: r.get(13)?,
        received_at: r.get(14)?,
    })
}

/// One page of the list, newest filing first, and the number of all matching filings.
pub fn list(conn: &Connection, f: &FilingFilter) -> StoreResult<(Vec<FilingRow>, i64)> {
    let where_sql = format!(
        "WHERE {VISIBLE}
           AND ($2::VARCHAR IS NULL OR EXISTS (SELECT 1 FROM regions g2
                WHERE list_contains(string_split(f.regions, ','), CAST(g2.adcode AS VARCHAR))
                  AND starts_with(g2.path, $2::VARCHAR)))
           AND ($3::VARCHAR IS NULL OR f.kind = $3::VARCHAR)
           AND ($4::DATE IS NULL OR CAST(f.start_at AS DATE) >= $4::DATE)
           AND ($5::DATE IS NULL OR CAST(f.start_at AS DATE) <= $5::DATE)
           AND ($6::VARCHAR IS NULL OR contains(f.name, $6::VARCHAR) OR contains(f.unit_name, $6::VARCHAR)
                OR contains(f.portal_ref, $6::VARCHAR))"
    );
    let kind = f.kind.map(ActivityKind::code);
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM filings f {where_sql}"),
        params![f.scope_path, f.region_path, kind, f.from, f.until, f.text],
        |r| r.get(0),
    )?;
    let sql = format!(
        "{ROW_SELECT} {where_sql} ORDER BY f.filed_at DESC, f.id DESC LIMIT {} OFFSET {}",
        f.per_page,
        u64::from(f.page) * u64::from(f.per_page)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![f.scope_path, f.region_path, kind, f.from, f.until, f.text], row_from)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// The filing `id` with its attachments (kind code, file), if held within `scope_path`; else `NotFound`.
pub fn get_in_scope(conn: &Connection, id: i64, scope_path: &str) -> StoreResult<(FilingRow, Vec<(String, FileInfo)>)> {
    let row = conn
        .query_row(&format!("{ROW_SELECT} WHERE f.id = $2 AND {VISIBLE}"), params![scope_path, id], row_from)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let mut s = conn.prepare(
        "SELECT ff.kind, fi.id, fi.name, fi.size FROM filing_files ff JOIN files fi ON fi.id = ff.file_id
         WHERE ff.filing_id = ? ORDER BY fi.id",
    )?;
    let files: Vec<(String, FileInfo)> = s
        .query_map([id], |r| Ok((r.get(0)?, FileInfo { id: r.get(1)?, name: r.get(2)?, size: r.get(3)? })))?
        .collect::<Result<_, _>>()?;
    Ok((row, files))
}

/// The stored name, mime type and content hash of a file attached to a filing held within `scope_path`.
pub fn file_in_scope(conn: &Connection, file_id: i64, scope_path: &str) -> StoreResult<(String, String, String)> {
    conn.query_row(
        &format!(
            "SELECT fi.name, fi.mime, fi.sm3 FROM files fi
             JOIN filing_files ff ON ff.file_id = fi.id JOIN filings f ON f.id = ff.filing_id
             WHERE fi.id = $2 AND {VISIBLE} LIMIT 1"
        ),
        params![scope_path, file_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}
