//! The `hub:message` frames the hub writes, each encoded once and shared by
//! every recipient: a direct message, a publication (with its `offset` when
//! its topic keeps history), a stored direct message (with its `seq`).
//! Shared by the router, the topic actors and the inbox actor, so none of
//! them imports another for it.

use std::borrow::Cow;

use bytestring::ByteString;
use serde_json::value::RawValue;

use crate::protocol::server::Message;
use crate::protocol::{Correlation, ServerFrame};

/// Encodes a `hub:message` once; the bytes are shared by every recipient.
pub(crate) fn encode_message(
    topic: Option<&str>,
    from: &str,
    payload: &RawValue,
    correlation: Correlation<&str>,
) -> ByteString {
    encode(topic, from, Number::None, payload, correlation)
}

/// Encodes a publication kept in its topic's history, with its `offset`.
pub(crate) fn encode_publication(
    topic: &str,
    from: &str,
    offset: u64,
    payload: &RawValue,
) -> ByteString {
    encode(
        Some(topic),
        from,
        Number::Offset(offset),
        payload,
        Correlation::default(),
    )
}

/// The number a `hub:message` carries, if any.
enum Number {
    None,
    /// A stored direct message's `seq`.
    Seq(u64),
    /// A publication's `offset`.
    Offset(u64),
}

/// Encodes a stored direct message: a `hub:message` with its inbox `seq`.
pub(crate) fn encode_stored_message(
    from: &str,
    seq: u64,
    payload: &RawValue,
    correlation: Correlation<&str>,
) -> ByteString {
    encode(None, from, Number::Seq(seq), payload, correlation)
}

fn encode(
    topic: Option<&str>,
    from: &str,
    number: Number,
    payload: &RawValue,
    correlation: Correlation<&str>,
) -> ByteString {
    let (seq, offset) = match number {
        Number::None => (None, None),
        Number::Seq(seq) => (Some(seq), None),
        Number::Offset(offset) => (None, Some(offset)),
    };
    let text = ServerFrame::Message(Message {
        topic: topic.map(Cow::Borrowed),
        from: from.into(),
        correlation_id: correlation.correlation_id.map(Cow::Borrowed),
        in_reply_to: correlation.in_reply_to.map(Cow::Borrowed),
        seq,
        offset,
        payload: Cow::Borrowed(payload),
    })
    .to_json();
    one_line(text).into()
}

/// Makes a frame one line: a payload's line breaks can only be whitespace
/// between JSON tokens (inside a string they are escaped), so they become
/// spaces. A batched WebSocket message holds one frame per line, and a frame
/// is encoded once for every recipient, batching or not. No copy when the
/// text has no line break, which `serde_json` never writes itself.
fn one_line(text: String) -> String {
    if !text.contains('\n') {
        return text;
    }
    text.replace('\n', " ")
}
