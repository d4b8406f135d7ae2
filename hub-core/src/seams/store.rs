//! [`Store`]: what waits for a reader — a per-address inbox (messages kept
//! until the recipient acks them), a topic's recent history (for a client
//! that reconnects and recovers what it missed) — and the dedupe window of
//! message ids each sender has used (so a retried send is not delivered
//! twice).
//!
//! Both kinds of stream are append-only with positions: an epoch, which
//! changes when a stream's past is lost (a memory store restarting), and an
//! offset, which grows by one per message. A reader holding a position of
//! another epoch, or older than what is kept, is told so ([`StoreError::Gone`])
//! instead of silently missing messages.
//!
//! [`MemoryStore`] keeps everything in this process, bounded in bytes per
//! stream and in ids per dedupe window; it is lost on restart (hence a new
//! epoch per store). The durable store (an embedded database) and the code
//! that uses a store come with durable delivery; a Redis store would keep one
//! stream per inbox and topic (`XADD` with `MAXLEN`, `XRANGE` from a
//! position, `XTRIM MINID` on ack) and the dedupe window as keys with a TTL
//! (`SET NX EX`), all batched in pipelines.

// Used by durable delivery (issue "Nothing acked is lost"); until then only
// its tests call it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytestring::ByteString;

use super::Answer;

/// Which stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StreamKey {
    /// The inbox of an address: kept until acked.
    Inbox(Arc<str>),
    /// A topic's recent history: the oldest entries go when it is full.
    History(Arc<str>),
}

/// A place in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Position {
    /// Changes when the stream's past is lost.
    pub(crate) epoch: u64,
    /// The number of the message at this place; the first is 1, and 0 is
    /// "before the first".
    pub(crate) offset: u64,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StoreError {
    /// An inbox holds `limit_bytes`; nothing was appended. Retry once the
    /// recipient has acked.
    #[error("the inbox is full ({limit_bytes} bytes)")]
    Full { limit_bytes: usize },
    /// The position is of another epoch, or older than what is kept: the
    /// reader has missed messages and must recover some other way.
    #[error("the stream no longer holds that position")]
    Gone,
    /// The store could not be reached.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// What waits for a reader. See the module docs.
pub(crate) trait Store: std::fmt::Debug + Send + Sync + 'static {
    /// Appends `frames` to `stream`, all or none; returns the position of
    /// the last. An inbox refuses (`Full`) what would take it over its
    /// byte limit; a history drops its oldest entries instead.
    fn append(
        &self,
        stream: &StreamKey,
        frames: &[ByteString],
    ) -> Answer<Result<Position, StoreError>>;

    /// Up to `max` messages after `after` (0 offset: from the oldest kept).
    fn read(
        &self,
        stream: &StreamKey,
        after: Position,
        max: usize,
    ) -> Answer<Result<Vec<(Position, ByteString)>, StoreError>>;

    /// Deletes every message up to and including `upto` (an inbox's acks).
    /// Idempotent: acking again, or acking less, changes nothing.
    fn trim(&self, stream: &StreamKey, upto: Position) -> Answer<Result<(), StoreError>>;

    /// Records message ids `sender` used; returns, for each, whether it was
    /// already seen within the dedupe window.
    fn seen(&self, sender: &str, ids: &[Arc<str>]) -> Answer<Vec<bool>>;
}

#[derive(Debug, Default)]
struct Stream {
    /// Offset of the first message in `messages`.
    first: u64,
    messages: VecDeque<ByteString>,
    bytes: usize,
}

impl Stream {
    fn last(&self) -> u64 {
        self.first + self.messages.len() as u64 - 1
    }

    fn pop_oldest(&mut self) {
        if let Some(old) = self.messages.pop_front() {
            self.bytes -= old.len();
            self.first += 1;
        }
    }
}

#[derive(Debug, Default)]
struct Window {
    /// Ids in the order seen, with when, for expiry.
    order: VecDeque<(Instant, Arc<str>)>,
    ids: HashSet<Arc<str>>,
}

#[derive(Debug, Default)]
struct State {
    streams: HashMap<StreamKey, Stream>,
    windows: HashMap<Arc<str>, Window>,
}

/// A store in this process's memory. See the module docs.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    /// Random per store: positions from before a restart are `Gone`.
    epoch: u64,
    /// Bytes one stream may hold.
    max_stream_bytes: usize,
    /// How long a message id is remembered.
    dedupe_window: Duration,
    /// Ids remembered per sender, however young.
    max_ids_per_sender: usize,
    /// One lock for all: a store call is short and never awaits.
    state: Mutex<State>,
}

