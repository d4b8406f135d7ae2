//! Fetching a JSON Web Key Set from its URL (`jwt_jwks_url`), for
//! hub-core's `RemoteKeySet`, which decides when to fetch.
//!
//! Keys decide who may connect, so the URL must be `https://` (rustls, the
//! system's roots), or plain `http://` on loopback only (a local identity
//! service, tests). Each fetch is bounded: 5 s, 1 MiB, no redirect, a fresh
//! connection (fetches are rare, and the server's worker threads each run
//! their own runtime, which a pooled connection would be tied to).

use std::time::Duration;

use hub_core::auth::remote_keys::{FetchFuture, KeySetSource};

/// Largest key set accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// A key set at a URL.
#[derive(Debug)]
pub struct HttpKeySet {
    client: reqwest::Client,
    url: String,
}

impl HttpKeySet {
    /// A source for `url`.
    ///
    /// # Errors
    /// A URL that is neither `https://` nor loopback `http://`, or no TLS roots.
    pub fn new(url: &str) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("jwt_jwks_url: {e}"))?;
        let host = parsed.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(format!(
                    "jwt_jwks_url must be https:// (plain http only on loopback): {url}"
                ))
            }
        }
        let tls = crate::tls::outbound_client_config()?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("jwt_jwks_url: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
        })
    }
}

impl KeySetSource for HttpKeySet {
    fn fetch(&self) -> FetchFuture {
        let request = self.client.get(&self.url);
        let url = self.url.clone();
        Box::pin(async move {
            let fail = |e: &dyn std::fmt::Display| format!("GET {url}: {e}");
            let mut response = request.send().await.map_err(|e| fail(&e))?;
            if !response.status().is_success() {
                return Err(fail(&response.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| fail(&e))? {
                if body.len() + chunk.len() > MAX_JWKS_BYTES {
                    return Err(fail(&"the key set is larger than 1 MiB"));
                }
                body.extend_from_slice(&chunk);
            }
            String::from_utf8(body).map_err(|e| fail(&e))
        })
    }
}
