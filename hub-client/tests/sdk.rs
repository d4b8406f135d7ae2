//! The SDK against a real hub-server: round trips, typed payloads, errors,
//! reconnects after a crash, a frozen network path, the offline queue bound,
//! eviction and rate limits.

mod common;

use std::time::Duration;

use common::*;
use futures_util::FutureExt;
use hub_client::{
    ClientError, ConnectionState, DisconnectReason, ErrorCode, Event, RateLimitPolicy, Recipients,
};
use serde::{Deserialize, Serialize};

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

/// The server crashes and comes back on the same port: the client reconnects,
/// resubscribes before flushing, and a publish queued while down goes out once.
#[tokio::test]
async fn reconnects_resubscribes_and_flushes_queued_calls_once_after_a_crash() {
    let server = start(server_config());
    let addr = server.addr;
    let client = connect(addr, "survivor").await;
    let mut events = client.events().await;
    let mut news = client.subscribe::<String>("news").await.unwrap();

    server.kill();
    let event = wait_event(&mut events, "disconnect", |e| {
        matches!(e, Event::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            event,
            Event::Disconnected {
                will_reconnect: true,
                ..
            }
        ),
        "{event:?}"
    );

    // Called while down: waits in the offline queue.
    let queued = {
        let client = client.clone();
        tokio::spawn(async move { client.publish("news", &"queued while down").await })
    };
    let server = start_on(addr, server_config());
    wait_event(&mut events, "reconnect", |e| {
        matches!(e, Event::Reconnected { .. })
    })
    .await;
    let ack = within("queued publish", queued).await.unwrap().unwrap();
    assert_eq!(
        ack.recipients, 1,
        "resubscribed before the queued publish was flushed"
    );
    assert_eq!(
        within("queued message", news.next())
            .await
            .unwrap()
            .unwrap()
            .payload,
        "queued while down"
    );

    let other = connect(server.addr, "other").await;
    assert_eq!(
        other
            .publish("news", &"after restart")
            .await
            .unwrap()
            .recipients,
        1
    );
    // Exactly once: the next message is the new one, not a duplicate.
    assert_eq!(
        within("new message", news.next())
            .await
            .unwrap()
            .unwrap()
            .payload,
        "after restart"
    );
}

/// A network path that stops passing bytes is detected by the heartbeat and
/// replaced; the subscription works on the new connection.
#[tokio::test]
async fn frozen_connection_is_detected_and_replaced() {
    let mut config = server_config();
    config.hub.heartbeat_interval_ms = 50;
    config.hub.heartbeat_timeout_ms = 600;
    let server = start(config);
    let proxy = FreezingProxy::start(server.addr).await;
    let client = connect(proxy.addr, "frozen").await;
    let mut events = client.events().await;
    let mut topic = client.subscribe::<u8>("t").await.unwrap();

    proxy.freeze_existing();
    let event = wait_event(&mut events, "disconnect", |e| {
        matches!(e, Event::Disconnected { .. })
    })
    .await;
    assert_eq!(
        event,
        Event::Disconnected {
            reason: DisconnectReason::HeartbeatTimeout,
            will_reconnect: true
        }
    );
    wait_event(&mut events, "reconnect", |e| {
        matches!(e, Event::Reconnected { .. })
    })
    .await;

    let publisher = connect(server.addr, "pub").await;
    assert_eq!(publisher.publish("t", &7).await.unwrap().recipients, 1);
    assert_eq!(
        within("message", topic.next())
            .await
            .unwrap()
            .unwrap()
            .payload,
        7
    );
}

/// While disconnected, calls wait in a bounded queue; past the bound a call
/// fails at once with `QueueFull` and is not held. The queued ones complete
/// after the reconnect.
#[tokio::test]
async fn offline_queue_is_bounded() {
    let server = start(server_config());
    let addr = server.addr;
    let client = builder(addr, "q")
        .offline_queue_capacity(2)
        .connect()
        .await
        .unwrap();
    let mut events = client.events().await;
    server.kill();
    wait_event(&mut events, "disconnect", |e| {
        matches!(e, Event::Disconnected { .. })
    })
    .await;

    let first = client.publish("t", &1);
    let second = client.publish("t", &2);
    tokio::pin!(first, second);
    // One poll each hands the call to the client (in this order) and leaves it waiting.
    assert!(first.as_mut().now_or_never().is_none());
    assert!(second.as_mut().now_or_never().is_none());
    let third = within("third call", client.publish("t", &3)).await;
    assert_eq!(third.unwrap_err(), ClientError::QueueFull(2));

    let _server = start_on(addr, server_config());
    assert_eq!(within("first", first).await.unwrap().recipients, 0);
    assert_eq!(within("second", second).await.unwrap().recipients, 0);
}

/// A second client with the same address evicts the first; the first reports
/// `Evicted`, stops for good and does not fight back.
#[tokio::test]
async fn eviction_is_reported_and_not_fought() {
    let server = start(server_config());
    let first = connect(server.addr, "same").await;
    let mut first_events = first.events().await;
    let second = connect(server.addr, "same").await;
    wait_event(&mut first_events, "eviction", |e| *e == Event::Evicted).await;
    within(
        "closed",
        first.wait_for_state(|s| *s == ConnectionState::Closed),
    )
    .await
    .ok();
    assert_eq!(first.state(), ConnectionState::Closed);
    assert!(first.publish("t", &1).await.is_err());

    let mut second_events = second.events().await;
    let prober = connect(server.addr, "prober").await;
    assert!(prober
        .send("same", &"still you?")
        .await
        .unwrap()
        .is_accepted());
    wait_event(&mut second_events, "message", |e| {
        matches!(e, Event::Message(_))
    })
    .await;
    assert!(matches!(second.state(), ConnectionState::Connected { .. }));
    let evictions = server.hub.metrics().evictions_total;
    assert_eq!(evictions, 1, "the evicted client did not come back");
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

/// A graceful server shutdown is followed by a reconnect once the server is back.
#[tokio::test]
async fn reconnects_after_server_shutdown() {
    let server = start(server_config());
    let addr = server.addr;
    let client = connect(addr, "patient").await;
    let mut events = client.events().await;
    server.shutdown();
    let event = wait_event(&mut events, "disconnect", |e| {
        matches!(e, Event::Disconnected { .. })
    })
    .await;
    assert_eq!(
        event,
        Event::Disconnected {
            reason: DisconnectReason::Server {
                code: 4000,
                reason: "server_shutdown".into()
            },
            will_reconnect: true
        }
    );
    let _server = start_on(addr, server_config());
    wait_event(&mut events, "reconnect", |e| {
        matches!(e, Event::Reconnected { .. })
    })
    .await;
    assert!(client.send("patient", &"self").await.unwrap().is_accepted());
}

/// The token provider is asked for a fresh token before the first connect
/// and before every reconnect.
#[tokio::test]
async fn token_provider_is_asked_before_every_connect() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let server = start(server_config());
    let addr = server.addr;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let client = builder(addr, "tokened")
        .token_provider(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Some(format!("token-{n}")) }
        })
        .connect()
        .await
        .unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let mut events = client.events().await;
    server.kill();
    let _server = start_on(addr, server_config());
    wait_event(&mut events, "reconnect", |e| {
        matches!(e, Event::Reconnected { .. })
    })
    .await;
    assert!(
        asked.load(Ordering::SeqCst) >= 2,
        "asked again before reconnecting"
    );
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

