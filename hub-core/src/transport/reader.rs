//! Reads WebSocket messages straight from the socket's read half.
//!
//! Frames are parsed with actix-http's WebSocket codec (masking, header
//! checks, the size limit from the frame header); this reader adds what the
//! session needs on top: continuations joined under the same size limit, UTF-8
//! checked once per message, and a read buffer that exists only while bytes
//! are waiting, so an idle connection holds none.

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
            if let Some(header) = FrameHeader::peek(&self.buf) {
                let joined = match (&self.partial, header.is_continuation) {
                    (Some(partial), true) => partial.parts.len() as u64,
                    _ => 0,
                };
                if header.payload_len.saturating_add(joined) > self.max_message_bytes as u64 {
                    return Err(Inbound::TooLarge);
                }
            }
            let frame = match self.codec.decode(&mut self.buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(None),
                Err(ProtocolError::Overflow) => return Err(Inbound::TooLarge),
                Err(e) => return Err(Inbound::Invalid(e.to_string())),
            };
            let message = match frame {
                Frame::Text(bytes) => text(bytes)?,
                Frame::Binary(_) => Inbound::Binary,
                Frame::Ping(bytes) => Inbound::Ping(bytes),
                Frame::Pong(_) => Inbound::Pong,
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
        if !last {
            return Ok(None);
        }
        let Partial {
            text: is_text,
            parts,
        } = self.partial.take().expect("checked above");
        if is_text {
            text(parts.freeze()).map(Some)
        } else {
            Ok(Some(Inbound::Binary))
        }
    }
}

/// What a WebSocket frame header (RFC 6455 §5.2) says about the frame's
/// size, read as soon as the header's length bytes are in. Only the length is
/// read here; everything else about the frame is actix-http's codec's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHeader {
    /// Opcode 0: the frame continues a fragmented message.
    is_continuation: bool,
    /// The announced payload length in bytes.
    payload_len: u64,
}

impl FrameHeader {
    /// The header at the start of `buf`, or `None` until its length bytes have arrived.
    fn peek(buf: &[u8]) -> Option<Self> {
        let (&first, rest) = buf.split_first()?;
        let (&second, rest) = rest.split_first()?;
        let payload_len = match second & 0x7f {
            126 => u64::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            127 => u64::from_be_bytes(rest.get(..8)?.try_into().ok()?),
            n => u64::from(n),
        };
        Some(Self {
            is_continuation: first & 0x0f == 0,
            payload_len,
        })
    }
}

