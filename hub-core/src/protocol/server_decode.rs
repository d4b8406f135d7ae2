//! Reading a server frame back (hub-client's side): the `type` first, then
//! the frame of that type, so that an unknown type is told apart from a
//! malformed frame.

use std::borrow::Cow;

use serde::Deserialize;

use super::ServerFrame;

/// Why a text could not be read as a server frame.
#[derive(Debug, thiserror::Error)]
pub enum ServerDecodeError {
    /// Not JSON, or a field of the wrong shape.
    #[error("not a valid server frame: {0}")]
    Json(#[from] serde_json::Error),
    /// A `type` this version does not know (a newer server's frame).
    #[error("unknown frame type `{0}`")]
    UnknownType(String),
}

impl ServerFrame<'static> {
    /// Reads one server frame (one JSON object; a batched WebSocket message
    /// holds one per line).
    ///
    /// # Errors
    /// Not a frame, or of a type this version does not know.
    pub fn decode(text: &str) -> Result<Self, ServerDecodeError> {
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(rename = "type", borrow)]
            kind: Cow<'a, str>,
        }
        fn read<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ServerDecodeError> {
            Ok(serde_json::from_str(text)?)
        }
        let Tag { kind } = serde_json::from_str(text)?;
        Ok(match &*kind {
            "hub:connected" => Self::Connected(read(text)?),
            "hub:delivery_ack" => Self::DeliveryAck(read(text)?),
            "hub:subscribe_ack" => Self::SubscribeAck(read(text)?),
            "hub:unsubscribe_ack" => Self::UnsubscribeAck(read(text)?),
            "hub:publish_ack" => Self::PublishAck(read(text)?),
            "hub:broadcast_ack" => Self::BroadcastAck(read(text)?),
            "hub:message" => Self::Message(read(text)?),
            "hub:pong" => Self::Pong(read(text)?),
            "hub:disconnect_ack" => Self::DisconnectAck(read(text)?),
            "hub:disconnect" => Self::Disconnect(read(text)?),
            "hub:rate_limited" => Self::RateLimited(read(text)?),
            "hub:error" => Self::Error(read(text)?),
            "hub:refresh" => Self::Refresh(read(text)?),
            "hub:refresh_ack" => Self::RefreshAck(read(text)?),
            "hub:receipt" => Self::Receipt(read(text)?),
            "hub:presence_ack" => Self::PresenceAck(read(text)?),
            "hub:presence_stats_ack" => Self::PresenceStatsAck(read(text)?),
            "hub:watch_ack" => Self::WatchAck(read(text)?),
            "hub:unwatch_ack" => Self::UnwatchAck(read(text)?),
            "hub:join" => Self::Join(read(text)?),
            "hub:leave" => Self::Leave(read(text)?),
            "hub:online" => Self::Online(read(text)?),
            "hub:offline" => Self::Offline(read(text)?),
            "hub:sub_refresh" => Self::SubRefresh(read(text)?),
            "hub:sub_refresh_ack" => Self::SubRefreshAck(read(text)?),
            "hub:unsubscribed" => Self::Unsubscribed(read(text)?),
            "hub:subscribed" => Self::Subscribed(read(text)?),
            "hub:rpc_ack" => Self::RpcAck(read(text)?),
            other => return Err(ServerDecodeError::UnknownType(other.to_owned())),
        })
    }
}
