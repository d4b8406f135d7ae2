//! What a session does with each client frame. Each request is validated,
//! rate-limited and answered here.
//!
//! Every frame counts against the rate limit — `hub:connect` and `hub:ping`
//! too, and frames that fail to decode — and every refused frame (malformed,
//! over the rate, not allowed yet) against the error budget: past
//! `max_protocol_errors` in `protocol_error_window_ms` the session is closed
//! (`too_many_errors`, 4006), so a flood costs the flooder its connection
//! rather than the server an error frame per bad frame.
//!
//! Frames take effect in the order the client sent them: a request whose
//! effect needs another actor's answer (`hub:connect`, `hub:subscribe`,
//! `hub:unsubscribe`) makes the session wait for that answer before it reads
//! the next frame (`ctx.wait`: the socket is not read meanwhile, so a client
//! cannot pile frames up behind it). A publish is enqueued to its topic at
//! once, behind any join or leave this session caused, and answered when the
//! topic has fanned it out, without holding up later frames.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use actix::fut::{self, LocalBoxActorFuture};
use actix::prelude::*;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::value::RawValue;

use super::once::OnceBroadcast;
use super::stored::StoredSend;
use super::{echo, Asked, Session};
use crate::durable::desk::{Ack, Append, ReceiptFor};
use crate::error::HubError;
use crate::limits::clock::shared_clock;
use crate::metrics::{Metrics, NO_NAMESPACE};
use crate::permissions::Right;
use crate::protocol::server::{BroadcastAck, DeliveryAck, Echo, RateLimited};
use crate::protocol::{
    BroadcastTarget, ClientFrame, CloseCode, Correlation, DeliveryStatus, ErrorCode, FrameId,
    Request, ServerFrame, FEATURE_ACK, FEATURE_BATCH,
};
use crate::route::SendRoute;
use crate::seams::presence::PresenceQuery;

/// Retries one session may send past its rate limit.
const MAX_EXEMPT_RETRIES: usize = 256;

