//! The SDK across failures: reconnects after a crash or a shutdown (resubscribing and flushing queued calls once), a frozen connection replaced, a bounded offline queue, evictions and server disconnects honoured by their code, a token asked before every connect, the next URL when a node dies.

use super::*;

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
