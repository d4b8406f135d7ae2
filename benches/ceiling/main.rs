//! `hub-ceiling`: the physical ceiling for fan-out on this machine. A minimal
//! server on plain tokio + tokio-tungstenite (no actors, no JSON parse on the
//! publish path) that speaks just enough of the Signal Hub protocol for
//! `hub-bench fanout` and `hub-bench idle`: connect, subscribe, publish,
//! ping, disconnect. One current-thread runtime; each publication is encoded
//! into one WebSocket frame whose bytes every subscriber shares; each
//! connection writes all its pending frames with one vectored write. A client
//! that asks for `features: ["batch"]` gets its pending frames as one
//! WebSocket message, a frame per line, as the hub batches: one header for
//! the lot, the shared JSON texts written straight behind it.
//!
//! It is a yardstick, not a product: no limits, no validation, no heartbeats.
#![allow(missing_docs)]

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

#[derive(Debug, Parser)]
#[command(about = "Reference fan-out server: the ceiling hub-bench compares the hub against")]
struct Args {
    /// Listen address (loopback).
    #[arg(long, default_value = "127.0.0.1:9090")]
    bind: String,
}

/// One outgoing frame: its JSON text and the same text as an encoded
/// WebSocket frame, both shared by every recipient.
#[derive(Clone)]
struct Out {
    text: Bytes,
    framed: Bytes,
}

/// One connection's outbound side: pending frames and a wake-up.
#[derive(Default)]
struct Outbox {
    frames: RefCell<VecDeque<Out>>,
    /// The client asked for batches.
    batch: std::cell::Cell<bool>,
    ready: Notify,
}

impl Outbox {
    fn push(&self, frame: Out) {
        self.frames.borrow_mut().push_back(frame);
        self.ready.notify_one();
    }
}

type Topics = Rc<RefCell<HashMap<String, Vec<Rc<Outbox>>>>>;

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(&args.bind).await?;
        println!(
            "hub-ceiling listening on ws://{}/ws",
            listener.local_addr()?
        );
        let topics: Topics = Rc::default();
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::task::spawn_local(serve(stream, topics.clone()));
        }
    })
}

/// Encodes one text frame (server frames are unmasked).
fn encode(text: String) -> Out {
    let text = Bytes::from(text);
    let frame = Frame::message(text.clone(), OpCode::Data(Data::Text), true);
    let mut out = Vec::with_capacity(frame.len());
    frame
        .format(&mut out)
        .expect("writing to a Vec cannot fail");
    Out {
        text,
        framed: Bytes::from(out),
    }
}

/// The header of one unmasked final text frame of `len` payload bytes.
fn text_header(len: usize) -> Bytes {
    let frame = Frame::message(Bytes::new(), OpCode::Data(Data::Text), true);
    let mut header = frame.header().clone();
    let mut out = Vec::with_capacity(10);
    header.is_final = true;
    header
        .format(len as u64, &mut out)
        .expect("writing to a Vec cannot fail");
    Bytes::from(out)
}

/// What one write carries: every pending frame, or (batching) one message
/// holding every pending frame's text, a line each.
fn pieces(batch: bool, pending: &[Out], out: &mut Vec<Bytes>) {
    const NEWLINE: Bytes = Bytes::from_static(b"\n");
    if !batch || pending.len() == 1 {
        out.extend(pending.iter().map(|o| o.framed.clone()));
        return;
    }
    let len = pending.iter().map(|o| o.text.len()).sum::<usize>() + pending.len() - 1;
    out.push(text_header(len));
    for (i, o) in pending.iter().enumerate() {
        if i > 0 {
            out.push(NEWLINE);
        }
        out.push(o.text.clone());
    }
}

