//! The inbox desk over one node's ledger and a store whose commits with
//! acknowledgements the test holds back: an acknowledgement deferred behind
//! a deletion on its way is not lost when its session leaves or another
//! session takes the address — the next session starts after it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use actix::prelude::*;
use serde_json::value::RawValue;

use super::*;
use crate::durable::ledger::OneNode;
use crate::durable::node_ledger::NodeLedger;
use crate::durable::store::{Batch, Committed, Loaded, StoreError, StoredMessage};
use crate::durable::writer::Writer;
use crate::durable::{InboxStore, MemoryInboxStore};
use crate::outbox::OutFrame;

/// Commits with acknowledgements wait while the gate is shut.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn shut(&self, shut: bool) {
        *self.0 .0.lock().unwrap() = shut;
        self.0 .1.notify_all();
    }

    fn pass(&self) {
        let (shut, turned) = &*self.0;
        let mut shut = shut.lock().unwrap();
        while *shut {
            shut = turned.wait(shut).unwrap();
        }
    }
}

struct GatedStore {
    inner: MemoryInboxStore,
    gate: Gate,
}

impl InboxStore for GatedStore {
    fn load(&mut self) -> Result<Loaded, StoreError> {
        self.inner.load()
    }

    fn commit(&mut self, batch: &Batch, sync: bool) -> Result<Committed, StoreError> {
        if !batch.acks.is_empty() {
            self.gate.pass();
        }
        self.inner.commit(batch, sync)
    }

    fn read(
        &mut self,
        address: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.inner.read(address, after, max)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.inner.sync()
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.inner.close()
    }
}

fn limits() -> InboxLimits {
    InboxLimits {
        max_messages: 100,
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

fn desk(gate: &Gate) -> Addr<InboxDesk> {
    let mut store: Box<dyn InboxStore> = Box::new(GatedStore {
        inner: MemoryInboxStore::default(),
        gate: gate.clone(),
    });
    let loaded = store.load().expect("loads");
    let writer = Writer::start(store).expect("a store thread");
    let metrics = Arc::new(Metrics::default());
    let ledger = NodeLedger::new(writer, loaded, limits(), metrics.clone(), Arc::default());
    InboxDesk::new(
        Arc::new(ledger),
        Arc::new(OneNode),
        limits(),
        metrics,
        Arc::default(),
        None,
    )
    .start()
}

/// A session of `bob` holding his inbox, handed over from now on.
async fn attach(desk: &Addr<InboxDesk>, handle: &SessionHandle) {
    desk.send(Attach {
        address: "bob".into(),
        handle: handle.clone(),
        acks: true,
    })
    .await
    .expect("attached");
    desk.do_send(HandOver {
        address: "bob".into(),
        session: handle.id,
    });
}

async fn send(desk: &Addr<InboxDesk>, n: u32) -> DeliveryStatus {
    let payload = RawValue::from_string(n.to_string()).unwrap();
    desk.send(Append {
        from: "alice".into(),
        to: "bob".into(),
        payload,
        correlation_id: None,
        in_reply_to: None,
        msg_id: None,
        receipt: None,
    })
    .await
    .expect("the desk answers")
    .expect("stored")
}

/// The `seq` of the next stored message handed to a session.
async fn next_seq(frames: &mut tokio::sync::mpsc::Receiver<OutFrame>) -> u64 {
    let frame = tokio::time::timeout(Duration::from_secs(10), frames.recv())
        .await
        .expect("a frame within 10 s")
        .expect("the queue is open");
    let text: serde_json::Value = serde_json::from_str(frame.as_text().unwrap()).unwrap();
    text["seq"].as_u64().expect("a stored message")
}

/// Acknowledges 1 (its deletion held in the store), then 3 (deferred
/// behind it); then the session leaves, or (`takeover`) another session
/// takes the address, while the deletion is still held. Once the store lets
/// it through, the new session is handed 4, not 2 and 3 again.
async fn a_deferred_ack_survives(takeover: bool) {
    let gate = Gate::default();
    let desk = desk(&gate);
    let (first, mut frames) = crate::fixtures::handle(1, 64);
    attach(&desk, &first).await;
    for n in 1..=3 {
        assert_eq!(send(&desk, n).await, DeliveryStatus::Accepted);
    }
    for seq in 1..=3 {
        assert_eq!(next_seq(&mut frames).await, seq);
    }
    gate.shut(true);
    for seq in [1, 3] {
        desk.do_send(Ack {
            address: "bob".into(),
            session: first.id,
            seq,
        });
    }
    let (second, mut frames) = crate::fixtures::handle(2, 64);
    let attached = if takeover {
        // Asked now (the message is in the desk's mailbox), answered once
        // the store lets commits through.
        Some(desk.send(Attach {
            address: "bob".into(),
            handle: second.clone(),
            acks: true,
        }))
    } else {
        desk.do_send(Detach {
            address: "bob".into(),
            session: first.id,
        });
        None
    };
    // A message the desk answers once all of the above is handled.
    let _ = desk
        .send(Ack {
            address: "nobody".into(),
            session: first.id,
            seq: 0,
        })
        .await;
    gate.shut(false);
    match attached {
        Some(attached) => {
            attached.await.expect("attached");
            desk.do_send(HandOver {
                address: "bob".into(),
                session: second.id,
            });
        }
        None => attach(&desk, &second).await,
    }
    assert_eq!(send(&desk, 4).await, DeliveryStatus::Accepted);
    assert_eq!(next_seq(&mut frames).await, 4, "1 to 3 were acknowledged");
}

#[actix_rt::test]
async fn a_deferred_ack_is_kept_when_the_session_leaves() {
    a_deferred_ack_survives(false).await;
}

#[actix_rt::test]
async fn a_deferred_ack_is_kept_when_another_session_takes_the_address() {
    a_deferred_ack_survives(true).await;
}
