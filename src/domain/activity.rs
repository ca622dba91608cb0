//! What an application is about: the kind of large public activity (《大型群众性活动安全管理条例》第二条), the
//! organiser's 统一社会信用代码 and the expected attendance of a session.

use super::FieldError;

/// The largest attendance any form accepts, for one session and for every threshold of 规模配置.
pub const MAX_ATTENDANCE: u32 = 10_000_000;

/// The six legal kinds of large public activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    /// 体育比赛活动
    Sports,
    /// 演唱会、音乐会等文艺演出活动
    Performance,
    /// 展览、展销等活动
    Exhibition,
    /// 游园、灯会、庙会、花会、焰火晚会等活动
    Festival,
    /// 人才招聘会
    JobFair,
    /// 现场开奖的彩票销售等活动
    Lottery,
}

/// Code, label and short label of each kind, in the order of the enum's variants.
const KIND_TEXTS: [(&str, &str, &str); 6] = [
    ("sports", "体育比赛", "体育比赛"),
    ("performance", "演唱会、音乐会等文艺演出", "文艺演出"),
    ("exhibition", "展览、展销", "展览展销"),
    ("festival", "游园、灯会、庙会、花会、焰火晚会", "游园灯会"),
    ("job_fair", "人才招聘会", "人才招聘"),
    ("lottery", "现场开奖的彩票销售", "彩票开奖"),
];

impl ActivityKind {
    /// Every kind, in the order of the law.
    pub const ALL: [ActivityKind; 6] =
        [Self::Sports, Self::Performance, Self::Exhibition, Self::Festival, Self::JobFair, Self::Lottery];

    fn texts(self) -> (&'static str, &'static str, &'static str) {
        KIND_TEXTS[self as usize]
    }

    /// The code used in forms and storage, e.g. `job_fair`.
    pub fn code(self) -> &'static str {
        self.texts().0
    }

    /// The wording of the law, e.g. 人才招聘会.
    pub fn label(self) -> &'static str {
        self.texts().1
    }

    /// A four-character label for tables and filters, e.g. 人才招聘.
    pub fn short_label(self) -> &'static str {
        self.texts().2
    }

    /// Parses a code from a form (field `kind`).
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(FieldError::new("kind", "请选择活动类型"));
        }
        Self::ALL.into_iter().find(|k| k.code() == raw).ok_or_else(|| FieldError::new("kind", "请选择有效的活动类型"))
    }
}

/// The 31 characters of a credit code, each worth its index (GB 32100-2015: no I, O, Z, S, V).
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weights of the first 17 characters.
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// 统一社会信用代码 (GB 32100-2015), 18 characters with its check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses a code from a form (field `credit_code`): trimmed, letters uppercased, check digit verified.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let err = |message: String| FieldError::new("credit_code", message);
        let value = raw.trim().to_ascii_uppercase();
        if value.is_empty() {
            return Err(err("请填写统一社会信用代码".into()));
        }
        let len = value.chars().count();
        if len != 18 {
            return Err(err(format!("统一社会信用代码应为 18 位，当前为 {len} 位")));
        }
        let mut values = [0u32; 18];
        for (slot, c) in values.iter_mut().zip(value.chars()) {
            let index = u8::try_from(c).ok().and_then(|b| CREDIT_CHARSET.iter().position(|&x| x == b));
            let Some(index) = index else {
                return Err(err(format!(
                    "统一社会信用代码含有无效字符“{c}”，只能由数字和除 I、O、S、V、Z 以外的大写字母组成"
                )));
            };
            *slot = index as u32;
        }
        let sum: u32 = values.iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
        let check = (31 - sum % 31) % 31;
        if values[17] != check {
            return Err(err("统一社会信用代码校验位不正确，请核对后重新填写".into()));
        }
        Ok(Self(value))
    }

    /// The 18 characters, uppercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Expected attendance of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attendance(u32);

impl Attendance {
    /// Parses a positive whole number of people, at most [`MAX_ATTENDANCE`].
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        parse_count(field, "每场预计人数", raw).map(Self)
    }

    /// The number of people.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Parses a count of people for the form field `field` named `label` in messages: ASCII digits only (surrounding
