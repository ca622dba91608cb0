//! SMS delivery on the portal: a minimal HTTP/1.1 client for the gateway (plain `http://` only, one request per
//! connection) and the worker that drains the outbox (`store::sms`). Messages are only ever marked by the outcome of
//! their own attempt: accepted → `sent`, anything else → `mark_failed` with the reason (backoff, then `failed`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::store::StoreError;
use crate::store::sms::{self, Gateway};
use crate::web::AppState;

/// The time one gateway request may take: connect, write and reading the status line together.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the worker looks for due messages.
pub const WORKER_EVERY: Duration = Duration::from_secs(5);
/// The most messages one delivery round sends.
const BATCH: i64 = 50;
/// The most bytes read while looking for the status line.
const STATUS_LINE_MAX: usize = 8 * 1024;

/// Where a gateway URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host to connect to (an IPv6 address without brackets).
    pub host: String,
    /// The port (80 unless given).
    pub port: u16,
    /// The request target: path and query, starting with `/`.
    pub path: String,
    /// The `Host` header value.
    pub host_header: String,
}

/// Parses `http://host[:port][/path][?query]`. `https` and anything else is refused with a short reason.
pub fn parse_url(url: &str) -> Result<Target, String> {
    if url.is_empty() {
        return Err("网关地址为空 (empty URL)".into());
    }
    if url.len() > 2048 {
        return Err("网关地址过长 (URL too long)".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("网关地址含空格或控制字符 (URL contains whitespace)".into());
    }
    let lower = url.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    if lower.starts_with("https://") {
        return Err("暂不支持 https (https is not supported; use an http proxy)".into());
    }
    let rest = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
        _ => return Err("网关地址须以 http:// 开头 (only http:// URLs are supported)".into()),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let tail = tail.split('#').next().unwrap_or("");
    let path = match tail.chars().next() {
        None => "/".to_string(),
        Some('?') => format!("/{tail}"),
        Some(_) => tail.to_string(),
    };
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("网关地址路径含非 ASCII 字符，请先进行百分号编码 (non-ASCII path)".into());
    }
    if authority.is_empty() {
        return Err("网关地址缺少主机名 (missing host)".into());
    }
    if authority.contains('@') {
        return Err("网关地址不能包含用户名或密码 (userinfo not allowed)".into());
    }
    let (host, port_text, bracketed) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return Err("网关地址的 IPv6 主机格式错误 (bad IPv6 host)".into());
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err("网关地址的端口格式错误 (bad port)".into()),
            },
        };
        if h.is_empty() || !h.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err("网关地址的 IPv6 主机格式错误 (bad IPv6 host)".into());
        }
        (h, port, true)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (authority, None, false),
        }
    };
    if !bracketed
        && (host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err("网关地址的主机名无效 (bad host)".into());
    }
    let port = match port_text {
        None | Some("") => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("网关地址的端口无效 (bad port {p:.10})")),
        },
    };
    let shown = if bracketed { format!("[{host}]") } else { host.to_string() };
    let host_header = if port == 80 { shown } else { format!("{shown}:{port}") };
    Ok(Target { host: host.to_string(), port, path, host_header })
}

