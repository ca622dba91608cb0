//! `anxu-bench`: measures the headline figures against their baselines on a generated data set.
//!
//! ```sh
//! cargo run --release --bin anxu-bench -- --activities 1000000
//! cargo run --release --bin anxu-bench -- --scaling          # 10 000, 100 000 and 1 000 000 activities
//! ```
//!
//! The data set is generated once per size with the demo generator and kept under `--data-dir` (default
//! `bench-data/`). The server runs in this process on a loopback port and is driven over real HTTP; the baselines
//! run the same SQL directly on the same database in the same run. Figures print as a table and go to a JSON file.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use anxu::analytics::map::{MapQuery, raw_queries};
use anxu::clock::ManualClock;
use anxu::config::Config;
use anxu::domain::region::Adcode;
use anxu::web::AppState;

#[derive(Parser)]
#[command(name = "anxu-bench", about = "安许 benchmarks: map and statistics pages, list export, start-up")]
struct Args {
    /// Activities in the data set.
    #[arg(long, default_value_t = 1_000_000)]
    activities: usize,
    /// Run 10 000, 100 000 and 1 000 000 activities one after the other.
    #[arg(long)]
    scaling: bool,
    /// Timed rounds per figure (the median is reported).
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Where generated data sets are kept between runs.
    #[arg(long, default_value = "bench-data")]
    data_dir: PathBuf,
    /// Where the figures are written as JSON.
    #[arg(long, default_value = "bench-data/figures.json")]
    json: PathBuf,
    /// Internal: export the activity list of this data directory in a fresh process and print its peak memory.
    #[arg(long, hide = true)]
    export_child: Option<PathBuf>,
    /// Times each statement of this SQL file (statements end with a line ending in `;`) on the data set of
    /// `--activities`, 5 runs each, and prints the medians: for trying a query's variants against the same data.
    /// `SET` statements are run untimed, `STREAM <query>` is streamed once (time, rows and peak memory), and
    /// `EXPLAIN [ANALYZE]` statements print their plan instead.
    #[arg(long)]
    time_sql: Option<PathBuf>,
}

/// The day the data sets end on, fixed so that every run measures the same data.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
}

/// The period every measured page covers: the whole data set.
const FROM: &str = "2024-11-01";
const TO: &str = "2027-02-28";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Errors of the server under test are printed (ANXU_LOG=info for more).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("ANXU_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(dir) = &args.export_child {
        return runtime.block_on(export_child(dir));
    }
    if let Some(file) = &args.time_sql {
        let text = std::fs::read_to_string(file)?;
        let dir = ensure_data(&args.data_dir, args.activities)?;
        let conn = duckdb::Connection::open(dir.join("anxu.duckdb"))?;
        let mut statement = String::new();
        for line in text.lines() {
            statement.push_str(line);
            statement.push('\n');
            if line.trim_end().ends_with(';') {
                let sql = statement.trim().trim_end_matches(';').to_string();
                statement.clear();
                if sql.to_ascii_uppercase().starts_with("SET ") {
                    conn.execute_batch(&sql)?;
                    continue;
                }
                if let Some(query) = sql.strip_prefix("STREAM ") {
                    // Streamed execution (rows fetched as DuckDB produces them, nothing materialised): time, rows and
                    // the process's peak memory after it.
                    let t = Instant::now();
                    let mut stmt = conn.prepare(query)?;
                    let mut n = 0;
                    for batch in stmt.stream_arrow([])? {
                        n += batch?.num_rows();
                    }
                    println!(
                        "{:8.1} ms  {n} rows streamed, peak {:.0} MB  {}",
                        t.elapsed().as_secs_f64() * 1000.0,
                        rss_mb("VmHWM"),
                        query.split_whitespace().collect::<Vec<_>>().join(" ")
                    );
                    continue;
                }
                if sql.to_ascii_uppercase().starts_with("EXPLAIN") {
                    // The plan (with EXPLAIN ANALYZE, the time of each operator) is printed as DuckDB renders it.
                    let mut stmt = conn.prepare(&sql)?;
                    let mut rows = stmt.query([])?;
                    while let Some(r) = rows.next()? {
                        println!("{}", r.get::<_, String>(1)?);
                    }
                    continue;
                }
                let ms = per_statement(&conn, &[(sql.clone(), Vec::new())], 5)?;
                println!("{:8.1} ms  {}", ms[0], sql.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
        return Ok(());
    }
    let sizes = if args.scaling { vec![10_000, 100_000, 1_000_000] } else { vec![args.activities] };
    let mut all = Vec::new();
    for n in sizes {
        let figures = runtime.block_on(bench_size(&args, n))?;
        print_table(n, &figures);
        all.push(
            serde_json::json!({ "activities": n, "figures": figures.iter().map(Figure::json).collect::<Vec<_>>() }),
        );
    }
    if let Some(parent) = args.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let doc = serde_json::json!({ "command": command, "runs": all });
    std::fs::write(&args.json, serde_json::to_string_pretty(&doc)?)?;
    println!("\ncommand: {command}\nfigures written to {}", args.json.display());
    Ok(())
}

/// One measured figure.
struct Figure {
    name: &'static str,
    unit: &'static str,
    median: f64,
    min: f64,
    max: f64,
    baseline: Option<f64>,
    target: &'static str,
    note: String,
}

impl Figure {
    fn of(name: &'static str, unit: &'static str, samples: &[f64], target: &'static str) -> Figure {
        let (median, min, max) = stats(samples);
        Figure { name, unit, median, min, max, baseline: None, target, note: String::new() }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name, "unit": self.unit, "median": self.median, "min": self.min, "max": self.max,
            "baseline_median": self.baseline, "ratio": self.baseline.map(|b| self.median / b),
            "target": self.target, "note": self.note,
        })
    }
}

