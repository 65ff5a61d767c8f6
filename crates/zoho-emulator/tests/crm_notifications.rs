//! CRM Notification API over real HTTP: watch CRUD, callbacks to a local server, expiry.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, routing::post};
use serde_json::{Value, json};
use zoho_emulator::EmulatorConfig;

#[path = "support/crm.rs"]
mod crm;
use crm::Crm;
type Inbox = Arc<Mutex<Vec<Value>>>;

async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    async fn take(State(inbox): State<Inbox>, Json(body): Json<Value>) -> &'static str {
        inbox.lock().unwrap().push(body);
        "ok"
    }
    let app = Router::new().route("/hook", post(take)).with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook?source=crm"), inbox)
}

async fn wait_for(inbox: &Inbox, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        if inbox.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    inbox.lock().unwrap().clone()
}

#[tokio::test]
async fn callbacks_carry_token_ids_and_operation_and_stop_after_expiry() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (url, inbox) = receiver().await;
    let (status, body) = crm
        .send(
            "POST",
            "/actions/watch",
            json!({"watch": [{"channel_id": "1000000068001", "events": ["Deals.all"],
            "notify_url": url, "token": "secret-token"}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let entry = &body["watch"][0];
    assert_eq!(entry["code"], "SUCCESS");
    assert_eq!(entry["message"], "Successfully subscribed for actions-watch of the given module");
    let event = &entry["details"]["events"][0];
    assert_eq!(event["resource_name"], "Deals");
    assert_eq!(event["channel_id"], "1000000068001");
    assert!(event["channel_expiry"].is_string());

    let (_, created) = crm
        .send(
            "POST",
            "/Deals",
            json!({"data": [
        {"Deal_Name": "A", "Stage": "Qualification"}, {"Deal_Name": "B", "Stage": "Qualification"}]}),
        )
        .await;
    let ids: Vec<String> = created["data"].as_array().unwrap().iter().map(|e| e["details"]["id"].as_str().unwrap().into()).collect();
    let got = wait_for(&inbox, 1).await;
    assert_eq!(got.len(), 1, "one callback for a two-record write");
    let cb = &got[0];
    assert_eq!(cb["operation"], "insert");
    assert_eq!(cb["token"], "secret-token");
    assert_eq!(cb["channel_id"], "1000000068001");
    assert_eq!(cb["module"], "Deals");
    assert_eq!(cb["ids"], json!(ids));
    assert_eq!(cb["query_params"], json!({"source": "crm"}));
    assert!(cb["server_time"].is_i64());

    crm.send("PUT", &format!("/Deals/{}", ids[0]), json!({"data": [{"Stage": "Closed Won"}]})).await;
    let got = wait_for(&inbox, 2).await;
    assert_eq!(got[1]["operation"], "update");
    let changed = got[1]["affected_fields"][0][&ids[0]].as_array().unwrap();
    assert!(changed.contains(&json!("Stage")));
    crm.call("DELETE", &format!("/Deals/{}", ids[1]), None, &[]).await;
    let got = wait_for(&inbox, 3).await;
    assert_eq!(got[2]["operation"], "delete");

    crm.emu.state().clock.advance_ms(3_601_000);
    zoho_emulator::tick(crm.emu.state());
    let mut crm = crm;
    crm.relogin().await;
    let (status, _) = crm.get("/actions/watch").await;
    assert_eq!(status, 204, "the expired channel is gone");
    crm.send("POST", "/Deals", json!({"data": [{"Deal_Name": "C", "Stage": "Qualification"}]})).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(inbox.lock().unwrap().len(), 3, "nothing after expiry");
}

#[tokio::test]
async fn watch_list_update_and_disable() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (status, body) = crm
        .send(
            "POST",
            "/actions/watch",
            json!({"watch": [{"channel_id": 42, "events": ["Deals.edit", "Contacts.create"],
            "notify_url": "http://127.0.0.1:9/x", "channel_expiry": "2999-01-01T00:00:00+00:00"}]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["watch"][0]["details"]["events"].as_array().unwrap().len(), 2);
    let (status, body) = crm.get("/actions/watch").await;
    assert_eq!(status, 200);
    assert_eq!(body["info"]["count"], 2);
    let deals = body["watch"].as_array().unwrap().iter().find(|w| w["resource_name"] == "Deals").unwrap();
    assert_eq!(deals["notify_on_related_action"], true, "default true");
    let expiry = zoho_emulator::clock::parse_datetime(deals["channel_expiry"].as_str().unwrap()).unwrap();
    let now = crm.emu.state().clock.now();
    let hours = (expiry.as_millisecond() - now.as_millisecond()) / 3_600_000;
    assert_eq!(hours, 0, "beyond a week falls back to the 1 hour default");

    let (status, body) = crm.send("PATCH", "/actions/watch", json!({"watch": [{"channel_id": "42", "events": ["Deals.delete"]}]})).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = crm.get("/actions/watch?module=Deals").await;
    assert_eq!(body["watch"][0]["events"], json!(["Deals.edit", "Deals.delete"]));

    let (status, body) = crm
        .send(
            "POST",
            "/actions/watch",
            json!({"watch": [{"channel_id": "7", "events": ["Deals.all"],
        "notify_url": "http://127.0.0.1:9/x", "token": "x".repeat(51)}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["watch"][0]["code"], "INVALID_DATA");
    assert_eq!(body["watch"][0]["details"]["api_name"], "token");
    let (status, body) = crm.send("POST", "/actions/watch", json!({"watch": [{"channel_id": "7", "notify_url": "http://a/"}]})).await;
    assert_eq!(status, 400);
    assert_eq!(body["watch"][0]["code"], "MANDATORY_NOT_FOUND");

    let (status, body) = crm.call("DELETE", "/actions/watch?channel_ids=42", None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["watch"][0]["message"], "Successfully un-subscribed from actions-watch");
    let (status, _) = crm.get("/actions/watch").await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_change_to_a_related_record_notifies_the_parents_channel_unless_opted_out() {
    let crm = Crm::start(EmulatorConfig::unlimited()).await;
    let (url, inbox) = receiver().await;
    let (opted_out_url, opted_out_inbox) = receiver().await;
    let account = crm.accounts(1).await.remove(0);
    let (status, body) = crm
        .send(
            "POST",
            "/actions/watch",
            json!({"watch": [
            {"channel_id": "1", "events": ["Accounts.edit"], "notify_url": url, "token": "t1"},
            {"channel_id": "2", "events": ["Accounts.all"], "notify_url": opted_out_url, "token": "t2",
             "notify_on_related_action": false}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A contact and a task are added under the account: its edit channel hears of both.
    let (status, _) = crm.send("POST", "/Contacts", json!({"data": [{"Last_Name": "Related", "Account_Name": {"id": account}}]})).await;
    assert_eq!(status, 201);
    let (status, _) = crm.send("POST", "/Tasks", json!({"data": [{"Subject": "Call", "What_Id": {"id": account}, "$se_module": "Accounts"}]})).await;
    assert_eq!(status, 201);
    let got = wait_for(&inbox, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    for (cb, child) in got.iter().zip(["Contacts", "Tasks"]) {
        assert_eq!(cb["module"], "Accounts");
        assert_eq!(cb["operation"], "update");
        assert_eq!(cb["ids"], json!([account]));
        assert_eq!(cb["affected_fields"], json!([{ account.as_str(): [child] }]));
        assert_eq!(cb["token"], "t1");
    }
    // A record unrelated to the account notifies nobody; the opted-out channel heard nothing.
    crm.send("POST", "/Contacts", json!({"data": [{"Last_Name": "Loner"}]})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(inbox.lock().unwrap().len(), 2);
    assert!(opted_out_inbox.lock().unwrap().is_empty());
}
