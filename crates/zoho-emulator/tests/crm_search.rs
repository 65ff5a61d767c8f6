//! CRM search over real HTTP: criteria, escaping, email/word, 204, limits, index lag.

#![allow(dead_code)] // the shared helper has methods some files do not use

use serde_json::{json, Value};
use zoho_emulator::{crm::criteria::escape, testkit, Emulator, EmulatorConfig};

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
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn criteria_with_special_characters_round_trip() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let names = ["Smith (UK)", "A, B and C", r"back\slash", "O'Brien \"Ltd\"", r"trailing\"];
    for n in names {
        let (status, _) = crm.send("POST", "/Accounts", json!({"data": [{"Account_Name": n}]})).await;
        assert_eq!(status, 201);
    }
    for n in names {
        let criteria = format!("(Account_Name:equals:{})", escape(n));
        let (status, body) = crm.get(&format!("/Accounts/search?criteria={}", enc(&criteria))).await;
        assert_eq!(status, 200, "{n}: {body}");
        let found: Vec<&str> = body["data"].as_array().unwrap().iter().map(|r| r["Account_Name"].as_str().unwrap()).collect();
        assert!(found.contains(&n), "{n} not in {found:?}");
    }
}

#[tokio::test]
async fn operators_and_or_and_equals_as_contains() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let deals = json!({"data": [
        {"Deal_Name": "Alpha big", "Stage": "Closed Won", "Amount": 5000},
        {"Deal_Name": "Beta", "Stage": "Qualification", "Amount": 100},
        {"Deal_Name": "Alpha small", "Stage": "Closed Lost", "Amount": 50}]});
    crm.send("POST", "/Deals", deals).await;
    let count = |body: &Value| body["data"].as_array().map_or(0, |a| a.len());
    let cases = [
        ("(Deal_Name:equals:alpha)", 2),
        ("(Stage:equals:Won)", 0),
        ("(Stage:equals:Closed Won)", 1),
        ("((Deal_Name:starts_with:Alpha) and (Amount:greater_than:100))", 1),
        ("((Stage:equals:Closed Won) or (Stage:equals:Qualification))", 2),
        ("(Stage:in:Closed Won,Closed Lost)", 2),
        ("(Amount:between:50,100)", 2),
        ("(Amount:less_equal:50)", 1),
        ("(Stage:not_equal:Closed Won)", 2),
    ];
    for (criteria, n) in cases {
        let (status, body) = crm.get(&format!("/Deals/search?criteria={}", enc(criteria))).await;
        if n == 0 {
            assert_eq!((status, body), (204, Value::Null), "{criteria}");
        } else {
            assert_eq!(status, 200, "{criteria}");
            assert_eq!(count(&body), n, "{criteria}");
            assert_eq!(body["info"]["count"], n);
        }
    }
}

#[tokio::test]
async fn search_errors_are_zohos() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (status, body) = crm.get("/Deals/search").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "EXPECTED_PARAM_MISSING");
    assert!(body["details"]["param_names"].is_array());
    let (status, body) = crm.get(&format!("/Deals/search?criteria={}", enc("(Deal_Name:equals:x"))).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "INVALID_QUERY");
    let (_, body) = crm.get(&format!("/Deals/search?criteria={}", enc("(Nope:equals:x)"))).await;
    assert_eq!(body["code"], "INVALID_QUERY");
    assert_eq!(body["details"]["api_name"], "Nope");
    let eleven = (0..11).map(|_| "(Deal_Name:equals:x)").collect::<Vec<_>>().join(" or ");
    let (status, body) = crm.get(&format!("/Deals/search?criteria={}", enc(&format!("({eleven})")))).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "CRITERIA_LIMIT_EXCEEDED");
    let (status, body) = crm.get("/Deals/search?word=xy&page=11&per_page=200").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "LIMIT_REACHED");
    assert_eq!(body["details"]["limit"], "2000");
}

#[tokio::test]
async fn email_and_word_search_and_criteria_wins_over_them() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    crm.send("POST", "/Contacts", json!({"data": [{"Last_Name": "Doe", "Email": "jane@zylker.com"},
        {"Last_Name": "Roe", "Email": "rick@acme.com"}]})).await;
    let (_, body) = crm.get("/Contacts/search?email=zylker").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (_, body) = crm.get("/Contacts/search?word=roe&fields=Last_Name").await;
    assert_eq!(body["data"][0]["Last_Name"], "Roe");
    assert!(body["data"][0].get("Email").is_none());
    let (_, body) = crm.get(&format!("/Contacts/search?email=zylker&criteria={}", enc("(Last_Name:equals:Roe)"))).await;
    assert_eq!(body["data"][0]["Last_Name"], "Roe");
}

#[tokio::test]
async fn fresh_writes_are_not_searchable_until_the_index_catches_up() {
    let config = EmulatorConfig { search_index_lag_ms: 30_000, ..EmulatorConfig::unlimited() };
    let crm = Crm::start(config).await;
    crm.send("POST", "/Accounts", json!({"data": [{"Account_Name": "Laggy"}]})).await;
    let (status, _) = crm.get("/Accounts/search?word=Laggy").await;
    assert_eq!(status, 204);
    crm.emu.state().clock.advance_ms(31_000);
    let (status, _) = crm.get("/Accounts/search?word=Laggy").await;
    assert_eq!(status, 200);
}
