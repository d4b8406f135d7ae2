//! JWKS URLs: the key set is fetched, cached and fetched again on rotation; an http URL off loopback is refused.

use super::*;

/// The JWKS of `names` (key files) under `kid`s.
fn jwks_json(keys: &[(&str, &str)]) -> String {
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    let keys = keys
        .iter()
        .map(|(name, kid)| {
            let pem = std::fs::read(format!("{KEYS}/rsa_{name}_private.pem")).unwrap();
            let encoding = EncodingKey::from_rsa_pem(&pem).unwrap();
            let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
            jwk.common.key_id = Some((*kid).into());
            jwk
        })
        .collect();
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

/// An identity provider's JWKS endpoint on loopback: serves whatever set
/// it holds now, and counts the requests.
struct JwksEndpoint {
    addr: std::net::SocketAddr,
    body: std::sync::Arc<std::sync::Mutex<String>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl JwksEndpoint {
    async fn start(body: String) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let body = std::sync::Arc::new(std::sync::Mutex::new(body));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (served, counted) = (body.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        Self { addr, body, hits }
    }

    fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    fn serve(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A key set from a URL: fetched at the first connect, fetched again when a
/// token names a key it lacks (a rotation), but not again for the next
/// unknown `kid` within `jwt_jwks_refetch_interval_ms`.
#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_url_is_fetched_cached_and_refetched_on_rotation() {
    let idp = JwksEndpoint::start(jwks_json(&[("a", "key-a")])).await;
    let mut config = test_config();
    config.jwt_jwks_url = idp.url();
    config.jwt_algorithms = vec!["RS256".into()];
    // Long enough that no second refetch can be allowed during the test.
    config.jwt_jwks_refetch_interval_ms = 3_600_000;
    let server = start(config);
    assert_eq!(idp.hits(), 0, "fetched at the first connect, not before");

    let with_a = rs(&claims("erin"), "a", Some("key-a"));
    assert_eq!(
        connect_with(&server, "erin", Some(&with_a)).await["type"],
        "hub:connected"
    );
    assert_eq!(idp.hits(), 1);
    assert_eq!(
        connect_with(&server, "erin", Some(&with_a)).await["type"],
        "hub:connected"
    );
    assert_eq!(idp.hits(), 1, "cached");

    // The provider rotates: key-b appears. A token under it makes one refetch.
    idp.serve(jwks_json(&[("a", "key-a"), ("b", "key-b")]));
    let with_b = rs(&claims("erin"), "b", Some("key-b"));
    assert_eq!(
        connect_with(&server, "erin", Some(&with_b)).await["type"],
        "hub:connected"
    );
    assert_eq!(idp.hits(), 2, "refetched for the unknown kid");

    // Made-up kids: refused, without a fetch each.
    for i in 0..5 {
        let made_up = rs(&claims("erin"), "a", Some(&format!("key-{i}")));
        assert_refused(
            &connect_with(&server, "erin", Some(&made_up)).await,
            "unknown",
        );
    }
    assert_eq!(idp.hits(), 2, "unknown kids are rate-limited");
}

#[test]
fn a_jwks_url_must_be_https_off_loopback() {
    let mut config = test_config();
    config.jwt_jwks_url = "http://idp.example.com/jwks.json".into();
    config.jwt_algorithms = vec!["RS256".into()];
    let e = hub_server::spawn(config.clone()).unwrap_err().to_string();
    assert!(e.contains("https"), "{e}");
    config.jwt_jwks_url = "https://idp.example.com/jwks.json".into();
    config.jwt_hmac_secret = SECRET.into();
    let e = hub_server::spawn(config).unwrap_err().to_string();
    assert!(e.contains("not several"), "{e}");
}
