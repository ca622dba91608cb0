//! The security policy: password rule, lock-out and session lifetimes. Every number is a setting with the
//! default the foundation issue names.

use chrono::{NaiveDateTime, TimeDelta};

use super::FieldError;

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

impl SecurityPolicy {
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
