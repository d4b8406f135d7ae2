//! A topic whose history is kept for the whole hub (the Redis engine, see
//! [`SharedHistory`]): a publication made here is numbered by the shared
//! store, which carries it to every node, this one too; the topic fans out
//! what comes back, in the hub's offset order, and keeps a copy (`History`
//! in its `follows` mode) to give a new subscriber its position without a
//! round trip.
//!
//! A subscriber that recovers (`since`), or whose position this copy cannot
//! answer (the copy does not follow the hub's stream yet), is caught up
//! from the shared store: until the read returns it is not a
//! subscriber, and publications arriving meanwhile wait in its `live` list;
//! then it gets what it missed, then those of `live` past it, then joins.
//! So a recovery has no gap and no duplicate on any node.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytestring::ByteString;
use futures_util::future::{BoxFuture, Shared as SharedFuture};

use super::{fan_out, now_ms, Joined, PublishRecorded, Published, Topic};
use crate::durable::store::StoredPublication;
use crate::error::HubError;
use crate::message_frame::{encode_publication, split_at_number};
use crate::outbox::{SessionHandle, SessionId};
use crate::seams::history::{HistoryRead, SharedHistory};

/// What a topic with shared history keeps beside its copy.
pub(super) struct SharedKept {
    pub(super) store: Arc<dyn SharedHistory>,
    /// Subscribers being caught up from the shared store.
    pub(super) catching: HashMap<SessionId, CatchingUp>,
}

/// A subscriber waiting for its position from the shared store, or, once
/// the store answered, for this node to hear what the answer held.
pub(super) struct CatchingUp {
    handle: SessionHandle,
    since: Option<(Arc<str>, u64)>,
    /// Publications that reached the topic meanwhile: (offset, frame), at
    /// most a history's size (older ones are in the store's answer).
    live: VecDeque<(u64, ByteString)>,
    /// Set once the store answered: the last offset the subscriber has.
    /// The answer can be ahead of what this node has heard (the store's
    /// reply and its publications come over different connections), so
    /// the subscriber joins the fan-out only once the node has heard up to
    /// here; meanwhile it is handed each later publication itself, and
    /// never one it has.
    given: Option<u64>,
}

/// The `offset` of an encoded publication (its first `"offset":`).
fn offset_of(frame: &str) -> Option<u64> {
    const KEY: &str = "\"offset\":";
    let at = frame.find(KEY)? + KEY.len();
    let digits = frame[at..].bytes().take_while(u8::is_ascii_digit).count();
    frame[at..at + digits].parse().ok()
}

impl Topic {
    /// The shared store, when this topic's history is kept for the hub.
    fn shared_store(&self) -> Option<Arc<dyn SharedHistory>> {
        let kept = self.kept.as_ref()?;
        kept.shared.as_ref().map(|s| s.store.clone())
    }

