//! Activities (applications): the 许可管理 list, the details with everything attached, and the records added on
//! the intranet (surveys with rectification opinions, inspections).

use chrono::{NaiveDate, NaiveDateTime};
use duckdb::arrow::array::{Array, Int64Array, StringArray, TimestampMicrosecondArray};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::types::Value;
use duckdb::{Connection, OptionalExt, Row, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::{StoreError, StoreResult, adcode_at};
use crate::domain::activity::ActivityKind;
use crate::domain::region::Adcode;
use crate::domain::workflow::{Progress, Status};

/// One row of the 许可管理 list.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    /// Id.
    pub id: i64,
    /// The portal's reference.
    pub portal_ref: String,
    /// 活动名称
    pub name: String,
    /// 类型
    pub kind: ActivityKind,
    /// 承办单位
    pub organizer: String,
    /// 举办地区 (counties).
    pub regions: Vec<Adcode>,
    /// The approving region.
    pub bureau: Adcode,
    /// Start (Beijing time).
    pub start_at: NaiveDateTime,
    /// End (Beijing time).
    pub end_at: NaiveDateTime,
    /// Expected attendance per session.
    pub attendance: i64,
    /// Position in the workflow.
    pub progress: Progress,
    /// When the current status or step began (UTC).
    pub status_since: NaiveDateTime,
    /// When acceptance happened (UTC).
    pub accepted_at: Option<NaiveDateTime>,
    /// Time limit of the current approval step, in working days.
    pub step_limit_days: Option<i64>,
    /// Role of the current approval step.
    pub step_role_id: Option<i64>,
    /// Name of the current approval step.
    pub step_name: Option<String>,
    /// Whether a survey exists.
    pub has_survey: bool,
    /// Optimistic-concurrency revision.
    pub revision: i64,
}

/// Sort orders of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivitySort {
    /// Newest submission first.
    #[default]
    Submitted,
    /// Earliest event first.
    Start,
    /// Largest attendance first.
    Attendance,
}

impl ActivitySort {
    /// Parses `submitted`, `start`, `attendance`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "submitted" => Some(Self::Submitted),
            "start" => Some(Self::Start),
            "attendance" => Some(Self::Attendance),
            _ => None,
        }
    }

    /// The code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Start => "start",
            Self::Attendance => "attendance",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Self::Submitted => "a.submitted_at DESC, a.id DESC",
            Self::Start => "a.start_at, a.id",
            Self::Attendance => "a.attendance DESC, a.id",
        }
    }
}

/// Filters of the 许可管理 list.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Region path of the reader: activities approved or held within it.
    pub scope_path: String,
    /// A narrower region path (held there or approved there).
    pub region_path: Option<String>,
    /// Exact status.
    pub status: Option<Status>,
    /// Exact kind.
    pub kind: Option<ActivityKind>,
    /// Events starting on or after this day.
    pub from: Option<NaiveDate>,
    /// Events starting on or before this day.
    pub until: Option<NaiveDate>,
    /// Name, organizer or reference contains.
    pub text: Option<String>,
    /// Order.
    pub sort: ActivitySort,
    /// 0-based page.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

/// The columns of [`ActivityRow`] around its regions (5) and has-survey (18) columns, and the tables they come
/// from: `a` activities, `o` organizers, `fs` the current flow step.
macro_rules! row_select {
    ($regions:literal, $has_survey:literal) => {
        concat!(
            "SELECT a.id, a.portal_ref, a.name, a.kind, o.name, ",
            $regions,
            ", a.bureau, a.start_at, a.end_at, a.attendance, a.status, a.step, a.steps, a.status_since, a.accepted_at,
                fs.time_limit_days, fs.role_id, fs.name, ",
            $has_survey,
            ", a.revision
            FROM activities a
            JOIN organizers o ON o.id = a.organizer_id
            LEFT JOIN flow_steps fs ON fs.flow_id = a.flow_id AND fs.position = a.step"
        )
    };
}

/// The list's columns.
const ROW_SELECT: &str = row_select!(
    "(SELECT string_agg(CAST(r.region AS VARCHAR), ',' ORDER BY r.region) FROM activity_regions r
      WHERE r.activity_id = a.id)",
    "EXISTS (SELECT 1 FROM surveys s WHERE s.activity_id = a.id)"
);

/// One activity by its key, without the correlated columns (regions, has-survey) that [`get_row`] reads by point
/// queries.
const ONE_ROW: &str = concat!(row_select!("NULL::VARCHAR", "false"), " WHERE a.id = ?");

fn bad(idx: usize, what: String) -> duckdb::Error {
    duckdb::Error::FromSqlConversionFailure(idx, duckdb::types::Type::Text, what.into())
}