fn stats(samples: &[f64]) -> (f64, f64, f64) {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if s.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    s.sort_by(f64::total_cmp);
    let median = if s.len() % 2 == 1 { s[s.len() / 2] } else { (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0 };
    (median, s[0], s[s.len() - 1])
}

fn print_table(n: usize, figures: &[Figure]) {
    println!("\n== {n} activities ==");
    println!(
        "{:<44} {:>10} {:>19} {:>10} {:>7}  {:<20} note",
        "figure", "median", "min–max", "baseline", "ratio", "target"
    );
    for f in figures {
        let base = f.baseline.map_or("—".to_string(), |b| format!("{b:.1}"));
        let ratio = f.baseline.map_or("—".to_string(), |b| format!("{:.2}", f.median / b));
        println!(
            "{:<44} {:>7.1} {:<2} {:>8.1}–{:<8.1} {:>10} {:>7}  {:<20} {}",
            f.name, f.median, f.unit, f.min, f.max, base, ratio, f.target, f.note
        );
    }
}

/// Creates the data set of `n` activities unless it is there; returns its data directory.
fn ensure_data(data_dir: &Path, n: usize) -> anyhow::Result<PathBuf> {
    let dir = data_dir.join(n.to_string());
    let db = dir.join("anxu.duckdb");
    if db.exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join("anxu.duckdb.partial");
    let _ = std::fs::remove_file(&tmp);
    let started = Instant::now();
    {
        let state = open_state(&tmp)?;
        anxu::setup::seed_demo(&state.store, &state.regions, state.clock.now())?;
        let report = anxu::setup::seed_demo_data(&state.store, &state.regions, today(), n, 1)?;
        println!(
            "generated {n} activities in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            report.map(|r| r.to_string()).unwrap_or_default()
        );
        state.store.write_blocking(|tx| Ok(tx.execute_batch("CHECKPOINT")?)).ok();
    }
    std::fs::rename(&tmp, &db)?;
    Ok(dir)
}

fn open_state(db: &Path) -> anyhow::Result<AppState> {
    let dir = db.parent().unwrap_or(Path::new("."));
    let clock = Arc::new(ManualClock::new(today().and_hms_opt(2, 0, 0).unwrap_or_default()));
    let key = anxu::setup::load_or_create_key(dir)?;
    let regions = anxu::setup::load_regions(None)?;
    anxu::setup::open_app(Some(db), &dir.join("files"), key, regions, clock, Config::default())
}

async fn bench_size(args: &Args, n: usize) -> anyhow::Result<Vec<Figure>> {
    let dir = {
        let data_dir = args.data_dir.clone();
        tokio::task::spawn_blocking(move || ensure_data(&data_dir, n)).await??
    };
    let db = dir.join("anxu.duckdb");
    let mut figures = Vec::new();

    // Start-up: open the database, apply migrations, check the report definitions, build the router.
    let mut startup = Vec::new();
    for _ in 0..3 {
        let db = db.clone();
        let t = Instant::now();
        let state = tokio::task::spawn_blocking(move || open_state(&db)).await??;
        let _router = anxu::web::router(state.clone());
        startup.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(_router);
        drop(state);
    }
    figures.push(Figure::of("start-up (open database, router)", "ms", &startup, "≤ 2000 ms"));

    // The export child and the approvals work on copies, made now while no server has the database open (a copy
    // taken while a server writes may catch a checkpoint half done).
    let copy_dir = dir.join("export-copy");
    let _ = std::fs::remove_dir_all(&copy_dir);
    std::fs::create_dir_all(&copy_dir)?;
    copy_database(&db, &copy_dir.join("anxu.duckdb"))?;
    copy_database(&db, &dir.join(workflow::COPY))?;

    let db2 = db.clone();
    let state = tokio::task::spawn_blocking(move || open_state(&db2)).await??;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service = anxu::web::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });

    let commander = Client::sign_in(addr, "zj_commander").await?;
    let rounds = args.rounds.max(3);
    for (name, path, scope, scope_depth) in [
        ("map page, province (cities)", format!("/map?from={FROM}&to={TO}"), "330000", 1),
        ("map page, 杭州市 (counties)", format!("/map?region=330100&from={FROM}&to={TO}"), "330100", 2),
    ] {
        let scope = Adcode::parse(scope).context("region code")?;
        let q = MapQuery {
            scope,
            scope_path: state.regions.path_key(scope),
            scope_depth,
            unit_depth: scope_depth + 1,
            from: NaiveDate::parse_from_str(FROM, "%Y-%m-%d")?,
            to: NaiveDate::parse_from_str(TO, "%Y-%m-%d")?,
            kind: None,
            status: None,
        };
        let first = commander.get(&path).await?;
        if first.0 != 200 {
            bail!("GET {path}: {}", first.0);
        }
        if name.contains("province") {
            figures.push(Figure {
                note: "VmRSS after the first map request".into(),
                ..Figure::of("resident memory after first map request", "MB", &[rss_mb("VmRSS")], "—")
            });
        }
        let (page, raw) = interleaved(
            rounds,
            || commander.get(&path),
            || {
                let q = q.clone();
                let store = state.store.clone();
                async move { store.read(move |c| raw_queries(c, &q, false)).await.map_err(anyhow::Error::from) }
            },
        )
        .await?;
        let mut f = Figure::of(name, "ms", &page, "≤ 150 ms, ≤ 1.3× raw");
        f.baseline = Some(stats(&raw).0);
        let each = {
            let (q, store) = (q.clone(), state.store.clone());
            store.read(move |c| per_statement(c, &q.statements(false), 5)).await?
        };
        let each: Vec<String> = each.iter().map(|ms| format!("{ms:.0}")).collect();
        f.note = format!(
            "page {} KB; queries units/kinds/months/venues/agencies {} ms",
            first.1.len() / 1024,
            each.join("/")
        );
        figures.push(f);
    }
    let county_svg = commander.get(&format!("/map?layer=county&from={FROM}&to={TO}")).await?;
    let svg_bytes = svg_size(&county_svg.1);
    figures.push(Figure {
        note: "county-level SVG of the province, before compression".into(),
        ..Figure::of("county SVG size", "KB", &[svg_bytes as f64 / 1024.0], "≤ 300 KB")
    });

    figures.extend(stats_pages::run(&state, addr, rounds).await?);

    // 许可管理: the province administrator's first page of the list (every activity), against the store's list call.
    let admin = Client::sign_in(addr, "zj_admin").await?;
    let first = admin.get("/permits").await?;
    if first.0 != 200 {
        bail!("GET /permits: {}", first.0);
    }
    let (page, raw) = interleaved(
        rounds,
        || admin.get("/permits"),
        || {
            let store = state.store.clone();
            async move {
                store
                    .read(|c| {
                        let f = anxu::store::activities::ActivityFilter {
                            scope_path: "/330000/".into(),
                            per_page: 20,
                            ..Default::default()
                        };
                        Ok(anxu::store::activities::list(c, &f)?.0.len())
                    })
                    .await
                    .map_err(anyhow::Error::from)
            }
        },
    )
    .await?;
    let mut f = Figure::of("许可管理 list, province, first page", "ms", &page, "—");
    f.baseline = Some(stats(&raw).0);
    f.note = "zj_admin, 20 rows with the total count".into();
    figures.push(f);

    // Excel export of the whole activity list, each run in a fresh process so that its peak memory is its own.
    let exe = std::env::current_exe()?;
    let mut runs: Vec<std::collections::HashMap<String, f64>> = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..EXPORT_RUNS {
        let t = Instant::now();
        // The server of this process holds the database's lock: the child exports from the copy made above.
        let out = std::process::Command::new(&exe).arg("--export-child").arg(&copy_dir).output()?;
        wall.push(t.elapsed().as_secs_f64());
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&copy_dir);
            bail!("export child failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        }
        runs.push(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse::<f64>().ok()?)))
                .collect(),
        );
    }
    let _ = std::fs::remove_dir_all(&copy_dir);
    // Every run's value of `k`, and their median.
    let all = |k: &str| runs.iter().map(|r| r.get(k).copied().unwrap_or(f64::NAN)).collect::<Vec<_>>();
    let med = |k: &str| stats(&all(k)).0;
    figures.push(Figure {
        note: format!(
            "{} rows, {:.1} MB file; {EXPORT_RUNS} runs, process wall median {:.1} s",
            med("rows"),
            med("mb"),
            stats(&wall).0
        ),
        ..Figure::of("xlsx export of the activity list", "s", &all("seconds"), "≤ 10 s")
    });
    figures.push(Figure {
        note: format!(
            "process before the export {:.0} MB; the export's DuckDB query alone: {:.1} s, peak {:.0} MB; \
             the workbook writer alone, same rows: {:.1} s (medians)",
            med("base_mb"),
            med("query_seconds"),
            med("query_peak_mb"),
            med("xlsx_seconds")
        ),
        ..Figure::of("xlsx export peak memory (VmHWM)", "MB", &all("peak_mb"), "≤ 300 MB")
    });

    server.abort();
    drop(state);
    figures.extend(workflow::run(&dir).await?);
    Ok(figures)
}

