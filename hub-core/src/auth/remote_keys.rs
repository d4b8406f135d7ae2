//! A JSON Web Key Set fetched from where the identity
//! provider publishes it (a JWKS URL), cached, and fetched again when it is
//! older than its time to live or when a token names a key it lacks (the
//! provider rotated its keys). Refetches for unknown keys are rate-limited
//! (governor), so a flood of tokens with made-up `kid`s costs the provider
//! one request per interval, not one per token. Concurrent connects wait on
//! one fetch. A failed fetch keeps the last good set.
//!
//! The fetch itself is the application's ([`KeySetSource`]): hub-core has
//! no HTTP client; hub-server brings one.

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jsonwebtoken::DecodingKey;

/// The future a [`KeySetSource`] returns: the key set's JSON text, or why not.
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// Fetches the current key set (e.g. an HTTP GET of a JWKS URL).
pub trait KeySetSource: Send + Sync + 'static {
    /// One fetch.
    fn fetch(&self) -> FetchFuture;
}

/// Keys by id.
pub(crate) type KeySet = Vec<(String, DecodingKey)>;

/// The state behind a JWKS URL. See the module docs.
pub(crate) struct RemoteKeySet {
    source: Box<dyn KeySetSource>,
    parse: fn(&str) -> Result<KeySet, String>,
    cached: RwLock<Cache>,
    /// One fetch at a time; the others wait for its result.
    fetching: tokio::sync::Mutex<()>,
    unknown_kid_refetch: DefaultDirectRateLimiter,
    refetch_interval: Duration,
    max_age: Duration,
}

#[derive(Default)]
struct Cache {
    set: Arc<KeySet>,
    /// The last successful fetch.
    fetched_at: Option<Instant>,
    /// The last fetch, successful or not.
    attempted_at: Option<Instant>,
}

impl RemoteKeySet {
    pub(crate) fn new(
        source: Box<dyn KeySetSource>,
        parse: fn(&str) -> Result<KeySet, String>,
        refetch_interval: Duration,
        max_age: Duration,
    ) -> Self {
        let quota = Quota::with_period(refetch_interval.max(Duration::from_millis(1)))
            .expect("a positive period")
            .allow_burst(NonZeroU32::MIN);
        Self {
            source,
            parse,
            cached: RwLock::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
            unknown_kid_refetch: RateLimiter::direct(quota),
            refetch_interval,
            max_age,
        }
    }

    /// The key set as cached now (empty before the first fetch).
    pub(crate) fn cached(&self) -> Arc<KeySet> {
        self.cached
            .read()
            .map(|c| c.set.clone())
            .unwrap_or_default()
    }

    fn times(&self) -> (Option<Instant>, Option<Instant>) {
        self.cached
            .read()
            .map(|c| (c.fetched_at, c.attempted_at))
            .unwrap_or_default()
    }

    /// The key named `kid`: from the cache if it is fresh and has it; else
    /// after a fetch (the first one, a stale cache, or an unknown `kid`
    /// while the refetch rate allows). After a failed fetch the next one
    /// waits `refetch_interval`, whoever asks.
    pub(crate) async fn key(&self, kid: &str) -> Result<DecodingKey, String> {
        let (fetched_at, attempted_at) = self.times();
        let stale = fetched_at.is_none_or(|at| at.elapsed() >= self.max_age);
        let may_retry = attempted_at.is_none_or(|at| at.elapsed() >= self.refetch_interval);
        let fetch = if stale {
            may_retry
        } else {
            find(&self.cached(), kid).is_none() && self.unknown_kid_refetch.check().is_ok()
        };
        if fetch {
            let _guard = self.fetching.lock().await;
            // Someone else fetched while we waited: use theirs.
            if self.times().1 == attempted_at {
                self.refresh().await;
            }
        }
        find(&self.cached(), kid).ok_or_else(|| {
            if self.times().0.is_none() {
                "the key set could not be fetched; try again later".into()
            } else {
                "the token's key (kid) is unknown".into()
            }
        })
    }

