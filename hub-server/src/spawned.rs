//! [`spawn`]: a real server on its own thread and actix system, for tests
//! and tools that are not on an actix system themselves.

use std::net::SocketAddr;

use actix_web::web;
use hub_core::Hub;

use crate::{reload, start, ServerConfig};

/// A server running on its own thread and actix system, for tests and tools.
#[derive(Debug)]
pub struct SpawnedServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The admin listener's address (`admin_bind`), if there is one.
    pub admin_addr: Option<SocketAddr>,
    /// The hub (usable from any thread).
    pub hub: Hub,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Applies a config (what [`reload`] allows) to the running server.
    pub reloader: web::Data<reload::Reloader>,
    stop: Option<tokio::sync::oneshot::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a server on `config.bind` (use `127.0.0.1:0` for an OS-assigned
/// port) on a thread of its own.
///
/// # Errors
/// The server could not start.
pub fn spawn(config: ServerConfig) -> std::io::Result<SpawnedServer> {
    let tls = !config.tls_cert_file.is_empty();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("hub-server".into())
        .spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = match start(&config) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok((
                    server.addr,
                    server.admin_addr,
                    server.hub.clone(),
                    server.reloader.clone(),
                )));
                match stop_rx.await {
                    Ok(false) => server.abort().await,
                    _ => server.shutdown().await,
                }
            });
        })?;
    let (addr, admin_addr, hub, reloader) = ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("server thread died"))??;
    Ok(SpawnedServer {
        addr,
        admin_addr,
        hub,
        tls,
        reloader,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

impl SpawnedServer {
    /// The WebSocket URL for `ws_path` `/ws` (`wss://localhost:<port>` with TLS,
    /// for a certificate issued to `localhost`).
    pub fn ws_url(&self) -> String {
        if self.tls {
            format!("wss://localhost:{}/ws", self.addr.port())
        } else {
            format!("ws://{}/ws", self.addr)
        }
    }

    /// Shuts down gracefully and waits for the server thread.
    pub fn shutdown(mut self) {
        self.stop_and_join(true);
    }

    /// Starts a graceful shutdown and returns at once; dropping the server
    /// (or [`SpawnedServer::shutdown`]) then waits for it to finish.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }

    /// Stops at once, without telling sessions (a simulated crash), and waits
    /// for the server thread.
    pub fn kill(mut self) {
        self.stop_and_join(false);
    }

    fn stop_and_join(&mut self, graceful: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(graceful);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        self.stop_and_join(true);
    }
}
