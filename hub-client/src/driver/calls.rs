//! Call bookkeeping: every call from the moment the driver takes it until the
//! server answers it. A plain structure, no socket and no task, so its rules
//! are unit-tested directly:
//!
//! - a call gets a frame id and stays pending until its answer arrives;
//! - a call written on a link that broke is written again on the next one,
//!   in the original order and with the same `msg_id`;
//! - a fire-and-forget send is settled once written and remembered (boundedly)
//!   only to name its recipient if the server rejects it later;
//! - a rate-limited call is written again after `retry_after_ms` (policy
//!   `Retry`), or fails (policy `Surface`).

use std::collections::BTreeMap;
use std::time::Duration;

use hub_core::protocol::{ErrorCode, FrameId, Request, ServerFrame};
use tokio::time::Instant;

use super::command::{server_error, Answer, Frame, Waiter};
use crate::config::RateLimitPolicy;
use crate::error::ClientError;
use crate::types::Event;

/// How many recent fire-and-forget sends are remembered for rejections.
const UNACKED_MEMORY: usize = 4096;

#[derive(Debug)]
struct Pending {
    /// The frame with its id, ready to write (again).
    text: String,
    /// Whether the current connection has it.
    written: bool,
    waiter: Waiter,
}

/// Every pending call. See the module docs.
#[derive(Debug)]
pub(crate) struct Calls {
    next_id: u64,
    /// Calls awaiting an answer, in the order they were taken.
    pending: BTreeMap<u64, Pending>,
    /// Rate-limited calls to write again at the given time.
    retries: Vec<(Instant, u64)>,
    /// Recent fire-and-forget sends (frame id → recipient), so a later
    /// rejection can name the recipient. Bounded by `UNACKED_MEMORY`.
    unacked: BTreeMap<u64, String>,
}

impl Calls {
    pub(crate) fn new() -> Self {
        Self {
            next_id: 1,
            pending: BTreeMap::new(),
            retries: Vec::new(),
            unacked: BTreeMap::new(),
        }
    }

    /// Reserves `n` consecutive frame ids; returns the first.
    pub(crate) fn take_ids(&mut self, n: usize) -> u64 {
        let first = self.next_id;
        self.next_id += n as u64;
        first
    }

    /// Registers a call as pending (unwritten); returns its frame id.
    ///
    /// # Errors
    /// The frame could not be serialized (a payload that is not JSON).
    pub(crate) fn queue(&mut self, frame: Frame, waiter: Waiter) -> Option<u64> {
        let id = self.take_ids(1);
        let request = Request {
            id: Some(FrameId::Num(id)),
            frame,
        };
        match request.to_json() {
            Ok(text) => {
                let pending = Pending {
                    text,
                    written: false,
                    waiter,
                };
                self.pending.insert(id, pending);
                Some(id)
            }
            Err(e) => {
                waiter.fail(ClientError::Payload(e.to_string()));
                None
            }
        }
    }

    /// Calls not yet written on the current connection, in order.
    pub(crate) fn unwritten(&self) -> Vec<u64> {
        self.pending
            .iter()
            .filter(|(_, p)| !p.written)
            .map(|(id, _)| *id)
            .collect()
    }

    /// How many calls wait to be written.
    pub(crate) fn unwritten_count(&self) -> usize {
        self.pending.values().filter(|p| !p.written).count()
    }

    /// Marks call `id` written; returns the text to write.
    pub(crate) fn write(&mut self, id: u64) -> Option<String> {
        let pending = self.pending.get_mut(&id)?;
        pending.written = true;
        Some(pending.text.clone())
    }

    /// Call `id` is on the wire: a fire-and-forget send is settled now.
    pub(crate) fn written(&mut self, id: u64) {
        if !matches!(
            self.pending.get(&id),
            Some(Pending {
                waiter: Waiter::Written { .. },
                ..
            })
        ) {
            return;
        }
        if let Some(Pending {
            waiter: Waiter::Written { to, reply },
            ..
        }) = self.pending.remove(&id)
        {
            self.unacked.insert(id, to);
            while self.unacked.len() > UNACKED_MEMORY {
                self.unacked.pop_first();
            }
            let _ = reply.send(Ok(()));
        }
    }

    /// Settles the call `answer` answers. Returns an event when the answer is
    /// a rejection of a fire-and-forget send.
    pub(crate) fn answer(
        &mut self,
        id: u64,
        answer: Answer,
        policy: RateLimitPolicy,
        now: Instant,
    ) -> Option<Event> {
        let Some(pending) = self.pending.remove(&id) else {
            let to = self.unacked.remove(&id)?;
            let reason = match &answer {
                ServerFrame::DeliveryAck(ack) => ack.reason,
                other => server_error(other).code(),
            }?;
            return Some(Event::Undelivered { to, reason });
        };
        match answer {
            ServerFrame::RateLimited(r) if policy == RateLimitPolicy::Retry => {
                let wait = Duration::from_millis(r.retry_after_ms);
                tracing::debug!(id, ?wait, "rate limited; will retry");
                self.pending.insert(
                    id,
                    Pending {
                        written: false,
                        ..pending
                    },
                );
                self.retries.push((now + wait, id));
            }
            ServerFrame::RateLimited(_) | ServerFrame::Error(_) => {
                let error = server_error(&answer);
                match pending.waiter {
                    // Already gone on the server: what the caller wanted.
                    Waiter::Unsubscribe(_) if error.code() == Some(ErrorCode::NotSubscribed) => {
                        pending.waiter.succeed(None)
                    }
                    waiter => waiter.fail(error),
                }
            }
            other => pending.waiter.succeed(Some(other)),
        }
        None
    }

    /// When the next rate-limited call is due.
    pub(crate) fn next_retry(&self) -> Option<Instant> {
        self.retries.iter().map(|(at, _)| *at).min()
    }

    /// Rate-limited calls due by `now`, to write again.
    pub(crate) fn due_retries(&mut self, now: Instant) -> Vec<u64> {
        let (due, later): (Vec<_>, Vec<_>) = self.retries.drain(..).partition(|(at, _)| *at <= now);
        self.retries = later;
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// The link broke: every pending call is to be written on the next one.
    pub(crate) fn link_lost(&mut self) {
        for pending in self.pending.values_mut() {
            pending.written = false;
        }
        self.retries.clear();
    }

    /// The client stopped: every pending call fails with `error`.
    pub(crate) fn fail_all(&mut self, error: &ClientError) {
        for (_, pending) in std::mem::take(&mut self.pending) {
            pending.waiter.fail(error.clone());
        }
        self.retries.clear();
    }
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
