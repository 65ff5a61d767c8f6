//! Shared helpers for the Books tests: a started emulator, a token and request shortcuts.
#![allow(dead_code)]

use serde_json::Value;
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

/// A running emulator with a logged-in client.
pub struct Books {
    pub emu: Emulator,
    pub http: reqwest::Client,
    pub org: String,
    pub token: String,
}

impl Books {
    pub async fn start() -> Books {
        let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
        let http = reqwest::Client::new();
        let (creds, token) = testkit::login(&http, &emu.url()).await.unwrap();
        Books { emu, http, org: creds.organization_id, token }
    }

    /// `{base}/books/v3{path}` with `organization_id` appended.
    pub fn url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}/books/v3{path}{sep}organization_id={}", self.emu.url(), self.org)
    }

    pub fn req(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        self.http.request(method, url).header("Authorization", testkit::auth_header(&self.token))
    }

    pub async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        Self::send(self.req(reqwest::Method::GET, self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        Self::send(self.req(reqwest::Method::POST, self.url(path)).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        Self::send(self.req(reqwest::Method::PUT, self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        Self::send(self.req(reqwest::Method::DELETE, self.url(path))).await
    }

    /// The id of the currency with `code`.
    pub async fn currency(&self, code: &str) -> String {
        let (_, b) = self.get("/settings/currencies").await;
        b["currencies"].as_array().unwrap().iter().find(|c| c["currency_code"] == code).unwrap()["currency_id"].as_str().unwrap().to_string()
    }

    /// The id of the tax named `name` (taxes and groups).
    pub async fn tax(&self, name: &str) -> String {
        let (_, b) = self.get("/settings/taxes").await;
        b["taxes"].as_array().unwrap().iter().find(|t| t["tax_name"] == name).unwrap()["tax_id"].as_str().unwrap().to_string()
    }

    /// Creates a customer and returns its id.
    pub async fn customer(&self, name: &str, currency: Option<&str>) -> String {
        let mut body = serde_json::json!({"contact_name": name, "payment_terms": 30});
        if let Some(code) = currency {
            body["currency_id"] = self.currency(code).await.into();
        }
        let (s, b) = self.post("/contacts", body).await;
        assert_eq!(s, 201, "{b}");
        b["contact"]["contact_id"].as_str().unwrap().to_string()
    }
}
