//! Demo data behind `serve --demo`: the 杭州市 approval flow and a handful of applications in different states,
//! created through the same paths as real data (an application bundle signed by a demo portal key, then police
//! actions of the demo approvers).

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use duckdb::Transaction;

use crate::exchange::KeyPair;
use crate::exchange::records::{
    ApplicationEvent, ApplicationRecord, ApplicationRecords, AssessmentRecord, AttachmentRecord, OrganizerRecord,
    PortalEvent, VenueRecord, application_bundle,
};
use crate::store::config::{FlowStep, save_flow};
use crate::store::{Actor, StoreResult};
use crate::web::AppState;

/// Creates the 杭州市 flow (科长 → 分管局长) when no flow exists yet.
pub fn seed_flow(
    tx: &Transaction<'_>,
    now: NaiveDateTime,
    roles: &HashMap<&str, i64>,
    actor: &Actor,
) -> StoreResult<()> {
    let flows: i64 = tx.query_row("SELECT count(*) FROM flows", [], |r| r.get(0))?;
    let hangzhou: i64 = tx.query_row("SELECT count(*) FROM regions WHERE adcode = 330100", [], |r| r.get(0))?;
    let (Some(&kezhang), Some(&juzhang), 0, 1) = (roles.get("科长"), roles.get("分管局长"), flows, hangzhou)
    else {
        return Ok(());
    };
    let steps = [
        FlowStep { name: "科长审核".into(), role_id: kezhang, role_name: String::new(), time_limit_days: 2 },
        FlowStep { name: "分管局长审批".into(), role_id: juzhang, role_name: String::new(), time_limit_days: 3 },
    ];
    let Some(region) = crate::domain::region::Adcode::parse("330100") else { return Ok(()) };
    save_flow(tx, now, region, "杭州市大型活动审批流程", &steps, 0, actor).map(|_| ())
}

/// A small valid PDF for demo and test attachments.
pub const SAMPLE_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// A complete application as the portal would send it, with its attachment files.
pub fn sample_application(
    portal_ref: &str,
    name: &str,
    kind: &str,
    counties: &[u32],
    attendance: u32,
    start: NaiveDateTime,
) -> (ApplicationRecord, Vec<(String, Vec<u8>)>) {
    let slug: String = portal_ref.chars().filter(char::is_ascii_alphanumeric).collect();
    let file = |what: &str| format!("{slug}-{what}.pdf");
    let materials = ["legal_entity", "activity_plan", "security_plan", "venue_consent"]
        .iter()
        .map(|k| AttachmentRecord { kind: (*k).into(), file: file(k), name: format!("{k}.pdf") })
        .collect::<Vec<_>>();
    let report =
        AttachmentRecord {
            kind: "risk_assessment".into(), file: file("risk"), name: "安全风险评估报告.pdf".into()
        };
    let mut files: Vec<(String, Vec<u8>)> = materials.iter().map(|m| (m.file.clone(), SAMPLE_PDF.to_vec())).collect();
    files.push((report.file.clone(), SAMPLE_PDF.to_vec()));
    let record = ApplicationRecord {
        name: name.into(),
        kind: kind.into(),
        organizer: OrganizerRecord {
            credit_code: "91350100M000100Y43".into(),
            name: "杭州文旅演艺有限公司".into(),
            contact_name: "陈经理".into(),
            contact_mobile: "13800571234".into(),
        },
        regions: counties.to_vec(),
        venues: counties
            .iter()
            .enumerate()
            .map(|(i, c)| VenueRecord {
                name: format!("{name}主场地{}", i + 1),
                region: *c,
                address: format!("浙江省杭州市示范路 {} 号", 100 + i),
                lon: None,
                lat: None,
                capacity: attendance + 2000,
            })
            .collect(),
        start_at: start,
        end_at: start + TimeDelta::hours(4),
        sessions: 1,
        attendance,
        contact_name: "陈经理".into(),
        contact_mobile: "13800571234".into(),
        materials,
        assessments: vec![AssessmentRecord {
            agency: "浙江安评咨询有限公司".into(),
            risk_grade: "中".into(),
            report: Some(report),
        }],
    };
    (record, files)
}

/// One event of an application.
pub fn event(
    portal_ref: &str,
    event: PortalEvent,
    at: NaiveDateTime,
    record: Option<ApplicationRecord>,
) -> ApplicationEvent {
    ApplicationEvent { portal_ref: portal_ref.into(), event, at: at.and_utc(), application: record }
}

