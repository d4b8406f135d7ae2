//! [`Outbox`]: calls that survive the client process. Each call is written
//! to a file (durably) before [`Outbox::send`] returns, then sent by a
//! background task, one at a time in order, with a `msg_id` fixed for the
//! entry's life: `pending` → `inflight` → `done`, or `dead` after its retry
//! budget (or a refusal that retrying cannot fix), or `aborted` by the
//! application. A process that restarts opens the same file and sends what
//! was not answered, with the same ids, so the hub's dedupe (durability on)
//! makes each call take effect once.
//!
//! Each new entry is one durable commit (an fsync) before `send` returns, and
//! entries go out one at a time, each after the previous one's answer: an
//! outbox is for calls that must not be lost, not for bulk throughput.
//!
//! - `entry` — [`OutboxEntry`], [`OutboxState`], [`OutboxCall`]
//! - `store` — the redb file
//! - `pump` — the task that sends

mod entry;
mod pump;
mod store;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Mutex, Notify};

pub use entry::{OutboxCall, OutboxEntry, OutboxState};
use store::Store;

use crate::client::Client;
use crate::error::ClientError;
use crate::types::Recipients;

/// An outbox's bounds and retry budget.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Refusals with a temporary reason (`recipient_not_found`,
    /// `recipient_queue_full`, `internal`, ...) before an entry is dead.
    /// Default 10.
    pub max_attempts: u32,
    /// Entries not done or aborted the outbox holds; beyond it
    /// [`Outbox::send`] fails with [`ClientError::OutboxFull`]. Default 10,000.
    pub capacity: usize,
    /// Done and aborted entries kept for inspection; the oldest go first.
    /// Default 1,000.
    pub keep_settled: usize,
    /// The wait before a retry: exponential with full jitter, from the
    /// first to the second. Default 100 ms to 30 s.
    pub retry_backoff: (Duration, Duration),
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            capacity: 10_000,
            keep_settled: 1_000,
            retry_backoff: (Duration::from_millis(100), Duration::from_secs(30)),
        }
    }
}

/// The outbox's state in memory, mirrored in the file.
#[derive(Debug)]
struct Book {
    entries: BTreeMap<u64, OutboxEntry>,
    next_id: u64,
}

#[derive(Debug)]
struct Shared {
    store: Arc<Store>,
    /// Held while an entry changes, in memory and in the file, so the file
    /// sees changes in the order they were made.
    book: Mutex<Book>,
    options: OutboxOptions,
    /// Wakes the pump when there is something to send.
    work: Notify,
    /// Bumped on every change, for [`Outbox::wait`].
    changed: watch::Sender<u64>,
}

/// A file-backed outbox over a [`Client`]. Clone it freely; the sending task
/// stops when the last clone is dropped (what it had not sent stays in the
/// file for the next process).
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
    /// Dropped with the last clone: stops the pump.
    _alive: Arc<watch::Sender<()>>,
}

impl Outbox {
    /// Opens the outbox at `path` (creating it) and starts sending through
    /// `client`. Entries a previous process left `pending` or `inflight` are
    /// sent again, first, in order, with their own `msg_id`s.
    ///
    /// # Errors
    /// [`ClientError::Outbox`]: the file cannot be opened, is locked by
    /// another process, or is not an outbox.
    pub async fn open(
        path: impl AsRef<Path>,
        client: Client,
        options: OutboxOptions,
    ) -> Result<Self, ClientError> {
        let path = path.as_ref().to_owned();
        let (store, loaded) = blocking(move || {
            let store = Store::open(&path)?;
            let loaded = store.load()?;
            Ok((store, loaded))
        })
        .await?;
        let mut entries = BTreeMap::new();
        for mut entry in loaded {
            // Its answer never came (or was not written): send it again.
            if entry.state == OutboxState::Inflight {
                entry.state = OutboxState::Pending;
            }
            entries.insert(entry.id, entry);
        }
        let next_id = entries.keys().next_back().map_or(1, |id| id + 1);
        let shared = Arc::new(Shared {
            store: Arc::new(store),
            book: Mutex::new(Book { entries, next_id }),
            options,
            work: Notify::new(),
            changed: watch::channel(0).0,
        });
        let (alive, stopped) = watch::channel(());
        tokio::spawn(pump::run(shared.clone(), client, stopped));
        Ok(Self {
            shared,
            _alive: Arc::new(alive),
        })
    }

    /// Adds a `hub:send` of `payload` to `to`; returns its entry id once it
    /// is on the disk.
    ///
    /// # Errors
    /// `OutboxFull`, `Payload`, or `Outbox` (the file could not be written).
    pub async fn send(&self, to: &str, payload: &impl Serialize) -> Result<u64, ClientError> {
        let payload = raw(payload)?;
        self.add(OutboxCall::Send {
            to: to.to_owned(),
            payload,
        })
        .await
    }