/// A server-side disconnect (the API's, through `Hub::disconnect`):
/// `disconnected` (4008) makes the SDK reconnect by itself, `kicked` (4502)
/// stops it for good.
#[tokio::test]
async fn server_disconnects_are_honoured_by_their_code() {
    use hub_core::protocol::CloseCode;
    let server = start(server_config());
    let client = connect(server.addr, "dora").await;
    let mut events = client.events().await;
    assert!(server
        .hub
        .disconnect("dora", CloseCode::Disconnected)
        .await
        .unwrap());
    let down = wait_event(&mut events, "disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            &down,
            Event::Disconnected {
                reason: DisconnectReason::Server { code: 4008, .. },
                will_reconnect: true
            }
        ),
        "{down:?}"
    );
    wait_event(&mut events, "reconnected", |e| {
        matches!(e, Event::Reconnected { .. })
    })
    .await;

    assert!(server
        .hub
        .disconnect("dora", CloseCode::Kicked)
        .await
        .unwrap());
    let down = wait_event(&mut events, "kicked", |e| {
        matches!(e, Event::Disconnected { .. })
    })
    .await;
    assert!(
        matches!(
            &down,
            Event::Disconnected {
                reason: DisconnectReason::Server { code: 4502, .. },
                will_reconnect: false
            }
        ),
        "{down:?}"
    );
    within(
        "closed",
        client.wait_for_state(|s| *s == ConnectionState::Closed),
    )
    .await
    .ok();
    assert_eq!(client.state(), ConnectionState::Closed);
}

/// With several URLs (nodes of one hub), a client whose node dies moves to
/// the next and takes its subscriptions along; a first connect tries each
/// URL before it gives up.
#[tokio::test]
async fn a_client_moves_to_the_next_url_when_its_node_dies() {
    let one = start(server_config());
    let one_addr = one.addr;
    let two = start(server_config());
    let client = builder(one_addr, "mover")
        .fallback_url(url(two.addr))
        .connect()
        .await
        .unwrap();
    let mut news = client.subscribe::<String>("news").await.unwrap();
    let mut events = client.events().await;
    assert_eq!(one.hub.metrics().connections, 1, "the first URL first");

    one.kill();
    wait_event(&mut events, "reconnect", |e| {
        matches!(e, Event::Reconnected { .. })
    })
    .await;
    assert_eq!(two.hub.metrics().connections, 1, "on the second node now");
    // Subscribed there again: a publication made on node two reaches it.
    let publisher = connect(two.addr, "publisher").await;
    let ack = publisher.publish("news", &"on two").await.unwrap();
    assert_eq!(ack.recipients, 1);
    let got = within("the publication", news.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.payload, "on two");

    // Node one is gone: a new client with it first still connects, to two.
    let late = builder(one_addr, "late")
        .fallback_url(url(two.addr))
        .connect()
        .await
        .expect("connects through the second URL");
    assert!(late.send("mover", &"hi").await.unwrap().is_accepted());
    // With no URL alive, the first connect reports every URL's failure.
    let nowhere = "ws://127.0.0.1:1/ws";
    let error = hub_client::Client::builder(nowhere)
        .address("lost")
        .fallback_url(nowhere)
        .connect()
        .await
        .unwrap_err();
    let ClientError::Connect(why) = error else {
        panic!("{error:?}")
    };
    assert_eq!(why.matches("127.0.0.1:1").count(), 2, "{why}");
}
