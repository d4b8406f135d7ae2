//! The directory's writer: claims and releases go to Redis in the order the
//! registry makes them, through one task that sends what arrived together
//! as **one** run of `directory.lua` per directory shard it touches (the
//! runs of several shards in one pipeline). The registry need not wait for
//! one claim's answer before making the next, a burst of connects costs one
//! round trip and one command per shard per batch, not per connect, and each write
//! is encoded once, straight into the command's arguments (the values the
//! whole node shares, such as its id and channel names, are built once and
//! shared by reference count).

use std::sync::Arc;
use std::time::Duration;

use fred::interfaces::LuaInterface;
use fred::prelude::{Client, Key, Value};
use fred::types::scripts::Script;
use tokio::sync::{mpsc, oneshot};

use super::super::scripted::{self, Call};
use super::Keys;
use crate::outbox::SessionId;
use crate::seams::addresses::{Epoch, Holder};
use crate::seams::NodeId;

/// Claims and releases written in one run of the script, at most.
const WRITE_BATCH: usize = 256;

/// One claim or release of an address.
pub(super) enum Write {
    Claim {
        address: Arc<str>,
        holder: Holder,
        ttl: Duration,
        /// The session's id as its client sees it (kept with the holding).
        client: Option<Arc<str>>,
    },
    Release {
        address: Arc<str>,
        epoch: Epoch,
        grace: Duration,
    },
}

impl Write {
    fn address(&self) -> &str {
        match self {
            Write::Claim { address, .. } | Write::Release { address, .. } => address,
        }
    }

