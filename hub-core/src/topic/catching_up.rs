//! How a subscriber that recovers (`since`), or whose position this
//! node's history cannot answer yet, is caught up from the engine's
//! history store.
//!
//! Until the read returns the subscriber is not one: publications arriving
//! meanwhile wait in its `live` list; then it gets what it missed, then
//! those of `live` past it, then joins. So a recovery has no gap and no
//! duplicate. On one node the read answers at once from the topic's own
//! history, inside the handler, between two fan-outs; with the Redis engine
//! it answers later, from Redis.

use std::collections::VecDeque;
use std::sync::Arc;

use actix::prelude::*;
use bytestring::ByteString;
use futures_util::future::{BoxFuture, Shared as SharedFuture};

use super::{fan_out, Joined, Topic};
use crate::error::HubError;
use crate::outbox::{SessionHandle, SessionId};
use crate::seams::history::HistoryRead;

/// A subscriber waiting for its position from the history store, or, once
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

/// What a catch-up is answered with.
type Catching = ResponseActFuture<Topic, Result<Joined, HubError>>;

impl Topic {
    /// Hands out a numbered publication (kept already): to the subscribers,
    /// and to those being caught up. Returns how many subscribers took it.
    pub(super) fn hand_out(
        &mut self,
        frame: &ByteString,
        offset: u64,
        received: std::time::Instant,
    ) -> usize {
        let Some(kept) = self.kept.as_mut().filter(|k| !k.catching.is_empty()) else {
            return fan_out(
                &mut self.subscribers,
                frame,
                received,
                (&self.metrics, self.namespace),
            );
        };
        let size = kept.history.options().size.max(1);
        let heard = kept.history.offset();
        let mut joined = Vec::new();
        for (id, waiting) in kept.catching.iter_mut() {
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
        let recipients = fan_out(
            &mut self.subscribers,
            frame,
            received,
            (&self.metrics, self.namespace),
        );
        for id in joined {
            if let Some(waiting) = kept.catching.remove(&id) {
                self.subscribers.insert(id, waiting.handle);
            }
        }
        recipients
    }

    /// Whether a subscriber is caught up from the history store rather than
    /// joined at this node's position: always to recover (`since`), since
    /// only the store knows what was published (with the Redis engine, a
    /// node cut off from it — before it even noticed — may have missed
    /// publications its copy cannot know of); without `since`, only while
    /// this node's history does not follow the stream.
    pub(super) fn needs_catching_up(&self, since: Option<&(Arc<str>, u64)>) -> bool {
        self.kept
            .as_ref()
            .is_some_and(|kept| since.is_some() || !kept.history.follows())
    }

    /// Starts catching `handle` up: once `heard` (this node listens to the
    /// topic's channel), reads the history store, then [`Topic::caught_up`].
    pub(super) fn catch_up(
        &mut self,
        handle: SessionHandle,
        since: Option<(Arc<str>, u64)>,
        heard: Option<SharedFuture<BoxFuture<'static, ()>>>,
    ) -> Catching {
        let Some(kept) = self.kept.as_mut() else {
            return Box::pin(fut::ready(Err(HubError::Internal("no history"))));
        };
        let id = handle.id;
        let after = since.as_ref().map(|(_, offset)| *offset);
        // Known to be cut off from the store: a read would only wait for
        // its timeout to fail; the answer is `recovered: false` at once.
        let cut_off = since.is_some() && !kept.store.reachable();
        kept.catching.insert(
            id,
            CatchingUp {
                handle,
                since,
                live: VecDeque::new(),
                given: None,
            },
        );
        if cut_off {
            let away = Err(HubError::Unavailable("the topic history"));
            return Box::pin(fut::ready(self.caught_up(id, away)));
        }
        match heard {
            None => self.read_history(id, after),
            Some(heard) => Box::pin(
                heard
                    .into_actor(self)
                    .then(move |(), act, _| act.read_history(id, after)),
            ),
        }
    }

    /// Reads the history store for subscriber `id`: caught up at once when
    /// it answers at once (one node), else when it answers.
    fn read_history(&mut self, id: SessionId, after: Option<u64>) -> Catching {
        let Some(kept) = self.kept.as_ref() else {
            return Box::pin(fut::ready(Err(HubError::Internal("no history"))));
        };
        match kept.store.read(&self.name, after, &kept.history).into_now() {
            Ok(read) => Box::pin(fut::ready(self.caught_up(id, read))),
            Err(later) => Box::pin(
                later
                    .into_actor(self)
                    .map(move |read, act, _| act.caught_up(id, read)),
            ),
        }
    }

    /// Hands a caught-up subscriber what it missed, then what came meanwhile,
    /// and makes it a subscriber.
    fn caught_up(
        &mut self,
        id: SessionId,
        read: Result<HistoryRead, HubError>,
    ) -> Result<Joined, HubError> {
        let waiting = self.kept.as_mut().and_then(|k| k.catching.remove(&id));
        // It left meanwhile.
        let Some(mut waiting) = waiting else {
            return Ok(Joined::default());
        };
        let (epoch, mut upto, recovered) = match read {
            Ok(read) => {
                let recovered = waiting
                    .since
                    .as_ref()
                    .map(|(epoch, offset)| read.recovers(epoch, *offset));
                let mut upto = read.last;
                if recovered == Some(true) {
                    let after = waiting.since.as_ref().map_or(0, |(_, offset)| *offset);
                    upto = after;
                    for (offset, frame) in read.publications.iter().filter(|(o, _)| *o > after) {
                        waiting.handle.push(frame.clone());
                        upto = *offset;
                    }
                }
                (read.epoch, upto, recovered)
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
        match self.kept.as_mut().filter(|k| k.history.offset() < upto) {
            // The store is ahead of what this node heard: the subscriber
            // waits for the node to hear up to `upto` (see `given`).
            Some(kept) => {
                waiting.live.clear();
                waiting.given = Some(upto);
                kept.catching.insert(id, waiting);
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

    /// After a reconnect to the history store (see `RejoinMembers`): this
    /// node's history may have missed publications.
    pub(super) fn lose_track_of_history(&mut self) {
        let Some(kept) = self.kept.as_mut() else {
            return;
        };
        kept.history.lose_track();
        // What they were waiting to hear may never come over the new
        // connection: those the store answered join the fan-out now.
        let answered: Vec<SessionId> = kept
            .catching
            .iter()
            .filter(|(_, w)| w.given.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in answered {
            if let Some(waiting) = kept.catching.remove(&id) {
                self.subscribers.insert(id, waiting.handle);
            }
        }
    }

    /// A subscriber being caught up left.
    pub(super) fn stop_catching_up(&mut self, id: SessionId) {
        if let Some(kept) = self.kept.as_mut() {
            kept.catching.remove(&id);
        }
    }

    /// Subscribers being caught up.
    pub(super) fn catching_up(&self) -> usize {
        self.kept.as_ref().map_or(0, |k| k.catching.len())
    }
}
