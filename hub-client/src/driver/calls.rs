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
mod tests {
    use std::borrow::Cow;

    use hub_core::protocol::server::{DeliveryAck, Error, RateLimited, TopicAck};
    use hub_core::protocol::{ClientFrame, DeliveryStatus};
    use serde_json::value::RawValue;
    use tokio::sync::oneshot;

    use super::super::command::{into_call, Command, Intake};
    use super::*;

    fn send(to: &str) -> Frame {
        ClientFrame::Send {
            to: to.to_owned().into(),
            payload: Cow::Owned(RawValue::from_string("1".into()).unwrap()),
            correlation: Default::default(),
            ack: true,
            msg_id: None,
        }
    }

    fn request(
        calls: &mut Calls,
        frame: Frame,
    ) -> (u64, oneshot::Receiver<Result<Answer, ClientError>>) {
        let (tx, rx) = oneshot::channel();
        let Intake::Call(call) = into_call(Command::Request { frame, reply: tx }) else {
            panic!("a request is a call");
        };
        (calls.queue(call.frame, call.waiter).unwrap(), rx)
    }

    fn ack(to: &str, status: DeliveryStatus, reason: Option<ErrorCode>) -> Answer {
        ServerFrame::DeliveryAck(DeliveryAck {
            id: None,
            to: to.to_owned().into(),
            status,
            reason,
        })
    }

    fn msg_id(text: &str) -> String {
        let request = Request::decode(text).unwrap();
        match request.frame {
            ClientFrame::Send { msg_id, .. } => msg_id.expect("a msg_id").into_owned(),
            other => panic!("not a send: {other:?}"),
        }
    }

    #[test]
    fn calls_written_on_a_lost_link_are_written_again_in_order_with_their_msg_id() {
        let mut calls = Calls::new();
        let (a, _ra) = request(&mut calls, send("a"));
        let (b, _rb) = request(&mut calls, send("b"));
        let first = calls.write(a).unwrap();
        calls.write(b).unwrap();
        assert!(calls.unwritten().is_empty());
        calls.link_lost();
        assert_eq!(calls.unwritten(), vec![a, b], "original order");
        let again = calls.write(a).unwrap();
        assert_eq!(again, first, "same id, same msg_id");
        assert_eq!(msg_id(&again), msg_id(&first));
    }

    #[tokio::test]
    async fn an_answer_settles_its_call_and_no_other() {
        let mut calls = Calls::new();
        let (a, ra) = request(&mut calls, send("a"));
        let (b, mut rb) = request(&mut calls, send("b"));
        let answer = ack("a", DeliveryStatus::Accepted, None);
        assert!(calls
            .answer(a, answer, RateLimitPolicy::Retry, Instant::now())
            .is_none());
        assert!(matches!(ra.await, Ok(Ok(ServerFrame::DeliveryAck(d))) if d.to == "a"));
        assert!(rb.try_recv().is_err(), "b still waits");
        assert_eq!(calls.unwritten(), vec![b]);
        let stray = ack("zzz", DeliveryStatus::Accepted, None);
        assert!(calls
            .answer(999, stray, RateLimitPolicy::Retry, Instant::now())
            .is_none());
    }

    #[tokio::test]
    async fn a_rate_limited_call_is_retried_or_surfaced_by_policy() {
        let limited = || {
            ServerFrame::RateLimited(RateLimited {
                id: None,
                code: ErrorCode::RateLimited,
                retry_after_ms: 250,
                hint: "wait".into(),
            })
        };
        let mut calls = Calls::new();
        let now = Instant::now();
        let (a, mut ra) = request(&mut calls, send("a"));
        calls.write(a);
        calls.answer(a, limited(), RateLimitPolicy::Retry, now);
        assert!(ra.try_recv().is_err(), "not settled: it will be retried");
        assert_eq!(calls.next_retry(), Some(now + Duration::from_millis(250)));
        assert!(calls.due_retries(now).is_empty());
        assert_eq!(calls.due_retries(now + Duration::from_millis(250)), vec![a]);
        assert_eq!(calls.unwritten(), vec![a]);

        let (b, rb) = request(&mut calls, send("b"));
        calls.answer(b, limited(), RateLimitPolicy::Surface, now);
        let error = rb.await.unwrap().unwrap_err();
        assert_eq!(
            error,
            ClientError::RateLimited {
                retry_after_ms: 250
            }
        );
    }

