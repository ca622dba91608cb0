//! Start-up: open the store, create the provincial administrator on first start, the demo users with `--demo`,
//! and serve until the process is stopped or the database fails.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDateTime;

use crate::auth;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ServeArgs, Site};
use crate::domain::region::{Adcode, DEFAULT_REGIONS_CSV, RegionTree};
use crate::domain::role::RoleInput;
use crate::domain::user::{LoginName, Mobile, UserProfile, UserType};
use crate::exchange::KeyPair;
use crate::files::FileStore;
use crate::store::users::{self, NewUser};
use crate::store::{Actor, Store, StoreError, StoreResult, roles};
use crate::web::{AppState, router};

/// The login name of the provincial administrator created on first start.
pub const FIRST_ADMIN: &str = "admin";

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "Anxu@2026";

/// Demo roles, owned by the province.
const DEMO_ROLES: &[(&str, &str)] = &[("科员", "初审、受理"), ("科长", "审批第一步"), ("分管局长", "审批第二步")];

/// Demo users: login, real name, region, type, role. One of every type, in a city and a county of 杭州 and in 宁波.
pub const DEMO_USERS: &[(&str, &str, &str, UserType, Option<&str>)] = &[
    ("zj_admin", "省厅管理员", "330000", UserType::SystemAdmin, None),
    ("hz_admin", "杭州市局管理员", "330100", UserType::SystemAdmin, None),
    ("nb_admin", "宁波市局管理员", "330200", UserType::SystemAdmin, None),
    ("xh_keyuan", "西湖分局科员", "330106", UserType::Approver, Some("科员")),
    ("xh_kezhang", "西湖分局科长", "330106", UserType::Approver, Some("科长")),
    ("xh_juzhang", "西湖分局分管局长", "330106", UserType::Approver, Some("分管局长")),
    ("hz_kezhang", "杭州市局科长", "330100", UserType::Approver, Some("科长")),
    ("hz_juzhang", "杭州市局分管局长", "330100", UserType::Approver, Some("分管局长")),
    ("zj_commander", "省厅指挥员", "330000", UserType::Commander, None),
    ("zj_analyst", "省厅分析员", "330000", UserType::Analyst, None),
    ("zj_secadmin", "省厅安全管理员", "330000", UserType::SecurityAdmin, None),
    ("zj_auditor", "省厅审计管理员", "330000", UserType::AuditAdmin, None),
];

/// The provincial security and audit administrators `serve` creates on the intranet when none of the type exists
/// (on first start, and on the first start of a database from before the three-administrator split): login, real
/// name, type. The system administrator cannot create these types (`UserType::manages`), so start-up does, each
/// with its own one-time password for its own holder.
pub const FIRST_OFFICERS: &[(&str, &str, UserType)] =
    &[("secadmin", "省级安全管理员", UserType::SecurityAdmin), ("auditadmin", "省级审计管理员", UserType::AuditAdmin)];

fn system_actor() -> Actor {
    Actor { id: None, login: "system".into(), region: None, source: "local".into() }
}

/// The size of the province-wide data set `serve --demo` generates on its first start.
pub const SERVE_DEMO_ACTIVITIES: usize = 20_000;

/// The seed of that data set.
pub const DEMO_SEED: u64 = 1;

/// The last day whose 18:00 Beijing time (the generator's "now") has passed at UTC time `now`, so that no generated
/// record lies in the future.
pub fn demo_today(now: chrono::NaiveDateTime) -> chrono::NaiveDate {
    (now + chrono::TimeDelta::hours(8) - chrono::TimeDelta::hours(18)).date()
}

/// Generates the province-wide demo data set of `seed` unless it exists already.
pub fn seed_demo_data(
    store: &Store,
    regions: &Arc<RegionTree>,
    today: chrono::NaiveDate,
    activities: usize,
    seed: u64,
) -> anyhow::Result<Option<crate::demo_data::DemoReport>> {
    let prefix = format!("DEMO-{seed}-");
    let existing: i64 = store.write_blocking(move |tx| {
        Ok(tx.query_row("SELECT count(*) FROM activities WHERE starts_with(portal_ref, ?)", [prefix], |r| r.get(0))?)
    })?;
    if existing > 0 {
        return Ok(None);
    }
    let regions = regions.clone();
    let spec = crate::demo_data::DemoSpec { activities, seed, today };
    let report = store.write_blocking(move |tx| {
        crate::demo_data::generate(tx, &regions, crate::geo::shapes::Shapes::builtin(), &spec)
    })?;
    Ok(Some(report))
}

