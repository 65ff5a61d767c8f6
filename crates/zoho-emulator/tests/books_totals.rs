//! Books document totals over real HTTP, with exact figures: each currency's decimal places
//! (JPY 0, USD/EUR 2, KWD 3), the exchange rate defaulted from the latest rate, line
//! discounts in % and amount, entity discounts before and after tax, adjustment, inclusive
//! tax, tax exemptions, and the customer-currency rule.

mod books_support;

use books_support::Books;
use serde_json::{Value, json};

/// Creates an invoice and returns the answer's `invoice`.
async fn invoice(b: &Books, body: Value) -> Value {
    let (s, inv) = b.post("/invoices", body).await;
    assert_eq!(s, 201, "{inv}");
    inv["invoice"].clone()
}

/// `(sub_total, tax_total, discount_total, total)` as JSON numbers.
fn figures(inv: &Value) -> (Value, Value, Value, Value) {
    (inv["sub_total"].clone(), inv["tax_total"].clone(), inv["discount_total"].clone(), inv["total"].clone())
}

#[tokio::test]
async fn yen_rounds_to_whole_units_and_takes_the_latest_rate() {
    let b = Books::start().await;
    let jpy = b.currency("JPY").await;
    let (s, _) = b.post(&format!("/settings/currencies/{jpy}/exchangerates"), json!({"rate": 0.0071, "effective_date": "2999-01-01"})).await;
    assert_eq!(s, 201);
    let customer = b.customer("Tokyo KK", Some("JPY")).await;
    let service_tax = b.tax("Service Tax").await; // 10 %
    let inv = invoice(
        &b,
        json!({"customer_id": customer, "line_items": [
            {"name": "Widget", "rate": 1234, "quantity": 3, "discount": "7.5%", "tax_id": service_tax},
            {"name": "Setup", "rate": 999.5, "quantity": 1, "tax_id": service_tax}
        ]}),
    )
    .await;
    // 3702 − round(277.65) = 3424; 999.5 → 1000; tax 342.4 → 342 and 100.
    assert_eq!(inv["line_items"][0]["item_total"], 3424);
    assert_eq!(inv["line_items"][1]["item_total"], 1000);
    assert_eq!(figures(&inv), (json!(4424), json!(442), json!(278), json!(4866)));
    assert_eq!(inv["price_precision"], 0);
    assert_eq!(inv["currency_code"], "JPY");
    // No exchange_rate given: Books takes the currency's latest rate.
    assert_eq!(inv["exchange_rate"], json!(0.0071));
    b.emu.stop().await;
}

#[tokio::test]
async fn dinar_rounds_to_three_places() {
    let b = Books::start().await;
    let customer = b.customer("Kuwait Trading", Some("KWD")).await;
    let gst = b.tax("GST").await; // 5 %
    let inv = invoice(
        &b,
        json!({"customer_id": customer, "exchange_rate": 3.25, "adjustment": -0.0004, "line_items": [
            {"name": "Cable", "rate": 12.3456, "quantity": 2, "tax_id": gst},
            {"name": "Plug", "rate": 0.3335, "quantity": 1, "discount": 0.1, "tax_id": gst}
        ]}),
    )
    .await;
    // 24.6912 → 24.691; 0.3335 → 0.334 − 0.1 = 0.234; tax 1.23455 → 1.235 and 0.0117 → 0.012;
    // adjustment −0.0004 → −0.000 (0).
    assert_eq!(inv["line_items"][0]["item_total"], json!(24.691));
    assert_eq!(inv["line_items"][1]["item_total"], json!(0.234));
    assert_eq!(figures(&inv), (json!(24.925), json!(1.247), json!(0.1), json!(26.172)));
    assert_eq!(inv["exchange_rate"], json!(3.25));
    b.emu.stop().await;
}

#[tokio::test]
async fn entity_discounts_before_and_after_tax_in_euro() {
    let b = Books::start().await;
    let customer = b.customer("Paris SARL", Some("EUR")).await;
    let vat = b.tax("VAT").await; // 20 %
    let gst = b.tax("GST").await; // 5 %
    let lines = json!([{"name": "A", "rate": 100, "tax_id": vat}, {"name": "B", "rate": 50, "tax_id": gst}]);
    // 10 % before tax: 15 spread 10 / 5; VAT 18, GST 2.25.
    let before =
        invoice(&b, json!({"customer_id": customer, "discount_type": "entity_level", "discount": "10%", "is_discount_before_tax": true, "line_items": lines}))
            .await;
    assert_eq!(figures(&before), (json!(150), json!(20.25), json!(15), json!(155.25)));
    assert_eq!(before["discount_amount"], json!(15));
    // 10 after tax, with shipping 5 and adjustment −0.5: 150 + 22.5 − 10 + 5 − 0.5.
    let after = invoice(
        &b,
        json!({"customer_id": customer, "discount_type": "entity_level", "discount": 10, "is_discount_before_tax": false,
               "shipping_charge": 5, "adjustment": -0.5, "line_items": lines}),
    )
    .await;
    assert_eq!(figures(&after), (json!(150), json!(22.5), json!(10), json!(167)));
    assert_eq!(after["is_discount_before_tax"], false);
    assert_eq!(after["discount_type"], "entity_level");
    b.emu.stop().await;
}

