//! A session's calls to the application's backend (`crate::backend`): a
//! subscribe or publish in a namespace whose policy is `proxy`, waited for
//! in order with the session's other frames (a publish right behind a
//! subscribe finds it decided), and `hub:rpc`, answered beside them, at
//! most `max_rpcs_per_session` at once.

use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;
use tracing::Instrument;

use super::topics::Allowed;
use super::{echo, Session};
use crate::backend::{BackendRefusal, CallKind, Caller, PublishCall, RpcCall, TopicCall};
use crate::error::HubError;
use crate::permissions::{Policy, Right};
use crate::protocol::server::RpcAck;
use crate::protocol::{ErrorCode, FrameId, ServerFrame};
use crate::topic::registry::TopicKind;

/// A publish the backend decides, owned across the wait.
pub(super) struct ProxiedPublish {
    pub(super) from: Arc<str>,
    pub(super) topic: Arc<str>,
    pub(super) payload: Box<RawValue>,
    pub(super) msg_id: Option<String>,
    pub(super) kind: TopicKind,
    /// The namespace's `max_payload_bytes` (0: none), for a replacement too.
    pub(super) max: usize,
}

impl Session {
    /// Whether the backend decides `right` on `topic` (its namespace's
    /// policy is `proxy`).
    pub(super) fn proxied(&self, topic: &str, right: Right) -> bool {
        self.node
            .permissions
            .options_of(topic)
            .is_some_and(|o| o.policy(right) == Policy::Proxy)
    }

    /// Who this session is, for the backend.
    fn caller(&self) -> Option<Caller> {
        Some(Caller {
            client: self.wire_id.to_string(),
            user: self.user()?.to_string(),
            address: self.address()?.to_string(),
        })
    }

    /// The answer for a call the backend did not answer in time.
    fn backend_timeout() -> BackendRefusal {
        BackendRefusal::unavailable(
            "the application's backend did not answer within heartbeat_timeout_ms",
        )
    }

    /// `hub:subscribe` (without a token) in a `proxy` namespace: the
    /// backend's grant is held for the topic, then the subscribe goes on
    /// as any.
    pub(super) fn subscribe_by_backend(
        &mut self,
        id: Option<FrameId>,
        topic: &str,
        since: Option<(Arc<str>, u64)>,
        ctx: &mut Context<Self>,
    ) {
        if !self.valid_name(id.as_ref(), "topic", topic) {
            return;
        }
        if self.subscriptions.contains_key(topic) {
            return self.subscribe(id, topic, since, ctx);
        }
        let Some(caller) = self.caller() else {
            return;
        };
        let call = TopicCall {
            caller,
            topic: topic.to_owned(),
        };
        let asked = self
            .node
            .backend
            .subscribe(call)
            .instrument(self.span.clone());
        let asked = tokio::time::timeout(self.node.config.heartbeat_timeout(), asked);
        let topic: Arc<str> = topic.into();
        ctx.wait(asked.into_actor(self).map(move |answer, act, ctx| {
            act.seen();
            match answer.unwrap_or_else(|_| Err(Self::backend_timeout())) {
                Ok(grant) => {
                    let max = act.node.config.max_topics_per_session;
                    let held = act.extras.as_deref().map_or(0, |e| e.topic_tokens.len());
                    if held >= max {
                        let e = HubError::TooManyTopics(max);
                        return act.push_topic_error(id.as_ref(), &topic, &e);
                    }
                    act.hold_topic_token(topic.clone(), grant, ctx);
                    act.subscribe(id, &topic, since, ctx);
                }
                Err(refusal) => act.push_backend_refusal(id.as_ref(), Some(&topic), &refusal),
            }
        }));
    }

    /// `hub:publish` in a `proxy` namespace: published as the backend
    /// says (the client's payload, or its replacement), or refused.
    pub(super) fn publish_by_backend(
        &mut self,
        id: Option<FrameId>,
        publish: ProxiedPublish,
        ctx: &mut Context<Self>,
    ) {
        let Some(caller) = self.caller() else {
            return;
        };
        let call = PublishCall {
            caller,
            topic: publish.topic.to_string(),
            payload: publish.payload.clone(),
        };
        let asked = self
            .node
            .backend
            .publish(call)
            .instrument(self.span.clone());
        let asked = tokio::time::timeout(self.node.config.heartbeat_timeout(), asked);
        ctx.wait(asked.into_actor(self).map(move |answer, act, ctx| {
            act.seen();
            let topic = &publish.topic;
            let replacement = match answer.unwrap_or_else(|_| Err(Self::backend_timeout())) {
                Ok(replacement) => replacement,
                Err(refusal) => {
                    return act.push_backend_refusal(id.as_ref(), Some(topic), &refusal)
                }
            };
            let payload = replacement.as_deref().unwrap_or(&publish.payload);
            let size = payload.get().len();
            if (publish.max > 0 && size > publish.max) || size > act.node.config.max_message_bytes {
                let message = format!(
                    "the application's backend replaced the payload with one of {size} bytes, \
                     over the namespace's max_payload_bytes or max_message_bytes"
                );
                let refusal = BackendRefusal::internal(message);
                return act.push_backend_refusal(id.as_ref(), Some(topic), &refusal);
            }
            let allowed = Allowed {
                from: &publish.from,
                topic,
                payload,
                msg_id: publish.msg_id.as_deref(),
                kind: publish.kind,
            };
            act.publish_allowed(id, allowed, ctx);
        }));
    }

    /// `hub:rpc`: the backend's answer goes back in `hub:rpc_ack`.
    pub(super) fn rpc(
        &mut self,
        id: Option<FrameId>,
        method: &str,
        data: Option<&RawValue>,
        ctx: &mut Context<Self>,
    ) {
        if !self.node.backend.answers(CallKind::Rpc) {
            let refusal = BackendRefusal::no_backend("this hub has no backend for hub:rpc");
            return self.push_backend_refusal(id.as_ref(), None, &refusal);
        }
        let max = self.node.config.max_rpcs_per_session;
        if self.extras.as_deref().map_or(0, |e| e.rpcs) >= max {
            let message =
                format!("{max} hub:rpc calls are waiting for answers (max_rpcs_per_session)");
            return self.push_error(id.as_ref(), ErrorCode::TooManyRpcs, &message);
        }
        let Some(caller) = self.caller() else {
            return;
        };
        let null = || RawValue::from_string("null".into()).ok();
        let Some(data) = data.map(RawValue::to_owned).or_else(null) else {
            return;
        };
        let call = RpcCall {
            caller,
            method: method.to_owned(),
            data,
        };
        self.extras().rpcs += 1;
        let asked = self.node.backend.rpc(call).instrument(self.span.clone());
        let asked = tokio::time::timeout(self.node.config.heartbeat_timeout(), asked);
        ctx.spawn(asked.into_actor(self).map(move |answer, act, _| {
            act.extras().rpcs -= 1;
            match answer.unwrap_or_else(|_| Err(Self::backend_timeout())) {
                Ok(data) => act.push(&ServerFrame::RpcAck(RpcAck {
                    id: echo(id.as_ref()),
                    data: std::borrow::Cow::Borrowed(&data),
                })),
                Err(refusal) => act.push_backend_refusal(id.as_ref(), None, &refusal),
            }
        }));
    }
}
