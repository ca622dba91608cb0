//! Attachments (`/permits/files/{file_id}`) and printable decision documents (`/permits/documents/{doc_id}`) of
//! activities the user's region sees; anything else answers 404.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};

use axum::response::Response;
use maud::Markup;

use super::id_from;
use crate::domain::user::Permission;
use crate::store::{activities, workflow};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::Ctx;

pub(super) async fn file(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let id = id_from(path)?;
    let scope = app.regions.path_key(ctx.user.region);
    let (name, mime, sm3) = app.store.read(move |c| activities::file_in_scope(c, id, &scope)).await?;
    crate::web::download::attachment(&app, &name, &mime, sm3).await
}

pub(super) async fn document(
    State(app): State<AppState>,
    ctx: Ctx,
    path: Result<Path<String>, PathRejection>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ViewPermits)?;
    let id = id_from(path)?;
    let scope = app.regions.path_key(ctx.user.region);
    let doc = app.store.read(move |c| workflow::document_in_scope(c, id, &scope)).await?;
    Ok(crate::documents::render_page(&doc))
}

#[cfg(test)]
mod tests {
    use crate::web::download::encode_filename;

    #[test]
    fn file_names_are_percent_encoded() {
        assert_eq!(encode_filename("plan-1.pdf"), "plan-1.pdf");
        assert_eq!(encode_filename("方案 a.pdf"), "%E6%96%B9%E6%A1%88%20a.pdf");
        assert_eq!(encode_filename("a;b\"c.pdf"), "a%3Bb%22c.pdf");
    }
}
