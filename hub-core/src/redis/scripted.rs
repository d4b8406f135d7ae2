//! Script calls written in one pipeline, in order: each routed to the slot
//! of its first key (a Redis Cluster's shard), and one that finds the
//! script not loaded (first use, or Redis restarted) loaded and run again.
//! The tasks that must keep an order (appends to inboxes, publications to
//! topic histories, joins and leaves of topic members) write through this;
//! the address directory's writer runs one script per batch instead
//! (`directory_writes.rs`).

use fred::prelude::{Client, ClientLike, Key, Value};
use fred::types::scripts::Script;
use fred::types::{ClusterHash, CustomCommand};

/// One call of a script.
pub(super) struct Call {
    pub(super) keys: Vec<String>,
    pub(super) args: Vec<Value>,
}

/// Runs `calls` of `script` in one pipeline, in order; one answer per call.
pub(super) async fn in_order(
    client: &Client,
    script: &Script,
    calls: &[&Call],
) -> Vec<Result<Value, fred::error::Error>> {
    let calls: Vec<(&Script, &Call)> = calls.iter().map(|call| (script, *call)).collect();
    each_in_order(client, &calls).await
}

/// Runs `calls`, each of its own script, in one pipeline, in order; one
/// answer per call.
pub(super) async fn each_in_order(
    client: &Client,
    calls: &[(&Script, &Call)],
) -> Vec<Result<Value, fred::error::Error>> {
    let pipeline = client.pipeline();
    for (script, call) in calls {
        let slot = fred::util::redis_keyslot(call.keys.first().map_or(&[][..], |k| k.as_bytes()));
        let mut args: Vec<Value> = vec![
            script.sha1().clone().into(),
            (call.keys.len() as i64).into(),
        ];
        args.extend(call.keys.iter().map(|k| Value::from(k.as_str())));
        args.extend(call.args.iter().cloned());
        let evalsha = CustomCommand::new_static("EVALSHA", ClusterHash::Custom(slot), false);
        if let Err(e) = pipeline.custom::<Value, _>(evalsha, args).await {
            return calls.iter().map(|_| Err(e.clone())).collect();
        }
    }
    let answers = pipeline.try_all::<Value>().await;
    let mut out = Vec::with_capacity(answers.len());
    for ((script, call), answer) in calls.iter().zip(answers) {
        out.push(match answer {
            // Again, one at a time and in order, loading the script first.
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                let keys: Vec<Key> = call.keys.iter().map(|k| Key::from(k.as_str())).collect();
                script
                    .evalsha_with_reload::<Value, _, _>(client, keys, call.args.clone())
                    .await
            }
            other => other,
        });
    }
    out
}