    /// A publication made on this node: numbered by the shared store, which
    /// also brings it back here to be fanned out. Answers its offset and
    /// the subscribers here (those other nodes reached are not counted).
    pub(super) fn publish_shared(
        &mut self,
        msg: &PublishRecorded,
    ) -> Option<BoxFuture<'static, Result<Published, HubError>>> {
        let store = self.shared_store()?;
        let options = self.kept.as_ref()?.history.options();
        let frame = encode_publication(&self.name, &msg.from, 0, &msg.payload);
        let Some((head, tail)) = split_at_number(&frame, "offset") else {
            let e = HubError::Internal("a publication without its offset");
            return Some(Box::pin(std::future::ready(Err(e))));
        };
        let numbered = store.publish(&self.name, head, tail, options);
        let recipients = self.subscribers.len();
        Some(Box::pin(async move {
            let (_, offset) = numbered.await?;
            Ok(Published {
                recipients,
                offset: Some(offset),
            })
        }))
    }

    /// A publication numbered for the hub, in `epoch`: kept in this copy,
    /// fanned out, and held for subscribers being caught up.
    pub(super) fn receive_shared(
        &mut self,
        epoch: Arc<str>,
        frame: ByteString,
        received: Instant,
        ctx: &mut Context<Self>,
    ) {
        let Some(offset) = offset_of(&frame) else {
            return;
        };
        let Some(kept) = self.kept.as_mut() else {
            return;
        };
        let publication = StoredPublication {
            offset,
            at_ms: now_ms(),
            frame: frame.clone(),
        };
        if !kept.history.adopt(&epoch, publication) {
            return;
        }
        if let Some(shared) = kept.shared.as_mut() {
            let size = kept.history.options().size.max(1);
            let heard = kept.history.offset();
            let mut joined = Vec::new();
            for (id, waiting) in shared.catching.iter_mut() {
                match waiting.given {
                    None => {
                        if waiting.live.len() >= size {
                            waiting.live.pop_front();
                        }
                        waiting.live.push_back((offset, frame.clone()));
                    }
                    Some(given) => {
                        if offset > given {
                            waiting.handle.push(frame.clone());
                            waiting.given = Some(offset);
                        }
                        if heard >= waiting.given.unwrap_or(0) {
                            joined.push(*id);
                        }
                    }
                }
            }
            // After this publication's fan-out, which they have had.
            fan_out(&mut self.subscribers, &frame, received, &self.metrics);
            for id in joined {
                if let Some(waiting) = shared.catching.remove(&id) {
                    self.subscribers.insert(id, waiting.handle);
                }
            }
        } else {
            fan_out(&mut self.subscribers, &frame, received, &self.metrics);
        }
        self.arm_expiry_timer(ctx);
    }

    /// Whether a subscriber is caught up from the shared store rather than
    /// joined from this node's copy: always to recover (`since`), since a
    /// node cut off from the store — before it even noticed — may have
    /// missed publications its copy cannot know of, and answering from it
    /// would be a silent partial replay; without `since`, only while the
    /// copy does not follow the stream (its position would be stale).
    pub(super) fn needs_catching_up(&self, since: Option<&(Arc<str>, u64)>) -> bool {
        let Some(kept) = self.kept.as_ref() else {
            return false;
        };
        if kept.shared.is_none() {
            return false;
        }
        since.is_some() || !kept.history.follows()
    }

    /// Starts catching `handle` up: once `heard` (this node listens to the
    /// topic's channel), reads the shared store, then [`Topic::caught_up`].
    pub(super) fn catch_up(
        &mut self,
        handle: SessionHandle,
        since: Option<(Arc<str>, u64)>,
        heard: Option<SharedFuture<BoxFuture<'static, ()>>>,
    ) -> ResponseActFuture<Self, Result<Joined, HubError>> {
        let (Some(store), Some(kept)) = (self.shared_store(), self.kept.as_mut()) else {
            return Box::pin(fut::ready(Err(HubError::Internal("no shared history"))));
        };
        let options = kept.history.options();
        let id = handle.id;
        if let Some(shared) = kept.shared.as_mut() {
            shared.catching.insert(
                id,
                CatchingUp {
                    handle,
                    since: since.clone(),
                    live: VecDeque::new(),
                    given: None,
                },
            );
        }
        let topic = self.name.clone();
        let after = since.as_ref().map(|(_, offset)| *offset);
        // Known to be cut off from the store: a read would only wait for
        // its timeout to fail; the answer is `recovered: false` at once.
        let cut_off = since.is_some() && !store.reachable();
        let read = async move {
            if cut_off {
                return Err(HubError::Unavailable("the topic history (redis)"));
            }
            if let Some(heard) = heard {
                heard.await;
            }
            store.read(&topic, after, options).await
        };
        Box::pin(
            read.into_actor(self)
                .map(move |read, act, _| act.caught_up(id, read)),
        )
    }

    /// Hands a caught-up subscriber what it missed, then what came meanwhile,
    /// and makes it a subscriber.
    fn caught_up(
        &mut self,
        id: SessionId,
        read: Result<HistoryRead, HubError>,
    ) -> Result<Joined, HubError> {
        let waiting = self
            .kept
            .as_mut()
            .and_then(|k| k.shared.as_mut())
            .and_then(|s| s.catching.remove(&id));
        // It left meanwhile.
        let Some(mut waiting) = waiting else {
            return Ok(Joined::default());
        };
        let (epoch, mut upto, recovered) = match read {
            Ok(read) => {
                let epoch = read.epoch.clone();
                let recovered = waiting.since.as_ref().map(|(since_epoch, offset)| {
                    epoch.as_ref() == Some(since_epoch)
                        && *offset <= read.last
                        && offset + 1 >= read.covered_from
                });
                let mut upto = read.last;
                if recovered == Some(true) {
                    let after = waiting.since.as_ref().map_or(0, |(_, offset)| *offset);
                    upto = after;
                    for (offset, frame) in read.publications.iter().filter(|(o, _)| *o > after) {
                        waiting.handle.push(frame.clone());
                        upto = *offset;
                    }
                }
                (epoch, upto, recovered)
            }
            // The store is away: the subscriber joins without what it missed.
            Err(_) => {
                let history = self.kept.as_ref().map(|k| &k.history);
                let epoch = history.map(|h| h.epoch().clone());
                let upto = history.map_or(0, |h| h.offset());
                (epoch, upto, waiting.since.as_ref().map(|_| false))
            }
        };
        for (offset, frame) in &waiting.live {
            if *offset > upto {
                waiting.handle.push(frame.clone());
                upto = *offset;
            }
        }
        let kept = self.kept.as_mut().filter(|k| k.history.offset() < upto);
        match kept.and_then(|k| k.shared.as_mut()) {
            // The store is ahead of what this node heard: the subscriber
            // waits for the node to hear up to `upto` (see `given`).
            Some(shared) => {
                waiting.live.clear();
                waiting.given = Some(upto);
                shared.catching.insert(id, waiting);
            }
            None => {
                self.subscribers.insert(id, waiting.handle);
            }
        }
        Ok(Joined {
            epoch,
            offset: Some(upto),
            recovered,
        })
    }

    /// After a reconnect to the shared store (see `RejoinMembers`).
    pub(super) fn lose_track_of_shared_history(&mut self) {
        let Some(kept) = self.kept.as_mut().filter(|k| k.shared.is_some()) else {
            return;
        };
        kept.history.lose_track();
        // What they were waiting to hear may never come over the new
        // connection: those the store answered join the fan-out now.
        if let Some(shared) = kept.shared.as_mut() {
            let answered: Vec<SessionId> = shared
                .catching
                .iter()
                .filter(|(_, w)| w.given.is_some())
                .map(|(id, _)| *id)
                .collect();
            for id in answered {
                if let Some(waiting) = shared.catching.remove(&id) {
                    self.subscribers.insert(id, waiting.handle);
                }
            }
        }
    }

    /// A subscriber being caught up left.
    pub(super) fn stop_catching_up(&mut self, id: SessionId) {
        if let Some(shared) = self.kept.as_mut().and_then(|k| k.shared.as_mut()) {
            shared.catching.remove(&id);
        }
    }

    /// Subscribers, counting those being caught up.
    pub(super) fn catching_up(&self) -> usize {
        self.kept
            .as_ref()
            .and_then(|k| k.shared.as_ref())
            .map_or(0, |s| s.catching.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_of_a_publication_is_its_own_field() {
        let frame = r#"{"type":"hub:message","topic":"t\"offset\":9","from":"a","offset":42,"payload":{"offset":7}}"#;
        assert_eq!(offset_of(frame), Some(42));
        assert_eq!(offset_of(r#"{"type":"hub:message"}"#), None);
    }
}
