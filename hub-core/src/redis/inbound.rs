//! The inbound task: what Redis brings this node, reported through the
//! node's [`EngineEvents`]. Publications other nodes made go to the local
//! topics, which fan the received bytes out as they are; evictions of this
//! node's sessions (decided by another node's claim), addresses coming
//! online or going offline and topic members joining or leaving are
//! reported as they arrive.
//!
//! A message arrives once per node (the node subscribed once per topic),
//! so this costs one report per publication, whatever the number of local
//! subscribers. A publication the node had no room for is counted in
//! `broker_dropped_total`.

use std::sync::Arc;

use bytestring::ByteString;
use fred::prelude::{Client, EventInterface, Value};
use fred::types::Message;
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;

use super::broker::ORIGIN_LEN;
use super::direct::Direct;
use super::history::HISTORY_MARK;
use super::RedisOptions;
use crate::metrics::Metrics;
use crate::outbox::SessionId;
use crate::seams::addresses::Epoch;
use crate::seams::events::{Delivered, EngineEvents};

/// Where each kind of message goes.
pub(super) struct Routes {
    pub(super) options: RedisOptions,
    /// This node's id as it heads its own publications.
    pub(super) origin: [u8; ORIGIN_LEN],
    /// This node's channel in each directory shard.
    pub(super) node_channels: Vec<String>,
    /// Each directory shard's presence channel.
    pub(super) presence_channels: Vec<String>,
    pub(super) everyone_channel: String,
    pub(super) events: Arc<dyn EngineEvents>,
    pub(super) direct: Arc<Direct>,
}

/// Runs until fred closes the client's message stream.
pub(super) async fn run(subscriber: Client, routes: Routes, metrics: Arc<Metrics>) {
    let mut messages = subscriber.message_rx();
    loop {
        match messages.recv().await {
            Ok(message) if is_one_of(&message.channel, &routes.presence_channels) => {
                announce(message.value, &*routes.events);
            }
            Ok(message) if *message.channel == *routes.everyone_channel => {
                if let Some(text) = text(message.value) {
                    routes.direct.on_everyone(&text);
                }
            }
            Ok(message) if is_one_of(&message.channel, &routes.node_channels) => {
                let Some(text) = text(message.value) else {
                    continue;
                };
                if !routes.direct.on_message(&text) {
                    evict(&text, &*routes.events);
                }
            }
            Ok(message) => {
                match deliver(message, &routes.options, &routes.origin, &*routes.events) {
                    Delivered::Yes => Metrics::inc(&metrics.broker_received_total),
                    Delivered::Dropped => Metrics::inc(&metrics.broker_dropped_total),
                    Delivered::NotForUs => {}
                }
            }
            Err(RecvError::Lagged(skipped)) => Metrics::add(&metrics.broker_dropped_total, skipped),
            Err(RecvError::Closed) => return,
        }
    }
}

/// Whether `channel` is one of the directory's `channels` (whose names
/// begin with their hash tag: a topic's channel is told apart at once).
fn is_one_of(channel: &str, channels: &[String]) -> bool {
    channel.starts_with('{') && channels.iter().any(|c| c == channel)
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.to_string()),
        Value::Bytes(bytes) => String::from_utf8(bytes.to_vec()).ok(),
        _ => None,
    }
}

/// `1<address>`: came online; `0<address>`: went offline;
/// `j<topic>\n<address>\n<info>`: joined a topic; `l<topic>\n<address>`:
/// left it.
fn announce(value: Value, events: &dyn EngineEvents) {
    let Some(text) = text(value) else { return };
    let online = match text.as_bytes().first() {
        Some(b'1') => true,
        Some(b'0') => false,
        Some(b'j' | b'l') => return member_change(&text, events),
        _ => return,
    };
    events.transition(&text[1..], online);
}

/// A join or leave the shared presence announced.
fn member_change(text: &str, events: &dyn EngineEvents) {
    let joined = text.starts_with('j');
    let mut parts = text[1..].splitn(3, '\n');
    let (Some(topic), Some(address)) = (parts.next(), parts.next()) else {
        return;
    };
    let info = parts
        .next()
        .filter(|i| !i.is_empty())
        .and_then(|i| RawValue::from_string(i.to_owned()).ok())
        .map(Arc::from);
    events.member_changed(topic, address, joined, info);
}

/// `evict <session> <epoch> <address>`.
fn evict(text: &str, events: &dyn EngineEvents) {
    let mut parts = text.splitn(4, ' ');
    let (Some("evict"), Some(session), Some(epoch), Some(address)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (Ok(session), Ok(epoch)) = (session.parse(), epoch.parse()) else {
        return;
    };
    events.evicted(address, SessionId(session), Epoch(epoch));
}

fn deliver(
    message: Message,
    options: &RedisOptions,
    origin: &[u8; ORIGIN_LEN],
    events: &dyn EngineEvents,
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
    let Ok(text) = ByteString::try_from(bytes.slice(ORIGIN_LEN..)) else {
        return Delivered::NotForUs;
    };
    // A publication numbered in the topic's shared history: `<epoch> <frame>`,
    // for every node, this one included.
    let (frame, epoch) = if bytes[..ORIGIN_LEN] == *HISTORY_MARK.as_bytes() {
        let Some(space) = text.find(' ') else {
            return Delivered::NotForUs;
        };
        (
            text.slice_ref(&text[space + 1..]),
            Some(Arc::from(&text[..space])),
        )
    } else {
        (text, None)
    };
    events.published(topic, frame, epoch, std::time::Instant::now())
}
