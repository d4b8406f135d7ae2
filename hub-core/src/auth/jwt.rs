//! [`JwtAuth`]: connection auth by JSON Web Token (RFC 7519), verified with
//! the `jsonwebtoken` crate. The token's `sub` is the address: a client
//! cannot register under another one.
//!
//! What it refuses, and why:
//! - an algorithm not in the configured list — `none` is never in it (the
//!   crate has no such algorithm) — so a token cannot choose a weaker check;
//! - an algorithm of another family than the key (an HS256 token against an
//!   RSA or EC public key: "algorithm confusion", where the public key would
//!   serve as an HMAC secret anyone knows);
//! - a bad signature, an `exp` in the past or an `nbf` in the future (each
//!   with the configured leeway), a missing `exp` or `sub`, and, when
//!   configured, another `iss` or `aud`;
//! - with a key set (JWKS), a token whose `kid` names no key of the set;
//! - a `grants` claim that does not parse (see [`crate::permissions::grants`]).
//!   A token without one grants nothing: the session may do only what
//!   namespaces open to everyone;
//! - an `info` claim (any JSON: what a topic's members and `hub:join` show
//!   about this address) larger than [`MAX_INFO_BYTES`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde::Deserialize;

use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;

use super::keys::{family_of, find_key, key_family, kid_of, parse_jwks, Family};
use super::remote_keys::{KeySet, KeySetSource, RemoteKeySet};
use super::topic_tokens::{bind_topic, topic_rights};
use super::{
    AuthFuture, AuthRejection, Authenticator, ConnectRequest, Identity, SubscriptionRequest,
    TopicGrantFuture,
};
use crate::permissions::{Grants, GrantsClaim};

/// A JWT key configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// No algorithm is accepted.
    #[error("jwt_algorithms is empty: list the algorithms tokens may use")]
    NoAlgorithms,
    /// An accepted algorithm cannot be checked with the configured key.
    #[error("algorithm {0:?} does not fit the configured key ({1})")]
    AlgorithmDoesNotFitKey(Algorithm, &'static str),
    /// The key (PEM, JWKS) could not be read.
    #[error("the key could not be read: {0}")]
    BadKey(String),
}

/// The keys tokens are checked against.
enum Keys {
    /// One key (an HMAC secret, or a public key), for every token.
    One(DecodingKey),
    /// A key set: the token's `kid` picks the key.
    Set(KeySet),
    /// A key set fetched from its publisher, cached and refreshed.
    Remote(Arc<RemoteKeySet>),
}

/// JWT connection auth. See the module docs.
pub struct JwtAuth {
    keys: Keys,
    algorithms: Vec<Algorithm>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("algorithms", &self.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// The claims read from a token; the others are checked by `jsonwebtoken`.
/// Optional here so that a missing one is reported by the validation as a
/// missing claim (both are required there), not as a malformed token.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<u64>,
    #[serde(default)]
    grants: Option<GrantsClaim>,
    #[serde(default)]
    info: Option<Box<serde_json::value::RawValue>>,
    /// The token's id, by which it can be revoked.
    #[serde(default)]
    jti: Option<String>,
    /// Topics the server subscribes the session to.
    #[serde(default)]
    channels: Option<Vec<String>>,
    /// A subscription token's topic (see `topic_tokens`).
    #[serde(default)]
    topic: Option<String>,
    /// A subscription token's rights on its topic beside `subscribe`.
    #[serde(default)]
    rights: Option<Vec<String>>,
}

/// The most topics a token's `channels` claim may list.
pub const MAX_CHANNELS: usize = 256;

/// The largest `info` claim a token may carry, in bytes: it is repeated in
/// every presence page and `hub:join` that lists the address.
pub const MAX_INFO_BYTES: usize = 4096;

/// What a verified token says.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The `sub` claim: the address.
    pub sub: String,
    /// `exp` plus the leeway.
    pub valid_until: SystemTime,
    /// The `grants` claim; none when absent.
    pub grants: Grants,
    /// The `info` claim, verbatim; `None` when absent or `null`.
    pub info: Option<Arc<serde_json::value::RawValue>>,
    /// The `jti` claim: the token's id, by which it can be revoked.
    pub jti: Option<String>,
    /// The `channels` claim: topics the server subscribes the session to.
    pub channels: Vec<String>,
    /// The `topic` claim: a subscription token's (which cannot connect).
    pub topic: Option<String>,
    /// The `rights` claim: a subscription token's rights on its topic.
    pub rights: Vec<crate::permissions::Right>,
}

