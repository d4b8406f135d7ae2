//! What an operator reads when Redis cannot be reached: fred retries the
//! connection on its own, and without this the only trace is each
//! command's `Request timed out`. One `error` line names the URL, the
//! reason (`Connection refused`, a TLS or auth failure) and what to check,
//! repeated at most every `REPEAT_EVERY` while it lasts; one `info` line
//! says when the link is back.

use std::time::{Duration, Instant};

use fred::clients::Client;
use fred::interfaces::EventInterface;
use tokio::sync::broadcast::error::RecvError;

/// Least time between two lines about the same outage.
const REPEAT_EVERY: Duration = Duration::from_secs(30);

/// Watches `client`'s connection events, logging as the module says.
pub(super) fn watch(client: &Client, url: String) {
    let mut errors = client.error_rx();
    let mut connects = client.reconnect_rx();
    tokio::spawn(async move {
        let mut down_since: Option<Instant> = None;
        let mut told: Option<Instant> = None;
        loop {
            tokio::select! {
                event = errors.recv() => match event {
                    Ok((error, server)) => {
                        let now = Instant::now();
                        down_since.get_or_insert(now);
                        if told.is_none_or(|t| now.duration_since(t) >= REPEAT_EVERY) {
                            told = Some(now);
                            let server = server.map(|s| s.to_string());
                            tracing::error!(
                                url = %url,
                                server = server.as_deref(),
                                error = %error,
                                "cannot reach Redis: is redis-server running there, and is \
                                 redis_url right? Retrying; until then this node reports not \
                                 ready"
                            );
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                event = connects.recv() => match event {
                    Ok(server) => {
                        if let Some(since) = down_since.take() {
                            let down_s = since.elapsed().as_secs();
                            tracing::info!(url = %url, %server, down_s, "connected to Redis again");
                        }
                        told = None;
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
}

/// A failed command's error for a log line: a timeout says what it most
/// likely means, rather than fred's bare `Request timed out`.
pub(super) fn said(error: &fred::error::Error) -> String {
    if *error.kind() == fred::error::ErrorKind::Timeout {
        "no answer from Redis within redis_command_timeout_ms (is it reachable? \
         see the `cannot reach Redis` line)"
            .into()
    } else {
        error.to_string()
    }
}
