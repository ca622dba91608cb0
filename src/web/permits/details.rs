//! `GET /permits/{id}`: everything about one application on one page, with an in-page tab bar of anchor links
//! (works without JavaScript), and the buttons the user may use now.

use crate::web::layout::region_names;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::{MENU, Op, beijing_today, bureau_label, deadline, file_link, id_from, local, ops, status_tag};
use crate::clock::beijing;
use crate::documents::DocumentKind;
use crate::domain::user::Permission;
use crate::domain::workflow::{Status, action_label};
use crate::store::activities::{self, ActivityDetails, ActivityRow};
use crate::store::config;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{notice, page};
use crate::web::session::Ctx;

#[derive(Debug, Deserialize, Default)]
pub(super) struct DetailsQuery {
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "done" => Some("办理完成，结果已记录。"),
        "survey" => Some("踏勘记录已添加。"),
        "inspection" => Some("检查记录已添加。"),
        _ => None,
    }
}

/// The tabs: anchor and title.
const TABS: [(&str, &str); 7] = [
    ("basic", "基本信息"),
    ("materials", "报批材料"),
    ("assessments", "评估报告"),
    ("surveys", "踏勘详情"),
    ("inspections", "检查记录"),
    ("history", "审批明细"),
    ("documents", "文书"),
];

fn status_name(code: &str) -> &str {
    Status::parse(code).map_or(code, |s| s.label())
}

/// 用时/时限 of a history row, e.g. "2/3 个工作日", with an overdue tag when more was taken than allowed.
fn taken_cell(taken: Option<i64>, limit: Option<i64>) -> Markup {
    html! {
        @match (taken, limit) {
            (Some(t), Some(l)) => {
                (t) "/" (l) " 个工作日"
                @if t > l { " " span.tag.tag-danger { "超期" } }
            },
            (Some(t), None) => { (t) " 个工作日" },
            (None, Some(l)) => { "—/" (l) " 个工作日" },
            (None, None) => { "—" },
        }
    }
}

fn section(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        section.card.tab-panel id=(id) aria-labelledby=(format!("h-{id}")) {
            h2 id=(format!("h-{id}")) { (title) }
            (body)
        }
    }
}

fn basic(app: &AppState, row: &ActivityRow, d: &ActivityDetails, marks: Markup) -> Markup {
    html! {
        dl.facts.detail-grid {
            dt { "活动名称" } dd { (row.name) " " span.muted { "（" (row.portal_ref) "）" } }
            dt { "类型" } dd { (row.kind.label()) }
            dt { "举办地区" } dd { (region_names(&app.regions, &row.regions)) }
            dt { "场地" }
            dd {
                @if d.venues.is_empty() { "—" }
                ul.plain {
                    @for v in &d.venues {
                        li {
                            (v.name) "（" (v.address) "，" (app.regions.name(v.region)) "）核定容量 " (v.capacity) " 人"
                            @if row.attendance > v.capacity {
                                " " span.over-capacity role="note" { "预计人数超过场地核定容量" }
                            }
                        }
                    }
                }
            }
            dt { "承办单位" } dd { (row.organizer) }
            dt { "统一社会信用代码" } dd { (d.credit_code) }
            dt { "活动时间" }
            dd {
                (local(row.start_at)) " 至 " (local(row.end_at))
                @let lead = (row.start_at.date() - (d.submitted_at + chrono::TimeDelta::hours(8)).date()).num_days();
                @if lead < crate::domain::calendar::LEAD_TIME_DAYS {
                    " " span.over-capacity role="note" {
                        "申请提交时距活动开始仅 " (lead) " 日，少于《大型群众性活动安全管理条例》规定的 20 日"
                    }
                }
            }
            dt { "场次" } dd { (d.sessions) }
            dt { "每场人数" } dd { (row.attendance) }
            dt { "联系人/手机" } dd { (d.contact.0) " / " (d.contact.1) }
            dt { "审批机关" }
            dd {
                (bureau_label(&app.regions, row.bureau))
                @if !d.routing_reason.is_empty() { div.muted { (d.routing_reason) } }
            }
            dt { "报批材料" }
            dd {
                @if d.missing_materials.is_empty() { "必需材料齐全" }
                @else { span.over-capacity role="note" { "尚缺必需材料：" (d.missing_materials.join("、")) } }
            }
            dt { "状态" } dd { (status_tag(row)) div.deadlines { (marks) } }
        }
    }
}

