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
