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

#[tokio::test]
async fn users_are_paged_and_honour_if_modified_since() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (_, all) = crm.get("/users").await;
    let n = all["users"].as_array().unwrap().len();
    assert!(n >= 3);
    assert_eq!(all["info"], json!({"per_page": 200, "count": n, "page": 1, "more_records": false}));
    let (_, first) = crm.get("/users?per_page=2").await;
    assert_eq!(first["info"], json!({"per_page": 2, "count": 2, "page": 1, "more_records": true}));
    let (_, last) = crm.get(&format!("/users?per_page=1&page={n}")).await;
    assert_eq!((last["users"][0]["id"].clone(), last["info"]["more_records"].clone()), (all["users"][n - 1]["id"].clone(), json!(false)));
    assert_eq!(crm.get(&format!("/users?per_page=1&page={}", n + 1)).await, (204, Value::Null));
    let id = all["users"][1]["id"].as_str().unwrap();
    let (_, one) = crm.get(&format!("/users?ids={id}")).await;
    assert_eq!(one["users"].as_array().unwrap().len(), 1);
    for bad in ["per_page=0", "per_page=201", "page=0", "page=x", "ids=abc", "type=Everyone"] {
        let (status, body) = crm.get(&format!("/users?{bad}")).await;
        assert_eq!((status, body["code"].clone()), (400, json!("INVALID_DATA")), "{bad}");
    }
    let since = |t: &'static str| [("If-Modified-Since", t)];
    assert_eq!(crm.call("GET", "/users", None, &since("2999-01-01T00:00:00+00:00")).await, (304, Value::Null));
    assert_eq!(crm.call("GET", "/users", None, &since("2000-01-01T00:00:00+00:00")).await.0, 200);
    assert_eq!(crm.call("GET", "/users", None, &since("last week")).await.1["code"], "INVALID_DATA");
}

#[tokio::test]
async fn one_module_and_its_related_lists() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (status, body) = crm.get("/settings/modules/Deals").await;
    assert_eq!(status, 200);
    let module = &body["modules"][0];
    assert_eq!((module["api_name"].clone(), body["modules"].as_array().unwrap().len()), (json!("Deals"), 1));
    assert!(module["fields"].as_array().unwrap().iter().any(|f| f["api_name"] == "Stage"));
    let (_, by_id) = crm.get(&format!("/settings/modules/{}", module["id"].as_str().unwrap())).await;
    assert_eq!(by_id["modules"][0]["api_name"], "Deals");
    assert_eq!(crm.get("/settings/modules/Nope").await.1["code"], "INVALID_MODULE");
    let (_, lists) = crm.get("/settings/related_lists?module=Accounts").await;
    let names: Vec<&str> = lists["related_lists"].as_array().unwrap().iter().map(|l| l["api_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Contacts", "Deals", "Quotes"]);
    assert_eq!(lists["related_lists"][0]["href"], "Accounts/{ENTITYID}/Contacts");
    assert_eq!(module["related_lists"].as_array().unwrap().len(), 3, "Deals: contact roles, products, quotes");
    assert_eq!(crm.get("/settings/related_lists?module=Tasks").await, (204, Value::Null));
    let (_, bad) = crm.get("/settings/related_lists?module=Nope").await;
    assert_eq!((bad["code"].clone(), bad["details"].clone()), (json!("INVALID_MODULE"), json!({"param": "module"})));
    let (_, bad) = crm.get("/settings/fields?module=").await;
    assert_eq!((bad["code"].clone(), bad["details"].clone()), (json!("INVALID_MODULE"), json!({"api_name": "module"})));
    let (_, currencies) = crm.get("/org/currencies").await;
    let usd = currencies["currencies"].as_array().unwrap().iter().find(|c| c["iso_code"] == "USD").unwrap();
    assert_eq!(usd["exchange_rate"], "1.000000000");
    let (_, modules) = crm.get("/settings/modules").await;
    let view = &modules["modules"][0]["custom_view"];
    assert!(view["id"].as_str().unwrap().parse::<u64>().is_ok() && view["sort_by"]["id"].as_str().unwrap().parse::<u64>().is_ok());
}
