//! Tests of the socket reader: the header peek, and reading over a scripted socket.

mod header {
    use super::super::*;

    #[test]
    fn the_header_length_is_read_in_all_three_encodings() {
        assert_eq!(FrameHeader::peek(&[0x81]), None);
        let short = FrameHeader::peek(&[0x81, 0x80 | 5]).unwrap();
        assert_eq!(
            (short.fin, short.opcode, short.payload_len, short.len),
            (true, 1, 5, 6)
        );
        assert_eq!(
            FrameHeader::peek(&[0x81, 0xfe, 0x01]),
            None,
            "16-bit length incomplete"
        );
        let medium = FrameHeader::peek(&[0x00, 0xfe, 0x01, 0x00]).unwrap();
        assert_eq!(
            (medium.fin, medium.opcode, medium.payload_len, medium.len),
            (false, 0, 256, 8)
        );
        let mut long = vec![0x81, 0xff];
        long.extend((64u64 << 20).to_be_bytes());
        assert_eq!(FrameHeader::peek(&long).unwrap().payload_len, 64 << 20);
        assert_eq!(
            FrameHeader::peek(&long[..9]),
            None,
            "64-bit length incomplete"
        );
        assert_eq!(FrameHeader::peek(&[0xc1, 0x80]).unwrap().rsv, 0b100);
    }
}

mod reading {
    //! The reader over a scripted socket: each read returns the next chunk,
    //! then end of stream.

    use std::collections::VecDeque;
    use std::io;

    use futures_util::StreamExt;
    use tokio::io::ReadBuf;

    use super::super::*;

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
            matches!(&items[0], Inbound::Ping { payload, alive: false } if &payload[..] == b"p"),
            "a ping inside a message is answered but is no sign of life: {items:?}"
        );
        assert_eq!(text(&items[1]), "abcd");
        let items = read_all(vec![frame(true, 0x9, b"q"), frame(true, 0xa, b"")], 1024).await;
        assert!(
            matches!(
                items[..],
                [
                    Inbound::Ping { alive: true, .. },
                    Inbound::Pong { alive: true }
                ]
            ),
            "{items:?}"
        );
    }

    #[tokio::test]
    async fn invalid_utf8_is_reported_once_then_input_is_discarded() {
        let bytes = [frame(true, 0x1, &[0xff, 0xfe]), frame(true, 0x1, b"later")].concat();
        let items = read_all(vec![bytes], 1024).await;
        assert_eq!(items.len(), 1, "nothing after the violation: {items:?}");
        assert!(matches!(items[0], Inbound::NotUtf8));
    }

    #[tokio::test]
    async fn invalid_utf8_fails_at_the_fragment_that_breaks_it() {
        // The first fragment is already broken: refused before the rest comes.
        let first = frame(false, 0x1, &[b'o', b'k', 0xc0, 0xaf]);
        let items = read_all(vec![first], 1024).await;
        assert!(matches!(items[..], [Inbound::NotUtf8]), "{items:?}");
        // A character cut at the end of the last fragment never completes.
        let cut = "é".as_bytes();
        let bytes = [frame(false, 0x1, b"ab"), frame(true, 0x0, &cut[..1])].concat();
        let items = read_all(vec![bytes], 1024).await;
        assert!(matches!(items[..], [Inbound::NotUtf8]), "{items:?}");
    }

    #[tokio::test]
    async fn what_rfc_6455_forbids_beyond_the_codec_is_a_protocol_error() {
        // A reserved bit without an extension; a fragmented ping.
        for bad in [
            vec![0x80 | 0x40 | 0x1, 0x80, 0, 0, 0, 0],
            frame(false, 0x9, b"p"),
        ] {
            let items = read_all(vec![bad.clone()], 1024).await;
            assert!(
                matches!(items[..], [Inbound::Invalid(_)]),
                "{bad:?}: {items:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_close_frame_is_checked_for_its_code_and_reason() {
        let close = |code: u16, reason: &[u8]| {
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend(reason);
            frame(true, 0x8, &payload)
        };
        for code in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            let items = read_all(vec![close(code, b"bye")], 1024).await;
            assert!(matches!(items[..], [Inbound::Close]), "{code}: {items:?}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000] {
            let items = read_all(vec![close(code, b"")], 1024).await;
            assert!(
                matches!(items[..], [Inbound::Invalid(_)]),
                "{code}: {items:?}"
            );
        }
        let items = read_all(vec![close(1000, &[0xce, 0xba, 0xff])], 1024).await;
        assert!(matches!(items[..], [Inbound::NotUtf8]), "{items:?}");
        let items = read_all(vec![frame(true, 0x8, &[0x03])], 1024).await;
        assert!(
            matches!(items[..], [Inbound::Invalid(_)]),
            "a one-byte close: {items:?}"
        );
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
