//! [`InboxLedger`]: where an engine keeps the hub's inboxes — numbers each
//! stored message (`seq`), holds the caps and the `msg_id` dedupe window,
//! reads an inbox back in order, deletes what was acknowledged — and
//! [`InboxRoutes`], how a stored message reaches a recipient held on
//! another node. The inbox actor over them (`desk`) is the same for every
//! engine: it keeps, for each address held on this node, where its session
//! stands, and does the handing over.
//!
//! One node's ledger is [`NodeLedger`](super::node_ledger::NodeLedger)
//! (memory or redb, through the store thread, with group commit); the Redis
//! engine's is `redis/ledger.rs`, its routes `redis/direct.rs`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::store::Outcome;
use crate::error::HubError;
use crate::protocol::{Correlation, DeliveryStatus};

/// What storing a message did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Stored with this `seq`; with its frame as stored, when the ledger
    /// has it at hand (else the desk builds it again).
    Stored(u64, Option<bytestring::ByteString>),
    /// A send to a user with devices: one copy in each inbox that had room
    /// (the user's own, if it has one, and each device's it knows); `full`:
    /// how many inboxes were at their caps and got none.
    Copies { stored: Vec<StoredCopy>, full: u64 },
    /// A retry of a `msg_id` stored before: its first status.
    Again(DeliveryStatus),
    /// The `msg_id` was used for another message.
    Conflict,
    /// No inbox: the address is unknown to the hub (or an in-process one).
    Unknown,
    /// Over the inbox's caps.
    Full,
}

/// One copy of a send to a user, stored in one of its inboxes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StoredCopy {
    /// The inbox: the user's own address, or one of its devices'.
    pub(crate) to: Arc<str>,
    pub(crate) seq: u64,
    /// As stored, when the ledger has it at hand.
    pub(crate) frame: Option<bytestring::ByteString>,
    /// The receipts of messages the append found expired in this inbox.
    pub(crate) receipts: Vec<ReceiptNote>,
}

/// Who gets a receipt for a message, kept beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReceiptNote {
    pub(crate) sender: String,
    /// The send's `id`, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) msg_id: Option<String>,
}

/// What to store, to be numbered by the ledger.
pub(crate) enum Frame<'a> {
    /// A direct message: encoded with its `seq` once the ledger gives it.
    Message {
        from: &'a str,
        payload: &'a serde_json::value::RawValue,
        correlation: Correlation<&'a str>,
    },
    /// A frame encoded around a `0` for its `seq` (a receipt): the text
    /// before it and after it.
    Split { head: &'a str, tail: &'a str },
}

impl Frame<'_> {
    /// The frame with `seq` in place.
    pub(crate) fn with_seq(&self, seq: u64) -> bytestring::ByteString {
        match self {
            Self::Message {
                from,
                payload,
                correlation,
            } => {
                crate::message_frame::encode_stored_message(from, seq, payload, correlation.clone())
            }
            Self::Split { head, tail } => format!("{head}{seq}{tail}").into(),
        }
    }
}

/// A send's message id and fingerprint, for the dedupe window.
pub(crate) struct Once<'a> {
    pub(crate) sender: &'a str,
    pub(crate) msg_id: &'a str,
    pub(crate) fingerprint: [u64; 2],
}

/// The caps and windows an append holds to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    /// (One node's ledger expires by its sweep, and forgets ids there.)
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) ttl: Duration,
    pub(crate) max_messages: u64,
    pub(crate) max_bytes: u64,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) dedupe_window: Duration,
}

impl Caps {
    /// A receipt goes to its sender's inbox whatever its caps.
    pub(crate) fn receipt(self) -> Self {
        Self {
            max_messages: u64::MAX >> 12,
            max_bytes: u64::MAX >> 12,
            ..self
        }
    }
}

/// One stored message, read back.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    /// When it was stored, in Unix milliseconds (the ledger's clock).
    pub(crate) stored_at_ms: u64,
    pub(crate) frame: bytestring::ByteString,
}

/// Where an inbox stands when a session attaches to it.
#[derive(Debug, Default)]
pub(crate) struct Attached {
    /// Every message up to this `seq` is acknowledged.
    pub(crate) acked: u64,
    /// The highest `seq` stored.
    pub(crate) last: u64,
    /// Messages found expired (and deleted).
    pub(crate) expired: u64,
    /// Their receipts.
    pub(crate) receipts: Vec<ReceiptNote>,
}

/// What claiming a publish's or broadcast's `msg_id` for the hub found.
#[derive(Debug)]
pub(crate) enum ClaimedHere {
    /// First seen: go ahead.
    Fresh,
    /// Seen with this outcome.
    Repeat(Outcome),
    /// Seen for another message.
    Conflict,
    /// Seen, and its first attempt (on some node) has not settled.
    Pending,
}

/// What an append answers: how it went, how many messages it found
/// expired, and their receipts.
pub(crate) type AppendAnswer = Result<(Appended, u64, Vec<ReceiptNote>), HubError>;

/// Where a ledger sends the answers of appends it could not answer at once:
/// (ticket, answer), as many at a time as it has (one commit's, one
/// pipeline's), so the desk takes them in one message.
pub(crate) type AppendSink = Arc<dyn Fn(Vec<(u64, AppendAnswer)>) + Send + Sync>;

