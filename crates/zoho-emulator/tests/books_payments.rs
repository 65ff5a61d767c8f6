//! Books customer payments, credit notes and voids over real HTTP.

mod books_support;

use books_support::Books;
use serde_json::{Value, json};

async fn sent_invoice(b: &Books, customer: &str, rate: i64) -> String {
    let (s, inv) = b.post("/invoices", json!({"customer_id": customer, "line_items": [{"name": "L", "rate": rate}]})).await;
    assert_eq!(s, 201, "{inv}");
    let id = inv["invoice"]["invoice_id"].as_str().unwrap().to_string();
    let (s, _) = b.post(&format!("/invoices/{id}/status/sent"), json!({})).await;
    assert_eq!(s, 200);
    id
}

async fn invoice(b: &Books, id: &str) -> Value {
    b.get(&format!("/invoices/{id}")).await.1["invoice"].clone()
}

#[tokio::test]
async fn payments_move_an_invoice_to_partially_paid_then_paid_and_deleting_restores() {
    let b = Books::start().await;
    let customer = b.customer("Payer", None).await;
    let id = sent_invoice(&b, &customer, 100).await;
    let (s, p) = b.post("/customerpayments", json!({"customer_id": customer, "payment_mode": "cash", "amount": 40, "date": "2026-01-05", "invoices": [{"invoice_id": id, "amount_applied": 40}]})).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["message"], "The payment has been created.");
    assert_eq!(p["payment"]["invoices"][0]["amount_applied"], 40);
    let inv = invoice(&b, &id).await;
    assert_eq!((inv["status"].as_str(), inv["payment_made"].as_i64(), inv["balance"].as_i64()), (Some("partially_paid"), Some(40), Some(60)));
    // Too much for the balance is refused and changes nothing.
    let (s, over) = b.post("/customerpayments", json!({"customer_id": customer, "payment_mode": "cash", "amount": 70, "date": "2026-01-06", "invoices": [{"invoice_id": id, "amount_applied": 70}]})).await;
    assert_eq!(s, 400, "{over}");
    // Pay the rest with an excess of 15 that stays as unused credit.
    let (s, p2) = b.post("/customerpayments", json!({"customer_id": customer, "payment_mode": "banktransfer", "amount": 75, "date": "2026-01-07", "invoices": [{"invoice_id": id, "amount_applied": 60}]})).await;
    assert_eq!(s, 201, "{p2}");
    let inv = invoice(&b, &id).await;
    assert_eq!((inv["status"].as_str(), inv["balance"].as_i64()), (Some("paid"), Some(0)));
    let (_, contact) = b.get(&format!("/contacts/{customer}")).await;
    assert_eq!(contact["contact"]["unused_credits_receivable_amount"], 15);
    let (_, pays) = b.get(&format!("/invoices/{id}/payments")).await;
    assert_eq!(pays["payments"].as_array().unwrap().len(), 2);
    let (_, list) = b.get(&format!("/customerpayments?customer_id={customer}")).await;
    assert_eq!(list["customer_payments"].as_array().unwrap().len(), 2);
    let p2_id = p2["payment"]["payment_id"].as_str().unwrap();
    let (s, _) = b.delete(&format!("/customerpayments/{p2_id}")).await;
    assert_eq!(s, 200);
    let inv = invoice(&b, &id).await;
    assert_eq!((inv["status"].as_str(), inv["balance"].as_i64()), (Some("partially_paid"), Some(60)));
    let (s, r) = b.delete(&format!("/invoices/{id}")).await;
    assert_eq!((s, r["code"].as_i64()), (400, Some(1040)), "an invoice with payments cannot be deleted");
    let (s, r) = b
        .post(
            "/customerpayments",
            json!({"customer_id": customer, "payment_mode": "cash", "amount": 10, "invoices": [{"invoice_id": id, "amount_applied": 20}]}),
        )
        .await;
    assert_eq!(s, 400, "applied more than the amount: {r}");
    b.emu.stop().await;
}

