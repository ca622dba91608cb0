//! 备案管理: the filings of government units held within the user's region (`/filings`), their details
//! (`/filings/{id}`) and their attachments (`/filings/files/{file_id}`). Read-only; outside the region is 404.

use super::filters::{ListFilters, RawFilters, TEXT_MAX, id_from};
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};

use axum::response::Response;
use axum::routing::get;
use chrono::NaiveDateTime;
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::{AppError, encode_query};
use super::layout::{FieldExtra, page, pager, region_names, region_options, select_field, size_label, text_field};
use super::session::Ctx;
use crate::clock::beijing;
use crate::domain::FieldErrors;
use crate::domain::activity::ActivityKind;
use crate::domain::user::Permission;
use crate::store::activities::FileInfo;
use crate::store::filings::{self, FilingFilter, FilingRow, KIND_FILING, KIND_RISK_ASSESSMENT};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/filings", get(list))
        .route("/filings/files/{file_id}", get(file))
        .route("/filings/{id}", get(details))
}

/// The menu entry these pages belong to.
const MENU: &str = "/filings";

const PER_PAGE: u32 = 20;

/// A stored Beijing-local time (activity times), shown as it is.
fn local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A download link for a filing's attachment.
fn file_link(ctx: &Ctx, f: &FileInfo) -> Markup {
    html! {
        a.file-link href=(ctx.href(&format!("/filings/files/{}", f.id))) { (f.name) }
        " " span.muted { "（" (size_label(f.size)) "）" }
    }
}

// ---- list ----

/// The raw filters; every value is parsed leniently so that a bad link still shows a list.
#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    kind: Option<String>,
    region: Option<String>,
    from: Option<String>,
    until: Option<String>,
    q: Option<String>,
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

async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let kind = q.kind.as_deref().and_then(|k| ActivityKind::parse(k).ok());
    let ListFilters { region, from, until, text, page: page_no, errors } =
        ListFilters::parse(&app.regions, ctx.user.region, q.raw());
    let filter = FilingFilter {
        scope_path: app.regions.path_key(ctx.user.region),
        region_path: (region != ctx.user.region).then(|| app.regions.path_key(region)),
        kind,
        from,
        until,
        text: text.clone(),
        page: page_no,
        per_page: PER_PAGE,
    };
    let (rows, total) = app.store.read(move |c| filings::list(c, &filter)).await?;

    let mut kind_opts = vec![(String::new(), "全部类型".to_string())];
    kind_opts.extend(ActivityKind::ALL.iter().map(|k| (k.code().to_string(), k.short_label().to_string())));
    let mut region_opts = region_options(&app.regions, ctx.user.region);
    if let Some(first) = region_opts.first_mut() {
        first.1 = format!("{}（含下级）", first.1);
    }
    // The raw date text is kept in the form so that a mistake can be corrected.
    let raw_from = q.from.as_deref().unwrap_or("").trim().chars().take(20).collect::<String>();
    let raw_until = q.until.as_deref().unwrap_or("").trim().chars().take(20).collect::<String>();
    let base_query = format!(
        "kind={}&region={}&from={}&until={}&q={}",
        kind.map_or("", ActivityKind::code),
        region,
        from.map(|d| d.to_string()).unwrap_or_default(),
        until.map(|d| d.to_string()).unwrap_or_default(),
        encode_query(text.as_deref().unwrap_or("")),
    );
    let no_errors = FieldErrors::default();
    let date_extra = FieldExtra { maxlength: Some(10), hint: Some("YYYY-MM-DD"), ..FieldExtra::default() };
    Ok(page(
        &ctx,
        MENU,
        "备案管理",
        html! {
            div.page-head { h1 { "备案管理" } }
            @if !errors.is_empty() {
                div.form-error role="alert" { "部分查询条件无效，已忽略这些条件，请修改标红的项目。" }
            }
            form.filters.card method="get" action="/filings" {
                @if ctx.embed { input type="hidden" name="embed" value="1"; }
                (select_field("region", "地区", &region.to_string(), &region_opts, &no_errors, false))
                (select_field("kind", "类型", kind.map_or("", ActivityKind::code), &kind_opts, &no_errors, false))
                (text_field("from", "开始日期自", &raw_from, &errors, "date", date_extra))
                (text_field("until", "至", &raw_until, &errors, "date", date_extra))
                (text_field("q", "活动名称、报备单位或编号", text.as_deref().unwrap_or(""), &no_errors, "search",
                    FieldExtra { maxlength: Some(TEXT_MAX), ..FieldExtra::default() }))
                button type="submit" { "查询" }
            }
            div.card.table-wrap {
                table.data.permits.filings {
                    caption.sr-only { "备案列表" }
                    thead {
                        tr {
                            th { "活动名称" } th { "类型" } th { "举办地区" } th { "报备单位" } th { "活动时间" }
                            th { "人数" } th { "报备时间" } th { "操作" }
                        }
                    }
                    tbody {
                        @for row in &rows {
                            tr {
                                td { (row.name) div.muted.ref { (row.portal_ref) } }
                                td.nowrap { (row.kind.short_label()) }
                                td { (region_names(&app.regions, &row.regions)) }
                                td { (row.unit_name) }
                                td.nowrap { (local(row.start_at)) br; "至 " (local(row.end_at)) }
                                td.num { (row.attendance) }
                                td.nowrap { (beijing(row.filed_at)) }
                                td.actions { a href=(ctx.href(&format!("/filings/{}", row.id))) { "查看" } }
                            }
                        }
                        @if rows.is_empty() { tr { td.empty colspan="8" { "没有符合条件的备案" } } }
                    }
                }
            }
            (pager(&ctx, "/filings", &base_query, page_no, PER_PAGE, total))
        },
    ))
}

