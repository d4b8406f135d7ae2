//! Sessions whose lease ran out on a node that is gone: the node that pops
//! such a lease tells the lifecycle that session disconnected
//! (`node_lost`), since no one else will. A lease that runs out on a node
//! that lives is that node's to tell (its next renewal finds it gone and
//! closes the session), so the nodes' claims decide which: each node with a
//! lifecycle sink keeps one, shorter than a lease (`occupancy.rs`); a node
//! without a live claim is gone.

use std::sync::Arc;

use fred::prelude::{Client, Value};
use fred::types::scripts::Script;

use super::scripted::{self, Call};
use super::Keys;
use crate::seams::addresses::Expired;
use crate::seams::NodeId;

/// Of the nodes in ARGV, those whose claim in KEYS[1] ran out (or is none).
const GONE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = {}
for _, node in ipairs(ARGV) do
  local until_ms = redis.call('ZSCORE', KEYS[1], node)
  if not until_ms or tonumber(until_ms) < now then gone[#gone + 1] = node end
end
return gone
";

/// Sets `lost_client` of each of `unseen` (an index into `expired`, the
/// holder's node, its client id) whose node is gone. Redis away: none is
/// marked (at most once, not twice).
pub(super) async fn mark_lost(
    client: &Client,
    keys: &Keys,
    expired: &mut [Expired],
    unseen: Vec<(usize, NodeId, Arc<str>)>,
) {
    if unseen.is_empty() {
        return;
    }
    let mut nodes: Vec<String> = unseen.iter().map(|(_, node, _)| node.to_string()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let call = Call {
        keys: vec![keys.node_claims_name()],
        args: nodes.into_iter().map(Value::from).collect(),
    };
    let script = Script::from_lua(GONE);
    let Some(Ok(answer)) = scripted::in_order(client, &script, &[&call]).await.pop() else {
        return;
    };
    let gone: Vec<String> = answer
        .into_array()
        .into_iter()
        .filter_map(|v| v.as_string())
        .collect();
    for (index, node, lost) in unseen {
        if gone.contains(&node.to_string()) {
            if let Some(expired) = expired.get_mut(index) {
                expired.lost_client = Some(lost);
            }
        }
    }
}
