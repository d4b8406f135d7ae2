//! README.md, run as written with the real binary: the by-hand session
//! (every line sent, every answer and what Alice sees checked, `…` standing
//! for what varies), with the flags the README gives for typing by hand;
//! and the starter config (`genconfig --starter`): the server it starts,
//! the token the README mints (for a namespace that server knows), and
//! the API key it holds; and every `hub-server` command the README shows,
//! which the binary must take (a server start checked by `check-config`);
//! its `curl` call to the API, run with curl; and its two nodes on Redis.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const README: &str = include_str!("../../README.md");

/// The fenced blocks of `language` in the README section `heading`.
fn blocks(heading: &str, language: &str) -> Vec<&'static str> {
    let start = README
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has no section {heading}"));
    let section = &README[start + 4..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let fence = format!("```{language}\n");
    section
        .match_indices(&fence)
        .map(|(at, _)| {
            let body = &section[at + fence.len()..];
            &body[..body.find("```").unwrap()]
        })
        .collect()
}

/// A README command line as arguments: its continuation lines joined, a
/// trailing `# comment` dropped, single quotes honoured.
fn words(line: &str) -> Vec<String> {
    let line = line.split("  #").next().unwrap();
    let (mut out, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' | '\t' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            '\\' if !quoted => {}
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The commands of a `sh` block, continuation lines joined.
fn commands(block: &str) -> Vec<Vec<String>> {
    block
        .replace("\\\n", " ")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(words)
        .collect()
}

/// Whether `actual` is what the README's `expected` says: every field it
/// names has that value (`"…"` is anything), and `…}` allows more fields.
fn described(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(s), _) if s == "…" => true,
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|got| described(v, got))),
        (e, a) => e == a,
    }
}