impl Session {
    pub(super) fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let decoded = Request::decode(text);
        let retry = matches!(&decoded, Ok(request) if self.first_retry(request));
        let id = match &decoded {
            Ok(request) => request.id.as_ref(),
            Err(e) => e.id.as_ref(),
        };
        if !retry && !self.within_rate_limit(id, ctx) {
            return;
        }
        let request = match decoded {
            Ok(r) => r,
            Err(e) => return self.refuse(ctx, e.id.as_ref(), e.code, &e.message),
        };
        let id = request.id;
        match request.frame {
            ClientFrame::Ping => self.push(&ServerFrame::Pong(Echo {
                id: echo(id.as_ref()),
            })),
            ClientFrame::Disconnect => {
                self.push(&ServerFrame::DisconnectAck(Echo {
                    id: echo(id.as_ref()),
                }));
                self.departing = true;
                self.begin_close(ctx, CloseCode::Normal, false);
            }
            ClientFrame::Connect {
                address,
                device,
                token,
                metadata,
                features,
            } => {
                let asked = |name: &str| features.iter().any(|f| f == name);
                let features = Asked {
                    batch: asked(FEATURE_BATCH),
                    acks: asked(FEATURE_ACK),
                };
                self.connect(
                    id,
                    (&address, device.as_deref()),
                    token.as_deref(),
                    metadata.as_deref(),
                    features,
                    ctx,
                )
            }
            ClientFrame::Refresh { token } => self.refresh(id, &token, ctx),
            frame => {
                let Some(from) = self.address().cloned() else {
                    // hub:connect is waited for, so no frame arrives while it is processed.
                    let message = "this session has not sent hub:connect, or it was refused";
                    return self.refuse(ctx, id.as_ref(), ErrorCode::NotConnected, message);
                };
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
                msg_id,
                receipt,
            } => {
                let sent = Sent {
                    to: &to,
                    payload: &payload,
                    correlation: correlation.as_refs(),
                    ack,
                    msg_id: msg_id.as_deref(),
                    receipt,
                };
                self.send(id, &from, sent, ctx)
            }
            ClientFrame::Ack { seq } => {
                if let Some(stored) = &self.node.stored {
                    stored.ack.do_send(Ack {
                        address: from,
                        session: self.id,
                        seq,
                    });
                }
            }
            ClientFrame::Publish {
                topic,
                payload,
                msg_id,
            } => self.publish(id, &from, &topic, &payload, msg_id.as_deref(), ctx),
            ClientFrame::Subscribe {
                topic,
                since,
                token,
            } => {
                let since = since.map(|p| (Arc::from(&*p.epoch), p.offset));
                match token {
                    Some(token) => self.subscribe_with_token(id, &topic, since, &token, ctx),
                    None if self.proxied(&topic, Right::Subscribe) => {
                        self.subscribe_by_backend(id, &topic, since, ctx)
                    }
                    None => self.subscribe(id, &topic, since, ctx),
                }
            }
            ClientFrame::SubRefresh { topic, token } => {
                self.refresh_topic_token(id, &topic, &token, ctx)
            }
            ClientFrame::Unsubscribe { topic } => self.unsubscribe(id, &topic, ctx),
            ClientFrame::Broadcast {
                to,
                payload,
                msg_id,
            } => self.broadcast(id, &from, to, &payload, msg_id.as_deref(), ctx),
            ClientFrame::Presence {
                topic,
                limit,
                after,
            } => {
                let query = PresenceQuery::Page {
                    after: after.map(|a| Arc::from(&*a)),
                    limit: Self::page_limit(limit),
                };
                self.read_presence(id, &topic, query, ctx)
            }
            ClientFrame::PresenceStats { topic } => {
                self.read_presence(id, &topic, PresenceQuery::Count, ctx)
            }
            ClientFrame::Rpc { method, data } => self.rpc(id, &method, data.as_deref(), ctx),
            ClientFrame::Watch { address } => self.watch(id, &address, ctx),
            ClientFrame::Unwatch { address } => self.unwatch(id, &address, ctx),
            ClientFrame::Connect { .. }
            | ClientFrame::Refresh { .. }
            | ClientFrame::Ping
            | ClientFrame::Disconnect => {}
        }
    }

    /// Whether `request` is the first retry, on this session, of a send
    /// the hub remembers by its `msg_id`: such a frame is not charged to
    /// the rate limit (it is answered from memory). At most
    /// `MAX_EXEMPT_RETRIES` per session.
    fn first_retry(&mut self, request: &Request<'_>) -> bool {
        let (ClientFrame::Send {
            msg_id: Some(msg_id),
            ..
        }
        | ClientFrame::Publish {
            msg_id: Some(msg_id),
            ..
        }
        | ClientFrame::Broadcast {
            msg_id: Some(msg_id),
            ..
        }) = &request.frame
        else {
            return false;
        };
        let (Some(retries), Some(address)) = (&self.node.retry_ids, self.address()) else {
            return false;
        };
        let key = retries.key(address, msg_id);
        if !retries.contains(key) {
            return false;
        }
        let exempted = self.exempted_retries.get_or_insert_with(Default::default);
        exempted.len() < MAX_EXEMPT_RETRIES && exempted.insert(key)
    }

    /// Takes one frame from the rate limit, or says how long until the next
    /// one would be accepted, in milliseconds.
    pub(super) fn take_rate(&self) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(limiter.clock().now());
            // Round up so that retrying after exactly retry_after_ms succeeds.
            wait.as_millis() as u64 + 1
        })
    }

    /// Takes the frame from the rate limit, or answers `hub:rate_limited`
    /// (and counts a refusal).
    pub(super) fn within_rate_limit(
        &mut self,
        id: Option<&FrameId>,
        ctx: &mut Context<Self>,
    ) -> bool {
        match self.take_rate() {
            Ok(()) => true,
            Err(retry_after_ms) => {
                self.count_refusal(ctx);
                Metrics::inc(&self.node.metrics.rate_limited_total);
                self.push(&ServerFrame::RateLimited(RateLimited {
                    id: echo(id),
                    code: ErrorCode::RateLimited,
                    retry_after_ms,
                    hint: ErrorCode::RateLimited.hint().into(),
                }));
                false
            }
        }
    }

    /// Checks a name, answering `invalid_field` when it is unusable.
    pub(super) fn valid_name(&self, id: Option<&FrameId>, kind: &str, name: &str) -> bool {
        match self.node.router.check_name(kind, name) {
            Ok(()) => true,
            Err(e) => {
                self.push_hub_error(id, &e);
                false
            }
        }
    }

    fn send(
        &mut self,
        id: Option<FrameId>,
        from: &Arc<str>,
        sent: Sent<'_>,
        ctx: &mut Context<Self>,
    ) {
        let Sent {
            to,
            payload,
            correlation,
            ack,
            msg_id,
            receipt,
        } = sent;
        let id_ref = id.as_ref();
        if !self.valid_name(id_ref, "address", to) {
            return;
        }
        let allowed = self.node.permissions.address(&self.grants, to, Right::Send);
        if let Err(e) = allowed {
            return self.push_hub_error(id_ref, &e);
        }
        let ids = [
            ("correlation_id", correlation.correlation_id),
            ("in_reply_to", correlation.in_reply_to),
        ];
        for (kind, value) in ids {
            if value.is_some_and(|v| !self.valid_name(id_ref, kind, v)) {
                return;
            }
        }
        let router = &self.node.router;
        if let SendRoute::Stored(stored) = router.route_send(to, false) {
            let append = stored.append_for.clone();
            let stored = Append {
                from: from.clone(),
                to: to.into(),
                payload: payload.to_owned(),
                correlation_id: correlation.correlation_id.map(Into::into),
                in_reply_to: correlation.in_reply_to.map(Into::into),
                msg_id: msg_id.map(Into::into),
                // The send's own id, as the receipt will echo it.
                receipt: receipt.then(|| ReceiptFor {
                    id: id.as_ref().and_then(|i| serde_json::to_string(i).ok()),
                    msg_id: msg_id.map(Into::into),
                }),
            };
            self.send_stored(&append, stored, StoredSend::new(id, to.into(), ack), ctx);
            return;
        }
        let sent = router.send_anywhere(from, to, payload, correlation, ack);
        match sent.into_now() {
            Ok(res) => self.answer_send(id_ref, to, res.map(|()| DeliveryStatus::Accepted), ack),
            Err(later) => {
                let send = StoredSend::new(id, to.into(), ack);
                self.send_elsewhere(later, send, ctx);
            }
        }
    }

    /// `hub:delivery_ack` for a send; with `ack: false` only a refusal.
    pub(super) fn answer_send(
        &self,
        id: Option<&FrameId>,
        to: &str,
        result: Result<DeliveryStatus, HubError>,
        ack: bool,
    ) {
        let (status, reason) = match result {
            // Fire-and-forget: only a rejection is worth a frame.
            Ok(_) if !ack => return,
            Ok(status) => (status, None),
            Err(e) => {
                self.node.metrics.refused(NO_NAMESPACE, e.code());
                (DeliveryStatus::Rejected, Some(e.code()))
            }
        };
        self.push(&ServerFrame::DeliveryAck(DeliveryAck {
            id: echo(id),
            to: to.into(),
            status,
            reason,
        }));
    }

    fn broadcast(
        &mut self,
        id: Option<FrameId>,
        from: &str,
        to: BroadcastTarget,
        payload: &RawValue,
        msg_id: Option<&str>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(e) = self.may_broadcast(&to) {
            return self.push_hub_error(id.as_ref(), &e);
        }
        if let (Some(msg_id), Some(inboxes)) = (msg_id, self.node.stored.clone()) {
            let once = OnceBroadcast {
                from,
                to,
                payload,
                msg_id,
            };
            return self.broadcast_once(id, inboxes, once, ctx);
        }
        let across = match self.node.router.broadcast_across(from, &to, payload) {
            Ok(across) => across,
            Err(e) => return self.push_hub_error(id.as_ref(), &e),
        };
        let mut across = Box::pin(across);
        match futures_util::FutureExt::now_or_never(&mut across) {
            // Every holder is on this node (or there is one node).
            Some(outcome) => self.push_broadcast_ack(id.as_ref(), outcome),
            // Addresses held on other nodes: asked there, all at once. The
            // session waits for the answers, so its answers keep their order.
            None => ctx.wait(across.into_actor(self).map(move |outcome, act, _| {
                act.push_broadcast_ack(id.as_ref(), outcome);
            })),
        }
    }

    fn push_broadcast_ack(
        &self,
        id: Option<&FrameId>,
        (recipients, not_found): (usize, Vec<String>),
    ) {
        self.push(&ServerFrame::BroadcastAck(BroadcastAck {
            id: echo(id),
            recipients,
            not_found: not_found.into_iter().map(Cow::Owned).collect(),
        }));
    }
}

