//! The audit log: append-only and hash-chained. This module has the `INSERT` and the `SELECT`s, and nothing else
//! touches the table (the one `UPDATE` chains records written before the chain existed, once, in the migration to
//! schema version 4).
//!
//! **The chain.** Every record stores `prev_hash`, the `hash` of the record before it in id order ([`GENESIS`] for
//! the first), and `hash` = SM3 over [`canonical`]: the record's stored fields (id, time, actor id, login, region,
//! source, action, object, result, detail) and `prev_hash`, each tagged and length-prefixed so that no field
//! boundary can shift. The single writer thread makes "the last record" well defined at every append. Changing any
//! stored field of a record breaks its own hash; removing a record breaks the link of the one after it. [`verify`]
//! walks the whole log and names the first broken record. Ids may have gaps without any tampering (a transaction
//! that appended a record and was rolled back still consumed its sequence value), so a gap alone is no break; a gap
//! where the link also fails is reported as missing records.

use chrono::{NaiveDateTime, SubsecRound};
use duckdb::{Connection, OptionalExt, Row, Transaction, params};

use super::{StoreResult, adcode_at};
use crate::domain::region::Adcode;
use crate::exchange::sm3_hex;

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The schema version from which the log is chained.
pub const CHAIN_SINCE_VERSION: i32 = 4;

/// The stored columns a record's hash covers, in the order of [`ChainFields`].
const CHAIN_COLUMNS: &str =
    "id, occurred_at, actor_id, actor_login, actor_region, source, action, object, result, detail, prev_hash, hash";

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

