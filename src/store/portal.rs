//! The portal's store: units (organizers and government units) with their accounts, applications from draft to
//! submission, their files, rectification feedback, filings, notifications, the application-bundle export and the
//! result-bundle import that notifies organizers and queues their SMS.

use chrono::NaiveDateTime;
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::exchange::{ImportOutcome, import_channel};
use super::users::{self, NewUser};
use super::{StoreError, StoreResult};
use crate::domain::FieldErrors;
use crate::domain::activity::CreditCode;
use crate::domain::region::Adcode;
use crate::domain::user::{Mobile, UserProfile, UserType};
use crate::domain::workflow::{self, Action, Progress, Status};
use crate::exchange::records::{
    ApplicationEvent, ApplicationRecord, ApplicationRecords, AttachmentRecord, FeedbackRecord, FilingRecord,
    PortalEvent, RECORDS_FILE, ResultRecords, application_bundle,
};
use crate::exchange::{Channel, KeyPair, VerifiedBundle};
use crate::files::{CheckedFile, FileStore};

/// The status of an application not yet submitted.
pub const DRAFT: &str = "draft";

/// A portal unit: 承办方 or 政府单位, with the account that signs in for it.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The account (users.id).
    pub user_id: i64,
    /// Organizer or government unit.
    pub kind: UserType,
    /// 统一社会信用代码
    pub credit_code: String,
    /// Unit name.
    pub unit_name: String,
    /// Contact person.
    pub contact_name: String,
    /// Contact mobile.
    pub contact_mobile: String,
}

/// A registration, parsed.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Organizer or government unit.
    pub kind: UserType,
    /// The login name.
    pub login: crate::domain::user::LoginName,
    /// argon2id hash of the password.
    pub password_hash: String,
    /// 统一社会信用代码
    pub credit_code: CreditCode,
    /// Unit name.
    pub unit_name: String,
    /// Contact person.
    pub contact_name: String,
    /// Contact mobile.
    pub contact_mobile: Mobile,
}

/// Registers a unit and its account; a taken login or credit code is a field error.
pub fn register(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    province: Adcode,
    r: &Registration,
    actor: &Actor,
) -> StoreResult<i64> {
    let taken: bool =
        tx.query_row("SELECT count(*) > 0 FROM portal_units WHERE credit_code = ?", [r.credit_code.as_str()], |x| {
            x.get(0)
        })?;
    if taken {
        let mut e = FieldErrors::default();
        e.push("credit_code", "该统一社会信用代码已注册");
        return Err(StoreError::Invalid(e));
    }
    let new = NewUser {
        login_name: r.login.clone(),
        profile: UserProfile {
            real_name: r.contact_name.clone(),
            region: province,
            mobile: r.contact_mobile.clone(),
            user_type: r.kind,
            approval_role: None,
        },
        password_hash: r.password_hash.clone(),
        must_change_password: false,
    };
    let id = users::create(tx, now, &new, actor)?;
    tx.execute(
        "INSERT INTO portal_units (user_id, kind, credit_code, unit_name, contact_name, contact_mobile, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![id, r.kind.code(), r.credit_code.as_str(), r.unit_name, r.contact_name, r.contact_mobile.as_str(), now],
    )?;
    Ok(id)
}

