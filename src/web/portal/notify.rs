//! 消息通知: the signed-in organizer's or government unit's notifications, newest first, the unread ones marked,
//! each with its application and, when the intranet sent one, a link to the decision document; one POST marks all
//! of them read (reading the page changes nothing).

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::clock::beijing;
use crate::domain::user::Permission;
use crate::store::portal::{self, Notification};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::layout::{csrf_field, notice, page};
use crate::web::session::Ctx;

/// The menu entry of the page.
const MENU: &str = "/notifications";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/notifications", get(list)).route("/notifications/read", post(mark_read))
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    notice: Option<String>,
}

/// Where the decision document of notification `n` is served (by the applications pages).
fn document_href(n: &Notification) -> String {
    format!("/apply/{}/document/{}", n.portal_ref, n.id)
}

async fn list(State(app): State<AppState>, ctx: Ctx, Query(q): Query<PageQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::Notifications)?;
    let uid = ctx.user.id;
    let items = app.store.read(move |c| portal::notifications(c, uid)).await?;
    let unread = items.iter().filter(|n| !n.read).count();
    let info = match q.notice.as_deref() {
        Some("read") => Some("已全部标记为已读。"),
        _ => None,
    };
    Ok(page(
        &ctx,
        MENU,
        "消息通知",
        html! {
            div.page-head {
                h1 { "消息通知" }
                @if unread > 0 {
                    form.inline method="post" action=(ctx.href("/notifications/read")) {
                        (csrf_field(&ctx))
                        button type="submit" { "全部标记为已读" }
                    }
                }
            }
            (notice(info))
            p.hint {
                @if items.is_empty() { "暂无消息。" }
                @else { "共 " (items.len()) " 条，未读 " (unread) " 条。" }
            }
            @if items.is_empty() {
                div.card { p.muted { "暂无消息通知。公安机关办理您的申请后，结果会在这里通知您，并以短信告知联系人。" } }
            }
            @for n in &items {
                article.card.record.notification.unread[!n.read] {
                    h3 {
                        @if !n.read { span.tag.tag-warn { "未读" } " " }
                        (n.title)
                    }
                    p.muted { "申请编号：" (n.portal_ref) " · " (beijing(n.at)) }
                    @if !n.body.is_empty() { p.pre { (n.body) } }
                    @if n.document.is_some() {
                        p { a href=(ctx.href(&document_href(n))) { "查看决定文书" } }
                    }
                }
            }
        },
    ))
}

async fn mark_read(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require(Permission::Notifications)?;
    let (now, uid) = (app.clock.now(), ctx.user.id);
    app.store.write(move |tx| portal::mark_read(tx, now, uid)).await?;
    Ok(Redirect::to(&ctx.href("/notifications?notice=read")).into_response())
}
