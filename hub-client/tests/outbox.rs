//! The file-backed outbox: a call is on the disk before `send` returns,
//! sent with a `msg_id` fixed for its life, done once answered; a client
//! process that stops before the answer leaves it in the file, and the next
//! one sends it again with the same id, which the hub (durability on)
//! answers without delivering twice. Refusals use up a retry budget and
//! leave the entry dead, to be requeued or aborted.

#![cfg(feature = "outbox")]

mod common;

use std::time::Duration;

use common::*;
use hub_client::{Event, Outbox, OutboxOptions, OutboxState};
use serde_json::json;

fn durable() -> hub_server::ServerConfig {
    let mut config = server_config();
    config.durability = hub_server::Durability::Memory;
    config
}

/// Opens the outbox at `path`, waiting while a previous one still holds the
/// file (its task ends right after its last handle is dropped).
async fn reopen(path: &std::path::Path, client: hub_client::Client) -> Outbox {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match Outbox::open(path, client.clone(), OutboxOptions::default()).await {
            Ok(outbox) => return outbox,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never reopened: {e}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn next_payload(events: &mut hub_client::EventStream) -> String {
    match wait_event(events, "a message", |e| matches!(e, Event::Message(_))).await {
        Event::Message(m) => m.payload_as().unwrap(),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_whose_answer_was_lost_is_sent_again_by_the_next_process_and_delivered_once() {
    let server = start(durable());
    let bob = connect(server.addr, "bob").await;
    let mut bobs = bob.events().await;
    let dir = TempDir::new("restart");
    let path = dir.0.join("outbox.redb");

    // First process: through a proxy that will swallow the hub's answers.
    let proxy = FreezingProxy::start(server.addr).await;
    let alice = connect(proxy.addr, "alice").await;
    let outbox = reopen(&path, alice.clone()).await;
    proxy.freeze_answers();
    let id = outbox.send("bob", &"once").await.unwrap();
    assert_eq!(next_payload(&mut bobs).await, "once", "the hub took it");
    let entry = outbox.entry(id).await.unwrap();
    assert_eq!(entry.state, OutboxState::Inflight, "its answer never came");
    let msg_id = entry.msg_id.clone();
    drop((outbox, alice)); // the process ends

    // Next process: the same file, a working connection.
    let alice = connect(server.addr, "alice").await;
    let outbox = reopen(&path, alice.clone()).await;
    let done = within("the entry settles", outbox.wait(id)).await.unwrap();
    assert_eq!(done.state, OutboxState::Done);
    assert_eq!(done.msg_id, msg_id, "sent again under the same msg_id");
    assert_eq!(
        done.answer,
        Some(json!({"status": "accepted"})),
        "the first answer"
    );
    // Nothing more reached bob: the next thing he gets is a new message.
    alice.send("bob", &"marker").await.unwrap();
    assert_eq!(next_payload(&mut bobs).await, "marker");
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_use_up_the_budget_then_the_entry_can_be_requeued_or_aborted() {
    let server = start(durable());
    let dir = TempDir::new("dead");
    let alice = connect(server.addr, "alice").await;
    let options = OutboxOptions {
        max_attempts: 2,
        retry_backoff: (Duration::from_millis(1), Duration::from_millis(5)),
        ..OutboxOptions::default()
    };
    let outbox = Outbox::open(dir.0.join("o.redb"), alice.clone(), options)
        .await
        .unwrap();
    // carol has never connected: `recipient_not_found`, a temporary refusal.
    let id = outbox.send("carol", &1).await.unwrap();
    let dead = within("dead", outbox.wait(id)).await.unwrap();
    assert_eq!((dead.state, dead.attempts), (OutboxState::Dead, 2));
    assert!(
        dead.error
            .as_deref()
            .unwrap()
            .contains("recipient_not_found"),
        "{dead:?}"
    );
    assert_eq!(outbox.entries(OutboxState::Dead).await.len(), 1);

    // carol shows up once; requeued, the entry is delivered (stored for her).
    let carol = connect(server.addr, "carol").await;
    carol.close().await.unwrap();
    assert!(outbox.requeue(id).await.unwrap());
    let done = within("done", outbox.wait(id)).await.unwrap();
    assert_eq!(done.state, OutboxState::Done);
    assert_eq!(done.answer, Some(json!({"status": "queued"})));
    assert!(
        !outbox.abort(id).await.unwrap(),
        "a done entry cannot be aborted"
    );
    assert!(!outbox.requeue(id).await.unwrap(), "nor requeued");

    let other = outbox.send("dave", &2).await.unwrap();
    assert_eq!(
        within("dead", outbox.wait(other)).await.unwrap().state,
        OutboxState::Dead
    );
    assert!(outbox.abort(other).await.unwrap());
    assert_eq!(
        outbox.entry(other).await.unwrap().state,
        OutboxState::Aborted
    );

    // A publish answers with what it reached.
    let published = outbox.publish("news", &"hello").await.unwrap();
    let done = within("published", outbox.wait(published)).await.unwrap();
    assert_eq!(done.answer, Some(json!({"recipients": 0, "offset": null})));
}

#[tokio::test]
async fn a_file_that_is_not_an_outbox_is_refused_and_left_alone() {
    let server = start(durable());
    let dir = TempDir::new("foreign");
    let path = dir.0.join("notes.txt");
    std::fs::write(&path, b"someone's notes").unwrap();
    let alice = connect(server.addr, "alice").await;
    let error = Outbox::open(&path, alice, OutboxOptions::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("untouched"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"someone's notes");
}
