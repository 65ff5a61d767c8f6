//! What the binary's tests share: a temporary directory that cleans up after itself, and
//! a headless Chromium for the dashboard ([`webdriver`]).

#![allow(dead_code)] // each test file uses what it needs

pub mod webdriver;

use std::path::PathBuf;

/// A temporary directory, removed on drop (also when the test fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after `tag`, the process and the time.
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("zb-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the `zoho-bridge` binary with `args` (quiet logs) and waits for it.
pub fn run_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zoho-bridge")).args(args).env("RUST_LOG", "error").output().expect("run zoho-bridge")
}

/// The JSON lines a successful command printed on stdout (fails the test, with its
/// stderr, if it did not succeed).
pub fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// A child process, killed if the test fails before it is stopped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `zoho-bridge serve` running from a config file.
pub struct Serving {
    /// The process.
    pub child: Running,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    /// The rest of its standard output, after the `serving on` line.
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Serving {
    /// Starts `zoho-bridge serve --config config` with `RUST_LOG=rust_log` and waits for
    /// its `serving on` line.
    pub fn start(config: &std::path::Path, rust_log: &str) -> Serving {
        use std::io::BufRead;
        let mut child = Running(
            std::process::Command::new(env!("CARGO_BIN_EXE_zoho-bridge"))
                .args(["serve", "--config"])
                .arg(config)
                .env("RUST_LOG", rust_log)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .expect("spawn zoho-bridge serve"),
        );
        let mut stdout = std::io::BufReader::new(child.0.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
        Serving { child, base, stdout }
    }

    /// Stops it with SIGTERM and returns how it exited and the rest of its output.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.0.id().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
        let status = self.child.0.wait().expect("wait");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).expect("read");
        (status, rest)
    }
}

/// A Zoho client on `emulator`'s seeded credentials, with no budget of its own (the
/// test's calls must not hold up the process under test).
pub async fn zoho_client(emulator: &zoho_emulator::Emulator) -> zoho::Client {
    let connection = zoho::Connection::from_emulator(&emulator.url()).await.expect("credentials");
    zoho::Client::builder(connection).budget(zoho::BudgetConfig::unlimited()).budget_registry(zoho::BudgetRegistry::new()).build().expect("client")
}

/// Waits up to 30 s for `probe` to give something (checked every 100 ms); fails naming
/// `what` otherwise.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "waited 30 s for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A config file for `serve` in `dir` on `store` against `emulator`: a listener on a free
/// port, a worker polling every 50 ms, the CRM workflow secret `wf-secret`, then `rest`
/// (routes and whatever else the test needs).
pub fn serve_config(dir: &TempDir, store: &str, emulator: &zoho_emulator::Emulator, rest: &str) -> PathBuf {
    dir.file(
        "zoho-bridge.toml",
        &format!(
            "store = \"{store}\"\nlisten = \"127.0.0.1:0\"\n\n[zoho]\nemulator = \"{}\"\n\n[worker]\npoll_ms = 50\n\n[webhooks]\ncrm_workflow_secret = \"wf-secret\"\n{rest}",
            emulator.url()
        ),
    )
}

/// Inserts one CRM record with no workflow triggers; its id (fails the test if CRM
/// refused it).
pub async fn crm_insert(client: &zoho::Client, module: &str, fields: serde_json::Value) -> String {
    let r = client.crm().insert(module, &[fields], &zoho::crm::records::WriteOptions::no_triggers()).await.expect("insert");
    assert!(r[0].is_success(), "{r:?}");
    r[0].id().expect("id").to_string()
}