/// `anxu demo-data`: opens (or creates) the database of `data_dir` and adds a generated data set.
pub fn demo_data_command(
    data_dir: &Path,
    regions: Option<&Path>,
    activities: usize,
    seed: u64,
) -> anyhow::Result<String> {
    let regions = Arc::new(load_regions(regions)?);
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let db = data_dir.join("anxu.duckdb");
    let store = Store::open(Some(&db), &regions).map_err(|e| anyhow::anyhow!("{}: {e}", db.display()))?;
    let now = SystemClock.now();
    let province = regions.root().adcode;
    store.write_blocking(move |tx| crate::store::config::seed_defaults(tx, now, province))?;
    let today = demo_today(now);
    let started = std::time::Instant::now();
    match seed_demo_data(&store, &regions, today, activities, seed)? {
        Some(report) => {
            Ok(format!("演示数据：{report}（用时 {:.1} 秒，{}）", started.elapsed().as_secs_f64(), db.display()))
        }
        None => anyhow::bail!("{} 已有种子 {seed} 的演示数据；请换一个 --seed 或使用新的数据目录", db.display()),
    }
}

/// Loads the regions file, or the built-in 浙江省.
pub fn load_regions(path: Option<&Path>) -> anyhow::Result<RegionTree> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        None => DEFAULT_REGIONS_CSV.to_string(),
    };
    let tree = RegionTree::parse_csv(&text)
        .with_context(|| format!("in {}", path.map_or("built-in regions".into(), |p| p.display().to_string())))?;
    Ok(tree)
}

/// Creates the provincial administrator when there are no users yet; returns its one-time password.
pub fn bootstrap(store: &Store, regions: &RegionTree, now: NaiveDateTime) -> StoreResult<Option<String>> {
    let password = auth::random_password();
    let new = NewUser {
        login_name: LoginName::parse(FIRST_ADMIN).map_err(|e| StoreError::Conflict(e.message))?,
        profile: UserProfile {
            real_name: "省级管理员".into(),
            region: regions.root().adcode,
            mobile: Mobile::parse("13800000000").map_err(|e| StoreError::Conflict(e.message))?,
            user_type: UserType::SystemAdmin,
            approval_role: None,
        },
        password_hash: auth::hash_password(&password),
        must_change_password: true,
    };
    store.write_blocking(move |tx| {
        if users::count(tx)? > 0 {
            return Ok(None);
        }
        users::create(tx, now, &new, &system_actor())?;
        Ok(Some(password))
    })
}

/// Creates the provincial security and audit administrators of [`FIRST_OFFICERS`] whose type has no user yet (a
/// taken login name is skipped with a warning); returns each created login, type and one-time password.
pub fn bootstrap_officers(
    store: &Store,
    regions: &RegionTree,
    now: NaiveDateTime,
) -> StoreResult<Vec<(&'static str, UserType, String)>> {
    let missing: Vec<(&'static str, &'static str, UserType)> = store.write_blocking(|tx| {
        let mut missing = Vec::new();
        for &(login, name, t) in FIRST_OFFICERS {
            let have: bool =
                tx.query_row("SELECT count(*) > 0 FROM users WHERE user_type = ?", [t.code()], |r| r.get(0))?;
            if have {
                continue;
            }
            if users::find_for_login(tx, login)?.is_some() {
                tracing::warn!(login, "there is no {} and its login name is taken: none was created", t.code());
                continue;
            }
            missing.push((login, name, t));
        }
        Ok(missing)
    })?;
    let mut planned = Vec::new();
    for (login, name, t) in missing {
        let password = auth::random_password();
        let new = NewUser {
            login_name: LoginName::parse(login).map_err(|e| StoreError::Conflict(e.message))?,
            profile: UserProfile {
                real_name: name.into(),
                region: regions.root().adcode,
                mobile: Mobile::parse("13800000000").map_err(|e| StoreError::Conflict(e.message))?,
                user_type: t,
                approval_role: None,
            },
            password_hash: auth::hash_password(&password),
            must_change_password: true,
        };
        planned.push((login, new, password));
    }
    store.write_blocking(move |tx| {
        let mut created = Vec::new();
        for (login, new, password) in planned {
            users::create(tx, now, &new, &system_actor())?;
            created.push((login, new.profile.user_type, password));
        }
        Ok(created)
    })
}

