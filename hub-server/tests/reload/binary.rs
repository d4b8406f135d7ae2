//! The real binary, reloaded with SIGHUP after its config file changed: a
//! client connected over TLS before the reload stays connected, new
//! handshakes get the new certificate, tokens and API keys follow the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::common::{free_port, TempDir, PATIENCE};
use super::{token, NEW_KEY, NEW_SECRET, OLD_KEY, OLD_SECRET};

/// A self-signed certificate for 127.0.0.1: (certificate PEM, key PEM, DER).
fn certificate() -> (String, String, Vec<u8>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("certificate");
    (cert.pem(), signing_key.serialize_pem(), cert.der().to_vec())
}

fn config_file(dir: &Path, port: u16, secret: &str, key: &str, extra: &str) -> String {
    format!(
        "bind = \"127.0.0.1:{port}\"\nworkers = 1\ndurability = \"memory\"\n\
         data_dir = \"{dir}\"\nlog_level = \"warn\"\n\
         tls_cert_file = \"{dir}/cert.pem\"\ntls_key_file = \"{dir}/key.pem\"\n\
         jwt_hmac_secret = \"{secret}\"\n{extra}\n\
         [[api_keys]]\nname = \"ops\"\nkey = \"{key}\"\nscopes = [\"admin\", \"read\"]\n",
        dir = dir.display()
    )
}

/// A TLS client trusting both certificates; the connection and the
/// certificate the server showed.
async fn handshake(port: u16, trusted: &[&[u8]]) -> (TlsStream<TcpStream>, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    for der in trusted {
        roots.add(der.to_vec().into()).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a name");
    let tls = connector.connect(name, tcp).await.expect("handshake");
    let shown = tls.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec();
    (tls, shown)
}

type Socket = WebSocketStream<TlsStream<TcpStream>>;

/// A WebSocket session for `address` over a new TLS connection: the
/// socket and the answer to `hub:connect`.
async fn session(port: u16, trusted: &[&[u8]], address: &str, token: &str) -> (Socket, Value) {
    let (tls, _) = handshake(port, trusted).await;
    let url = format!("wss://127.0.0.1:{port}/ws");
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("upgrade");
    let connect = json!({"type": "hub:connect", "id": 1, "address": address, "token": token});
    ws.send(Message::text(connect.to_string()))
        .await
        .expect("send");
    let answer = next(&mut ws).await;
    (ws, answer)
}

async fn next(ws: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame within PATIENCE")
            .expect("open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("json");
        }
    }
}

/// The status of `method path` over TLS with `key`.
async fn status(port: u16, trusted: &[&[u8]], method: &str, path: &str, key: &str) -> u16 {
    let (mut tls, _) = handshake(port, trusted).await;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, tls.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// Waits until the server's log holds `count` lines with `words`.
async fn logged(log: &Path, words: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().filter(|l| l.contains(words)).count() >= count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never logged `{words}`: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn sighup_reloads_the_file_and_drops_no_one() {
    let dir = TempDir::new("reload");
    let port = free_port();
    let (cert_a, key_a, der_a) = certificate();
    let (cert_b, key_b, der_b) = certificate();
    let trusted: [&[u8]; 2] = [&der_a, &der_b];
    let write_certificate = |cert: &str, key: &str| {
        std::fs::write(dir.0.join("cert.pem"), cert).expect("write");
        std::fs::write(dir.0.join("key.pem"), key).expect("write");
    };
    write_certificate(&cert_a, &key_a);
    let file: PathBuf = dir.0.join("hub.toml");
    std::fs::write(&file, config_file(&dir.0, port, OLD_SECRET, OLD_KEY, "")).expect("write");
    let log = dir.0.join("server.log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .arg("-c")
        .arg(&file)
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(std::fs::File::create(dir.0.join("stderr.log")).expect("log"))
        .spawn()
        .expect("hub-server starts");
    // Killed however the test ends.
    let child = Killed(child);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(handshake(port, &trusted).await.1, der_a);
    let (mut alice, hello) = session(port, &trusted, "alice", &token(OLD_SECRET, "alice")).await;
    assert_eq!(hello["type"], "hub:connected", "{hello}");

    // The certificate files replaced at the same path, a new secret (the
    // old one still good for the overlap), a new API key, a log level that
    // lets the reload's own line through: then SIGHUP.
    write_certificate(&cert_b, &key_b);
    let rotated = config_file(&dir.0, port, NEW_SECRET, NEW_KEY, "log_level = \"info\"")
        .replace("log_level = \"warn\"\n", "");
    std::fs::write(&file, rotated).expect("write");
    let hangup = std::process::Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(hangup.success());
    logged(&log, "config reloaded", 1).await;

    assert_eq!(
        handshake(port, &trusted).await.1,
        der_b,
        "new handshakes get the new certificate"
    );
    // Alice, connected over the old certificate with the old secret's token, stays.
    alice
        .send(Message::text(
            json!({"type": "hub:ping", "id": "p"}).to_string(),
        ))
        .await
        .expect("send");
    assert_eq!(next(&mut alice).await["type"], "hub:pong");
    for (address, secret) in [("bob", NEW_SECRET), ("carol", OLD_SECRET)] {
        let (_, hello) = session(port, &trusted, address, &token(secret, address)).await;
        assert_eq!(hello["type"], "hub:connected", "{address}: {hello}");
    }
    assert_eq!(
        status(port, &trusted, "GET", "/api/node", OLD_KEY).await,
        401
    );
    assert_eq!(
        status(port, &trusted, "GET", "/api/node", NEW_KEY).await,
        200
    );

    // A change that needs a restart: refused whole, logged, the server
    // goes on as it was; POST /api/reload says the same.
    let refused = config_file(&dir.0, port, NEW_SECRET, OLD_KEY, "max_connections = 7");
    std::fs::write(&file, refused).expect("write");
    assert_eq!(
        status(port, &trusted, "POST", "/api/reload", NEW_KEY).await,
        409
    );
    logged(&log, "config reload refused", 1).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("max_connections"), "{text}");
    assert_eq!(
        status(port, &trusted, "GET", "/api/node", NEW_KEY).await,
        200
    );
    alice
        .send(Message::text(
            json!({"type": "hub:ping", "id": "q"}).to_string(),
        ))
        .await
        .expect("send");
    assert_eq!(next(&mut alice).await["type"], "hub:pong");
    drop(child);
}

/// A child process killed (and reaped) on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
