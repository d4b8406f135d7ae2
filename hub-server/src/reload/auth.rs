//! [`RotatingAuth`]: the JWT check a reload can replace, with an overlap.
//!
//! A new secret or key set does not strand the clients holding tokens
//! signed with the old one: until `jwt_rotation_overlap_ms` after the
//! reload, a token the new check refuses is tried against the old one.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hub_core::auth::jwt::JwtAuth;
use hub_core::auth::{
    AuthFuture, Authenticator, ConnectRequest, SubscriptionRequest, TopicGrantFuture,
};

/// See the module docs. Clones share the keys: the hub checks tokens with
/// one, the reload rotates through another.
#[derive(Clone)]
pub struct RotatingAuth {
    keys: Arc<RwLock<Keys>>,
}

struct Keys {
    current: Arc<JwtAuth>,
    /// The check before the last reload, and until when it still counts.
    previous: Option<(Arc<JwtAuth>, Instant)>,
}

impl std::fmt::Debug for RotatingAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RotatingAuth")
    }
}

impl RotatingAuth {
    /// Checks tokens with `current` until a rotation.
    pub fn new(current: JwtAuth) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Keys {
                current: Arc::new(current),
                previous: None,
            })),
        }
    }

    /// Checks tokens with `next` from now; the check in force until now
    /// still accepts what `next` refuses for `overlap`.
    pub fn rotate(&self, next: JwtAuth, overlap: Duration) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::replace(&mut keys.current, Arc::new(next));
        keys.previous = (!overlap.is_zero()).then(|| (old, Instant::now() + overlap));
    }

    /// The checks to try, in order: the current one, and the previous one
    /// while its overlap lasts.
    fn checks(&self) -> (Arc<JwtAuth>, Option<Arc<JwtAuth>>) {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let previous = keys
            .previous
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(auth, _)| auth.clone());
        (keys.current.clone(), previous)
    }
}

impl Authenticator for RotatingAuth {
    fn authenticate(&self, request: ConnectRequest) -> AuthFuture {
        let (current, previous) = self.checks();
        let Some(previous) = previous else {
            return current.authenticate(request);
        };
        let first = current.authenticate(request.clone());
        Box::pin(async move {
            match first.await {
                Ok(identity) => Ok(identity),
                // The refusal a client sees is the current check's.
                Err(refused) => previous.authenticate(request).await.map_err(|_| refused),
            }
        })
    }

    fn authorize_subscription(&self, request: SubscriptionRequest) -> TopicGrantFuture {
        let (current, previous) = self.checks();
        let Some(previous) = previous else {
            return current.authorize_subscription(request);
        };
        let first = current.authorize_subscription(request.clone());
        Box::pin(async move {
            match first.await {
                Ok(grant) => Ok(grant),
                Err(refused) => previous
                    .authorize_subscription(request)
                    .await
                    .map_err(|_| refused),
            }
        })
    }
}
