//! API keys: who may call the server API, with which scopes, how often.
//!
//! A key is presented as `Authorization: Bearer <key>`. The server keeps
//! only each key's SHA-256 digest and compares the digest of what it is
//! shown with every configured one in constant time (`subtle`), so neither
//! the comparison nor which key matched leaks through timing. Each key has
//! its own rate limit (governor).

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use actix_web::{web, FromRequest, HttpRequest};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hub_core::protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;

const KEY_HINT: &str = "send Authorization: Bearer <key> with a key from the server's api_keys";

/// A key was sent but matches none: the usual slips.
const WRONG_KEY_HINT: &str = "compare it with the `key` of an entry in the server's api_keys \
     (whitespace and quotes included); keys added to the config take effect after a reload \
     (SIGHUP or POST /api/reload)";

/// Shortest key accepted in the config: guessing must stay out of reach.
pub const MIN_KEY_BYTES: usize = 16;

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `POST /api/publish`.
    Publish,
    /// `POST /api/send`.
    Send,
    /// `POST /api/broadcast`.
    Broadcast,
    /// `POST /api/disconnect`.
    Disconnect,
    /// `GET /api/topics`, `GET /api/node`.
    Read,
    /// `POST /api/reload`.
    Admin,
}

impl Scope {
    /// The name used in config and errors.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Send => "send",
            Self::Broadcast => "broadcast",
            Self::Disconnect => "disconnect",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }
}

/// One `[[api_keys]]` entry of the config.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A name for logs and errors, and the default sender of its messages.
    pub name: String,
    /// The secret (at least 16 bytes); sent as `Authorization: Bearer <key>`.
    pub key: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl std::fmt::Debug for ApiKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyConfig")
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish()
    }
}

struct Key {
    name: String,
    digest: [u8; 32],
    scopes: Vec<Scope>,
    quota: Option<Quota>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
}

/// The configured keys, ready to check requests against.
pub struct ApiKeys {
    /// Swapped whole by a reload; a request checks against one list.
    keys: RwLock<Arc<Vec<Key>>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field(
                "keys",
                &self.current().iter().map(|k| &k.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ApiKeys {
    /// From the config; `rate_per_sec` requests per second per key (0: no limit).
    ///
    /// # Errors
    /// A short key, a duplicate name or key, or a key without scopes.
    pub fn new(config: &[ApiKeyConfig], rate_per_sec: u32) -> Result<Self, String> {
        Ok(Self {
            keys: RwLock::new(Arc::new(keys(config, rate_per_sec, &[])?)),
        })
    }

    /// Checks requests against `config` from now (a reload). A key kept
    /// under the same rate keeps its rate limit's state.
    ///
    /// # Errors
    /// As [`Self::new`]; the keys in force stay.
    pub fn replace(&self, config: &[ApiKeyConfig], rate_per_sec: u32) -> Result<(), String> {
        let next = keys(config, rate_per_sec, &self.current())?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }

    fn current(&self) -> Arc<Vec<Key>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key presented in `Authorization`, checked for `scope` and its rate.
    fn authorize(&self, req: &HttpRequest, scope: Option<Scope>) -> Result<Caller, ApiError> {
        let presented = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "this request needs an API key: Authorization: Bearer <key>",
                )
                .hint(KEY_HINT)
            })?;
        let keys = self.current();
        if keys.is_empty() {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the server API has no keys configured",
            )
            .hint("add [[api_keys]] with name, key and scopes to the server's config"));
        }
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        // Every key is compared, whichever matches.
        let mut found = None;
        for (index, key) in keys.iter().enumerate() {
            if bool::from(key.digest.ct_eq(&digest)) {
                found = Some(index);
            }
        }
        let key = found.map(|i| &keys[i]).ok_or_else(|| {
            ApiError::new(ErrorCode::Unauthorized, "the API key is not valid").hint(WRONG_KEY_HINT)
        })?;
        if let Some(scope) = scope {
            key.require(scope)?;
        }
        if let Some(limiter) = &key.limiter {
            if let Err(not_until) = limiter.check() {
                use governor::clock::Clock;
                let wait = not_until.wait_time_from(limiter.clock().now());
                return Err(ApiError::rate_limited(wait.as_millis() as u64 + 1));
            }
        }
        Ok(Caller {
            name: key.name.clone(),
            scopes: key.scopes.clone(),
        })
    }
}