/// Export runs, each in its own process (about 15 s each at a million rows, the DuckDB-only pass and the
/// writer-only pass included).
const EXPORT_RUNS: usize = 3;

/// Alternates page and baseline rounds so that noise hits both alike; returns milliseconds.
async fn interleaved<P, PF, B, BF, T>(rounds: usize, mut page: P, mut base: B) -> anyhow::Result<(Vec<f64>, Vec<f64>)>
where
    P: FnMut() -> PF,
    PF: std::future::Future<Output = anyhow::Result<(u16, Vec<u8>)>>,
    B: FnMut() -> BF,
    BF: std::future::Future<Output = anyhow::Result<T>>,
{
    // Warm-up: caches, prepared statements.
    page().await?;
    base().await?;
    let (mut p, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let r = page().await?;
        p.push(t.elapsed().as_secs_f64() * 1000.0);
        if r.0 != 200 {
            bail!("page answered {}", r.0);
        }
        let t = Instant::now();
        base().await?;
        b.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((p, b))
}

/// Copies a closed database file (with its write-ahead log, if any) to `to`, replacing what is there.
fn copy_database(from: &Path, to: &Path) -> anyhow::Result<()> {
    let wal = |p: &Path| PathBuf::from(format!("{}.wal", p.display()));
    let _ = std::fs::remove_file(to);
    let _ = std::fs::remove_file(wal(to));
    std::fs::copy(from, to).with_context(|| format!("copy {}", from.display()))?;
    if wal(from).exists() {
        std::fs::copy(wal(from), wal(to))?;
    }
    Ok(())
}

/// The median time of each statement alone, over `rounds` runs: where a page's query time goes.
fn per_statement(
    conn: &duckdb::Connection,
    statements: &[(String, Vec<duckdb::types::Value>)],
    rounds: usize,
) -> anxu::store::StoreResult<Vec<f64>> {
    let mut out = Vec::new();
    for (sql, params) in statements {
        let mut times = Vec::new();
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(duckdb::params_from_iter(params.iter()))?;
            while rows.next()?.is_some() {}
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        out.push(stats(&times).0);
    }
    Ok(out)
}

fn svg_size(body: &[u8]) -> usize {
    let text = String::from_utf8_lossy(body);
    let Some(start) = text.find("<svg class=\"choropleth\"") else { return 0 };
    text[start..].find("</svg>").map_or(0, |end| end + "</svg>".len())
}

/// A field of /proc/self/status in MB.
fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.trim_start_matches(':').trim().strip_suffix("kB")))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn export_child(dir: &Path) -> anyhow::Result<()> {
    let db = dir.join("anxu.duckdb");
    let state = tokio::task::spawn_blocking(move || open_state(&db)).await??;
    // The province's administrator sees every activity: the export's rows.
    let rows: i64 = state.store.read(|c| Ok(c.query_row("SELECT count(*) FROM activities", [], |r| r.get(0))?)).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service = anxu::web::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let admin = Client::sign_in(addr, "zj_admin").await?;
    if let Ok(limit) = std::env::var("BENCH_MEMORY_LIMIT") {
        if !limit.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            bail!("BENCH_MEMORY_LIMIT: a size like 200MB, not {limit:?}");
        }
        state.store.read(move |c| Ok(c.execute_batch(&format!("SET memory_limit = '{limit}'"))?)).await?;
    }
    let base_mb = rss_mb("VmRSS");
    // The export first, on DuckDB's cold buffer cache, as the first export after a start would run.
    let t = Instant::now();
    // Counted as it arrives, as a browser saving it would: the client holds no copy of the body.
    let got = admin.download("/permits/export").await?;
    let seconds = t.elapsed().as_secs_f64();
    if got.status != 200 {
        bail!("export answered {}", got.status);
    }
    if !got.first.starts_with(b"PK") || !got.last.windows(4).any(|w| w == b"PK\x05\x06") {
        bail!("the export is not a whole xlsx (zip) file");
    }
    let peak = rss_mb("VmHWM");
    // Then the export's DuckDB query alone (rows read and dropped): its time, and the process's peak memory during
    // it (the peak is reset first; NaN where the kernel refuses).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let t = Instant::now();
    let queried = state
        .store
        .read(|c| {
            let f = anxu::store::activities::ActivityFilter { scope_path: "/330000/".into(), ..Default::default() };
            anxu::store::activities::export(c, &f, |_, rows| rows.count())
        })
        .await?;
    let query_seconds = t.elapsed().as_secs_f64();
    let query_peak = if reset { rss_mb("VmHWM") } else { f64::NAN };
    // The workbook alone: as many rows of typical cells, no database, written to nowhere.
    let t = Instant::now();
    let writer_only = xlsx_only(queried)?;
    println!(
        "seconds={seconds:.3}\nrows={rows}\nmb={:.2}\npeak_mb={peak:.1}\nquery_seconds={query_seconds:.3}\n\
         query_peak_mb={query_peak:.1}\nbase_mb={base_mb:.1}\nxlsx_seconds={:.3}\nxlsx_bytes={writer_only}",
        got.bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    std::io::stdout().flush()?;
    Ok(())
}

