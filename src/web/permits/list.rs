//! `GET /permits`: the 许可管理 list with its filters; bad filter values are field errors and the list is still shown.

use crate::web::filters::{ListFilters, RawFilters, TEXT_MAX};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::{MENU, Op, beijing_today, bureau_label, deadline, local, ops, status_tag};
use crate::domain::FieldErrors;
use crate::domain::activity::ActivityKind;
use crate::domain::region::{Adcode, RegionTree};
use crate::domain::user::Permission;
use crate::domain::workflow::Status;
use crate::reports::Cell;
use crate::reports::xlsx::{ColumnFormat, ExportMeta, stream_rows};
use crate::store::StoreError;
use crate::store::activities::{self, ActivityFilter, ActivitySort};
use crate::store::config;
use crate::web::AppState;
use crate::web::error::{AppError, encode_query};
use crate::web::layout::{FieldExtra, page, pager, select_field, text_field};
use crate::web::layout::{region_names, region_options};
use crate::web::session::Ctx;
use crate::web::stats;

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

/// The list's filters parsed from `q` for the signed-in user.
struct Parsed {
    filter: ActivityFilter,
    region: crate::domain::region::Adcode,
    errors: FieldErrors,
}

fn parse(app: &AppState, ctx: &Ctx, q: &ListQuery) -> Parsed {
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
        text,
        sort,
        page: page_no,
        per_page: PER_PAGE,
    };
    Parsed { filter, region, errors }
}

/// The query string of the filters (without the page), for the pager and the export link.
fn base_query(p: &Parsed) -> String {
    let f = &p.filter;
    format!(
        "status={}&kind={}&region={}&from={}&until={}&q={}&sort={}",
        f.status.map_or("", Status::code),
        f.kind.map_or("", ActivityKind::code),
        p.region,
        f.from.map(|d| d.to_string()).unwrap_or_default(),
        f.until.map(|d| d.to_string()).unwrap_or_default(),
        encode_query(f.text.as_deref().unwrap_or("")),
        f.sort.code(),
    )
}

pub(super) async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let parsed = parse(&app, &ctx, &q);
    let base_query = base_query(&parsed);
    let Parsed { filter, region, errors } = parsed;
    let (status, kind, text, sort, page_no) =
        (filter.status, filter.kind, filter.text.clone(), filter.sort, filter.page);
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
            div.list-foot {
                (pager(&ctx, "/permits", &base_query, page_no, PER_PAGE, total))
                @if total > 0 {
                    a.button href=(ctx.href(&format!("/permits/export?{base_query}"))) download {
                        "导出Excel（" (total) " 条）"
                    }
                }
            }
        },
    ))
}

/// The columns of the list's Excel export.
const EXPORT_COLUMNS: [(&str, ColumnFormat); 13] = [
    ("申请编号", ColumnFormat::Text),
    ("活动名称", ColumnFormat::Text),
    ("活动类型", ColumnFormat::Kind),
    ("承办单位", ColumnFormat::Text),
    ("举办地区", ColumnFormat::Text),
    ("审批机关", ColumnFormat::Text),
    ("开始时间", ColumnFormat::DateTime),
    ("结束时间", ColumnFormat::DateTime),
    ("每场人数", ColumnFormat::Integer),
    ("场次", ColumnFormat::Integer),
    ("状态", ColumnFormat::Text),
    ("提交时间", ColumnFormat::DateTime),
    ("办结时间", ColumnFormat::DateTime),
];

/// The cells of one exported activity; UTC times become Beijing time.
fn export_cells(regions: &RegionTree, r: activities::ExportRow) -> Vec<Cell> {
    let beijing = |t: chrono::NaiveDateTime| Cell::DateTime(t + chrono::TimeDelta::hours(8));
    let bureau = Adcode::from_stored(r.bureau).map_or_else(|| r.bureau.to_string(), |a| bureau_label(regions, a));
    vec![
        Cell::Text(r.portal_ref),
        Cell::Text(r.name),
        Cell::Text(r.kind),
        Cell::Text(r.organizer),
        Cell::Text(r.regions.iter().map(|c| regions.name(*c)).collect::<Vec<_>>().join("、")),
        Cell::Text(bureau),
        Cell::DateTime(r.start_at),
        Cell::DateTime(r.end_at),
        Cell::Int(r.attendance),
        Cell::Int(r.sessions),
        Cell::Text(Status::parse(&r.status).map_or(r.status, |s| s.label().to_string())),
        beijing(r.submitted_at),
        r.decided_at.map_or(Cell::Null, beijing),
    ]
}

