//! The inbound task: what Redis brings this node. Publications other nodes
//! made go to the local topic actors, which fan the received bytes out as
//! they are; evictions of this node's sessions (decided by another node's
//! claim) and presence announcements go to the registry.
//!
//! A message arrives once per node (the node subscribed once per topic),
//! so this costs one lookup and one mailbox push per publication, whatever
//! the number of local subscribers. A topic actor whose mailbox is full
//! drops the publication (counted in `broker_dropped_total`) rather than
//! holding up every other topic behind it.

use std::sync::Arc;

use actix::Addr;
use bytestring::ByteString;
use fred::prelude::{Client, EventInterface, Value};
use fred::types::Message;
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;

use super::broker::ORIGIN_LEN;
use super::direct::Direct;
use super::history::HISTORY_MARK;
use super::RedisOptions;
use crate::directory::TopicIndex;
use crate::metrics::Metrics;
use crate::outbox::SessionId;
use crate::registry::{Evicted, Registry, Transition};
use crate::seams::addresses::Epoch;
use crate::topic::presence::MemberChanged;
use crate::topic::PublishRemote;

/// Where each kind of message goes.
pub(super) struct Routes {
    pub(super) options: RedisOptions,
    /// This node's id as it heads its own publications.
    pub(super) origin: [u8; ORIGIN_LEN],
    pub(super) node_channel: String,
    pub(super) presence_channel: String,
    pub(super) everyone_channel: String,
    pub(super) topics: TopicIndex,
    pub(super) registry: Addr<Registry>,
    pub(super) direct: Arc<Direct>,
}

/// Runs until fred closes the client's message stream.
pub(super) async fn run(subscriber: Client, routes: Routes, metrics: Arc<Metrics>) {
    let mut messages = subscriber.message_rx();
    loop {
        match messages.recv().await {
            Ok(message) if *message.channel == *routes.presence_channel => {
                announce(message.value, &routes.registry, &routes.topics);
            }
            Ok(message) if *message.channel == *routes.everyone_channel => {
                if let Some(text) = text(message.value) {
                    routes.direct.on_everyone(&text);
                }
            }
            Ok(message) if *message.channel == *routes.node_channel => {
                let Some(text) = text(message.value) else {
                    continue;
                };
                if !routes.direct.on_message(&text) {
                    evict(&text, &routes.registry);
                }
            }
            Ok(message) => {
                match deliver(message, &routes.options, &routes.origin, &routes.topics) {
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
fn announce(value: Value, registry: &Addr<Registry>, topics: &TopicIndex) {
    let Some(text) = text(value) else { return };
    let online = match text.as_bytes().first() {
        Some(b'1') => true,
        Some(b'0') => false,
        Some(b'j' | b'l') => return member_change(&text, topics),
        _ => return,
    };
    registry.do_send(Transition {
        address: text[1..].into(),
        online,
    });
}

/// A join or leave the shared presence announced: to the topic's actor
/// here, if it has one (no actor: no one here listens).
fn member_change(text: &str, topics: &TopicIndex) {
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
    let Some(actor) = topics.get(topic).map(|a| a.clone()) else {
        return;
    };
    let _ = actor.try_send(MemberChanged {
        address: address.into(),
        joined,
        info,
    });
}

/// `evict <session> <epoch> <address>`.
fn evict(text: &str, registry: &Addr<Registry>) {
    let mut parts = text.splitn(4, ' ');
    let (Some("evict"), Some(session), Some(epoch), Some(address)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (Ok(session), Ok(epoch)) = (session.parse(), epoch.parse()) else {
        return;
    };
    registry.do_send(Evicted {
        address: address.into(),
        session: SessionId(session),
        epoch: Epoch(epoch),
    });
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
    let Some(topic) = topics.get(topic).map(|entry| entry.clone()) else {
        return Delivered::NotForUs;
    };
    let received = std::time::Instant::now();
    match topic.try_send(PublishRemote {
        frame,
        epoch,
        received,
    }) {
        Ok(()) => Delivered::Yes,
        Err(_) => Delivered::Dropped,
    }
}