// ---- details ----

fn section(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        section.card.tab-panel id=(id) aria-labelledby=(format!("h-{id}")) {
            h2 id=(format!("h-{id}")) { (title) }
            (body)
        }
    }
}

fn basic(app: &AppState, row: &FilingRow) -> Markup {
    html! {
        dl.facts.detail-grid {
            dt { "活动名称" } dd { (row.name) " " span.muted { "（" (row.portal_ref) "）" } }
            dt { "类型" } dd { (row.kind.label()) }
            dt { "举办地区" } dd { (region_names(&app.regions, &row.regions)) }
            dt { "活动地点" } dd.pre { (row.venue) }
            dt { "活动时间" } dd { (local(row.start_at)) " 至 " (local(row.end_at)) }
            dt { "每场人数" } dd { (row.attendance) }
            dt { "报备单位" } dd { (row.unit_name) }
            dt { "统一社会信用代码" } dd { (row.credit_code) }
            dt { "联系人/手机" } dd { (row.contact_name) " / " (row.contact_mobile) }
            dt { "报备时间" } dd { (beijing(row.filed_at)) }
            dt { "接收时间" } dd { (beijing(row.received_at)) }
        }
    }
}

fn attachment_list(ctx: &Ctx, files: &[(String, FileInfo)], kind: &str, empty: &str) -> Markup {
    let mine: Vec<&FileInfo> = files.iter().filter(|(k, _)| k == kind).map(|(_, f)| f).collect();
    html! {
        @if mine.is_empty() { p.muted { (empty) } }
        @else {
            ul.plain.files {
                @for f in mine { li { (file_link(ctx, f)) } }
            }
        }
    }
}

async fn details(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let id = id_from(path)?;
    let scope = app.regions.path_key(ctx.user.region);
    let (row, files) = app.store.read(move |c| filings::get_in_scope(c, id, &scope)).await?;
    Ok(page(
        &ctx,
        MENU,
        &row.name,
        html! {
            div.page-head {
                h1 { (row.name) }
                div.permit-actions { a.button href=(ctx.href("/filings")) { "返回列表" } }
            }
            nav.tabs aria-label="备案信息分页" {
                a href="#basic" { "基本信息" }
                a href="#filing-files" { (filings::attachment_label(KIND_FILING)) }
                a href="#assessments" { (filings::attachment_label(KIND_RISK_ASSESSMENT)) }
            }
            (section("basic", "基本信息", basic(&app, &row)))
            (section("filing-files", filings::attachment_label(KIND_FILING),
                attachment_list(&ctx, &files, KIND_FILING, "暂无报备材料。")))
            (section("assessments", filings::attachment_label(KIND_RISK_ASSESSMENT),
                attachment_list(&ctx, &files, KIND_RISK_ASSESSMENT, "暂无评估报告。")))
        },
    ))
}

// ---- downloads ----

async fn file(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let id = id_from(path)?;
    let scope = app.regions.path_key(ctx.user.region);
    let (name, mime, sm3) = app.store.read(move |c| filings::file_in_scope(c, id, &scope)).await?;
    super::download::attachment(&app, &name, &mime, sm3).await
}

#[cfg(test)]
mod tests {
    use crate::web::download::encode_filename;
    use crate::web::layout::size_label;

    #[test]
    fn names_and_sizes_for_people() {
        assert_eq!(encode_filename("报备.pdf"), "%E6%8A%A5%E5%A4%87.pdf");
        assert_eq!(size_label(10), "10 B");
        assert_eq!(size_label(2048), "2.0 KB");
    }
}
