//! Books price lists (`/pricebooks`) over real HTTP: per-item and percentage lists,
//! unique names, validation with Books' codes, item lines kept across updates, status,
//! list filters and delete.

mod books_support;

use books_support::Books;
use serde_json::{Value, json};

async fn item(b: &Books, name: &str, rate: f64) -> String {
    let (s, body) = b.post("/items", json!({"name": name, "rate": rate})).await;
    assert_eq!(s, 201, "{body}");
    body["item"]["item_id"].as_str().unwrap().to_string()
}

fn per_item(name: &str, lines: Value) -> Value {
    json!({"name": name, "pricebook_type": "per_item", "sales_or_purchase_type": "sales", "pricebook_items": lines})
}

#[tokio::test]
async fn a_per_item_list_keeps_its_rates_and_line_ids_across_updates() {
    let b = Books::start().await;
    let (a, c) = (item(&b, "Alpha", 10.0).await, item(&b, "Beta", 20.0).await);
    let eur = b.currency("EUR").await;
    let mut body = per_item("Wholesale", json!([{"item_id": a, "pricebook_rate": 8.5}, {"item_id": c, "pricebook_rate": 18}]));
    body["currency_id"] = json!(eur);
    body["decimal_place"] = json!(3);
    let (s, created) = b.post("/pricebooks", body).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["message"], "Price list has been created.");
    let pl = &created["pricebook"];
    let id = pl["pricebook_id"].as_str().unwrap().to_string();
    assert_eq!((pl["status"].as_str(), pl["currency_code"].as_str(), pl["decimal_place"].as_u64()), (Some("active"), Some("EUR"), Some(3)));
    assert_eq!((pl["pricing_scheme"].as_str(), pl["rounding_type"].as_str()), (Some("unit"), Some("no_rounding")));
    let lines = pl["pricebook_items"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["item_id"].as_str(), lines[0]["pricebook_rate"].to_string().as_str(), lines[0]["rate"].as_i64()), (Some(a.as_str()), "8.5", Some(10)));
    let alpha_line = lines[0]["pricebook_item_id"].as_str().unwrap().to_string();

    // Update: Alpha's line sent back with its id keeps it; Beta dropped; the currency stays.
    let (s, updated) =
        b.put(&format!("/pricebooks/{id}"), per_item("Wholesale", json!([{"pricebook_item_id": alpha_line, "item_id": a, "pricebook_rate": "7.25"}]))).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["message"], "Price list has been updated.");
    let (_, read) = b.get(&format!("/pricebooks/{id}")).await;
    let pl = &read["pricebook"];
    assert_eq!(pl["currency_id"], eur.as_str());
    assert_eq!(pl["pricebook_items"].as_array().unwrap().len(), 1);
    assert_eq!(pl["pricebook_items"][0]["pricebook_item_id"], alpha_line.as_str());
    assert_eq!(pl["pricebook_items"][0]["pricebook_rate"].to_string(), "7.25");
    // An update without pricebook_items leaves the lines as they are.
    let (s, _) = b.put(&format!("/pricebooks/{id}"), json!({"name": "Wholesale EU", "pricebook_type": "per_item", "sales_or_purchase_type": "sales"})).await;
    assert_eq!(s, 200);
    let (_, read) = b.get(&format!("/pricebooks/{id}")).await;
    assert_eq!((read["pricebook"]["name"].as_str(), read["pricebook"]["pricebook_items"].as_array().unwrap().len()), (Some("Wholesale EU"), 1));
    b.emu.stop().await;
}

