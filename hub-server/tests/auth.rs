//! JWT connection auth over a real socket: what connects, and each way a
//! token is refused (`unauthorized`, the session stays open for another try).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs(claims: &Value, alg: Algorithm) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn rs(claims: &Value, key: &str, kid: Option<&str>) -> String {
    let pem = std::fs::read(format!("{KEYS}/rsa_{key}_private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "exp": now() + 600})
}

fn hmac_server() -> hub_server::SpawnedServer {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    config.jwt_issuer = "https://issuer.example".into();
    config.jwt_audience = "signal-hub".into();
    start(config)
}

/// Sends `hub:connect` for `address` with `token`; returns the answer.
async fn connect_with(
    server: &hub_server::SpawnedServer,
    address: &str,
    token: Option<&str>,
) -> Value {
    let mut c = Client::open(server).await;
    let mut frame = json!({"type": "hub:connect", "id": 1, "address": address});
    if let Some(token) = token {
        frame["token"] = json!(token);
    }
    c.request(frame).await
}

fn assert_refused(answer: &Value, words: &str) {
    assert_eq!(answer["type"], "hub:error", "{answer}");
    assert_eq!(answer["code"], "unauthorized", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains(words), "expected `{words}` in `{message}`");
}

fn good_claims(sub: &str) -> Value {
    let mut c = claims(sub);
    c["iss"] = json!("https://issuer.example");
    c["aud"] = json!("signal-hub");
    c
}

/// A valid token connects its subject, and only its subject.
#[tokio::test]
async fn a_valid_token_connects_its_subject_only() {
    let server = hmac_server();
    let token = hs(&good_claims("alice"), Algorithm::HS256);
    let answer = connect_with(&server, "alice", Some(&token)).await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    assert_eq!(answer["address"], "alice");
    assert_refused(&connect_with(&server, "bob", Some(&token)).await, "subject");
    assert_refused(
        &connect_with(&server, "alice", None).await,
        "token is required",
    );
}

/// Every way a token can be wrong gets its own refusal.
#[tokio::test]
async fn bad_tokens_are_refused_each_with_its_reason() {
    let server = hmac_server();
    let mut expired = good_claims("alice");
    expired["exp"] = json!(now() - 600);
    assert_refused(
        &connect_with(&server, "alice", Some(&hs(&expired, Algorithm::HS256))).await,
        "expired",
    );
    let mut early = good_claims("alice");
    early["nbf"] = json!(now() + 600);
    assert_refused(
        &connect_with(&server, "alice", Some(&hs(&early, Algorithm::HS256))).await,
        "not valid yet",
    );
    let mut other_iss = good_claims("alice");
    other_iss["iss"] = json!("https://elsewhere.example");
    assert_refused(
        &connect_with(&server, "alice", Some(&hs(&other_iss, Algorithm::HS256))).await,
        "issuer",
    );
    let mut other_aud = good_claims("alice");
    other_aud["aud"] = json!("another-service");
    assert_refused(
        &connect_with(&server, "alice", Some(&hs(&other_aud, Algorithm::HS256))).await,
        "aud",
    );
    let mut no_exp = good_claims("alice");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_refused(
        &connect_with(&server, "alice", Some(&hs(&no_exp, Algorithm::HS256))).await,
        "claim",
    );
    // A signature that does not match the claims.
    let good = hs(&good_claims("alice"), Algorithm::HS256);
    let other = hs(&good_claims("mallory"), Algorithm::HS256);
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_refused(
        &connect_with(&server, "mallory", Some(&forged)).await,
        "signature",
    );
    // An algorithm not on the list (HS256 only).
    let hs512 = hs(&good_claims("alice"), Algorithm::HS512);
    assert_refused(
        &connect_with(&server, "alice", Some(&hs512)).await,
        "not accepted",
    );
    // `alg: none`: no signature at all.
    let header = base64url(r#"{"alg":"none","typ":"JWT"}"#);
    let body = base64url(&good_claims("alice").to_string());
    let unsigned = format!("{header}.{body}.");
    assert_refused(&connect_with(&server, "alice", Some(&unsigned)).await, "");
    assert_refused(
        &connect_with(&server, "alice", Some("not-a-jwt")).await,
        "not a JWT",
    );
}

/// RS256 against a PEM public key; an HS256 token "signed" with the public
/// key as its secret (algorithm confusion) is refused even when HS256 is on
/// the list.
#[tokio::test]
async fn public_keys_verify_rs256_and_refuse_algorithm_confusion() {
    let mut config = test_config();
    config.jwt_public_key_file = format!("{KEYS}/rsa_a_public.pem");
    config.jwt_algorithms = vec!["RS256".into()];
    let server = start(config);
    let token = rs(&claims("carol"), "a", None);
    assert_eq!(
        connect_with(&server, "carol", Some(&token)).await["type"],
        "hub:connected"
    );
    let wrong_key = rs(&claims("carol"), "b", None);
    assert_refused(
        &connect_with(&server, "carol", Some(&wrong_key)).await,
        "signature",
    );
    let public = std::fs::read(format!("{KEYS}/rsa_a_public.pem")).unwrap();
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims("carol"),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    assert_refused(
        &connect_with(&server, "carol", Some(&confused)).await,
        "not accepted",
    );

    // Listing HS256 beside an RSA key is refused at start, naming the problem.
    let mut config = test_config();
    config.jwt_public_key_file = format!("{KEYS}/rsa_a_public.pem");
    config.jwt_algorithms = vec!["RS256".into(), "HS256".into()];
    let error = hub_server::spawn(config).unwrap_err().to_string();
    assert!(error.contains("HS256"), "{error}");
}

/// A key set: the token's `kid` picks the key; an unknown `kid` is refused.
#[tokio::test]
async fn a_key_set_picks_the_key_by_kid() {
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    let mut keys = Vec::new();
    for (name, kid) in [("a", "key-a"), ("b", "key-b")] {
        let pem = std::fs::read(format!("{KEYS}/rsa_{name}_private.pem")).unwrap();
        let encoding = EncodingKey::from_rsa_pem(&pem).unwrap();
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.into());
        keys.push(jwk);
    }
    let dir = std::env::temp_dir().join(format!("signal-hub-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jwks.json");
    std::fs::write(&path, serde_json::to_string(&JwkSet { keys }).unwrap()).unwrap();
    let mut config = test_config();
    config.jwt_jwks_file = path.display().to_string();
    config.jwt_algorithms = vec!["RS256".into()];
    let server = start(config);
    let with_b = rs(&claims("dave"), "b", Some("key-b"));
    assert_eq!(
        connect_with(&server, "dave", Some(&with_b)).await["type"],
        "hub:connected"
    );
    let mislabeled = rs(&claims("dave"), "a", Some("key-b"));
    assert_refused(
        &connect_with(&server, "dave", Some(&mislabeled)).await,
        "signature",
    );
    let unknown = rs(&claims("dave"), "a", Some("key-z"));
    assert_refused(
        &connect_with(&server, "dave", Some(&unknown)).await,
        "unknown",
    );
    let _ = std::fs::remove_dir_all(dir);
}

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

/// Without a key, hub-server refuses to listen on a public address unless
/// `insecure` is set, and says how to fix it.
#[tokio::test]
async fn an_open_server_stays_on_loopback_unless_told() {
    let mut config = test_config();
    config.bind = "0.0.0.0:0".into();
    let error = hub_server::spawn(config.clone()).unwrap_err().to_string();
    assert!(
        error.contains("jwt_hmac_secret") && error.contains("insecure"),
        "{error}"
    );
    config.insecure = true;
    hub_server::spawn(config).expect("insecure = true runs open");
}

/// Runs `hub-server token` with `args` and the test secret; returns its
/// output.
fn token_command(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .arg("token")
        .args(args)
        .args(["--set", &format!("jwt_hmac_secret={SECRET}")])
        .output()
        .expect("hub-server runs")
}

/// The token `hub-server token` printed; panics with its stderr on failure.
fn minted(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned()
}

/// `hub-server token` mints a development token the server accepts.
#[tokio::test]
async fn the_token_command_mints_a_token_the_server_accepts() {
    let out = token_command(&["--sub", "erin", "--ttl", "10m"]);
    let token = minted(&out);
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    let server = start(config);
    assert_eq!(
        connect_with(&server, "erin", Some(&token)).await["type"],
        "hub:connected"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("grants nothing"),
        "a token without grants says so"
    );

    // With grants: the session may subscribe to what they name, and no more.
    let granted = minted(&token_command(&[
        "--sub",
        "erin",
        "--topic",
        "chat:*=subscribe,publish",
    ]));
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    config.hub.namespaces.insert(
        "chat".into(),
        hub_core::permissions::NamespaceOptions::default(),
    );
    let server = start(config);
    let mut c = Client::open(&server).await;
    let connect = json!({"type": "hub:connect", "id": 1, "address": "erin", "token": granted});
    assert_eq!(c.request(connect).await["type"], "hub:connected");
    c.subscribe("chat:lobby").await;
    let other = c
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "lobby"}))
        .await;
    assert_eq!(other["code"], "forbidden", "{other}");
    let bad = token_command(&["--sub", "erin", "--topic", "chat:*=sned"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sned"));

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .args(["token", "--sub", "erin"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("jwt_hmac_secret"));
}

fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// A session with a short-lived token is asked for a fresh one
/// (`hub:refresh`), keeps going on it (`hub:refresh_ack`), refuses a token
/// for another address, and without a fresh token is closed with
/// `token_expired` (4007).
#[tokio::test]
async fn tokens_are_refreshed_in_band_or_the_session_expires() {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    config.jwt_leeway_ms = 0;
    let server = start(config);
    let short =
        |sub: &str, secs: u64| hs(&json!({"sub": sub, "exp": now() + secs}), Algorithm::HS256);

    let mut c = Client::open(&server).await;
    let connected = c
        .request(
            json!({"type": "hub:connect", "id": 1, "address": "frank", "token": short("frank", 4)}),
        )
        .await;
    assert_eq!(
        connected["features"],
        json!(["token_refresh"]),
        "{connected}"
    );
    assert_eq!(
        c.next_frame().await["type"],
        "hub:refresh",
        "asked ahead of expiry"
    );
    let refused = c
        .request(json!({"type": "hub:refresh", "id": 2, "token": short("mallory", 60)}))
        .await;
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    let ack = c
        .request(json!({"type": "hub:refresh", "id": 3, "token": short("frank", 60)}))
        .await;
    assert_eq!(
        (&ack["type"], &ack["id"]),
        (&json!("hub:refresh_ack"), &json!(3))
    );
    // Past the first token's expiry the session is still served.
    tokio::time::sleep(std::time::Duration::from_millis(4_500)).await;
    c.expect_nothing_pending().await;

    let mut lazy = Client::open(&server).await;
    lazy.request(json!({"type": "hub:connect", "address": "gina", "token": short("gina", 1)}))
        .await;
    let (frames, code) = lazy.until_close().await;
    assert_eq!(code, 4007);
    assert!(
        frames.iter().any(|f| f["type"] == "hub:refresh"),
        "{frames:?}"
    );
    assert_eq!(frames.last().unwrap()["reason"], "token_expired");
}
