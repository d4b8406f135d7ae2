//! [`InboxDesk`]: the inbox actor, one per node, over the engine's
//! [`InboxLedger`] — one node's (`node_ledger`: memory or redb, group
//! commit), or the hub's in Redis, so stored messages outlive the node that
//! stored them and reach their recipient on whichever node it connects to
//! next. The same actor, the same hand-over, for every engine.
//!
//! A send is stored by the ledger, which
//! numbers it (`seq`), holds the caps and the `msg_id` dedupe window for the
//! whole hub, and answers only once it has it. Then the recipient's session
//! gets it: here if it is held here, else through its node
//! ([`InboxRoutes::wake`]). `accepted` means handed to the session, `queued`
//! stored for later, as on one node.
//!
//! For each address held here it keeps the session's cursor: the highest
//! `seq` handed out and the window of unacknowledged ones (a [`Delivery`]).
//! A message that is not next in line (a read under way, a full window) is
//! read back from the ledger later, in order, so nothing is handed out twice
//! or out of order. `hub:ack` deletes in the ledger; receipts fire from what
//! the deletions return.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::value::RawValue;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::answers::{Answer as AnswerOf, AnswerTo, Answers, Reply};
use super::delivery::{Delivery, Handed};
use super::ledger::{
    AppendAnswer, Appended, Caps, Frame, InboxLedger, InboxRoutes, Once, ReceiptNote, Wake,
};
use super::once::fingerprint;
use super::retries::{Recent, RetryIds};
use crate::error::HubError;
use crate::message_frame::split_at_number;
use crate::metrics::Metrics;
use crate::outbox::{Pushed, SessionHandle, SessionId};
use crate::protocol::server::{Receipt, ReceiptStatus};
use crate::protocol::{Correlation, DeliveryStatus, ServerFrame};

mod appending;
mod handing;
mod once;

pub(crate) use appending::{Append, AppendFor, ReceiptFor};
use appending::{Appends, Body, Outgoing};
pub(crate) use handing::{Ack, Attach, Detach, HandOver};
// Only an engine with other nodes wakes the desk, or comes back empty.
#[cfg(feature = "redis")]
pub(crate) use handing::{TouchHeld, Woken};

/// The inbox limits, from the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InboxLimits {
    pub(crate) max_messages: u64,
    pub(crate) max_bytes: u64,
    pub(crate) ttl: Duration,
    pub(crate) retention: Duration,
    pub(crate) window: u64,
    /// Fsync every commit (else only every `sync_interval`).
    pub(crate) sync_every_commit: bool,
    pub(crate) sync_interval: Duration,
    pub(crate) dedupe_window: Duration,
    pub(crate) dedupe_max_per_sender: usize,
}

/// Shutdown: commit what is gathered, close the store, answer when it is closed.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

/// A held address's session and where it stands in its inbox.
struct Held {
    handle: SessionHandle,
    /// Where the session stands: handed out, unacknowledged, reading (the
    /// attach or a read on its way: nothing is handed over meanwhile).
    delivery: Delivery,
    /// The highest `seq` known to be stored.
    known_last: u64,
    /// `known_last` when the read on its way was asked for.
    reading_upto: u64,
    /// A deletion (an ack) is on its way to the ledger.
    deleting: bool,
    /// Deletions asked for meanwhile, as one: up to this `seq`.
    delete_next: u64,
    /// How far the attach is: nothing is handed over before the session's
    /// client was told it is connected (see [`HandOver`]).
    opening: Opening,
}

/// An attach, from the session's `Attach` to its `HandOver`.
enum Opening {
    /// The starting point is being read. The session waits for `answer`
    /// (sent at the read's first outcome) before it tells its client it is
    /// connected; `told` once it has (the first read failed, the client was
    /// told anyway).
    Reading {
        answer: Option<tokio::sync::oneshot::Sender<()>>,
        told: bool,
    },
    /// Read, the client not told yet: hand over what follows `acked` once it is.
    Read { acked: u64 },
    /// Handing over.
    Open,
}

