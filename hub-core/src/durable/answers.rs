//! Where a stored send's answer goes: to one waiting caller (the
//! application, the server API), or to a session by ticket. A commit
//! answers hundreds of sends at once; a session's share goes to it as one
//! [`SendAnswers`] message, not one wake-up per send.

use std::collections::HashMap;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::error::HubError;
use crate::outbox::SessionId;
use crate::protocol::DeliveryStatus;

/// A stored send's answer.
pub(crate) type Answer = Result<DeliveryStatus, HubError>;

/// A session's answers, by the tickets it gave its sends.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct SendAnswers(pub(crate) Vec<(u64, Answer)>);

/// A session that takes its answers by ticket.
#[derive(Clone)]
pub(crate) struct AnswerTo {
    pub(crate) session: SessionId,
    pub(crate) to: Recipient<SendAnswers>,
    pub(crate) ticket: u64,
}

/// Where one answer goes.
pub(crate) enum Reply {
    /// One caller waiting on a channel.
    Once(oneshot::Sender<Answer>),
    /// A session, gathered with its other answers (see [`Answers`]).
    Session(AnswerTo),
    /// Nobody (a receipt stored for its sender).
    Nobody,
}

impl Reply {
    /// A reply to one waiting caller, and the answer it waits for.
    pub(crate) fn awaited() -> (Self, futures_util::future::BoxFuture<'static, Answer>) {
        let (tx, rx) = oneshot::channel();
        let answer = async move {
            rx.await
                .unwrap_or(Err(HubError::Internal("the inbox actor stopped")))
        };
        (Self::Once(tx), Box::pin(answer))
    }
}

/// One session's gathered answers, and where they go.
type ForSession = (Recipient<SendAnswers>, Vec<(u64, Answer)>);

/// Answers gathered while handling one event, sent per session at the end.
#[derive(Default)]
pub(crate) struct Answers(HashMap<SessionId, ForSession>);

impl Answers {
    /// Answers `reply`: a channel at once, a session's later (see `send`).
    pub(crate) fn add(&mut self, reply: Reply, answer: Answer) {
        match reply {
            Reply::Once(tx) => drop(tx.send(answer)),
            Reply::Session(s) => self
                .0
                .entry(s.session)
                .or_insert_with(|| (s.to, Vec::new()))
                .1
                .push((s.ticket, answer)),
            Reply::Nobody => {}
        }
    }

    /// One message to each session with answers.
    pub(crate) fn send(self) {
        for (_, (to, answers)) in self.0 {
            to.do_send(SendAnswers(answers));
        }
    }

    /// Answers one reply now.
    pub(crate) fn one(reply: Reply, answer: Answer) {
        let mut answers = Self::default();
        answers.add(reply, answer);
        answers.send();
    }
}
