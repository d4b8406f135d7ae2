//! The sending task of [`Direct`]: what arrived together goes to Redis in
//! one pipeline, in order — a script per send (find the holder's node,
//! publish there), a publish per outcome or question — and each send is
//! answered from what Redis said.

use super::*;

impl Direct {
    /// The sending task: what arrived together goes out in one pipeline,
    /// in order (a script per send, a publish per outcome).
    pub(super) async fn run(
        self: Arc<Self>,
        client: Client,
        mut jobs: mpsc::UnboundedReceiver<Job>,
    ) {
        let script = Script::from_lua(include_str!("../scripts/deliver.lua"));
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let answers = self.write(&client, &script, &batch).await;
            for (job, answer) in batch.drain(..).zip(answers) {
                let (Job::Send { message, .. }
                | Job::Reply { message, .. }
                | Job::Settle { message, .. }
                | Job::Everyone { message, .. }) = &job;
                self.queued.fetch_sub(message.len(), Ordering::AcqRel);
                if let Job::Everyone { req, .. } = job {
                    // Every node subscribed heard it, this one included.
                    let heard = answer.and_then(|v| v.convert::<i64>()).unwrap_or(0);
                    let others = usize::try_from(heard).unwrap_or(0).saturating_sub(1);
                    self.census_heard(req, others);
                    continue;
                }
                let Job::Send {
                    shard,
                    holding,
                    connections,
                    scope,
                    skip,
                    message,
                    req,
                    outcome,
                    stored,
                } = job
                else {
                    continue;
                };
                let found = match answer {
                    // Not loaded (first use, or Redis restarted): load, retry.
                    Err(e) if e.details().starts_with("NOSCRIPT") => {
                        let prefix = self.keys.shards()[shard].node_channel_prefix.clone();
                        let args = deliver_args(prefix, message, skip, scope);
                        script
                            .evalsha_with_reload::<Vec<i64>, _, _>(
                                &client,
                                vec![Key::from(holding), Key::from(connections)],
                                args,
                            )
                            .await
                    }
                    other => other.and_then(|v| v.convert::<Vec<i64>>()),
                };
                match found.as_deref() {
                    // Published to the holder's node: its outcome will come,
                    // or, not asked for, the send is done. To more than one
                    // node (a user's connections): accepted once on its way.
                    Ok([n, nodes]) if *n > 0 => {
                        if !outcome || *nodes > 1 {
                            self.answer(req, |_| Ok(DeliveryStatus::Accepted));
                        }
                    }
                    // Stored, and no node to hand it over now: it waits.
                    _ if stored => self.answer(req, |_| Ok(DeliveryStatus::Queued)),
                    // No holder, or its node is gone.
                    Ok(_) => self.answer(req, |to| Err(HubError::RecipientNotFound(to.to_owned()))),
                    Err(_) => self.answer(req, |_| {
                        Err(HubError::Unavailable("the address directory (redis)"))
                    }),
                }
            }
        }
    }

    /// Writes `batch` in one pipeline; one answer per job.
    async fn write(
        &self,
        client: &Client,
        script: &Script,
        batch: &[Job],
    ) -> Vec<Result<Value, fred::error::Error>> {
        let pipeline = client.pipeline();
        for job in batch {
            let queued: Result<(), _> = match job {
                Job::Send {
                    shard,
                    holding,
                    connections,
                    scope,
                    skip,
                    message,
                    ..
                } => {
                    let prefix = &self.keys.shards()[*shard].node_channel_prefix;
                    let mut args: Vec<Value> = vec![
                        script.sha1().clone().into(),
                        2.into(),
                        holding.as_str().into(),
                        connections.as_str().into(),
                    ];
                    args.extend(
                        deliver_args(prefix.clone(), message.clone(), *skip, *scope)
                            .into_iter()
                            .map(Value::from),
                    );
                    // Routed by the holding's key (a Redis Cluster's slot).
                    let slot = fred::util::redis_keyslot(holding.as_bytes());
                    let evalsha =
                        CustomCommand::new_static("EVALSHA", ClusterHash::Custom(slot), false);
                    pipeline.custom(evalsha, args).await
                }
                Job::Reply { channel, message } => {
                    pipeline.spublish(channel.as_str(), message.as_str()).await
                }
                Job::Settle { key, message } => {
                    let set = CustomCommand::new_static("SET", ClusterHash::FirstKey, false);
                    let args: Vec<Value> = vec![
                        key.as_str().into(),
                        message.as_str().into(),
                        "XX".into(),
                        "KEEPTTL".into(),
                    ];
                    pipeline.custom(set, args).await
                }
                Job::Everyone { message, .. } => {
                    let channel = self.keys.everyone_channel.as_str();
                    pipeline.spublish(channel, message.as_str()).await
                }
            };
            if let Err(e) = queued {
                return batch.iter().map(|_| Err(e.clone())).collect();
            }
        }
        super::super::scripted::one_each(pipeline.try_all::<Value>().await, batch.len())
    }
}

/// `deliver.lua`'s arguments: the node channels' prefix, the message, the
/// node left out ("" for none), and which nodes.
fn deliver_args(
    prefix: String,
    message: String,
    skip: Option<NodeId>,
    scope: Scope,
) -> Vec<String> {
    let skip = skip.map(|n| n.to_string()).unwrap_or_default();
    vec![prefix, message, skip, scope.as_str().to_owned()]
}
