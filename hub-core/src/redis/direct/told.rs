//! Stored messages whose holder's node was told in the same step as the
//! message was stored: on a Redis that is not a cluster, `inbox_append.lua`
//! finds the recipient's holder and publishes `stored {...}` to its node
//! itself, so a stored send to a recipient on another node costs the
//! sender's node one round trip, not two. The inbox desk's wake that
//! follows finds its answer here instead of asking again.
//!
//! The ledger reserves a request number before the append leaves (so the
//! other node's outcome has somewhere to go however fast it comes), and
//! files what the script did once Redis answered. Filed answers the desk
//! never comes for (its recipient turned out to be held on this node after
//! all) are bounded: past `redis_max_pending_sends` the oldest is dropped.

use std::collections::{HashMap, HashSet, VecDeque};

use super::*;

/// A request reserved for a stored message, until the script has run.
pub(crate) struct Reserved {
    pub(crate) req: u64,
    answer: oneshot::Receiver<Result<DeliveryStatus, HubError>>,
    /// The dedupe key of the send's `msg_id`, which the holder's node
    /// records `accepted` itself when its session takes the message.
    settles: Option<String>,
}

/// What the script did about a stored message's holder.
enum Woke {
    /// Published to the holder's node, which will answer `req`.
    Told(Reserved),
    /// No one holds the recipient, or its node is gone: it stays stored.
    NoOne,
}

/// Filed answers by (recipient, seq), oldest first for the bound.
#[derive(Default)]
pub(super) struct Filed {
    by_message: HashMap<(Arc<str>, u64), Woke>,
    order: VecDeque<(Arc<str>, u64)>,
    /// Dedupe keys the holder's node recorded `accepted`: the sender's
    /// node need not (see [`Direct::settled_there`]).
    settled: HashSet<String>,
}