/// Signs `records` as the next application bundle of `portal`, chained to what the intranet imported last.
pub fn next_bundle(
    app: &AppState,
    portal: &KeyPair,
    records: &ApplicationRecords,
    files: &[(String, Vec<u8>)],
) -> anyhow::Result<Vec<u8>> {
    let (seq, prev): (i64, Option<String>) = app.store.write_blocking(|tx| {
        Ok(tx.query_row(
            "SELECT coalesce(max(sequence), 0),
                    (SELECT bundle_hash FROM imports WHERE status = 'applied' ORDER BY sequence DESC LIMIT 1)
             FROM imports WHERE status = 'applied'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    })?;
    let now = app.clock.now();
    Ok(application_bundle(portal, u64::try_from(seq + 1).unwrap_or(1), prev, records, files, now.and_utc())?)
}

/// Imports a bundle as the system (demo set-up and tests), saving its attachments first.
pub fn import(app: &AppState, bytes: Vec<u8>) -> anyhow::Result<crate::store::exchange::ImportOutcome> {
    use crate::store::exchange as ex;
    let files = app.files.clone();
    let b = bytes.clone();
    app.store.write_blocking(move |tx| {
        let v = crate::exchange::read_bundle(&b, &|id| ex::lookup_key(tx, id));
        for (f, bytes) in v.map(|v| ex::attachments(&v)).unwrap_or_default() {
            files.save(&f, &bytes).map_err(|e| crate::store::StoreError::Conflict(e.to_string()))?;
        }
        Ok(())
    })?;
    let now = app.clock.now();
    let regions = app.regions.clone();
    let actor = Actor { id: None, login: "system".into(), region: None, source: "local".into() };
    Ok(app.store.write_blocking(move |tx| ex::import_applications(tx, now, &bytes, &regions, 0, &actor))?)
}

/// Trusts a new demo portal key and returns it.
pub fn demo_portal(app: &AppState) -> anyhow::Result<KeyPair> {
    let portal = KeyPair::generate();
    let public = portal.public();
    let now = app.clock.now();
    let actor = Actor { id: None, login: "system".into(), region: None, source: "local".into() };
    app.store.write_blocking(move |tx| crate::store::exchange::trust_key(tx, now, &public, "演示外网门户", &actor))?;
    Ok(portal)
}

/// Demo applications, when there are none: in 西湖区 and across 杭州, in 待初审, 受理中 and 审批中.
pub fn seed_activities(app: &AppState) -> anyhow::Result<()> {
    let existing: i64 =
        app.store.write_blocking(|tx| Ok(tx.query_row("SELECT count(*) FROM activities", [], |r| r.get(0))?))?;
    if existing > 0 {
        return Ok(());
    }
    let portal = demo_portal(app)?;
    let now = app.clock.now() + TimeDelta::hours(8);
    let day = |d: i64| (now + TimeDelta::days(d)).date().and_hms_opt(19, 0, 0).unwrap_or(now);
    let plan: &[(&str, &str, &str, &[u32], u32, i64)] = &[
        ("P-DEMO-0001", "西湖音乐节", "performance", &[330106], 3000, 40),
        ("P-DEMO-0002", "西湖半程马拉松", "sports", &[330106], 2500, 35),
        ("P-DEMO-0003", "西溪湿地灯会", "festival", &[330106], 1800, 30),
        ("P-DEMO-0004", "杭州春季人才招聘会", "job_fair", &[330102, 330106], 1200, 45),
        ("P-DEMO-0005", "黄龙体育中心演唱会", "performance", &[330106], 12000, 60),
        ("P-DEMO-0006", "宁波国际车展", "exhibition", &[330203], 4000, 50),
    ];
    let mut records = ApplicationRecords::default();
    let mut files = Vec::new();
    let mut contents = HashMap::new();
    for (r, name, kind, counties, attendance, days) in plan {
        let (record, f) = sample_application(r, name, kind, counties, *attendance, day(*days));
        contents.insert(*r, record.clone());
        records.applications.push(event(r, PortalEvent::Submit, app.clock.now(), Some(record)));
        files.extend(f);
    }
    import(app, next_bundle(app, &portal, &records, &files)?)?;
    for r in ["P-DEMO-0002", "P-DEMO-0003"] {
        act_as(app, "xh_keyuan", r, crate::domain::workflow::Action::PassPreReview)?;
    }
    let mut second = ApplicationRecords::default();
    for r in ["P-DEMO-0002", "P-DEMO-0003"] {
        second.applications.push(event(r, PortalEvent::SubmitForAcceptance, app.clock.now(), contents.get(r).cloned()));
    }
    import(app, next_bundle(app, &portal, &second, &files)?)?;
    act_as(app, "xh_keyuan", "P-DEMO-0003", crate::domain::workflow::Action::Accept { steps: 0 })?;
    Ok(())
}

/// Performs a police action as demo user `login` on the application `portal_ref`.
pub fn act_as(
    app: &AppState,
    login: &str,
    portal_ref: &str,
    action: crate::domain::workflow::Action,
) -> anyhow::Result<()> {
    let (login, portal_ref) = (login.to_string(), portal_ref.to_string());
    let now = app.clock.now();
    let regions = app.regions.clone();
    app.store.write_blocking(move |tx| {
        let (user, _) = crate::store::users::find_for_login(tx, &login)?.ok_or(crate::store::StoreError::NotFound)?;
        let (id, revision): (i64, i64) =
            tx.query_row("SELECT id, revision FROM activities WHERE portal_ref = ?", [&portal_ref], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let actor = Actor {
            id: Some(user.id),
            login: user.login_name.clone(),
            region: Some(user.region),
            source: "demo".into(),
        };
        crate::store::workflow::act(tx, now, &regions, id, revision, &action, &user, &actor)?;
        Ok(())
    })?;
    Ok(())
}

/// The portal's demo administrator (数据交换, 短信发送).
pub const PORTAL_ADMIN: &str = "portal_admin";

/// The portal's demo accounts: login, unit, type (password [`crate::setup::DEMO_PASSWORD`]).
pub const PORTAL_DEMO_UNITS: &[(&str, &str, crate::domain::user::UserType)] = &[
    ("org_demo", "杭州文旅演艺有限公司", crate::domain::user::UserType::Organizer),
    ("gov_demo", "杭州市西湖区文化和广电旅游体育局", crate::domain::user::UserType::GovernmentUnit),
];

/// Creates the portal's demo organizer and government unit when missing.
pub fn seed_portal(app: &AppState) -> anyhow::Result<()> {
    use crate::domain::activity::CreditCode;
    use crate::domain::user::{LoginName, Mobile};
    let hash = crate::auth::hash_password(crate::setup::DEMO_PASSWORD);
    let province = app.regions.root().adcode;
    let now = app.clock.now();
    let codes = ["91350100M000100Y43", "121000004000003980"];
    let mut plans = Vec::new();
    for ((login, unit, kind), code) in PORTAL_DEMO_UNITS.iter().zip(codes) {
        plans.push(crate::store::portal::Registration {
            kind: *kind,
            login: LoginName::parse(login).map_err(|e| anyhow::anyhow!(e.message))?,
            password_hash: hash.clone(),
            credit_code: CreditCode::parse(code).map_err(|e| anyhow::anyhow!(e.message))?,
            unit_name: (*unit).to_string(),
            contact_name: "陈经理".into(),
            contact_mobile: Mobile::parse("13800571234").map_err(|e| anyhow::anyhow!(e.message))?,
        });
    }
    let admin = crate::store::users::NewUser {
        login_name: LoginName::parse(PORTAL_ADMIN).map_err(|e| anyhow::anyhow!(e.message))?,
        profile: crate::domain::user::UserProfile {
            real_name: "外网管理员".into(),
            region: province,
            mobile: Mobile::parse("13800571234").map_err(|e| anyhow::anyhow!(e.message))?,
            user_type: crate::domain::user::UserType::SystemAdmin,
            approval_role: None,
        },
        password_hash: hash.clone(),
        must_change_password: false,
    };
    app.store.write_blocking(move |tx| {
        let actor = Actor { id: None, login: "system".into(), region: None, source: "local".into() };
        for r in &plans {
            if crate::store::users::find_for_login(tx, r.login.as_str())?.is_none() {
                crate::store::portal::register(tx, now, province, r, &actor)?;
            }
        }
        if crate::store::users::find_for_login(tx, PORTAL_ADMIN)?.is_none() {
            crate::store::users::create(tx, now, &admin, &actor)?;
        }
        Ok(())
    })?;
    Ok(())
}
