//! [`InboxStore`]: where stored direct messages live — per address, in
//! `seq` order, until the recipient acknowledges them — with the state of
//! each known address. Called only from the store's own thread (see
//! `writer`), so its calls block: an embedded database works in place.
//!
//! [`MemoryInboxStore`] keeps everything in memory (lost on restart: for
//! tests and for `durability = "memory"`); `RedbInboxStore` (feature
//! `redb`) keeps it in one file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytestring::ByteString;

use crate::protocol::DeliveryStatus;

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its number in the recipient's inbox.
    pub seq: u64,
    /// When it was stored, in milliseconds since the Unix epoch.
    pub stored_at_ms: u64,
    /// The `hub:message` frame as the recipient gets it.
    pub frame: ByteString,
    /// Who asked for a receipt, if anyone (kept beside the message; not
    /// returned by [`InboxStore::read`]).
    pub receipt: Option<ReceiptTo>,
}

/// Where a receipt goes when its message is acknowledged or expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptTo {
    /// The sender's address.
    pub sender: Arc<str>,
    /// The send's `id`, as JSON text (`"a"` or `7`).
    pub id: Option<String>,
    /// The send's `msg_id`.
    pub msg_id: Option<Arc<str>>,
}

/// A receipt a commit set off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The recipient of the message.
    pub to: Arc<str>,
    /// For whom.
    pub receipt: ReceiptTo,
    /// Acknowledged (`true`), or expired.
    pub delivered: bool,
}

/// What the store knows of one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxState {
    /// When a session last held it (connected or left), in Unix milliseconds.
    pub last_seen_ms: u64,
    /// Every message up to this `seq` is acknowledged (and deleted).
    pub acked: u64,
    /// The highest `seq` given out.
    pub last_seq: u64,
    /// Messages kept.
    pub count: u64,
    /// Their frames' bytes.
    pub bytes: u64,
    /// When the oldest kept message was stored (0 when none is kept).
    pub first_at_ms: u64,
}

/// How a request with a `msg_id` was answered the first time; a retry is
/// answered the same.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A `hub:send`.
    Sent {
        /// `accepted` or `queued`.
        status: DeliveryStatus,
    },
    /// A `hub:publish`.
    Published {
        /// Subscribers it reached.
        recipients: usize,
        /// Its offset, in a topic with history.
        offset: Option<u64>,
    },
    /// A `hub:broadcast`.
    Broadcast {
        /// Recipients it reached.
        recipients: usize,
        /// Listed addresses it did not find.
        not_found: Vec<String>,
    },
}

/// A message id a sender used, remembered for the dedupe window: a
/// retry with the same id and the same fingerprint (kind, target and
/// payload) is answered again without taking effect twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The sender's address.
    pub sender: Arc<str>,
    /// The sender's `msg_id`.
    pub msg_id: Arc<str>,
    /// What the message was: a hash of its type, target and payload.
    pub fingerprint: [u64; 2],
    /// When it was first seen, in Unix milliseconds.
    pub at_ms: u64,
    /// The first answer of a publish or broadcast (a send's is not kept:
    /// its message is, and a retry after a restart is told `queued`).
    pub outcome: Option<Outcome>,
}

/// One publication kept in its topic's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPublication {
    /// Its offset in the topic.
    pub offset: u64,
    /// When it was published, in Unix milliseconds.
    pub at_ms: u64,
    /// The `hub:message` frame as subscribers get it (with its `offset`).
    pub frame: ByteString,
}

/// Where a topic's stream stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPosition {
    /// Names this run of the topic's history; a new epoch means the
    /// publications before it are gone.
    pub epoch: Arc<str>,
    /// The offset of the last publication.
    pub last_offset: u64,
    /// Every publication from this offset on is kept (older ones were
    /// dropped by size or age): a client that saw up to `covered_from - 1`
    /// can recover.
    pub covered_from: u64,
    /// Last publication or subscriber, in Unix milliseconds.
    pub touched_ms: u64,
}

/// One topic's history as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTopic {
    /// The topic.
    pub topic: Arc<str>,
    /// Its position.
    pub position: TopicPosition,
    /// Its kept publications from `covered_from` on, in offset order.
    pub publications: Vec<StoredPublication>,
}

/// A topic's history change, in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryChange {
    /// The topic.
    pub topic: Arc<str>,
    /// A publication to keep, if any.
    pub publication: Option<StoredPublication>,
    /// The position after it; publications below `covered_from` are deleted.
    pub position: TopicPosition,
}

