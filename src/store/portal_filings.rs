//! The portal's side of filings (备案): a government unit's own filings by its 统一社会信用代码, one filing with its
//! export state, and moving the files uploaded with a new filing onto it. Filing itself is
//! `portal::file_filing`; the files are `portal::add_file` / `portal::files`.

use chrono::NaiveDateTime;
use duckdb::{Connection, OptionalExt, Row, Transaction, params};

use super::{StoreError, StoreResult};
use crate::domain::region::Adcode;

/// The owner given to a new filing's files until the filing has its reference (same transaction).
pub const PENDING_OWNER: &str = "filing-pending";

/// A filing as its unit sees it on the portal.
#[derive(Debug, Clone)]
pub struct PortalFiling {
    /// The reference both sides use, e.g. `F-000001`.
    pub portal_ref: String,
    /// 活动名称
    pub name: String,
    /// Kind code.
    pub kind: String,
    /// 举办地 (counties).
    pub regions: Vec<Adcode>,
    /// 活动场地
    pub venue: String,
    /// Start, Beijing local time.
    pub start_at: NaiveDateTime,
    /// End, Beijing local time.
    pub end_at: NaiveDateTime,
    /// Expected attendance per session.
    pub attendance: i64,
    /// 联系人
    pub contact_name: String,
    /// 联系手机
    pub contact_mobile: String,
    /// When filed (UTC).
    pub filed_at: NaiveDateTime,
    /// Whether it has gone out in an application bundle (false while it waits in the outbox).
    pub exported: bool,
}

/// The filing's outbox record still waits for an export. The body is the compact JSON of the `FilingRecord`
/// (`serde_json::to_string`), so the reference appears as `"portal_ref":"F-000001"`.
const SELECT: &str = "SELECT f.portal_ref, f.name, f.kind, f.regions, f.venue, f.start_at, f.end_at, f.attendance,
        f.contact_name, f.contact_mobile, f.filed_at,
        NOT EXISTS (SELECT 1 FROM portal_outbox o WHERE o.record = 'filing' AND o.export_id IS NULL
                    AND contains(o.body, '\"portal_ref\":\"' || f.portal_ref || '\"'))
    FROM filings f";

fn from_row(r: &Row<'_>) -> duckdb::Result<PortalFiling> {
    let regions: String = r.get(3)?;
    Ok(PortalFiling {
        portal_ref: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        regions: regions
            .split(',')
            .filter_map(|s| s.trim().parse::<i64>().ok().and_then(Adcode::from_stored))
            .collect(),
        venue: r.get(4)?,
        start_at: r.get(5)?,
        end_at: r.get(6)?,
        attendance: r.get(7)?,
        contact_name: r.get(8)?,
        contact_mobile: r.get(9)?,
        filed_at: r.get(10)?,
        exported: r.get(11)?,
    })
}

/// The filings of the unit with `credit_code`, newest first.
pub fn filings_of(conn: &Connection, credit_code: &str) -> StoreResult<Vec<PortalFiling>> {
    let mut s = conn.prepare(&format!("{SELECT} WHERE f.credit_code = ? ORDER BY f.filed_at DESC, f.id DESC"))?;
    let rows = s.query_map([credit_code], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The filing `portal_ref` of the unit with `credit_code`; another unit's answers `NotFound`.
pub fn filing_of(conn: &Connection, credit_code: &str, portal_ref: &str) -> StoreResult<PortalFiling> {
    conn.query_row(
        &format!("{SELECT} WHERE f.credit_code = ? AND f.portal_ref = ?"),
        params![credit_code, portal_ref],
        from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Gives the files `file_ids` (added under [`PENDING_OWNER`] in this transaction) to `owner`.
pub fn set_owner(tx: &Transaction<'_>, file_ids: &[i64], owner: &str) -> StoreResult<()> {
    for id in file_ids {
        let n = tx.execute(
            "UPDATE portal_files SET owner = ? WHERE id = ? AND owner = ?",
            params![owner, id, PENDING_OWNER],
        )?;
        if n != 1 {
            return Err(StoreError::Conflict(format!("附件 {id} 无法归入 {owner}")));
        }
    }
    Ok(())
}
