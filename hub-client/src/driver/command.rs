//! The vocabulary between handles and the driver: [`Command`]s, the
//! [`Call`]s they become, and the [`Waiter`] each call settles.

use std::sync::Arc;

use hub_core::protocol::server::Message;
use hub_core::protocol::{ClientFrame, ServerFrame};
use tokio::sync::{mpsc, oneshot};

use crate::error::ClientError;
use crate::types::{Event, IncomingMessage};

/// A frame a client sends, owned.
pub(crate) type Frame = ClientFrame<'static>;
/// A frame the server sent, owned.
pub(crate) type Answer = ServerFrame<'static>;
/// Where a subscription handle's messages go (shared by every handle of a topic).
pub(crate) type SubscriptionTx = mpsc::Sender<Arc<Message<'static>>>;

/// What a [`crate::Client`] asks of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write `frame` (an id is added) and answer with the server's answer.
    Request {
        frame: Frame,
        reply: oneshot::Sender<Result<Answer, ClientError>>,
    },
    Subscribe {
        topic: String,
        /// Its subscription token, if the topic needs one.
        token: Option<String>,
        sub_id: u64,
        tx: SubscriptionTx,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Unsubscribe {
        topic: String,
        sub_id: u64,
        reply: Option<oneshot::Sender<Result<(), ClientError>>>,
    },
    /// Write a fire-and-forget `hub:send` (`"ack": false`); answer once it is written.
    SendUnacked {
        frame: Frame,
        to: String,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Route the direct message whose `in_reply_to` is `correlation_id` to `reply`.
    AwaitReply {
        correlation_id: String,
        reply: oneshot::Sender<IncomingMessage>,
    },
    CancelReply {
        correlation_id: String,
    },
    Events {
        tx: mpsc::Sender<Event>,
    },
    /// `hub:ack`: every stored message up to `seq` is taken (written when
    /// connected; after a reconnect the redelivered ones are acked again).
    Ack {
        seq: u64,
    },
    Close {
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
}

/// Who waits for a pending call's answer.
#[derive(Debug)]
pub(crate) enum Waiter {
    Request(oneshot::Sender<Result<Answer, ClientError>>),
    Subscribe(oneshot::Sender<Result<(), ClientError>>),
    Unsubscribe(Option<oneshot::Sender<Result<(), ClientError>>>),
    Disconnect(oneshot::Sender<Result<(), ClientError>>),
    /// A fire-and-forget send: done once written.
    Written {
        to: String,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
}

impl Waiter {
    pub(crate) fn fail(self, error: ClientError) {
        match self {
            Self::Request(tx) => drop(tx.send(Err(error))),
            Self::Subscribe(tx) | Self::Disconnect(tx) | Self::Written { reply: tx, .. } => {
                drop(tx.send(Err(error)))
            }
            Self::Unsubscribe(tx) => drop(tx.map(|tx| tx.send(Err(error)))),
        }
    }

    /// Settles the call; a request gets the answer itself.
    pub(crate) fn succeed(self, answer: Option<Answer>) {
        match (self, answer) {
            (Self::Request(tx), Some(answer)) => drop(tx.send(Ok(answer))),
            (Self::Request(tx), None) => drop(tx.send(Err(ClientError::Protocol(
                "a request settled without an answer".into(),
            )))),
            (Self::Subscribe(tx) | Self::Disconnect(tx) | Self::Written { reply: tx, .. }, _) => {
                drop(tx.send(Ok(())))
            }
            (Self::Unsubscribe(tx), _) => drop(tx.map(|tx| tx.send(Ok(())))),
        }
    }
}

/// What a command asks the server for, before the driver takes it on.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) frame: Frame,
    pub(crate) waiter: Waiter,
    /// A subscription to register when the call is taken on.
    pub(crate) subscription: Option<(String, u64, SubscriptionTx)>,
}

/// What the driver does with a command.
#[derive(Debug)]
pub(crate) enum Intake {
    /// A call to the server: written now, or queued while the link is down.
    Call(Call),
    /// Something the driver handles itself (unsubscribe, close, bookkeeping).
    Control(Command),
}

/// Sorts a command: the call it makes, or the command back when it is not one.
pub(crate) fn into_call(command: Command) -> Intake {
    Intake::Call(match command {
        Command::Request { frame, reply } => Call {
            frame: with_msg_id(frame),
            waiter: Waiter::Request(reply),
            subscription: None,
        },
        Command::SendUnacked { frame, to, reply } => Call {
            frame: with_msg_id(frame),
            waiter: Waiter::Written { to, reply },
            subscription: None,
        },
        Command::Subscribe {
            topic,
            token,
            sub_id,
            tx,
            reply,
        } => Call {
            frame: ClientFrame::Subscribe {
                topic: topic.clone().into(),
                since: None,
                token: token.map(Into::into),
            },
            waiter: Waiter::Subscribe(reply),
            subscription: Some((topic, sub_id, tx)),
        },
        other => return Intake::Control(other),
    })
}

/// Gives a message a client message id, kept across its retries so that a
/// server can recognise one (unless it has one: the outbox keeps its own
/// across process restarts).
fn with_msg_id(mut frame: Frame) -> Frame {
    if let ClientFrame::Send { msg_id, .. }
    | ClientFrame::Publish { msg_id, .. }
    | ClientFrame::Broadcast { msg_id, .. } = &mut frame
    {
        if msg_id.is_none() {
            *msg_id = Some(uuid::Uuid::new_v4().simple().to_string().into());
        }
    }
    frame
}

/// A server refusal (`hub:error`, `hub:rate_limited`) as a [`ClientError`].
pub(crate) fn server_error(answer: &Answer) -> ClientError {
    match answer {
        ServerFrame::RateLimited(r) => ClientError::RateLimited {
            retry_after_ms: r.retry_after_ms,
        },
        ServerFrame::Error(e) => ClientError::Server {
            code: e.code,
            message: e.message.to_string(),
            hint: e.hint.to_string(),
            reason: e.reason.as_ref().map(ToString::to_string),
        },
        other => ClientError::Protocol(format!("unexpected answer: {}", other.to_json())),
    }
}
