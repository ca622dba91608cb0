//! The security policy: password rule, lock-out and session lifetimes. Every number is a setting with the
//! default the foundation issue names; the security administrator (安全管理员) changes them within the bounds
//! below, and the store keeps every version (`store::policy`).

use std::ops::RangeInclusive;

use chrono::{NaiveDateTime, TimeDelta};

use super::{FieldError, FieldErrors};

/// Password, lock-out and session rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// Minimum password length in characters.
    pub password_min_len: usize,
    /// How many of the four character classes a password needs.
    pub password_classes: usize,
    /// Failed sign-ins in a row that lock the account.
    pub lockout_after: i32,
    /// How long a lock lasts.
    pub lockout_for: TimeDelta,
    /// A session ends after this long without a request.
    pub session_idle: TimeDelta,
    /// A session ends this long after sign-in, whatever happens.
    pub session_absolute: TimeDelta,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            password_min_len: 8,
            password_classes: 3,
            lockout_after: 5,
            lockout_for: TimeDelta::minutes(15),
            session_idle: TimeDelta::minutes(30),
            session_absolute: TimeDelta::hours(8),
        }
    }
}

/// The longest password accepted (hashing cost grows with length).
pub const PASSWORD_MAX_LEN: usize = 64;

/// One setting of the policy form: field name, label, unit, and the bounds the security administrator may choose.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The form field's name.
    pub field: &'static str,
    /// The Chinese label.
    pub label: &'static str,
    /// The unit shown after the value.
    pub unit: &'static str,
    /// The values allowed.
    pub range: RangeInclusive<i64>,
}

/// 密码最小长度 (characters).
pub const MIN_LEN: Setting =
    Setting { field: "password_min_len", label: "密码最小长度", unit: "个字符", range: 8..=32 };
/// 密码字符类别 (of lower case, upper case, digits, symbols).
pub const CLASSES: Setting =
    Setting { field: "password_classes", label: "密码须含字符类别数", unit: "类", range: 3..=4 };
/// 登录失败锁定次数.
pub const LOCKOUT_AFTER: Setting =
    Setting { field: "lockout_after", label: "连续登录失败锁定次数", unit: "次", range: 3..=10 };
/// 锁定时长 (minutes).
pub const LOCKOUT_MINUTES: Setting =
    Setting { field: "lockout_minutes", label: "锁定时长", unit: "分钟", range: 5..=1440 };
/// 会话空闲超时 (minutes).
pub const IDLE_MINUTES: Setting =
    Setting { field: "session_idle_minutes", label: "会话空闲超时", unit: "分钟", range: 5..=120 };
/// 会话最长时长 (hours).
pub const ABSOLUTE_HOURS: Setting =
    Setting { field: "session_absolute_hours", label: "会话最长时长", unit: "小时", range: 1..=24 };

/// Every setting, in the order of the form.
pub const SETTINGS: [&Setting; 6] =
    [&MIN_LEN, &CLASSES, &LOCKOUT_AFTER, &LOCKOUT_MINUTES, &IDLE_MINUTES, &ABSOLUTE_HOURS];

impl Setting {
    /// Parses a form value: a whole number within the bounds.
    pub fn parse(&self, raw: &str) -> Result<i64, FieldError> {
        let v = raw.trim();
        if v.is_empty() {
            return Err(FieldError::new(self.field, format!("请填写{}", self.label)));
        }
        let (lo, hi) = (self.range.start(), self.range.end());
        let n: i64 = v.parse().map_err(|_| {
            FieldError::new(self.field, format!("{}应为整数，取值 {lo} 到 {hi} {}", self.label, self.unit))
        })?;
        if !self.range.contains(&n) {
            return Err(FieldError::new(
                self.field,
                format!("{}应在 {lo} 到 {hi} {}之间，不能为 {n}", self.label, self.unit),
            ));
        }
        Ok(n)
    }

    /// A stored value forced into the bounds, so that a row changed behind the program's back cannot switch the
    /// rules off.
    fn bound(&self, v: i64) -> i64 {
        v.clamp(*self.range.start(), *self.range.end())
    }
}

