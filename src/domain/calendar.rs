//! The working-day calendar for legal deadlines.
//!
//! Under the administrative licensing law a time limit counted in working days (工作日) skips public holidays and
//! weekends, but counts the make-up working days (调休上班日) that fall on a Saturday or Sunday. The calendar holds
//! the exceptions to the Monday-to-Friday week: holidays and make-up working days. [`OFFICIAL_DAYS`] lists those
//! the State Council General Office announced for 2025 and 2026; administrators add later years as [`DayEntry`]s.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included};

use chrono::{Datelike, NaiveDate, Weekday};

use super::text::parse_name;
use super::{FieldError, FieldErrors};

/// Kind of a calendar entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// 放假: no work that day, even on a Monday to Friday.
    Holiday,
    /// 调休上班: a Saturday or Sunday that is a working day.
    MakeupWorkday,
}

impl DayKind {
    /// Every kind, in the order forms list them.
    pub const ALL: [DayKind; 2] = [Self::Holiday, Self::MakeupWorkday];

    /// The code used in storage and forms.
    pub fn code(self) -> &'static str {
        match self {
            Self::Holiday => "holiday",
            Self::MakeupWorkday => "workday",
        }
    }

    /// The name shown on pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Holiday => "放假",
            Self::MakeupWorkday => "调休上班",
        }
    }

    /// Parses a form's or storage's code (see [`DayKind::code`]).
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        Self::ALL.into_iter().find(|k| k.code() == raw).ok_or_else(|| FieldError::new("kind", "请选择放假或调休上班"))
    }
}

/// One entry of the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayEntry {
    /// The day.
    pub date: NaiveDate,
    /// Holiday or make-up working day.
    pub kind: DayKind,
    /// The festival it belongs to, e.g. 春节.
    pub name: String,
}

impl DayEntry {
    /// Longest name, in characters.
    pub const NAME_MAX: usize = 20;

    /// Parses a form: `date` as `YYYY-MM-DD`, `kind` a [`DayKind::code`], `name` 1 to 20 characters. A holiday may
    /// fall on a weekend; a make-up working day must fall on a Saturday or Sunday. Returns every field's problem.
    pub fn parse(date: &str, kind: &str, name: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let date = errors.take(parse_date("date", date));
        let kind = errors.take(DayKind::parse(kind));
        let name = errors.take(parse_name("name", "名称", name, Self::NAME_MAX));
        if let (Some(d), Some(DayKind::MakeupWorkday)) = (date, kind)
            && !is_weekend(d)
        {
            errors.push("date", "调休上班日应为周六或周日");
        }
        match (date, kind, name) {
            (Some(date), Some(kind), Some(name)) if errors.is_empty() => Ok(Self { date, kind, name }),
            _ => Err(errors.0),
        }
    }
}

/// Parses exactly `YYYY-MM-DD` (surrounding blanks allowed) into a real date.
pub fn parse_date(field: &'static str, raw: &str) -> Result<NaiveDate, FieldError> {
    let raw = raw.trim();
    let b = raw.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    shaped
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| FieldError::new(field, "请填写有效的日期,格式为 YYYY-MM-DD"))
}