fn row_from(r: &Row<'_>) -> duckdb::Result<ActivityRow> {
    let kind: String = r.get(3)?;
    let regions: Option<String> = r.get(5)?;
    let status: String = r.get(10)?;
    let step: Option<i64> = r.get(11)?;
    let steps: i64 = r.get(12)?;
    Ok(ActivityRow {
        id: r.get(0)?,
        portal_ref: r.get(1)?,
        name: r.get(2)?,
        kind: ActivityKind::parse(&kind).map_err(|_| bad(3, kind.clone()))?,
        organizer: r.get(4)?,
        regions: regions
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.parse::<i64>().ok().and_then(Adcode::from_stored))
            .collect(),
        bureau: adcode_at(r, 6)?,
        start_at: r.get(7)?,
        end_at: r.get(8)?,
        attendance: r.get(9)?,
        progress: Progress {
            status: Status::parse(&status).ok_or_else(|| bad(10, status.clone()))?,
            step: step.and_then(|s| u32::try_from(s).ok()),
            steps: u32::try_from(steps).unwrap_or(0),
        },
        status_since: r.get(13)?,
        accepted_at: r.get(14)?,
        step_limit_days: r.get(15)?,
        step_role_id: r.get(16)?,
        step_name: r.get(17)?,
        has_survey: r.get(18)?,
        revision: r.get(19)?,
    })
}

/// One row of the list's Excel export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// The portal's reference.
    pub portal_ref: String,
    /// 活动名称
    pub name: String,
    /// Kind code.
    pub kind: String,
    /// 承办单位
    pub organizer: String,
    /// The counties, in code order (the list's export shows their names).
    pub regions: Vec<Adcode>,
    /// The approving region.
    pub bureau: i64,
    /// Start (Beijing time).
    pub start_at: NaiveDateTime,
    /// End (Beijing time).
    pub end_at: NaiveDateTime,
    /// Expected attendance per session.
    pub attendance: i64,
    /// Sessions.
    pub sessions: i64,
    /// Status code.
    pub status: String,
    /// Submitted (UTC).
    pub submitted_at: NaiveDateTime,
    /// Decided (UTC).
    pub decided_at: Option<NaiveDateTime>,
}

/// Activities whose columns one query of [`export`] fetches. Each query scans the table once (about 80 ms at a
/// million activities), so fewer is faster; DuckDB's working memory for a query grows with its id list, so smaller is
/// leaner. Measured at a million rows, whole export (`anxu-bench --export-child`, 3 runs each): 32 768 → 6.2 s,
/// 220–240 MB peak; 65 536 → 5.8 s, 258–262 MB; 131 072 → 6.0 s, 299–311 MB. The smallest keeps the widest margin
/// under the 300 MB target at a small cost in time.
const EXPORT_CHUNK: usize = 32_768;

/// The exported columns of the activities whose ids are in the list `?` (integers as BIGINT: one Arrow type per
/// column, read by [`ExportColumns`]).
const EXPORT_ROWS: &str = "SELECT a.id, a.portal_ref, a.name, a.kind, o.name, CAST(a.bureau AS BIGINT), a.start_at,
        a.end_at, CAST(a.attendance AS BIGINT), CAST(a.sessions AS BIGINT), a.status, a.submitted_at, a.decided_at
    FROM activities a JOIN organizers o ON o.id = a.organizer_id
    WHERE a.id IN (SELECT unnest(CAST(? AS BIGINT[])))";

/// A read transaction: the queries of one export see one snapshot. Rolled back when dropped unfinished.
struct Snapshot<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Snapshot<'c> {
    fn begin(conn: &'c Connection) -> StoreResult<Self> {
        conn.execute_batch("BEGIN TRANSACTION")?;
        Ok(Self { conn, open: true })
    }

    fn end(mut self) -> StoreResult<()> {
        self.open = false;
        Ok(self.conn.execute_batch("COMMIT")?)
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The record batches of `stmt` run with `params`, fetched as DuckDB produces them (Arrow columns are read in bulk,
/// far cheaper per value than row by row).
fn batches(stmt: &mut duckdb::Statement<'_>, params: impl duckdb::Params) -> StoreResult<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for batch in stmt.stream_arrow(params)? {
        out.push(batch?);
    }
    Ok(out)
}

/// Column `i` of `batch` as Arrow type `T`; another type is a database error naming the column.
fn column<T: 'static>(batch: &RecordBatch, i: usize) -> StoreResult<&T> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| bad(i, format!("export column {i} is {}", batch.column(i).data_type())).into())
}