/// Writes `n` rows of cells like the activity list's (same columns, formats and typical lengths) with the
/// export's writer to a byte counter; returns the workbook's size.
fn xlsx_only(n: usize) -> anyhow::Result<u64> {
    use anxu::reports::Cell;
    use anxu::reports::ColumnFormat;
    use anxu::reports::xlsx::{ExportMeta, stream_rows};
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (t, i, d) = (ColumnFormat::Text, ColumnFormat::Integer, ColumnFormat::DateTime);
    let headers = [
        ("申请编号", t),
        ("活动名称", t),
        ("活动类型", ColumnFormat::Kind),
        ("承办单位", t),
        ("举办地区", t),
        ("审批机关", t),
        ("开始时间", d),
        ("结束时间", d),
        ("每场人数", i),
        ("场次", i),
        ("状态", t),
        ("提交时间", d),
        ("办结时间", d),
    ];
    let at = today().and_hms_opt(19, 30, 0).unwrap_or_default();
    let rows = (0..n).map(|k| {
        vec![
            Cell::Text(format!("DEMO-1-{k:07}")),
            Cell::Text(format!("西湖音乐节第{}场演出", k % 97)),
            Cell::Text("performance".into()),
            Cell::Text("杭州西子文化传媒有限公司".into()),
            Cell::Text("西湖区".into()),
            Cell::Text("杭州市公安局西湖区分局".into()),
            Cell::DateTime(at),
            Cell::DateTime(at),
            Cell::Int(3000 + (k % 1000) as i64),
            Cell::Int(2),
            Cell::Text("已许可".into()),
            Cell::DateTime(at),
            Cell::DateTime(at),
        ]
    });
    let meta = ExportMeta { user: "bench".into(), generated_at: at, filters: Vec::new() };
    Ok(stream_rows(Count(0), &headers, &meta, n, rows)?.0)
}

