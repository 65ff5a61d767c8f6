//! CRM records over real HTTP: lists, paging, writes, errors, deletes, quotes.

use serde_json::{Value, json};
use zoho_emulator::EmulatorConfig;

#[path = "support/crm.rs"]
mod crm;
use crm::Crm;

#[tokio::test]
async fn insert_returns_zohos_entry_and_get_returns_the_record() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (status, body) = crm.send("POST", "/Accounts", json!({"data": [{"Account_Name": "Zylker", "Unknown_Field": 1}]})).await;
    assert_eq!(status, 201);
    let entry = &body["data"][0];
    assert_eq!(entry["code"], "SUCCESS");
    assert_eq!(entry["message"], "record added");
    assert_eq!(entry["status"], "success");
    let d = &entry["details"];
    for k in ["id", "Created_Time", "Modified_Time", "Created_By", "Modified_By", "$approval_state"] {
        assert!(!d[k].is_null(), "{k}");
    }
    let id = d["id"].as_str().unwrap();
    assert_eq!(id.len(), 19);
    let (status, got) = crm.get(&format!("/Accounts/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["data"][0]["Account_Name"], "Zylker");
    assert_eq!(got["data"][0]["Owner"]["id"], d["Created_By"]["id"]);
    assert!(got["data"][0].get("Unknown_Field").is_none(), "unknown fields are ignored");
}

#[tokio::test]
async fn list_requires_fields_and_limits_them() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (status, body) = crm.get("/Deals").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "REQUIRED_PARAM_MISSING");
    assert_eq!(body["details"]["param_name"], "fields");
    let many = (0..51).map(|i| format!("F{i}")).collect::<Vec<_>>().join(",");
    let (status, body) = crm.get(&format!("/Deals?fields={many}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "LIMIT_EXCEEDED");
    assert_eq!(body["details"]["limit"], 50);
    let (status, body) = crm.get("/Deals?fields=Deal_Name").await;
    assert_eq!((status, body), (204, Value::Null), "empty module answers 204 with no body");
    let (status, body) = crm.get("/Nope?fields=a").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "INVALID_MODULE");
}

