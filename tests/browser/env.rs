//! The shared environment of the browser tests, started once per test binary: the real `anxu` binary with demo data
//! on a free port, chromedriver, and two tiny "host" sites on other loopback ports that embed anxu pages in an
//! iframe (one allowed by `--frame-ancestors`, one not).
//!
//! The environment lives in a static and is never dropped, so each long-running process is started under a small
//! `sh` wrapper that waits on its stdin: when the test binary exits, for whatever reason, the pipe closes and the
//! wrapper ends the process's whole process group (chromedriver's Chromium instances included) and removes the data
//! directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::webdriver::{Browser, Options};

/// The password of every demo user (`setup::DEMO_PASSWORD`).
pub const DEMO_PASSWORD: &str = "Anxu@2026";

/// How many province-wide activities the demo generates: enough for the map and the statistics, quick to create.
const DEMO_ACTIVITIES: &str = "2000";

/// What a developer without Chromium is told.
const INSTALL_HINT: &str = "the browser tests need headless Chromium and its WebDriver (Debian's chromium, \
    chromium-driver and fonts-noto-cjk). Run `.ci/run`, which installs them, or `apt-get install -y chromium \
    chromium-driver fonts-noto-cjk`; set ANXU_SKIP_BROWSER=1 to skip these tests";

/// The `sh` wrapper of every process (`"$@"`): started in a session of its own, so that one signal reaches its
/// children too; stopped when the wrapper's stdin closes; `$ANXU_BROWSER_CLEANUP` removed afterwards. The wrapper
/// lets go of stdout, so that the test sees the end of the output when the process stops by itself.
const WRAPPER: &str = r#"setsid "$@" </dev/null & pid=$!
exec >/dev/null
read -r line || true
kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -n "${ANXU_BROWSER_CLEANUP:-}" ]; then rm -rf "$ANXU_BROWSER_CLEANUP"; fi"#;

/// A process started under the wrapper; keeping it keeps the process running.
struct Wrapped {
    /// Held for its stdin pipe, whose closing stops the process.
    child: Child,
    lines: Receiver<String>,
    name: String,
}

impl Wrapped {
    /// Starts `program` under [`WRAPPER`]; its stdout lines arrive on `lines` and are drained for as long as it runs.
    /// `cleanup` is removed once it has stopped; `quiet` drops its stderr.
    fn spawn(program: &str, args: &[String], cleanup: Option<&Path>, quiet: bool) -> Result<Self, String> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(WRAPPER).arg("anxu-browser-test").arg(program).args(args);
        if let Some(dir) = cleanup {
            cmd.env("ANXU_BROWSER_CLEANUP", dir);
        }
        let stderr = if quiet { Stdio::null() } else { Stdio::inherit() };
        cmd.env("ANXU_LOG", "warn").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(stderr);
        let mut child = cmd.spawn().map_err(|e| format!("starting {program}: {e}"))?;
        let stdout = child.stdout.take().ok_or_else(|| format!("{program}: no stdout"))?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Keep draining after the receiver has gone, so that the process never blocks on a full pipe.
                let _ = tx.send(line);
            }
        });
        Ok(Self { child, lines, name: program.to_string() })
    }

    /// The process, without its output (still drained), to keep in the shared environment.
    fn into_child(self) -> Child {
        self.child
    }

    /// Waits for the first stdout line containing `marker`.
    fn wait_for_line(&self, marker: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return Ok(line),
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    let name = &self.name;
                    return Err(format!("{name} did not print {marker:?} within {limit:?}; it printed {seen:#?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let name = &self.name;
                    return Err(format!("{name} stopped before printing {marker:?}; it printed {seen:#?}"));
                }
            }
        }
    }
}

/// Where the tests find everything.
pub struct Env {
    /// anxu's address, e.g. `http://127.0.0.1:40123`.
    pub base: String,
    /// chromedriver's `host:port`.
    driver: String,
    /// A host page whose origin `--frame-ancestors` allows, embedding `/permits?embed=1`.
    pub allowed_host: String,
    /// The same host page from an origin that is not allowed.
    pub refused_host: String,
    /// anxu and chromedriver, kept for their stdin pipes.
    _processes: Vec<Child>,
}