/// A minimal HTTP/1.1 client over loopback with a session cookie.
#[derive(Clone)]
struct Client {
    addr: SocketAddr,
    cookie: String,
    csrf: String,
}

impl Client {
    async fn sign_in(addr: SocketAddr, login: &str) -> anyhow::Result<Client> {
        let anon = Client { addr, cookie: String::new(), csrf: String::new() };
        let (_, headers, _) = anon.request("GET", "/login", None).await?;
        let token = cookie_value(&headers, "anxu_login_csrf").context("no login CSRF cookie")?;
        let body = serde_urlencoded::to_string([
            ("login_name", login),
            ("password", anxu::setup::DEMO_PASSWORD),
            ("csrf", token.as_str()),
        ])?;
        let c = Client { cookie: format!("anxu_login_csrf={token}"), ..anon };
        let (status, headers, _) = c.request("POST", "/login", Some(body)).await?;
        let session =
            cookie_value(&headers, "anxu_session").with_context(|| format!("sign-in of {login}: {status}"))?;
        let mut c = Client { addr, cookie: format!("anxu_session={session}"), csrf: String::new() };
        let (_, _, page) = c.request("GET", "/account/password", None).await?;
        let page = String::from_utf8_lossy(&page).to_string();
        c.csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_string();
        Ok(c)
    }