#[tokio::test]
async fn a_250_record_list_pages_to_the_end_with_only_requested_fields() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let ids = crm.accounts(250).await;
    let mut seen = Vec::new();
    for page in 1.. {
        let (status, body) = crm.get(&format!("/Accounts?fields=Account_Name&per_page=100&page={page}&sort_order=asc")).await;
        assert_eq!(status, 200);
        let info = &body["info"];
        assert_eq!(info["page"], page);
        assert_eq!(info["per_page"], 100);
        assert_eq!(info["sort_by"], "id");
        for r in body["data"].as_array().unwrap() {
            let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["id", "Account_Name"]);
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        assert_eq!(info["count"], body["data"].as_array().unwrap().len());
        if !info["more_records"].as_bool().unwrap() {
            break;
        }
        assert!(info["next_page_token"].is_string());
    }
    assert_eq!(seen, ids);
    let (status, _) = crm.get("/Accounts?fields=Account_Name&per_page=100&page=4").await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn past_2000_records_only_page_tokens_work() {
    let mut crm = Crm::start(EmulatorConfig::unlimited()).await;
    let ids = crm.accounts(2100).await;
    let (status, body) = crm.get("/Accounts?fields=Account_Name&per_page=200&page=11").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "DISCRETE_PAGINATION_LIMIT_EXCEEDED");
    assert_eq!(body["details"]["limit"], 2000);

    let base = "/Accounts?fields=Account_Name&per_page=200&sort_by=id&sort_order=asc";
    let (_, mut body) = crm.get(&format!("{base}&page=10")).await;
    let mut seen: Vec<String> = body["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().into()).collect();
    let first_token = body["info"]["next_page_token"].as_str().unwrap().to_string();
    assert!(body["info"]["page_token_expiry"].is_string());
    while body["info"]["more_records"] == true {
        let token = body["info"]["next_page_token"].as_str().unwrap();
        let (status, next) = crm.get(&format!("{base}&page_token={token}")).await;
        assert_eq!(status, 200, "{next}");
        seen.extend(next["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        body = next;
    }
    assert_eq!(seen, ids[1800..].to_vec());

    let (status, body) = crm.get(&format!("/Accounts?fields=Phone&per_page=200&sort_order=asc&page_token={first_token}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "TOKEN_BOUND_DATA_MISMATCH");
    crm.emu.state().clock.advance_ms(2 * 86_400_000);
    crm.relogin().await;
    let (status, body) = crm.get(&format!("{base}&page_token={first_token}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "EXPIRED_VALUE");
    assert_eq!(body["details"]["api_name"], "page_token");
}

#[tokio::test]
async fn if_modified_since_filters_and_answers_304() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let ids = crm.accounts(3).await;
    crm.emu.state().clock.advance_ms(10_000);
    let since = crm.emu.state().clock.crm_datetime(crm.emu.state().clock.now());
    let h = [("If-Modified-Since", since.as_str())];
    let (status, body) = crm.call("GET", "/Accounts?fields=Account_Name", None, &h).await;
    assert_eq!((status, body), (304, Value::Null));
    let (status, _) = crm.call("GET", &format!("/Accounts/{}", ids[0]), None, &h).await;
    assert_eq!(status, 304);
    crm.emu.state().clock.advance_ms(5_000);
    crm.send("PUT", &format!("/Accounts/{}", ids[1]), json!({"data": [{"Phone": "123"}]})).await;
    let (status, body) = crm.call("GET", "/Accounts?fields=Phone&sort_by=Modified_Time", None, &h).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["id"], ids[1].as_str());
    assert_eq!(body["info"]["sort_by"], "Modified_Time");
}

#[tokio::test]
async fn bad_inputs_get_zohos_errors_never_a_500() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (status, body) = crm.call("POST", "/Deals", Some("{not json"), &[]).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "INVALID_DATA");
    assert_eq!(body["message"], "body");

    let too_many: Vec<Value> = (0..101).map(|i| json!({"Account_Name": format!("A{i}")})).collect();
    let (status, body) = crm.send("POST", "/Accounts", json!({"data": too_many})).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "LIMIT_EXCEEDED");
    assert_eq!(body["details"]["limit"], 100);

    let (status, body) = crm
        .send(
            "POST",
            "/Deals",
            json!({"data": [{"Deal_Name": "x"}, {"Deal_Name": "y", "Stage": "Qualification", "Amount": "lots"},
            {"Deal_Name": "z", "Stage": "Qualification", "Account_Name": {"id": "5725767000000999999"}}]}),
        )
        .await;
    assert_eq!(status, 400, "all failed: {body}");
    let d = &body["data"];
    assert_eq!(d[0]["code"], "MANDATORY_NOT_FOUND");
    assert_eq!(d[0]["message"], "required field not found");
    assert_eq!(d[0]["details"], json!({"api_name": "Stage", "json_path": "$.data[0].Stage"}));
    assert_eq!(d[1]["code"], "INVALID_DATA");
    assert_eq!(d[1]["details"]["expected_data_type"], "double");
    assert_eq!(d[1]["details"]["json_path"], "$.data[1].Amount");
    assert_eq!(d[2]["code"], "INVALID_DATA");
    assert_eq!(d[2]["details"]["api_name"], "Account_Name");

    let (status, body) = crm.get("/Deals/5725767000000999999").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "INVALID_DATA");
    let (status, body) = crm.get("/Deals/not-an-id").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "INVALID_DATA");
    let (status, body) = crm.send("PUT", "/Deals", json!({"data": [{"Deal_Name": "no id"}]})).await;
    assert_eq!(status, 400);
    assert_eq!(body["data"][0]["code"], "MANDATORY_NOT_FOUND");
    assert_eq!(body["data"][0]["details"]["api_name"], "id");
    let (status, body) = crm.get("/Deals?fields=Deal_Name&per_page=500").await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "INVALID_DATA");
    let (status, body) = crm.call("PATCH", "/Deals", Some("{}"), &[]).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "INVALID_REQUEST_METHOD");
}

