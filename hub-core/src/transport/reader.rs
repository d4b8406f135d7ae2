//! Reads WebSocket messages straight from the socket's read half.
//!
//! Frames are parsed with actix-http's WebSocket codec (masking, header
//! checks, the size limit from the frame header); this reader adds what the
//! session needs on top: continuations joined under the same size limit,
//! UTF-8 checked as each fragment arrives, what RFC 6455 asks beyond the
//! codec (reserved bits, fragmented control frames, a close reason's UTF-8),
//! and a read buffer that exists only while bytes are waiting, so an idle
//! connection holds none.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use actix_web::web::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::Stream;
use tokio::io::AsyncRead;
use tokio_util::codec::Decoder;

use crate::session::{Inbound, ReadSwitch};

/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 4 * 1024;

/// A message being joined from continuation frames.
#[derive(Debug)]
struct Partial {
    text: bool,
    parts: BytesMut,
    /// How much of `parts` is known to be whole UTF-8 characters (text
    /// only): each fragment is checked as it arrives, so a message broken
    /// in its first fragment fails then, not after its last (RFC 6455 §8.1).
    checked: usize,
}

impl Partial {
    /// Checks the bytes added since the last check; a character split
    /// between fragments waits for the next one.
    fn check_utf8(&mut self) -> Result<(), Inbound> {
        match std::str::from_utf8(&self.parts[self.checked..]) {
            Ok(_) => self.checked = self.parts.len(),
            Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
            Err(_) => return Err(Inbound::NotUtf8),
        }
        Ok(())
    }
}

/// A stream of [`Inbound`] messages read from `io`. Ends at end of stream or
/// a read error; after a protocol violation it yields [`Inbound::Invalid`] or
/// [`Inbound::TooLarge`] once, then only discards input until the client
/// closes its side (the session is closing).
#[derive(Debug)]
pub(crate) struct SocketReader<R> {
    io: R,
    codec: Codec,
    /// Bytes read and not yet decoded. Released whenever it is empty and the
    /// socket has nothing more, so idle connections carry no buffer.
    buf: BytesMut,
    partial: Option<Partial>,
    max_message_bytes: usize,
    state: ReadState,
    /// Set by the session to stop decoding (see [`ReadSwitch`]).
    switch: ReadSwitch,
}

#[derive(Debug, PartialEq, Eq)]
enum ReadState {
    Open,
    /// A protocol violation was reported: discard input until it ends.
    Stalled,
    /// End of stream or a read error: the stream is over.
    Ended,
}

impl<R: AsyncRead + Unpin> SocketReader<R> {
    /// `leftover`: bytes the HTTP layer read past the upgrade request (a client
    /// may send its first frames without waiting for the 101).
    pub(crate) fn new(io: R, leftover: BytesMut, max_message_bytes: usize) -> Self {
        Self {
            io,
            codec: Codec::new().max_size(max_message_bytes),
            buf: leftover,
            partial: None,
            max_message_bytes,
            state: ReadState::Open,
            switch: ReadSwitch::default(),
        }
    }

    /// The switch a session turns to make this reader drop input unread.
    pub(crate) fn switch(&self) -> ReadSwitch {
        self.switch.clone()
    }

    /// After a violation the stream cannot be parsed any more: read and drop
    /// whatever comes, only to notice when the client closes its side.
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
        let mut scratch = [0u8; 1024];
        loop {
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => continue,
                Poll::Ready(_) => {
                    self.state = ReadState::Ended;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Decodes the next complete message from `buf`, if there is one.
    fn decode(&mut self) -> Result<Option<Inbound>, Inbound> {
        loop {
            // actix-http's codec compares a frame's length with the limit only
            // once the whole frame is buffered: a header announcing 64 MiB
            // would make it buffer 64 MiB first. Refuse from the header.
            let header = FrameHeader::peek(&self.buf);
            if let Some(header) = header {
                header.check()?;
                let joined = match (&self.partial, header.opcode) {
                    (Some(partial), OPCODE_CONTINUATION) => partial.parts.len() as u64,
                    _ => 0,
                };
                if header.payload_len.saturating_add(joined) > self.max_message_bytes as u64 {
                    return Err(Inbound::TooLarge);
                }
                if header.opcode == OPCODE_CLOSE && close_reason_is_not_utf8(&self.buf) {
                    return Err(Inbound::NotUtf8);
                }
            }
            let frame = match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(None),
                Err(ProtocolError::Overflow) => return Err(Inbound::TooLarge),
                Err(e) => return Err(Inbound::Invalid(e.to_string())),
            };
            // Signs of life inside an unfinished message do not count (see
            // `Inbound::alive`).
            let alive = self.partial.is_none();
            let message = match frame {
                Frame::Text(bytes) => text(bytes)?,
                Frame::Binary(_) => Inbound::Binary,
                Frame::Ping(payload) => Inbound::Ping { payload, alive },
                Frame::Pong(_) => Inbound::Pong { alive },
                Frame::Close(_) => Inbound::Close,
                Frame::Continuation(item) => match self.join(item)? {
                    Some(message) => message,
                    None => continue,
                },
            };
            return Ok(Some(message));
        }
    }

    /// Adds a continuation frame; returns the message once its last frame is in.
    /// The codec already refuses a continuation without a start, or a second start.
    fn join(&mut self, item: Item) -> Result<Option<Inbound>, Inbound> {
        let (first, bytes, last) = match item {
            Item::FirstText(b) => (Some(true), b, false),
            Item::FirstBinary(b) => (Some(false), b, false),
            Item::Continue(b) => (None, b, false),
            Item::Last(b) => (None, b, true),
        };
        if let Some(text) = first {
            self.partial = Some(Partial {
                text,
                parts: BytesMut::new(),
                checked: 0,
            });
        }
        let Some(partial) = self.partial.as_mut() else {
            return Err(Inbound::Invalid(
                "continuation without a first frame".into(),
            ));
        };
        if partial.parts.len() + bytes.len() > self.max_message_bytes {
            return Err(Inbound::TooLarge);
        }
        partial.parts.extend_from_slice(&bytes);
        if partial.text {
            partial.check_utf8()?;
        }
        if !last {
            return Ok(None);
        }
        let Partial {
            text: is_text,
            parts,
            ..
        } = self.partial.take().expect("checked above");
        if is_text {
            text(parts.freeze()).map(Some)
        } else {
            Ok(Some(Inbound::Binary))
        }
    }
}

/// Opcode of a continuation frame.
const OPCODE_CONTINUATION: u8 = 0x0;
/// Opcode of a close frame.
const OPCODE_CLOSE: u8 = 0x8;

/// What a WebSocket frame header (RFC 6455 §5.2) says, read as soon as the
/// header's length bytes are in: enough to refuse a frame from its header
/// (its size, reserved bits, a fragmented control frame) before actix-http's
/// codec buffers it. Everything else about the frame is the codec's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHeader {
    /// The FIN bit: the last frame of its message.
    fin: bool,
    /// The three reserved bits; no extension is negotiated, so all zero.
    rsv: u8,
    /// The opcode (0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong).
    opcode: u8,
    /// The announced payload length in bytes.
    payload_len: u64,
    /// The header's own length: 2, the extended length, the 4-byte mask key
    /// when the mask bit is set.
    len: usize,
}

