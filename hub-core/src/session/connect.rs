//! `hub:connect`: authenticate, then claim the address in the registry,
//! then answer `hub:connected` — each step waited for, so that frames sent
//! right behind the connect are read once it is answered.

use std::borrow::Cow;
use std::sync::Arc;

use actix::fut::LocalBoxActorFuture;
use actix::prelude::*;
use serde_json::value::RawValue;

use super::requests::done;
use super::{echo, Phase, Session};
use crate::auth::ConnectRequest;
use crate::error::HubError;
use crate::protocol::server::Connected;
use crate::protocol::{ErrorCode, FrameId, ServerFrame, FEATURE_BATCH, PROTOCOL_VERSION};
use crate::registry::Register;
use crate::route::Endpoint;
use crate::seams::addresses::Epoch;

impl Session {
    pub(super) fn connect(
        &mut self,
        id: Option<FrameId>,
        address: &str,
        token: Option<&str>,
        metadata: Option<&RawValue>,
        batch: bool,
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
        if self.node.is_draining() {
            return self.push_error(
                id.as_ref(),
                ErrorCode::ShuttingDown,
                "the server is shutting down",
            );
        }
        self.phase = Phase::Connecting;
        let auth = self.node.authenticator.authenticate(ConnectRequest {
            address: address.to_owned(),
            token: token.map(str::to_owned),
            metadata: metadata.map(ToOwned::to_owned),
            peer: self.peer,
        });
        // Waited for: frames sent behind hub:connect are read once it is
        // answered. Nothing else reaches the session meanwhile (not even its
        // heartbeat), so an authenticator that hangs is cut off.
        let auth = tokio::time::timeout(self.node.config.heartbeat_timeout(), auth);
        ctx.wait(auth.into_actor(self).then(move |result, act, _| {
            // The client waited on us, not the other way round: the time
            // spent here is not its silence.
            act.seen();
            if !matches!(act.phase, Phase::Connecting) {
                return done(); // closed meanwhile
            }
            match result {
                Ok(Ok(identity)) => act.register(id, identity.address.into(), batch),
                Ok(Err(rejection)) => {
                    act.phase = Phase::Handshake;
                    act.push_error(id.as_ref(), ErrorCode::Unauthorized, &rejection.message);
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

    /// Registers the authenticated `address` (which the authenticator may
    /// have chosen).
    fn register(
        &mut self,
        id: Option<FrameId>,
        address: Arc<str>,
        batch: bool,
    ) -> LocalBoxActorFuture<Self, ()> {
        let request = self.node.registry.send(Register {
            address: address.clone(),
            endpoint: Endpoint::Session(self.handle.clone()),
        });
        Box::pin(request.into_actor(self).map(move |result, act, _| {
            if !matches!(act.phase, Phase::Connecting) {
                return; // closed (or evicted) meanwhile
            }
            let error = match result {
                Ok(Ok(epoch)) => return act.connected(id.as_ref(), address, epoch, batch),
                Ok(Err(e)) => e,
                Err(_) => HubError::Internal("registry stopped"),
            };
            act.phase = Phase::Handshake;
            act.push_hub_error(id.as_ref(), &error);
        }))
    }

    fn connected(&mut self, id: Option<&FrameId>, address: Arc<str>, epoch: Epoch, batch: bool) {
        self.span.record("address", &*address);
        self.last_touch = std::time::Instant::now();
        let config = &self.node.config;
        let limits = config.limits_info();
        let mut features = Vec::new();
        if batch {
            features.push(FEATURE_BATCH.into());
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
        self.phase = Phase::Connected { address, epoch };
    }
}
