//! The `hub-server` binary: parse flags, load config, log, serve until a signal.

use std::process::ExitCode;

use clap::Parser;
use hub_server::{Cli, ServerConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(hub_server::config::Command::Genconfig) = &cli.command {
        return match hub_server::genconfig::genconfig() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hub-server genconfig: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match ServerConfig::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hub-server: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(hub_server::config::Command::CheckConfig) = &cli.command {
        return match hub_server::check_config(&config) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hub-server: invalid configuration: {e}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(hub_server::config::Command::Token {
        sub,
        ttl,
        topics,
        addresses,
    }) = &cli.command
    {
        use hub_server::auth::{mint, parse_grants, parse_ttl};
        let grants = parse_grants(topics, addresses);
        let minted = parse_ttl(ttl).and_then(|ttl| mint(&config, sub, ttl, &grants?));
        return match minted {
            Ok(token) => {
                if topics.is_empty() && addresses.is_empty() {
                    eprintln!(
                        "hub-server token: this token grants nothing; add e.g. \
                         --topic 'chat:*=subscribe,publish' --address '*=send'"
                    );
                }
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hub-server token: {e}");
                ExitCode::from(2)
            }
        };
    }
    let strangers = hub_server::config::unknown_env_vars();
    if cli.print_config {
        for name in &strangers {
            eprintln!("hub-server: warning: ignoring {name}: not a config key");
        }
        match config.to_printable_toml() {
            Ok(text) => print!("{text}"),
            Err(e) => eprintln!("hub-server: cannot print config: {e}"),
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = hub_server::telemetry::init(config.log_format, &config.log_level) {
        eprintln!("hub-server: invalid configuration: {e}");
        return ExitCode::from(2);
    }
    for name in &strangers {
        tracing::warn!(variable = %name, "ignoring an environment variable that is not a config key");
    }
    // A reload reads the file, the environment and the flags again.
    let source: hub_server::reload::Source = Box::new(move || ServerConfig::load(&cli));
    match actix_rt::System::new().block_on(hub_server::run_until_signal(config, Some(source))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub-server: {e}");
            ExitCode::FAILURE
        }
    }
}
