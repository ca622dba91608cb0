//! Decision documents: the four written decisions a public security organ issues on an application for a large
//! public event under 《大型群众性活动安全管理条例》 and 《中华人民共和国行政许可法》 — 受理通知书, 不予受理通知书,
//! 安全许可决定书 and 不予安全许可决定书.
//!
//! A [`DecisionDocument`] holds every text the document shows, already formatted, so that it can be stored as JSON
//! and rendered again later exactly as issued. [`render_page`] gives a standalone A4 page (styled by
//! `static/print.css`), [`render_article`] the document alone for embedding.

mod render;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

pub use render::{render_article, render_page};

/// The kinds of decision document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 受理通知书: the application is accepted for review.
    AcceptanceNotice,
    /// 不予受理通知书: the application is not accepted (行政许可法 art 32).
    NonAcceptanceNotice,
    /// 安全许可决定书: the event is permitted (条例 art 14).
    Permit,
    /// 不予安全许可决定书: the event is refused, with reasons and remedies (行政许可法 art 38).
    Refusal,
}

impl DocumentKind {
    /// Every kind, in the order of the procedure.
    pub const ALL: [DocumentKind; 4] = [Self::AcceptanceNotice, Self::NonAcceptanceNotice, Self::Permit, Self::Refusal];

    /// The code used in storage and links, e.g. `non_acceptance_notice` (the same as the JSON form).
    pub fn code(self) -> &'static str {
        match self {
            Self::AcceptanceNotice => "acceptance_notice",
            Self::NonAcceptanceNotice => "non_acceptance_notice",
            Self::Permit => "permit",
            Self::Refusal => "refusal",
        }
    }

    /// The document's title, e.g. 不予安全许可决定书.
    pub fn title(self) -> &'static str {
        match self {
            Self::AcceptanceNotice => "受理通知书",
            Self::NonAcceptanceNotice => "不予受理通知书",
            Self::Permit => "安全许可决定书",
            Self::Refusal => "不予安全许可决定书",
        }
    }

    /// The word before 字 in the document number: 受, 不受, 许 or 不许.
    pub fn number_word(self) -> &'static str {
        match self {
            Self::AcceptanceNotice => "受",
            Self::NonAcceptanceNotice => "不受",
            Self::Permit => "许",
            Self::Refusal => "不许",
        }
    }

    /// Parses a code from [`DocumentKind::code`].
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim();
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the document must state reasons: the two negative kinds.
    pub fn requires_reasons(self) -> bool {
        matches!(self, Self::NonAcceptanceNotice | Self::Refusal)
    }
}

/// Everything a document shows; stored as JSON and rendered on demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionDocument {
    /// Which of the four documents this is.
    pub kind: DocumentKind,
    /// 文号, from [`document_number`].
    pub number: String,
    /// The issuing organ, from [`bureau_name`], e.g. 杭州市公安局西湖区分局.
    pub bureau_name: String,
    /// 承办者: the applicant organisation.
    pub organizer: String,
    /// The organizer's unified social credit code (统一社会信用代码); may be empty.
    pub organizer_credit_code: String,
    /// The organizer's responsible person or contact.
    pub contact_name: String,
    /// The contact's mobile number.
    pub contact_mobile: String,
    /// The activity's name, without quotation marks.
    pub activity_name: String,
    /// The activity type in the wording of the law, e.g. 演唱会、音乐会等文艺演出.
    pub activity_kind: String,
    /// Start, from [`chinese_datetime`], e.g. 2026年12月20日 19:30.
    pub start: String,
    /// End, from [`chinese_datetime`].
    pub end: String,
    /// The venues, in the order of the application.
    pub venues: Vec<String>,
    /// Number of sessions (场次).
    pub sessions: u32,
    /// Attendance per session: the approved figure on a permit, the applied-for figure otherwise.
    pub attendance: u32,
    /// The opinion or reasons: required for the two negative kinds, may be empty otherwise. Lines become paragraphs.
    pub reasons: String,
    /// Date of issue, from [`chinese_date`], e.g. 2026年12月3日.
    pub issued_on: String,
}

/// The 文号: `{abbr}公(治){word}字〔{year}〕第{seq:04}号`, e.g. document_number("浙杭", DocumentKind::Permit, 2026, 12)
/// == "浙杭公(治)许字〔2026〕第0012号". Sequence numbers above 9999 keep all their digits.
pub fn document_number(abbr: &str, kind: DocumentKind, year: i32, seq: u32) -> String {
    format!("{}公(治){}字〔{year}〕第{seq:04}号", abbr.trim(), kind.number_word())
}

/// The abbreviation of a bureau for document numbers: the first character of the province name, then the first
/// character of the city name, then the county name without its last character (区, 县, 市), e.g.
/// ("浙江省", Some("杭州市"), Some("西湖区")) → "浙杭西湖"; ("浙江省", Some("杭州市"), None) → "浙杭";
/// ("浙江省", None, None) → "浙".
pub fn bureau_abbreviation(province: &str, city: Option<&str>, county: Option<&str>) -> String {
    let mut abbr: String = province.trim().chars().take(1).collect();
    if let Some(city) = nonblank(city) {
        abbr.extend(city.chars().take(1));
    }
    if let Some(county) = nonblank(county) {
        let stem_len = county.chars().count().saturating_sub(1).max(1);
        abbr.extend(county.chars().take(stem_len));
    }
    abbr
}

