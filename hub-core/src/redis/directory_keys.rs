//! The names of the address directory's keys and channels: every one
//! carries the hub's directory tag, so they share one hash slot.

use fred::prelude::Key;

use crate::redis::RedisOptions;
use crate::seams::NodeId;

/// The names of the directory's keys and channels.
#[derive(Debug)]
pub(crate) struct Keys {
    /// `{prefix + "dir"}`: every key's hash tag.
    pub(crate) tag: String,
    pub(crate) node_channel_prefix: String,
    pub(crate) presence_channel: String,
    /// Every node hears `"*"` broadcasts here.
    pub(crate) everyone_channel: String,
}

impl Keys {
    pub(crate) fn new(options: &RedisOptions) -> Self {
        // Channels too carry the tag: they are sharded channels, and a
        // script may only publish on a channel of its keys' slot.
        let tag = format!("{{{}dir}}", options.prefix);
        Self {
            node_channel_prefix: format!("{tag}n:"),
            presence_channel: format!("{tag}presence"),
            everyone_channel: format!("{tag}everyone"),
            tag,
        }
    }

    pub(crate) fn holding(&self, address: &str) -> Key {
        Key::from(self.holding_name(address))
    }

    pub(crate) fn holding_name(&self, address: &str) -> String {
        format!("{}a:{address}", self.tag)
    }

    pub(crate) fn holding_prefix(&self) -> String {
        format!("{}a:", self.tag)
    }

    pub(crate) fn deadlines(&self) -> Key {
        Key::from(self.deadlines_name())
    }

    pub(crate) fn deadlines_name(&self) -> String {
        format!("{}deadlines", self.tag)
    }

    pub(crate) fn epoch_name(&self) -> String {
        format!("{}epoch", self.tag)
    }

    /// How many addresses are held (or lingering) in the hub.
    pub(crate) fn held_name(&self) -> String {
        format!("{}held", self.tag)
    }

    /// The addresses some node watches, by when their watch runs out
    /// unless renewed: only their transitions are announced.
    pub(crate) fn watched_name(&self) -> String {
        format!("{}watched", self.tag)
    }

    /// The channel of messages to `node`.
    pub(crate) fn node_channel(&self, node: NodeId) -> String {
        format!("{}{node}", self.node_channel_prefix)
    }
}
