//! Deadline marks: 受理 within `ACCEPTANCE_DAYS` working days of the submission for approval, each approval step
//! within its time limit, and the decision within `DECISION_DAYS` working days of acceptance. Times are stored in
//! UTC and counted by Beijing calendar days.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use maud::{Markup, html};

use crate::domain::calendar::HolidayCalendar;
use crate::domain::workflow::Status;
use crate::store::activities::ActivityRow;
use crate::store::workflow::{ACCEPTANCE_DAYS, DECISION_DAYS};

/// How close a deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Urgency {
    /// Today is after the due date: 已超期.
    Overdue,
    /// Due today or on the next working day: 即将到期.
    Soon,
    /// Later.
    Later,
}

/// One running deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Deadline {
    /// 受理, 本步 or 审批.
    pub label: &'static str,
    /// The last day (Beijing).
    pub due: NaiveDate,
    /// Seen from today.
    pub urgency: Urgency,
}

fn beijing_date(t: NaiveDateTime) -> NaiveDate {
    (t + TimeDelta::hours(8)).date()
}

/// How close `due` is on `today`.
pub(super) fn urgency(cal: &HolidayCalendar, today: NaiveDate, due: NaiveDate) -> Urgency {
    if today > due {
        Urgency::Overdue
    } else if due <= cal.add_working_days(today, 1) {
        Urgency::Soon
    } else {
        Urgency::Later
    }
}

/// The deadlines running in `status`: 受理中 → acceptance; 审批中 → the current step (when its limit is known) and the
/// whole decision (when the acceptance time is known); none otherwise.
pub(super) fn deadlines(
    cal: &HolidayCalendar,
    today: NaiveDate,
    status: Status,
    status_since: NaiveDateTime,
    accepted_at: Option<NaiveDateTime>,
    step_limit_days: Option<i64>,
) -> Vec<Deadline> {
    let make = |label: &'static str, start: NaiveDateTime, days: i64| {
        let due = cal.add_working_days(beijing_date(start), u32::try_from(days.max(0)).unwrap_or(u32::MAX));
        Deadline { label, due, urgency: urgency(cal, today, due) }
    };
    match status {
        Status::PendingAcceptance => vec![make("受理", status_since, ACCEPTANCE_DAYS)],
        Status::InApproval => {
            let mut out = Vec::new();
            if let Some(limit) = step_limit_days {
                out.push(make("本步", status_since, limit));
            }
            if let Some(accepted) = accepted_at {
                out.push(make("审批", accepted, DECISION_DAYS));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The deadlines of a list row.
pub(super) fn for_row(cal: &HolidayCalendar, today: NaiveDate, row: &ActivityRow) -> Vec<Deadline> {
    deadlines(cal, today, row.progress.status, row.status_since, row.accepted_at, row.step_limit_days)
}

/// The marks: 已超期 (danger), 即将到期 (warning), each with its due date; "—" when nothing runs.
pub(super) fn marks(list: &[Deadline]) -> Markup {
    html! {
        @for d in list {
            div.deadline {
                span.deadline-label { (d.label) "期限" }
                " "
                @match d.urgency {
                    Urgency::Overdue => { span.tag.tag-danger { "已超期" } " " },
                    Urgency::Soon => { span.tag.tag-warn { "即将到期" } " " },
                    Urgency::Later => {},
                }
                span.muted.deadline-date { (d.due.format("%Y-%m-%d")) }
            }
        }
        @if list.is_empty() { span.muted { "—" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A UTC time that is `h` o'clock in Beijing on the given day.
    fn beijing(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        day(y, m, d).and_hms_opt(h, 0, 0).unwrap() - TimeDelta::hours(8)
    }

    #[test]
    fn acceptance_deadline_by_working_days_and_urgency() {
        let cal = HolidayCalendar::official();
        // Submitted Tuesday 2026-12-01; five working days: 2, 3, 4, 7, 8 December.
        let since = beijing(2026, 12, 1, 10);
        let at = |today| deadlines(&cal, today, Status::PendingAcceptance, since, None, None);
        let first = at(day(2026, 12, 1));
        assert_eq!(first, vec![Deadline { label: "受理", due: day(2026, 12, 8), urgency: Urgency::Later }]);
        assert_eq!(at(day(2026, 12, 4))[0].urgency, Urgency::Later);
        // Monday 7 December: due on the next working day.
        assert_eq!(at(day(2026, 12, 7))[0].urgency, Urgency::Soon);
        assert_eq!(at(day(2026, 12, 8))[0].urgency, Urgency::Soon);
        assert_eq!(at(day(2026, 12, 9))[0].urgency, Urgency::Overdue);
    }

    #[test]
    fn utc_times_count_from_the_beijing_date() {
        let cal = HolidayCalendar::official();
        // 17:00 UTC on 1 December is 01:00 on 2 December in Beijing.
        let since = day(2026, 12, 1).and_hms_opt(17, 0, 0).unwrap();
        let d = deadlines(&cal, day(2026, 12, 2), Status::PendingAcceptance, since, None, None);
        assert_eq!(d[0].due, day(2026, 12, 9));
    }

    #[test]
    fn approval_has_a_step_and_an_overall_deadline_across_holidays() {
        let cal = HolidayCalendar::official();
        // Accepted Wednesday 2026-09-30; 1–7 October are holidays, Saturday 10 October is a make-up working day:
        // 8, 9, 10, 12, 13, 14, 15 → 15 October. The step (2 days) began on 12 October: 13, 14 → 14 October.
        let accepted = beijing(2026, 9, 30, 15);
        let step_since = beijing(2026, 10, 12, 9);
        let d = deadlines(&cal, day(2026, 10, 13), Status::InApproval, step_since, Some(accepted), Some(2));
        assert_eq!(
            d,
            vec![
                Deadline { label: "本步", due: day(2026, 10, 14), urgency: Urgency::Soon },
                Deadline { label: "审批", due: day(2026, 10, 15), urgency: Urgency::Later },
            ]
        );
        let d = deadlines(&cal, day(2026, 10, 16), Status::InApproval, step_since, Some(accepted), Some(2));
        assert!(d.iter().all(|d| d.urgency == Urgency::Overdue));
        // Without a known limit or acceptance time, only what is known.
        assert!(deadlines(&cal, day(2026, 10, 13), Status::InApproval, step_since, None, None).is_empty());
    }

    #[test]
    fn due_on_the_next_working_day_after_a_weekend_is_soon() {
        let cal = HolidayCalendar::official();
        // Friday 4 December 2026, due Monday 7 December.
        assert_eq!(urgency(&cal, day(2026, 12, 4), day(2026, 12, 7)), Urgency::Soon);
        assert_eq!(urgency(&cal, day(2026, 12, 4), day(2026, 12, 8)), Urgency::Later);
    }

    #[test]
    fn other_statuses_have_no_deadline() {
        let cal = HolidayCalendar::official();
        let since = beijing(2026, 12, 1, 10);
        for s in Status::ALL.into_iter().filter(|s| !matches!(s, Status::PendingAcceptance | Status::InApproval)) {
            assert!(deadlines(&cal, day(2027, 1, 1), s, since, Some(since), Some(3)).is_empty(), "{s:?}");
        }
        let html = marks(&[]).into_string();
        assert!(html.contains("—"));
        let overdue = Deadline { label: "受理", due: day(2026, 12, 8), urgency: Urgency::Overdue };
        let html = marks(&[overdue]).into_string();
        assert!(html.contains("tag-danger") && html.contains("已超期") && html.contains("2026-12-08"));
    }
}
