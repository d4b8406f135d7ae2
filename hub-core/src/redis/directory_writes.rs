//! The directory's writer: claims and releases go to Redis in the order the
//! registry makes them, through one task that sends what arrived together
//! as **one** run of `directory.lua`. The registry need not wait for one
//! claim's answer before making the next, a burst of connects costs one
//! round trip and one command per batch, not per connect, and each write
//! is encoded once, straight into the command's arguments (the values the
//! whole node shares, such as its id and channel names, are built once and
//! shared by reference count).

use std::sync::Arc;
use std::time::Duration;

use fred::interfaces::LuaInterface;
use fred::prelude::{Client, Key, Value};
use fred::types::scripts::Script;
use tokio::sync::{mpsc, oneshot};

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
    },
    Release {
        address: Arc<str>,
        epoch: Epoch,
        grace: Duration,
    },
}

impl Write {
    /// Appends this write's arguments, as `directory.lua` reads them.
    fn encode(&self, args: &mut Vec<Value>) {
        match self {
            Write::Claim {
                address,
                holder,
                ttl,
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
    answer: oneshot::Sender<Result<Value, fred::error::Error>>,
}

/// The writer: see the module docs.
pub(super) struct Writer {
    queue: mpsc::UnboundedSender<Queued>,
}

impl Writer {
    /// Starts the writer task on the current runtime. Every claim is made
    /// for a holder on `node`.
    pub(super) fn start(client: Client, keys: &Keys, node: NodeId, max_held: usize) -> Self {
        let script = Script::from_lua(concat!(
            include_str!("scripts/members_gone.lua"),
            include_str!("scripts/announce.lua"),
            include_str!("scripts/claim.lua"),
            include_str!("scripts/release.lua"),
            include_str!("scripts/directory.lua"),
        ));
        let head = vec![
            Value::from(keys.tag.as_str()),
            Value::from(node.to_string()),
            Value::from(keys.node_channel_prefix.as_str()),
            Value::from(keys.presence_channel.as_str()),
            number(max_held as u64),
        ];
        let (queue, queued) = mpsc::unbounded_channel();
        actix_rt::spawn(write_in_order(
            client,
            script,
            keys.deadlines(),
            head,
            queued,
        ));
        Self { queue }
    }

    /// Queues `write` now (so the order is the caller's); answers once
    /// Redis has run it.
    pub(super) fn write(
        &self,
        write: Write,
    ) -> impl std::future::Future<Output = Result<Value, fred::error::Error>> + 'static {
        let (answer, answered) = oneshot::channel();
        let sent = self.queue.send(Queued { write, answer }).is_ok();
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
/// many writes are on their way (`redis_claims_in_flight`).
async fn write_in_order(
    client: Client,
    script: Script,
    deadlines: Key,
    head: Vec<Value>,
    mut queued: mpsc::UnboundedReceiver<Queued>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while queued.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let args = || {
            let mut args = Vec::with_capacity(head.len() + batch.len() * 5);
            args.extend(head.iter().cloned());
            for queued in &batch {
                queued.write.encode(&mut args);
            }
            args
        };
        let mut ran = client
            .evalsha::<Value, _, _, _>(script.sha1().clone(), deadlines.clone(), args())
            .await;
        if matches!(&ran, Err(e) if e.details().starts_with("NOSCRIPT")) {
            // Redis restarted or was flushed: load the script and run again.
            ran = match script.load(&client).await {
                Ok(()) => {
                    client
                        .evalsha(script.sha1().clone(), deadlines.clone(), args())
                        .await
                }
                Err(error) => Err(error),
            };
        }
        let answers = match ran {
            Ok(Value::Array(answers)) if answers.len() == batch.len() => Ok(answers),
            Ok(_) => Err(fred::error::Error::new(
                fred::error::ErrorKind::Protocol,
                "the directory script answered a different number of writes",
            )),
            Err(error) => Err(error),
        };
        match answers {
            Ok(answers) => {
                for (queued, answer) in batch.drain(..).zip(answers) {
                    let _ = queued.answer.send(Ok(answer));
                }
            }
            Err(error) => {
                for queued in batch.drain(..) {
                    let _ = queued.answer.send(Err(error.clone()));
                }
            }
        }
    }
}