/// The columns of one batch of [`EXPORT_ROWS`] but the id (read by [`FetchedChunk`]).
struct ExportColumns<'b> {
    text: [&'b StringArray; 5],
    int: [&'b Int64Array; 3],
    time: [&'b TimestampMicrosecondArray; 4],
}

impl<'b> ExportColumns<'b> {
    fn of(b: &'b RecordBatch) -> StoreResult<Self> {
        Ok(Self {
            text: [column(b, 1)?, column(b, 2)?, column(b, 3)?, column(b, 4)?, column(b, 10)?],
            int: [column(b, 5)?, column(b, 8)?, column(b, 9)?],
            time: [column(b, 6)?, column(b, 7)?, column(b, 11)?, column(b, 12)?],
        })
    }

    fn row(&self, r: usize, regions: Vec<Adcode>) -> StoreResult<ExportRow> {
        let time = |i: usize| -> Option<NaiveDateTime> {
            let col = self.time[i];
            (!col.is_null(r))
                .then(|| chrono::DateTime::from_timestamp_micros(col.value(r)))
                .flatten()
                .map(|t| t.naive_utc())
        };
        let required = |i: usize| time(i).ok_or_else(|| StoreError::from(bad(6 + i, "a required time is NULL".into())));
        let text = |i: usize| self.text[i].value(r).to_string();
        Ok(ExportRow {
            portal_ref: text(0),
            name: text(1),
            kind: text(2),
            organizer: text(3),
            regions,
            bureau: self.int[0].value(r),
            start_at: required(0)?,
            end_at: required(1)?,
            attendance: self.int[1].value(r),
            sessions: self.int[2].value(r),
            status: text(4),
            submitted_at: required(2)?,
            decided_at: time(3),
        })
    }
}

/// The counties of the activities with ids in a range, read in one query for a whole export (one per chunk cost
/// more than the chunk's rows): `codes[offsets[id - lo]..offsets[id - lo + 1]]` are the counties of `id`, in code
/// order. Activity ids come from a sequence and are never deleted, so the range is at most the table's size and
/// the offsets take 4 bytes per activity (a binary search over the pairs missed the cache on every step).
struct Counties {
    lo: i64,
    offsets: Vec<u32>,
    codes: Vec<i64>,
}

impl Counties {
    fn load(conn: &Connection, ids: &[i64]) -> StoreResult<Self> {
        let (Some(&lo), Some(&hi)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(Self { lo: 0, offsets: vec![0], codes: Vec::new() });
        };
        let slot = |id: i64| usize::try_from(id - lo).ok();
        let span = slot(hi).ok_or(StoreError::NotFound)? + 1;
        let mut stmt = conn.prepare(
            "SELECT activity_id, CAST(region AS BIGINT) FROM activity_regions
             WHERE activity_id BETWEEN ? AND ? ORDER BY activity_id, region",
        )?;
        let mut counts = vec![0u32; span + 1];
        let mut codes = Vec::new();
        for b in batches(&mut stmt, [lo, hi])? {
            for id in column::<Int64Array>(&b, 0)?.values() {
                if let Some(c) = slot(*id).and_then(|i| counts.get_mut(i + 1)) {
                    *c += 1;
                }
            }
            codes.extend_from_slice(column::<Int64Array>(&b, 1)?.values());
        }
        // Counts to offsets (a running sum; the pairs are sorted by activity, so codes follow the same order).
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        Ok(Self { lo, offsets: counts, codes })
    }

    /// The counties of `id`, in code order.
    fn of(&self, id: i64) -> Vec<Adcode> {
        let Some(i) = usize::try_from(id - self.lo).ok().filter(|i| i + 1 < self.offsets.len()) else {
            return Vec::new();
        };
        let (from, to) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        self.codes.get(from..to).unwrap_or_default().iter().filter_map(|&c| Adcode::from_stored(c)).collect()
    }
}

/// The fetched rows of one chunk, as DuckDB's record batches (compact: a chunk's strings in a few buffers), with
/// where each id of the chunk is among them, in the chunk's order. Rows are built one at a time as they are
/// pulled, so a chunk costs its Arrow data and no more.
struct FetchedChunk {
    batches: Vec<RecordBatch>,
    order: std::vec::IntoIter<(i64, usize, usize)>,
}

impl FetchedChunk {
    fn fetch(rows: &mut duckdb::Statement<'_>, ids: &[i64]) -> StoreResult<Self> {
        let list = Value::List(ids.iter().map(|&id| Value::BigInt(id)).collect());
        let batches = batches(rows, [&list])?;
        let mut at = std::collections::HashMap::with_capacity(ids.len());
        for (b, batch) in batches.iter().enumerate() {
            for (r, id) in column::<Int64Array>(batch, 0)?.values().iter().enumerate() {
                at.insert(*id, (b, r));
            }
        }
        let order = ids
            .iter()
            .map(|id| at.get(id).map(|&(b, r)| (*id, b, r)).ok_or(StoreError::NotFound))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Self { batches, order: order.into_iter() })
    }

    /// The next row in the chunk's order.
    fn next_row(&mut self, counties: &Counties) -> Option<StoreResult<ExportRow>> {
        let (id, b, r) = self.order.next()?;
        Some(ExportColumns::of(&self.batches[b]).and_then(|c| c.row(r, counties.of(id))))
    }
}

/// Runs `consume` with the number of activities matching `f` and an iterator over them (all pages, in the list's
/// order), and returns its result. The matching ids are sorted first, alone, and the counties read in one go; the
/// wide rows are then fetched [`EXPORT_CHUNK`] at a time while `consume` pulls them, all in one snapshot — so
/// DuckDB never sorts or holds a million wide rows, and memory stays flat however many match. A database error
/// stops the rows (`consume` sees fewer than announced) and is returned after `consume`.
pub fn export<T>(
    conn: &Connection,
    f: &ActivityFilter,
    consume: impl FnOnce(usize, &mut dyn Iterator<Item = ExportRow>) -> T,
) -> StoreResult<T> {
    export_in_chunks(conn, f, EXPORT_CHUNK, consume)
}

fn export_in_chunks<T>(
    conn: &Connection,
    f: &ActivityFilter,
    chunk: usize,
    consume: impl FnOnce(usize, &mut dyn Iterator<Item = ExportRow>) -> T,
) -> StoreResult<T> {
    let (where_sql, p) = where_sql(f);
    let snapshot = Snapshot::begin(conn)?;
    let mut ids: Vec<i64> = Vec::new();
    let sql = format!(
        "SELECT a.id FROM activities a JOIN organizers o ON o.id = a.organizer_id {where_sql} ORDER BY {}",
        f.sort.sql()
    );
    for b in batches(&mut conn.prepare(&sql)?, duckdb::params_from_iter(p.iter()))? {
        ids.extend_from_slice(column::<Int64Array>(&b, 0)?.values());
    }
    let counties = Counties::load(conn, &ids)?;
    let mut rows = conn.prepare(EXPORT_ROWS)?;
    let mut failed: Option<StoreError> = None;
    let out = {
        let mut chunks = ids.chunks(chunk.max(1));
        let mut current: Option<FetchedChunk> = None;
        let mut iter = std::iter::from_fn(|| {
            loop {
                if failed.is_some() {
                    return None;
                }
                let step = match current.as_mut().and_then(|c| c.next_row(&counties)) {
                    Some(row) => row.map(Some),
                    None => FetchedChunk::fetch(&mut rows, chunks.next()?).map(|c| {
                        current = Some(c);
                        None
                    }),
                };
                match step {
                    Ok(Some(row)) => return Some(row),
                    Ok(None) => {}
                    Err(e) => failed = Some(e),
                }
            }
        });
        consume(ids.len(), &mut iter)
    };
    match failed {
        Some(e) => Err(e),
        None => {
            snapshot.end()?;
            Ok(out)
        }
    }
}

/// Held or approved within region path `?` (bound twice), over `a` activities.
const WITHIN: &str = "(starts_with((SELECT path FROM regions WHERE adcode = a.bureau), ?)
      OR EXISTS (SELECT 1 FROM activity_regions r JOIN regions g ON g.adcode = r.region
                 WHERE r.activity_id = a.id AND starts_with(g.path, ?)))";

