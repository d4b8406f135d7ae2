//! A session's topic requests: publish (at once, or recorded first in a
//! namespace with history), subscribe (waited for: the subscription is in
//! place before the next frame is read) and unsubscribe.

use std::borrow::Cow;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;

use super::backend_calls::ProxiedPublish;
use super::once::OncePublish;
use super::{echo, Session};
use crate::error::HubError;
use crate::permissions::{Permissions, Policy, Right};
use crate::presence::Membership;
use crate::protocol::server::{PublishAck, TopicAck};
use crate::protocol::{ErrorCode, FrameId, ServerFrame};
use crate::topic::registry::{Subscribe, TopicKind};
use crate::topic::{Leave, Topic};

/// A publish its sender may make: who, where, what, under which `msg_id`.
pub(super) struct Allowed<'a> {
    pub(super) from: &'a str,
    pub(super) topic: &'a str,
    pub(super) payload: &'a RawValue,
    pub(super) msg_id: Option<&'a str>,
    pub(super) kind: TopicKind,
}

/// A join a subscribe takes: the topic, how its namespace makes it, and
/// who the subscriber is when the topic tracks presence.
pub(super) type PlannedJoin = (Arc<str>, TopicKind, Option<Membership>);

impl Session {
    pub(super) fn publish(
        &mut self,
        id: Option<FrameId>,
        from: &str,
        topic: &str,
        payload: &RawValue,
        msg_id: Option<&str>,
        ctx: &mut Context<Self>,
    ) {
        if !self.valid_name(id.as_ref(), "topic", topic) {
            return;
        }
        let options = self.node.permissions.options_of(topic);
        let allowed = match options {
            Some(options) if options.policy(Right::Publish) == Policy::Proxy => Ok((options, true)),
            _ => self.topic_right(topic, Right::Publish).map(|o| (o, false)),
        };
        let (max, kind, proxied) = match allowed {
            Ok((namespace, proxied)) => (
                namespace.max_payload_bytes,
                TopicKind::of(namespace),
                proxied,
            ),
            Err(e) => return self.push_topic_error(id.as_ref(), topic, &e),
        };
        if max > 0 && payload.get().len() > max {
            let size = payload.get().len();
            return self.push_topic_error(
                id.as_ref(),
                topic,
                &HubError::PayloadTooLarge { size, max },
            );
        }
        if proxied {
            let publish = ProxiedPublish {
                from: from.into(),
                topic: topic.into(),
                payload: payload.to_owned(),
                msg_id: msg_id.map(str::to_owned),
                kind,
                max,
            };
            return self.publish_by_backend(id, publish, ctx);
        }
        let allowed = Allowed {
            from,
            topic,
            payload,
            msg_id,
            kind,
        };
        self.publish_allowed(id, allowed, ctx);
    }

    /// A publish its sender may make (checked, or granted by the
    /// application's backend): once for its `msg_id` with durability on,
    /// else at once or recorded first.
    pub(super) fn publish_allowed(
        &mut self,
        id: Option<FrameId>,
        allowed: Allowed<'_>,
        ctx: &mut Context<Self>,
    ) {
        let Allowed {
            from,
            topic,
            payload,
            msg_id,
            kind,
        } = allowed;
        if let (Some(msg_id), Some(inboxes)) = (msg_id, self.node.stored.clone()) {
            let once = OncePublish {
                from,
                topic,
                payload,
                kind,
                msg_id,
            };
            return self.publish_once(id, inboxes, once, ctx);
        }
        self.publish_checked(id, from, topic, payload, kind, ctx);
    }

    /// A publish allowed, without a `msg_id` to keep: at once, or recorded
    /// first.
    fn publish_checked(
        &mut self,
        id: Option<FrameId>,
        from: &str,
        topic: &str,
        payload: &RawValue,
        kind: TopicKind,
        ctx: &mut Context<Self>,
    ) {
        let known = self.subscriptions.get(topic);
        if kind.history.is_some() {
            return self.publish_recorded(id, from, topic, payload, kind, ctx);
        }
        let Some(request) = self.node.router.publish(topic, from, payload, known) else {
            return self.push(&ServerFrame::PublishAck(PublishAck {
                id: echo(id.as_ref()),
                topic: topic.into(),
                recipients: 0,
                offset: None,
            }));
        };
        let topic: Arc<str> = topic.into();
        ctx.spawn(request.into_actor(self).map(move |res, act, _| {
            act.push(&ServerFrame::PublishAck(PublishAck {
                id: echo(id.as_ref()),
                topic: (*topic).into(),
                // A topic retired while this was on its way had no subscribers.
                recipients: res.unwrap_or(0),
                offset: None,
            }));
        }));
    }

    /// A publish to a topic with history: answered once it is recorded,
    /// with its offset.
    pub(super) fn publish_recorded(
        &mut self,
        id: Option<FrameId>,
        from: &str,
        topic: &str,
        payload: &RawValue,
        kind: TopicKind,
        ctx: &mut Context<Self>,
    ) {
        let known = self.subscriptions.get(topic);
        let request = self
            .node
            .router
            .publish_recorded(topic, from, payload, known, kind, None);
        let topic: Arc<str> = topic.into();
        ctx.spawn(request.into_actor(self).map(move |res, act, _| match res {
            Ok(published) => act.push(&ServerFrame::PublishAck(PublishAck {
                id: echo(id.as_ref()),
                topic: (*topic).into(),
                recipients: published.recipients,
                offset: published.offset,
            })),
            Err(e) => act.push_topic_error(id.as_ref(), &topic, &e),
        }));
    }

