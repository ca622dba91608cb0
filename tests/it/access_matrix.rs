//! The access matrix (issue 8): every route of both sites × every demo user × an object of the user's own region
//! (on the portal: of its own account), of another region (account), and without a session, each answering the
//! expected status. No GET changes any table; every POST refuses a missing or wrong CSRF token and changes nothing.
//! The route table is compared with the `.route(` calls in `src/web`, so that a new route without a row fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anxu::clock::Clock;
use anxu::demo::{SAMPLE_PDF, act_as, next_bundle, sample_application};
use anxu::domain::activity::CreditCode;
use anxu::domain::region::Adcode;
use anxu::domain::role::RoleInput;
use anxu::domain::user::{LoginName, Mobile, UserProfile, UserType};
use anxu::domain::workflow::Action;
use anxu::exchange::records::{ApplicationRecords, AttachmentRecord, FilingRecord};
use anxu::store::exchange::ImportOutcome;
use anxu::store::portal::Registration;
use anxu::store::{Actor, NewUser};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::TimeDelta;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::harness::{Client, Resp, TestApp};

// ---- shared helpers (also used by `bad_input` and `concurrency`) ----

/// The boundary of the multipart bodies built here.
pub(crate) const BOUNDARY: &str = "anxu-matrix-boundary-7c1e";

/// A multipart body with text `fields` and `files` (field name, file name, bytes).
pub(crate) fn multipart_body(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    for (name, file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// The content type of [`multipart_body`].
pub(crate) fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// A request as a browser of `session` sends it, with any further `headers`.
pub(crate) fn request(
    method: &str,
    uri: &str,
    session: Option<&str>,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(s) = session {
        b = b.header(header::COOKIE, format!("anxu_session={s}"));
    }
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).unwrap()
}

/// Sends `req` through the app's router and reads the whole response.
pub(crate) async fn send(app: &TestApp, req: Request<Body>) -> Resp {
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes: bytes.to_vec() }
}

/// `csrf=<token>` form-encoded.
pub(crate) fn csrf_pair(token: &str) -> String {
    serde_urlencoded::to_string([("csrf", token)]).unwrap()
}

/// A digest of every table (its row count and the MD5 of its rows in a stable order), leaving out what a GET may
/// write (ARCHITECTURE.md, "No state change on GET"): a session's last-seen time and the audit records of Excel
/// exports.
pub(crate) async fn digests(app: &TestApp) -> BTreeMap<String, String> {
    app.state
        .store
        .read(|c| {
            let mut s = c.prepare("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name")?;
            let tables = s.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            let mut out = BTreeMap::new();
            for t in tables {
                let rows = match t.as_str() {
                    "sessions" => "SELECT * EXCLUDE (last_seen_at) FROM sessions".to_string(),
                    "audit_log" => {
                        "SELECT * FROM audit_log WHERE action NOT IN ('stats.export', 'permits.export')".to_string()
                    }
                    other => format!("SELECT * FROM \"{other}\""),
                };
                let sql = format!(
                    "SELECT concat(count(*), ' ', coalesce(md5(string_agg(CAST(t AS VARCHAR), chr(10) \
                     ORDER BY CAST(t AS VARCHAR))), '')) FROM ({rows}) t"
                );
                let digest: String = c.query_row(&sql, [], |r| r.get(0))?;
                out.insert(t, digest);
            }
            Ok(out)
        })
        .await
        .unwrap()
}

/// The tables whose digest differs.
pub(crate) fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names.into_iter().filter(|t| before.get(*t) != after.get(*t)).cloned().collect()
}

/// The first heading and error texts of a page, or the start of its body, to explain a failure.
pub(crate) fn gist(r: &Resp) -> String {
    let mut parts = r.texts("h1");
    parts.extend(r.texts(".form-error, .field-error, .error-card p"));
    let s = parts.join(" | ");
    if s.is_empty() { r.body.chars().take(160).collect() } else { s.chars().take(240).collect() }
}

fn system() -> Actor {
    Actor { id: None, login: "system".into(), region: None, source: "test".into() }
}

fn adcode(code: &str) -> Adcode {
    Adcode::parse(code).unwrap()
}

// ---- the table ----

/// Which site serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Site {
    Intranet,
    Portal,
    /// Both sites (sign-in, the home page, health, static files).
    Both,
}

/// Who may use a route (for a signed-in user; an anonymous request is sent to sign-in unless `Public`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user.
    Anyone,
    /// 系统管理员 of any region.
    Admin,
    /// The provincial 系统管理员 only (规模配置, 节假日配置 changes).
    ProvAdmin,
    /// 系统管理员 and 审批人员 (许可管理, 备案管理).
    Viewer,
    /// 审批人员.
    Approver,
    /// 审计管理员.
    Auditor,
    /// 安全管理员.
    SecAdmin,
    /// 指挥员.
    Commander,
    /// 分析员.
    Analyst,
    /// The portal's administrator.
    PortalAdmin,
    /// 承办方.
    Organizer,
    /// 政府单位.
    Gov,
    /// 承办方 and 政府单位.
    Notified,
    /// Checked by its own test: sign-in and registration (double-submit cookie).
    Special,
}

/// The object a route's path (or form) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Obj {
    None,
    User,
    Role,
    Activity,
    ActivityFile,
    Document,
    Filing,
    FilingFile,
    Export,
    SmsKind,
    Report,
    Static,
    Day,
    App,
    AppFile,
    AppNote,
    GovFiling,
    GovFilingFile,
    PortalExport,
    SmsMessage,
}

