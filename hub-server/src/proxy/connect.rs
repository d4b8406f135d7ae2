//! The connect proxy: a client's `hub:connect` (its address, device,
//! metadata, token, IP and the headers it was allowed to forward) is posted
//! to the backend, which answers who the client is:
//!
//! ```json
//! {"result": {"user": "alice", "expire_at": 1767225600, "info": {"name": "Alice"},
//!             "grants": {"topics": {"chat:*": ["subscribe", "publish"]}}, "channels": ["news"]}}
//! {"error": {"code": "banned", "message": "this account is suspended"}}
//! ```
//!
//! A connect that carries a token goes to the JWT check instead, when one is
//! configured (a mobile client with a token, a browser with a cookie).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use hub_core::auth::jwt::{MAX_CHANNELS, MAX_INFO_BYTES};
use hub_core::auth::{
    AuthFuture, AuthRejection, Authenticator, ConnectRequest, Identity, SubscriptionRequest,
    TopicGrantFuture,
};
use hub_core::permissions::{Grants, GrantsClaim};
use hub_core::protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{malformed, Answered, Failure, Proxy};

/// See the module docs.
#[derive(Clone)]
pub struct ConnectProxy {
    proxy: Arc<Proxy>,
    /// The JWT check, for connects that carry a token.
    tokens: Option<Arc<dyn Authenticator>>,
}

impl std::fmt::Debug for ConnectProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectProxy")
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// What is posted.
#[derive(Serialize)]
struct Asked<'a> {
    /// The session's id.
    client: &'a str,
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ip: Option<String>,
    headers: BTreeMap<&'a str, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Accepted {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    expire_at: Option<u64>,
    #[serde(default)]
    info: Option<Box<RawValue>>,
    #[serde(default)]
    grants: Option<GrantsClaim>,
    #[serde(default)]
    channels: Option<Vec<String>>,
}

impl ConnectProxy {
    /// Connects decided by `proxy`; those with a token by `tokens`, if given.
    pub fn new(proxy: Proxy, tokens: Option<Arc<dyn Authenticator>>) -> Self {
        Self {
            proxy: Arc::new(proxy),
            tokens,
        }
    }
}

impl Authenticator for ConnectProxy {
    fn authenticate(&self, request: ConnectRequest) -> AuthFuture {
        if let (Some(tokens), Some(_)) = (&self.tokens, &request.token) {
            return tokens.authenticate(request);
        }
        let proxy = self.proxy.clone();
        Box::pin(async move {
            let mut headers: BTreeMap<&str, String> = BTreeMap::new();
            for (name, value) in &request.headers {
                headers
                    .entry(name)
                    .and_modify(|v| {
                        v.push_str(", ");
                        v.push_str(value);
                    })
                    .or_insert_with(|| value.clone());
            }
            let asked = Asked {
                client: &request.session_id,
                address: &request.address,
                device: request.device.as_deref(),
                token: request.token.as_deref(),
                metadata: request.metadata.as_deref(),
                client_ip: request.peer.map(|p| p.ip().to_string()),
                headers,
            };
            let answered = match proxy.call::<Answered<Accepted>>(&asked).await {
                Ok(answered) => answered,
                Err(failure) => return Err(failed(failure)),
            };
            decide(answered, &request.address)
        })
    }

    fn authorize_subscription(&self, request: SubscriptionRequest) -> TopicGrantFuture {
        match &self.tokens {
            Some(tokens) => tokens.authorize_subscription(request),
            None => Box::pin(std::future::ready(Err(AuthRejection::new(
                "this hub takes no subscription tokens (its connect proxy checks none)",
            )))),
        }
    }
}

/// The refusal for a call that got no usable answer.
fn failed(failure: Failure) -> AuthRejection {
    match failure {
        Failure::Busy => AuthRejection::new(
            "the connect proxy has proxy_max_concurrency calls in flight; try again",
        )
        .with_code(ErrorCode::Unavailable),
        Failure::Unavailable(why) => {
            AuthRejection::new(format!("the connect proxy did not answer: {why}"))
                .with_code(ErrorCode::Unavailable)
        }
        Failure::Malformed(_) => AuthRejection::new("the connect proxy's answer could not be used")
            .with_code(ErrorCode::Internal),
    }
}

/// The identity, or the refusal, the backend's answer says.
fn decide(answered: Answered<Accepted>, address: &str) -> Result<Identity, AuthRejection> {
    let malformed = |why: &str| {
        malformed("connect", why);
        failed(Failure::Malformed(why.to_owned()))
    };
    match answered.decided().map_err(malformed)? {
        Ok(accepted) => {
            let user = accepted.user.unwrap_or_else(|| address.to_owned());
            let mut identity = Identity::new(user);
            identity = identity.with_grants(match &accepted.grants {
                Some(claim) => Grants::from_claim(claim).map_err(|e| malformed(&e.to_string()))?,
                None => Grants::none(),
            });
            identity.valid_until = accepted
                .expire_at
                .map(|at| UNIX_EPOCH + Duration::from_secs(at));
            if let Some(info) = accepted.info.filter(|i| i.get() != "null") {
                if info.get().len() > MAX_INFO_BYTES {
                    return Err(malformed("info is over 4096 bytes"));
                }
                identity = identity.with_info(Arc::from(info));
            }
            let channels = accepted.channels.unwrap_or_default();
            if channels.len() > MAX_CHANNELS {
                return Err(malformed("channels lists more than 256 topics"));
            }
            Ok(identity.with_channels(channels))
        }
        Err(refused) => Err(AuthRejection::new(match &refused.code {
            Some(code) => format!("refused by the application ({code}): {}", refused.message),
            None => format!("refused by the application: {}", refused.message),
        })),
    }
}
