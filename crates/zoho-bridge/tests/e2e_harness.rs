//! Keeps the end-to-end bench's harness (`benches/support/mod.rs`, run by
//! `cargo bench -p zoho-bridge --bench e2e`) from rotting: the same code path, with a
//! handful of products at zero latency, checked for correctness only (every product got
//! exactly one Books item, every webhook was acknowledged, the engine's calls were
//! counted). No time is asserted: timing is the bench's job. The order-to-cash harness
//! (`benches/support/order_to_cash.rs`, `cargo bench -p zoho-bridge --bench
//! order_to_cash`) is kept the same way: a dozen deals at zero latency, each must get
//! exactly one invoice.

#[path = "../benches/support/mod.rs"]
mod support;

use clap::Parser;

fn options(args: &[&str]) -> support::Options {
    let base = ["e2e", "--latency-ms", "0", "--poll-ms", "50", "--gap-ms", "50", "--timeout-secs", "120"];
    support::Options::parse_from(base.iter().chain(args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_at_a_time_and_burst_give_each_product_exactly_one_item() {
    for (mode, n) in [("one", "3"), ("burst", "6")] {
        let report = support::run(&options(&["--mode", mode, "-n", n])).await.expect("harness run");
        println!("{}", report.table());
        report.check_one_item_each().unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(report.done(), report.products.len(), "{mode}");
        // The engine read each product in CRM and created its item in Books.
        assert!(report.calls.crm_reads >= report.products.len() as u64, "{mode}: {:?}", report.calls);
        assert!(report.calls.books_writes >= report.products.len() as u64, "{mode}: {:?}", report.calls);
        // The harness's own product creation is not counted as the engine's.
        assert_eq!(report.calls.crm_writes, 0, "{mode}: {:?}", report.calls);
        let json = report.json();
        assert_eq!(json["items"], report.products.len(), "{json}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_gets_every_webhook_acknowledged() {
    let report = support::run(&options(&["--mode", "intake", "-n", "40", "--senders", "4"])).await.expect("harness run");
    println!("{}", report.table());
    let intake = report.intake.as_ref().expect("intake figures");
    assert_eq!((intake.sent, intake.acked, intake.refused), (40, 40, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_to_cash_harness_gives_each_deal_exactly_one_invoice() {
    let args =
        ["order_to_cash", "-n", "12", "--rate", "0", "--latency-ms", "0", "--accounts", "3", "--products", "4", "--poll-ms", "50", "--timeout-secs", "180"];
    let options = support::order_to_cash::Options::parse_from(args);
    let report = support::order_to_cash::run(&options).await.expect("harness run");
    println!("{}", report.table());
    report.check_one_invoice_each().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.done(), 12);
    // Deals with 0, 1, 2 and 3 products were all invoiced.
    let mut lines: Vec<usize> = report.deals.iter().map(|d| d.lines).collect();
    lines.sort();
    lines.dedup();
    assert_eq!(lines, [0, 1, 2, 3]);
    // The engine read the deals and wrote the invoices; the harness's calls are not counted.
    assert!(report.calls.crm_reads >= 12 && report.calls.books_writes >= 12, "{:?}", report.calls);
    assert_eq!(report.json()["invoices"], 12);
}