/// What a store holds at start.
#[derive(Debug)]
pub struct Loaded {
    /// The store was closed cleanly last time (or is new). After an
    /// unclean stop, commits that were not synced may be lost, and with
    /// them `seq` numbers already handed out: the inboxes then skip ahead.
    pub clean: bool,
    /// Every known address and its state.
    pub inboxes: Vec<(Arc<str>, InboxState)>,
    /// Every remembered message id.
    pub remembered: Vec<Remembered>,
    /// Every topic with a kept position.
    pub topics: Vec<StoredTopic>,
}

/// One group commit: everything the inbox actor gathered since the last.
#[derive(Debug, Default)]
pub struct Batch {
    /// Messages to store, in `seq` order per address.
    pub appends: Vec<(Arc<str>, StoredMessage)>,
    /// Acknowledgements: delete each address's messages up to this `seq`.
    pub acks: Vec<(Arc<str>, u64)>,
    /// Drop each address's messages stored before this time (their TTL
    /// passed); counts as acknowledging them.
    pub expire: Vec<(Arc<str>, u64)>,
    /// A session held the address at this time (creates unknown ones).
    pub seen: Vec<(Arc<str>, u64)>,
    /// Addresses to forget, with their messages (`offline_retention` passed).
    pub forget: Vec<Arc<str>>,
    /// Message ids to remember.
    pub remember: Vec<Remembered>,
    /// Message ids to forget: (sender, msg_id), out of the dedupe window.
    pub unremember: Vec<(Arc<str>, Arc<str>)>,
    /// Topic history changes, in order.
    pub history: Vec<HistoryChange>,
    /// Topics to forget, with their history (their position expired).
    pub forget_topics: Vec<Arc<str>>,
}

impl Batch {
    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.appends.is_empty()
            && self.acks.is_empty()
            && self.expire.is_empty()
            && self.seen.is_empty()
            && self.forget.is_empty()
            && self.remember.is_empty()
            && self.unremember.is_empty()
            && self.history.is_empty()
            && self.forget_topics.is_empty()
    }
}

/// What a commit did: the new state of every address it touched (forgotten
/// ones are absent), and how many messages expired.
#[derive(Debug, Default)]
pub struct Committed {
    /// Touched addresses and their state now.
    pub states: Vec<(Arc<str>, InboxState)>,
    /// Messages dropped for their TTL.
    pub expired: u64,
    /// Receipts of the messages this commit deleted.
    pub receipts: Vec<Fired>,
}

/// A store failure; the batch is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// Where stored direct messages live. See the module docs.
pub trait InboxStore: Send + 'static {
    /// Every known address with its state, and every remembered message id
    /// (at start).
    ///
    /// # Errors
    /// The store cannot be read.
    fn load(&mut self) -> Result<Loaded, StoreError>;

    /// Applies `batch` in one transaction. `sync`: durable before this
    /// returns (an fsync); otherwise at the next synced commit or [`InboxStore::sync`].
    ///
    /// # Errors
    /// Nothing of the batch was applied.
    fn commit(&mut self, batch: &Batch, sync: bool) -> Result<Committed, StoreError>;

    /// Up to `max` messages of `address` after `seq` `after`, in order.
    ///
    /// # Errors
    /// The store cannot be read.
    fn read(
        &mut self,
        address: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Makes every commit so far durable.
    ///
    /// # Errors
    /// The sync failed.
    fn sync(&mut self) -> Result<(), StoreError>;

    /// The last call: makes everything durable and marks the store closed
    /// cleanly (see [`Loaded::clean`]).
    ///
    /// # Errors
    /// The sync failed.
    fn close(&mut self) -> Result<(), StoreError> {
        self.sync()
    }
}

/// Applies a batch to one address's state and messages: the rules every
/// store shares. `messages` are the address's kept messages by `seq`.
pub(crate) fn apply_append(state: &mut InboxState, message: &StoredMessage) {
    if state.count == 0 {
        state.first_at_ms = message.stored_at_ms;
    }
    state.last_seq = state.last_seq.max(message.seq);
    state.count += 1;
    state.bytes += message.frame.len() as u64;
}

/// The state after deleting `deleted` (count, bytes) up to `seq` `upto`,
/// with `next_at_ms` the stored time of the first message left (if any).
pub(crate) fn apply_trim(
    state: &mut InboxState,
    upto: u64,
    deleted: (u64, u64),
    next_at_ms: Option<u64>,
) {
    state.acked = state.acked.max(upto);
    state.count -= deleted.0.min(state.count);
    state.bytes -= deleted.1.min(state.bytes);
    state.first_at_ms = next_at_ms.unwrap_or(0);
}

