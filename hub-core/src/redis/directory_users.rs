//! A user's live session connections in the directory: its devices (the
//! `u:<user>` hash the directory's scripts keep, address → node) and its
//! own address when a session holds it — read together in one round trip
//! (both in the user's shard).

use std::collections::HashMap;
use std::sync::Arc;

use fred::interfaces::HashesInterface;
use fred::prelude::Client;

use super::{unavailable, Keys};
use crate::error::HubError;
use crate::seams::NodeId;

/// The connections of `user`, with each one's node.
pub(super) async fn connections_of(
    client: Client,
    keys: Arc<Keys>,
    user: Arc<str>,
) -> Result<Vec<(Arc<str>, NodeId)>, HubError> {
    let pipeline = client.pipeline();
    let shard = keys.shard(&user);
    let _: () = pipeline
        .hgetall(keys.connections_name(&user))
        .await
        .map_err(unavailable)?;
    let _: () = pipeline
        .hmget(shard.holding(&user), vec!["kind", "node", "lingering"])
        .await
        .map_err(unavailable)?;
    let (devices, own): (HashMap<String, String>, Vec<Option<String>>) =
        pipeline.all().await.map_err(unavailable)?;
    let node = |hex: &str| u64::from_str_radix(hex, 16).ok().map(NodeId);
    let mut held: Vec<(Arc<str>, NodeId)> = devices
        .into_iter()
        .filter_map(|(address, on)| Some((address.into(), node(&on)?)))
        .collect();
    if let [Some(kind), Some(on), Some(lingering)] = own.as_slice() {
        if kind == "s" && lingering == "0" {
            if let Some(on) = node(on) {
                held.push((user, on));
            }
        }
    }
    held.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(held)
}
