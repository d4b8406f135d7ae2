//! TLS end to end: hub-server terminates TLS (rustls) with a certificate made
//! inside the test (rcgen), and hub-client connects to `wss://` trusting it
//! through `ca_file`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A self-signed certificate for `localhost`, written as PEM files in a
/// fresh directory; removed on drop.
struct TestCert {
    dir: PathBuf,
}

impl TestCert {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hub-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), signing_key.serialize_pem()).unwrap();
        Self { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tls_server(cert: &TestCert) -> hub_server::SpawnedServer {
    let mut config = hub_server::ServerConfig {
        bind: "127.0.0.1:0".into(),
        durability: hub_server::Durability::Memory,
        workers: 1,
        tls_cert_file: cert.cert().display().to_string(),
        tls_key_file: cert.key().display().to_string(),
        ..hub_server::ServerConfig::default()
    };
    config.hub.rate_limit_per_sec = 0;
    config.hub.connect_timeout_ms = 500;
    hub_server::spawn(config).expect("a TLS server starts")
}

#[tokio::test]
async fn the_sdk_talks_to_the_server_over_wss() {
    let cert = TestCert::new("sdk");
    let server = tls_server(&cert);
    assert!(server.ws_url().starts_with("wss://localhost:"));
    let client = hub_client::Client::builder(server.ws_url())
        .address("tess")
        .ca_file(cert.cert())
        .connect()
        .await
        .expect("connects over TLS");
    let mut sub = client
        .subscribe::<serde_json::Value>("secure")
        .await
        .unwrap();
    let ack = client
        .publish("secure", &json!({"over": "tls"}))
        .await
        .unwrap();
    assert_eq!(ack.recipients, 1);
    let message = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a message within 10 s")
        .expect("the subscription is open")
        .expect("the payload decodes");
    assert_eq!(message.payload, json!({"over": "tls"}));
    let ack = client.send("tess", &"to myself").await.unwrap();
    assert!(ack.is_accepted());
}

#[tokio::test]
async fn an_untrusted_certificate_and_plain_text_are_refused() {
    let cert = TestCert::new("refuse");
    let server = tls_server(&cert);
    // Not trusting the test CA: the handshake fails, and says why.
    let error = hub_client::Client::builder(server.ws_url())
        .address("wary")
        .connect()
        .await
        .expect_err("an unknown issuer is refused");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    // Plain WebSocket to a TLS port: no session.
    let plain = format!("ws://127.0.0.1:{}/ws", server.addr.port());
    let error = hub_client::Client::builder(plain)
        .address("plain")
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .expect_err("no plain text on a TLS port");
    assert!(!error.to_string().is_empty());
    // A CA file that is not PEM is refused before connecting.
    let bogus = cert.dir.join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    let error = hub_client::Client::builder(server.ws_url())
        .address("bogus")
        .ca_file(&bogus)
        .connect()
        .await
        .expect_err("a bogus CA file");
    assert!(error.to_string().contains("ca_file"), "{error}");
}

/// Plain HTTP routes are served over the same TLS listener.
#[tokio::test]
async fn https_serves_health_and_silent_sockets_are_cut() {
    let cert = TestCert::new("https");
    let server = tls_server(&cert);
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(cert.cert()).unwrap();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"{"status":"ok"}"#), "{answer}");

    // A TCP connection that never starts its handshake is closed after
    // connect_timeout_ms (500 here).
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
        .await
        .expect("closed well within 10 s");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed, not answered: {read:?}"
    );
}

#[test]
fn a_certificate_without_its_key_stops_the_server() {
    let cert = TestCert::new("half");
    let config = hub_server::ServerConfig {
        bind: "127.0.0.1:0".into(),
        durability: hub_server::Durability::Memory,
        tls_cert_file: cert.cert().display().to_string(),
        ..hub_server::ServerConfig::default()
    };
    let error = hub_server::spawn(config).unwrap_err().to_string();
    assert!(error.contains("tls_key_file"), "{error}");
    let config = hub_server::ServerConfig {
        bind: "127.0.0.1:0".into(),
        durability: hub_server::Durability::Memory,
        tls_cert_file: cert.key().display().to_string(),
        tls_key_file: cert.key().display().to_string(),
        ..hub_server::ServerConfig::default()
    };
    let error = hub_server::spawn(config).unwrap_err().to_string();
    assert!(error.contains("tls_cert_file"), "{error}");
}
