//! The task that sends an outbox's entries: the oldest pending one at a
//! time, through the client (which itself sends a call again after a
//! reconnect), and records how it ended.

use std::borrow::Cow;
use std::sync::Arc;

use hub_core::protocol::{BroadcastTarget, ClientFrame, Correlation, DeliveryStatus, ServerFrame};
use serde_json::json;
use tokio::sync::watch;

use super::entry::{OutboxCall, OutboxEntry, OutboxState};
use super::Shared;
use crate::backoff::backoff_delay;
use crate::client::Client;
use crate::driver::{Answer, Frame};
use crate::error::ClientError;

/// What to do with an entry after an attempt.
#[derive(Debug, PartialEq)]
enum Next {
    Done(serde_json::Value),
    /// Refused with a temporary reason: counts against the budget.
    Retry(String),
    Dead(String),
    /// Not sent (the offline queue is full): try again, uncounted.
    Later,
    /// The client has stopped: the entry stays in flight for the next process.
    Stop,
}

pub(super) async fn run(shared: Arc<Shared>, client: Client, mut stopped: watch::Receiver<()>) {
    loop {
        let Some(entry) = take_next(&shared).await else {
            tokio::select! {
                _ = shared.work.notified() => continue,
                _ = stopped.changed() => return,
            }
        };
        let attempt = tokio::select! {
            answer = client.call(frame(&entry)) => answer,
            _ = stopped.changed() => return,
        };
        let next = judge(attempt);
        if next == Next::Stop {
            return;
        }
        let wait = settle(&shared, entry, next).await;
        if let Some(wait) = wait {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
        }
    }
}

/// Marks the oldest pending entry in flight and returns it.
async fn take_next(shared: &Shared) -> Option<OutboxEntry> {
    let mut book = shared.book.lock().await;
    let entry = book
        .entries
        .values_mut()
        .find(|e| e.state == OutboxState::Pending)?;
    entry.state = OutboxState::Inflight;
    let entry = entry.clone();
    if let Err(e) = shared.write(vec![entry.clone()], Vec::new(), false).await {
        tracing::warn!(error = %e, "outbox: could not record an entry in flight");
    }
    drop(book);
    shared.touched_quietly();
    Some(entry)
}

/// Records how the attempt ended; returns how long to wait before the
/// next attempt, if one is due.
async fn settle(
    shared: &Shared,
    mut entry: OutboxEntry,
    next: Next,
) -> Option<std::time::Duration> {
    let options = &shared.options;
    let mut wait = None;
    match next {
        Next::Done(answer) => {
            entry.state = OutboxState::Done;
            entry.answer = Some(answer);
        }
        Next::Dead(why) => {
            entry.state = OutboxState::Dead;
            entry.error = Some(why);
        }
        Next::Retry(why) => {
            entry.attempts += 1;
            entry.error = Some(why);
            if entry.attempts >= options.max_attempts {
                entry.state = OutboxState::Dead;
            } else {
                entry.state = OutboxState::Pending;
                let (initial, max) = options.retry_backoff;
                wait = Some(backoff_delay(entry.attempts, initial, max, fastrand::f64()));
            }
        }
        Next::Later => {
            entry.state = OutboxState::Pending;
            wait = Some(options.retry_backoff.0);
        }
        Next::Stop => return None,
    }
    let mut book = shared.book.lock().await;
    // Aborted or requeued meanwhile? Only an entry still in flight is ours.
    if book.entries.get(&entry.id).map(|e| e.state) != Some(OutboxState::Inflight) {
        return wait;
    }
    book.entries.insert(entry.id, entry.clone());
    let gone = prune(&mut book.entries, options.keep_settled);
    if let Err(e) = shared.write(vec![entry], gone, false).await {
        tracing::warn!(error = %e, "outbox: could not record an entry's end");
    }
    drop(book);
    shared.touched_quietly();
    wait
}

/// Forgets the oldest done and aborted entries beyond `keep`.
fn prune(entries: &mut std::collections::BTreeMap<u64, OutboxEntry>, keep: usize) -> Vec<u64> {
    let settled: Vec<u64> = entries
        .values()
        .filter(|e| matches!(e.state, OutboxState::Done | OutboxState::Aborted))
        .map(|e| e.id)
        .collect();
    let excess = settled.len().saturating_sub(keep);
    let gone: Vec<u64> = settled.into_iter().take(excess).collect();
    for id in &gone {
        entries.remove(id);
    }
    gone
}