impl SecurityPolicy {
    /// Parses the 安全策略 form: the six values in the order of [`SETTINGS`]. Every field is checked; the idle
    /// timeout may not exceed the absolute session lifetime.
    pub fn parse(raw: [&str; 6]) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let [a, b, c, d, f, g] = raw;
        let min_len = e.take(MIN_LEN.parse(a));
        let classes = e.take(CLASSES.parse(b));
        let lockout_after = e.take(LOCKOUT_AFTER.parse(c));
        let lockout_minutes = e.take(LOCKOUT_MINUTES.parse(d));
        let idle = e.take(IDLE_MINUTES.parse(f));
        let absolute = e.take(ABSOLUTE_HOURS.parse(g));
        if let (Some(idle), Some(absolute)) = (idle, absolute)
            && idle > absolute * 60
        {
            e.push(IDLE_MINUTES.field, "会话空闲超时不能长于会话最长时长");
        }
        match (min_len, classes, lockout_after, lockout_minutes, idle, absolute) {
            (Some(a), Some(b), Some(c), Some(d), Some(f), Some(g)) if e.is_empty() => {
                Ok(Self::from_values([a, b, c, d, f, g]))
            }
            _ => Err(e),
        }
    }

    /// The policy of stored values (in the order of [`SETTINGS`]), each forced into its bounds.
    pub fn from_stored(values: [i64; 6]) -> Self {
        let mut v = values;
        for (x, s) in v.iter_mut().zip(SETTINGS) {
            *x = s.bound(*x);
        }
        Self::from_values(v)
    }

    /// Values known to be within bounds.
    fn from_values([min_len, classes, lockout_after, lockout_minutes, idle, absolute]: [i64; 6]) -> Self {
        Self {
            password_min_len: usize::try_from(min_len).unwrap_or(8),
            password_classes: usize::try_from(classes).unwrap_or(3),
            lockout_after: i32::try_from(lockout_after).unwrap_or(5),
            lockout_for: TimeDelta::minutes(lockout_minutes),
            session_idle: TimeDelta::minutes(idle),
            session_absolute: TimeDelta::hours(absolute),
        }
    }

    /// The six values in the order of [`SETTINGS`] (for storage and the form).
    pub fn values(&self) -> [i64; 6] {
        [
            i64::try_from(self.password_min_len).unwrap_or(i64::MAX),
            i64::try_from(self.password_classes).unwrap_or(i64::MAX),
            i64::from(self.lockout_after),
            self.lockout_for.num_minutes(),
            self.session_idle.num_minutes(),
            self.session_absolute.num_hours(),
        ]
    }

    /// What changed from `self` to `new`, e.g. `连续登录失败锁定次数 5→3 次`, for the audit log.
    pub fn changes_to(&self, new: &SecurityPolicy) -> Vec<String> {
        SETTINGS
            .iter()
            .zip(self.values().into_iter().zip(new.values()))
            .filter(|(_, (a, b))| a != b)
            .map(|(s, (a, b))| format!("{} {a}→{b} {}", s.label, s.unit))
            .collect()
    }

    /// The password rule in words, for hints under password fields.
    pub fn password_hint(&self) -> String {
        format!(
            "{} 到 {PASSWORD_MAX_LEN} 个字符，包含小写字母、大写字母、数字、符号中的至少 {} 类",
            self.password_min_len, self.password_classes
        )
    }

    /// Checks a new password against the rule: at least `password_min_len` characters and
    /// `password_classes` of lower case, upper case, digits and other printable characters.
    pub fn check_password(&self, field: &'static str, password: &str) -> Result<(), FieldError> {
        let n = password.chars().count();
        if n < self.password_min_len || n > PASSWORD_MAX_LEN {
            return Err(FieldError::new(
                field,
                format!("密码长度应为 {} 到 {PASSWORD_MAX_LEN} 个字符", self.password_min_len),
            ));
        }
        if password.chars().any(|c| c.is_control()) {
            return Err(FieldError::new(field, "密码不能包含控制字符"));
        }
        let classes = [
            password.chars().any(|c| c.is_ascii_lowercase()),
            password.chars().any(|c| c.is_ascii_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_ascii_alphanumeric()),
        ];
        if classes.iter().filter(|&&b| b).count() < self.password_classes {
            return Err(FieldError::new(
                field,
                format!("密码需包含小写字母、大写字母、数字、符号中的至少 {} 类", self.password_classes),
            ));
        }
        Ok(())
    }

    /// Whether a session created at `created` and last used at `last_seen` is still alive at `now`.
    pub fn session_alive(&self, created: NaiveDateTime, last_seen: NaiveDateTime, now: NaiveDateTime) -> bool {
        now - last_seen <= self.session_idle && now - created <= self.session_absolute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rule() {
        let p = SecurityPolicy::default();
        for (pw, ok) in [
            ("Abcdefg1", true),
            ("abcdefg1!", true),
            ("ABCDEFG1!", true),
            ("abcdefgh", false),
            ("abcdefg1", false),
            ("Abc1!", false),
            ("密码密码Abc12", true),
            (&"Aa1!".repeat(17), false),
        ] {
            assert_eq!(p.check_password("password", pw).is_ok(), ok, "{pw:?}");
        }
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let p = SecurityPolicy::parse(["10", "4", "3", "60", "20", "4"]).unwrap();
        assert_eq!(p.password_min_len, 10);
        assert_eq!(p.password_classes, 4);
        assert_eq!(p.lockout_after, 3);
        assert_eq!(p.lockout_for, TimeDelta::minutes(60));
        assert_eq!(p.session_idle, TimeDelta::minutes(20));
        assert_eq!(p.session_absolute, TimeDelta::hours(4));
        assert_eq!(p.values(), [10, 4, 3, 60, 20, 4]);
        assert_eq!(SecurityPolicy::parse(["8", "3", "5", "15", "30", "8"]).unwrap(), SecurityPolicy::default());
        for (raw, field) in [
            (["7", "3", "5", "15", "30", "8"], "password_min_len"),
            (["33", "3", "5", "15", "30", "8"], "password_min_len"),
            (["8", "2", "5", "15", "30", "8"], "password_classes"),
            (["8", "3", "11", "15", "30", "8"], "lockout_after"),
            (["8", "3", "2", "15", "30", "8"], "lockout_after"),
            (["8", "3", "5", "4", "30", "8"], "lockout_minutes"),
            (["8", "3", "5", "1441", "30", "8"], "lockout_minutes"),
            (["8", "3", "5", "15", "121", "8"], "session_idle_minutes"),
            (["8", "3", "5", "15", "90", "1"], "session_idle_minutes"),
            (["8", "3", "5", "15", "30", "25"], "session_absolute_hours"),
            (["8", "3", "5", "15", "30", ""], "session_absolute_hours"),
            (["8", "3", "五", "15", "30", "8"], "lockout_after"),
            (["8", "3", "5.5", "15", "30", "8"], "lockout_after"),
            (["8", "3", "99999999999999999999", "15", "30", "8"], "lockout_after"),
        ] {
            let e = SecurityPolicy::parse(raw).unwrap_err();
            assert_eq!(e.0.len(), 1, "{raw:?}: {e:?}");
            assert_eq!(e.0[0].field, field, "{raw:?}");
            assert!(!e.0[0].message.is_empty());
        }
        assert_eq!(SecurityPolicy::parse(["", "", "", "", "", ""]).unwrap_err().0.len(), 6);
    }

    #[test]
    fn stored_values_are_forced_into_bounds_and_changes_are_named() {
        let p = SecurityPolicy::from_stored([0, 0, 1000, 0, 0, 0]);
        assert_eq!(p.values(), [8, 3, 10, 5, 5, 1]);
        let d = SecurityPolicy::default();
        let mut q = d.clone();
        q.lockout_after = 3;
        assert_eq!(d.changes_to(&q), vec!["连续登录失败锁定次数 5→3 次".to_string()]);
        assert!(d.changes_to(&d).is_empty());
        assert!(d.password_hint().contains("8 到 64"));
    }

    #[test]
    fn session_lifetimes() {
        let p = SecurityPolicy::default();
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        let m = TimeDelta::minutes;
        assert!(p.session_alive(t0, t0 + m(10), t0 + m(40)));
        assert!(!p.session_alive(t0, t0 + m(10), t0 + m(41)));
        assert!(p.session_alive(t0, t0 + m(470), t0 + m(480)));
        assert!(!p.session_alive(t0, t0 + m(470), t0 + m(481)));
    }
}
