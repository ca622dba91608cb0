//! The security policy in force and its versions. A save by the security administrator adds a version, with its audit
//! record in the same transaction; sign-in reads the newest version inside its own transaction, and the web layer
//! keeps a copy in a [`PolicyCache`] for the session checks of every request, refreshed by every save.

use std::sync::{Arc, RwLock};

use chrono::NaiveDateTime;
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::StoreResult;
use super::audit::{Actor, NewAudit, append};
use crate::domain::security::SecurityPolicy;

/// A version of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyVersion {
    /// The version's id; 0 for the built-in default (nothing saved yet).
    pub id: i64,
    /// The rules.
    pub policy: SecurityPolicy,
    /// Who saved it (login) and when (UTC); `None` for the built-in default.
    pub saved: Option<(String, NaiveDateTime)>,
}

/// The newest version, or the built-in default when none was saved.
pub fn current(conn: &Connection) -> StoreResult<PolicyVersion> {
    let found = conn
        .query_row(
            "SELECT id, password_min_len, password_classes, lockout_after, lockout_minutes, session_idle_minutes,
                    session_absolute_hours, created_by_login, created_at
             FROM security_policy ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                let values = [r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?];
                Ok(PolicyVersion {
                    id: r.get(0)?,
                    policy: SecurityPolicy::from_stored(values),
                    saved: Some((r.get(7)?, r.get(8)?)),
                })
            },
        )
        .optional()?;
    Ok(found.unwrap_or_default())
}

/// Puts `policy` in force as a new version saved by user `user_id`, and appends `security.policy` naming each
/// changed value. Returns the new version, or `None` (and writes nothing) when `policy` is already in force.
pub fn save(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    policy: &SecurityPolicy,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<Option<PolicyVersion>> {
    let before = current(tx)?;
    let changes = before.policy.changes_to(policy);
    if changes.is_empty() {
        return Ok(None);
    }
    let [min_len, classes, lockout_after, lockout_minutes, idle_minutes, absolute_hours] = policy.values();
    let id: i64 = tx.query_row(
        "INSERT INTO security_policy (password_min_len, password_classes, lockout_after, lockout_minutes,
                                      session_idle_minutes, session_absolute_hours, created_by, created_by_login,
                                      created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        params![
            min_len,
            classes,
            lockout_after,
            lockout_minutes,
            idle_minutes,
            absolute_hours,
            user_id,
            actor.login,
            now
        ],
        |r| r.get(0),
    )?;
    append(
        tx,
        now,
        NewAudit {
            actor, action: "security.policy", object: "安全策略".into(), ok: true, detail: changes.join("；")
        },
    )?;
    Ok(Some(PolicyVersion { id, policy: policy.clone(), saved: Some((actor.login.clone(), now)) }))
}

/// The policy in force, shared by the request handlers (cheap to clone). Saves offer their new version; a version
/// replaces the held one only if it is newer, so that two saves finishing out of order leave the newest in force.
#[derive(Debug, Clone, Default)]
pub struct PolicyCache(Arc<RwLock<PolicyVersion>>);

impl PolicyCache {
    /// A cache holding `version`.
    pub fn new(version: PolicyVersion) -> Self {
        Self(Arc::new(RwLock::new(version)))
    }

    /// The rules in force.
    pub fn get(&self) -> SecurityPolicy {
        match self.0.read() {
            Ok(held) => held.policy.clone(),
            Err(poisoned) => poisoned.into_inner().policy.clone(),
        }
    }

    /// Holds `version` if it is newer than the one held.
    pub fn offer(&self, version: PolicyVersion) {
        let mut held = match self.0.write() {
            Ok(held) => held,
            Err(poisoned) => poisoned.into_inner(),
        };
        if version.id > held.id {
            *held = version;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_newest_version() {
        let cache = PolicyCache::default();
        assert_eq!(cache.get(), SecurityPolicy::default());
        let strict = SecurityPolicy { lockout_after: 3, ..SecurityPolicy::default() };
        let stricter = SecurityPolicy { password_min_len: 12, ..strict.clone() };
        cache.offer(PolicyVersion { id: 2, policy: stricter.clone(), saved: None });
        cache.offer(PolicyVersion { id: 1, policy: strict, saved: None });
        assert_eq!(cache.get(), stricter);
    }
}