/// The list's WHERE clause over `a` activities and `o` organizers, with its parameters: only the filters that are
/// set (a `? IS NULL OR …` clause still costs its subqueries in DuckDB, over every activity).
fn where_sql(f: &ActivityFilter) -> (String, Vec<Value>) {
    let text = |s: &str| Value::Text(s.to_string());
    let mut sql = format!("WHERE {WITHIN}");
    let mut p = vec![text(&f.scope_path), text(&f.scope_path)];
    if let Some(region) = &f.region_path {
        sql.push_str(&format!(" AND {WITHIN}"));
        p.extend([text(region), text(region)]);
    }
    if let Some(status) = f.status {
        sql.push_str(" AND a.status = ?");
        p.push(text(status.code()));
    }
    if let Some(kind) = f.kind {
        sql.push_str(" AND a.kind = ?");
        p.push(text(kind.code()));
    }
    if let Some(from) = f.from {
        sql.push_str(" AND CAST(a.start_at AS DATE) >= CAST(? AS DATE)");
        p.push(text(&from.to_string()));
    }
    if let Some(until) = f.until {
        sql.push_str(" AND CAST(a.start_at AS DATE) <= CAST(? AS DATE)");
        p.push(text(&until.to_string()));
    }
    if let Some(t) = &f.text {
        sql.push_str(" AND (contains(a.name, ?) OR contains(o.name, ?) OR contains(a.portal_ref, ?))");
        p.extend([text(t), text(t), text(t)]);
    }
    (sql, p)
}

