//! The SSE transport with a real HTTP client (reqwest): an event stream of
//! the same frames, commands by POST, the same auth, codes and limits,
//! keepalives and heartbeat timeouts, and recovery by `Last-Event-ID`.

mod common;

use common::*;
use serde_json::{json, Value};

/// A plain-HTTP client (reqwest wants a TLS provider chosen even then).
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// One item of an event stream.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Event {
        name: Option<String>,
        id: Option<String>,
        data: Value,
    },
    Comment(String),
}

/// Reads events off a streaming response.
struct Events {
    response: reqwest::Response,
    buf: String,
    commands: String,
    last_id: Option<String>,
}

impl Events {
    async fn open(server: &hub_server::SpawnedServer, query: &str, last_id: Option<&str>) -> Self {
        let mut request = http().get(format!("http://{}/sse?{query}", server.addr));
        if let Some(id) = last_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("GET /sse");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        let mut events = Self {
            response,
            buf: String::new(),
            commands: String::new(),
            last_id: None,
        };
        let Item::Event { name, data, .. } = events.next().await else {
            panic!("a preamble event first")
        };
        assert_eq!(name.as_deref(), Some("hub:session"));
        events.commands = format!(
            "http://{}{}",
            server.addr,
            data["commands"].as_str().unwrap()
        );
        events
    }

    /// The next event or comment; panics if the stream ends first.
    async fn next(&mut self) -> Item {
        self.try_next().await.expect("the stream ended")
    }

    async fn try_next(&mut self) -> Option<Item> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut item = (None, None, None);
                for line in block.lines() {
                    if let Some(comment) = line.strip_prefix(':') {
                        return Some(Item::Comment(comment.trim().to_owned()));
                    } else if let Some(name) = line.strip_prefix("event: ") {
                        item.0 = Some(name.to_owned());
                    } else if let Some(id) = line.strip_prefix("id: ") {
                        item.1 = Some(id.to_owned());
                        self.last_id = Some(id.to_owned());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        item.2 = Some(serde_json::from_str(data).expect("data is JSON"));
                    }
                }
                match item {
                    (name, id, Some(data)) => return Some(Item::Event { name, id, data }),
                    _ => continue, // retry: and the like
                }
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event within PATIENCE")
                .expect("the stream reads");
            self.buf.push_str(std::str::from_utf8(&chunk?).unwrap());
        }
    }

    /// The next frame (a data event without a name), skipping keepalives.
    async fn frame(&mut self) -> Value {
        loop {
            if let Item::Event {
                name: None, data, ..
            } = self.next().await
            {
                return data;
            }
        }
    }

    /// POSTs frames (one per line); returns status and body.
    async fn post(&self, frames: &[Value]) -> (u16, Value) {
        let body: String = frames.iter().map(|f| format!("{f}\n")).collect();
        post_raw(&self.commands, body).await
    }
}

