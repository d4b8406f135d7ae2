//! The inbox actor's side toward senders: a send becomes an append to the
//! batch being gathered (numbered, checked against the caps, its `msg_id`
//! remembered), and a receipt is stored for its sender like a message.

use super::*;

impl Handler<Append> for Inboxes {
    type Result = ResponseFuture<Result<DeliveryStatus, HubError>>;

    fn handle(&mut self, msg: Append, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = Reply::awaited();
        self.append(msg, reply, ctx);
        answer
    }
}

impl Handler<AppendFor> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: AppendFor, ctx: &mut Self::Context) {
        self.append(msg.append, Reply::Session(msg.answer_to), ctx);
    }
}

impl Inboxes {
    /// Stores a send for its recipient (answered once committed), or
    /// answers it at once: a retry, a conflict, an unknown address, a full
    /// inbox.
    fn append(&mut self, msg: Append, reply: Reply, ctx: &mut Context<Self>) {
        let limits = self.limits;
        let fingerprint = msg
            .msg_id
            .as_ref()
            .map(|_| fingerprint("hub:send", &msg.to, &msg.payload));
        if let (Some(id), Some(fp)) = (&msg.msg_id, fingerprint) {
            if let Some(memo) = self.memos.get(&(msg.from.clone(), id.clone())) {
                // A retry: the first answer again (`queued` while its commit
                // runs); another message under this id is a conflict.
                let answer = match &memo.outcome {
                    _ if memo.fingerprint != fp => {
                        Err(HubError::IdempotencyConflict(id.to_string()))
                    }
                    Some(Outcome::Sent { status }) => Ok(*status),
                    None => Ok(DeliveryStatus::Queued),
                    Some(_) => Err(HubError::IdempotencyConflict(id.to_string())),
                };
                return Answers::one(reply, answer);
            }
        }
        let Some(inbox) = self.inboxes.get_mut(&msg.to) else {
            let e = HubError::RecipientNotFound(msg.to.to_string());
            return Answers::one(reply, Err(e));
        };
        let frame = encode_stored_message(
            &msg.from,
            inbox.next_seq,
            &msg.payload,
            Correlation {
                correlation_id: msg.correlation_id.as_deref(),
                in_reply_to: msg.in_reply_to.as_deref(),
            },
        );
        let size = frame.len() as u64;
        let (kept, kept_bytes) = inbox.kept_after_acks();
        let count = kept + inbox.pending.0;
        let bytes = kept_bytes + inbox.pending.1;
        if count >= limits.max_messages || bytes + size > limits.max_bytes {
            let e = HubError::RecipientQueueFull(msg.to.to_string());
            return Answers::one(reply, Err(e));
        }
        let seq = inbox.next_seq;
        inbox.next_seq += 1;
        inbox.pending.0 += 1;
        inbox.pending.1 += size;
        let now = Self::now_ms();
        let memo = match (msg.msg_id, fingerprint) {
            (Some(id), Some(fp)) => {
                self.remember(&msg.from, &id, fp, now);
                Some((msg.from.clone(), id))
            }
            _ => None,
        };
        let receipt = msg.receipt.map(|r| ReceiptTo {
            sender: msg.from.clone(),
            id: r.id,
            msg_id: r.msg_id,
        });
        self.batch.appends.push((
            msg.to.clone(),
            StoredMessage {
                seq,
                stored_at_ms: now,
                frame: frame.clone(),
                receipt,
            },
        ));
        self.waiting.push(Waiting {
            address: msg.to,
            memo,
            seq,
            frame,
            size,
            reply,
        });
        self.commit(ctx);
    }
}

impl Inboxes {
    /// Stores a receipt for its sender, like a message (it gets the next
    /// `seq` of the sender's inbox, and goes out with the next commit). A
    /// sender that is no longer known gets none.
    pub(super) fn store_receipt(&mut self, fired: Fired) {
        use crate::protocol::server::{Receipt, ReceiptStatus};
        use crate::protocol::ServerFrame;
        let sender = fired.receipt.sender;
        let Some(inbox) = self.inboxes.get_mut(&sender) else {
            return;
        };
        let seq = inbox.next_seq;
        let id = fired
            .receipt
            .id
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok());
        let frame: ByteString = ServerFrame::Receipt(Receipt {
            id: id.map(std::borrow::Cow::Owned),
            msg_id: fired.receipt.msg_id.as_deref().map(Into::into),
            to: (*fired.to).into(),
            status: if fired.delivered {
                ReceiptStatus::Delivered
            } else {
                ReceiptStatus::Expired
            },
            seq: Some(seq),
        })
        .to_json()
        .into();
        let size = frame.len() as u64;
        inbox.next_seq += 1;
        inbox.pending.0 += 1;
        inbox.pending.1 += size;
        self.batch.appends.push((
            sender.clone(),
            StoredMessage {
                seq,
                stored_at_ms: Self::now_ms(),
                frame: frame.clone(),
                receipt: None,
            },
        ));
        self.waiting.push(Waiting {
            address: sender,
            memo: None,
            seq,
            frame,
            size,
            reply: Reply::Nobody,
        });
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
    pub(in crate::durable) fn note(
        &mut self,
        sender: &Arc<str>,
        msg_id: &Arc<str>,
        fingerprint: [u64; 2],
        at_ms: u64,
    ) {
        let key = (sender.clone(), msg_id.clone());
        self.retry_ids.insert(sender, msg_id);
        self.memos.insert(
            key,
            Memo {
                fingerprint,
                at_ms,
                outcome: None,
            },
        );
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
}