impl JwtAuth {
    /// Tokens signed with the HMAC `secret`, by one of `algorithms` (HS256,
    /// HS384, HS512).
    ///
    /// # Errors
    /// No algorithm, or one that is not an HMAC one.
    pub fn hmac(secret: &[u8], algorithms: &[Algorithm]) -> Result<Self, JwtConfigError> {
        Self::new(Keys::One(DecodingKey::from_secret(secret)), algorithms)
    }

    /// Tokens signed by the private half of the PEM public key `pem` (RSA,
    /// EC or Ed25519, as `algorithms` say: they must all be of one family).
    ///
    /// # Errors
    /// No algorithm, algorithms of several families or of HMAC, or a PEM
    /// that is not a key of that family.
    pub fn public_pem(pem: &[u8], algorithms: &[Algorithm]) -> Result<Self, JwtConfigError> {
        let family = family_of(algorithms.first().ok_or(JwtConfigError::NoAlgorithms)?);
        let key = match family {
            Family::Rsa => DecodingKey::from_rsa_pem(pem),
            Family::Ec => DecodingKey::from_ec_pem(pem),
            Family::Ed => DecodingKey::from_ed_pem(pem),
            Family::Hmac => {
                return Err(JwtConfigError::AlgorithmDoesNotFitKey(
                    algorithms[0],
                    "a public key",
                ))
            }
        }
        .map_err(|e| JwtConfigError::BadKey(e.to_string()))?;
        Self::new(Keys::One(key), algorithms)
    }

    /// Tokens signed by one of the keys of the JSON Web Key Set `jwks`,
    /// picked by the token's `kid`.
    ///
    /// # Errors
    /// No algorithm, or a set that does not parse or has a key without `kid`.
    pub fn jwks(jwks: &str, algorithms: &[Algorithm]) -> Result<Self, JwtConfigError> {
        let keys = parse_jwks(jwks).map_err(JwtConfigError::BadKey)?;
        Self::new(Keys::Set(keys), algorithms)
    }

    /// Tokens signed by one of the keys of a JSON Web Key Set that `source`
    /// fetches (a JWKS URL): fetched at the first connect, again when older
    /// than `max_age`, and when a token names an unknown `kid` — at most
    /// once per `refetch_interval` for those. See `remote_keys`.
    ///
    /// # Errors
    /// No algorithm.
    pub fn jwks_source(
        source: impl KeySetSource,
        algorithms: &[Algorithm],
        refetch_interval: Duration,
        max_age: Duration,
    ) -> Result<Self, JwtConfigError> {
        let remote = RemoteKeySet::new(Box::new(source), parse_jwks, refetch_interval, max_age);
        Self::new(Keys::Remote(Arc::new(remote)), algorithms)
    }

    fn new(keys: Keys, algorithms: &[Algorithm]) -> Result<Self, JwtConfigError> {
        if algorithms.is_empty() {
            return Err(JwtConfigError::NoAlgorithms);
        }
        if let Keys::One(key) = &keys {
            let key_family = key_family(key);
            if let Some(bad) = algorithms.iter().find(|a| family_of(a) != key_family) {
                return Err(JwtConfigError::AlgorithmDoesNotFitKey(
                    *bad,
                    key_family.name(),
                ));
            }
        }
        Ok(Self {
            keys,
            algorithms: algorithms.to_vec(),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(5),
        })
    }

    /// Requires the `iss` claim to be `issuer`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires the `aud` claim to name `audience`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How far `exp` and `nbf` may be off (clock skew). Default 5 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Checks `token`; returns its subject, when it stops being accepted
    /// (`exp` plus the leeway) and its grants. With a fetched key set, only
    /// the keys cached now are used (a connect fetches; see
    /// [`JwtAuth::jwks_source`]).
    ///
    /// # Errors
    /// Why the token is refused, in words a client can act on.
    pub fn verify(&self, token: &str) -> Result<Verified, AuthRejection> {
        let header = self.header(token)?;
        let cached;
        let key = match &self.keys {
            Keys::One(key) => key,
            Keys::Set(keys) => find_key(keys, kid_of(&header)?)?,
            Keys::Remote(remote) => {
                cached = remote.cached();
                find_key(&cached, kid_of(&header)?)?
            }
        };
        self.check(token, &header, key)
    }

