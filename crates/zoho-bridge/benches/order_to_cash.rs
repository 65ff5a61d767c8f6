//! Order to cash, end to end: deals closing in CRM → their Books invoices through
//! `zoho-bridge serve`, with latency on every Zoho call, timed from the outside
//! (webhook posted → `invoice.created` seen), with the Zoho calls per invoice and the
//! floor (the sequential round trips the data needs × the latency). The harness is
//! `support/order_to_cash.rs`; its doc says how each figure is taken.
//!
//! ```sh
//! cargo bench -p zoho-bridge --bench order_to_cash                     # 1,000 deals, 100 ms, 20/s
//! cargo bench -p zoho-bridge --bench order_to_cash -- --rate 0         # all at once
//! cargo bench -p zoho-bridge --bench order_to_cash -- --help           # every option
//! ```
//!
//! Nothing here asserts a time: it prints figures (and `--json FILE` writes them).
//!
//! Measured (2026-11-29, release, SQLite, 2 cores, 100 ms on every Zoho call, 1,000
//! deals, 50 customers, 0–3 lines each; floor 300 ms = 3 sequential round trips):
//!
//! | arrivals | worker concurrency | p50 | p99 | max | p99 / floor |
//! |---|---|---|---|---|---|
//! | 20/s (default) | 64 | 309.5 ms | 314.2 ms | 317.0 ms | 1.047 |
//! | 100/s | 128 | 309.7 ms | 316.1 ms | 317.4 ms | 1.054 |
//! | all 1,000 at once | 1,000 | 1,572 ms | 2,218 ms | 2,282 ms | 7.4 |
//!
//! 5.0 Zoho calls per invoice: CRM deal + its products (at once), the Books customer,
//! the Books upsert, and the write-back of the invoice id to the deal (after the invoice
//! exists). Every deal had exactly one invoice in each run. All at once, with as many
//! worker slots as deals, the extra time is the engine's own on two cores (1,000 jobs'
//! claims, journal writes and results through one SQLite writer): not yet analysed.

mod support;

use clap::Parser;

fn main() {
    let options = support::order_to_cash::Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    if let Err(e) = runtime.block_on(support::order_to_cash::main_with(options)) {
        eprintln!("order_to_cash: {e:#}");
        std::process::exit(1);
    }
}
