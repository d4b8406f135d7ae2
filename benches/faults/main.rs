//! `hub-faults`: the fault suite's tools (`scripts/faults.sh`).
//!
//! - `hub-faults check HISTORY`: reads a run's history (JSON lines, see
//!   `history.rs`) and reports every broken guarantee (`check.rs`): the
//!   report as JSON on stdout, exit code 1 when there is a violation.

mod check;
mod history;

use std::process::ExitCode;

use clap::Parser;

/// The fault suite's tools.
#[derive(Debug, Parser)]
#[command(about)]
enum Command {
    /// Checks a history and reports the guarantees it breaks.
    Check {
        /// The history file (JSON lines).
        history: std::path::PathBuf,
        /// How long an older session may still look alive after a newer
        /// one of its address connected.
        #[arg(long, default_value_t = 15_000)]
        eviction_ms: u64,
        /// How long a session must stay open after an ack for the ack to
        /// count as taken.
        #[arg(long, default_value_t = 1_000)]
        ack_settle_ms: u64,
    },
}

fn main() -> ExitCode {
    match Command::parse() {
        Command::Check {
            history,
            eviction_ms,
            ack_settle_ms,
        } => {
            let text = match std::fs::read_to_string(&history) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("hub-faults: {}: {e}", history.display());
                    return ExitCode::from(2);
                }
            };
            let mut events = Vec::new();
            for (number, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                match history::Event::parse(line) {
                    Ok(event) => events.push(event),
                    Err(e) => {
                        eprintln!("hub-faults: {}:{}: {e}", history.display(), number + 1);
                        return ExitCode::from(2);
                    }
                }
            }
            let bounds = check::Bounds {
                eviction_ms,
                ack_settle_ms,
            };
            let report = check::check(&events, bounds);
            println!("{}", report.to_json());
            if report.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
