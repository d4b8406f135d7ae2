//! Direct messages to a user (an address with device connections,
//! `alice/phone`) across nodes: which nodes `deliver.lua` publishes to,
//! the copy for a user's connections on other nodes after this node
//! delivered its part, and the live send to a user that has devices.

use super::*;

/// Which nodes a direct message goes to (`deliver.lua`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// The address's holder's.
    Holder,
    /// Also those of the device connections of the user it names.
    User,
    /// As `User`, but only when the user has a device connection (else
    /// the message is stored: answered `Rejected` here, meaning "none").
    Devices,
}

impl Scope {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Holder => "holder",
            Self::User => "user",
            Self::Devices => "devices",
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

    /// Sends to the user `to` live when it has a device connection on some
    /// node: to its own address's holder and each device's node, answered
    /// as [`Direct::send`]; `None` when it has none (the message is then
    /// stored for `to`, as for any address).
    pub(in crate::redis) fn send_if_devices(
        self: &Arc<Self>,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) -> Answer<Option<Result<(), HubError>>> {
        let unavailable = || Answer::now(Some(Err(HubError::Unavailable("the other nodes"))));
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let node = self.node.to_string();
        let envelope = Envelope {
            node: &node,
            req,
            to: to.into(),
            from: from.into(),
            payload,
            correlation_id: correlation.correlation_id.map(Cow::Borrowed),
            in_reply_to: correlation.in_reply_to.map(Cow::Borrowed),
            outcome: true,
        };
        let Ok(json) = serde_json::to_string(&envelope) else {
            return unavailable();
        };
        let message = format!("deliver {json}");
        let Some(answer) = self.ask(req, to, message, (true, false), Scope::Devices) else {
            return unavailable();
        };
        Answer::Later(
            async move {
                match answer.await {
                    Some(Ok(DeliveryStatus::Rejected)) => None,
                    Some(outcome) => Some(outcome.map(|_| ())),
                    None => Some(Err(HubError::Unavailable(
                        "no outcome from the recipient's node",
                    ))),
                }
            }
            .boxed(),
        )
    }
}
