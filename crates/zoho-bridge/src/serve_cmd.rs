//! `zoho-bridge serve`: the whole engine in one process, configured by one file.
//!
//! It reads the config file (`zoho-bridge.toml`, see `examples/zoho-bridge.toml`), starts
//! [`zoho_bridge::server::Server`] (webhooks, `/metrics`, `/healthz`, `/readyz`, the agent
//! gateway at `/mcp`, the dashboard, the channel keeper, the pollers, the overdue scan,
//! pruning, and a worker), says on stdout where it listens, and on Ctrl-C or SIGTERM
//! stops it (the running jobs finish) and says what it did. More workers can share a
//! PostgreSQL store with `zoho-bridge worker`; the processes on one store share the
//! organisation's rate budget (`bridge::budget_share`).

use std::path::PathBuf;

use bridge::{
    config::{BridgeConfig, DEFAULT_CONFIG_FILE},
    flows,
    store::Store,
};
use zoho_bridge::server::Server;

/// Flags of `zoho-bridge serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, short, default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// Check the config file, and the environment variables it names, and exit: 0 when
    /// `serve` can start with it, 1 with the file, line, column and setting at fault.
    #[arg(long)]
    pub check_config: bool,
}

/// Runs the engine until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // The error already names the file, line, column and field.
    let loaded = BridgeConfig::load(&args.config, &flows::names());
    if args.check_config {
        // One line either way, for people and CI logs (no "Error:" wrapping or backtrace).
        match loaded {
            Ok(_) => println!("{}: ok", args.config.display()),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }
    let config = loaded.map_err(|e| anyhow::anyhow!("{e}"))?;
    zoho_bridge::logging::init(&config.log, "info")?;
    let server = Server::start(&config, None, bridge::triggers::Clock::system()).await?;
    // A line on stdout when everything is up (tests and scripts wait for it).
    say(&format!("zoho-bridge serving on http://{} (webhooks under /hooks, metrics at /metrics, health at /healthz and /readyz)", server.addr));
    if let Some(url) = &server.dashboard_url {
        say(&format!("dashboard at {url} ({})", zoho_bridge::dashboard::login_hint(&config.dashboard)));
    }
    zoho_bridge::connection::shutdown_signal().await;
    let store = server.store.clone();
    let stats = server.stop().await?;
    say(&format!("zoho-bridge stopped: {stats} in this run; jobs in the store: {}", bridge::store::job_counts_text(&store.job_counts().await?)));
    store.close().await;
    Ok(())
}

/// Writes `line` on stdout. A stdout nobody reads any more (a script that read the first
/// line and closed the pipe) must not stop the engine, as `println!` would by panicking.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        tracing::debug!(line, "stdout is closed; the line is only logged");
    }
}