/// One page of the list and the number of all matching activities.
pub fn list(conn: &Connection, f: &ActivityFilter) -> StoreResult<(Vec<ActivityRow>, i64)> {
    let (where_sql, p) = where_sql(f);
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM activities a JOIN organizers o ON o.id = a.organizer_id {where_sql}"),
        duckdb::params_from_iter(p.iter()),
        |r| r.get(0),
    )?;
    // The page's ids first, then the columns with correlated subqueries for those rows only: computed before the
    // LIMIT they were joins over every activity (1.0 s for the province's first page at 1,000,000 activities, 0.1 s
    // this way).
    let sql = format!(
        "WITH page AS (SELECT a.id FROM activities a JOIN organizers o ON o.id = a.organizer_id {where_sql}
                       ORDER BY {sort} LIMIT {} OFFSET {})
         {ROW_SELECT} WHERE a.id IN (SELECT id FROM page) ORDER BY {sort}",
        f.per_page,
        u64::from(f.page) * u64::from(f.per_page),
        sort = f.sort.sql(),
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(duckdb::params_from_iter(p.iter()), row_from)?.collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// The activity `id` if visible from region path `scope_path`.
///
/// Point queries (the row by its key, its regions, whether it has a survey, the visibility check) rather than
/// [`ROW_SELECT`] with [`WITHIN`]: the correlated subqueries there are planned as joins over every activity's
/// regions and surveys, 8 ms at 1,000,000 activities against about 2 ms here, on every page of one application.
pub fn get_row(conn: &Connection, id: i64, scope_path: &str) -> StoreResult<ActivityRow> {
    let visible: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM regions g WHERE starts_with(g.path, ?)
           AND (g.adcode = (SELECT bureau FROM activities WHERE id = ?)
                OR g.adcode IN (SELECT region FROM activity_regions WHERE activity_id = ?))",
        )?
        .query_row(params![scope_path, id, id], |r| r.get(0))?;
    if visible == 0 {
        return Err(StoreError::NotFound);
    }
    let mut row = conn.prepare_cached(ONE_ROW)?.query_row([id], row_from).optional()?.ok_or(StoreError::NotFound)?;
    let mut regions =
        conn.prepare_cached("SELECT region FROM activity_regions WHERE activity_id = ? ORDER BY region")?;
    row.regions =
        regions.query_map([id], |r| r.get::<_, i64>(0))?.filter_map(|c| c.ok().and_then(Adcode::from_stored)).collect();
    row.has_survey = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM surveys WHERE activity_id = ?)")?
        .query_row([id], |r| r.get(0))?;
    Ok(row)
}

/// Everything the details page shows beyond the row.
#[derive(Debug, Clone, Default)]
pub struct ActivityDetails {
    /// Sessions.
    pub sessions: i64,
    /// Contact person and mobile.
    pub contact: (String, String),
    /// Organizer's credit code.
    pub credit_code: String,
    /// Why this bureau approves.
    pub routing_reason: String,
    /// When the organizer first submitted (UTC).
    pub submitted_at: NaiveDateTime,
    /// Required material kinds of the approving region's list not yet received.
    pub missing_materials: Vec<String>,
    /// Venues: name, address, capacity, region.
    pub venues: Vec<Venue>,
    /// Materials: kind name, file.
    pub materials: Vec<(String, FileInfo)>,
    /// Assessments: agency, grade, file.
    pub assessments: Vec<(String, String, Option<FileInfo>)>,
    /// Surveys with their rectifications.
    pub surveys: Vec<Survey>,
    /// Inspections.
    pub inspections: Vec<Inspection>,
    /// Approval history.
    pub history: Vec<HistoryEntry>,
    /// Decision documents: id, kind code, number.
    pub documents: Vec<(i64, String, String)>,
}

/// A venue.
#[derive(Debug, Clone)]
pub struct Venue {
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// 核定容量
    pub capacity: i64,
    /// Region.
    pub region: Adcode,
}

/// An attachment's metadata.
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// Id.
    pub id: i64,
    /// Original name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
}

