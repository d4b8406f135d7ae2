//! Wire frames of protocol v1: what a client sends ([`ClientFrame`]) and what
//! the server answers ([`ServerFrame`]). Every frame is one JSON object in one
//! WebSocket text frame, with a `"type"` field. Payloads stay raw JSON
//! ([`RawValue`]) end to end: the hub never parses or re-encodes them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::codes::ErrorCode;

/// The protocol version announced in `hub:connected`.
pub const PROTOCOL_VERSION: u32 = 1;

/// A client-chosen request id, echoed in the reply. A string or an unsigned integer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FrameId {
    /// A numeric id.
    Num(u64),
    /// A string id.
    Str(String),
}

/// Who a `hub:broadcast` goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroadcastTarget {
    /// Every registered address (`"to": "*"`).
    All,
    /// The listed addresses.
    List(Vec<String>),
}

/// A decoded client frame. Borrowed from the text it was decoded from, so a
/// payload costs no copy until the session builds the outgoing frame.
#[derive(Debug)]
pub enum ClientFrame<'a> {
    /// `hub:connect`: register this session under `address`.
    Connect {
        /// The address to register.
        address: Cow<'a, str>,
        /// An opaque token for the authenticator.
        token: Option<Cow<'a, str>>,
        /// Arbitrary client metadata, handed to the authenticator.
        metadata: Option<&'a RawValue>,
    },
    /// `hub:send`: a direct message to one address.
    Send {
        /// The recipient address (the envelope's `to`).
        to: Cow<'a, str>,
        /// Raw JSON payload.
        payload: &'a RawValue,
        /// Request/reply correlation, forwarded verbatim to the recipient.
        correlation: Correlation<Cow<'a, str>>,
        /// `false`: acknowledge only a rejection (fire-and-forget). Default `true`.
        ack: bool,
    },
    /// `hub:publish`: a message to every subscriber of a topic.
    Publish {
        /// The topic.
        topic: Cow<'a, str>,
        /// Raw JSON payload.
        payload: &'a RawValue,
    },
    /// `hub:subscribe`.
    Subscribe {
        /// The topic.
        topic: Cow<'a, str>,
    },
    /// `hub:unsubscribe`.
    Unsubscribe {
        /// The topic.
        topic: Cow<'a, str>,
    },
    /// `hub:broadcast`: one payload to a list of addresses, or to all.
    Broadcast {
        /// The recipients.
        to: BroadcastTarget,
        /// Raw JSON payload.
        payload: &'a RawValue,
    },
    /// `hub:ping`: a heartbeat; answered with `hub:pong`.
    Ping,
    /// `hub:disconnect`: close cleanly; answered with `hub:disconnect_ack`.
    Disconnect,
}

/// Request/reply correlation carried by `hub:send` and forwarded verbatim in
/// `hub:message`: a request sets `correlation_id`; its reply sets
/// `in_reply_to` to the same value. The hub only forwards them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Correlation<S> {
    /// Set on a request: the id its reply will carry in `in_reply_to`.
    pub correlation_id: Option<S>,
    /// Set on a reply: the `correlation_id` of the request it answers.
    pub in_reply_to: Option<S>,
}

impl<S: AsRef<str>> Correlation<S> {
    /// Borrows the ids.
    pub fn as_refs(&self) -> Correlation<&str> {
        Correlation {
            correlation_id: self.correlation_id.as_ref().map(AsRef::as_ref),
            in_reply_to: self.in_reply_to.as_ref().map(AsRef::as_ref),
        }
    }
}

/// A client frame with its optional request id.
#[derive(Debug)]
pub struct Request<'a> {
    /// The echoed request id.
    pub id: Option<FrameId>,
    /// The frame.
    pub frame: ClientFrame<'a>,
}

/// Why a text frame could not be decoded, with the id when it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The request id, if the frame got far enough to have one.
    pub id: Option<FrameId>,
    /// The stable code.
    pub code: ErrorCode,
    /// A human message naming the problem.
    pub message: String,
}