#[tokio::test]
async fn credit_note_is_applied_then_refunded() {
    let b = Books::start().await;
    let customer = b.customer("Credited", None).await;
    let id = sent_invoice(&b, &customer, 200).await;
    let (s, cn) = b
        .post(
            &format!("/creditnotes?invoice_id={id}"),
            json!({"customer_id": customer, "date": "2026-02-01", "line_items": [{"name": "Refund", "rate": 50, "quantity": 1}]}),
        )
        .await;
    assert_eq!(s, 201, "{cn}");
    assert_eq!(cn["message"], "The credit note has been created.");
    assert_eq!(cn["creditnote"]["creditnote_number"], "CN-000001");
    assert_eq!(cn["creditnote"]["status"], "open");
    let cn_id = cn["creditnote"]["creditnote_id"].as_str().unwrap().to_string();
    let (s, r) = b.post(&format!("/creditnotes/{cn_id}/invoices"), json!({"invoices": [{"invoice_id": id, "amount_applied": 60}]})).await;
    assert_eq!(s, 400, "more than the credit note balance: {r}");
    let (s, r) = b.post(&format!("/creditnotes/{cn_id}/invoices"), json!({"invoices": [{"invoice_id": id, "amount_applied": 30}]})).await;
    assert_eq!((s, r["message"].as_str()), (200, Some("Credits have been applied to the invoice(s).")));
    let inv = invoice(&b, &id).await;
    assert_eq!((inv["credits_applied"].as_i64(), inv["balance"].as_i64(), inv["status"].as_str()), (Some(30), Some(170), Some("partially_paid")));
    let (_, applied) = b.get(&format!("/creditnotes/{cn_id}/invoices")).await;
    assert_eq!(applied["invoices_credited"][0]["credited_amount"], 30);
    let (_, credits) = b.get(&format!("/invoices/{id}/creditsapplied")).await;
    assert_eq!(credits["credits"][0]["amount_applied"], 30);
    let (s, refund) =
        b.post(&format!("/creditnotes/{cn_id}/refunds"), json!({"date": "2026-02-02", "refund_mode": "cash", "amount": 20, "from_account_id": "1"})).await;
    assert_eq!((s, refund["message"].as_str()), (200, Some("The credit note amount is refunded successfully.")));
    assert_eq!(refund["creditnote_refund"]["amount"], 20);
    let (_, after) = b.get(&format!("/creditnotes/{cn_id}")).await;
    assert_eq!((after["creditnote"]["balance"].as_i64(), after["creditnote"]["status"].as_str()), (Some(0), Some("closed")));
    let (s, _) = b.post(&format!("/creditnotes/{cn_id}/refunds"), json!({"amount": 1})).await;
    assert_eq!(s, 400, "a closed credit note has nothing left");
    let (_, refunds) = b.get("/creditnotes/refunds").await;
    assert_eq!(refunds["creditnote_refunds"].as_array().unwrap().len(), 1);
    assert_eq!(refunds["creditnote_refunds"][0]["creditnote_id"], cn_id.as_str());
    let (_, closed) = b.get("/creditnotes?status=closed").await;
    assert_eq!(closed["creditnotes"].as_array().unwrap().len(), 1);
    b.emu.stop().await;
}

#[tokio::test]
async fn voiding_releases_payments_and_credits_as_customer_credit() {
    let b = Books::start().await;
    let customer = b.customer("Voided", None).await;
    let id = sent_invoice(&b, &customer, 100).await;
    b.post("/customerpayments", json!({"customer_id": customer, "payment_mode": "cash", "amount": 40, "invoices": [{"invoice_id": id, "amount_applied": 40}]}))
        .await;
    let (_, cn) = b.post("/creditnotes", json!({"customer_id": customer, "line_items": [{"name": "C", "rate": 25}]})).await;
    let cn_id = cn["creditnote"]["creditnote_id"].as_str().unwrap().to_string();
    let (s, r) = b.post(&format!("/invoices/{id}/credits"), json!({"apply_creditnotes": [{"creditnote_id": cn_id, "amount_applied": 25}]})).await;
    assert_eq!(s, 200, "{r}");
    let inv = invoice(&b, &id).await;
    assert_eq!(inv["balance"], 35);
    let (s, _) = b.post(&format!("/invoices/{id}/status/void"), json!({})).await;
    assert_eq!(s, 200);
    let inv = invoice(&b, &id).await;
    assert_eq!((inv["status"].as_str(), inv["payment_made"].as_i64(), inv["credits_applied"].as_i64()), (Some("void"), Some(0), Some(0)));
    let (_, contact) = b.get(&format!("/contacts/{customer}")).await;
    assert_eq!(contact["contact"]["unused_credits_receivable_amount"], 65, "40 paid + 25 credit note back to the customer");
    let (_, note) = b.get(&format!("/creditnotes/{cn_id}")).await;
    assert_eq!((note["creditnote"]["status"].as_str(), note["creditnote"]["balance"].as_i64()), (Some("open"), Some(25)));
    // The released payment can pay another invoice.
    let other = sent_invoice(&b, &customer, 30).await;
    let (_, pays) = b.get(&format!("/customerpayments?customer_id={customer}")).await;
    let pid = pays["customer_payments"][0]["payment_id"].as_str().unwrap().to_string();
    let (s, r) = b.post(&format!("/invoices/{other}/credits"), json!({"invoice_payments": [{"payment_id": pid, "amount_applied": 30}]})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(invoice(&b, &other).await["status"], "paid");
    b.emu.stop().await;
}

#[tokio::test]
async fn estimates_number_and_change_status() {
    let b = Books::start().await;
    let customer = b.customer("Quote Co", None).await;
    let (s, e) = b.post("/estimates", json!({"customer_id": customer, "line_items": [{"name": "Q", "rate": 10, "quantity": 2}]})).await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["estimate"]["estimate_number"], "EST-000001");
    assert_eq!(e["estimate"]["total"], 20);
    let id = e["estimate"]["estimate_id"].as_str().unwrap().to_string();
    let (s, _) = b.post(&format!("/estimates/{id}/status/accepted"), json!({})).await;
    assert_eq!(s, 400, "a draft cannot be accepted");
    b.post(&format!("/estimates/{id}/status/sent"), json!({})).await;
    let (s, r) = b.post(&format!("/estimates/{id}/status/accepted"), json!({})).await;
    assert_eq!((s, r["message"].as_str()), (200, Some("Estimate status has been changed to Accepted.")));
    let (_, list) = b.get("/estimates?status=accepted").await;
    assert_eq!(list["estimates"][0]["estimate_id"], id.as_str());
    let (s, u) = b.put(&format!("/estimates/{id}"), json!({"line_items": [{"name": "Q", "rate": 10, "quantity": 3}]})).await;
    assert_eq!((s, u["estimate"]["total"].as_i64()), (200, Some(30)));
    b.emu.stop().await;
}
