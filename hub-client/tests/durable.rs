//! Stored direct messages through the SDK: acknowledged when the
//! application takes them, delivered again after a reconnect until then,
//! each handed to the application once — also across a SIGKILL of the real
//! server binary.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use hub_client::{Event, IncomingMessage};
use hub_core::protocol::CloseCode;
use hub_core::protocol::DeliveryStatus;

fn durable() -> hub_server::ServerConfig {
    let mut config = server_config();
    config.durability = hub_server::Durability::Memory;
    config
}

async fn next_message(events: &mut hub_client::EventStream) -> IncomingMessage {
    match wait_event(events, "a message", |e| matches!(e, Event::Message(_))).await {
        Event::Message(m) => m,
        _ => unreachable!(),
    }
}

/// Taken messages are not delivered again after a reconnect; messages not
/// taken yet are, once.
#[tokio::test]
async fn taken_messages_stay_taken_across_a_reconnect() {
    let server = start(durable());
    let bob = connect(server.addr, "bob").await;
    let mut events = bob.events().await;
    let alice = connect(server.addr, "alice").await;
    for i in 0..3 {
        let ack = alice.send("bob", &i).await.unwrap();
        // Bob was told he is connected: his inbox was attached by then.
        assert_eq!(ack.status, DeliveryStatus::Accepted, "{ack:?}");
    }
    let first = next_message(&mut events).await;
    assert_eq!(
        (first.seq, first.payload_as::<i32>().unwrap()),
        (Some(1), 0)
    );
    // The server cuts bob off; he reconnects by himself. Message 1 was taken
    // (acknowledged); 2 and 3 are in his buffer, handed on already.
    assert!(server
        .hub
        .disconnect("bob", CloseCode::Disconnected)
        .await
        .unwrap());
    let mut seen = vec![first.seq.unwrap()];
    loop {
        let event = within("events", events.next()).await.expect("events go on");
        match event {
            Event::Message(m) => seen.push(m.seq.unwrap()),
            Event::Reconnected { .. } => break,
            _ => {}
        }
    }
    while seen.len() < 3 {
        seen.push(next_message(&mut events).await.seq.unwrap());
    }
    assert_eq!(seen, vec![1, 2, 3], "each once, in order");
    // Nothing else comes: a new message is the next one the app sees.
    alice.send("bob", &"after").await.unwrap();
    let next = next_message(&mut events).await;
    assert_eq!(next.payload_as::<String>().unwrap(), "after");
    assert_eq!(next.seq, Some(4));
}

/// With manual acks, what the application did not acknowledge comes back
/// after a reconnect; the SDK does not hand it over twice on the same
/// connection.
#[tokio::test]
async fn manual_acks_decide_what_comes_back() {
    let server = start(durable());
    let bob = builder(server.addr, "bob")
        .manual_ack()
        .connect()
        .await
        .unwrap();
    let mut events = bob.events().await;
    let alice = connect(server.addr, "alice").await;
    for i in 0..2 {
        alice.send("bob", &i).await.unwrap();
    }
    let one = next_message(&mut events).await;
    let _two = next_message(&mut events).await;
    bob.ack(one.seq.unwrap()).await.unwrap();
    drop(bob);
    drop(events);
    // A new client process for bob: only the unacknowledged message returns.
    let bob = builder(server.addr, "bob").connect().await.unwrap();
    let mut events = bob.events().await;
    let again = next_message(&mut events).await;
    assert_eq!(
        (again.seq, again.payload_as::<i32>().unwrap()),
        (Some(2), 1)
    );
}

/// The port of a listener that was just closed.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The hub-server binary of this build (`target/<profile>/hub-server`),
/// built first if this test runs without it (`cargo test -p hub-client`).
fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir.join("hub-server");
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "hub-server", "--bin", "hub-server"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "hub-server builds");
    }
    binary
}

fn spawn_binary(dir: &std::path::Path, port: u16) -> std::process::Child {
    std::process::Command::new(server_binary())
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--set", &format!("data_dir={}", dir.display())])
        .args(["--set", "rate_limit_per_sec=0", "--set", "workers=1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("hub-server starts")
}

async fn listening(port: u16) {
    within("the binary listens", async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// The real binary is SIGKILLed while alice sends to bob through the SDK;
/// it restarts on the same directory and both SDK clients reconnect by
/// themselves. Every message alice's SDK saw answered reaches bob's
/// application exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn every_answered_message_reaches_the_app_exactly_once_across_kill_9() {
    let dir = std::env::temp_dir().join(format!("hub-sdk-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut hub = spawn_binary(&dir, port);
    listening(port).await;

    let bob = connect(addr, "bob").await;
    let mut events = bob.events().await;
    let alice = connect(addr, "alice").await;
    let sender = tokio::spawn(async move {
        let mut answered = Vec::new();
        for i in 0..400u64 {
            // A call whose connection dies is failed or retried by the SDK;
            // only answered ones count.
            if let Ok(Ok(ack)) =
                tokio::time::timeout(Duration::from_secs(5), alice.send("bob", &i)).await
            {
                if ack.status != DeliveryStatus::Rejected {
                    answered.push(i);
                }
            }
            if i == 150 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        (alice, answered)
    });
    // Let some go through, then kill the server without warning.
    let mut received = Vec::new();
    while received.len() < 100 {
        received.push(next_message(&mut events).await);
    }
    hub.kill().expect("SIGKILL");
    let _ = hub.wait();
    let mut hub = spawn_binary(&dir, port);
    listening(port).await;
    let (alice, answered) = within("alice's sends", sender).await.unwrap();
    let marker = alice.send("bob", &u64::MAX).await.unwrap();
    assert_ne!(marker.status, DeliveryStatus::Rejected);
    loop {
        let m = next_message(&mut events).await;
        if m.payload_as::<u64>().unwrap() == u64::MAX {
            break;
        }
        received.push(m);
    }
    let mut payloads = HashSet::new();
    for m in &received {
        let p = m.payload_as::<u64>().unwrap();
        assert!(payloads.insert(p), "{p} reached the application twice");
    }
    let lost: Vec<_> = answered.iter().filter(|i| !payloads.contains(i)).collect();
    assert!(lost.is_empty(), "answered but never delivered: {lost:?}");
    assert!(
        answered.len() > 100,
        "the test sent through the kill: {}",
        answered.len()
    );
    let _ = hub.kill();
    let _ = hub.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `send_with_receipt`: the sender's event stream gets a receipt once the
/// recipient's application has taken the message.
#[tokio::test]
async fn a_receipt_reaches_the_sender_when_the_recipient_takes_the_message() {
    let server = start(durable());
    let bob = connect(server.addr, "bob").await;
    let mut bob_events = bob.events().await;
    let alice = connect(server.addr, "alice").await;
    let mut alice_events = alice.events().await;
    let ack = alice.send_with_receipt("bob", &"hello").await.unwrap();
    assert_eq!(ack.status, DeliveryStatus::Accepted);
    let m = next_message(&mut bob_events).await;
    assert_eq!(m.payload_as::<String>().unwrap(), "hello");
    let receipt = match wait_event(&mut alice_events, "a receipt", |e| {
        matches!(e, Event::Receipt(_))
    })
    .await
    {
        Event::Receipt(r) => r,
        _ => unreachable!(),
    };
    assert_eq!(receipt.to, "bob");
    assert!(receipt.delivered);
    assert!(receipt.seq.is_some(), "stored for the sender");
}
