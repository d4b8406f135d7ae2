//! Direct messages to a user (an address with device connections,
//! `alice/phone`) across nodes: which nodes `deliver.lua` publishes to,
//! the copy for a user's connections on other nodes after this node
//! delivered its part.

use super::*;

/// Which nodes a direct message goes to (`deliver.lua`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// The address's holder's.
    Holder,
    /// Also those of the device connections of the user it names.
    User,
}

impl Scope {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Holder => "holder",
            Self::User => "user",
        }
    }
}

impl Direct {
    /// Copies a direct message to the connections of `user` on the other
    /// nodes, answered by no one: this node delivered its own part, and
    /// the send's outcome is its.
    pub(in crate::redis) fn copy_to_user(
        &self,
        from: &str,
        user: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) {
        let node = self.node.to_string();
        let envelope = Envelope {
            node: &node,
            req: 0,
            to: user.into(),
            from: from.into(),
            payload,
            correlation_id: correlation.correlation_id.map(Cow::Borrowed),
            in_reply_to: correlation.in_reply_to.map(Cow::Borrowed),
            outcome: false,
        };
        let Ok(json) = serde_json::to_string(&envelope) else {
            return;
        };
        let message = format!("deliver {json}");
        let size = message.len();
        // Request 0 is never pending: its script's answer goes nowhere.
        let job = self.job(
            user,
            message,
            (0, false, false),
            Scope::User,
            Some(self.node),
        );
        self.enqueue(job, size);
    }
}