impl Obj {
    /// Whether the object belongs to a region (intranet) or an account (portal): another one's answers 404.
    fn scoped(self) -> bool {
        matches!(
            self,
            Obj::User
                | Obj::Role
                | Obj::Activity
                | Obj::ActivityFile
                | Obj::Document
                | Obj::Filing
                | Obj::FilingFile
                | Obj::App
                | Obj::AppFile
                | Obj::AppNote
                | Obj::GovFiling
                | Obj::GovFilingFile
        )
    }
}

/// What a POST sends besides the CSRF token.
#[derive(Debug, Clone, Copy)]
enum Payload {
    /// GET.
    None,
    /// An urlencoded form (placeholders `{name}` filled from the object).
    Form(&'static str),
    /// A multipart form with one unknown text field and no file.
    Multipart,
}

/// One route: method and path template exactly as the router has them, who may use it, the object its
/// placeholders name, and the statuses a permitted user gets with the object of its own region.
struct Route {
    site: Site,
    method: &'static str,
    path: &'static str,
    who: Who,
    obj: Obj,
    payload: Payload,
    ok: &'static [u16],
}

const fn get(site: Site, path: &'static str, who: Who, obj: Obj, ok: &'static [u16]) -> Route {
    Route { site, method: "GET", path, who, obj, payload: Payload::None, ok }
}

const fn post(site: Site, path: &'static str, who: Who, obj: Obj, form: &'static str, ok: &'static [u16]) -> Route {
    Route { site, method: "POST", path, who, obj, payload: Payload::Form(form), ok }
}

const fn upload(site: Site, path: &'static str, who: Who, obj: Obj, ok: &'static [u16]) -> Route {
    Route { site, method: "POST", path, who, obj, payload: Payload::Multipart, ok }
}

use Obj as O;
use Site::{Both as B, Intranet as I, Portal as P};
use Who as W;

/// Every route of both sites. The POSTs send empty (or deliberately incomplete) forms, so that a permitted user is
/// refused by the form's own checks (422) or the state (409) and the matrix changes as little as possible.
const ROUTES: &[Route] = &[
    // Both sites: sign-in, home, own password, health, static files.
    get(B, "/", W::Anyone, O::None, &[200]),
    get(B, "/login", W::Public, O::None, &[200]),
    post(B, "/login", W::Special, O::None, "", &[]),
    post(B, "/logout", W::Anyone, O::None, "", &[303]),
    get(B, "/account/password", W::Anyone, O::None, &[200]),
    post(B, "/account/password", W::Anyone, O::None, "", &[422]),
    get(B, "/healthz", W::Public, O::None, &[200]),
    get(B, "/static/{file}", W::Public, O::Static, &[200]),
    // 用户配置
    get(I, "/config/users", W::Admin, O::None, &[200]),
    post(I, "/config/users", W::Admin, O::None, "", &[422]),
    get(I, "/config/users/new", W::Admin, O::None, &[200]),
    get(I, "/config/users/{id}", W::Admin, O::User, &[200]),
    post(I, "/config/users/{id}", W::Admin, O::User, "", &[422]),
    get(I, "/config/users/{id}/freeze", W::Admin, O::User, &[200]),
    post(I, "/config/users/{id}/freeze", W::Admin, O::User, "", &[303, 409]),
    get(I, "/config/users/{id}/unfreeze", W::Admin, O::User, &[200]),
    post(I, "/config/users/{id}/unfreeze", W::Admin, O::User, "", &[303, 409]),
    // 角色配置 (the roles are held by a user, so deleting is refused)
    get(I, "/config/roles", W::Admin, O::None, &[200]),
    post(I, "/config/roles", W::Admin, O::None, "", &[422]),
    get(I, "/config/roles/new", W::Admin, O::None, &[200]),
    get(I, "/config/roles/{id}", W::Admin, O::Role, &[200]),
    post(I, "/config/roles/{id}", W::Admin, O::Role, "", &[422]),
    get(I, "/config/roles/{id}/delete", W::Admin, O::Role, &[200]),
    post(I, "/config/roles/{id}/delete", W::Admin, O::Role, "", &[409]),
    // 审计日志, 安全策略
    get(I, "/audit", W::Auditor, O::None, &[200]),
    get(I, "/security/policy", W::SecAdmin, O::None, &[200]),
    post(I, "/security/policy", W::SecAdmin, O::None, "", &[422]),
    get(I, "/security/locked", W::SecAdmin, O::None, &[200]),
    post(I, "/security/locked/{id}/unlock", W::SecAdmin, O::User, "", &[409]),
    // 结果导出 (the export log is province-wide: one chain of bundles)
    get(I, "/exchange", W::Admin, O::None, &[200]),
    post(I, "/exchange/export", W::Admin, O::None, "", &[303]),
    get(I, "/exchange/exports/{id}", W::Admin, O::Export, &[200]),
    upload(I, "/exchange/import", W::Admin, O::None, &[422]),
    post(I, "/exchange/keys", W::Admin, O::None, "", &[422]),
    get(I, "/exchange/public-key", W::Admin, O::None, &[200]),
    // 许可管理 (the activity is in approval at 科长审核: each action page offers or refuses its form)
    get(I, "/permits", W::Viewer, O::None, &[200]),
    get(I, "/permits/export", W::Viewer, O::None, &[200]),
    get(I, "/permits/files/{file_id}", W::Viewer, O::ActivityFile, &[200]),
    get(I, "/permits/documents/{doc_id}", W::Viewer, O::Document, &[200]),
    get(I, "/permits/{id}", W::Viewer, O::Activity, &[200]),
    get(I, "/permits/{id}/pre-review", W::Approver, O::Activity, &[200, 409]),
    post(I, "/permits/{id}/pre-review", W::Approver, O::Activity, "", &[422]),
    get(I, "/permits/{id}/accept", W::Approver, O::Activity, &[200, 409]),
    post(I, "/permits/{id}/accept", W::Approver, O::Activity, "", &[422]),
    get(I, "/permits/{id}/approve", W::Approver, O::Activity, &[200, 409]),
    post(I, "/permits/{id}/approve", W::Approver, O::Activity, "", &[422]),
    get(I, "/permits/{id}/survey", W::Approver, O::Activity, &[200]),
    upload(I, "/permits/{id}/survey", W::Approver, O::Activity, &[422]),
    get(I, "/permits/{id}/inspection", W::Approver, O::Activity, &[200]),
    upload(I, "/permits/{id}/inspection", W::Approver, O::Activity, &[422]),
    // 备案管理
    get(I, "/filings", W::Viewer, O::None, &[200]),
    get(I, "/filings/files/{file_id}", W::Viewer, O::FilingFile, &[200]),
    get(I, "/filings/{id}", W::Viewer, O::Filing, &[200]),
    // 材料清单配置, 流程配置, 规模配置, 节假日配置, 消息管理
    get(I, "/config/materials", W::Admin, O::None, &[200]),
    get(I, "/config/materials/edit", W::Admin, O::None, &[200]),
    post(I, "/config/materials/edit", W::Admin, O::None, "", &[422]),
    post(I, "/config/materials/reset", W::Admin, O::None, "", &[409]),
    get(I, "/config/flows", W::Admin, O::None, &[200]),
    get(I, "/config/flows/edit", W::Admin, O::None, &[200]),
    post(I, "/config/flows/edit", W::Admin, O::None, "", &[422]),
    get(I, "/config/scale", W::Admin, O::None, &[200]),
    post(I, "/config/scale", W::ProvAdmin, O::None, "", &[422]),
    get(I, "/config/calendar", W::Admin, O::None, &[200]),
    post(I, "/config/calendar", W::ProvAdmin, O::None, "", &[422]),
    post(I, "/config/calendar/remove", W::ProvAdmin, O::Day, "date={day}", &[303]),
    get(I, "/sms/{kind}", W::Admin, O::SmsKind, &[200]),
    post(I, "/sms/{kind}", W::Admin, O::SmsKind, "", &[422]),
    // 地图势态, 统计中心
    get(I, "/map", W::Commander, O::None, &[200]),
    get(I, "/stats", W::Analyst, O::None, &[200]),
    get(I, "/stats/{id}", W::Analyst, O::Report, &[200]),
    get(I, "/stats/{id}/export", W::Analyst, O::Report, &[200]),
    // Portal: 短信发送
    get(P, "/outbox", W::PortalAdmin, O::None, &[200]),
    post(P, "/outbox/gateway", W::PortalAdmin, O::None, "", &[422]),
    post(P, "/outbox/send", W::PortalAdmin, O::None, "", &[303]),
    post(P, "/outbox/{id}/retry", W::PortalAdmin, O::SmsMessage, "", &[303]),
    // Portal: 我的备案
    get(P, "/file", W::Gov, O::None, &[200]),
    get(P, "/file/new", W::Gov, O::None, &[200]),
    upload(P, "/file/new", W::Gov, O::None, &[422]),
    get(P, "/file/{portal_ref}", W::Gov, O::GovFiling, &[200]),
    get(P, "/file/{portal_ref}/files/{file_id}", W::Gov, O::GovFilingFile, &[200]),
    // Portal: 消息通知
    get(P, "/notifications", W::Notified, O::None, &[200]),
    post(P, "/notifications/read", W::Notified, O::None, "", &[303]),
    // Portal: 数据交换
    get(P, "/exchange", W::PortalAdmin, O::None, &[200]),
    post(P, "/exchange/export", W::PortalAdmin, O::None, "", &[303]),
    get(P, "/exchange/exports/{id}", W::PortalAdmin, O::PortalExport, &[200]),
    upload(P, "/exchange/import", W::PortalAdmin, O::None, &[422]),
    post(P, "/exchange/keys", W::PortalAdmin, O::None, "", &[422]),
    get(P, "/exchange/public-key", W::PortalAdmin, O::None, &[200]),
    // Portal: 注册
    get(P, "/register", W::Public, O::None, &[200]),
    post(P, "/register", W::Special, O::None, "", &[]),
    // Portal: 我的申请 (a draft with one file, a notification with a document and a rectification opinion)
    get(P, "/apply", W::Organizer, O::None, &[200]),
    get(P, "/apply/new", W::Organizer, O::None, &[200]),
    post(P, "/apply/new", W::Organizer, O::None, "", &[422]),
    get(P, "/apply/files/{file_id}", W::Organizer, O::AppFile, &[200]),
    get(P, "/apply/{portal_ref}", W::Organizer, O::App, &[200]),
    get(P, "/apply/{portal_ref}/edit", W::Organizer, O::App, &[200]),
    post(P, "/apply/{portal_ref}/edit", W::Organizer, O::App, "", &[422]),
    upload(P, "/apply/{portal_ref}/upload", W::Organizer, O::App, &[422]),
    post(P, "/apply/{portal_ref}/submit", W::Organizer, O::App, "", &[409]),
    get(P, "/apply/{portal_ref}/withdraw", W::Organizer, O::App, &[200, 409]),
    post(P, "/apply/{portal_ref}/feedback", W::Organizer, O::App, "rectification_id={rect}&feedback=", &[422]),
    get(P, "/apply/{portal_ref}/document/{notification_id}", W::Organizer, O::AppNote, &[200]),
];

// ---- the users ----

/// What a demo user is, for [`allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ProvAdmin,
    Admin,
    Approver,
    Commander,
    Analyst,
    SecAdmin,
    Auditor,
    PortalAdmin,
    Organizer,
    Gov,
}

