//! 流程配置: the approval flow in force for the administrator's region (its own or inherited from above) and the
//! form that saves a new version of the region's own flow.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::layout::{FieldExtra, csrf_field, notice, page, text_field};
use super::session::Ctx;
use crate::domain::FieldErrors;
use crate::domain::text::parse_name;
use crate::domain::user::Permission;
use crate::store::StoreError;
use crate::store::config::{self, Flow, FlowStep};
use crate::store::roles::{self, Role};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/flows", get(show_flow))
        .route("/config/flows/edit", get(edit_flow_form).post(save_flow))
}

/// Most steps a flow may have.
const MAX_STEPS: usize = 8;
/// Longest flow name, in characters.
const FLOW_NAME_MAX: usize = 30;
/// Longest step name, in characters.
const STEP_NAME_MAX: usize = 20;
/// Shortest and longest time limit of a step, in working days.
const DAYS_MIN: i64 = 1;
const DAYS_MAX: i64 = 30;

const STEP_NAME: [&str; MAX_STEPS] = [
    "step_name_0",
    "step_name_1",
    "step_name_2",
    "step_name_3",
    "step_name_4",
    "step_name_5",
    "step_name_6",
    "step_name_7",
];
const STEP_ROLE: [&str; MAX_STEPS] = [
    "step_role_0",
    "step_role_1",
    "step_role_2",
    "step_role_3",
    "step_role_4",
    "step_role_5",
    "step_role_6",
    "step_role_7",
];
const STEP_DAYS: [&str; MAX_STEPS] = [
    "step_days_0",
    "step_days_1",
    "step_days_2",
    "step_days_3",
    "step_days_4",
    "step_days_5",
    "step_days_6",
    "step_days_7",
];

const VERSION_NOTE: &str =
    "保存后生成本地区流程的新版本，只对之后受理的申请生效；已在审批中的申请仍按受理时的流程版本办理。";

#[derive(Debug, Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

/// Says whose flow is in force: the region's own, an upper region's, or none.
fn source_text(app: &AppState, ctx: &Ctx, flow: Option<&Flow>) -> String {
    match flow {
        Some(f) if f.region == ctx.user.region => {
            format!("本地区（{}）自行配置的审批流程，当前为第 {} 版。", app.regions.name(f.region), f.version)
        }
        Some(f) => format!(
            "本地区未单独配置审批流程，沿用上级「{}」的审批流程（第 {} 版）。",
            app.regions.full_name(f.region),
            f.version
        ),
        None => "本地区及上级地区都还没有配置审批流程；配置之前，受理的申请无法进入审批。".to_string(),
    }
}

async fn show_flow(State(app): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Result<Markup, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let path = app.regions.path_key(ctx.user.region);
    let flow = app.store.read(move |c| config::effective_flow(c, &path)).await?;
    let text = match q.notice.as_deref() {
        Some("saved") => Some("审批流程已保存为新版本。已在审批中的申请仍按原版本办理。"),
        _ => None,
    };
    let own = flow.as_ref().is_some_and(|f| f.region == ctx.user.region);
    Ok(page(
        &ctx,
        "/config/flows",
        "流程配置",
        html! {
            div.page-head {
                h1 { "流程配置" }
                a.button.primary href=(ctx.href("/config/flows/edit")) {
                    @if own { "修改流程" } @else { "配置本地区流程" }
                }
            }
            (notice(text))
            div.card {
                p #flow-source {
                    @if own { span.tag.tag-ok { "本地区" } " " }
                    @else if flow.is_some() { span.tag.tag-warn { "沿用上级" } " " }
                    (source_text(&app, &ctx, flow.as_ref()))
                }
                @if let Some(f) = &flow {
                    h2 #flow-name { (f.name) }
                    div.table-wrap {
                        table.data.flow-steps {
                            caption.sr-only { "审批步骤" }
                            thead { tr { th { "序号" } th { "步骤名称" } th { "审批角色" } th { "审批时长" } } }
                            tbody {
                                @for (i, s) in f.steps.iter().enumerate() {
                                    tr {
                                        td.num { (i + 1) }
                                        td { (s.name) }
                                        td { (s.role_name) }
                                        td { (s.time_limit_days) " 个工作日" }
                                    }
                                }
                                @if f.steps.is_empty() { tr { td.empty colspan="4" { "该流程没有审批步骤" } } }
                            }
                        }
                    }
                }
            }
            p.hint { (VERSION_NOTE) }
            p.hint { "只有本地区的系统管理员可以修改本地区的流程；下级地区未单独配置流程时，沿用本地区的流程。" }
        },
    ))
}

