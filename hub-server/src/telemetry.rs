//! Log setup: `RUST_LOG`-style filtering, human or JSON lines. Session
//! fields (session id, address, trace id) come from the session span.
//!
//! The filter is `log_level` when set, else `RUST_LOG`, else `info`; a
//! reload changes it in place ([`set_level`]).

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Replaces the installed subscriber's filter.
type SetFilter = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// Set once, by [`init`].
static FILTER: OnceLock<SetFilter> = OnceLock::new();

/// The filter `log_level` names (`RUST_LOG`, or `info`, when it is empty).
///
/// # Errors
/// A directive that does not parse, named.
pub fn filter(log_level: &str) -> Result<EnvFilter, String> {
    if log_level.is_empty() {
        return Ok(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    }
    EnvFilter::try_new(log_level).map_err(|e| format!("log_level `{log_level}`: {e}"))
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
///
/// # Errors
/// `log_level` does not parse.
pub fn init(format: LogFormat, log_level: &str) -> Result<(), String> {
    let filter = filter(log_level)?;
    let set: SetFilter = match format {
        LogFormat::Human => {
            // Colours only for a person at a terminal, not into a file or
            // a pipe (where the escape codes would be noise).
            let builder = tracing_subscriber::fmt()
                .with_ansi(std::io::stdout().is_terminal())
                .with_env_filter(filter)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            if builder.try_init().is_err() {
                return Ok(());
            }
            Box::new(move |filter| handle.reload(filter).map_err(|e| e.to_string()))
        }
        LogFormat::Json => {
            let builder = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_env_filter(filter)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            if builder.try_init().is_err() {
                return Ok(());
            }
            Box::new(move |filter| handle.reload(filter).map_err(|e| e.to_string()))
        }
    };
    let _ = FILTER.set(set);
    Ok(())
}

/// Whether JSON logs are asked for, read from the flags and environment
/// alone: for the error of a config that does not load.
pub fn json_asked(cli: &crate::Cli) -> bool {
    let set_json = |v: &str| v.trim().trim_matches('"').eq_ignore_ascii_case("json");
    cli.log_json
        || std::env::var("SIGNAL_HUB_LOG_FORMAT").is_ok_and(|v| set_json(&v))
        || cli.overrides.iter().any(|o| {
            o.split_once('=')
                .is_some_and(|(k, v)| k.trim() == "log_format" && set_json(v))
        })
}

/// Filters with `log_level` from now (a reload). Nothing to do in a
/// process that did not [`init`] its logs (an embedding app's own).
///
/// # Errors
/// `log_level` does not parse; the filter in force stays.
pub fn set_level(log_level: &str) -> Result<(), String> {
    let filter = filter(log_level)?;
    match FILTER.get() {
        Some(set) => set(filter),
        None => Ok(()),
    }
}
