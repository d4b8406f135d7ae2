//! `hub:rpc`: a call the application's backend answers (the server's RPC
//! proxy), through the hub's connection instead of a second one.

use std::borrow::Cow;

use hub_core::protocol::{ClientFrame, ServerFrame};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{raw, unexpected, Client};
use crate::error::ClientError;

impl Client {
    /// Calls `method` (1 to 128 letters, digits or `_ . : / -`) with
    /// `data` on the application's backend; its answer, read as `R`
    /// (`serde_json::Value` takes any; `()` takes `null`). Calls run beside
    /// the client's other requests; their answers may come in any order.
    ///
    /// # Errors
    /// [`ClientError::Server`] with `refused` (the backend said no: its own
    /// code in [`ClientError::reason`]), `unavailable` (it could not be
    /// asked; temporary), `no_backend` (the hub has no RPC proxy),
    /// `too_many_rpcs`, `invalid_field` (the method); `Payload` when the
    /// answer is not an `R`; `Closed`.
    pub async fn rpc<R: DeserializeOwned>(
        &self,
        method: &str,
        data: &impl Serialize,
    ) -> Result<R, ClientError> {
        let frame = ClientFrame::Rpc {
            method: method.to_owned().into(),
            data: Some(Cow::Owned(raw(data)?)),
        };
        match self.call(frame).await? {
            ServerFrame::RpcAck(ack) => serde_json::from_str(ack.data.get())
                .map_err(|e| ClientError::Payload(e.to_string())),
            other => Err(unexpected(&other)),
        }
    }
}
