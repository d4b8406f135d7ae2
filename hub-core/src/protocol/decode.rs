//! The server's reading of a client frame: two phases, so that every error
//! names its field and carries the request's id. First every field any frame
//! may carry is read raw (an `Envelope`); then the fields the frame's type
//! needs are checked one by one.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::client::{BroadcastTarget, ClientFrame, Correlation, FrameId, Request};
use super::codes::ErrorCode;
use super::presence::PRESENCE_PAGE_MAX;

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
    device: Option<&'a RawValue>,
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
    #[serde(borrow, default, deserialize_with = "present")]
    msg_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    features: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    seq: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    receipt: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    since: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    limit: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    after: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
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

    /// A payload: any JSON value, `null` included, kept raw.
    fn payload<'a>(&self, raw: Option<&'a RawValue>) -> Result<Cow<'a, RawValue>, DecodeError> {
        self.need_raw(raw, "payload").map(Cow::Borrowed)
    }

    /// An optional array of strings (`null` counts as absent).
    fn strings<'a>(
        &self,
        raw: Option<&'a RawValue>,
        field: &str,
    ) -> Result<Vec<Cow<'a, str>>, DecodeError> {
        let Some(raw) = given(raw) else {
            return Ok(Vec::new());
        };
        let names: Vec<Name<'a>> = serde_json::from_str(raw.get()).map_err(|_| {
            self.fail(
                ErrorCode::InvalidField,
                format!("`{field}` must be an array of strings"),
            )
        })?;
        Ok(names.into_iter().map(|Name(n)| n).collect())
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
        // serde reads a struct from a JSON array too (fields by position), which
        // would take `[1, 2]` for a frame of type 1 with id 2: only an object is
        // a frame.
        if text
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .as_bytes()
            .first()
            != Some(&b'{')
        {
            return Err(DecodeError {
                id: None,
                code: ErrorCode::BadJson,
                message: "a frame must be one JSON object, `{\"type\": ...}`".into(),
            });
        }
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
                device: fields.string(env.device, "device")?,
                token: fields.string(env.token, "token")?,
                metadata: given(env.metadata).map(Cow::Borrowed),
                features: fields.strings(env.features, "features")?,
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
                    payload: fields.payload(env.payload)?,
                    correlation: Correlation {
                        correlation_id: fields.string(env.correlation_id, "correlation_id")?,
                        in_reply_to: fields.string(env.in_reply_to, "in_reply_to")?,
                    },
                    ack,
                    msg_id: fields.string(env.msg_id, "msg_id")?,
                    receipt: match given(env.receipt) {
                        None => false,
                        Some(raw) => serde_json::from_str(raw.get()).map_err(|_| {
                            fields.fail(
                                ErrorCode::InvalidField,
                                "`receipt` must be true or false".into(),
                            )
                        })?,
                    },
                }
            }
            "hub:publish" => ClientFrame::Publish {
                topic: fields.need(env.topic, "topic")?,
                payload: fields.payload(env.payload)?,
                msg_id: fields.string(env.msg_id, "msg_id")?,
            },
            "hub:subscribe" => ClientFrame::Subscribe {
                topic: fields.need(env.topic, "topic")?,
                since: match given(env.since) {
                    None => None,
                    Some(raw) => Some(serde_json::from_str(raw.get()).map_err(|_| {
                        fields.fail(
                            ErrorCode::InvalidField,
                            "`since` must be {\"epoch\": string, \"offset\": non-negative integer}"
                                .into(),
                        )
                    })?),
                },
                token: fields.string(env.token, "token")?,
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
                    payload: fields.payload(env.payload)?,
                    msg_id: fields.string(env.msg_id, "msg_id")?,
                }
            }
            "hub:presence" => ClientFrame::Presence {
                topic: fields.need(env.topic, "topic")?,
                limit: match given(env.limit) {
                    None => None,
                    Some(raw) => match serde_json::from_str::<usize>(raw.get()) {
                        Ok(limit) if (1..=PRESENCE_PAGE_MAX).contains(&limit) => Some(limit),
                        _ => {
                            return Err(fields.fail(
                                ErrorCode::InvalidField,
                                format!("`limit` must be an integer from 1 to {PRESENCE_PAGE_MAX}"),
                            ))
                        }
                    },
                },
                after: fields.string(env.after, "after")?,
            },
            "hub:presence_stats" => ClientFrame::PresenceStats {
                topic: fields.need(env.topic, "topic")?,
            },
            "hub:watch" => ClientFrame::Watch {
                address: fields.need(env.address, "address")?,
            },
            "hub:unwatch" => ClientFrame::Unwatch {
                address: fields.need(env.address, "address")?,
            },
            "hub:refresh" => ClientFrame::Refresh {
                token: fields.need(env.token, "token")?,
            },
            "hub:sub_refresh" => ClientFrame::SubRefresh {
                topic: fields.need(env.topic, "topic")?,
                token: fields.need(env.token, "token")?,
            },
            "hub:ack" => {
                let seq = fields.need_raw(env.seq, "seq")?;
                ClientFrame::Ack {
                    seq: serde_json::from_str(seq.get()).map_err(|_| {
                        fields.fail(
                            ErrorCode::InvalidField,
                            "`seq` must be an unsigned integer".into(),
                        )
                    })?,
                }
            }
            "hub:rpc" => {
                if fields.id.is_none() {
                    return Err(fields.missing("id"));
                }
                let method = fields.need(env.method, "method")?;
                if let Err(why) = valid_method(&method) {
                    return Err(fields.fail(ErrorCode::InvalidField, why));
                }
                ClientFrame::Rpc {
                    method,
                    data: env.data.map(Cow::Borrowed),
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

/// Longest `method` of a `hub:rpc`, in bytes.
pub const MAX_METHOD_BYTES: usize = 128;

/// Checks an RPC method name: 1 to 128 bytes of letters, digits and
/// `_ . : / -`.
fn valid_method(method: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:/-".contains(c);
    if method.is_empty() || method.len() > MAX_METHOD_BYTES || !method.chars().all(allowed) {
        return Err(format!(
            "`method` must be 1 to {MAX_METHOD_BYTES} letters, digits or `_ . : / -`"
        ));
    }
    Ok(())
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

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
