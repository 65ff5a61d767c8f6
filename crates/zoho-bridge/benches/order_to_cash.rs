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
