//! The connect proxy against a real HTTP backend started by the test: the
//! backend decides who connects (user, grants, info, server-side topics)
//! from the client's address, metadata, IP and forwarded headers, or
//! refuses with its own code; a backend that is slow, down, failing (500),
//! busy or answering nonsense is a clear refusal (`unavailable`, or
//! `internal`), never a hang or a panic; a connect with a token goes to the
//! JWT check instead.

mod common;

use common::backend::{Backend, Reply};
use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn config(url: &str) -> hub_server::ServerConfig {
    let mut config = test_config();
    config.connect_proxy_url = url.into();
    config.proxy_timeout_ms = 300;
    config.hub.forward_headers = vec!["cookie".into()];
    config
        .hub
        .namespaces
        .insert("chat".into(), Default::default());
    config
        .hub
        .namespaces
        .insert("news".into(), Default::default());
    config
}

/// A client whose upgrade request carries `cookie`.
async fn open_with_cookie(server: &hub_server::SpawnedServer, cookie: &str) -> Client {
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    Client::from_stream(ws)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backend_decides_who_connects_and_with_what() {
    let backend = Backend::start(Reply::Json(
        json!({"result": {"user": "alice", "info": {"name": "Alice"},
            "grants": {"topics": {"chat:*": ["subscribe"]}}, "channels": ["news:today"]}})
        .to_string(),
    ))
    .await;
    let server = start(config(&backend.url()));
    let mut c = open_with_cookie(&server, "session=s3cr3t").await;
    let connected = c
        .request(json!({"type": "hub:connect", "id": 1, "address": "alice",
            "metadata": {"app": "web"}}))
        .await;
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    assert_eq!(connected["address"], "alice");
    assert_eq!(c.expect("hub:subscribed").await["topic"], "news:today");
    let ack = c
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "chat:1"}))
        .await;
    assert_eq!(
        ack["type"], "hub:subscribe_ack",
        "the backend's grants: {ack}"
    );
    let refused = c
        .request(json!({"type": "hub:subscribe", "id": 3, "topic": "news:other"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    let posted = backend.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let call = &posted[0];
    assert_eq!(call["address"], "alice", "{call}");
    assert_eq!(call["metadata"], json!({"app": "web"}), "{call}");
    assert_eq!(
        call["headers"],
        json!({"cookie": "session=s3cr3t"}),
        "{call}"
    );
    assert_eq!(call["client_ip"], "127.0.0.1", "{call}");
    assert_eq!(call["client"], connected["session_id"], "{call}");

    // The backend names the user: a client cannot pick another.
    backend.set(Reply::Json(json!({"result": {"user": "bob"}}).to_string()));
    let mut other = Client::open(&server).await;
    let connected = other
        .request(json!({"type": "hub:connect", "id": 1, "address": "mallory"}))
        .await;
    assert_eq!(connected["address"], "bob", "{connected}");

    // Its refusal, with its code, and the socket stays for another try.
    backend.set(Reply::Json(
        json!({"error": {"code": "banned", "message": "this account is suspended"}}).to_string(),
    ));
    let mut refused = Client::open(&server).await;
    let answer = refused
        .request(json!({"type": "hub:connect", "id": 1, "address": "carol"}))
        .await;
    assert_eq!(answer["code"], "unauthorized", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("banned") && message.contains("suspended"),
        "{message}"
    );
    refused.expect_nothing_pending().await;

    let scraped = http(&server, "GET", "/metrics", None, None).await.body;
    assert!(
        scraped.contains(r#"signal_hub_proxy_calls_total{proxy="connect",outcome="answered"} 3"#),
        "{scraped}"
    );
    assert!(
        scraped.contains("signal_hub_proxy_duration_seconds_bucket"),
        "{scraped}"
    );
}

/// Each way the backend can fail the hub: the client gets a refusal that
/// says which, at once or within `proxy_timeout_ms`.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_down_failing_or_garbled_backend_is_a_clear_refusal() {
    let backend = Backend::start(Reply::Hang).await;
    let server = start(config(&backend.url()));
    let connect = |server: &hub_server::SpawnedServer| {
        let url = server.ws_url();
        async move {
            let mut c = Client::open_url(&url).await;
            c.request(json!({"type": "hub:connect", "id": 1, "address": "dave"}))
                .await
        }
    };
    let cases = [
        (Reply::Hang, "unavailable", "proxy_timeout_ms"),
        (Reply::Status(500), "unavailable", "500"),
        (
            Reply::Json("not json".into()),
            "internal",
            "could not be used",
        ),
        (
            Reply::Json(r#"{"result": 5}"#.into()),
            "internal",
            "could not be used",
        ),
        (
            Reply::Json(r#"{"result": {}, "error": {"message": "x"}}"#.into()),
            "internal",
            "could not be used",
        ),
        (
            Reply::Json(r#"{"result": {"grants": {"topics": {"a": ["fly"]}}}}"#.into()),
            "internal",
            "could not be used",
        ),
    ];
    for (reply, code, says) in cases {
        backend.set(reply);
        let answer = connect(&server).await;
        assert_eq!(answer["code"], code, "{answer}");
        assert_eq!(answer["temporary"], true, "a retry may do: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{says}: {answer}"
        );
    }

    // Down: nothing listens at the URL.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hub/connect", listener.local_addr().unwrap())
    };
    let down = start(config(&closed));
    let answer = connect(&down).await;
    assert_eq!(
        (&answer["code"], &answer["temporary"]),
        (&json!("unavailable"), &json!(true)),
        "{answer}"
    );
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("could not be reached"), "{message}");
    assert!(
        !message.contains("127.0.0.1"),
        "the backend's address stays in the log: {message}"
    );

    // Busy: one call in flight at most; the next is refused at once.
    backend.set(Reply::Hang);
    let mut busy = config(&backend.url());
    busy.proxy_max_concurrency = 1;
    busy.proxy_timeout_ms = 10_000;
    let busy = start(busy);
    let mut first = Client::open(&busy).await;
    let asked = backend.posted().len();
    first
        .send(json!({"type": "hub:connect", "id": 1, "address": "erin"}))
        .await;
    // Erin's call holds the one slot once the backend has it.
    eventually("erin's call at the backend", || {
        backend.posted().len() > asked
    })
    .await;
    let answer = connect(&busy).await;
    assert_eq!(answer["code"], "unavailable", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("proxy_max_concurrency"),
        "{answer}"
    );
    let scraped = http(&server, "GET", "/metrics", None, None).await.body;
    for outcome in ["unavailable", "malformed"] {
        let line =
            format!(r#"signal_hub_proxy_calls_total{{proxy="connect",outcome="{outcome}"}}"#);
        assert!(scraped.contains(&line), "{line} in {scraped}");
    }
}

/// With a JWT key configured too, a connect that carries a token is the
/// JWT check's: the backend is not asked.
#[tokio::test(flavor = "multi_thread")]
async fn a_connect_with_a_token_goes_to_the_jwt_check() {
    let backend = Backend::start(Reply::Status(500)).await;
    let mut config = config(&backend.url());
    config.jwt_hmac_secret = "test-secret-that-is-long-enough-for-hs256".into();
    let grants = hub_server::auth::parse_grants(&[], &[]).unwrap();
    let token = hub_server::auth::mint(
        &config,
        "frank",
        std::time::Duration::from_secs(60),
        &grants,
    )
    .unwrap();
    let server = start(config);
    let mut c = Client::open(&server).await;
    let connected = c
        .request(json!({"type": "hub:connect", "id": 1, "address": "frank", "token": token}))
        .await;
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    assert!(backend.posted().is_empty(), "the backend was not asked");
}