/// Creates the demo roles and users that do not exist yet.
pub fn seed_demo(store: &Store, regions: &RegionTree, now: NaiveDateTime) -> StoreResult<()> {
    let root = regions.root().adcode;
    let hash = auth::hash_password(DEMO_PASSWORD);
    let mut planned = Vec::new();
    for &(login, name, region, user_type, role) in DEMO_USERS {
        let region = Adcode::parse(region).filter(|c| regions.get(*c).is_some()).unwrap_or(root);
        planned.push((login, name, region, user_type, role));
    }
    store.write_blocking(move |tx| {
        let actor = system_actor();
        let mut role_ids = std::collections::HashMap::new();
        let root_path = format!("/{root}/");
        for &(name, description) in DEMO_ROLES {
            let existing = roles::list_usable(tx, &root_path)?.into_iter().find(|r| r.name == name);
            let id = match existing {
                Some(r) => r.id,
                None => roles::create(
                    tx,
                    now,
                    root,
                    &RoleInput { name: name.into(), description: description.into() },
                    &actor,
                )?,
            };
            role_ids.insert(name, id);
        }
        for (login, real_name, region, user_type, role) in planned {
            if users::find_for_login(tx, login)?.is_some() {
                continue;
            }
            let new = NewUser {
                login_name: LoginName::parse(login).map_err(|e| StoreError::Conflict(e.message))?,
                profile: UserProfile {
                    real_name: real_name.into(),
                    region,
                    mobile: Mobile::parse("13900000000").map_err(|e| StoreError::Conflict(e.message))?,
                    user_type,
                    approval_role: role.and_then(|r| role_ids.get(r).copied()),
                },
                password_hash: hash.clone(),
                must_change_password: false,
            };
            users::create(tx, now, &new, &actor)?;
        }
        crate::demo::seed_flow(tx, now, &role_ids, &actor)
    })
}

/// Opens the store and builds the application state: the database at `db` (in memory for `None`), attachments
/// under `files`, and the signing key `key`. Seeds the calendar, scale rules and material list of a new database.
pub fn open_app(
    db: Option<&Path>,
    files: &Path,
    key: KeyPair,
    regions: RegionTree,
    clock: Arc<dyn Clock>,
    config: Config,
) -> anyhow::Result<AppState> {
    let store = Store::open(db, &regions).map_err(|e| anyhow::anyhow!("{e}"))?;
    let province = regions.root().adcode;
    let now = clock.now();
    store.write_blocking(move |tx| crate::store::config::seed_defaults(tx, now, province))?;
    let files = FileStore::new(files).with_context(|| format!("creating {}", files.display()))?;
    let reports = Arc::new(check_reports(&store, crate::reports::Catalog::builtin())?);
    let policy = store.write_blocking(|tx| crate::store::policy::current(tx))?;
    Ok(AppState {
        store,
        regions: Arc::new(regions),
        clock,
        config: Arc::new(config),
        policy: crate::store::policy::PolicyCache::new(policy),
        files,
        key: Arc::new(key),
        sms_delivery: Arc::default(),
        reports,
    })
}

/// Parses the built-in report definitions and runs each one's SQL once with `LIMIT 0`, so that a malformed
/// definition stops the start naming its file and line (`reports/<file>:<line>: …`).
pub fn check_reports(
    store: &Store,
    parsed: Result<crate::reports::Catalog, crate::reports::DefError>,
) -> anyhow::Result<crate::reports::Catalog> {
    let catalog = parsed.map_err(|e| anyhow::anyhow!("报表定义有误：{e}"))?;
    let checked = catalog.clone();
    let outcome = store.write_blocking(move |tx| Ok(checked.check_against(tx)))?;
    outcome.map_err(|e| anyhow::anyhow!("报表定义有误：{e}"))?;
    Ok(catalog)
}

