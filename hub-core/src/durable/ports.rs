//! [`InboxPorts`]: where a node's sessions and its application hand stored
//! direct messages, their acks and their holders' comings and goings —
//! the node's inbox desk, over whichever ledger the engine has (one node's,
//! or the hub's in Redis). Sessions do not know which.

use actix::dev::ToEnvelope;
use actix::prelude::*;

use super::desk::{Ack, Append, AppendFor, Attach, Detach, HandOver};
use super::once::{Claim, Settle};

/// See the module docs.
#[derive(Clone)]
pub(crate) struct InboxPorts {
    /// A send whose caller waits for the answer (the application, the API).
    pub(crate) append: Recipient<Append>,
    /// A session's send, answered by ticket.
    pub(crate) append_for: Recipient<AppendFor>,
    /// A session's address: `attach` before its client is told it is
    /// connected, `hand_over` right after.
    pub(crate) attach: Recipient<Attach>,
    pub(crate) hand_over: Recipient<HandOver>,
    pub(crate) detach: Recipient<Detach>,
    pub(crate) ack: Recipient<Ack>,
    /// A publish's or broadcast's `msg_id`, claimed before it takes effect
    /// (see `once`), and how it went.
    pub(crate) claim: Recipient<Claim>,
    pub(crate) settle: Recipient<Settle>,
}

impl std::fmt::Debug for InboxPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxPorts").finish_non_exhaustive()
    }
}

impl InboxPorts {
    /// The ports of an inbox actor.
    pub(crate) fn of<A>(inboxes: &Addr<A>) -> Self
    where
        A: Actor
            + Handler<Append>
            + Handler<AppendFor>
            + Handler<Attach>
            + Handler<HandOver>
            + Handler<Detach>
            + Handler<Ack>
            + Handler<Claim>
            + Handler<Settle>,
        A::Context: ToEnvelope<A, Append>
            + ToEnvelope<A, AppendFor>
            + ToEnvelope<A, Attach>
            + ToEnvelope<A, HandOver>
            + ToEnvelope<A, Detach>
            + ToEnvelope<A, Ack>
            + ToEnvelope<A, Claim>
            + ToEnvelope<A, Settle>,
    {
        Self {
            append: inboxes.clone().recipient(),
            append_for: inboxes.clone().recipient(),
            attach: inboxes.clone().recipient(),
            hand_over: inboxes.clone().recipient(),
            detach: inboxes.clone().recipient(),
            ack: inboxes.clone().recipient(),
            claim: inboxes.clone().recipient(),
            settle: inboxes.clone().recipient(),
        }
    }
}
