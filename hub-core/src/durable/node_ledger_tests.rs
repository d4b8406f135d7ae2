//! The node ledger over the memory store, without an actor or a socket:
//! numbering, caps, dedupe, acks and receipts, claims.

use std::time::Duration;

use super::*;
use crate::durable::ledger::{
    AppendAnswer, Appended, Caps, ClaimedHere, Frame, InboxLedger, Once, ReceiptNote,
};
use crate::durable::InboxStore;
use crate::durable::MemoryInboxStore;

fn limits() -> InboxLimits {
    InboxLimits {
        max_messages: 3,
        max_bytes: 1 << 20,
        ttl: Duration::from_secs(60),
        retention: Duration::from_secs(60),
        window: 10,
        sync_every_commit: true,
        sync_interval: Duration::from_secs(1),
        dedupe_window: Duration::from_secs(60),
        dedupe_max_per_sender: 100,
    }
}

/// The ledger, and where it answers appends later.
struct Tested {
    ledger: NodeLedger,
    answers: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<(u64, AppendAnswer)>>,
}

impl std::ops::Deref for Tested {
    type Target = NodeLedger;

    fn deref(&self) -> &NodeLedger {
        &self.ledger
    }
}

fn ledger() -> Tested {
    let mut store: Box<dyn InboxStore> = Box::new(MemoryInboxStore::default());
    let loaded = store.load().expect("loads");
    let writer = Writer::start(store).expect("a store thread");
    let metrics = Arc::new(Metrics::default());
    let ledger = NodeLedger::new(writer, loaded, limits(), metrics, Arc::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    ledger.answer_appends_to(Arc::new(move |done| {
        for answer in done {
            let _ = tx.send(answer);
        }
    }));
    Tested {
        ledger,
        answers: tokio::sync::Mutex::new(rx),
    }
}

fn caps() -> Caps {
    let limits = limits();
    Caps {
        ttl: limits.ttl,
        max_messages: limits.max_messages,
        max_bytes: limits.max_bytes,
        dedupe_window: limits.dedupe_window,
    }
}

const FRAME: Frame<'static> = Frame::Split {
    head: "{\"seq\":",
    tail: "}",
};

async fn append(ledger: &Tested, to: &str, once: Option<Once<'_>>) -> Appended {
    let receipt = ReceiptNote {
        sender: "alice".into(),
        id: Some("\"s\"".into()),
        msg_id: None,
    };
    let ticket = 7;
    let answer = match ledger.append(to, FRAME, Some(&receipt), once.as_ref(), caps(), ticket) {
        Some(now) => now,
        None => {
            let (answered, later) = ledger.answers.lock().await.recv().await.expect("answered");
            assert_eq!(answered, ticket);
            later
        }
    };
    match answer.expect("stored").0 {
        // The frame as stored: its seq in place.
        Appended::Stored(seq, frame) => {
            let frame = frame.expect("the frame");
            assert_eq!(&*frame, format!("{{\"seq\":{seq}}}"));
            Appended::Stored(seq, None)
        }
        other => other,
    }
}

#[tokio::test]
async fn messages_are_numbered_in_order_capped_and_read_back() {
    let ledger = ledger();
    assert_eq!(append(&ledger, "bob", None).await, Appended::Unknown);
    let attached = ledger.attach("bob", limits().retention, limits().ttl, 0);
    assert_eq!(attached.await.expect("attached").last, 0);
    for seq in 1..=3 {
        assert_eq!(
            append(&ledger, "bob", None).await,
            Appended::Stored(seq, None)
        );
    }
    assert_eq!(append(&ledger, "bob", None).await, Appended::Full, "3 kept");
    let read = ledger.read("bob", 1, 10).await.expect("read");
    let seqs: Vec<u64> = read.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2, 3]);
    assert_eq!(&*read[0].frame, "{\"seq\":2}", "the seq is in the frame");
    let receipts = ledger.ack("bob", 2).await.expect("acked");
    assert_eq!(receipts.len(), 2, "a receipt per deleted message");
    assert_eq!(receipts[0].sender, "alice");
    assert_eq!(
        append(&ledger, "bob", None).await,
        Appended::Stored(4, None),
        "room again"
    );
    let again = ledger.attach("bob", limits().retention, limits().ttl, 0);
    let again = again.await.expect("attached");
    assert_eq!((again.acked, again.last), (2, 4));
}

#[tokio::test]
async fn a_retried_msg_id_is_answered_again_and_another_message_conflicts() {
    let ledger = ledger();
    let _ = ledger
        .attach("bob", limits().retention, limits().ttl, 0)
        .await;
    let once = |fingerprint| Once {
        sender: "alice",
        msg_id: "m-1",
        fingerprint,
    };
    assert_eq!(
        append(&ledger, "bob", Some(once([1, 2]))).await,
        Appended::Stored(1, None)
    );
    assert_eq!(
        append(&ledger, "bob", Some(once([1, 2]))).await,
        Appended::Again(DeliveryStatus::Queued),
        "its status is not settled yet"
    );
    ledger
        .settle("bob", &once([1, 2]), DeliveryStatus::Accepted)
        .await;
    assert_eq!(
        append(&ledger, "bob", Some(once([1, 2]))).await,
        Appended::Again(DeliveryStatus::Accepted)
    );
    assert_eq!(
        append(&ledger, "bob", Some(once([9, 9]))).await,
        Appended::Conflict
    );
    let read = ledger.read("bob", 0, 10).await.expect("read");
    assert_eq!(read.len(), 1, "stored once");
}

#[tokio::test]
async fn a_claim_is_fresh_once_then_pending_then_its_outcome() {
    let ledger = ledger();
    let window = Duration::from_secs(60);
    let claim = |print| ledger.claim("alice", "p-1", print, window);
    assert!(matches!(claim([1, 1]).await, Ok(ClaimedHere::Fresh)));
    assert!(matches!(claim([1, 1]).await, Ok(ClaimedHere::Pending)));
    assert!(matches!(claim([2, 2]).await, Ok(ClaimedHere::Conflict)));
    let outcome = Outcome::Published {
        recipients: 3,
        offset: None,
    };
    ledger
        .settle_claim("alice", "p-1", [1, 1], Some(&outcome))
        .await;
    match claim([1, 1]).await {
        Ok(ClaimedHere::Repeat(repeat)) => assert_eq!(repeat, outcome),
        other => panic!("{other:?}"),
    }
    ledger.settle_claim("alice", "p-2", [3, 3], None).await;
    let _ = ledger.claim("alice", "p-2", [3, 3], window).await;
    ledger.settle_claim("alice", "p-2", [3, 3], None).await;
    assert!(
        matches!(
            ledger.claim("alice", "p-2", [4, 4], window).await,
            Ok(ClaimedHere::Fresh)
        ),
        "a failed claim frees the id"
    );
}

#[tokio::test]
async fn close_writes_what_is_gathered() {
    let ledger = ledger();
    let _ = ledger
        .attach("bob", limits().retention, limits().ttl, 0)
        .await;
    assert_eq!(
        append(&ledger, "bob", None).await,
        Appended::Stored(1, None)
    );
    ledger.close().await;
    assert!(ledger.read("bob", 0, 10).await.is_err(), "closed");
}