    async fn get(&self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let (s, _, b) = self.request("GET", path, None).await?;
        Ok((s, b))
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &self.csrf));
        let (s, _, b) = self.request("POST", path, Some(serde_urlencoded::to_string(&all)?)).await?;
        Ok((s, b))
    }

    async fn request(&self, method: &str, path: &str, body: Option<String>) -> anyhow::Result<(u16, String, Vec<u8>)> {
        let mut s = TcpStream::connect(self.addr).await?;
        s.set_nodelay(true)?;
        let body = body.unwrap_or_default();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !self.cookie.is_empty() {
            req.push_str(&format!("Cookie: {}\r\n", self.cookie));
        }
        if method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nOrigin: http://{}\r\n",
                body.len(),
                self.addr
            ));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(600), s.read_to_end(&mut raw)).await??;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("no header end")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut body = raw[split + 4..].to_vec();
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        Ok((status, head, body))
    }
}

/// A response body counted as it arrived, with its first and last bytes.
struct Downloaded {
    status: u16,
    bytes: u64,
    first: Vec<u8>,
    last: Vec<u8>,
}

impl Downloaded {
    const KEEP: usize = 64;

    fn take(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        if self.first.len() < Self::KEEP {
            let n = (Self::KEEP - self.first.len()).min(data.len());
            self.first.extend_from_slice(&data[..n]);
        }
        self.last.extend_from_slice(&data[data.len().saturating_sub(Self::KEEP)..]);
        let excess = self.last.len().saturating_sub(Self::KEEP);
        self.last.drain(..excess);
    }
}

impl Client {
    /// GET `path`, reading the body in 64 KB pieces (de-chunked on the fly) without keeping it.
    async fn download(&self, path: &str) -> anyhow::Result<Downloaded> {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut s = BufReader::with_capacity(64 * 1024, TcpStream::connect(self.addr).await?);
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: {}\r\n\r\n",
            self.addr, self.cookie
        );
        s.get_mut().write_all(req.as_bytes()).await?;
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if s.read_line(&mut line).await? == 0 {
                bail!("the connection closed inside the response head");
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut got = Downloaded { status, bytes: 0, first: Vec::new(), last: Vec::new() };
        let mut buf = vec![0u8; 64 * 1024];
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            loop {
                let mut line = String::new();
                s.read_line(&mut line).await?;
                let size = line.trim().split(';').next().unwrap_or_default();
                let size = u64::from_str_radix(size, 16).with_context(|| format!("bad chunk size {line:?}"))?;
                if size == 0 {
                    break;
                }
                let mut chunk = (&mut s).take(size);
                loop {
                    let n = chunk.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    got.take(&buf[..n]);
                }
                line.clear();
                s.read_line(&mut line).await?;
            }
        } else {
            loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                got.take(&buf[..n]);
            }
        }
        Ok(got)
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < line_end + 2 + size {
            break;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
        b = &b[(line_end + 4 + size).min(b.len())..];
    }
    out
}

