//! Recovery through the SDK: after a reconnect the client resubscribes with
//! the last position it handed on, the publications it missed arrive on the
//! same `Subscription`, in order, once, and `Event::Resubscribed` says
//! whether everything missed was recovered.
//!
//! "Missed" is made certain, not raced: the server is stopped, the
//! publications are made by a server on another port over the same data
//! directory, and only then does a server come back where the client
//! retries.

mod common;

use std::net::SocketAddr;

use common::*;
use hub_client::{Event, Subscription};
use hub_core::PublishOptions;
use serde_json::json;

/// A server storing in `dir`, whose `feed` namespace keeps `size` publications.
fn config(dir: &TempDir, size: usize) -> hub_server::ServerConfig {
    let mut config = server_config();
    config.durability = hub_server::Durability::Disk;
    config.data_dir = dir.0.display().to_string();
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: size,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    config
}

/// Publishes `payloads` to `topic` through a server on another port, over
/// the same data directory, while the client's own server is down.
async fn publish_elsewhere(dir: &TempDir, size: usize, topic: &str, payloads: &[i64]) {
    let other = start(config(dir, size));
    for p in payloads {
        let options = PublishOptions::default();
        other
            .hub
            .publish(topic, "app", &json!(p), options)
            .await
            .unwrap();
    }
    other.shutdown();
}

async fn take(sub: &mut Subscription<i64>, n: usize) -> Vec<(Option<u64>, i64)> {
    let mut got = Vec::new();
    while got.len() < n {
        let m = within("a publication", sub.next())
            .await
            .expect("the subscription goes on")
            .expect("an i64 payload");
        got.push((m.offset, m.payload));
    }
    got
}

async fn resubscribed(events: &mut hub_client::EventStream) -> Option<bool> {
    match wait_event(events, "Resubscribed", |e| {
        matches!(e, Event::Resubscribed { .. })
    })
    .await
    {
        Event::Resubscribed { topic, recovered } => {
            assert_eq!(topic, "feed:news");
            recovered
        }
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missed_publications_arrive_after_a_reconnect_or_the_app_is_told() {
    let dir = TempDir::new("sdk");
    let server = start(config(&dir, 5));
    let addr: SocketAddr = server.addr;
    let bob = connect(addr, "bob").await;
    let mut events = bob.events().await;
    let mut news = bob.subscribe::<i64>("feed:news").await.unwrap();
    for i in 1..=3 {
        server
            .hub
            .publish("feed:news", "app", &json!(i), PublishOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(
        take(&mut news, 3).await,
        vec![(Some(1), 1), (Some(2), 2), (Some(3), 3)]
    );

    // Away: 4 and 5 are published; the client comes back and gets them.
    server.shutdown();
    publish_elsewhere(&dir, 5, "feed:news", &[4, 5]).await;
    let server = start_on(addr, config(&dir, 5));
    assert_eq!(resubscribed(&mut events).await, Some(true));
    assert_eq!(take(&mut news, 2).await, vec![(Some(4), 4), (Some(5), 5)]);
    server
        .hub
        .publish("feed:news", "app", &json!(6), PublishOptions::default())
        .await
        .unwrap();
    assert_eq!(
        take(&mut news, 1).await,
        vec![(Some(6), 6)],
        "then live, no repeat"
    );

    // Away while more than the history holds is published: nothing is
    // replayed, and the application is told.
    server.shutdown();
    publish_elsewhere(&dir, 5, "feed:news", &[7, 8, 9, 10, 11, 12, 13]).await;
    let server = start_on(addr, config(&dir, 5));
    assert_eq!(resubscribed(&mut events).await, Some(false));
    server
        .hub
        .publish("feed:news", "app", &json!(14), PublishOptions::default())
        .await
        .unwrap();
    assert_eq!(
        take(&mut news, 1).await,
        vec![(Some(14), 14)],
        "live again, with nothing partial before it"
    );
}
