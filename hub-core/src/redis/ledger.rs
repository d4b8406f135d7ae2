//! Stored direct messages in Redis: one inbox per address, shared by every
//! node of the hub, so a message stored on one node is read by whichever
//! node holds its recipient next (also after the node that stored it died).
//!
//! Per address, under a hash tag of its own (one Redis Cluster slot, so
//! each change is one atomic script): a state hash (the highest `seq`
//! given, the acknowledged `seq`, count and bytes kept), a stream with one
//! entry per message (ID `<seq>-0`, the frame, when Redis stored it, the
//! receipt asked for), and one dedupe key per `msg_id` a sender used
//! (`SET ... PX`, the first attempt's fingerprint and status). An inbox is
//! known while a session holds its address and for `offline_retention_ms`
//! after: its keys carry that TTL, renewed while the address is held.
//!
//! The scripts (`inbox_*.lua`) number, cap, expire and delete; this module
//! calls them and reads the stream: the Redis engine's [`InboxLedger`].

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Client, ClientLike, Key, Value};
use fred::types::scripts::Script;
use fred::types::{ClusterHash, CustomCommand};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::direct::{Direct, Reserved};
use super::scripted::{self, Call};

use crate::durable::ledger::{
    AppendAnswer, AppendSink, Appended, Attached, Caps, ClaimedHere, Entry, Frame, InboxLedger,
    Once, ReceiptNote,
};
use crate::durable::store::Outcome;
use crate::error::HubError;
use crate::message_frame::{encode_stored_message, split_at_number};
use crate::protocol::DeliveryStatus;

mod claims;
mod seam;
mod users;

/// Touches, or appends, sent in one pipeline, at most.
const TOUCH_BATCH: usize = 256;

/// An append on its way to Redis: appends leave in the order they were
/// made (see [`RedisLedger::append`]).
struct AppendJob {
    call: Call,
    /// The desk's ticket for its answer.
    ticket: u64,
    /// The recipient, and the request its holder's node answers when the
    /// script tells it (see [`RedisLedger::tells`]).
    told: Option<(Arc<str>, Reserved)>,
    /// The recipient.
    to: Arc<str>,
}

/// See the module docs.
pub(super) struct RedisLedger {
    client: Client,
    prefix: String,
    attach: Script,
    ack: Script,
    /// Frees a claimed `msg_id` that is still pending with this fingerprint.
    release: Arc<Script>,
    /// To the task that writes appends in order.
    appends: mpsc::UnboundedSender<AppendJob>,
    /// Appends waiting for Redis, bounded by `max_waiting`.
    waiting: Arc<AtomicUsize>,
    /// Where the append task answers (see `AppendSink`).
    sink: Arc<std::sync::OnceLock<AppendSink>>,
    max_waiting: usize,
    /// On a Redis that is not a cluster, the append script also tells the
    /// recipient's holder on another node (`direct/told.rs`): one round
    /// trip for a stored send, not two. A cluster keeps the directory and
    /// each inbox in different slots, so there the desk wakes the holder
    /// after the append.
    tells: Option<Arc<Direct>>,
}

fn script(body: &str) -> Script {
    Script::from_lua(format!(
        "{}\n{body}",
        include_str!("scripts/inbox_common.lua")
    ))
}

fn unavailable(error: &fred::error::Error) -> HubError {
    tracing::warn!(error = %super::link_log::said(error), "redis inbox command failed");
    HubError::Unavailable("the inbox store (redis)")
}

fn text(value: &Value) -> Option<String> {
    value.as_string()
}