/// Everything in memory. See the module docs.
#[derive(Debug, Default)]
pub struct MemoryInboxStore {
    inboxes: HashMap<Arc<str>, (InboxState, BTreeMap<u64, StoredMessage>)>,
    remembered: HashMap<(Arc<str>, Arc<str>), Remembered>,
    topics: HashMap<Arc<str>, (TopicPosition, BTreeMap<u64, StoredPublication>)>,
}

impl MemoryInboxStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn trim(
        &mut self,
        address: &Arc<str>,
        upto: u64,
        delivered: bool,
        fired: &mut Vec<Fired>,
    ) -> Option<u64> {
        let (state, messages) = self.inboxes.get_mut(address)?;
        let mut deleted = (0, 0);
        let mut last = None;
        while let Some(entry) = messages.first_entry() {
            if *entry.key() > upto {
                break;
            }
            let message = entry.remove();
            deleted.0 += 1;
            deleted.1 += message.frame.len() as u64;
            last = Some(message.seq);
            if let Some(receipt) = message.receipt {
                fired.push(Fired {
                    to: address.clone(),
                    receipt,
                    delivered,
                });
            }
        }
        let next = messages.values().next().map(|m| m.stored_at_ms);
        apply_trim(state, upto, deleted, next);
        last
    }
}

impl InboxStore for MemoryInboxStore {
    fn load(&mut self) -> Result<Loaded, StoreError> {
        Ok(Loaded {
            clean: true,
            inboxes: self
                .inboxes
                .iter()
                .map(|(address, (state, _))| (address.clone(), *state))
                .collect(),
            remembered: self.remembered.values().cloned().collect(),
            topics: self
                .topics
                .iter()
                .map(|(topic, (position, kept))| StoredTopic {
                    topic: topic.clone(),
                    position: position.clone(),
                    publications: kept.values().cloned().collect(),
                })
                .collect(),
        })
    }

    fn commit(&mut self, batch: &Batch, _sync: bool) -> Result<Committed, StoreError> {
        let mut touched: Vec<Arc<str>> = Vec::new();
        let mut expired = 0;
        let mut fired = Vec::new();
        for (address, at) in &batch.seen {
            let (state, _) = self.inboxes.entry(address.clone()).or_default();
            state.last_seen_ms = state.last_seen_ms.max(*at);
            touched.push(address.clone());
        }
        for (address, message) in &batch.appends {
            let (state, messages) = self.inboxes.entry(address.clone()).or_default();
            apply_append(state, message);
            messages.insert(message.seq, message.clone());
            touched.push(address.clone());
        }
        for (address, upto) in &batch.acks {
            self.trim(address, *upto, true, &mut fired);
            touched.push(address.clone());
        }
        for (address, before_ms) in &batch.expire {
            let Some((_, messages)) = self.inboxes.get(address) else {
                continue;
            };
            let old: Vec<u64> = messages
                .values()
                .take_while(|m| m.stored_at_ms < *before_ms)
                .map(|m| m.seq)
                .collect();
            if let Some(upto) = old.last() {
                expired += old.len() as u64;
                self.trim(address, *upto, false, &mut fired);
            }
            touched.push(address.clone());
        }
        for address in &batch.forget {
            if let Some((_, messages)) = self.inboxes.remove(address) {
                for message in messages.into_values() {
                    if let Some(receipt) = message.receipt {
                        fired.push(Fired {
                            to: address.clone(),
                            receipt,
                            delivered: false,
                        });
                    }
                }
            }
        }
        for memo in &batch.remember {
            let key = (memo.sender.clone(), memo.msg_id.clone());
            self.remembered.insert(key, memo.clone());
        }
        for key in &batch.unremember {
            self.remembered.remove(key);
        }
        for change in &batch.history {
            let (position, kept) = self
                .topics
                .entry(change.topic.clone())
                .or_insert_with(|| (change.position.clone(), BTreeMap::new()));
            *position = change.position.clone();
            if let Some(publication) = &change.publication {
                kept.insert(publication.offset, publication.clone());
            }
            *kept = kept.split_off(&change.position.covered_from);
        }
        for topic in &batch.forget_topics {
            self.topics.remove(topic);
        }
        touched.sort_unstable();
        touched.dedup();
        let states = touched
            .into_iter()
            .filter_map(|a| self.inboxes.get(&a).map(|(s, _)| (a.clone(), *s)))
            .collect();
        Ok(Committed {
            states,
            expired,
            receipts: fired,
        })
    }

    fn read(
        &mut self,
        address: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        Ok(self
            .inboxes
            .get(address)
            .map(|(_, messages)| {
                messages
                    .range(after.saturating_add(1)..)
                    .take(max)
                    .map(|(_, m)| StoredMessage {
                        receipt: None,
                        ..m.clone()
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
