//! 材料清单配置: the list of application materials (报批材料) in force for the administrator's region — its own or
//! inherited from the nearest upper region — the form that saves the region's own list, and the reset that makes it
//! inherit again.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{csrf_field, notice, page};
use super::session::Ctx;
use crate::domain::FieldErrors;
use crate::domain::region::Adcode;
use crate::domain::text::parse_name;
use crate::domain::user::Permission;
use crate::store::StoreError;
use crate::store::materials::{self, CODE_MAX, MAX_KINDS, MaterialKind, NAME_MAX};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/materials", get(show_materials))
        .route("/config/materials/edit", get(edit_form).post(save_materials))
        .route("/config/materials/reset", post(reset_materials))
}

const ROW_NAME: [&str; MAX_KINDS] = [
    "name_0", "name_1", "name_2", "name_3", "name_4", "name_5", "name_6", "name_7", "name_8", "name_9", "name_10",
    "name_11", "name_12", "name_13", "name_14",
];
const ROW_REQUIRED: [&str; MAX_KINDS] = [
    "required_0",
    "required_1",
    "required_2",
    "required_3",
    "required_4",
    "required_5",
    "required_6",
    "required_7",
    "required_8",
    "required_9",
    "required_10",
    "required_11",
    "required_12",
    "required_13",
    "required_14",
];
const ROW_CODE: [&str; MAX_KINDS] = [
    "code_0", "code_1", "code_2", "code_3", "code_4", "code_5", "code_6", "code_7", "code_8", "code_9", "code_10",
    "code_11", "code_12", "code_13", "code_14",
];

/// Values of the 必需 / 容缺后补 select.
const REQUIRED: &str = "1";
const LATER: &str = "0";

const SCOPE_NOTE: &str =
    "清单保存后立即生效：本地区及未单独配置清单的下级地区，按此清单核对申请的必需材料（包括正在办理的申请）。";

#[derive(Debug, Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

fn required_label(required: bool) -> &'static str {
    if required { "必需" } else { "容缺后补" }
}

/// Says whose list is in force: the region's own, an upper region's, or none.
fn source_text(app: &AppState, ctx: &Ctx, owner: Option<Adcode>) -> String {
    match owner {
        Some(r) if r == ctx.user.region => format!("本地区（{}）自行配置的报批材料清单。", app.regions.name(r)),
        Some(r) => format!("本地区未单独配置报批材料清单，沿用上级（{}）的清单。", app.regions.full_name(r)),
        None => "本地区及上级地区都没有报批材料清单。".to_string(),
    }
}

/// Whether the user's region is the province (whose list is the root and cannot be removed).
fn is_province(app: &AppState, ctx: &Ctx) -> bool {
    ctx.user.region == app.regions.root().adcode
}

async fn load(app: &AppState, ctx: &Ctx) -> Result<(Option<Adcode>, Vec<MaterialKind>), AppError> {
    let path = app.regions.path_key(ctx.user.region);
    Ok(app.store.read(move |c| materials::effective(c, &path)).await?)
}

async fn show_materials(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NoticeQuery>,
) -> Result<Markup, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let (owner, kinds) = load(&app, &ctx).await?;
    let text = match q.notice.as_deref() {
        Some("saved") => Some("报批材料清单已保存。"),
        Some("reset") => Some("已删除本地区的清单，恢复使用上级的报批材料清单。"),
        _ => None,
    };
    let own = owner == Some(ctx.user.region);
    let required = kinds.iter().filter(|k| k.required).count();
    let province = is_province(&app, &ctx);
    let upper = owner.filter(|_| !own).map(|r| format!("沿用上级（{}）", app.regions.name(r)));
    Ok(page(
        &ctx,
        "/config/materials",
        "材料清单配置",
        html! {
            div.page-head {
                h1 { "材料清单配置" }
                a.button.primary href=(ctx.href("/config/materials/edit")) {
                    @if own { "修改清单" } @else { "配置本地区清单" }
                }
            }
            (notice(text))
            div.card {
                p #materials-source {
                    @if own { span.tag.tag-ok #materials-owner { "本地区" } " " }
                    @else if let Some(upper) = &upper { span.tag.tag-warn #materials-owner { (upper) } " " }
                    (source_text(&app, &ctx, owner))
                }
                @if !kinds.is_empty() {
                    p #materials-count { "共 " (kinds.len()) " 项，其中必需 " (required) " 项、容缺后补 " (kinds.len() - required) " 项。" }
                }
                div.table-wrap {
                    table.data.material-kinds {
                        caption.sr-only { "报批材料清单" }
                        thead { tr { th { "序号" } th { "材料名称" } th { "要求" } th { "材料代码" } } }
                        tbody {
                            @for (i, k) in kinds.iter().enumerate() {
                                tr {
                                    td.num { (i + 1) }
                                    td { (k.name) }
                                    td {
                                        @if k.required { span.tag.tag-info { "必需" } }
                                        @else { span.tag.tag-muted { "容缺后补" } }
                                    }
                                    td { code { (k.code) } }
                                }
                            }
                            @if kinds.is_empty() { tr { td.empty colspan="4" { "没有报批材料清单" } } }
                        }
                    }
                }
            }
            @if own && !province {
                div.card.narrow {
                    h2 { "恢复使用上级清单" }
                    p.hint { "删除本地区自行配置的清单，之后本地区沿用上级地区的报批材料清单。" }
                    form #materials-reset method="post" action=(ctx.href("/config/materials/reset")) {
                        (csrf_field(&ctx))
                        button type="submit" { "恢复使用上级清单" }
                    }
                }
            }
            p.hint { (SCOPE_NOTE) }
            p.hint {
                "“必需”的材料未提交时，申请详情页提示尚缺必需材料；“容缺后补”的材料可在受理后补交。"
                @if province { "省级清单是全省的基础清单，可以修改，不能删除。" }
            }
        },
    ))
}

