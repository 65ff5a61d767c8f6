//! Books workflow webhooks and the overdue clock over real HTTP.

mod books_support;

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, routing::post};
use books_support::Books;
use serde_json::{Value, json};

type Inbox = Arc<Mutex<Vec<Value>>>;

async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(|State(inbox): State<Inbox>, Json(body): Json<Value>| async move {
                inbox.lock().unwrap().push(body);
                "ok"
            }),
        )
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, inbox)
}

async fn register(b: &Books, url: &str, events: Value) {
    let r = b.http.post(format!("{}/__emulator/books/webhooks", b.emu.url())).json(&json!({"url": url, "events": events})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

async fn wait_for(inbox: &Inbox, n: usize) -> Vec<Value> {
    for _ in 0..50 {
        if inbox.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    inbox.lock().unwrap().clone()
}

#[tokio::test]
async fn a_sent_invoice_goes_overdue_when_the_clock_passes_its_due_date_and_fires_once() {
    let mut b = Books::start().await;
    let (url, inbox) = receiver().await;
    register(&b, &url, json!(["invoice.overdue"])).await;
    let customer = b.customer("Late Payer", None).await;
    let (_, inv) = b.post("/invoices", json!({"customer_id": customer, "payment_terms": 15, "line_items": [{"name": "L", "rate": 80}]})).await;
    let id = inv["invoice"]["invoice_id"].as_str().unwrap().to_string();
    b.post(&format!("/invoices/{id}/status/sent"), json!({})).await;
    zoho_emulator::tick(b.emu.state());
    assert_eq!(b.get(&format!("/invoices/{id}")).await.1["invoice"]["status"], "sent");

    b.emu.state().clock.advance_ms(16 * 86_400_000);
    zoho_emulator::tick(b.emu.state());
    zoho_emulator::tick(b.emu.state());
    // Sixteen days later the access token has long expired: log in again.
    b.token = zoho_emulator::testkit::login(&b.http, &b.emu.url()).await.unwrap().1;
    let (_, got) = b.get(&format!("/invoices/{id}")).await;
    assert_eq!(got["invoice"]["status"], "overdue");
    let (_, overdue) = b.get("/invoices?filter_by=Status.OverDue").await;
    assert_eq!(overdue["invoices"][0]["invoice_id"], id.as_str());

    let hooks = wait_for(&inbox, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let hooks_after = inbox.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks_after.len(), 1, "fired exactly once");
    assert_eq!(hooks[0]["invoice"]["invoice_id"], id.as_str());
    assert_eq!(hooks[0]["invoice"]["status"], "overdue");
    // Paying it in full makes it paid.
    b.post("/customerpayments", json!({"customer_id": customer, "payment_mode": "cash", "amount": 80, "invoices": [{"invoice_id": id, "amount_applied": 80}]}))
        .await;
    assert_eq!(b.get(&format!("/invoices/{id}")).await.1["invoice"]["status"], "paid");
    b.emu.stop().await;
}

#[tokio::test]
async fn workflow_events_carry_the_entity_json() {
    let b = Books::start().await;
    let (url, inbox) = receiver().await;
    register(&b, &url, json!([])).await;
    let customer = b.customer("Hooked", None).await;
    let (_, inv) = b.post("/invoices", json!({"customer_id": customer, "line_items": [{"name": "L", "rate": 10}]})).await;
    let id = inv["invoice"]["invoice_id"].as_str().unwrap().to_string();
    b.post(&format!("/invoices/{id}/status/sent"), json!({})).await;
    b.post("/customerpayments", json!({"customer_id": customer, "payment_mode": "cash", "amount": 10, "invoices": [{"invoice_id": id, "amount_applied": 10}]}))
        .await;
    b.post("/items", json!({"name": "Hooked item", "rate": 1})).await;
    let got = wait_for(&inbox, 6).await;
    let log = b.emu.state().outbox.log();
    let events: Vec<&str> = log.iter().map(|d| d.delivery.event.as_str()).collect();
    for e in ["contact.created", "invoice.created", "invoice.sent", "payment.created", "invoice.paid", "item.created"] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
    assert!(got.iter().any(|g| g.get("payment").is_some()));
    let paid = log.iter().find(|d| d.delivery.event == "invoice.paid").unwrap();
    assert_eq!(paid.delivery.body["invoice"]["status"], "paid");
    b.emu.stop().await;
}

#[tokio::test]
async fn payments_fire_created_updated_refunded_and_deleted_with_their_invoices() {
    let b = Books::start().await;
    let (url, inbox) = receiver().await;
    register(&b, &url, json!(["payment.*", "invoice.paid"])).await;
    let customer = b.customer("Split Payer", None).await;
    let mut ids = Vec::new();
    for rate in [100, 50] {
        let (_, inv) = b.post("/invoices", json!({"customer_id": customer, "line_items": [{"name": "L", "rate": rate}]})).await;
        let id = inv["invoice"]["invoice_id"].as_str().unwrap().to_string();
        b.post(&format!("/invoices/{id}/status/sent"), json!({})).await;
        ids.push(id);
    }
    // One payment across both invoices: 100 in full, 20 of 50, 10 unused.
    let (s, p) = b
        .post(
            "/customerpayments",
            json!({"customer_id": customer, "payment_mode": "banktransfer", "amount": 130, "date": "2026-02-01",
                   "invoices": [{"invoice_id": ids[0], "amount_applied": 100}, {"invoice_id": ids[1], "amount_applied": 20}]}),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["payment"]["payment_id"].as_str().unwrap().to_string();
    assert_eq!(p["payment"]["unused_amount"], 10);
    // Move 10 more onto the second invoice.
    let (s, up) = b
        .put(
            &format!("/customerpayments/{pid}"),
            json!({"invoices": [{"invoice_id": ids[0], "amount_applied": 100}, {"invoice_id": ids[1], "amount_applied": 30}]}),
        )
        .await;
    assert_eq!((s, up["message"].as_str()), (200, Some("The payment details have been updated.")), "{up}");
    assert_eq!(b.get(&format!("/invoices/{}", ids[1])).await.1["invoice"]["balance"], 20);
    // Refunding more than is unused is refused; 0 is unused now.
    let (s, _) = b.post(&format!("/customerpayments/{pid}/refunds"), json!({"amount": 5, "date": "2026-02-02"})).await;
    assert_eq!(s, 400);
    b.put(
        &format!("/customerpayments/{pid}"),
        json!({"invoices": [{"invoice_id": ids[0], "amount_applied": 100}, {"invoice_id": ids[1], "amount_applied": 20}]}),
    )
    .await;
    let (s, r) = b.post(&format!("/customerpayments/{pid}/refunds"), json!({"amount": 4, "date": "2026-02-02", "refund_mode": "cash"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["payment_refunds"][0]["amount"], 4);
    let (_, refunds) = b.get(&format!("/customerpayments/{pid}/refunds")).await;
    assert_eq!(refunds["payment_refunds"].as_array().map(Vec::len), Some(1));
    let (_, paid) = b.get(&format!("/customerpayments/{pid}")).await;
    assert_eq!((paid["payment"]["amount_refunded"].as_i64(), paid["payment"]["unused_amount"].as_i64()), (Some(4), Some(6)));

    // A second payment, then deleting it restores the balance and says which invoice it paid.
    let (_, p2) = b.post("/customerpayments", json!({"customer_id": customer, "payment_mode": "cash", "amount": 30, "date": "2026-02-03", "invoices": [{"invoice_id": ids[1], "amount_applied": 30}]})).await;
    let p2 = p2["payment"]["payment_id"].as_str().unwrap().to_string();
    assert_eq!(b.get(&format!("/invoices/{}", ids[1])).await.1["invoice"]["status"], "paid");
    let (s, _) = b.delete(&format!("/customerpayments/{p2}")).await;
    assert_eq!(s, 200);
    let second = b.get(&format!("/invoices/{}", ids[1])).await.1["invoice"].clone();
    assert_eq!(
        (second["balance"].as_i64(), second["status"].as_str(), second["last_payment_date"].as_str()),
        (Some(30), Some("partially_paid"), Some("2026-02-01"))
    );

    let hooks = wait_for(&inbox, 8).await;
    let kinds: Vec<(String, String)> = hooks
        .iter()
        .map(|h| match h.get("payment") {
            Some(p) => ("payment".to_string(), p["payment_id"].as_str().unwrap().to_string()),
            None => ("invoice".to_string(), h["invoice"]["invoice_id"].as_str().unwrap().to_string()),
        })
        .collect();
    // created, updated, updated, refunded (first payment); created, deleted (second); paid ×2.
    assert_eq!(kinds.iter().filter(|(k, id)| k == "payment" && *id == pid).count(), 4, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|(k, id)| k == "payment" && *id == p2).count(), 2, "{kinds:?}");
    let deleted = hooks.iter().rev().find(|h| h["payment"]["payment_id"] == p2.as_str()).unwrap();
    assert_eq!(deleted["payment"]["invoices"][0]["invoice_id"], ids[1].as_str());
    assert_eq!(deleted["payment"]["invoices"][0]["amount_applied"], 30);
    assert_eq!(kinds.iter().filter(|(k, _)| k == "invoice").count(), 2, "invoice.paid for the first invoice and for the second: {kinds:?}");
    b.emu.stop().await;
}
