//! Following a Sentinel failover at once. fred finds the primary through
//! the sentinels when it connects, and connects again when the primary it
//! has refuses a write (`READONLY`). But after a failover the old primary
//! may stay up as a primary for seconds (until the sentinels reconfigure
//! it, up to about ten): it keeps taking writes, and when it is made a
//! replica of the new one it drops them all — stored messages answered
//! `queued`, acknowledgements, claims. So each node also listens to the
//! sentinels' `+switch-master` and connects again to the new primary the
//! moment one announces it (found by the fault suite's failover scenario).
//!
//! That still leaves the second between the promotion and the
//! announcement. When a sentinel begins to promote a replica
//! (`+failover-state-send-slaveof-noone`) the node therefore pauses writes
//! on the old primary (`CLIENT PAUSE ... WRITE`, as Redis's own `FAILOVER`
//! does): what the nodes write meanwhile waits there unexecuted, and is
//! dropped, unexecuted, when they connect to the new primary (the commands
//! fail, and the sends are answered `unavailable`, to be sent again).
//! A primary that died cannot be paused; nothing was taken then either.

use std::sync::{Arc, Mutex};

use fred::prelude::{Client, ClientLike, Config, EventInterface, PubsubInterface, Server};
use fred::types::config::ServerConfig;

/// The channel on which sentinels announce a new primary.
const SWITCH: &str = "+switch-master";

/// The channel on which sentinels say they promote a replica now.
const PROMOTING: &str = "+failover-state-send-slaveof-noone";

/// How long the old primary's writes stay paused at most: past a
/// failover's usual length; the sentinels make it a replica meanwhile, or
/// the failover failed and it takes writes again.
const PAUSE_MS: u64 = 10_000;

/// Starts, on the current runtime, one listener per sentinel named in
/// `config` (a `redis-sentinel` URL's): each connects `clients` again when
/// a sentinel announces a new primary for the service. Nothing for
/// another kind of URL.
pub(super) fn follow(config: &Config, clients: Vec<Client>) -> Result<(), String> {
    let ServerConfig::Sentinel {
        hosts,
        service_name,
        ..
    } = &config.server
    else {
        return Ok(());
    };
    let clients = Arc::new(clients);
    // The primary last acted on: every sentinel announces each switch.
    let last = Arc::new(Mutex::new(String::new()));
    for host in hosts {
        let sentinel = Config {
            server: ServerConfig::Centralized {
                server: Server::new(host.host.clone(), host.port),
            },
            tls: config.tls.clone(),
            // Started whether or not the sentinel answers yet.
            fail_fast: false,
            ..Config::default()
        };
        let listener = fred::prelude::Builder::from_config(sentinel)
            .set_policy(fred::prelude::ReconnectPolicy::new_exponential(
                0, 100, 2_000, 2,
            ))
            .build()
            .map_err(|e| format!("redis sentinel client: {e}"))?;
        actix_rt::spawn(listen(
            listener,
            (service_name.clone(), Arc::new(config.clone())),
            clients.clone(),
            last.clone(),
        ));
    }
    Ok(())
}

/// One sentinel's listener: runs as long as the runtime.
async fn listen(
    listener: Client,
    (service, config): (String, Arc<Config>),
    clients: Arc<Vec<Client>>,
    last: Arc<Mutex<String>>,
) {
    let mut messages = listener.message_rx();
    let mut reconnects = listener.reconnect_rx();
    drop(listener.connect());
    loop {
        // Subscribed again after each reconnect (a new connection has none).
        if listener.wait_for_connect().await.is_ok() {
            let _ = listener.subscribe(vec![SWITCH, PROMOTING]).await;
        }
        loop {
            tokio::select! {
                message = messages.recv() => {
                    let Ok(message) = message else { return };
                    let Some(text) = message.value.as_string() else { continue };
                    if *message.channel == *PROMOTING {
                        if let Some(primary) = promoting_from(&text, &service) {
                            actix_rt::spawn(pause(config.clone(), primary));
                        }
                        continue;
                    }
                    // "<service> <old ip> <old port> <new ip> <new port>"
                    let mut words = text.split_whitespace();
                    if words.next() != Some(service.as_str()) {
                        continue;
                    }
                    let primary: Vec<&str> = words.skip(2).collect();
                    let primary = primary.join(":");
                    {
                        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                        if *last == primary {
                            continue;
                        }
                        last.clone_from(&primary);
                    }
                    tracing::warn!(%primary, "redis sentinel: a new primary; connecting to it");
                    for client in clients.iter() {
                        let client = client.clone();
                        actix_rt::spawn(async move {
                            let _ = client.force_reconnection().await;
                        });
                    }
                }
                reconnected = reconnects.recv() => {
                    if reconnected.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

/// The primary a `+failover-state-send-slaveof-noone` of `service` is
/// promoting a replica away from: "<kind> <name> <ip> <port> @ <service>
/// <primary ip> <primary port>".
fn promoting_from(text: &str, service: &str) -> Option<Server> {
    let (_, primary) = text.split_once(" @ ")?;
    let mut words = primary.split_whitespace();
    if words.next() != Some(service) {
        return None;
    }
    let host = words.next()?;
    let port = words.next()?.parse().ok()?;
    Some(Server::new(host, port))
}

/// Pauses writes on `primary` (see the module docs), connecting with the
/// credentials and TLS of the node's own connections.
async fn pause(config: Arc<Config>, primary: Server) {
    let direct = Config {
        server: ServerConfig::Centralized {
            server: primary.clone(),
        },
        username: config.username.clone(),
        password: config.password.clone(),
        tls: config.tls.clone(),
        ..Config::default()
    };
    let Ok(client) = fred::prelude::Builder::from_config(direct).build() else {
        return;
    };
    let paused = async {
        drop(client.connect());
        client.wait_for_connect().await?;
        let command = fred::types::CustomCommand::new_static("CLIENT", None, false);
        let args: Vec<fred::prelude::Value> =
            vec!["PAUSE".into(), PAUSE_MS.to_string().into(), "WRITE".into()];
        client
            .custom::<fred::prelude::Value, _>(command, args)
            .await?;
        client.quit().await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), paused).await {
        Ok(Ok(())) => {
            tracing::warn!(primary = %primary, "redis sentinel: a failover begins; writes paused on the old primary");
        }
        Ok(Err(error)) => {
            tracing::warn!(primary = %primary, %error, "redis sentinel: could not pause the old primary's writes");
        }
        Err(_) => {
            tracing::warn!(primary = %primary, "redis sentinel: the old primary did not answer the pause");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_a_promotion_leaves_is_read_from_the_event() {
        let event = "slave 127.0.0.1:6380 127.0.0.1 6380 @ hub 127.0.0.1 6379";
        let primary = promoting_from(event, "hub").expect("a primary");
        assert_eq!((&*primary.host, primary.port), ("127.0.0.1", 6379));
        assert!(promoting_from(event, "other").is_none());
        assert!(promoting_from("garbage", "hub").is_none());
    }
}
