//! Stored sends and idempotency keys: a send to an away address is queued; a send, broadcast or publish retried with its key takes effect once.

use super::*;

/// With durability on, the API's send has hub:send's outcomes: `queued`
/// for a known address that is away, delivered with its `seq` later.
#[tokio::test]
async fn an_api_send_to_an_away_address_is_queued() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let server = start(config);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;
    let answer = post(
        &server,
        "/api/send",
        FULL,
        json!({"to": "bob", "payload": "later"}),
    )
    .await;
    assert_eq!(answer.json(), json!({"status": "queued"}));
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let m = bob.expect("hub:message").await;
    assert_eq!(
        (m["payload"].as_str(), m["seq"].as_u64()),
        (Some("later"), Some(1))
    );
}

/// `idempotency_key` on the API's send: a retry is answered again and
/// delivered once; the same key for another message is 409.
#[tokio::test]
async fn an_idempotency_key_makes_an_api_send_safe_to_retry() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let server = start(config);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let send = json!({"to": "bob", "payload": "once", "idempotency_key": "order-17"});
    let first = post(&server, "/api/send", FULL, send.clone()).await;
    // Bob was told he is connected: his inbox was attached by then.
    assert_eq!(
        first.json(),
        json!({"status": "accepted"}),
        "{}",
        first.body
    );
    let retry = post(&server, "/api/send", FULL, send).await;
    assert_eq!(retry.json(), first.json(), "the first answer again");
    let m = bob.expect("hub:message").await;
    assert_eq!(m["payload"], "once");
    bob.expect_nothing_pending().await;
    let other = json!({"to": "bob", "payload": "different", "idempotency_key": "order-17"});
    let answer = post(&server, "/api/send", FULL, other).await;
    assert_error(&answer, 409, "idempotency_conflict");
    bob.expect_nothing_pending().await;
}

/// `idempotency_key` on the API's broadcast: a retry gets the first
/// answer and reaches each address once; the same key for another message
/// is 409.
#[tokio::test]
async fn an_idempotency_key_makes_an_api_broadcast_safe_to_retry() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let server = start(config);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let broadcast = json!({"to": ["bob", "ghost"], "payload": "once", "idempotency_key": "news-3"});
    let first = post(&server, "/api/broadcast", FULL, broadcast.clone()).await;
    let expected = json!({"recipients": 1, "not_found": ["ghost"]});
    assert_eq!(first.json(), expected);
    let retry = post(&server, "/api/broadcast", FULL, broadcast).await;
    assert_eq!(retry.json(), expected, "the first answer again");
    assert_eq!(bob.expect("hub:message").await["payload"], "once");
    bob.expect_nothing_pending().await;
    let other = json!({"to": "*", "payload": "once", "idempotency_key": "news-3"});
    let answer = post(&server, "/api/broadcast", FULL, other).await;
    assert_error(&answer, 409, "idempotency_conflict");
    let bad = json!({"to": "*", "payload": 1, "idempotency_key": ""});
    let answer = post(&server, "/api/broadcast", FULL, bad).await;
    assert_error(&answer, 400, "invalid_field");
    bob.expect_nothing_pending().await;
}

/// `idempotency_key` on the API's publish: a retry gets the first answer
/// (with the offset, in a namespace with history) and reaches subscribers
/// once; the same key for another message is 409.
#[tokio::test]
async fn an_idempotency_key_makes_an_api_publish_safe_to_retry() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 10,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    let server = start(config);
    let (mut reader, _) = Client::connect(&server, "reader").await;
    reader.subscribe("feed:orders").await;
    let publish = json!({"topic": "feed:orders", "payload": "once", "idempotency_key": "pub-9"});
    let first = post(&server, "/api/publish", FULL, publish.clone()).await;
    assert_eq!(first.json(), json!({"recipients": 1, "offset": 1}));
    let retry = post(&server, "/api/publish", FULL, publish).await;
    assert_eq!(retry.json(), first.json(), "the first answer again");
    let m = reader.expect("hub:message").await;
    assert_eq!((&m["payload"], &m["offset"]), (&json!("once"), &json!(1)));
    reader.expect_nothing_pending().await;
    let other = json!({"topic": "feed:orders", "payload": "different", "idempotency_key": "pub-9"});
    assert_error(
        &post(&server, "/api/publish", FULL, other).await,
        409,
        "idempotency_conflict",
    );
    let bad = json!({"topic": "feed:orders", "payload": 1, "idempotency_key": ""});
    assert_error(
        &post(&server, "/api/publish", FULL, bad).await,
        400,
        "invalid_field",
    );
    reader.expect_nothing_pending().await;
}