/// The first decoding phase: every field any frame may carry, all optional
/// and all left raw, so that a field of the wrong type is reported by name
/// (with the request's id) instead of failing the whole frame. Unknown fields
/// are ignored so that newer clients can send reserved fields (`msg_id`,
/// `seq`, ...) to an older server.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "present")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    address: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    token: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    to: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    topic: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    correlation_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    in_reply_to: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    ack: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    payload: Option<&'a RawValue>,
}

/// A string that borrows from the frame unless it contains escapes.
#[derive(Deserialize)]
struct Name<'a>(#[serde(borrow)] Cow<'a, str>);

/// Keeps an explicit `null` as a present raw value (absent fields stay `None`
/// through `default`), so `"payload": null` is a valid payload.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// A present, non-null field.
fn given(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| r.get() != "null")
}

/// Reads the fields of one decoded envelope, failing with the request's id.
struct Fields {
    id: Option<FrameId>,
}

impl Fields {
    fn fail(&self, code: ErrorCode, message: String) -> DecodeError {
        DecodeError {
            id: self.id.clone(),
            code,
            message,
        }
    }

    /// An optional string field (`null` counts as absent).
    fn string<'a>(
        &self,
        raw: Option<&'a RawValue>,
        field: &str,
    ) -> Result<Option<Cow<'a, str>>, DecodeError> {
        let Some(raw) = given(raw) else {
            return Ok(None);
        };
        match serde_json::from_str::<Name<'a>>(raw.get()) {
            Ok(Name(s)) => Ok(Some(s)),
            Err(_) => Err(self.fail(
                ErrorCode::InvalidField,
                format!("`{field}` must be a string"),
            )),
        }
    }

    /// A required string field.
    fn need<'a>(
        &self,
        raw: Option<&'a RawValue>,
        field: &str,
    ) -> Result<Cow<'a, str>, DecodeError> {
        self.string(raw, field)?.ok_or_else(|| self.missing(field))
    }

    /// A required raw field (`null` is a value).
    fn need_raw<'a>(
        &self,
        raw: Option<&'a RawValue>,
        field: &str,
    ) -> Result<&'a RawValue, DecodeError> {
        raw.ok_or_else(|| self.missing(field))
    }

    fn missing(&self, field: &str) -> DecodeError {
        self.fail(ErrorCode::MissingField, format!("missing field `{field}`"))
    }
}

