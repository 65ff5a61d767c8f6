//! Keeps the end-to-end bench's harness (`benches/support/mod.rs`, run by
//! `cargo bench -p zoho-bridge --bench e2e`) from rotting: the same code path, with a
//! handful of products at zero latency, checked for correctness only (every product got
//! exactly one Books item, every webhook was acknowledged, the engine's calls were
//! counted). No time is asserted: timing is the bench's job.

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
