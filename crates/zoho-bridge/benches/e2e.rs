//! End-to-end latency of `zoho-bridge serve`, measured from the outside: a CRM workflow
//! webhook posted to serve → the Books item created in the emulator, per product, with
//! latency injected on every Zoho call; plus the receiver's intake rate and the Zoho
//! calls the engine spends per product. The harness itself is `support/mod.rs` (shared
//! with the `e2e_harness` test); its doc says how each figure is taken.
//!
//! ```sh
//! cargo bench -p zoho-bridge --bench e2e -- --mode one -n 30            # one product at a time
//! cargo bench -p zoho-bridge --bench e2e -- --mode burst -n 100         # 100 webhooks at once
//! cargo bench -p zoho-bridge --bench e2e -- --mode intake --senders 16  # webhooks/s acknowledged
//! cargo bench -p zoho-bridge --bench e2e -- --mode burst \
//!     --store postgres://postgres@127.0.0.1:5432/postgres --workers 2   # + 2 worker processes
//! cargo bench -p zoho-bridge --bench e2e -- --help                      # every option
//! ```
//!
//! `cargo bench` builds the binary and this harness in the release (bench) profile;
//! `--profile dev` measures a debug build. The table says which. Nothing here asserts a
//! time: it prints figures (and `--json FILE` writes them).

mod support;

use clap::Parser;

fn main() {
    let options = support::Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    if let Err(e) = runtime.block_on(support::main_with(options)) {
        eprintln!("e2e: {e:#}");
        std::process::exit(1);
    }
}
