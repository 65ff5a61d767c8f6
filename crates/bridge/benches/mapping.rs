//! Cost of the field mapper per record: the default `catalog_sync` mapping (a `when`
//! filter and five field expressions) evaluated over 20,000 CRM products, as a flow
//! does it (`Mapping::evaluate`: `when`, then the payload, the record converted once).
//!
//! `cargo bench -p bridge --bench mapping` (records: `MAPPING_BENCH_RECORDS`, default
//! 20,000). Prints the mean microseconds per record for `evaluate`, and for `apply`
//! alone.

use std::{hint::black_box, time::Instant};

use bridge::{
    flows::catalog_sync::CatalogSync,
    mapping::{Input, Outcome},
};
use serde_json::{Value, json};

fn main() {
    let records: usize = std::env::var("MAPPING_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    // The mapping catalog_sync ships (flows::catalog_sync::DEFAULTS), compiled as the flow does.
    let flow = CatalogSync::default();
    let mapping = flow.mapping();
    let products: Vec<Value> = (0..records)
        .map(|i| {
            json!({
                "id": format!("{}", 4_000_000_000_000u64 + i as u64),
                "Product_Name": format!("  Product {i} "),
                "Product_Code": if i % 10 == 0 { Value::Null } else { json!(format!("SKU-{i:06}")) },
                "Unit_Price": (i % 10_000) as f64 / 100.0 + 0.99,
                "Description": if i % 3 == 0 { Value::Null } else { json!("A product used in the mapping benchmark.") },
                "Product_Active": i % 7 != 0,
                "Modified_Time": "2024-05-01T10:00:00+02:00",
            })
        })
        .collect();
    let related = json!({});
    let now: jiff::Timestamp = "2024-05-31T12:00:00Z".parse().expect("time");

    // Warm-up.
    for product in products.iter().take(1_000) {
        black_box(mapping.evaluate(&Input { source: product, related: &related, now }).expect("evaluate"));
    }

    let start = Instant::now();
    let mut mapped = 0usize;
    for product in &products {
        if let Outcome::Payload(payload) = mapping.evaluate(&Input { source: product, related: &related, now }).expect("evaluate") {
            mapped += payload.len();
        }
    }
    let evaluate = start.elapsed();

    let start = Instant::now();
    for product in &products {
        black_box(mapping.apply(&Input { source: product, related: &related, now }).expect("apply"));
    }
    let apply = start.elapsed();

    println!(
        "mapping catalog_sync: {records} records, evaluate (when + payload) {:.2} µs/record, apply {:.2} µs/record ({mapped} fields written)",
        evaluate.as_secs_f64() * 1e6 / records as f64,
        apply.as_secs_f64() * 1e6 / records as f64,
    );
}
