//! A headless Chromium driven through chromedriver's W3C WebDriver HTTP API, with
//! reqwest: enough to log in, click, read a page's text and take screenshots.
//!
//! [`Browser::start`] answers `None` when Debian's `chromium` or `chromium-driver` is
//! missing, after saying so loudly, unless `ZOHO_BRIDGE_TEST_CHROMIUM=required` (CI),
//! when it fails.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    shots: PathBuf,
    _profile: super::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium the size of a phone; screenshots go
    /// to `shots`. `None` (after a loud message) when Chromium is not installed and not
    /// required.
    pub async fn start(shots: &Path) -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
        if !missing.is_empty() {
            let message = format!("{} missing: install Debian's chromium and chromium-driver (.ci/run does)", missing.join(" and "));
            if std::env::var("ZOHO_BRIDGE_TEST_CHROMIUM").as_deref() == Ok("required") {
                panic!("ZOHO_BRIDGE_TEST_CHROMIUM=required but {message}");
            }
            eprintln!("\n!!!!!!!!!! SKIPPED: the Chromium end-to-end test did not run: {message} !!!!!!!!!!\n");
            return None;
        }
        std::fs::create_dir_all(shots).expect("screenshot directory");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn chromedriver");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(r) => r.json::<Value>().await.ok().is_some_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "chromedriver not ready after 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = super::TempDir::new("chromium-profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=412,915",
                         format!("--user-data-dir={}", profile.0.display())],
            }
        }}});
        let answer: Value = http.post(format!("{base}/session")).json(&capabilities).send().await.expect("new session").json().await.expect("json");
        let session = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {answer}")).to_string();
        Some(Browser { driver, http, base, session, shots: shots.to_path_buf(), _profile: profile })
    }

    /// A WebDriver command; its `value`, or the error WebDriver answered.
    async fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}")).json().await.expect("json");
        match answer["value"].get("error") {
            Some(_) => Err(answer["value"].clone()),
            None => Ok(answer["value"].clone()),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).await.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    /// Opens `url`.
    pub async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_string()
    }

    /// The element `css` selects (fails when none does).
    pub async fn find(&self, css: &str) -> String {
        self.find_by("css selector", css).await
    }

    /// The element `xpath` selects (fails when none does).
    pub async fn find_xpath(&self, xpath: &str) -> String {
        self.find_by("xpath", xpath).await
    }

    async fn find_by(&self, using: &str, value: &str) -> String {
        let found = self.call(reqwest::Method::POST, "/element", Some(json!({"using": using, "value": value}))).await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {value}: {found}")).to_string()
    }

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text}))).await;
    }

    /// Clicks an element.
    pub async fn click(&self, element: &str) {
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    /// The page's visible text, each run of blank space (line breaks between blocks)
    /// made one space.
    /// (Read in one script, with no element handle to go stale: a page being replaced
    /// after a click has no body for a moment, and is read again.)
    pub async fn text(&self) -> String {
        let script = json!({"script": "return document.readyState === 'complete' && document.body ? document.body.innerText : null;", "args": []});
        for _ in 0..100 {
            match self.try_call(reqwest::Method::POST, "/execute/sync", Some(script.clone())).await {
                Ok(Value::String(text)) => return text.split_whitespace().collect::<Vec<_>>().join(" "),
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                // The document went away under the script (a navigation): read it again.
                Err(e) if e["error"] == "javascript error" || e["error"] == "unknown error" => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("WebDriver text: {e}"),
            }
        }
        panic!("the page kept changing while it was read")
    }

    /// Waits (at most 30 s, without reloading) for the page to show `want`, as after a
    /// click that loads another page; returns its text.
    pub async fn wait_for_text(&self, want: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(want) {
                return text;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the page never showed {want:?}; it shows:\n{text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot of the page as `<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().expect("base64")).expect("a PNG");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Reloads the page until its text contains `want` (at most 30 s); returns the text.
    pub async fn reload_until(&self, want: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(want) {
                return text;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the page never showed {want:?}; it shows:\n{text}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.call(reqwest::Method::POST, "/refresh", Some(json!({}))).await;
        }
    }
}
