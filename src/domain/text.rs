//! Free text from forms: names and descriptions that are shown on pages and in documents.

use super::FieldError;

/// Characters refused in names: markup and quoting characters have no place in a person's or a role's name.
const FORBIDDEN: &[char] = &['<', '>', '&', '"', '\'', '\\', '`'];

/// Parses a one-line name of 1..=`max` characters: trimmed, no control or markup characters.
pub fn parse_name(field: &'static str, label: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, format!("请填写{label}")));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("{label}不能超过 {max} 个字符")));
    }
    if value.chars().any(|c| c.is_control() || FORBIDDEN.contains(&c)) {
        return Err(FieldError::new(field, format!("{label}不能包含 < > & \" ' \\ ` 等特殊字符或控制字符")));
    }
    Ok(value.to_string())
}

/// Parses optional multi-line text of at most `max` characters (empty is allowed). Markup is allowed here
/// because pages always escape it; control characters other than line breaks and tabs are not.
pub fn parse_note(field: &'static str, label: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("{label}不能超过 {max} 个字符")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(FieldError::new(field, format!("{label}不能包含控制字符")));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let check = |raw: &str, ok: Option<&str>| {
            assert_eq!(parse_name("f", "名称", raw, 8).ok().as_deref(), ok, "{raw:?}");
        };
        check(" 张三 ", Some("张三"));
        check("", None);
        check("   ", None);
        check("<script>", None);
        check("a&b", None);
        check("一二三四五六七八", Some("一二三四五六七八"));
        check("一二三四五六七八九", None);
        check("a\u{7}b", None);
    }

    #[test]
    fn notes() {
        assert_eq!(parse_note("f", "说明", "", 5).unwrap(), "");
        assert_eq!(parse_note("f", "说明", "<b>\n", 5).unwrap(), "<b>");
        assert!(parse_note("f", "说明", "123456", 5).is_err());
        assert!(parse_note("f", "说明", "a\u{0}", 5).is_err());
    }
}
