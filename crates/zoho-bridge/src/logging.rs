//! Where the binary's log goes and how it looks.
//!
//! `tracing` events, filtered by `RUST_LOG` (default given by the command), written to
//! standard error (standard output is for what a command answers: JSON lines, the
//! `serving on` line) or appended to a file, as text for people or as JSON lines for
//! log collectors (`[log]` in the config file; `ZOHO_BRIDGE_LOG_FORMAT` and
//! `ZOHO_BRIDGE_LOG_FILE` override it). Colour codes are written only to a terminal:
//! a file or a pipe gets plain text.

use std::{
    fs::OpenOptions,
    io::IsTerminal,
    path::{Path, PathBuf},
    sync::Mutex,
};

use anyhow::{Context, bail};
use bridge::config::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;

/// Environment variable overriding `log.format` (`text` or `json`).
pub const FORMAT_ENV: &str = "ZOHO_BRIDGE_LOG_FORMAT";

/// Environment variable overriding `log.file` (empty: standard error).
pub const FILE_ENV: &str = "ZOHO_BRIDGE_LOG_FILE";

/// `settings` with what the environment overrides (`env` stands for it).
pub fn with_env(settings: &LogSettings, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<LogSettings> {
    let mut settings = settings.clone();
    if let Some(format) = env(FORMAT_ENV) {
        settings.format = match LogFormat::parse(format.trim()) {
            Some(format) => format,
            None => bail!("{FORMAT_ENV}={format:?}: not a log format (text or json)"),
        };
    }
    if let Some(file) = env(FILE_ENV) {
        settings.file = (!file.is_empty()).then(|| PathBuf::from(file));
    }
    Ok(settings)
}

/// Starts logging for the process as `settings` (with the environment's overrides) say,
/// at `default_level` unless `RUST_LOG` says otherwise. Fails when the log file cannot
/// be opened, naming it.
pub fn init(settings: &LogSettings, default_level: &str) -> anyhow::Result<()> {
    let settings = with_env(settings, |name| std::env::var(name).ok())?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match &settings.file {
        Some(path) => {
            let file = open(path)?;
            match settings.format {
                LogFormat::Text => builder.with_ansi(false).with_writer(Mutex::new(file)).try_init(),
                LogFormat::Json => builder.json().with_ansi(false).with_writer(Mutex::new(file)).try_init(),
            }
        }
        None => {
            let ansi = std::io::stderr().is_terminal();
            match settings.format {
                LogFormat::Text => builder.with_ansi(ansi).with_writer(std::io::stderr).try_init(),
                LogFormat::Json => builder.json().with_ansi(false).with_writer(std::io::stderr).try_init(),
            }
        }
    }
    .map_err(|e| anyhow::anyhow!("starting the log: {e}"))
}

/// Opens `path` for appending, creating it.
fn open(path: &Path) -> anyhow::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening the log file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_file_and_names_itself_when_wrong() {
        let file = LogSettings { format: LogFormat::Text, file: Some("bridge.log".into()) };
        let env = |pairs: &'static [(&'static str, &'static str)]| move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
        assert_eq!(with_env(&file, env(&[])).unwrap(), file);
        let json = with_env(&file, env(&[(FORMAT_ENV, "json"), (FILE_ENV, "")])).unwrap();
        assert_eq!((json.format, json.file), (LogFormat::Json, None), "an empty file means standard error");
        let moved = with_env(&file, env(&[(FILE_ENV, "/var/log/zb.log")])).unwrap();
        assert_eq!(moved.file, Some(PathBuf::from("/var/log/zb.log")));
        let e = with_env(&file, env(&[(FORMAT_ENV, "xml")])).unwrap_err();
        assert_eq!(e.to_string(), "ZOHO_BRIDGE_LOG_FORMAT=\"xml\": not a log format (text or json)");
    }
}
