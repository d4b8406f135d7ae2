//! [`NodeLedger`]: one node's inboxes (the memory engine), the
//! [`InboxLedger`] over an [`InboxStore`](super::InboxStore) (memory or
//! redb) on the store's own thread.
//!
//! The ledger numbers each message (`seq`), holds the caps, and remembers
//! every sender's `msg_id`s, in memory, as of the last commit plus what is
//! gathered since; the store keeps the messages. A call that changes
//! something adds it to the batch being gathered and is answered once its
//! commit returns. Whenever the store thread is idle the batch goes to it
//! as one commit (group commit: one fsync for every change that arrived
//! during the previous one); the store thread answers the callers and starts
//! the next commit itself, so no actor waits for it. Topic histories ride
//! the same commits (`record_history`).
//!
//! After an unclean stop every inbox's numbering skips ahead: the last
//! commits may be gone, and their numbers with them, while a client may
//! have taken them already.

mod book;
mod calls;
mod committing;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use super::desk::InboxLimits;
use super::history::HistoryWaiter;
use super::ledger::{AppendSink, Attached, ReceiptNote};
use super::retries::RetryIds;
use super::store::{Batch, InboxState, Loaded, Outcome};
use super::writer::{Job, Writer};
use crate::error::HubError;
use crate::metrics::Metrics;
use crate::protocol::DeliveryStatus;

/// How far every inbox's numbering skips ahead after an unclean stop.
const SEQ_SKIP_AFTER_CRASH: u64 = 1 << 20;

/// One known address.
struct Inbox {
    /// As of the last commit.
    state: InboxState,
    /// Acknowledged, counting acks not committed yet.
    acked: u64,
    /// The next `seq` to give out.
    next_seq: u64,
    /// Appended and not committed yet: (count, bytes).
    pending: (u64, u64),
    /// A session holds the address (it is not forgotten meanwhile).
    held: bool,
}

impl Inbox {
    fn new(state: InboxState) -> Self {
        Self {
            state,
            acked: state.acked,
            next_seq: state.last_seq + 1,
            pending: (0, 0),
            held: false,
        }
    }

    /// (count, bytes) kept once the acknowledgements not committed yet are:
    /// acknowledged messages no longer count against the caps, though their
    /// deletion is still on its way. Their bytes are estimated at the
    /// inbox's average size.
    fn kept_after_acks(&self) -> (u64, u64) {
        let state = &self.state;
        let freed = self.acked.saturating_sub(state.acked).min(state.count);
        let freed_bytes = state.bytes.checked_div(state.count).unwrap_or(0) * freed;
        (state.count - freed, state.bytes.saturating_sub(freed_bytes))
    }
}

/// A remembered message id.
struct Memo {
    fingerprint: [u64; 2],
    at_ms: u64,
    /// The first answer, once known.
    outcome: Option<Outcome>,
}

/// An append waiting for its commit.
struct AppendWaiter {
    to: Arc<str>,
    /// (sender, msg_id) when the send had an id.
    memo: Option<(Arc<str>, Arc<str>)>,
    seq: u64,
    /// Its frame as stored, handed back with the answer.
    frame: bytestring::ByteString,
    /// The desk's ticket for its answer.
    ticket: u64,
    /// One copy of a send to a user (answered with the append's other
    /// copies, as `Appended::Copies`): with, on its first, how many of the
    /// user's inboxes were full.
    copy: Option<u64>,
}

/// Receipts by recipient, as a sweep answers them.
type ByRecipient = Vec<(String, Vec<ReceiptNote>)>;

/// Where an ack's receipts go.
type AckDone = oneshot::Sender<Result<Vec<ReceiptNote>, HubError>>;

/// Where an attach's answer goes.
type AttachDone = oneshot::Sender<Result<Attached, HubError>>;

/// The callers a batch answers once committed.
#[derive(Default)]
struct Waiters {
    appends: Vec<AppendWaiter>,
    acks: Vec<(Arc<str>, AckDone)>,
    attaches: Vec<(Arc<str>, AttachDone)>,
    sweeps: Vec<oneshot::Sender<ByRecipient>>,
    history: Vec<HistoryWaiter>,
}

