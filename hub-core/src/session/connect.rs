//! `hub:connect`: authenticate, then claim the address in the registry,
//! then answer `hub:connected` — each step waited for, so that frames sent
//! right behind the connect are read once it is answered.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::fut::LocalBoxActorFuture;
use actix::prelude::*;
use serde_json::value::RawValue;

use super::requests::done;
use super::{echo, Asked, Phase, Session};
use crate::auth::{ConnectRequest, Identity};
use crate::durable::desk::{Attach, Detach, HandOver};
use crate::error::HubError;
use crate::protocol::server::{Connected, Echo};
use crate::protocol::{
    CloseCode, ErrorCode, FrameId, ServerFrame, FEATURE_ACK, FEATURE_BATCH, FEATURE_TOKEN_REFRESH,
    PROTOCOL_VERSION,
};
use crate::registry::Register;
use crate::route::Endpoint;
use crate::seams::addresses::Epoch;

impl Session {
    pub(super) fn connect(
        &mut self,
        id: Option<FrameId>,
        (address, device): (&str, Option<&str>),
        token: Option<&str>,
        metadata: Option<&RawValue>,
        features: Asked,
        ctx: &mut Context<Self>,
    ) {
        if !matches!(self.phase, Phase::Handshake) {
            return self.refuse(
                ctx,
                id.as_ref(),
                ErrorCode::AlreadyConnected,
                "this session already sent hub:connect",
            );
        }
        if !self.valid_name(id.as_ref(), "address", address) {
            return;
        }
        if let Some(device) = device {
            if let Err(message) = check_device(device) {
                return self.push_hub_error(id.as_ref(), &HubError::InvalidName(message));
            }
        }
        if self.node.is_draining() {
            return self.push_error(
                id.as_ref(),
                ErrorCode::ShuttingDown,
                "the server is shutting down",
            );
        }
        self.phase = Phase::Connecting;
        let device: Option<Arc<str>> = device.map(Into::into);
        let auth = self.node.authenticator.authenticate(ConnectRequest {
            address: address.to_owned(),
            device: device.as_deref().map(str::to_owned),
            token: token.map(str::to_owned),
            metadata: metadata.map(ToOwned::to_owned),
            peer: self.peer,
            headers: match self.node.config.forward_headers.is_empty() {
                true => Vec::new(),
                false => self
                    .node
                    .forwarded
                    .remove(&self.id)
                    .map(|(_, headers)| headers)
                    .unwrap_or_default(),
            },
            session_id: self.wire_id.to_string(),
        });
        // Waited for: frames sent behind hub:connect are read once it is
        // answered. Nothing else reaches the session meanwhile (not even its
        // heartbeat), so an authenticator that hangs is cut off. What it
        // logs is the session's (its trace id, its session id).
        let auth = tracing::Instrument::instrument(auth, self.span.clone());
        let auth = tokio::time::timeout(self.node.config.heartbeat_timeout(), auth);
        ctx.wait(auth.into_actor(self).then(move |result, act, _| {
            // The client waited on us, not the other way round: the time
            // spent here is not its silence.
            act.seen();
            if !matches!(act.phase, Phase::Connecting) {
                return done(); // closed meanwhile
            }
            match result {
                Ok(Ok(identity)) => {
                    let address = match &device {
                        Some(device) => format!("{}/{device}", identity.address),
                        None => identity.address.clone(),
                    };
                    if !act.valid_name(id.as_ref(), "address", &address)
                        || act.sits_out(id.as_ref(), &address)
                        || act.revoked(id.as_ref(), &identity, &address)
                    {
                        act.phase = Phase::Handshake;
                        return done();
                    }
                    let granted = Granted {
                        valid_until: identity.valid_until,
                        channels: identity.channels,
                    };
                    act.grants = identity.grants;
                    act.info = identity.info;
                    act.has_device = device.is_some();
                    act.register(id, address.into(), features, granted)
                }
                Ok(Err(rejection)) => {
                    act.phase = Phase::Handshake;
                    act.push_error(id.as_ref(), rejection.code, &rejection.message);
                    done()
                }
                Err(_) => {
                    act.phase = Phase::Handshake;
                    tracing::warn!(parent: &act.span, "authenticator did not answer in time");
                    let message = "the authenticator did not answer within heartbeat_timeout_ms";
                    act.push_error(id.as_ref(), ErrorCode::Internal, message);
                    done()
                }
            }
        }));
    }

    /// Refuses the connect (`unauthorized`) if its user or token is
    /// revoked; else, with a token id, notes the session as its holder
    /// (before the check: a revocation made meanwhile finds it either way).
    fn revoked(&self, id: Option<&FrameId>, identity: &Identity, address: &str) -> bool {
        let revocations = &self.node.revocations;
        if let Some(jti) = &identity.jti {
            revocations.hold(address.into(), self.id, jti.as_str().into());
        }
        let Some(until) = revocations.refused(&identity.address, identity.jti.as_deref()) else {
            return false;
        };
        revocations.release(address, self.id);
        let message = format!(
            "this token (or its user) is revoked until {until} (Unix ms): a connect is refused until then"
        );
        self.push_error(id, ErrorCode::Unauthorized, &message);
        true
    }

