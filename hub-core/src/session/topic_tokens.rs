//! Topics a session holds by a subscription token (`hub:subscribe` with a
//! `token`): the application's grant of one topic at the moment of joining,
//! with its own rights beside the connection's grants, its own expiry and
//! refresh (`hub:sub_refresh`). At its expiry, unrefreshed, the session
//! loses the token's rights and — unless its connection's grants let it
//! subscribe anyway — the subscription (`hub:unsubscribed`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;

use super::{echo, Session};
use crate::auth::{SubscriptionRequest, TopicGrant};
use crate::error::HubError;
use crate::permissions::{NamespaceOptions, Right};
use crate::protocol::server::{TopicAck, Unsubscribed};
use crate::protocol::{ErrorCode, FrameId, ServerFrame};
use crate::topic::Leave;

/// One topic's subscription token, as held.
pub(super) struct TopicToken {
    rights: Vec<Right>,
    /// Ask for a fresh one, then expire; `None`: it does not expire.
    timers: Option<(SpawnHandle, SpawnHandle)>,
}

impl Session {
    /// Checks `right` on `topic`: granted by the connection's grants or by
    /// the topic's subscription token. Returns the topic's namespace.
    ///
    /// # Errors
    /// `UnknownNamespace`, or `Forbidden` with the missing right.
    pub(super) fn topic_right(
        &self,
        topic: &str,
        right: Right,
    ) -> Result<&NamespaceOptions, HubError> {
        let by_token = self
            .extras
            .as_deref()
            .and_then(|extras| extras.topic_tokens.get(topic))
            .is_some_and(|t| t.rights.contains(&right));
        self.node
            .permissions
            .topic_or(&self.grants, topic, right, by_token)
    }

    /// The user a subscription token must be for: the address without its
    /// device.
    pub(super) fn user(&self) -> Option<Arc<str>> {
        let address = self.address()?;
        Some(match address.rsplit_once('/') {
            Some((user, _)) if self.has_device => user.into(),
            _ => address.clone(),
        })
    }

    /// Checks `token` for `topic` with the authenticator (waited for, as a
    /// subscribe is), then runs `then` with its grant.
    fn check_topic_token(
        &mut self,
        id: Option<FrameId>,
        topic: &str,
        token: &str,
        ctx: &mut Context<Self>,
        then: impl FnOnce(&mut Self, Option<FrameId>, Arc<str>, TopicGrant, &mut Context<Self>)
            + 'static,
    ) {
        if !self.valid_name(id.as_ref(), "topic", topic) {
            return;
        }
        let Some(user) = self.user() else {
            return;
        };
        let request = SubscriptionRequest {
            user: user.to_string(),
            topic: topic.to_owned(),
            token: token.to_owned(),
            peer: self.peer,
        };
        let check = self.node.authenticator.authorize_subscription(request);
        let check = tokio::time::timeout(self.node.config.heartbeat_timeout(), check);
        let topic: Arc<str> = topic.into();
        ctx.wait(check.into_actor(self).map(move |result, act, ctx| {
            act.seen();
            match result {
                Ok(Ok(grant)) => then(act, id, topic, grant, ctx),
                Ok(Err(rejection)) => {
                    let message = format!(
                        "the subscription token for {topic:?} is refused: {}",
                        rejection.message
                    );
                    act.push_error(id.as_ref(), ErrorCode::Unauthorized, &message);
                }
                Err(_) => {
                    let message = "the authenticator did not answer within heartbeat_timeout_ms";
                    act.push_error(id.as_ref(), ErrorCode::Internal, message);
                }
            }
        }));
    }

    /// `hub:subscribe` with a `token`: the token is checked first; accepted,
    /// its rights are held for the topic and the subscribe goes on as any.
    pub(super) fn subscribe_with_token(
        &mut self,
        id: Option<FrameId>,
        topic: &str,
        since: Option<(Arc<str>, u64)>,
        token: &str,
        ctx: &mut Context<Self>,
    ) {
        self.check_topic_token(id, topic, token, ctx, move |act, id, topic, grant, ctx| {
            let subscribed = act.subscriptions.contains_key(&topic);
            let max = act.node.config.max_topics_per_session;
            let held = act.extras.as_deref().map_or(0, |e| e.topic_tokens.len());
            if !subscribed && held >= max {
                return act.push_topic_error(id.as_ref(), &topic, &HubError::TooManyTopics(max));
            }
            act.hold_topic_token(topic.clone(), grant, ctx);
            act.subscribe(id, &topic, since, ctx);
        });
    }

    /// `hub:sub_refresh`: a fresh token for a topic the session is in.
    pub(super) fn refresh_topic_token(
        &mut self,
        id: Option<FrameId>,
        topic: &str,
        token: &str,
        ctx: &mut Context<Self>,
    ) {
        if !self.subscriptions.contains_key(topic) {
            let e = HubError::NotSubscribed(topic.to_owned());
            return self.push_topic_error(id.as_ref(), topic, &e);
        }
        self.check_topic_token(id, topic, token, ctx, |act, id, topic, grant, ctx| {
            act.hold_topic_token(topic.clone(), grant, ctx);
            act.push(&ServerFrame::SubRefreshAck(TopicAck::plain(
                echo(id.as_ref()),
                (*topic).into(),
            )));
        });
    }

    /// Holds `grant` for `topic`, in place of an earlier one: asks for a
    /// fresh token ahead of its expiry (a fifth of the time left, at most a
    /// minute), and ends it at its expiry.
    pub(super) fn hold_topic_token(
        &mut self,
        topic: Arc<str>,
        grant: TopicGrant,
        ctx: &mut Context<Self>,
    ) {
        self.drop_topic_token(&topic, ctx);
        let timers = grant.valid_until.map(|until| {
            let left = until
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let lead = (left / 5).min(Duration::from_secs(60));
            let asked = topic.clone();
            let ask = ctx.run_later(left - lead, move |act, _| {
                act.push(&ServerFrame::SubRefresh(TopicAck::plain(
                    None,
                    (*asked).into(),
                )));
            });
            let ended = topic.clone();
            let expire = ctx.run_later(left, move |act, ctx| act.topic_token_expired(&ended, ctx));
            (ask, expire)
        });
        let token = TopicToken {
            rights: grant.rights,
            timers,
        };
        self.extras().topic_tokens.insert(topic, token);
    }

    /// Forgets `topic`'s token (an unsubscribe, a subscribe that failed).
    pub(super) fn drop_topic_token(&mut self, topic: &str, ctx: &mut Context<Self>) {
        let Some(extras) = self.extras.as_mut() else {
            return;
        };
        if let Some((ask, expire)) = extras.topic_tokens.remove(topic).and_then(|t| t.timers) {
            ctx.cancel_future(ask);
            ctx.cancel_future(expire);
        }
    }

    /// `topic`'s token ran out unrefreshed: its rights go, and the
    /// subscription with them unless the connection's grants hold it.
    fn topic_token_expired(&mut self, topic: &Arc<str>, ctx: &mut Context<Self>) {
        self.drop_topic_token(topic, ctx);
        if self.topic_right(topic, Right::Subscribe).is_ok() {
            return;
        }
        if let Some(addr) = self.subscriptions.remove(topic) {
            addr.do_send(Leave {
                session: self.id,
                dropped: false,
            });
            self.told_unsubscribed(topic, "token_expired");
            self.push(&ServerFrame::Unsubscribed(Unsubscribed {
                topic: (**topic).into(),
                reason: "token_expired".into(),
            }));
        }
    }
}
