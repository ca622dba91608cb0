//! Workflow actions on the intranet: each one checks who acts (type, region, role), the revision the approver
//! saw, and the state machine; then writes the new state, one history row, one audit record, the pending result
//! for the organizer and, for a decision, its document — all in the caller's transaction.

use chrono::{Datelike, NaiveDateTime, TimeDelta};
use duckdb::{OptionalExt, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::config::{calendar, flow_for};
use super::users::User;
use super::{StoreError, StoreResult};
use crate::documents::{
    DecisionDocument, DocumentKind, bureau_abbreviation, bureau_name, chinese_date, chinese_datetime, document_number,
};
use crate::domain::activity::ActivityKind;
use crate::domain::region::{Adcode, RegionLevel, RegionTree};
use crate::domain::user::UserType;
use crate::domain::workflow::{Action, Decision, Progress, Status, apply};

/// Days the police have to accept (许可法 art 32), in working days.
pub const ACCEPTANCE_DAYS: i64 = 5;
/// Working days from acceptance to decision (条例 art 14).
pub const DECISION_DAYS: i64 = 7;

struct Current {
    name: String,
    progress: Progress,
    flow_id: Option<i64>,
    bureau: Adcode,
    revision: i64,
    status_since: NaiveDateTime,
}

fn load(tx: &Transaction<'_>, id: i64) -> StoreResult<Current> {
    let row: Option<(String, String, Option<i64>, i64, Option<i64>, i64, i64, NaiveDateTime)> = tx
        .query_row(
            "SELECT name, status, step, steps, flow_id, bureau, revision, status_since FROM activities WHERE id = ?",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .optional()?;
    let Some((name, status, step, steps, flow_id, bureau, revision, status_since)) = row else {
        return Err(StoreError::NotFound);
    };
    let status = Status::parse(&status).ok_or_else(|| StoreError::Conflict(format!("未知的状态 {status}")))?;
    Ok(Current {
        name,
        progress: Progress {
            status,
            step: step.and_then(|s| u32::try_from(s).ok()),
            steps: u32::try_from(steps).unwrap_or(0),
        },
        flow_id,
        bureau: Adcode::from_stored(bureau).ok_or(StoreError::NotFound)?,
        revision,
        status_since,
    })
}

/// The current step's name, role id and role name, and time limit.
fn current_step(
    tx: &Transaction<'_>,
    flow_id: Option<i64>,
    step: Option<u32>,
) -> StoreResult<Option<(String, i64, String, i64)>> {
    let (Some(flow), Some(step)) = (flow_id, step) else { return Ok(None) };
    Ok(tx
        .query_row(
            "SELECT s.name, s.role_id, coalesce(r.name, ''), s.time_limit_days FROM flow_steps s
             LEFT JOIN approval_roles r ON r.id = s.role_id WHERE s.flow_id = ? AND s.position = ?",
            params![flow, step],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?)
}

/// Working days between two UTC instants, by Beijing calendar dates.
fn working_days(tx: &Transaction<'_>, from: NaiveDateTime, to: NaiveDateTime) -> StoreResult<i64> {
    let cal = calendar(tx)?;
    let day = |t: NaiveDateTime| (t + TimeDelta::hours(8)).date();
    Ok(cal.working_days_between(day(from), day(to)))
}

/// Performs a police action on activity `id`, which the approver saw at `revision`.
#[expect(clippy::too_many_arguments, reason = "one transaction needs all of them")]
pub fn act(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    regions: &RegionTree,
    id: i64,
    revision: i64,
    action: &Action,
    user: &User,
    actor: &Actor,
) -> StoreResult<Progress> {
    let cur = load(tx, id)?;
    if cur.revision != revision {
        return Err(StoreError::Conflict(format!(
            "该申请已被他人处理，当前状态为「{}」，请刷新后查看",
            cur.progress.status.label()
        )));
    }
    if user.user_type != UserType::Approver || user.region != cur.bureau {
        return Err(StoreError::Conflict(format!(
            "该申请由{}公安机关审批，只有该机关的审批人员可以办理",
            regions.name(cur.bureau)
        )));
    }
    let step = current_step(tx, cur.flow_id, cur.progress.step)?;
    let mut action = action.clone();
    let mut new_flow = cur.flow_id;
    match &mut action {
        Action::Step { .. } => {
            let Some((step_name, role_id, role_name, _)) = &step else {
                return Err(StoreError::Conflict("该申请当前不在审批步骤中".into()));
            };
            if user.approval_role_id != Some(*role_id) {
                return Err(StoreError::Conflict(format!("当前审批步骤「{step_name}」须由「{role_name}」办理")));
            }
        }
        Action::Accept { steps } if cur.progress.status == Status::PendingAcceptance => {
            let path = regions.path_key(cur.bureau);
            let Some((flow_id, n)) = flow_for(tx, &path)? else {
                return Err(StoreError::Conflict("本地区及上级地区均未配置审批流程，无法受理".into()));
            };
            *steps = n;
            new_flow = Some(flow_id);
        }
        Action::SubmitForAcceptance | Action::Resubmit | Action::Withdraw => {
            return Err(StoreError::Conflict("该操作只能由承办方在外网办理".into()));
        }
        _ => {}
    }
    let next = apply(cur.progress, &action).map_err(|e| StoreError::Conflict(e.to_string()))?;
    let taken = working_days(tx, cur.status_since, now)?;
    let limit = match (&action, &step) {
        (Action::Step { .. }, Some((_, _, _, limit))) => Some(*limit),
        (Action::Accept { .. } | Action::NotAccept { .. }, _) => Some(ACCEPTANCE_DAYS),
        _ => None,
    };
    let accepted = matches!(action, Action::Accept { .. });
    let final_now = next.status.is_final();
    tx.prepare_cached(
        "UPDATE activities SET status = ?, step = ?, steps = ?, flow_id = ?, status_since = ?, revision = revision + 1,
             accepted_at = CASE WHEN ? THEN ? ELSE accepted_at END,
             decided_at = CASE WHEN ? THEN ? ELSE decided_at END
         WHERE id = ?",
    )?
    .execute(params![
        next.status.code(),
        next.step,
        next.steps,
        new_flow,
        now,
        accepted,
        now,
        final_now,
        now,
        id
    ])?;
    super::places::set_status(tx, id, next.status.code())?;
    let opinion = action.opinion().unwrap_or_default().to_string();
    let (step_name, role_name) = match &step {
        Some((s, _, r, _)) if matches!(action, Action::Step { .. }) => (s.clone(), r.clone()),
        _ => (String::new(), user.approval_role_name.clone().unwrap_or_default()),
    };
    tx.prepare_cached(
        "INSERT INTO approval_history (activity_id, occurred_at, actor_id, actor_name, role_name, action, from_status,
             to_status, step, step_name, opinion, time_limit_days, taken_days)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        id,
        now,
        user.id,
        user.real_name,
        role_name,
        action.code(),
        cur.progress.status.code(),
        next.status.code(),
        cur.progress.step,
        step_name,
        opinion,
        limit,
        taken
    ])?;
    let detail = format!("{} → {}；{}", cur.progress.status.label(), next.status.label(), opinion);
    append(
        tx,
        now,
        NewAudit { actor, action: action.code(), object: format!("活动 #{id} {}", cur.name), ok: true, detail },
    )?;
    let result_kind = match &action {
        Action::PassPreReview | Action::ReturnPreReview { .. } => Some("pre_review"),
        Action::Accept { .. } | Action::NotAccept { .. } => Some("acceptance"),
        Action::Step { decision: Decision::Pass, .. } if next.status != Status::Permitted => None,
        Action::Step { .. } => Some("approval"),
        _ => None,
    };
    let document_kind = match (&action, next.status) {
        (Action::Accept { .. }, _) => Some(DocumentKind::AcceptanceNotice),
        (Action::NotAccept { .. }, _) => Some(DocumentKind::NonAcceptanceNotice),
        (_, Status::Permitted) => Some(DocumentKind::Permit),
        (_, Status::Denied) => Some(DocumentKind::Refusal),
        _ => None,
    };
    let document_id = match document_kind {
        Some(kind) => Some(issue_document(tx, now, regions, id, cur.bureau, kind, &opinion)?),
        None => None,
    };
    if let Some(kind) = result_kind {
        tx.prepare_cached(
            "INSERT INTO results (activity_id, bureau, kind, action, to_status, opinion, document_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            id,
            cur.bureau.get(),
            kind,
            action.code(),
            next.status.code(),
            opinion,
            document_id,
            now
        ])?;
    }
    Ok(next)
}

