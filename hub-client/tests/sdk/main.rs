//! The SDK against a real hub-server: round trips, typed payloads, errors,
//! reconnects after a crash, a frozen network path, the offline queue bound,
//! eviction and rate limits.

#[path = "../common/mod.rs"]
mod common;

use common::*;
use futures_util::FutureExt;
use hub_client::{
    ClientError, ConnectionState, DisconnectReason, ErrorCode, Event, RateLimitPolicy, Recipients,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

mod reconnects;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chat {
    user: String,
    text: String,
}

/// Send, publish, subscribe and broadcast round-trip typed payloads, with typed acks.
#[tokio::test]
async fn calls_round_trip_typed_payloads() {
    let server = start(server_config());
    let alice = connect(server.addr, "alice").await;
    let bob = connect(server.addr, "bob").await;
    let mut bob_events = bob.events().await;
    let mut room = bob.subscribe::<Chat>("room").await.unwrap();

    let hello = Chat {
        user: "alice".into(),
        text: "hello".into(),
    };
    let ack = alice.publish("room", &hello).await.unwrap();
    assert_eq!((ack.topic.as_str(), ack.recipients), ("room", 1));
    let got = within("topic message", room.next()).await.unwrap().unwrap();
    assert_eq!(
        (got.topic.as_str(), got.from.as_str(), &got.payload),
        ("room", "alice", &hello)
    );

    let ack = alice.send("bob", &hello).await.unwrap();
    assert!(ack.is_accepted());
    let Event::Message(m) = wait_event(&mut bob_events, "direct message", |e| {
        matches!(e, Event::Message(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(m.from, "alice");
    assert_eq!(m.payload_as::<Chat>().unwrap(), hello);

    let ack = alice.send("nobody", &1).await.unwrap();
    assert!(!ack.is_accepted());
    assert_eq!(ack.reason, Some(ErrorCode::RecipientNotFound));

    let ack = alice
        .broadcast(
            Recipients::List(vec!["bob".into(), "ghost".into()]),
            &"all hands",
        )
        .await
        .unwrap();
    assert_eq!(
        (ack.recipients, ack.not_found),
        (1, vec!["ghost".to_owned()])
    );
    let Event::Message(m) = wait_event(&mut bob_events, "broadcast", |e| {
        matches!(e, Event::Message(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        m.payload_as::<serde_json::Value>().unwrap(),
        serde_json::json!("all hands")
    );

    alice.close().await.unwrap();
    assert_eq!(alice.state(), ConnectionState::Closed);
    assert_eq!(
        alice.send("bob", &1).await.unwrap_err(),
        ClientError::Closed
    );
}

/// `request` pairs a reply with its request; a silent peer gives a clean timeout.
#[tokio::test]
async fn request_gets_its_reply_or_times_out() {
    let server = start(server_config());
    let asker = connect(server.addr, "asker").await;
    let doubler = connect(server.addr, "doubler").await;
    let mut events = doubler.events().await;
    let responder = doubler.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if let Event::Message(m) = event {
                let n: u64 = m.payload_as().unwrap();
                responder.reply(&m, &(n * 2)).await.unwrap();
            }
        }
    });
    let answer: u64 = asker.request("doubler", &21u64, PATIENCE).await.unwrap();
    assert_eq!(answer, 42);

    let _mute = connect(server.addr, "mute").await;
    let err = asker
        .request::<u64>("mute", &1, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(err, ClientError::Timeout(Duration::from_millis(200)));
    let err = asker
        .request::<u64>("nobody", &1, PATIENCE)
        .await
        .unwrap_err();
    assert_eq!(err, ClientError::NotDelivered(ErrorCode::RecipientNotFound));
}

/// Server refusals keep their code, message and hint.
#[tokio::test]
async fn server_errors_keep_code_message_and_hint() {
    let mut config = server_config();
    config.hub.max_topics_per_session = 1;
    let server = start(config);
    let c = connect(server.addr, "c").await;
    let _one = c.subscribe::<u8>("one").await.unwrap();
    match c.subscribe::<u8>("two").await.unwrap_err() {
        ClientError::Server {
            code,
            message,
            hint,
            ..
        } => {
            assert_eq!(code, ErrorCode::TooManyTopics);
            assert!(message.contains("max_topics_per_session"), "{message}");
            assert!(hint.contains("unsubscribe"), "{hint}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = hub_client::Client::builder(url(server.addr))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Connect(_)),
        "no address: {err:?}"
    );
}

/// Dropping a subscription leaves that topic only.
#[tokio::test]
async fn dropping_a_subscription_leaves_that_topic_only() {
    let server = start(server_config());
    let sub = connect(server.addr, "sub").await;
    let publisher = connect(server.addr, "pub").await;
    let a = sub.subscribe::<u32>("a").await.unwrap();
    let mut b = sub.subscribe::<u32>("b").await.unwrap();
    a.unsubscribe().await.unwrap();
    assert_eq!(publisher.publish("a", &1).await.unwrap().recipients, 0);
    assert_eq!(publisher.publish("b", &2).await.unwrap().recipients, 1);
    assert_eq!(
        within("b message", b.next())
            .await
            .unwrap()
            .unwrap()
            .payload,
        2
    );

    let c = sub.subscribe::<u32>("c").await.unwrap();
    drop(c);
    // The unsubscribe from Drop is ordered before this publish's ack by the driver.
    let d = sub.subscribe::<u32>("d").await.unwrap();
    assert_eq!(publisher.publish("c", &3).await.unwrap().recipients, 0);
    drop(d);
}

/// Rate-limited frames are retried after `retry_after_ms` by default, or
/// surfaced as `RateLimited` when asked.
#[tokio::test]
async fn rate_limited_calls_are_retried_or_surfaced() {
    let mut config = server_config();
    config.hub.rate_limit_per_sec = 5;
    // Every frame counts: hub:connect takes one, the first publish the other.
    config.hub.rate_limit_burst = 2;
    let server = start(config);
    let retrying = connect(server.addr, "retrying").await;
    let (a, b) = tokio::join!(retrying.publish("t", &1), retrying.publish("t", &2));
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");

    let surfacing = builder(server.addr, "surfacing")
        .rate_limit_policy(RateLimitPolicy::Surface)
        .connect()
        .await
        .unwrap();
    let (a, b) = tokio::join!(surfacing.publish("t", &1), surfacing.publish("t", &2));
    assert!(a.is_ok());
    match b.unwrap_err() {
        ClientError::RateLimited { retry_after_ms } => assert!(retry_after_ms > 0),
        other => panic!("unexpected {other:?}"),
    }
}

/// `send_unacked` is fire-and-forget: it resolves once written, the message
/// arrives, and a rejection surfaces as `Event::Undelivered`.
#[tokio::test]
async fn fire_and_forget_sends_report_rejections_as_events() {
    let server = start(server_config());
    let alice = connect(server.addr, "alice").await;
    let bob = connect(server.addr, "bob").await;
    let mut alice_events = alice.events().await;
    let mut bob_events = bob.events().await;
    alice.send_unacked("bob", &"quick").await.unwrap();
    let Event::Message(m) = wait_event(&mut bob_events, "message", |e| {
        matches!(e, Event::Message(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        m.payload_as::<serde_json::Value>().unwrap(),
        serde_json::json!("quick")
    );
    alice.send_unacked("ghost", &1).await.unwrap();
    let event = wait_event(&mut alice_events, "undelivered", |e| {
        matches!(e, Event::Undelivered { .. })
    })
    .await;
    assert_eq!(
        event,
        Event::Undelivered {
            to: "ghost".into(),
            reason: ErrorCode::RecipientNotFound
        }
    );
}

/// The SDK asks for batches: a burst of messages reaches a subscription
/// and the event stream whole and in order, however the server groups them
/// into WebSocket messages (the reader does not read until all are sent, so
/// they pile up on the server and go out together).
#[tokio::test]
async fn bursts_arrive_whole_and_in_order_through_batches() {
    let server = start(server_config());
    let publisher = connect(server.addr, "burst-pub").await;
    let reader = connect(server.addr, "burst-reader").await;
    let mut events = reader.events().await;
    let mut feed = reader.subscribe::<u32>("burst").await.unwrap();
    for i in 0..300u32 {
        publisher.send_unacked("burst-reader", &i).await.unwrap();
        assert_eq!(publisher.publish("burst", &i).await.unwrap().recipients, 1);
    }
    for i in 0..300u32 {
        let got = within("topic message", feed.next()).await.unwrap().unwrap();
        assert_eq!(got.payload, i);
    }
    for i in 0..300u32 {
        let Event::Message(m) = wait_event(&mut events, "direct message", |e| {
            matches!(e, Event::Message(_))
        })
        .await
        else {
            unreachable!()
        };
        assert_eq!(m.payload_as::<u32>().unwrap(), i);
    }
}