    /// What a subscribe to `topic` takes: nothing (already subscribed), or
    /// a join, for which a slot is reserved here; with the join, the
    /// subscriber cap of the topic's namespace (0: the default).
    ///
    /// # Errors
    /// `InvalidName`, `UnknownNamespace`, `Forbidden` or `TooManyTopics`
    /// (pending subscribes count too).
    pub(super) fn plan_subscribe(
        &mut self,
        topic: &str,
        recovering: bool,
    ) -> Result<Option<PlannedJoin>, HubError> {
        self.plan_join(topic, Some(recovering))
    }

    /// As [`Session::plan_subscribe`]; `checked` is `None` for a join the
    /// server orders (`hub:subscribed`): the client's rights are not asked.
    pub(super) fn plan_join(
        &mut self,
        topic: &str,
        checked: Option<bool>,
    ) -> Result<Option<PlannedJoin>, HubError> {
        self.node.router.check_name("topic", topic)?;
        if self.subscriptions.contains_key(topic) {
            return Ok(None);
        }
        let kind = match checked {
            Some(recovering) => {
                let kind = TopicKind::of(self.topic_right(topic, Right::Subscribe)?);
                if recovering {
                    self.topic_right(topic, Right::History)?;
                }
                kind
            }
            None => TopicKind::of(self.node.permissions.options_of(topic).ok_or_else(|| {
                HubError::UnknownNamespace(Permissions::namespace_of(topic).to_owned())
            })?),
        };
        let max = self.node.config.max_topics_per_session;
        if self.subscriptions.len() + self.pending_subscribes.len() >= max {
            return Err(HubError::TooManyTopics(max));
        }
        let member = match (kind.presence, self.address()) {
            (true, Some(address)) => Some(Membership {
                address: address.clone(),
                info: self.info.clone(),
                listens: kind.join_leave && self.topic_right(topic, Right::Presence).is_ok(),
            }),
            _ => None,
        };
        let topic: Arc<str> = topic.into();
        self.pending_subscribes.insert(topic.clone());
        Ok(Some((topic, kind, member)))
    }

    /// Takes `topic` out of this session's subscriptions; returns its actor,
    /// to be told.
    ///
    /// # Errors
    /// `InvalidName` or `NotSubscribed`.
    pub(super) fn plan_unsubscribe(&mut self, topic: &str) -> Result<Addr<Topic>, HubError> {
        self.node.router.check_name("topic", topic)?;
        self.subscriptions
            .remove(topic)
            .ok_or_else(|| HubError::NotSubscribed(topic.to_owned()))
    }

    pub(super) fn subscribe(
        &mut self,
        id: Option<FrameId>,
        topic: &str,
        since: Option<(Arc<str>, u64)>,
        ctx: &mut Context<Self>,
    ) {
        let (topic, kind, member) = match self.plan_subscribe(topic, since.is_some()) {
            Ok(Some(join)) => join,
            Ok(None) => {
                return self.push(&ServerFrame::SubscribeAck(TopicAck::plain(
                    echo(id.as_ref()),
                    topic.into(),
                )))
            }
            Err(e) => {
                self.drop_topic_token(topic, ctx);
                return self.push_topic_error(id.as_ref(), topic, &e);
            }
        };
        let request = self.node.topic_registry.send(Subscribe {
            topic: topic.clone(),
            handle: self.handle.clone(),
            member,
            kind,
            since,
        });
        // Waited for, so that a publish or unsubscribe sent right behind it
        // finds the subscription in place.
        ctx.wait(request.into_actor(self).map(move |res, act, ctx| {
            act.pending_subscribes.remove(&topic);
            match res {
                Ok(Ok((addr, joined))) => {
                    act.subscriptions.insert(topic.clone(), addr);
                    act.told_subscribed(&topic, "client");
                    act.push(&ServerFrame::SubscribeAck(TopicAck {
                        id: echo(id.as_ref()),
                        topic: (*topic).into(),
                        epoch: joined.epoch.as_deref().map(Cow::Borrowed),
                        offset: joined.offset,
                        recovered: joined.recovered,
                    }));
                }
                Ok(Err(e)) => {
                    act.drop_topic_token(&topic, ctx);
                    act.push_topic_error(id.as_ref(), &topic, &e);
                }
                Err(_) => {
                    act.drop_topic_token(&topic, ctx);
                    act.push_error(id.as_ref(), ErrorCode::Internal, "topic registry stopped");
                }
            }
        }));
    }

    pub(super) fn unsubscribe(
        &mut self,
        id: Option<FrameId>,
        topic: &str,
        ctx: &mut Context<Self>,
    ) {
        let addr = match self.plan_unsubscribe(topic) {
            Ok(addr) => addr,
            Err(e) => return self.push_topic_error(id.as_ref(), topic, &e),
        };
        self.drop_topic_token(topic, ctx);
        self.told_unsubscribed(topic, "client");
        let topic: Arc<str> = topic.into();
        // Waited for, so that a publish sent right behind it is not delivered here.
        ctx.wait(
            addr.send(Leave {
                session: self.id,
                dropped: false,
            })
            .into_actor(self)
            .map(move |_, act, _| {
                act.push(&ServerFrame::UnsubscribeAck(TopicAck::plain(
                    echo(id.as_ref()),
                    (*topic).into(),
                )));
            }),
        );
    }
}
