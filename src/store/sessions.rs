//! Sign-in sessions and the lock-out counter. Cookie tokens are never stored, only their SHA-256.

use chrono::NaiveDateTime;
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::StoreResult;
use super::audit::{Actor, NewAudit, append};
use super::users::{USER_COLUMNS, USER_FROM, User, object, user_from_row};

/// A stored session.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the token, hex.
    pub id: String,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    /// Created (UTC).
    pub created_at: NaiveDateTime,
    /// Last request (UTC).
    pub last_seen_at: NaiveDateTime,
    /// When it ended, if it did.
    pub ended_at: Option<NaiveDateTime>,
}

/// A session with its user.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
}

/// Looks up the session with hashed id `id` and its user.
pub fn find(conn: &Connection, id: &str) -> StoreResult<Option<SessionState>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, s.id, s.csrf, s.created_at, s.last_seen_at, s.ended_at
         FROM sessions s JOIN {USER_FROM} ON u.id = s.user_id WHERE s.id = ?"
    );
    let found = conn
        .query_row(&sql, [id], |r| {
            Ok(SessionState {
                user: user_from_row(r)?,
                session: Session {
                    id: r.get(13)?,
                    csrf: r.get(14)?,
                    created_at: r.get(15)?,
                    last_seen_at: r.get(16)?,
                    ended_at: r.get(17)?,
                },
            })
        })
        .optional()?;
    Ok(found)
}

/// Records a request on the session.
pub fn touch(tx: &Transaction<'_>, now: NaiveDateTime, id: &str) -> StoreResult<()> {
    tx.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL", params![now, id])?;
    Ok(())
}

/// Ends one session, if it is still open. `reason` is `logout`, `idle`, `absolute`, ….
pub fn end(tx: &Transaction<'_>, now: NaiveDateTime, id: &str, reason: &str) -> StoreResult<()> {
    tx.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        params![now, reason, id],
    )?;
    Ok(())
}

/// Ends every open session of a user.
pub fn end_user_sessions(tx: &Transaction<'_>, now: NaiveDateTime, user_id: i64, reason: &str) -> StoreResult<()> {
    tx.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL",
        params![now, reason, user_id],
    )?;
    Ok(())
}

/// What a sign-in attempt came to, decided inside the writer's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in; the session was created.
    Success,
    /// No such user, or a wrong password.
    BadCredentials,
    /// The wrong password locked the account (or it was locked already) until this time (UTC).
    Locked(NaiveDateTime),
    /// The account is frozen.
    Frozen,
}

/// Records a sign-in attempt for `login` (with `user` when the name exists) whose password check gave
/// `password_ok`. Re-checks frozen and lock state in the transaction, counts failures, locks after the limit of the
/// security policy in force (read in the same transaction, so a change by the security administrator applies to the
/// next attempt), creates the session on success, and writes the audit record.
pub fn record_login(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    actor: &Actor,
    user_id: Option<i64>,
    password_ok: bool,
    session_id: &str,
    csrf: &str,
) -> StoreResult<LoginOutcome> {
    let state: Option<(bool, i32, Option<NaiveDateTime>, String)> = match user_id {
        Some(id) => tx
            .query_row("SELECT frozen, failed_logins, locked_until, login_name FROM users WHERE id = ?", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?,
        None => None,
    };
    let (Some(id), Some((frozen, failed, locked_until, login))) = (user_id, state) else {
        append(
            tx,
            now,
            NewAudit {
                actor, action: "login", object: actor.login.clone(), ok: false, detail: "用户不存在".into()
            },
        )?;
        return Ok(LoginOutcome::BadCredentials);
    };
    let obj = object(id, &login);
    let refuse = |detail: &str, outcome: LoginOutcome| -> StoreResult<LoginOutcome> {
        append(tx, now, NewAudit { actor, action: "login", object: obj.clone(), ok: false, detail: detail.into() })?;
        Ok(outcome)
    };
    if frozen {
        return refuse("账号已冻结", LoginOutcome::Frozen);
    }
    if let Some(until) = locked_until.filter(|u| *u > now) {
        return refuse("账号锁定中", LoginOutcome::Locked(until));
    }
    if !password_ok {
        let policy = super::policy::current(tx)?.policy;
        let failed = failed + 1;
        if failed >= policy.lockout_after {
            let until = now + policy.lockout_for;
            tx.execute("UPDATE users SET failed_logins = 0, locked_until = ? WHERE id = ?", params![until, id])?;
            return refuse(&format!("密码错误，连续 {failed} 次，账号锁定"), LoginOutcome::Locked(until));
        }
        tx.execute("UPDATE users SET failed_logins = ?, locked_until = NULL WHERE id = ?", params![failed, id])?;
        return refuse(&format!("密码错误（连续第 {failed} 次）"), LoginOutcome::BadCredentials);
    }
    tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [id])?;
    tx.execute(
        "INSERT INTO sessions (id, user_id, csrf, source, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
        params![session_id, id, csrf, actor.source, now, now],
    )?;
    append(tx, now, NewAudit { actor, action: "login", object: obj, ok: true, detail: String::new() })?;
    Ok(LoginOutcome::Success)
}

/// Ends a session on sign-out and records it.
pub fn logout(tx: &Transaction<'_>, now: NaiveDateTime, id: &str, actor: &Actor) -> StoreResult<()> {
    end(tx, now, id, "logout")?;
    append(tx, now, NewAudit { actor, action: "logout", object: actor.login.clone(), ok: true, detail: String::new() })
}