#[tokio::test]
async fn names_are_unique_and_bad_bodies_are_refused_with_books_codes() {
    let b = Books::start().await;
    let a = item(&b, "Alpha", 10.0).await;
    let (s, first) = b.post("/pricebooks", per_item("Partner", json!([{"item_id": a, "pricebook_rate": 9}]))).await;
    assert_eq!(s, 201, "{first}");
    let (s, e) = b.post("/pricebooks", per_item("PARTNER", json!([]))).await;
    assert_eq!((s, e["code"].as_i64()), (400, Some(1001)), "{e}");
    assert!(e["message"].as_str().unwrap().contains("PARTNER"), "{e}");
    // Renaming another list onto a taken name is refused too.
    let (_, other) = b.post("/pricebooks", per_item("Other", json!([]))).await;
    let other_id = other["pricebook"]["pricebook_id"].as_str().unwrap();
    let (s, e) = b.put(&format!("/pricebooks/{other_id}"), per_item("partner", json!([]))).await;
    assert_eq!((s, e["code"].as_i64()), (400, Some(1001)), "{e}");

    let refused: &[(Value, &str)] = &[
        (json!({"pricebook_type": "per_item", "sales_or_purchase_type": "sales"}), "name is mandatory"),
        (json!({"name": "X", "sales_or_purchase_type": "sales"}), "pricebook_type is mandatory"),
        (json!({"name": "X", "pricebook_type": "per_item"}), "sales_or_purchase_type is mandatory"),
        (json!({"name": "X", "pricebook_type": "weekly", "sales_or_purchase_type": "sales"}), "Invalid value passed for pricebook_type"),
        (json!({"name": "X", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales"}), "percentage is mandatory"),
        (
            json!({"name": "X", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 120, "is_increase": false}),
            "for percentage",
        ),
        (
            json!({"name": "X", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 5, "rounding_type": "up"}),
            "for rounding_type",
        ),
        (
            json!({"name": "X", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 5, "decimal_place": 7}),
            "for decimal_place",
        ),
        (json!({"name": "X", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 5, "currency_id": "1"}), "for currency_id"),
        (per_item("X", json!([{"item_id": "1", "pricebook_rate": 1}])), "for item_id"),
        (per_item("X", json!([{"item_id": a, "pricebook_rate": -1}])), "for pricebook_rate"),
        (per_item("X", json!([{"item_id": a}])), "pricebook_rate is mandatory"),
        (per_item("X", json!([{"item_id": a, "pricebook_rate": 1}, {"item_id": a, "pricebook_rate": 2}])), "more than once"),
        (per_item("X", json!([{"item_id": a, "pricebook_rate": 1, "pricebook_discount": "5"}])), "for pricebook_discount"),
        (
            per_item(
                "X",
                json!([{"item_id": a, "pricing_scheme": "volume", "price_brackets": [{"start_quantity": 1, "end_quantity": 10, "pricebook_rate": 2}, {"start_quantity": 5, "end_quantity": 0, "pricebook_rate": 1}]}]),
            ),
            "for price_brackets",
        ),
    ];
    for (body, says) in refused {
        let (s, e) = b.post("/pricebooks", body.clone()).await;
        assert_eq!((s, e["code"].as_i64()), (400, Some(4)), "{body} -> {e}");
        assert!(e["message"].as_str().unwrap().contains(says), "{body} -> {e}");
    }
    let (s, e) = b.get("/pricebooks/460000000999999").await;
    assert_eq!((s, e["code"].as_i64(), e["message"].as_str()), (404, Some(1002), Some("Price list does not exist.")));
    b.emu.stop().await;
}

#[tokio::test]
async fn percentage_lists_status_filters_and_delete() {
    let b = Books::start().await;
    let a = item(&b, "Alpha", 10.0).await;
    let (s, markup) = b
        .post(
            "/pricebooks",
            json!({"name": "Markup 4", "pricebook_type": "fixed_percentage", "sales_or_purchase_type": "sales", "percentage": 4, "is_increase": true}),
        )
        .await;
    assert_eq!(s, 201, "{markup}");
    assert_eq!((markup["pricebook"]["percentage"].as_i64(), markup["pricebook"]["is_increase"].as_bool()), (Some(4), Some(true)));
    assert!(markup["pricebook"].get("pricing_scheme").is_none() && markup["pricebook"]["pricebook_items"] == json!([]));
    let (_, buy) = b
        .post("/pricebooks", json!({"name": "Supplier", "pricebook_type": "per_item", "sales_or_purchase_type": "purchases", "pricebook_items": [{"item_id": a, "pricebook_rate": 6}]}))
        .await;
    let buy_id = buy["pricebook"]["pricebook_id"].as_str().unwrap().to_string();

    let names = |body: &Value| body["pricebooks"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (_, all) = b.get("/pricebooks").await;
    assert_eq!(names(&all), ["Markup 4", "Supplier"]);
    let (_, sales) = b.get("/pricebooks?filter_by=SalesOrPurchaseType.Sales").await;
    assert_eq!(names(&sales), ["Markup 4"]);
    let (_, found) = b.get("/pricebooks?search_text=suppl").await;
    assert_eq!(names(&found), ["Supplier"]);
    let (s, e) = b.get("/pricebooks?filter_by=Status.Active").await;
    assert_eq!((s, e["code"].as_i64()), (400, Some(4)));

    let (s, m) = b.post(&format!("/pricebooks/{buy_id}/inactive"), json!({})).await;
    assert_eq!((s, m["message"].as_str()), (200, Some("The price list has been marked inactive.")));
    assert_eq!(b.get(&format!("/pricebooks/{buy_id}")).await.1["pricebook"]["status"], "inactive");
    let (_, m) = b.post(&format!("/pricebooks/{buy_id}/active"), json!({})).await;
    assert_eq!(m["message"], "The price list has been marked active.");
    assert_eq!(b.get(&format!("/pricebooks/{buy_id}")).await.1["pricebook"]["status"], "active");

    let (s, m) = b.delete(&format!("/pricebooks/{buy_id}")).await;
    assert_eq!((s, m["message"].as_str()), (200, Some("Price list has been deleted.")));
    let (s, _) = b.delete(&format!("/pricebooks/{buy_id}")).await;
    assert_eq!(s, 404);
    let (_, all) = b.get("/pricebooks").await;
    assert_eq!(names(&all), ["Markup 4"]);
    b.emu.stop().await;
}
