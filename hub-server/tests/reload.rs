//! Reload (SIGHUP, `POST /api/reload`): the TLS certificate, the JWT secret
//! with its overlap, the API keys and the log level change in place, nobody
//! is disconnected; a reload that would change anything else applies
//! nothing and says which setting needs a restart.

#[path = "reload/binary.rs"]
mod binary;
#[path = "common/mod.rs"]
mod common;

use common::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

const OLD_SECRET: &str = "the-first-secret-long-enough-for-hs256";
const NEW_SECRET: &str = "the-second-secret-long-enough-for-hs256";
const OLD_KEY: &str = "api-key-number-one-0001";
const NEW_KEY: &str = "api-key-number-two-0002";

fn token(secret: &str, sub: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    encode(
        &Header::default(),
        &json!({"sub": sub, "exp": exp}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn api_key(key: &str) -> hub_server::api::keys::ApiKeyConfig {
    hub_server::api::keys::ApiKeyConfig {
        name: "ops".into(),
        key: key.into(),
        scopes: vec![
            hub_server::api::keys::Scope::Admin,
            hub_server::api::keys::Scope::Read,
        ],
    }
}

/// Connects `address` with `token`: the session, or the refusal.
async fn connect(
    server: &hub_server::SpawnedServer,
    address: &str,
    token: &str,
) -> (Client, Value) {
    let mut c = Client::open(server).await;
    let answer = c
        .request(json!({"type": "hub:connect", "id": 1, "address": address, "token": token}))
        .await;
    (c, answer)
}

#[actix_rt::test]
async fn a_reload_rotates_the_secret_and_keys_and_refuses_what_needs_a_restart() {
    let mut config = test_config();
    config.jwt_hmac_secret = OLD_SECRET.into();
    config.jwt_rotation_overlap_ms = 0;
    config.api_keys = vec![api_key(OLD_KEY)];
    let server = start(config.clone());
    let (mut alice, hello) = connect(&server, "alice", &token(OLD_SECRET, "alice")).await;
    assert_eq!(hello["type"], "hub:connected", "{hello}");

    // A new secret and a new key: applied, named.
    let mut next = config.clone();
    next.jwt_hmac_secret = NEW_SECRET.into();
    next.api_keys = vec![api_key(NEW_KEY)];
    let reloaded = server.reloader.apply(next.clone()).expect("applied");
    assert_eq!(reloaded.changed, ["api_keys", "jwt_hmac_secret"]);
    // Alice, connected with the old secret's token, stays.
    alice.expect_nothing_pending().await;
    // Without an overlap the old secret's tokens are refused at once; the
    // new one's are taken.
    let (_, refused) = connect(&server, "bob", &token(OLD_SECRET, "bob")).await;
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    let (_, hello) = connect(&server, "bob", &token(NEW_SECRET, "bob")).await;
    assert_eq!(hello["type"], "hub:connected", "{hello}");
    assert_eq!(
        http(&server, "GET", "/api/node", Some(OLD_KEY), None)
            .await
            .status,
        401
    );
    assert_eq!(
        http(&server, "GET", "/api/node", Some(NEW_KEY), None)
            .await
            .status,
        200
    );

    // A limit that needs a restart beside a key change: nothing applied.
    let mut fixed = next.clone();
    fixed.hub.max_connections += 1;
    fixed.hub.max_message_bytes += 1;
    fixed.api_keys = vec![api_key(OLD_KEY)];
    let error = server.reloader.apply(fixed).expect_err("refused");
    assert!(
        error.contains("max_connections") && error.contains("max_message_bytes"),
        "{error}"
    );
    assert!(error.contains("nothing was reloaded"), "{error}");
    assert_eq!(
        http(&server, "GET", "/api/node", Some(NEW_KEY), None)
            .await
            .status,
        200
    );
    assert_eq!(
        http(&server, "GET", "/api/node", Some(OLD_KEY), None)
            .await
            .status,
        401
    );

    // TLS or authentication turned on or off: refused.
    let mut open = next.clone();
    open.jwt_hmac_secret.clear();
    let error = server.reloader.apply(open).expect_err("refused");
    assert!(
        error.contains("authentication cannot be turned on or off"),
        "{error}"
    );
    let mut tls = next.clone();
    tls.tls_cert_file = "/nonexistent/cert.pem".into();
    tls.tls_key_file = "/nonexistent/key.pem".into();
    let error = server.reloader.apply(tls).expect_err("refused");
    assert!(error.contains("TLS cannot be turned on or off"), "{error}");

    // Over the API: the admin scope, the same answer.
    let answer = http(&server, "POST", "/api/reload", Some(NEW_KEY), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json(), json!({"changed": [], "certificate": false}));
    alice.expect_nothing_pending().await;
}

#[actix_rt::test]
async fn an_old_token_is_accepted_during_the_overlap() {
    let mut config = test_config();
    config.jwt_hmac_secret = OLD_SECRET.into();
    let server = start(config.clone());
    let mut next = config;
    next.jwt_hmac_secret = NEW_SECRET.into();
    next.jwt_rotation_overlap_ms = 3_600_000;
    server.reloader.apply(next).expect("applied");
    for (address, secret) in [("old", OLD_SECRET), ("new", NEW_SECRET)] {
        let (_, hello) = connect(&server, address, &token(secret, address)).await;
        assert_eq!(hello["type"], "hub:connected", "{address}: {hello}");
    }
    // A token neither secret signed is refused with the current check's reason.
    let (_, refused) = connect(
        &server,
        "nobody",
        &token("a-third-secret-nobody-configured", "x"),
    )
    .await;
    assert_eq!(refused["code"], "unauthorized", "{refused}");
}

#[actix_rt::test]
async fn a_reload_raises_the_per_ip_cap_for_the_next_connections() {
    let mut config = test_config();
    config.hub.connection_rate_per_ip = 0;
    config.hub.max_connections_per_ip = 2;
    let server = start(config.clone());
    let (mut a, _) = Client::connect(&server, "a").await;
    let (_b, _) = Client::connect(&server, "b").await;
    let refusal = refused_upgrade(&server).await;
    assert_eq!(refusal.status, 429, "{}", refusal.body);
    assert!(
        refusal.body.contains("too_many_connections"),
        "{}",
        refusal.body
    );

    let mut next = config;
    next.hub.max_connections_per_ip = 3;
    let reloaded = server.reloader.apply(next.clone()).expect("applied");
    assert_eq!(reloaded.changed, ["max_connections_per_ip"]);
    let (mut c, _) = Client::connect(&server, "c").await;
    c.expect_nothing_pending().await;
    a.expect_nothing_pending().await;
    assert_eq!(refused_upgrade(&server).await.status, 429);

    // Lowered under what is open: the open ones stay, no new one comes in.
    next.hub.max_connections_per_ip = 1;
    server.reloader.apply(next).expect("applied");
    a.expect_nothing_pending().await;
    c.expect_nothing_pending().await;
    assert_eq!(refused_upgrade(&server).await.status, 429);
}