/// Which objects are a user's own: side A (杭州市 西湖区; on the portal org_demo's and gov_demo's), side B
/// (宁波市 海曙区; another organizer's and government unit's), or all of them (the province: no other region).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Home {
    A,
    B,
    All,
}

struct Persona {
    login: &'static str,
    kind: Kind,
    home: Home,
}

const fn persona(login: &'static str, kind: Kind, home: Home) -> Persona {
    Persona { login, kind, home }
}

/// The intranet's demo users (README.md).
const INTRANET_USERS: &[Persona] = &[
    persona("zj_admin", Kind::ProvAdmin, Home::All),
    persona("hz_admin", Kind::Admin, Home::A),
    persona("nb_admin", Kind::Admin, Home::B),
    persona("xh_keyuan", Kind::Approver, Home::A),
    persona("xh_kezhang", Kind::Approver, Home::A),
    persona("xh_juzhang", Kind::Approver, Home::A),
    persona("hz_kezhang", Kind::Approver, Home::A),
    persona("hz_juzhang", Kind::Approver, Home::A),
    persona("zj_commander", Kind::Commander, Home::All),
    persona("zj_analyst", Kind::Analyst, Home::All),
    persona("zj_secadmin", Kind::SecAdmin, Home::All),
    persona("zj_auditor", Kind::Auditor, Home::All),
];

