//! `GET /permits`: the 许可管理 list with its filters; bad filter values are field errors and the list is still shown.

use crate::web::filters::{ListFilters, RawFilters, TEXT_MAX};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::{MENU, Op, beijing_today, bureau_label, deadline, local, ops, status_tag};
use crate::domain::FieldErrors;
use crate::domain::activity::ActivityKind;
use crate::domain::user::Permission;
use crate::domain::workflow::Status;
use crate::store::activities::{self, ActivityFilter, ActivitySort};
use crate::store::config;
use crate::web::AppState;
use crate::web::error::{AppError, encode_query};
use crate::web::layout::{FieldExtra, page, pager, select_field, text_field};
use crate::web::layout::{region_names, region_options};
use crate::web::session::Ctx;

const PER_PAGE: u32 = 20;

/// The raw filters; every value is parsed leniently so that a bad link still shows a list.
#[derive(Debug, Deserialize, Default)]
pub(super) struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    region: Option<String>,
    from: Option<String>,
    until: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

impl ListQuery {
    fn raw(&self) -> RawFilters<'_> {
        RawFilters {
            region: self.region.as_deref(),
            from: self.from.as_deref(),
            until: self.until.as_deref(),
            text: self.q.as_deref(),
            page: self.page.as_deref(),
        }
    }
}

const SORTS: [(&str, &str); 3] =
    [("submitted", "按提交时间（最新在前）"), ("start", "按活动开始时间"), ("attendance", "按人数（最多在前）")];

pub(super) async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let status = q.status.as_deref().and_then(Status::parse);
    let kind = q.kind.as_deref().and_then(|k| ActivityKind::parse(k).ok());
    let ListFilters { region, from, until, text, page: page_no, errors } =
        ListFilters::parse(&app.regions, ctx.user.region, q.raw());
    let sort = q.sort.as_deref().and_then(ActivitySort::parse).unwrap_or_default();
    let filter = ActivityFilter {
        scope_path: app.regions.path_key(ctx.user.region),
        region_path: (region != ctx.user.region).then(|| app.regions.path_key(region)),
        status,
        kind,
        from,
        until,
        text: text.clone(),
        sort,
        page: page_no,
        per_page: PER_PAGE,
    };
    let ((rows, total), cal) =
        app.store.read(move |c| Ok((activities::list(c, &filter)?, config::calendar(c)?))).await?;
    let today = beijing_today(&app);

    let mut status_opts = vec![(String::new(), "全部状态".to_string())];
    status_opts.extend(Status::ALL.iter().map(|s| (s.code().to_string(), s.label().to_string())));
    let mut kind_opts = vec![(String::new(), "全部类型".to_string())];
    kind_opts.extend(ActivityKind::ALL.iter().map(|k| (k.code().to_string(), k.short_label().to_string())));
    let mut region_opts = region_options(&app.regions, ctx.user.region);
    if let Some(first) = region_opts.first_mut() {
        first.1 = format!("{}（含下级）", first.1);
    }
    let sort_opts: Vec<(String, String)> = SORTS.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    // The raw date text is kept in the form (and the pager) so that a mistake can be corrected.
    let raw_from = q.from.as_deref().unwrap_or("").trim().chars().take(20).collect::<String>();
    let raw_until = q.until.as_deref().unwrap_or("").trim().chars().take(20).collect::<String>();
    let base_query = format!(
        "status={}&kind={}&region={}&from={}&until={}&q={}&sort={}",
        status.map_or("", Status::code),
        kind.map_or("", ActivityKind::code),
        region,
        from.map(|d| d.to_string()).unwrap_or_default(),
        until.map(|d| d.to_string()).unwrap_or_default(),
        encode_query(text.as_deref().unwrap_or("")),
        sort.code(),
    );
    let no_errors = FieldErrors::default();
    let date_extra = FieldExtra { maxlength: Some(10), hint: Some("YYYY-MM-DD"), ..FieldExtra::default() };
    Ok(page(
        &ctx,
        MENU,
        "活动列表",
        html! {
            div.page-head { h1 { "活动列表" } }
            @if !errors.is_empty() {
                div.form-error role="alert" { "部分查询条件无效，已忽略这些条件，请修改标红的项目。" }
            }
            form.filters.card method="get" action="/permits" {
                @if ctx.embed { input type="hidden" name="embed" value="1"; }
                (select_field("status", "状态", status.map_or("", Status::code), &status_opts, &no_errors, false))
                (select_field("kind", "类型", kind.map_or("", ActivityKind::code), &kind_opts, &no_errors, false))
                (select_field("region", "地区", &region.to_string(), &region_opts, &no_errors, false))
                (text_field("from", "开始日期自", &raw_from, &errors, "date", date_extra))
                (text_field("until", "至", &raw_until, &errors, "date", date_extra))
                (text_field("q", "活动名称、承办单位或编号", text.as_deref().unwrap_or(""), &no_errors, "search",
                    FieldExtra { maxlength: Some(TEXT_MAX), ..FieldExtra::default() }))
                (select_field("sort", "排序", sort.code(), &sort_opts, &no_errors, false))
                button type="submit" { "查询" }
            }
            div.card.table-wrap {
                table.data.permits {
                    caption.sr-only { "活动列表" }
                    thead {
                        tr {
                            th { "活动名称" } th { "类型" } th { "举办地区" } th { "承办单位" } th { "活动时间" }
                            th { "人数" } th { "审批机关" } th { "状态" } th { "期限" } th { "操作" }
                        }
                    }
                    tbody {
                        @for row in &rows {
                            tr {
                                td { (row.name) div.muted.ref { (row.portal_ref) } }
                                td.nowrap { (row.kind.short_label()) }
                                td { (region_names(&app.regions, &row.regions)) }
                                td { (row.organizer) }
                                td.nowrap { (local(row.start_at)) br; "至 " (local(row.end_at)) }
                                td.num { (row.attendance) }
                                td { (bureau_label(&app.regions, row.bureau)) }
                                td.status { (status_tag(row)) }
                                td.nowrap { (deadline::marks(&deadline::for_row(&cal, today, row))) }
                                td.actions {
                                    @for op in ops(&app.regions, &ctx.user, row).into_iter().filter(|op| *op != Op::AddSurvey) {
                                        a.action[op.is_action()] href=(op.link(&ctx, row.id)) { (op.label()) }
                                    }
                                }
                            }
                        }
                        @if rows.is_empty() { tr { td.empty colspan="10" { "没有符合条件的活动" } } }
                    }
                }
            }
            (pager(&ctx, "/permits", &base_query, page_no, PER_PAGE, total))
        },
    ))
}