impl Direct {
    /// Reserves a request number for a message to `to` the ledger is
    /// about to store and tell; `None` when too many sends wait already.
    pub(crate) fn reserve(&self, to: &str, settles: Option<String>) -> Option<Reserved> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let (tx, answer) = oneshot::channel();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() >= self.max_pending {
            return None;
        }
        pending.insert(req, (to.into(), tx));
        Some(Reserved {
            req,
            answer,
            settles,
        })
    }

    /// The text the script publishes to the holder's node for request
    /// `req`, up to the message's `seq` (then `,"frame":<frame>}` follows).
    /// `settle`: the send's dedupe key and the value recording it
    /// `accepted`.
    pub(crate) fn stored_head(
        &self,
        to: &str,
        req: u64,
        settle: Option<(&str, &str)>,
    ) -> Option<String> {
        let to = serde_json::to_string(to).ok()?;
        let settle = match settle {
            Some((key, value)) => format!(
                "\"settle\":[{},{}],",
                serde_json::to_string(key).ok()?,
                serde_json::to_string(value).ok()?
            ),
            None => String::new(),
        };
        Some(format!(
            "stored {{\"node\":\"{}\",\"req\":{req},\"to\":{to},{settle}\"seq\":",
            self.node
        ))
    }

    /// Whether the holder's node recorded `key` (a `msg_id`'s dedupe key)
    /// `accepted` already; asked once, by the ledger about to record it.
    pub(crate) fn settled_there(&self, key: &str) -> bool {
        let mut filed = self.filed.lock().unwrap_or_else(|e| e.into_inner());
        filed.settled.remove(key)
    }

    /// The node's id as the directory names holders.
    pub(crate) fn node_name(&self) -> String {
        self.node.to_string()
    }

    /// The directory's holding key of `to` and the node channels' prefix.
    pub(crate) fn holding_and_channels(&self, to: &str) -> (String, String) {
        let shard = self.keys.shard(to);
        (shard.holding_name(to), shard.node_channel_prefix.clone())
    }

    /// Files what `inbox_append.lua` did about message `seq` to `to`
    /// (`None`: not stored) with `reserved`: `published` receivers of the
    /// holder's node channel, `0` for a node gone, `-1` for no holder, `-2`
    /// for a holder on this node (the desk hands it over itself).
    pub(crate) fn file(&self, to: &str, seq: Option<u64>, reserved: Reserved, published: i64) {
        let (seq, woke) = match (seq, published) {
            (Some(seq), 1..) => (seq, Woke::Told(reserved)),
            (Some(seq), 0 | -1) => {
                self.forget(reserved.req);
                (seq, Woke::NoOne)
            }
            _ => {
                self.forget(reserved.req);
                return;
            }
        };
        let key: (Arc<str>, u64) = (to.into(), seq);
        let mut filed = self.filed.lock().unwrap_or_else(|e| e.into_inner());
        filed.order.push_back(key.clone());
        filed.by_message.insert(key, woke);
        while filed.order.len() > self.max_pending {
            let Some(oldest) = filed.order.pop_front() else {
                break;
            };
            if let Some(Woke::Told(reserved)) = filed.by_message.remove(&oldest) {
                self.forget(reserved.req);
            }
        }
    }

    /// The answer filed for message `seq` to `to`, if the ledger told its
    /// holder already: `accepted` when that node handed it over, else
    /// `queued`.
    pub(super) fn told(
        self: &Arc<Self>,
        to: &str,
        seq: u64,
    ) -> Option<Answer<Result<DeliveryStatus, HubError>>> {
        let woke = {
            let mut filed = self.filed.lock().unwrap_or_else(|e| e.into_inner());
            let key: (Arc<str>, u64) = (to.into(), seq);
            let woke = filed.by_message.remove(&key)?;
            // Taken soon after it was filed: near the back.
            if let Some(at) = filed.order.iter().rposition(|k| *k == key) {
                filed.order.remove(at);
            }
            woke
        };
        let Woke::Told(Reserved {
            req,
            answer,
            settles,
        }) = woke
        else {
            return Some(Answer::now(Ok(DeliveryStatus::Queued)));
        };
        let (wait, this) = (self.wait, self.clone());
        Some(Answer::Later(
            async move {
                match tokio::time::timeout(wait, answer).await {
                    Ok(Ok(Ok(DeliveryStatus::Accepted))) => {
                        // The holder's node recorded the msg_id `accepted`
                        // before it answered (bounded: else recorded again).
                        if let Some(key) = settles {
                            let mut filed = this.filed.lock().unwrap_or_else(|e| e.into_inner());
                            if filed.settled.len() < this.max_pending {
                                filed.settled.insert(key);
                            }
                        }
                        Ok(DeliveryStatus::Accepted)
                    }
                    Ok(Ok(Ok(status))) => Ok(status),
                    _ => {
                        this.forget(req);
                        Ok(DeliveryStatus::Queued)
                    }
                }
            }
            .boxed(),
        ))
    }
}

impl Direct {
    /// Tells `to`'s node that message `seq` is stored for it; answers
    /// `accepted` when that node handed it to the session, else `queued`
    /// (no holder, no answer in time: it stays stored either way).
    pub(in crate::redis) fn wake(
        self: &Arc<Self>,
        to: &str,
        seq: u64,
        frame: &str,
    ) -> Answer<Result<DeliveryStatus, HubError>> {
        if let Some(told) = self.told(to, seq) {
            return told;
        }
        let queued = || Answer::now(Ok(DeliveryStatus::Queued));
        let Ok(frame) = serde_json::from_str::<&RawValue>(frame) else {
            return queued();
        };
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let node = self.node.to_string();
        let stored = Stored {
            node: &node,
            req,
            to: to.into(),
            settle: None,
            seq,
            frame,
        };
        let Ok(json) = serde_json::to_string(&stored) else {
            return queued();
        };
        let message = format!("stored {json}");
        let Some(answer) = self.ask(req, to, message, (true, true), (Scope::Holder, None)) else {
            return queued();
        };
        Answer::Later(
            async move {
                match answer.await {
                    Some(Ok(status)) => Ok(status),
                    _ => Ok(DeliveryStatus::Queued),
                }
            }
            .boxed(),
        )
    }
}