    /// Adds a `hub:publish` of `payload` to `topic`; returns its entry id
    /// once it is on the disk.
    ///
    /// # Errors
    /// As [`Outbox::send`].
    pub async fn publish(&self, topic: &str, payload: &impl Serialize) -> Result<u64, ClientError> {
        let payload = raw(payload)?;
        self.add(OutboxCall::Publish {
            topic: topic.to_owned(),
            payload,
        })
        .await
    }

    /// Adds a `hub:broadcast`; returns its entry id once it is on the disk.
    ///
    /// # Errors
    /// As [`Outbox::send`].
    pub async fn broadcast(
        &self,
        to: Recipients,
        payload: &impl Serialize,
    ) -> Result<u64, ClientError> {
        let payload = raw(payload)?;
        let to = match to {
            Recipients::All => None,
            Recipients::List(list) => Some(list),
        };
        self.add(OutboxCall::Broadcast { to, payload }).await
    }

    async fn add(&self, call: OutboxCall) -> Result<u64, ClientError> {
        let mut book = self.shared.book.lock().await;
        let held = book
            .entries
            .values()
            .filter(|e| store::counts(e.state))
            .count();
        if held >= self.shared.options.capacity {
            return Err(ClientError::OutboxFull(self.shared.options.capacity));
        }
        let entry = OutboxEntry {
            id: book.next_id,
            msg_id: uuid::Uuid::new_v4().simple().to_string(),
            call,
            state: OutboxState::Pending,
            attempts: 0,
            error: None,
            answer: None,
        };
        self.shared
            .write(vec![entry.clone()], Vec::new(), true)
            .await?;
        book.next_id += 1;
        let id = entry.id;
        book.entries.insert(id, entry);
        drop(book);
        self.shared.touched();
        Ok(id)
    }

    /// The entry `id`, as it stands now.
    pub async fn entry(&self, id: u64) -> Option<OutboxEntry> {
        self.shared.book.lock().await.entries.get(&id).cloned()
    }

    /// Every entry in `state`, oldest first.
    pub async fn entries(&self, state: OutboxState) -> Vec<OutboxEntry> {
        let book = self.shared.book.lock().await;
        book.entries
            .values()
            .filter(|e| e.state == state)
            .cloned()
            .collect()
    }

    /// Waits until entry `id` is settled (done, dead or aborted) and
    /// returns it; `None` for an id the outbox does not hold.
    pub async fn wait(&self, id: u64) -> Option<OutboxEntry> {
        let mut changed = self.shared.changed.subscribe();
        loop {
            let entry = self.entry(id).await?;
            if entry.state.is_settled() {
                return Some(entry);
            }
            if changed.changed().await.is_err() {
                return Some(entry);
            }
        }
    }

    /// Gives up entry `id` if it is pending or dead (one in flight may
    /// already have taken effect). Returns whether it was aborted.
    ///
    /// # Errors
    /// `Outbox`: the file could not be written.
    pub async fn abort(&self, id: u64) -> Result<bool, ClientError> {
        self.change(id, &[OutboxState::Pending, OutboxState::Dead], |e| {
            e.state = OutboxState::Aborted;
        })
        .await
    }

    /// Sends dead entry `id` again, with a fresh retry budget and its own
    /// `msg_id`. Returns whether it was dead.
    ///
    /// # Errors
    /// `Outbox`: the file could not be written.
    pub async fn requeue(&self, id: u64) -> Result<bool, ClientError> {
        let requeued = self
            .change(id, &[OutboxState::Dead], |e| {
                e.state = OutboxState::Pending;
                e.attempts = 0;
            })
            .await?;
        if requeued {
            self.shared.work.notify_one();
        }
        Ok(requeued)
    }

    async fn change(
        &self,
        id: u64,
        from: &[OutboxState],
        f: impl FnOnce(&mut OutboxEntry),
    ) -> Result<bool, ClientError> {
        let mut book = self.shared.book.lock().await;
        let Some(entry) = book.entries.get(&id).filter(|e| from.contains(&e.state)) else {
            return Ok(false);
        };
        let mut entry = entry.clone();
        f(&mut entry);
        self.shared
            .write(vec![entry.clone()], Vec::new(), true)
            .await?;
        book.entries.insert(id, entry);
        drop(book);
        self.shared.touched();
        Ok(true)
    }
}

impl Shared {
    /// Writes entries (and deletes `gone`) in the file, off the async threads.
    async fn write(
        &self,
        entries: Vec<OutboxEntry>,
        gone: Vec<u64>,
        durable: bool,
    ) -> Result<(), ClientError> {
        let store = self.store.clone();
        blocking(move || store.write(&entries, &gone, durable)).await
    }

    /// Tells waiters something changed, and the pump there may be work.
    fn touched(&self) {
        self.touched_quietly();
        self.work.notify_one();
    }

    /// Tells waiters something changed (the pump's own changes).
    fn touched_quietly(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// Runs blocking file work on tokio's blocking threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Outbox(format!("outbox task failed: {e}")))?
}

fn raw(payload: &impl Serialize) -> Result<Box<serde_json::value::RawValue>, ClientError> {
    serde_json::value::to_raw_value(payload).map_err(|e| ClientError::Payload(e.to_string()))
}
