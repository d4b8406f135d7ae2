//! [`Client`]: a cheap, clonable handle. Every call becomes a command to the
//! driver task, which owns the socket; the handle never touches it.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::borrow::Cow;

use hub_core::protocol::{BroadcastTarget, ClientFrame, Correlation, ErrorCode, ServerFrame};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{ClientBuilder, ClientConfig};
use crate::driver::{self, Answer, Command, Frame};
use crate::error::ClientError;
use crate::subscription::{Acks, EventStream, Subscription};
use crate::types::{
    BroadcastAck, ConnectionState, DeliveryAck, IncomingMessage, PublishAck, Recipients,
};

/// Commands waiting for the driver; calls beyond this wait for room.
const COMMAND_BUFFER: usize = 256;

/// A connected Signal Hub client. Clone it freely; all clones share one connection.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<ConnectionState>,
    config: Arc<ClientConfig>,
    /// The highest stored `seq` the application has taken (shared with the driver).
    taken: Arc<AtomicU64>,
}

impl Client {
    /// Starts building a client for the hub at `url` (e.g. `ws://127.0.0.1:8080/ws`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    pub(crate) async fn start(config: ClientConfig) -> Result<Self, ClientError> {
        let config = Arc::new(config);
        let (commands, command_rx) = mpsc::channel(COMMAND_BUFFER);
        let taken = Arc::new(AtomicU64::new(0));
        let state = driver::spawn(config.clone(), command_rx, taken.clone()).await?;
        Ok(Self {
            commands,
            state,
            config,
            taken,
        })
    }

    /// This client's address (with a [`device`](crate::ClientBuilder::device):
    /// the user's; the connection's own is [`Client::connection_address`]).
    pub fn address(&self) -> &str {
        &self.config.address
    }

    /// The address this connection registers: `address/device` with a
    /// device, else the address.
    pub fn connection_address(&self) -> String {
        match &self.config.device {
            Some(device) => format!("{}/{device}", self.config.address),
            None => self.config.address.clone(),
        }
    }

    /// Where the connection is now.
    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// Waits until the state satisfies `pred` (e.g. connected again).
    ///
    /// # Errors
    /// [`ClientError::Closed`] if the client stopped before.
    pub async fn wait_for_state(
        &self,
        pred: impl Fn(&ConnectionState) -> bool,
    ) -> Result<ConnectionState, ClientError> {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| pred(s) || *s == ConnectionState::Closed)
            .await;
        match result.map(|s| s.clone()) {
            Ok(s) if pred(&s) => Ok(s),
            _ => Err(ClientError::Closed),
        }
    }

    /// Lifecycle events and direct messages. Only the latest stream receives;
    /// events before the first call are not kept. Read it: when its buffer is
    /// full the client stops reading the socket.
    pub async fn events(&self) -> EventStream {
        let (tx, rx) = mpsc::channel(self.config.event_buffer);
        let _ = self.commands.send(Command::Events { tx }).await;
        let acks = Acks {
            commands: self.commands.clone(),
            taken: self.taken.clone(),
            auto: !self.config.manual_ack,
        };
        EventStream { rx, acks }
    }

    /// Acknowledges every stored direct message up to `seq` (see
    /// [`IncomingMessage::seq`]): the hub deletes them and will not deliver
    /// them again. Only needed with
    /// [`manual_ack`](crate::ClientBuilder::manual_ack); cumulative.
    ///
    /// # Errors
    /// [`ClientError::Closed`] if the client has stopped.
    pub async fn ack(&self, seq: u64) -> Result<(), ClientError> {
        self.taken.fetch_max(seq, Ordering::AcqRel);
        self.commands
            .send(Command::Ack { seq })
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Sends `payload` to the address `to`; resolves with the server's
    /// delivery ack. While disconnected the call waits in the offline queue.
    ///
    /// # Errors
    /// `QueueFull` (offline queue full), `Closed`, `Evicted`, `Payload`, or a
    /// server refusal (`Server`, `RateLimited` under the surface policy).
    pub async fn send(
        &self,
        to: &str,
        payload: &impl Serialize,
    ) -> Result<DeliveryAck, ClientError> {
        let frame = send_frame(to, raw(payload)?, Correlation::default(), true);
        delivery_ack(self.call(frame).await?)
    }

    /// Like [`Client::send`], and asks for a receipt: when the recipient
    /// acknowledges the message (or its TTL passes first), an
    /// [`Event::Receipt`](crate::Event::Receipt) arrives on the event
    /// stream, also after a reconnect (receipts are stored for the sender).
    /// Needs a hub that stores direct messages.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn send_with_receipt(
        &self,
        to: &str,
        payload: &impl Serialize,
    ) -> Result<DeliveryAck, ClientError> {
        let mut frame = send_frame(to, raw(payload)?, Correlation::default(), true);
        if let ClientFrame::Send { receipt, .. } = &mut frame {
            *receipt = true;
        }
        delivery_ack(self.call(frame).await?)
    }

    /// Sends `payload` to `to` fire-and-forget (`"ack": false`): resolves as
    /// soon as the frame is written (or queued while disconnected), without
    /// waiting for the server. A rejection arrives later as
    /// [`Event::Undelivered`](crate::Event::Undelivered). Not re-sent after a reconnect once written:
    /// at most once.
    ///
    /// # Errors
    /// `QueueFull`, `Closed`, `Evicted`, `Payload`.
    pub async fn send_unacked(
        &self,
        to: &str,
        payload: &impl Serialize,
    ) -> Result<(), ClientError> {
        let frame = send_frame(to, raw(payload)?, Correlation::default(), false);
        let (reply, written) = oneshot::channel();
        self.command(Command::SendUnacked {
            frame,
            to: to.to_owned(),
            reply,
        })
        .await?;
        written.await.map_err(|_| ClientError::Closed)?
    }

    /// Publishes `payload` to `topic`; resolves with how many subscribers' queues took it.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn publish(
        &self,
        topic: &str,
        payload: &impl Serialize,
    ) -> Result<PublishAck, ClientError> {
        let frame = ClientFrame::Publish {
            topic: topic.to_owned().into(),
            payload: Cow::Owned(raw(payload)?),
            msg_id: None,
        };
        match self.call(frame).await? {
            ServerFrame::PublishAck(ack) => Ok(PublishAck {
                topic: ack.topic.into_owned(),
                recipients: ack.recipients as u64,
                offset: ack.offset,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends `payload` to several addresses, or to all.
    ///
    /// # Errors
    /// As [`Client::send`]; `broadcast_too_large` over the server's cap.
    pub async fn broadcast(
        &self,
        to: Recipients,
        payload: &impl Serialize,
    ) -> Result<BroadcastAck, ClientError> {
        let to = match to {
            Recipients::All => BroadcastTarget::All,
            Recipients::List(list) => BroadcastTarget::List(list),
        };
        let frame = ClientFrame::Broadcast {
            to,
            payload: Cow::Owned(raw(payload)?),
            msg_id: None,
        };
        match self.call(frame).await? {
            ServerFrame::BroadcastAck(ack) => Ok(BroadcastAck {
                recipients: ack.recipients as u64,
                not_found: ack.not_found.into_iter().map(Cow::into_owned).collect(),
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Subscribes to `topic`. The subscription is a `Stream` of typed
    /// messages; it survives reconnects (the client resubscribes). Dropping it,
    /// or [`Subscription::unsubscribe`], leaves that topic only.
    ///
    /// # Errors
    /// A server refusal (`too_many_topics`, `topic_full`, ...), `Closed`, `QueueFull`.
    pub async fn subscribe<T: DeserializeOwned>(
        &self,
        topic: &str,
    ) -> Result<Subscription<T>, ClientError> {
        let (tx, rx) = mpsc::channel(self.config.subscription_buffer);
        let (reply, ack) = oneshot::channel();
        let sub_id = driver::next_subscription_id();
        let token = match &self.config.subscription_token_provider {
            Some(provider) => provider(topic.to_owned()).await,
            None => None,
        };
        self.command(Command::Subscribe {
            topic: topic.to_owned(),
            token,
            sub_id,
            tx,
            reply,
        })
        .await?;
        ack.await.map_err(|_| ClientError::Closed)??;
        Ok(Subscription {
            topic: topic.to_owned(),
            sub_id,
            rx,
            commands: self.commands.clone(),
            active: true,
            _type: PhantomData,
        })
    }

    /// Sends `payload` to `to` as a request and waits up to `timeout` for the
    /// reply (a direct message whose `in_reply_to` matches).
    ///
    /// # Errors
    /// [`ClientError::Timeout`] without a reply in time;
    /// [`ClientError::NotDelivered`] when the server rejected the send;
    /// [`ClientError::Payload`] when the reply does not match `R`.
    pub async fn request<R: DeserializeOwned>(
        &self,
        to: &str,
        payload: &impl Serialize,
        timeout: Duration,
    ) -> Result<R, ClientError> {
        let correlation_id = uuid::Uuid::new_v4().simple().to_string();
        let (reply_tx, reply_rx) = oneshot::channel();
        self.command(Command::AwaitReply {
            correlation_id: correlation_id.clone(),
            reply: reply_tx,
        })
        .await?;
        let correlation = Correlation {
            correlation_id: Some(correlation_id.clone().into()),
            in_reply_to: None,
        };
        let frame = send_frame(to, raw(payload)?, correlation, true);
        let result = tokio::time::timeout(timeout, async {
            let ack = delivery_ack(self.call(frame).await?)?;
            if !ack.is_accepted() {
                return Err(ClientError::NotDelivered(
                    ack.reason.unwrap_or(ErrorCode::Internal),
                ));
            }
            let reply = reply_rx.await.map_err(|_| ClientError::Closed)?;
            reply.payload_as()
        })
        .await;
        match result {
            Ok(r) => r,
            Err(_) => {
                let _ = self
                    .commands
                    .try_send(Command::CancelReply { correlation_id });
                Err(ClientError::Timeout(timeout))
            }
        }
    }

    /// Answers a request received as [`Event::Message`](crate::Event::Message) (one with a `correlation_id`).
    ///
    /// # Errors
    /// As [`Client::send`]; [`ClientError::Protocol`] if `request` expects no reply.
    pub async fn reply(
        &self,
        request: &IncomingMessage,
        payload: &impl Serialize,
    ) -> Result<DeliveryAck, ClientError> {
        let Some(correlation_id) = &request.correlation_id else {
            return Err(ClientError::Protocol(
                "this message is not a request (no correlation_id)".into(),
            ));
        };
        let correlation = Correlation {
            correlation_id: None,
            in_reply_to: Some(correlation_id.clone().into()),
        };
        let frame = send_frame(&request.from, raw(payload)?, correlation, true);
        delivery_ack(self.call(frame).await?)
    }

    /// Closes cleanly: sends `hub:disconnect`, waits for the ack, then closes
    /// the socket. Pending calls fail with [`ClientError::Closed`].
    ///
    /// # Errors
    /// [`ClientError::Closed`] if it was already closed.
    pub async fn close(&self) -> Result<(), ClientError> {
        let (reply, done) = oneshot::channel();
        self.command(Command::Close { reply }).await?;
        match tokio::time::timeout(self.config.connect_timeout, done).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Ok(()),
            Err(_) => Ok(()), // the server did not answer in time; the driver has stopped anyway
        }
    }

    async fn command(&self, command: Command) -> Result<(), ClientError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Sends one request frame and waits for the frame that answers it.
    pub(crate) async fn call(&self, frame: Frame) -> Result<Answer, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Request { frame, reply }).await?;
        answer.await.map_err(|_| ClientError::Closed)?
    }
}

/// Serializes a payload once, into the raw JSON the frame carries.
pub(crate) fn raw(payload: &impl Serialize) -> Result<Box<RawValue>, ClientError> {
    serde_json::value::to_raw_value(payload).map_err(|e| ClientError::Payload(e.to_string()))
}

fn send_frame(
    to: &str,
    payload: Box<RawValue>,
    correlation: Correlation<Cow<'static, str>>,
    ack: bool,
) -> Frame {
    ClientFrame::Send {
        to: to.to_owned().into(),
        payload: Cow::Owned(payload),
        correlation,
        ack,
        msg_id: None,
        receipt: false,
    }
}

/// An answer of another kind than the call asked for.
pub(crate) fn unexpected(answer: &Answer) -> ClientError {
    ClientError::Protocol(format!("unexpected answer: {}", answer.to_json()))
}

fn delivery_ack(answer: Answer) -> Result<DeliveryAck, ClientError> {
    match answer {
        ServerFrame::DeliveryAck(ack) => Ok(DeliveryAck {
            to: ack.to.into_owned(),
            status: ack.status,
            reason: ack.reason,
        }),
        other => Err(unexpected(&other)),
    }
}