impl MemoryStore {
    pub(crate) fn new(
        max_stream_bytes: usize,
        dedupe_window: Duration,
        max_ids_per_sender: usize,
    ) -> Self {
        Self {
            epoch: uuid::Uuid::new_v4().as_u64_pair().0,
            max_stream_bytes,
            dedupe_window,
            max_ids_per_sender,
            state: Mutex::new(State::default()),
        }
    }

    fn position(&self, offset: u64) -> Position {
        Position {
            epoch: self.epoch,
            offset,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Unavailable("a store call panicked".into()))
    }

    fn append_now(&self, key: &StreamKey, frames: &[ByteString]) -> Result<Position, StoreError> {
        let added: usize = frames.iter().map(|f| f.len()).sum();
        let mut state = self.lock()?;
        let stream = state.streams.entry(key.clone()).or_insert_with(|| Stream {
            first: 1,
            ..Stream::default()
        });
        match key {
            StreamKey::Inbox(_) if stream.bytes + added > self.max_stream_bytes => {
                return Err(StoreError::Full {
                    limit_bytes: self.max_stream_bytes,
                })
            }
            StreamKey::History(_) => {
                while !stream.messages.is_empty() && stream.bytes + added > self.max_stream_bytes {
                    stream.pop_oldest();
                }
            }
            StreamKey::Inbox(_) => {}
        }
        for frame in frames {
            stream.bytes += frame.len();
            stream.messages.push_back(frame.clone());
        }
        let last = if stream.messages.is_empty() {
            stream.first - 1
        } else {
            stream.last()
        };
        Ok(self.position(last))
    }

    fn read_now(
        &self,
        key: &StreamKey,
        after: Position,
        max: usize,
    ) -> Result<Vec<(Position, ByteString)>, StoreError> {
        let state = self.lock()?;
        let Some(stream) = state.streams.get(key) else {
            return if after.offset == 0 || after.epoch == self.epoch {
                Ok(Vec::new())
            } else {
                Err(StoreError::Gone)
            };
        };
        if after.offset > 0 && (after.epoch != self.epoch || after.offset + 1 < stream.first) {
            return Err(StoreError::Gone);
        }
        let from = (after.offset + 1).max(stream.first);
        let skip = (from - stream.first) as usize;
        Ok(stream
            .messages
            .iter()
            .skip(skip)
            .take(max)
            .enumerate()
            .map(|(i, frame)| (self.position(from + i as u64), frame.clone()))
            .collect())
    }

    fn trim_now(&self, key: &StreamKey, upto: Position) -> Result<(), StoreError> {
        if upto.epoch != self.epoch {
            return Err(StoreError::Gone);
        }
        let mut state = self.lock()?;
        if let Some(stream) = state.streams.get_mut(key) {
            while !stream.messages.is_empty() && stream.first <= upto.offset {
                stream.pop_oldest();
            }
        }
        Ok(())
    }

    fn seen_now(&self, sender: &str, ids: &[Arc<str>]) -> Vec<bool> {
        let Ok(mut state) = self.state.lock() else {
            // Nothing remembered: let the messages through rather than drop them.
            return vec![false; ids.len()];
        };
        let now = Instant::now();
        let window = state.windows.entry(sender.into()).or_default();
        while let Some((at, id)) = window.order.front() {
            if now.duration_since(*at) < self.dedupe_window
                && window.order.len() <= self.max_ids_per_sender
            {
                break;
            }
            window.ids.remove(id);
            window.order.pop_front();
        }
        ids.iter()
            .map(|id| {
                let fresh = window.ids.insert(id.clone());
                if fresh {
                    window.order.push_back((now, id.clone()));
                    if window.order.len() > self.max_ids_per_sender {
                        if let Some((_, oldest)) = window.order.pop_front() {
                            window.ids.remove(&oldest);
                        }
                    }
                }
                !fresh
            })
            .collect()
    }
}

impl Store for MemoryStore {
    fn append(
        &self,
        stream: &StreamKey,
        frames: &[ByteString],
    ) -> Answer<Result<Position, StoreError>> {
        Answer::now(self.append_now(stream, frames))
    }

    fn read(
        &self,
        stream: &StreamKey,
        after: Position,
        max: usize,
    ) -> Answer<Result<Vec<(Position, ByteString)>, StoreError>> {
        Answer::now(self.read_now(stream, after, max))
    }

