//! The checker: reads a fault run's history and names every broken
//! guarantee. What it holds the hub to (docs/PROTOCOL.md, "Delivery
//! guarantees" and "Many nodes"):
//!
//! - `lost`: a send answered `accepted` or `queued` (durability on) whose
//!   message never reached its recipient;
//! - `unanswered`: a send never answered although its sender had a live
//!   session (a pong) more than `answer_ms` after making it (it is made
//!   again on each new session, and the hub answers within its command
//!   timeout, `unavailable` at worst);
//! - `delivered_after_ack`: a stored message handed out again after an
//!   acknowledgement covered it, where that acknowledgement had settled
//!   (its session stayed open `ack_settle_ms` after it: an ack in flight
//!   when a node dies may be lost, and the redelivery is then correct);
//! - `out_of_order`: within one session, stored messages not in rising
//!   `seq`; or, for one recipient, a sender's messages in `seq` order not
//!   in the order the sender made them; or one `seq` carrying two messages;
//! - `two_live_holders`: a session of an address alive (a delivery or a
//!   pong) later than `eviction_ms` after a newer session of the same
//!   address was answered `hub:connected`;
//! - `duplicate_transition`: a watcher told `offline` (or `online`) twice
//!   for an address with no other transition between;
//! - `replay_gap`: a recovery answered `recovered: true` whose replay is
//!   not every offset after its `since` up to the ack's, once, in order
//!   (`check_recovery.rs`);
//! - `skipped`: a recovery answered `recovered: true` after which its
//!   session, open `eviction_ms` longer, was never handed a publication
//!   acknowledged before the recovery was asked, with an offset after its
//!   `since`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use crate::history::{number_of, Event, Op};

/// The tolerances of the checks (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// How long an older session may still look alive after a newer one
    /// of its address connected: the eviction's way through the hub, or,
    /// for a node cut off, its lease running out.
    pub(crate) eviction_ms: u64,
    /// How long a session must stay open after an ack for the ack to
    /// count as taken.
    pub(crate) ack_settle_ms: u64,
    /// How long a send may go unanswered while its sender is connected.
    pub(crate) answer_ms: u64,
}

/// One broken guarantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) kind: &'static str,
    pub(crate) t: u64,
    pub(crate) detail: String,
}

/// What the checker found.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) operations: usize,
    pub(crate) faults: Vec<String>,
    pub(crate) violations: Vec<Violation>,
}

