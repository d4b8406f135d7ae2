//! Topic history through the store: a topic's history changes ride the
//! node ledger's commits (`NodeLedger::record_history`), so publications
//! share the group commit of direct messages (one fsync for all). Each
//! recorded publication is confirmed to its topic with [`Recorded`], in
//! commit order; the topic fans it out only then.

use actix::prelude::*;

/// The publication numbered `offset` is committed (`ok`) or not.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct Recorded {
    pub(crate) offset: u64,
    pub(crate) ok: bool,
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
