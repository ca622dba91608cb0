//! HTML for decision documents: the wording of each kind, filled from a [`DecisionDocument`].
//!
//! The markup carries classes only — the site's CSP forbids inline styles — and is laid out by `static/print.css`.

use maud::{DOCTYPE, Markup, html};

use super::{DecisionDocument, DocumentKind};

/// The remedy sentence of a refusal (行政许可法 art 38 para 2; 行政复议法 art 20; 行政诉讼法 art 46).
const REMEDY_DECISION: &str =
    "如不服本决定，可以在收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。";

/// The remedy sentence of a non-acceptance notice.
const REMEDY_NOTICE: &str =
    "如不服本决定，可以在收到本通知书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。";

/// The duties of a permit holder (条例 arts 11, 15 and 20).
const PERMIT_DUTIES: &str = "请你单位严格落实安全工作方案和各项安全措施，按照许可的时间、地点、内容和人数举办活动，\
                             不得擅自变更活动的时间、地点、内容或者扩大活动的举办规模。确需变更活动时间的，\
                             应当在原定举办活动时间之前向本机关申请变更，经同意方可变更；变更活动地点、内容或者\
                             扩大举办规模的，应当依照《大型群众性活动安全管理条例》的规定重新申请安全许可。\
                             活动举办期间，应当接受公安机关的监督检查，发现安全隐患及时消除，\
                             发现可能危及公共安全的情况立即报告公安机关。";

/// The document as a standalone A4 HTML page (full document, `/static/print.css`, no scripts, no inline styles), used
/// both for printing on the intranet and as the file inside result bundles.
pub fn render_page(doc: &DecisionDocument) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (doc.kind.title()) " " (doc.number) }
                link rel="stylesheet" href="/static/print.css";
            }
            body.print-page {
                p.no-print.print-hint {
                    "本页为 A4 打印版式。请使用浏览器的“打印”功能（Ctrl+P）打印，纸张选择 A4，边距选择“默认”，"
                    "并取消勾选“页眉和页脚”。"
                }
                main.sheet { (render_article(doc)) }
            }
        }
    }
}

/// The body part only (an `<article class="document">`), for embedding in the activity details page.
pub fn render_article(doc: &DecisionDocument) -> Markup {
    html! {
        article.document data-kind=(doc.kind.code()) {
            header.doc-head {
                p.doc-issuer { (doc.bureau_name) }
                h1.doc-title { (doc.kind.title()) }
                p.doc-number { (doc.number) }
            }
            div.doc-body {
                p.doc-addressee { (doc.organizer) "：" }
                (body(doc))
            }
            footer.doc-sign {
                div.doc-seal { "（印章）" }
                p.doc-sign-bureau { (doc.bureau_name) }
                p.doc-sign-date { (doc.issued_on) }
            }
            p.doc-note { "本文书一式两份，一份交承办者，一份附卷。" }
        }
    }
}

/// The paragraphs after the addressee, by kind.
fn body(doc: &DecisionDocument) -> Markup {
    match doc.kind {
        DocumentKind::AcceptanceNotice => html! {
            p {
                "你单位申请举办" (subject(doc)) "的大型群众性活动安全许可申请，申请材料齐全、符合法定形式。"
                "根据《中华人民共和国行政许可法》第三十二条第一款第五项的规定，本机关决定予以受理。"
            }
            p {
                "本机关将依照《大型群众性活动安全管理条例》第十四条的规定，自受理之日起七个工作日内对申请进行审查，"
                "对活动场所进行查验，并作出准予安全许可或者不予安全许可的决定，书面通知你单位。"
                "审查期间，请你单位保持联系畅通，配合做好场所查验等工作。"
            }
            (facts(doc, "申请事项：", "每场申请人数"))
            (opinion("其他事项：", &doc.reasons))
        },
        DocumentKind::NonAcceptanceNotice => html! {
            p { "你单位申请举办" (subject(doc)) "的大型群众性活动安全许可申请，经审查，存在下列情形：" }
            (reasons(&doc.reasons))
            p { "根据《中华人民共和国行政许可法》第三十二条第一款的规定，本机关决定不予受理。" }
            (facts(doc, "申请事项：", "每场申请人数"))
            p { (REMEDY_NOTICE) }
        },
        DocumentKind::Permit => html! {
            p {
                "你单位申请举办的" (subject(doc)) "，经审查，符合《大型群众性活动安全管理条例》规定的安全条件。"
                "根据《大型群众性活动安全管理条例》第十四条的规定，决定准予安全许可。"
            }
            (facts(doc, "许可事项：", "每场核准人数"))
            p { (PERMIT_DUTIES) }
            (opinion("审查意见：", &doc.reasons))
        },
        DocumentKind::Refusal => html! {
            p {
                "你单位申请举办的" (subject(doc)) "，经审查，不符合《大型群众性活动安全管理条例》规定的安全条件，"
                "理由如下："
            }
            (reasons(&doc.reasons))
            p {
                "根据《大型群众性活动安全管理条例》第十四条和《中华人民共和国行政许可法》第三十八条第二款的规定，"
                "决定不予安全许可。"
            }
            (facts(doc, "申请事项：", "每场申请人数"))
            p { (REMEDY_DECISION) }
        },
    }
}