async fn serve(mut stream: TcpStream, topics: Topics) {
    if handshake(&mut stream).await.is_err() {
        return;
    }
    let (read, mut write) = stream.into_split();
    let outbox = Rc::new(Outbox::default());
    let writer = {
        let outbox = outbox.clone();
        tokio::task::spawn_local(async move {
            let mut pending: Vec<Out> = Vec::new();
            let mut slices: Vec<Bytes> = Vec::new();
            loop {
                pending.extend(outbox.frames.borrow_mut().drain(..));
                if pending.is_empty() {
                    outbox.ready.notified().await;
                    continue;
                }
                pieces(outbox.batch.get(), &pending, &mut slices);
                if write_all_vectored(&mut write, &slices).await.is_err() {
                    return;
                }
                pending.clear();
                slices.clear();
            }
        })
    };
    // tungstenite reads through a 128 KiB buffer by default; clients send
    // small frames, and idle memory is part of what the ceiling measures.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let mut ws = WebSocketStream::from_raw_socket(ReadOnly(read), Role::Server, Some(config)).await;
    let mut my_topics = Vec::new();
    while let Some(Ok(Message::Text(text))) = ws.next().await {
        let text = text.as_str();
        let kind = field(text, "type").unwrap_or_default();
        match kind {
            "hub:publish" => {
                let topic = field(text, "topic").unwrap_or_default();
                // The payload is the last field: slice it out, no parse.
                let payload = text
                    .find(r#""payload":"#)
                    .map(|at| &text[at + 10..text.len() - 1])
                    .unwrap_or("null");
                let frame = encode(format!(
                    r#"{{"type":"hub:message","topic":"{topic}","from":"pub","payload":{payload}}}"#
                ));
                let recipients = match topics.borrow().get(topic) {
                    Some(subs) => {
                        for sub in subs {
                            sub.push(frame.clone());
                        }
                        subs.len()
                    }
                    None => 0,
                };
                outbox.push(encode(format!(
                    r#"{{"type":"hub:publish_ack","topic":"{topic}","recipients":{recipients}}}"#
                )));
            }
            "hub:connect" => {
                let batch = text.contains(r#""batch""#);
                outbox.batch.set(batch);
                let features = if batch { r#"["batch"]"# } else { "[]" };
                outbox.push(encode(format!(
                    r#"{{"type":"hub:connected","session_id":"ceiling","features":{features}}}"#
                )));
            }
            "hub:subscribe" => {
                let topic = field(text, "topic").unwrap_or_default().to_owned();
                topics
                    .borrow_mut()
                    .entry(topic.clone())
                    .or_default()
                    .push(outbox.clone());
                outbox.push(encode(format!(
                    r#"{{"type":"hub:subscribe_ack","topic":"{topic}"}}"#
                )));
                my_topics.push(topic);
            }
            "hub:ping" => outbox.push(encode(r#"{"type":"hub:pong"}"#.into())),
            "hub:disconnect" => {
                outbox.push(encode(r#"{"type":"hub:disconnect_ack"}"#.into()));
                break;
            }
            _ => {}
        }
    }
    for topic in my_topics {
        if let Some(subs) = topics.borrow_mut().get_mut(&topic) {
            subs.retain(|s| !Rc::ptr_eq(s, &outbox));
        }
    }
    // Let the writer flush what is queued, then end the connection.
    tokio::task::yield_now().await;
    writer.abort();
}

/// A string field's value, found by scanning (good enough for our own frames).
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(r#""{name}":""#);
    let at = text.find(&key)? + key.len();
    text[at..].split('"').next()
}

async fn write_all_vectored(
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    frames: &[Bytes],
) -> std::io::Result<()> {
    let mut index = 0;
    let mut offset = 0;
    while index < frames.len() {
        let slices: Vec<IoSlice<'_>> = std::iter::once(&frames[index][offset..])
            .chain(frames[index + 1..].iter().map(|b| &b[..]))
            .take(1024)
            .map(IoSlice::new)
            .collect();
        let mut written = write.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while index < frames.len() && written >= frames[index].len() - offset {
            written -= frames[index].len() - offset;
            index += 1;
            offset = 0;
        }
        offset += written;
    }
    Ok(())
}

async fn handshake(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 16 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let request = String::from_utf8_lossy(&buf);
    let key = request
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await
}

/// The read half, with writes (pongs, close replies) discarded: the ceiling
/// writes only through its vectored writer.
struct ReadOnly(OwnedReadHalf);

impl AsyncRead for ReadOnly {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadOnly {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
