//! Token refresh: against a scripted fake hub (a server that announces the
//! `token_refresh` feature gets a fresh token before the old one expires, and
//! whenever it sends `hub:refresh`), and against the real server with JWT
//! auth.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hub_client::Client;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

/// Accepts one client, answers its connect with `features`, then reports
/// every `hub:refresh` token it receives; sends one `hub:refresh` request
/// after the first token arrives.
async fn fake_hub(features: Value) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let mut asked = false;
        while let Some(Ok(Message::Text(text))) = ws.next().await {
            let frame: Value = serde_json::from_str(&text).unwrap();
            match frame["type"].as_str() {
                Some("hub:connect") => {
                    let _ = tx
                        .send(format!("connect:{}", frame["token"].as_str().unwrap_or("")))
                        .await;
                    let connected = json!({
                        "type": "hub:connected", "id": frame["id"], "session_id": "fake",
                        "address": frame["address"], "protocol_version": 1,
                        "heartbeat_interval_ms": 5_000, "heartbeat_timeout_ms": 20_000,
                        "limits": {
                            "max_message_bytes": 65536, "rate_limit_per_sec": 0,
                            "rate_limit_burst": 0, "max_topics_per_session": 10,
                            "max_subscribers_per_topic": 10, "broadcast_max_recipients": 10,
                            "outbound_queue_frames": 10,
                        },
                        "features": features,
                    });
                    ws.send(Message::Text(connected.to_string().into()))
                        .await
                        .unwrap();
                }
                Some("hub:refresh") => {
                    let _ = tx
                        .send(frame["token"].as_str().unwrap_or("").to_owned())
                        .await;
                    if !asked {
                        asked = true;
                        let ask = json!({"type": "hub:refresh"});
                        ws.send(Message::Text(ask.to_string().into()))
                            .await
                            .unwrap();
                    }
                }
                _ => {}
            }
        }
    });
    (url, rx)
}

fn counting_tokens() -> impl Fn() -> std::future::Ready<Option<String>> + Send + Sync + 'static {
    let issued = Arc::new(AtomicUsize::new(0));
    move || {
        std::future::ready(Some(format!(
            "t{}",
            issued.fetch_add(1, Ordering::SeqCst) + 1
        )))
    }
}

async fn next(rx: &mut mpsc::Receiver<String>) -> String {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("within PATIENCE")
        .expect("fake hub alive")
}

/// With `token_refresh` announced, a fresh token goes out before expiry, and
/// again when the server asks.
#[tokio::test]
async fn fresh_tokens_are_sent_before_expiry_and_on_request() {
    let (url, mut seen) = fake_hub(json!(["token_refresh"])).await;
    let _client = Client::builder(&url)
        .address("me")
        .token_provider(counting_tokens())
        .token_lifetime(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    assert_eq!(next(&mut seen).await, "connect:t1");
    assert_eq!(
        next(&mut seen).await,
        "t2",
        "refreshed before the first token expired"
    );
    assert_eq!(next(&mut seen).await, "t3", "answered the server's request");
}

/// Without the feature (protocol v1 servers), the client sends no
/// `hub:refresh` on its own; fresh tokens go out with the next connect.
#[tokio::test]
async fn no_refresh_frames_for_servers_without_the_feature() {
    let (url, mut seen) = fake_hub(json!([])).await;
    let _client = Client::builder(&url)
        .address("me")
        .token_provider(counting_tokens())
        .token_lifetime(Duration::from_millis(50))
        .connect()
        .await
        .unwrap();
    assert_eq!(next(&mut seen).await, "connect:t1");
    // An observation window of ten token lifetimes: with the feature, four
    // refreshes would have arrived by now (the test above sees them at 160 ms).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(seen.try_recv().is_err(), "no hub:refresh was sent");
}

const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs(claims: &Value, alg: jsonwebtoken::Algorithm) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), claims, &key).unwrap()
}

/// hub-client's refresh support against the real server: its token provider
/// is asked again when the server asks, and the session lives on.
#[tokio::test]
async fn the_sdk_refreshes_against_the_real_server() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let mut config = hub_server::ServerConfig {
        bind: "127.0.0.1:0".into(),
        durability: hub_server::Durability::Memory,
        jwt_hmac_secret: SECRET.into(),
        jwt_leeway_ms: 0,
        ..hub_server::ServerConfig::default()
    };
    config.hub.rate_limit_per_sec = 0;
    let server = hub_server::spawn(config).expect("server starts");
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let client = hub_client::Client::builder(server.ws_url())
        .address("hank")
        .token_provider(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Some(hs(
                &json!({"sub": "hank", "exp": now() + 4, "grants": {"addresses": {"hank": ["send"]}}}),
                jsonwebtoken::Algorithm::HS256,
            )))
        })
        .connect()
        .await
        .expect("connects");
    let hub_client::ConnectionState::Connected { session_id } = client.state() else {
        panic!("not connected");
    };
    // Over two lifetimes of a 4-second token: without refreshes it would
    // have been closed (4007) and reconnected under a new session.
    tokio::time::sleep(std::time::Duration::from_millis(9_000)).await;
    assert_eq!(
        client.state(),
        hub_client::ConnectionState::Connected { session_id },
        "the same session, kept alive by refreshes"
    );
    assert!(
        issued.load(Ordering::SeqCst) >= 3,
        "fresh tokens were asked for"
    );
    let ack = client.send("hank", &"still here").await.unwrap();
    assert!(ack.is_accepted());
}