    /// Refuses `address` (`too_many_connections`) if it sits out an abuse
    /// cooldown from this client's IP (`limits::cooldown`).
    fn sits_out(&self, id: Option<&FrameId>, address: &str) -> bool {
        let Some(peer) = self.peer else { return false };
        let Some(wait) = self.node.cooldowns.refused(peer.ip(), address) else {
            return false;
        };
        let message = format!(
            "a session of `{address}` from this IP was closed for too many refused frames \
             (4006); it may connect again in {} ms",
            wait.as_millis().max(1)
        );
        let hint = "wait out abuse_cooldown_ms, then connect again; \
                    fix what the refused frames' errors said first";
        self.push_error_hinted(id, ErrorCode::TooManyConnections, &message, hint.into());
        true
    }

    /// Registers the authenticated `address` (which the authenticator may
    /// have chosen).
    fn register(
        &mut self,
        id: Option<FrameId>,
        address: Arc<str>,
        features: Asked,
        granted: Granted,
    ) -> LocalBoxActorFuture<Self, ()> {
        let request = self.node.registry.send(Register {
            address: address.clone(),
            endpoint: Endpoint::Session(self.handle.clone()),
            client: self.node.lifecycle.is_some().then(|| self.wire_id.clone()),
        });
        Box::pin(request.into_actor(self).then(move |result, act, ctx| {
            if !matches!(act.phase, Phase::Connecting) {
                return done(); // closed (or evicted) meanwhile
            }
            let error = match result {
                Ok(Ok(epoch)) => {
                    let connection = Connection {
                        epoch,
                        features,
                        granted,
                    };
                    return act.attach(id, address, connection, ctx);
                }
                Ok(Err(e)) => e,
                Err(_) => HubError::Internal("registry stopped"),
            };
            act.phase = Phase::Handshake;
            act.push_hub_error(id.as_ref(), &error);
            done()
        }))
    }

    /// Connects; with durability on, once the address's inbox is attached
    /// (where it stands is read), so that a send made once the client is
    /// told it is connected is handed over at once. The wait is bounded
    /// like the authenticator's; past it the client is connected all the
    /// same and its stored messages follow when the inbox is read.
    fn attach(
        &mut self,
        id: Option<FrameId>,
        address: Arc<str>,
        connection: Connection,
        ctx: &mut Context<Self>,
    ) -> LocalBoxActorFuture<Self, ()> {
        let Some(stored) = &self.node.stored else {
            self.connected(id.as_ref(), address, connection, ctx);
            return done();
        };
        let attached = stored.attach.send(Attach {
            address: address.clone(),
            handle: self.handle.clone(),
            acks: connection.features.acks,
        });
        let attached = tokio::time::timeout(self.node.config.heartbeat_timeout(), attached);
        Box::pin(attached.into_actor(self).map(move |result, act, ctx| {
            if result.is_err() {
                tracing::warn!(parent: &act.span, "the inbox did not attach within heartbeat_timeout_ms");
            }
            if !matches!(act.phase, Phase::Connecting) {
                if let Some(stored) = &act.node.stored {
                    stored.detach.do_send(Detach {
                        address,
                        session: act.id,
                    });
                }
                return;
            }
            act.connected(id.as_ref(), address, connection, ctx);
        }))
    }

    fn connected(
        &mut self,
        id: Option<&FrameId>,
        address: Arc<str>,
        connection: Connection,
        ctx: &mut Context<Self>,
    ) {
        let Connection {
            epoch,
            features,
            granted: Granted {
                valid_until,
                channels,
            },
        } = connection;
        let (batch, acks) = (features.batch, features.acks);
        let durable = self.node.stored.is_some();
        self.span.record("address", &*address);
        self.last_touch = std::time::Instant::now();
        let config = &self.node.config;
        let limits = config.limits_info();
        let mut features = Vec::new();
        if batch {
            features.push(FEATURE_BATCH.into());
        }
        if valid_until.is_some() {
            features.push(FEATURE_TOKEN_REFRESH.into());
        }
        if acks && durable {
            features.push(FEATURE_ACK.into());
        }
        self.push(&ServerFrame::Connected(Connected {
            id: echo(id),
            session_id: (*self.wire_id).into(),
            address: (*address).into(),
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: config.heartbeat_interval_ms,
            heartbeat_timeout_ms: config.heartbeat_timeout_ms,
            limits: Cow::Borrowed(&limits),
            features,
        }));
        // After hub:connected, which a client reads on its own.
        self.outbox.set_batching(batch);
        tracing::info!(parent: &self.span, "session connected");
        if let Some(stored) = &self.node.stored {
            // After hub:connected: the replay comes behind it.
            stored.hand_over.do_send(HandOver {
                address: address.clone(),
                session: self.id,
            });
        }
        // A revocation made while this registered did not find it.
        let user = match address.rsplit_once('/') {
            Some((user, _)) if self.has_device => user,
            _ => &*address,
        };
        let revoked = self
            .node
            .revocations
            .refused_session(user, &address, self.id)
            .is_some();
        self.phase = Phase::Connected { address, epoch };
        self.told_connected();
        if revoked {
            return self.begin_close(ctx, CloseCode::Revoked, false);
        }
        if let Some(until) = valid_until {
            self.schedule_expiry(ctx, until);
        }
        for topic in channels {
            self.subscribe_by_server(topic.into(), ctx);
        }
    }

