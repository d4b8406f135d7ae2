//! Clients behind one address — a proxy in front of the hub, an office or
//! carrier NAT: the per-IP caps see the client a trusted proxy names, and
//! the abuse cooldown costs the abuser, never the others behind its IP.

mod common;

use std::time::Duration;

use common::*;
use hub_core::ClientIpHeader;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Opens a WebSocket with `headers`; the client, or the HTTP status and
/// body of the refusal.
async fn open_with(
    server: &hub_server::SpawnedServer,
    headers: &[(&'static str, &str)],
) -> Result<Client, (u16, String)> {
    let mut request = server.ws_url().into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().append(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(Client::from_stream(ws)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            Err((response.status().as_u16(), body))
        }
        Err(e) => panic!("upgrade failed: {e}"),
    }
}

fn refused(result: Result<Client, (u16, String)>) -> String {
    match result {
        Ok(_) => panic!("expected HTTP 429"),
        Err((status, body)) => {
            assert_eq!(status, 429, "{body}");
            assert!(body.contains("too_many_connections"), "{body}");
            body
        }
    }
}

/// Floods bad frames as `address` until closed 4006.
async fn abuse_as(server: &hub_server::SpawnedServer, address: &str) {
    let (mut flooder, _) = Client::connect(server, address).await;
    for _ in 0..20 {
        flooder.send_text("{not json".into()).await;
    }
    assert_eq!(flooder.until_close().await.1, 4006);
}

/// `hub:connect` as `address` on a fresh socket; its answer.
async fn connect_answer(server: &hub_server::SpawnedServer, address: &str) -> serde_json::Value {
    let mut c = Client::open(server).await;
    c.send(json!({"type": "hub:connect", "id": 1, "address": address}))
        .await;
    c.next_frame().await
}

fn abuse_config() -> hub_server::ServerConfig {
    let mut config = test_config();
    config.hub.max_protocol_errors = 5;
    config.hub.abuse_cooldown_ms = 30_000;
    config
}

/// Everyone here connects from 127.0.0.1, as everyone behind one proxy
/// does. After an abuser's 4006: its address is refused `hub:connect`
/// with why and for how long; a neighbour connects and is served; a
/// session from that IP that opens with junk is closed at its first bad
/// frame; one that opens with `hub:connect` keeps its whole error budget.
#[tokio::test]
async fn an_abuser_behind_one_address_costs_only_itself() {
    let server = start(abuse_config());
    let (mut bystander, _) = Client::connect(&server, "bystander").await;
    abuse_as(&server, "mallory").await;

    let again = connect_answer(&server, "mallory").await;
    assert_eq!(again["type"], "hub:error", "{again}");
    assert_eq!(again["code"], "too_many_connections");
    assert_eq!(again["temporary"], true);
    assert!(
        again["message"].as_str().unwrap().contains("4006"),
        "{again}"
    );
    assert!(again["hint"]
        .as_str()
        .unwrap()
        .contains("abuse_cooldown_ms"));

    let (mut alice, _) = Client::connect(&server, "alice").await;
    let ack = send(&mut alice, "bystander", json!("hi")).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(bystander.expect("hub:message").await["payload"], "hi");

    let mut junk_first = Client::open(&server).await;
    junk_first.send_text("{not json".into()).await;
    let (frames, code) = junk_first.until_close().await;
    assert_eq!(code, 4006, "closed at its first bad frame");
    assert!(frames.len() <= 1, "at most its answer: {frames:?}");

    let (mut careless, _) = Client::connect(&server, "carol").await;
    for _ in 0..3 {
        careless.send_text("{not json".into()).await;
        assert_eq!(careless.expect("hub:error").await["code"], "bad_json");
    }
    let ack = send(&mut careless, "bystander", json!("still here")).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
}

/// The cooldown ends: after waiting it out (a lower bound, not a timing
/// assertion) the abuser's address may connect again.
#[tokio::test]
async fn the_abusers_address_connects_again_after_the_cooldown() {
    let mut config = abuse_config();
    config.hub.abuse_cooldown_ms = 1_000;
    let server = start(config);
    abuse_as(&server, "mallory").await;
    assert_eq!(
        connect_answer(&server, "mallory").await["code"],
        "too_many_connections"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        connect_answer(&server, "mallory").await["type"],
        "hub:connected"
    );
}

fn capped(proxies: &[&str], header: ClientIpHeader) -> hub_server::ServerConfig {
    let mut config = test_config();
    config.hub.connection_rate_per_ip = 0;
    config.hub.max_connections_per_ip = 1;
    config.hub.trusted_proxies = proxies.iter().map(|p| (*p).to_owned()).collect();
    config.hub.client_ip_header = header;
    config
}

/// From a trusted proxy, `max_connections_per_ip` counts the client its
/// `X-Forwarded-For` names (the nearest hop not a proxy), so two users
/// behind the proxy hold a connection each, and one user cannot hold two.
/// A forged first hop changes nothing.
#[tokio::test]
async fn a_trusted_proxy_names_the_client_the_caps_count() {
    let server = start(capped(&["127.0.0.0/8"], ClientIpHeader::XForwardedFor));
    let _one = open_with(&server, &[("x-forwarded-for", "198.51.100.1")])
        .await
        .unwrap();
    let body = refused(open_with(&server, &[("x-forwarded-for", "198.51.100.1")]).await);
    assert!(body.contains("max_connections_per_ip"), "{body}");
    let forged = [("x-forwarded-for", "203.0.113.9, 198.51.100.1")];
    refused(open_with(&server, &forged).await);
    let mut two = open_with(&server, &[("x-forwarded-for", "198.51.100.2, 127.0.0.5")])
        .await
        .unwrap();
    two.send(json!({"type": "hub:connect", "id": 1, "address": "two"}))
        .await;
    assert_eq!(two.next_frame().await["type"], "hub:connected");
}

/// Without `trusted_proxies`, the header is the client's word and is
/// ignored: every connection from 127.0.0.1 counts as 127.0.0.1.
#[tokio::test]
async fn an_untrusted_peer_cannot_name_another_client() {
    let server = start(capped(&[], ClientIpHeader::XForwardedFor));
    let _one = open_with(&server, &[("x-forwarded-for", "198.51.100.1")])
        .await
        .unwrap();
    refused(open_with(&server, &[("x-forwarded-for", "198.51.100.2")]).await);
}

/// With `client_ip_header = "forwarded"`, the RFC 7239 header names the
/// client, and an `X-Forwarded-For` the client slipped in is not read.
#[tokio::test]
async fn forwarded_names_the_client_when_configured() {
    let server = start(capped(&["127.0.0.1"], ClientIpHeader::Forwarded));
    let _one = open_with(&server, &[("forwarded", "for=\"[2001:db8::1]:4711\"")])
        .await
        .unwrap();
    refused(open_with(&server, &[("forwarded", "for=2001:db8::1")]).await);
    let _two = open_with(&server, &[("forwarded", "for=198.51.100.7;proto=https")])
        .await
        .unwrap();
    let xff_only = [("x-forwarded-for", "198.51.100.8")];
    let _proxy_itself = open_with(&server, &xff_only).await.unwrap();
    refused(open_with(&server, &[("x-forwarded-for", "198.51.100.9")]).await);
}
