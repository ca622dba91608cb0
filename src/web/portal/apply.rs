//! 我的申请 (organizers, `Permission::Apply`): the list of one's applications, the application form (drafts and
//! revisions, `apply_form`), the details page with materials, actions, rectifications and notifications
//! (`apply_details`), one's own files and decision documents. Another account's application answers 404
//! everywhere: every read names the signed-in account (`portal::application(conn, user_id, ref)`).

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use maud::{Markup, html};

use super::apply_details as details;
use super::apply_form as form;
use super::apply_upload as upload;
use crate::clock::beijing;
use crate::domain::activity::ActivityKind;
use crate::domain::calendar::LEAD_TIME_DAYS;
use crate::domain::region::{Adcode, RegionLevel, RegionTree};
use crate::domain::user::Permission;
use crate::domain::workflow::Status;
use crate::store::portal::{self, DRAFT, PortalApplication};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{notice, page};
use crate::web::session::Ctx;

/// The menu entry of these pages.
pub(super) const MENU: &str = "/apply";

/// The largest body of the upload form: one attachment and the material kind.
const UPLOAD_BODY_LIMIT: usize = crate::files::MAX_UPLOAD + 512 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/apply", get(list))
        .route("/apply/new", get(form::new_form).post(form::create))
        .route("/apply/files/{file_id}", get(download))
        .route("/apply/{portal_ref}", get(details::details))
        .route("/apply/{portal_ref}/edit", get(form::edit_form).post(form::update))
        .route("/apply/{portal_ref}/upload", post(upload::upload).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)))
        .route("/apply/{portal_ref}/submit", post(details::submit))
        .route("/apply/{portal_ref}/withdraw", get(details::confirm_withdraw))
        .route("/apply/{portal_ref}/feedback", post(details::feedback))
        .route("/apply/{portal_ref}/document/{notification_id}", get(document))
}

// ---- shared helpers ----

/// The status shown to the organizer: 草稿 or the workflow label.
pub(super) fn status_label(code: &str) -> &str {
    if code == DRAFT {
        return "草稿";
    }
    Status::parse(code).map_or(code, |s| s.label())
}

fn status_class(code: &str) -> &'static str {
    match Status::parse(code) {
        None => "tag-muted",
        Some(Status::Permitted) => "tag-ok",
        Some(Status::NotAccepted | Status::Denied) => "tag-danger",
        Some(Status::PreReviewReturned | Status::ApprovalReturned) => "tag-warn",
        Some(Status::Withdrawn) => "tag-muted",
        Some(_) => "tag-info",
    }
}

/// The status as a tag.
pub(super) fn status_tag(code: &str) -> Markup {
    html! { span.tag.(status_class(code)) { (status_label(code)) } }
}

/// A reference from the path: `P-000001`-like (ASCII letters, digits and `-`, at most 64); anything else is 404.
pub(super) fn ref_from(path: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    let Ok(Path(raw)) = path else { return Err(AppError::NotFound) };
    let ok = !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok { Ok(raw) } else { Err(AppError::NotFound) }
}

/// A positive id from a path segment; anything else is 404.
fn positive_id(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse::<i64>().ok().filter(|id| *id > 0).ok_or(AppError::NotFound)
}

/// The signed-in organizer's application `portal_ref` (403 for other user types, 404 for anyone else's).
pub(super) async fn load(app: &AppState, ctx: &Ctx, portal_ref: &str) -> Result<PortalApplication, AppError> {
    ctx.require(Permission::Apply)?;
    let (uid, r) = (ctx.user.id, portal_ref.to_string());
    Ok(app.store.read(move |c| portal::application(c, uid, &r)).await?)
}

/// Now in Beijing (activity times are Beijing local times).
pub(super) fn beijing_now(app: &AppState) -> NaiveDateTime {
    app.clock.now() + TimeDelta::hours(8)
}

/// Today in Beijing.
pub(super) fn beijing_today(app: &AppState) -> NaiveDate {
    beijing_now(app).date()
}

/// A Beijing-local time as stored, shown as it is.
pub(super) fn local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The statutory lead time warning, when the activity starts less than [`LEAD_TIME_DAYS`] days from `today`.
pub(super) fn lead_warning(today: NaiveDate, start: NaiveDateTime) -> Option<String> {
    ((start.date() - today).num_days() < LEAD_TIME_DAYS)
        .then(|| format!("距活动开始不足 {LEAD_TIME_DAYS} 日，依法应至少提前 {LEAD_TIME_DAYS} 日申请"))
}

/// The warning banner.
pub(super) fn lead_banner(warning: Option<&str>) -> Markup {
    html! { @if let Some(w) = warning { div.notice.warn.lead-time role="status" { (w) } } }
}

/// A county as the forms name it: 杭州市 西湖区.
pub(super) fn county_label(regions: &RegionTree, code: Adcode) -> String {
    let path = regions.path(code);
    let names: Vec<&str> = path.iter().filter(|r| r.level != RegionLevel::Province).map(|r| r.name.as_str()).collect();
    if names.is_empty() { code.to_string() } else { names.join(" ") }
}

/// Every county of the province, labelled with its city, in code order.
pub(super) fn county_options(regions: &RegionTree) -> Vec<(String, String)> {
    regions
        .all()
        .filter(|r| r.level == RegionLevel::County)
        .map(|r| (r.adcode.to_string(), county_label(regions, r.adcode)))
        .collect()
}

