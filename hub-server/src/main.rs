//! The `hub-server` binary: parse flags, load config, log, serve until a signal.

use std::process::ExitCode;

use clap::Parser;
use hub_server::{Cli, ServerConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(hub_server::config::Command::Genconfig { starter }) = &cli.command {
        if *starter {
            print!("{}", hub_server::starter::starter());
            return ExitCode::SUCCESS;
        }
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
            let json = cli.command.is_none() && hub_server::telemetry::json_asked(&cli);
            fatal(json, &format!("invalid configuration: {e}"));
            return ExitCode::from(2);
        }
    };
    if let Some(hub_server::config::Command::Healthcheck) = &cli.command {
        return match hub_server::healthcheck::healthcheck(&config) {
            Ok(said) => {
                println!("{said}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hub-server healthcheck: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let strangers = hub_server::config::unknown_env_vars();
    if let Some(hub_server::config::Command::CheckConfig) = &cli.command {
        // The server only warns (other programs share the environment);
        // a check is strict: a misspelt variable is a setting not in force.
        let checked = match strangers.first() {
            Some(name) => Err(hub_server::config::stranger_with_suggestion(name)),
            None => hub_server::check_config(&config),
        };
        return match checked {
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
        jti,
        channels,
        subscription,
        rights,
    }) = &cli.command
    {
        use hub_server::auth::{mint_with, parse_grants, parse_ttl, MoreClaims};
        let grants = parse_grants(topics, addresses);
        let more = MoreClaims {
            jti: jti.clone(),
            channels: channels.clone(),
            topic: subscription.clone(),
            rights: rights.clone(),
        };
        let minted = parse_ttl(ttl).and_then(|ttl| mint_with(&config, sub, ttl, &grants?, &more));
        return match minted {
            Ok(token) => {
                if topics.is_empty()
                    && addresses.is_empty()
                    && channels.is_empty()
                    && subscription.is_none()
                {
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
    if cli.print_config {
        for name in &strangers {
            let why = hub_server::config::stranger_with_suggestion(name);
            eprintln!("hub-server: warning: ignoring {why}");
        }
        match config.to_printable_toml() {
            Ok(text) => print!("{text}"),
            Err(e) => eprintln!("hub-server: cannot print config: {e}"),
        }
        return ExitCode::SUCCESS;
    }
    let json = config.log_format == hub_server::config::LogFormat::Json;
    if let Err(e) = hub_server::telemetry::init(config.log_format, &config.log_level) {
        fatal(json, &format!("invalid configuration: {e}"));
        return ExitCode::from(2);
    }
    for name in &strangers {
        let why = hub_server::config::stranger_with_suggestion(name);
        tracing::warn!(variable = %name, "ignoring {why}");
    }
    // A reload reads the file, the environment and the flags again.
    let source: hub_server::reload::Source = Box::new(move || ServerConfig::load(&cli));
    match actix_rt::System::new().block_on(hub_server::run_until_signal(config, Some(source))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fatal(json, &e.to_string());
            ExitCode::FAILURE
        }
    }
}

/// The reason the server cannot start or go on: a JSON log line when JSON
/// logs are asked for (so a log pipeline gets it whole), else plain text
/// on stderr.
fn fatal(json: bool, message: &str) {
    if json {
        let _ = hub_server::telemetry::init(hub_server::config::LogFormat::Json, "error");
        tracing::error!(error = message, "hub-server cannot run");
    } else {
        eprintln!("hub-server: {message}");
    }
}
