//! The hub's revocations in Redis, for nodes that start later: one hash,
//! `{prefix}revoked`, field the revoked user or token (as JSON), value
//! until when (Unix ms). Every node running when a revocation is made is
//! told at once (a question to every node, `Question::Revoke`); this hash
//! is what a node reads when it starts. Expired fields are dropped by the
//! reads.

use fred::prelude::{Client, ClientLike, Value};
use fred::types::scripts::Script;
use fred::types::{ClusterHash, CustomCommand};

use super::link_log::said;
use crate::error::HubError;
use crate::revocations::{now_ms, Revocation, Revoked};

/// Sets a field to the later of its value and ARGV[2].
const KEEP_LATER: &str = "local t = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') \
    if tonumber(ARGV[2]) > t then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 1";

fn key(prefix: &str) -> String {
    format!("{prefix}revoked")
}

fn unavailable(error: &fred::error::Error) -> HubError {
    tracing::warn!(error = %said(error), "redis: a revocation was not kept");
    HubError::Unavailable("the revocation list (redis)")
}

/// Keeps `revocation` in the hash.
pub(super) async fn keep(
    client: &Client,
    prefix: &str,
    revocation: &Revocation,
) -> Result<(), HubError> {
    let field = serde_json::to_string(&revocation.what)
        .map_err(|_| HubError::Internal("a revocation did not encode"))?;
    let args: Vec<Value> = vec![field.into(), (revocation.until_ms as i64).into()];
    Script::from_lua(KEEP_LATER)
        .evalsha_with_reload::<Value, _, _>(client, vec![key(prefix)], args)
        .await
        .map(drop)
        .map_err(|e| unavailable(&e))
}

/// Every unexpired revocation in the hash (dropping the expired ones).
pub(super) async fn read(client: &Client, prefix: &str) -> Vec<Revocation> {
    let key = key(prefix);
    let hgetall = CustomCommand::new_static("HGETALL", ClusterHash::FirstKey, false);
    let answer = client.custom::<Value, _>(hgetall, vec![Value::from(key.as_str())]);
    let all: Vec<(String, u64)> = match answer.await {
        Ok(value) => value
            .into_array()
            .chunks(2)
            .filter_map(|pair| {
                let until = pair.get(1)?.as_string()?.parse().ok()?;
                Some((pair[0].as_string()?, until))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %said(&e), "redis: the revocation list was not read");
            return Vec::new();
        }
    };
    let now = now_ms();
    let (live, expired): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, until)| *until > now);
    if !expired.is_empty() {
        let hdel = CustomCommand::new_static("HDEL", ClusterHash::FirstKey, false);
        let args = std::iter::once(key.clone())
            .chain(expired.into_iter().map(|(field, _)| field))
            .map(Value::from)
            .collect::<Vec<_>>();
        let _ = client.custom::<Value, _>(hdel, args).await;
    }
    live.into_iter()
        .filter_map(|(field, until_ms)| {
            let what: Revoked = serde_json::from_str(&field).ok()?;
            Some(Revocation { what, until_ms })
        })
        .collect()
}