/// See the module docs.
pub(crate) struct InboxDesk {
    pub(super) ledger: Arc<dyn InboxLedger>,
    routes: Arc<dyn InboxRoutes>,
    pub(super) limits: InboxLimits,
    metrics: Arc<Metrics>,
    held: HashMap<Arc<str>, Held>,
    /// Publish and broadcast `msg_id`s claimed from this node and not
    /// settled yet, with the retries made here meanwhile (see `once`).
    pub(super) claiming: once::Claiming,
    /// The ids this node stored or claimed, for sessions to spare a retry
    /// the rate limit (see `durable::retries`).
    pub(super) retry_ids: Arc<RetryIds>,
    /// The ids this desk put in `retry_ids`, when the ledger does not keep
    /// them there itself (`None`: it does, as one node's ledger does).
    pub(super) recent: Option<Recent>,
    /// Answers gathered this turn, and whether their sending is scheduled.
    answers: Answers,
    answering: bool,
    /// Sends the ledger will answer later, in ticket order (see `Appends`).
    appending: VecDeque<(u64, Outgoing, Reply)>,
    next_ticket: u64,
}

impl InboxDesk {
    pub(crate) fn new(
        ledger: Arc<dyn InboxLedger>,
        routes: Arc<dyn InboxRoutes>,
        limits: InboxLimits,
        metrics: Arc<Metrics>,
        retry_ids: Arc<RetryIds>,
        recent: Option<usize>,
    ) -> Self {
        Self {
            ledger,
            routes,
            limits,
            metrics,
            held: HashMap::new(),
            claiming: HashMap::new(),
            retry_ids,
            recent: recent.map(Recent::new),
            answers: Answers::default(),
            answering: false,
            appending: VecDeque::new(),
            next_ticket: 0,
        }
    }

    /// `msg_id` of `sender` took effect through this node: a retry here is
    /// spared the rate limit for the dedupe window.
    pub(super) fn remember_retry_id(&mut self, sender: &str, msg_id: &str) {
        if let Some(recent) = self.recent.as_mut() {
            recent.remember(&self.retry_ids, sender, msg_id, std::time::Instant::now());
        }
    }

    fn caps(&self) -> Caps {
        Caps {
            ttl: self.limits.ttl,
            max_messages: self.limits.max_messages,
            max_bytes: self.limits.max_bytes,
            dedupe_window: self.limits.dedupe_window,
        }
    }

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

impl Actor for InboxDesk {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        let me = ctx.address();
        self.ledger
            .answer_appends_to(Arc::new(move |done| me.do_send(Appends(done))));
        // Held inboxes are kept for the retention from their last touch:
        // touched often enough that they never lapse while held.
        let every =
            (self.limits.retention / 3).clamp(Duration::from_millis(100), Duration::from_secs(600));
        ctx.run_interval(every, |act, ctx| act.touch_held(ctx));
        let window = self.limits.dedupe_window;
        let sweep = (window / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        ctx.run_interval(sweep, move |act, _| {
            let now = std::time::Instant::now();
            if let Some(recent) = act.recent.as_mut() {
                recent.forget_older(&act.retry_ids, window, now);
            }
        });
        // What expired is dropped (by a ledger that does not do it itself),
        // its receipts sent.
        let shortest = self.limits.ttl.min(self.limits.retention).min(window);
        let every = (shortest / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        ctx.run_interval(every, |act, ctx| {
            let swept = act.ledger.sweep();
            ctx.spawn(swept.into_actor(act).map(|expired, act, ctx| {
                for (to, receipts) in expired {
                    act.fire(&to, receipts, false, ctx);
                }
            }));
        });
    }
}

impl Handler<Shutdown> for InboxDesk {
    type Result = ResponseFuture<()>;

    /// Answered once the ledger wrote what it gathered and closed.
    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) -> Self::Result {
        self.ledger.close()
    }
}

#[cfg(test)]
#[path = "desk_tests.rs"]
mod tests;
