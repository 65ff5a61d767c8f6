//! CRM metadata over real HTTP: fields, modules, users, org, currencies.

use serde_json::{Value, json};
use zoho_emulator::EmulatorConfig;

#[path = "support/crm.rs"]
mod crm;
use crm::Crm;
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