/// The keys of `config`, each limited to `rate_per_sec` (0: no limit);
/// a key in `before` with the same secret and rate keeps its limiter.
fn keys(config: &[ApiKeyConfig], rate_per_sec: u32, before: &[Key]) -> Result<Vec<Key>, String> {
    let mut keys: Vec<Key> = Vec::with_capacity(config.len());
    for entry in config {
        if entry.key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "api key `{}` is shorter than {MIN_KEY_BYTES} bytes",
                entry.name
            ));
        }
        if entry.scopes.is_empty() {
            return Err(format!("api key `{}` has no scopes", entry.name));
        }
        let digest: [u8; 32] = Sha256::digest(entry.key.as_bytes()).into();
        if keys
            .iter()
            .any(|k| k.name == entry.name || k.digest == digest)
        {
            return Err(format!("api key `{}` is listed twice", entry.name));
        }
        let quota = std::num::NonZeroU32::new(rate_per_sec).map(Quota::per_second);
        let kept = before
            .iter()
            .find(|k| k.digest == digest && k.quota == quota)
            .and_then(|k| k.limiter.clone());
        let limiter = kept.or_else(|| quota.map(|quota| Arc::new(RateLimiter::direct(quota))));
        keys.push(Key {
            name: entry.name.clone(),
            digest,
            scopes: entry.scopes.clone(),
            quota,
            limiter,
        });
    }
    Ok(keys)
}

impl Key {
    fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            return Ok(());
        }
        Err(ApiError::forbidden_scope(&self.name, scope))
    }
}

/// The key a request was made with.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's name.
    pub name: String,
    scopes: Vec<Scope>,
}

impl Caller {
    /// Checks one more scope (for the items of a batch).
    ///
    /// # Errors
    /// 403 `forbidden`, naming the scope.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            return Ok(());
        }
        Err(ApiError::forbidden_scope(&self.name, scope))
    }
}

/// A scope a route needs, as a type (see [`Authorized`]).
pub trait RequiredScope {
    /// The scope; `None`: any valid key.
    const SCOPE: Option<Scope>;
}

macro_rules! scopes {
    ($($marker:ident => $scope:expr),* $(,)?) => {$(
        #[doc = concat!("Needs scope `", stringify!($marker), "`.")]
        #[derive(Debug)]
        pub struct $marker;
        impl RequiredScope for $marker {
            const SCOPE: Option<Scope> = $scope;
        }
    )*};
}

scopes! {
    NeedsPublish => Some(Scope::Publish),
    NeedsSend => Some(Scope::Send),
    NeedsBroadcast => Some(Scope::Broadcast),
    NeedsDisconnect => Some(Scope::Disconnect),
    NeedsRead => Some(Scope::Read),
    NeedsAdmin => Some(Scope::Admin),
    AnyScope => None,
}

/// An extractor that admits a request with a valid key holding scope `S`,
/// within its rate, before the body is read: 401, 403 and 429 come before
/// 400 and 413.
#[derive(Debug)]
pub struct Authorized<S> {
    /// The key.
    pub caller: Caller,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(keys) = req.app_data::<web::Data<ApiKeys>>() else {
            return ready(Err(ApiError::new(
                ErrorCode::Internal,
                "API keys not set up",
            )));
        };
        ready(keys.authorize(req, S::SCOPE).map(|caller| Authorized {
            caller,
            _scope: PhantomData,
        }))
    }
}
