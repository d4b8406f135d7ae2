//! Protocol v1 over a real WebSocket: every request type, its ack, and the
//! messages recipients see.

mod common;

use common::*;
use serde_json::json;

/// `hub:connected` carries the session id, heartbeat timings, limits and version.
#[tokio::test]
async fn connect_announces_session_limits_and_version() {
    let server = start_default();
    let (_c, connected) = Client::connect(&server, "alice").await;
    assert_eq!(connected["id"], "c");
    assert_eq!(connected["address"], "alice");
    assert_eq!(connected["protocol_version"], 1);
    assert!(connected["session_id"].as_str().unwrap().len() >= 32);
    assert_eq!(connected["heartbeat_interval_ms"], 20_000);
    assert_eq!(connected["heartbeat_timeout_ms"], 30_000);
    assert_eq!(connected["limits"]["max_message_bytes"], 65_536);
    assert_eq!(connected["limits"]["broadcast_max_recipients"], 100);
    assert_eq!(connected["features"], json!([]));
}

/// A direct send reaches the recipient with the sender's address, and the
/// sender's ack says `accepted`.
#[tokio::test]
async fn direct_send_is_delivered_and_acked_accepted() {
    let server = start_default();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let ack = alice
        .request(json!({"type": "hub:send", "id": 1, "to": "bob", "payload": {"text": "hi"}}))
        .await;
    assert_eq!(
        ack,
        json!({"type": "hub:delivery_ack", "id": 1, "to": "bob", "status": "accepted"})
    );
    let msg = bob.expect("hub:message").await;
    assert_eq!(
        msg,
        json!({"type": "hub:message", "from": "alice", "payload": {"text": "hi"}})
    );
}

/// A send to an address nobody holds is rejected with `recipient_not_found`.
#[tokio::test]
async fn send_to_unknown_address_is_rejected_not_found() {
    let server = start_default();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let ack = alice
        .request(json!({"type": "hub:send", "id": "x", "to": "nobody", "payload": 1}))
        .await;
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["reason"], "recipient_not_found");
    assert_eq!(ack["id"], "x");
}

/// Ten sends written back to back arrive in the order they were sent.
#[tokio::test]
async fn ten_rapid_sends_arrive_in_order() {
    let server = start_default();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    for i in 0..10 {
        alice
            .send(json!({"type": "hub:send", "id": i, "to": "bob", "payload": i}))
            .await;
    }
    for i in 0..10 {
        assert_eq!(alice.expect("hub:delivery_ack").await["id"], i);
        assert_eq!(bob.expect("hub:message").await["payload"], i);
    }
    bob.expect_nothing_pending().await;
}

/// A publish sent right after another client's subscribe ack reaches it, and
/// the publish ack counts the recipients.
#[tokio::test]
async fn publish_right_after_subscribe_ack_is_received() {
    let server = start_default();
    let (mut sub, _) = Client::connect(&server, "sub").await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    sub.subscribe("news").await;
    let ack = publisher
        .request(json!({"type": "hub:publish", "id": 9, "topic": "news", "payload": {"n": 1}}))
        .await;
    assert_eq!(
        ack,
        json!({"type": "hub:publish_ack", "id": 9, "topic": "news", "recipients": 1})
    );
    let msg = sub.expect("hub:message").await;
    assert_eq!(
        msg,
        json!({"type": "hub:message", "topic": "news", "from": "pub", "payload": {"n": 1}})
    );
}

/// Publishing to a topic nobody is subscribed to is acked with zero recipients.
#[tokio::test]
async fn publish_without_subscribers_reports_zero() {
    let server = start_default();
    let (mut c, _) = Client::connect(&server, "a").await;
    assert_eq!(c.publish("empty", json!(1)).await, 0);
}

/// Unsubscribing leaves that topic only: messages on the other topic still arrive.
#[tokio::test]
async fn unsubscribe_leaves_only_that_topic() {
    let server = start_default();
    let (mut sub, _) = Client::connect(&server, "sub").await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    sub.subscribe("a").await;
    sub.subscribe("b").await;
    let ack = sub
        .request(json!({"type": "hub:unsubscribe", "id": "u", "topic": "a"}))
        .await;
    assert_eq!(
        ack,
        json!({"type": "hub:unsubscribe_ack", "id": "u", "topic": "a"})
    );
    assert_eq!(publisher.publish("a", json!("for a")).await, 0);
    assert_eq!(publisher.publish("b", json!("for b")).await, 1);
    let msg = sub.expect("hub:message").await;
    assert_eq!(msg["topic"], "b");
    sub.expect_nothing_pending().await;
    let err = sub
        .request(json!({"type": "hub:unsubscribe", "topic": "a"}))
        .await;
    assert_eq!(err["code"], "not_subscribed");
}