    #[tokio::test]
    async fn a_fire_and_forget_send_settles_when_written_and_names_its_recipient_if_rejected() {
        let mut calls = Calls::new();
        let (tx, mut written) = oneshot::channel();
        let Intake::Call(call) = into_call(Command::SendUnacked {
            frame: send("bob"),
            to: "bob".into(),
            reply: tx,
        }) else {
            panic!("a send is a call");
        };
        let id = calls.queue(call.frame, call.waiter).unwrap();
        calls.write(id);
        assert!(written.try_recv().is_err(), "not before it is on the wire");
        calls.written(id);
        assert_eq!(written.await.unwrap(), Ok(()));
        assert!(
            calls.unwritten().is_empty(),
            "not pending any more: at most once"
        );
        calls.link_lost();
        assert!(calls.unwritten().is_empty(), "never re-sent");
        let rejected = ack(
            "bob",
            DeliveryStatus::Rejected,
            Some(ErrorCode::RecipientNotFound),
        );
        let event = calls.answer(id, rejected, RateLimitPolicy::Retry, Instant::now());
        assert_eq!(
            event,
            Some(Event::Undelivered {
                to: "bob".into(),
                reason: ErrorCode::RecipientNotFound
            })
        );
    }

    #[tokio::test]
    async fn an_error_fails_the_call_with_the_servers_code_message_and_hint() {
        let mut calls = Calls::new();
        let (a, ra) = request(&mut calls, send("a"));
        let error = ServerFrame::Error(Error {
            id: None,
            code: ErrorCode::TopicFull,
            message: "full".into(),
            hint: "later".into(),
            temporary: true,
        });
        calls.answer(a, error, RateLimitPolicy::Retry, Instant::now());
        assert_eq!(
            ra.await.unwrap().unwrap_err(),
            ClientError::Server {
                code: ErrorCode::TopicFull,
                message: "full".into(),
                hint: "later".into()
            }
        );
    }

    #[tokio::test]
    async fn unsubscribing_from_what_the_server_no_longer_has_succeeds() {
        let mut calls = Calls::new();
        let (tx, rx) = oneshot::channel();
        let frame = ClientFrame::Unsubscribe { topic: "t".into() };
        let id = calls.queue(frame, Waiter::Unsubscribe(Some(tx))).unwrap();
        let error = ServerFrame::Error(Error {
            id: None,
            code: ErrorCode::NotSubscribed,
            message: "no".into(),
            hint: "h".into(),
            temporary: false,
        });
        calls.answer(id, error, RateLimitPolicy::Retry, Instant::now());
        assert_eq!(rx.await.unwrap(), Ok(()));
        let (tx, rx) = oneshot::channel();
        let id = calls
            .queue(
                ClientFrame::Unsubscribe { topic: "u".into() },
                Waiter::Unsubscribe(Some(tx)),
            )
            .unwrap();
        let ok = ServerFrame::UnsubscribeAck(TopicAck {
            id: None,
            topic: "u".into(),
        });
        calls.answer(id, ok, RateLimitPolicy::Retry, Instant::now());
        assert_eq!(rx.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn stopping_fails_every_pending_call() {
        let mut calls = Calls::new();
        let (_, ra) = request(&mut calls, send("a"));
        let (b, rb) = request(&mut calls, send("b"));
        calls.write(b);
        calls.fail_all(&ClientError::Closed);
        assert_eq!(ra.await.unwrap().unwrap_err(), ClientError::Closed);
        assert_eq!(rb.await.unwrap().unwrap_err(), ClientError::Closed);
        assert!(calls.unwritten().is_empty());
    }
}
