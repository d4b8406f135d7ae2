//! The command line: the flags of serving, and the commands other than
//! serving (`check-config`, `healthcheck`, `genconfig`, `token`).

use std::path::PathBuf;

use clap::Parser;

/// Signal Hub: a real-time message hub over WebSocket.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// TOML config file (every key is optional; see docs/PROTOCOL.md "Limits").
    #[arg(short, long, env = "SIGNAL_HUB_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long)]
    pub bind: Option<String>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    pub log_json: bool,
    /// Override any config key, e.g. `--set rate_limit_per_sec=100`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub overrides: Vec<String>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A command other than serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check the configuration (file, environment, `--set`) without serving:
    /// every key and value, and the files it names (TLS certificate and key,
    /// JWT keys). Exits 0 when the server would start with it, 2 if not.
    CheckConfig,
    /// Ask the server this configuration describes, on this host, whether
    /// it is ready (`GET /ready`): exit 0 if so, 1 if not. For a container's
    /// HEALTHCHECK; the admin listener is asked when there is one.
    Healthcheck,
    /// Print a configuration file with every key commented out at its
    /// default, each under what it does (from docs/PROTOCOL.md).
    Genconfig {
        /// Print a small configuration to start from instead, with fresh
        /// random secrets: a JWT secret, an API key, a `chat` namespace.
        #[arg(long)]
        starter: bool,
    },
    /// Print a development token for `--sub`, signed with `jwt_hmac_secret`.
    Token {
        /// The address the token is for (its `sub`).
        #[arg(long)]
        sub: String,
        /// How long it is valid: 90s, 15m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// A topic grant, `PATTERN=RIGHT[,RIGHT...]`, e.g.
        /// `chat:*=subscribe,publish` (rights: subscribe, publish, presence,
        /// history). Repeatable. Without any grant the token grants nothing.
        #[arg(long = "topic", value_name = "PATTERN=RIGHTS")]
        topics: Vec<String>,
        /// An address grant, e.g. `bot-*=send` (rights: send, broadcast). Repeatable.
        #[arg(long = "address", value_name = "PATTERN=RIGHTS")]
        addresses: Vec<String>,
        /// The token's id (`jti`), by which `POST /api/revoke` revokes it.
        #[arg(long)]
        jti: Option<String>,
        /// A topic the server subscribes the session to (`channels`). Repeatable.
        #[arg(long = "channel", value_name = "TOPIC")]
        channels: Vec<String>,
        /// Mint a subscription token for this topic instead (`hub:subscribe`'s `token`).
        #[arg(long, value_name = "TOPIC")]
        subscription: Option<String>,
        /// With `--subscription`: its rights beside subscribe, e.g. `publish,history`.
        #[arg(long, value_delimiter = ',')]
        rights: Vec<String>,
    },
}
