//! The exchange on the intranet: trusted keys, pending results and their export as signed result bundles, and the
//! import of application bundles from the portal (verified first, applied atomically and in sequence; replays
//! change nothing; gaps are held; forks are refused and reported).

use chrono::{NaiveDateTime, TimeDelta};
use duckdb::{Connection, OptionalExt, Transaction, params};

use super::audit::{Actor, NewAudit, append};
use super::config::{scale_rules, sms_setting};
use super::{StoreError, StoreResult};
use crate::documents::{DecisionDocument, chinese_date, render_page};
use crate::domain::activity::{ActivityKind, Attendance, CreditCode};
use crate::domain::region::{Adcode, RegionLevel, RegionTree};
use crate::domain::scale::route;
use crate::domain::sms::SmsKind;
use crate::domain::text::{parse_name, parse_note};
use crate::domain::user::Mobile;
use crate::domain::workflow::{self, Action, Progress, Status};
use crate::exchange::records::{
    ApplicationEvent, ApplicationRecord, ApplicationRecords, PortalEvent, RECORDS_FILE, ResultRecord, ResultRecords,
};
use crate::exchange::{BundleBuilder, Channel, Disposition, KeyPair, PublicKey, VerifiedBundle, classify, read_bundle};

// ---- keys ----

/// A trusted public key of the other side.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Key id.
    pub key_id: String,
    /// Label given at import.
    pub label: String,
    /// When imported (UTC).
    pub imported_at: NaiveDateTime,
}