/// Loads this side's signing key from `dir/signing.key`, creating it on first start.
pub fn load_or_create_key(dir: &Path) -> anyhow::Result<KeyPair> {
    let path = dir.join("signing.key");
    if path.exists() {
        let hex = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return KeyPair::from_secret_hex(hex.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let key = KeyPair::generate();
    std::fs::write(&path, key.secret_hex()).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

/// `anxu serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_args(&args)?;
    let regions = load_regions(args.regions.as_deref())?;
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let db = args.data_dir.join("anxu.duckdb");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = {
        let db = db.clone();
        let data_dir = args.data_dir.clone();
        let clock = clock.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<AppState> {
            let key = load_or_create_key(&data_dir)?;
            let app = open_app(Some(&db), &data_dir.join("files"), key, regions, clock.clone(), config)
                .with_context(|| format!("opening {}", db.display()))?;
            let mut first = Vec::new();
            if let Some(pw) = bootstrap(&app.store, &app.regions, clock.now())? {
                first.push(format!("首次启动：已创建省级系统管理员 {FIRST_ADMIN}，初始密码 {pw}"));
            }
            if args.site == Site::Intranet {
                for (login, t, pw) in bootstrap_officers(&app.store, &app.regions, clock.now())? {
                    first.push(format!("已创建省级{} {login}，初始密码 {pw}", t.label()));
                }
            }
            if !first.is_empty() {
                for line in &first {
                    println!("{line}");
                }
                println!("（初始密码只显示这一次；首次登录后须修改。系统管理员、安全管理员、审计管理员三员分立，账号应分别交给不同的人。）");
            }
            match (args.demo, args.site) {
                (false, _) => {}
                (true, Site::Intranet) => {
                    seed_demo(&app.store, &app.regions, clock.now())?;
                    crate::demo::seed_activities(&app)?;
                    let today = demo_today(clock.now());
                    if let Some(report) =
                        seed_demo_data(&app.store, &app.regions, today, args.demo_activities, DEMO_SEED)?
                    {
                        println!("演示数据：{report}");
                    }
                    println!("演示用户已就绪（密码均为 {DEMO_PASSWORD}）：");
                    for (login, name, _, t, _) in DEMO_USERS {
                        println!("  {login:<14} {}  {name}", t.label());
                    }
                }
                (true, Site::Portal) => {
                    crate::demo::seed_portal(&app)?;
                    println!("外网演示账号已就绪（密码均为 {DEMO_PASSWORD}）：");
                    for (login, unit, t) in crate::demo::PORTAL_DEMO_UNITS {
                        println!("  {login:<14} {}  {unit}", t.label());
                    }
                    println!("  {:<14} 系统管理员  数据交换、短信发送", crate::demo::PORTAL_ADMIN);
                }
            }
            Ok(app)
        })
        .await??
    };
    let listener = tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("binding {}", args.bind))?;
    let side = match args.site {
        Site::Intranet => "安许审批内网",
        Site::Portal => "安许外网门户",
    };
    println!("{side}已启动：http://{}  数据库 {}", listener.local_addr()?, db.display());
    if args.site == Site::Portal {
        crate::sms_delivery::spawn_worker(app.clone());
    }
    let mut fatal = app.store.health().watch();
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => None,
            reason = async { fatal.wait_for(Option::is_some).await.ok().and_then(|r| r.clone()) } => {
                tracing::error!(?reason, "database failed; /healthz reports it, stopping in 2 s");
                // Leave health checks a moment to see the red /healthz before the listener closes.
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                reason
            }
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        let reason = shutdown.await;
        let _ = tx.send(reason);
    });
    server.await?;
    if let Ok(Some(reason)) = rx.await {
        anyhow::bail!(
            "the database failed and can no longer be used: {reason}\n\
             anxu stops so that a supervisor restarts it; if it does not start again, keep the files in {} and restore from a backup",
            args.data_dir.display()
        );
    }
    Ok(())
}
