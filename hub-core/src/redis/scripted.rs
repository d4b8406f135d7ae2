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
    let answers = one_each(pipeline.try_all::<Value>().await, calls.len());
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

/// A pipeline's answers, one per command. fred answers a pipeline that
/// failed as a whole (its connection closed, its time ran out) with one
/// error, not one per command: each command gets that error, so that no
/// caller waits for an answer that will not come.
pub(super) fn one_each(
    mut answers: Vec<Result<Value, fred::error::Error>>,
    commands: usize,
) -> Vec<Result<Value, fred::error::Error>> {
    if answers.len() == commands {
        return answers;
    }
    let error = match answers.iter().find_map(|a| a.as_ref().err()) {
        Some(e) => e.clone(),
        None => fred::error::Error::new(
            fred::error::ErrorKind::Protocol,
            format!(
                "a pipeline of {commands} commands got {} answers",
                answers.len()
            ),
        ),
    };
    answers.truncate(commands);
    answers.resize_with(commands, || Err(error.clone()));
    // The answers before the failure are not known to match their commands.
    if answers.iter().any(Result::is_err) {
        for answer in &mut answers {
            *answer = Err(error.clone());
        }
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipeline_failed_as_a_whole_fails_every_command() {
        let timeout = fred::error::Error::new(fred::error::ErrorKind::Timeout, "timed out");
        let answers = one_each(vec![Err(timeout)], 3);
        assert_eq!(answers.len(), 3);
        assert!(answers.iter().all(|a| a
            .as_ref()
            .is_err_and(|e| *e.kind() == fred::error::ErrorKind::Timeout)));
        let whole = one_each(vec![Ok(Value::Integer(1)), Ok(Value::Integer(2))], 2);
        assert!(whole.iter().all(Result::is_ok));
        let short = one_each(vec![Ok(Value::Integer(1))], 2);
        assert!(
            short.iter().all(Result::is_err),
            "answers that do not line up are not trusted"
        );
    }
}