/// A README frame: JSON with `,…}` for "and more fields".
fn frame(text: &str) -> Value {
    serde_json::from_str(&text.replace(",…}", "}")).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The binary with `args` in `dir` on `port`; killed on drop.
struct Server(Child);

impl Server {
    async fn start(dir: &TempDir, port: u16, args: &[String]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_hub-server"))
            .args(args)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .current_dir(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(tokio::time::Instant::now() < deadline, "never listened");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Self(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_first_session_by_hand_goes_as_written() {
    // The README's command for typing by hand, as `cargo run` passes it.
    let run = &commands(blocks("A first session by hand", "sh")[0])[0];
    let at = run.iter().position(|w| w == "--").unwrap();
    let dir = TempDir::new("readme-hand");
    let port = free_port();
    let _server = Server::start(&dir, port, &run[at + 1..]).await;

    let mut clients = Vec::new();
    for session in blocks("A first session by hand", "text") {
        let mut lines = session.lines();
        let open = lines.next().unwrap();
        let url = open.strip_prefix("$ websocat ").unwrap();
        let url = url.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        let mut client = Client::open_url(&url).await;
        for line in lines {
            match line.strip_prefix("< ") {
                Some(answer) => {
                    let got = client.next_frame().await;
                    assert!(
                        described(&frame(answer), &got),
                        "README: {answer}\ngot: {got}"
                    );
                }
                None => client.send_text(line.to_owned()).await,
            }
        }
        clients.push(client);
    }
    let sees = README
        .split("\nAlice sees ")
        .nth(1)
        .unwrap()
        .split(". ")
        .next()
        .unwrap();
    let frames: Vec<&str> = sees
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|f| f.starts_with(r#"{"type":"hub:message""#))
        .collect();
    assert_eq!(frames.len(), 2, "{sees}");
    let alice = &mut clients[0];
    for expected in frames {
        let got = alice.next_frame().await;
        assert!(
            described(&frame(expected), &got),
            "README: {expected}\ngot: {got}"
        );
    }
}

#[tokio::test]
async fn the_starter_config_runs_the_readmes_token_and_key() {
    let block = blocks("Configuration", "sh")
        .into_iter()
        .find(|b| b.starts_with("hub-server genconfig --starter"))
        .expect("the starter block");
    let steps = commands(block);
    let dir = TempDir::new("readme-starter");
    let bin = env!("CARGO_BIN_EXE_hub-server");
    // hub-server genconfig --starter > hub.toml
    let (args, file) = steps[0].split_at(steps[0].iter().position(|w| w == ">").unwrap());
    let out = Command::new(bin).args(&args[1..]).output().unwrap();
    assert!(out.status.success());
    std::fs::write(dir.0.join(&file[1]), &out.stdout).unwrap();
    // hub-server -c hub.toml
    let port = free_port();
    let _server = Server::start(&dir, port, &steps[1][1..]).await;
    // hub-server -c hub.toml token --sub alice ...
    let out = Command::new(bin)
        .args(&steps[2][1..])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let mut alice = Client::open_url(&format!("ws://127.0.0.1:{port}/ws")).await;
    alice
        .send(json!({"type": "hub:connect", "id": 1, "address": "alice", "token": token}))
        .await;
    assert_eq!(alice.next_frame().await["type"], "hub:connected");
    let ack = alice
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "chat:lobby"}))
        .await;
    assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    alice
        .send(json!({"type": "hub:publish", "id": 3, "topic": "chat:lobby", "payload": "hi"}))
        .await;
    // Alice is subscribed: her own publication comes to her too.
    let (mut ack, mut own) = (Value::Null, Value::Null);
    while ack.is_null() || own.is_null() {
        let f = alice.next_frame().await;
        match f["type"].as_str() {
            Some("hub:publish_ack") => ack = f,
            Some("hub:message") => own = f,
            _ => panic!("unexpected {f}"),
        }
    }
    assert_eq!(ack["recipients"], 1, "{ack}");
    assert_eq!(own["payload"], "hi", "{own}");

    let config: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.0.join("hub.toml")).unwrap()).unwrap();
    let key = config["api_keys"][0]["key"].as_str().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let node = http_at(addr, "GET", "/api/node", Some(key), None).await;
    assert_eq!(node.status, 200, "{}", node.body);
}

/// Lines the reader completes with something of their own, and why they
/// are not run here.
const BRING_YOUR_OWN: [(&str, &str); 2] = [
    (
        "jwt_public_key_file=key.pem",
        "an RSA public key of the reader's",
    ),
    (
        "jwt_jwks_url=https://idp.example.com",
        "the reader's identity provider",
    ),
];

/// Every `hub-server` command in README's `sh` blocks (or `cargo run -p
/// hub-server -- ...`) is one the binary takes, in the directory the
/// README builds up (a starter `hub.toml`, a certificate): a command that
/// would start a server is checked with `check-config` and the same
/// flags, the others (`token`, `genconfig`, `--print-config`) are run.
#[test]
fn every_server_command_in_the_readme_is_accepted() {
    let dir = TempDir::new("readme-commands");
    let bin = env!("CARGO_BIN_EXE_hub-server");
    let starter = Command::new(bin)
        .args(["genconfig", "--starter"])
        .output()
        .unwrap();
    std::fs::write(dir.0.join("hub.toml"), starter.stdout).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.0.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.0.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();

    let mut checked = 0;
    for (at, _) in README.match_indices("```sh\n") {
        let body = &README[at + 6..];
        for command in commands(&body[..body.find("```").unwrap()]) {
            let line = command.join(" ");
            let (env, rest): (Vec<&String>, Vec<&String>) = {
                let first = command
                    .iter()
                    .position(|w| !w.contains('=') || w.starts_with('-'));
                let split = first.unwrap_or(command.len());
                (
                    command[..split].iter().collect(),
                    command[split..].iter().collect(),
                )
            };
            let args: Vec<&str> = match rest.first().map(|w| w.as_str()) {
                Some("hub-server") => rest[1..].iter().map(|w| w.as_str()).collect(),
                Some("cargo") if line.contains("-p hub-server --") => {
                    let dash = rest.iter().position(|w| *w == "--").unwrap();
                    rest[dash + 1..].iter().map(|w| w.as_str()).collect()
                }
                _ => continue,
            };
            if BRING_YOUR_OWN.iter().any(|(what, _)| line.contains(what)) {
                continue;
            }
            let args: Vec<&str> = args.into_iter().take_while(|w| *w != ">").collect();
            let runs_itself = ["token", "genconfig", "check-config", "--print-config"];
            let mut run = Command::new(bin);
            run.args(&args).current_dir(&dir.0);
            if !args.iter().any(|a| runs_itself.contains(a)) {
                run.arg("check-config");
            }
            for pair in &env {
                let (k, v) = pair.split_once('=').unwrap();
                run.env(k, v);
            }
            let out = run.output().unwrap();
            assert!(
                out.status.success(),
                "README: {line}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} commands found");
}

/// README's `curl` commands, run with curl against the server the same
/// block starts: the API answers 200 and the publication reaches a
/// subscriber of its topic with the payload README sends.
#[tokio::test]
async fn the_readmes_api_call_publishes() {
    let mut ran = 0;
    for (at, _) in README.match_indices("```sh\n") {
        let body = &README[at + 6..];
        let steps = commands(&body[..body.find("```").unwrap()]);
        let Some(curl) = steps.iter().find(|s| s[0] == "curl") else {
            continue;
        };
        let start = steps
            .iter()
            .find(|s| s[0] == "hub-server")
            .expect("a curl block starts its server");
        let (dir, port) = (TempDir::new("readme-curl"), free_port());
        let _server = Server::start(&dir, port, &start[1..]).await;
        let data: Value =
            serde_json::from_str(&curl[curl.iter().position(|w| w == "-d").expect("-d") + 1])
                .unwrap();
        let topic = data["topic"].as_str().unwrap();
        let url = format!("ws://127.0.0.1:{port}/ws");
        let (mut reader, _) = Client::connect_url(&url, "reader", &[]).await;
        reader.subscribe(topic).await;

        let args: Vec<String> = curl[1..]
            .iter()
            .map(|w| w.replace("localhost:8080", &format!("127.0.0.1:{port}")))
            .collect();
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body"])
            .args(&args)
            .output()
            .expect("curl (apt-get install curl)");
        let answer = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "README: curl {args:?}\n{answer}");
        let message = reader.next_frame().await;
        assert_eq!(message["type"], "hub:message", "{message}");
        assert_eq!(message["payload"], data["payload"], "{message}");
        ran += 1;
    }
    assert!(ran >= 1, "README shows no curl command");
}

/// README's two nodes on one Redis (their `--bind` and Redis on ports of
/// the test's own): a publication through one reaches a subscriber on the
/// other, and a direct send finds its address on the other node.
#[tokio::test]
async fn the_readmes_two_nodes_serve_one_hub() {
    let block = blocks("Many nodes (Redis)", "sh")[0];
    let redis = common::redis::Redis::start().await;
    let dir = TempDir::new("readme-nodes");
    let mut nodes = Vec::new();
    for command in commands(block) {
        let dash = command.iter().position(|w| w == "--").unwrap();
        let mut args = command[dash + 1..].to_vec();
        let bind = args.iter().position(|w| w == "--bind").unwrap();
        args.drain(bind..bind + 2);
        for arg in &mut args {
            *arg = arg.replace("redis://127.0.0.1:6379", &redis.url());
        }
        let port = free_port();
        nodes.push((Server::start(&dir, port, &args).await, port));
    }
    assert_eq!(nodes.len(), 2, "README starts two nodes");
    // As a load balancer would: each node once it says it is ready (its
    // Redis subscriptions in place; before, another node's answers to it
    // could go unheard).
    for (_, port) in &nodes {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while http_at(addr, "GET", "/ready", None, None).await.status != 200 {
            assert!(tokio::time::Instant::now() < deadline, "never ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let url = |i: usize| format!("ws://127.0.0.1:{}/ws", nodes[i].1);
    let (mut alice, _) = Client::connect_url(&url(0), "alice", &[]).await;
    alice.subscribe("news").await;
    let (mut bob, _) = Client::connect_url(&url(1), "bob", &[]).await;
    // Node 1 hears of node 0's subscriber through Redis: publish until
    // Alice has one (slower than the default rate limit, 10 frames a second).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        bob.publish("news", json!("hi")).await;
        if let Some(message) = alice.frame_within(Duration::from_millis(200)).await {
            assert_eq!(message["payload"], "hi", "{message}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never crossed");
    }
    // A late copy of an earlier try may still be on its way: skip those.
    let sent = bob
        .request(json!({"type": "hub:send", "id": "s", "to": "alice", "payload": "psst"}))
        .await;
    assert_eq!(sent["status"], "accepted", "{sent}");
    let direct = loop {
        let f = alice.next_frame().await;
        if f.get("topic").is_none() {
            break f;
        }
    };
    assert_eq!(direct["payload"], "psst", "{direct}");
}
