//! Publishes and broadcasts that take effect once per `msg_id`: the
//! sender's id is claimed at the inbox desk, in its ledger (which
//! remembers every sender's ids; `desk/once.rs`), the publish or broadcast is made only by
//! the first claim, and its answer is remembered — stored with the next
//! commit, for `dedupe_window_ms` — so a retry gets the same answer without
//! a second effect. A retry that arrives while the first attempt is still
//! on its way waits for its answer. The same id for another message (kind,
//! target or payload) is `idempotency_conflict`.
//!
//! A direct send is deduplicated in the ledger's own append (its message
//! and its id are stored in one commit); this module is for what is not
//! stored as a message.

use std::future::Future;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;

use super::store::{Outcome, Remembered};
use crate::error::HubError;
use crate::protocol::BroadcastTarget;

/// What a request was (its kind, target and payload bytes), for telling a
/// retry from another message under the same `msg_id`.
pub(crate) fn fingerprint(kind: &str, target: &str, payload: &RawValue) -> [u64; 2] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(kind.as_bytes());
    hash.update(b"\0");
    hash.update(target.as_bytes());
    hash.update(b"\0");
    hash.update(payload.get().as_bytes());
    let digest = hash.finalize();
    let half = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[i..i + 8]);
        u64::from_le_bytes(bytes)
    };
    [half(0), half(8)]
}

/// The fingerprint of a broadcast to `to` (its kind, its target, its
/// payload), the same for a client's and the application's.
pub(crate) fn broadcast_fingerprint(to: &BroadcastTarget, payload: &RawValue) -> [u64; 2] {
    let target = match to {
        BroadcastTarget::All => "all".to_owned(),
        // Names hold no control characters: the list reads back one way.
        BroadcastTarget::List(list) => format!("list:{}", list.join("\n")),
    };
    fingerprint("hub:broadcast", &target, payload)
}

/// The memo of a publication's `msg_id`, to be stored in the publication's
/// own commit (a topic with history), so a retry after a crash finds it.
pub(crate) fn memo_of(sender: &str, msg_id: &str, fingerprint: [u64; 2]) -> Option<Remembered> {
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Some(Remembered {
        sender: sender.into(),
        msg_id: msg_id.into(),
        fingerprint,
        at_ms,
        outcome: None,
    })
}

/// Claim `msg_id` of `sender` for a request with `fingerprint`.
#[derive(Message)]
#[rtype(result = "Result<Claimed, HubError>")]
pub(crate) struct Claim {
    pub(crate) sender: Arc<str>,
    pub(crate) msg_id: Arc<str>,
    pub(crate) fingerprint: [u64; 2],
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// First seen: go ahead, then [`Settle`].
    Fresh,
    /// A retry: its first answer.
    Repeat(Outcome),
    /// The id was used for another message.
    Conflict,
}

/// How the claimed request went: its answer, or `None` when it failed (the
/// id is then free for a retry).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Settle {
    pub(crate) sender: Arc<str>,
    pub(crate) msg_id: Arc<str>,
    pub(crate) fingerprint: [u64; 2],
    pub(crate) outcome: Option<Outcome>,
}

/// Makes `act` take effect once for `msg_id` of `sender`: claims the id,
/// runs `act` if the claim is fresh (building its future only then, so
/// whatever it enqueues is enqueued in claim order), and settles it.
///
/// # Errors
/// `IdempotencyConflict`, or `act`'s own error (the id is then freed).
pub(crate) async fn at_most_once<F, Fut>(
    inboxes: super::ports::InboxPorts,
    sender: Arc<str>,
    msg_id: Arc<str>,
    fingerprint: [u64; 2],
    act: F,
) -> Result<Outcome, HubError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Outcome, HubError>>,
{
    let claim = Claim {
        sender: sender.clone(),
        msg_id: msg_id.clone(),
        fingerprint,
    };
    let claimed = inboxes
        .claim
        .send(claim)
        .await
        .map_err(|_| HubError::Internal("the inbox actor stopped"))??;
    match claimed {
        Claimed::Repeat(outcome) => Ok(outcome),
        Claimed::Conflict => Err(HubError::IdempotencyConflict(msg_id.to_string())),
        Claimed::Fresh => {
            let result = act().await;
            inboxes.settle.do_send(Settle {
                sender,
                msg_id,
                fingerprint,
                outcome: result.as_ref().ok().cloned(),
            });
            result
        }
    }
}