/// The trusted keys.
pub fn trusted_keys(conn: &Connection) -> StoreResult<Vec<TrustedKey>> {
    let mut s = conn.prepare("SELECT key_id, label, imported_at FROM trusted_keys ORDER BY imported_at")?;
    let rows = s
        .query_map([], |r| Ok(TrustedKey { key_id: r.get(0)?, label: r.get(1)?, imported_at: r.get(2)? }))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The trusted key with `key_id`.
pub fn lookup_key(conn: &Connection, key_id: &str) -> Option<PublicKey> {
    conn.query_row("SELECT public_hex FROM trusted_keys WHERE key_id = ?", [key_id], |r| r.get::<_, String>(0))
        .ok()
        .and_then(|hex| PublicKey::from_hex(&hex).ok())
}

/// Trusts the other side's public key.
pub fn trust_key(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    key: &PublicKey,
    label: &str,
    actor: &Actor,
) -> StoreResult<()> {
    let id = key.key_id();
    tx.execute(
        "INSERT OR REPLACE INTO trusted_keys (key_id, public_hex, label, imported_at) VALUES (?, ?, ?, ?)",
        params![id, key.to_hex(), label, now],
    )?;
    append(
        tx,
        now,
        NewAudit {
            actor, action: "exchange.trust_key", object: format!("公钥 {id}"), ok: true, detail: label.into()
        },
    )
}

// ---- results and export ----

/// A decision waiting to be exported.
#[derive(Debug, Clone)]
pub struct PendingResult {
    /// Result id.
    pub id: i64,
    /// Activity id.
    pub activity_id: i64,
    /// Activity name.
    pub activity: String,
    /// Organizer.
    pub organizer: String,
    /// Action code.
    pub action: String,
    /// New status code.
    pub status: String,
    /// Opinion.
    pub opinion: String,
    /// When decided (UTC).
    pub created_at: NaiveDateTime,
}

const IN_SCOPE: &str = "starts_with((SELECT path FROM regions WHERE adcode = r.bureau), ?)";

/// Results not yet exported, of bureaus within `scope_path`.
pub fn pending_results(conn: &Connection, scope_path: &str) -> StoreResult<Vec<PendingResult>> {
    let mut s = conn.prepare(&format!(
        "SELECT r.id, a.id, a.name, o.name, r.action, r.to_status, r.opinion, r.created_at
         FROM results r JOIN activities a ON a.id = r.activity_id JOIN organizers o ON o.id = a.organizer_id
         WHERE r.export_id IS NULL AND {IN_SCOPE} ORDER BY r.id"
    ))?;
    let rows = s
        .query_map([scope_path], |r| {
            Ok(PendingResult {
                id: r.get(0)?,
                activity_id: r.get(1)?,
                activity: r.get(2)?,
                organizer: r.get(3)?,
                action: r.get(4)?,
                status: r.get(5)?,
                opinion: r.get(6)?,
                created_at: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// One exported bundle.
#[derive(Debug, Clone)]
pub struct ExportEntry {
    /// Export id.
    pub id: i64,
    /// Sequence number.
    pub sequence: i64,
    /// Bundle hash.
    pub hash: String,
    /// Number of results.
    pub results: i64,
    /// Who exported.
    pub by: String,
    /// When (UTC).
    pub at: NaiveDateTime,
}

/// The export log, newest first.
pub fn exports(conn: &Connection) -> StoreResult<Vec<ExportEntry>> {
    let mut s = conn.prepare(
        "SELECT e.id, e.sequence, e.bundle_hash, e.results, coalesce(u.real_name, ''), e.created_at
         FROM exports e LEFT JOIN users u ON u.id = e.created_by ORDER BY e.sequence DESC",
    )?;
    let rows = s
        .query_map([], |r| {
            Ok(ExportEntry {
                id: r.get(0)?,
                sequence: r.get(1)?,
                hash: r.get(2)?,
                results: r.get(3)?,
                by: r.get(4)?,
                at: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The bytes and sequence number of an exported bundle.
pub fn export_bundle(conn: &Connection, id: i64) -> StoreResult<(i64, Vec<u8>)> {
    conn.query_row("SELECT sequence, bundle FROM exports WHERE id = ?", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Turns all pending results within `scope_path` into one signed result bundle, marks them exported, and returns
/// the export id; `None` when nothing is pending.
pub fn export_results(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    scope_path: &str,
    key: &KeyPair,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<Option<i64>> {
    let mut s = tx.prepare(&format!(
        "SELECT r.id, a.id, a.portal_ref, r.kind, r.action, r.to_status, r.opinion, a.contact_mobile, a.name, o.name,
                (SELECT path FROM regions WHERE adcode = r.bureau), d.body, r.created_at
         FROM results r JOIN activities a ON a.id = r.activity_id JOIN organizers o ON o.id = a.organizer_id
         LEFT JOIN documents d ON d.id = r.document_id
         WHERE r.export_id IS NULL AND {IN_SCOPE} ORDER BY r.id"
    ))?;
    type Row = (
        i64,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = s
        .query_map([scope_path], |r| {
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
                r.get(10)?,
                r.get(11)?,
                r.get(12)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(None);
    }
    let (last_seq, prev_hash): (i64, Option<String>) = tx
        .query_row("SELECT sequence, bundle_hash FROM exports ORDER BY sequence DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .unwrap_or((0, None));
    let sequence = u64::try_from(last_seq + 1).unwrap_or(1);
    let mut builder = BundleBuilder::new(Channel::Results, sequence, prev_hash);
    let mut records = ResultRecords::default();
    let today = chinese_date((now + TimeDelta::hours(8)).date());
    let mut open_rect =
        tx.prepare("SELECT id, opinion FROM rectifications WHERE activity_id = ? AND feedback IS NULL ORDER BY id")?;
    for (id, activity_id, portal_ref, kind, action, status, opinion, mobile, name, organizer, bureau_path, doc, at) in
        rows
    {
        let document = match doc.as_deref().map(serde_json::from_str::<DecisionDocument>) {
            Some(Ok(d)) => {
                let file = format!("document-{id}.html");
                let html = render_page(&d).into_string();
                builder.add_file(&file, html.as_bytes()).map_err(|e| StoreError::Conflict(e.to_string()))?;
                Some((file, d.number))
            }
            Some(Err(e)) => return Err(StoreError::Conflict(format!("文书数据损坏：{e}"))),
            None => None,
        };
        let sms_kind = SmsKind::parse(&kind).unwrap_or(SmsKind::Approval);
        let setting = sms_setting(tx, &bureau_path, sms_kind)?;
        let status_label = Status::parse(&status).map_or(status.clone(), |s| s.label().to_string());
        let values = std::collections::HashMap::from([
            ("活动名称", name.clone()),
            ("承办单位", organizer.clone()),
            ("审批结果", status_label),
            ("意见", opinion.clone()),
            ("地址", setting.address.clone()),
            ("联系电话", setting.phone.clone()),
            ("提交材料", setting.materials.clone()),
            ("日期", today.clone()),
            ("文号", document.as_ref().map(|d| d.1.clone()).unwrap_or_default()),
        ]);
        let rectifications = open_rect
            .query_map([activity_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<(i64, String)>, _>>()?;
        records.results.push(ResultRecord {
            result_id: id,
            portal_ref,
            kind,
            action,
            status,
            opinion,
            sms: setting.template.render(&values),
            mobile,
            document,
            rectifications,
            decided_at: at.and_utc(),
        });
    }
    let json = serde_json::to_vec_pretty(&records).map_err(|e| StoreError::Conflict(e.to_string()))?;
    builder.add_file(RECORDS_FILE, &json).map_err(|e| StoreError::Conflict(e.to_string()))?;
    let bytes = builder.finish(key, now.and_utc());
    let hash = crate::exchange::bundle_hash(&bytes);
    let n = records.results.len();
    let export_id: i64 = tx.query_row(
        "INSERT INTO exports (sequence, bundle_hash, bundle, results, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
         RETURNING id",
        params![last_seq + 1, hash, bytes, n as i64, user_id, now],
        |r| r.get(0),
    )?;
    for r in &records.results {
        tx.execute("UPDATE results SET export_id = ? WHERE id = ?", params![export_id, r.result_id])?;
    }
    let detail = format!("第 {} 号结果文件，{n} 条结果", last_seq + 1);
    append(
        tx,
        now,
        NewAudit { actor, action: "exchange.export", object: format!("结果文件 {hash}"), ok: true, detail },
    )?;
    Ok(Some(export_id))
}

// ---- import ----

/// What an import came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Applied, with the sequence numbers applied (held ones that could follow included).
    Applied(Vec<u64>),
    /// Held until the missing bundles arrive.
    Held {
        /// This bundle's sequence.
        sequence: u64,
        /// The first missing sequence.
        missing_from: u64,
    },
    /// The same bundle was imported already; nothing changed.
    Duplicate(u64),
    /// Refused; the reason is for the page and the import log.
    Refused(String),
}

/// One import log row.
#[derive(Debug, Clone)]
pub struct ImportEntry {
    /// Sequence, if the bundle could be read.
    pub sequence: Option<i64>,
    /// Bundle hash.
    pub hash: String,
    /// applied / held / duplicate / refused.
    pub status: String,
    /// Detail.
    pub detail: String,
    /// When received (UTC).
    pub at: NaiveDateTime,
}

/// The import log, newest first.
pub fn imports(conn: &Connection) -> StoreResult<Vec<ImportEntry>> {
    let mut s = conn
        .prepare("SELECT sequence, bundle_hash, status, detail, received_at FROM imports ORDER BY id DESC LIMIT 200")?;
    let rows = s
        .query_map([], |r| {
            Ok(ImportEntry {
                sequence: r.get(0)?,
                hash: r.get(1)?,
                status: r.get(2)?,
                detail: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Where an import happens: the channel, and the words for the log.
#[derive(Clone, Copy)]
struct Inbound {
    channel: Channel,
    /// 申请文件 / 结果文件
    noun: &'static str,
    user_id: i64,
}

#[expect(clippy::too_many_arguments, reason = "one log row has all of them")]
fn log_import(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    to: Inbound,
    seq: Option<u64>,
    hash: &str,
    status: &str,
    detail: &str,
    held_bytes: Option<&[u8]>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO imports (channel, sequence, bundle_hash, status, detail, bundle, received_by, received_at, applied_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? = 'applied' THEN ?::TIMESTAMP ELSE NULL END)",
        params![to.channel.code(), seq.map(|s| s as i64), hash, status, detail, held_bytes, to.user_id, now, status, now],
    )?;
    Ok(())
}

/// Applies a verified bundle's records and returns a summary for the log.
pub type ApplyBundle<'a> = &'a dyn Fn(&Transaction<'_>, &VerifiedBundle) -> StoreResult<String>;

/// Imports an application bundle: verified against the trusted keys before anything is parsed, then applied,
/// held, recognised as a replay, or refused. Every outcome is logged; the caller's attachments must already be
/// on disk (see `files`).
pub fn import_applications(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    bytes: &[u8],
    regions: &RegionTree,
    user_id: i64,
    actor: &Actor,
) -> StoreResult<ImportOutcome> {
    let to = Inbound { channel: Channel::Applications, noun: "申请文件", user_id };
    import_bundle(tx, now, bytes, to, actor, &|tx, v| apply_bundle(tx, now, v, regions))
}

/// The import rules of both sides: verify, then classify against the channel's applied chain; apply (and then any
/// held bundles that can follow), hold, ignore a replay, or refuse a fork — always logged.
pub fn import_channel(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    bytes: &[u8],
    channel: Channel,
    user_id: i64,
    actor: &Actor,
    apply: ApplyBundle<'_>,
) -> StoreResult<ImportOutcome> {
    let noun = match channel {
        Channel::Applications => "申请文件",
        Channel::Results => "结果文件",
    };
    import_bundle(tx, now, bytes, Inbound { channel, noun, user_id }, actor, apply)
}

fn import_bundle(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    bytes: &[u8],
    to: Inbound,
    actor: &Actor,
    apply: ApplyBundle<'_>,
) -> StoreResult<ImportOutcome> {
    let hash = crate::exchange::bundle_hash(bytes);
    let verified = match read_bundle(bytes, &|id| lookup_key(tx, id)) {
        Ok(v) if v.manifest.channel == to.channel => v,
        Ok(_) => return refuse(tx, now, to, None, &hash, &format!("这不是{}（渠道不符）", to.noun), actor),
        Err(e) => return refuse(tx, now, to, None, &hash, &format!("文件校验失败：{e}"), actor),
    };
    let seq = verified.manifest.sequence;
    let held_same: bool =
        tx.query_row("SELECT count(*) > 0 FROM imports WHERE bundle_hash = ? AND status = 'held'", [&hash], |r| {
            r.get(0)
        })?;
    match classify(last_applied(tx, to)?, &|n| applied_hash(tx, to, n), &verified.manifest, &hash) {
        Disposition::Duplicate => {
            log_import(tx, now, to, Some(seq), &hash, "duplicate", "已导入过，未作任何修改", None)?;
            Ok(ImportOutcome::Duplicate(seq))
        }
        Disposition::Fork { sequence } => {
            let reason = format!(
                "第 {sequence} 号{}与已导入的文件不一致（同号不同内容或未接续上一文件），已拒绝，请联系对端管理员核查",
                to.noun
            );
            refuse(tx, now, to, Some(sequence), &hash, &reason, actor)
        }
        Disposition::Hold { missing_from } => {
            if !held_same {
                let detail = format!("缺少第 {missing_from} 号起的文件，暂存待导入");
                log_import(tx, now, to, Some(seq), &hash, "held", &detail, Some(bytes))?;
            }
            Ok(ImportOutcome::Held { sequence: seq, missing_from })
        }
        Disposition::Apply => {
            let detail = apply(tx, &verified)?;
            log_import(tx, now, to, Some(seq), &hash, "applied", &detail, None)?;
            let object = format!("{}第 {seq} 号", to.noun);
            append(tx, now, NewAudit { actor, action: "exchange.import", object, ok: true, detail })?;
            let mut applied = vec![seq];
            applied.extend(apply_held(tx, now, to, actor, apply)?);
            Ok(ImportOutcome::Applied(applied))
        }
    }
}

fn refuse(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    to: Inbound,
    seq: Option<u64>,
    hash: &str,
    reason: &str,
    actor: &Actor,
) -> StoreResult<ImportOutcome> {
    log_import(tx, now, to, seq, hash, "refused", reason, None)?;
    let object = format!("{} {hash}", to.noun);
    append(tx, now, NewAudit { actor, action: "exchange.import", object, ok: false, detail: reason.into() })?;
    Ok(ImportOutcome::Refused(reason.to_string()))
}

fn last_applied(tx: &Transaction<'_>, to: Inbound) -> StoreResult<u64> {
    let n: i64 = tx.query_row(
        "SELECT coalesce(max(sequence), 0) FROM imports WHERE channel = ? AND status = 'applied'",
        [to.channel.code()],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn applied_hash(tx: &Transaction<'_>, to: Inbound, n: u64) -> Option<String> {
    tx.query_row(
        "SELECT bundle_hash FROM imports WHERE channel = ? AND status = 'applied' AND sequence = ?",
        params![to.channel.code(), n as i64],
        |r| r.get(0),
    )
    .ok()
}

/// Applies held bundles that no longer wait, in order; returns their sequence numbers.
fn apply_held(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    to: Inbound,
    actor: &Actor,
    apply: ApplyBundle<'_>,
) -> StoreResult<Vec<u64>> {
    let mut applied = Vec::new();
    loop {
        let next = last_applied(tx, to)? + 1;
        let held: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT id, bundle FROM imports WHERE channel = ? AND status = 'held' AND sequence = ? ORDER BY id LIMIT 1",
                params![to.channel.code(), next as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((import_id, bytes)) = held else { return Ok(applied) };
        let hash = crate::exchange::bundle_hash(&bytes);
        let verdict = read_bundle(&bytes, &|id| lookup_key(tx, id))
            .ok()
            .map(|v| (classify(next - 1, &|n| applied_hash(tx, to, n), &v.manifest, &hash), v));
        match verdict {
            Some((Disposition::Apply, v)) => {
                let detail = apply(tx, &v)?;
                tx.execute(
                    "UPDATE imports SET status = 'applied', detail = ?, applied_at = ? WHERE id = ?",
                    params![detail, now, import_id],
                )?;
                let object = format!("{}第 {next} 号（暂存后导入）", to.noun);
                append(tx, now, NewAudit { actor, action: "exchange.import", object, ok: true, detail })?;
                applied.push(next);
            }
            _ => {
                tx.execute(
                    "UPDATE imports SET status = 'refused', detail = '暂存文件未能接续已导入的文件，已拒绝' WHERE id = ?",
                    [import_id],
                )?;
            }
        }
    }
}

/// A record checked against the domain rules, ready to write.
struct Checked<'a> {
    event: &'a ApplicationEvent,
    content: Option<(&'a ApplicationRecord, ActivityKind, Vec<Adcode>)>,
}

fn check_records<'a>(
    records: &'a ApplicationRecords,
    bundle: &VerifiedBundle,
    regions: &RegionTree,
) -> Result<Vec<Checked<'a>>, String> {
    let mut out = Vec::new();
    for (i, e) in records.applications.iter().enumerate() {
        let at = |m: String| format!("第 {} 条申请（{}）：{m}", i + 1, e.portal_ref);
        if e.portal_ref.is_empty()
            || e.portal_ref.len() > 64
            || !e.portal_ref.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(at("编号无效".into()));
        }
        let content = match (&e.application, e.event) {
            (None, PortalEvent::Withdraw | PortalEvent::SubmitForAcceptance) => None,
            (None, _) => return Err(at("缺少申请内容".into())),
            (Some(a), _) => {
                parse_name("name", "活动名称", &a.name, 100).map_err(|x| at(x.message))?;
                let kind = ActivityKind::parse(&a.kind).map_err(|x| at(x.message))?;
                CreditCode::parse(&a.organizer.credit_code).map_err(|x| at(x.message))?;
                parse_name("organizer", "承办单位", &a.organizer.name, 100).map_err(|x| at(x.message))?;
                parse_name("contact", "联系人", &a.contact_name, 32).map_err(|x| at(x.message))?;
                Mobile::parse(&a.contact_mobile).map_err(|x| at(x.message))?;
                Mobile::parse(&a.organizer.contact_mobile).map_err(|x| at(x.message))?;
                Attendance::parse("attendance", &a.attendance.to_string()).map_err(|x| at(x.message))?;
                if !(1..=1000).contains(&a.sessions) {
                    return Err(at("场次应为 1 到 1000".into()));
                }
                if a.end_at <= a.start_at {
                    return Err(at("结束时间应晚于开始时间".into()));
                }
                let mut counties = Vec::new();
                for code in &a.regions {
                    let c = Adcode::from_stored(i64::from(*code))
                        .filter(|c| regions.get(*c).is_some_and(|r| r.level == RegionLevel::County));
                    counties.push(c.ok_or_else(|| at(format!("举办地 {code} 不是本省的县区")))?);
                }
                if counties.is_empty() || a.venues.is_empty() {
                    return Err(at("缺少举办地或场地".into()));
                }
                for v in &a.venues {
                    parse_name("venue", "场地名称", &v.name, 100).map_err(|x| at(x.message))?;
                    parse_note("address", "场地地址", &v.address, 200).map_err(|x| at(x.message))?;
                    if Adcode::from_stored(i64::from(v.region)).and_then(|c| regions.get(c)).is_none()
                        || v.capacity == 0
                    {
                        return Err(at(format!("场地「{}」的地区或核定容量无效", v.name)));
                    }
                }
                let attachments = a.materials.iter().chain(a.assessments.iter().filter_map(|s| s.report.as_ref()));
                for m in attachments {
                    let bytes = bundle.file(&m.file).ok_or_else(|| at(format!("缺少附件文件 {}", m.file)))?;
                    crate::files::check(&m.name, bytes, false).map_err(|x| at(format!("附件「{}」：{x}", m.name)))?;
                }
                for s in &a.assessments {
                    parse_name("agency", "风评机构", &s.agency, 100).map_err(|x| at(x.message))?;
                    if !matches!(s.risk_grade.as_str(), "低" | "中" | "高") {
                        return Err(at("风险等级应为 低、中 或 高".into()));
                    }
                }
                Some((a, kind, counties))
            }
        };
        out.push(Checked { event: e, content });
    }
    for fb in &records.feedback {
        parse_note("feedback", "整改反馈", &fb.feedback, 2000).map_err(|x| x.message)?;
        if fb.feedback.trim().is_empty() {
            return Err(format!("整改反馈（{}）为空", fb.portal_ref));
        }
    }
    Ok(out)
}

/// Applies a verified bundle's records; all are checked before anything is written.
fn apply_bundle(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    bundle: &VerifiedBundle,
    regions: &RegionTree,
) -> StoreResult<String> {
    let records: ApplicationRecords = bundle
        .file(RECORDS_FILE)
        .ok_or_else(|| "缺少 records.json".to_string())
        .and_then(|b| serde_json::from_slice(b).map_err(|e| format!("records.json 格式错误：{e}")))
        .map_err(StoreError::Conflict)?;
    let checked = check_records(&records, bundle, regions).map_err(StoreError::Conflict)?;
    let filings = super::filings::check(&records.filings, bundle, regions).map_err(StoreError::Conflict)?;
    let rules = scale_rules(tx)?;
    for c in &checked {
        apply_event(tx, now, c, bundle, regions, &rules)?;
    }
    super::filings::write(tx, now, &filings, bundle)?;
    for fb in &records.feedback {
        tx.execute(
            "UPDATE rectifications SET feedback = ?, feedback_at = ?
             WHERE id = ? AND activity_id = (SELECT id FROM activities WHERE portal_ref = ?)",
            params![fb.feedback.trim(), now, fb.rectification_id, fb.portal_ref],
        )?;
    }
    Ok(format!(
        "申请 {} 条，整改反馈 {} 条，备案 {} 条",
        records.applications.len(),
        records.feedback.len(),
        records.filings.len()
    ))
}

fn apply_event(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    c: &Checked<'_>,
    bundle: &VerifiedBundle,
    regions: &RegionTree,
    rules: &crate::domain::scale::ScaleRules,
) -> StoreResult<()> {
    let e = c.event;
    let existing: Option<(i64, String, Option<i64>, i64, String)> = tx
        .query_row(
            "SELECT a.id, a.status, a.step, a.steps, o.name FROM activities a JOIN organizers o ON o.id = a.organizer_id
             WHERE a.portal_ref = ?",
            [&e.portal_ref],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let (id, from, to, organizer) = match (existing, e.event) {
        (None, PortalEvent::Submit) => {
            let Some((a, kind, counties)) = &c.content else {
                return Err(StoreError::Conflict("缺少申请内容".into()));
            };
            let organizer_id = upsert_organizer(tx, now, a)?;
            let (bureau, reason) = routing(rules, regions, counties, a.attendance);
            let id: i64 = tx.query_row(
                "INSERT INTO activities (portal_ref, name, kind, organizer_id, start_at, end_at, sessions, attendance,
                     contact_name, contact_mobile, status, bureau, routing_reason, submitted_at, status_since, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                params![
                    e.portal_ref,
                    a.name.trim(),
                    kind.code(),
                    organizer_id,
                    a.start_at,
                    a.end_at,
                    a.sessions,
                    a.attendance,
                    a.contact_name.trim(),
                    a.contact_mobile.trim(),
                    Status::PendingPreReview.code(),
                    bureau.get(),
                    reason,
                    e.at.naive_utc(),
                    now,
                    now
                ],
                |r| r.get(0),
            )?;
            write_content(tx, now, id, a, counties, bundle)?;
            (id, String::new(), Status::PendingPreReview.code().to_string(), a.organizer.name.clone())
        }
        (Some(_), PortalEvent::Submit) => {
            return Err(StoreError::Conflict(format!("申请 {} 已存在，不能重复提交", e.portal_ref)));
        }
        (None, _) => return Err(StoreError::Conflict(format!("申请 {} 不存在", e.portal_ref))),
        (Some((id, status, step, steps, organizer)), event) => {
            let status = Status::parse(&status).ok_or_else(|| StoreError::Conflict("未知状态".into()))?;
            let progress = Progress {
                status,
                step: step.and_then(|s| u32::try_from(s).ok()),
                steps: u32::try_from(steps).unwrap_or(0),
            };
            let action = match event {
                PortalEvent::SubmitForAcceptance => Action::SubmitForAcceptance,
                PortalEvent::Resubmit => Action::Resubmit,
                PortalEvent::Withdraw => Action::Withdraw,
                PortalEvent::Submit => return Err(StoreError::Conflict("重复提交".into())),
            };
            let next = workflow::apply(progress, &action)
                .map_err(|x| StoreError::Conflict(format!("申请 {}：{x}", e.portal_ref)))?;
            tx.execute(
                "UPDATE activities SET status = ?, step = ?, steps = ?, status_since = ?, revision = revision + 1,
                     decided_at = CASE WHEN ? THEN ? ELSE decided_at END WHERE id = ?",
                params![next.status.code(), next.step, next.steps, now, next.status.is_final(), now, id],
            )?;
            if let Some((a, kind, counties)) = &c.content {
                let (bureau, reason) = routing(rules, regions, counties, a.attendance);
                tx.execute(
                    "UPDATE activities SET name = ?, kind = ?, start_at = ?, end_at = ?, sessions = ?, attendance = ?,
                         contact_name = ?, contact_mobile = ?, bureau = ?, routing_reason = ? WHERE id = ?",
                    params![
                        a.name.trim(),
                        kind.code(),
                        a.start_at,
                        a.end_at,
                        a.sessions,
                        a.attendance,
                        a.contact_name.trim(),
                        a.contact_mobile.trim(),
                        bureau.get(),
                        reason,
                        id
                    ],
                )?;
                tx.execute("DELETE FROM activity_regions WHERE activity_id = ?", [id])?;
                tx.execute("DELETE FROM activity_venues WHERE activity_id = ?", [id])?;
                write_content(tx, now, id, a, counties, bundle)?;
            }
            (id, status.code().to_string(), next.status.code().to_string(), organizer)
        }
    };
    let event_code = match e.event {
        PortalEvent::Submit => "submit",
        PortalEvent::SubmitForAcceptance => "submit_for_acceptance",
        PortalEvent::Resubmit => "resubmit",
        PortalEvent::Withdraw => "withdraw",
    };
    tx.execute(
        "INSERT INTO approval_history (activity_id, occurred_at, actor_name, role_name, action, from_status, to_status)
         VALUES (?, ?, ?, '承办方', ?, ?, ?)",
        params![id, now, organizer, event_code, from, to],
    )?;
    super::places::refresh(tx, id)?;
    if to == Status::PendingPreReview.code() {
        return_if_no_permit_needed(tx, now, id, rules, regions)?;
    }
    Ok(())
}

/// An application that needs no permit (below the threshold) is returned at once, with the reason, as the
/// pre-review would: the organizer is told by the next result bundle and may correct and resubmit.
fn return_if_no_permit_needed(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    rules: &crate::domain::scale::ScaleRules,
    regions: &RegionTree,
) -> StoreResult<()> {
    let (attendance, bureau): (u32, i64) =
        tx.query_row("SELECT attendance, bureau FROM activities WHERE id = ?", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut s = tx.prepare("SELECT region FROM activity_regions WHERE activity_id = ?")?;
    let counties = s
        .query_map([id], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(Adcode::from_stored)
        .collect::<Vec<_>>();
    let Err(e) = route(rules, regions, &counties, attendance) else { return Ok(()) };
    let reason = format!("{e}，系统自动退回");
    let returned = Status::PreReviewReturned.code();
    tx.execute(
        "UPDATE activities SET status = ?, status_since = ?, revision = revision + 1 WHERE id = ?",
        params![returned, now, id],
    )?;
    super::places::set_status(tx, id, returned)?;
    tx.execute(
        "INSERT INTO approval_history (activity_id, occurred_at, actor_name, role_name, action, from_status, to_status, opinion)
         VALUES (?, ?, '系统', '规模配置', 'return_pre_review', ?, ?, ?)",
        params![id, now, Status::PendingPreReview.code(), returned, reason],
    )?;
    tx.execute(
        "INSERT INTO results (activity_id, bureau, kind, action, to_status, opinion, created_at)
         VALUES (?, ?, 'pre_review', 'return_pre_review', ?, ?, ?)",
        params![id, bureau, returned, reason, now],
    )?;
    Ok(())
}

/// The approving bureau and why; an application below the permit threshold goes to its first county, whose
/// pre-review returns it, with the reason shown.
fn routing(
    rules: &crate::domain::scale::ScaleRules,
    regions: &RegionTree,
    counties: &[Adcode],
    attendance: u32,
) -> (Adcode, String) {
    match route(rules, regions, counties, attendance) {
        Ok(r) => (r.bureau, r.reason),
        Err(e) => (counties.first().copied().unwrap_or(regions.root().adcode), e.to_string()),
    }
}

fn upsert_organizer(tx: &Transaction<'_>, now: NaiveDateTime, a: &ApplicationRecord) -> StoreResult<i64> {
    let o = &a.organizer;
    let code = o.credit_code.trim().to_ascii_uppercase();
    let found: Option<i64> =
        tx.query_row("SELECT id FROM organizers WHERE credit_code = ?", [&code], |r| r.get(0)).optional()?;
    if let Some(id) = found {
        tx.execute(
            "UPDATE organizers SET name = ?, contact_name = ?, contact_mobile = ? WHERE id = ?",
            params![o.name.trim(), o.contact_name.trim(), o.contact_mobile.trim(), id],
        )?;
        return Ok(id);
    }
    Ok(tx.query_row(
        "INSERT INTO organizers (credit_code, name, contact_name, contact_mobile, created_at) VALUES (?, ?, ?, ?, ?)
         RETURNING id",
        params![code, o.name.trim(), o.contact_name.trim(), o.contact_mobile.trim(), now],
        |r| r.get(0),
    )?)
}

/// Regions, venues, materials and assessments of an application (materials and assessments are added, never
/// removed: what was submitted stays on record).
fn write_content(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    id: i64,
    a: &ApplicationRecord,
    counties: &[Adcode],
    bundle: &VerifiedBundle,
) -> StoreResult<()> {
    let mut seen = Vec::new();
    for c in counties {
        if !seen.contains(c) {
            seen.push(*c);
            tx.execute("INSERT INTO activity_regions (activity_id, region) VALUES (?, ?)", params![id, c.get()])?;
        }
    }
    for v in &a.venues {
        let venue: Option<i64> = tx
            .query_row(
                "SELECT id FROM venues WHERE name = ? AND region = ? AND address = ?",
                params![v.name.trim(), v.region, v.address.trim()],
                |r| r.get(0),
            )
            .optional()?;
        let venue = match venue {
            Some(vid) => {
                tx.execute("UPDATE venues SET capacity = ?, lon = ?, lat = ? WHERE id = ?", params![v.capacity, v.lon, v.lat, vid])?;
                vid
            }
            None => tx.query_row(
                "INSERT INTO venues (name, region, address, lon, lat, capacity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                 RETURNING id",
                params![v.name.trim(), v.region, v.address.trim(), v.lon, v.lat, v.capacity, now],
                |r| r.get(0),
            )?,
        };
        // Each venue once per activity (the map counts the pairs).
        tx.execute(
            "INSERT INTO activity_venues (activity_id, venue_id) SELECT ?, ?
             WHERE NOT EXISTS (SELECT 1 FROM activity_venues WHERE activity_id = ? AND venue_id = ?)",
            params![id, venue, id, venue],
        )?;
    }
    let attach = |m: &crate::exchange::records::AttachmentRecord| -> StoreResult<i64> {
        let bytes = bundle.file(&m.file).ok_or_else(|| StoreError::Conflict(format!("缺少附件文件 {}", m.file)))?;
        let f = crate::files::check(&m.name, bytes, false).map_err(|e| StoreError::Conflict(e.to_string()))?;
        super::activities::add_file(tx, now, &f.sm3, &f.name, f.mime, f.size as i64)
    };
    for m in &a.materials {
        let file_id = attach(m)?;
        tx.execute(
            "INSERT INTO materials (activity_id, kind, file_id, created_at) VALUES (?, ?, ?, ?)",
            params![id, m.kind, file_id, now],
        )?;
    }
    for s in &a.assessments {
        let agency: Option<i64> =
            tx.query_row("SELECT id FROM agencies WHERE name = ?", [s.agency.trim()], |r| r.get(0)).optional()?;
        let agency = match agency {
            Some(a) => a,
            None => tx.query_row(
                "INSERT INTO agencies (name, created_at) VALUES (?, ?) RETURNING id",
                params![s.agency.trim(), now],
                |r| r.get(0),
            )?,
        };
        let file_id = s.report.as_ref().map(attach).transpose()?;
        tx.execute(
            "INSERT INTO assessments (activity_id, agency_id, risk_grade, file_id, created_at) VALUES (?, ?, ?, ?, ?)",
            params![id, agency, s.risk_grade, file_id, now],
        )?;
        // Assessments accumulate over resubmissions; the map counts each agency once per activity.
        tx.execute(
            "INSERT INTO activity_agencies (activity_id, agency_id) SELECT ?, ?
             WHERE NOT EXISTS (SELECT 1 FROM activity_agencies WHERE activity_id = ? AND agency_id = ?)",
            params![id, agency, id, agency],
        )?;
    }
    Ok(())
}

/// The files of a verified application bundle that its records (applications and filings) attach, checked, for
/// saving before the import.
pub fn attachments(bundle: &VerifiedBundle) -> Vec<(crate::files::CheckedFile, Vec<u8>)> {
    let Some(records) = bundle.file(RECORDS_FILE).and_then(|b| serde_json::from_slice::<ApplicationRecords>(b).ok())
    else {
        return Vec::new();
    };
    let mut out: Vec<(crate::files::CheckedFile, Vec<u8>)> = records
        .applications
        .iter()
        .filter_map(|e| e.application.as_ref())
        .flat_map(|a| a.materials.iter().chain(a.assessments.iter().filter_map(|s| s.report.as_ref())))
        .filter_map(|m| {
            let bytes = bundle.file(&m.file)?;
            crate::files::check(&m.name, bytes, false).ok().map(|f| (f, bytes.to_vec()))
        })
        .collect();
    out.extend(super::filings::attachments(&records.filings, bundle));
    out
}
