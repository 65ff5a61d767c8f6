//! A small CRM v8 client for the emulator's CRM tests: start an emulator, log in, and
//! send requests with the access token, as a user of the real API would.
//!
//! Included with `#[path = "support/crm.rs"] mod crm;` by the CRM test files.

#![allow(dead_code)] // not every test file uses every method

use serde_json::{Value, json};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

/// A running emulator and a logged-in HTTP client for its CRM.
pub struct Crm {
    pub emu: Emulator,
    pub http: reqwest::Client,
    pub auth: String,
}

impl Crm {
    pub async fn start(config: EmulatorConfig) -> Crm {
        let emu = Emulator::start(config, 0).await.unwrap();
        let http = reqwest::Client::new();
        let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
        Crm { emu, http, auth: testkit::auth_header(&token) }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}/crm/v8{path}", self.emu.url());
        let mut req = self.http.request(method.parse().unwrap(), url).header("Authorization", &self.auth);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    /// Gets a fresh access token (after the clock jumped past the old one's expiry).
    pub async fn relogin(&mut self) {
        let (_, token) = testkit::login(&self.http, &self.emu.url()).await.unwrap();
        self.auth = testkit::auth_header(&token);
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, &[]).await
    }

    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, Some(&body.to_string()), &[]).await
    }

    /// Inserts `n` accounts in batches of 100.
    pub async fn accounts(&self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for start in (0..n).step_by(100) {
            let batch: Vec<Value> = (start..n.min(start + 100)).map(|i| json!({"Account_Name": format!("Account {i:05}")})).collect();
            let (status, body) = self.send("POST", "/Accounts", json!({"data": batch})).await;
            assert_eq!(status, 201, "{body}");
            ids.extend(body["data"].as_array().unwrap().iter().map(|e| e["details"]["id"].as_str().unwrap().to_string()));
        }
        ids
    }
}
