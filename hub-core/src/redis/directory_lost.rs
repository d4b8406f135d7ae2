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

use super::directory::{epoch_of, holder_of};
use super::scripted::{self, Call};
use super::Keys;
use crate::seams::addresses::{Expired, Holder, Lease};
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

/// Leases live on other nodes: an index into the expired, the holder's
/// node, its session's client id.
pub(super) type Unseen = Vec<(usize, NodeId, Arc<str>)>;

/// The leases `expire.lua` popped (eight fields each), and those of them
/// that were live on another node than `me`, with their client id: to
/// check whether that node is gone ([`mark_lost`]).
pub(super) fn read_expired(popped: &[String], me: NodeId) -> (Vec<Expired>, Unseen) {
    let mut expired: Vec<Expired> = Vec::new();
    let mut unseen = Vec::new();
    for row in popped.chunks_exact(8) {
        let Some(holder) = holder_of(&row[1], &row[2], &row[3]) else {
            continue;
        };
        let Some(epoch) = epoch_of(&row[4]) else {
            continue;
        };
        let (live, user_went) = (row[5] == "1", row[6] == "1");
        // A device's address goes with its entry; a user's own
        // address when the user does.
        let device = crate::protocol::user_of(&row[0]).is_some();
        if let (true, Holder::Session { node, .. }, false) = (live, holder, row[7].is_empty()) {
            if node != me {
                unseen.push((expired.len(), node, row[7].as_str().into()));
            }
        }
        expired.push(Expired {
            lease: Lease {
                address: row[0].as_str().into(),
                holder,
                epoch,
            },
            live,
            // Announced by the script; the lifecycle is told
            // here, on the one node that popped it.
            went_offline: device || user_went,
            user_went_offline: user_went,
            lost_client: None,
        });
    }
    (expired, unseen)
}

/// Sets `lost_client` of each of `unseen` (an index into `expired`, the
/// holder's node, its client id) whose node is gone. Redis away: none is
/// marked (at most once, not twice).
pub(super) async fn mark_lost(
    client: &Client,
    keys: &Keys,
    expired: &mut [Expired],
    unseen: Unseen,
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
