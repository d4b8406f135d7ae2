//! Redis over TLS (`rediss://`), as managed Redis services run it: nodes
//! check the server's certificate against the CA they are given, show a
//! client certificate when Redis asks for one, and a Redis whose
//! certificate their CA did not sign is not used.

use super::*;
use common::redis_tls::{tls_redis, Certs};

fn tls_node(redis: &Redis, certs: &Certs, prefix: &str) -> hub_server::ServerConfig {
    let mut config = node_config(redis, prefix);
    config.redis_url = format!("rediss://127.0.0.1:{}", redis.port);
    certs.apply(&mut config);
    config
}

#[actix_rt::test]
async fn nodes_share_a_redis_that_speaks_tls_only() {
    let certs = Certs::new();
    let redis = tls_redis(&certs).await;
    let [one, two] = ready_nodes([
        tls_node(&redis, &certs, "tls1:"),
        tls_node(&redis, &certs, "tls1:"),
    ])
    .await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;

    // A publication and a direct send cross the nodes through Redis.
    alice.subscribe("room").await;
    assert_eq!(redis.shard_subscribers("tls1:t:room"), 1);
    bob.publish("room", json!("over tls")).await;
    let m = alice.expect("hub:message").await;
    assert_eq!(
        (m["topic"].as_str(), m["payload"].as_str()),
        (Some("room"), Some("over tls"))
    );
    let ack = bob
        .request(json!({"type": "hub:send", "id": "s", "to": "alice", "payload": 2}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let m = alice.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_u64()),
        (Some("bob"), Some(2))
    );
    // Every connection came in on the TLS port (there is no other) with a
    // certificate the CA signed: Redis counts them, and refused none.
    let stats = redis.cli(&["INFO", "stats"]);
    assert!(stats.contains("rejected_connections:0"), "{stats}");
}

#[actix_rt::test]
async fn a_redis_whose_certificate_the_ca_did_not_sign_is_not_used() {
    let (certs, stranger) = (Certs::new(), Certs::new());
    let redis = tls_redis(&certs).await;
    // The node trusts another CA (and shows that CA's client certificate).
    let node = start(tls_node(&redis, &stranger, "tls2:"));
    // Wait until Redis has seen the node's handshake fail (the node ends
    // it, refusing the server's certificate).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !std::fs::read_to_string(redis.log_file())
        .unwrap_or_default()
        .contains("Error accepting a client connection")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no handshake reached redis"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, body) = ready(&node).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"].as_str().unwrap_or("").contains("redis"),
        "{body}"
    );
    // Nothing of the node's reached Redis.
    assert_eq!(redis.cli(&["DBSIZE"]), "0");
}

#[actix_rt::test]
async fn tls_files_with_a_plain_url_or_a_certificate_without_its_key_stop_the_server() {
    let certs = Certs::new();
    let redis = Redis::start().await;
    let mut plain = node_config(&redis, "tls3:");
    certs.apply(&mut plain);
    let error = hub_server::check_config(&plain).expect_err("refused");
    assert!(
        error.contains("redis_tls_") && error.contains("rediss"),
        "{error}"
    );

    let mut half = node_config(&redis, "tls3:");
    half.redis_url = "rediss://127.0.0.1:1".into();
    half.redis_tls_cert_file = certs.pair("client").0.display().to_string();
    let error = hub_server::check_config(&half).expect_err("refused");
    assert!(
        error.contains("redis_tls_cert_file is set without redis_tls_key_file"),
        "{error}"
    );

    let mut missing = node_config(&redis, "tls3:");
    missing.redis_url = "rediss://127.0.0.1:1".into();
    missing.redis_tls_ca_file = "/nonexistent/ca.pem".into();
    let error = hub_server::check_config(&missing).expect_err("refused");
    assert!(
        error.starts_with("redis_tls_ca_file /nonexistent/ca.pem"),
        "{error}"
    );
    // And the server itself does not start with it.
    let Err(error) = hub_server::spawn(missing) else {
        panic!("started with a CA file that does not exist");
    };
    assert!(error.to_string().contains("redis_tls_ca_file"), "{error}");
}
