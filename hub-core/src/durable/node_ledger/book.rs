//! The book's own changes, shared by the calls: storing a message (or a
//! copy per inbox of a user), remembering `msg_id`s, the sweep.

use super::*;
use crate::durable::ledger::{Caps, Frame, ReceiptNote};
use crate::durable::store::{ReceiptTo, Remembered, StoredMessage};

impl Book {
    /// Stores `frame` in `to`'s inbox in the next commit (its answer goes
    /// with `ticket`; `copy`: as one copy of a send to a user); `false`
    /// when the inbox is unknown or over its caps.
    pub(super) fn store(
        &mut self,
        to: &Arc<str>,
        frame: &Frame<'_>,
        receipt: Option<&ReceiptNote>,
        caps: Caps,
        (ticket, copy): (u64, Option<u64>),
    ) -> bool {
        let Some(inbox) = self.inboxes.get_mut(to) else {
            return false;
        };
        let seq = inbox.next_seq;
        let frame = frame.with_seq(seq);
        let size = frame.len() as u64;
        let (kept, kept_bytes) = inbox.kept_after_acks();
        if kept + inbox.pending.0 >= caps.max_messages
            || kept_bytes + inbox.pending.1 + size > caps.max_bytes
        {
            return false;
        }
        inbox.next_seq += 1;
        inbox.pending.0 += 1;
        inbox.pending.1 += size;
        let receipt = receipt.map(|r| ReceiptTo {
            sender: r.sender.as_str().into(),
            id: r.id.clone(),
            msg_id: r.msg_id.as_deref().map(Into::into),
        });
        self.batch.appends.push((
            to.clone(),
            StoredMessage {
                seq,
                stored_at_ms: now_ms(),
                frame: frame.clone(),
                receipt,
            },
        ));
        self.gathering.appends.push(AppendWaiter {
            to: to.clone(),
            memo: None,
            seq,
            frame,
            ticket,
            copy,
        });
        true
    }

    /// Stores a send to `user` once in its own inbox (if it has one) and
    /// once in each of its `devices`', where there is room: how many copies
    /// were stored, and how many inboxes were full.
    pub(super) fn store_copies(
        &mut self,
        user: &str,
        devices: &[Arc<str>],
        frame: &Frame<'_>,
        receipt: Option<&ReceiptNote>,
        caps: Caps,
        ticket: u64,
    ) -> (usize, u64) {
        let own = self.inboxes.get_key_value(user).map(|(to, _)| to.clone());
        let (mut copies, mut full) = (0, 0);
        for to in own.iter().chain(devices) {
            if self.store(to, frame, receipt, caps, (ticket, Some(0))) {
                copies += 1;
            } else {
                full += 1;
            }
        }
        (copies, full)
    }

    /// Remembers `msg_id` of `sender` and stores it in the next commit.
    pub(super) fn remember(
        &mut self,
        sender: &Arc<str>,
        msg_id: &Arc<str>,
        fingerprint: [u64; 2],
        at_ms: u64,
    ) {
        self.note(sender, msg_id, fingerprint, at_ms);
        self.batch.remember.push(Remembered {
            sender: sender.clone(),
            msg_id: msg_id.clone(),
            fingerprint,
            at_ms,
            outcome: None,
        });
    }

    /// Remembers `msg_id` of `sender` in memory, its answer not known yet;
    /// past the per-sender cap the oldest id is forgotten.
    pub(super) fn note(
        &mut self,
        sender: &Arc<str>,
        msg_id: &Arc<str>,
        fingerprint: [u64; 2],
        at_ms: u64,
    ) {
        self.retry_ids.insert(sender, msg_id);
        let memo = Memo {
            fingerprint,
            at_ms,
            outcome: None,
        };
        self.memos.insert((sender.clone(), msg_id.clone()), memo);
        let ids = self.memo_order.entry(sender.clone()).or_default();
        ids.push_back(msg_id.clone());
        while ids.len() > self.limits.dedupe_max_per_sender {
            if let Some(old) = ids.pop_front() {
                let key = (sender.clone(), old);
                self.memos.remove(&key);
                self.retry_ids.remove(&key.0, &key.1);
                self.batch.unremember.push(key);
            }
        }
    }

    /// Drops expired messages, forgets addresses unseen for the retention
    /// and message ids older than the dedupe window.
    pub(super) fn sweep(&mut self) {
        let now = now_ms();
        let ttl = self.limits.ttl.as_millis() as u64;
        let retention = self.limits.retention.as_millis() as u64;
        let mut forget = Vec::new();
        for (address, inbox) in &self.inboxes {
            let idle = !inbox.held && inbox.pending.0 == 0;
            if idle && inbox.state.last_seen_ms + retention < now {
                forget.push(address.clone());
            } else if inbox.state.count > 0 && inbox.state.first_at_ms + ttl < now {
                self.batch
                    .expire
                    .push((address.clone(), now.saturating_sub(ttl)));
            }
        }
        for address in forget {
            self.inboxes.remove(&address);
            forget_device(&mut self.devices, &address);
            self.batch.forget.push(address);
        }
        let oldest = now.saturating_sub(self.limits.dedupe_window.as_millis() as u64);
        for (sender, ids) in &mut self.memo_order {
            while let Some(id) = ids.front() {
                let key = (sender.clone(), id.clone());
                if self.memos.get(&key).is_some_and(|m| m.at_ms >= oldest) {
                    break;
                }
                ids.pop_front();
                self.memos.remove(&key);
                self.retry_ids.remove(&key.0, &key.1);
                self.batch.unremember.push(key);
            }
        }
        self.memo_order.retain(|_, ids| !ids.is_empty());
    }
}
