//! What a client reads: [`EventStream`] (lifecycle events and direct
//! messages) and [`Subscription`] (one topic's messages, typed).

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use hub_core::protocol::server::Message;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::driver::Command;
use crate::error::ClientError;
use crate::types::{Event, IncomingMessage, Receipt, TopicMessage};

/// The stream returned by [`Client::events`](crate::Client::events).
#[derive(Debug)]
pub struct EventStream {
    pub(crate) rx: mpsc::Receiver<Event>,
    pub(crate) acks: Acks,
}

/// How the stream acknowledges the stored messages it hands out.
#[derive(Debug, Clone)]
pub(crate) struct Acks {
    pub(crate) commands: mpsc::Sender<Command>,
    /// The highest stored `seq` the application has taken.
    pub(crate) taken: Arc<AtomicU64>,
    /// Acknowledge on taking (else the application calls `Client::ack`).
    pub(crate) auto: bool,
}

impl Acks {
    /// The application took `event`: a stored message is acknowledged now
    /// (cumulatively: a lost ack is covered by the next).
    pub(crate) fn taken(&self, event: &Event) {
        let seq = match event {
            Event::Message(IncomingMessage { seq: Some(seq), .. }) => seq,
            Event::Receipt(Receipt { seq: Some(seq), .. }) => seq,
            _ => return,
        };
        if self.auto {
            self.taken.fetch_max(*seq, Ordering::AcqRel);
            // Never waits: when the command queue is full, a later ack covers this one.
            let _ = self.commands.try_send(Command::Ack { seq: *seq });
        }
    }
}

impl EventStream {
    /// The next event; `None` once the client has stopped. A stored direct
    /// message is acknowledged as it is returned (unless the client was built
    /// with [`manual_ack`](crate::ClientBuilder::manual_ack)).
    pub async fn next(&mut self) -> Option<Event> {
        let event = self.rx.recv().await?;
        self.acks.taken(&event);
        Some(event)
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(event)) = &polled {
            self.acks.taken(event);
        }
        polled
    }
}

/// A live subscription: a `Stream` of [`TopicMessage<T>`] (an item is an
/// error when a payload does not deserialize as `T`).
#[derive(Debug)]
pub struct Subscription<T> {
    pub(crate) topic: String,
    pub(crate) sub_id: u64,
    pub(crate) rx: mpsc::Receiver<Arc<Message<'static>>>,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) active: bool,
    pub(crate) _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Subscription<T> {
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next message; `None` once the client has stopped.
    pub async fn next(&mut self) -> Option<Result<TopicMessage<T>, ClientError>> {
        let message = self.rx.recv().await?;
        Some(decode_topic_message(&self.topic, message))
    }

    /// Leaves the topic (this subscription only; others on the same topic
    /// stay) and waits for the server's ack.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the client has stopped.
    pub async fn unsubscribe(mut self) -> Result<(), ClientError> {
        self.active = false;
        let (reply, done) = oneshot::channel();
        self.commands
            .send(Command::Unsubscribe {
                topic: self.topic.clone(),
                sub_id: self.sub_id,
                reply: Some(reply),
            })
            .await
            .map_err(|_| ClientError::Closed)?;
        done.await.map_err(|_| ClientError::Closed)?
    }
}

/// A message of `topic` (the driver routes by it) with its payload read as `T`.
fn decode_topic_message<T: DeserializeOwned>(
    topic: &str,
    message: Arc<Message<'static>>,
) -> Result<TopicMessage<T>, ClientError> {
    let payload = serde_json::from_str(message.payload.get())
        .map_err(|e| ClientError::Payload(e.to_string()))?;
    Ok(TopicMessage {
        topic: topic.to_owned(),
        from: message.from.to_string(),
        offset: message.offset,
        payload,
    })
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<TopicMessage<T>, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let topic = &this.topic;
        this.rx
            .poll_recv(cx)
            .map(|m| m.map(|m| decode_topic_message(topic, m)))
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        let command = Command::Unsubscribe {
            topic: std::mem::take(&mut self.topic),
            sub_id: self.sub_id,
            reply: None,
        };
        if let Err(mpsc::error::TrySendError::Full(command)) = self.commands.try_send(command) {
            // Drop cannot wait; hand the command to a task when a runtime is around.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let commands = self.commands.clone();
                runtime.spawn(async move {
                    let _ = commands.send(command).await;
                });
            }
        }
    }
}
