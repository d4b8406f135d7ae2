//! Fault injection for `scripts/faults.sh` (feature `faults`, which no
//! release build has): a store whose commits and syncs take longer, as a
//! slow disk's fsync does, by `HUB_FAULT_COMMIT_DELAY_MS`.

use std::time::Duration;

use hub_core::durable::store::{Batch, Committed, Loaded, StoreError, StoredMessage};
use hub_core::durable::InboxStore;

/// The delay the environment asks for, if any.
pub(crate) fn commit_delay() -> Option<Duration> {
    let ms: u64 = std::env::var("HUB_FAULT_COMMIT_DELAY_MS")
        .ok()?
        .parse()
        .ok()?;
    tracing::warn!(ms, "fault injection: every store commit is delayed");
    Some(Duration::from_millis(ms))
}

/// `inner`, each commit and sync `delay` late (on the store's own thread,
/// where a slow fsync blocks).
pub(crate) struct SlowCommits<S> {
    pub(crate) inner: S,
    pub(crate) delay: Duration,
}

impl<S: InboxStore> InboxStore for SlowCommits<S> {
    fn load(&mut self) -> Result<Loaded, StoreError> {
        self.inner.load()
    }

    fn commit(&mut self, batch: &Batch, sync: bool) -> Result<Committed, StoreError> {
        std::thread::sleep(self.delay);
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
        std::thread::sleep(self.delay);
        self.inner.sync()
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.inner.close()
    }
}