/// “{activity}”（{kind}）, the kind left out when blank.
fn subject(doc: &DecisionDocument) -> Markup {
    let kind = doc.activity_kind.trim();
    html! {
        "“" (doc.activity_name.trim()) "”"
        @if !kind.is_empty() { "（" (kind) "）" }
    }
}

/// The table of the application's particulars.
fn facts(doc: &DecisionDocument, heading: &str, attendance_label: &str) -> Markup {
    let venues: Vec<&str> = doc.venues.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    let time = match (doc.start.trim(), doc.end.trim()) {
        ("", "") => "—".to_string(),
        (start, "") => start.to_string(),
        ("", end) => format!("至{end}"),
        (start, end) => format!("{start}至{end}"),
    };
    let credit_code = doc.organizer_credit_code.trim();
    html! {
        p.doc-facts-heading { (heading) }
        table.doc-facts {
            tbody {
                tr { th scope="row" { "活动名称" } td { (or_dash(&doc.activity_name)) } }
                tr { th scope="row" { "活动类型" } td { (or_dash(&doc.activity_kind)) } }
                tr { th scope="row" { "活动时间" } td { (time) } }
                tr {
                    th scope="row" { "活动地点" }
                    td { @if venues.is_empty() { "—" } @else { (venues.join("、")) } }
                }
                tr { th scope="row" { "场次" } td { (doc.sessions) " 场" } }
                tr { th scope="row" { (attendance_label) } td { (doc.attendance) " 人" } }
                tr { th scope="row" { "承办者" } td { (or_dash(&doc.organizer)) } }
                @if !credit_code.is_empty() {
                    tr { th scope="row" { "统一社会信用代码" } td { (credit_code) } }
                }
                tr { th scope="row" { "负责人" } td { (or_dash(&doc.contact_name)) } }
                tr { th scope="row" { "联系电话" } td { (or_dash(&doc.contact_mobile)) } }
            }
        }
    }
}

/// The trimmed text, or a dash when blank.
fn or_dash(s: &str) -> &str {
    let s = s.trim();
    if s.is_empty() { "—" } else { s }
}

/// The non-blank lines of `text`, trimmed.
fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

/// The reasons of a negative decision, one paragraph a line; a visible gap when none were written.
fn reasons(text: &str) -> Markup {
    let lines = lines(text);
    html! {
        @if lines.is_empty() {
            p.doc-reasons.doc-missing { "（未填写理由）" }
        } @else {
            @for line in lines { p.doc-reasons { (line) } }
        }
    }
}

