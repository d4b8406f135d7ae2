//! The `token` command mints a token the server accepts; tokens are refreshed in band or the session expires.

use super::*;

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

/// A device's session is its user's: the token's `sub` is the user, at
/// connect and at every refresh; it cannot name another user, nor claim a
/// device's address as its `address`.
#[tokio::test]
async fn a_devices_token_is_its_users_at_connect_and_refresh() {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    let server = start(config);
    let token = |sub: &str| hs(&json!({"sub": sub, "exp": now() + 600}), Algorithm::HS256);

    let mut tab = Client::open(&server).await;
    let connected = tab
        .request(json!({"type": "hub:connect", "id": 1, "address": "alice", "device": "tab-1", "token": token("alice")}))
        .await;
    assert_eq!(connected["address"], "alice/tab-1", "{connected}");
    let ack = tab
        .request(json!({"type": "hub:refresh", "id": 2, "token": token("alice")}))
        .await;
    assert_eq!(ack["type"], "hub:refresh_ack", "{ack}");
    for other in ["bob", "alice/tab-1"] {
        let refused = tab
            .request(json!({"type": "hub:refresh", "id": 3, "token": token(other)}))
            .await;
        assert_eq!(refused["code"], "unauthorized", "{other}: {refused}");
    }
    for (address, device) in [("bob", "tab-1"), ("alice/tab-2", "x")] {
        let mut c = Client::open(&server).await;
        let refused = c
            .request(json!({"type": "hub:connect", "id": 1, "address": address, "device": device, "token": token("alice")}))
            .await;
        assert_eq!(refused["code"], "unauthorized", "{address}: {refused}");
    }
}

/// `hub-server token --subscription` mints a subscription token the server
/// takes in `hub:subscribe`, with its `--rights`; `--channel` and `--jti`
/// go into a connection token.
#[tokio::test]
async fn the_token_command_mints_subscription_tokens_and_channels() {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    config.hub.namespaces.insert(
        "room".into(),
        hub_core::permissions::NamespaceOptions::default(),
    );
    let server = start(config);
    let connection = minted(&token_command(&[
        "--sub",
        "gail",
        "--channel",
        "room:lobby",
        "--jti",
        "t-1",
    ]));
    let room = minted(&token_command(&[
        "--sub",
        "gail",
        "--subscription",
        "room:7",
        "--rights",
        "publish",
    ]));
    let mut c = Client::open(&server).await;
    let connect = json!({"type": "hub:connect", "id": 1, "address": "gail", "token": connection});
    assert_eq!(c.request(connect).await["type"], "hub:connected");
    assert_eq!(c.expect("hub:subscribed").await["topic"], "room:lobby");
    let ack = c
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:7", "token": room}))
        .await;
    assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");

    for (args, says) in [
        (
            &["--sub", "gail", "--rights", "publish"][..],
            "--subscription",
        ),
        (
            &[
                "--sub",
                "gail",
                "--subscription",
                "room:7",
                "--rights",
                "send",
            ][..],
            "send",
        ),
        (
            &[
                "--sub",
                "gail",
                "--subscription",
                "room:7",
                "--topic",
                "room:*=subscribe",
            ][..],
            "grants",
        ),
    ] {
        let out = token_command(args);
        assert!(!out.status.success(), "{args:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(says), "{says} in {said}");
    }
}
