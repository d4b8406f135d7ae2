//! One user on two devices through the SDK (`ClientBuilder::device`): both
//! stay connected, a send to the user reaches both, a send to one device
//! only it, and a device that reconnects (the server restarted) is still
//! the same device: it replaces nothing of the other's.

mod common;

use common::*;
use hub_client::{ConnectionState, Event};

async fn message(events: &mut hub_client::EventStream) -> hub_client::IncomingMessage {
    match wait_event(events, "Message", |e| matches!(e, Event::Message(_))).await {
        Event::Message(m) => m,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_on_two_devices_gets_what_is_sent_to_it_on_both() {
    let server = start(server_config());
    let addr = server.addr;
    let phone = builder(addr, "alice")
        .device("phone")
        .connect()
        .await
        .unwrap();
    let laptop = builder(addr, "alice")
        .device("laptop")
        .connect()
        .await
        .unwrap();
    assert_eq!(phone.connection_address(), "alice/phone");
    let (mut on_phone, mut on_laptop) = (phone.events().await, laptop.events().await);
    let bob = connect(addr, "bob").await;

    bob.send("alice", &"to both").await.unwrap();
    for events in [&mut on_phone, &mut on_laptop] {
        let m = message(events).await;
        assert_eq!((m.from.as_str(), m.payload.get()), ("bob", "\"to both\""));
    }
    bob.send("alice/laptop", &"laptop only").await.unwrap();
    assert_eq!(
        message(&mut on_laptop).await.payload.get(),
        "\"laptop only\""
    );

    // The server restarts: each device reconnects as itself.
    let before: Vec<_> = [&phone, &laptop].iter().map(|c| c.state()).collect();
    server.shutdown();
    let server = start_on(addr, server_config());
    for (client, before) in [&phone, &laptop].into_iter().zip(before) {
        let again =
            |s: &ConnectionState| matches!(s, ConnectionState::Connected { .. }) && *s != before;
        tokio::time::timeout(PATIENCE, client.wait_for_state(again))
            .await
            .expect("reconnected within PATIENCE")
            .unwrap();
    }
    let bob = connect(addr, "bob").await;
    bob.send("alice", &"again").await.unwrap();
    for events in [&mut on_phone, &mut on_laptop] {
        assert_eq!(message(events).await.payload.get(), "\"again\"");
    }
    // "laptop only" never reached the phone: its next message was "again".
    drop(server);
}
