//! The store's own thread: every call to the [`InboxStore`] runs here, one
//! at a time, so a commit's fsync never blocks an actor's thread. The inbox
//! actor sends jobs; each job's result comes back to it as a message.

use std::sync::mpsc;
use std::sync::Arc;

use super::store::{Batch, Committed, InboxStore, StoreError, StoredMessage};

type Done<T> = Box<dyn FnOnce(Result<T, StoreError>) + Send>;

/// Work for the store thread.
pub(crate) enum Job {
    /// Apply a batch; `sync`: fsync before answering.
    Commit {
        batch: Batch,
        sync: bool,
        done: Done<Committed>,
    },
    /// Read messages of an address after a `seq`.
    Read {
        address: Arc<str>,
        after: u64,
        max: usize,
        done: Done<Vec<StoredMessage>>,
    },
    /// Make every commit so far durable.
    Sync,
}

/// The sending end of the store thread's queue; the thread ends when it drops.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    /// Fires when the thread has ended (and released the store).
    ended: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Writer {
    /// Starts the thread that owns `store`.
    pub(crate) fn start(mut store: Box<dyn InboxStore>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (end, ended) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("signal-hub-store".into())
            .spawn(move || {
                for job in queue {
                    match job {
                        Job::Commit { batch, sync, done } => done(store.commit(&batch, sync)),
                        Job::Read {
                            address,
                            after,
                            max,
                            done,
                        } => done(store.read(&address, after, max)),
                        Job::Sync => {
                            if let Err(e) = store.sync() {
                                tracing::error!(error = %e, "store sync failed");
                            }
                        }
                    }
                }
                // Everything committed reaches the disk before the thread ends.
                if let Err(e) = store.close() {
                    tracing::error!(error = %e, "store close failed");
                }
                drop(store);
                let _ = end.send(());
            })?;
        Ok(Self {
            jobs: Some(jobs),
            ended: Some(ended),
        })
    }

    /// Queues a job; false when the thread is gone or closing.
    pub(crate) fn submit(&self, job: Job) -> bool {
        self.jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok())
    }

    /// Lets the thread finish the jobs queued and end; the returned
    /// receiver fires once it has (and the store is closed).
    pub(crate) fn close(&mut self) -> Option<tokio::sync::oneshot::Receiver<()>> {
        self.jobs = None;
        self.ended.take()
    }
}