impl FrameHeader {
    /// The header at the start of `buf`, or `None` until its length bytes have arrived.
    fn peek(buf: &[u8]) -> Option<Self> {
        let (&first, rest) = buf.split_first()?;
        let (&second, rest) = rest.split_first()?;
        let (payload_len, extended) = match second & 0x7f {
            126 => (
                u64::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
                2,
            ),
            127 => (u64::from_be_bytes(rest.get(..8)?.try_into().ok()?), 8),
            n => (u64::from(n), 0),
        };
        let mask = if second & 0x80 != 0 { 4 } else { 0 };
        Some(Self {
            fin: first & 0x80 != 0,
            rsv: (first >> 4) & 0x07,
            opcode: first & 0x0f,
            payload_len,
            len: 2 + extended + mask,
        })
    }

    /// What the codec lets through that RFC 6455 does not: a reserved bit
    /// set (§5.2: fail unless an extension says what it means), and a
    /// fragmented control frame (§5.5), which the codec would also log at
    /// ERROR — a line per frame any client could write.
    fn check(&self) -> Result<(), Inbound> {
        if self.rsv != 0 {
            return Err(Inbound::Invalid(
                "a reserved bit is set, and no extension was negotiated".into(),
            ));
        }
        if self.opcode >= OPCODE_CLOSE && !self.fin {
            return Err(Inbound::Invalid("a control frame is fragmented".into()));
        }
        Ok(())
    }
}

/// Whether the close frame at the start of `buf`, once whole, carries a
/// reason that is not UTF-8 (1007; the codec refuses it like a bad code,
/// which is 1002). `false` while the frame is incomplete or unmasked (the
/// codec refuses those).
fn close_reason_is_not_utf8(buf: &[u8]) -> bool {
    let Some(header) = FrameHeader::peek(buf) else {
        return false;
    };
    let Ok(payload_len) = usize::try_from(header.payload_len) else {
        return false;
    };
    if header.len < 6 || payload_len <= 2 || payload_len > 125 {
        return false;
    }
    let Some(masked) = buf.get(header.len..header.len + payload_len) else {
        return false;
    };
    let key = &buf[header.len - 4..header.len];
    let payload: Vec<u8> = masked
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    std::str::from_utf8(&payload[2..]).is_err()
}

fn text(bytes: Bytes) -> Result<Inbound, Inbound> {
    ByteString::try_from(bytes)
        .map(Inbound::Text)
        .map_err(|_| Inbound::NotUtf8)
}

impl<R: AsyncRead + Unpin> Stream for SocketReader<R> {
    type Item = Inbound;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
        let this = &mut *self;
        loop {
            if this.switch.is_discarding() {
                // Not read at all: TCP flow control holds the flooder back
                // at no cost here. The session ends at close_timeout_ms.
                this.buf = BytesMut::new();
                this.partial = None;
                return Poll::Pending;
            }
            if this.switch.is_paused(cx) {
                return Poll::Pending;
            }
            match this.state {
                ReadState::Open => {}
                ReadState::Stalled => return this.poll_discard(cx),
                ReadState::Ended => return Poll::Ready(None),
            }
            match this.decode() {
                Ok(Some(message)) => return Poll::Ready(Some(message)),
                Ok(None) => {}
                Err(violation) => {
                    this.state = ReadState::Stalled;
                    this.buf = BytesMut::new();
                    return Poll::Ready(Some(violation));
                }
            }
            this.buf.reserve(READ_CHUNK);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.buf) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    this.state = ReadState::Ended;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => {
                    if this.buf.is_empty() {
                        this.buf = BytesMut::new();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
