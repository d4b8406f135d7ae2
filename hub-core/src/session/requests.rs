//! What a session does with each client frame. Each request is validated,
//! rate-limited and answered here; the actors it needs are reached without
//! blocking this session (`send` futures spawned on its context).

use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;

use super::{OutFrame, Phase, Session};
use crate::auth::ConnectRequest;
use crate::directory::Subscribe;
use crate::error::HubError;
use crate::hub::{deliver_broadcast, encode_message, send_direct};
use crate::metrics::Metrics;
use crate::protocol::{
    validate_name, BroadcastTarget, ClientFrame, CloseCode, Correlation, DeliveryStatus, ErrorCode,
    FrameId, Request, ServerFrame, PROTOCOL_VERSION,
};
use crate::registry::Register;
use crate::topic::{Leave, Publish};

impl Session {
    pub(super) fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let request = match Request::decode(text) {
            Ok(r) => r,
            Err(e) => return self.push_error(e.id.as_ref(), e.code, &e.message),
        };
        let id = request.id;
        match request.frame {
            ClientFrame::Ping => self.push(&ServerFrame::Pong { id: id.as_ref() }),
            ClientFrame::Disconnect => {
                self.push(&ServerFrame::DisconnectAck { id: id.as_ref() });
                self.begin_close(ctx, CloseCode::Normal, false);
            }
            ClientFrame::Connect {
                address,
                token,
                metadata,
            } => self.connect(id, &address, token.as_deref(), metadata, ctx),
            frame => {
                let Some(from) = self.address().cloned() else {
                    let message = match self.phase {
                        Phase::Connecting { .. } => "hub:connect is still being processed",
                        _ => "this session has not sent hub:connect",
                    };
                    return self.push_error(id.as_ref(), ErrorCode::NotConnected, message);
                };
                if !self.within_rate_limit(id.as_ref()) {
                    return;
                }
                self.dispatch(id, from, frame, ctx);
            }
        }
    }

    fn dispatch(
        &mut self,
        id: Option<FrameId>,
        from: Arc<str>,
        frame: ClientFrame<'_>,
        ctx: &mut Context<Self>,
    ) {
        match frame {
            ClientFrame::Send {
                to,
                payload,
                correlation,
                ack,
            } => self.send(id.as_ref(), &from, &to, payload, correlation.as_refs(), ack),
            ClientFrame::Publish { topic, payload } => {
                self.publish(id, &from, &topic, payload, ctx)
            }
            ClientFrame::Subscribe { topic } => self.subscribe(id, &topic, ctx),
            ClientFrame::Unsubscribe { topic } => self.unsubscribe(id, &topic, ctx),
            ClientFrame::Broadcast { to, payload } => {
                self.broadcast(id.as_ref(), &from, to, payload)
            }
            ClientFrame::Connect { .. } | ClientFrame::Ping | ClientFrame::Disconnect => {}
        }
    }

    fn within_rate_limit(&self, id: Option<&FrameId>) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        match limiter.check() {
            Ok(()) => true,
            Err(not_until) => {
                use governor::clock::{Clock, DefaultClock};
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                // Round up so that retrying after exactly retry_after_ms succeeds.
                let retry_after_ms = wait.as_millis() as u64 + 1;
                Metrics::inc(&self.hub.metrics.rate_limited_total);
                self.push(&ServerFrame::RateLimited {
                    id,
                    code: ErrorCode::RateLimited,
                    retry_after_ms,
                    hint: ErrorCode::RateLimited.hint(),
                });
                false
            }
        }
    }

    /// Checks a name, answering `invalid_field` when it is unusable.
    fn valid_name(&self, id: Option<&FrameId>, kind: &str, name: &str) -> bool {
        match validate_name(kind, name, self.hub.config.max_name_bytes) {
            Ok(()) => true,
            Err(message) => {
                self.push_error(id, ErrorCode::InvalidField, &message);
                false
            }
        }
    }

    fn connect(
        &mut self,
        id: Option<FrameId>,
        address: &str,
        token: Option<&str>,
        metadata: Option<&RawValue>,
        ctx: &mut Context<Self>,
    ) {
        if !matches!(self.phase, Phase::Handshake) {
            return self.push_error(
                id.as_ref(),
                ErrorCode::AlreadyConnected,
                "this session already sent hub:connect",
            );
        }
        if !self.valid_name(id.as_ref(), "address", address) {
            return;
        }
        if self.hub.draining.load(std::sync::atomic::Ordering::Acquire) {
            return self.push_error(
                id.as_ref(),
                ErrorCode::ShuttingDown,
                "the server is shutting down",
            );
        }
        self.phase = Phase::Connecting {
            address: address.into(),
        };
        let auth = self.hub.authenticator.authenticate(ConnectRequest {
            address: address.to_owned(),
            token: token.map(str::to_owned),
            metadata: metadata.map(ToOwned::to_owned),
            peer: self.peer,
        });
        ctx.spawn(auth.into_actor(self).map(move |result, act, ctx| {
            if !matches!(act.phase, Phase::Connecting { .. }) {
                return; // closed meanwhile
            }
            match result {
                Ok(identity) => act.register(id, identity.address.into(), ctx),
                Err(rejection) => {
                    act.phase = Phase::Handshake;
                    act.push_error(id.as_ref(), ErrorCode::Unauthorized, &rejection.message);
                }
            }
        }));
    }

    /// Registers the authenticated `address` (which the authenticator may
    /// have chosen). It is recorded first, so that if the session stops while
    /// the registration is in flight, `stopping` unregisters the right address.
    fn register(&mut self, id: Option<FrameId>, address: Arc<str>, ctx: &mut Context<Self>) {
        self.phase = Phase::Connecting {
            address: address.clone(),
        };
        let request = self.hub.registry.send(Register {
            address: address.clone(),
            endpoint: crate::hub::Endpoint::Session(self.handle.clone()),
        });
        ctx.spawn(request.into_actor(self).map(move |result, act, _| {
            if !matches!(act.phase, Phase::Connecting { .. }) {
                return; // closed (or evicted) meanwhile
            }
            let error = match result {
                Ok(Ok(())) => return act.connected(id.as_ref(), address),
                Ok(Err(e)) => e,
                Err(_) => HubError::Internal("registry stopped"),
            };
            act.phase = Phase::Handshake;
            act.push_error(id.as_ref(), error.code(), &error.to_string());
        }));
    }

    fn connected(&mut self, id: Option<&FrameId>, address: Arc<str>) {
        self.span.record("address", &*address);
        self.last_touch = std::time::Instant::now();
        let config = &self.hub.config;
        let limits = config.limits_info();
        self.push(&ServerFrame::Connected {
            id,
            session_id: &self.wire_id,
            address: &address,
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: config.heartbeat_interval_ms,
            heartbeat_timeout_ms: config.heartbeat_timeout_ms,
            limits: &limits,
            features: &[],
        });
        tracing::info!(parent: &self.span, "session connected");
        self.phase = Phase::Connected { address };
    }

    fn send(
        &mut self,
        id: Option<&FrameId>,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
        ack: bool,
    ) {
        if !self.valid_name(id, "address", to) {
            return;
        }
        let ids = [
            ("correlation_id", correlation.correlation_id),
            ("in_reply_to", correlation.in_reply_to),
        ];
        for (kind, value) in ids {
            if value.is_some_and(|v| !self.valid_name(id, kind, v)) {
                return;
            }
        }
        let (status, reason) = match send_direct(&self.hub, from, to, payload, correlation) {
            // Fire-and-forget: only a rejection is worth a frame.
            Ok(()) if !ack => return,
            Ok(()) => (DeliveryStatus::Accepted, None),
            Err(e) => (DeliveryStatus::Rejected, Some(e.code())),
        };
        self.push(&ServerFrame::DeliveryAck {
            id,
            to,
            status,
            reason,
        });
    }

    fn publish(
        &mut self,
        id: Option<FrameId>,
        from: &str,
        topic: &str,
        payload: &RawValue,
        ctx: &mut Context<Self>,
    ) {
        if !self.valid_name(id.as_ref(), "topic", topic) {
            return;
        }
        let addr = match self.subscriptions.get(topic) {
            Some(addr) => Some(addr.clone()),
            None => self.hub.topic_index.get(topic).map(|a| a.clone()),
        };
        let Some(addr) = addr else {
            return self.push(&ServerFrame::PublishAck {
                id: id.as_ref(),
                topic,
                recipients: 0,
            });
        };
        // Encoded here, once, off the topic actor: the topic only copies a pointer per subscriber.
        let frame = encode_message(Some(topic), from, payload, Correlation::default());
        let topic: Arc<str> = topic.into();
        ctx.spawn(
            addr.send(Publish { frame })
                .into_actor(self)
                .map(move |res, act, _| {
                    act.push(&ServerFrame::PublishAck {
                        id: id.as_ref(),
                        topic: &topic,
                        recipients: res.unwrap_or(0),
                    });
                }),
        );
    }

    fn subscribe(&mut self, id: Option<FrameId>, topic: &str, ctx: &mut Context<Self>) {
        if !self.valid_name(id.as_ref(), "topic", topic) {
            return;
        }
        if self.subscriptions.contains_key(topic) {
            return self.push(&ServerFrame::SubscribeAck {
                id: id.as_ref(),
                topic,
            });
        }
        let max = self.hub.config.max_topics_per_session;
        if self.subscriptions.len() + self.pending_subscribes.len() >= max {
            let message =
                format!("this session already holds {max} subscriptions (max_topics_per_session)");
            return self.push_error(id.as_ref(), ErrorCode::TooManyTopics, &message);
        }
        let topic: Arc<str> = topic.into();
        self.pending_subscribes.insert(topic.clone());
        let request = self.hub.directory.send(Subscribe {
            topic: topic.clone(),
            handle: self.handle.clone(),
        });
        ctx.spawn(request.into_actor(self).map(move |res, act, _| {
            act.pending_subscribes.remove(&topic);
            match res {
                Ok(Ok(addr)) => {
                    act.subscriptions.insert(topic.clone(), addr);
                    act.push(&ServerFrame::SubscribeAck {
                        id: id.as_ref(),
                        topic: &topic,
                    });
                }
                Ok(Err(e)) => act.push_error(id.as_ref(), e.code(), &e.to_string()),
                Err(_) => {
                    act.push_error(id.as_ref(), ErrorCode::Internal, "topic directory stopped")
                }
            }
        }));
    }

    fn unsubscribe(&mut self, id: Option<FrameId>, topic: &str, ctx: &mut Context<Self>) {
        let Some(addr) = self.subscriptions.remove(topic) else {
            let message = format!("not subscribed to `{topic}`");
            return self.push_error(id.as_ref(), ErrorCode::NotSubscribed, &message);
        };
        let topic: Arc<str> = topic.into();
        ctx.spawn(
            addr.send(Leave { session: self.id })
                .into_actor(self)
                .map(move |_, act, _| {
                    act.push(&ServerFrame::UnsubscribeAck {
                        id: id.as_ref(),
                        topic: &topic,
                    });
                }),
        );
    }

    fn broadcast(
        &mut self,
        id: Option<&FrameId>,
        from: &str,
        to: BroadcastTarget,
        payload: &RawValue,
    ) {
        let max = self.hub.config.broadcast_max_recipients;
        let count = match &to {
            BroadcastTarget::List(list) => list.len(),
            BroadcastTarget::All => self.hub.presence.len().saturating_sub(1),
        };
        if count > max {
            let e = HubError::BroadcastTooLarge { count, max };
            return self.push_error(id, e.code(), &e.to_string());
        }
        let frame = OutFrame::text(encode_message(None, from, payload, Correlation::default()));
        let mut recipients = 0;
        let mut not_found: Vec<&str> = Vec::new();
        match &to {
            BroadcastTarget::List(list) => {
                let mut seen = std::collections::HashSet::with_capacity(list.len());
                for address in list.iter().filter(|a| seen.insert(a.as_str())) {
                    match self.hub.presence.get(address.as_str()).map(|e| e.clone()) {
                        Some(endpoint) => {
                            recipients += usize::from(deliver_broadcast(
                                &endpoint, &frame, from, address, payload,
                            ))
                        }
                        None => not_found.push(address),
                    }
                }
            }
            BroadcastTarget::All => {
                // Bounded by the cap checked above: "*" is refused once more
                // than broadcast_max_recipients addresses are registered.
                let targets: Vec<_> = self
                    .hub
                    .presence
                    .iter()
                    .filter(|e| &**e.key() != from)
                    .take(max)
                    .map(|e| (e.key().clone(), e.value().clone()))
                    .collect();
                for (address, endpoint) in targets {
                    recipients += usize::from(deliver_broadcast(
                        &endpoint, &frame, from, &address, payload,
                    ));
                }
            }
        }
        Metrics::add(&self.hub.metrics.deliveries_total, recipients as u64);
        self.push(&ServerFrame::BroadcastAck {
            id,
            recipients,
            not_found: &not_found,
        });
    }
}
