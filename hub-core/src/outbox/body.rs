//! [`OutboundBody`]: the receiving end of a session's queue, drained
//! straight into the socket.
//!
//! It is polled when the socket can take more: by the hub's own socket writer
//! (`transport`), or by actix-http's dispatcher as the WebSocket response's
//! body (`ws_endpoint`). Each poll encodes every frame waiting in the queue
//! into one buffer, so a busy connection gets many frames per write and a
//! frame crosses one queue on its way from a topic to the socket.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix::Recipient;
use actix_http::ws::{CloseReason, Codec, Message};
use actix_web::web::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_util::codec::Encoder;

use super::events::EventFraming;
use super::{ConnectionGuard, OutFrame, OutboxState, Outgoing, SocketDone};
use crate::metrics::Batch;
use crate::protocol::CloseCode;

/// Bytes encoded per poll before handing them to the socket, so one poll
/// cannot build an unbounded buffer from a long queue.
const MAX_BYTES_PER_POLL: usize = 64 * 1024;

/// Drains the session's queue into the socket, as a stream of encoded chunks.
pub(crate) struct OutboundBody {
    rx: mpsc::Receiver<OutFrame>,
    state: Arc<OutboxState>,
    codec: Codec,
    buf: BytesMut,
    /// Text frames taken from the queue in this poll and not yet encoded:
    /// with batching they become one message. Emptied (and released when
    /// idle) at the end of every poll.
    batch: Vec<OutFrame>,
    /// Payload bytes in `batch`.
    batch_bytes: usize,
    /// The close frame is encoded (or the session is gone): end after `buf`.
    done: bool,
    /// Set for an event stream (the SSE transport): frames go out as
    /// events instead of WebSocket frames.
    events: Option<EventFraming>,
    /// Told when the body is dropped: the response, and so the socket, is finished.
    on_drop: Option<Recipient<SocketDone>>,
    /// Counts this connection against `max_connections` until the socket is
    /// really gone, which can be after the session actor stopped (a client
    /// that does not read keeps its socket until the kernel gives up).
    connection: ConnectionGuard,
}

impl std::fmt::Debug for OutboundBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl OutboundBody {
    pub(crate) fn new(
        rx: mpsc::Receiver<OutFrame>,
        state: Arc<OutboxState>,
        on_drop: Recipient<SocketDone>,
        connection: ConnectionGuard,
    ) -> Self {
        Self {
            rx,
            state,
            codec: Codec::new(),
            buf: BytesMut::new(),
            batch: Vec::new(),
            batch_bytes: 0,
            done: false,
            events: None,
            on_drop: Some(on_drop),
            connection,
        }
    }

    /// True once the session is gone; `cx` is woken when that happens.
    pub(crate) fn is_cut(&self, cx: &mut Context<'_>) -> bool {
        self.state.waker.register(cx.waker());
        self.state.cut.load(Ordering::Acquire)
    }

    fn encode(&mut self, message: Message) {
        // Encoding a frame into a growable buffer cannot fail.
        let _ = self.codec.encode(message, &mut self.buf);
    }

    /// From now on, frames go out as Server-Sent Events.
    pub(crate) fn framed_as_events(mut self, framing: EventFraming) -> Self {
        self.events = Some(framing);
        self
    }

    fn encode_close(&mut self, code: CloseCode) {
        if self.events.is_some() {
            EventFraming::encode_close(code, &mut self.buf);
            self.done = true;
            return;
        }
        self.encode(Message::Close(Some(CloseReason {
            code: actix_http::ws::CloseCode::from(code.number()),
            description: Some(code.as_str().to_owned()),
        })));
        self.done = true;
    }
}