/// One step row of the form, as typed.
#[derive(Debug, Clone, Default)]
struct StepRow {
    name: String,
    role: String,
    days: String,
}

impl StepRow {
    fn is_empty(&self) -> bool {
        self.name.trim().is_empty() && self.role.trim().is_empty() && self.days.trim().is_empty()
    }
}

/// The raw fields of the flow form: its name and [`MAX_STEPS`] rows.
#[derive(Debug, Clone, Default)]
struct FlowForm {
    name: String,
    rows: Vec<StepRow>,
}

impl FlowForm {
    fn from_map(map: &HashMap<String, String>) -> Self {
        let field = |k: &str| map.get(k).cloned().unwrap_or_default();
        Self {
            name: field("flow_name"),
            rows: (0..MAX_STEPS)
                .map(|i| StepRow { name: field(STEP_NAME[i]), role: field(STEP_ROLE[i]), days: field(STEP_DAYS[i]) })
                .collect(),
        }
    }

    /// The form prefilled from `flow` (the one in force, own or inherited), with empty rows up to [`MAX_STEPS`].
    fn from_flow(name: String, flow: Option<&Flow>) -> Self {
        let mut rows: Vec<StepRow> = flow
            .map(|f| {
                f.steps
                    .iter()
                    .take(MAX_STEPS)
                    .map(|s| StepRow {
                        name: s.name.clone(),
                        role: s.role_id.to_string(),
                        days: s.time_limit_days.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        rows.resize(MAX_STEPS, StepRow::default());
        Self { name, rows }
    }

    /// Parses the name and the non-empty rows; roles must be among `roles` (those usable in the region).
    fn parse(&self, roles: &[Role]) -> Result<(String, Vec<FlowStep>), FieldErrors> {
        let mut e = FieldErrors::default();
        let name = e.take(parse_name("flow_name", "流程名字", &self.name, FLOW_NAME_MAX));
        let mut steps = Vec::new();
        for (i, row) in self.rows.iter().enumerate().take(MAX_STEPS) {
            if row.is_empty() {
                continue;
            }
            let step_name = e.take(parse_name(STEP_NAME[i], "步骤名称", &row.name, STEP_NAME_MAX));
            let role = match row.role.trim() {
                "" => {
                    e.push(STEP_ROLE[i], "请选择审批角色");
                    None
                }
                raw => match raw.parse::<i64>().ok().and_then(|id| roles.iter().find(|r| r.id == id)) {
                    Some(r) => Some(r),
                    None => {
                        e.push(STEP_ROLE[i], "请选择适用于本地区的审批角色");
                        None
                    }
                },
            };
            let days = parse_days(&row.days);
            if days.is_none() {
                e.push(STEP_DAYS[i], format!("审批时长应为 {DAYS_MIN} 到 {DAYS_MAX} 之间的整数（工作日）"));
            }
            if let (Some(step_name), Some(role), Some(days)) = (step_name, role, days) {
                steps.push(FlowStep {
                    name: step_name,
                    role_id: role.id,
                    role_name: role.name.clone(),
                    time_limit_days: days,
                });
            }
        }
        if self.rows.iter().all(StepRow::is_empty) {
            e.push("steps", "流程至少需要一个审批步骤");
        }
        match name {
            Some(name) if e.is_empty() => Ok((name, steps)),
            _ => Err(e),
        }
    }
}

/// A whole number of working days within [`DAYS_MIN`]..=[`DAYS_MAX`].
fn parse_days(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 3 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<i64>().ok().filter(|d| (DAYS_MIN..=DAYS_MAX).contains(d))
}

fn role_options(app: &AppState, roles: &[Role]) -> Vec<(String, String)> {
    let mut opts = vec![(String::new(), "（请选择）".to_string())];
    opts.extend(roles.iter().map(|r| (r.id.to_string(), format!("{}（{}）", r.name, app.regions.name(r.region)))));
    opts
}

/// An input inside a table cell, with the same id and error id as [`text_field`].
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
fn cell_select(name: &str, label: &str, selected: &str, options: &[(String, String)], errors: &FieldErrors) -> Markup {
    let err = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.has-error[err.is_some()] {
            select id=(id) name=(name) aria-label=(label)
                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-err"))] {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
            @if let Some(e) = err { div.field-error id=(format!("{id}-err")) role="alert" { (e) } }
        }
    }
}

fn flow_form_page(
    app: &AppState,
    ctx: &Ctx,
    form: &FlowForm,
    roles: &[Role],
    errors: &FieldErrors,
    source: Option<&str>,
) -> Markup {
    let opts = role_options(app, roles);
    let region = app.regions.name(ctx.user.region);
    page(
        ctx,
        "/config/flows",
        "修改审批流程",
        html! {
            div.card {
                h1 { "配置审批流程：" (region) }
                @if let Some(s) = source { p.muted { (s) } }
                p.hint { (VERSION_NOTE) }
                @if !errors.is_empty() { div.form-error role="alert" { "请修改标红的项目后再提交，本次未保存任何内容。" } }
                @if let Some(e) = errors.get("steps") { div.field-error #f-steps-err role="alert" { (e) } }
                form method="post" action=(ctx.href("/config/flows/edit")) {
                    (csrf_field(ctx))
                    (text_field("flow_name", "流程名字", &form.name, errors, "text",
                        FieldExtra { required: true, maxlength: Some(FLOW_NAME_MAX), ..FieldExtra::default() }))
                    div.table-wrap {
                        table.data.flow-edit {
                            caption { "审批步骤（最多 " (MAX_STEPS) " 步，按顺序办理；空行不保存）" }
                            thead { tr { th { "序号" } th { "步骤名称" } th { "审批角色" } th { "审批时长（工作日）" } } }
                            tbody {
                                @for (i, row) in form.rows.iter().enumerate().take(MAX_STEPS) {
                                    tr {
                                        td.num { (i + 1) }
                                        td { (cell_input(STEP_NAME[i], &format!("第 {} 步 步骤名称", i + 1), &row.name, errors, STEP_NAME_MAX)) }
                                        td { (cell_select(STEP_ROLE[i], &format!("第 {} 步 审批角色", i + 1), &row.role, &opts, errors)) }
                                        td.days { (cell_input(STEP_DAYS[i], &format!("第 {} 步 审批时长", i + 1), &row.days, errors, 2)) }
                                    }
                                }
                            }
                        }
                    }
                    p.hint { "审批时长为 " (DAYS_MIN) "–" (DAYS_MAX) " 个工作日；审批角色可选本地区及上级地区定义的角色。" }
                    div.form-actions {
                        button.primary type="submit" { "保存为新版本" }
                        a.button href=(ctx.href("/config/flows")) { "取消" }
                    }
                }
            }
        },
    )
}

async fn edit_flow_form(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let path = app.regions.path_key(ctx.user.region);
    let (flow, roles) =
        app.store.read(move |c| Ok((config::effective_flow(c, &path)?, roles::list_usable(c, &path)?))).await?;
    let name = match &flow {
        Some(f) if f.region == ctx.user.region => f.name.clone(),
        _ => format!("{}审批流程", app.regions.name(ctx.user.region)),
    };
    let form = FlowForm::from_flow(name, flow.as_ref());
    let source = source_text(&app, &ctx, flow.as_ref());
    Ok(flow_form_page(&app, &ctx, &form, &roles, &FieldErrors::default(), Some(&source)))
}

fn invalid(app: &AppState, ctx: &Ctx, form: &FlowForm, roles: &[Role], errors: &FieldErrors) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, flow_form_page(app, ctx, form, roles, errors, None)).into_response()
}

async fn save_flow(
    State(app): State<AppState>,
    ctx: Ctx,
    Form(map): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    ctx.require(Permission::ConfigureWorkflow)?;
    let form = FlowForm::from_map(&map);
    let path = app.regions.path_key(ctx.user.region);
    let roles = app.store.read(move |c| roles::list_usable(c, &path)).await?;
    let (name, steps) = match form.parse(&roles) {
        Ok(v) => v,
        Err(e) => return Ok(invalid(&app, &ctx, &form, &roles, &e)),
    };
    let (now, actor, region, user_id) = (app.clock.now(), ctx.actor(), ctx.user.region, ctx.user.id);
    match app.store.write(move |tx| config::save_flow(tx, now, region, &name, &steps, user_id, &actor)).await {
        Ok(_) => Ok(Redirect::to(&ctx.href("/config/flows?notice=saved")).into_response()),
        Err(StoreError::Invalid(e)) => Ok(invalid(&app, &ctx, &form, &roles, &e)),
        Err(e) => Err(e.into()),
    }
}