/// A survey 踏勘 with its rectification opinions.
#[derive(Debug, Clone)]
pub struct Survey {
    /// Id.
    pub id: i64,
    /// 踏勘日期
    pub date: NaiveDate,
    /// 踏勘人员
    pub surveyors: String,
    /// 踏勘报告
    pub report: String,
    /// Report file.
    pub file: Option<FileInfo>,
    /// 整改意见 and their 整改反馈: (id, opinion, feedback).
    pub rectifications: Vec<(i64, String, Option<String>)>,
}

/// An inspection 检查记录.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// 检查时间 (Beijing time).
    pub at: NaiveDateTime,
    /// 检查情况
    pub findings: String,
    /// 检查材料
    pub file: Option<FileInfo>,
}

/// One row of 审批明细.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// When (UTC).
    pub at: NaiveDateTime,
    /// Who.
    pub actor: String,
    /// Their role.
    pub role: String,
    /// Action code.
    pub action: String,
    /// From status code.
    pub from: String,
    /// To status code.
    pub to: String,
    /// Step name.
    pub step_name: String,
    /// Opinion.
    pub opinion: String,
    /// Limit in working days.
    pub limit_days: Option<i64>,
    /// Taken in working days.
    pub taken_days: Option<i64>,
}

fn file_at(r: &Row<'_>, i: usize) -> duckdb::Result<Option<FileInfo>> {
    let id: Option<i64> = r.get(i)?;
    Ok(match id {
        Some(id) => Some(FileInfo { id, name: r.get(i + 1)?, size: r.get(i + 2)? }),
        None => None,
    })
}

