//! The WebSocket side exact to RFC 6455, over a raw TCP socket with frames
//! written byte by byte (no client library to tidy them up), as
//! Autobahn|Testsuite's cases do: a protocol violation closes with 1002, text
//! that is not UTF-8 with 1007 (found at the fragment that breaks it), a
//! client close with an invalid code is answered 1002; none of them is
//! preceded by a `hub:disconnect` frame. The hub's own reasons keep the hub's
//! own codes.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client writing raw frames.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

/// What the server wrote back before it closed.
#[derive(Debug)]
struct Closed {
    /// Text frames before the close frame.
    texts: Vec<Value>,
    /// The close frame's code (1005 for an empty close frame).
    code: u16,
}

impl Raw {
    async fn open(server: &hub_server::SpawnedServer) -> Self {
        let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            server.addr
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Self {
            tcp,
            buf: Vec::new(),
        };
        let end = loop {
            if let Some(at) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            raw.fill().await;
        };
        let head = String::from_utf8_lossy(&raw.buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        raw.buf.drain(..end);
        raw
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(PATIENCE, self.tcp.read(&mut chunk))
            .await
            .expect("the server answers within PATIENCE")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Writes one masked frame with the given first byte (FIN, RSV, opcode).
    async fn write(&mut self, first: u8, payload: &[u8]) {
        self.tcp
            .write_all(&frame(first, payload, true))
            .await
            .unwrap();
    }

    /// Reads the server's frames up to its close frame.
    async fn until_close(&mut self) -> Closed {
        let mut texts = Vec::new();
        loop {
            let Some((opcode, payload)) = self.next_frame().await else {
                panic!("the connection ended without a close frame after {texts:?}");
            };
            match opcode {
                0x1 => texts.push(serde_json::from_slice(&payload).expect("JSON text")),
                0x8 => {
                    let code = match payload.get(..2) {
                        Some(code) => u16::from_be_bytes([code[0], code[1]]),
                        None => 1005,
                    };
                    return Closed { texts, code };
                }
                _ => {} // pongs
            }
        }
    }

    /// The next whole server frame (servers do not mask), or `None` at the end.
    async fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => (
                        usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                        4,
                    ),
                    126 | 127 => (usize::MAX, 0), // wait for more (127: never sent here)
                    n => (usize::from(n), 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let opcode = self.buf[0] & 0x0f;
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((opcode, payload));
                }
            }
            if self.fill().await == 0 {
                return None;
            }
        }
    }
}

/// A client frame: masked (unless `masked` is false), with a 7- or 16-bit length.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![first];
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n => {
            out.push(mask_bit | 126);
            out.extend((n as u16).to_be_bytes());
        }
    }
    if masked {
        out.extend(key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend(payload);
    }
    out
}

const FIN: u8 = 0x80;
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend(reason);
    payload
}

/// Each violation gets its RFC code and nothing else: no `hub:disconnect`
/// frame first, since the hub is not the one with a reason to tell.
#[tokio::test]
async fn protocol_violations_close_with_rfc_6455_codes() {
    let server = start_default();
    let ping = |first: u8, len: usize| (first, vec![b'p'; len]);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "text not UTF-8",
            frame(FIN | TEXT, &[0xce, 0xba, 0xff], true),
            1007,
        ),
        (
            "a first fragment already not UTF-8 (no last fragment ever comes)",
            frame(TEXT, &[b'o', 0xc0, 0xaf], true),
            1007,
        ),
        (
            "a reserved bit",
            frame(FIN | 0x40 | TEXT, b"{}", true),
            1002,
        ),
        ("a reserved opcode", frame(FIN | 0x3, b"", true), 1002),
        (
            "a reserved control opcode",
            frame(FIN | 0xb, b"", true),
            1002,
        ),
        ("an unmasked frame", frame(FIN | TEXT, b"{}", false), 1002),
        (
            "a fragmented ping",
            {
                let (f, p) = ping(PING, 2);
                frame(f, &p, true)
            },
            1002,
        ),
        (
            "a ping over 125 bytes",
            {
                let (f, p) = ping(FIN | PING, 126);
                frame(f, &p, true)
            },
            1002,
        ),
        (
            "a continuation with nothing to continue",
            frame(FIN, b"x", true),
            1002,
        ),
        ("a one-byte close", frame(FIN | CLOSE, &[0x03], true), 1002),
        (
            "a close reason not UTF-8",
            frame(FIN | CLOSE, &close_payload(1000, &[0xff]), true),
            1007,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut c = Raw::open(&server).await;
        c.tcp.write_all(&bytes).await.unwrap();
        let closed = c.until_close().await;
        assert_eq!(closed.code, code, "{what}: {closed:?}");
        assert!(
            closed.texts.is_empty(),
            "{what}: no hub frame first: {closed:?}"
        );
    }
}