/// The unit of account `user_id`.
pub fn unit(conn: &Connection, user_id: i64) -> StoreResult<Unit> {
    conn.query_row(
        "SELECT user_id, kind, credit_code, unit_name, contact_name, contact_mobile FROM portal_units WHERE user_id = ?",
        [user_id],
        |r| {
            let kind: String = r.get(1)?;
            Ok(Unit {
                user_id: r.get(0)?,
                kind: UserType::from_stored(&kind).unwrap_or(UserType::Organizer),
                credit_code: r.get(2)?,
                unit_name: r.get(3)?,
                contact_name: r.get(4)?,
                contact_mobile: r.get(5)?,
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// An application on the portal.
#[derive(Debug, Clone)]
pub struct PortalApplication {
    /// Internal id.
    pub id: i64,
    /// The reference both sides use.
    pub portal_ref: String,
    /// `draft` or a workflow status code.
    pub status: String,
    /// The content.
    pub data: ApplicationRecord,
    /// Last change (UTC).
    pub updated_at: NaiveDateTime,
}

/// A file uploaded for an application or filing.
#[derive(Debug, Clone)]
pub struct PortalFile {
    /// Id.
    pub id: i64,
    /// Material kind code.
    pub kind: String,
    /// Original name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// SM3, the stored name.
    pub sm3: String,
    /// MIME type.
    pub mime: String,
}

fn app_from_row(r: &duckdb::Row<'_>) -> duckdb::Result<PortalApplication> {
    let data: String = r.get(3)?;
    Ok(PortalApplication {
        id: r.get(0)?,
        portal_ref: r.get(1)?,
        status: r.get(2)?,
        data: serde_json::from_str(&data)
            .map_err(|e| duckdb::Error::FromSqlConversionFailure(3, duckdb::types::Type::Text, Box::new(e)))?,
        updated_at: r.get(4)?,
    })
}

/// The applications of account `user_id`, newest first.
pub fn applications(conn: &Connection, user_id: i64) -> StoreResult<Vec<PortalApplication>> {
    let mut s = conn.prepare(
        "SELECT id, portal_ref, status, data, updated_at FROM portal_applications WHERE user_id = ? ORDER BY id DESC",
    )?;
    let rows = s.query_map([user_id], app_from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The application `portal_ref` of account `user_id` (another account's answers `NotFound`).
pub fn application(conn: &Connection, user_id: i64, portal_ref: &str) -> StoreResult<PortalApplication> {
    conn.query_row(
        "SELECT id, portal_ref, status, data, updated_at FROM portal_applications WHERE user_id = ? AND portal_ref = ?",
        params![user_id, portal_ref],
        app_from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// The files of an application or filing.
pub fn files(conn: &Connection, owner: &str) -> StoreResult<Vec<PortalFile>> {
    let mut s = conn.prepare("SELECT id, kind, name, size, sm3, mime FROM portal_files WHERE owner = ? ORDER BY id")?;
    let rows = s
        .query_map([owner], |r| {
            Ok(PortalFile {
                id: r.get(0)?,
                kind: r.get(1)?,
                name: r.get(2)?,
                size: r.get(3)?,
                sm3: r.get(4)?,
                mime: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A file of one of account `user_id`'s applications or filings.
pub fn file_of_user(conn: &Connection, user_id: i64, file_id: i64) -> StoreResult<PortalFile> {
    conn.query_row(
        "SELECT f.id, f.kind, f.name, f.size, f.sm3, f.mime FROM portal_files f
         WHERE f.id = ? AND (f.owner IN (SELECT portal_ref FROM portal_applications WHERE user_id = ?)
                          OR f.owner IN (SELECT portal_ref FROM filings WHERE credit_code =
                                         (SELECT credit_code FROM portal_units WHERE user_id = ?)))",
        params![file_id, user_id, user_id],
        |r| {
            Ok(PortalFile {
                id: r.get(0)?,
                kind: r.get(1)?,
                name: r.get(2)?,
                size: r.get(3)?,
                sm3: r.get(4)?,
                mime: r.get(5)?,
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn next_ref(tx: &Transaction<'_>, prefix: &str, table: &str) -> StoreResult<String> {
    let n: i64 = tx.query_row(&format!("SELECT count(*) + 1 FROM {table}"), [], |r| r.get(0))?;
    Ok(format!("{prefix}-{n:06}"))
}

/// Saves a new draft and returns its reference.
pub fn create_draft(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    user_id: i64,
    data: &ApplicationRecord,
) -> StoreResult<String> {
    let portal_ref = next_ref(tx, "P", "portal_applications")?;
    let json = serde_json::to_string(data).map_err(|e| StoreError::Conflict(e.to_string()))?;
    tx.execute(
        "INSERT INTO portal_applications (portal_ref, user_id, status, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        params![portal_ref, user_id, DRAFT, json, now, now],
    )?;
    Ok(portal_ref)
}

/// Whether the organizer may change the application's content now.
pub fn editable(status: &str) -> bool {
    matches!(status, DRAFT | "pre_review_returned" | "approval_returned" | "pre_review_passed")
}

/// Changes an application's content (drafts, and returned or pre-reviewed applications before resubmission).
pub fn update_draft(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    user_id: i64,
    portal_ref: &str,
    data: &ApplicationRecord,
) -> StoreResult<()> {
    let app = application(tx, user_id, portal_ref)?;
    if !editable(&app.status) {
        return Err(StoreError::Conflict("申请已提交，当前状态下不能修改".into()));
    }
    let json = serde_json::to_string(data).map_err(|e| StoreError::Conflict(e.to_string()))?;
    tx.execute("UPDATE portal_applications SET data = ?, updated_at = ? WHERE id = ?", params![json, now, app.id])?;
    Ok(())
}

/// Records an uploaded file (bytes already on disk) for an application of `user_id` or a filing draft.
pub fn add_file(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    owner: &str,
    kind: &str,
    f: &CheckedFile,
) -> StoreResult<i64> {
    Ok(tx.query_row(
        "INSERT INTO portal_files (owner, kind, sm3, name, mime, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        params![owner, kind, f.sm3, f.name, f.mime, f.size as i64, now],
        |r| r.get(0),
    )?)
}

/// The bundle file name of an uploaded file.
fn bundle_name(f: &PortalFile) -> String {
    let ext = f.name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_else(|| "bin".into());
    format!("f{}.{ext}", f.id)
}

/// Submits, submits for approval, resubmits or withdraws an application, per the state machine; the event with
/// the current content and files goes into the outbox for the next application bundle.
pub fn submit(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    user_id: i64,
    portal_ref: &str,
    event: PortalEvent,
    actor: &Actor,
) -> StoreResult<String> {
    let app = application(tx, user_id, portal_ref)?;
    let next = if app.status == DRAFT {
        if event != PortalEvent::Submit {
            return Err(StoreError::Conflict("草稿只能提交初审".into()));
        }
        Status::PendingPreReview
    } else {
        let status = Status::parse(&app.status).ok_or_else(|| StoreError::Conflict("未知状态".into()))?;
        let action = match event {
            PortalEvent::Submit => return Err(StoreError::Conflict("该申请已提交".into())),
            PortalEvent::SubmitForAcceptance => Action::SubmitForAcceptance,
            PortalEvent::Resubmit => Action::Resubmit,
            PortalEvent::Withdraw => Action::Withdraw,
        };
        // The portal does not track approval steps; the intranet's state machine has the last word.
        let steps = u32::from(matches!(status, Status::InApproval | Status::ApprovalReturned));
        let progress = Progress { status, step: (status == Status::InApproval).then_some(0), steps };
        workflow::apply(progress, &action).map_err(|e| StoreError::Conflict(e.to_string()))?.status
    };
    let mut data = app.data.clone();
    if event != PortalEvent::Withdraw {
        let files = files(tx, portal_ref)?;
        data.materials = files
            .iter()
            .filter(|f| f.kind != "risk_assessment")
            .map(|f| AttachmentRecord { kind: f.kind.clone(), file: bundle_name(f), name: f.name.clone() })
            .collect();
        for a in &mut data.assessments {
            a.report = files.iter().find(|f| f.kind == "risk_assessment").map(|f| AttachmentRecord {
                kind: f.kind.clone(),
                file: bundle_name(f),
                name: f.name.clone(),
            });
        }
    }
    let record = ApplicationEvent {
        portal_ref: portal_ref.to_string(),
        event,
        at: now.and_utc(),
        application: (event != PortalEvent::Withdraw).then_some(data),
    };
    let body = serde_json::to_string(&record).map_err(|e| StoreError::Conflict(e.to_string()))?;
    tx.execute("INSERT INTO portal_outbox (record, body, created_at) VALUES ('event', ?, ?)", params![body, now])?;
    tx.execute(
        "UPDATE portal_applications SET status = ?, updated_at = ? WHERE id = ?",
        params![next.code(), now, app.id],
    )?;
    let object = format!("申请 {portal_ref}");
    append(tx, now, NewAudit { actor, action: "portal.submit", object, ok: true, detail: next.label().into() })?;
    Ok(next.code().to_string())
}

/// A rectification opinion and its feedback.
#[derive(Debug, Clone)]
pub struct Rectification {
    /// The intranet's id.
    pub id: i64,
    /// 整改意见
    pub opinion: String,
    /// 整改反馈
    pub feedback: Option<String>,
}

/// The rectification opinions of an application.
pub fn rectifications(conn: &Connection, portal_ref: &str) -> StoreResult<Vec<Rectification>> {
    let mut s = conn.prepare(
        "SELECT rectification_id, opinion, feedback FROM portal_rectifications WHERE portal_ref = ? ORDER BY rectification_id",
    )?;
    let rows = s
        .query_map([portal_ref], |r| Ok(Rectification { id: r.get(0)?, opinion: r.get(1)?, feedback: r.get(2)? }))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Answers a rectification opinion; the feedback goes into the next application bundle.
pub fn give_feedback(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    user_id: i64,
    portal_ref: &str,
    rectification_id: i64,
    feedback: &str,
) -> StoreResult<()> {
    application(tx, user_id, portal_ref)?;
    let n = tx.execute(
        "UPDATE portal_rectifications SET feedback = ?, feedback_at = ? WHERE portal_ref = ? AND rectification_id = ?",
        params![feedback, now, portal_ref, rectification_id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    let record = FeedbackRecord { portal_ref: portal_ref.into(), rectification_id, feedback: feedback.into() };
    let body = serde_json::to_string(&record).map_err(|e| StoreError::Conflict(e.to_string()))?;
    tx.execute("INSERT INTO portal_outbox (record, body, created_at) VALUES ('feedback', ?, ?)", params![body, now])?;
    Ok(())
}

/// Files a government unit's activity: stored here (for its list) and queued for the intranet.
pub fn file_filing(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    mut f: FilingRecord,
    actor: &Actor,
) -> StoreResult<String> {
    let portal_ref = next_ref(tx, "F", "filings")?;
    f.portal_ref = portal_ref.clone();
    f.filed_at = now.and_utc();
    let regions = f.regions.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    tx.execute(
        "INSERT INTO filings (portal_ref, unit_name, credit_code, name, kind, regions, venue, start_at, end_at, attendance,
                              contact_name, contact_mobile, filed_at, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            portal_ref,
            f.unit_name,
            f.credit_code,
            f.name,
            f.kind,
            regions,
            f.venue,
            f.start_at,
            f.end_at,
            f.attendance,
            f.contact_name,
            f.contact_mobile,
            now,
            now
        ],
    )?;
    let body = serde_json::to_string(&f).map_err(|e| StoreError::Conflict(e.to_string()))?;
    tx.execute("INSERT INTO portal_outbox (record, body, created_at) VALUES ('filing', ?, ?)", params![body, now])?;
    append(
        tx,
        now,
        NewAudit {
            actor,
            action: "portal.filing",
            object: format!("备案 {portal_ref}"),
            ok: true,
            detail: f.name.clone(),
        },
    )?;
    Ok(portal_ref)
}

/// A notification for a portal user.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// The application.
    pub portal_ref: String,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// SM3 of the decision document, if any.
    pub document: Option<String>,
    /// When (UTC).
    pub at: NaiveDateTime,
    /// Whether read.
    pub read: bool,
}

/// The notifications of `user_id`, newest first.
pub fn notifications(conn: &Connection, user_id: i64) -> StoreResult<Vec<Notification>> {
    let mut s = conn.prepare(
        "SELECT id, portal_ref, title, body, document, created_at, read_at IS NOT NULL FROM notifications
         WHERE user_id = ? ORDER BY id DESC",
    )?;
    let rows = s
        .query_map([user_id], |r| {
            Ok(Notification {
                id: r.get(0)?,
                portal_ref: r.get(1)?,
                title: r.get(2)?,
                body: r.get(3)?,
                document: r.get(4)?,
                at: r.get(5)?,
                read: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Marks all notifications of `user_id` read.
pub fn mark_read(tx: &Transaction<'_>, now: NaiveDateTime, user_id: i64) -> StoreResult<()> {
    tx.execute("UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL", params![now, user_id])?;
    Ok(())
}

/// Records not yet exported.
pub fn pending_outbox(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT count(*) FROM portal_outbox WHERE export_id IS NULL", [], |r| r.get(0))?)
}

/// Turns everything new since the last export into one signed application bundle; `None` when nothing is new.
pub fn export_applications(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    key: &KeyPair,
    files: &FileStore,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<Option<i64>> {
    let mut s = tx.prepare("SELECT id, record, body FROM portal_outbox WHERE export_id IS NULL ORDER BY id")?;
    let rows = s.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    let mut records = ApplicationRecords::default();
    let mut ids = Vec::new();
    let bad = |e: serde_json::Error| StoreError::Conflict(format!("待导出记录损坏：{e}"));
    for row in rows {
        let (id, kind, body) = row?;
        ids.push(id);
        match kind.as_str() {
            "event" => records.applications.push(serde_json::from_str(&body).map_err(bad)?),
            "feedback" => records.feedback.push(serde_json::from_str(&body).map_err(bad)?),
            _ => records.filings.push(serde_json::from_str(&body).map_err(bad)?),
        }
    }
    if ids.is_empty() {
        return Ok(None);
    }
    // Attachments named by the records: application files by their bundle names, filing files likewise.
    let mut attached: Vec<(String, Vec<u8>)> = Vec::new();
    let owners = records
        .applications
        .iter()
        .map(|e| e.portal_ref.clone())
        .chain(records.filings.iter().map(|f| f.portal_ref.clone()))
        .collect::<Vec<_>>();
    for owner in owners {
        for f in self::files(tx, &owner)? {
            let name = bundle_name(&f);
            if attached.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let bytes = files.read(&f.sm3).ok_or_else(|| StoreError::Conflict(format!("附件 {} 丢失", f.name)))?;
            attached.push((name, bytes));
        }
    }
    let wanted: std::collections::HashSet<String> = records
        .applications
        .iter()
        .filter_map(|e| e.application.as_ref())
        .flat_map(|a| a.materials.iter().chain(a.assessments.iter().filter_map(|s| s.report.as_ref())))
        .chain(records.filings.iter().flat_map(|f| f.attachments.iter()))
        .map(|m| m.file.clone())
        .collect();
    attached.retain(|(n, _)| wanted.contains(n));
    let (last, prev): (i64, Option<String>) = tx
        .query_row("SELECT sequence, bundle_hash FROM portal_exports ORDER BY sequence DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .unwrap_or((0, None));
    let bytes = application_bundle(key, u64::try_from(last + 1).unwrap_or(1), prev, &records, &attached, now.and_utc())
        .map_err(|e| StoreError::Conflict(e.to_string()))?;
    let hash = crate::exchange::bundle_hash(&bytes);
    let export_id: i64 = tx.query_row(
        "INSERT INTO portal_exports (sequence, bundle_hash, bundle, records, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        params![last + 1, hash, bytes, ids.len() as i64, user_id, now],
        |r| r.get(0),
    )?;
    for id in ids {
        tx.execute("UPDATE portal_outbox SET export_id = ? WHERE id = ?", params![export_id, id])?;
    }
    let detail = format!("第 {} 号申请文件", last + 1);
    append(
        tx,
        now,
        NewAudit { actor, action: "exchange.export", object: format!("申请文件 {hash}"), ok: true, detail },
    )?;
    Ok(Some(export_id))
}

/// The portal's export log: id, sequence, records, when.
pub fn exports(conn: &Connection) -> StoreResult<Vec<(i64, i64, i64, NaiveDateTime)>> {
    let mut s = conn.prepare("SELECT id, sequence, records, created_at FROM portal_exports ORDER BY sequence DESC")?;
    let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The bytes and sequence of an application bundle exported from the portal.
pub fn export_bundle(conn: &Connection, id: i64) -> StoreResult<(i64, Vec<u8>)> {
    conn.query_row("SELECT sequence, bundle FROM portal_exports WHERE id = ?", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Imports a result bundle from the intranet: statuses updated, each organizer notified at once, decision
/// documents kept, rectification opinions recorded, and the SMS queued in the outbox.
pub fn import_results(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    bytes: &[u8],
    files: &FileStore,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<ImportOutcome> {
    import_channel(tx, now, bytes, Channel::Results, user_id, actor, &|tx, v| apply_results(tx, now, v, files))
}

fn apply_results(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    v: &VerifiedBundle,
    files: &FileStore,
) -> StoreResult<String> {
    let records: ResultRecords = v
        .file(RECORDS_FILE)
        .ok_or_else(|| "缺少 records.json".to_string())
        .and_then(|b| serde_json::from_slice(b).map_err(|e| format!("records.json 格式错误：{e}")))
        .map_err(StoreError::Conflict)?;
    let mut notified = 0;
    for r in &records.results {
        let owner: Option<(i64, i64)> = tx
            .query_row("SELECT id, user_id FROM portal_applications WHERE portal_ref = ?", [&r.portal_ref], |x| {
                Ok((x.get(0)?, x.get(1)?))
            })
            .optional()?;
        let Some((app_id, owner)) = owner else { continue };
        let status = Status::parse(&r.status).ok_or_else(|| StoreError::Conflict(format!("未知状态 {}", r.status)))?;
        tx.execute(
            "UPDATE portal_applications SET status = ?, updated_at = ? WHERE id = ?",
            params![status.code(), now, app_id],
        )?;
        let document = match &r.document {
            Some((file, _)) => {
                let bytes = v.file(file).ok_or_else(|| StoreError::Conflict(format!("缺少文书文件 {file}")))?;
                let checked =
                    crate::files::check(file, bytes, true).map_err(|e| StoreError::Conflict(e.to_string()))?;
                files.save(&checked, bytes).map_err(|e| StoreError::Conflict(e.to_string()))?;
                Some(checked.sm3)
            }
            None => None,
        };
        let title = format!("{}：{}", r.portal_ref, status.label());
        let mut body = r.sms.clone();
        if !r.opinion.is_empty() {
            body.push_str(&format!("（意见：{}）", r.opinion));
        }
        tx.execute(
            "INSERT INTO notifications (user_id, portal_ref, title, body, document, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            params![owner, r.portal_ref, title, body, document, now],
        )?;
        for (id, opinion) in &r.rectifications {
            let known: bool = tx.query_row(
                "SELECT count(*) > 0 FROM portal_rectifications WHERE rectification_id = ? AND portal_ref = ?",
                params![id, r.portal_ref],
                |x| x.get(0),
            )?;
            if !known {
                tx.execute(
                    "INSERT INTO portal_rectifications (rectification_id, portal_ref, opinion) VALUES (?, ?, ?)",
                    params![id, r.portal_ref, opinion],
                )?;
            }
        }
        if !r.sms.is_empty() && Mobile::parse(&r.mobile).is_ok() {
            super::sms::enqueue(tx, now, &r.mobile, &r.sms, &format!("result:{}", r.result_id))?;
        }
        notified += 1;
    }
    Ok(format!("审批结果 {} 条，已通知 {notified} 条", records.results.len()))
}
