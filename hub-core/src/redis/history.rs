//! [`RedisHistory`]: one history per topic for the whole hub, in Redis.
//!
//! Per topic with history, in the slot of the topic's channel: a position
//! hash (epoch, last offset) and a stream (entry ID `<offset>-0`: the frame,
//! when Redis kept it), both expiring after the position's TTL without
//! publications. `history_publish.lua` numbers a publication, keeps it
//! (trimmed to `history_size` and `history_ttl_ms`) and publishes it on the
//! topic's channel headed by [`HISTORY_MARK`] and its epoch, in one step:
//! every node, the publishing one too, fans it out from the channel, so all
//! see the same offsets in the same order. Publications leave in the order
//! they were made, through one task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytestring::ByteString;
use fred::prelude::{Client, ClientLike, Key, Value};
use fred::types::scripts::Script;
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use super::broker::ORIGIN_LEN;
use super::scripted::{self, Call};
use super::RedisOptions;
use crate::error::HubError;
use crate::message_frame::{encode_publication, split_at_number};
use crate::permissions::HistoryOptions;
use crate::seams::history::{
    History, HistoryBudget, HistoryRead, HistoryStore, Numbering, Publishing,
};
use crate::seams::Answer;

/// Heads a publication carried with its offset and epoch, in place of the
/// origin node's id: every node fans it out, its publisher's too.
pub(super) const HISTORY_MARK: &str = "~history~~~~~~~~";
const _: () = assert!(HISTORY_MARK.len() == ORIGIN_LEN);

/// Publications written in one pipeline, at most.
const MAX_BATCH: usize = 256;

type Numbered = Result<(Arc<str>, u64), HubError>;

struct Job {
    call: Call,
    done: oneshot::Sender<Numbered>,
    size: usize,
}

/// See the module docs.
pub(crate) struct RedisHistory {
    client: Client,
    options: RedisOptions,
    jobs: mpsc::UnboundedSender<Job>,
    /// Bytes in `jobs`, bounded by the options' `publish_queue_bytes`.
    queued: Arc<AtomicUsize>,
    read: Arc<Script>,
}

impl std::fmt::Debug for RedisHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHistory").finish_non_exhaustive()
    }
}

fn unavailable(error: &fred::error::Error) -> HubError {
    tracing::warn!(error = %super::link_log::said(error), "redis history command failed");
    HubError::Unavailable("the topic history (redis)")
}

/// A fresh epoch: random, short.
fn new_epoch() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

impl RedisHistory {
    /// Starts the publishing task on the current runtime.
    pub(super) fn start(client: Client, options: RedisOptions) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        actix_rt::spawn(run(client.clone(), rx, queued.clone()));
        Self {
            client,
            options,
            jobs,
            queued,
            read: Arc::new(Script::from_lua(include_str!("scripts/history_read.lua"))),
        }
    }

    /// The position hash and the stream of `topic`, in its channel's slot.
    fn keys(&self, topic: &str) -> [String; 2] {
        let channel = self.options.topic_channel(topic);
        // A channel name with a hash tag of its own is hashed by it: the
        // keys share it. Else the whole name is the tag.
        let tagged = channel
            .find('{')
            .and_then(|open| channel[open + 1..].find('}'))
            .is_some_and(|len| len > 0);
        if tagged {
            [format!("{channel}:p"), format!("{channel}:h")]
        } else {
            [format!("{{{channel}}}:p"), format!("{{{channel}}}:h")]
        }
    }
}

fn ms(value: u64) -> Value {
    Value::from(i64::try_from(value.max(1)).unwrap_or(i64::MAX))
}

impl HistoryStore for RedisHistory {
    /// This node's copy of the hub's history: it follows the hub's stream
    /// from the first publication it hears (nothing of it is restored).
    fn open(
        &self,
        options: HistoryOptions,
        budget: Arc<HistoryBudget>,
        _restored: Option<History>,
        now_ms: u64,
    ) -> History {
        History::shared(options, budget, now_ms)
    }

    fn publish(
        &self,
        topic: &Arc<str>,
        kept: &mut History,
        publication: Publishing<'_>,
    ) -> Numbering {
        let frame = encode_publication(topic, publication.from, 0, publication.payload);
        let Some((head, tail)) = split_at_number(&frame, "offset") else {
            let e = HubError::Internal("a publication without its offset");
            return Numbering::Carried(Answer::now(Err(e)));
        };
        Numbering::Carried(self.number(topic, head, tail, kept.options()))
    }

    fn reachable(&self) -> bool {
        self.client.is_connected()
    }

