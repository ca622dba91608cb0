//! Approval roles. A role is owned by a region and usable there and below; it is retired, not removed, and
//! retiring is refused while a user (and, with the workflow, a flow step) holds it.

use chrono::NaiveDateTime;
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::{StoreError, StoreResult, adcode_at};
use crate::domain::FieldErrors;
use crate::domain::region::Adcode;
use crate::domain::role::RoleInput;

/// A stored role.
#[derive(Debug, Clone)]
pub struct Role {
    /// Id.
    pub id: i64,
    /// 角色名称
    pub name: String,
    /// 说明
    pub description: String,
    /// The owning region.
    pub region: Adcode,
    /// Number of users holding it.
    pub users: i64,
}

/// Who holds a role, named in a refusal.
#[derive(Debug, Clone)]
pub struct RoleUse {
    /// Real name and login name of each holder.
    pub holders: Vec<String>,
}

const ROLE_SELECT: &str = "SELECT r.id, r.name, r.description, r.region,
        (SELECT count(*) FROM users u WHERE u.approval_role_id = r.id)
    FROM approval_roles r JOIN regions g ON g.adcode = r.region";

fn role_from_row(r: &duckdb::Row<'_>) -> duckdb::Result<Role> {
    Ok(Role { id: r.get(0)?, name: r.get(1)?, description: r.get(2)?, region: adcode_at(r, 3)?, users: r.get(4)? })
}

/// Active roles an administrator at region path `path` sees: those owned above it (usable, read-only) and those
/// owned at or below it (editable).
pub fn list_visible(conn: &Connection, path: &str) -> StoreResult<Vec<Role>> {
    let mut stmt = conn.prepare(&format!(
        "{ROLE_SELECT} WHERE r.deleted_at IS NULL AND (starts_with(g.path, $1) OR starts_with($1, g.path))
         ORDER BY length(g.path), r.name"
    ))?;
    let rows = stmt.query_map([path], role_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Active roles a user of the region with path `path` may hold: those owned by the region or above.
pub fn list_usable(conn: &Connection, path: &str) -> StoreResult<Vec<Role>> {
    let mut stmt = conn.prepare(&format!(
        "{ROLE_SELECT} WHERE r.deleted_at IS NULL AND starts_with($1, g.path) ORDER BY length(g.path), r.name"
    ))?;
    let rows = stmt.query_map([path], role_from_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The active role `id` owned within `scope_path` (i.e. editable by an administrator there).
pub fn get_editable(conn: &Connection, id: i64, scope_path: &str) -> StoreResult<Role> {
    conn.query_row(
        &format!("{ROLE_SELECT} WHERE r.id = ? AND r.deleted_at IS NULL AND starts_with(g.path, ?)"),
        params![id, scope_path],
        role_from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn check_name_free(tx: &Transaction<'_>, name: &str, except: Option<i64>) -> StoreResult<()> {
    let taken: bool = tx.query_row(
        "SELECT count(*) > 0 FROM approval_roles WHERE name = ? AND deleted_at IS NULL AND id IS DISTINCT FROM ?",
        params![name, except],
        |r| r.get(0),
    )?;
    if taken {
        let mut e = FieldErrors::default();
        e.push("name", "已有同名的审批角色");
        return Err(StoreError::Invalid(e));
    }
    Ok(())
}

fn object(id: i64, name: &str) -> String {
    format!("审批角色 #{id} {name}")
}

/// Creates a role owned by `region`.
pub fn create(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    region: Adcode,
    input: &RoleInput,
    actor: &Actor,
) -> StoreResult<i64> {
    check_name_free(tx, &input.name, None)?;
    let id: i64 = tx.query_row(
        "INSERT INTO approval_roles (name, description, region, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         RETURNING id",
        params![input.name, input.description, region.get(), now, now],
        |r| r.get(0),
    )?;
    append(
        tx,
        now,
        NewAudit {
            actor,
            action: "role.create",
            object: object(id, &input.name),
            ok: true,
            detail: input.description.clone(),
        },
    )?;
    Ok(id)
}

/// Modifies the role `id` owned within `scope_path`.
pub fn update(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    scope_path: &str,
    input: &RoleInput,
    actor: &Actor,
) -> StoreResult<()> {
    let before = get_editable(tx, id, scope_path)?;
    check_name_free(tx, &input.name, Some(id))?;
    tx.execute(
        "UPDATE approval_roles SET name = ?, description = ?, updated_at = ? WHERE id = ?",
        params![input.name, input.description, now, id],
    )?;
    let detail = format!("原名称：{}", before.name);
    append(tx, now, NewAudit { actor, action: "role.update", object: object(id, &input.name), ok: true, detail })
}

/// Who holds the role `id`.
pub fn holders(conn: &Connection, id: i64) -> StoreResult<RoleUse> {
    let mut stmt = conn.prepare(
        "SELECT real_name || '（' || login_name || '）' FROM users WHERE approval_role_id = ? ORDER BY login_name",
    )?;
    let holders = stmt.query_map([id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(RoleUse { holders })
}

/// Retires the role `id` owned within `scope_path`; refused, naming the holders, while anyone holds it.
pub fn delete(tx: &Transaction<'_>, now: NaiveDateTime, id: i64, scope_path: &str, actor: &Actor) -> StoreResult<()> {
    let role = get_editable(tx, id, scope_path)?;
    let mut used = holders(tx, id)?;
    used.holders.extend(super::config::flows_using_role(tx, id)?.into_iter().map(|f| format!("审批流程 {f}")));
    if !used.holders.is_empty() {
        return Err(StoreError::Conflict(format!(
            "该角色正被以下用户或流程使用，不能删除：{}",
            used.holders.join("、")
        )));
    }
    tx.execute("UPDATE approval_roles SET deleted_at = ? WHERE id = ?", params![now, id])?;
    append(
        tx,
        now,
        NewAudit { actor, action: "role.delete", object: object(id, &role.name), ok: true, detail: String::new() },
    )
}