/// Loads the details of an activity already known to be visible.
pub fn details(conn: &Connection, id: i64) -> StoreResult<ActivityDetails> {
    let mut d = ActivityDetails::default();
    (d.sessions, d.contact, d.credit_code, d.routing_reason, d.submitted_at) = conn.query_row(
        "SELECT a.sessions, a.contact_name, a.contact_mobile, o.credit_code, a.routing_reason, a.submitted_at
         FROM activities a JOIN organizers o ON o.id = a.organizer_id WHERE a.id = ?",
        [id],
        |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?), r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    // The nearest region (the bureau or above) with its own list decides what is required.
    let mut s = conn.prepare(
        "WITH b AS (SELECT g.path FROM activities a JOIN regions g ON g.adcode = a.bureau WHERE a.id = $1),
              owner AS (SELECT k.region FROM material_kinds k JOIN regions g ON g.adcode = k.region, b
                        WHERE starts_with(b.path, g.path) ORDER BY length(g.path) DESC LIMIT 1)
         SELECT k.name FROM material_kinds k, owner
         WHERE k.region = owner.region AND k.required
           AND k.code NOT IN (SELECT kind FROM materials WHERE activity_id = $1
                              UNION ALL
                              -- the risk assessment report arrives with its assessment
                              SELECT 'risk_assessment' FROM assessments WHERE activity_id = $1 AND file_id IS NOT NULL)
         ORDER BY k.position",
    )?;
    d.missing_materials = s.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut s = conn.prepare(
        "SELECT v.name, v.address, v.capacity, v.region FROM activity_venues av JOIN venues v ON v.id = av.venue_id
         WHERE av.activity_id = ? ORDER BY v.id",
    )?;
    d.venues = s
        .query_map([id], |r| {
            Ok(Venue { name: r.get(0)?, address: r.get(1)?, capacity: r.get(2)?, region: adcode_at(r, 3)? })
        })?
        .collect::<Result<_, _>>()?;
    let mut s = conn.prepare(
        "SELECT coalesce(k.name, m.kind), f.id, f.name, f.size FROM materials m JOIN files f ON f.id = m.file_id
         LEFT JOIN (SELECT DISTINCT code, first(name) AS name FROM material_kinds GROUP BY code) k ON k.code = m.kind
         WHERE m.activity_id = ? ORDER BY m.id",
    )?;
    d.materials = s
        .query_map([id], |r| Ok((r.get(0)?, FileInfo { id: r.get(1)?, name: r.get(2)?, size: r.get(3)? })))?
        .collect::<Result<_, _>>()?;
    let mut s = conn.prepare(
        "SELECT g.name, a.risk_grade, f.id, f.name, f.size FROM assessments a JOIN agencies g ON g.id = a.agency_id
         LEFT JOIN files f ON f.id = a.file_id WHERE a.activity_id = ? ORDER BY a.id",
    )?;
    d.assessments = s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, file_at(r, 2)?)))?.collect::<Result<_, _>>()?;
    let mut s = conn.prepare(
        "SELECT s.id, s.survey_date, s.surveyors, s.report, f.id, f.name, f.size FROM surveys s
         LEFT JOIN files f ON f.id = s.file_id WHERE s.activity_id = ? ORDER BY s.survey_date, s.id",
    )?;
    d.surveys = s
        .query_map([id], |r| {
            Ok(Survey {
                id: r.get(0)?,
                date: r.get(1)?,
                surveyors: r.get(2)?,
                report: r.get(3)?,
                file: file_at(r, 4)?,
                rectifications: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut s = conn.prepare("SELECT id, opinion, feedback FROM rectifications WHERE survey_id = ? ORDER BY id")?;
    for survey in &mut d.surveys {
        survey.rectifications =
            s.query_map([survey.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    }
    let mut s = conn.prepare(
        "SELECT i.inspected_at, i.findings, f.id, f.name, f.size FROM inspections i LEFT JOIN files f ON f.id = i.file_id
         WHERE i.activity_id = ? ORDER BY i.inspected_at, i.id",
    )?;
    d.inspections = s
        .query_map([id], |r| Ok(Inspection { at: r.get(0)?, findings: r.get(1)?, file: file_at(r, 2)? }))?
        .collect::<Result<_, _>>()?;
    let mut s = conn.prepare(
        "SELECT occurred_at, actor_name, role_name, action, from_status, to_status, step_name, opinion,
                time_limit_days, taken_days
         FROM approval_history WHERE activity_id = ? ORDER BY id",
    )?;
    d.history = s
        .query_map([id], |r| {
            Ok(HistoryEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                role: r.get(2)?,
                action: r.get(3)?,
                from: r.get(4)?,
                to: r.get(5)?,
                step_name: r.get(6)?,
                opinion: r.get(7)?,
                limit_days: r.get(8)?,
                taken_days: r.get(9)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut s = conn.prepare("SELECT id, kind, number FROM documents WHERE activity_id = ? ORDER BY id")?;
    d.documents = s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    Ok(d)
}

/// A survey to record.
#[derive(Debug, Clone)]
pub struct NewSurvey {
    /// 踏勘日期
    pub date: NaiveDate,
    /// 踏勘人员
    pub surveyors: String,
    /// 踏勘报告
    pub report: String,
    /// Report file id.
    pub file_id: Option<i64>,
    /// 整改意见, one per line as entered.
    pub rectifications: Vec<String>,
}

/// Refuses records on an activity in a final state.
fn check_open(tx: &Transaction<'_>, id: i64) -> StoreResult<String> {
    let (status, name): (String, String) =
        tx.query_row("SELECT status, name FROM activities WHERE id = ?", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if Status::parse(&status).is_none_or(Status::is_final) {
        let label = Status::parse(&status).map_or("未知", Status::label);
        return Err(StoreError::Conflict(format!("该活动已是「{label}」状态，不能再添加记录")));
    }
    Ok(name)
}

/// Records a survey with its rectification opinions.
pub fn add_survey(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    s: &NewSurvey,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let name = check_open(tx, id)?;
    let survey_id: i64 = tx.query_row(
        "INSERT INTO surveys (activity_id, survey_date, surveyors, report, file_id, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        params![id, s.date, s.surveyors, s.report, s.file_id, user_id, now],
        |r| r.get(0),
    )?;
    for opinion in &s.rectifications {
        tx.execute(
            "INSERT INTO rectifications (survey_id, activity_id, opinion, created_at) VALUES (?, ?, ?, ?)",
            params![survey_id, id, opinion, now],
        )?;
    }
    let detail = format!("整改意见 {} 条", s.rectifications.len());
    append(tx, now, NewAudit { actor, action: "survey.create", object: format!("活动 #{id} {name}"), ok: true, detail })
}

/// An inspection to record.
#[derive(Debug, Clone)]
pub struct NewInspection {
    /// 检查时间 (Beijing time).
    pub at: NaiveDateTime,
    /// 检查情况
    pub findings: String,
    /// 检查材料
    pub file_id: Option<i64>,
}

/// Records an inspection.
pub fn add_inspection(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    i: &NewInspection,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<()> {
    let name = check_open(tx, id)?;
    tx.execute(
        "INSERT INTO inspections (activity_id, inspected_at, findings, file_id, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
        params![id, i.at, i.findings, i.file_id, user_id, now],
    )?;
    append(
        tx,
        now,
        NewAudit {
            actor,
            action: "inspection.create",
            object: format!("活动 #{id} {name}"),
            ok: true,
            detail: String::new(),
        },
    )
}

/// Stores the metadata of an attachment whose bytes are already on disk; returns its id.
pub fn add_file(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    sm3: &str,
    name: &str,
    mime: &str,
    size: i64,
) -> StoreResult<i64> {
    Ok(tx.query_row(
        "INSERT INTO files (sm3, name, mime, size, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        params![sm3, name, mime, size, now],
        |r| r.get(0),
    )?)
}

/// The stored name, mime type and content hash of a file attached to an activity visible from `scope_path`.
pub fn file_in_scope(conn: &Connection, file_id: i64, scope_path: &str) -> StoreResult<(String, String, String)> {
    conn.query_row(
        &format!(
            "SELECT f.name, f.mime, f.sm3 FROM files f, activities a
             WHERE f.id = ? AND {WITHIN} AND (
                 EXISTS (SELECT 1 FROM materials m WHERE m.file_id = f.id AND m.activity_id = a.id)
              OR EXISTS (SELECT 1 FROM assessments s WHERE s.file_id = f.id AND s.activity_id = a.id)
              OR EXISTS (SELECT 1 FROM surveys s WHERE s.file_id = f.id AND s.activity_id = a.id)
              OR EXISTS (SELECT 1 FROM inspections i WHERE i.file_id = f.id AND i.activity_id = a.id))
             LIMIT 1"
        ),
        params![file_id, scope_path, scope_path],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// The export, read in chunks of 7, gives the list's rows in the list's order (every sort, with and without
    /// filters), with the counties in code order.
    #[tokio::test]
    async fn the_export_follows_the_list_across_chunks() {
        let regions = crate::setup::load_regions(None).unwrap();
        let store = Store::open(None, &regions).unwrap();
        let spec = crate::demo_data::DemoSpec {
            activities: 300,
            seed: 7,
            today: NaiveDate::from_ymd_opt(2026, 3, 20).unwrap(),
        };
        let tree = regions.clone();
        store
            .write_blocking(move |tx| {
                crate::demo_data::generate(tx, &tree, crate::geo::shapes::Shapes::builtin(), &spec)
            })
            .unwrap();
        let filters = [
            ActivityFilter { scope_path: "/330000/".into(), ..Default::default() },
            ActivityFilter { scope_path: "/330000/".into(), sort: ActivitySort::Start, ..Default::default() },
            ActivityFilter {
                scope_path: "/330000/".into(),
                sort: ActivitySort::Attendance,
                region_path: Some("/330000/330100/".into()),
                ..Default::default()
            },
            ActivityFilter {
                scope_path: "/330000/330100/".into(),
                status: Some(Status::Permitted),
                ..Default::default()
            },
        ];
        for f in filters {
            let (listed, exported) = store
                .read(move |c| {
                    let all = ActivityFilter { per_page: 100_000, ..f.clone() };
                    let (rows, total) = list(c, &all)?;
                    assert_eq!(rows.len() as i64, total);
                    // Every exported column against the list's row and the table itself.
                    type Key = (String, Vec<Adcode>, String, String, String, i64, NaiveDateTime, NaiveDateTime, i64);
                    let listed: Vec<Key> = rows
                        .into_iter()
                        .map(|r| {
                            let kind = r.kind.code().to_string();
                            let bureau = i64::from(r.bureau.get());
                            (
                                r.portal_ref,
                                r.regions,
                                r.name,
                                kind,
                                r.organizer,
                                bureau,
                                r.start_at,
                                r.end_at,
                                r.attendance,
                            )
                        })
                        .collect();
                    let mut rest = c.prepare(
                        "SELECT sessions, status, submitted_at, decided_at FROM activities WHERE portal_ref = ?",
                    )?;
                    let exported = export_in_chunks(c, &f, 7, |n, rows| {
                        let got: Vec<Key> = rows
                            .map(|r| {
                                let stored: (i64, String, NaiveDateTime, Option<NaiveDateTime>) = rest
                                    .query_row([&r.portal_ref], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?)))
                                    .unwrap();
                                assert_eq!(stored, (r.sessions, r.status.clone(), r.submitted_at, r.decided_at));
                                (
                                    r.portal_ref,
                                    r.regions,
                                    r.name,
                                    r.kind,
                                    r.organizer,
                                    r.bureau,
                                    r.start_at,
                                    r.end_at,
                                    r.attendance,
                                )
                            })
                            .collect();
                        assert_eq!(got.len(), n, "as many rows as announced");
                        got
                    })?;
                    // The export's snapshot is closed, also when the consumer stops early: a new one can begin.
                    c.execute_batch("BEGIN TRANSACTION; ROLLBACK")?;
                    assert_eq!(export_in_chunks(c, &f, 7, |_, rows| rows.take(3).count())?, 3);
                    c.execute_batch("BEGIN TRANSACTION; ROLLBACK")?;
                    Ok((listed, exported))
                })
                .await
                .unwrap();
            assert!(listed.len() > 7, "more than one chunk: {}", listed.len());
            assert_eq!(exported, listed);
        }
    }
}