#[tokio::test]
async fn mixed_writes_answer_207_and_duplicates_name_the_existing_record() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let ids = crm.accounts(1).await;
    let (status, body) = crm.send("POST", "/Accounts", json!({"data": [{"Account_Name": "fresh"}, {"Account_Name": "ACCOUNT 00000"}]})).await;
    assert_eq!(status, 207);
    assert_eq!(body["data"][0]["status"], "success");
    let dup = &body["data"][1];
    assert_eq!(dup["code"], "DUPLICATE_DATA");
    assert_eq!(dup["message"], "duplicate data");
    assert_eq!(dup["details"]["api_name"], "Account_Name");
    assert_eq!(dup["details"]["duplicate_record"]["id"], ids[0].as_str());
}

#[tokio::test]
async fn updates_advance_modified_time_and_honour_if_unmodified_since() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let ids = crm.accounts(1).await;
    let (_, before) = crm.get(&format!("/Accounts/{}", ids[0])).await;
    let stamp = before["data"][0]["Modified_Time"].as_str().unwrap().to_string();
    crm.emu.state().clock.advance_ms(60_000);
    let (status, body) = crm.send("PUT", "/Accounts", json!({"data": [{"id": ids[0], "Phone": "+1"}]})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["message"], "record updated");
    assert_ne!(body["data"][0]["details"]["Modified_Time"].as_str().unwrap(), stamp);
    assert_eq!(body["data"][0]["details"]["Created_Time"], before["data"][0]["Created_Time"]);

    let h = [("If-Unmodified-Since", stamp.as_str())];
    let (status, body) = crm.call("PUT", &format!("/Accounts/{}", ids[0]), Some(&json!({"data": [{"Phone": "+2"}]}).to_string()), &h).await;
    assert_eq!(status, 412);
    assert_eq!(body["data"][0]["code"], "ALREADY_MODIFIED");
    assert_eq!(body["data"][0]["details"]["id"], ids[0].as_str());
}

