//! What the outbox keeps per call: the call itself (with its `msg_id`,
//! fixed for life), where it stands, and how it ended.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Where an outbox entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be sent.
    Pending,
    /// Sent; its answer has not come. After a restart it is sent again,
    /// with the same `msg_id`: the hub answers a repeat without a second
    /// effect.
    Inflight,
    /// Answered: [`OutboxEntry::answer`] holds the answer.
    Done,
    /// Refused for good, or out of attempts; [`OutboxEntry::error`] says
    /// why. [`Outbox::requeue`](super::Outbox::requeue) sends it again.
    Dead,
    /// Given up by the application ([`Outbox::abort`](super::Outbox::abort)).
    Aborted,
}

impl OutboxState {
    /// Whether the entry will not change by itself any more.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Done | Self::Dead | Self::Aborted)
    }
}

/// What an outbox entry asks the hub for. (Externally tagged in the file:
/// a raw payload cannot sit in an internally tagged enum.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxCall {
    /// A `hub:send` to one address.
    Send {
        /// The recipient.
        to: String,
        /// The payload, verbatim JSON.
        payload: Box<RawValue>,
    },
    /// A `hub:publish`.
    Publish {
        /// The topic.
        topic: String,
        /// The payload, verbatim JSON.
        payload: Box<RawValue>,
    },
    /// A `hub:broadcast`.
    Broadcast {
        /// The addresses; `None`: every address.
        to: Option<Vec<String>>,
        /// The payload, verbatim JSON.
        payload: Box<RawValue>,
    },
}

/// One call in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Its number in this outbox (the order calls are sent in).
    pub id: u64,
    /// The `msg_id` it is sent with, every time.
    pub msg_id: String,
    /// The call.
    pub call: OutboxCall,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts the hub refused with a temporary reason.
    pub attempts: u32,
    /// Why it is dead (or why the last attempt failed).
    pub error: Option<String>,
    /// The hub's answer, once done: `{"status": "accepted"|"queued"}` for a
    /// send, `{"recipients": n, "offset": n?}` for a publish.
    pub answer: Option<serde_json::Value>,
}