async fn post_raw(url: &str, body: String) -> (u16, Value) {
    let answer = http().post(url).body(body).send().await.expect("POST");
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.text().await.unwrap_or_default()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn an_event_stream_carries_the_same_frames_and_takes_commands_by_post() {
    let server = start_default();
    let (mut ws, _) = Client::connect(&server, "ws-client").await;
    let mut sse = Events::open(&server, "address=sse-client&subscribe=room", None).await;
    let connected = sse.frame().await;
    assert_eq!(
        (connected["type"].clone(), connected["address"].clone()),
        (json!("hub:connected"), json!("sse-client"))
    );
    let ack = sse.frame().await;
    assert_eq!(
        (ack["type"].clone(), ack["topic"].clone()),
        (json!("hub:subscribe_ack"), json!("room"))
    );

    assert_eq!(ws.publish("room", json!({"n": 1})).await, 1);
    let message = sse.frame().await;
    assert_eq!(
        (message["from"].clone(), message["payload"].clone()),
        (json!("ws-client"), json!({"n": 1}))
    );

    // Commands by POST: answers come on the stream, in order.
    let (status, body) = sse
        .post(&[
            json!({"type": "hub:send", "id": "s1", "to": "ws-client", "payload": "hello"}),
            json!({"type": "hub:ping", "id": "p1"}),
        ])
        .await;
    assert_eq!((status, body), (202, json!({"accepted": 2})));
    assert_eq!(ws.next_frame().await["payload"], "hello");
    let delivery = sse.frame().await;
    assert_eq!(
        (delivery["type"].clone(), delivery["status"].clone()),
        (json!("hub:delivery_ack"), json!("accepted"))
    );
    assert_eq!(sse.frame().await["type"], "hub:pong");

    // The same codes: a malformed frame is answered bad_json on the stream.
    let (status, _) = post_raw(&sse.commands, "{not json\n".into()).await;
    assert_eq!(status, 202);
    assert_eq!(sse.frame().await["code"], "bad_json");

    // Over max_message_bytes: 413, and the session goes on.
    let big = json!({"type": "hub:publish", "topic": "room", "payload": "x".repeat(70_000)});
    let (status, body) = sse.post(&[big]).await;
    assert_eq!(
        (status, body["code"].clone()),
        (413, json!("message_too_large"))
    );
    sse.post(&[json!({"type": "hub:ping", "id": "p2"})]).await;
    assert_eq!(sse.frame().await["id"], "p2");

    // A key no stream has.
    let url = format!("http://{}/sse/not-a-session", server.addr);
    let (status, body) = post_raw(&url, "{}".into()).await;
    assert_eq!((status, body["code"].clone()), (404, json!("not_found")));

    // hub:disconnect: the stream ends with the close event; the key is gone.
    sse.post(&[json!({"type": "hub:disconnect", "id": "bye"})])
        .await;
    assert_eq!(sse.frame().await["type"], "hub:disconnect_ack");
    let close = sse.next().await;
    let Item::Event { name, data, .. } = close else {
        panic!("{close:?}")
    };
    assert_eq!(
        (name.as_deref(), data),
        (Some("hub:close"), json!({"code": 1000, "reason": "normal"}))
    );
    assert!(sse.try_next().await.is_none(), "the stream ends");
    let (status, _) = sse.post(&[json!({"type": "hub:ping"})]).await;
    assert_eq!(status, 404);
}

/// The POST bounds are settings, and their refusals are JSON with a code,
/// as every other refusal of the transport.
#[tokio::test]
async fn the_post_bounds_are_settings_refused_with_a_code() {
    let mut config = test_config();
    config.hub.sse_post_max_bytes = 70_000;
    config.hub.sse_inbound_frames = 4;
    let server = start(config);
    let mut sse = Events::open(&server, "address=poster", None).await;
    assert_eq!(sse.frame().await["type"], "hub:connected");

    // Every frame under max_message_bytes, the body over sse_post_max_bytes.
    let ping = json!({"type": "hub:ping", "padding": "x".repeat(1000)}).to_string();
    let body: String = std::iter::repeat_n(format!("{ping}\n"), 80).collect();
    let (status, answer) = post_raw(&sse.commands, body).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "message_too_large", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("sse_post_max_bytes"),
        "{answer}"
    );

    // More frames than sse_inbound_frames at once: 429, nothing taken.
    let pings: Vec<Value> = (0..5)
        .map(|i| json!({"type": "hub:ping", "id": i}))
        .collect();
    let (status, answer) = sse.post(&pings).await;
    assert_eq!(
        (status, answer["code"].clone()),
        (429, json!("rate_limited"))
    );

    // Within both bounds, the session goes on.
    let (status, _) = sse.post(&pings[..4]).await;
    assert_eq!(status, 202);
    for i in 0..4 {
        let pong = sse.frame().await;
        assert_eq!(
            (pong["type"].clone(), pong["id"].clone()),
            (json!("hub:pong"), json!(i))
        );
    }
}