/// See the module docs. Every call may answer later (the ledger may be over
/// the network); appends reach the ledger, and get their `seq`, in the
/// order of the calls.
pub(crate) trait InboxLedger: Send + Sync + 'static {
    /// Where the answers of later appends go: set once, before the first
    /// append.
    fn answer_appends_to(&self, sink: AppendSink);

    /// Stores `frame` in `to`'s inbox: answered now (`Some`: a retry, a
    /// conflict, a full or unknown inbox, a refusal), or later to the sink
    /// with `ticket`.
    fn append(
        &self,
        to: &str,
        frame: Frame<'_>,
        receipt: Option<&ReceiptNote>,
        once: Option<&Once<'_>>,
        caps: Caps,
        ticket: u64,
    ) -> Option<AppendAnswer>;

    /// Records the status a send's `msg_id` got, for its retries.
    fn settle(&self, to: &str, once: &Once<'_>, status: DeliveryStatus) -> BoxFuture<'static, ()>;

    /// A session holds `address`: its inbox is known for the retention
    /// from now. `floor`: what the holder has handed out already.
    fn attach(
        &self,
        address: &str,
        retention: Duration,
        ttl: Duration,
        floor: u64,
    ) -> BoxFuture<'static, Result<Attached, HubError>>;

    /// The session holding `address` left (`floor`: what it was handed):
    /// its inbox is kept for the retention from now.
    fn detach(
        &self,
        address: &str,
        floor: u64,
        retention: Duration,
        ttl: Duration,
    ) -> BoxFuture<'static, ()>;

    /// Keeps the inboxes of held addresses (`(address, floor)`) for the
    /// retention from now.
    fn touch(
        &self,
        held: Vec<(Arc<str>, u64)>,
        retention: Duration,
        ttl: Duration,
    ) -> BoxFuture<'static, ()>;

    /// The recipient took every message of `address` up to `upto`: deletes
    /// them; answers the receipts they carried.
    fn ack(
        &self,
        address: &str,
        upto: u64,
    ) -> BoxFuture<'static, Result<Vec<ReceiptNote>, HubError>>;

    /// Up to `max` messages of `address` after `seq` `after`, in order.
    fn read(
        &self,
        address: &str,
        after: u64,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<Entry>, HubError>>;

    /// Claims a publish's or broadcast's `msg_id` for the hub.
    fn claim(
        &self,
        sender: &str,
        msg_id: &str,
        fingerprint: [u64; 2],
        window: Duration,
    ) -> BoxFuture<'static, Result<ClaimedHere, HubError>>;

    /// Records how a claimed `msg_id` went (`Some`: its outcome), or frees
    /// it for a retry (`None`).
    fn settle_claim(
        &self,
        sender: &str,
        msg_id: &str,
        fingerprint: [u64; 2],
        outcome: Option<&Outcome>,
    ) -> BoxFuture<'static, ()>;

    /// Drops what expired and forgets what ran out (a ledger that does not
    /// do so by itself); answers the receipts of expired messages, by
    /// recipient.
    fn sweep(&self) -> BoxFuture<'static, Vec<(String, Vec<ReceiptNote>)>>;

    /// Writes what is gathered and closes: answered once it is durable.
    fn close(&self) -> BoxFuture<'static, ()>;
}

/// A stored message another node sent for a session held here.
pub(crate) struct Wake {
    pub(crate) to: Arc<str>,
    pub(crate) seq: u64,
    pub(crate) frame: bytestring::ByteString,
    /// Tells the sending node: handed over (`accepted`) or still stored.
    pub(crate) reply: Box<dyn FnOnce(DeliveryStatus) + Send>,
}

/// See the module docs.
pub(crate) trait InboxRoutes: Send + Sync + 'static {
    /// Hands stored message `seq` to `to`'s session on the node that holds
    /// it: `accepted`, or `queued` (held nowhere, or not next in line).
    fn wake(
        &self,
        to: &str,
        seq: u64,
        frame: &str,
    ) -> BoxFuture<'static, Result<DeliveryStatus, HubError>>;

    /// Sends a message unstored to an address an application hosts
    /// in-process on another node (it has no inbox).
    fn send_unstored(
        &self,
        from: &str,
        to: &str,
        payload: &serde_json::value::RawValue,
        correlation: Correlation<&str>,
    ) -> BoxFuture<'static, Result<(), HubError>>;
}

/// One node's routes: no other node holds anything, so a stored message
/// for an address not held here stays stored (`queued`), and an address
/// without an inbox is unknown.
pub(crate) struct OneNode;

impl InboxRoutes for OneNode {
    fn wake(
        &self,
        _to: &str,
        _seq: u64,
        _frame: &str,
    ) -> BoxFuture<'static, Result<DeliveryStatus, HubError>> {
        Box::pin(std::future::ready(Ok(DeliveryStatus::Queued)))
    }

    fn send_unstored(
        &self,
        _from: &str,
        to: &str,
        _payload: &serde_json::value::RawValue,
        _correlation: Correlation<&str>,
    ) -> BoxFuture<'static, Result<(), HubError>> {
        let unknown = HubError::RecipientNotFound(to.to_owned());
        Box::pin(std::future::ready(Err(unknown)))
    }
}