    async fn refresh(&self) {
        let parsed = match self.source.fetch().await {
            Ok(text) => (self.parse)(&text),
            Err(e) => Err(e),
        };
        let Ok(mut cached) = self.cached.write() else {
            return;
        };
        let now = Instant::now();
        cached.attempted_at = Some(now);
        match parsed {
            Ok(set) => {
                cached.set = Arc::new(set);
                cached.fetched_at = Some(now);
            }
            // The last good set stays; a later connect tries again.
            Err(e) => tracing::warn!(error = %e, "could not fetch the JWKS key set"),
        }
    }
}

fn find(set: &KeySet, kid: &str) -> Option<DecodingKey> {
    set.iter()
        .find(|(id, _)| id == kid)
        .map(|(_, key)| key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Serves a settable answer and counts fetches.
    #[derive(Clone)]
    struct Fake {
        answer: Arc<Mutex<Result<String, String>>>,
        fetches: Arc<AtomicUsize>,
    }

    impl Default for Fake {
        fn default() -> Self {
            Self {
                answer: Arc::new(Mutex::new(Err("nothing yet".into()))),
                fetches: Arc::default(),
            }
        }
    }

    impl KeySetSource for Fake {
        fn fetch(&self) -> FetchFuture {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.lock().unwrap().clone();
            Box::pin(async move {
                tokio::task::yield_now().await;
                answer
            })
        }
    }

    fn oct(kids: &[&str]) -> String {
        let keys: Vec<String> = kids
            .iter()
            .map(|kid| format!(r#"{{"kty":"oct","kid":"{kid}","k":"c2VjcmV0"}}"#))
            .collect();
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    fn parse(text: &str) -> Result<KeySet, String> {
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(text).map_err(|e| e.to_string())?;
        set.keys
            .iter()
            .map(|jwk| {
                let kid = jwk.common.key_id.clone().unwrap_or_default();
                DecodingKey::from_jwk(jwk)
                    .map(|k| (kid, k))
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    fn remote(fake: &Fake, interval: Duration) -> RemoteKeySet {
        RemoteKeySet::new(
            Box::new(fake.clone()),
            parse,
            interval,
            Duration::from_secs(3600),
        )
    }

    #[tokio::test]
    async fn concurrent_first_connects_share_one_fetch() {
        let fake = Fake::default();
        *fake.answer.lock().unwrap() = Ok(oct(&["a"]));
        let remote = Arc::new(remote(&fake, Duration::from_secs(3600)));
        let lookups = (0..8).map(|_| {
            let remote = remote.clone();
            async move { remote.key("a").await.is_ok() }
        });
        let found = futures_util::future::join_all(lookups).await;
        assert!(found.iter().all(|ok| *ok));
        assert_eq!(fake.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_retried_before_the_interval() {
        let fake = Fake::default();
        *fake.answer.lock().unwrap() = Err("the provider is down".into());
        let remote = remote(&fake, Duration::from_secs(3600));
        let e = remote.key("a").await.unwrap_err();
        assert!(e.contains("could not be fetched"), "{e}");
        *fake.answer.lock().unwrap() = Ok(oct(&["a"]));
        assert!(
            remote.key("a").await.is_err(),
            "no retry within the interval"
        );
        assert_eq!(fake.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_refetch_keeps_the_last_good_set() {
        let fake = Fake::default();
        *fake.answer.lock().unwrap() = Ok(oct(&["a"]));
        let remote = remote(&fake, Duration::from_secs(3600));
        assert!(remote.key("a").await.is_ok());
        *fake.answer.lock().unwrap() = Ok("not a key set".into());
        assert!(
            remote.key("b").await.is_err(),
            "unknown, and the refetch failed"
        );
        assert!(remote.key("a").await.is_ok(), "the last good set stays");
        assert_eq!(fake.fetches.load(Ordering::SeqCst), 2);
    }
}
