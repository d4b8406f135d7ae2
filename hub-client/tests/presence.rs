//! Presence through the SDK: `watch` with `Event::Online` / `Event::Offline`
//! (and a change missed while the link was down reported after the
//! reconnect), a topic's members page by page with their info,
//! `Event::Joined` / `Event::Left`, and the application's own view
//! (`Hub::presence`, `Hub::online`).

mod common;

use common::*;
use hub_client::Event;
use hub_core::permissions::NamespaceOptions;

fn config() -> hub_server::ServerConfig {
    let mut config = server_config();
    let room = NamespaceOptions {
        track_presence: true,
        join_leave: true,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn watching_an_address_through_a_reconnect() {
    let server = start(config());
    let addr = server.addr;
    let alice = connect(addr, "alice").await;
    let mut events = alice.events().await;
    assert!(!alice.watch("bob").await.unwrap(), "bob is not connected");
    assert!(!server.hub.online("bob").await.unwrap());

    let bob = connect(addr, "bob").await;
    let online = wait_event(&mut events, "Online", |e| matches!(e, Event::Online { .. })).await;
    assert_eq!(
        online,
        Event::Online {
            address: "bob".into()
        }
    );
    assert!(server.hub.online("bob").await.unwrap());

    // The server goes away and comes back without bob (his client is
    // gone): alice's client watches again and reports what it missed.
    server.shutdown();
    drop(bob);
    let server = start_on(addr, config());
    let offline = wait_event(&mut events, "Offline", |e| {
        matches!(e, Event::Offline { .. })
    })
    .await;
    assert_eq!(
        offline,
        Event::Offline {
            address: "bob".into()
        }
    );

    // Still watched after the reconnect: bob's return is heard live.
    let _bob = connect(addr, "bob").await;
    let online = wait_event(&mut events, "Online", |e| matches!(e, Event::Online { .. })).await;
    assert_eq!(
        online,
        Event::Online {
            address: "bob".into()
        }
    );
    alice.unwatch("bob").await.unwrap();
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn members_pages_and_join_leave_events() {
    let server = start(config());
    let addr = server.addr;
    let alice = connect(addr, "alice").await;
    let mut events = alice.events().await;
    let _room = alice.subscribe::<i64>("room:x").await.unwrap();
    let mut others = Vec::new();
    for name in ["carol", "bob", "dave"] {
        let c = connect(addr, name).await;
        let sub = c.subscribe::<i64>("room:x").await.unwrap();
        let joined = wait_event(&mut events, "Joined", |e| matches!(e, Event::Joined { .. })).await;
        match joined {
            Event::Joined { topic, member } => {
                assert_eq!((topic.as_str(), member.address.as_str()), ("room:x", name));
                assert_eq!(
                    member.info_as::<String>().unwrap(),
                    None,
                    "an open hub has no info"
                );
            }
            other => panic!("{other:?}"),
        }
        others.push((c, sub));
    }
    let page = alice.presence("room:x", None, 3).await.unwrap();
    let names: Vec<_> = page.members.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(
        (names, page.next.as_deref()),
        (vec!["alice", "bob", "carol"], Some("carol"))
    );
    let all: Vec<_> = alice
        .members("room:x")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.address)
        .collect();
    assert_eq!(all, ["alice", "bob", "carol", "dave"]);
    assert_eq!(alice.presence_stats("room:x").await.unwrap(), 4);
    let app = server
        .hub
        .presence("room:x", Some("bob"), 10)
        .await
        .unwrap();
    let names: Vec<_> = app.members.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!((names, app.total), (vec!["carol", "dave"], 4));
    assert_eq!(server.hub.presence_stats("room:x").await.unwrap(), 4);

    // Leaving the topic (the subscription dropped) is heard at once.
    let (carol, carol_sub) = others.remove(1 - 1);
    drop(carol_sub);
    let left = wait_event(&mut events, "Left", |e| matches!(e, Event::Left { .. })).await;
    assert_eq!(
        left,
        Event::Left {
            topic: "room:x".into(),
            address: "carol".into()
        }
    );
    drop(carol);
    let refused = alice.presence_stats("lobby").await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(hub_client::ErrorCode::PresenceDisabled)
    );
}
