//! The ledger's calls: each changes the book at once, adds what must be
//! written to the gathered batch, and is answered when its commit returns
//! (or at once, when nothing is to be written).

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::*;
use crate::durable::history::Recorded;
use crate::durable::ledger::{
    AppendAnswer, AppendSink, Appended, Caps, ClaimedHere, Entry, Frame, InboxLedger, Once,
    ReceiptNote,
};
use crate::durable::store::{HistoryChange, Remembered};

/// An answer given now.
fn now<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    std::future::ready(value).boxed()
}

/// The answer a commit will give, or `failed` if the ledger is gone first.
fn later<T: Send + 'static>(answer: oneshot::Receiver<T>, failed: T) -> BoxFuture<'static, T> {
    async move { answer.await.unwrap_or(failed) }.boxed()
}

fn gone() -> HubError {
    HubError::Internal("the store stopped")
}

impl InboxLedger for NodeLedger {
    fn answer_appends_to(&self, sink: AppendSink) {
        self.book().sink = Some(sink);
    }

    fn append(
        &self,
        to: &str,
        frame: Frame<'_>,
        receipt: Option<&ReceiptNote>,
        once: Option<&Once<'_>>,
        caps: Caps,
        ticket: u64,
    ) -> Option<AppendAnswer> {
        let mut guard = self.book();
        let book = &mut *guard;
        let answer = |appended| Some(Ok((appended, 0, Vec::new())));
        let key = once.map(|o| (Arc::<str>::from(o.sender), Arc::<str>::from(o.msg_id)));
        if let (Some(key), Some(once)) = (&key, once) {
            if let Some(memo) = book.memos.get(key) {
                // A retry: the first answer again (`queued` while its commit
                // runs); another message under this id is a conflict.
                return answer(match &memo.outcome {
                    _ if memo.fingerprint != once.fingerprint => Appended::Conflict,
                    Some(Outcome::Sent { status }) => Appended::Again(*status),
                    None => Appended::Again(DeliveryStatus::Queued),
                    Some(_) => Appended::Conflict,
                });
            }
        }
        if let Some(devices) = crate::protocol::user_of(to)
            .is_none()
            .then(|| book.devices.get(to).cloned())
            .flatten()
        {
            let (copies, full) = book.store_copies(to, &devices, &frame, receipt, caps, ticket);
            if copies == 0 {
                return answer(Appended::Full);
            }
            if let Some(first) = book.gathering.appends.iter_mut().rev().nth(copies - 1) {
                first.copy = Some(full);
            }
            if let Some((sender, msg_id)) = &key {
                let print = once.map_or([0; 2], |o| o.fingerprint);
                book.remember(sender, msg_id, print, now_ms());
                if let Some(first) = book.gathering.appends.iter_mut().rev().nth(copies - 1) {
                    first.memo = key.clone();
                }
            }
            book.commit(&self.book);
            return None;
        }
        let Some(to) = book.inboxes.get_key_value(to).map(|(to, _)| to.clone()) else {
            return answer(Appended::Unknown);
        };
        if !book.store(&to, &frame, receipt, caps, (ticket, None)) {
            return answer(Appended::Full);
        }
        if let (Some((sender, msg_id)), Some(once)) = (&key, once) {
            book.remember(sender, msg_id, once.fingerprint, now_ms());
            if let Some(waiter) = book.gathering.appends.last_mut() {
                waiter.memo = key.clone();
            }
        }
        book.commit(&self.book);
        None
    }

