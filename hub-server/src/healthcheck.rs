//! `hub-server healthcheck`: asks a running server on this host whether it
//! is ready (`GET /ready`), for a container's `HEALTHCHECK` or a script,
//! with nothing else installed (the image has no curl). It reads the same
//! configuration as the server, so it finds the server where it listens:
//! the admin listener when there is one, else `bind` (an address of all
//! interfaces is asked on loopback). Over TLS without an admin listener it
//! checks only that the port accepts connections.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::ServerConfig;

/// How long each step may take.
const PATIENCE: Duration = Duration::from_secs(3);

/// Whether the server the config describes is ready.
///
/// # Errors
/// Why not: it does not listen, does not answer, or is not ready (the
/// status and the body of `/ready`).
pub fn healthcheck(config: &ServerConfig) -> Result<String, String> {
    let (bind, plain) = match config.admin_bind.as_str() {
        "" => (config.bind.as_str(), config.tls_cert_file.is_empty()),
        admin => (admin, true),
    };
    let addr = local(bind)?;
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE)
        .map_err(|e| format!("nothing answers at {addr}: {e}"))?;
    if !plain {
        return Ok(format!(
            "listening at {addr} (TLS: set admin_bind for a readiness probe over HTTP)"
        ));
    }
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let _ = stream.set_write_timeout(Some(PATIENCE));
    let request = "GET /ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut answer = String::new();
    stream
        .take(64 * 1024)
        .read_to_string(&mut answer)
        .map_err(|e| format!("{addr} did not answer: {e}"))?;
    let status = answer.get(9..12).unwrap_or_default();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b).trim();
    match status {
        "200" => Ok(format!("ready at {addr}")),
        "" => Err(format!("{addr} did not answer HTTP")),
        other => Err(format!("not ready at {addr}: HTTP {other} {body}")),
    }
}

/// Where to reach a server bound to `bind` from this host: an address of
/// all interfaces is reached on loopback.
fn local(bind: &str) -> Result<SocketAddr, String> {
    let mut addr = bind
        .to_socket_addrs()
        .map_err(|e| format!("bind {bind}: {e}"))?
        .next()
        .ok_or_else(|| format!("bind {bind} names no address"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_interfaces_are_asked_on_loopback() {
        assert_eq!(local("0.0.0.0:8080").unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(local("[::]:8080").unwrap().to_string(), "[::1]:8080");
        assert_eq!(local("127.0.0.2:1").unwrap().to_string(), "127.0.0.2:1");
    }
}
