//! The SMS outbox of the portal: messages wait here until the gateway accepts them; failures are retried with
//! backoff, stay visible with their error, and can be retried by hand. Nothing is ever dropped.

use chrono::{NaiveDateTime, TimeDelta};
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::{StoreError, StoreResult};

/// After this many failed attempts a message stops being retried automatically (it stays `failed`, visible, and
/// can be retried by hand).
pub const MAX_ATTEMPTS: i32 = 8;

/// The wait before attempt `n + 1` after `n` failures: 30 s, 1 min, 2 min, … up to 1 h.
pub fn backoff(attempts: i32) -> TimeDelta {
    let secs = 30_i64.saturating_mul(1_i64 << attempts.clamp(0, 7));
    TimeDelta::seconds(secs.min(3600))
}

/// One message.
#[derive(Debug, Clone)]
pub struct Sms {
    /// Id.
    pub id: i64,
    /// Recipient.
    pub mobile: String,
    /// Text.
    pub text: String,
    /// Where it came from, e.g. `result:12`.
    pub source: String,
    /// pending / sent / failed.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When the next attempt is due (UTC).
    pub next_attempt_at: NaiveDateTime,
    /// The last error.
    pub last_error: Option<String>,
    /// Queued (UTC).
    pub created_at: NaiveDateTime,
    /// Accepted by the gateway (UTC).
    pub sent_at: Option<NaiveDateTime>,
}

const SMS_SELECT: &str = "SELECT id, mobile, text, source, status, attempts, next_attempt_at, last_error, created_at, sent_at FROM sms_outbox";

fn sms_from_row(r: &duckdb::Row<'_>) -> duckdb::Result<Sms> {
    Ok(Sms {
        id: r.get(0)?,
        mobile: r.get(1)?,
        text: r.get(2)?,
        source: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        last_error: r.get(7)?,
        created_at: r.get(8)?,
        sent_at: r.get(9)?,
    })
}

/// Queues a message (once per `source`: importing the same result twice queues nothing new).
pub fn enqueue(tx: &Transaction<'_>, now: NaiveDateTime, mobile: &str, text: &str, source: &str) -> StoreResult<()> {
    let exists: bool = tx.query_row("SELECT count(*) > 0 FROM sms_outbox WHERE source = ?", [source], |r| r.get(0))?;
    if !exists {
        tx.execute(
            "INSERT INTO sms_outbox (mobile, text, source, status, next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)",
            params![mobile, text, source, now, now],
        )?;
    }
    Ok(())
}

/// Messages due for an attempt at `now`, oldest first.
pub fn due(conn: &Connection, now: NaiveDateTime, limit: i64) -> StoreResult<Vec<Sms>> {
    let mut s = conn.prepare(&format!(
        "{SMS_SELECT} WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT {}",
        limit.clamp(1, 1000)
    ))?;
    let rows = s.query_map([now], sms_from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// All messages of a status (or all), newest first.
pub fn list(conn: &Connection, status: Option<&str>) -> StoreResult<Vec<Sms>> {
    let mut s =
        conn.prepare(&format!("{SMS_SELECT} WHERE ?::VARCHAR IS NULL OR status = ? ORDER BY id DESC LIMIT 500"))?;
    let rows = s.query_map(params![status, status], sms_from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Counts by status: (pending, sent, failed).
pub fn counts(conn: &Connection) -> StoreResult<(i64, i64, i64)> {
    Ok(conn.query_row(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'sent'),
                count(*) FILTER (WHERE status = 'failed') FROM sms_outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// The gateway accepted message `id`.
pub fn mark_sent(tx: &Transaction<'_>, now: NaiveDateTime, id: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE sms_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?",
        params![now, id],
    )?;
    Ok(())
}

/// An attempt failed: retried after the backoff, or `failed` after [`MAX_ATTEMPTS`].
pub fn mark_failed(tx: &Transaction<'_>, now: NaiveDateTime, id: i64, error: &str) -> StoreResult<()> {
    let attempts: i32 = tx
        .query_row("SELECT attempts FROM sms_outbox WHERE id = ?", [id], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let attempts = attempts + 1;
    let status = if attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
    let error: String = error.chars().take(500).collect();
    tx.execute(
        "UPDATE sms_outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
        params![status, attempts, now + backoff(attempts), error, id],
    )?;
    Ok(())
}

/// Puts a failed (or waiting) message back in the queue for an attempt now.
pub fn retry(tx: &Transaction<'_>, now: NaiveDateTime, id: i64, actor: &Actor) -> StoreResult<()> {
    let n = tx.execute(
        "UPDATE sms_outbox SET status = 'pending', next_attempt_at = ? WHERE id = ? AND status <> 'sent'",
        params![now, id],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict("该短信已发送或不存在".into()));
    }
    append(
        tx,
        now,
        NewAudit { actor, action: "sms.retry", object: format!("短信 #{id}"), ok: true, detail: String::new() },
    )
}

/// The SMS gateway settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// The gateway's URL (http://host:port/path).
    pub url: String,
    /// Account.
    pub account: String,
    /// Secret.
    pub secret: String,
    /// Signature name, e.g. 【浙江公安】.
    pub signature: String,
}

/// The gateway, if configured.
pub fn gateway(conn: &Connection) -> StoreResult<Option<Gateway>> {
    Ok(conn
        .query_row("SELECT url, account, secret, signature FROM sms_gateway WHERE id = 1", [], |r| {
            Ok(Gateway { url: r.get(0)?, account: r.get(1)?, secret: r.get(2)?, signature: r.get(3)? })
        })
        .optional()?)
}

/// Saves the gateway settings.
pub fn set_gateway(tx: &Transaction<'_>, now: NaiveDateTime, g: &Gateway, actor: &Actor) -> StoreResult<()> {
    tx.execute(
        "INSERT OR REPLACE INTO sms_gateway (id, url, account, secret, signature, updated_at) VALUES (1, ?, ?, ?, ?, ?)",
        params![g.url, g.account, g.secret, g.signature, now],
    )?;
    append(
        tx,
        now,
        NewAudit { actor, action: "sms.gateway", object: "短信网关".into(), ok: true, detail: g.url.clone() },
    )
}
