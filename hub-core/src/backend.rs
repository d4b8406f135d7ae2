//! The application's backend in the loop: a [`Backend`] the hub asks to
//! decide a client's subscribe or publish in a namespace whose policy is
//! `proxy`, and to answer a client's `hub:rpc`. hub-server's proxies post
//! these calls as JSON to the application's HTTP endpoints; an application
//! that embeds the hub implements [`Backend`] in its own code
//! ([`HubBuilder::backend`](crate::HubBuilder::backend)).
//!
//! Each call is waited for by the session that made it, at most
//! `heartbeat_timeout_ms` (an implementation should bound itself tighter:
//! hub-server's `proxy_timeout_ms`). A subscribe or publish is waited for
//! in order with the session's other frames; RPCs run beside them, at most
//! `max_rpcs_per_session` at once.

use std::future::Future;
use std::pin::Pin;

use serde_json::value::RawValue;

use crate::auth::TopicGrant;
use crate::protocol::ErrorCode;

/// Who is asking: one session of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The session's id (as in `hub:connected` and the server's logs).
    pub client: String,
    /// The session's user: its address without the device.
    pub user: String,
    /// The session's address.
    pub address: String,
}

/// A subscribe to decide.
#[derive(Debug, Clone)]
pub struct TopicCall {
    /// Who subscribes.
    pub caller: Caller,
    /// To what.
    pub topic: String,
}

/// A publish to decide.
#[derive(Debug, Clone)]
pub struct PublishCall {
    /// Who publishes.
    pub caller: Caller,
    /// Where.
    pub topic: String,
    /// What, as the client sent it.
    pub payload: Box<RawValue>,
}

/// An RPC to answer.
#[derive(Debug, Clone)]
pub struct RpcCall {
    /// Who calls.
    pub caller: Caller,
    /// `hub:rpc`'s `method`.
    pub method: String,
    /// `hub:rpc`'s `data` (`null` when absent).
    pub data: Box<RawValue>,
}

/// Why a call is not granted, as the client is told in `hub:error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendRefusal {
    /// `refused` (the application said no), `unavailable` (it could not
    /// be asked: down, slow, busy), `internal` (its answer could not be
    /// used) or `no_backend`.
    pub code: ErrorCode,
    /// With `refused`: the application's own code.
    pub reason: Option<String>,
    /// What the client is told.
    pub message: String,
}

impl BackendRefusal {
    /// The application refused, with its own code (if any) and message.
    pub fn refused(reason: Option<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Refused,
            reason,
            message: message.into(),
        }
    }

    /// The application could not be asked now (temporary).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::with(ErrorCode::Unavailable, message)
    }

    /// The application's answer could not be used.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::with(ErrorCode::Internal, message)
    }

    /// Nothing answers this kind of call.
    pub fn no_backend(message: impl Into<String>) -> Self {
        Self::with(ErrorCode::NoBackend, message)
    }

    fn with(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: None,
            message: message.into(),
        }
    }
}

/// What a [`Backend`] call returns.
pub type BackendFuture<T> = Pin<Box<dyn Future<Output = Result<T, BackendRefusal>> + Send>>;

/// Which calls a backend answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// [`Backend::subscribe`].
    Subscribe,
    /// [`Backend::publish`].
    Publish,
    /// [`Backend::rpc`].
    Rpc,
}

/// The application's backend (see the module docs). Every method has a
/// default that refuses with `no_backend`: implement those named by
/// [`Backend::answers`].
pub trait Backend: Send + Sync + 'static {
    /// Decides a subscribe in a `proxy` namespace: the rights granted on
    /// the topic (`subscribe`, and any of `publish`, `presence`,
    /// `history`), held while the session is subscribed.
    fn subscribe(&self, call: TopicCall) -> BackendFuture<TopicGrant> {
        let _ = call;
        no_backend("subscribe")
    }

    /// Decides a publish in a `proxy` namespace: `None` publishes the
    /// client's payload, `Some` publishes this one in its place.
    fn publish(&self, call: PublishCall) -> BackendFuture<Option<Box<RawValue>>> {
        let _ = call;
        no_backend("publish")
    }

    /// Answers a `hub:rpc`: its `data` for `hub:rpc_ack`.
    fn rpc(&self, call: RpcCall) -> BackendFuture<Box<RawValue>> {
        let _ = call;
        no_backend("rpc")
    }

    /// Whether it answers `kind` (checked at start against the
    /// namespaces' `proxy` policies; `hub:rpc` is refused with
    /// `no_backend` when it does not).
    fn answers(&self, kind: CallKind) -> bool;
}

fn no_backend<T: Send + 'static>(what: &str) -> BackendFuture<T> {
    let message = format!("this hub has no backend for {what} calls");
    Box::pin(std::future::ready(Err(BackendRefusal::no_backend(message))))
}

/// No backend: nothing is answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBackend;

impl Backend for NoBackend {
    fn answers(&self, _: CallKind) -> bool {
        false
    }
}
