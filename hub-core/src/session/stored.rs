//! Stored sends (durability on): each is handed to the inbox actor with a
//! ticket, and the answers come back by ticket, a commit's worth for this
//! session in one [`SendAnswers`] message. Answers go out in the order of
//! the sends, whatever order they come in. While answers due plus frames
//! not yet written reach half an outbound queue, the socket is not read,
//! so a pipelining sender is paced by TCP rather than cut off as a slow
//! consumer.

use std::sync::Arc;

use actix::prelude::*;

use super::Session;
use crate::durable::answers::{Answer, AnswerTo, SendAnswers};
use crate::durable::desk::{Append, AppendFor};
use crate::error::HubError;
use crate::protocol::FrameId;

/// A stored send waiting for its answer, in send order.
pub(super) struct StoredSend {
    id: Option<FrameId>,
    to: Arc<str>,
    ack: bool,
    answer: Option<Answer>,
}

impl StoredSend {
    pub(super) fn new(id: Option<FrameId>, to: Arc<str>, ack: bool) -> Self {
        Self {
            id,
            to,
            ack,
            answer: None,
        }
    }
}

impl Session {
    /// The read pause's threshold: half an outbound queue.
    fn stored_cap(&self) -> usize {
        (self.node.config.outbound_queue_frames / 2).max(1)
    }

    /// Files `send` as waiting for its answer; returns its ticket. While
    /// answers due plus frames not yet written reach half an outbound queue,
    /// the socket is not read.
    fn await_answer(&mut self, send: StoredSend) -> u64 {
        let ticket = self.send_answers_base + self.send_answers.len() as u64;
        self.send_answers.push_back(send);
        if self.send_answers.len() + self.handle.queued() >= self.stored_cap() {
            self.read_switch.pause();
        }
        ticket
    }

    /// A send to an address held on another node: its answer (that node's
    /// outcome) is due by ticket like a stored send's, so the answers keep
    /// the order of the sends and a pipelining sender is paced alike.
    pub(super) fn send_elsewhere(
        &mut self,
        answer: crate::seams::Answer<Result<(), HubError>>,
        send: StoredSend,
        ctx: &mut Context<Self>,
    ) {
        let ticket = self.await_answer(send);
        let answered = answer.into_actor(self).map(move |outcome, act, _| {
            let outcome = outcome.map(|()| crate::protocol::DeliveryStatus::Accepted);
            act.take_answers(vec![(ticket, outcome)]);
        });
        ctx.spawn(answered);
    }

    /// Hands `append` to the inbox actor, its answer due by ticket.
    pub(super) fn send_stored(
        &mut self,
        inboxes: &Recipient<AppendFor>,
        append: Append,
        send: StoredSend,
        ctx: &mut Context<Self>,
    ) {
        let ticket = self.await_answer(send);
        if !inboxes.connected() {
            let stopped = Err(HubError::Internal("the inbox actor stopped"));
            return self.take_answers(vec![(ticket, stopped)]);
        }
        inboxes.do_send(AppendFor {
            append,
            answer_to: AnswerTo {
                session: self.id,
                to: ctx.address().recipient(),
                ticket,
            },
        });
    }

    /// Files answers by ticket and sends every one whose earlier ones are out.
    fn take_answers(&mut self, answers: Vec<(u64, Answer)>) {
        for (ticket, answer) in answers {
            let Some(slot) = ticket.checked_sub(self.send_answers_base) else {
                continue;
            };
            if let Some(send) = self.send_answers.get_mut(slot as usize) {
                if send.answer.is_none() {
                    send.answer = Some(answer);
                }
            }
        }
        while self
            .send_answers
            .front()
            .is_some_and(|s| s.answer.is_some())
        {
            let Some(send) = self.send_answers.pop_front() else {
                break;
            };
            self.send_answers_base += 1;
            if let Some(answer) = send.answer {
                self.answer_send(send.id.as_ref(), &send.to, answer, send.ack);
            }
        }
        // With none due, a full queue is the slow-consumer rule's business.
        // Answered sends behind one still waiting count as due: they all go
        // out together when it is answered.
        let (cap, due) = (self.stored_cap(), self.send_answers.len());
        if due == 0 || due + self.handle.queued() <= cap / 2 {
            self.read_switch.resume();
        }
    }
}

impl Handler<SendAnswers> for Session {
    type Result = ();

    fn handle(&mut self, msg: SendAnswers, _: &mut Self::Context) {
        self.take_answers(msg.0);
    }
}