#[tokio::test]
async fn upsert_finds_the_duplicate_and_reports_action() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (_, body) = crm.send("POST", "/Contacts", json!({"data": [{"Last_Name": "Doe", "Email": "jd@example.com"}]})).await;
    let id = body["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (status, body) = crm
        .send(
            "POST",
            "/Contacts/upsert",
            json!({"data": [{"Last_Name": "Doe2", "Email": "JD@example.com"},
            {"Last_Name": "New", "Email": "new@example.com"}], "duplicate_check_fields": ["Email"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d[0]["action"], "update");
    assert_eq!(d[0]["duplicate_field"], "Email");
    assert_eq!(d[0]["details"]["id"], id.as_str());
    assert_eq!(d[0]["message"], "record updated");
    assert_eq!(d[1]["action"], "insert");
    assert_eq!(d[1]["message"], "record added");
    let (_, got) = crm.get(&format!("/Contacts/{id}")).await;
    assert_eq!(got["data"][0]["Full_Name"], "Doe2");
}

#[tokio::test]
async fn deletes_are_listed_and_counted() {
    let mut crm = Crm::start(EmulatorConfig::unlimited()).await;
    let ids = crm.accounts(3).await;
    let (status, body) = crm.get("/Accounts/actions/count").await;
    assert_eq!((status, body), (200, json!({"count": "3"})));
    let (status, body) = crm.call("DELETE", &format!("/Accounts?ids={},{},123", ids[0], ids[1]), None, &[]).await;
    assert_eq!(status, 207);
    assert_eq!(body["data"][0], json!({"code": "SUCCESS", "details": {"id": ids[0]}, "message": "record deleted", "status": "success"}));
    assert_eq!(body["data"][2]["code"], "INVALID_DATA");
    let (status, _) = crm.call("DELETE", &format!("/Accounts/{}", ids[2]), None, &[]).await;
    assert_eq!(status, 200);
    let (status, body) = crm.get("/Accounts/deleted?type=recycle").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    assert_eq!(body["data"][0]["type"], "recycle");
    assert!(body["data"][0]["deleted_by"]["id"].is_string());
    let (status, _) = crm.get("/Accounts/deleted?type=permanent").await;
    assert_eq!(status, 204);
    crm.emu.state().clock.advance_ms(61 * 86_400_000);
    crm.relogin().await;
    let (_, body) = crm.get("/Accounts/deleted?type=permanent").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    let (_, body) = crm.get("/Accounts/actions/count").await;
    assert_eq!(body["count"], "0");
    let (status, _) = crm.get(&format!("/Accounts/{}", ids[0])).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn quotes_compute_line_and_total_amounts_and_merge_rows() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (_, p) = crm.send("POST", "/Products", json!({"data": [{"Product_Name": "Widget", "Product_Code": "W-1", "Unit_Price": 19.99}]})).await;
    let product = p["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (status, q) = crm
        .send(
            "POST",
            "/Quotes",
            json!({"data": [{"Subject": "Q1", "Discount": 5, "Adjustment": 1.5, "Quoted_Items": [
            {"Product_Name": {"id": product}, "Quantity": 3, "Discount": 5, "Line_Tax": [{"name": "VAT", "percentage": 8.25}]},
            {"Product_Name": {"id": product}, "Quantity": 1, "List_Price": 10}]}]}),
        )
        .await;
    assert_eq!(status, 201, "{q}");
    let id = q["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (_, got) = crm.get(&format!("/Quotes/{id}")).await;
    let quote = &got["data"][0];
    let rows = quote["Quoted_Items"].as_array().unwrap();
    assert_eq!(rows[0]["Total"], json!(59.97));
    assert_eq!(rows[0]["Total_After_Discount"], json!(54.97));
    assert_eq!(rows[0]["Tax"], json!(4.54));
    assert_eq!(rows[0]["Net_Total"], json!(59.51));
    assert_eq!(rows[0]["Product_Name"]["Product_Code"], "W-1");
    assert_eq!(quote["Sub_Total"], json!(64.97));
    assert_eq!(quote["Tax"], json!(4.54));
    assert_eq!(quote["Grand_Total"], json!(66.01));

    let first = rows[0]["id"].as_str().unwrap().to_string();
    let second = rows[1]["id"].as_str().unwrap().to_string();
    let (status, _) = crm
        .send(
            "PUT",
            &format!("/Quotes/{id}"),
            json!({"data": [{"Quoted_Items": [{"id": first, "_delete": null},
            {"id": second, "Quantity": 2}, {"Product_Name": {"id": product}}]}]}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, got) = crm.get(&format!("/Quotes/{id}")).await;
    let rows = got["data"][0]["Quoted_Items"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], second.as_str());
    assert_eq!(rows[0]["Total"], json!(20));
    assert_eq!(rows[1]["List_Price"], json!(19.99), "a new row takes the product's unit price");
    assert_eq!(got["data"][0]["Sub_Total"], json!(39.99));
    let (_, _) = crm.send("PUT", &format!("/Quotes/{id}"), json!({"data": [{"Quoted_Items": []}]})).await;
    let (_, got) = crm.get(&format!("/Quotes/{id}")).await;
    assert_eq!(got["data"][0]["Quoted_Items"], json!([]));
}

#[tokio::test]
async fn tasks_keep_se_module_and_lookups_are_name_and_id() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (_, d) = crm.send("POST", "/Deals", json!({"data": [{"Deal_Name": "Big", "Stage": "Closed Won", "Amount": 1000}]})).await;
    let deal = d["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (status, t) = crm.send("POST", "/Tasks", json!({"data": [{"Subject": "Call", "What_Id": {"id": deal}, "$se_module": "Deals"}]})).await;
    assert_eq!(status, 201, "{t}");
    let task = t["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (_, got) = crm.get(&format!("/Tasks/{task}")).await;
    assert_eq!(got["data"][0]["What_Id"], json!({"name": "Big", "id": deal}));
    assert_eq!(got["data"][0]["$se_module"], "Deals");
    let (_, got) = crm.get(&format!("/Deals/{deal}")).await;
    assert_eq!(got["data"][0]["Probability"], 100);
    assert_eq!(got["data"][0]["Currency"], "USD");
    let (status, t) = crm.send("POST", "/Tasks", json!({"data": [{"Subject": "x", "What_Id": {"id": deal}}]})).await;
    assert_eq!(status, 400);
    assert_eq!(t["data"][0]["details"]["api_name"], "$se_module");
}

#[tokio::test]
async fn seeded_data_is_deterministic_and_related_products_list() {
    let config = EmulatorConfig { seed_data: true, ..EmulatorConfig::unlimited() };
    let a = Crm::start(config.clone()).await;
    let b = Crm::start(config).await;
    let (_, x) = a.get("/Deals?fields=Deal_Name,Amount,Currency,Stage&sort_order=asc").await;
    let (_, y) = b.get("/Deals?fields=Deal_Name,Amount,Currency,Stage&sort_order=asc").await;
    assert_eq!(x["data"], y["data"]);
    assert_eq!(x["data"].as_array().unwrap().len(), 60);
    let deal = x["data"][0]["id"].as_str().unwrap();
    let (status, products) = a.get(&format!("/Deals/{deal}/Products")).await;
    assert_eq!(status, 200);
    assert!(products["data"][0]["quantity"].is_number());
    assert!(products["data"][0]["list_price"].is_number());
    let (_, books) = a.get("/Price_Books?fields=Price_Book_Name").await;
    let book = books["data"][0]["id"].as_str().unwrap();
    let (status, listed) = a.get(&format!("/Price_Books/{book}/Products?fields=Product_Name")).await;
    assert_eq!(status, 200);
    assert!(listed["data"][0]["list_price"].is_number());
    let (_, q) = a.get("/Quotes?fields=Subject,Grand_Total").await;
    assert_eq!(q["data"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn related_lists_follow_lookups_and_links_page_and_honour_if_modified_since() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let accounts = crm.accounts(2).await;
    let (acc, other) = (&accounts[0], &accounts[1]);
    let people: Vec<Value> = (0..3)
        .map(|i| json!({"Last_Name": format!("Member {i}"), "Email": format!("m{i}@example.com"), "Account_Name": {"id": if i == 2 { other } else { acc }}}))
        .collect();
    let (status, made) = crm.send("POST", "/Contacts", json!({"data": people})).await;
    assert_eq!(status, 201, "{made}");
    let contact = made["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (status, page) = crm.get(&format!("/Accounts/{acc}/Contacts?fields=Email&per_page=1")).await;
    assert_eq!(status, 200);
    assert_eq!(page["info"], json!({"per_page": 1, "count": 1, "page": 1, "more_records": true}));
    let (_, all) = crm.get(&format!("/Accounts/{acc}/Contacts?fields=Email,Account_Name")).await;
    let emails: Vec<&str> = all["data"].as_array().unwrap().iter().map(|c| c["Email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["m0@example.com", "m1@example.com"]);
    assert_eq!(all["data"][0]["Account_Name"]["id"], json!(acc));
    // Nothing changed since a later time: 304; an account with no deals: 204.
    let later = [("If-Modified-Since", "2999-01-01T00:00:00+00:00")];
    assert_eq!(crm.call("GET", &format!("/Accounts/{acc}/Contacts"), None, &later).await.0, 304);
    assert_eq!(crm.get(&format!("/Accounts/{acc}/Deals")).await, (204, Value::Null));
    // A deal of the account naming the contact: the account's deals, the deal's contact roles.
    let deal = json!({"data": [{"Deal_Name": "Linked", "Stage": "Qualification", "Account_Name": {"id": acc}, "Contact_Name": {"id": contact}}]});
    let (_, d) = crm.send("POST", "/Deals", deal).await;
    let deal = d["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (_, deals) = crm.get(&format!("/Accounts/{acc}/Deals?fields=Deal_Name")).await;
    assert_eq!(deals["data"][0]["id"], json!(deal));
    let (_, roles) = crm.get(&format!("/Deals/{deal}/Contact_Roles?fields=Email")).await;
    assert_eq!((roles["data"][0]["id"].clone(), roles["data"][0]["Email"].clone()), (json!(contact), json!("m0@example.com")));
    // A product in a price book is listed from both sides, with the book's price.
    let (_, p) = crm.send("POST", "/Products", json!({"data": [{"Product_Name": "Widget"}]})).await;
    let product = p["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (_, b) = crm.send("POST", "/Price_Books", json!({"data": [{"Price_Book_Name": "Retail"}]})).await;
    let book = b["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (status, _) = crm.send("PUT", &format!("/Price_Books/{book}/Products"), json!({"data": [{"id": product, "list_price": 7.5}]})).await;
    assert_eq!(status, 200);
    let (_, books) = crm.get(&format!("/Products/{product}/Price_Books?fields=Price_Book_Name")).await;
    assert_eq!((books["data"][0]["id"].clone(), books["data"][0]["list_price"].clone()), (json!(book), json!(7.5)));
    // A deal's product line carries its quantity, list price and discount (an amount, kept
    // exactly); a later write changes only what it names; a negative discount is refused
    // for that line alone; a price book's line has no discount.
    let line = json!({"data": [{"id": product, "quantity": 3, "list_price": 19.99, "Discount": 5.25}]});
    assert_eq!(crm.send("PUT", &format!("/Deals/{deal}/Products"), line).await.0, 200);
    let (_, lines) = crm.get(&format!("/Deals/{deal}/Products?fields=Product_Name")).await;
    assert_eq!(
        (lines["data"][0]["quantity"].clone(), lines["data"][0]["list_price"].clone(), lines["data"][0]["Discount"].clone()),
        (json!(3), json!(19.99), json!(5.25))
    );
    assert_eq!(crm.send("PUT", &format!("/Deals/{deal}/Products"), json!({"data": [{"id": product, "quantity": 4}]})).await.0, 200);
    let (_, lines) = crm.get(&format!("/Deals/{deal}/Products?fields=Product_Name")).await;
    assert_eq!((lines["data"][0]["quantity"].clone(), lines["data"][0]["Discount"].clone()), (json!(4), json!(5.25)));
    let (status, body) = crm.send("PUT", &format!("/Deals/{deal}/Products"), json!({"data": [{"id": product, "Discount": -1}]})).await;
    assert_eq!((status, body["data"][0]["code"].clone(), body["data"][0]["details"]["api_name"].clone()), (400, json!("INVALID_DATA"), json!("Discount")));
    let (_, lines) = crm.get(&format!("/Deals/{deal}/Products?fields=Product_Name")).await;
    assert_eq!(lines["data"][0]["Discount"], json!(5.25), "a refused line changes nothing");
    assert_eq!(crm.send("PUT", &format!("/Price_Books/{book}/Products"), json!({"data": [{"id": product, "Discount": 9}]})).await.0, 200);
    let (_, listed) = crm.get(&format!("/Price_Books/{book}/Products?fields=Product_Name")).await;
    assert_eq!(listed["data"][0].get("Discount"), None);
    // Lookup lists are not written through the related list; unknown lists and records are refused.
    let (status, body) = crm.send("PUT", &format!("/Accounts/{acc}/Contacts"), json!({"data": [{"id": contact}]})).await;
    assert_eq!((status, body["code"].clone()), (400, json!("INVALID_DATA")));
    let (status, body) = crm.get(&format!("/Accounts/{acc}/Nothing_Here")).await;
    assert_eq!((status, body["details"]["resource_path_index"].clone()), (400, json!(2)));
    let (status, body) = crm.get("/Accounts/1/Contacts").await;
    assert_eq!((status, body["code"].clone()), (400, json!("INVALID_DATA")));
}

#[tokio::test]
async fn a_quote_computes_every_line_and_its_totals_exactly() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (_, p) = crm.send("POST", "/Products", json!({"data": [{"Product_Name": "Desk", "Product_Code": "D-1", "Unit_Price": 249.99}]})).await;
    let product = p["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (status, q) = crm
        .send(
            "POST",
            "/Quotes",
            json!({"data": [{"Subject": "Office", "Discount": 20, "Adjustment": -0.45, "Quoted_Items": [
                {"Product_Name": {"id": product}, "Quantity": 4, "Discount": 49.96,
                 "Line_Tax": [{"name": "State", "percentage": 5}, {"name": "City", "percentage": 3.25}]},
                {"Product_Name": {"id": product}, "Quantity": 1, "List_Price": 10.05, "Line_Tax": [{"name": "State", "percentage": 5}]}
            ]}]}),
        )
        .await;
    assert_eq!(status, 201, "{q}");
    let id = q["data"][0]["details"]["id"].as_str().unwrap();
    let (_, got) = crm.get(&format!("/Quotes/{id}")).await;
    let quote = &got["data"][0];
    let rows = quote["Quoted_Items"].as_array().unwrap();
    // 4 × 249.99 = 999.96 − 49.96 = 950; State 47.50, City 30.875 → 30.88.
    assert_eq!((rows[0]["Total"].clone(), rows[0]["Total_After_Discount"].clone()), (json!(999.96), json!(950)));
    assert_eq!(rows[0]["Line_Tax"], json!([{"name": "State", "percentage": 5, "value": 47.5}, {"name": "City", "percentage": 3.25, "value": 30.88}]));
    assert_eq!((rows[0]["Tax"].clone(), rows[0]["Net_Total"].clone()), (json!(78.38), json!(1028.38)));
    // 10.05 × 5 % = 0.5025 → 0.50.
    assert_eq!((rows[1]["Tax"].clone(), rows[1]["Net_Total"].clone()), (json!(0.5), json!(10.55)));
    // Sub_Total 960.05, Tax 78.88, Grand_Total 960.05 − 20 + 78.88 − 0.45.
    assert_eq!(
        (quote["Sub_Total"].clone(), quote["Discount"].clone(), quote["Tax"].clone(), quote["Adjustment"].clone(), quote["Grand_Total"].clone()),
        (json!(960.05), json!(20), json!(78.88), json!(-0.45), json!(1018.48))
    );
}

#[tokio::test]
async fn tasks_link_to_deals_and_accounts_and_upsert_on_books_invoice_id() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let accounts = crm.accounts(1).await;
    let (_, d) = crm.send("POST", "/Deals", json!({"data": [{"Deal_Name": "Big", "Stage": "Closed Won"}]})).await;
    let deal = d["data"][0]["details"]["id"].as_str().unwrap().to_string();
    let (_, users) = crm.get("/users?type=ActiveUsers").await;
    let owner = users["users"].as_array().unwrap().last().unwrap()["id"].as_str().unwrap().to_string();
    let task = |subject: &str, status: &str| {
        json!({"Subject": subject, "Status": status, "Due_Date": "2030-01-31", "Books_Invoice_ID": "INV-7",
               "What_Id": {"id": deal}, "$se_module": "Deals", "Owner": {"id": owner}})
    };
    let (s, first) =
        crm.send("POST", "/Tasks/upsert", json!({"data": [task("Chase INV-7", "Not Started")], "duplicate_check_fields": ["Books_Invoice_ID"]})).await;
    assert_eq!((s, first["data"][0]["action"].as_str()), (201, Some("insert")), "{first}");
    let id = first["data"][0]["details"]["id"].as_str().unwrap().to_string();
    // The same invoice again updates that task: completed.
    let (s, second) =
        crm.send("POST", "/Tasks/upsert", json!({"data": [task("Chase INV-7", "Completed")], "duplicate_check_fields": ["Books_Invoice_ID"]})).await;
    assert_eq!(
        (s, second["data"][0]["action"].as_str(), second["data"][0]["duplicate_field"].as_str()),
        (200, Some("update"), Some("Books_Invoice_ID")),
        "{second}"
    );
    assert_eq!(second["data"][0]["details"]["id"], id.as_str());
    let (_, got) = crm.get(&format!("/Tasks/{id}")).await;
    let t = &got["data"][0];
    assert_eq!(
        (t["Status"].as_str(), t["$se_module"].as_str(), t["What_Id"]["id"].as_str(), t["What_Id"]["name"].as_str()),
        (Some("Completed"), Some("Deals"), Some(deal.as_str()), Some("Big"))
    );
    assert_eq!(t["Owner"]["id"], owner.as_str());
    // Linked to an account instead.
    let (s, _) = crm.send("PUT", &format!("/Tasks/{id}"), json!({"data": [{"What_Id": {"id": accounts[0]}, "$se_module": "Accounts"}]})).await;
    assert_eq!(s, 200);
    let (_, got) = crm.get(&format!("/Tasks/{id}")).await;
    assert_eq!((got["data"][0]["$se_module"].as_str(), got["data"][0]["What_Id"]["id"].as_str()), (Some("Accounts"), Some(accounts[0].as_str())));
    // What_Id without $se_module is refused.
    let (s, refused) = crm.send("POST", "/Tasks", json!({"data": [{"Subject": "Orphan", "What_Id": {"id": deal}}]})).await;
    assert_eq!((s, refused["data"][0]["details"]["api_name"].as_str()), (400, Some("$se_module")), "{refused}");
    let (_, count) = crm.get("/Tasks/actions/count").await;
    assert_eq!(count["count"], json!("1"), "one task for the invoice (record_count.json types count as a string)");
}