/// The portal's demo accounts.
const PORTAL_USERS: &[Persona] = &[
    persona("org_demo", Kind::Organizer, Home::A),
    persona("gov_demo", Kind::Gov, Home::A),
    persona("portal_admin", Kind::PortalAdmin, Home::All),
];

/// Whether a user of `kind` may use a route for `who`.
fn allowed(who: Who, kind: Kind) -> bool {
    use Kind as K;
    match who {
        W::Public | W::Anyone => true,
        W::Admin => matches!(kind, K::ProvAdmin | K::Admin),
        W::ProvAdmin => kind == K::ProvAdmin,
        W::Viewer => matches!(kind, K::ProvAdmin | K::Admin | K::Approver),
        W::Approver => kind == K::Approver,
        W::Auditor => kind == K::Auditor,
        W::SecAdmin => kind == K::SecAdmin,
        W::Commander => kind == K::Commander,
        W::Analyst => kind == K::Analyst,
        W::PortalAdmin => kind == K::PortalAdmin,
        W::Organizer => kind == K::Organizer,
        W::Gov => kind == K::Gov,
        W::Notified => matches!(kind, K::Organizer | K::Gov),
        W::Special => false,
    }
}

// ---- the objects ----

/// The placeholder values of each object, for side A and side B (unscoped objects are the same on both).
struct Objects {
    sides: [BTreeMap<Obj, Vec<(&'static str, String)>>; 2],
}

impl Objects {
    fn new() -> Self {
        let mut o = Self { sides: [BTreeMap::new(), BTreeMap::new()] };
        o.both(Obj::None, vec![]);
        o.both(Obj::Static, vec![("file", "app.css".into())]);
        o
    }

    fn both(&mut self, obj: Obj, values: Vec<(&'static str, String)>) {
        self.sides[0].insert(obj, values.clone());
        self.sides[1].insert(obj, values);
    }

    fn side(&mut self, side: usize, obj: Obj, values: Vec<(&'static str, String)>) {
        self.sides[side].insert(obj, values);
    }

    /// `template` with the placeholders of `obj` on `side` filled in.
    fn fill(&self, side: usize, obj: Obj, template: &str) -> String {
        let mut out = template.to_string();
        for (name, value) in self.sides[side].get(&obj).unwrap_or_else(|| panic!("no fixture for {obj:?}")) {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        assert!(!out.contains('{'), "unfilled placeholder in {out} ({obj:?})");
        out
    }
}

/// A government unit's filing held in `county`, with one 报备材料, as the portal sends it.
fn filing_record(app: &TestApp, portal_ref: &str, name: &str, county: u32) -> (FilingRecord, Vec<(String, Vec<u8>)>) {
    let start = app.clock.now() + TimeDelta::days(30);
    let slug: String = portal_ref.chars().filter(char::is_ascii_alphanumeric).collect();
    let record = FilingRecord {
        portal_ref: portal_ref.into(),
        unit_name: "区文化和广电旅游体育局".into(),
        credit_code: "11330106002500123J".into(),
        name: name.into(),
        kind: "festival".into(),
        regions: vec![county],
        venue: "文化广场".into(),
        start_at: start,
        end_at: start + TimeDelta::hours(3),
        attendance: 3000,
        contact_name: "王科长".into(),
        contact_mobile: "13900571234".into(),
        filed_at: app.clock.now().and_utc(),
        attachments: vec![AttachmentRecord {
            kind: "filing".into(),
            file: format!("{slug}-filing.pdf"),
            name: "活动报备表.pdf".into(),
        }],
    };
    let files = vec![(format!("{slug}-filing.pdf"), SAMPLE_PDF.to_vec())];
    (record, files)
}

/// The intranet's objects: on side A (西湖区 / 杭州市) and side B (海曙区 / 宁波市) a user holding a role of its
/// city, an application with its attachments and decision document, a filing with its attachment; an export, a
/// calendar day, an SMS kind, a report.
async fn intranet_objects(app: &TestApp) -> Objects {
    let now = app.clock.now();
    let keyuan = app.role_id("科员").await;
    let (users, roles) = app
        .state
        .store
        .write(move |tx| {
            let role = |region: &str, name: &str| {
                let input = RoleInput { name: name.into(), description: "矩阵测试".into() };
                anxu::store::roles::create(tx, now, adcode(region), &input, &system())
            };
            let roles = [role("330100", "矩阵杭州角色")?, role("330200", "矩阵宁波角色")?];
            let user = |login: &str, region: &str, role: i64| {
                let new = NewUser {
                    login_name: LoginName::parse(login).unwrap(),
                    profile: UserProfile {
                        real_name: "矩阵用户".into(),
                        region: adcode(region),
                        mobile: Mobile::parse("13900001234").unwrap(),
                        user_type: UserType::Approver,
                        approval_role: Some(role),
                    },
                    password_hash: "!".into(),
                    must_change_password: false,
                };
                anxu::store::users::create(tx, now, &new, &system())
            };
            let users = [user("matrix_a", "330106", roles[0])?, user("matrix_b", "330203", roles[1])?];
            user("nb_keyuan", "330203", keyuan)?;
            Ok((users, roles))
        })
        .await
        .unwrap();

    // 西湖区: accepted (受理通知书), in approval at the first step; 海曙区: not accepted (不予受理通知书).
    let a = app.seed_application("矩阵西湖音乐会", "330106", 1200).await;
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {a}")).await;
    act_as(&app.state, "xh_keyuan", &pr, Action::PassPreReview).unwrap();
    app.submit_for_acceptance(a).await;
    act_as(&app.state, "xh_keyuan", &pr, Action::Accept { steps: 0 }).unwrap();
    let b = app.seed_application("矩阵宁波展会", "330203", 1200).await;
    let pr = app.text(&format!("SELECT portal_ref FROM activities WHERE id = {b}")).await;
    act_as(&app.state, "nb_keyuan", &pr, Action::PassPreReview).unwrap();
    app.submit_for_acceptance(b).await;
    act_as(&app.state, "nb_keyuan", &pr, Action::NotAccept { reason: "材料不全".into() }).unwrap();

    let (fa, fb) =
        (filing_record(app, "F-M-A", "矩阵西湖灯会", 330106), filing_record(app, "F-M-B", "矩阵宁波灯会", 330203));
    let mut files = fa.1;
    files.extend(fb.1);
    let records = ApplicationRecords { applications: vec![], feedback: vec![], filings: vec![fa.0, fb.0] };
    let bytes = next_bundle(&app.state, &app.portal, &records, &files).unwrap();
    let outcome = anxu::demo::import(&app.state, bytes).unwrap();
    assert!(matches!(outcome, ImportOutcome::Applied(_)), "{outcome:?}");

    // One export of 杭州市's results (the log is province-wide).
    let hz = app.login_as("hz_admin").await;
    let r = hz.post_form("/exchange/export", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", gist(&r));
    let export = app.scalar("SELECT max(id) FROM exports").await;
    let day = app.text("SELECT strftime(max(day), '%Y-%m-%d') FROM calendar_days").await;

    let mut o = Objects::new();
    for (side, (activity, filing)) in [(a, "F-M-A"), (b, "F-M-B")].into_iter().enumerate() {
        let file = app.scalar(&format!("SELECT min(file_id) FROM materials WHERE activity_id = {activity}")).await;
        let doc = app.scalar(&format!("SELECT min(id) FROM documents WHERE activity_id = {activity}")).await;
        let fid = app.scalar(&format!("SELECT id FROM filings WHERE portal_ref = '{filing}'")).await;
        let ffile = app.scalar(&format!("SELECT min(file_id) FROM filing_files WHERE filing_id = {fid}")).await;
        o.side(side, Obj::User, vec![("id", users[side].to_string())]);
        o.side(side, Obj::Role, vec![("id", roles[side].to_string())]);
        o.side(side, Obj::Activity, vec![("id", activity.to_string())]);
        o.side(side, Obj::ActivityFile, vec![("file_id", file.to_string())]);
        o.side(side, Obj::Document, vec![("doc_id", doc.to_string())]);
        o.side(side, Obj::Filing, vec![("id", fid.to_string())]);
        o.side(side, Obj::FilingFile, vec![("file_id", ffile.to_string())]);
    }
    o.both(Obj::Export, vec![("id", export.to_string())]);
    o.both(Obj::Day, vec![("day", day)]);
    o.both(Obj::SmsKind, vec![("kind", "pre_review".into())]);
    o.both(Obj::Report, vec![("id", "survey_by_region".into())]);
    o
}

/// The portal's objects: for org_demo (A) and a second organizer (B) a draft with one uploaded file, a notification
/// with a decision document and a rectification opinion; for gov_demo (A) and a second government unit (B) a filing
/// with its attachment; an SMS in the outbox and an application export.
async fn portal_objects(app: &TestApp) -> Objects {
    let now = app.clock.now();
    let province = app.state.regions.root().adcode;
    app.state
        .store
        .write(move |tx| {
            for (kind, login, code) in [
                (UserType::Organizer, "org_other", "91330203MA2X000017"),
                (UserType::GovernmentUnit, "gov_other", "11330203002500456R"),
            ] {
                let r = Registration {
                    kind,
                    login: LoginName::parse(login).unwrap(),
                    password_hash: "!".into(),
                    credit_code: CreditCode::parse(code).unwrap(),
                    unit_name: format!("{login} 单位"),
                    contact_name: "王经理".into(),
                    contact_mobile: Mobile::parse("13900572222").unwrap(),
                };
                anxu::store::portal::register(tx, now, province, &r, &system())?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let checked = anxu::files::check("plan.pdf", SAMPLE_PDF, false).unwrap();
    app.state.files.save(&checked, SAMPLE_PDF).unwrap();

    let mut o = Objects::new();
    for (side, login) in ["org_demo", "org_other"].into_iter().enumerate() {
        let uid = app.user_id(login).await;
        let name = format!("矩阵申请{side}");
        let (record, _) = sample_application("P-M", &name, "performance", &[330106], 3000, now + TimeDelta::days(40));
        let (c, rect) = (checked.clone(), side as i64 + 1);
        let (portal_ref, file, note) = app
            .state
            .store
            .write(move |tx| {
                let r = anxu::store::portal::create_draft(tx, now, uid, &record)?;
                let f = anxu::store::portal::add_file(tx, now, &r, "activity_plan", &c)?;
                let note: i64 = tx.query_row(
                    "INSERT INTO notifications (user_id, portal_ref, title, body, document, created_at)
                     VALUES (?, ?, '受理通知', '您的申请已受理。', ?, ?) RETURNING id",
                    duckdb::params![uid, r, c.sm3, now],
                    |row| row.get(0),
                )?;
                tx.execute(
                    "INSERT INTO portal_rectifications (rectification_id, portal_ref, opinion) VALUES (?, ?, '增设应急照明')",
                    duckdb::params![rect, r],
                )?;
                Ok((r, f, note))
            })
            .await
            .unwrap();
        o.side(side, Obj::App, vec![("portal_ref", portal_ref.clone()), ("rect", rect.to_string())]);
        o.side(side, Obj::AppFile, vec![("file_id", file.to_string())]);
        o.side(side, Obj::AppNote, vec![("portal_ref", portal_ref), ("notification_id", note.to_string())]);
    }
    for (side, code) in ["121000004000003980", "11330203002500456R"].into_iter().enumerate() {
        let start = now + TimeDelta::hours(8) + TimeDelta::days(30);
        let record = FilingRecord {
            portal_ref: String::new(),
            unit_name: "矩阵政府单位".into(),
            credit_code: code.into(),
            name: format!("矩阵备案{side}"),
            kind: "festival".into(),
            regions: vec![330106],
            venue: "西湖文化广场".into(),
            start_at: start,
            end_at: start + TimeDelta::hours(3),
            attendance: 3000,
            contact_name: "王科长".into(),
            contact_mobile: "13900571234".into(),
            filed_at: now.and_utc(),
            attachments: Vec::new(),
        };
        let c = checked.clone();
        let (portal_ref, file) = app
            .state
            .store
            .write(move |tx| {
                let r = anxu::store::portal::file_filing(tx, now, record.clone(), &system())?;
                let f = anxu::store::portal::add_file(tx, now, &r, "filing", &c)?;
                Ok((r, f))
            })
            .await
            .unwrap();
        o.side(side, Obj::GovFiling, vec![("portal_ref", portal_ref.clone())]);
        o.side(side, Obj::GovFilingFile, vec![("portal_ref", portal_ref), ("file_id", file.to_string())]);
    }
    app.state
        .store
        .write(move |tx| anxu::store::sms::enqueue(tx, now, "13800571234", "矩阵测试短信", "matrix:1"))
        .await
        .unwrap();
    let sms = app.scalar("SELECT max(id) FROM sms_outbox").await;
    let admin = app.login_as("portal_admin").await;
    let r = admin.post_form("/exchange/export", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", gist(&r));
    let export = app.scalar("SELECT max(id) FROM portal_exports").await;
    o.both(Obj::SmsMessage, vec![("id", sms.to_string())]);
    o.both(Obj::PortalExport, vec![("id", export.to_string())]);
    o
}

// ---- running the matrix ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The object of the user's own region (account).
    Own,
    /// The object of another region (account).
    Other,
}

/// What a request must answer.
#[derive(Debug)]
enum Expect {
    /// One of these statuses (a 303 not to the sign-in page).
    Ok(&'static [u16]),
    /// 303 to the sign-in page.
    Login,
    /// 403 无权访问.
    Forbidden,
    /// 404.
    NotFound,
}

fn expect(r: &Route, kind: Option<Kind>, variant: Variant) -> Expect {
    match kind {
        None if r.who == W::Public => Expect::Ok(r.ok),
        None => Expect::Login,
        Some(k) if !allowed(r.who, k) => Expect::Forbidden,
        Some(_) if variant == Variant::Other => Expect::NotFound,
        Some(_) => Expect::Ok(r.ok),
    }
}

/// Why `resp` does not meet `e`, if it does not.
fn mismatch(resp: &Resp, e: &Expect) -> Option<String> {
    let status = resp.status.as_u16();
    let to_login = status == 303 && resp.location().starts_with("/login");
    let good = match e {
        Expect::Ok(list) => list.contains(&status) && !to_login,
        Expect::Login => to_login,
        Expect::Forbidden => status == 403 && resp.texts("h1") == ["无权访问"],
        Expect::NotFound => status == 404,
    };
    (!good).then(|| format!("expected {e:?}, got {status} {} {}", resp.location(), gist(resp)))
}

/// Sends route `r` to `path` with `form` as `c` does (its session and CSRF token, if any).
async fn call(c: &Client<'_>, r: &Route, path: &str, form: &str) -> Resp {
    match r.payload {
        Payload::None => c.get(path).await,
        Payload::Multipart => c.post_multipart(path, &[("note", "")], &[]).await,
        Payload::Form(_) => {
            let mut body = form.to_string();
            if let Some(t) = &c.csrf {
                if !body.is_empty() {
                    body.push('&');
                }
                body.push_str(&csrf_pair(t));
            }
            c.post_raw(path, &body).await
        }
    }
}

fn routes_of(site: Site) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |r| r.site == site || r.site == Site::Both)
}

/// The side of `p`'s own objects, and of another region's (none for the province).
fn sides(p: &Persona) -> (usize, Option<usize>) {
    match p.home {
        Home::A => (0, Some(1)),
        Home::B => (1, Some(0)),
        Home::All => (0, None),
    }
}

/// Sends every route of `method` as every user (own and other object) and without a session; collects mismatches.
async fn sweep(
    app: &TestApp,
    site: Site,
    users: &[(&Persona, Client<'_>)],
    objects: &Objects,
    method: &str,
    failures: &mut Vec<String>,
) {
    for r in routes_of(site).filter(|r| r.method == method && r.who != W::Special) {
        let form = match r.payload {
            Payload::Form(f) => f,
            _ => "",
        };
        for (p, c) in users {
            if r.path == "/logout" {
                continue; // signs out: done last, see `sign_out_all`
            }
            let (own, other) = sides(p);
            let mut variants = vec![(Variant::Own, own)];
            if let (true, Some(side)) = (r.obj.scoped(), other) {
                variants.push((Variant::Other, side));
            }
            for (variant, side) in variants {
                let path = objects.fill(side, r.obj, r.path);
                let resp = call(c, r, &path, &objects.fill(side, r.obj, form)).await;
                if let Some(m) = mismatch(&resp, &expect(r, Some(p.kind), variant)) {
                    failures.push(format!("{site:?} {} {variant:?} {} {path}: {m}", p.login, r.method));
                }
            }
        }
        let anon = app.anon();
        let path = objects.fill(0, r.obj, r.path);
        let resp = call(&anon, r, &path, &objects.fill(0, r.obj, form)).await;
        if let Some(m) = mismatch(&resp, &expect(r, None, Variant::Own)) {
            failures.push(format!("{site:?} anonymous {} {path}: {m}", r.method));
        }
    }
}

/// Every POST refuses, as a permitted user with its own object, a request without a token, with a wrong token in
/// the form (or query), with a wrong `X-CSRF-Token` header over the right form token, and with another session's
/// token; sign-in and registration refuse a token that does not match their cookie.
async fn csrf_refusals(
    app: &TestApp,
    site: Site,
    users: &[(&Persona, Client<'_>)],
    objects: &Objects,
    failures: &mut Vec<String>,
) {
    for r in routes_of(site).filter(|r| r.method == "POST") {
        let mut attempts: Vec<(String, Request<Body>)> = Vec::new();
        if r.who == W::Special {
            let body = format!("login_name=zj_admin&password=Anxu%402026&{}", csrf_pair("forged"));
            let form = Some("application/x-www-form-urlencoded");
            attempts.push(("no cookie".into(), request("POST", r.path, None, form, &[], body.clone().into_bytes())));
            let cookie = [("cookie", "anxu_login_csrf=another")];
            attempts.push(("other cookie".into(), request("POST", r.path, None, form, &cookie, body.into_bytes())));
        } else {
            let Some((p, c)) = users.iter().find(|(p, _)| allowed(r.who, p.kind)) else {
                failures.push(format!("{site:?} {}: no user may use it", r.path));
                continue;
            };
            let other_token = users.iter().find(|(q, _)| q.login != p.login).and_then(|(_, c)| c.csrf.clone());
            let side = sides(p).0;
            let path = objects.fill(side, r.obj, r.path);
            let session = c.session.as_deref();
            let token = c.csrf.clone().unwrap_or_default();
            match r.payload {
                Payload::Multipart => {
                    let (ct, body) = (multipart_type(), multipart_body(&[("note", "")], &[]));
                    let ct = Some(ct.as_str());
                    let wrong = format!("{path}?{}", csrf_pair("0000"));
                    let stolen = format!("{path}?{}", csrf_pair(&other_token.clone().unwrap_or_default()));
                    let right = format!("{path}?{}", csrf_pair(&token));
                    let header = [("x-csrf-token", "0000")];
                    attempts.push(("none".into(), request("POST", &path, session, ct, &[], body.clone())));
                    attempts.push(("wrong".into(), request("POST", &wrong, session, ct, &[], body.clone())));
                    attempts.push(("header".into(), request("POST", &right, session, ct, &header, body.clone())));
                    attempts.push(("stolen".into(), request("POST", &stolen, session, ct, &[], body)));
                }
                _ => {
                    let form = match r.payload {
                        Payload::Form(f) => objects.fill(side, r.obj, f),
                        _ => String::new(),
                    };
                    let with = |t: &str| {
                        if form.is_empty() { csrf_pair(t) } else { format!("{form}&{}", csrf_pair(t)) }
                    };
                    let ct = Some("application/x-www-form-urlencoded");
                    let header = [("x-csrf-token", "0000")];
                    let stolen = with(&other_token.clone().unwrap_or_default());
                    attempts.push(("none".into(), request("POST", &path, session, ct, &[], form.clone().into_bytes())));
                    attempts
                        .push(("wrong".into(), request("POST", &path, session, ct, &[], with("0000").into_bytes())));
                    attempts.push((
                        "header".into(),
                        request("POST", &path, session, ct, &header, with(&token).into_bytes()),
                    ));
                    attempts.push(("stolen".into(), request("POST", &path, session, ct, &[], stolen.into_bytes())));
                }
            }
        }
        for (what, req) in attempts {
            let resp = send(app, req).await;
            if !(resp.status == StatusCode::FORBIDDEN && resp.texts("h1") == ["表单已失效"]) {
                failures.push(format!("{site:?} CSRF {what} POST {}: got {} {}", r.path, resp.status, gist(&resp)));
            }
        }
    }
}

/// Every user signs out (POST /logout with its token) and is then sent to sign-in.
async fn sign_out_all(users: &[(&Persona, Client<'_>)], failures: &mut Vec<String>) {
    for (p, c) in users {
        let r = c.post_form("/logout", &[]).await;
        if !(r.status == StatusCode::SEE_OTHER && r.location() == "/login") {
            failures.push(format!("{} POST /logout: got {} {}", p.login, r.status, r.location()));
        }
        let r = c.get("/").await;
        if !(r.status == StatusCode::SEE_OTHER && r.location().starts_with("/login")) {
            failures.push(format!("{} GET / after sign-out: got {} {}", p.login, r.status, r.location()));
        }
    }
}

/// The whole matrix of one site: GETs (changing nothing), CSRF refusals (changing nothing), POSTs, sign-out.
async fn check_site(app: &TestApp, site: Site, personas: &[Persona], objects: &Objects) {
    let mut users = Vec::new();
    for p in personas {
        users.push((p, app.login_as(p.login).await));
    }
    let mut failures = Vec::new();

    let before = digests(app).await;
    sweep(app, site, &users, objects, "GET", &mut failures).await;
    let after = digests(app).await;
    for t in changed(&before, &after) {
        failures.push(format!("{site:?}: a GET changed table {t}"));
    }

    csrf_refusals(app, site, &users, objects, &mut failures).await;
    let refused = digests(app).await;
    for t in changed(&after, &refused) {
        failures.push(format!("{site:?}: a POST refused for its CSRF token changed table {t}"));
    }

    sweep(app, site, &users, objects, "POST", &mut failures).await;
    sign_out_all(&users, &mut failures).await;
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn intranet_every_route_every_user_own_and_other_region() {
    let app = TestApp::new();
    let objects = intranet_objects(&app).await;
    check_site(&app, Site::Intranet, INTRANET_USERS, &objects).await;
}

#[tokio::test]
async fn portal_every_route_every_account_own_and_other_account() {
    let app = TestApp::portal();
    let objects = portal_objects(&app).await;
    check_site(&app, Site::Portal, PORTAL_USERS, &objects).await;
}

// ---- the table covers the router ----

/// (method, path) of every `.route("…", …)` call in `src`: the path literal and each `get(` / `post(` / … method
/// router among the call's arguments.
fn route_calls(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find(".route(") {
        let after = &rest[at + ".route(".len()..];
        let Some(quote) = after.find('"') else { break };
        if !after[..quote].trim().is_empty() {
            rest = after;
            continue;
        }
        let literal = &after[quote + 1..];
        let Some(end) = literal.find('"') else { break };
        let path = literal[..end].to_string();
        let args = &literal[end + 1..];
        let mut depth = 1;
        let mut close = args.len();
        for (i, ch) in args.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &args[..close];
        for method in ["get", "post", "put", "patch", "delete"] {
            let pattern = format!("{method}(");
            let mut from = 0;
            while let Some(k) = call[from..].find(&pattern) {
                let pos = from + k;
                let before = call[..pos].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    out.push((method.to_uppercase(), path.clone()));
                }
                from = pos + pattern.len();
            }
        }
        rest = &args[close..];
    }
    out
}

/// (site, method, path) of every route in `src/web`: files under `portal/` are the portal's, `mod.rs` and
/// `account.rs` serve both sites, the rest the intranet.
fn routes_in_sources() -> BTreeSet<(Site, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut dirs = vec![root.clone()];
    let mut out = BTreeSet::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().to_path_buf();
            let site = if rel.starts_with("portal") {
                Site::Portal
            } else if rel == Path::new("mod.rs") || rel == Path::new("account.rs") {
                Site::Both
            } else {
                Site::Intranet
            };
            for (method, p) in route_calls(&std::fs::read_to_string(&path).unwrap()) {
                out.insert((site, method, p));
            }
        }
    }
    out
}

#[test]
fn the_matrix_covers_every_route_of_the_router() {
    let calls = route_calls(
        r#"Router::new().route("/a", get(x::a).post(b)).route(
            "/c/{id}",
            get(c_get).layer(DefaultBodyLimit::max(max(1))),
        ).route("/d", post(target)) // .route("/e", forget(x))"#,
    );
    assert_eq!(
        calls,
        vec![
            ("GET".to_string(), "/a".to_string()),
            ("POST".into(), "/a".into()),
            ("GET".into(), "/c/{id}".into()),
            ("POST".into(), "/d".into()),
        ]
    );
    let in_sources = routes_in_sources();
    assert!(
        in_sources.contains(&(Site::Intranet, "POST".to_string(), "/permits/{id}/approve".to_string())),
        "{in_sources:?}"
    );
    assert!(
        in_sources.contains(&(Site::Portal, "GET".to_string(), "/apply/{portal_ref}".to_string())),
        "{in_sources:?}"
    );
    let in_table: BTreeSet<(Site, String, String)> =
        ROUTES.iter().map(|r| (r.site, r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(in_table.len(), ROUTES.len(), "a route is listed twice");
    let missing: Vec<_> = in_sources.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_sources).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a row: {missing:?}; rows without a route: {stale:?}"
    );
}