impl Session {
    /// Checks the broadcast right on every recipient (or on `*`). A list
    /// longer than `broadcast_max_recipients` is left to the router, which
    /// refuses it without looking at the names.
    fn may_broadcast(&self, to: &BroadcastTarget) -> Result<(), HubError> {
        let permissions = &self.node.permissions;
        match to {
            BroadcastTarget::All => permissions.every_address(&self.grants, Right::Broadcast),
            BroadcastTarget::List(list)
                if list.len() <= self.node.config.broadcast_max_recipients =>
            {
                list.iter().try_for_each(|address| {
                    permissions.address(&self.grants, address, Right::Broadcast)
                })
            }
            BroadcastTarget::List(_) => Ok(()),
        }
    }
}

/// A `hub:send`'s fields.
pub(super) struct Sent<'a> {
    to: &'a str,
    payload: &'a RawValue,
    correlation: Correlation<&'a str>,
    ack: bool,
    msg_id: Option<&'a str>,
    receipt: bool,
}

/// A finished step, for a chain that has nothing left to wait for.
pub(super) fn done() -> LocalBoxActorFuture<Session, ()> {
    Box::pin(fut::ready(()))
}

/// `max` refused frames per `window`, all of them at once if they come at
/// once (a GCRA quota: one comes back every `window / max`).
pub(super) fn error_budget(max: u32, window: Duration) -> DefaultDirectRateLimiter {
    let max = std::num::NonZeroU32::new(max).unwrap_or(std::num::NonZeroU32::MIN);
    let quota = Quota::with_period(window / max.get())
        .unwrap_or_else(|| Quota::per_second(max))
        .allow_burst(max);
    RateLimiter::direct_with_clock(quota, shared_clock())
}

pub(crate) fn rate_limiter(per_sec: u32, burst: u32) -> Option<DefaultDirectRateLimiter> {
    let per_sec = std::num::NonZeroU32::new(per_sec)?;
    let burst = std::num::NonZeroU32::new(burst).unwrap_or(per_sec);
    let quota = Quota::per_second(per_sec).allow_burst(burst);
    Some(RateLimiter::direct_with_clock(quota, shared_clock()))
}
