//! Disconnecting an address held on another node (the server API's
//! disconnect and kick, `Hub::disconnect`): the same way as a direct send —
//! one script finds the holder's node and publishes `disconnect {...}` on
//! its channel; that node closes the session through its router and
//! answers `outcome <req> ok`, or `recipient_not_found` when no session
//! there held it (it left meanwhile). A user's connections (its own
//! address and its devices, but one it keeps) are closed on every node
//! that has one, the same way.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::FutureExt;
use serde::{Deserialize, Serialize};

use super::{Direct, Scope};
use crate::error::HubError;
use crate::protocol::CloseCode;
use crate::seams::Answer;

/// A disconnect on its way to the holder's node.
#[derive(Serialize, Deserialize)]
struct Disconnect<'a> {
    /// The asking node (hex), where the outcome goes.
    node: &'a str,
    req: u64,
    #[serde(borrow)]
    address: std::borrow::Cow<'a, str>,
    /// The close code's reason: `disconnected` or `kicked`.
    code: &'a str,
    /// `address` is a user: close all its connections on the node...
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    user: bool,
    /// ...but this one.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    keep: Option<std::borrow::Cow<'a, str>>,
}

impl Direct {
    /// Closes the session holding `address` on its node with `code`;
    /// answers whether one held it (`false`: nobody in the hub did).
    pub(in crate::redis) fn disconnect(
        self: &Arc<Self>,
        address: &str,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        self.ask_to_close(address, None, code, None)
    }

    /// Closes the connections of `user` (but `keep`) on every other node
    /// that has one; answers whether one did (or, several nodes asked,
    /// that they were).
    pub(in crate::redis) fn disconnect_user(
        self: &Arc<Self>,
        user: &str,
        keep: Option<&str>,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        self.ask_to_close(user, Some(keep), code, Some(self.node))
    }

    /// `keep`: `None` closes the one holder of `address`; `Some` closes the
    /// user `address`'s connections but the one it names.
    fn ask_to_close(
        self: &Arc<Self>,
        address: &str,
        keep: Option<Option<&str>>,
        code: CloseCode,
        skip: Option<crate::seams::NodeId>,
    ) -> Answer<Result<bool, HubError>> {
        let unavailable = || Answer::now(Err(HubError::Unavailable("the other nodes")));
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let node = self.node.to_string();
        let message = Disconnect {
            node: &node,
            req,
            address: address.into(),
            code: code.as_str(),
            user: keep.is_some(),
            keep: keep.flatten().map(Into::into),
        };
        let Ok(json) = serde_json::to_string(&message) else {
            return unavailable();
        };
        let message = format!("disconnect {json}");
        let scope = if keep.is_some() {
            Scope::User
        } else {
            Scope::Holder
        };
        let Some(answer) = self.ask(req, address, message, (true, false), (scope, skip)) else {
            return unavailable();
        };
        Answer::Later(
            async move {
                match answer.await {
                    Some(Ok(_)) => Ok(true),
                    Some(Err(HubError::RecipientNotFound(_))) => Ok(false),
                    Some(Err(e)) => Err(e),
                    None => Err(HubError::Unavailable("no answer from the holder's node")),
                }
            }
            .boxed(),
        )
    }

    /// Another node asks this one to close a session held here.
    pub(super) fn disconnect_here(&self, json: &str) {
        let Ok(asked) = serde_json::from_str::<Disconnect<'_>>(json) else {
            return;
        };
        let Some(local) = self.local.get() else {
            return;
        };
        let code = match CloseCode::from_name(asked.code) {
            Some(code @ (CloseCode::Disconnected | CloseCode::Kicked)) => code,
            _ => return,
        };
        let closed = if asked.user {
            (local.disconnect_user)(&asked.address, asked.keep.as_deref(), code) > 0
        } else {
            (local.disconnect)(&asked.address, code)
        };
        let status = if closed { "ok" } else { "recipient_not_found" };
        self.reply(asked.node, format!("outcome {} {status}", asked.req));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disconnect_reads_back_as_written() {
        let json = serde_json::to_string(&Disconnect {
            node: "00000000000000ab",
            req: 7,
            // A name JSON escapes reads back too (owned, not borrowed).
            address: r#"al"i\ce"#.into(),
            code: "kicked",
            user: false,
            keep: None,
        })
        .unwrap();
        let back: Disconnect<'_> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (back.req, &*back.address, back.code),
            (7, r#"al"i\ce"#, "kicked")
        );
    }
}