/// The filters of an export, named for the 参数 sheet and the audit log.
fn described(app: &AppState, p: &Parsed) -> Vec<(String, String)> {
    let f = &p.filter;
    let day = |d: Option<chrono::NaiveDate>| d.map_or_else(|| "不限".to_string(), |d| d.to_string());
    vec![
        ("地区".into(), app.regions.full_name(p.region)),
        ("状态".into(), f.status.map_or("全部状态", Status::label).into()),
        ("类型".into(), f.kind.map_or("全部类型", ActivityKind::short_label).into()),
        ("开始日期".into(), format!("{} 至 {}", day(f.from), day(f.until))),
        ("关键字".into(), f.text.clone().unwrap_or_else(|| "无".into())),
        ("排序".into(), SORTS.iter().find(|(c, _)| *c == f.sort.code()).map_or("", |(_, l)| l).into()),
    ]
}

/// `GET /permits/export`: every activity the list shows with its filters (all pages), as an xlsx file streamed while
/// it is written: rows go from DuckDB into rust_xlsxwriter's constant-memory sheet on a blocking thread, and the
/// finished package flows to the client in chunks, so memory stays flat and no async worker waits on it.
pub(super) async fn export(
    State(app): State<AppState>,
    ctx: Ctx,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let parsed = parse(&app, &ctx, &q);
    if let Some(e) = parsed.errors.0.first() {
        return Err(AppError::BadRequest(format!(
            "查询条件无效：{}。请返回活动列表修改后再导出，未生成任何文件。",
            e.message
        )));
    }
    let filters = described(&app, &parsed);
    stats::audit_export(&app, &ctx, "permits.export", "activities".into(), &filters).await?;
    let meta = ExportMeta { user: stats::exporter(&ctx), generated_at: stats::beijing_now(&app), filters };
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let regions = app.regions.clone();
    let filter = parsed.filter;
    let store = app.store.clone();
    tokio::spawn(async move {
        let failure = tx.clone();
        let outcome = store.read(move |conn| export_streamed(conn, &filter, &regions, &meta, tx)).await;
        if let Err(e) = outcome {
            tracing::warn!("activity export failed: {e}");
            let _ = failure.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let name = format!("活动列表-{}-{}.xlsx", app.regions.name(parsed.region), today_label(&app));
    Ok(stats::xlsx_response(&name, axum::body::Body::from_stream(ChunkStream(rx))))
}

/// Writes the export of `filter` to `tx`: this thread reads the rows from DuckDB and writes the sheet's XML, a
/// second one (in `stream_rows`) deflates the package and hands it to the response. A database error stops the
/// rows short of the count announced, and the package is then left unfinished: the client never receives a
/// complete-looking file.
fn export_streamed(
    conn: &duckdb::Connection,
    filter: &ActivityFilter,
    regions: &RegionTree,
    meta: &ExportMeta,
    tx: tokio::sync::mpsc::Sender<Chunk>,
) -> Result<(), StoreError> {
    let written = activities::export(conn, filter, |total, rows| {
        let cells = rows.map(|r| export_cells(regions, r));
        stream_rows(ChunkWriter::new(tx), &EXPORT_COLUMNS, meta, total, cells).and_then(ChunkWriter::finish)
    })?;
    written.map_err(|e| StoreError::Conflict(e.to_string()))
}

fn today_label(app: &AppState) -> String {
    beijing_today(app).format("%Y%m%d").to_string()
}

/// The chunks of a streamed download.
type Chunk = Result<axum::body::Bytes, std::io::Error>;

/// A `Write` that hands 64 KB chunks to the response body; it fails once the client has gone, which stops the
/// export.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    const CHUNK: usize = 64 * 1024;

    fn new(tx: tokio::sync::mpsc::Sender<Chunk>) -> Self {
        Self { tx, buf: Vec::with_capacity(Self::CHUNK) }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::CHUNK));
        self.tx
            .blocking_send(Ok(chunk.into()))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client has gone"))
    }

    fn finish(mut self) -> Result<(), rust_xlsxwriter::XlsxError> {
        self.send().map_err(rust_xlsxwriter::XlsxError::from)
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// The receiving end as a body stream.
struct ChunkStream(tokio::sync::mpsc::Receiver<Chunk>);

impl futures_core::Stream for ChunkStream {
    type Item = Chunk;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}