fn cookie_value(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .find_map(|l| l.split_once(':').map(|(_, v)| v.trim()).and_then(|v| v.strip_prefix(&format!("{name}="))))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// The survey statistics page (province and one city) against the report's SQL run directly.
mod stats_pages {
    use super::*;
    use anxu::reports::Params;

    pub async fn run(state: &AppState, addr: SocketAddr, rounds: usize) -> anyhow::Result<Vec<Figure>> {
        let analyst = Client::sign_in(addr, "zj_analyst").await?;
        let report = state.reports.get("survey_by_region").context("no survey_by_region report")?.clone();
        let from = NaiveDate::parse_from_str(FROM, "%Y-%m-%d")?;
        let to = NaiveDate::parse_from_str(TO, "%Y-%m-%d")?;
        let mut out = Vec::new();
        for (name, region) in
            [("survey statistics, province (cities)", "330000"), ("survey statistics, 杭州市", "330100")]
        {
            let path = format!("/stats/survey_by_region?region={region}&from={FROM}&to={TO}");
            let code = Adcode::parse(region).context("adcode")?;
            let params = Params::new(&state.regions, code, from, to + chrono::TimeDelta::days(1), None);
            let first = analyst.get(&path).await?;
            if first.0 != 200 {
                bail!("GET {path}: {}", first.0);
            }
            let (page, raw) = interleaved(
                rounds,
                || analyst.get(&path),
                || {
                    let (r, p, store) = (report.clone(), params.clone(), state.store.clone());
                    async move { store.read(move |c| Ok(r.run(c, &p)?.rows.len())).await.map_err(anyhow::Error::from) }
                },
            )
            .await?;
            let mut f = Figure::of(name, "ms", &page, "≤ 150 ms");
            f.baseline = Some(stats(&raw).0);
            f.note = format!("page {} KB", first.1.len() / 1024);
            out.push(f);
        }
        Ok(out)
    }
}

/// An approval step (【审批】 通过 at step 1 of the 杭州市 flow) under 1, 8 and 32 concurrent clients over loopback
/// HTTP, on a copy of the data set so that the cached one stays as generated.
mod workflow {
    use super::*;

    /// Concurrent clients and the approvals each makes: about 100 or more per level, so that p99 is a real tail.
    const LEVELS: [(usize, usize); 3] = [(1, 60), (8, 10), (32, 4)];
    /// Approvals made before the measured levels (the first writes warm the copy's caches).
    const WARM_UP: usize = 3;
    /// Approvals made by calling the store directly, one at a time, to split an approval's time.
    const DIRECT: usize = 60;

    pub async fn run(dir: &Path) -> anyhow::Result<Vec<Figure>> {
        let copy = dir.join(COPY);
        let db = copy.clone();
        let state = tokio::task::spawn_blocking(move || open_state(&db)).await??;
        let need = LEVELS.iter().map(|(c, n)| c * n).sum::<usize>() + WARM_UP + DIRECT;
        // Applications in approval with the 杭州市 flow (科长审核 → 分管局长审批) at 杭州市 or 西湖区, each with the
        // approver of its current step.
        let apps: Vec<Work> = state
            .store
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT id, revision, bureau, step FROM activities WHERE status = 'in_approval' AND step IN (0, 1)
                       AND flow_id IS NOT NULL AND bureau IN (330100, 330106) ORDER BY id LIMIT ?",
                )?;
                let rows = st.query_map([i64::try_from(need).unwrap_or(i64::MAX)], |r| {
                    Ok((r.get(0)?, r.get(1)?, approver(r.get(2)?, r.get(3)?)))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let service = anxu::web::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move { axum::serve(listener, service).await });
        let history_before = history(&state).await?;
        let mut figures = Vec::new();
        let mut queue = apps.into_iter();
        let mut done = 0usize;
        let warm = Approvers::sign_in(addr).await?;
        for (id, revision, login) in queue.by_ref().take(WARM_UP) {
            let rev = revision.to_string();
            let path = format!("/permits/{id}/approve");
            let fields = [("decision", "pass"), ("opinion", "同意"), ("revision", rev.as_str())];
            if warm.get(login).post(&path, &fields).await?.0 == 303 {
                done += 1;
            }
        }
        for (clients, per_client) in LEVELS {
            // Every client signs in first; then all start together.
            let mut ready = Vec::new();
            for _ in 0..clients {
                let work: Vec<Work> = queue.by_ref().take(per_client).collect();
                if work.is_empty() {
                    break;
                }
                ready.push((work, Approvers::sign_in(addr).await?));
            }
            let start = Arc::new(tokio::sync::Barrier::new(ready.len() + 1));
            let mut tasks = Vec::new();
            for (work, approvers) in ready {
                let start = start.clone();
                tasks.push(tokio::spawn(async move {
                    start.wait().await;
                    let mut out = Vec::new();
                    for (id, revision, login) in work {
                        let c = approvers.get(login);
                        let rev = revision.to_string();
                        let t = Instant::now();
                        let (status, _) = c
                            .post(
                                &format!("/permits/{id}/approve"),
                                &[("decision", "pass"), ("opinion", "同意"), ("revision", &rev)],
                            )
                            .await?;
                        out.push((status, t.elapsed().as_secs_f64() * 1000.0));
                    }
                    anyhow::Ok(out)
                }));
            }
            start.wait().await;
            let started = Instant::now();
            let mut latencies = Vec::new();
            let mut failed = 0;
            for t in tasks {
                for (status, ms) in t.await?? {
                    if status == 303 {
                        latencies.push(ms);
                    } else {
                        failed += 1;
                    }
                }
            }
            let wall = started.elapsed().as_secs_f64();
            done += latencies.len();
            if latencies.is_empty() {
                figures.push(Figure {
                    note: "no applications left in approval in this data set".into(),
                    ..Figure::of(name(clients), "ms", &[], "p99 ≤ 50 ms at 32")
                });
                continue;
            }
            let p99 = p99(&latencies);
            let mut f = Figure::of(name(clients), "ms", &latencies, "p99 ≤ 50 ms at 32");
            f.note = format!(
                "{} approvals, {:.0}/s, p99 {p99:.1} ms, {failed} refused",
                latencies.len(),
                latencies.len() as f64 / wall
            );
            figures.push(f);
        }
        figures.extend(breakdown(&state, queue.by_ref().take(DIRECT).collect(), &mut done).await?);
        let history_after = history(&state).await?;
        let lost = (history_before + i64::try_from(done)?) - history_after;
        figures.push(Figure {
            note: format!(
                "{done} approvals acknowledged, {} history rows added, {lost} lost",
                history_after - history_before
            ),
            ..Figure::of("approval step: lost updates", "rows", &[lost as f64], "0")
        });
        server.abort();
        drop(state);
        let _ = std::fs::remove_file(&copy);
        let _ = std::fs::remove_file(dir.join("workflow-copy.duckdb.wal"));
        Ok(figures)
    }

    /// Where an approval's time goes, without HTTP and one at a time: the floor of any write (a transaction that
    /// inserts one row into a small table and commits), and `workflow::act` through the single writer.
    async fn breakdown(state: &AppState, apps: Vec<Work>, done: &mut usize) -> anyhow::Result<Vec<Figure>> {
        use anxu::domain::workflow::{Action, Decision};
        let user = |login: &'static str| {
            state.store.read(move |c| {
                let id: i64 = c.query_row("SELECT id FROM users WHERE login_name = ?", [login], |r| r.get(0))?;
                anxu::store::users::get(c, id)
            })
        };
        let mut users = Vec::new();
        for login in LOGINS {
            users.push((login, user(login).await?));
        }
        state.store.write(|tx| Ok(tx.execute("CREATE TABLE IF NOT EXISTS bench_probe (x INTEGER)", [])?)).await?;
        let mut floor = Vec::new();
        for i in 0..apps.len() as i32 {
            let t = Instant::now();
            state.store.write(move |tx| Ok(tx.execute("INSERT INTO bench_probe VALUES (?)", [i])?)).await?;
            floor.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mut act = Vec::new();
        for (id, revision, login) in apps {
            let user = users.iter().find(|(l, _)| *l == login).map(|(_, u)| u.clone()).context("approver")?;
            let actor = anxu::store::audit::Actor {
                id: Some(user.id),
                login: user.login_name.clone(),
                region: Some(user.region),
                source: "127.0.0.1".into(),
            };
            let (now, regions) = (state.clock.now(), state.regions.clone());
            let action = Action::Step { decision: Decision::Pass, opinion: "同意".into() };
            let t = Instant::now();
            state
                .store
                .write(move |tx| anxu::store::workflow::act(tx, now, &regions, id, revision, &action, &user, &actor))
                .await?;
            act.push(t.elapsed().as_secs_f64() * 1000.0);
            *done += 1;
        }
        Ok(vec![
            Figure {
                note: format!(
                    "INSERT of one row into a small table + COMMIT, single writer; p99 {:.1} ms",
                    p99(&floor)
                ),
                ..Figure::of("write floor: one-row transaction", "ms", &floor, "—")
            },
            Figure {
                note: format!("store::workflow::act, single writer, no HTTP, one at a time; p99 {:.1} ms", p99(&act)),
                ..Figure::of("approval step without HTTP", "ms", &act, "—")
            },
        ])
    }

    /// The copy of the data set the approvals change (made by the caller while no server has it open).
    pub const COPY: &str = "workflow-copy.duckdb";

    /// An application to approve: id, the revision its form shows, the login of its current step's approver.
    type Work = (i64, i64, &'static str);

    const LOGINS: [&str; 4] = ["hz_kezhang", "hz_juzhang", "xh_kezhang", "xh_juzhang"];

    /// The approver of `step` (0 科长, 1 分管局长) at `bureau` (杭州市 or 西湖区).
    fn approver(bureau: i64, step: i64) -> &'static str {
        match (bureau, step) {
            (330100, 0) => LOGINS[0],
            (330100, _) => LOGINS[1],
            (_, 0) => LOGINS[2],
            _ => LOGINS[3],
        }
    }

    /// One signed-in client per approver.
    struct Approvers(Vec<(&'static str, Client)>);

    impl Approvers {
        async fn sign_in(addr: SocketAddr) -> anyhow::Result<Approvers> {
            let mut out = Vec::new();
            for login in LOGINS {
                out.push((login, Client::sign_in(addr, login).await?));
            }
            Ok(Approvers(out))
        }

        fn get(&self, login: &str) -> &Client {
            self.0.iter().find(|(l, _)| *l == login).map_or(&self.0[0].1, |(_, c)| c)
        }
    }

    /// The 99th percentile (nearest rank).
    fn p99(samples: &[f64]) -> f64 {
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len().max(1)) - 1).copied().unwrap_or(f64::NAN)
    }

    fn name(clients: usize) -> &'static str {
        match clients {
            1 => "approval step, 1 client (p50; p99 in note)",
            8 => "approval step, 8 clients (p50; p99 in note)",
            _ => "approval step, 32 clients (p50; p99 in note)",
        }
    }

    async fn history(state: &AppState) -> anyhow::Result<i64> {
        Ok(state.store.read(|c| Ok(c.query_row("SELECT count(*) FROM approval_history", [], |r| r.get(0))?)).await?)
    }
}