/// The ledger's state, shared with the store thread's answers.
struct Book {
    writer: Writer,
    inboxes: HashMap<Arc<str>, Inbox>,
    /// Each user's devices with an inbox (`alice` → `alice/phone`, …): a
    /// send to the user is stored for each.
    devices: HashMap<Arc<str>, Vec<Arc<str>>>,
    batch: Batch,
    /// Who waits for the batch being gathered.
    gathering: Waiters,
    /// Who waits for the commit on its way (`None`: none is).
    committing: Option<Waiters>,
    /// (sender, msg_id) → what it was and how it was answered.
    memos: HashMap<(Arc<str>, Arc<str>), Memo>,
    /// Each sender's remembered ids, oldest first (for the per-sender cap).
    memo_order: HashMap<Arc<str>, VecDeque<Arc<str>>>,
    /// The remembered ids, for sessions (see `retries`).
    retry_ids: Arc<RetryIds>,
    /// Receipts of expired messages no caller waits for, by recipient:
    /// the next sweep's answer.
    loose: ByRecipient,
    /// Where appends are answered (see `AppendSink`).
    sink: Option<AppendSink>,
    limits: InboxLimits,
    metrics: Arc<Metrics>,
}

/// See the module docs.
pub(crate) struct NodeLedger {
    book: Arc<Mutex<Book>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl NodeLedger {
    /// The ledger over what the store `loaded`, writing through `writer`.
    /// With `fsync = "interval"`, syncs every `sync_interval` on a task of
    /// the current runtime.
    pub(crate) fn new(
        writer: Writer,
        loaded: Loaded,
        limits: InboxLimits,
        metrics: Arc<Metrics>,
        retry_ids: Arc<RetryIds>,
    ) -> Self {
        let skip = if loaded.clean {
            0
        } else {
            SEQ_SKIP_AFTER_CRASH
        };
        let inboxes: HashMap<Arc<str>, Inbox> = loaded
            .inboxes
            .into_iter()
            .map(|(address, state)| {
                let mut inbox = Inbox::new(state);
                inbox.next_seq += skip;
                (address, inbox)
            })
            .collect();
        let mut devices = HashMap::new();
        for address in inboxes.keys() {
            note_device(&mut devices, address);
        }
        let mut remembered = loaded.remembered;
        remembered.sort_unstable_by_key(|m| m.at_ms);
        let mut memos = HashMap::new();
        let mut memo_order: HashMap<Arc<str>, VecDeque<Arc<str>>> = HashMap::new();
        for m in remembered {
            retry_ids.insert(&m.sender, &m.msg_id);
            memo_order
                .entry(m.sender.clone())
                .or_default()
                .push_back(m.msg_id.clone());
            let memo = Memo {
                fingerprint: m.fingerprint,
                at_ms: m.at_ms,
                // A send's answer is not kept (its message is): `queued`.
                outcome: m.outcome.or(Some(Outcome::Sent {
                    status: DeliveryStatus::Queued,
                })),
            };
            memos.insert((m.sender, m.msg_id), memo);
        }
        let book = Arc::new(Mutex::new(Book {
            writer,
            inboxes,
            devices,
            batch: Batch::default(),
            gathering: Waiters::default(),
            committing: None,
            memos,
            memo_order,
            retry_ids,
            loose: Vec::new(),
            sink: None,
            limits,
            metrics,
        }));
        if !limits.sync_every_commit {
            actix_rt::spawn(sync_every(Arc::downgrade(&book), limits.sync_interval));
        }
        Self { book }
    }

    /// The book, even if a panic poisoned its lock (its state is whole
    /// between two calls: each call changes it in one go).
    fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }
}

/// Adds `address` to its user's devices, if it is a device's.
fn note_device(devices: &mut HashMap<Arc<str>, Vec<Arc<str>>>, address: &Arc<str>) {
    if let Some(user) = crate::protocol::user_of(address) {
        devices
            .entry(user.into())
            .or_default()
            .push(address.clone());
    }
}

/// Takes `address` out of its user's devices, if it is a device's.
fn forget_device(devices: &mut HashMap<Arc<str>, Vec<Arc<str>>>, address: &str) {
    let Some(user) = crate::protocol::user_of(address) else {
        return;
    };
    if let Some(known) = devices.get_mut(user) {
        known.retain(|d| &**d != address);
        if known.is_empty() {
            devices.remove(user);
        }
    }
}

fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
    book.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes every commit durable every `interval` (`fsync = "interval"`),
/// while the ledger lives.
async fn sync_every(book: Weak<Mutex<Book>>, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(book) = book.upgrade() else {
            return;
        };
        lock(&book).writer.submit(Job::Sync);
    }
}

#[cfg(test)]
#[path = "node_ledger_tests.rs"]
mod tests;