fn text(bytes: Bytes) -> Result<Inbound, Inbound> {
    ByteString::try_from(bytes)
        .map(Inbound::Text)
        .map_err(|_| Inbound::Invalid("text frame is not valid UTF-8".into()))
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
mod tests {
    use super::*;

    #[test]
    fn the_header_length_is_read_in_all_three_encodings() {
        assert_eq!(FrameHeader::peek(&[0x81]), None);
        let short = FrameHeader::peek(&[0x81, 0x80 | 5]).unwrap();
        assert_eq!((short.is_continuation, short.payload_len), (false, 5));
        assert_eq!(
            FrameHeader::peek(&[0x81, 0xfe, 0x01]),
            None,
            "16-bit length incomplete"
        );
        let medium = FrameHeader::peek(&[0x00, 0xfe, 0x01, 0x00]).unwrap();
        assert_eq!((medium.is_continuation, medium.payload_len), (true, 256));
        let mut long = vec![0x81, 0xff];
        long.extend((64u64 << 20).to_be_bytes());
        assert_eq!(FrameHeader::peek(&long).unwrap().payload_len, 64 << 20);
        assert_eq!(
            FrameHeader::peek(&long[..9]),
            None,
            "64-bit length incomplete"
        );
    }
}

#[cfg(test)]
mod reading {
    //! The reader over a scripted socket: each read returns the next chunk,
    //! then end of stream.

    use std::collections::VecDeque;
    use std::io;

    use futures_util::StreamExt;
    use tokio::io::ReadBuf;

    use super::*;

    /// A socket whose reads return `chunks` one by one, then end of stream.
    struct Chunks(VecDeque<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some(mut chunk) = self.0.pop_front() {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.0.push_front(chunk.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    /// A masked client frame.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x0a, 0x0b, 0x0c, 0x0d];
        let mut out = vec![u8::from(fin) << 7 | opcode];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend((n as u16).to_be_bytes());
            }
        }
        out.extend(mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    async fn read_all(chunks: Vec<Vec<u8>>, max: usize) -> Vec<Inbound> {
        let reader = SocketReader::new(Chunks(chunks.into()), BytesMut::new(), max);
        reader.collect().await
    }

    fn text(item: &Inbound) -> &str {
        match item {
            Inbound::Text(t) => t,
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn continuations_are_joined_even_with_a_character_split_between_frames() {
        let word = "wörld".as_bytes();
        let (head, tail) = word.split_at(2); // splits the two bytes of 'ö'
        let bytes = [
            frame(false, 0x1, b"hello "),
            frame(false, 0x0, head),
            frame(true, 0x0, tail),
        ]
        .concat();
        let items = read_all(vec![bytes], 1024).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(text(&items[0]), "hello wörld");
    }

    #[tokio::test]
    async fn a_frame_arriving_byte_by_byte_is_one_message() {
        let bytes = frame(true, 0x1, "naïve".as_bytes());
        let chunks = bytes.iter().map(|b| vec![*b]).collect();
        let items = read_all(chunks, 1024).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(text(&items[0]), "naïve");
    }

    #[tokio::test]
    async fn a_ping_between_fragments_is_delivered_and_the_message_still_joins() {
        let bytes = [
            frame(false, 0x1, b"ab"),
            frame(true, 0x9, b"p"),
            frame(true, 0x0, b"cd"),
        ]
        .concat();
        let items = read_all(vec![bytes], 1024).await;
        assert!(
            matches!(&items[0], Inbound::Ping(p) if &p[..] == b"p"),
            "{items:?}"
        );
        assert_eq!(text(&items[1]), "abcd");
    }

    #[tokio::test]
    async fn invalid_utf8_is_reported_once_then_input_is_discarded() {
        let bytes = [frame(true, 0x1, &[0xff, 0xfe]), frame(true, 0x1, b"later")].concat();
        let items = read_all(vec![bytes], 1024).await;
        assert_eq!(items.len(), 1, "nothing after the violation: {items:?}");
        assert!(matches!(items[0], Inbound::Invalid(_)));
    }

    #[tokio::test]
    async fn joined_fragments_over_the_limit_are_refused_before_the_last_arrives() {
        let first = frame(false, 0x1, &[b'a'; 60]);
        let second = frame(false, 0x0, &[b'b'; 60]);
        // The second fragment's header alone decides: its payload never arrives.
        let items = read_all(vec![first, second[..4].to_vec()], 100).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(matches!(items[0], Inbound::TooLarge));
    }

    #[tokio::test]
    async fn once_switched_off_nothing_more_is_read() {
        use futures_util::FutureExt;
        let bytes = [frame(true, 0x1, b"one"), frame(true, 0x1, b"two")].concat();
        let mut reader = SocketReader::new(Chunks(vec![bytes].into()), BytesMut::new(), 1024);
        let switch = reader.switch();
        let first = reader.next().await.expect("a message");
        assert_eq!(text(&first), "one");
        switch.discard();
        assert!(reader.next().now_or_never().is_none(), "never ready again");
        assert!(reader.buf.is_empty(), "what was buffered is let go");
    }

    #[tokio::test]
    async fn close_binary_and_leftover_bytes_from_the_upgrade() {
        let leftover = BytesMut::from(&frame(true, 0x2, b"\x00")[..]);
        let reader = SocketReader::new(
            Chunks(vec![frame(true, 0x8, &[0x03, 0xe8])].into()),
            leftover,
            1024,
        );
        let items: Vec<Inbound> = reader.collect().await;
        assert!(
            matches!(items[..], [Inbound::Binary, Inbound::Close]),
            "{items:?}"
        );
    }
}
