//! The authentication hook: an async [`Authenticator`] called once per
//! `hub:connect`, before the address is registered. The default,
//! [`AllowAll`], accepts every connect; hub-server warns at start while it is
//! in use. [`jwt::JwtAuth`] checks JSON Web Tokens.

pub mod jwt;
mod keys;
pub mod remote_keys;
mod topic_tokens;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::value::RawValue;

use crate::permissions::{Grants, Right};

pub use topic_tokens::{SubscriptionRequest, TopicGrant, TopicGrantFuture};

/// What a client asked for in `hub:connect`.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The requested address (with a `device`: the user).
    pub address: String,
    /// Which of the user's connections this is (`hub:connect`'s `device`):
    /// the session registers `address/device` once accepted.
    pub device: Option<String>,
    /// The token, if the client sent one.
    pub token: Option<String>,
    /// Client metadata, verbatim.
    pub metadata: Option<Box<RawValue>>,
    /// The peer's socket address, when known.
    pub peer: Option<SocketAddr>,
    /// The headers of the client's WebSocket upgrade (or event stream
    /// request) named in `forward_headers`, lower case, in that order.
    pub headers: Vec<(String, String)>,
    /// The session's id (as in `hub:connected` and the server's logs).
    pub session_id: String,
}

/// An accepted connect.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Identity {
    /// The address to register; an authenticator may bind the token's subject here.
    pub address: String,
    /// When the credential runs out: the session is asked for a fresh one
    /// ahead of it (`hub:refresh`) and closed with `token_expired` (4007) at
    /// it. `None`: never.
    pub valid_until: Option<SystemTime>,
    /// What the session may do where a namespace's policy is `granted`.
    pub grants: Arc<Grants>,
    /// What others see about this address in a topic's presence and in
    /// `hub:join` (a token's `info` claim); `None`: nothing.
    pub info: Option<Arc<RawValue>>,
    /// The token's id (its `jti` claim), by which it can be revoked.
    pub jti: Option<String>,
    /// Topics the server subscribes the session to once it is connected
    /// (a token's `channels` claim): server-side subscriptions, which the
    /// session's own rights do not decide.
    pub channels: Vec<String>,
}

impl PartialEq for Identity {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
            && self.valid_until == other.valid_until
            && self.grants == other.grants
            && self.info.as_ref().map(|i| i.get()) == other.info.as_ref().map(|i| i.get())
            && self.jti == other.jti
            && self.channels == other.channels
    }
}

impl Eq for Identity {}

impl Identity {
    /// An identity that does not expire, with every right: the
    /// authenticator vouches for it fully. Narrow it with
    /// [`Identity::with_grants`].
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            valid_until: None,
            grants: Arc::new(Grants::everything()),
            info: None,
            jti: None,
            channels: Vec::new(),
        }
    }

    /// An identity valid until `until`, with every right (see [`Identity::new`]).
    pub fn until(address: impl Into<String>, until: SystemTime) -> Self {
        Self {
            valid_until: Some(until),
            ..Self::new(address)
        }
    }

    /// The same identity with `grants` instead.
    pub fn with_grants(mut self, grants: Grants) -> Self {
        self.grants = Arc::new(grants);
        self
    }

    /// The same identity with the token id `jti` (see `Hub::revoke`).
    pub fn with_jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// The same identity, subscribed by the server to `channels` once it
    /// is connected.
    pub fn with_channels(mut self, channels: Vec<String>) -> Self {
        self.channels = channels;
        self
    }

    /// The same identity with `info` shown in presence.
    pub fn with_info(mut self, info: Arc<RawValue>) -> Self {
        self.info = Some(info);
        self
    }
}

/// A refused connect; `message` is sent to the client in `hub:error`
/// with `code`.
#[derive(Debug, Clone)]
pub struct AuthRejection {
    /// Why, for the client.
    pub message: String,
    /// The `hub:error` code: `unauthorized` (the default), or
    /// `unavailable` / `internal` when the check itself failed (a connect
    /// proxy down, slow, or answering nonsense).
    pub code: crate::protocol::ErrorCode,
}

impl AuthRejection {
    /// Refused: `unauthorized`, with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: crate::protocol::ErrorCode::Unauthorized,
        }
    }

    /// The same rejection with `code`.
    pub fn with_code(mut self, code: crate::protocol::ErrorCode) -> Self {
        self.code = code;
        self
    }
}

/// The future an [`Authenticator`] returns.
pub type AuthFuture = Pin<Box<dyn Future<Output = Result<Identity, AuthRejection>> + Send>>;

/// Decides whether a `hub:connect` may register its address.
pub trait Authenticator: Send + Sync + 'static {
    /// Checks one connect request.
    fn authenticate(&self, request: ConnectRequest) -> AuthFuture;

    /// Checks a subscription token (`hub:subscribe` with a `token`, and
    /// `hub:sub_refresh`): the right to subscribe to one topic, granted by
    /// the application at the moment of joining. By default none is
    /// accepted.
    fn authorize_subscription(&self, request: SubscriptionRequest) -> TopicGrantFuture {
        let _ = request;
        Box::pin(std::future::ready(Err(AuthRejection::new(
            "this hub takes no subscription tokens (its authenticator checks none)",
        ))))
    }

    /// Whether this authenticator checks anything (used for the start-up warning).
    fn is_enforcing(&self) -> bool {
        true
    }
}

/// Accepts every connect under the address it asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, request: ConnectRequest) -> AuthFuture {
        Box::pin(std::future::ready(Ok(Identity::new(request.address))))
    }

    fn authorize_subscription(&self, _: SubscriptionRequest) -> TopicGrantFuture {
        let every = Right::ALL.into_iter().filter(|r| r.on_topics()).collect();
        Box::pin(std::future::ready(Ok(TopicGrant {
            valid_until: None,
            rights: every,
        })))
    }

    fn is_enforcing(&self) -> bool {
        false
    }
}