impl OutboundBody {
    /// Encodes the text frames in `batch`: one alone as it is, several as one
    /// message with a frame per line.
    fn flush_batch(&mut self) {
        if self.events.is_some() {
            // An event stream has no batches: one event per frame.
            for frame in std::mem::take(&mut self.batch) {
                self.encode_owned(frame);
            }
            self.batch_bytes = 0;
            return;
        }
        match self.batch.len() {
            0 => {}
            1 => {
                let frame = self.batch.pop().expect("one frame");
                self.encode_owned(frame);
            }
            n => {
                let len = self.batch_bytes + n - 1;
                write_text_header(&mut self.buf, len);
                for (i, frame) in self.batch.drain(..).enumerate() {
                    if i > 0 {
                        self.buf.extend_from_slice(b"\n");
                    }
                    if let Outgoing::Text(text, _) = &*frame.0 {
                        self.buf.extend_from_slice(text.as_bytes());
                    }
                }
            }
        }
        self.batch_bytes = 0;
    }

    /// Encodes one frame. The last holder of a shared fan-out frame (and the
    /// only holder of any other) takes the bytes without a clone.
    fn encode_owned(&mut self, OutFrame(frame): OutFrame) {
        if let Some(events) = self.events.as_mut() {
            match &*frame {
                Outgoing::Text(text, _) => events.encode(text, &mut self.buf),
                // No WebSocket pings come over an event stream.
                Outgoing::Pong(_) => {}
                Outgoing::Close(code) => {
                    let code = *code;
                    self.encode_close(code);
                }
            }
            return;
        }
        let message = match Arc::try_unwrap(frame) {
            Ok(Outgoing::Text(text, _)) => Message::Text(text),
            Ok(Outgoing::Pong(bytes)) => Message::Pong(bytes),
            Ok(Outgoing::Close(code)) => return self.encode_close(code),
            Err(shared) => match &*shared {
                Outgoing::Text(text, _) => Message::Text(text.clone()),
                Outgoing::Pong(bytes) => Message::Pong(bytes.clone()),
                Outgoing::Close(code) => return self.encode_close(*code),
            },
        };
        self.encode(message);
    }
}

