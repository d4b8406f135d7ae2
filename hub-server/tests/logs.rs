//! JSON logs carry the caller's trace id end to end: the real binary with
//! `--log-json`, a WebSocket opened with `x-trace-id` (its session's lines
//! carry it with the session id and address), API requests with
//! `x-trace-id` and with a W3C `traceparent` (their lines carry it, and the
//! answer echoes it). Behind a trusted proxy, the lines name the client
//! its `X-Forwarded-For` names.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The real binary with JSON logs on a free port, `args` added; waits
/// until it listens.
async fn start_json(args: &[&str]) -> (std::process::Child, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .args(["--bind", &format!("127.0.0.1:{port}"), "--log-json"])
        .args(["--set", "durability=off"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hub-server starts");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(tokio::time::Instant::now() < deadline, "never listened");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (child, port)
}

/// Kills the binary and parses every line it wrote.
fn stop_and_read(mut child: std::process::Child) -> (Vec<Value>, String) {
    child.kill().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (lines, out)
}

#[tokio::test]
async fn json_log_lines_carry_the_callers_trace_id() {
    let (child, port) = start_json(&[
        "--set",
        r#"trusted_proxies=["127.0.0.1"]"#,
        "--set",
        r#"api_keys=[{name="backend", key="backend-key-0123456789", scopes=["publish"]}]"#,
    ])
    .await;

    // A WebSocket whose upgrade names its trace id; it connects and leaves.
    let mut request = format!("ws://127.0.0.1:{port}/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("x-trace-id", "trace-ws-1".parse().unwrap());
    request
        .headers_mut()
        .insert("x-forwarded-for", "198.51.100.4".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut client = Client::from_stream(ws);
    client
        .send(json!({"type": "hub:connect", "id": "c", "address": "traced"}))
        .await;
    assert_eq!(client.next_frame().await["type"], "hub:connected");
    client.send(json!({"type": "hub:disconnect"})).await;
    let (_, code) = client.until_close().await;
    assert_eq!(code, 1000);

    // API requests: refused (a wrong key), with x-trace-id and with traceparent.
    let http = |headers: Vec<(&'static str, &'static str)>| async move {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let body = r#"{"topic":"t","payload":1}"#;
        let request = format!(
            "POST /api/publish HTTP/1.1\r\nhost: x\r\nauthorization: Bearer wrong-key-0123456789\r\n\
             content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
            body.len()
        );
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer.to_lowercase()
    };
    let answer = http(vec![
        ("x-trace-id", "trace-api-1"),
        ("x-forwarded-for", "198.51.100.5"),
    ])
    .await;
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    assert!(
        answer.contains("x-trace-id: trace-api-1"),
        "echoed: {answer}"
    );
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let answer = http(vec![("traceparent", parent)]).await;
    assert!(
        answer.contains("x-trace-id: 4bf92f3577b34da6a3ce929d0e0e4736"),
        "{answer}"
    );

    let (lines, out) = stop_and_read(child);
    let traced = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["span"]["trace_id"] == id)
            .collect()
    };
    let session = traced("trace-ws-1");
    assert!(!session.is_empty(), "no line of the session:\n{out}");
    assert!(
        session.iter().any(|l| l["span"]["address"] == "traced"
            && l["span"]["client"] == "198.51.100.4"
            && l["span"]["session_id"]
                .as_str()
                .is_some_and(|s| s.len() == 36)),
        "the session's lines name it: {session:?}"
    );
    let api = traced("trace-api-1");
    assert!(
        api.iter().any(|l| l["status"] == 401
            && l["span"]["path"] == "/api/publish"
            && l["span"]["client"] == "198.51.100.5"),
        "the refused request is logged with its trace id: {api:?}\n{out}"
    );
    assert!(
        !traced("4bf92f3577b34da6a3ce929d0e0e4736").is_empty(),
        "a traceparent's trace id is used"
    );
}

/// Every successful API action leaves an `audit` line with the key's name
/// and the request's trace id: actions on sessions at `info`, messages at
/// `debug` (here asked for with `log_level`).
#[tokio::test]
async fn api_actions_leave_an_audit_line_with_the_key_and_trace_id() {
    let (child, port) = start_json(&[
        "--set",
        "log_level=info,audit=debug",
        "--set",
        r#"api_keys=[{name="ops", key="ops-key-0123456789abcd", scopes=["publish", "disconnect"]}]"#,
    ])
    .await;
    let (mut alice, _) =
        Client::connect_url(&format!("ws://127.0.0.1:{port}/ws"), "alice", &[]).await;
    let post = |path: &'static str, body: &'static str, trace: &'static str| async move {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ops-key-0123456789abcd\r\n\
             x-trace-id: {trace}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    };
    post(
        "/api/publish",
        r#"{"topic":"news","payload":1}"#,
        "trace-audit-1",
    )
    .await;
    post("/api/disconnect", r#"{"address":"alice"}"#, "trace-audit-2").await;
    assert_eq!(alice.until_close().await.1, 4008);

    let (lines, out) = stop_and_read(child);
    let audit = |action: &str| {
        lines
            .iter()
            .find(|l| l["target"] == "audit" && l["action"] == action)
            .unwrap_or_else(|| panic!("no audit line for {action}:\n{out}"))
    };
    let disconnect = audit("disconnect");
    assert_eq!(disconnect["level"], "INFO");
    assert_eq!(disconnect["key"], "ops");
    assert_eq!(disconnect["address"], "alice");
    assert_eq!(disconnect["span"]["trace_id"], "trace-audit-2");
    let publish = audit("publish");
    assert_eq!(publish["level"], "DEBUG");
    assert_eq!(publish["key"], "ops");
    assert_eq!(publish["topic"], "news");
    assert_eq!(publish["span"]["trace_id"], "trace-audit-1");
}