    /// Appends this write's arguments, as `directory.lua` reads them.
    fn encode(&self, args: &mut Vec<Value>) {
        match self {
            Write::Claim {
                address,
                holder,
                ttl,
                client,
            } => {
                let (kind, session) = match holder {
                    Holder::Session { session, .. } => ("s", *session),
                    Holder::Local { .. } => ("l", SessionId(0)),
                };
                args.extend([
                    Value::from_static_str("c"),
                    Value::from(&**address),
                    Value::from_static_str(kind),
                    number(session.0),
                    number(millis(*ttl)),
                    Value::from(client.as_deref().unwrap_or("")),
                ]);
            }
            Write::Release {
                address,
                epoch,
                grace,
            } => args.extend([
                Value::from_static_str("r"),
                Value::from(&**address),
                number(epoch.0),
                number(millis(*grace)),
            ]),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A number as Redis receives it: an integer (written without an
/// allocation), or its text past `i64::MAX`.
fn number(n: u64) -> Value {
    i64::try_from(n).map_or_else(|_| Value::from(n.to_string()), Value::Integer)
}

/// A write on its way to Redis, with where its answer goes.
struct Queued {
    write: Write,
    /// The directory shard of its address.
    shard: usize,
    answer: oneshot::Sender<Result<Value, fred::error::Error>>,
}

/// What every run of the script on one shard begins with.
struct ShardHead {
    deadlines: Key,
    deadlines_name: String,
    args: Vec<Value>,
}

/// The writer: see the module docs.
pub(super) struct Writer {
    queue: mpsc::UnboundedSender<Queued>,
    keys: Arc<Keys>,
}

impl Writer {
    /// Starts the writer task on the current runtime. Every claim is made
    /// for a holder on `node`; each shard holds at most its part of
    /// `max_held`.
    pub(super) fn start(
        client: Client,
        keys: Arc<Keys>,
        node: NodeId,
        (max_held, user_limit): (usize, usize),
    ) -> Self {
        let script = Script::from_lua(concat!(
            include_str!("scripts/connections.lua"),
            include_str!("scripts/members_gone.lua"),
            include_str!("scripts/announce.lua"),
            include_str!("scripts/claim.lua"),
            include_str!("scripts/release.lua"),
            include_str!("scripts/directory.lua"),
        ));
        let per_shard = max_held.div_ceil(keys.shards().len());
        let heads = keys
            .shards()
            .iter()
            .map(|shard| ShardHead {
                deadlines: shard.deadlines(),
                deadlines_name: shard.deadlines_name(),
                args: vec![
                    Value::from(shard.tag.as_str()),
                    Value::from(node.to_string()),
                    Value::from(shard.node_channel_prefix.as_str()),
                    Value::from(shard.presence_channel.as_str()),
                    number(per_shard as u64),
                    number(user_limit as u64),
                ],
            })
            .collect();
        let (queue, queued) = mpsc::unbounded_channel();
        actix_rt::spawn(write_in_order(client, script, heads, queued));
        Self { queue, keys }
    }

    /// Queues `write` now (so the order is the caller's); answers once
    /// Redis has run it.
    pub(super) fn write(
        &self,
        write: Write,
    ) -> impl std::future::Future<Output = Result<Value, fred::error::Error>> + 'static {
        let (answer, answered) = oneshot::channel();
        let shard = self.keys.shard_index(write.address());
        let sent = self
            .queue
            .send(Queued {
                write,
                shard,
                answer,
            })
            .is_ok();
        async move {
            if !sent {
                return Err(gone());
            }
            answered.await.unwrap_or_else(|_| Err(gone()))
        }
    }
}

/// The writer task is gone: the runtime is shutting down.
fn gone() -> fred::error::Error {
    fred::error::Error::new(
        fred::error::ErrorKind::Canceled,
        "the directory's writer stopped",
    )
}

/// The writer task. The queue is unbounded here: the registry bounds how
/// many writes are on their way (`redis_claims_in_flight`). A batch runs
/// as one script per shard it touches, in one pipeline; the next batch
/// waits for them all, so one address's writes keep their order.
async fn write_in_order(
    client: Client,
    script: Script,
    heads: Vec<ShardHead>,
    mut queued: mpsc::UnboundedReceiver<Queued>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut groups: Vec<Vec<Queued>> = heads.iter().map(|_| Vec::new()).collect();
    while queued.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        for queued in batch.drain(..) {
            groups[queued.shard].push(queued);
        }
        let touched: Vec<usize> = (0..groups.len())
            .filter(|&s| !groups[s].is_empty())
            .collect();
        if let [only] = touched[..] {
            let answers = run(&client, &script, &heads[only], &groups[only]).await;
            answer(std::mem::take(&mut groups[only]), answers);
            continue;
        }
        // Several shards: their runs in one pipeline (each to its shard's
        // primary on a Cluster).
        let calls: Vec<Call> = touched
            .iter()
            .map(|&s| Call {
                keys: vec![heads[s].deadlines_name.clone()],
                args: args_of(&heads[s], &groups[s]),
            })
            .collect();
        let calls: Vec<&Call> = calls.iter().collect();
        let answers = scripted::in_order(&client, &script, &calls).await;
        for (&s, ran) in touched.iter().zip(answers) {
            let group = std::mem::take(&mut groups[s]);
            let answers = answers_of(ran, group.len());
            answer(group, answers);
        }
    }
}

/// The script's arguments for `group`'s writes on the shard of `head`.
fn args_of(head: &ShardHead, group: &[Queued]) -> Vec<Value> {
    let mut args = Vec::with_capacity(head.args.len() + group.len() * 5);
    args.extend(head.args.iter().cloned());
    for queued in group {
        queued.write.encode(&mut args);
    }
    args
}

/// One answer per write, or why not.
fn answers_of(
    ran: Result<Value, fred::error::Error>,
    writes: usize,
) -> Result<Vec<Value>, fred::error::Error> {
    match ran {
        Ok(Value::Array(answers)) if answers.len() == writes => Ok(answers),
        Ok(_) => Err(fred::error::Error::new(
            fred::error::ErrorKind::Protocol,
            "the directory script answered a different number of writes",
        )),
        Err(error) => Err(error),
    }
}

/// Runs `group`'s writes in one run of the script on their shard.
async fn run(
    client: &Client,
    script: &Script,
    head: &ShardHead,
    group: &[Queued],
) -> Result<Vec<Value>, fred::error::Error> {
    let args = || args_of(head, group);
    let mut ran = client
        .evalsha::<Value, _, _, _>(script.sha1().clone(), head.deadlines.clone(), args())
        .await;
    if matches!(&ran, Err(e) if e.details().starts_with("NOSCRIPT")) {
        // Redis restarted or was flushed: load the script and run again.
        ran = match script.load(client).await {
            Ok(()) => {
                client
                    .evalsha(script.sha1().clone(), head.deadlines.clone(), args())
                    .await
            }
            Err(error) => Err(error),
        };
    }
    answers_of(ran, group.len())
}

/// Hands each write of `group` its answer.
fn answer(group: Vec<Queued>, answers: Result<Vec<Value>, fred::error::Error>) {
    match answers {
        Ok(answers) => {
            for (queued, answer) in group.into_iter().zip(answers) {
                let _ = queued.answer.send(Ok(answer));
            }
        }
        Err(error) => {
            for queued in group {
                let _ = queued.answer.send(Err(error.clone()));
            }
        }
    }
}