/// Writes the header of an unmasked, final text frame (RFC 6455 §5.2) whose
/// payload of `len` bytes follows. actix-http's encoder wants the payload in
/// one piece; a batch is several pieces, so its header is written here and
/// the pieces are copied once, straight into the socket buffer.
fn write_text_header(buf: &mut BytesMut, len: usize) {
    const FIN_TEXT: u8 = 0x81;
    buf.reserve(len + 10);
    if len < 126 {
        buf.extend_from_slice(&[FIN_TEXT, len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        buf.extend_from_slice(&[FIN_TEXT, 126]);
        buf.extend_from_slice(&len.to_be_bytes());
    } else {
        buf.extend_from_slice(&[FIN_TEXT, 127]);
        buf.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

impl Stream for OutboundBody {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done && this.buf.is_empty() {
            return Poll::Ready(None);
        }
        this.state.waker.register(cx.waker());
        if this.state.cut.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        let batching = this.state.batching.load(Ordering::Acquire);
        let mut now = None;
        let mut latencies = Batch::default();
        let mut first = true;
        while !this.done && this.buf.len() + this.batch_bytes < MAX_BYTES_PER_POLL {
            if let Some(code) = this.state.forced() {
                // Forced: what was taken from the queue is dropped with the rest.
                this.batch.clear();
                this.batch_bytes = 0;
                this.encode_close(code);
                break;
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(frame)) => {
                    let size = frame.size();
                    this.state.dequeued(size);
                    if first {
                        first = false;
                        let depth = this.rx.len() as u64 + 1;
                        let metrics = &this.connection.metrics;
                        metrics.outbound_queue_frames.observe(depth);
                    }
                    if let Outgoing::Text(_, received) = &*frame.0 {
                        let metrics = &this.connection.metrics;
                        match received {
                            // A fan-out's size was counted for every queue
                            // when it was fanned out.
                            None => metrics.outbound_frame_bytes.observe(size as u64),
                            Some(received) => {
                                let now = *now.get_or_insert_with(Instant::now);
                                let micros = now.saturating_duration_since(*received).as_micros();
                                (metrics.delivery_latency).collect(&mut latencies, micros as u64);
                            }
                        }
                    }
                    match &*frame.0 {
                        Outgoing::Text(text, _) if batching => {
                            this.batch_bytes += text.len();
                            this.batch.push(frame);
                        }
                        _ => {
                            this.flush_batch();
                            this.encode_owned(frame);
                        }
                    }
                }
                Poll::Ready(None) => this.done = true,
                Poll::Pending => break,
            }
        }
        this.flush_batch();
        this.connection
            .metrics
            .delivery_latency
            .flush(&mut latencies);
        if !this.buf.is_empty() {
            return Poll::Ready(Some(Ok(this.buf.split().freeze())));
        }
        if this.done {
            Poll::Ready(None)
        } else {
            // Nothing waiting: let the buffers go instead of keeping their
            // spare capacity for a connection that may stay idle.
            this.buf = BytesMut::new();
            this.batch = Vec::new();
            Poll::Pending
        }
    }
}

impl Drop for OutboundBody {
    fn drop(&mut self) {
        if let Some(session) = self.on_drop.take() {
            session.do_send(SocketDone);
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_http::ws::Frame;
    use bytestring::ByteString;
    use tokio_util::codec::Decoder;

    use super::*;
    use crate::fixtures::handle_and_body;

    /// One poll of the body, with a waker that does nothing.
    fn poll(body: &mut OutboundBody) -> Poll<Option<Bytes>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(body)
            .poll_next(&mut cx)
            .map(|item| item.map(|chunk| chunk.expect("bodies do not fail")))
    }

    /// The frames in one chunk, as a client reads them.
    fn frames(chunk: Bytes) -> Vec<Frame> {
        let mut codec = Codec::new().client_mode();
        let mut buf = BytesMut::from(&chunk[..]);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).expect("valid frames") {
            out.push(frame);
        }
        assert!(buf.is_empty(), "no partial frame left");
        out
    }

    fn texts(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Text(t) => String::from_utf8(t.to_vec()).unwrap(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[actix_rt::test]
    async fn every_waiting_frame_goes_out_in_one_chunk() {
        let (handle, mut body) = handle_and_body(8, usize::MAX);
        assert!(poll(&mut body).is_pending(), "nothing queued yet");
        for text in ["a", "b", "c"] {
            assert_eq!(
                handle.push(ByteString::from(text)),
                crate::outbox::Pushed::Accepted
            );
        }
        let Poll::Ready(Some(chunk)) = poll(&mut body) else {
            panic!("a chunk");
        };
        assert_eq!(texts(&frames(chunk)), ["a", "b", "c"]);
        assert!(poll(&mut body).is_pending(), "the queue is drained");
    }

    #[actix_rt::test]
    async fn a_forced_close_skips_the_queue_and_ends_the_body() {
        let (handle, mut body) = handle_and_body(2, usize::MAX);
        handle.push(ByteString::from("queued 1"));
        handle.push(ByteString::from("queued 2"));
        assert_eq!(
            handle.push(ByteString::from("one too many")),
            crate::outbox::Pushed::Slow,
            "a full queue makes its session a slow consumer"
        );
        let Poll::Ready(Some(chunk)) = poll(&mut body) else {
            panic!("a chunk");
        };
        match &frames(chunk)[..] {
            [Frame::Close(Some(reason))] => {
                assert_eq!(u16::from(reason.code), CloseCode::SlowConsumer.number());
            }
            other => panic!("only the close frame, got {other:?}"),
        }
        assert!(
            matches!(poll(&mut body), Poll::Ready(None)),
            "nothing after the close"
        );
    }

    #[actix_rt::test]
    async fn a_queued_close_comes_after_what_was_queued_before_it() {
        let (handle, mut body) = handle_and_body(8, usize::MAX);
        handle.push(ByteString::from("last words"));
        handle.push_closing_frame(OutFrame::close(CloseCode::ServerShutdown));
        let Poll::Ready(Some(chunk)) = poll(&mut body) else {
            panic!("a chunk");
        };
        let frames = frames(chunk);
        assert_eq!(texts(&frames[..1]), ["last words"]);
        assert!(matches!(frames[1], Frame::Close(Some(_))));
        assert!(matches!(poll(&mut body), Poll::Ready(None)));
    }

    #[actix_rt::test]
    async fn a_cut_ends_the_body_without_a_close_frame() {
        let (handle, mut body) = handle_and_body(8, usize::MAX);
        handle.push(ByteString::from("never sent"));
        body.state.cut();
        assert!(matches!(poll(&mut body), Poll::Ready(None)));
    }

    #[actix_rt::test]
    async fn with_batching_waiting_texts_are_one_message_a_line_each() {
        let (handle, mut body) = handle_and_body(8, usize::MAX);
        body.state.set_batching(true);
        handle.push(ByteString::from(r#"{"a":1}"#));
        handle.push(ByteString::from(r#"{"b":2}"#));
        handle.push_frame(OutFrame::pong(Bytes::from_static(b"p")));
        handle.push(ByteString::from(r#"{"c":3}"#));
        let Poll::Ready(Some(chunk)) = poll(&mut body) else {
            panic!("a chunk");
        };
        let frames = frames(chunk);
        assert_eq!(
            texts(&frames[..1]),
            ["{\"a\":1}\n{\"b\":2}"],
            "the pong ends the batch"
        );
        assert!(matches!(frames[1], Frame::Pong(_)));
        assert_eq!(
            texts(&frames[2..]),
            ["{\"c\":3}"],
            "a lone frame goes as it is"
        );
    }

    #[actix_rt::test]
    async fn the_queue_is_bounded_in_bytes_too() {
        let (handle, mut body) = handle_and_body(64, 100);
        let sixty = ByteString::from("x".repeat(60));
        assert_eq!(handle.push(sixty.clone()), crate::outbox::Pushed::Accepted);
        assert_eq!(
            handle.push(sixty.clone()),
            crate::outbox::Pushed::Slow,
            "120 bytes would be over 100"
        );
        let (fresh, mut fresh_body) = handle_and_body(64, 100);
        let big = ByteString::from("y".repeat(500));
        assert_eq!(
            fresh.push(big),
            crate::outbox::Pushed::Accepted,
            "a frame alone is let in whatever its size"
        );
        assert!(matches!(poll(&mut fresh_body), Poll::Ready(Some(_))));
        assert_eq!(
            fresh.push(sixty),
            crate::outbox::Pushed::Accepted,
            "drained: room again"
        );
        // The first queue was closed as a slow consumer: its body sends 4002.
        let Poll::Ready(Some(chunk)) = poll(&mut body) else {
            panic!("a chunk");
        };
        assert!(matches!(&frames(chunk)[..], [Frame::Close(Some(r))] if u16::from(r.code) == 4002));
    }

    #[test]
    fn the_batch_header_is_what_actix_http_writes_for_the_same_length() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let payload = "x".repeat(len);
            let mut ours = BytesMut::new();
            write_text_header(&mut ours, len);
            ours.extend_from_slice(payload.as_bytes());
            let mut theirs = BytesMut::new();
            Codec::new()
                .encode(Message::Text(payload.into()), &mut theirs)
                .unwrap();
            assert_eq!(ours, theirs, "length {len}");
        }
    }

    #[actix_rt::test]
    async fn one_poll_stops_near_its_byte_budget() {
        let (handle, mut body) = handle_and_body(64, usize::MAX);
        let big = ByteString::from("x".repeat(20 * 1024));
        for _ in 0..8 {
            handle.push(big.clone());
        }
        let Poll::Ready(Some(chunk)) = poll(&mut body) else {
            panic!("a chunk");
        };
        let first = frames(chunk).len();
        assert!(
            first < 8,
            "a poll encodes at most about {MAX_BYTES_PER_POLL} bytes"
        );
        let mut total = first;
        while let Poll::Ready(Some(chunk)) = poll(&mut body) {
            total += frames(chunk).len();
        }
        assert_eq!(total, 8, "the rest follows in later polls");
    }
}