/// Appends one record in the caller's transaction, chained to the last record: its `prev_hash` is that record's
/// `hash`, its own `hash` covers its fields and `prev_hash`. The time is stored (and hashed) to the microsecond.
pub fn append(tx: &Transaction<'_>, at: NaiveDateTime, rec: NewAudit<'_>) -> StoreResult<()> {
    let prev_hash = chain_head(tx)?;
    let id: i64 = tx.prepare_cached("SELECT nextval('audit_log_id')")?.query_row([], |r| r.get(0))?;
    let fields = ChainFields {
        id,
        occurred_at: at.trunc_subsecs(6),
        actor_id: rec.actor.id,
        actor_login: rec.actor.login.clone(),
        actor_region: rec.actor.region.map(|a| i64::from(a.get())),
        source: rec.actor.source.clone(),
        action: rec.action.to_string(),
        object: rec.object,
        result: if rec.ok { "ok" } else { "refused" }.to_string(),
        detail: rec.detail,
    };
    let hash = record_hash(&fields, &prev_hash);
    tx.prepare_cached(&format!("INSERT INTO audit_log ({CHAIN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))?
        .execute(params![
            fields.id,
            fields.occurred_at,
            fields.actor_id,
            fields.actor_login,
            fields.actor_region,
            fields.source,
            fields.action,
            fields.object,
            fields.result,
            fields.detail,
            prev_hash,
            hash
        ])?;
    Ok(())
}

/// The stored fields of a record that its hash covers (besides `prev_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFields {
    /// Sequence number.
    pub id: i64,
    /// When (UTC), to the microsecond.
    pub occurred_at: NaiveDateTime,
    /// The actor's user id.
    pub actor_id: Option<i64>,
    /// The actor's login name.
    pub actor_login: String,
    /// The actor's region code.
    pub actor_region: Option<i64>,
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

/// The canonical encoding of a record for its hash: a version tag, then every field in a fixed order, each as a tag
/// byte and a fixed-size or length-prefixed payload (`N` null, `I` + 8 bytes big-endian, `S` + 8-byte length +
/// UTF-8 bytes). The time is its microseconds since 1970 (UTC). No two different records encode alike.
pub fn canonical(f: &ChainFields, prev_hash: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + f.object.len() + f.detail.len());
    put_text(&mut out, "anxu-audit-v1");
    put_int(&mut out, Some(f.id));
    put_int(&mut out, Some(f.occurred_at.and_utc().timestamp_micros()));
    put_int(&mut out, f.actor_id);
    put_text(&mut out, &f.actor_login);
    put_int(&mut out, f.actor_region);
    for text in [&f.source, &f.action, &f.object, &f.result, &f.detail] {
        put_text(&mut out, text);
    }
    put_text(&mut out, prev_hash);
    out
}

fn put_int(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => out.push(b'N'),
        Some(v) => {
            out.push(b'I');
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    out.push(b'S');
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// SM3 of the record's canonical encoding, as 64 lowercase hex digits.
pub fn record_hash(f: &ChainFields, prev_hash: &str) -> String {
    sm3_hex(&canonical(f, prev_hash))
}

/// Reads the hashed fields of a row selected with `CHAIN_COLUMNS`.
fn fields_at(r: &Row<'_>) -> duckdb::Result<ChainFields> {
    Ok(ChainFields {
        id: r.get(0)?,
        occurred_at: r.get(1)?,
        actor_id: r.get(2)?,
        actor_login: r.get(3)?,
        actor_region: r.get(4)?,
        source: r.get(5)?,
        action: r.get(6)?,
        object: r.get(7)?,
        result: r.get(8)?,
        detail: r.get(9)?,
    })
}

/// The hash the next record links to: the last record's, [`GENESIS`] for an empty log. Should the last record have
/// no hash (written before the chain existed and somehow not chained by the migration), the unchained records are
/// chained first.
fn chain_head(conn: &Connection) -> duckdb::Result<String> {
    let last_sql = "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1";
    let last: Option<Option<String>> = conn.prepare_cached(last_sql)?.query_row([], |r| r.get(0)).optional()?;
    match last {
        None => Ok(GENESIS.to_string()),
        Some(Some(hash)) => Ok(hash),
        Some(None) => {
            chain_unchained(conn)?;
            conn.prepare_cached(last_sql)?.query_row([], |r| r.get(0))
        }
    }
}

/// Chains the records that have no hash yet (those written before the chain existed), in id order, each linked to
/// the record before it. Returns how many were chained. Runs in the migration to schema version 4, in its
/// transaction; this is the only code that updates audit rows.
pub fn chain_unchained(conn: &Connection) -> duckdb::Result<usize> {
    let rows = {
        let mut stmt = conn.prepare(&format!("SELECT {CHAIN_COLUMNS} FROM audit_log ORDER BY id"))?;
        let all = stmt.query_map([], |r| Ok((fields_at(r)?, r.get::<_, Option<String>>(11)?)))?;
        all.collect::<Result<Vec<_>, _>>()?
    };
    let mut update = conn.prepare("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?")?;
    let mut prev = GENESIS.to_string();
    let mut chained = 0;
    for (fields, stored) in rows {
        prev = match stored {
            Some(hash) => hash,
            None => {
                let hash = record_hash(&fields, &prev);
                update.execute(params![prev, hash, fields.id])?;
                chained += 1;
                hash
            }
        };
    }
    Ok(chained)
}

/// Why the chain breaks at a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakReason {
    /// The stored hash is not the hash of the record's stored fields: the record was changed.
    HashMismatch,
    /// The record has no hash (or no `prev_hash`).
    Unchained,
    /// The record's `prev_hash` is not the hash of the record before it (whose id is given), which was therefore
    /// changed or replaced.
    PrevLinkMismatch {
        /// The id of the record before it.
        previous: i64,
    },
    /// Records before this one are missing: its `prev_hash` does not link to the record before it, and ids jump
    /// after `after` (`None`: the record should have started the chain but does not).
    Missing {
        /// The id of the last record before the gap.
        after: Option<i64>,
    },
}

/// The first record at which the chain breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainBreak {
    /// The record's id (序号).
    pub id: i64,
    /// Why.
    pub reason: BreakReason,
}

impl ChainBreak {
    /// The Chinese description, beginning with 第 N 条记录.
    pub fn zh(&self) -> String {
        let id = self.id;
        match self.reason {
            BreakReason::HashMismatch => format!("第 {id} 条记录的内容与其哈希值不符（该记录已被修改）"),
            BreakReason::Unchained => format!("第 {id} 条记录没有哈希值（未入链或哈希已被清除）"),
            BreakReason::PrevLinkMismatch { previous } => {
                format!("第 {id} 条记录与前一条（第 {previous} 条）记录的哈希不衔接（前一条记录已被修改或替换）")
            }
            BreakReason::Missing { after: Some(after) } => {
                format!("第 {id} 条记录之前的记录缺失（第 {after} 条之后的记录已被删除）")
            }
            BreakReason::Missing { after: None } => {
                format!("第 {id} 条记录之前的记录缺失（链首的记录已被删除或替换）")
            }
        }
    }

    /// The English description.
    pub fn en(&self) -> String {
        let id = self.id;
        match self.reason {
            BreakReason::HashMismatch => format!("record {id}: its content does not match its hash (modified)"),
            BreakReason::Unchained => format!("record {id}: no hash (never chained, or the hash was removed)"),
            BreakReason::PrevLinkMismatch { previous } => {
                format!("record {id}: prev_hash does not match the hash of record {previous} (modified or replaced)")
            }
            BreakReason::Missing { after: Some(after) } => {
                format!("record {id}: records between {after} and {id} are missing (deleted)")
            }
            BreakReason::Missing { after: None } => {
                format!("record {id}: does not start the chain (earlier records deleted or replaced)")
            }
        }
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Records in the log.
    pub total: u64,
    /// Records verified intact, in id order, before the first break (all of them when the chain is intact).
    pub checked: u64,
    /// The first broken record, if any.
    pub broken: Option<ChainBreak>,
}

impl ChainReport {
    /// Whether every record verified.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }

    /// Two lines for the command line: Chinese, then English.
    pub fn summary(&self) -> String {
        match &self.broken {
            None => {
                format!("审计链完整（已校验 {n} 条）\naudit chain intact ({n} records verified)", n = self.checked)
            }
            Some(b) => format!(
                "审计链已被篡改：{zh}；此前 {checked} 条完好，共 {total} 条\n\
                 audit chain BROKEN: {en}; {checked} of {total} records verified before it",
                zh = b.zh(),
                en = b.en(),
                checked = self.checked,
                total = self.total
            ),
        }
    }
}

/// Walks the whole log in id order and checks every record's hash and its link to the record before it.
pub fn verify(conn: &Connection) -> StoreResult<ChainReport> {
    let mut stmt = conn.prepare(&format!("SELECT {CHAIN_COLUMNS} FROM audit_log ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut report = ChainReport::default();
    let mut prev: Option<(i64, String)> = None;
    while let Some(row) = rows.next()? {
        report.total += 1;
        if report.broken.is_some() {
            continue;
        }
        let fields = fields_at(row)?;
        let prev_hash: Option<String> = row.get(10)?;
        let hash: Option<String> = row.get(11)?;
        match (prev_hash, hash) {
            (Some(prev_hash), Some(hash)) => match check_link(&fields, &prev_hash, &hash, prev.as_ref()) {
                Some(reason) => report.broken = Some(ChainBreak { id: fields.id, reason }),
                None => {
                    report.checked += 1;
                    prev = Some((fields.id, hash));
                }
            },
            _ => report.broken = Some(ChainBreak { id: fields.id, reason: BreakReason::Unchained }),
        }
    }
    Ok(report)
}

/// Checks one record against its stored hash and the record before it (id and stored hash).
fn check_link(f: &ChainFields, prev_hash: &str, hash: &str, prev: Option<&(i64, String)>) -> Option<BreakReason> {
    if record_hash(f, prev_hash) != hash {
        return Some(BreakReason::HashMismatch);
    }
    let expected = prev.map_or(GENESIS, |(_, h)| h.as_str());
    if prev_hash == expected {
        return None;
    }
    Some(match prev {
        None => BreakReason::Missing { after: None },
        Some(&(previous, _)) if f.id > previous + 1 => BreakReason::Missing { after: Some(previous) },
        Some(&(previous, _)) => BreakReason::PrevLinkMismatch { previous },
    })
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
    let total: i64 = conn.prepare_cached(&format!("SELECT count(*) {where_sql}"))?.query_row(p, |r| r.get(0))?;
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

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeDelta};

    use super::*;

    fn at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_micro_opt(2, 0, 0, 123_456).unwrap()
    }

    fn fields(object: &str, detail: &str) -> ChainFields {
        ChainFields {
            id: 7,
            occurred_at: at(),
            actor_id: Some(3),
            actor_login: "hz_admin".into(),
            actor_region: Some(330100),
            source: "127.0.0.1".into(),
            action: "user.create".into(),
            object: object.into(),
            result: "ok".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn field_boundaries_cannot_shift() {
        let (a, b) = (fields("ab", "c"), fields("a", "bc"));
        assert_ne!(canonical(&a, GENESIS), canonical(&b, GENESIS));
        assert_ne!(record_hash(&a, GENESIS), record_hash(&b, GENESIS));
        let mut login = fields("x", "");
        (login.actor_login, login.source) = ("ab".into(), "c".into());
        let mut shifted = login.clone();
        (shifted.actor_login, shifted.source) = ("a".into(), "bc".into());
        assert_ne!(record_hash(&login, GENESIS), record_hash(&shifted, GENESIS));
        // Text cannot move between the last field and the previous hash.
        assert_ne!(record_hash(&fields("x", "a"), "b"), record_hash(&fields("x", ""), "ab"));
        // A null is neither zero nor absent.
        let mut none = fields("x", "");
        none.actor_id = None;
        let mut zero = none.clone();
        zero.actor_id = Some(0);
        assert_ne!(record_hash(&none, GENESIS), record_hash(&zero, GENESIS));
        // Every field counts, the time to the microsecond.
        let mut later = fields("x", "");
        later.occurred_at += TimeDelta::microseconds(1);
        assert_ne!(record_hash(&later, GENESIS), record_hash(&fields("x", ""), GENESIS));
        // Deterministic: 64 hex digits, the same for the same record.
        assert_eq!(record_hash(&a, GENESIS), record_hash(&fields("ab", "c"), GENESIS));
        assert_eq!(record_hash(&a, GENESIS).len(), 64);
    }

    fn add(conn: &mut Connection, object: &str, commit: bool) {
        let actor =
            Actor { id: Some(1), login: "admin".into(), region: Adcode::parse("330000"), source: "local".into() };
        let tx = conn.transaction().unwrap();
        let rec =
            NewAudit { actor: &actor, action: "user.create", object: object.into(), ok: true, detail: String::new() };
        append(&tx, at(), rec).unwrap();
        if commit {
            tx.commit().unwrap();
        } else {
            tx.rollback().unwrap();
        }
    }

    #[test]
    fn records_of_an_older_database_are_chained_by_the_migration() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (
                 version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)",
        )
        .unwrap();
        for (version, name, sql) in [
            (1, "foundation", include_str!("migrations/0001_foundation.sql")),
            (2, "workflow", include_str!("migrations/0002_workflow.sql")),
            (3, "portal", include_str!("migrations/0003_portal.sql")),
        ] {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", params![version, name])
                .unwrap();
        }
        for i in 0..3 {
            conn.execute(
                "INSERT INTO audit_log (occurred_at, actor_id, actor_login, actor_region, source, action, object, result, detail)
                 VALUES (?, NULL, 'admin', 330000, 'local', 'login', ?, 'ok', '')",
                params![at(), format!("record {i}")],
            )
            .unwrap();
        }
        crate::store::migrate::migrate(&mut conn).unwrap();
        let unchained: i64 =
            conn.query_row("SELECT count(*) FROM audit_log WHERE hash IS NULL", [], |r| r.get(0)).unwrap();
        assert_eq!(unchained, 0);
        assert_eq!(verify(&conn).unwrap(), ChainReport { total: 3, checked: 3, broken: None });
        add(&mut conn, "after the upgrade", true);
        assert_eq!(verify(&conn).unwrap(), ChainReport { total: 4, checked: 4, broken: None });
    }

    #[test]
    fn a_rolled_back_append_leaves_a_gap_but_no_break() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate::migrate(&mut conn).unwrap();
        add(&mut conn, "one", true);
        add(&mut conn, "rolled back", false);
        add(&mut conn, "two", true);
        let ids: Vec<i64> = {
            let mut stmt = conn.prepare("SELECT id FROM audit_log ORDER BY id").unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert!(ids.len() == 2 && ids[1] > ids[0] + 1, "{ids:?}");
        assert!(verify(&conn).unwrap().is_intact());
        // Without its first record the chain no longer starts at the genesis hash.
        conn.execute("DELETE FROM audit_log WHERE id = ?", [ids[0]]).unwrap();
        let report = verify(&conn).unwrap();
        assert_eq!(report.broken, Some(ChainBreak { id: ids[1], reason: BreakReason::Missing { after: None } }));
        assert!(report.summary().contains(&format!("审计链已被篡改：第 {} 条记录", ids[1])), "{}", report.summary());
    }
}
