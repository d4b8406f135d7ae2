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

/// Splits an encoded frame around the `0` of its `"<key>":0` (`seq` or
/// `offset`), so a store can put the real number in. The first `"<key>":`
/// in a frame is its own field: strings before it have their quotes
/// escaped, and the payload comes after it.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn split_at_number<'a>(frame: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    let mark = format!("\"{key}\":0");
    let at = frame.find(&mark)?;
    Some((&frame[..at + mark.len() - 1], &frame[at + mark.len()..]))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_splits_around_its_own_number_and_joins_with_any_number() {
        let frame = r#"{"type":"hub:message","from":"a\"seq\":0","seq":0,"payload":{"seq":0}}"#;
        let (head, tail) = split_at_number(frame, "seq").expect("has a seq");
        assert_eq!(
            format!("{head}42{tail}"),
            r#"{"type":"hub:message","from":"a\"seq\":0","seq":42,"payload":{"seq":0}}"#
        );
        let payload = RawValue::from_string("1".into()).unwrap();
        let published = encode_publication("t", "a", 0, &payload);
        let (head, tail) = split_at_number(&published, "offset").expect("has an offset");
        let json: serde_json::Value = serde_json::from_str(&format!("{head}7{tail}")).unwrap();
        assert_eq!(json["offset"], 7);
        assert_eq!(split_at_number(&published, "seq"), None);
    }
}
