//! 材料清单配置: the list of application materials (报批材料) of each region. A region uses its own list or, without
//! one, the list of its nearest ancestor that has one — the same rule as the details page's `missing_materials`
//! (`activities::details`). The province's list is the root: it is seeded at first start and can be changed but
//! never removed. Every change writes its audit record in the same transaction.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::{StoreError, StoreResult, adcode_at};
use crate::domain::FieldErrors;
use crate::domain::region::Adcode;

/// Most items a list may have.
pub const MAX_KINDS: usize = 15;
/// Longest material name, in characters.
pub const NAME_MAX: usize = 40;
/// Longest material code, in characters.
pub const CODE_MAX: usize = 40;
/// Prefix of the codes given to items added on the page.
const CUSTOM_PREFIX: &str = "custom_";

/// One item of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialKind {
    /// The code the portal names the attachment with, e.g. `security_plan`; empty for an item not saved yet
    /// ([`save`] gives it a new `custom_<n>`).
    pub code: String,
    /// 材料名称
    pub name: String,
    /// `true`: 必需; `false`: may come later (容缺后补).
    pub required: bool,
}

/// Whether `code` is a well-formed material code: 1..=[`CODE_MAX`] characters of `a-z`, `0-9` and `_`.
pub fn is_valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= CODE_MAX
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The number `n` of a code `custom_<n>`.
fn custom_number(code: &str) -> Option<i64> {
    let digits = code.strip_prefix(CUSTOM_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The list in force at region path `path` (`/330000/330100/`): the region whose list it is (itself or its nearest
/// ancestor with a list; `None` when no region on the path has one) and its items in order.
pub fn effective(conn: &Connection, path: &str) -> StoreResult<(Option<Adcode>, Vec<MaterialKind>)> {
    let mut s = conn.prepare(
        "WITH owner AS (SELECT k.region FROM material_kinds k JOIN regions g ON g.adcode = k.region
                        WHERE starts_with($1, g.path) ORDER BY length(g.path) DESC LIMIT 1)
         SELECT k.region, k.code, k.name, k.required FROM material_kinds k, owner
         WHERE k.region = owner.region
         ORDER BY k.position",
    )?;
    let rows = s
        .query_map([path], |r| {
            Ok((adcode_at(r, 0)?, MaterialKind { code: r.get(1)?, name: r.get(2)?, required: r.get::<_, bool>(3)? }))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let owner = rows.first().map(|(region, _)| *region);
    Ok((owner, rows.into_iter().map(|(_, k)| k).collect()))
}

/// Checks a list before it is written (the page checks the same, with messages per row).
fn check(kinds: &[MaterialKind]) -> FieldErrors {
    let mut e = FieldErrors::default();
    if kinds.is_empty() {
        e.push("kinds", "报批材料清单至少需要一项");
    }
    if kinds.len() > MAX_KINDS {
        e.push("kinds", format!("报批材料清单最多 {MAX_KINDS} 项"));
    }
    let (mut names, mut codes) = (HashSet::new(), HashSet::new());
    for (i, k) in kinds.iter().enumerate() {
        let n = k.name.chars().count();
        if k.name.trim() != k.name || n == 0 || n > NAME_MAX || k.name.chars().any(char::is_control) {
            e.push("kinds", format!("第 {} 项的材料名称应为 1 到 {NAME_MAX} 个字符", i + 1));
        }
        if !names.insert(k.name.as_str()) {
            e.push("kinds", format!("材料名称“{}”重复", k.name));
        }
        if !k.code.is_empty() {
            if !is_valid_code(&k.code) {
                e.push("kinds", format!("第 {} 项的材料代码无效", i + 1));
            } else if !codes.insert(k.code.as_str()) {
                e.push("kinds", format!("材料代码 {} 重复", k.code));
            }
        }
    }
    e
}

/// Replaces the own list of `region` by `kinds`, in that order. An item with an empty code is new: it gets a code
/// `custom_<n>` with `n` above every such code in any list or received material, so that a code never comes to
/// mean another item. Refused (`Invalid`, field `kinds`) when the list is empty, too long, or has an invalid or
/// repeated name or code.
pub fn save(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    region: Adcode,
    kinds: &[MaterialKind],
    actor: &Actor,
) -> StoreResult<()> {
    let errors = check(kinds);
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let region_name: String = tx
        .query_row("SELECT name FROM regions WHERE adcode = ?", [region.get()], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let stored: i64 = tx.query_row(
        "SELECT coalesce(max(TRY_CAST(substr(code, 8) AS BIGINT)), 0) FROM
           (SELECT code FROM material_kinds UNION ALL SELECT kind AS code FROM materials)
         WHERE starts_with(code, 'custom_')",
        [],
        |r| r.get(0),
    )?;
    let listed = kinds.iter().filter_map(|k| custom_number(&k.code)).max().unwrap_or(0);
    let mut last = stored.max(listed).max(0);
    let mut items = Vec::with_capacity(kinds.len());
    for k in kinds {
        let code = if k.code.is_empty() {
            last = last.checked_add(1).ok_or_else(|| StoreError::Conflict("无法生成新的材料代码".into()))?;
            format!("{CUSTOM_PREFIX}{last}")
        } else {
            k.code.clone()
        };
        items.push(MaterialKind { code, name: k.name.clone(), required: k.required });
    }
    tx.execute("DELETE FROM material_kinds WHERE region = ?", [region.get()])?;
    for (i, k) in items.iter().enumerate() {
        tx.execute(
            "INSERT INTO material_kinds (region, code, name, required, position) VALUES (?, ?, ?, ?, ?)",
            params![region.get(), k.code, k.name, k.required, i as i64],
        )?;
    }
    let detail = items
        .iter()
        .map(|k| format!("{}（{}）", k.name, if k.required { "必需" } else { "容缺后补" }))
        .collect::<Vec<_>>()
        .join("、");
    append(
        tx,
        now,
        NewAudit {
            actor,
            action: "materials.save",
            object: format!("报批材料清单（{region_name}）"),
            ok: true,
            detail,
        },
    )
}

/// Removes the own list of `region`, which then uses its nearest ancestor's list again. Refused (`Conflict`) for the
/// province, whose list is the root, and for a region without a list of its own.
pub fn reset(tx: &Transaction<'_>, now: NaiveDateTime, region: Adcode, actor: &Actor) -> StoreResult<()> {
    let (region_name, parent): (String, Option<i64>) = tx
        .query_row("SELECT name, parent FROM regions WHERE adcode = ?", [region.get()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    if parent.is_none() {
        return Err(StoreError::Conflict(
            "省级报批材料清单是全省的基础清单，不能删除；如需调整，请直接修改清单。".into(),
        ));
    }
    let n = tx.execute("DELETE FROM material_kinds WHERE region = ?", [region.get()])?;
    if n == 0 {
        return Err(StoreError::Conflict("本地区没有单独配置报批材料清单，已在沿用上级的清单。".into()));
    }
    append(
        tx,
        now,
        NewAudit {
            actor,
            action: "materials.reset",
            object: format!("报批材料清单（{region_name}）"),
            ok: true,
            detail: format!("删除本地区清单 {n} 项，恢复使用上级清单"),
        },
    )
}