fn number(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// The receipts a script returned from position `from` on.
fn receipts(values: &[Value], from: usize) -> Vec<ReceiptNote> {
    values
        .iter()
        .skip(from)
        .filter_map(|v| serde_json::from_str(&text(v)?).ok())
        .collect()
}

impl RedisLedger {
    /// Starts the append task on the current runtime. At most
    /// `max_waiting` appends wait for Redis (`redis_max_pending_sends`);
    /// past it one is refused `unavailable`.
    pub(super) fn start(
        client: Client,
        prefix: &str,
        max_waiting: usize,
        tells: Option<Arc<Direct>>,
    ) -> Self {
        let (appends, jobs) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let sink = Arc::new(std::sync::OnceLock::new());
        let append = script(include_str!("scripts/inbox_append.lua"));
        actix_rt::spawn(append_in_order(
            client.clone(),
            append,
            jobs,
            (waiting.clone(), sink.clone(), tells.clone()),
        ));
        Self {
            client,
            prefix: prefix.to_owned(),
            attach: script(include_str!("scripts/inbox_attach.lua")),
            ack: script(include_str!("scripts/inbox_ack.lua")),
            release: Arc::new(Script::from_lua(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            )),
            appends,
            waiting,
            sink,
            max_waiting,
            tells,
        }
    }

    /// The dedupe key of `sender`'s `msg_id` in `to`'s inbox (the sender's
    /// length first, so no two pairs share a key).
    fn once_key(&self, to: &str, sender: &str, msg_id: &str) -> String {
        let base = self.base(to);
        format!("{base}:d:{}:{sender}{msg_id}", sender.len())
    }

    async fn run(
        &self,
        script: &Script,
        keys: Vec<Key>,
        args: Vec<Value>,
    ) -> Result<Vec<Value>, HubError> {
        script
            .evalsha_with_reload::<Value, _, _>(&self.client, keys, args)
            .await
            .map_err(|e| unavailable(&e))
            .map(|v| v.into_array())
    }

    /// Stores `frame` in `to`'s inbox (answered to the sink with `ticket`,
    /// with the receipts of messages the append found expired), or refuses
    /// at once when too many appends wait for Redis. Enqueued now, before
    /// this returns: appends reach Redis, and get their `seq`, in the order
    /// of these calls.
    pub(super) fn append(
        &self,
        to: &str,
        frame: Frame<'_>,
        receipt: Option<&ReceiptNote>,
        once: Option<&Once<'_>>,
        caps: Caps,
        ticket: u64,
    ) -> Option<AppendAnswer> {
        // Redis numbers it: the frame goes around a 0 for its seq.
        let encoded;
        let (head, tail) = match frame {
            Frame::Split { head, tail } => (head, tail),
            Frame::Message {
                from,
                payload,
                correlation,
            } => {
                encoded = encode_stored_message(from, 0, payload, correlation);
                match split_at_number(&encoded, "seq") {
                    Some(split) => split,
                    None => return Some(Err(HubError::Internal("a frame without its seq"))),
                }
            }
        };
        let base = self.base(to);
        let user_devices = self.devices_key(to);
        let mut keys = vec![format!("{base}:s"), format!("{base}:m"), user_devices];
        let print = once.map(|o| format!("{:016x}{:016x}", o.fingerprint[0], o.fingerprint[1]));
        if let Some(o) = once {
            keys.push(self.once_key(to, o.sender, o.msg_id));
        }
        let receipt = receipt
            .and_then(|r| serde_json::to_string(r).ok())
            .unwrap_or_default();
        let mut args: Vec<Value> = vec![
            head.into(),
            tail.into(),
            (caps.ttl.as_millis() as i64).into(),
            (caps.max_messages as i64).into(),
            (caps.max_bytes as i64).into(),
            receipt.into(),
            (caps.dedupe_window.as_millis().max(1) as i64).into(),
            print.unwrap_or_default().into(),
        ];
        let settle = once.map(|o| (keys[3].clone(), accepted_value(&o.fingerprint)));
        let told = self.tell(to, settle, &mut args);
        let full = self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting;
        let refused = full
            || self
                .appends
                .send(AppendJob {
                    call: Call { keys, args },
                    ticket,
                    told,
                    to: to.into(),
                })
                .is_err();
        if refused {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Some(Err(HubError::Unavailable("the inbox store (redis)")));
        }
        None
    }

    /// Adds what the append script needs to tell `to`'s holder on another
    /// node, when this ledger tells (and a request is free for it).
    fn tell(
        &self,
        to: &str,
        settle: Option<(String, String)>,
        args: &mut Vec<Value>,
    ) -> Option<(Arc<str>, Reserved)> {
        let direct = self.tells.as_ref()?;
        let reserved = direct.reserve(to, settle.as_ref().map(|(key, _)| key.clone()))?;
        let settle = settle
            .as_ref()
            .map(|(key, value)| (key.as_str(), value.as_str()));
        let Some(head) = direct.stored_head(to, reserved.req, settle) else {
            direct.file(to, None, reserved, -3);
            return None;
        };
        let (holding, channels) = direct.holding_and_channels(to);
        args.extend([
            holding.into(),
            channels.into(),
            direct.node_name().into(),
            head.into(),
        ]);
        Some((to.into(), reserved))
    }
}

/// A dedupe key's value once its message was handed over.
fn accepted_value(fingerprint: &[u64; 2]) -> String {
    format!("{:016x}{:016x} accepted", fingerprint[0], fingerprint[1])
}

/// What `inbox_append.lua` answered for a send to `to`.
fn appended(to: &str, out: &[Value]) -> AppendAnswer {
    {
        let kind = out.first().and_then(text).unwrap_or_default();
        let appended = match kind.as_str() {
            "copies" => return users::copies(to, out),
            "stored" => Appended::Stored(out.get(1).map_or(0, number), None),
            "again" => Appended::Again(match out.get(1).and_then(text).as_deref() {
                Some("accepted") => DeliveryStatus::Accepted,
                _ => DeliveryStatus::Queued,
            }),
            "conflict" => Appended::Conflict,
            "full" => Appended::Full,
            "unknown" => Appended::Unknown,
            _ => return Err(HubError::Unavailable("the inbox store (redis)")),
        };
        Ok((appended, out.get(2).map_or(0, number), receipts(out, 4)))
    }
}

/// The append task: what arrived together goes out in one pipeline, in
/// order (a Redis connection runs what it gets in order), and its answers
/// go to the sink together.
async fn append_in_order(
    client: Client,
    script: Script,
    mut jobs: mpsc::UnboundedReceiver<AppendJob>,
    (waiting, sink, tells): (
        Arc<AtomicUsize>,
        Arc<std::sync::OnceLock<AppendSink>>,
        Option<Arc<Direct>>,
    ),
) {
    let mut batch = Vec::with_capacity(TOUCH_BATCH);
    while jobs.recv_many(&mut batch, TOUCH_BATCH).await > 0 {
        let calls: Vec<&Call> = batch.iter().map(|job: &AppendJob| &job.call).collect();
        let answers = scripted::in_order(&client, &script, &calls).await;
        let mut done = Vec::with_capacity(batch.len());
        for (job, answer) in batch.drain(..).zip(answers) {
            waiting.fetch_sub(1, Ordering::AcqRel);
            let out = answer.map(Value::into_array);
            if let (Some(direct), Some((to, reserved))) = (&tells, job.told) {
                let (seq, told) = match &out {
                    Ok(out)
                        if matches!(
                            out.first().and_then(text).as_deref(),
                            Some("stored" | "copies")
                        ) && out.get(1).map_or(0, number) > 0 =>
                    {
                        (
                            out.get(1).map(number),
                            out.get(3).and_then(Value::as_i64).unwrap_or(-3),
                        )
                    }
                    _ => (None, -3),
                };
                // Filed before the desk hears of the append: its wake finds it.
                direct.file(&to, seq, reserved, told);
            }
            let answer = match out {
                Ok(out) => appended(&job.to, &out),
                Err(e) => Err(unavailable(&e)),
            };
            done.push((job.ticket, answer));
        }
        if let Some(sink) = sink.get() {
            sink(done);
        }
    }
}

impl RedisLedger {
    /// Records the status a `msg_id`'s first attempt got, for its retries.
    pub(super) async fn settle(&self, to: &str, once: &Once<'_>, status: DeliveryStatus) {
        if status != DeliveryStatus::Accepted {
            return;
        }
        let key = self.once_key(to, once.sender, once.msg_id);
        if self.tells.as_ref().is_some_and(|d| d.settled_there(&key)) {
            return;
        }
        let value = accepted_value(&once.fingerprint);
        let set = CustomCommand::new_static("SET", ClusterHash::FirstKey, false);
        let args: Vec<Value> = vec![key.into(), value.into(), "XX".into(), "KEEPTTL".into()];
        if let Err(e) = self.client.custom::<Value, _>(set, args).await {
            tracing::debug!(error = %e, "a msg_id's status was not recorded");
        }
    }

    /// A session holds `address`: its inbox is known for the retention from
    /// now. Returns (acknowledged, last) `seq`s and the receipts of messages
    /// found expired. `floor`: what the holder has handed out already.
    pub(super) async fn attach(
        &self,
        address: &str,
        retention: Duration,
        ttl: Duration,
        floor: u64,
    ) -> Result<Attached, HubError> {
        let call = self.attach_call(address, retention, ttl, floor);
        let keys = call.keys.into_iter().map(Key::from).collect();
        let out = self.run(&self.attach, keys, call.args).await?;
        Ok(Attached {
            acked: out.first().map_or(0, number),
            last: out.get(1).map_or(0, number),
            expired: out.get(2).map_or(0, number),
            receipts: receipts(&out, 3),
        })
    }

    /// Keeps the inboxes of held addresses for the retention from now, in
    /// pipelines. `(address, floor)` as for [`Self::attach`].
    pub(super) async fn touch(
        &self,
        held: Vec<(Arc<str>, u64)>,
        retention: Duration,
        ttl: Duration,
    ) {
        for chunk in held.chunks(TOUCH_BATCH) {
            let calls: Vec<Call> = chunk
                .iter()
                .map(|(address, floor)| self.attach_call(address, retention, ttl, *floor))
                .collect();
            let calls: Vec<&Call> = calls.iter().collect();
            scripted::in_order(&self.client, &self.attach, &calls).await;
        }
    }

    /// The recipient took every message of `address` up to `upto`: deletes
    /// them; returns the receipts they carried.
    pub(super) async fn ack(&self, address: &str, upto: u64) -> Result<Vec<ReceiptNote>, HubError> {
        let args: Vec<Value> = vec![(upto as i64).into()];
        let out = self.run(&self.ack, self.keys(address), args).await?;
        Ok(receipts(&out, 0))
    }

    /// Up to `max` messages of `address` after `seq` `after`, in order.
    pub(super) async fn read(
        &self,
        address: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<Entry>, HubError> {
        let xrange = CustomCommand::new_static("XRANGE", ClusterHash::FirstKey, false);
        let [_, stream] =
            <[Key; 2]>::try_from(self.keys(address)).map_err(|_| HubError::Internal("keys"))?;
        let args: Vec<Value> = vec![
            stream.into(),
            format!("{}-0", after + 1).into(),
            "+".into(),
            "COUNT".into(),
            (max as i64).into(),
        ];
        let entries: Value = self
            .client
            .custom(xrange, args)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(entries.into_array().into_iter().filter_map(entry).collect())
    }
}

/// One `XRANGE` entry: `[id, [field, value, ...]]`.
fn entry(value: Value) -> Option<Entry> {
    let [id, fields] = <[Value; 2]>::try_from(value.into_array()).ok()?;
    let seq = id.as_string()?.split('-').next()?.parse().ok()?;
    let fields = fields.into_array();
    let (mut frame, mut stored_at_ms) = (None, 0);
    for pair in fields.chunks(2) {
        match (pair[0].as_string().as_deref(), pair.get(1)) {
            (Some("f"), Some(v)) => frame = v.as_string(),
            (Some("t"), Some(v)) => stored_at_ms = v.as_string()?.parse().unwrap_or(0),
            _ => {}
        }
    }
    Some(Entry {
        seq,
        stored_at_ms,
        frame: frame?.into(),
    })
}
