//! SMS templates 短信模版 (消息管理): the one-line texts sent to organizers after pre-review, acceptance and
//! approval, with named placeholders such as `{活动名称}` filled in when a message is sent.

use std::collections::HashMap;

use super::FieldError;

/// The longest template, in characters.
pub const TEXT_MAX_LEN: usize = 300;

/// Which message a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmsKind {
    /// 初审短信模版: sent when pre-review passes or returns an application.
    PreReview,
    /// 受理短信模版: sent when an application is accepted or not.
    Acceptance,
    /// 审批短信模版: sent when approval ends.
    Approval,
}

impl SmsKind {
    /// Every kind, in the order of the application's life.
    pub const ALL: [SmsKind; 3] = [Self::PreReview, Self::Acceptance, Self::Approval];

    /// The code used in storage and URLs.
    pub fn code(self) -> &'static str {
        match self {
            Self::PreReview => "pre_review",
            Self::Acceptance => "acceptance",
            Self::Approval => "approval",
        }
    }

    /// The name shown on pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::PreReview => "初审短信模版",
            Self::Acceptance => "受理短信模版",
            Self::Approval => "审批短信模版",
        }
    }

    /// The kind with this [`code`](Self::code).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Named placeholders, written `{活动名称}` in templates: (name, description).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("活动名称", "申请许可的活动名称"),
    ("承办单位", "承办单位名称"),
    ("审批结果", "本环节的结果，如 通过、退回、已受理、不予受理、准予许可、不予许可"),
    ("意见", "审核意见或退回、不予受理、不许可的理由"),
    ("地址", "办理或领取文书的地点"),
    ("联系电话", "咨询电话"),
    ("提交材料", "需要携带或补交的材料"),
    ("日期", "办理期限，如 2025年6月1日"),
    ("文号", "许可或受理文书的文号"),
];

/// Sample values for [`SmsTemplate::preview`], in the order of [`PLACEHOLDERS`].
const SAMPLES: &[(&str, &str)] = &[
    ("活动名称", "西湖草地音乐节"),
    ("承办单位", "杭州某某文化传媒有限公司"),
    ("审批结果", "已受理"),
    ("意见", "材料齐全，符合受理条件"),
    ("地址", "西湖区公安分局治安大队（某某路 1 号）"),
    ("联系电话", "0571-87000000"),
    ("提交材料", "营业执照副本、安全工作方案"),
    ("日期", "2025年6月1日"),
    ("文号", "西公（治）许字〔2025〕第 001 号"),
];

/// One piece of a template: literal text, or a known placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Slot(&'static str),
}

/// Splits `text` into literal text and placeholders, or says in Chinese what is wrong with its braces.
fn scan(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        if rest[at..].starts_with('}') {
            return Err("「}」前缺少对应的「{」，占位符应写作 {活动名称} 的形式".to_string());
        }
        let after = &rest[at + 1..];
        let Some(end) = after.find(['{', '}']).filter(|&end| after[end..].starts_with('}')) else {
            return Err("「{」后缺少对应的「}」，占位符应写作 {活动名称} 的形式".to_string());
        };
        let name = &after[..end];
        let Some(&(known, _)) = PLACEHOLDERS.iter().find(|(n, _)| *n == name) else {
            return Err(format!("未知的占位符 {{{name}}}，可用：{}", available()));
        };
        pieces.push(Piece::Slot(known));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// The known placeholders as written in templates, e.g. `{活动名称}、{承办单位}、…`.
fn available() -> String {
    PLACEHOLDERS.iter().map(|(name, _)| format!("{{{name}}}")).collect::<Vec<_>>().join("、")
}

/// A checked SMS template: one line of 1..=[`TEXT_MAX_LEN`] characters whose placeholders are all known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsTemplate {
    kind: SmsKind,
    text: String,
}

impl SmsTemplate {
    /// Parses a template (trimmed): 1..=300 characters; every `{…}` must be a known placeholder; braces balanced;
    /// a single line without control characters. Errors are for the field `text`.
    pub fn parse(kind: SmsKind, text: &str) -> Result<Self, FieldError> {
        let err = |message: String| FieldError::new("text", message);
        let text = text.trim();
        if text.is_empty() {
            return Err(err("请填写短信内容".to_string()));
        }
        if text.chars().count() > TEXT_MAX_LEN {
            return Err(err(format!("短信内容不能超过 {TEXT_MAX_LEN} 个字符")));
        }
        if text.chars().any(char::is_control) {
            return Err(err("短信内容须为一行，不能包含换行或控制字符".to_string()));
        }
        scan(text).map_err(err)?;
        Ok(Self { kind, text: text.to_string() })
    }

    /// The template used until an administrator saves another.
    pub fn default_for(kind: SmsKind) -> Self {
        let text = match kind {
            SmsKind::PreReview => {
                "【安许】{承办单位}：您提交的“{活动名称}”安全许可申请初审{审批结果}，意见：{意见}。\
                 咨询电话{联系电话}。"
            }
            SmsKind::Acceptance => {
                "【安许】{承办单位}：您申请的“{活动名称}”{审批结果}。请于{日期}前携带{提交材料}到{地址}领取受理文书，\
                 咨询电话{联系电话}。"
            }
            SmsKind::Approval => {
                "【安许】{承办单位}：您申请的“{活动名称}”审批结果为{审批结果}（文号{文号}），意见：{意见}。\
                 请于{日期}前到{地址}领取文书，咨询电话{联系电话}。"
            }
        };
        // The defaults are checked by the tests; build directly rather than re-parse.
        Self { kind, text: text.to_string() }
    }

    /// The template text, with its placeholders.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Which message it is for.
    pub fn kind(&self) -> SmsKind {
        self.kind
    }