/// The bureau's official name: a province → "{province}公安厅"; a city → "{city}公安局"; a district (name ending in
/// 区) → "{city}公安局{county}分局"; a county or county-level city, which has its own bureau → "{county}公安局"
/// (e.g. 淳安县公安局, 建德市公安局), as does a district given without its city.
pub fn bureau_name(province: &str, city: Option<&str>, county: Option<&str>) -> String {
    match (nonblank(city), nonblank(county)) {
        (Some(city), Some(county)) if county.ends_with('区') => format!("{city}公安局{county}分局"),
        (_, Some(county)) => format!("{county}公安局"),
        (Some(city), None) => format!("{city}公安局"),
        (None, None) => format!("{}公安厅", province.trim()),
    }
}

/// A Chinese date, e.g. 2026年12月3日.
pub fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// A Chinese date and time to the minute, e.g. 2026年12月20日 19:30. The value is taken as Beijing time already.
pub fn chinese_datetime(t: NaiveDateTime) -> String {
    format!("{} {}", chinese_date(t.date()), t.format("%H:%M"))
}

/// The trimmed text, or `None` when absent or blank.
fn nonblank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_number_pads_sequence_to_four_digits() {
        assert_eq!(document_number("浙杭", DocumentKind::Permit, 2026, 12), "浙杭公(治)许字〔2026〕第0012号");
        assert_eq!(document_number("浙", DocumentKind::Refusal, 2026, 1), "浙公(治)不许字〔2026〕第0001号");
        assert_eq!(
            document_number("浙杭西湖", DocumentKind::AcceptanceNotice, 2027, 12345),
            "浙杭西湖公(治)受字〔2027〕第12345号"
        );
        assert_eq!(
            document_number("浙杭", DocumentKind::NonAcceptanceNotice, 2026, 0),
            "浙杭公(治)不受字〔2026〕第0000号"
        );
    }

    #[test]
    fn kind_codes_round_trip_and_match_json() {
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(kind.code()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.code()));
        }
        assert_eq!(DocumentKind::parse(" permit "), Some(DocumentKind::Permit));
        assert_eq!(DocumentKind::parse("Permit"), None);
        assert_eq!(DocumentKind::parse(""), None);
        assert!(DocumentKind::Refusal.requires_reasons());
        assert!(DocumentKind::NonAcceptanceNotice.requires_reasons());
        assert!(!DocumentKind::Permit.requires_reasons());
        assert!(!DocumentKind::AcceptanceNotice.requires_reasons());
    }

    #[test]
    fn bureau_abbreviations_and_names() {
        let table: [(&str, Option<&str>, Option<&str>, &str, &str); 7] = [
            ("浙江省", Some("杭州市"), Some("西湖区"), "浙杭西湖", "杭州市公安局西湖区分局"),
            ("浙江省", Some("杭州市"), None, "浙杭", "杭州市公安局"),
            ("浙江省", None, None, "浙", "浙江省公安厅"),
            ("浙江省", Some("杭州市"), Some("淳安县"), "浙杭淳安", "淳安县公安局"),
            ("浙江省", Some("杭州市"), Some("建德市"), "浙杭建德", "建德市公安局"),
            ("浙江省", Some("宁波市"), Some("鄞州区"), "浙宁鄞州", "宁波市公安局鄞州区分局"),
            ("浙江省", Some(" "), Some(""), "浙", "浙江省公安厅"),
        ];
        for (province, city, county, abbr, name) in table {
            assert_eq!(bureau_abbreviation(province, city, county), abbr, "{city:?} {county:?}");
            assert_eq!(bureau_name(province, city, county), name, "{city:?} {county:?}");
        }
        assert_eq!(bureau_abbreviation("", None, None), "");
        assert_eq!(bureau_abbreviation("浙江省", Some("杭州市"), Some("区")), "浙杭区");
    }

    #[test]
    fn chinese_dates_have_no_leading_zeros() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(chinese_date(d), "2026年12月3日");
        let t = NaiveDate::from_ymd_opt(2026, 12, 20).unwrap().and_hms_opt(19, 30, 0).unwrap();
        assert_eq!(chinese_datetime(t), "2026年12月20日 19:30");
        let t = NaiveDate::from_ymd_opt(2027, 1, 5).unwrap().and_hms_opt(9, 5, 59).unwrap();
        assert_eq!(chinese_datetime(t), "2027年1月5日 09:05");
    }

    #[test]
    fn document_json_round_trip() {
        let doc = render::tests::sample(DocumentKind::Refusal);
        let json = serde_json::to_string(&doc).unwrap();
        assert!(json.contains("\"kind\":\"refusal\""));
        let back: DecisionDocument = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc);
    }
}