/// A broadcast to a list reaches each listed address once and reports the missing ones.
#[tokio::test]
async fn broadcast_to_a_list_reports_recipients_and_missing() {
    let server = start_default();
    let (mut a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    let (mut c, _) = Client::connect(&server, "c").await;
    let ack = a
        .request(json!({"type": "hub:broadcast", "id": 1, "to": ["b", "c", "ghost", "b"], "payload": "hey"}))
        .await;
    assert_eq!(ack["type"], "hub:broadcast_ack");
    assert_eq!(ack["recipients"], 2);
    assert_eq!(ack["not_found"], json!(["ghost"]));
    for client in [&mut b, &mut c] {
        let m = client.expect("hub:message").await;
        assert_eq!(
            m,
            json!({"type": "hub:message", "from": "a", "payload": "hey"})
        );
        client.expect_nothing_pending().await;
    }
}

/// `"to": "*"` reaches every other registered address.
#[tokio::test]
async fn broadcast_to_all_reaches_everyone_else() {
    let server = start_default();
    let (mut a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    let (mut c, _) = Client::connect(&server, "c").await;
    let ack = a
        .request(json!({"type": "hub:broadcast", "to": "*", "payload": 5}))
        .await;
    assert_eq!(ack["recipients"], 2);
    assert_eq!(b.expect("hub:message").await["payload"], 5);
    assert_eq!(c.expect("hub:message").await["payload"], 5);
    a.expect_nothing_pending().await;
}

/// Over the recipient cap, a broadcast is refused whole with `broadcast_too_large` and a hint.
#[tokio::test]
async fn broadcast_over_the_cap_is_refused() {
    let mut config = test_config();
    config.hub.broadcast_max_recipients = 2;
    let server = start(config);
    let (mut a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    let err = a
        .request(json!({"type": "hub:broadcast", "id": 3, "to": ["b", "c", "d"], "payload": 1}))
        .await;
    assert_eq!(err["type"], "hub:error");
    assert_eq!(err["code"], "broadcast_too_large");
    assert_eq!(err["id"], 3);
    assert!(err["hint"].as_str().unwrap().contains("publish to a topic"));
    b.expect_nothing_pending().await;
    let (_c, _) = Client::connect(&server, "c").await;
    let (_d, _) = Client::connect(&server, "d").await;
    let err = a
        .request(json!({"type": "hub:broadcast", "to": "*", "payload": 1}))
        .await;
    assert_eq!(err["code"], "broadcast_too_large");
}

/// `hub:disconnect` is answered with `hub:disconnect_ack` before the close frame (1000);
/// from then on a message for that address is rejected, never acked `accepted`.
#[tokio::test]
async fn disconnect_ack_arrives_before_close() {
    let server = start_default();
    let (mut c, _) = Client::connect(&server, "a").await;
    c.send(json!({"type": "hub:disconnect", "id": "bye"})).await;
    let (frames, code) = c.until_close().await;
    assert_eq!(
        frames,
        vec![json!({"type": "hub:disconnect_ack", "id": "bye"})]
    );
    assert_eq!(code, 1000);
    let (mut other, _) = Client::connect(&server, "b").await;
    let ack = other
        .request(json!({"type": "hub:send", "to": "a", "payload": 1}))
        .await;
    assert_eq!(ack["reason"], "recipient_not_found");
}

/// `hub:ping` is answered with `hub:pong` echoing the id, before and after connect.
#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = start_default();
    let mut c = Client::open(&server).await;
    assert_eq!(
        c.request(json!({"type": "hub:ping", "id": 4})).await,
        json!({"type": "hub:pong", "id": 4})
    );
}

/// `correlation_id` and `in_reply_to` on `hub:send` are forwarded verbatim,
/// so clients can pair requests with replies.
#[tokio::test]
async fn correlation_ids_are_forwarded_for_request_reply() {
    let server = start_default();
    let (mut asker, _) = Client::connect(&server, "asker").await;
    let (mut answerer, _) = Client::connect(&server, "answerer").await;
    asker
        .request(json!({"type": "hub:send", "to": "answerer", "correlation_id": "q1", "payload": "2+2?"}))
        .await;
    let question = answerer.expect("hub:message").await;
    assert_eq!(question["correlation_id"], "q1");
    assert!(question.get("in_reply_to").is_none());
    answerer
        .request(json!({"type": "hub:send", "to": "asker", "in_reply_to": "q1", "payload": 4}))
        .await;
    let answer = asker.expect("hub:message").await;
    assert_eq!(
        answer,
        json!({"type": "hub:message", "from": "answerer", "in_reply_to": "q1", "payload": 4})
    );
    let err = asker
        .request(json!({"type": "hub:send", "to": "answerer", "correlation_id": "", "payload": 1}))
        .await;
    assert_eq!(err["code"], "invalid_field");
}

/// `"ack": false` sends fire-and-forget: no ack on success, but a rejection
/// is still reported, so a failure is never silent.
#[tokio::test]
async fn unacked_sends_report_only_rejections() {
    let server = start_default();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    alice
        .send(json!({"type": "hub:send", "id": 1, "to": "bob", "ack": false, "payload": "quiet"}))
        .await;
    assert_eq!(bob.expect("hub:message").await["payload"], "quiet");
    alice.expect_nothing_pending().await;
    let rejected = alice
        .request(json!({"type": "hub:send", "id": 2, "to": "ghost", "ack": false, "payload": 1}))
        .await;
    assert_eq!(rejected["type"], "hub:delivery_ack");
    assert_eq!(
        (rejected["id"].clone(), rejected["status"].clone()),
        (json!(2), json!("rejected"))
    );
    assert_eq!(rejected["reason"], "recipient_not_found");
}