/// An optional opinion under a heading; nothing when blank.
fn opinion(heading: &str, text: &str) -> Markup {
    let lines = lines(text);
    html! {
        @if !lines.is_empty() {
            p { (heading) }
            @for line in lines { p.doc-reasons { (line) } }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A complete document of `kind` for tests.
    pub(in crate::documents) fn sample(kind: DocumentKind) -> DecisionDocument {
        let reasons = match kind {
            DocumentKind::NonAcceptanceNotice => "申请事项不属于本机关职权范围，请向杭州市公安局提出申请。",
            DocumentKind::Refusal => "一、活动场所疏散通道宽度不符合要求；\n  \n二、安全工作人员数量不足。",
            DocumentKind::Permit => "入场安检通道不少于 12 条。",
            DocumentKind::AcceptanceNotice => "",
        };
        DecisionDocument {
            kind,
            number: crate::documents::document_number("浙杭西湖", kind, 2026, 12),
            bureau_name: "杭州市公安局西湖区分局".into(),
            organizer: "杭州西湖文化演艺有限公司".into(),
            organizer_credit_code: "91330106MA27XL0E27".into(),
            contact_name: "王明".into(),
            contact_mobile: "13800000000".into(),
            activity_name: "2026西湖新年音乐会".into(),
            activity_kind: "演唱会、音乐会等文艺演出".into(),
            start: "2026年12月20日 19:30".into(),
            end: "2026年12月20日 22:00".into(),
            venues: vec!["杭州黄龙体育中心体育场".into(), " ".into(), "黄龙体育中心东广场".into()],
            sessions: 1,
            attendance: 30000,
            reasons: reasons.into(),
            issued_on: "2026年12月3日".into(),
        }
    }

    #[test]
    fn every_kind_shows_title_number_organizer_and_seal() {
        for kind in DocumentKind::ALL {
            let doc = sample(kind);
            let html = render_page(&doc).into_string();
            assert!(html.starts_with("<!DOCTYPE html>"), "{kind:?}");
            assert!(html.contains(kind.title()), "{kind:?}");
            assert!(html.contains(&doc.number), "{kind:?}");
            assert!(html.contains("杭州西湖文化演艺有限公司："), "{kind:?}");
            assert!(html.contains("杭州市公安局西湖区分局"), "{kind:?}");
            assert!(html.contains("2026年12月3日"), "{kind:?}");
            assert!(html.contains("（印章）"), "{kind:?}");
            assert!(html.contains("杭州黄龙体育中心体育场、黄龙体育中心东广场"), "{kind:?}");
            assert!(html.contains(r#"href="/static/print.css""#), "{kind:?}");
            assert!(!html.contains("<script"), "{kind:?}");
            assert!(!html.contains("style="), "{kind:?}");
            assert!(!html.contains("<style"), "{kind:?}");
        }
    }

    #[test]
    fn negative_kinds_state_reasons_and_remedies() {
        for kind in [DocumentKind::NonAcceptanceNotice, DocumentKind::Refusal] {
            let doc = sample(kind);
            let html = render_page(&doc).into_string();
            for line in lines(&doc.reasons) {
                assert!(html.contains(line), "{kind:?}: {line}");
            }
            assert!(html.contains("行政复议"), "{kind:?}");
            assert!(html.contains("行政诉讼"), "{kind:?}");
            assert!(html.contains("六十日内"), "{kind:?}");
            assert!(html.contains("六个月内"), "{kind:?}");
        }
        let refusal = render_article(&sample(DocumentKind::Refusal)).into_string();
        assert!(refusal.contains(REMEDY_DECISION));
        assert!(refusal.contains("第三十八条"));
        assert!(refusal.contains("每场申请人数"));
        for kind in [DocumentKind::AcceptanceNotice, DocumentKind::Permit] {
            assert!(!render_article(&sample(kind)).into_string().contains("行政复议"), "{kind:?}");
        }
    }

    #[test]
    fn permit_and_acceptance_wording() {
        let permit = render_article(&sample(DocumentKind::Permit)).into_string();
        assert!(permit.contains("决定准予安全许可"));
        assert!(permit.contains("每场核准人数"));
        assert!(permit.contains("30000 人"));
        assert!(permit.contains("审查意见："));
        assert!(permit.contains("入场安检通道不少于 12 条。"));
        let notice = render_article(&sample(DocumentKind::AcceptanceNotice)).into_string();
        assert!(notice.contains("决定予以受理"));
        assert!(notice.contains("七个工作日内"));
        assert!(notice.contains("第十四条"));
        assert!(!notice.contains("其他事项："), "no heading for a blank opinion");
    }

    #[test]
    fn blank_reasons_on_a_refusal_are_visible() {
        let mut doc = sample(DocumentKind::Refusal);
        doc.reasons = " \n ".into();
        assert!(render_article(&doc).into_string().contains("（未填写理由）"));
    }

    #[test]
    fn article_is_embeddable() {
        let html = render_article(&sample(DocumentKind::Permit)).into_string();
        assert!(html.starts_with(r#"<article class="document" data-kind="permit">"#));
        assert!(!html.contains("<html"));
        assert!(!html.contains("no-print"));
    }

    #[test]
    fn user_text_is_escaped() {
        let mut doc = sample(DocumentKind::Refusal);
        doc.activity_name = "<script>alert(1)</script>".into();
        doc.organizer = "A&B \"公司\"".into();
        doc.reasons = "<img src=x onerror=alert(1)>".into();
        let html = render_page(&doc).into_string();
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("A&amp;B &quot;公司&quot;"));
    }
}
