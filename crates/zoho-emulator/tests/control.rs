//! The `/__emulator` control surface: clock, state snapshots, limits, Books webhook setup.

use serde_json::{Value, json};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_clock_moves_and_refuses_malformed_requests() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/__emulator/clock", emu.url());
    let (_, before) = json_of(http.get(&url).send().await.unwrap()).await;
    let (status, after) = json_of(http.post(&url).json(&json!({"advance_days": 2})).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let delta = after["offset_ms"].as_i64().unwrap() - before["offset_ms"].as_i64().unwrap();
    assert_eq!(delta, 2 * 86_400_000);
    assert!(after["crm"].as_str().unwrap().ends_with("+00:00"));
    assert!(after["books"].as_str().unwrap().ends_with("+0000"));

    let (status, _) = json_of(http.post(&url).json(&json!({"set": "2030-02-03T04:05:06Z"})).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(emu.state().clock.today(), "2030-02-03");

    for bad in [json!({}), json!({"advance_days": 1, "advance_secs": 1}), json!({"set": "soon"}), json!({"jump": 1})] {
        let (status, body) = json_of(http.post(&url).json(&bad).send().await.unwrap()).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].is_string(), "{body}");
    }
    emu.stop().await;
}

#[tokio::test]
async fn a_snapshot_restores_tokens_clock_and_data_into_a_new_emulator() {
    let first = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let (_, access) = testkit::login(&http, &first.url()).await.unwrap();
    http.post(format!("{}/__emulator/clock", first.url())).json(&json!({"advance_days": 5})).send().await.unwrap();
    let snapshot = http.get(format!("{}/__emulator/state", first.url())).send().await.unwrap().text().await.unwrap();
    first.stop().await;

    let second = Emulator::start(EmulatorConfig { seed: 999, ..EmulatorConfig::unlimited() }, 0).await.unwrap();
    let r = http.put(format!("{}/__emulator/state", second.url())).header("content-type", "application/json").body(snapshot).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(second.state().clock.offset_ms() >= 5 * 86_400_000 - 1000);
    assert!(second.state().world().accounts.access_tokens.contains_key(&access));

    let r = http.put(format!("{}/__emulator/state", second.url())).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    second.stop().await;
}

#[tokio::test]
async fn books_webhooks_are_registered_listed_and_removed() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/__emulator/books/webhooks", emu.url());
    let (status, created) = json_of(http.post(&url).json(&json!({"url": "http://127.0.0.1:9/hook", "events": ["invoice.*"]})).send().await.unwrap()).await;
    assert_eq!(status, 201);
    let id = created["webhook"]["webhook_id"].as_str().unwrap().to_string();
    let (_, listed) = json_of(http.get(&url).send().await.unwrap()).await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    let (status, body) = json_of(http.post(&url).json(&json!({"url": "not a url"})).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("url"));
    assert_eq!(http.delete(format!("{url}/{id}")).send().await.unwrap().status(), 204);
    assert_eq!(http.delete(format!("{url}/{id}")).send().await.unwrap().status(), 404);
    emu.stop().await;
}

#[tokio::test]
async fn limits_can_be_read_and_changed_at_run_time() {
    let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/__emulator/limits", emu.url());
    let (status, body) = json_of(http.put(&url).json(&json!({"books_per_minute": 5, "crm_concurrency": 2})).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["config"]["books_per_minute"], 5);
    assert_eq!(body["config"]["books_per_day"], Value::Null, "unlimited() had no daily cap; untouched");
    let (_, body) = json_of(http.put(&url).json(&json!({"books_per_day": 7})).send().await.unwrap()).await;
    assert_eq!((body["config"]["books_per_minute"].as_i64(), body["config"]["books_per_day"].as_i64()), (Some(5), Some(7)));
    let (_, body) = json_of(http.put(&url).json(&json!({"books_per_minute": null})).send().await.unwrap()).await;
    assert_eq!(body["config"]["books_per_minute"], Value::Null);
    let (status, _) = json_of(http.put(&url).json(&json!({"books_per_hour": 5})).send().await.unwrap()).await;
    assert_eq!(status, 400, "unknown limit names are refused");
    emu.stop().await;
}
