//! The inbound task: publications other nodes made, from Redis to the local
//! topic actors, which fan the received bytes out as they are.
//!
//! A message arrives once per node (the node subscribed once per topic),
//! so this costs one lookup and one mailbox push per publication, whatever
//! the number of local subscribers. A topic actor whose mailbox is full
//! drops the publication (counted in `broker_dropped_total`) rather than
//! holding up every other topic behind it.

use std::sync::Arc;

use bytestring::ByteString;
use fred::prelude::{Client, EventInterface, Value};
use fred::types::Message;
use tokio::sync::broadcast::error::RecvError;

use super::broker::ORIGIN_LEN;
use super::RedisOptions;
use crate::directory::TopicIndex;
use crate::metrics::Metrics;
use crate::topic::Publish;

/// Runs until fred closes the client's message stream.
pub(super) async fn run(
    subscriber: Client,
    options: RedisOptions,
    origin: [u8; ORIGIN_LEN],
    topics: TopicIndex,
    metrics: Arc<Metrics>,
) {
    let mut messages = subscriber.message_rx();
    loop {
        match messages.recv().await {
            Ok(message) => match deliver(message, &options, &origin, &topics) {
                Delivered::Yes => Metrics::inc(&metrics.broker_received_total),
                Delivered::Dropped => Metrics::inc(&metrics.broker_dropped_total),
                Delivered::NotForUs => {}
            },
            Err(RecvError::Lagged(skipped)) => Metrics::add(&metrics.broker_dropped_total, skipped),
            Err(RecvError::Closed) => return,
        }
    }
}

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
enum Delivered {
    /// Handed to the topic actor.
    Yes,
    /// The topic actor's mailbox was full.
    Dropped,
    /// This node's own echo, a topic without subscribers here (any more),
    /// or not a message of this hub.
    NotForUs,
}

fn deliver(
    message: Message,
    options: &RedisOptions,
    origin: &[u8; ORIGIN_LEN],
    topics: &TopicIndex,
) -> Delivered {
    let Some(topic) = options.topic_of(&message.channel) else {
        return Delivered::NotForUs;
    };
    let bytes = match message.value {
        Value::String(text) => text.into_inner(),
        Value::Bytes(bytes) => bytes,
        _ => return Delivered::NotForUs,
    };
    if bytes.len() <= ORIGIN_LEN || bytes[..ORIGIN_LEN] == origin[..] {
        return Delivered::NotForUs;
    }
    let Ok(frame) = ByteString::try_from(bytes.slice(ORIGIN_LEN..)) else {
        return Delivered::NotForUs;
    };
    let Some(topic) = topics.get(topic).map(|entry| entry.clone()) else {
        return Delivered::NotForUs;
    };
    match topic.try_send(Publish { frame }) {
        Ok(()) => Delivered::Yes,
        Err(_) => Delivered::Dropped,
    }
}
