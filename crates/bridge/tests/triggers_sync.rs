//! The poller and the channel keeper against the emulator and a real SQLite store:
//! the cursor only moves with stored events, a poll without changes adds nothing; CRM
//! channels are registered, renewed before expiry and re-created after CRM dropped them,
//! and their callbacks reach the inbox.

mod triggers_support;

use std::collections::BTreeSet;

use bridge::{
    store::Store,
    triggers::{ChannelKeeper, ChannelTokens, Poller, Routes, StreamConfig, System, TriggerConfig, WatchConfig, channel_token},
};
use serde_json::{Value, json};
use triggers_support::{env, eventually, job_total, queued, queued_keys};
use zoho::crm::records::WriteOptions;

fn products(names: &[&str]) -> Vec<Value> {
    names.iter().map(|n| json!({"Product_Name": n})).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_poller_moves_its_cursor_only_with_stored_events() {
    let env = env("poll-crm").await;
    let stream = StreamConfig::new(System::Crm, "Products");
    let mut cfg = TriggerConfig::new("test");
    cfg.poller.start_ms = env.now_floor_s();
    cfg.poller.streams.push(stream.clone());
    cfg.routes = Routes::default().with(System::Crm, "Products", &["catalog_sync"]);
    let poller = Poller::new(env.store.clone(), env.client.clone(), cfg, env.clock.clone());
    let crm = env.client.crm();

    let results = crm.insert("Products", &products(&["A", "B", "C"]), &WriteOptions::no_triggers()).await.expect("insert");
    let ids: Vec<String> = results.iter().filter_map(|r| r.id().map(str::to_string)).collect();
    assert_eq!(ids.len(), 3);

    // Zoho failing mid-poll: nothing stored, the cursor does not move.
    let emu = env.emu.url();
    let faults = |rate: f64| json!({"rules": [{"path_prefix": "/crm/v8/Products", "method": "GET", "error_rate": rate, "error_statuses": [400]}]});
    env.http.put(format!("{emu}/__emulator/faults")).json(&faults(1.0)).send().await.expect("faults on");
    env.advance(2_000);
    assert!(poller.poll_once(&stream).await.is_err());
    assert_eq!(env.store.cursor("test", "crm:Products").await.expect("cursor"), None);
    assert_eq!(job_total(&env.store).await, 0);
    env.http.put(format!("{emu}/__emulator/faults")).json(&json!({})).send().await.expect("faults off");

    let first = poller.poll_once(&stream).await.expect("poll");
    assert_eq!((first.read, first.new), (3, 3), "{first:?}");
    let cursor = env.store.cursor("test", "crm:Products").await.expect("cursor").expect("a cursor");
    assert_eq!(cursor.position_ms, first.cursor_after);
    assert!(cursor.position_ms >= first.cursor_before);
    let expected: BTreeSet<String> = ids.iter().map(|id| format!("crm:Products:{id}")).collect();
    assert_eq!(queued_keys(&env.store).await, expected, "everything up to the cursor is in the inbox");

    // No changes: the boundary is re-read (>=) and absorbed; nothing new; cursor stays.
    let second = poller.poll_once(&stream).await.expect("poll");
    assert_eq!(second.new, 0, "{second:?}");
    assert_eq!(second.cursor_after, first.cursor_after);
    assert_eq!(queued(&env.store).await.len(), 3);

    // One change: one new event.
    env.advance(1_000);
    let changed = json!([{"id": ids[1], "Product_Name": "B2"}]);
    let r = crm.update("Products", changed.as_array().expect("array"), &WriteOptions::no_triggers()).await.expect("update");
    assert!(r[0].is_success());
    env.advance(2_000);
    let third = poller.poll_once(&stream).await.expect("poll");
    assert_eq!(third.new, 1, "{third:?}");
    assert!(third.cursor_after > first.cursor_after);
    assert_eq!(queued(&env.store).await.len(), 4);
}

/// A deletion whose notification was lost reaches the inbox through the poller, once:
/// the module's deleted records are read from a cursor of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_poller_reads_deletions_from_their_own_cursor() {
    let env = env("poll-crm-deleted").await;
    let stream = StreamConfig::new(System::Crm, "Products");
    let mut cfg = TriggerConfig::new("test");
    cfg.poller.start_ms = env.now_floor_s();
    cfg.routes = Routes::default().with(System::Crm, "Products", &["catalog_sync"]);
    let poller = Poller::new(env.store.clone(), env.client.clone(), cfg, env.clock.clone());
    let crm = env.client.crm();
    let results = crm.insert("Products", &products(&["Keep", "Drop"]), &WriteOptions::no_triggers()).await.expect("insert");
    let ids: Vec<String> = results.iter().filter_map(|r| r.id().map(str::to_string)).collect();
    env.advance(2_000);
    let first = poller.poll_once(&stream).await.expect("poll");
    assert_eq!((first.new, first.deleted), (2, 0), "{first:?}");

    env.advance(1_000);
    let gone = crm.delete("Products", &[ids[1].as_str()]).await.expect("delete");
    assert!(gone[0].is_success(), "{gone:?}");
    env.advance(2_000);
    let second = poller.poll_once(&stream).await.expect("poll");
    assert_eq!((second.new, second.deleted), (0, 1), "{second:?}");
    let deletions = env.store.events_for_record("crm", "Products", &ids[1], 10).await.expect("events");
    assert_eq!(deletions.len(), 2, "the insert and the deletion: {deletions:#?}");
    let deletion = &deletions[0];
    assert_eq!(deletion.event.payload["deleted"], json!(true));
    assert_eq!(deletion.event.payload["id"], json!(ids[1]));
    assert!(deletion.event.dedup_key.ends_with(":deleted"), "{}", deletion.event.dedup_key);
    assert!(env.store.cursor("test", "crm:Products:deleted").await.expect("cursor").is_some());
    assert_eq!(queued(&env.store).await.len(), 3, "the deletion routes to the flows like any change");

    // Polling again finds nothing new: the deletion is at the cursor's boundary.
    env.advance(2_000);
    let third = poller.poll_once(&stream).await.expect("poll");
    assert_eq!((third.new, third.deleted), (0, 0), "{third:?}");
    assert_eq!(queued(&env.store).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_poller_reads_from_its_cursor_and_a_second_poll_adds_nothing() {
    use zoho::books::models::{Contact, Invoice, Item, LineItem};
    let dec = |s: &str| s.parse::<rust_decimal::Decimal>().expect("decimal");
    let env = env("poll-books").await;
    let stream = StreamConfig::new(System::Books, "invoices");
    let mut cfg = TriggerConfig::new("test");
    cfg.poller.start_ms = env.now_floor_s();
    cfg.routes = Routes::default().with(System::Books, "invoices", &["overdue_to_task"]);
    let poller = Poller::new(env.store.clone(), env.client.clone(), cfg, env.clock.clone());
    let books = env.client.books();
    let customer = books.create_contact(&Contact { contact_name: Some("Poll Ltd".into()), ..Default::default() }).await.expect("contact");
    let item = books.create_item(&Item { name: Some("Thing".into()), rate: Some(dec("5")), ..Default::default() }).await.expect("item");
    let invoice = |n: &str| Invoice {
        customer_id: customer.contact_id.clone(),
        line_items: vec![LineItem { item_id: item.item_id.clone(), rate: Some(dec(n)), quantity: Some(dec("1")), ..LineItem::default() }],
        ..Invoice::default()
    };
    // Start at the top of a second, so that the early poll below most likely runs in the
    // same second as the writes.
    let next_second = env.clock.now_ms() / 1000 + 1;
    env.emu.state().clock.set(jiff::Timestamp::from_second(next_second).expect("timestamp"));
    let mut ids = Vec::new();
    for n in ["1", "2", "3"] {
        ids.push(books.create_invoice(&invoice(n)).await.expect("invoice").invoice_id.expect("id"));
    }
    // Still the same second: nothing is taken yet (a later change could share it).
    let early = poller.poll_once(&stream).await.expect("poll");
    if env.clock.now_ms() / 1000 == next_second {
        assert_eq!(early.new, 0, "{early:?}");
    }

    env.advance(2_000);
    let first = poller.poll_once(&stream).await.expect("poll");
    assert_eq!(early.new + first.new, 3, "{early:?} {first:?}");
    let first = if early.new > 0 { early } else { first };
    let expected: BTreeSet<String> = ids.iter().map(|id| format!("books:invoices:{id}")).collect();
    assert_eq!(queued_keys(&env.store).await, expected);
    let second = poller.poll_once(&stream).await.expect("poll");
    assert_eq!(second.new, 0, "{second:?}");
    assert_eq!(second.cursor_after, first.cursor_after);
    assert_eq!(queued(&env.store).await.len(), 3);

    env.advance(1_000);
    books.update_invoice(&ids[0], &invoice("7")).await.expect("update");
    env.advance(2_000);
    let third = poller.poll_once(&stream).await.expect("poll");
    assert_eq!(third.new, 1, "{third:?}");
    assert!(third.cursor_after > first.cursor_after);
    let cursor = env.store.cursor("test", "books:invoices").await.expect("cursor").expect("a cursor");
    assert_eq!(cursor.position_ms, third.cursor_after);
    assert_eq!(queued(&env.store).await.len(), 4);
}

/// Customer payments: Books lists them under `customer_payments` (not the path's
/// `customerpayments`); the poller reads them like any other stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_poller_reads_customer_payments() {
    use zoho::books::models::{Contact, CustomerPayment, Invoice, Item, LineItem, PaymentInvoice};
    let dec = |s: &str| s.parse::<rust_decimal::Decimal>().expect("decimal");
    let env = env("poll-payments").await;
    let stream = StreamConfig::new(System::Books, "customerpayments");
    let mut cfg = TriggerConfig::new("test");
    cfg.poller.start_ms = env.now_floor_s();
    cfg.routes = Routes::default().with(System::Books, "customerpayments", &["payment_to_crm"]);
    let poller = Poller::new(env.store.clone(), env.client.clone(), cfg, env.clock.clone());
    let books = env.client.books();
    let customer = books.create_contact(&Contact { contact_name: Some("Pays Ltd".into()), ..Default::default() }).await.expect("contact");
    let item = books.create_item(&Item { name: Some("Paid thing".into()), rate: Some(dec("40")), ..Default::default() }).await.expect("item");
    let invoice = Invoice {
        customer_id: customer.contact_id.clone(),
        line_items: vec![LineItem { item_id: item.item_id.clone(), quantity: Some(dec("1")), ..LineItem::default() }],
        ..Invoice::default()
    };
    let invoice_id = books.create_invoice(&invoice).await.expect("invoice").invoice_id.expect("id");
    books.mark_invoice_sent(&invoice_id).await.expect("sent");
    let payment = CustomerPayment {
        customer_id: customer.contact_id.clone(),
        payment_mode: Some("banktransfer".into()),
        amount: Some(dec("10")),
        date: Some("2024-05-01".into()),
        invoices: vec![PaymentInvoice { invoice_id: Some(invoice_id), amount_applied: Some(dec("10")), ..Default::default() }],
        ..Default::default()
    };
    let payment_id = books.create_customer_payment(&payment).await.expect("payment").payment_id.expect("id");

    env.advance(2_000);
    let polled = poller.poll_once(&stream).await.expect("the payments stream polls");
    assert_eq!(polled.new, 1, "{polled:?}");
    assert_eq!(queued_keys(&env.store).await, BTreeSet::from([format!("books:customerpayments:{payment_id}")]));
    assert_eq!(poller.poll_once(&stream).await.expect("poll").new, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_keeper_registers_renews_and_recreates() {
    let env = env("channels").await;
    let tokens = ChannelTokens::new();
    let mut cfg = TriggerConfig::new("test");
    cfg.routes = Routes::default().with(System::Crm, "Products", &["catalog_sync"]);
    cfg.channels.watch.push(WatchConfig { channel_id: "1000000001".into(), events: vec!["Products.all".into()], token: None, token_env: None });
    cfg.channels.ttl_secs = 3_600;
    let base = env.serve(cfg.clone(), tokens.clone()).await;
    cfg.channels.notify_url = format!("{base}/hooks/crm/notify");
    let keeper = ChannelKeeper::new(env.client.crm(), cfg.channels.clone(), tokens.clone(), env.clock.clone()).expect("keeper");
    let crm = env.client.crm();
    let expiry = || async {
        let live = crm.list_notifications().await.expect("list");
        live.iter().find(|w| w["channel_id"] == "1000000001").and_then(|w| w["channel_expiry"].as_str()).and_then(bridge::triggers::events::parse_time)
    };

    let report = keeper.run_once().await.expect("keeper");
    assert_eq!(report.created, vec!["1000000001".to_string()]);
    let first_expiry = expiry().await.expect("channel registered");
    let token = tokens.get("1000000001").expect("a token");
    assert_eq!(token.expose(), channel_token(env.client.connection(), "1000000001").expose(), "derived from the connection");
    assert_eq!(keeper.run_once().await.expect("keeper").unchanged, vec!["1000000001".to_string()]);

    // Another process of the connection (or this one restarted) arrives at the same
    // token, so its receiver accepts the callbacks of the channel registered here.
    let restarted = ChannelTokens::new();
    let _second = ChannelKeeper::new(env.client.crm(), cfg.channels.clone(), restarted.clone(), env.clock.clone()).expect("keeper");
    assert!(restarted.get("1000000001").is_some_and(|t| t.expose() == token.expose()));
    let other_base = env.serve(cfg.clone(), restarted).await;
    let callback = json!({
        "server_time": 1, "query_params": {}, "module": "Products", "resource_uri": "x", "ids": ["4242"],
        "affected_fields": [], "operation": "update", "channel_id": 1000000001, "token": token.expose(),
    });
    let answer = reqwest::Client::new().post(format!("{other_base}/hooks/crm/notify")).json(&callback).send().await.expect("answer");
    assert_eq!(answer.status(), reqwest::StatusCode::OK, "the restarted receiver knows the token");

    // A CRM change calls back with our token; the receiver stores it.
    let r = crm.insert("Products", &products(&["Notified"]), &WriteOptions::default()).await.expect("insert");
    let id = r[0].id().expect("id").to_string();
    let store = env.store.clone();
    let key = format!("crm:Products:{id}");
    assert!(
        eventually(10, || {
            let (store, key) = (store.clone(), key.clone());
            async move { queued_keys(&store).await.contains(&key) }
        })
        .await,
        "callback stored"
    );

    // Less than 20% of its life left: renewed.
    env.advance(3_600_000 * 85 / 100);
    let report = keeper.run_once().await.expect("keeper");
    assert_eq!(report.renewed, vec!["1000000001".to_string()], "{report:?}");
    let renewed_expiry = expiry().await.expect("still there");
    assert!(renewed_expiry > first_expiry + 3_000_000, "expiry moved: {first_expiry} -> {renewed_expiry}");

    // Past its expiry, CRM drops it; the keeper re-creates it.
    env.advance(3_700_000);
    zoho_emulator::tick(env.emu.state());
    assert_eq!(expiry().await, None, "CRM dropped the channel");
    let report = keeper.run_once().await.expect("keeper");
    assert_eq!(report.created, vec!["1000000001".to_string()], "{report:?}");
    assert!(expiry().await.is_some(), "the channel is back");
    let _ = env.store.job_counts().await;
}
