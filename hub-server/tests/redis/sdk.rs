//! The Rust SDK across a node kill: a client carries on from another node unseen, a history subscriber misses nothing.

use super::*;

/// The next number on an SDK subscription.
async fn next_number(stream: &mut hub_client::Subscription<u64>) -> u64 {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("a publication within PATIENCE")
        .expect("the stream goes on")
        .expect("a publication")
        .payload
}

#[actix_rt::test]
async fn an_sdk_client_whose_node_is_killed_mid_stream_carries_on_from_another_unseen() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([node_config(&redis, "t16:"), node_config(&redis, "t16:")]).await;
    let (_dir, doomed) = doomed_node(&redis, "t16:", &[]).await;

    // The SDK knows every node, the doomed one first.
    let sdk = hub_client::Client::builder(doomed.url.clone())
        .fallback_url(one.ws_url())
        .fallback_url(two.ws_url())
        .address("sdk")
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect()
        .await
        .expect("connects to the first node");
    let mut stream = sdk.subscribe::<u64>("stream").await.expect("subscribes");
    let (mut watcher, _) = Client::connect(&two, "watcher").await;
    let ack = watcher
        .request(json!({"type": "hub:watch", "id": "w", "address": "sdk"}))
        .await;
    assert_eq!(ack["online"], true, "{ack}");

    // A publisher on node one publishes a numbered stream, non-stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (mut publisher, _) = Client::connect(&one, "publisher").await;
    let publishing = {
        let stop = stop.clone();
        actix_rt::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                publisher.publish("stream", json!(i)).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut last = next_number(&mut stream).await;
    for _ in 0..20 {
        let n = next_number(&mut stream).await;
        assert!(n > last, "in order, once: {n} after {last}");
        last = n;
    }

    doomed.kill_9();
    // Mid-stream: the client moves to node one and resubscribes; what was
    // published while it moved is missed (no history here), nothing comes
    // twice or out of order, and the stream goes on.
    let before = last;
    while last < before + 100 {
        let n = next_number(&mut stream).await;
        assert!(n > last, "in order, once: {n} after {last}");
        last = n;
    }
    assert_eq!(
        one.hub.metrics().connections,
        2,
        "the sdk and the publisher"
    );
    // It moved within its lease: the watcher heard nothing; its goodbye is
    // the first thing it hears.
    watcher.expect_nothing_pending().await;
    stop.store(true, Ordering::Relaxed);
    let _ = publishing.await;
    sdk.close().await.expect("closes");
    assert_eq!(watcher.expect("hub:offline").await["address"], "sdk");
}

/// A topic with history through the SDK: its node SIGKILLed mid-stream,
/// the client resubscribes on another node from where it was, recovers what
/// was published meanwhile from the hub's one history, and the stream goes
/// on — every publication once, in order, nothing missed.
#[actix_rt::test]
async fn an_sdk_subscriber_of_a_topic_with_history_misses_nothing_across_a_node_kill() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let redis = Redis::start().await;
    let [one] = ready_nodes([history_config(&redis, "t21:")]).await;
    let (_dir, doomed) = doomed_node(&redis, "t21:", &["namespaces.feed.history_size=100"]).await;
    let sdk = hub_client::Client::builder(doomed.url.clone())
        .fallback_url(one.ws_url())
        .address("sdk")
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect()
        .await
        .expect("connects to the doomed node");
    let mut events = sdk.events().await;
    let mut stream = sdk.subscribe::<u64>("feed:live").await.expect("subscribes");
    let stop = Arc::new(AtomicBool::new(false));
    let (mut publisher, _) = Client::connect(&one, "publisher").await;
    let publishing = {
        let stop = stop.clone();
        actix_rt::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let ack = publisher
                    .request(
                        json!({"type": "hub:publish", "id": i, "topic": "feed:live", "payload": i}),
                    )
                    .await;
                assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Subscribed before the first publication: it gets them all.
    let first = 0;
    let mut next = first;
    let mut doomed = Some(doomed);
    while next < first + 300 {
        assert_eq!(
            next_number(&mut stream).await,
            next,
            "every publication once, in order"
        );
        next += 1;
        if next == first + 50 {
            if let Some(node) = doomed.take() {
                node.kill_9();
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = publishing.await;
    // It was resubscribed, and recovered what was published while it moved.
    let recovered = loop {
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .expect("an event within PATIENCE")
            .expect("the client goes on");
        if let hub_client::Event::Resubscribed { topic, recovered } = event {
            assert_eq!(topic, "feed:live");
            break recovered;
        }
    };
    assert_eq!(recovered, Some(true));
    sdk.close().await.expect("closes");
}
