//! Time, injected so that deadlines, lock-outs and session expiry are testable.

use std::sync::Mutex;

use chrono::{NaiveDateTime, TimeDelta, Utc};

/// A source of the current time (UTC).
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> NaiveDateTime;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        // Microsecond precision, as DuckDB stores it, so that values read back compare equal.
        let now = Utc::now().naive_utc();
        now - TimeDelta::nanoseconds(i64::from(now.and_utc().timestamp_subsec_nanos() % 1000))
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<NaiveDateTime>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: NaiveDateTime) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: TimeDelta) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Shows a UTC time in Beijing time, e.g. `2026-12-03 18:05`.
pub fn beijing(t: NaiveDateTime) -> String {
    (t + TimeDelta::hours(8)).format("%Y-%m-%d %H:%M").to_string()
}

/// Shows a UTC time in Beijing time with seconds.
pub fn beijing_secs(t: NaiveDateTime) -> String {
    (t + TimeDelta::hours(8)).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The UTC start of a Beijing calendar day.
pub fn beijing_day_start(d: chrono::NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default() - TimeDelta::hours(8)
}
