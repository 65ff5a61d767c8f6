//! CRM search over real HTTP: criteria, escaping, email/word, 204, limits, index lag.

use serde_json::{Value, json};
use zoho_emulator::{EmulatorConfig, crm::criteria::escape};

#[path = "support/crm.rs"]
mod crm;
use crm::Crm;
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
    // approval_state is no criterion, and neither is an empty one; per_page is always checked.
    for query in ["approval_state=approved", "approval_state=webform_invalid", "email=", "criteria=&word=%20"] {
        let (status, body) = crm.get(&format!("/Deals/search?{query}")).await;
        assert_eq!((status, body["code"].clone()), (400, json!("EXPECTED_PARAM_MISSING")), "{query}");
    }
    for query in ["word=xy&per_page=0", "word=xy&per_page=201", "approval_state=webform_invalid&word=xy&per_page=x", "word=xy&page=0"] {
        let (status, body) = crm.get(&format!("/Deals/search?{query}")).await;
        assert_eq!((status, body["code"].clone()), (400, json!("INVALID_REQUEST")), "{query}");
    }
    let (status, body) = crm.get("/Deals/search?word=xy&page=11&per_page=200").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "LIMIT_REACHED");
    assert_eq!(body["details"]["limit"], "2000");
}

#[tokio::test]
async fn email_and_word_search_and_criteria_wins_over_them() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    crm.send(
        "POST",
        "/Contacts",
        json!({"data": [{"Last_Name": "Doe", "Email": "jane@zylker.com"},
        {"Last_Name": "Roe", "Email": "rick@acme.com"}]}),
    )
    .await;
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
