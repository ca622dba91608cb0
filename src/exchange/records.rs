//! The records inside bundles: `records.json` of an application bundle (portal → intranet) and of a result bundle
//! (intranet → portal). Attachments travel as files of the bundle, named by the records.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// The name of the records file in every bundle.
pub const RECORDS_FILE: &str = "records.json";

/// What an organizer did on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortalEvent {
    /// First submission (→ 待初审).
    Submit,
    /// Materials uploaded, submitted for approval (→ 受理中).
    SubmitForAcceptance,
    /// Revised and resubmitted after a return.
    Resubmit,
    /// Withdrawn.
    Withdraw,
}

/// The organizer as registered on the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizerRecord {
    /// 统一社会信用代码
    pub credit_code: String,
    /// Unit name.
    pub name: String,
    /// Contact person.
    pub contact_name: String,
    /// Contact mobile.
    pub contact_mobile: String,
}

/// A venue of the application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueRecord {
    /// Name.
    pub name: String,
    /// County adcode.
    pub region: u32,
    /// Address.
    pub address: String,
    /// Longitude (GCJ-02, as the map data).
    pub lon: Option<f64>,
    /// Latitude.
    pub lat: Option<f64>,
    /// 核定容量
    pub capacity: u32,
}

/// An attachment named by a record: the bundle file carrying it, its original name and its material kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRecord {
    /// Material kind code from the region's list (for assessments: `risk_assessment`).
    pub kind: String,
    /// The bundle file with the bytes.
    pub file: String,
    /// The name the organizer gave.
    pub name: String,
}

/// A risk assessment by an agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentRecord {
    /// 风评机构
    pub agency: String,
    /// 低 / 中 / 高
    pub risk_grade: String,
    /// The report.
    pub report: Option<AttachmentRecord>,
}

/// The application's content, as the organizer entered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRecord {
    /// 活动名称
    pub name: String,
    /// Kind code.
    pub kind: String,
    /// The organizer.
    pub organizer: OrganizerRecord,
    /// County adcodes where it is held.
    pub regions: Vec<u32>,
    /// Venues.
    pub venues: Vec<VenueRecord>,
    /// Start, Beijing local time.
    pub start_at: NaiveDateTime,
    /// End, Beijing local time.
    pub end_at: NaiveDateTime,
    /// Number of sessions.
    pub sessions: u32,
    /// Expected attendance of the largest session.
    pub attendance: u32,
    /// Contact person of the activity.
    pub contact_name: String,
    /// Contact mobile.
    pub contact_mobile: String,
    /// Materials.
    #[serde(default)]
    pub materials: Vec<AttachmentRecord>,
    /// Risk assessments.
    #[serde(default)]
    pub assessments: Vec<AssessmentRecord>,
}

/// One event of one application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationEvent {
    /// The portal's id of the application.
    pub portal_ref: String,
    /// What happened.
    pub event: PortalEvent,
    /// When, on the portal.
    pub at: DateTime<Utc>,
    /// The content (for submit, submit-for-acceptance and resubmit).
    pub application: Option<ApplicationRecord>,
}

/// 整改反馈: the organizer's answer to a rectification opinion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRecord {
    /// The application.
    pub portal_ref: String,
    /// The intranet's id of the opinion (sent in result bundles).
    pub rectification_id: i64,
    /// The feedback.
    pub feedback: String,
}

/// `records.json` of an application bundle.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRecords {
    /// Application events, applied in order.
    #[serde(default)]
    pub applications: Vec<ApplicationEvent>,
    /// Rectification feedback.
    #[serde(default)]
    pub feedback: Vec<FeedbackRecord>,
    /// Filings of government units.
    #[serde(default)]
    pub filings: Vec<FilingRecord>,
}

/// One decision for the organizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRecord {
    /// The intranet's id of the result.
    pub result_id: i64,
    /// The application.
    pub portal_ref: String,
    /// `pre_review`, `acceptance` or `approval`.
    pub kind: String,
    /// The workflow action code.
    pub action: String,
    /// The new status code.
    pub status: String,
    /// The opinion or reasons.
    pub opinion: String,
    /// The SMS to send, rendered from the template.
    pub sms: String,
    /// Where to send it.
    pub mobile: String,
    /// The decision document file in the bundle, with its number.
    pub document: Option<(String, String)>,
    /// Rectification opinions (id, text) the organizer should answer.
    #[serde(default)]
    pub rectifications: Vec<(i64, String)>,
    /// When it was decided.
    pub decided_at: DateTime<Utc>,
}

/// `records.json` of a result bundle.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRecords {
    /// The results.
    pub results: Vec<ResultRecord>,
}

/// Builds a signed application bundle (what the portal exports): `records` plus the attachment `files` it names.
pub fn application_bundle(
    key: &super::KeyPair,
    sequence: u64,
    prev_hash: Option<String>,
    records: &ApplicationRecords,
    files: &[(String, Vec<u8>)],
    at: DateTime<Utc>,
) -> Result<Vec<u8>, super::BundleError> {
    let mut b = super::BundleBuilder::new(super::Channel::Applications, sequence, prev_hash);
    let json = serde_json::to_vec_pretty(records).map_err(|e| super::BundleError::Json(e.to_string()))?;
    b.add_file(RECORDS_FILE, &json)?;
    for (name, bytes) in files {
        b.add_file(name, bytes)?;
    }
    Ok(b.finish(key, at))
}

/// A government unit's filing 备案 of an activity it runs itself (条例 art 25: no permit needed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilingRecord {
    /// The portal's id of the filing.
    pub portal_ref: String,
    /// The government unit.
    pub unit_name: String,
    /// Its 统一社会信用代码.
    pub credit_code: String,
    /// 活动名称
    pub name: String,
    /// Kind code.
    pub kind: String,
    /// County adcodes.
    pub regions: Vec<u32>,
    /// Venue description.
    pub venue: String,
    /// Start, Beijing local time.
    pub start_at: NaiveDateTime,
    /// End, Beijing local time.
    pub end_at: NaiveDateTime,
    /// Expected attendance per session.
    pub attendance: u32,
    /// Contact person.
    pub contact_name: String,
    /// Contact mobile.
    pub contact_mobile: String,
    /// When filed on the portal.
    pub filed_at: DateTime<Utc>,
    /// 报备材料 (kind `filing`) and 评估报告 (kind `risk_assessment`).
    #[serde(default)]
    pub attachments: Vec<AttachmentRecord>,
}