impl Report {
    pub(crate) fn to_json(&self) -> Value {
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for v in &self.violations {
            *by_kind.entry(v.kind).or_default() += 1;
        }
        json!({
            "operations": self.operations,
            "faults": self.faults,
            "violations": self.violations.len(),
            "by_kind": by_kind,
            "first": self.violations.iter().take(20).map(|v| json!({
                "kind": v.kind, "t": v.t, "detail": v.detail,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Checks `events` (in the order they were recorded).
pub(crate) fn check(events: &[Event], bounds: Bounds) -> Report {
    let mut violations = Vec::new();
    lost(events, &mut violations);
    unanswered(events, bounds, &mut violations);
    after_ack(events, bounds, &mut violations);
    order(events, &mut violations);
    holders(events, bounds, &mut violations);
    transitions(events, &mut violations);
    recovery::replays(events, &mut violations);
    recovery::skipped(events, bounds, &mut violations);
    violations.sort_by_key(|v| v.t);
    Report {
        operations: events
            .iter()
            .filter(|e| !matches!(e.op, Op::Fault { .. }))
            .count(),
        faults: events
            .iter()
            .filter_map(|e| match &e.op {
                Op::Fault { what, begin: true } => Some(format!("{} ms: {what}", e.t)),
                _ => None,
            })
            .collect(),
        violations,
    }
}

fn lost(events: &[Event], out: &mut Vec<Violation>) {
    let delivered: HashSet<(&str, &str)> = events
        .iter()
        .filter_map(|e| match &e.op {
            Op::Delivered { to, msg, .. } => Some((to.as_str(), msg.as_str())),
            _ => None,
        })
        .collect();
    for e in events {
        if let Op::Sent {
            to, msg, status, ..
        } = &e.op
        {
            let taken = status == "accepted" || status == "queued";
            if taken && !delivered.contains(&(to.as_str(), msg.as_str())) {
                out.push(Violation {
                    kind: "lost",
                    t: e.t,
                    detail: format!("{msg} to {to}, answered {status}, never delivered"),
                });
            }
        }
    }
}

fn unanswered(events: &[Event], bounds: Bounds, out: &mut Vec<Violation>) {
    // The last moment each address was seen alive.
    let mut last_alive: HashMap<&str, u64> = HashMap::new();
    for e in events {
        if let Op::Alive { address, .. } = &e.op {
            last_alive.insert(address, e.t);
        }
    }
    for e in events {
        let Op::Sent {
            from,
            to,
            msg,
            status,
            first_t: Some(first_t),
        } = &e.op
        else {
            continue;
        };
        let alive = last_alive.get(from.as_str()).copied().unwrap_or(0);
        if status == "no_answer" && alive > first_t + bounds.answer_ms {
            out.push(Violation {
                kind: "unanswered",
                t: *first_t,
                detail: format!(
                    "{msg} to {to}, sent at {first_t} ms, no answer; {from} alive at {alive} ms"
                ),
            });
        }
    }
}

/// When each session closed.
fn closed_at(events: &[Event]) -> HashMap<&str, u64> {
    events
        .iter()
        .filter_map(|e| match &e.op {
            Op::Closed { session, .. } => Some((session.as_str(), e.t)),
            _ => None,
        })
        .collect()
}

fn after_ack(events: &[Event], bounds: Bounds, out: &mut Vec<Violation>) {
    let closed = closed_at(events);
    // Per recipient: its acks (time, seq, session).
    let mut acks: HashMap<&str, Vec<(u64, u64, &str)>> = HashMap::new();
    for e in events {
        match &e.op {
            Op::Acked { session, to, seq } => {
                acks.entry(to).or_default().push((e.t, *seq, session));
            }
            Op::Delivered {
                to,
                seq: Some(seq),
                msg,
                ..
            } => {
                let settled = acks
                    .get(to.as_str())
                    .into_iter()
                    .flatten()
                    .filter(|(t, _, s)| {
                        let open_until = closed.get(s).copied().unwrap_or(u64::MAX);
                        open_until >= t + bounds.ack_settle_ms && e.t >= t + bounds.ack_settle_ms
                    });
                if let Some((t, acked, _)) = settled.max_by_key(|(_, seq, _)| *seq) {
                    if seq <= acked {
                        out.push(Violation {
                            kind: "delivered_after_ack",
                            t: e.t,
                            detail: format!(
                                "{msg} (seq {seq}) to {to}, acked up to {acked} at {t} ms"
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

fn order(events: &[Event], out: &mut Vec<Violation>) {
    // Within a session: rising seq.
    let mut last: HashMap<&str, u64> = HashMap::new();
    // Per recipient: what each seq carried.
    let mut carried: HashMap<&str, BTreeMap<u64, &str>> = HashMap::new();
    for e in events {
        let Op::Delivered {
            session,
            to,
            msg,
            seq: Some(seq),
            ..
        } = &e.op
        else {
            continue;
        };
        if let Some(before) = last.insert(session, *seq) {
            if *seq <= before {
                out.push(Violation {
                    kind: "out_of_order",
                    t: e.t,
                    detail: format!("session {session} of {to}: seq {seq} after {before}"),
                });
            }
        }
        let seqs = carried.entry(to).or_default();
        match seqs.get(seq) {
            Some(other) if *other != msg.as_str() => out.push(Violation {
                kind: "out_of_order",
                t: e.t,
                detail: format!("{to}: seq {seq} carried {other} and {msg}"),
            }),
            _ => {
                seqs.insert(*seq, msg);
            }
        }
    }
    // Per recipient, in seq order: each sender's numbers rise.
    for (to, seqs) in carried {
        let mut highest: HashMap<&str, u64> = HashMap::new();
        for (seq, msg) in seqs {
            let (Some((sender, _)), Some(n)) = (msg.rsplit_once(':'), number_of(msg)) else {
                continue;
            };
            if let Some(before) = highest.insert(sender, n) {
                if n < before {
                    out.push(Violation {
                        kind: "out_of_order",
                        t: 0,
                        detail: format!("{to}: {msg} stored at seq {seq} after {sender}:{before}"),
                    });
                    highest.insert(sender, before);
                }
            }
        }
    }
}

fn holders(events: &[Event], bounds: Bounds, out: &mut Vec<Violation>) {
    // Per address, its sessions in the order they connected.
    let mut sessions: HashMap<&str, Vec<(u64, &str)>> = HashMap::new();
    let mut address_of: HashMap<&str, &str> = HashMap::new();
    for e in events {
        if let Op::Connected { address, session } = &e.op {
            sessions.entry(address).or_default().push((e.t, session));
            address_of.insert(session, address);
        }
    }
    // When a newer session of the same address connected, per session.
    let mut superseded: HashMap<&str, (u64, &str)> = HashMap::new();
    for list in sessions.values() {
        for pair in list.windows(2) {
            superseded.insert(pair[0].1, (pair[1].0, pair[1].1));
        }
    }
    let mut reported = HashSet::new();
    for e in events {
        let session = match &e.op {
            Op::Delivered { session, .. } | Op::Alive { session, .. } => session.as_str(),
            _ => continue,
        };
        let Some((since, newer)) = superseded.get(session) else {
            continue;
        };
        if e.t > since + bounds.eviction_ms && reported.insert(session) {
            let address = address_of.get(session).copied().unwrap_or("?");
            out.push(Violation {
                kind: "two_live_holders",
                t: e.t,
                detail: format!(
                    "{address}: session {session} alive at {} ms, {} ms after {newer} connected",
                    e.t,
                    e.t - since
                ),
            });
        }
    }
}

fn transitions(events: &[Event], out: &mut Vec<Violation>) {
    let mut told: HashMap<(&str, &str), bool> = HashMap::new();
    for e in events {
        if let Op::Watched {
            watcher,
            address,
            online,
        } = &e.op
        {
            if told.insert((watcher, address), *online) == Some(*online) {
                let state = if *online { "online" } else { "offline" };
                out.push(Violation {
                    kind: "duplicate_transition",
                    t: e.t,
                    detail: format!("{watcher} told {address} {state} twice in a row"),
                });
            }
        }
    }
}

#[path = "check_recovery.rs"]
mod recovery;

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
