//! Presence calls: a topic's members and their count, and watching an
//! address come online and go offline. Events arrive on the
//! [`EventStream`](crate::EventStream): [`Event::Joined`](crate::Event::Joined),
//! [`Event::Left`](crate::Event::Left), [`Event::Online`](crate::Event::Online)
//! and [`Event::Offline`](crate::Event::Offline).

use hub_core::protocol::{ClientFrame, ServerFrame};

use crate::client::{unexpected, Client};
use crate::error::ClientError;
use crate::types::{Member, PresencePage};

impl Client {
    /// Up to `limit` (1 to 1000) members of `topic` after the address
    /// `after`, in address order; `next` in the page says where the
    /// following one starts.
    ///
    /// # Errors
    /// `forbidden` without the namespace's `presence` right,
    /// `presence_disabled` when it does not track presence; `Closed`.
    pub async fn presence(
        &self,
        topic: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<PresencePage, ClientError> {
        let frame = ClientFrame::Presence {
            topic: topic.to_owned().into(),
            limit: Some(limit),
            after: after.map(|a| a.to_owned().into()),
        };
        match self.call(frame).await? {
            ServerFrame::PresenceAck(ack) => Ok(PresencePage {
                members: ack
                    .members
                    .into_iter()
                    .map(|m| Member {
                        address: m.address.into_owned(),
                        info: m.info.map(|i| i.into_owned()),
                    })
                    .collect(),
                next: ack.next.map(|n| n.into_owned()),
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Every member of `topic`, page by page (1000 at a time). A member
    /// that comes or goes meanwhile may be missed or listed.
    ///
    /// # Errors
    /// As [`Client::presence`].
    pub async fn members(&self, topic: &str) -> Result<Vec<Member>, ClientError> {
        let mut members = Vec::new();
        let mut after = None;
        loop {
            let page = self.presence(topic, after.as_deref(), 1000).await?;
            members.extend(page.members);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(members),
            }
        }
    }

    /// How many members `topic` has.
    ///
    /// # Errors
    /// As [`Client::presence`].
    pub async fn presence_stats(&self, topic: &str) -> Result<u64, ClientError> {
        let frame = ClientFrame::PresenceStats {
            topic: topic.to_owned().into(),
        };
        match self.call(frame).await? {
            ServerFrame::PresenceStatsAck(ack) => Ok(ack.members as u64),
            other => Err(unexpected(&other)),
        }
    }

    /// Watches `address`: returns whether it is online now, and from then
    /// on [`Event::Online`](crate::Event::Online) and
    /// [`Event::Offline`](crate::Event::Offline) tell each change, once.
    /// Watched again after a reconnect; a change missed while the link was
    /// down is reported then.
    ///
    /// # Errors
    /// `forbidden` without the `watch` right on the address,
    /// `too_many_watches`; `Closed`.
    pub async fn watch(&self, address: &str) -> Result<bool, ClientError> {
        let frame = ClientFrame::Watch {
            address: address.to_owned().into(),
        };
        match self.call(frame).await? {
            ServerFrame::WatchAck(ack) => Ok(ack.online.unwrap_or(false)),
            other => Err(unexpected(&other)),
        }
    }

    /// Stops watching `address`.
    ///
    /// # Errors
    /// `Closed`.
    pub async fn unwatch(&self, address: &str) -> Result<(), ClientError> {
        let frame = ClientFrame::Unwatch {
            address: address.to_owned().into(),
        };
        match self.call(frame).await? {
            ServerFrame::UnwatchAck(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }
}
