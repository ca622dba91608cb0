//! Users: created, modified, frozen and unfrozen — never deleted. Every change writes its audit record in the
//! same transaction.

use chrono::NaiveDateTime;
use duckdb::{Connection, OptionalExt, Row, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::sessions::end_user_sessions;
use super::{StoreError, StoreResult, adcode_at};
use crate::domain::FieldErrors;
use crate::domain::region::Adcode;
use crate::domain::user::{LoginName, UserProfile, UserType};

/// A stored user (without the password hash).
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: i64,
    /// 登录用户名
    pub login_name: String,
    /// 真实名称
    pub real_name: String,
    /// 所属地区
    pub region: Adcode,
    /// 手机
    pub mobile: String,
    /// 用户类型
    pub user_type: UserType,
    /// 审批角色 id.
    pub approval_role_id: Option<i64>,
    /// 审批角色 name.
    pub approval_role_name: Option<String>,
    /// Frozen users cannot sign in.
    pub frozen: bool,
    /// Failed sign-ins since the last success or lock.
    pub failed_logins: i32,
    /// Locked until this time (UTC).
    pub locked_until: Option<NaiveDateTime>,
    /// The user must choose a new password before anything else.
    pub must_change_password: bool,
    /// Created (UTC).
    pub created_at: NaiveDateTime,
}

/// The columns `user_from_row` reads, with `u` the users table and `r` the roles table.
pub(super) const USER_COLUMNS: &str = "u.id, u.login_name, u.real_name, u.region, u.mobile, u.user_type, \
     u.approval_role_id, r.name, u.frozen, u.failed_logins, u.locked_until, u.must_change_password, u.created_at";

/// `FROM` clause matching [`USER_COLUMNS`].
pub(super) const USER_FROM: &str = "users u LEFT JOIN approval_roles r ON r.id = u.approval_role_id";

pub(super) fn user_from_row(row: &Row<'_>) -> duckdb::Result<User> {
    let type_code: String = row.get(5)?;
    Ok(User {
        id: row.get(0)?,
        login_name: row.get(1)?,
        real_name: row.get(2)?,
        region: adcode_at(row, 3)?,
        mobile: row.get(4)?,
        user_type: UserType::from_stored(&type_code).ok_or_else(|| {
            duckdb::Error::FromSqlConversionFailure(
                5,
                duckdb::types::Type::Text,
                format!("bad type {type_code}").into(),
            )
        })?,
        approval_role_id: row.get(6)?,
        approval_role_name: row.get(7)?,
        frozen: row.get(8)?,
        failed_logins: row.get(9)?,
        locked_until: row.get(10)?,
        must_change_password: row.get(11)?,
        created_at: row.get(12)?,
    })
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// 登录用户名
    pub login_name: LoginName,
    /// The rest of the profile.
    pub profile: UserProfile,
    /// argon2id hash of the initial password.
    pub password_hash: String,
    /// Whether the user must change the password at first sign-in.
    pub must_change_password: bool,
}

/// A change to a user.
#[derive(Debug, Clone)]
pub struct UserUpdate {
    /// The new profile.
    pub profile: UserProfile,
    /// A new password hash, when the administrator set one.
    pub password_hash: Option<String>,
}

/// Filters of the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Region path of the subtree to list (the administrator's region, or a narrower one within it).
    pub scope_path: String,
    /// Exact type.
    pub user_type: Option<UserType>,
    /// `Some(true)`: frozen only; `Some(false)`: active only.
    pub frozen: Option<bool>,
    /// Login or real name contains.
    pub text: Option<String>,
    /// 0-based page.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

/// One page of users.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// Users on this page, ordered by region and login name.
    pub rows: Vec<User>,
    /// All matching users.
    pub total: i64,
}

/// Number of users.
pub fn count(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
}

/// Lists users in the filter's region subtree.
pub fn list(conn: &Connection, f: &UserFilter) -> StoreResult<UserPage> {
    let where_sql = format!(
        "FROM {USER_FROM} JOIN regions g ON g.adcode = u.region
         WHERE starts_with(g.path, $1)
           AND ($2::VARCHAR IS NULL OR u.user_type = $2::VARCHAR)
           AND ($3::BOOLEAN IS NULL OR u.frozen = $3::BOOLEAN)
           AND ($4::VARCHAR IS NULL OR contains(u.login_name, lower($4::VARCHAR)) OR contains(u.real_name, $4::VARCHAR))"
    );
    let type_code = f.user_type.map(UserType::code);
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) {where_sql}"),
        params![f.scope_path, type_code, f.frozen, f.text],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT {USER_COLUMNS} {where_sql} ORDER BY g.path, u.login_name LIMIT {} OFFSET {}",
        f.per_page,
        u64::from(f.page) * u64::from(f.per_page)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![f.scope_path, type_code, f.frozen, f.text], user_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UserPage { rows, total })
}

