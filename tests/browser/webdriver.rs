//! A small WebDriver client: the W3C protocol as JSON over HTTP/1.1 to chromedriver on loopback, synchronous, with
//! the handful of commands the browser tests use. Every helper panics with the page's address when a command fails,
//! which is what a test wants.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// The key under which WebDriver names an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a helper waits for an element or a download.
pub const WAIT: Duration = Duration::from_secs(20);

/// One request to chromedriver; answers the status and the JSON body. chromedriver says `Connection: close` but keeps
/// the socket open, so the body is read by its length.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
    let what = format!("{method} {path}");
    let mut stream =
        TcpStream::connect(addr).map_err(|e| format!("{what}: connecting to chromedriver at {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| format!("{what}: {e}"))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).map_err(|e| format!("{what}: {e}"))?;
    stream.write_all(payload.as_bytes()).map_err(|e| format!("{what}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).map_err(|e| format!("{what}: {e}"))?;
        if n == 0 {
            return Err(format!("{what}: chromedriver closed the connection without an answer"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{what}: no status in {head:?}"))?;
    let length: Option<usize> = head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if k.trim().eq_ignore_ascii_case("content-length") { v.trim().parse().ok() } else { None }
    });
    let mut body = buf[header_end + 4..].to_vec();
    loop {
        if length.is_some_and(|n| body.len() >= n) {
            break;
        }
        let n = stream.read(&mut chunk).map_err(|e| format!("{what}: {e}"))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if let Some(n) = length {
        body.truncate(n);
    }
    let value = serde_json::from_slice(&body).map_err(|e| format!("{what}: answer is not JSON ({e})"))?;
    Ok((status, value))
}

/// The `value` of a WebDriver answer.
fn value_of(mut answer: Value) -> Value {
    answer.get_mut("value").map(Value::take).unwrap_or_default()
}

/// How to start a browser.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whether pages may run JavaScript.
    pub javascript: bool,
    /// Where downloads are saved.
    pub download_dir: Option<std::path::PathBuf>,
    /// The window (and, headless, the viewport) size.
    pub size: (u32, u32),
}

impl Default for Options {
    fn default() -> Self {
        Self { javascript: true, download_dir: None, size: (1366, 768) }
    }
}

/// One headless Chromium, i.e. one WebDriver session; closed when dropped.
pub struct Browser {
    driver: String,
    session: String,
}

impl Browser {
    /// Starts a headless Chromium through the chromedriver at `driver` (`host:port`).
    pub fn start(driver: &str, opts: &Options) -> Result<Self, String> {
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--lang=zh-CN",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--window-size={},{}", opts.size.0, opts.size.1));
        let mut prefs = Map::new();
        prefs.insert("intl.accept_languages".into(), json!("zh-CN,zh"));
        if let Some(dir) = &opts.download_dir {
            prefs.insert("download.default_directory".into(), Value::String(dir.display().to_string()));
            prefs.insert("download.prompt_for_download".into(), Value::Bool(false));
            prefs.insert("download.directory_upgrade".into(), Value::Bool(true));
        }
        if !opts.javascript {
            prefs.insert("profile.managed_default_content_settings.javascript".into(), json!(2));
        }
        let mut chrome = Map::new();
        chrome.insert("args".into(), json!(args));
        chrome.insert("prefs".into(), Value::Object(prefs));
        if let Some(binary) = std::env::var_os("CHROME_BIN") {
            chrome.insert("binary".into(), Value::String(binary.to_string_lossy().to_string()));
        }
        let mut always = Map::new();
        always.insert("browserName".into(), json!("chrome"));
        always.insert("goog:chromeOptions".into(), Value::Object(chrome));
        let caps = json!({ "capabilities": { "alwaysMatch": Value::Object(always) } });
        let (status, answer) = http(driver, "POST", "/session", Some(&caps))?;
        let value = value_of(answer);
        if status != 200 {
            return Err(format!("chromedriver could not start Chromium ({status}): {}", value["message"]));
        }
        let session = value["sessionId"].as_str().ok_or_else(|| format!("no session id in {value}"))?.to_string();
        let browser = Self { driver: driver.to_string(), session };
        browser.cmd("POST", "/timeouts", json!({ "implicit": 0, "pageLoad": 120_000, "script": 60_000 }))?;
        Ok(browser)
    }

    /// One command of this session; the answer's `value`, or the error WebDriver gave.
    pub fn cmd(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let full = format!("/session/{}{path}", self.session);
        let body = (method == "POST").then_some(body);
        let (status, answer) = http(&self.driver, method, &full, body.as_ref())?;
        let value = value_of(answer);
        if status >= 400 {
            return Err(format!("{method} {path}: {} — {}", value["error"], value["message"]));
        }
        Ok(value)
    }

    /// [`Self::cmd`], panicking on error with the page's address.
    fn must(&self, method: &str, path: &str, body: Value) -> Value {
        match self.cmd(method, path, body) {
            Ok(v) => v,
            Err(e) => panic!("{e}\n(page: {})", self.url()),
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.must("POST", "/url", json!({ "url": url }));
    }

    /// The current address.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", Value::Null).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    fn element(&self, v: &Value) -> Element<'_> {
        let id = v.get(ELEMENT_KEY).and_then(Value::as_str).unwrap_or_else(|| panic!("not an element: {v}"));
        Element { browser: self, id: id.to_string() }
    }

    fn locate(&self, using: &str, value: &str) -> Result<Element<'_>, String> {
        let v = self.cmd("POST", "/element", json!({ "using": using, "value": value }))?;
        Ok(self.element(&v))
    }

    /// The first element matching the CSS selector, if any.
    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        self.locate("css selector", css).ok()
    }

    /// The first element matching the CSS selector; panics when there is none.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.try_find(css).unwrap_or_else(|| panic!("no element matches {css:?} on {}", self.url()))
    }

    /// The first element matching the XPath expression; panics when there is none.
    pub fn find_xpath(&self, xpath: &str) -> Element<'_> {
        self.locate("xpath", xpath).unwrap_or_else(|e| panic!("no element matches {xpath:?} on {}: {e}", self.url()))
    }

    /// Every element matching the CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self.must("POST", "/elements", json!({ "using": "css selector", "value": css }));
        v.as_array().map(|a| a.iter().map(|e| self.element(e)).collect()).unwrap_or_default()
    }

    /// Waits up to [`WAIT`] for an element matching the CSS selector.
    pub fn wait_for(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.try_find(css) {
                return e;
            }
            assert!(Instant::now() < deadline, "no element matches {css:?} on {} after {WAIT:?}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and answers its return value.
    pub fn exec(&self, script: &str, args: Vec<Value>) -> Value {
        self.must("POST", "/execute/sync", json!({ "script": script, "args": args }))
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = self.must("GET", "/screenshot", Value::Null);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"))
    }

    /// Resizes the window (headless: the viewport).
    pub fn resize(&self, width: u32, height: u32) {
        self.must("POST", "/window/rect", json!({ "width": width, "height": height }));
    }

    /// Presses and releases one key (a WebDriver key code such as `"\u{E004}"` for Tab) on whatever has focus.
    pub fn press(&self, key: &str) {
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
            { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
        ] }] });
        self.must("POST", "/actions", actions);
    }

    /// Waits until the page has been replaced by a new one (marked by [`Element::follow`]) that has loaded.
    fn wait_for_next_page(&self, what: &str) {
        let script = json!({
            "script": "return window.__anxuLeaving === undefined && document.readyState === 'complete';",
            "args": []
        });
        let deadline = Instant::now() + WAIT;
        // While the old page unloads the script may fail; that is "not yet".
        while !matches!(self.cmd("POST", "/execute/sync", script.clone()), Ok(Value::Bool(true))) {
            assert!(Instant::now() < deadline, "{what} led to no new page after {WAIT:?} (still on {})", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Switches into the frame `frame` (an `iframe` element of the current page).
    pub fn enter_frame(&self, frame: &Element<'_>) {
        self.must("POST", "/frame", json!({ "id": frame.reference() }));
    }

    /// Switches back to the parent of the current frame.
    pub fn leave_frame(&self) {
        self.must("POST", "/frame/parent", json!({}));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(&self.driver, "DELETE", &format!("/session/{}", self.session), None);
    }
}

/// An element of the page a [`Browser`] shows.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl<'a> Element<'a> {
    fn path(&self, what: &str) -> String {
        format!("/element/{}{what}", self.id)
    }

    /// The element as a WebDriver argument (for [`Browser::exec`] and frames).
    pub fn reference(&self) -> Value {
        let mut m = Map::new();
        m.insert(ELEMENT_KEY.to_string(), Value::String(self.id.clone()));
        Value::Object(m)
    }

    /// Clicks it (scrolled into view, as a person would) and waits for a navigation it starts.
    pub fn click(&self) {
        self.browser.must("POST", &self.path("/click"), json!({}));
    }

    /// Clicks a link or a submit button and waits until the page it leads to has loaded (a click alone may return
    /// before the navigation it starts, and the next lookup would find the old page).
    pub fn follow(&self) {
        let label = self.text();
        self.browser.exec("window.__anxuLeaving = true;", vec![]);
        self.click();
        self.browser.wait_for_next_page(&format!("the click on {label:?}"));
    }

    /// Types `text` into it.
    pub fn send_keys(&self, text: &str) {
        self.browser.must("POST", &self.path("/value"), json!({ "text": text }));
    }

    /// Empties an input.
    pub fn clear(&self) {
        self.browser.must("POST", &self.path("/clear"), json!({}));
    }

    /// Its rendered text.
    pub fn text(&self) -> String {
        self.browser.must("GET", &self.path("/text"), Value::Null).as_str().unwrap_or_default().to_string()
    }

    /// An attribute, if present.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.browser.must("GET", &self.path(&format!("/attribute/{name}")), Value::Null).as_str().map(str::to_string)
    }

    /// The first element inside matching the CSS selector; panics when there is none.
    pub fn find(&self, css: &str) -> Element<'a> {
        let v = self
            .browser
            .cmd("POST", &self.path("/element"), json!({ "using": "css selector", "value": css }))
            .unwrap_or_else(|e| panic!("no element matches {css:?} inside an element of {}: {e}", self.browser.url()));
        self.browser.element(&v)
    }
}

/// Waits up to [`WAIT`] for a finished download in `dir` whose name ends with `suffix`; answers its path.
pub fn wait_for_download(dir: &Path, suffix: &str) -> std::path::PathBuf {
    let deadline = Instant::now() + WAIT;
    loop {
        let names: Vec<std::path::PathBuf> =
            std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        let busy = names.iter().any(|p| p.extension().is_some_and(|x| x == "crdownload"));
        if !busy && let Some(done) = names.iter().find(|p| p.to_string_lossy().ends_with(suffix)) {
            return done.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {suffix} download arrived in {} after {WAIT:?}: {names:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