/// spaces allowed), from 1 to [`MAX_ATTENDANCE`].
pub(crate) fn parse_count(field: &'static str, label: &str, raw: &str) -> Result<u32, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldError::new(field, format!("请填写{label}")));
    }
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, format!("{label}应为正整数")));
    }
    let digits = raw.trim_start_matches('0');
    let too_large = || FieldError::new(field, format!("{label}不能超过 {MAX_ATTENDANCE} 人"));
    if digits.len() > 8 {
        return Err(too_large());
    }
    let value: u32 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| too_large())? };
    if value == 0 {
        return Err(FieldError::new(field, format!("{label}应大于 0")));
    }
    if value > MAX_ATTENDANCE {
        return Err(too_large());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for (i, kind) in ActivityKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i, "ALL follows the variants");
            assert_eq!(ActivityKind::parse(kind.code()), Ok(kind));
            assert_eq!(ActivityKind::parse(&format!(" {} ", kind.code())), Ok(kind));
            assert!(kind.short_label().chars().count() == 4, "{kind:?}");
        }
        assert_eq!(ActivityKind::JobFair.code(), "job_fair");
        assert_eq!(ActivityKind::Festival.label(), "游园、灯会、庙会、花会、焰火晚会");
        assert_eq!(ActivityKind::Lottery.short_label(), "彩票开奖");
        for bad in ["", "  ", "Sports", "concert", "体育比赛"] {
            assert_eq!(ActivityKind::parse(bad).unwrap_err().field, "kind", "{bad:?}");
        }
    }

    // Check digits computed by hand, value × weight for the non-zero terms:
    //  91350100M000100Y4: 9+3+27+135+26+420+8+900+112 = 1640; 1640 mod 31 = 28; 31 − 28 = 3 → …Y43
    //  91330106MA27XL0E2: 9+3+27+81+26+102+420+290+50+91+232+480+420+56 = 2287; mod 31 = 24; 31 − 24 = 7 → …E27
    //  91110000100000589: 9+3+9+27+20+50+240+252 = 610; mod 31 = 21; 31 − 21 = 10 → A
    //  12100000400000398: 1+6+9+80+30+270+224 = 620; mod 31 = 0; 31 − 0 = 31 → 0
    const VALID: [&str; 4] = ["91350100M000100Y43", "91330106MA27XL0E27", "91110000100000589A", "121000004000003980"];

    #[test]
    fn credit_codes() {
        for code in VALID {
            assert_eq!(CreditCode::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(CreditCode::parse(" 91330106ma27xl0e27\t").unwrap().as_str(), "91330106MA27XL0E27");
        assert_eq!(CreditCode::parse("91110000100000589a").unwrap().as_str(), "91110000100000589A");

        let message = |raw: &str| {
            let e = CreditCode::parse(raw).unwrap_err();
            assert_eq!(e.field, "credit_code");
            e.message
        };
        // Each valid code with its last character changed to another valid character.
        for code in VALID {
            let mut changed = code[..17].to_string();
            changed.push(if code.ends_with('1') { '2' } else { '1' });
            assert!(message(&changed).contains("校验位"), "{changed}");
        }
        for bad in ["", "   "] {
            assert!(message(bad).contains("请填写"), "{bad:?}");
        }
        for bad in ["91350100M000100Y4", "91350100M000100Y433", "9135", "91350100M000100Y43 1"] {
            assert!(message(bad).contains("18 位"), "{bad:?}");
        }
        for c in ['I', 'O', 'S', 'V', 'Z', 'i', '-', '三'] {
            let bad = format!("91350100M00010{c}Y43");
            assert!(message(&bad).contains("无效字符"), "{bad:?}");
        }
    }

    #[test]
    fn attendance() {
        let cases: [(&str, Option<u32>); 12] = [
            (" 1200 ", Some(1200)),
            ("1", Some(1)),
            ("10000000", Some(10_000_000)),
            ("0012", Some(12)),
            ("0", None),
            ("000", None),
            ("-1", None),
            ("+5", None),
            ("abc", None),
            ("1e3", None),
            ("10000001", None),
            ("99999999999999999999", None),
        ];
        for (raw, expected) in cases {
            let got = Attendance::parse("attendance", raw);
            assert_eq!(got.as_ref().ok().map(|a| a.get()), expected, "{raw:?}");
            if let Err(e) = got {
                assert_eq!(e.field, "attendance");
            }
        }
        assert!(Attendance::parse("a", "").unwrap_err().message.contains("请填写"));
        assert!(Attendance::parse("a", "10000001").unwrap_err().message.contains("不能超过"));
        assert!(Attendance::parse("a", "1200").unwrap() < Attendance::parse("a", "5000").unwrap());
    }
}