    /// The token's header, if its algorithm is accepted here.
    fn header(&self, token: &str) -> Result<jsonwebtoken::Header, AuthRejection> {
        let header = decode_header(token).map_err(|_| refuse("the token is not a JWT"))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(refuse(&format!(
                "algorithm {:?} is not accepted here",
                header.alg
            )));
        }
        Ok(header)
    }

    /// Checks `token` against `key`.
    fn check(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
        key: &DecodingKey,
    ) -> Result<Verified, AuthRejection> {
        if key_family(key) != family_of(&header.alg) {
            return Err(refuse("the token's algorithm does not fit the key"));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway.as_secs() + u64::from(self.leeway.subsec_nanos() > 0);
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        let data = decode::<Claims>(token, key, &validation).map_err(|e| {
            refuse(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
                ErrorKind::InvalidIssuer => "the token's issuer (iss) is not accepted",
                ErrorKind::InvalidAudience => "the token is not for this hub (aud)",
                ErrorKind::InvalidSignature => "the token's signature does not verify",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                ErrorKind::Json(_) => "the token's claims do not parse (grants?)",
                _ => "the token is not valid",
            })
        })?;
        let (Some(sub), Some(exp)) = (data.claims.sub, data.claims.exp) else {
            return Err(refuse("the token lacks a required claim"));
        };
        let grants = match &data.claims.grants {
            None => Grants::none(),
            Some(claim) => Grants::from_claim(claim)
                .map_err(|e| refuse(&format!("the token's grants are not usable: {e}")))?,
        };
        let info = data.claims.info.filter(|info| info.get() != "null");
        if info
            .as_ref()
            .is_some_and(|i| i.get().len() > MAX_INFO_BYTES)
        {
            return Err(refuse(&format!(
                "the token's info claim is over {MAX_INFO_BYTES} bytes"
            )));
        }
        let rights = topic_rights(data.claims.rights.as_deref().unwrap_or_default())?;
        if data
            .claims
            .channels
            .as_ref()
            .is_some_and(|c| c.len() > MAX_CHANNELS)
        {
            return Err(refuse(&format!(
                "the token's channels claim lists more than {MAX_CHANNELS} topics"
            )));
        }
        Ok(Verified {
            sub,
            valid_until: UNIX_EPOCH + Duration::from_secs(exp) + self.leeway,
            grants,
            info: info.map(Arc::from),
            topic: data.claims.topic,
            jti: data.claims.jti,
            channels: data.claims.channels.unwrap_or_default(),
            rights,
        })
    }
}

impl Authenticator for JwtAuth {
    fn authenticate(&self, request: ConnectRequest) -> AuthFuture {
        let Some(token) = request.token else {
            return Box::pin(std::future::ready(Err(refuse(
                "a token is required: send it in hub:connect",
            ))));
        };
        let verified = self.verified(token);
        Box::pin(async move { bind(verified.await?, &request.address) })
    }

    fn authorize_subscription(&self, request: SubscriptionRequest) -> TopicGrantFuture {
        let verified = self.verified(request.token.clone());
        Box::pin(async move { bind_topic(verified.await?, &request) })
    }
}

impl JwtAuth {
    /// Checks `token`. With a fetched key set the key may have to be
    /// fetched first: the header is checked at once, the key looked up (and
    /// fetched) in the returned future, and the token checked against it.
    fn verified(
        &self,
        token: String,
    ) -> Pin<Box<dyn Future<Output = Result<Verified, AuthRejection>> + Send>> {
        let Keys::Remote(remote) = &self.keys else {
            return Box::pin(std::future::ready(self.verify(&token)));
        };
        let header = match self.header(&token) {
            Ok(header) => header,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        if let Err(e) = kid_of(&header) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let checker = JwtAuth {
            keys: Keys::Remote(remote.clone()),
            algorithms: self.algorithms.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway: self.leeway,
        };
        let remote = remote.clone();
        Box::pin(async move {
            let kid = header.kid.as_deref().unwrap_or_default();
            let key = remote.key(kid).await.map_err(|e| refuse(&e))?;
            checker.check(&token, &header, &key)
        })
    }
}

/// The identity for a verified token, if its subject is `address`.
fn bind(verified: Verified, address: &str) -> Result<Identity, AuthRejection> {
    if verified.topic.is_some() {
        return Err(refuse(
            "a subscription token (it has a topic claim) cannot connect: use a connection token",
        ));
    }
    if verified.sub != address {
        return Err(refuse("the address must be the token's subject (sub)"));
    }
    let mut identity =
        Identity::until(verified.sub, verified.valid_until).with_grants(verified.grants);
    identity.jti = verified.jti;
    identity.channels = verified.channels;
    Ok(match verified.info {
        Some(info) => identity.with_info(info),
        None => identity,
    })
}

pub(super) fn refuse(message: &str) -> AuthRejection {
    AuthRejection::new(message)
}
