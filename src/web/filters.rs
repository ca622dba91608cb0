//! What the filtered lists (许可管理, 备案管理) share: the path id, and the region, date-range, text and page
//! filters, parsed leniently — a bad value is ignored or shown as a field error, never a failed request.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use chrono::NaiveDate;

use super::error::AppError;
use crate::domain::FieldErrors;
use crate::domain::calendar::parse_date;
use crate::domain::region::{Adcode, RegionTree};

/// The longest search text kept.
pub(crate) const TEXT_MAX: usize = 50;

/// A positive id from a path segment; anything else is "not found".
pub(crate) fn id_from(path: Result<Path<String>, PathRejection>) -> Result<i64, AppError> {
    let Ok(Path(raw)) = path else { return Err(AppError::NotFound) };
    raw.trim().parse::<i64>().ok().filter(|id| *id > 0).ok_or(AppError::NotFound)
}

/// The raw filter values of a list's query string.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawFilters<'a> {
    /// Region adcode.
    pub region: Option<&'a str>,
    /// First start date.
    pub from: Option<&'a str>,
    /// Last start date.
    pub until: Option<&'a str>,
    /// Search text.
    pub text: Option<&'a str>,
    /// 0-based page.
    pub page: Option<&'a str>,
}

/// The parsed common filters, with the field errors of bad dates.
#[derive(Debug, Clone)]
pub(crate) struct ListFilters {
    /// The region to list: within the user's scope, else the scope itself.
    pub region: Adcode,
    /// Events starting on or after.
    pub from: Option<NaiveDate>,
    /// Events starting on or before.
    pub until: Option<NaiveDate>,
    /// Trimmed search text, at most 50 characters.
    pub text: Option<String>,
    /// 0-based page.
    pub page: u32,
    /// Problems with the dates (the list is still shown, without that filter).
    pub errors: FieldErrors,
}

impl ListFilters {
    /// Parses `raw` for a user whose region is `scope`.
    pub(crate) fn parse(regions: &RegionTree, scope: Adcode, raw: RawFilters<'_>) -> Self {
        let mut errors = FieldErrors::default();
        let region = raw
            .region
            .and_then(Adcode::parse)
            .filter(|c| regions.get(*c).is_some() && regions.is_within(*c, scope))
            .unwrap_or(scope);
        let from = date_filter(&mut errors, "from", "开始日期", raw.from);
        let mut until = date_filter(&mut errors, "until", "结束日期", raw.until);
        if let (Some(f), Some(u)) = (from, until)
            && f > u
        {
            errors.push("until", "结束日期不能早于开始日期");
            until = None;
        }
        let text = raw.text.map(str::trim).filter(|s| !s.is_empty()).map(|s| s.chars().take(TEXT_MAX).collect());
        let page = raw.page.and_then(|p| p.trim().parse::<u32>().ok()).unwrap_or(0).min(100_000);
        Self { region, from, until, text, page, errors }
    }
}

/// A date filter: empty is no filter; a bad date is a field error and no filter.
fn date_filter(errors: &mut FieldErrors, field: &'static str, label: &str, raw: Option<&str>) -> Option<NaiveDate> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    match parse_date(field, raw) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field, format!("{label}无效，请按 YYYY-MM-DD 填写有效日期"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::region::DEFAULT_REGIONS_CSV;

    #[test]
    fn bad_values_are_ignored_or_field_errors() {
        let tree = RegionTree::parse_csv(DEFAULT_REGIONS_CSV).unwrap();
        let hz = Adcode::parse("330100").unwrap();
        let raw = RawFilters {
            region: Some("330203"),
            from: Some("2026-13-01"),
            until: Some(" 2026-12-01 "),
            text: Some("  "),
            page: Some("x"),
        };
        let f = ListFilters::parse(&tree, hz, raw);
        assert_eq!(f.region, hz, "宁波 is outside 杭州's scope");
        assert_eq!((f.from, f.until.map(|d| d.to_string())), (None, Some("2026-12-01".into())));
        assert!(f.errors.get("from").is_some());
        assert_eq!((f.text, f.page), (None, 0));
        let f = ListFilters::parse(
            &tree,
            hz,
            RawFilters { from: Some("2026-12-02"), until: Some("2026-12-01"), ..RawFilters::default() },
        );
        assert!(f.errors.get("until").is_some() && f.until.is_none());
        let f = ListFilters::parse(
            &tree,
            hz,
            RawFilters { region: Some("330106"), text: Some(&"长".repeat(60)), ..RawFilters::default() },
        );
        assert_eq!(f.region.to_string(), "330106");
        assert_eq!(f.text.map(|t| t.chars().count()), Some(50));
    }
}
