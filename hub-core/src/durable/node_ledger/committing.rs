//! The group commit: the gathered batch goes to the store thread whenever
//! no commit is on its way; the store thread answers its callers and starts
//! the next one.

use super::*;
use crate::durable::ledger::{Appended, StoredCopy};
use crate::durable::store::{Committed, StoreError};

impl Book {
    /// Sends the gathered batch to the store, unless a commit is on its way
    /// (this batch then goes when it returns). `me`: this book, for the
    /// store thread's answer.
    pub(super) fn commit(&mut self, me: &Arc<Mutex<Book>>) {
        if self.committing.is_some() || self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        self.committing = Some(std::mem::take(&mut self.gathering));
        let book = Arc::downgrade(me);
        let job = Job::Commit {
            batch,
            sync: self.limits.sync_every_commit,
            done: Box::new(move |result| {
                if let Some(me) = book.upgrade() {
                    let mut book = lock(&me);
                    let waiters = book.committing.take().unwrap_or_default();
                    book.committed(result, waiters);
                    book.commit(&me);
                }
            }),
        };
        if !self.writer.submit(job) {
            let waiters = self.committing.take().unwrap_or_default();
            let gone = Err(StoreError("the store thread stopped".into()));
            self.committed(gone, waiters);
        }
    }

    /// Answers everyone a commit was for, with what it did.
    pub(super) fn committed(
        &mut self,
        result: Result<Committed, StoreError>,
        mut waiters: Waiters,
    ) {
        let ok = result.is_ok();
        for waiter in std::mem::take(&mut waiters.history) {
            waiter.answer(ok);
        }
        let committed = match result {
            Ok(committed) => committed,
            Err(e) => return self.failed(&e, waiters),
        };
        for (address, state) in committed.states {
            if let Some(inbox) = self.inboxes.get_mut(&address) {
                inbox.state = state;
                inbox.acked = inbox.acked.max(state.acked);
            }
        }
        Metrics::add(&self.metrics.inbox_expired_total, committed.expired);
        // Receipts go to whoever asked for the deletion that fired them:
        // an ack (delivered) or an attach (expired); the rest wait for a sweep.
        let mut delivered: HashMap<Arc<str>, Vec<ReceiptNote>> = HashMap::new();
        let mut expired: HashMap<Arc<str>, Vec<ReceiptNote>> = HashMap::new();
        for fired in committed.receipts {
            let note = ReceiptNote {
                sender: fired.receipt.sender.to_string(),
                id: fired.receipt.id,
                msg_id: fired.receipt.msg_id.map(|id| id.to_string()),
            };
            let by = if fired.delivered {
                &mut delivered
            } else {
                &mut expired
            };
            by.entry(fired.to).or_default().push(note);
        }
        let mut stored = Vec::with_capacity(waiters.appends.len());
        for waiter in waiters.appends {
            if let Some(inbox) = self.inboxes.get_mut(&waiter.to) {
                inbox.pending.0 -= 1;
                inbox.pending.1 -= waiter.frame.len() as u64;
            }
            let Some(full) = waiter.copy else {
                let appended = Appended::Stored(waiter.seq, Some(waiter.frame));
                stored.push((waiter.ticket, Ok((appended, 0, Vec::new()))));
                continue;
            };
            let copy = StoredCopy {
                to: waiter.to,
                seq: waiter.seq,
                frame: Some(waiter.frame),
                receipts: Vec::new(),
            };
            // A send's copies are gathered one after the other, so they
            // are committed together.
            match stored.last_mut() {
                Some((ticket, Ok((Appended::Copies { stored, .. }, ..))))
                    if *ticket == waiter.ticket =>
                {
                    stored.push(copy);
                }
                _ => {
                    let appended = Appended::Copies {
                        stored: vec![copy],
                        full,
                    };
                    stored.push((waiter.ticket, Ok((appended, 0, Vec::new()))));
                }
            }
        }
        self.answer_appends(stored);
        for (address, done) in waiters.acks {
            let receipts = delivered.remove(&address).unwrap_or_default();
            let _ = done.send(Ok(receipts));
        }
        for (address, done) in waiters.attaches {
            let receipts = expired.remove(&address).unwrap_or_default();
            let (acked, last) = self
                .inboxes
                .get(&address)
                .map_or((0, 0), |i| (i.acked, i.state.last_seq));
            let _ = done.send(Ok(Attached {
                acked,
                last,
                expired: 0,
                receipts,
            }));
        }
        for (to, receipts) in expired.into_iter().chain(delivered) {
            self.loose.push((to.to_string(), receipts));
        }
        for done in waiters.sweeps {
            let _ = done.send(std::mem::take(&mut self.loose));
        }
    }

    /// Hands a commit's append answers to the sink, all at once.
    fn answer_appends(&self, answers: Vec<(u64, crate::durable::ledger::AppendAnswer)>) {
        if let (false, Some(sink)) = (answers.is_empty(), &self.sink) {
            sink(answers);
        }
    }

    /// A commit failed: nothing in it was stored.
    fn failed(&mut self, e: &StoreError, waiters: Waiters) {
        tracing::error!(error = %e, "store commit failed; its messages were refused");
        let failed = || HubError::Internal("the store failed");
        let mut refused = Vec::with_capacity(waiters.appends.len());
        for waiter in waiters.appends {
            if let Some(inbox) = self.inboxes.get_mut(&waiter.to) {
                inbox.pending.0 -= 1;
                inbox.pending.1 -= waiter.frame.len() as u64;
            }
            // Not stored: a retry may try again.
            if let Some(key) = &waiter.memo {
                self.memos.remove(key);
                self.retry_ids.remove(&key.0, &key.1);
            }
            refused.push((waiter.ticket, Err(failed())));
        }
        self.answer_appends(refused);
        for (_, done) in waiters.acks {
            let _ = done.send(Err(failed()));
        }
        for (_, done) in waiters.attaches {
            let _ = done.send(Err(failed()));
        }
        for done in waiters.sweeps {
            let _ = done.send(Vec::new());
        }
    }
}