/// One row of the form, as typed.
#[derive(Debug, Clone)]
struct Row {
    code: String,
    name: String,
    required: String,
}

impl Default for Row {
    fn default() -> Self {
        Self { code: String::new(), name: String::new(), required: REQUIRED.to_string() }
    }
}

impl Row {
    /// A row without a name is ignored (clearing the name of an item removes it).
    fn is_empty(&self) -> bool {
        self.name.trim().is_empty()
    }
}

/// The raw rows of the list form.
#[derive(Debug, Clone, Default)]
struct ListForm {
    rows: Vec<Row>,
}

impl ListForm {
    fn from_map(map: &HashMap<String, String>) -> Self {
        let field = |k: &str| map.get(k).cloned().unwrap_or_default();
        Self {
            rows: (0..MAX_KINDS)
                .map(|i| Row { code: field(ROW_CODE[i]), name: field(ROW_NAME[i]), required: field(ROW_REQUIRED[i]) })
                .collect(),
        }
    }

    /// The form prefilled from the list in force (own or inherited), with empty rows up to [`MAX_KINDS`].
    fn from_kinds(kinds: &[MaterialKind]) -> Self {
        let mut rows: Vec<Row> = kinds
            .iter()
            .take(MAX_KINDS)
            .map(|k| Row {
                code: k.code.clone(),
                name: k.name.clone(),
                required: if k.required { REQUIRED } else { LATER }.to_string(),
            })
            .collect();
        rows.resize(MAX_KINDS, Row::default());
        Self { rows }
    }

    /// The non-empty rows as list items; new rows keep an empty code (the store gives them one).
    fn parse(&self) -> Result<Vec<MaterialKind>, FieldErrors> {
        let mut e = FieldErrors::default();
        let mut kinds: Vec<MaterialKind> = Vec::new();
        // (row index, name) and (row index, code) of the rows seen so far, to name the first of a repeated pair.
        let mut names: Vec<(usize, String)> = Vec::new();
        let mut codes: Vec<(usize, String)> = Vec::new();
        for (i, row) in self.rows.iter().enumerate().take(MAX_KINDS) {
            if row.is_empty() {
                continue;
            }
            let name = e.take(parse_name(ROW_NAME[i], "材料名称", &row.name, NAME_MAX));
            if let Some(n) = &name {
                if let Some((first, _)) = names.iter().find(|(_, seen)| seen == n) {
                    e.push(ROW_NAME[i], format!("材料名称与第 {} 行重复", first + 1));
                } else {
                    names.push((i, n.clone()));
                }
            }
            let required = match row.required.trim() {
                REQUIRED => Some(true),
                LATER => Some(false),
                _ => {
                    e.push(ROW_REQUIRED[i], "请选择“必需”或“容缺后补”");
                    None
                }
            };
            let code = row.code.trim().to_string();
            if !code.is_empty() {
                if !materials::is_valid_code(&code) {
                    e.push(
                        ROW_CODE[i],
                        format!("材料代码无效（只能由小写字母、数字和下划线组成，不超过 {CODE_MAX} 个字符），请刷新页面后重试"),
                    );
                } else if let Some((first, _)) = codes.iter().find(|(_, seen)| *seen == code) {
                    e.push(ROW_CODE[i], format!("材料代码与第 {} 行重复，请刷新页面后重试", first + 1));
                } else {
                    codes.push((i, code.clone()));
                }
            }
            if let (Some(name), Some(required)) = (name, required) {
                kinds.push(MaterialKind { code, name, required });
            }
        }
        if self.rows.iter().all(Row::is_empty) {
            e.push("kinds", "报批材料清单至少需要一项，请填写材料名称");
        }
        if e.is_empty() { Ok(kinds) } else { Err(e) }
    }
}

