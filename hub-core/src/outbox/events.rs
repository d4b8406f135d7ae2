//! A session's frames as a Server-Sent Events stream (`text/event-stream`,
//! the SSE transport): each frame one `data:` event (a frame is one line,
//! so it fits one), the close as a `hub:close` event.
//!
//! Recovery across a reconnect rides on the event id, which the browser's
//! `EventSource` sends back as `Last-Event-ID`: each event that moves a
//! subscription's position (a `hub:subscribe_ack` or a publication with an
//! offset, in a namespace with history) carries as its id every position of
//! the session, `topic=epoch:offset&...` (form-encoded, so the header stays
//! ASCII). The SSE endpoint reads it back and resubscribes from there.

use std::collections::BTreeMap;

use actix_web::web::BytesMut;
use serde::Deserialize;

use crate::protocol::CloseCode;

/// What one frame says about positions (the rest of it is skipped).
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    epoch: Option<String>,
    #[serde(default)]
    offset: Option<u64>,
}

/// Encodes frames as events and keeps the positions their ids carry.
#[derive(Debug, Default)]
pub(crate) struct EventFraming {
    /// topic → (epoch, offset), for subscriptions in namespaces with history.
    positions: BTreeMap<String, (String, u64)>,
}

impl EventFraming {
    /// Starts from the positions a reconnecting client named.
    pub(crate) fn resuming(positions: &[(String, String, u64)]) -> Self {
        Self {
            positions: positions
                .iter()
                .map(|(t, e, o)| (t.clone(), (e.clone(), *o)))
                .collect(),
        }
    }

    /// Appends `frame` as one event, with an id when it moved a position.
    pub(crate) fn encode(&mut self, frame: &str, buf: &mut BytesMut) {
        if self.moves(frame) {
            buf.extend_from_slice(b"id: ");
            buf.extend_from_slice(encode_id(&self.positions).as_bytes());
            buf.extend_from_slice(b"\n");
        }
        buf.reserve(frame.len() + 8);
        buf.extend_from_slice(b"data: ");
        buf.extend_from_slice(frame.as_bytes());
        buf.extend_from_slice(b"\n\n");
    }

    /// The last event: the close code and reason, as the WebSocket close
    /// frame would carry them.
    pub(crate) fn encode_close(code: CloseCode, buf: &mut BytesMut) {
        let data = serde_json::json!({"code": code.number(), "reason": code.as_str()});
        buf.extend_from_slice(format!("event: hub:close\ndata: {data}\n\n").as_bytes());
    }

    /// Updates the positions from `frame`; true when they changed.
    fn moves(&mut self, frame: &str) -> bool {
        // Only frames that can move a position are parsed.
        let interesting = [
            "\"hub:message\"",
            "\"hub:subscribe_ack\"",
            "\"hub:unsubscribe_ack\"",
        ];
        let head = &frame[..frame.len().min(40)];
        if !interesting.iter().any(|t| head.contains(t)) {
            return false;
        }
        let Ok(peek) = serde_json::from_str::<Peek<'_>>(frame) else {
            return false;
        };
        let Some(topic) = peek.topic else {
            return false;
        };
        match (peek.kind, peek.epoch, peek.offset) {
            ("hub:subscribe_ack", Some(epoch), Some(offset)) => {
                self.positions.insert(topic, (epoch, offset));
                true
            }
            ("hub:message", None, Some(offset)) => match self.positions.get_mut(&topic) {
                Some(position) if position.1 < offset => {
                    position.1 = offset;
                    true
                }
                _ => false,
            },
            ("hub:unsubscribe_ack", _, _) => self.positions.remove(&topic).is_some(),
            _ => false,
        }
    }
}

/// `topic=epoch:offset&...`, form-encoded.
fn encode_id(positions: &BTreeMap<String, (String, u64)>) -> String {
    let pairs: Vec<(&str, String)> = positions
        .iter()
        .map(|(topic, (epoch, offset))| (topic.as_str(), format!("{epoch}:{offset}")))
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The positions in a `Last-Event-ID`; what does not parse is left out.
pub(crate) fn parse_event_id(id: &str) -> Vec<(String, String, u64)> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(id).unwrap_or_default();
    pairs
        .into_iter()
        .filter_map(|(topic, position)| {
            let (epoch, offset) = position.rsplit_once(':')?;
            Some((topic, epoch.to_owned(), offset.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(framing: &mut EventFraming, frames: &[&str]) -> String {
        let mut buf = BytesMut::new();
        for frame in frames {
            framing.encode(frame, &mut buf);
        }
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn positions_ride_on_the_ids_of_the_events_that_move_them() {
        let mut framing = EventFraming::default();
        let text = events(
            &mut framing,
            &[
                r#"{"type":"hub:connected","id":"c"}"#,
                r#"{"type":"hub:subscribe_ack","id":"s","topic":"feed:a b","epoch":"e1","offset":4}"#,
                r#"{"type":"hub:message","topic":"feed:a b","from":"x","offset":5,"payload":{"offset":99}}"#,
                r#"{"type":"hub:message","topic":"plain","from":"x","payload":1}"#,
            ],
        );
        assert_eq!(
            text,
            "data: {\"type\":\"hub:connected\",\"id\":\"c\"}\n\n\
             id: feed%3Aa+b=e1%3A4\n\
             data: {\"type\":\"hub:subscribe_ack\",\"id\":\"s\",\"topic\":\"feed:a b\",\"epoch\":\"e1\",\"offset\":4}\n\n\
             id: feed%3Aa+b=e1%3A5\n\
             data: {\"type\":\"hub:message\",\"topic\":\"feed:a b\",\"from\":\"x\",\"offset\":5,\"payload\":{\"offset\":99}}\n\n\
             data: {\"type\":\"hub:message\",\"topic\":\"plain\",\"from\":\"x\",\"payload\":1}\n\n"
        );
        assert_eq!(
            parse_event_id("feed%3Aa+b=e1%3A5"),
            vec![("feed:a b".into(), "e1".into(), 5)]
        );
    }

    #[test]
    fn a_bad_last_event_id_names_no_position() {
        assert!(parse_event_id("garbage").is_empty());
        assert!(parse_event_id("t=e:notanumber").is_empty());
        assert_eq!(
            parse_event_id("t=e:1&u=bad"),
            vec![("t".into(), "e".into(), 1)]
        );
    }
}
