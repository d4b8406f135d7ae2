//! The call bookkeeping rules, one test each.
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
        receipt: false,
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
        reason: None,
    });
    calls.answer(a, error, RateLimitPolicy::Retry, Instant::now());
    assert_eq!(
        ra.await.unwrap().unwrap_err(),
        ClientError::Server {
            code: ErrorCode::TopicFull,
            message: "full".into(),
            hint: "later".into(),
            reason: None,
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
        reason: None,
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
    let ok = ServerFrame::UnsubscribeAck(TopicAck::plain(None, "u".into()));
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
