//! 审计日志: audit administrators browse and filter the log of their region and below. Read-only: no route
//! changes it. Every view first verifies the whole hash chain (`store::audit::verify`) and says whether it is intact
//! or names the first broken record in a warning.

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::{NaiveDate, TimeDelta};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::{AppError, encode_query};
use super::layout::{FieldExtra, notice, page, pager, select_field, text_field};
use super::session::Ctx;
use crate::clock::{beijing_day_start, beijing_secs};
use crate::domain::FieldErrors;
use crate::domain::user::Permission;
use crate::store::audit::{self, AuditFilter, ChainReport};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(audit_log))
}

/// Action codes and their Chinese names.
pub const ACTIONS: &[(&str, &str)] = &[
    ("login", "登录"),
    ("logout", "退出"),
    ("password.change", "修改密码"),
    ("user.create", "添加用户"),
    ("stats.export", "导出统计报表"),
    ("permits.export", "导出活动列表"),
    ("user.update", "修改用户"),
    ("user.freeze", "冻结用户"),
    ("user.unfreeze", "解冻用户"),
    ("role.create", "添加审批角色"),
    ("role.update", "修改审批角色"),
    ("role.delete", "删除审批角色"),
    ("pass_pre_review", "通过初审"),
    ("return_pre_review", "退回初审"),
    ("accept", "受理"),
    ("not_accept", "不予受理"),
    ("step_pass", "审批通过"),
    ("step_return", "审批退回"),
    ("step_deny", "不许可"),
    ("survey.create", "添加踏勘记录"),
    ("inspection.create", "添加检查记录"),
    ("flow.save", "保存审批流程"),
    ("scale.set", "修改规模配置"),
    ("calendar.set", "设置节假日"),
    ("calendar.remove", "删除节假日"),
    ("sms.save", "保存短信模版"),
    ("exchange.export", "导出审批结果文件"),
    ("exchange.import", "导入申请文件"),
    ("exchange.trust_key", "导入外网公钥"),
    ("materials.save", "保存材料清单"),
    ("materials.reset", "恢复使用上级材料清单"),
    ("sms.retry", "重发短信"),
    ("sms.gateway", "设置短信网关"),
    ("portal.submit", "提交申请"),
    ("portal.filing", "提交备案"),
    ("security.policy", "修改安全策略"),
    ("user.unlock", "解锁账号"),
];

fn action_label(code: &str) -> &str {
    ACTIONS.iter().find(|(c, _)| *c == code).map_or(code, |(_, l)| l)
}

const PER_PAGE: u32 = 50;

#[derive(Debug, Deserialize, Default)]
struct AuditQuery {
    from: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    result: Option<String>,
    page: Option<u32>,
}