static ENV: OnceLock<Result<Env, String>> = OnceLock::new();

/// The shared environment, started on first use; `None` when ANXU_SKIP_BROWSER=1. Panics with a clear message when
/// Chromium is missing or anxu does not start.
pub fn env() -> Option<&'static Env> {
    if std::env::var("ANXU_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("ANXU_SKIP_BROWSER=1: browser test skipped");
        return None;
    }
    match ENV.get_or_init(Env::start) {
        Ok(env) => Some(env),
        Err(e) => panic!("{e}"),
    }
}

/// `name` on PATH, if it is there.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

impl Env {
    fn start() -> Result<Self, String> {
        let chromedriver = std::env::var_os("CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| on_path("chromedriver"))
            .ok_or_else(|| format!("chromedriver not found on PATH: {INSTALL_HINT}"))?;
        if std::env::var_os("CHROME_BIN").is_none()
            && ["chromium", "chromium-browser", "google-chrome"].iter().all(|b| on_path(b).is_none())
        {
            return Err(format!("Chromium not found on PATH: {INSTALL_HINT}"));
        }
        let allowed = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a host port: {e}"))?;
        let refused = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a host port: {e}"))?;
        let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
        let allowed_host = format!("http://127.0.0.1:{}", port(&allowed)?);
        let refused_host = format!("http://127.0.0.1:{}", port(&refused)?);

        let data = tempfile::Builder::new()
            .prefix("anxu-browser-")
            .tempdir()
            .map_err(|e| format!("creating a data directory: {e}"))?
            .keep();
        let mut args: Vec<String> =
            ["serve", "--demo", "--demo-activities", DEMO_ACTIVITIES, "--bind", "127.0.0.1:0", "--data-dir"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.push(data.display().to_string());
        // Last, since it takes any number of values.
        args.push("--frame-ancestors".into());
        args.push(allowed_host.clone());
        let anxu = Wrapped::spawn(env!("CARGO_BIN_EXE_anxu"), &args, Some(&data), false)?;
        let line = anxu.wait_for_line("已启动：http://", Duration::from_secs(300))?;
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .ok_or_else(|| format!("no address in {line:?}"))?
            .to_string();
        let health = get(&addr, "/healthz")?;
        if !health.starts_with("HTTP/1.1 200") {
            return Err(format!("anxu's /healthz did not answer 200: {health}"));
        }
        let base = format!("http://{addr}");

        let driver = Wrapped::spawn(&chromedriver.display().to_string(), &["--port=0".to_string()], None, true)?;
        let line = driver.wait_for_line("started successfully on port ", Duration::from_secs(60))?;
        let driver_port = line
            .rsplit("on port ")
            .next()
            .map(|s| s.trim().trim_end_matches('.'))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("no port in chromedriver's line {line:?}"))?;

        let target = format!("{base}/permits?embed=1");
        for listener in [allowed, refused] {
            let page = host_page(&target);
            std::thread::spawn(move || serve_host(listener, &page));
        }
        Ok(Self {
            base,
            driver: format!("127.0.0.1:{driver_port}"),
            allowed_host,
            refused_host,
            _processes: vec![anxu.into_child(), driver.into_child()],
        })
    }

    /// A new headless Chromium.
    pub fn browser(&self, opts: &Options) -> Browser {
        Browser::start(&self.driver, opts).unwrap_or_else(|e| panic!("{e}\n({INSTALL_HINT})"))
    }

    /// `path` on anxu.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A plain GET over loopback, answering the raw response.
fn get(addr: &str, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connecting to anxu at {addr}: {e}"))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The host site's one page: a heading and an iframe of `target`.
fn host_page(target: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>宿主系统</title></head><body>\
         <h1>宿主系统</h1><iframe id=\"embedded\" title=\"安许活动列表\" src=\"{target}\" width=\"1100\" \
         height=\"600\"></iframe></body></html>"
    )
}

/// Answers every request on `listener` with `page`.
fn serve_host(listener: TcpListener, page: &str) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(response.as_bytes());
        let _ = stream.flush();
    }
}
