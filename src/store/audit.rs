//! The audit log: append-only. This module has an `INSERT` and `SELECT`s, and nothing else touches the table.

use chrono::NaiveDateTime;
use duckdb::{Connection, Transaction, params};

use super::{StoreResult, adcode_at};
use crate::domain::region::Adcode;

/// Who did something, from where.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's id; `None` for an unknown or anonymous caller.
    pub id: Option<i64>,
    /// The login name as given.
    pub login: String,
    /// The user's region.
    pub region: Option<Adcode>,
    /// The source address.
    pub source: String,
}

/// A record to append.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    /// Who.
    pub actor: &'a Actor,
    /// What kind of action, e.g. `user.create` (see the web layer's labels).
    pub action: &'static str,
    /// The object acted on, e.g. `user:12 zhangsan`.
    pub object: String,
    /// Whether it went through.
    pub ok: bool,
    /// Further detail, e.g. the refusal reason.
    pub detail: String,
}

/// Appends one record in the caller's transaction.
pub fn append(tx: &Transaction<'_>, at: NaiveDateTime, rec: NewAudit<'_>) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO audit_log (occurred_at, actor_id, actor_login, actor_region, source, action, object, result, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            at,
            rec.actor.id,
            rec.actor.login,
            rec.actor.region.map(Adcode::get),
            rec.actor.source,
            rec.action,
            rec.object,
            if rec.ok { "ok" } else { "refused" },
            rec.detail
        ],
    )?;
    Ok(())
}

/// One stored record.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// When (UTC).
    pub at: NaiveDateTime,
    /// Login name of the actor.
    pub actor_login: String,
    /// Region of the actor.
    pub actor_region: Option<Adcode>,
    /// Source address.
    pub source: String,
    /// Action code.
    pub action: String,
    /// Object.
    pub object: String,
    /// `ok` or `refused`.
    pub result: String,
    /// Detail.
    pub detail: String,
}

/// Filters of the audit page.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Region path of the reader: records of actors in this region and below (and, for the province, those of
    /// unknown callers).
    pub scope_path: String,
    /// Whether the reader is at the province (sees records without a region).
    pub province: bool,
    /// From this time (UTC), inclusive.
    pub from: Option<NaiveDateTime>,
    /// Before this time (UTC), exclusive.
    pub until: Option<NaiveDateTime>,
    /// Login name contains.
    pub actor: Option<String>,
    /// Exact action code.
    pub action: Option<String>,
    /// `ok` or `refused`.
    pub result: Option<String>,
    /// 0-based page.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

/// One page of records, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// The records.
    pub rows: Vec<AuditRecord>,
    /// All matching records.
    pub total: i64,
}

/// Lists records matching `f`.
pub fn list(conn: &Connection, f: &AuditFilter) -> StoreResult<AuditPage> {
    let where_sql = "FROM audit_log a LEFT JOIN regions g ON g.adcode = a.actor_region
        WHERE (starts_with(g.path, $1) OR ($2 AND a.actor_region IS NULL))
          AND ($3::TIMESTAMP IS NULL OR a.occurred_at >= $3::TIMESTAMP)
          AND ($4::TIMESTAMP IS NULL OR a.occurred_at < $4::TIMESTAMP)
          AND ($5::VARCHAR IS NULL OR contains(a.actor_login, $5::VARCHAR))
          AND ($6::VARCHAR IS NULL OR a.action = $6::VARCHAR)
          AND ($7::VARCHAR IS NULL OR a.result = $7::VARCHAR)";
    let p = params![f.scope_path, f.province, f.from, f.until, f.actor, f.action, f.result];
    let total: i64 = conn.query_row(&format!("SELECT count(*) {where_sql}"), p, |r| r.get(0))?;
    let sql = format!(
        "SELECT a.id, a.occurred_at, a.actor_login, a.actor_region, a.source, a.action, a.object, a.result, a.detail {where_sql}
         ORDER BY a.id DESC LIMIT {} OFFSET {}",
        f.per_page,
        u64::from(f.page) * u64::from(f.per_page)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![f.scope_path, f.province, f.from, f.until, f.actor, f.action, f.result], |r| {
            Ok(AuditRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                actor_login: r.get(2)?,
                actor_region: match r.get::<_, Option<i64>>(3)? {
                    Some(_) => Some(adcode_at(r, 3)?),
                    None => None,
                },
                source: r.get(4)?,
                action: r.get(5)?,
                object: r.get(6)?,
                result: r.get(7)?,
                detail: r.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditPage { rows, total })
}
