//! A headless Chromium for page tests, driven over WebDriver (W3C) by
//! Debian's `chromedriver` on a free loopback port.
//!
//! The client is a few blocking HTTP/1.1 calls with `serde_json` over a
//! loopback `TcpStream`: the WebDriver crates (fantoccini and its
//! `webdriver` dependency) would add a dozen crates, and their TLS
//! options pull aws-lc-rs or OpenSSL, for calls that never leave
//! 127.0.0.1 and need no TLS.
//!
//! ```no_run
//! use test_support::browser::{Browser, BrowserOptions};
//!
//! let b = Browser::start(&BrowserOptions::default()).expect("chromium");
//! b.goto("https://example.test/").unwrap();
//! let h1 = b.find("h1").unwrap();
//! println!("{}", b.text(&h1).unwrap());
//! ```

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Why the browser could not start or a command failed.
#[derive(Debug)]
pub struct BrowserError(pub String);

impl std::fmt::Display for BrowserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BrowserError {}

fn err(s: impl Into<String>) -> BrowserError {
    BrowserError(s.into())
}

/// How the browser is started.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Host names resolved to 127.0.0.1 by the browser (Chromium's
    /// `--host-resolver-rules`), so pages are loaded by their real name.
    pub hosts: Vec<String>,
    /// Accept certificates of a test CA.
    pub accept_insecure_certs: bool,
    /// The window size (CSS pixels).
    pub window: (u32, u32),
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self {
            hosts: Vec::new(),
            accept_insecure_certs: true,
            window: (1280, 900),
        }
    }
}

