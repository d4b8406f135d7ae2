//! Batching, negotiated in `hub:connect` `features`: a client that asks gets
//! the frames waiting for it in one WebSocket message, one per line; a
//! client that does not ask never sees more than one frame per message.

mod common;

use common::*;
use serde_json::{json, Value};

/// Reads WebSocket messages until `count` frames have arrived; returns the
/// frames and the most frames any one message carried.
async fn read_frames(c: &mut Client, count: usize) -> (Vec<Value>, usize) {
    let mut frames = Vec::new();
    let mut most = 0;
    while frames.len() < count {
        let text = c.next_text().await;
        let lines: Vec<&str> = text.split('\n').collect();
        most = most.max(lines.len());
        for line in lines {
            frames.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
    }
    (frames, most)
}

async fn connect_with(
    server: &hub_server::SpawnedServer,
    address: &str,
    features: Value,
) -> (Client, Value) {
    let mut c = Client::open(server).await;
    c.send(json!({"type": "hub:connect", "address": address, "features": features}))
        .await;
    let connected = c.expect("hub:connected").await;
    (c, connected)
}

/// The server agrees to `batch` and says so; unknown features are ignored.
#[tokio::test]
async fn batch_is_agreed_in_connected_features() {
    let server = start_default();
    let (_c, connected) = connect_with(&server, "batcher", json!(["batch", "teleport"])).await;
    assert_eq!(connected["features"], json!(["batch"]));
    let (_d, connected) = connect_with(&server, "plain", json!([])).await;
    assert_eq!(connected["features"], json!([]));
}

/// Whatever the server puts together, a batching client gets every frame
/// once, whole and in order, a payload's line breaks included.
#[tokio::test]
async fn a_batching_client_gets_every_frame_once_in_order() {
    let server = start_default();
    let (mut reader, _) = connect_with(&server, "reader", json!(["batch"])).await;
    reader.subscribe("feed").await;
    let (mut writer, _) = Client::connect(&server, "writer").await;
    let pretty = "{\n  \"line\": \"a\\nb\"\n}";
    for i in 0..300 {
        let text = if i % 50 == 0 {
            format!(r#"{{"type":"hub:publish","topic":"feed","payload":{pretty}}}"#)
        } else {
            json!({"type": "hub:publish", "topic": "feed", "payload": i}).to_string()
        };
        writer.send_text(text).await;
    }
    let (frames, _) = read_frames(&mut reader, 300).await;
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame["type"], "hub:message");
        let expected = if i % 50 == 0 {
            json!({"line": "a\nb"})
        } else {
            json!(i)
        };
        assert_eq!(frame["payload"], expected, "frame {i}");
    }
}

/// A client that did not ask gets one frame per message, however many wait.
#[tokio::test]
async fn a_plain_client_gets_one_frame_per_message() {
    let server = start_default();
    let (mut reader, _) = Client::connect(&server, "reader").await;
    reader.subscribe("feed").await;
    let (mut writer, _) = Client::connect(&server, "writer").await;
    for i in 0..300 {
        writer
            .send(json!({"type": "hub:publish", "topic": "feed", "payload": i}))
            .await;
    }
    let (frames, most) = read_frames(&mut reader, 300).await;
    assert_eq!(most, 1);
    assert_eq!(frames.last().unwrap()["payload"], 299);
}
