//! The recovery checks (see the module docs of `check.rs`): what a
//! subscriber recovering a topic with history is promised, "every
//! publication after `since`, in order, once, or `recovered: false`".

use std::collections::{HashMap, HashSet};

use super::{Bounds, Violation};
use crate::history::{Event, Op};

/// `replay_gap`: a `recovered: true` replay that is not every offset after
/// `since`, once, in order, up to the ack's at least (newer publications
/// may come before the ack: the subscription is in place from the replay
/// on).
pub(super) fn replays(events: &[Event], out: &mut Vec<Violation>) {
    for e in events {
        let Op::Recovery {
            session,
            to,
            since_offset,
            recovered: true,
            offset: Some(offset),
            replayed,
            ..
        } = &e.op
        else {
            continue;
        };
        let upto = replayed.last().copied().unwrap_or(0).max(*offset);
        let want: Vec<u64> = (since_offset + 1..=upto).collect();
        if *replayed != want {
            out.push(Violation {
                kind: "replay_gap",
                t: e.t,
                detail: format!(
                    "session {session} of {to}: recovered after {since_offset} up to {offset} \
                     with {}",
                    brief(replayed)
                ),
            });
        }
    }
}

/// `skipped`: a publication acknowledged before a `recovered: true`
/// recovery was asked, after its `since`, never handed to its session,
/// which stayed open `eviction_ms` after the ack at least.
pub(super) fn skipped(events: &[Event], bounds: Bounds, out: &mut Vec<Violation>) {
    let closed = super::closed_at(events);
    let mut handed: HashMap<&str, HashSet<u64>> = HashMap::new();
    for e in events {
        if let Op::TopicDelivered {
            session, offset, ..
        } = &e.op
        {
            handed.entry(session).or_default().insert(*offset);
        }
    }
    // Acknowledged publications, by when.
    let published: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match &e.op {
            Op::Published { offset, .. } => Some((e.t, *offset)),
            _ => None,
        })
        .collect();
    for e in events {
        let Op::Recovery {
            session,
            to,
            asked_t,
            since_offset,
            recovered: true,
            ..
        } = &e.op
        else {
            continue;
        };
        let open_until = closed.get(session.as_str()).copied().unwrap_or(u64::MAX);
        if open_until < e.t + bounds.eviction_ms {
            continue;
        }
        let seen = handed.get(session.as_str());
        let missing: Vec<u64> = published
            .iter()
            .filter(|(t, offset)| t < asked_t && offset > since_offset)
            .map(|(_, offset)| *offset)
            .filter(|offset| !seen.is_some_and(|s| s.contains(offset)))
            .collect();
        if !missing.is_empty() {
            out.push(Violation {
                kind: "skipped",
                t: e.t,
                detail: format!(
                    "session {session} of {to}: recovered after {since_offset}, never handed {}, \
                     acknowledged before it asked at {asked_t} ms",
                    brief(&missing)
                ),
            });
        }
    }
}

/// A list of offsets, shortened.
fn brief(offsets: &[u64]) -> String {
    if offsets.len() <= 8 {
        return format!("{offsets:?}");
    }
    format!(
        "{:?} … {:?} ({} offsets)",
        &offsets[..4],
        &offsets[offsets.len() - 2..],
        offsets.len()
    )
}
