//! Following a Sentinel failover at once. fred finds the primary through
//! the sentinels when it connects, and connects again when the primary it
//! has refuses a write (`READONLY`). But after a failover the old primary
//! may stay up as a primary for seconds (until the sentinels reconfigure
//! it, up to about ten): it keeps taking writes, and when it is made a
//! replica of the new one it drops them all — stored messages answered
//! `queued`, acknowledgements, claims. So each node also listens to the
//! sentinels' `+switch-master` and connects again to the new primary the
//! moment one announces it (found by the fault suite's failover scenario).

use std::sync::{Arc, Mutex};

use fred::prelude::{Client, ClientLike, Config, EventInterface, PubsubInterface, Server};
use fred::types::config::ServerConfig;

/// The channel on which sentinels announce a new primary.
const SWITCH: &str = "+switch-master";

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
            service_name.clone(),
            clients.clone(),
            last.clone(),
        ));
    }
    Ok(())
}

/// One sentinel's listener: runs as long as the runtime.
async fn listen(
    listener: Client,
    service: String,
    clients: Arc<Vec<Client>>,
    last: Arc<Mutex<String>>,
) {
    let mut messages = listener.message_rx();
    let mut reconnects = listener.reconnect_rx();
    drop(listener.connect());
    loop {
        // Subscribed again after each reconnect (a new connection has none).
        if listener.wait_for_connect().await.is_ok() {
            let _ = listener.subscribe(SWITCH).await;
        }
        loop {
            tokio::select! {
                message = messages.recv() => {
                    let Ok(message) = message else { return };
                    let Some(text) = message.value.as_string() else { continue };
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