async fn audit_log(State(app): State<AppState>, ctx: Ctx, Query(q): Query<AuditQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::ReadAudit)?;
    let mut errors = FieldErrors::default();
    let mut date = |field: &'static str, raw: &Option<String>| match raw.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(field, "日期格式应为 年-月-日，例如 2026-12-01");
                None
            }
        },
    };
    let from = date("from", &q.from);
    let until = date("until", &q.until);
    let action = q.action.as_deref().filter(|a| ACTIONS.iter().any(|(c, _)| c == a)).map(str::to_string);
    let result = q.result.as_deref().filter(|r| matches!(*r, "ok" | "refused")).map(str::to_string);
    let actor = q
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(32).collect::<String>().to_ascii_lowercase());
    let page_no = q.page.unwrap_or(0).min(100_000);
    let filter = AuditFilter {
        scope_path: app.regions.path_key(ctx.user.region),
        province: ctx.user.region == app.regions.root().adcode,
        from: from.map(beijing_day_start),
        until: until.map(|d| beijing_day_start(d) + TimeDelta::days(1)),
        actor: actor.clone(),
        action: action.clone(),
        result: result.clone(),
        page: page_no,
        per_page: PER_PAGE,
    };
    let found = app.store.read(move |c| audit::list(c, &filter)).await?;
    let chain = app.store.read(audit::verify).await?;
    let mut action_opts = vec![(String::new(), "全部操作".to_string())];
    action_opts.extend(ACTIONS.iter().map(|(c, l)| (c.to_string(), l.to_string())));
    let result_opts =
        [("", "全部结果"), ("ok", "成功"), ("refused", "被拒绝")].map(|(a, b)| (a.to_string(), b.to_string()));
    let fmt_date = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let base_query = format!(
        "from={}&until={}&actor={}&action={}&result={}",
        fmt_date(from),
        fmt_date(until),
        encode_query(actor.as_deref().unwrap_or("")),
        action.as_deref().unwrap_or(""),
        result.as_deref().unwrap_or("")
    );
    Ok(page(
        &ctx,
        "/audit",
        "审计日志",
        html! {
            div.page-head { h1 { "审计日志" } }
            (chain_status(&chain))
            (notice(Some("审计日志只可查阅，任何人都不能修改或删除；每条记录都带有前一条记录的 SM3 哈希，任何改动都会被发现。")))
            form.filters.card method="get" action="/audit" {
                @if ctx.embed { input type="hidden" name="embed" value="1"; }
                (text_field("from", "开始日期", &q.from.clone().unwrap_or_default(), &errors, "date", FieldExtra::default()))
                (text_field("until", "结束日期", &q.until.clone().unwrap_or_default(), &errors, "date", FieldExtra::default()))
                (text_field("actor", "操作人", actor.as_deref().unwrap_or(""), &errors, "search", FieldExtra { maxlength: Some(32), ..FieldExtra::default() }))
                (select_field("action", "操作", action.as_deref().unwrap_or(""), &action_opts, &errors, false))
                (select_field("result", "结果", result.as_deref().unwrap_or(""), &result_opts, &errors, false))
                button type="submit" { "查询" }
            }
            div.card.table-wrap {
                table.data {
                    caption.sr-only { "审计记录" }
                    thead { tr { th { "序号" } th { "时间" } th { "操作人" } th { "所属地区" } th { "来源地址" } th { "操作" } th { "对象" } th { "结果" } th { "详情" } } }
                    tbody {
                        @for r in &found.rows {
                            tr {
                                td.num { (r.id) }
                                td.nowrap { (beijing_secs(r.at)) }
                                td { (r.actor_login) }
                                td { (r.actor_region.map(|a| app.regions.name(a)).unwrap_or_else(|| "—".into())) }
                                td { (r.source) }
                                td { (action_label(&r.action)) }
                                td { (r.object) }
                                td { @if r.result == "ok" { span.tag.tag-ok { "成功" } } @else { span.tag.tag-danger { "被拒绝" } } }
                                td { (r.detail) }
                            }
                        }
                        @if found.rows.is_empty() { tr { td.empty colspan="9" { "没有符合条件的记录" } } }
                    }
                }
            }
            (pager(&ctx, "/audit", &base_query, page_no, PER_PAGE, found.total))
        },
    ))
}

/// The chain's state over the whole log (not only the reader's region): intact with the number of records verified,
/// or the first broken record as an alert.
fn chain_status(chain: &ChainReport) -> Markup {
    html! {
        @if let Some(broken) = &chain.broken {
            div.form-error id="audit-chain" role="alert" {
                strong { "审计链已被篡改：" } (broken.zh())
                "。此前 " (chain.checked) " 条记录完好，共 " (chain.total) " 条。请立即报告，并保留数据库文件以便调查。"
            }
        } @else {
            div.notice id="audit-chain" role="status" { "审计链完整（已校验 " (chain.checked) " 条）" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ACTIONS;

    /// Every dotted audit action code written anywhere in the store has a Chinese label on the audit page.
    #[test]
    fn every_audited_action_has_a_label() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("action: \"").skip(1) {
                let code = part.split('"').next().unwrap_or_default();
                if code.contains('.') && !ACTIONS.iter().any(|(c, _)| *c == code) {
                    missing.push(format!("{}: {code}", path.display()));
                }
            }
        }
        assert!(missing.is_empty(), "audit actions without a label: {missing:?}");
    }
}
