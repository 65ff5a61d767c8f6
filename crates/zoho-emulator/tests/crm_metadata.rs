//! CRM metadata over real HTTP: fields, modules, users, org, currencies.

#![allow(dead_code)] // the shared helper has methods some files do not use

use serde_json::{json, Value};
use zoho_emulator::{testkit, Emulator, EmulatorConfig};

struct Crm {
    emu: Emulator,
    http: reqwest::Client,
    auth: String,
}

impl Crm {
    async fn start(config: EmulatorConfig) -> Crm {
        let emu = Emulator::start(config, 0).await.unwrap();
        let http = reqwest::Client::new();
        let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
        Crm { emu, http, auth: testkit::auth_header(&token) }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
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
    async fn relogin(&mut self) {
        let (_, token) = testkit::login(&self.http, &self.emu.url()).await.unwrap();
        self.auth = testkit::auth_header(&token);
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None, &[]).await
    }

    async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, Some(&body.to_string()), &[]).await
    }

    /// Inserts `n` accounts in batches of 100.
    async fn accounts(&self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for start in (0..n).step_by(100) {
            let batch: Vec<Value> =
                (start..n.min(start + 100)).map(|i| json!({"Account_Name": format!("Account {i:05}")})).collect();
            let (status, body) = self.send("POST", "/Accounts", json!({"data": batch})).await;
            assert_eq!(status, 201, "{body}");
            ids.extend(body["data"].as_array().unwrap().iter().map(|e| e["details"]["id"].as_str().unwrap().to_string()));
        }
        ids
    }
}
#[tokio::test]
async fn fields_include_custom_fields_and_picklist_values() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (status, body) = crm.get("/settings/fields?module=Deals").await;
    assert_eq!(status, 200);
    let fields = body["fields"].as_array().unwrap();
    let find = |n: &str| fields.iter().find(|f| f["api_name"] == n).cloned().unwrap_or(Value::Null);
    let stage = find("Stage");
    assert_eq!(stage["data_type"], "picklist");
    let values: Vec<&str> = stage["pick_list_values"].as_array().unwrap().iter().map(|v| v["actual_value"].as_str().unwrap()).collect();
    assert!(values.contains(&"Closed Won"));
    assert_eq!(find("Books_Invoice_ID")["custom_field"], true);
    assert_eq!(find("Account_Name")["lookup"]["module"]["api_name"], "Accounts");
    assert_eq!(find("Deal_Name")["system_mandatory"], true);
    let (_, body) = crm.get("/settings/fields?module=Quotes").await;
    assert!(body["fields"].as_array().unwrap().iter().any(|f| f["api_name"] == "Quoted_Items" && f["data_type"] == "subform"));
    let (status, body) = crm.get("/settings/fields?module=Bogus").await;
    assert_eq!((status, body["code"].clone()), (400, json!("INVALID_MODULE")));
    let (status, body) = crm.get("/settings/fields").await;
    assert_eq!((status, body["code"].clone()), (400, json!("REQUIRED_PARAM_MISSING")));
}

#[tokio::test]
async fn modules_users_org_and_currencies() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (_, body) = crm.get("/settings/modules").await;
    let names: Vec<&str> = body["modules"].as_array().unwrap().iter().map(|m| m["api_name"].as_str().unwrap()).collect();
    for m in ["Deals", "Accounts", "Contacts", "Products", "Quotes", "Tasks", "Price_Books"] {
        assert!(names.contains(&m), "{m}");
    }
    let (_, body) = crm.get("/users?type=CurrentUser").await;
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    assert!(body["users"][0]["email"].as_str().unwrap().contains('@'));
    let (_, body) = crm.get("/users?type=ActiveUsers").await;
    assert!(body["users"].as_array().unwrap().len() >= 3);
    let (_, body) = crm.get("/org").await;
    assert_eq!(body["org"][0]["iso_code"], "USD");
    assert_eq!(body["org"][0]["mc_status"], true);
    let (_, body) = crm.get("/org/currencies").await;
    let isos: Vec<&str> = body["currencies"].as_array().unwrap().iter().map(|c| c["iso_code"].as_str().unwrap()).collect();
    for iso in ["USD", "EUR", "GBP", "INR", "JPY", "KWD"] {
        assert!(isos.contains(&iso), "{iso}");
    }
    let (status, body) = crm.get("/no/such/path/at/all").await;
    assert_eq!((status, body["code"].clone()), (404, json!("INVALID_URL_PATTERN")));
}