    fn read(
        &self,
        topic: &str,
        after: Option<u64>,
        kept: &History,
    ) -> Answer<Result<HistoryRead, HubError>> {
        let options = kept.options();
        let keys: Vec<Key> = self.keys(topic).into_iter().map(Key::from).collect();
        let args: Vec<Value> = vec![
            after.map_or_else(String::new, |a| a.to_string()).into(),
            ms(options.size as u64),
            ms(options.ttl_ms),
            new_epoch().into(),
            ms(options.meta_ttl_ms.max(options.ttl_ms)),
        ];
        let (client, script) = (self.client.clone(), self.read.clone());
        Answer::Later(
            async move {
                let out: Value = script
                    .evalsha_with_reload(&client, keys, args)
                    .await
                    .map_err(|e| unavailable(&e))?;
                Ok(parse_read(out.into_array()))
            }
            .boxed(),
        )
    }

    /// Redis trims and expires the hub's history itself.
    fn expired(&self, _topic: &Arc<str>, _kept: &History) {}

    /// The position in Redis expires by itself (other nodes may use it).
    fn forget(&self, _topic: Arc<str>) {}
}

impl RedisHistory {
    /// Numbers a publication of `topic` (its frame around the offset:
    /// `head`, `tail`) in Redis, keeps it within `options` and carries it
    /// to every node. Answers (epoch, offset).
    fn number(
        &self,
        topic: &str,
        head: &str,
        tail: &str,
        options: HistoryOptions,
    ) -> Answer<Result<(Arc<str>, u64), HubError>> {
        let args: Vec<Value> = vec![
            self.options.topic_channel(topic).into(),
            head.into(),
            tail.into(),
            ms(options.size as u64),
            ms(options.ttl_ms),
            ms(options.meta_ttl_ms.max(options.ttl_ms)),
            new_epoch().into(),
            HISTORY_MARK.into(),
        ];
        let size = head.len() + tail.len() + topic.len();
        if self.queued.fetch_add(size, Ordering::AcqRel) + size > self.options.publish_queue_bytes {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return Answer::now(Err(HubError::Unavailable("the topic history (redis)")));
        }
        let (done, rx) = oneshot::channel();
        let job = Job {
            call: Call {
                keys: self.keys(topic).into(),
                args,
            },
            done,
            size,
        };
        if self.jobs.send(job).is_err() {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return Answer::now(Err(HubError::Unavailable("the topic history (redis)")));
        }
        Answer::Later(
            async move {
                rx.await
                    .unwrap_or(Err(HubError::Unavailable("the topic history (redis)")))
            }
            .boxed(),
        )
    }
}

/// `{epoch or '', last, covered_from, offset, frame, ...}`.
fn parse_read(out: Vec<Value>) -> HistoryRead {
    let number = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let epoch = out
        .first()
        .and_then(Value::as_string)
        .filter(|e| !e.is_empty())
        .map(Arc::from);
    let publications = out
        .get(3..)
        .unwrap_or_default()
        .chunks(2)
        .filter_map(|pair| {
            let offset = pair.first()?.as_u64()?;
            let frame = pair.get(1)?.as_string()?;
            Some((offset, ByteString::from(frame)))
        })
        .collect();
    HistoryRead {
        epoch,
        last: number(out.get(1)),
        covered_from: number(out.get(2)).max(1),
        publications,
    }
}

/// The publishing task: what arrived together goes out in one pipeline,
/// in order.
async fn run(client: Client, mut jobs: mpsc::UnboundedReceiver<Job>, queued: Arc<AtomicUsize>) {
    let script = Script::from_lua(include_str!("scripts/history_publish.lua"));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let calls: Vec<&Call> = batch.iter().map(|job: &Job| &job.call).collect();
        let answers = scripted::in_order(&client, &script, &calls).await;
        for (job, answer) in batch.drain(..).zip(answers) {
            queued.fetch_sub(job.size, Ordering::AcqRel);
            let numbered = match answer {
                Ok(value) => {
                    let out = value.into_array();
                    match (
                        out.first().and_then(Value::as_string),
                        out.get(1).and_then(Value::as_u64),
                    ) {
                        (Some(epoch), Some(offset)) => Ok((Arc::from(epoch), offset)),
                        _ => Err(HubError::Unavailable("the topic history (redis)")),
                    }
                }
                Err(e) => Err(unavailable(&e)),
            };
            let _ = job.done.send(numbered);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_parsed_with_its_publications_in_order() {
        let out = vec![
            Value::from("ep0ch"),
            Value::from(7),
            Value::from(5),
            Value::from(6),
            Value::from("{\"offset\":6}"),
            Value::from(7),
            Value::from("{\"offset\":7}"),
        ];
        let read = parse_read(out);
        assert_eq!(read.epoch.as_deref(), Some("ep0ch"));
        assert_eq!((read.last, read.covered_from), (7, 5));
        let offsets: Vec<u64> = read.publications.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, vec![6, 7]);
        assert_eq!(
            parse_read(vec![Value::from(""), Value::from(0), Value::from(1)]).epoch,
            None
        );
    }
}
