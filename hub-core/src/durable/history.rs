//! Topic history through the store: topic actors hand their history changes
//! to the inbox actor, which owns the store thread, so publications share
//! the group commit of direct messages (one fsync for all). Each recorded
//! publication is confirmed to its topic with [`Recorded`], in commit
//! order; the topic fans it out only then.

use std::sync::Arc;

use actix::prelude::*;

use super::inboxes::Inboxes;
use super::store::{HistoryChange, Remembered};

/// Record one history change; `reply_to` hears [`Recorded`] once it is
/// committed (for a change that carries a publication).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RecordHistory {
    pub(crate) change: HistoryChange,
    pub(crate) reply_to: Option<Recipient<Recorded>>,
    /// The publisher's `msg_id`, stored in the same commit.
    pub(crate) memo: Option<Remembered>,
}

/// The publication numbered `offset` is committed (`ok`) or not.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct Recorded {
    pub(crate) offset: u64,
    pub(crate) ok: bool,
}

/// The store's side of topic history: the inbox actor's recipients.
#[derive(Clone)]
pub(crate) struct Recorder {
    pub(crate) record: Recipient<RecordHistory>,
    pub(crate) forget: Recipient<ForgetTopic>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    /// The recipients of the inbox actor `inboxes`.
    pub(crate) fn of(inboxes: &Addr<Inboxes>) -> Self {
        Self {
            record: inboxes.clone().recipient(),
            forget: inboxes.clone().recipient(),
        }
    }
}

/// Forget a retired topic's history and position.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ForgetTopic {
    pub(crate) topic: Arc<str>,
}

/// A publication waiting for its commit.
pub(crate) struct HistoryWaiter {
    pub(crate) reply_to: Recipient<Recorded>,
    pub(crate) offset: u64,
}

impl HistoryWaiter {
    /// Tells the topic how its commit went.
    pub(crate) fn answer(self, ok: bool) {
        self.reply_to.do_send(Recorded {
            offset: self.offset,
            ok,
        });
    }
}

impl Handler<RecordHistory> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: RecordHistory, ctx: &mut Self::Context) {
        let offset = msg.change.publication.as_ref().map(|p| p.offset);
        if let (Some(reply_to), Some(offset)) = (msg.reply_to, offset) {
            self.history_waiting
                .push(HistoryWaiter { reply_to, offset });
        }
        self.batch.history.push(msg.change);
        self.batch.remember.extend(msg.memo);
        self.commit(ctx);
    }
}

impl Handler<ForgetTopic> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: ForgetTopic, ctx: &mut Self::Context) {
        self.batch.forget_topics.push(msg.topic);
        self.commit(ctx);
    }
}
