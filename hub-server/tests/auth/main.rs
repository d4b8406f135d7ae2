//! JWT connection auth over a real socket: what connects, and each way a
//! token is refused (`unauthorized`, the session stays open for another try).

#[path = "../common/mod.rs"]
mod common;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

mod jwks;
mod tokens;
mod topic_tokens;

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

fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