/// Sends one message to the gateway: `POST` of `{"account", "secret", "mobile", "content"}` as JSON, the content
/// being the signature followed by `text`. `Ok` only when the gateway answers 2xx within [`SEND_TIMEOUT`].
pub async fn send(gateway: &Gateway, mobile: &str, text: &str) -> Result<(), String> {
    let target = parse_url(&gateway.url)?;
    let body = serde_json::json!({
        "account": gateway.account,
        "secret": gateway.secret,
        "mobile": mobile,
        "content": format!("{}{}", gateway.signature, text),
    })
    .to_string();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Accept: */*\r\nUser-Agent: anxu-sms/1\r\nConnection: close\r\n\r\n",
        target.path,
        target.host_header,
        body.len()
    );
    let status = match tokio::time::timeout(SEND_TIMEOUT, exchange(&target, head, body)).await {
        Ok(r) => r?,
        Err(_) => return Err(format!("网关超时 (timeout after {} s)", SEND_TIMEOUT.as_secs())),
    };
    if (200..300).contains(&status.0) {
        Ok(())
    } else if status.1.is_empty() {
        Err(format!("网关返回 HTTP {}", status.0))
    } else {
        Err(format!("网关返回 HTTP {} {}", status.0, status.1))
    }
}

/// Connects, writes the request and reads the status line: (code, reason phrase).
async fn exchange(target: &Target, head: String, body: String) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("无法连接网关 {}:{} ({})", target.host, target.port, short(&e.to_string())))?;
    let mut request = head.into_bytes();
    request.extend_from_slice(body.as_bytes());
    stream.write_all(&request).await.map_err(|e| format!("发送请求失败 ({})", short(&e.to_string())))?;
    stream.flush().await.map_err(|e| format!("发送请求失败 ({})", short(&e.to_string())))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            return parse_status_line(&buf[..pos]);
        }
        if buf.len() >= STATUS_LINE_MAX {
            return Err("网关响应格式错误 (status line too long)".into());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| format!("读取响应失败 ({})", short(&e.to_string())))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "网关未返回响应即断开连接 (connection closed)".into()
            } else {
                "网关响应格式错误 (truncated status line)".into()
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Parses `HTTP/1.x 200 OK` (without the line end).
fn parse_status_line(line: &[u8]) -> Result<(u16, String), String> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    let malformed = || format!("网关响应格式错误 (bad status line: {})", short(line));
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    let reason = parts.next().unwrap_or("").trim();
    if !version.starts_with("HTTP/") || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let code: u16 = code.parse().map_err(|_| malformed())?;
    if !(100..=599).contains(&code) {
        return Err(malformed());
    }
    Ok((code, short(reason)))
}

/// At most 80 characters of `s`, without control characters.
fn short(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// Sends the due messages (at most one batch), recording each outcome in its own write. Without a gateway nothing
/// is sent (the messages wait, visibly, as 待发送). Returns how many the gateway accepted.
pub async fn deliver_due(app: &AppState) -> Result<usize, StoreError> {
    let _guard = app.sms_delivery.lock().await;
    deliver_locked(app).await
}

/// Like [`deliver_due`], but answers `None` at once when a delivery round is already running (for the page's
/// 【立即发送】, which should not wait behind a slow gateway).
pub async fn try_deliver_due(app: &AppState) -> Result<Option<usize>, StoreError> {
    let Ok(_guard) = app.sms_delivery.try_lock() else {
        return Ok(None);
    };
    deliver_locked(app).await.map(Some)
}

async fn deliver_locked(app: &AppState) -> Result<usize, StoreError> {
    let Some(gateway) = app.store.read(sms::gateway).await? else {
        return Ok(0);
    };
    let now = app.clock.now();
    let due = app.store.read(move |c| sms::due(c, now, BATCH)).await?;
    let mut sent = 0;
    for m in due {
        let outcome = send(&gateway, &m.mobile, &m.text).await;
        let at = app.clock.now();
        let id = m.id;
        match outcome {
            Ok(()) => {
                app.store.write(move |tx| sms::mark_sent(tx, at, id)).await?;
                sent += 1;
            }
            Err(error) => {
                tracing::warn!(sms = id, %error, "sms gateway refused or failed");
                app.store.write(move |tx| sms::mark_failed(tx, at, id, &error)).await?;
            }
        }
    }
    Ok(sent)
}

/// Starts the delivery worker: every [`WORKER_EVERY`] one [`deliver_due`] round; errors (and even a panic of a
/// round) are logged and the worker carries on.
pub fn spawn_worker(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WORKER_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if app.store.health().fatal().is_some() {
                continue;
            }
            let round = tokio::spawn({
                let app = app.clone();
                async move { deliver_due(&app).await }
            });
            match round.await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(sent = n, "sms delivered"),
                Ok(Err(error)) => tracing::error!(%error, "sms delivery round failed"),
                Err(error) => tracing::error!(%error, "sms delivery round panicked"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:8080/sms/send?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("127.0.0.1", 8080, "/sms/send?x=1"));
        assert_eq!(t.host_header, "127.0.0.1:8080");
        let t = parse_url("HTTP://gw.example").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.host_header.as_str()),
            ("gw.example", 80, "/", "gw.example")
        );
        let t = parse_url("http://gw?a=b#frag").unwrap();
        assert_eq!(t.path, "/?a=b");
        let t = parse_url("http://[::1]:9000/x").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.host_header.as_str()), ("::1", 9000, "[::1]:9000"));
        for bad in [
            "",
            "https://gw/",
            "ftp://gw/",
            "http://",
            "http:///x",
            "http://:80/",
            "http://gw:0/",
            "http://gw:65536/",
            "http://gw:+80/",
            "http://gw:abc/",
            "http://u:p@gw/",
            "http://g w/",
            "http://[::1/",
            "http://[::1]x/",
            "http://gw/路径",
            "http://gw\r\nX: y/",
            "gw:80",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r").unwrap(), (200, "OK".to_string()));
        assert_eq!(parse_status_line(b"HTTP/1.0 503").unwrap().0, 503);
        let bad: [&[u8]; 6] = [b"", b"garbage", b"HTTP/1.1 2000 OK", b"HTTP/1.1 abc", b"ICY 200 OK", b"HTTP/1.1 099 x"];
        for bad in bad {
            assert!(parse_status_line(bad).is_err());
        }
    }
}
