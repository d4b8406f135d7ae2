//! hub-client's `rpc` against the real server and a real HTTP backend
//! behind its RPC proxy: the answer comes back typed; the backend's
//! refusal keeps its own code (`ClientError::reason`); a hub without an
//! RPC proxy says so (`no_backend`).

mod common;

// The server tests' stand-in for the application's backend.
#[allow(dead_code, unreachable_pub)]
#[path = "../../hub-server/tests/common/backend.rs"]
mod backend;

use backend::{Backend, Reply};
use common::*;
use hub_client::ClientError;
use hub_core::protocol::ErrorCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn rpc_answers_come_back_typed_and_refusals_keep_their_code() {
    let answer = json!({"result": {"data": {"name": "Alice", "rooms": [1, 2]}}});
    let backend = Backend::start(Reply::Json(answer.to_string())).await;
    let mut config = server_config();
    config.rpc_proxy_url = backend.url_of("/rpc");
    let server = start(config);
    let c = connect(server.addr, "alice").await;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Profile {
        name: String,
        rooms: Vec<u32>,
    }
    let profile: Profile = c.rpc("profile.get", &json!({"id": 7})).await.unwrap();
    assert_eq!(
        profile,
        Profile {
            name: "Alice".into(),
            rooms: vec![1, 2]
        }
    );
    let posted = backend.posted_to("/rpc");
    assert_eq!(
        (&posted[0]["method"], &posted[0]["data"], &posted[0]["user"]),
        (&json!("profile.get"), &json!({"id": 7}), &json!("alice"))
    );

    backend.set(Reply::Json(
        json!({"error": {"code": "no_such_user", "message": "who?"}}).to_string(),
    ));
    let refused = c.rpc::<Value>("profile.get", &()).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Refused), "{refused}");
    assert_eq!(refused.reason(), Some("no_such_user"), "{refused}");

    backend.set(Reply::Json(json!({"result": {"data": "text"}}).to_string()));
    let mistyped = c.rpc::<Profile>("profile.get", &()).await.unwrap_err();
    assert!(matches!(mistyped, ClientError::Payload(_)), "{mistyped}");

    let bad = c.rpc::<Value>("no spaces", &()).await.unwrap_err();
    assert_eq!(bad.code(), Some(ErrorCode::InvalidField), "{bad}");

    let bare = start(server_config());
    let c = connect(bare.addr, "alice").await;
    let none = c.rpc::<Value>("x", &()).await.unwrap_err();
    assert_eq!(none.code(), Some(ErrorCode::NoBackend), "{none}");
}
