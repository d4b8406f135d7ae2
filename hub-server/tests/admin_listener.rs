//! `admin_bind`: `/metrics`, `/admin` and the server API on a listener of
//! their own, off the public one; `api_on_public` and `admin_page`; and
//! `GET /`, which says what each listener serves.

mod common;

use common::*;
use hub_server::api::keys::{ApiKeyConfig, Scope};

const KEY: &str = "ops-key-0123456789abcdef";

fn config(admin_bind: &str) -> hub_server::ServerConfig {
    let mut config = test_config();
    config.admin_bind = admin_bind.into();
    config.api_keys = vec![ApiKeyConfig {
        name: "ops".into(),
        key: KEY.into(),
        scopes: vec![Scope::Read],
    }];
    config
}

async fn status(addr: std::net::SocketAddr, path: &str) -> u16 {
    http_at(addr, "GET", path, Some(KEY), None).await.status
}

/// With `admin_bind`, the public listener keeps the clients, health and
/// (by default) the API; metrics and the admin page answer only on the
/// admin listener, which also serves the API and health.
#[tokio::test]
async fn the_operators_surface_moves_to_the_admin_listener() {
    let server = start(config("127.0.0.1:0"));
    let public = server.addr;
    let admin = server.admin_addr.expect("an admin listener");
    assert_ne!(public, admin);

    assert_eq!(status(public, "/metrics").await, 404);
    assert_eq!(status(public, "/admin").await, 404);
    assert_eq!(status(public, "/api/node").await, 200);
    assert_eq!(status(public, "/ready").await, 200);
    let (mut c, _) = Client::connect(&server, "alice").await;
    c.expect_nothing_pending().await;

    let metrics = http_at(admin, "GET", "/metrics", None, None).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("signal_hub_connections 1"),
        "{}",
        metrics.body
    );
    assert_eq!(status(admin, "/admin").await, 200);
    assert_eq!(status(admin, "/api/node").await, 200);
    assert_eq!(status(admin, "/health").await, 200);
    assert_eq!(status(admin, "/ws").await, 404, "no clients here");

    let index = http_at(public, "GET", "/", None, None).await.json();
    assert_eq!(index["routes"]["websocket"], "/ws");
    assert!(index["routes"].get("metrics").is_none(), "{index}");
    let index = http_at(admin, "GET", "/", None, None).await.json();
    assert_eq!(index["routes"]["metrics"], "/metrics");
    assert_eq!(index["routes"]["admin"], "/admin");
    assert!(index["routes"].get("websocket").is_none(), "{index}");
}

/// `api_on_public = false` takes the API off the public listener.
#[tokio::test]
async fn the_api_can_leave_the_public_listener() {
    let mut config = config("127.0.0.1:0");
    config.api_on_public = false;
    let server = start(config);
    assert_eq!(status(server.addr, "/api/node").await, 404);
    assert_eq!(status(server.admin_addr.unwrap(), "/api/node").await, 200);
}

/// `admin_page = false` turns the page off, with or without an admin
/// listener; without one, everything else stays on the public listener.
#[tokio::test]
async fn the_admin_page_can_be_turned_off() {
    let mut one = config("");
    one.admin_page = false;
    let server = start(one);
    assert!(server.admin_addr.is_none());
    assert_eq!(status(server.addr, "/admin").await, 404);
    assert_eq!(status(server.addr, "/metrics").await, 200);
    assert_eq!(status(server.addr, "/api/node").await, 200);
    let index = http_at(server.addr, "GET", "/", None, None).await.json();
    assert!(index["routes"].get("admin").is_none(), "{index}");
    assert_eq!(index["routes"]["api"], "/api/openapi.json");

    let mut split = config("127.0.0.1:0");
    split.admin_page = false;
    let server = start(split);
    assert_eq!(status(server.admin_addr.unwrap(), "/admin").await, 404);
    assert_eq!(status(server.admin_addr.unwrap(), "/metrics").await, 200);
}