    fn settle(&self, _to: &str, once: &Once<'_>, status: DeliveryStatus) -> BoxFuture<'static, ()> {
        let key = (once.sender.into(), once.msg_id.into());
        if let Some(memo) = self.book().memos.get_mut(&key) {
            memo.outcome = Some(Outcome::Sent { status });
        }
        now(())
    }

    fn attach(
        &self,
        address: &str,
        _retention: Duration,
        ttl: Duration,
        _floor: u64,
    ) -> BoxFuture<'static, Result<Attached, HubError>> {
        let mut guard = self.book();
        let book = &mut *guard;
        let address: Arc<str> = address.into();
        let at_ms = now_ms();
        let inbox = match book.inboxes.entry(address.clone()) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => {
                note_device(&mut book.devices, &address);
                new.insert(Inbox::new(InboxState::default()))
            }
        };
        inbox.held = true;
        let stale =
            inbox.state.count > 0 && inbox.state.first_at_ms + (ttl.as_millis() as u64) < at_ms;
        book.batch.seen.push((address.clone(), at_ms));
        if stale {
            let before = at_ms.saturating_sub(ttl.as_millis() as u64);
            book.batch.expire.push((address.clone(), before));
        }
        let (done, answer) = oneshot::channel();
        book.gathering.attaches.push((address, done));
        book.commit(&self.book);
        later(answer, Err(gone()))
    }

    fn detach(
        &self,
        address: &str,
        _floor: u64,
        _retention: Duration,
        _ttl: Duration,
    ) -> BoxFuture<'static, ()> {
        let mut guard = self.book();
        let book = &mut *guard;
        let Some(address) = book.inboxes.get_key_value(address).map(|(a, _)| a.clone()) else {
            return now(());
        };
        if let Some(inbox) = book.inboxes.get_mut(&address) {
            inbox.held = false;
        }
        // Kept for the retention from now, as when it was last seen.
        book.batch.seen.push((address, now_ms()));
        book.commit(&self.book);
        now(())
    }

    /// Held inboxes are never forgotten here: nothing to renew.
    fn touch(
        &self,
        _held: Vec<(Arc<str>, u64)>,
        _retention: Duration,
        _ttl: Duration,
    ) -> BoxFuture<'static, ()> {
        now(())
    }

    fn ack(
        &self,
        address: &str,
        upto: u64,
    ) -> BoxFuture<'static, Result<Vec<ReceiptNote>, HubError>> {
        let mut guard = self.book();
        let book = &mut *guard;
        let Some(address) = book.inboxes.get_key_value(address).map(|(a, _)| a.clone()) else {
            return now(Ok(Vec::new()));
        };
        if let Some(inbox) = book.inboxes.get_mut(&address) {
            inbox.acked = inbox.acked.max(upto);
        }
        book.batch.acks.push((address.clone(), upto));
        let (done, answer) = oneshot::channel();
        book.gathering.acks.push((address, done));
        book.commit(&self.book);
        later(answer, Err(gone()))
    }

    fn read(
        &self,
        address: &str,
        after: u64,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<Entry>, HubError>> {
        let (done, answer) = oneshot::channel();
        let job = Job::Read {
            address: address.into(),
            after,
            max,
            done: Box::new(move |result| {
                let entries = result
                    .map(|messages| {
                        messages
                            .into_iter()
                            .map(|m| Entry {
                                seq: m.seq,
                                stored_at_ms: m.stored_at_ms,
                                frame: m.frame,
                            })
                            .collect()
                    })
                    .map_err(|e| {
                        tracing::error!(error = %e, "store read failed");
                        HubError::Internal("the store failed")
                    });
                let _ = done.send(entries);
            }),
        };
        if !self.book().writer.submit(job) {
            return now(Err(gone()));
        }
        later(answer, Err(gone()))
    }

    fn claim(
        &self,
        sender: &str,
        msg_id: &str,
        fingerprint: [u64; 2],
        _window: Duration,
    ) -> BoxFuture<'static, Result<ClaimedHere, HubError>> {
        let mut guard = self.book();
        let book = &mut *guard;
        let key: (Arc<str>, Arc<str>) = (sender.into(), msg_id.into());
        let claimed = match book.memos.get(&key) {
            None => {
                book.note(&key.0, &key.1, fingerprint, now_ms());
                ClaimedHere::Fresh
            }
            Some(memo) if memo.fingerprint != fingerprint => ClaimedHere::Conflict,
            Some(Memo {
                outcome: Some(outcome),
                ..
            }) => ClaimedHere::Repeat(outcome.clone()),
            Some(_) => ClaimedHere::Pending,
        };
        now(Ok(claimed))
    }

    fn settle_claim(
        &self,
        sender: &str,
        msg_id: &str,
        fingerprint: [u64; 2],
        outcome: Option<&Outcome>,
    ) -> BoxFuture<'static, ()> {
        let mut guard = self.book();
        let book = &mut *guard;
        let key: (Arc<str>, Arc<str>) = (sender.into(), msg_id.into());
        let Some(outcome) = outcome else {
            // Failed: the id is free for a retry.
            book.memos.remove(&key);
            book.retry_ids.remove(&key.0, &key.1);
            return now(());
        };
        // Forgotten meanwhile (past the per-sender cap): nothing to store.
        let Some(memo) = book.memos.get_mut(&key) else {
            return now(());
        };
        memo.outcome = Some(outcome.clone());
        let at_ms = memo.at_ms;
        book.batch.remember.push(Remembered {
            sender: key.0,
            msg_id: key.1,
            fingerprint,
            at_ms,
            outcome: Some(outcome.clone()),
        });
        book.commit(&self.book);
        now(())
    }

    fn sweep(&self) -> BoxFuture<'static, Vec<(String, Vec<ReceiptNote>)>> {
        let mut guard = self.book();
        let book = &mut *guard;
        book.sweep();
        if book.batch.is_empty() && book.committing.is_none() {
            return now(std::mem::take(&mut book.loose));
        }
        let (done, answer) = oneshot::channel();
        book.gathering.sweeps.push(done);
        book.commit(&self.book);
        later(answer, Vec::new())
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let mut guard = self.book();
        let book = &mut *guard;
        let batch = std::mem::take(&mut book.batch);
        if !batch.is_empty() {
            // Behind any commit on its way; the thread runs its queue out.
            let waiters = std::mem::take(&mut book.gathering);
            let me = Arc::downgrade(&self.book);
            book.writer.submit(Job::Commit {
                batch,
                sync: true,
                done: Box::new(move |result| {
                    if let Some(me) = me.upgrade() {
                        lock(&me).committed(result, waiters);
                    }
                }),
            });
        }
        let ended = book.writer.close();
        async move {
            if let Some(ended) = ended {
                let _ = ended.await;
            }
        }
        .boxed()
    }
}

impl NodeLedger {
    /// Records a topic's history change in the next commit (with the
    /// publisher's `msg_id`, `memo`); `reply_to` hears [`Recorded`] once it
    /// is committed (for a change that carries a publication).
    pub(crate) fn record_history(
        &self,
        change: HistoryChange,
        memo: Option<Remembered>,
        reply_to: Option<actix::Recipient<Recorded>>,
    ) {
        let mut guard = self.book();
        let book = &mut *guard;
        let offset = change.publication.as_ref().map(|p| p.offset);
        if let (Some(reply_to), Some(offset)) = (reply_to, offset) {
            book.gathering
                .history
                .push(HistoryWaiter { reply_to, offset });
        }
        book.batch.history.push(change);
        book.batch.remember.extend(memo);
        book.commit(&self.book);
    }

    /// Forgets a retired topic's history and position.
    pub(crate) fn forget_topic(&self, topic: Arc<str>) {
        let mut guard = self.book();
        let book = &mut *guard;
        book.batch.forget_topics.push(topic);
        book.commit(&self.book);
    }
}