    /// Asks for a fresh token ahead of `until` (a fifth of the time left
    /// before it, at most a minute), and closes the session with
    /// `token_expired` (4007) at `until`. Replaces an earlier schedule.
    pub(super) fn schedule_expiry(&mut self, ctx: &mut Context<Self>, until: SystemTime) {
        if let Some((ask, expire)) = self.token_timers.take() {
            ctx.cancel_future(ask);
            ctx.cancel_future(expire);
        }
        let left = until
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let lead = (left / 5).min(Duration::from_secs(60));
        let ask = ctx.run_later(left - lead, |act, _| {
            act.push(&ServerFrame::Refresh(Echo { id: None }));
        });
        let expire = ctx.run_later(left, |act, ctx| {
            act.begin_close(ctx, CloseCode::TokenExpired, false);
        });
        self.token_timers = Some((ask, expire));
    }

    /// `hub:refresh`: a fresh token for the connected address. Checked by
    /// the authenticator (waited for, like `hub:connect`); accepted, it
    /// replaces the session's expiry and is answered `hub:refresh_ack`.
    pub(super) fn refresh(&mut self, id: Option<FrameId>, token: &str, ctx: &mut Context<Self>) {
        let (Some(address), Some(_)) = (self.address().cloned(), self.token_timers.as_ref()) else {
            let message =
                "this session has no token to refresh (token_refresh is not in its features)";
            return self.refuse(ctx, id.as_ref(), ErrorCode::UnknownType, message);
        };
        // The identity the token is for: the address without its device.
        let (address, device): (Arc<str>, Option<Arc<str>>) = match address.rsplit_once('/') {
            Some((identity, device)) if self.has_device => (identity.into(), Some(device.into())),
            _ => (address, None),
        };
        let auth = self.node.authenticator.authenticate(ConnectRequest {
            address: address.to_string(),
            device: device.as_deref().map(str::to_owned),
            token: Some(token.to_owned()),
            metadata: None,
            peer: self.peer,
            headers: Vec::new(),
            session_id: self.wire_id.to_string(),
        });
        let auth = tokio::time::timeout(self.node.config.heartbeat_timeout(), auth);
        ctx.wait(auth.into_actor(self).map(move |result, act, ctx| {
            act.seen();
            match result {
                Ok(Ok(identity))
                    if *identity.address == *address
                        && act
                            .node
                            .revocations
                            .refused(&identity.address, identity.jti.as_deref())
                            .is_some() =>
                {
                    let message = "this token (or its user) is revoked";
                    act.push_error(id.as_ref(), ErrorCode::Unauthorized, message);
                }
                Ok(Ok(identity)) if *identity.address == *address => {
                    if let (Some(jti), Some(held)) = (&identity.jti, act.address()) {
                        let held = held.clone();
                        act.node.revocations.hold(held, act.id, jti.as_str().into());
                    }
                    // Rights follow the newest token; subscriptions made
                    // under the old one stay.
                    act.grants = identity.grants;
                    if let Some(until) = identity.valid_until {
                        act.schedule_expiry(ctx, until);
                    } else if let Some((ask, expire)) = act.token_timers.take() {
                        ctx.cancel_future(ask);
                        ctx.cancel_future(expire);
                    }
                    act.push(&ServerFrame::RefreshAck(Echo {
                        id: echo(id.as_ref()),
                    }));
                }
                Ok(Ok(_)) => {
                    let message = "a fresh token must be for the same address";
                    act.push_error(id.as_ref(), ErrorCode::Unauthorized, message);
                }
                Ok(Err(rejection)) => {
                    act.push_error(id.as_ref(), ErrorCode::Unauthorized, &rejection.message);
                }
                Err(_) => {
                    let message = "the authenticator did not answer within heartbeat_timeout_ms";
                    act.push_error(id.as_ref(), ErrorCode::Internal, message);
                }
            }
        }));
    }
}

/// Checks `hub:connect`'s `device`: a name of at most
/// [`MAX_DEVICE_BYTES`], without `/` (which separates it from the user)
/// or control characters.
fn check_device(device: &str) -> Result<(), String> {
    crate::protocol::validate_name("device", device, MAX_DEVICE_BYTES)?;
    if device.contains('/') {
        return Err("device must not contain `/` (it separates the user from the device)".into());
    }
    Ok(())
}

/// The longest `device` in `hub:connect`, in bytes.
pub(crate) const MAX_DEVICE_BYTES: usize = 64;

/// What a successful connect established, beside the address.
struct Connection {
    epoch: Epoch,
    features: Asked,
    granted: Granted,
}

/// What the identity brings to the session once it is connected.
struct Granted {
    valid_until: Option<SystemTime>,
    /// Topics the server subscribes it to (`hub:subscribed`).
    channels: Vec<String>,
}
