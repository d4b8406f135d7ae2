//! `backend`: a stand-in for the application's backend behind the hub's
//! proxies, on loopback: answers every POST with one fixed JSON body
//! (keep-alive), for measuring what a connect proxy costs (`churn` against
//! a hub with `connect_proxy_url` pointing here). Runs until killed.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Flags of `hub-bench backend`.
#[derive(Debug, clap::Args)]
pub(crate) struct BackendArgs {
    /// Where to listen (loopback).
    #[arg(long, default_value = "127.0.0.1:18300")]
    listen: String,
    /// The JSON every call is answered with.
    #[arg(
        long,
        default_value = r#"{"result":{"grants":{"topics":{"*":["subscribe","publish"]}}}}"#
    )]
    answer: String,
}

pub(crate) async fn run(args: &BackendArgs) -> Result<(), String> {
    let addr: std::net::SocketAddr = args.listen.parse().map_err(|e| format!("--listen: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("refusing to listen on {addr}: loopback only"));
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("{}: {e}", args.listen))?;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        args.answer.len(),
        args.answer
    );
    eprintln!("hub-bench backend: answering on {}", args.listen);
    loop {
        let (mut socket, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let _ = socket.set_nodelay(true);
        let response = response.clone();
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = [0u8; 4096];
            loop {
                // One request: its head, then Content-Length bytes of body.
                let consumed = loop {
                    if let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break end + 4 + length;
                        }
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                buf.drain(..consumed);
                if socket.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
