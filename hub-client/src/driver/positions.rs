//! Where each subscribed topic's stream stands — the epoch from the
//! subscribe ack, the highest offset handed to the subscriptions — so a
//! reconnect resubscribes with `since` and gets what it missed.

use std::collections::HashMap;

use hub_core::protocol::StreamPosition;

/// One topic's position.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Position {
    /// Known once the subscribe ack came.
    epoch: Option<String>,
    offset: u64,
}

/// Every subscribed topic's position (topics with history only).
#[derive(Debug, Default)]
pub(crate) struct Positions {
    topics: HashMap<String, Position>,
}

impl Positions {
    /// A message of `topic` numbered `offset` was handed on.
    pub(crate) fn saw(&mut self, topic: &str, offset: u64) {
        match self.topics.get_mut(topic) {
            Some(position) => position.offset = position.offset.max(offset),
            // Before the subscribe ack: the epoch comes with it.
            None => {
                self.topics.insert(
                    topic.to_owned(),
                    Position {
                        epoch: None,
                        offset,
                    },
                );
            }
        }
    }

    /// The ack of a subscribe made on this connection. Messages may have
    /// come before it (they are newer than its offset).
    pub(crate) fn subscribed(&mut self, topic: &str, epoch: Option<&str>, offset: Option<u64>) {
        let Some(epoch) = epoch else {
            return;
        };
        let position = self.topics.entry(topic.to_owned()).or_default();
        if position.epoch.is_none() {
            position.epoch = Some(epoch.to_owned());
            position.offset = position.offset.max(offset.unwrap_or(0));
        }
    }

    /// The ack of a resubscribe after a reconnect: the stream now stands
    /// there (what was replayed or is live follows it).
    pub(crate) fn resubscribed(&mut self, topic: &str, epoch: Option<&str>, offset: Option<u64>) {
        match epoch {
            Some(epoch) => {
                self.topics.insert(
                    topic.to_owned(),
                    Position {
                        epoch: Some(epoch.to_owned()),
                        offset: offset.unwrap_or(0),
                    },
                );
            }
            None => self.forget(topic),
        }
    }

    /// Where to resubscribe `topic` from, if it has a position.
    pub(crate) fn since(&self, topic: &str) -> Option<StreamPosition<'static>> {
        let position = self.topics.get(topic)?;
        Some(StreamPosition {
            epoch: position.epoch.clone()?.into(),
            offset: position.offset,
        })
    }

    /// `topic` is no longer subscribed.
    pub(crate) fn forget(&mut self, topic: &str) {
        self.topics.remove(topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_is_the_ack_or_the_newest_message_whichever_is_later() {
        let mut p = Positions::default();
        p.saw("t", 7);
        assert_eq!(p.since("t"), None, "no epoch before the ack");
        p.subscribed("t", Some("e1"), Some(6));
        assert_eq!(p.since("t").map(|s| s.offset), Some(7));
        p.saw("t", 9);
        p.subscribed("t", Some("e1"), Some(2));
        assert_eq!(
            p.since("t").map(|s| s.offset),
            Some(9),
            "a later ack changes nothing"
        );
        p.resubscribed("t", Some("e2"), Some(1));
        let since = p.since("t").unwrap();
        assert_eq!(
            (&*since.epoch, since.offset),
            ("e2", 1),
            "a new epoch starts over"
        );
        p.resubscribed("t", None, None);
        assert_eq!(p.since("t"), None, "no history, no position");
    }
}