/// A client's close with a code RFC 6455 does not allow is answered 1002;
/// an allowed one is answered with a normal close.
#[tokio::test]
async fn a_client_close_with_an_invalid_code_is_a_protocol_error() {
    let server = start_default();
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999] {
        let mut c = Raw::open(&server).await;
        c.write(FIN | CLOSE, &close_payload(code, b"")).await;
        let closed = c.until_close().await;
        assert_eq!(closed.code, 1002, "client close {code}: {closed:?}");
    }
    for code in [1000, 1001, 1002, 1003, 1007, 1011, 3000, 3999, 4000, 4999] {
        let mut c = Raw::open(&server).await;
        c.write(FIN | CLOSE, &close_payload(code, "fine".as_bytes()))
            .await;
        let closed = c.until_close().await;
        assert_eq!(closed.code, 1000, "client close {code}: {closed:?}");
    }
}

/// Fragments and pings interleave as the RFC allows, and a character split
/// between fragments is no error; the message is one frame to the hub.
#[tokio::test]
async fn fragments_with_pings_between_them_make_one_message() {
    let server = start_default();
    let mut c = Raw::open(&server).await;
    let text = r#"{"type":"hub:ping","id":"naïve"}"#.as_bytes();
    let split = text.iter().position(|b| *b == 0xc3).unwrap() + 1; // inside 'ï'
    c.write(TEXT, &text[..split]).await;
    c.write(FIN | PING, b"between").await;
    c.write(FIN, &text[split..]).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (opcode, payload) = c.next_frame().await.expect("two answers");
        seen.push((opcode, payload));
    }
    assert_eq!(seen[0], (0xa, b"between".to_vec()), "the ping's pong first");
    let answer: Value = serde_json::from_slice(&seen[1].1).unwrap();
    assert_eq!(
        answer["id"], "naïve",
        "the message was read whole: {answer}"
    );
    assert_ne!(answer["code"], "bad_json", "{answer}");
}

/// An unfinished message is not held as long as the client pings: pings
/// inside it are answered but are no sign of life, so the session closes at
/// the heartbeat timeout (the hub's own reason, its own code).
#[tokio::test]
async fn an_unfinished_message_is_not_held_by_pings() {
    let mut config = test_config();
    config.hub.heartbeat_interval_ms = 200;
    config.hub.heartbeat_timeout_ms = 600;
    config.hub.connect_timeout_ms = 600_000;
    let server = start(config);
    let mut c = Raw::open(&server).await;
    c.write(TEXT, b"{\"type\":").await;
    let mut pinger = tokio::time::interval(Duration::from_millis(100));
    let deadline = tokio::time::sleep(PATIENCE);
    tokio::pin!(deadline);
    let closed = loop {
        tokio::select! {
            _ = &mut deadline => panic!("still open after PATIENCE: the pings held it"),
            _ = pinger.tick() => {
                if c.tcp.write_all(&frame(FIN | PING, b"alive?", true)).await.is_err() {
                    break c.until_close().await;
                }
            }
            f = c.next_frame() => match f {
                Some((0x8, payload)) => break Closed {
                    texts: Vec::new(),
                    code: u16::from_be_bytes([payload[0], payload[1]]),
                },
                Some(_) => {}
                None => panic!("ended without a close frame"),
            },
        }
    };
    assert_eq!(closed.code, 4001, "{closed:?}");
}
