//! Helpers for SDK tests: a real hub-server in-process, SDK clients with fast
//! reconnects, and a TCP proxy that can freeze its connections.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_client::{Client, ClientBuilder, Event, EventStream};
use hub_server::{ServerConfig, SpawnedServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Upper bound on waiting for something that must happen; a hang guard, not a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub fn server_config() -> ServerConfig {
    let mut c = ServerConfig {
        bind: "127.0.0.1:0".into(),
        workers: 2,
        shutdown_timeout_ms: 2_000,
        durability: hub_server::Durability::Off,
        ..ServerConfig::default()
    };
    c.hub.rate_limit_per_sec = 100_000;
    c.hub.rate_limit_burst = 100_000;
    c.hub.shutdown_retry_after_ms = 20;
    // A test drops its server on the runtime's own thread, which blocks the
    // SDK's driver tasks: they cannot answer the server's close frames, and
    // the draining server waits close_timeout_ms for each answer.
    c.hub.close_timeout_ms = 200;
    c
}

pub fn start(config: ServerConfig) -> SpawnedServer {
    hub_server::spawn(config).expect("server starts")
}

/// Starts a server on a given address (to restart one on the same port).
pub fn start_on(addr: SocketAddr, mut config: ServerConfig) -> SpawnedServer {
    config.bind = addr.to_string();
    start(config)
}

pub fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

/// A builder with fast reconnects for tests.
pub fn builder(addr: SocketAddr, address: &str) -> ClientBuilder {
    Client::builder(url(addr))
        .address(address)
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect_timeout(Duration::from_secs(5))
}

pub async fn connect(addr: SocketAddr, address: &str) -> Client {
    builder(addr, address)
        .connect()
        .await
        .expect("client connects")
}

/// Waits for an event matching `pred`, skipping others.
pub async fn wait_event(
    events: &mut EventStream,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> Event {
    loop {
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within PATIENCE"))
            .unwrap_or_else(|| panic!("event stream ended before {what}"));
        if pred(&event) {
            return event;
        }
    }
}

pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within PATIENCE"))
}

/// One proxied connection's freeze flags: (client → server, server → client).
type Directions = (Arc<AtomicBool>, Arc<AtomicBool>);

/// A loopback TCP proxy whose existing connections can be frozen: bytes
/// stop flowing both ways but the sockets stay open, like a dead network path.
pub struct FreezingProxy {
    pub addr: SocketAddr,
    frozen: Arc<Mutex<Vec<Directions>>>,
}

impl FreezingProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let frozen: Arc<Mutex<Vec<Directions>>> = Arc::default();
        let registry = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let up = Arc::new(AtomicBool::new(false));
                let down = Arc::new(AtomicBool::new(false));
                registry.lock().unwrap().push((up.clone(), down.clone()));
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, up));
                tokio::spawn(pump(sr, cw, down));
            }
        });
        Self { addr, frozen }
    }

    /// Freezes every connection open now; later ones flow normally.
    pub fn freeze_existing(&self) {
        for (up, down) in self.frozen.lock().unwrap().iter() {
            up.store(true, Ordering::SeqCst);
            down.store(true, Ordering::SeqCst);
        }
    }

    /// Freezes only what the server sends on every connection open now:
    /// requests still arrive, their answers never do.
    pub fn freeze_answers(&self) {
        for (_, down) in self.frozen.lock().unwrap().iter() {
            down.store(true, Ordering::SeqCst);
        }
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.load(Ordering::SeqCst) {
            // Swallow traffic. A dead path does not carry a close either: when
            // this side ends, the other end's socket stays open and silent
            // (until the test's runtime shuts down), so only the other
            // side's own timeout can notice.
            while from.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            // `to` lives on with this future, which never ends.
            return std::future::pending().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A fresh directory under the system's temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let unique = format!(
            "hub-client-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
