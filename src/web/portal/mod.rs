//! The portal 外网: registration, organizers' applications, government units' filings, notifications, and the
//! portal administrator's exchange and SMS pages. Sign-in, sessions and CSRF are the intranet's (`web::account`,
//! `web::session`), on the portal's own database.

use axum::Router;

use super::AppState;

mod apply;
mod apply_details;
mod apply_form;
mod apply_upload;
mod exchange;
mod filing;
mod notify;
mod outbox;
mod register;

/// The portal's pages.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(outbox::routes())
        .merge(filing::routes())
        .merge(notify::routes())
        .merge(exchange::routes())
        .merge(register::routes())
        .merge(apply::routes())
}
