//! What the binary's tests share: a temporary directory that cleans up after itself.

#![allow(dead_code)] // each test file uses what it needs

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