/// The first of `names` that exists.
fn find_binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    names.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// A headless Chromium session; the driver is stopped on drop.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// Start `chromedriver` (`$CHROMEDRIVER`, or `/usr/bin/chromedriver`)
    /// on a free loopback port and open a headless Chromium session
    /// (`$CHROMIUM`, or `/usr/bin/chromium`).
    ///
    /// # Errors
    ///
    /// When either binary is missing or the session cannot be created:
    /// the reason, for a test to print when it skips.
    pub fn start(options: &BrowserOptions) -> Result<Self, BrowserError> {
        let driver_bin = find_binary(
            "CHROMEDRIVER",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        )
        .ok_or_else(|| {
            err("no chromedriver (install Debian's chromium-driver, or set CHROMEDRIVER)")
        })?;
        let chromium = find_binary(
            "CHROMIUM",
            &[
                "/usr/bin/chromium",
                "/usr/bin/chromium-browser",
                "/usr/bin/google-chrome",
            ],
        )
        .ok_or_else(|| err("no chromium (install Debian's chromium, or set CHROMIUM)"))?;
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| err(format!("no free port: {e}")))?
            .port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("{}: {e}", driver_bin.display())))?;
        let profile =
            std::env::temp_dir().join(format!("mtasts-chromium-{}-{port}", std::process::id()));
        let mut b = Self {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match b.call("GET", "/status", None) {
                Ok(v) if v["ready"].as_bool() == Some(true) => break,
                _ if Instant::now() > deadline => {
                    return Err(err(format!(
                        "{} did not become ready",
                        driver_bin.display()
                    )));
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            format!("--user-data-dir={}", b.profile.display()),
            format!("--window-size={},{}", options.window.0, options.window.1),
        ];
        if !options.hosts.is_empty() {
            let rules: Vec<String> = options
                .hosts
                .iter()
                .map(|h| format!("MAP {h} 127.0.0.1"))
                .collect();
            args.push(format!("--host-resolver-rules={}", rules.join(", ")));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": options.accept_insecure_certs,
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args}
        }}});
        let v = b.call("POST", "/session", Some(&caps))?;
        b.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| err(format!("no session: {v}")))?
            .to_owned();
        Ok(b)
    }

    /// One WebDriver call; the `value` of the answer.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, BrowserError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .map_err(|e| err(format!("chromedriver at {}: {e}", self.addr)))?;
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes())
            .map_err(|e| err(format!("chromedriver: {e}")))?;
        // chromedriver keeps the connection open: read the head, then
        // `Content-Length` bytes (or chunks until the last one).
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = s
                .read(&mut buf)
                .map_err(|e| err(format!("chromedriver: {e}")))?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if answer_complete(&raw) {
                break;
            }
        }
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| err("chromedriver: no HTTP answer"))?;
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let rest = &raw[split + 4..];
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = if head.contains("transfer-encoding: chunked") {
            dechunk(rest)
        } else {
            rest.to_vec()
        };
        let json_text = String::from_utf8_lossy(&body);
        let v: Value = serde_json::from_str(&json_text)
            .map_err(|e| err(format!("chromedriver {method} {path}: {e}: {json_text}")))?;
        if status != 200 {
            return Err(err(format!("{method} {path}: {status} {}", v["value"])));
        }
        Ok(v["value"].clone())
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    /// Load `url` and wait for the document.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.call("POST", &self.s("/url"), Some(&json!({"url": url})))
            .map(|_| ())
    }

    /// The current URL.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn url(&self) -> Result<String, BrowserError> {
        Ok(self
            .call("GET", &self.s("/url"), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The first element matching the CSS `selector`.
    ///
    /// # Errors
    ///
    /// None found, or the WebDriver error.
    pub fn find(&self, selector: &str) -> Result<String, BrowserError> {
        let v = self.call(
            "POST",
            &self.s("/element"),
            Some(&json!({"using": "css selector", "value": selector})),
        )?;
        element_id(&v).ok_or_else(|| err(format!("{selector}: no element: {v}")))
    }

    /// Every element matching the CSS `selector`.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn find_all(&self, selector: &str) -> Result<Vec<String>, BrowserError> {
        let v = self.call(
            "POST",
            &self.s("/elements"),
            Some(&json!({"using": "css selector", "value": selector})),
        )?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(element_id).collect())
            .unwrap_or_default())
    }

    /// The rendered (visible) text of an element.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn text(&self, element: &str) -> Result<String, BrowserError> {
        Ok(self
            .call("GET", &self.s(&format!("/element/{element}/text")), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// An attribute of an element (`None` when absent).
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn attr(&self, element: &str, name: &str) -> Result<Option<String>, BrowserError> {
        Ok(self
            .call(
                "GET",
                &self.s(&format!("/element/{element}/attribute/{name}")),
                None,
            )?
            .as_str()
            .map(str::to_owned))
    }

    /// Type `text` into an element.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn send_keys(&self, element: &str, text: &str) -> Result<(), BrowserError> {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/value")),
            Some(&json!({"text": text})),
        )
        .map(|_| ())
    }

    /// Click an element.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn click(&self, element: &str) -> Result<(), BrowserError> {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/click")),
            Some(&json!({})),
        )
        .map(|_| ())
    }

    /// Run `script` (a function body; `arguments` are `args`) in the page.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn execute(&self, script: &str, args: &[Value]) -> Result<Value, BrowserError> {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Resize the window (CSS pixels).
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.call(
            "POST",
            &self.s("/window/rect"),
            Some(&json!({"width": width, "height": height})),
        )
        .map(|_| ())
    }

    /// A Chrome DevTools Protocol command (`Emulation.setDeviceMetricsOverride`, ...).
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn cdp(&self, cmd: &str, params: &Value) -> Result<Value, BrowserError> {
        self.call(
            "POST",
            &self.s("/goog/cdp/execute"),
            Some(&json!({"cmd": cmd, "params": params})),
        )
    }

    /// Emulate a phone screen of `width`×`height` CSS pixels (touch,
    /// mobile viewport), or with `None` stop emulating.
    ///
    /// # Errors
    ///
    /// The WebDriver error.
    pub fn emulate_phone(&self, size: Option<(u32, u32)>) -> Result<(), BrowserError> {
        match size {
            Some((w, h)) => self.cdp(
                "Emulation.setDeviceMetricsOverride",
                &json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": true}),
            ),
            None => self.cdp("Emulation.clearDeviceMetricsOverride", &json!({})),
        }
        .map(|_| ())
    }

    /// A PNG screenshot of the viewport, written to `path` (directories
    /// created).
    ///
    /// # Errors
    ///
    /// The WebDriver error, or the file could not be written.
    pub fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        let v = self.call("GET", &self.s("/screenshot"), None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| err(format!("screenshot: {e}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, png).map_err(|e| err(format!("{}: {e}", path.display())))
    }

    /// A screenshot of the whole page at `width`: the window is made as
    /// tall as the document (at most `max_height`) first.
    ///
    /// # Errors
    ///
    /// As [`Browser::screenshot`].
    pub fn full_page_screenshot(
        &self,
        path: &Path,
        width: u32,
        max_height: u32,
    ) -> Result<(), BrowserError> {
        self.set_window_size(width, 900)?;
        let h = self
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight + (window.outerHeight - window.innerHeight));",
                &[],
            )?
            .as_u64()
            .unwrap_or(900);
        let h = u32::try_from(h).unwrap_or(max_height).min(max_height);
        self.set_window_size(width, h)?;
        self.screenshot(path)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The element reference of a WebDriver element value.
fn element_id(v: &Value) -> Option<String> {
    v.get("element-6066-11e4-a52e-4f735466cecf")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Whether `raw` holds a whole HTTP/1.1 answer.
fn answer_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("content-length:") {
            return v.trim().parse::<usize>().is_ok_and(|n| body.len() >= n);
        }
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

/// The body of a chunked HTTP/1.1 answer.
fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&s[..eol]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let rest = &s[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}