/// The frame of an entry, with its own `msg_id`.
fn frame(entry: &OutboxEntry) -> Frame {
    let msg_id = Some(Cow::Owned(entry.msg_id.clone()));
    match &entry.call {
        OutboxCall::Send { to, payload } => ClientFrame::Send {
            to: to.clone().into(),
            payload: Cow::Owned(payload.clone()),
            correlation: Correlation::default(),
            ack: true,
            msg_id,
            receipt: false,
        },
        OutboxCall::Publish { topic, payload } => ClientFrame::Publish {
            topic: topic.clone().into(),
            payload: Cow::Owned(payload.clone()),
            msg_id,
        },
        OutboxCall::Broadcast { to, payload } => ClientFrame::Broadcast {
            to: match to {
                Some(list) => BroadcastTarget::List(list.clone()),
                None => BroadcastTarget::All,
            },
            payload: Cow::Owned(payload.clone()),
            msg_id,
        },
    }
}

/// What an attempt's answer means for its entry.
fn judge(attempt: Result<Answer, ClientError>) -> Next {
    let refused = |code: hub_core::protocol::ErrorCode, why: String| {
        if code.temporary() {
            Next::Retry(why)
        } else {
            Next::Dead(why)
        }
    };
    match attempt {
        Ok(ServerFrame::DeliveryAck(ack)) => match (ack.status, ack.reason) {
            (DeliveryStatus::Rejected, Some(code)) => refused(code, code.to_string()),
            (DeliveryStatus::Rejected, None) => Next::Retry("rejected".into()),
            (status, _) => Next::Done(json!({ "status": status })),
        },
        Ok(ServerFrame::PublishAck(ack)) => {
            Next::Done(json!({ "recipients": ack.recipients, "offset": ack.offset }))
        }
        Ok(ServerFrame::BroadcastAck(ack)) => {
            Next::Done(json!({ "recipients": ack.recipients, "not_found": ack.not_found }))
        }
        Ok(other) => Next::Dead(format!("unexpected answer: {}", other.to_json())),
        Err(e @ ClientError::Server { code, .. }) => refused(code, e.to_string()),
        Err(e @ ClientError::RateLimited { .. }) => Next::Retry(e.to_string()),
        Err(ClientError::QueueFull(_)) => Next::Later,
        Err(ClientError::Closed | ClientError::Evicted | ClientError::Terminated(_)) => Next::Stop,
        Err(e) => Next::Dead(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::protocol::server::{DeliveryAck, Error};
    use hub_core::protocol::ErrorCode;

    fn rejected(code: ErrorCode) -> Result<Answer, ClientError> {
        Ok(ServerFrame::DeliveryAck(DeliveryAck {
            id: None,
            to: "b".into(),
            status: DeliveryStatus::Rejected,
            reason: Some(code),
        }))
    }

    #[test]
    fn temporary_refusals_are_retried_and_the_rest_are_final() {
        assert!(matches!(
            judge(rejected(ErrorCode::RecipientQueueFull)),
            Next::Retry(_)
        ));
        assert!(matches!(
            judge(rejected(ErrorCode::Forbidden)),
            Next::Dead(_)
        ));
        let conflict = Err(ClientError::Server {
            code: ErrorCode::IdempotencyConflict,
            message: String::new(),
            hint: String::new(),
            reason: None,
        });
        assert!(matches!(judge(conflict), Next::Dead(_)));
        assert_eq!(judge(Err(ClientError::Closed)), Next::Stop);
        assert_eq!(judge(Err(ClientError::QueueFull(1))), Next::Later);
        let queued = Ok(ServerFrame::DeliveryAck(DeliveryAck {
            id: None,
            to: "b".into(),
            status: DeliveryStatus::Queued,
            reason: None,
        }));
        assert_eq!(judge(queued), Next::Done(json!({"status": "queued"})));
        let odd = Ok(ServerFrame::Error(Error {
            id: None,
            code: ErrorCode::Internal,
            message: "".into(),
            hint: "".into(),
            temporary: true,
            reason: None,
        }));
        assert!(
            matches!(judge(odd), Next::Dead(_)),
            "an error frame is not an answer here"
        );
    }

    #[test]
    fn only_settled_entries_beyond_the_limit_are_forgotten() {
        let entry = |id, state| OutboxEntry {
            id,
            msg_id: id.to_string(),
            call: OutboxCall::Publish {
                topic: "t".into(),
                payload: serde_json::value::to_raw_value(&1).unwrap(),
            },
            state,
            attempts: 0,
            error: None,
            answer: None,
        };
        let mut entries: std::collections::BTreeMap<u64, OutboxEntry> = [
            entry(1, OutboxState::Done),
            entry(2, OutboxState::Dead),
            entry(3, OutboxState::Aborted),
            entry(4, OutboxState::Done),
            entry(5, OutboxState::Pending),
        ]
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
        assert_eq!(prune(&mut entries, 1), vec![1, 3]);
        assert_eq!(entries.keys().copied().collect::<Vec<_>>(), vec![2, 4, 5]);
    }
}
