//! Frames on the socket: a request written as one text message; a text
//! message read as one or more server frames (a batch holds one per line).

use futures_util::SinkExt;
use hub_core::protocol::{Request, ServerDecodeError};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::command::{Answer, Frame};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Writes one frame without an id (nothing waits for an answer to it).
pub(crate) async fn write_frame(ws: &mut Ws, frame: Frame) -> Result<(), String> {
    let text = Request { id: None, frame }
        .to_json()
        .map_err(|e| e.to_string())?;
    write_text(ws, text).await
}

/// Writes one text message.
pub(crate) async fn write_text(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| e.to_string())
}

/// The frames in one text message, in order. A line that is not a frame this
/// client knows is logged and skipped: a newer server may send more types.
pub(crate) fn frames(text: &str) -> Vec<Answer> {
    text.split('\n')
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| match Answer::decode(line) {
            Ok(frame) => Some(frame),
            Err(ServerDecodeError::UnknownType(kind)) => {
                tracing::debug!(kind, "ignoring a frame type this client does not know");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a frame that is not valid");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::protocol::ServerFrame;

    #[test]
    fn a_batch_is_read_line_by_line_and_strangers_are_skipped() {
        let text = concat!(
            r#"{"type":"hub:pong","id":1}"#,
            "\n",
            r#"{"type":"hub:future","x":1}"#,
            "\n",
            r#"{"type":"hub:message","from":"a","payload":{"k": [1]}}"#
        );
        let frames = frames(text);
        assert_eq!(frames.len(), 2);
        assert!(matches!(frames[0], ServerFrame::Pong(_)));
        assert!(
            matches!(&frames[1], ServerFrame::Message(m) if m.payload.get() == r#"{"k": [1]}"#)
        );
    }
}