/// A stored county code (`u32`), if it is a county of the tree.
pub(super) fn county(regions: &RegionTree, code: u32) -> Option<Adcode> {
    Adcode::from_stored(i64::from(code)).filter(|c| regions.get(*c).is_some_and(|r| r.level == RegionLevel::County))
}

/// The kind's label, or the code when unknown.
pub(super) fn kind_label(code: &str) -> &str {
    ActivityKind::parse(code).map_or(code, |k| k.label())
}

// ---- pages ----

#[derive(Debug, serde::Deserialize, Default)]
struct ListQuery {
    notice: Option<String>,
}

async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    q: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::Apply)?;
    let q = q.map(|axum::extract::Query(q)| q).unwrap_or_default();
    let uid = ctx.user.id;
    let rows = app.store.read(move |c| portal::applications(c, uid)).await?;
    let info = match q.notice.as_deref() {
        Some("withdrawn") => Some("申请已撤回。"),
        _ => None,
    };
    Ok(page(
        &ctx,
        MENU,
        "我的申请",
        html! {
            div.page-head {
                h1 { "我的申请" }
                div.permit-actions { a.button.primary href=(ctx.href("/apply/new")) { "新建申请" } }
            }
            (notice(info))
            div.card.table-wrap {
                table.data.applications {
                    caption.sr-only { "我的申请" }
                    thead {
                        tr { th { "编号" } th { "活动名称" } th { "状态" } th { "活动时间" } th { "更新时间" } th { "操作" } }
                    }
                    tbody {
                        @for a in &rows {
                            tr {
                                td.nowrap { (a.portal_ref) }
                                td { a href=(ctx.href(&format!("/apply/{}", a.portal_ref))) { (a.data.name) } }
                                td.status { (status_tag(&a.status)) }
                                td.nowrap { (local(a.data.start_at)) br; "至 " (local(a.data.end_at)) }
                                td.nowrap { (beijing(a.updated_at)) }
                                td.actions {
                                    a href=(ctx.href(&format!("/apply/{}", a.portal_ref))) { "查看" }
                                    @if portal::editable(&a.status) {
                                        " " a href=(ctx.href(&format!("/apply/{}/edit", a.portal_ref))) { "修改" }
                                    }
                                }
                            }
                        }
                        @if rows.is_empty() { tr { td.empty colspan="6" { "还没有申请，点击【新建申请】开始填写。" } } }
                    }
                }
            }
        },
    ))
}

/// Reads stored bytes on a blocking thread; missing bytes answer 404.
async fn read_bytes(app: &AppState, sm3: String) -> Result<Vec<u8>, AppError> {
    let files = app.files.clone();
    tokio::task::spawn_blocking(move || files.read(&sm3))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .ok_or_else(|| {
            tracing::warn!("portal file metadata without bytes on disk");
            AppError::NotFound
        })
}

/// `GET /apply/files/{file_id}`: one of one's own uploaded files.
async fn download(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::Apply)?;
    let Ok(Path(raw)) = path else { return Err(AppError::NotFound) };
    let id = positive_id(&raw)?;
    let uid = ctx.user.id;
    let f = app.store.read(move |c| portal::file_of_user(c, uid, id)).await?;
    crate::web::download::attachment(&app, &f.name, &f.mime, f.sm3.clone()).await
}

/// `GET /apply/{ref}/document/{notification_id}`: the decision document of a notification of one's application.
async fn document(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AppError> {
    let Ok(Path((raw_ref, raw_id))) = path else { return Err(AppError::NotFound) };
    let portal_ref = ref_from(Ok(Path(raw_ref)))?;
    let id = positive_id(&raw_id)?;
    load(&app, &ctx, &portal_ref).await?;
    let uid = ctx.user.id;
    let notes = app.store.read(move |c| portal::notifications(c, uid)).await?;
    let sm3 = notes
        .into_iter()
        .find(|n| n.id == id && n.portal_ref == portal_ref)
        .and_then(|n| n.document)
        .ok_or(AppError::NotFound)?;
    let bytes = read_bytes(&app, sm3).await?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::region::DEFAULT_REGIONS_CSV;

    #[test]
    fn lead_time_warning_below_twenty_days() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let at = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap().and_hms_opt(19, 30, 0).unwrap();
        assert!(lead_warning(today, at(20)).unwrap().contains("不足 20 日"));
        assert!(lead_warning(today, at(21)).is_none());
    }

    #[test]
    fn labels_and_refs() {
        assert_eq!(status_label("draft"), "草稿");
        assert_eq!(status_label("pending_pre_review"), "待初审");
        let tree = RegionTree::parse_csv(DEFAULT_REGIONS_CSV).unwrap();
        let xihu = Adcode::parse("330106").unwrap();
        assert_eq!(county_label(&tree, xihu), "杭州市 西湖区");
        assert!(county(&tree, 330106).is_some());
        assert!(county(&tree, 330100).is_none());
        assert!(county_options(&tree).iter().any(|(v, l)| v == "330106" && l == "杭州市 西湖区"));
        assert!(ref_from(Ok(Path("P-000001".into()))).is_ok());
        for bad in ["", "../x", "P 1", "P%2F1"] {
            assert!(ref_from(Ok(Path(bad.into()))).is_err(), "{bad:?}");
        }
        assert_eq!(crate::web::download::encode_filename("方案 a.pdf"), "%E6%96%B9%E6%A1%88%20a.pdf");
    }
}