/// True on Saturday and Sunday.
pub fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The official national holidays and make-up days of 2025 and 2026, one row per day, in date order.
///
/// Sources, both published in full by 新华社:
/// - 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号, 2024-11-12);
/// - 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04).
///
/// Every day of each holiday range is listed, weekends included, so that the table reads like the notices.
pub const OFFICIAL_DAYS: &[(&str, DayKind, &str)] = &[
    // 2025 年(国办发明电〔2024〕12号)
    // 元旦:1月1日(周三)放假1天,不调休。
    ("2025-01-01", DayKind::Holiday, "元旦"),
    // 春节:1月28日(除夕、周二)至2月4日(周二)放假调休,共8天。1月26日(周日)、2月8日(周六)上班。
    ("2025-01-26", DayKind::MakeupWorkday, "春节"),
    ("2025-01-28", DayKind::Holiday, "春节"),
    ("2025-01-29", DayKind::Holiday, "春节"),
    ("2025-01-30", DayKind::Holiday, "春节"),
    ("2025-01-31", DayKind::Holiday, "春节"),
    ("2025-02-01", DayKind::Holiday, "春节"),
    ("2025-02-02", DayKind::Holiday, "春节"),
    ("2025-02-03", DayKind::Holiday, "春节"),
    ("2025-02-04", DayKind::Holiday, "春节"),
    ("2025-02-08", DayKind::MakeupWorkday, "春节"),
    // 清明节:4月4日(周五)至6日(周日)放假,共3天。
    ("2025-04-04", DayKind::Holiday, "清明节"),
    ("2025-04-05", DayKind::Holiday, "清明节"),
    ("2025-04-06", DayKind::Holiday, "清明节"),
    // 劳动节:5月1日(周四)至5日(周一)放假调休,共5天。4月27日(周日)上班。
    ("2025-04-27", DayKind::MakeupWorkday, "劳动节"),
    ("2025-05-01", DayKind::Holiday, "劳动节"),
    ("2025-05-02", DayKind::Holiday, "劳动节"),
    ("2025-05-03", DayKind::Holiday, "劳动节"),
    ("2025-05-04", DayKind::Holiday, "劳动节"),
    ("2025-05-05", DayKind::Holiday, "劳动节"),
    // 端午节:5月31日(周六)至6月2日(周一)放假,共3天。
    ("2025-05-31", DayKind::Holiday, "端午节"),
    ("2025-06-01", DayKind::Holiday, "端午节"),
    ("2025-06-02", DayKind::Holiday, "端午节"),
    // 国庆节、中秋节:10月1日(周三)至8日(周三)放假调休,共8天。9月28日(周日)、10月11日(周六)上班。
    ("2025-09-28", DayKind::MakeupWorkday, "国庆节、中秋节"),
    ("2025-10-01", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-02", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-03", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-04", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-05", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-06", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-07", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-08", DayKind::Holiday, "国庆节、中秋节"),
    ("2025-10-11", DayKind::MakeupWorkday, "国庆节、中秋节"),
    // 2026 年(2025年11月4日通知)
    // 元旦:1月1日(周四)至3日(周六)放假调休,共3天。1月4日(周日)上班。
    ("2026-01-01", DayKind::Holiday, "元旦"),
    ("2026-01-02", DayKind::Holiday, "元旦"),
    ("2026-01-03", DayKind::Holiday, "元旦"),
    ("2026-01-04", DayKind::MakeupWorkday, "元旦"),
    // 春节:2月15日(周日)至23日(周一)放假调休,共9天。2月14日(周六)、2月28日(周六)上班。
    ("2026-02-14", DayKind::MakeupWorkday, "春节"),
    ("2026-02-15", DayKind::Holiday, "春节"),
    ("2026-02-16", DayKind::Holiday, "春节"),
    ("2026-02-17", DayKind::Holiday, "春节"),
    ("2026-02-18", DayKind::Holiday, "春节"),
    ("2026-02-19", DayKind::Holiday, "春节"),
    ("2026-02-20", DayKind::Holiday, "春节"),
    ("2026-02-21", DayKind::Holiday, "春节"),
    ("2026-02-22", DayKind::Holiday, "春节"),
    ("2026-02-23", DayKind::Holiday, "春节"),
    ("2026-02-28", DayKind::MakeupWorkday, "春节"),
    // 清明节:4月4日(周六)至6日(周一)放假,共3天。
    ("2026-04-04", DayKind::Holiday, "清明节"),
    ("2026-04-05", DayKind::Holiday, "清明节"),
    ("2026-04-06", DayKind::Holiday, "清明节"),
    // 劳动节:5月1日(周五)至5日(周二)放假调休,共5天。5月9日(周六)上班。
    ("2026-05-01", DayKind::Holiday, "劳动节"),
    ("2026-05-02", DayKind::Holiday, "劳动节"),
    ("2026-05-03", DayKind::Holiday, "劳动节"),
    ("2026-05-04", DayKind::Holiday, "劳动节"),
    ("2026-05-05", DayKind::Holiday, "劳动节"),
    ("2026-05-09", DayKind::MakeupWorkday, "劳动节"),
    // 端午节:6月19日(周五)至21日(周日)放假,共3天。
    ("2026-06-19", DayKind::Holiday, "端午节"),
    ("2026-06-20", DayKind::Holiday, "端午节"),
    ("2026-06-21", DayKind::Holiday, "端午节"),
    // 国庆节:10月1日(周四)至7日(周三)放假调休,共7天。9月20日(周日)、10月10日(周六)上班。
    ("2026-09-20", DayKind::MakeupWorkday, "国庆节"),
    // 中秋节:9月25日(周五)至27日(周日)放假,共3天。
    ("2026-09-25", DayKind::Holiday, "中秋节"),
    ("2026-09-26", DayKind::Holiday, "中秋节"),
    ("2026-09-27", DayKind::Holiday, "中秋节"),
    // 国庆节(续)
    ("2026-10-01", DayKind::Holiday, "国庆节"),
    ("2026-10-02", DayKind::Holiday, "国庆节"),
    ("2026-10-03", DayKind::Holiday, "国庆节"),
    ("2026-10-04", DayKind::Holiday, "国庆节"),
    ("2026-10-05", DayKind::Holiday, "国庆节"),
    ("2026-10-06", DayKind::Holiday, "国庆节"),
    ("2026-10-07", DayKind::Holiday, "国庆节"),
    ("2026-10-10", DayKind::MakeupWorkday, "国庆节"),
];

/// The most working days [`HolidayCalendar::add_working_days`] will add; larger requests are cut to this.
pub const MAX_WORKING_DAYS: u32 = 3650;

/// The most calendar days [`HolidayCalendar::add_working_days`] scans (20 years), so that a calendar with too few
/// working days cannot make it run for ever.
pub const MAX_SCAN_DAYS: u32 = 7305;

/// The organizer applies at least this many calendar days before the event (条例 art 13).
pub const LEAD_TIME_DAYS: i64 = 20;

/// Holidays and make-up working days; every other day is a working day from Monday to Friday and a rest day on
/// Saturday and Sunday.
#[derive(Debug, Clone, Default)]
pub struct HolidayCalendar {
    days: BTreeMap<NaiveDate, DayKind>,
}

impl HolidayCalendar {
    /// A calendar of `entries`; when a date appears more than once, the last entry wins.
    pub fn new(entries: impl IntoIterator<Item = (NaiveDate, DayKind)>) -> Self {
        Self { days: entries.into_iter().collect() }
    }

    /// The calendar of [`OFFICIAL_DAYS`].
    pub fn official() -> Self {
        Self::new(
            OFFICIAL_DAYS
                .iter()
                .filter_map(|(d, kind, _)| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok().map(|d| (d, *kind))),
        )
    }

    /// The calendar entry for `d`, if any.
    pub fn kind(&self, d: NaiveDate) -> Option<DayKind> {
        self.days.get(&d).copied()
    }

    /// All entries, in date order.
    pub fn entries(&self) -> impl Iterator<Item = (NaiveDate, DayKind)> + '_ {
        self.days.iter().map(|(d, k)| (*d, *k))
    }

    /// True when `d` is a working day: Monday to Friday unless a holiday; Saturday and Sunday only when a make-up
    /// working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.kind(d) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::MakeupWorkday) => true,
            None => !is_weekend(d),
        }
    }

    /// The date on which `n` working days after `start` have passed (start itself not counted); n = 0 → start.
    ///
    /// `n` is cut to [`MAX_WORKING_DAYS`]. When the working days are not found within [`MAX_SCAN_DAYS`] calendar
    /// days (or before the last date chrono knows), the last date scanned is returned; callers that must tell can
    /// compare [`HolidayCalendar::working_days_between`] of `start` and the result with `n`.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut left = n.min(MAX_WORKING_DAYS);
        let mut day = start;
        let mut scanned = 0;
        while left > 0 && scanned < MAX_SCAN_DAYS {
            let Some(next) = day.succ_opt() else { break };
            day = next;
            scanned += 1;
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Working days in (from, to]; negative when to < from (count of working days in (to, from], negated); 0 when
    /// equal. Counts without walking day by day, so any two dates are fine.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to <= from {
            return if to == from { 0 } else { -self.working_days_between(to, from) };
        }
        let days = Self::calendar_days_between(from, to);
        // Weekdays among the `days` days after `from`: five a week, then the days of the last, partial week.
        let first = i64::from(from.weekday().num_days_from_monday());
        let partial = (1..=days % 7).filter(|k| (first + k) % 7 < 5).count() as i64;
        let weekdays = days / 7 * 5 + partial;
        let adjust: i64 = self
            .days
            .range((Excluded(from), Included(to)))
            .map(|(d, kind)| match (kind, is_weekend(*d)) {
                (DayKind::Holiday, false) => -1,
                (DayKind::MakeupWorkday, true) => 1,
                _ => 0,
            })
            .sum();
        weekdays + adjust
    }

    /// Calendar days from `from` to `to` (to - from), for the 20-day lead time; negative when to < from.
    pub fn calendar_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
        to.signed_duration_since(from).num_days()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Day-by-day count of (from, to], to check the arithmetic of `working_days_between`.
    fn naive_between(cal: &HolidayCalendar, from: NaiveDate, to: NaiveDate) -> i64 {
        let (lo, hi, sign) = if from <= to { (from, to, 1) } else { (to, from, -1) };
        sign * lo.iter_days().skip(1).take_while(|x| *x <= hi).filter(|x| cal.is_working_day(*x)).count() as i64
    }

    #[test]
    fn kind_codes() {
        for kind in DayKind::ALL {
            assert_eq!(DayKind::parse(kind.code()), Ok(kind));
        }
        assert_eq!(DayKind::Holiday.code(), "holiday");
        assert_eq!(DayKind::MakeupWorkday.code(), "workday");
        assert_eq!(DayKind::Holiday.label(), "放假");
        assert_eq!(DayKind::MakeupWorkday.label(), "调休上班");
        assert_eq!(DayKind::parse(" workday "), Ok(DayKind::MakeupWorkday));
        for bad in ["", "Holiday", "放假", "rest"] {
            assert_eq!(DayKind::parse(bad).unwrap_err().field, "kind", "{bad:?}");
        }
    }

    #[test]
    fn official_table_is_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        let mut previous = None;
        for (date, kind, name) in OFFICIAL_DAYS {
            let entry = DayEntry::parse(date, kind.code(), name).unwrap_or_else(|e| panic!("{date}: {e:?}"));
            assert_eq!((entry.kind, entry.name.as_str()), (*kind, *name));
            if *kind == DayKind::MakeupWorkday {
                assert!(is_weekend(entry.date), "{date} is a make-up day on a weekday");
            }
            assert!(seen.insert(entry.date), "{date} appears twice");
            assert!(previous < Some(entry.date), "{date} is out of order");
            previous = Some(entry.date);
        }
        assert_eq!(HolidayCalendar::official().entries().count(), OFFICIAL_DAYS.len());
    }

    #[test]
    fn official_table_matches_the_notices() {
        // (year, festival, days off "共N天", make-up days) as the two notices state them.
        let expected = [
            ("2025", "元旦", 1, 0),
            ("2025", "春节", 8, 2),
            ("2025", "清明节", 3, 0),
            ("2025", "劳动节", 5, 1),
            ("2025", "端午节", 3, 0),
            ("2025", "国庆节、中秋节", 8, 2),
            ("2026", "元旦", 3, 1),
            ("2026", "春节", 9, 2),
            ("2026", "清明节", 3, 0),
            ("2026", "劳动节", 5, 1),
            ("2026", "端午节", 3, 0),
            ("2026", "中秋节", 3, 0),
            ("2026", "国庆节", 7, 2),
        ];
        let count = |year: &str, name: &str, kind: DayKind| {
            OFFICIAL_DAYS.iter().filter(|(d, k, n)| d.starts_with(year) && *n == name && *k == kind).count()
        };
        for (year, name, off, makeup) in expected {
            assert_eq!(count(year, name, DayKind::Holiday), off, "{year} {name}");
            assert_eq!(count(year, name, DayKind::MakeupWorkday), makeup, "{year} {name}");
        }
        let total: usize = expected.iter().map(|(_, _, off, makeup)| off + makeup).sum();
        assert_eq!(total, OFFICIAL_DAYS.len());
        // Working days in each year, counted from the notices: 365 days, less weekends and holidays, plus make-ups.
        let cal = HolidayCalendar::official();
        assert_eq!(cal.working_days_between(d("2024-12-31"), d("2025-12-31")), 248);
        assert_eq!(cal.working_days_between(d("2025-12-31"), d("2026-12-31")), 248);
    }

    #[test]
    fn working_days() {
        let cal = HolidayCalendar::official();
        for (date, working) in [
            ("2026-03-02", true),  // Monday
            ("2026-03-06", true),  // Friday
            ("2026-03-07", false), // Saturday
            ("2026-03-08", false), // Sunday
            ("2026-02-16", false), // Monday in 春节
            ("2026-02-23", false), // Monday, last day of 春节
            ("2026-02-24", true),  // Tuesday after 春节
            ("2026-02-14", true),  // Saturday, 春节 make-up day
            ("2026-01-04", true),  // Sunday, 元旦 make-up day
            ("2026-04-04", false), // Saturday in 清明节
            ("2025-10-08", false), // Wednesday in 国庆节、中秋节
            ("2025-10-11", true),  // Saturday, make-up day
            ("2025-01-01", false), // Wednesday, 元旦
            ("2027-01-01", true),  // Friday; 2027 is not in the table
        ] {
            assert_eq!(cal.is_working_day(d(date)), working, "{date}");
        }
        let plain = HolidayCalendar::default();
        assert!(plain.is_working_day(d("2026-02-16")));
        assert!(!plain.is_working_day(d("2026-02-14")));
    }

    #[test]
    fn adding_working_days() {
        let cal = HolidayCalendar::official();
        // Accepted Thursday 2026-02-12: 13 Fri (1), 14 Sat make-up (2), 15–23 春节 off, 24 Tue (3), 25 (4),
        // 26 (5), 27 Fri (6), 28 Sat make-up (7). March: 2 Mon (8), …, 18 Wed (20).
        for (start, n, expected) in [
            ("2026-02-12", 0, "2026-02-12"),
            ("2026-02-12", 1, "2026-02-13"),
            ("2026-02-12", 2, "2026-02-14"),
            ("2026-02-12", 3, "2026-02-24"),
            ("2026-02-12", 7, "2026-02-28"),
            ("2026-02-12", 8, "2026-03-02"),
            ("2026-02-12", 20, "2026-03-18"),
            ("2026-02-15", 1, "2026-02-24"), // start on a holiday
            ("2026-02-15", 0, "2026-02-15"),
            ("2026-03-02", 5, "2026-03-09"),
            ("2026-03-06", 1, "2026-03-09"), // Friday → Monday
            ("2026-03-07", 1, "2026-03-09"), // Saturday → Monday
            ("2025-12-31", 1, "2026-01-04"), // over 元旦 to its Sunday make-up day
            ("2025-12-31", 2, "2026-01-05"),
            ("2025-09-26", 1, "2025-09-28"), // Friday → Sunday make-up day
            ("2025-09-26", 4, "2025-10-09"),
            ("2025-09-26", 6, "2025-10-11"),
            ("2025-09-26", 7, "2025-10-13"),
            ("2026-09-24", 1, "2026-09-28"), // over 中秋节
        ] {
            assert_eq!(cal.add_working_days(d(start), n), d(expected), "{start} + {n}");
        }
    }

    #[test]
    fn counting_working_days_between() {
        let cal = HolidayCalendar::official();
        for (from, to, expected) in [
            ("2026-02-12", "2026-02-12", 0),
            ("2026-02-12", "2026-02-28", 7),
            ("2026-02-12", "2026-03-18", 20),
            ("2026-02-14", "2026-02-23", 0), // make-up day itself not counted, then 春节
            ("2026-02-13", "2026-02-14", 1),
            ("2026-03-06", "2026-03-09", 1),
            ("2026-03-07", "2026-03-08", 0),
            ("2026-04-03", "2026-04-10", 4), // 清明节 Saturday holiday not taken off twice
            ("2025-09-26", "2025-10-13", 7),
        ] {
            let (from, to) = (d(from), d(to));
            assert_eq!(cal.working_days_between(from, to), expected, "{from} → {to}");
            assert_eq!(cal.working_days_between(to, from), -expected, "{to} → {from}");
        }
    }

    #[test]
    fn counting_agrees_with_walking() {
        let cal = HolidayCalendar::official();
        let base = d("2024-12-20");
        for i in 0..70 {
            let from = base + chrono::Days::new(i * 11);
            for j in 0..40 {
                let to = from + chrono::Days::new(j * 5);
                assert_eq!(cal.working_days_between(from, to), naive_between(&cal, from, to), "{from} → {to}");
                assert_eq!(cal.working_days_between(to, from), naive_between(&cal, to, from), "{to} → {from}");
            }
            for n in 0..30 {
                let end = cal.add_working_days(from, n);
                assert_eq!(cal.working_days_between(from, end), i64::from(n), "{from} + {n}");
                assert!(n == 0 || cal.is_working_day(end), "{from} + {n} = {end}");
            }
        }
    }

    #[test]
    fn calendar_days() {
        for (from, to, expected) in [
            ("2026-02-12", "2026-02-12", 0),
            ("2026-02-12", "2026-03-04", 20),
            ("2026-03-04", "2026-02-12", -20),
            ("2024-02-28", "2024-03-01", 2),
        ] {
            assert_eq!(HolidayCalendar::calendar_days_between(d(from), d(to)), expected, "{from} → {to}");
        }
    }

    #[test]
    fn pathological_input_terminates() {
        let cal = HolidayCalendar::official();
        let start = d("2026-02-12");
        assert_eq!(cal.add_working_days(start, u32::MAX), cal.add_working_days(start, MAX_WORKING_DAYS));
        assert_eq!(cal.add_working_days(NaiveDate::MAX, 5), NaiveDate::MAX);
        assert_eq!(cal.working_days_between(NaiveDate::MAX, NaiveDate::MAX), 0);
        let span = cal.working_days_between(NaiveDate::MIN, NaiveDate::MAX);
        assert_eq!(span, -cal.working_days_between(NaiveDate::MAX, NaiveDate::MIN));
        assert!(span > 0);
        // Thirty years without a working day: the scan stops after MAX_SCAN_DAYS.
        let all_off = HolidayCalendar::new(start.iter_days().take(30 * 366).map(|x| (x, DayKind::Holiday)));
        let end = all_off.add_working_days(start, 1);
        assert_eq!(HolidayCalendar::calendar_days_between(start, end), i64::from(MAX_SCAN_DAYS));
        assert_eq!(all_off.working_days_between(start, end), 0);
    }

    #[test]
    fn later_entries_win() {
        let cal =
            HolidayCalendar::new([(d("2026-03-07"), DayKind::Holiday), (d("2026-03-07"), DayKind::MakeupWorkday)]);
        assert!(cal.is_working_day(d("2026-03-07")));
        assert_eq!(cal.kind(d("2026-03-07")), Some(DayKind::MakeupWorkday));
    }

    #[test]
    fn entries_from_forms() {
        let ok = DayEntry::parse(" 2026-02-14 ", "workday", " 春节 ").unwrap();
        assert_eq!(ok, DayEntry { date: d("2026-02-14"), kind: DayKind::MakeupWorkday, name: "春节".into() });
        // A holiday may fall on a weekend.
        assert_eq!(DayEntry::parse("2026-04-04", "holiday", "清明节").unwrap().kind, DayKind::Holiday);
        let long = "节".repeat(DayEntry::NAME_MAX + 1);
        for (date, kind, name, fields) in [
            ("2026-13-01", "holiday", "春节", "date"),
            ("2026-02-30", "holiday", "春节", "date"),
            ("2026/02/15", "holiday", "春节", "date"),
            ("2026-2-15", "holiday", "春节", "date"),
            ("+2026-02-15", "holiday", "春节", "date"),
            ("", "holiday", "春节", "date"),
            ("2026-02-15", "holiday", "", "name"),
            ("2026-02-15", "holiday", "   ", "name"),
            ("2026-02-15", "holiday", "<script>", "name"),
            ("2026-02-15", "holiday", "a\u{7}b", "name"),
            ("2026-02-15", "holiday", long.as_str(), "name"),
            ("2026-02-18", "workday", "春节", "date"), // Wednesday
            ("2026-02-15", "rest", "春节", "kind"),
            ("2026-13-01", "rest", "", "date kind name"),
            ("2026-02-18", "workday", "<b>", "name date"),
        ] {
            let errors = DayEntry::parse(date, kind, name).unwrap_err();
            let got: Vec<&str> = errors.iter().map(|e| e.field).collect();
            assert_eq!(got.join(" "), fields, "{date:?} {kind:?} {name:?}");
        }
        let weekday = DayEntry::parse("2026-02-18", "workday", "春节").unwrap_err();
        assert_eq!(weekday[0].message, "调休上班日应为周六或周日");
    }
}
