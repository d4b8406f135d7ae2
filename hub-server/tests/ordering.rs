//! What is ordered, as docs/PROTOCOL.md "Ordering" states it; one test per
//! sentence there.

mod common;

use std::collections::HashMap;

use common::engines::Engine;
use common::*;
use serde_json::{json, Value};

/// "A session handles its client's frames one at a time, in the order sent:
/// each takes effect before the next is read." Subscribe, publish,
/// unsubscribe, publish — sent back to back, twenty times over.
async fn frames_take_effect_in_the_order_sent(engine: Engine) {
    let server = engine.node().await;
    let (mut c, _) = Client::connect(&server, "orderly").await;
    let rounds = 20;
    for round in 0..rounds {
        let base = round * 4;
        c.send(json!({"type": "hub:subscribe", "id": base, "topic": "t"}))
            .await;
        c.send(json!({"type": "hub:publish", "id": base + 1, "topic": "t", "payload": round}))
            .await;
        c.send(json!({"type": "hub:unsubscribe", "id": base + 2, "topic": "t"}))
            .await;
        c.send(json!({"type": "hub:publish", "id": base + 3, "topic": "t", "payload": -1}))
            .await;
    }
    let mut answers: HashMap<u64, Value> = HashMap::new();
    let mut delivered = Vec::new();
    while answers.len() < 4 * rounds as usize || delivered.len() < rounds as usize {
        let f = c.next_frame().await;
        if f["type"] == "hub:message" {
            delivered.push(f["payload"].clone());
        } else {
            let id = f["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("answer without id: {f}"));
            assert!(answers.insert(id, f).is_none(), "answered twice");
        }
    }
    for round in 0..rounds {
        let base = round * 4;
        assert_eq!(
            answers[&base]["type"], "hub:subscribe_ack",
            "{}",
            answers[&base]
        );
        assert_eq!(
            answers[&(base + 1)]["recipients"],
            1,
            "round {round}: the subscription was in place"
        );
        assert_eq!(
            answers[&(base + 2)]["type"],
            "hub:unsubscribe_ack",
            "{}",
            answers[&(base + 2)]
        );
        assert_eq!(
            answers[&(base + 3)]["recipients"],
            0,
            "round {round}: the subscription was gone"
        );
    }
    let expected: Vec<Value> = (0..rounds).map(|r| json!(r)).collect();
    assert_eq!(
        delivered, expected,
        "each first publish delivered once, in order"
    );
    c.expect_nothing_pending().await;
    // Nothing is left subscribed.
    let (mut other, _) = Client::connect(&server, "other").await;
    assert_eq!(other.publish("t", json!("after")).await, 0);
}

/// "A publish sent right behind a subscribe, without waiting for its ack,
/// reaches the new subscription, the publisher's own included."
async fn a_publish_right_behind_a_subscribe_reaches_the_new_subscription(engine: Engine) {
    let server = engine.node().await;
    let (mut c, _) = Client::connect(&server, "eager").await;
    c.send(json!({"type": "hub:subscribe", "id": "s", "topic": "fresh"}))
        .await;
    c.send(json!({"type": "hub:publish", "id": "p", "topic": "fresh", "payload": "mine"}))
        .await;
    assert_eq!(c.expect("hub:subscribe_ack").await["id"], "s");
    let mut rest = [c.next_frame().await, c.next_frame().await];
    rest.sort_by_key(|f| f["type"].as_str().unwrap_or_default().to_owned());
    assert_eq!(rest[0]["type"], "hub:message");
    assert_eq!(rest[0]["payload"], "mine");
    assert_eq!(rest[1]["type"], "hub:publish_ack");
    assert_eq!(rest[1]["recipients"], 1);
}

/// "A connect is answered before the next frame is read": frames sent right
/// behind `hub:connect` are handled as a connected session's.
async fn frames_sent_behind_connect_are_handled_once_connected(engine: Engine) {
    let server = engine.node().await;
    let mut c = Client::open(&server).await;
    c.send(json!({"type": "hub:connect", "id": "c", "address": "hasty"}))
        .await;
    c.send(json!({"type": "hub:subscribe", "id": "s", "topic": "early"}))
        .await;
    c.send(json!({"type": "hub:send", "id": "d", "to": "hasty", "payload": "self"}))
        .await;
    assert_eq!(c.expect("hub:connected").await["id"], "c");
    assert_eq!(c.expect("hub:subscribe_ack").await["id"], "s");
    assert_eq!(c.expect("hub:message").await["payload"], "self");
    assert_eq!(c.expect("hub:delivery_ack").await["id"], "d");
}

/// "Every answer but `hub:publish_ack` comes in the order of the frames it
/// answers." (Durability off: with it on, a `hub:delivery_ack` comes once
/// stored, as PROTOCOL says.)
#[tokio::test]
async fn answers_come_in_the_order_of_their_frames() {
    let server = start_default();
    let (mut c, _) = Client::connect(&server, "asker").await;
    let (_peer, _) = Client::connect(&server, "peer").await;
    let frames = [
        json!({"type": "hub:subscribe", "topic": "a"}),
        json!({"type": "hub:send", "to": "peer", "payload": 1}),
        json!({"type": "hub:ping"}),
        json!({"type": "hub:send", "to": "nobody", "payload": 1}),
        json!({"type": "hub:subscribe", "topic": "b"}),
        json!({"type": "hub:broadcast", "to": ["peer"], "payload": 1}),
        json!({"type": "hub:unsubscribe", "topic": "a"}),
        json!({"type": "hub:unsubscribe", "topic": "never"}),
        json!({"type": "hub:subscribe", "topic": ""}),
        json!({"type": "hub:ping"}),
    ];
    for round in 0..5 {
        for (i, frame) in frames.iter().enumerate() {
            let mut frame = frame.clone();
            frame["id"] = json!(round * 100 + i);
            // Leave the subscriptions as they were, so every round is the same.
            if round > 0 && i == 0 {
                frame["topic"] = json!(format!("a{round}"));
            }
            c.send(frame).await;
        }
        c.send(json!({"type": "hub:unsubscribe", "id": round * 100 + 50, "topic": "b"}))
            .await;
    }
    let mut ids = Vec::new();
    while ids.len() < 5 * (frames.len() + 1) {
        let f = c.next_frame().await;
        ids.push(f["id"].as_u64().unwrap_or_else(|| panic!("{f}")));
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "answers in frame order");
}

/// "Messages from one sender to one recipient by `hub:send` and
/// `hub:broadcast` arrive in the order they were sent." (Durability off:
/// with it on, a stored send and a broadcast take two routes.)
#[tokio::test]
async fn direct_and_broadcast_messages_arrive_in_the_order_sent() {
    let server = start_default();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    for i in 0..200 {
        let frame = if i % 3 == 0 {
            json!({"type": "hub:broadcast", "to": ["bob"], "payload": i})
        } else {
            json!({"type": "hub:send", "to": "bob", "payload": i, "ack": false})
        };
        alice.send(frame).await;
    }
    for i in 0..200 {
        assert_eq!(bob.expect("hub:message").await["payload"], i);
    }
}

/// "Publications from one publisher to one topic reach each subscriber in
/// the order they were published."
async fn publications_reach_each_subscriber_in_the_order_published(engine: Engine) {
    let server = engine.node().await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    let mut subscribers = Vec::new();
    for i in 0..3 {
        let (mut s, _) = Client::connect(&server, &format!("sub{i}")).await;
        s.subscribe("news").await;
        subscribers.push(s);
    }
    for i in 0..200 {
        publisher
            .send(json!({"type": "hub:publish", "topic": "news", "payload": i}))
            .await;
    }
    for s in &mut subscribers {
        for i in 0..200 {
            assert_eq!(s.expect("hub:message").await["payload"], i);
        }
    }
}

/// "With durability on, `hub:connected` comes once the address's inbox is
/// attached: a `hub:send` to it made after its client got `hub:connected`
/// is `accepted`." New addresses and the same one back again, ten times.
async fn a_send_to_a_client_told_connected_is_accepted(engine: Engine) {
    let server = engine.node().await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    for round in 0..10 {
        for address in [format!("new{round}"), "again".to_owned()] {
            let (mut bob, _) = Client::connect(&server, &address).await;
            let ack = send(&mut alice, &address, json!(round)).await;
            assert_eq!(ack["status"], "accepted", "round {round}, {address}: {ack}");
            let m = bob.expect("hub:message").await;
            assert_eq!(m["payload"], round, "{m}");
            bob.request(json!({"type": "hub:disconnect", "id": "bye"}))
                .await;
        }
    }
}

/// A message for a closing session is refused alike by `hub:send` and
/// `hub:broadcast` (`recipient_not_found`; listed in `not_found`).
#[tokio::test]
async fn a_closing_session_is_not_found_by_send_and_broadcast() {
    let mut config = test_config();
    // Bob never answers his close frame: he stays closing this long.
    config.hub.close_timeout_ms = 30_000;
    let server = start(config);
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    // Once Bob has his disconnect ack, his session is closing.
    bob.request(json!({"type": "hub:disconnect"})).await;
    let ack = alice
        .request(json!({"type": "hub:broadcast", "id": 1, "to": ["bob"], "payload": 1}))
        .await;
    assert_eq!(ack["recipients"], 0, "{ack}");
    assert_eq!(ack["not_found"], json!(["bob"]), "{ack}");
    let ack = alice
        .request(json!({"type": "hub:send", "id": 2, "to": "bob", "payload": 1}))
        .await;
    assert_eq!(ack["status"], "rejected", "{ack}");
    assert_eq!(ack["reason"], "recipient_not_found", "{ack}");
    drop(bob);
}

// One test per engine of each: memory, redb and Redis.
on_every_engine!(
    frames_take_effect_in_the_order_sent,
    a_publish_right_behind_a_subscribe_reaches_the_new_subscription,
    frames_sent_behind_connect_are_handled_once_connected,
    publications_reach_each_subscriber_in_the_order_published,
    a_send_to_a_client_told_connected_is_accepted,
);