/// An input inside a table cell, with the same id and error id as [`super::layout::text_field`].
fn cell_input(name: &str, label: &str, value: &str, errors: &FieldErrors, maxlength: usize) -> Markup {
    let err = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.has-error[err.is_some()] {
            input id=(id) type="text" name=(name) value=(value) maxlength=(maxlength) aria-label=(label)
                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-err"))];
            @if let Some(e) = err { div.field-error id=(format!("{id}-err")) role="alert" { (e) } }
        }
    }
}

/// A select inside a table cell, with the same id and error id as [`super::layout::select_field`].
fn cell_select(name: &str, label: &str, selected: &str, options: &[(&str, &str)], errors: &FieldErrors) -> Markup {
    let err = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.has-error[err.is_some()] {
            select id=(id) name=(name) aria-label=(label)
                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-err"))] {
                @for (value, text) in options {
                    option value=(value) selected[*value == selected] { (text) }
                }
            }
            @if let Some(e) = err { div.field-error id=(format!("{id}-err")) role="alert" { (e) } }
        }
    }
}

fn edit_page(app: &AppState, ctx: &Ctx, form: &ListForm, errors: &FieldErrors, source: Option<&str>) -> Markup {
    let options = [(REQUIRED, required_label(true)), (LATER, required_label(false))];
    let region = app.regions.name(ctx.user.region);
    page(
        ctx,
        "/config/materials",
        "修改报批材料清单",
        html! {
            div.card {
                h1 { "配置报批材料清单：" (region) }
                @if let Some(s) = source { p.muted { (s) } }
                p.hint { (SCOPE_NOTE) }
                @if !errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                @if let Some(e) = errors.get("kinds") { div.field-error #f-kinds-err role="alert" { (e) } }
                form method="post" action=(ctx.href("/config/materials/edit")) {
                    (csrf_field(ctx))
                    div.table-wrap {
                        table.data.materials-edit {
                            caption { "报批材料（最多 " (MAX_KINDS) " 项，按顺序显示；名称为空的行不保存，清空名称即删除该项）" }
                            thead { tr { th { "序号" } th { "材料名称" } th { "要求" } } }
                            tbody {
                                @for (i, row) in form.rows.iter().enumerate().take(MAX_KINDS) {
                                    tr {
                                        td.num { (i + 1) }
                                        td {
                                            input type="hidden" name=(ROW_CODE[i]) value=(row.code);
                                            (cell_input(ROW_NAME[i], &format!("第 {} 项 材料名称", i + 1), &row.name, errors, NAME_MAX))
                                            @if let Some(e) = errors.get(ROW_CODE[i]) {
                                                div.field-error id=(format!("f-{}-err", ROW_CODE[i])) role="alert" { (e) }
                                            }
                                        }
                                        td { (cell_select(ROW_REQUIRED[i], &format!("第 {} 项 要求", i + 1), &row.required, &options, errors)) }
                                    }
                                }
                            }
                        }
                    }
                    p.hint { "材料名称最多 " (NAME_MAX) " 个字符，不能重复；“容缺后补”的材料可在受理后补交。" }
                    div.form-actions {
                        button.primary type="submit" { "保存" }
                        a.button href=(ctx.href("/config/materials")) { "取消" }
                    }
                }
            }
        },
    )
}

async fn edit_form(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let (owner, kinds) = load(&app, &ctx).await?;
    let mut source = source_text(&app, &ctx, owner);
    if owner.is_some() && owner != Some(ctx.user.region) {
        source.push_str("下表为上级清单，保存后本地区使用自己的清单，不再随上级清单变化。");
    }
    Ok(edit_page(&app, &ctx, &ListForm::from_kinds(&kinds), &FieldErrors::default(), Some(&source)))
}

fn invalid(app: &AppState, ctx: &Ctx, form: &ListForm, errors: &FieldErrors) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, edit_page(app, ctx, form, errors, None)).into_response()
}

async fn save_materials(
    State(app): State<AppState>,
    ctx: Ctx,
    Form(map): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let form = ListForm::from_map(&map);
    let kinds = match form.parse() {
        Ok(k) => k,
        Err(e) => return Ok(invalid(&app, &ctx, &form, &e)),
    };
    let (now, actor, region) = (app.clock.now(), ctx.actor(), ctx.user.region);
    match app.store.write(move |tx| materials::save(tx, now, region, &kinds, &actor)).await {
        Ok(()) => Ok(Redirect::to(&ctx.href("/config/materials?notice=saved")).into_response()),
        Err(StoreError::Invalid(e)) => Ok(invalid(&app, &ctx, &form, &e)),
        Err(e) => Err(e.into()),
    }
}

async fn reset_materials(State(app): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    if is_province(&app, &ctx) {
        return Err(AppError::Conflict(
            "省级报批材料清单是全省的基础清单，不能删除；如需调整，请直接修改清单。".into(),
        ));
    }
    let (now, actor, region) = (app.clock.now(), ctx.actor(), ctx.user.region);
    app.store.write(move |tx| materials::reset(tx, now, region, &actor)).await?;
    Ok(Redirect::to(&ctx.href("/config/materials?notice=reset")).into_response())
}
