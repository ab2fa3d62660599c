//! Headless Chromium (Debian's `chromium`) for tests of the status page,
//! driven over the DevTools protocol: open a page at a given size, wait
//! until a script condition holds (the event stream is live), read the
//! DOM, take a full-page screenshot. (`--dump-dom` with
//! `--virtual-time-budget` never returns while an event stream is open:
//! virtual time stops while a fetch is pending.) Each browser has its own
//! profile directory and is killed when dropped.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::compose::required;
use super::wait_until;

/// The `chromium` binary is there.
pub fn chromium_available() -> bool {
    let ok = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    required(ok, "chromium (the Debian package)")
}

/// A headless Chromium with its DevTools port open on loopback.
pub struct Browser {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium and waits for its DevTools port.
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().expect("temp dir");
        let child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium must be installed (make deps installs it)");
        // Chromium writes the port it chose into the profile directory.
        let file = profile.path().join("DevToolsActivePort");
        let mut port = 0;
        wait_until(Duration::from_secs(30), "Chromium's DevTools port", || {
            port = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.lines().next()?.trim().parse().ok())
                .unwrap_or(0);
            port != 0
        });
        Browser {
            child,
            port,
            _profile: profile,
        }
    }

    /// A new tab of `width` x `height` CSS pixels (a phone's emulation
    /// below 600) showing `url`.
    pub fn open(&self, url: &str, width: u32, height: u32) -> Page {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let body = agent
            .put(&format!("http://127.0.0.1:{}/json/new", self.port))
            .send_empty()
            .expect("open a tab")
            .body_mut()
            .read_to_string()
            .expect("the tab's description");
        let target: Value = serde_json::from_str(&body).expect("the tab's JSON");
        let ws = target["webSocketDebuggerUrl"]
            .as_str()
            .expect("the tab's DevTools URL")
            .to_string();
        let (socket, _) = tungstenite::connect(ws).expect("connect to the tab");
        if let MaybeTlsStream::Plain(s) = socket.get_ref() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        }
        let mut page = Page { socket, next: 0 };
        page.size(width, height);
        page.call("Page.enable", json!({}));
        page.call("Page.navigate", json!({ "url": url }));
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
pub struct Page {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
}

impl Page {
    /// Sends a DevTools command and returns its result (events that
    /// arrive meanwhile are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(msg.to_string()))
            .expect("send a DevTools command");
        loop {
            let m = self.socket.read().expect("a DevTools message");
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// Evaluates `js` in the page and returns its value.
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": js, "returnByValue": true }),
        );
        assert!(
            r["exceptionDetails"].is_null(),
            "{js}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Polls `js` until it is true, failing after `timeout`. A condition
    /// that throws (the page is still navigating) counts as false.
    pub fn wait_for(&mut self, js: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let guarded =
            format!("(() => {{ try {{ return !!({js}); }} catch (e) {{ return false; }} }})()");
        while self.eval(&guarded) != Value::Bool(true) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {js}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The DOM, serialised.
    pub fn dom(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Writes a PNG of the whole page (its full height) to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let width = self
            .eval("document.documentElement.clientWidth")
            .as_u64()
            .unwrap_or(800);
        let height = self
            .eval("document.documentElement.scrollHeight")
            .as_u64()
            .unwrap_or(600);
        self.size(width as u32, height as u32);
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap_or_default())
            .expect("base64 PNG");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "a real PNG"
        );
        std::fs::write(path, png).expect("write the screenshot");
    }

    fn size(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        );
    }
}

/// The text inside the first element at or after `marker` (an attribute
/// such as `data-k="desired"`), nested tags stripped and the entities
/// the page escapes decoded; `None` when `marker` is absent.
pub fn text_at(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)?;
    let rest = &html[start..];
    let open = rest.find('>')?;
    let mut out = String::new();
    let mut chars = rest[open + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' {
            if chars.peek() == Some(&'/') {
                break;
            }
            for c in chars.by_ref() {
                if c == '>' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    Some(
        out.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}