#[tokio::test]
async fn a_refused_connect_is_an_http_error_with_the_code() {
    let mut config = test_config();
    config.jwt_hmac_secret = "a-test-secret-of-at-least-32-bytes!".into();
    let grants = hub_server::auth::parse_grants(&[], &[]).unwrap();
    let token = hub_server::auth::mint(
        &config,
        "alice",
        std::time::Duration::from_secs(60),
        &grants,
    )
    .unwrap();
    let server = start(config);
    let get = |query: String| {
        let url = format!("http://{}/sse?{query}", server.addr);
        async move {
            let answer = http().get(url).send().await.unwrap();
            (
                answer.status().as_u16(),
                serde_json::from_str::<Value>(&answer.text().await.unwrap_or_default())
                    .unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = get("address=alice".into()).await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("unauthorized")),
        "{body}"
    );
    let (status, body) = get("token=x".into()).await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("missing_field"))
    );
    let (status, body) = get(format!("address=bob&token={token}")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("unauthorized")),
        "a token for alice: {body}"
    );
    // A good token (in the query, or as a bearer header).
    let mut sse = Events::open(&server, &format!("address=alice&token={token}"), None).await;
    assert_eq!(sse.frame().await["type"], "hub:connected");
    let answer = http()
        .get(format!("http://{}/sse?address=alice", server.addr))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn last_event_id_recovers_what_was_missed() {
    let mut config = test_config();
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 100,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    // A client that goes away is noticed at the next write: a keepalive.
    config.hub.heartbeat_interval_ms = 100;
    let server = start(config);
    let (mut publisher, _) = Client::connect(&server, "publisher").await;
    let mut sse = Events::open(&server, "address=reader&subscribe=feed:news", None).await;
    assert_eq!(sse.frame().await["type"], "hub:connected");
    assert_eq!(sse.frame().await["type"], "hub:subscribe_ack");
    publisher.publish("feed:news", json!(1)).await;
    assert_eq!(sse.frame().await["payload"], 1);
    let id = sse
        .last_id
        .clone()
        .expect("the publication's event has an id");
    drop(sse);
    eventually("the reader is gone", || {
        server.hub.metrics().registered == 1
    })
    .await;
    for n in 2..=3 {
        publisher.publish("feed:news", json!(n)).await;
    }
    let mut again = Events::open(&server, "address=reader&subscribe=feed:news", Some(&id)).await;
    assert_eq!(again.frame().await["type"], "hub:connected");
    assert_eq!(again.frame().await["payload"], 2, "missed ones first");
    assert_eq!(again.frame().await["payload"], 3);
    let ack = again.frame().await;
    assert_eq!(
        (ack["type"].clone(), ack["recovered"].clone()),
        (json!("hub:subscribe_ack"), json!(true))
    );
    publisher.publish("feed:news", json!(4)).await;
    assert_eq!(again.frame().await["payload"], 4);

    // A position from another epoch (or garbage) is no recovery, and says so.
    let mut stale = Events::open(
        &server,
        "address=other&subscribe=feed:news",
        Some("feed%3Anews=nope%3A1"),
    )
    .await;
    assert_eq!(stale.frame().await["type"], "hub:connected");
    let ack = stale.frame().await;
    assert_eq!(
        (ack["type"].clone(), ack["recovered"].clone()),
        (json!("hub:subscribe_ack"), json!(false))
    );
}

#[tokio::test]
async fn silence_gets_keepalives_and_a_client_that_never_pings_times_out() {
    let mut config = test_config();
    config.hub.heartbeat_interval_ms = 100;
    config.hub.heartbeat_timeout_ms = 600;
    config.hub.rate_limit_per_sec = 1;
    // The connect counts: it and two pings pass, the third is refused.
    config.hub.rate_limit_burst = 3;
    let server = start(config);
    let mut sse = Events::open(&server, "address=quiet", None).await;
    assert_eq!(sse.frame().await["type"], "hub:connected");
    // The same rate limit as a WebSocket.
    let pings: Vec<Value> = (0..3)
        .map(|i| json!({"type": "hub:ping", "id": format!("p{i}")}))
        .collect();
    sse.post(&pings).await;
    let answers: Vec<String> = [sse.frame().await, sse.frame().await, sse.frame().await]
        .iter()
        .map(|f| f["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(answers, ["hub:pong", "hub:pong", "hub:rate_limited"]);
    let mut keepalives = 0;
    let (disconnect, close) = loop {
        match sse.next().await {
            Item::Comment(c) if c == "keepalive" => keepalives += 1,
            Item::Event {
                name: None, data, ..
            } if data["type"] == "hub:disconnect" => {
                break (data, sse.next().await);
            }
            other => panic!("{other:?}"),
        }
    };
    assert!(keepalives >= 1, "silence is filled");
    assert_eq!(
        (disconnect["code"].clone(), disconnect["reason"].clone()),
        (json!(4001), json!("heartbeat_timeout"))
    );
    let Item::Event { name, data, .. } = close else {
        panic!("{close:?}")
    };
    assert_eq!(
        (name.as_deref(), data["code"].clone()),
        (Some("hub:close"), json!(4001))
    );
    assert!(sse.try_next().await.is_none());
}
