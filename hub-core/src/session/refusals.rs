//! How a session refuses a request: the `hub:error` frame with its code,
//! message and hint, the counters (by code, and by the topic's namespace),
//! and the session's error budget, past which it closes (4006).

use actix::prelude::*;

use super::{echo, Session};
use crate::backend::BackendRefusal;
use crate::error::HubError;
use crate::metrics::{Metrics, NO_NAMESPACE};
use crate::protocol::server;
use crate::protocol::{CloseCode, ErrorCode, FrameId, ServerFrame};

impl Session {
    pub(super) fn push_error(&self, id: Option<&FrameId>, code: ErrorCode, message: &str) {
        self.push_error_hinted(id, code, message, code.hint().into());
    }

    /// Answers a request with an error and a hint of its own.
    pub(super) fn push_error_hinted(
        &self,
        id: Option<&FrameId>,
        code: ErrorCode,
        message: &str,
        hint: std::borrow::Cow<'_, str>,
    ) {
        self.push_refusal(id, NO_NAMESPACE, code, message, hint, None);
    }

    /// Answers a request about a topic in namespace slot `namespace` (of
    /// the metrics' labels) with an error.
    fn push_refusal(
        &self,
        id: Option<&FrameId>,
        namespace: usize,
        code: ErrorCode,
        message: &str,
        hint: std::borrow::Cow<'_, str>,
        reason: Option<&str>,
    ) {
        Metrics::inc(&self.node.metrics.errors_total);
        self.node.metrics.refused(namespace, code);
        tracing::debug!(parent: &self.span, code = code.as_str(), message, "request refused");
        self.push(&ServerFrame::Error(server::Error {
            id: echo(id),
            code,
            message: message.into(),
            hint,
            temporary: code.temporary(),
            reason: reason.map(Into::into),
        }));
    }

    /// Answers a frame the session will not act on, and counts it against
    /// the error budget.
    pub(super) fn refuse(
        &mut self,
        ctx: &mut Context<Self>,
        id: Option<&FrameId>,
        code: ErrorCode,
        message: &str,
    ) {
        self.push_error(id, code, message);
        self.count_refusal(ctx);
    }

    /// One more refused frame; past the budget the session closes (4006) at
    /// once: the answers still queued are dropped, the close frame goes out
    /// next, and the reader stops reading the client's input.
    /// On probation (see `limits::cooldown`), the first refused frame
    /// before `hub:connect` is past the budget.
    pub(super) fn count_refusal(&mut self, ctx: &mut Context<Self>) {
        let strict = self.probation && matches!(self.phase, super::Phase::Handshake);
        if strict || self.error_budget.check().is_err() {
            self.read_switch.discard();
            // Once per session: the close below makes later refusals moot.
            if !matches!(self.phase, super::Phase::Closing { .. }) {
                if let Some(peer) = self.peer {
                    self.node.cooldowns.strike(peer.ip(), self.address());
                }
            }
            self.begin_close(ctx, CloseCode::TooManyErrors, true);
        }
    }

    /// Answers a request with the error `e`.
    pub(super) fn push_hub_error(&self, id: Option<&FrameId>, e: &HubError) {
        self.push_error_hinted(id, e.code(), &e.to_string(), e.hint());
    }

    /// Answers a request about `topic` with the error `e` (counted under
    /// the topic's namespace).
    pub(super) fn push_topic_error(&self, id: Option<&FrameId>, topic: &str, e: &HubError) {
        let namespace = self.node.metrics.namespaces.of_topic(topic);
        self.push_refusal(id, namespace, e.code(), &e.to_string(), e.hint(), None);
    }

    /// Answers a request the application's backend did not grant (about
    /// `topic`, if any), with its code as `reason`.
    pub(super) fn push_backend_refusal(
        &self,
        id: Option<&FrameId>,
        topic: Option<&str>,
        refusal: &BackendRefusal,
    ) {
        let namespace = topic.map_or(NO_NAMESPACE, |t| self.node.metrics.namespaces.of_topic(t));
        let code = refusal.code;
        let reason = refusal.reason.as_deref();
        self.push_refusal(
            id,
            namespace,
            code,
            &refusal.message,
            code.hint().into(),
            reason,
        );
    }
}
