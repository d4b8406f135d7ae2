//! The other transport: `hub_core::ws_endpoint` mounted in an application's
//! own actix-web `HttpServer` (actix-ws reads). hub-server uses the hub's own
//! transport, so this is where the embedded path is checked end to end.

mod common;

use std::net::SocketAddr;

use actix_web::{web, App, HttpServer};
use common::*;
use hub_core::{ws_endpoint, Config, Hub};
use serde_json::json;

/// Starts an actix-web server on its own thread with the hub at `/ws`.
fn start_app(config: Config) -> (SocketAddr, Hub, actix_web::dev::ServerHandle) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let hub = Hub::start(config).expect("valid config");
            let app_hub = hub.clone();
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(app_hub.clone()))
                    .route("/ws", web::get().to(ws_endpoint))
            })
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("bind");
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, hub, server.handle())).expect("test waits");
            let _ = server.await;
        });
    });
    rx.recv().expect("server thread starts")
}

async fn connect(addr: SocketAddr, address: &str) -> Client {
    let mut c = Client::open_url(&format!("ws://{addr}/ws")).await;
    c.send(json!({"type": "hub:connect", "address": address}))
        .await;
    c.expect("hub:connected").await;
    c
}

/// Direct messages, publish/subscribe, pings and both protocol-violation
/// closes behave as on hub-server's own transport.
#[actix_rt::test]
async fn embedded_endpoint_speaks_the_whole_protocol() {
    let config = Config {
        max_message_bytes: 1024,
        ..Config::default()
    };
    let (addr, _hub, server) = start_app(config);
    let mut alice = connect(addr, "alice").await;
    let mut bob = connect(addr, "bob").await;

    let ack = alice
        .request(json!({"type": "hub:send", "id": 1, "to": "bob", "payload": {"hi": 1}}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let message = bob.expect("hub:message").await;
    assert_eq!(
        (message["from"].clone(), message["payload"].clone()),
        (json!("alice"), json!({"hi": 1}))
    );

    bob.subscribe("news").await;
    assert_eq!(alice.publish("news", json!("extra")).await, 1);
    assert_eq!(bob.expect("hub:message").await["payload"], "extra");

    let pong = alice.request(json!({"type": "hub:ping", "id": 7})).await;
    assert_eq!(pong["type"], "hub:pong");

    alice.send_text("x".repeat(2000)).await;
    let (frames, code) = alice.until_close().await;
    assert_eq!(frames[0]["code"], "message_too_large", "{frames:?}");
    assert_eq!(code, 4004);

    bob.send_invalid_utf8().await;
    let (_, code) = bob.until_close().await;
    assert_eq!(code, 1007);

    server.stop(false).await;
}

/// `max_connections` refuses the upgrade with 503 here too.
#[actix_rt::test]
async fn embedded_endpoint_refuses_past_max_connections() {
    let config = Config {
        max_connections: 1,
        ..Config::default()
    };
    let (addr, _hub, server) = start_app(config);
    let _first = connect(addr, "first").await;
    match tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("connection_limit_reached"), "{body}");
        }
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    server.stop(false).await;
}

/// A plain GET on the endpoint is refused with 400 and is not counted as a
/// connection.
#[actix_rt::test]
async fn plain_get_is_refused_and_not_counted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, hub, server) = start_app(Config::default());
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut response))
        .await
        .expect("answer within PATIENCE")
        .expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains(r#""code":"bad_handshake""#), "{response}");
    assert_eq!(hub.metrics().connections_total, 0);
    server.stop(false).await;
}