fn surveys(ctx: &Ctx, d: &ActivityDetails) -> Markup {
    html! {
        @if d.surveys.is_empty() { p.muted { "暂无踏勘记录。" } }
        @for s in &d.surveys {
            article.record {
                h3 { "踏勘日期 " (s.date.format("%Y-%m-%d")) }
                dl.facts {
                    dt { "踏勘人员" } dd { (s.surveyors) }
                    dt { "踏勘报告" } dd.pre { (s.report) }
                    dt { "附件" } dd { @if let Some(f) = &s.file { (file_link(ctx, f)) } @else { span.muted { "无" } } }
                }
                @if !s.rectifications.is_empty() {
                    table.data.compact {
                        caption { "整改意见" }
                        thead { tr { th { "序号" } th { "整改意见" } th { "整改反馈" } } }
                        tbody {
                            @for (i, (_, opinion, feedback)) in s.rectifications.iter().enumerate() {
                                tr {
                                    td.num { (i + 1) }
                                    td.pre { (opinion) }
                                    td.pre {
                                        @match feedback.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
                                            Some(f) => { (f) },
                                            None => { span.tag.tag-warn { "未反馈" } },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn history(d: &ActivityDetails) -> Markup {
    html! {
        @if d.history.is_empty() { p.muted { "暂无办理记录。" } }
        @else {
            div.table-wrap {
                table.data.compact {
                    thead { tr { th { "时间" } th { "办理人" } th { "角色" } th { "操作" } th { "状态变化" } th { "步骤" } th { "意见" } th { "用时/时限" } } }
                    tbody {
                        @for h in &d.history {
                            tr {
                                td.nowrap { (beijing(h.at)) }
                                td { (h.actor) }
                                td { @if h.role.is_empty() { "—" } @else { (h.role) } }
                                td { (action_label(&h.action).unwrap_or(h.action.as_str())) }
                                td.nowrap { (status_name(&h.from)) " → " (status_name(&h.to)) }
                                td { @if h.step_name.is_empty() { "—" } @else { (h.step_name) } }
                                td.pre { @if h.opinion.is_empty() { "—" } @else { (h.opinion) } }
                                td.nowrap { (taken_cell(h.taken_days, h.limit_days)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn details(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DetailsQuery>, QueryRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let id = id_from(path)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let scope = app.regions.path_key(ctx.user.region);
    let (row, d, cal) = app
        .store
        .read(move |c| {
            let row = activities::get_row(c, id, &scope)?;
            Ok((row, activities::details(c, id)?, config::calendar(c)?))
        })
        .await?;
    let marks = deadline::marks(&deadline::for_row(&cal, beijing_today(&app), &row));
    let buttons: Vec<Op> =
        ops(&app.regions, &ctx.user, &row).into_iter().filter(|op| !matches!(op, Op::Details | Op::Surveys)).collect();
    Ok(page(
        &ctx,
        MENU,
        &row.name,
        html! {
            div.page-head {
                h1 { (row.name) }
                div.permit-actions {
                    @for op in &buttons {
                        a.button.primary[op.is_action()] href=(op.link(&ctx, row.id)) { (op.label()) }
                    }
                    a.button href=(ctx.href("/permits")) { "返回列表" }
                }
            }
            (notice(notice_text(q.notice.as_deref())))
            nav.tabs aria-label="活动信息分页" {
                @for (anchor, title) in TABS { a href=(format!("#{anchor}")) { (title) } }
            }
            (section("basic", "基本信息", basic(&app, &row, &d, marks)))
            (section("materials", "报批材料", html! {
                @if d.materials.is_empty() { p.muted { "暂无报批材料。" } }
                ul.plain.files {
                    @for (kind, f) in &d.materials { li { span.file-kind { (kind) "：" } (file_link(&ctx, f)) } }
                }
            }))
            (section("assessments", "评估报告", html! {
                @if d.assessments.is_empty() { p.muted { "暂无评估报告。" } }
                ul.plain.files {
                    @for (agency, grade, file) in &d.assessments {
                        li {
                            (agency) " · 风险等级：" (grade) " · "
                            @if let Some(f) = file { (file_link(&ctx, f)) } @else { span.muted { "无附件" } }
                        }
                    }
                }
            }))
            (section("surveys", "踏勘详情", surveys(&ctx, &d)))
            (section("inspections", "检查记录", html! {
                @if d.inspections.is_empty() { p.muted { "暂无检查记录。" } }
                @for i in &d.inspections {
                    article.record {
                        h3 { "检查时间 " (local(i.at)) }
                        dl.facts {
                            dt { "检查情况" } dd.pre { (i.findings) }
                            dt { "检查材料" } dd { @if let Some(f) = &i.file { (file_link(&ctx, f)) } @else { span.muted { "无" } } }
                        }
                    }
                }
            }))
            (section("history", "审批明细", history(&d)))
            (section("documents", "文书", html! {
                @if d.documents.is_empty() { p.muted { "暂无文书。" } }
                ul.plain.files {
                    @for (doc_id, kind, number) in &d.documents {
                        li {
                            a href=(ctx.href(&format!("/permits/documents/{doc_id}"))) target="_blank" rel="noopener" {
                                (DocumentKind::parse(kind).map_or(kind.as_str(), |k| k.title()))
                            }
                            " " span.muted { (number) }
                        }
                    }
                }
            }))
        },
    ))
}