/// Creates the decision document of `kind` for activity `id`, numbered from the bureau's yearly sequence.
fn issue_document(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    regions: &RegionTree,
    id: i64,
    bureau: Adcode,
    kind: DocumentKind,
    reasons: &str,
) -> StoreResult<i64> {
    let local = now + TimeDelta::hours(8);
    let year = local.year();
    let last: Option<i64> = tx
        .query_row(
            "SELECT last FROM document_sequences WHERE bureau = ? AND year = ? AND kind = ?",
            params![bureau.get(), year, kind.code()],
            |r| r.get(0),
        )
        .optional()?;
    let seq = last.unwrap_or(0) + 1;
    if last.is_some() {
        tx.prepare_cached("UPDATE document_sequences SET last = ? WHERE bureau = ? AND year = ? AND kind = ?")?
            .execute(params![seq, bureau.get(), year, kind.code()])?;
    } else {
        tx.prepare_cached("INSERT INTO document_sequences (bureau, year, kind, last) VALUES (?, ?, ?, ?)")?
            .execute(params![bureau.get(), year, kind.code(), seq])?;
    }
    let path = regions.path(bureau);
    let province = path.first().map_or(String::new(), |r| r.name.clone());
    let city = path.iter().find(|r| r.level == RegionLevel::City).map(|r| r.name.as_str());
    let county = path.iter().find(|r| r.level == RegionLevel::County).map(|r| r.name.as_str());
    let number = document_number(
        &bureau_abbreviation(&province, city, county),
        kind,
        year,
        u32::try_from(seq).unwrap_or(u32::MAX),
    );
    let (name, kind_code, start, end, sessions, attendance, organizer, credit, contact, mobile): (
        String,
        String,
        NaiveDateTime,
        NaiveDateTime,
        i64,
        i64,
        String,
        String,
        String,
        String,
    ) = tx
        .prepare_cached(
            "SELECT a.name, a.kind, a.start_at, a.end_at, a.sessions, a.attendance, o.name, o.credit_code,
                a.contact_name, a.contact_mobile
         FROM activities a JOIN organizers o ON o.id = a.organizer_id WHERE a.id = ?",
        )?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })?;
    let mut s = tx.prepare(
        "SELECT v.name || '（' || v.address || '）' FROM activity_venues av JOIN venues v ON v.id = av.venue_id
         WHERE av.activity_id = ? ORDER BY v.id",
    )?;
    let venues = s.query_map([id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    let doc = DecisionDocument {
        kind,
        number: number.clone(),
        bureau_name: bureau_name(&province, city, county),
        organizer,
        organizer_credit_code: credit,
        contact_name: contact,
        contact_mobile: mobile,
        activity_name: name,
        activity_kind: ActivityKind::parse(&kind_code).map_or(kind_code.clone(), |k| k.label().to_string()),
        start: chinese_datetime(start),
        end: chinese_datetime(end),
        venues,
        sessions: u32::try_from(sessions).unwrap_or(0),
        attendance: u32::try_from(attendance).unwrap_or(0),
        reasons: reasons.to_string(),
        issued_on: chinese_date(local.date()),
    };
    let body = serde_json::to_string(&doc).map_err(|e| StoreError::Conflict(e.to_string()))?;
    Ok(tx
        .prepare_cached(
            "INSERT INTO documents (activity_id, kind, number, body, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )?
        .query_row(params![id, kind.code(), number, body, now], |r| r.get(0))?)
}

/// A decision document of an activity visible from `scope_path`.
pub fn document_in_scope(conn: &duckdb::Connection, doc_id: i64, scope_path: &str) -> StoreResult<DecisionDocument> {
    let body: String = conn
        .query_row(
            "SELECT d.body FROM documents d JOIN activities a ON a.id = d.activity_id
             WHERE d.id = $2 AND (starts_with((SELECT path FROM regions WHERE adcode = a.bureau), $1)
                OR EXISTS (SELECT 1 FROM activity_regions r JOIN regions g ON g.adcode = r.region
                           WHERE r.activity_id = a.id AND starts_with(g.path, $1)))",
            params![scope_path, doc_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    serde_json::from_str(&body).map_err(|e| StoreError::Conflict(format!("文书数据损坏：{e}")))
}