impl<'a> Request<'a> {
    /// Decodes one text frame. The size limit is checked before this is called
    /// (by the socket reader, from the frame header); `decode` never panics.
    ///
    /// # Errors
    /// A [`DecodeError`] whose code says what is wrong: `bad_json`,
    /// `missing_type`, `unknown_type`, `missing_field` or `invalid_field`.
    /// Every error after the frame was read as a JSON object carries the
    /// frame's `id`, when it has a valid one.
    pub fn decode(text: &'a str) -> Result<Self, DecodeError> {
        let env: Envelope<'a> = serde_json::from_str(text).map_err(|e| DecodeError {
            id: None,
            code: ErrorCode::BadJson,
            message: format!("frame is not a valid JSON object: {e}"),
        })?;
        let mut fields = Fields { id: None };
        if let Some(raw) = given(env.id) {
            fields.id = Some(serde_json::from_str(raw.get()).map_err(|_| {
                fields.fail(
                    ErrorCode::InvalidField,
                    "`id` must be a string or an unsigned integer".into(),
                )
            })?);
        }
        let kind = match given(env.kind) {
            None => {
                return Err(
                    fields.fail(ErrorCode::MissingType, "missing string field `type`".into())
                )
            }
            Some(raw) => {
                serde_json::from_str::<Name<'a>>(raw.get())
                    .map_err(|_| fields.fail(ErrorCode::BadJson, "`type` must be a string".into()))?
                    .0
            }
        };
        let frame = match &*kind {
            "hub:connect" => ClientFrame::Connect {
                address: fields.need(env.address, "address")?,
                token: fields.string(env.token, "token")?,
                metadata: given(env.metadata),
            },
            "hub:send" => {
                let to = fields.need_raw(env.to, "to")?;
                let Ok(Name(to)) = serde_json::from_str(to.get()) else {
                    return Err(fields.fail(
                        ErrorCode::InvalidField,
                        "`to` of hub:send must be one address string".into(),
                    ));
                };
                let ack = match given(env.ack) {
                    None => true,
                    Some(raw) => serde_json::from_str(raw.get()).map_err(|_| {
                        fields.fail(
                            ErrorCode::InvalidField,
                            "`ack` must be true or false".into(),
                        )
                    })?,
                };
                ClientFrame::Send {
                    to,
                    payload: fields.need_raw(env.payload, "payload")?,
                    correlation: Correlation {
                        correlation_id: fields.string(env.correlation_id, "correlation_id")?,
                        in_reply_to: fields.string(env.in_reply_to, "in_reply_to")?,
                    },
                    ack,
                }
            }
            "hub:publish" => ClientFrame::Publish {
                topic: fields.need(env.topic, "topic")?,
                payload: fields.need_raw(env.payload, "payload")?,
            },
            "hub:subscribe" => ClientFrame::Subscribe {
                topic: fields.need(env.topic, "topic")?,
            },
            "hub:unsubscribe" => ClientFrame::Unsubscribe {
                topic: fields.need(env.topic, "topic")?,
            },
            "hub:broadcast" => {
                let to = fields.need_raw(env.to, "to")?;
                let to = match serde_json::from_str::<Name<'_>>(to.get()) {
                    Ok(Name(star)) if star == "*" => BroadcastTarget::All,
                    _ => BroadcastTarget::List(serde_json::from_str(to.get()).map_err(|_| {
                        fields.fail(
                            ErrorCode::InvalidField,
                            "`to` of hub:broadcast must be \"*\" or an array of address strings"
                                .into(),
                        )
                    })?),
                };
                ClientFrame::Broadcast {
                    to,
                    payload: fields.need_raw(env.payload, "payload")?,
                }
            }
            "hub:ping" => ClientFrame::Ping,
            "hub:disconnect" => ClientFrame::Disconnect,
            other => {
                return Err(fields.fail(
                    ErrorCode::UnknownType,
                    format!("unknown frame type `{}`", truncate(other, 64)),
                ))
            }
        };
        Ok(Request {
            id: fields.id,
            frame,
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The limits in force for a session, announced in `hub:connected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsInfo {
    /// Largest accepted text frame, in bytes.
    pub max_message_bytes: usize,
    /// Sustained frames per second (0: no limit).
    pub rate_limit_per_sec: u32,
    /// Frames allowed in a burst above the sustained rate.
    pub rate_limit_burst: u32,
    /// Subscriptions one session may hold.
    pub max_topics_per_session: usize,
    /// Subscribers one topic may hold.
    pub max_subscribers_per_topic: usize,
    /// Largest recipient list of a broadcast.
    pub broadcast_max_recipients: usize,
    /// Frames the server queues for this session before it is a slow consumer.
    pub outbound_queue_frames: usize,
}

/// A frame the server sends. Serialized with `"type"` as the tag.
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ServerFrame<'a> {
    /// Answer to `hub:connect`.
    #[serde(rename = "hub:connected")]
    Connected {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// This session's id (also in the server's logs).
        session_id: &'a str,
        /// The registered address.
        address: &'a str,
        /// Protocol version, currently 1.
        protocol_version: u32,
        /// How often the client should send `hub:ping`.
        heartbeat_interval_ms: u64,
        /// Silence after which the server closes the session.
        heartbeat_timeout_ms: u64,
        /// The limits in force.
        limits: &'a LimitsInfo,
        /// Negotiated optional features (reserved; empty in v1).
        features: &'a [&'a str],
    },
    /// Answer to `hub:send`.
    #[serde(rename = "hub:delivery_ack")]
    DeliveryAck {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// The recipient address.
        to: &'a str,
        /// `accepted` (in the recipient's queue) or `rejected`.
        status: DeliveryStatus,
        /// Why it was rejected.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<ErrorCode>,
    },
    /// Answer to `hub:subscribe`.
    #[serde(rename = "hub:subscribe_ack")]
    SubscribeAck {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// The topic.
        topic: &'a str,
    },
    /// Answer to `hub:unsubscribe`.
    #[serde(rename = "hub:unsubscribe_ack")]
    UnsubscribeAck {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// The topic.
        topic: &'a str,
    },
    /// Answer to `hub:publish`.
    #[serde(rename = "hub:publish_ack")]
    PublishAck {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// The topic.
        topic: &'a str,
        /// Subscribers whose queue accepted the message.
        recipients: usize,
    },
    /// Answer to `hub:broadcast`.
    #[serde(rename = "hub:broadcast_ack")]
    BroadcastAck {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// Recipients whose queue accepted the message.
        recipients: usize,
        /// Listed addresses with no live session.
        not_found: &'a [&'a str],
    },
    /// A message for this session: direct (no topic) or from a topic.
    #[serde(rename = "hub:message")]
    Message {
        /// The topic, absent for direct messages and broadcasts.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<&'a str>,
        /// The sender's address.
        from: &'a str,
        /// The sender's request id, when this direct message is a request.
        #[serde(skip_serializing_if = "Option::is_none")]
        correlation_id: Option<&'a str>,
        /// The request this direct message answers, when it is a reply.
        #[serde(skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<&'a str>,
        /// The payload, verbatim.
        payload: &'a RawValue,
    },
    /// Answer to `hub:ping`.
    #[serde(rename = "hub:pong")]
    Pong {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
    },
    /// Answer to `hub:disconnect`, sent before the close frame.
    #[serde(rename = "hub:disconnect_ack")]
    DisconnectAck {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
    },
    /// The server is closing this session; the close frame follows.
    #[serde(rename = "hub:disconnect")]
    Disconnect {
        /// The close code that follows.
        code: u16,
        /// Its stable reason string.
        reason: &'a str,
        /// Whether the client should reconnect automatically.
        reconnect: bool,
        /// Advised delay before reconnecting, when reconnecting is advised.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// What to do next.
        hint: &'a str,
    },
    /// The frame was refused by the rate limit; the session stays open.
    #[serde(rename = "hub:rate_limited")]
    RateLimited {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// `rate_limited`.
        code: ErrorCode,
        /// When the next frame will be accepted.
        retry_after_ms: u64,
        /// What to do next.
        hint: &'a str,
    },
    /// A request failed; the session stays open.
    #[serde(rename = "hub:error")]
    Error {
        /// Echoed request id.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a FrameId>,
        /// Stable code.
        code: ErrorCode,
        /// Human message.
        message: &'a str,
        /// How to fix it.
        hint: &'a str,
        /// Whether the same request may succeed later unchanged.
        temporary: bool,
    },
}

impl ServerFrame<'_> {
    /// Serializes the frame to JSON text.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every field is a string, number,
        // bool, slice or already-valid raw JSON, and map keys are all strings.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"hub:error","code":"internal","message":"encode failed","hint":"retry","temporary":true}"#
                .to_owned()
        })
    }
}

/// What happened to a direct message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted into the recipient's queue. Not a claim that the recipient read it.
    Accepted,
    /// Not queued; `reason` says why.
    Rejected,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> DecodeError {
        Request::decode(text).unwrap_err()
    }

    #[test]
    fn decodes_send_with_raw_payload_and_id() {
        let r = Request::decode(r#"{"type":"hub:send","id":7,"to":"bob","payload":{"a":[1,2]}}"#)
            .unwrap();
        assert_eq!(r.id, Some(FrameId::Num(7)));
        match r.frame {
            ClientFrame::Send {
                to,
                payload,
                correlation,
                ack,
            } => {
                assert!(ack, "acks are on by default");
                assert_eq!(correlation, Correlation::default());
                assert_eq!(to, "bob");
                assert_eq!(payload.get(), r#"{"a":[1,2]}"#);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_input_gets_distinct_codes() {
        assert_eq!(err("{not json").code, ErrorCode::BadJson);
        assert_eq!(err("[1,2]").code, ErrorCode::BadJson);
        assert_eq!(err(r#"{"id":"x"}"#).code, ErrorCode::MissingType);
        let e = err(r#"{"type":"hub:nope","id":"x"}"#);
        assert_eq!(e.code, ErrorCode::UnknownType);
        assert_eq!(e.id, Some(FrameId::Str("x".into())));
        assert_eq!(
            err(r#"{"type":"hub:publish","payload":1}"#).code,
            ErrorCode::MissingField
        );
        assert_eq!(
            err(r#"{"type":"hub:send","to":["a"],"payload":1}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            err(r#"{"type":"hub:broadcast","to":5,"payload":1}"#).code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_invalid_field_with_the_id() {
        let cases = [
            r#"{"type":"hub:subscribe","id":3,"topic":5}"#,
            r#"{"type":"hub:publish","id":3,"topic":["t"],"payload":1}"#,
            r#"{"type":"hub:connect","id":3,"address":{"a":1}}"#,
            r#"{"type":"hub:connect","id":3,"address":"a","token":7}"#,
            r#"{"type":"hub:send","id":3,"to":"b","payload":1,"ack":"yes"}"#,
            r#"{"type":"hub:send","id":3,"to":"b","payload":1,"correlation_id":1}"#,
        ];
        for text in cases {
            let e = err(text);
            assert_eq!(e.code, ErrorCode::InvalidField, "{text}");
            assert_eq!(e.id, Some(FrameId::Num(3)), "{text}");
            assert!(e.message.contains('`'), "names the field: {}", e.message);
        }
        let e = err(r#"{"type":5,"id":"x"}"#);
        assert_eq!(
            (e.code, e.id),
            (ErrorCode::BadJson, Some(FrameId::Str("x".into())))
        );
        let e = err(r#"{"type":"hub:ping","id":true}"#);
        assert_eq!((e.code, e.id), (ErrorCode::InvalidField, None));
    }

    #[test]
    fn null_optional_fields_count_as_absent() {
        let r = Request::decode(
            r#"{"type":"hub:send","id":null,"to":"b","payload":null,"ack":null,"correlation_id":null}"#,
        )
        .unwrap();
        assert_eq!(r.id, None);
        match r.frame {
            ClientFrame::Send {
                payload,
                ack,
                correlation,
                ..
            } => {
                assert_eq!(payload.get(), "null", "a null payload is a payload");
                assert!(ack);
                assert_eq!(correlation, Correlation::default());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err(r#"{"type":"hub:subscribe","topic":null}"#).code,
            ErrorCode::MissingField
        );
    }

    #[test]
    fn escaped_strings_are_decoded_not_refused() {
        let r = Request::decode(r#"{"type":"hub:send","to":"a\"b\u00e9","payload":1}"#).unwrap();
        match r.frame {
            ClientFrame::Send { to, .. } => assert_eq!(to, "a\"b\u{e9}"),
            other => panic!("unexpected {other:?}"),
        }
        let r = Request::decode(r#"{"type":"hub:subscribe","topic":"caf\u00e9"}"#).unwrap();
        assert!(matches!(r.frame, ClientFrame::Subscribe { topic } if topic == "caf\u{e9}"));
    }

    #[test]
    fn broadcast_target_is_star_or_list() {
        let r = Request::decode(r#"{"type":"hub:broadcast","to":"*","payload":null}"#).unwrap();
        assert!(matches!(
            r.frame,
            ClientFrame::Broadcast {
                to: BroadcastTarget::All,
                ..
            }
        ));
        let r =
            Request::decode(r#"{"type":"hub:broadcast","to":["a","b"],"payload":null}"#).unwrap();
        match r.frame {
            ClientFrame::Broadcast {
                to: BroadcastTarget::List(l),
                ..
            } => assert_eq!(l, ["a", "b"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn message_frame_embeds_payload_verbatim() {
        let payload = RawValue::from_string(r#"{"x": 1}"#.into()).unwrap();
        let text = ServerFrame::Message {
            topic: Some("t"),
            from: "a",
            correlation_id: None,
            in_reply_to: None,
            payload: &payload,
        }
        .to_json();
        assert_eq!(
            text,
            r#"{"type":"hub:message","topic":"t","from":"a","payload":{"x": 1}}"#
        );
    }

    #[test]
    fn send_carries_correlation_ids() {
        let r = Request::decode(
            r#"{"type":"hub:send","to":"b","payload":1,"correlation_id":"r1","in_reply_to":"q9"}"#,
        )
        .unwrap();
        match r.frame {
            ClientFrame::Send { correlation, .. } => {
                assert_eq!(correlation.as_refs().correlation_id, Some("r1"));
                assert_eq!(correlation.as_refs().in_reply_to, Some("q9"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
