//! The real binary: `anxu serve` creates and migrates its database, prints the first password once, serves
//! `/healthz`, and starts again on the same data directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    addr: String,
    lines: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anxu"))
        .args(["serve", "--demo", "--demo-activities", "300", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("ANXU_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start anxu");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        let started = line.contains("已启动：http://");
        lines.push(line);
        if started {
            break;
        }
    }
    let last = lines.last().cloned().unwrap_or_default();
    let addr =
        last.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).expect("address line").to_string();
    Server { child, addr, lines }
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_creates_the_database_prints_the_password_once_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path());
    let pw_line = first.lines.iter().find(|l| l.contains("初始密码")).expect("password printed on first start");
    assert!(pw_line.contains("admin"));
    assert!(first.lines.iter().any(|l| l.contains("zj_auditor")), "demo users listed: {:?}", first.lines);
    assert!(first.lines.iter().any(|l| l.starts_with("演示数据：")), "demo data generated: {:?}", first.lines);
    let health = get(&first.addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let login = get(&first.addr, "/login");
    assert!(login.contains("登录用户名"));
    drop(first);
    assert!(dir.path().join("anxu.duckdb").exists());
    let second = start(dir.path());
    assert!(!second.lines.iter().any(|l| l.contains("初始密码")), "the password is printed only once");
    assert!(!second.lines.iter().any(|l| l.starts_with("演示数据：")), "the demo data is generated once");
    assert!(get(&second.addr, "/healthz").starts_with("HTTP/1.1 200"));
}