    /// The checked pieces of the text. A template that somehow fails the scan is all literal text.
    fn pieces(&self) -> Vec<Piece<'_>> {
        scan(&self.text).unwrap_or_else(|_| vec![Piece::Text(&self.text)])
    }

    /// Fills placeholders from `values` (missing ones become empty). Control characters in values become spaces so
    /// the message stays one line.
    pub fn render(&self, values: &HashMap<&str, String>) -> String {
        let mut out = String::with_capacity(self.text.len());
        for piece in self.pieces() {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Slot(name) => {
                    let value = values.get(name).map(String::as_str).unwrap_or("");
                    out.extend(value.trim().chars().map(|c| if c.is_control() { ' ' } else { c }));
                }
            }
        }
        out
    }

    /// A preview with sample values.
    pub fn preview(&self) -> String {
        let values: HashMap<&str, String> = SAMPLES.iter().map(|&(name, value)| (name, value.to_string())).collect();
        self.render(&values)
    }

    /// Placeholders this template uses, each once, in order of first use.
    pub fn used(&self) -> Vec<&'static str> {
        let mut used = Vec::new();
        for piece in self.pieces() {
            if let Piece::Slot(name) = piece
                && !used.contains(&name)
            {
                used.push(name);
            }
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SmsTemplate, FieldError> {
        SmsTemplate::parse(SmsKind::Acceptance, text)
    }

    #[test]
    fn kinds() {
        for kind in SmsKind::ALL {
            assert_eq!(SmsKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(SmsKind::parse("nope"), None);
        let labels: Vec<_> = SmsKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels, ["初审短信模版", "受理短信模版", "审批短信模版"]);
    }

    #[test]
    fn tables_agree() {
        let names: Vec<_> = PLACEHOLDERS.iter().map(|p| p.0).collect();
        let samples: Vec<_> = SAMPLES.iter().map(|p| p.0).collect();
        assert_eq!(names, samples);
        assert_eq!(names.len(), 9);
        assert!(names.iter().all(|n| !n.contains(['{', '}'])));
    }

    #[test]
    fn unknown_placeholder() {
        let e = parse("请到{地点}办理").unwrap_err();
        assert_eq!(e.field, "text");
        assert!(e.message.starts_with("未知的占位符 {地点}，可用：{活动名称}、{承办单位}、"), "{}", e.message);
        assert!(e.message.ends_with("{文号}"), "{}", e.message);
        assert!(parse("{}").unwrap_err().message.contains("未知的占位符 {}"));
        assert!(parse("{ 活动名称 }").unwrap_err().message.contains("{ 活动名称 }"));
    }

    #[test]
    fn refused() {
        let check = |text: &str, fragment: &str| {
            let e = parse(text).expect_err(text);
            assert_eq!(e.field, "text");
            assert!(e.message.contains(fragment), "{text:?}: {}", e.message);
        };
        check("{活动名称", "缺少对应的「}」");
        check("活动名称}", "缺少对应的「{」");
        check("{活动名称}}", "缺少对应的「{」");
        check("{活动{名称}", "缺少对应的「}」");
        check("{{活动名称}}", "缺少对应的「}」");
        check("", "请填写");
        check("   ", "请填写");
        check(&"字".repeat(TEXT_MAX_LEN + 1), "不能超过 300 个字符");
        check("第一行\n第二行", "一行");
        check("a\tb", "一行");
    }

    #[test]
    fn accepted() {
        let t = parse(&"字".repeat(TEXT_MAX_LEN)).unwrap();
        assert_eq!(t.used(), Vec::<&str>::new());
        let t = parse("  {活动名称}已受理，{活动名称}请于{日期}前办理  ").unwrap();
        assert_eq!(t.text(), "{活动名称}已受理，{活动名称}请于{日期}前办理");
        assert_eq!(t.kind(), SmsKind::Acceptance);
        assert_eq!(t.used(), ["活动名称", "日期"]);
    }

    #[test]
    fn render_fills_every_placeholder() {
        let t = parse("{承办单位}：“{活动名称}”{审批结果}，咨询{联系电话}").unwrap();
        let values = HashMap::from([
            ("承办单位", "某某公司".to_string()),
            ("活动名称", "音乐节".to_string()),
            ("审批结果", "已许可".to_string()),
            ("联系电话", "0571-1\n2".to_string()),
        ]);
        let out = t.render(&values);
        assert_eq!(out, "某某公司：“音乐节”已许可，咨询0571-1 2");
        assert!(!out.contains(['{', '}']));
        // Missing values become empty.
        assert_eq!(t.render(&HashMap::new()), "：“”，咨询");
    }

    #[test]
    fn defaults() {
        for kind in SmsKind::ALL {
            let t = SmsTemplate::default_for(kind);
            assert_eq!(t.kind(), kind);
            assert_eq!(SmsTemplate::parse(kind, t.text()).as_ref(), Ok(&t));
            let preview = t.preview();
            assert!(!preview.contains(['{', '}']), "{preview}");
            assert!(preview.contains("西湖草地音乐节"), "{preview}");
            assert!(t.used().contains(&"活动名称") && t.used().contains(&"联系电话"));
        }
        let acceptance = SmsTemplate::default_for(SmsKind::Acceptance);
        assert_eq!(
            acceptance.text(),
            "【安许】{承办单位}：您申请的“{活动名称}”{审批结果}。请于{日期}前携带{提交材料}到{地址}领取受理文书，咨询电话{联系电话}。"
        );
        assert_eq!(acceptance.used(), ["承办单位", "活动名称", "审批结果", "日期", "提交材料", "地址", "联系电话"]);
    }
}
