//! `hub-faults`: the fault suite's tools (`scripts/faults.sh`).
//!
//! - `hub-faults proxy`: a TCP proxy between a node and Redis that delays,
//!   loses, holds (a partition) and cuts on command (`proxy.rs`);
//! - `hub-faults workload`: users that keep sessions on the nodes, send
//!   stored messages, acknowledge, watch and ping, recording every
//!   operation into a history (`workload.rs`);
//! - `hub-faults check`: reads the history (and the runner's fault lines)
//!   and reports every broken guarantee (`check.rs`): the report as JSON on
//!   stdout, exit code 1 when there is a violation.

mod check;
mod feed;
mod history;
mod proxy;
mod workload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The fault suite's tools.
#[derive(Debug, Parser)]
#[command(about)]
enum Command {
    /// A TCP proxy that injects faults on command.
    Proxy {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        target: SocketAddr,
        /// Where commands come, one per line: pass, delay MS, loss PERCENT, hold, cut.
        #[arg(long)]
        control: SocketAddr,
    },
    /// Users that use the hub and record what they do and see.
    Workload {
        /// A node's WebSocket URL; several, and each user moves on to the
        /// next when its session ends.
        #[arg(long = "url", required = true)]
        urls: Vec<String>,
        #[arg(long, default_value_t = 6)]
        users: usize,
        /// Seconds of sending.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Seconds after the sending, for what was queued to be handed over.
        #[arg(long, default_value_t = 10)]
        drain_seconds: u64,
        /// Sends per second per user.
        #[arg(long, default_value_t = 10)]
        rate: u32,
        /// Where the history goes (JSON lines).
        #[arg(long)]
        history: PathBuf,
    },
    /// Checks histories (merged by time) and reports the guarantees they break.
    Check {
        /// History files (JSON lines): the workload's, the runner's faults.
        #[arg(required = true)]
        histories: Vec<PathBuf>,
        /// How long an older session may still look alive after a newer
        /// one of its address connected.
        #[arg(long, default_value_t = 15_000)]
        eviction_ms: u64,
        /// How long a session must stay open after an ack for the ack to
        /// count as taken.
        #[arg(long, default_value_t = 1_000)]
        ack_settle_ms: u64,
        /// How long a send may go unanswered while its sender is connected.
        #[arg(long, default_value_t = 5_000)]
        answer_ms: u64,
    },
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hub-faults: {e}");
            return ExitCode::from(2);
        }
    };
    match Command::parse() {
        Command::Proxy {
            listen,
            target,
            control,
        } => match runtime.block_on(proxy::run(listen, target, control)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hub-faults proxy: {e}");
                ExitCode::from(2)
            }
        },
        Command::Workload {
            urls,
            users,
            seconds,
            drain_seconds,
            rate,
            history,
        } => {
            let plan = workload::Plan {
                urls,
                users: users.max(2),
                sending: Duration::from_secs(seconds),
                drain: Duration::from_secs(drain_seconds),
                rate,
            };
            match runtime.block_on(workload::run(plan, &history)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hub-faults workload: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Check {
            histories,
            eviction_ms,
            ack_settle_ms,
            answer_ms,
        } => check_files(
            &histories,
            check::Bounds {
                eviction_ms,
                ack_settle_ms,
                answer_ms,
            },
        ),
    }
}

fn check_files(histories: &[PathBuf], bounds: check::Bounds) -> ExitCode {
    let mut events = Vec::new();
    for path in histories {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("hub-faults: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        for (number, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match history::Event::parse(line) {
                Ok(event) => events.push(event),
                Err(e) => {
                    eprintln!("hub-faults: {}:{}: {e}", path.display(), number + 1);
                    return ExitCode::from(2);
                }
            }
        }
    }
    // One time line (a stable sort keeps each file's own order).
    events.sort_by_key(|e| e.t);
    let report = check::check(&events, bounds);
    println!("{}", report.to_json());
    if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
