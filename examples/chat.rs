//! Two SDK clients talking through a topic and directly.
//!
//! Run: `cargo run -p examples --example chat` (starts a hub in-process), or
//! point it at a running server with `SIGNAL_HUB_URL=ws://127.0.0.1:8080/ws`.

use hub_client::{Client, ClientError, Event};

mod support;
use serde::{Deserialize, Serialize};
use support::hub_url;

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    text: String,
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let (url, _server) = hub_url();

    let alice = Client::builder(&url).address("alice").connect().await?;
    let bob = Client::builder(&url).address("bob").connect().await?;

    // Both join the lobby; alice also listens for direct messages.
    let mut alice_lobby = alice.subscribe::<Line>("lobby").await?;
    let mut bob_lobby = bob.subscribe::<Line>("lobby").await?;
    let mut alice_events = alice.events().await;

    let ack = alice
        .publish(
            "lobby",
            &Line {
                text: "hi everyone".into(),
            },
        )
        .await?;
    println!("alice published to {} subscribers", ack.recipients);
    for sub in [&mut alice_lobby, &mut bob_lobby] {
        if let Some(Ok(msg)) = sub.next().await {
            println!("[{}] {}: {}", msg.topic, msg.from, msg.payload.text);
        }
    }

    let ack = bob
        .send(
            "alice",
            &Line {
                text: "psst, alice".into(),
            },
        )
        .await?;
    println!("bob -> alice: {:?}", ack.status);
    while let Some(event) = alice_events.next().await {
        if let Event::Message(msg) = event {
            println!("[direct] {}: {}", msg.from, msg.payload_as::<Line>()?.text);
            break;
        }
    }

    alice.close().await?;
    bob.close().await?;
    Ok(())
}