/// The user `id` if it lies within the region path `scope_path`; `NotFound` otherwise.
pub fn get_in_scope(conn: &Connection, id: i64, scope_path: &str) -> StoreResult<User> {
    conn.query_row(
        &format!(
            "SELECT {USER_COLUMNS} FROM {USER_FROM} JOIN regions g ON g.adcode = u.region
             WHERE u.id = ? AND starts_with(g.path, ?)"
        ),
        params![id, scope_path],
        user_from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// The user `id`, wherever it is.
pub fn get(conn: &Connection, id: i64) -> StoreResult<User> {
    conn.query_row(&format!("SELECT {USER_COLUMNS} FROM {USER_FROM} WHERE u.id = ?"), [id], user_from_row)
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Checks that `role` may be held by a user of `region`: it exists, is not retired, and is owned by `region` or a
/// region above it.
fn check_role(tx: &Transaction<'_>, profile: &UserProfile) -> StoreResult<()> {
    let Some(role) = profile.approval_role else { return Ok(()) };
    let usable: bool = tx.query_row(
        "SELECT count(*) > 0 FROM approval_roles r JOIN regions g ON g.adcode = r.region
         WHERE r.id = ? AND r.deleted_at IS NULL
           AND starts_with((SELECT path FROM regions WHERE adcode = ?), g.path)",
        params![role, profile.region.get()],
        |r| r.get(0),
    )?;
    if usable {
        Ok(())
    } else {
        let mut e = FieldErrors::default();
        e.push("approval_role", "该审批角色不存在，或不适用于所选地区");
        Err(StoreError::Invalid(e))
    }
}

/// Creates a user and returns its id. A taken login name is a field error.
pub fn create(tx: &Transaction<'_>, now: NaiveDateTime, u: &NewUser, actor: &Actor) -> StoreResult<i64> {
    let taken: bool =
        tx.query_row("SELECT count(*) > 0 FROM users WHERE login_name = ?", [u.login_name.as_str()], |r| r.get(0))?;
    if taken {
        let mut e = FieldErrors::default();
        e.push("login_name", "该登录用户名已被使用");
        return Err(StoreError::Invalid(e));
    }
    check_role(tx, &u.profile)?;
    let p = &u.profile;
    let id: i64 = tx.query_row(
        "INSERT INTO users (login_name, real_name, region, mobile, user_type, approval_role_id, password_hash,
                            must_change_password, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        params![
            u.login_name.as_str(),
            p.real_name,
            p.region.get(),
            p.mobile.as_str(),
            p.user_type.code(),
            p.approval_role,
            u.password_hash,
            u.must_change_password,
            now,
            now
        ],
        |r| r.get(0),
    )?;
    let detail = format!("{} {} {}", p.real_name, p.user_type.label(), p.region);
    append(
        tx,
        now,
        NewAudit { actor, action: "user.create", object: object(id, u.login_name.as_str()), ok: true, detail },
    )?;
    Ok(id)
}

/// Modifies the user `id` within `scope_path`. A new password ends the user's sessions.
pub fn update(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    scope_path: &str,
    change: &UserUpdate,
    actor: &Actor,
) -> StoreResult<()> {
    let before = get_in_scope(tx, id, scope_path)?;
    let p = &change.profile;
    if actor.id == Some(id) && (p.user_type != before.user_type || p.region != before.region) {
        return Err(StoreError::Conflict("不能修改自己的用户类型或所属地区，请由上级管理员办理".into()));
    }
    check_role(tx, p)?;
    tx.execute(
        "UPDATE users SET real_name = ?, region = ?, mobile = ?, user_type = ?, approval_role_id = ?, updated_at = ?
         WHERE id = ?",
        params![p.real_name, p.region.get(), p.mobile.as_str(), p.user_type.code(), p.approval_role, now, id],
    )?;
    let mut detail = format!("{} {} {}", p.real_name, p.user_type.label(), p.region);
    if let Some(hash) = &change.password_hash {
        tx.execute(
            "UPDATE users SET password_hash = ?, must_change_password = true, failed_logins = 0, locked_until = NULL
             WHERE id = ?",
            params![hash, id],
        )?;
        end_user_sessions(tx, now, id, "password_reset")?;
        detail.push_str("；重置密码");
    }
    append(tx, now, NewAudit { actor, action: "user.update", object: object(id, &before.login_name), ok: true, detail })
}

/// Freezes or unfreezes the user `id` within `scope_path`. Freezing ends the user's sessions; unfreezing clears a
/// lock-out.
pub fn set_frozen(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    scope_path: &str,
    frozen: bool,
    actor: &Actor,
) -> StoreResult<()> {
    let user = get_in_scope(tx, id, scope_path)?;
    if actor.id == Some(id) {
        return Err(StoreError::Conflict("不能冻结或解冻自己的账号".into()));
    }
    if user.frozen == frozen {
        return Err(StoreError::Conflict(if frozen { "该用户已处于冻结状态" } else { "该用户未被冻结" }.into()));
    }
    tx.execute(
        "UPDATE users SET frozen = ?, failed_logins = 0, locked_until = NULL, updated_at = ? WHERE id = ?",
        params![frozen, now, id],
    )?;
    if frozen {
        end_user_sessions(tx, now, id, "frozen")?;
    }
    let action = if frozen { "user.freeze" } else { "user.unfreeze" };
    append(tx, now, NewAudit { actor, action, object: object(id, &user.login_name), ok: true, detail: String::new() })
}

/// The users within `scope_path` whose account is locked at `now` after failed sign-ins, soonest unlocked first.
pub fn list_locked(conn: &Connection, scope_path: &str, now: NaiveDateTime) -> StoreResult<Vec<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM {USER_FROM} JOIN regions g ON g.adcode = u.region
         WHERE starts_with(g.path, ?) AND u.locked_until > ? ORDER BY u.locked_until, u.login_name"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![scope_path, now], user_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Lifts the lock-out of the user `id` within `scope_path` (the security administrator's 【解锁】) and resets its
/// failure count. Refused when the account is not locked.
pub fn unlock(tx: &Transaction<'_>, now: NaiveDateTime, id: i64, scope_path: &str, actor: &Actor) -> StoreResult<()> {
    let user = get_in_scope(tx, id, scope_path)?;
    if user.locked_until.is_none_or(|t| t <= now) {
        return Err(StoreError::Conflict("该账号未被锁定，无需解锁".into()));
    }
    tx.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = ? WHERE id = ?",
        params![now, id],
    )?;
    append(
        tx,
        now,
        NewAudit {
            actor,
            action: "user.unlock",
            object: object(id, &user.login_name),
            ok: true,
            detail: String::new(),
        },
    )
}

/// Sets the user's own new password, ending all of its sessions but `keep_session`.
pub fn change_own_password(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    hash: &str,
    keep_session: Option<&str>,
    actor: &Actor,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE users SET password_hash = ?, must_change_password = false, updated_at = ? WHERE id = ?",
        params![hash, now, id],
    )?;
    tx.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = 'password_changed'
         WHERE user_id = ? AND ended_at IS NULL AND id IS DISTINCT FROM ?",
        params![now, id, keep_session],
    )?;
    append(
        tx,
        now,
        NewAudit {
            actor,
            action: "password.change",
            object: object(id, &actor.login),
            ok: true,
            detail: String::new(),
        },
    )
}

/// The password hash of `id`.
pub fn password_hash(conn: &Connection, id: i64) -> StoreResult<String> {
    conn.query_row("SELECT password_hash FROM users WHERE id = ?", [id], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// The user with `login`, with its password hash.
pub fn find_for_login(conn: &Connection, login: &str) -> StoreResult<Option<(User, String)>> {
    let found = conn
        .query_row(
            &format!("SELECT {USER_COLUMNS}, u.password_hash FROM {USER_FROM} WHERE u.login_name = ?"),
            [login],
            |r| Ok((user_from_row(r)?, r.get::<_, String>(13)?)),
        )
        .optional()?;
    Ok(found)
}

/// How users appear as audit objects.
pub(super) fn object(id: i64, login: &str) -> String {
    format!("用户 #{id} {login}")
}