    fn trim(&self, stream: &StreamKey, upto: Position) -> Answer<Result<(), StoreError>> {
        Answer::now(self.trim_now(stream, upto))
    }

    fn seen(&self, sender: &str, ids: &[Arc<str>]) -> Answer<Vec<bool>> {
        Answer::now(self.seen_now(sender, ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now<T>(answer: Answer<T>) -> T {
        answer.into_now().expect("the memory store answers at once")
    }

    fn frames(texts: &[&'static str]) -> Vec<ByteString> {
        texts.iter().map(|t| ByteString::from_static(t)).collect()
    }

    fn texts(read: &[(Position, ByteString)]) -> Vec<&str> {
        read.iter().map(|(_, f)| &**f).collect()
    }

    #[test]
    fn an_inbox_keeps_messages_until_acked_and_refuses_past_its_bytes() {
        let store = MemoryStore::new(10, Duration::from_secs(60), 100);
        let inbox = StreamKey::Inbox("bob".into());
        let start = Position {
            epoch: store.epoch,
            offset: 0,
        };
        let last = now(store.append(&inbox, &frames(&["aaa", "bbb"]))).unwrap();
        assert_eq!(last.offset, 2);
        assert_eq!(
            now(store.append(&inbox, &frames(&["cccccc"]))),
            Err(StoreError::Full { limit_bytes: 10 }),
            "all or none"
        );
        let read = now(store.read(&inbox, start, 10)).unwrap();
        assert_eq!(texts(&read), ["aaa", "bbb"]);
        now(store.trim(&inbox, read[0].0)).unwrap();
        now(store.trim(&inbox, read[0].0)).unwrap();
        let read = now(store.read(&inbox, start, 10)).unwrap();
        assert_eq!(texts(&read), ["bbb"], "acked once, however often");
        now(store.append(&inbox, &frames(&["cccccc"]))).unwrap();
        let after_first = now(store.read(&inbox, read[0].0, 10)).unwrap();
        assert_eq!(texts(&after_first), ["cccccc"]);
        assert_eq!(after_first[0].0.offset, 3);
    }

    #[test]
    fn a_history_drops_its_oldest_and_says_when_a_reader_fell_behind() {
        let store = MemoryStore::new(6, Duration::from_secs(60), 100);
        let history = StreamKey::History("news".into());
        let start = Position {
            epoch: store.epoch,
            offset: 0,
        };
        now(store.append(&history, &frames(&["aa", "bb", "cc"]))).unwrap();
        let first = now(store.read(&history, start, 1)).unwrap()[0].0;
        now(store.append(&history, &frames(&["dd"]))).unwrap();
        assert_eq!(
            texts(&now(store.read(&history, start, 10)).unwrap()),
            ["bb", "cc", "dd"]
        );
        assert_eq!(
            now(store.read(&history, first, 10)).map(|r| r.len()),
            Ok(3),
            "aa was read; nothing missed"
        );
        let before_first = Position {
            epoch: store.epoch,
            offset: first.offset,
        };
        now(store.append(&history, &frames(&["ee"]))).unwrap();
        assert_eq!(
            now(store.read(&history, before_first, 10)),
            Err(StoreError::Gone),
            "bb was dropped unread"
        );
        let other_epoch = Position {
            epoch: store.epoch ^ 1,
            offset: 4,
        };
        assert_eq!(
            now(store.read(&history, other_epoch, 10)),
            Err(StoreError::Gone)
        );
    }

    #[test]
    fn the_dedupe_window_remembers_ids_per_sender_within_its_bounds() {
        let store = MemoryStore::new(1024, Duration::from_secs(60), 2);
        let ids: Vec<Arc<str>> = ["m1", "m2", "m1"].into_iter().map(Arc::from).collect();
        assert_eq!(now(store.seen("alice", &ids)), [false, false, true]);
        assert_eq!(now(store.seen("bob", &ids[..1])), [false], "per sender");
        let m3: Arc<str> = "m3".into();
        assert_eq!(now(store.seen("alice", &[m3])), [false]);
        assert_eq!(
            now(store.seen("alice", &ids[..1])),
            [false],
            "m1 fell out of the 2-id window"
        );
        let short = MemoryStore::new(1024, Duration::ZERO, 100);
        assert_eq!(now(short.seen("a", &ids[..1])), [false]);
        assert_eq!(
            now(short.seen("a", &ids[..1])),
            [false],
            "a zero window remembers nothing"
        );
    }
}