#[tokio::test]
async fn inclusive_tax_is_extracted_and_item_level_discounts_apply_per_line() {
    let b = Books::start().await;
    let customer = b.customer("Inclusive Ltd", None).await;
    let vat = b.tax("VAT").await;
    let sales = b.tax("Sales Tax").await; // 8.25 %
    let inclusive =
        invoice(&b, json!({"customer_id": customer, "is_inclusive_tax": true, "line_items": [{"name": "Gross", "rate": 120, "tax_id": vat}]})).await;
    assert_eq!(figures(&inclusive), (json!(120), json!(20), json!(0), json!(120)));
    let lines = invoice(
        &b,
        json!({"customer_id": customer, "discount_type": "item_level", "line_items": [
            {"name": "P", "rate": 19.99, "quantity": 3, "discount": "10%", "tax_id": sales},
            {"name": "A", "rate": 100, "quantity": 1, "discount": 15, "tax_id": sales}
        ]}),
    )
    .await;
    // 59.97 − 6.00 = 53.97 and 100 − 15 = 85; tax 4.45 + 7.01.
    assert_eq!(lines["line_items"][0]["discount_amount"], json!(6));
    assert_eq!(figures(&lines), (json!(138.97), json!(11.46), json!(21), json!(150.43)));
    b.emu.stop().await;
}

#[tokio::test]
async fn a_tax_exemption_leaves_every_line_untaxed_and_an_unknown_one_is_refused() {
    let b = Books::start().await;
    let (s, ex) = b
        .post("/settings/taxexemptions", json!({"tax_exemption_code": "EU-RC", "type": "customer", "description": "Reverse charge: VAT due by the customer"}))
        .await;
    assert_eq!((s, ex["message"].as_str()), (200, Some("Tax Exemption has been added.")), "{ex}");
    let exemption = ex["tax_exemption"]["tax_exemption_id"].as_str().unwrap().to_string();
    let (s, dup) = b.post("/settings/taxexemptions", json!({"tax_exemption_code": "eu-rc", "type": "customer"})).await;
    assert_eq!((s, dup["code"].as_i64()), (400, Some(1001)), "{dup}");
    let (_, listed) = b.get("/settings/taxexemptions").await;
    assert_eq!(listed["tax_exemptions"][0]["tax_exemption_code"], "EU-RC");

    let customer = b.customer("Berlin GmbH", Some("EUR")).await;
    let vat = b.tax("VAT").await;
    let inv =
        invoice(&b, json!({"customer_id": customer, "tax_exemption_id": exemption, "line_items": [{"name": "Consulting", "rate": 1000, "tax_id": vat}]})).await;
    assert_eq!(figures(&inv), (json!(1000), json!(0), json!(0), json!(1000)));
    assert_eq!((inv["tax_exemption_id"].as_str(), inv["tax_exemption_code"].as_str()), (Some(exemption.as_str()), Some("EU-RC")));
    assert_eq!(inv["line_items"][0]["tax_id"], "");
    let (s, cn) = b
        .post("/creditnotes", json!({"customer_id": customer, "tax_exemption_id": exemption, "line_items": [{"name": "Refund", "rate": 100, "tax_id": vat}]}))
        .await;
    assert_eq!(s, 201, "{cn}");
    assert_eq!((cn["creditnote"]["total"].clone(), cn["creditnote"]["tax_exemption_id"].as_str()), (json!(100), Some(exemption.as_str())));

    let (s, bad) = b.post("/invoices", json!({"customer_id": customer, "tax_exemption_id": "460000000999999", "line_items": [{"name": "X", "rate": 1}]})).await;
    assert_eq!((s, bad["code"].as_i64(), bad["message"].as_str()), (400, Some(4), Some("Invalid value passed for tax_exemption_id")));
    // In use: not deletable.
    let (s, _) = b.delete(&format!("/settings/taxexemptions/{exemption}")).await;
    assert_eq!(s, 400);
    b.emu.stop().await;
}

#[tokio::test]
async fn a_document_in_another_currency_than_its_customers_is_refused() {
    let b = Books::start().await;
    let customer = b.customer("Dollar Inc", None).await;
    let eur = b.currency("EUR").await;
    let (s, refused) = b.post("/invoices", json!({"customer_id": customer, "currency_id": eur, "line_items": [{"name": "X", "rate": 1}]})).await;
    assert_eq!((s, refused["code"].as_i64()), (400, Some(4)), "{refused}");
    let (_, none) = b.get(&format!("/invoices?customer_id={customer}")).await;
    assert_eq!(none["invoices"], json!([]));
    let usd = b.currency("USD").await;
    let inv = invoice(&b, json!({"customer_id": customer, "currency_id": usd, "line_items": [{"name": "X", "rate": 1}]})).await;
    assert_eq!(inv["exchange_rate"], json!(1));
    b.emu.stop().await;
}
