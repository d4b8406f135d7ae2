//! Inbound routing: where each frame from the server goes — a topic message
//! to the subscriptions of its topic, a direct message to the request waiting
//! for it or to the event stream, an answer to the call it settles.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use hub_core::protocol::server::Message;
use hub_core::protocol::{ClientFrame, FrameId, ServerFrame};
use tokio::time::Instant;

use super::command::{Answer, Waiter};
use super::outbound::ack_frame;
use super::wire::write_frame;
use super::{Conn, Driver, Link};
use crate::types::{Event, IncomingMessage};

impl Driver {
    /// Handles one frame from the server. `Some(link)` ends the connection.
    pub(super) async fn on_frame(&mut self, frame: Answer, conn: &mut Conn) -> Option<Link> {
        match frame {
            ServerFrame::Message(message) => match message.topic.clone() {
                Some(topic) => self.deliver_topic_message(&topic, message, conn).await,
                None => {
                    if let Err(e) = self.deliver_direct_message(message, conn).await {
                        return Some(self.lost(crate::DisconnectReason::Transport(e)).await);
                    }
                }
            },
            ServerFrame::Receipt(receipt) => {
                if let Err(e) = self.deliver_receipt(receipt, conn).await {
                    return Some(self.lost(crate::DisconnectReason::Transport(e)).await);
                }
            }
            ServerFrame::Online(event) => {
                self.address_changed(event.address.into_owned(), true).await
            }
            ServerFrame::Offline(event) => {
                self.address_changed(event.address.into_owned(), false)
                    .await
            }
            ServerFrame::Join(event) => {
                self.emit(Event::Joined {
                    topic: event.topic.into_owned(),
                    member: crate::types::Member {
                        address: event.address.into_owned(),
                        info: event.info.map(|i| i.into_owned()),
                    },
                })
                .await;
            }
            ServerFrame::Leave(event) => {
                self.emit(Event::Left {
                    topic: event.topic.into_owned(),
                    address: event.address.into_owned(),
                })
                .await;
            }
            ServerFrame::Pong(_) => {}
            ServerFrame::Disconnect(advice) => self.last_disconnect = Some(advice),
            ServerFrame::SubRefresh(asked) => {
                if let Err(e) = self
                    .send_fresh_topic_token(asked.topic.into_owned(), conn)
                    .await
                {
                    return Some(self.lost(crate::DisconnectReason::Transport(e)).await);
                }
            }
            ServerFrame::Subscribed(joined) => {
                let topic = joined.topic.into_owned();
                self.server_topics.insert(topic.clone());
                self.emit(Event::Subscribed { topic }).await;
            }
            ServerFrame::Unsubscribed(ended) => {
                let topic = ended.topic.into_owned();
                self.server_topics.remove(&topic);
                tracing::info!(topic, reason = %ended.reason, "the server ended a subscription");
                // Its streams end with their senders.
                self.subscriptions.remove(&topic);
                self.positions.forget(&topic);
                let reason = ended.reason.into_owned();
                self.emit(Event::Unsubscribed { topic, reason }).await;
            }
            ServerFrame::Refresh(_) => {
                // The server asks for a fresh token.
                if let Err(e) = self.send_fresh_token(conn).await {
                    return Some(self.lost(crate::DisconnectReason::Transport(e)).await);
                }
            }
            answer => {
                if let ServerFrame::SubscribeAck(ack) = &answer {
                    self.positions
                        .subscribed(&ack.topic, ack.epoch.as_deref(), ack.offset);
                }
                if let ServerFrame::WatchAck(ack) = &answer {
                    self.watches.told(&ack.address, ack.online.unwrap_or(false));
                }
                let Some(&FrameId::Num(id)) = answer.id() else {
                    tracing::debug!(frame = %answer.to_json(), "ignoring an answer to no call of this client");
                    return None;
                };
                let policy = self.config.rate_limit_policy;
                if let Some(event) = self.calls.answer(id, answer, policy, Instant::now()) {
                    self.emit(event).await;
                }
            }
        }
        None
    }

    /// A watched address came online or went offline.
    async fn address_changed(&mut self, address: String, online: bool) {
        self.watches.told(&address, online);
        self.emit(match online {
            true => Event::Online { address },
            false => Event::Offline { address },
        })
        .await;
    }

    async fn deliver_topic_message(
        &mut self,
        topic: &str,
        message: Message<'static>,
        conn: &mut Conn,
    ) {
        let Some(subs) = self.subscriptions.get(topic) else {
            if self.server_topics.contains(topic) {
                let publication = crate::types::Publication {
                    topic: topic.to_owned(),
                    from: message.from.into_owned(),
                    offset: message.offset,
                    payload: message.payload.into_owned(),
                };
                self.emit(Event::Publication(publication)).await;
            }
            return;
        };
        if let Some(offset) = message.offset {
            self.positions.saw(topic, offset);
        }
        let message = Arc::new(message);
        let mut gone = Vec::new();
        for (sub_id, tx) in subs.clone() {
            // Waits when the subscription's buffer is full: backpressure reaches the
            // server, which disconnects a consumer that stays slow.
            if tx.send(message.clone()).await.is_err() {
                gone.push(sub_id);
            }
        }
        for sub_id in gone {
            if self.remove_subscription(topic, sub_id) {
                let frame = ClientFrame::Unsubscribe {
                    topic: topic.to_owned().into(),
                };
                let _ = self
                    .start_call(frame, Waiter::Unsubscribe(None), conn)
                    .await;
            }
        }
    }

    /// Whether a stored frame numbered `seq` was handed on already (a
    /// redelivery after a reconnect): then it is acknowledged again as far
    /// as the application has taken frames, so the server's window moves
    /// on. Otherwise it is counted as handed on now.
    async fn repeated(&mut self, seq: Option<u64>, conn: &mut Conn) -> Result<bool, String> {
        let Some(seq) = seq else {
            return Ok(false);
        };
        if seq > self.handed_on {
            self.handed_on = seq;
            return Ok(false);
        }
        let taken = self.taken.load(Ordering::Acquire);
        if taken >= seq {
            write_frame(&mut conn.ws, ack_frame(taken)).await?;
        }
        Ok(true)
    }

    /// A receipt is stored for this client like a message: the same
    /// duplicate check by `seq`, handed to the event stream, acknowledged
    /// when taken.
    async fn deliver_receipt(
        &mut self,
        receipt: hub_core::protocol::server::Receipt<'static>,
        conn: &mut Conn,
    ) -> Result<(), String> {
        if !self.can_take_message() {
            return Ok(());
        }
        if self.repeated(receipt.seq, conn).await? {
            return Ok(());
        }
        let receipt = crate::types::Receipt {
            to: receipt.to.into_owned(),
            msg_id: receipt.msg_id.map(|m| m.into_owned()),
            delivered: receipt.status == hub_core::protocol::server::ReceiptStatus::Delivered,
            seq: receipt.seq,
        };
        self.emit(Event::Receipt(receipt)).await;
        Ok(())
    }

    /// A direct message goes to the request waiting for it, else to the
    /// event stream. A stored one already handed on (redelivered after a
    /// reconnect) is dropped, and acknowledged again as far as the
    /// application has taken messages, so the server's window moves on.
    async fn deliver_direct_message(
        &mut self,
        message: Message<'static>,
        conn: &mut Conn,
    ) -> Result<(), String> {
        let waited_for = message
            .in_reply_to
            .as_deref()
            .is_some_and(|id| self.replies.contains_key(id));
        if !waited_for && !self.can_take_message() {
            // Nowhere to put it: not taken, so a stored one comes again
            // after the next reconnect.
            return Ok(());
        }
        if self.repeated(message.seq, conn).await? {
            return Ok(());
        }
        let in_reply_to = message.in_reply_to.clone();
        let message = IncomingMessage {
            from: message.from.into_owned(),
            payload: message.payload.into_owned(),
            correlation_id: message.correlation_id.map(|c| c.into_owned()),
            seq: message.seq,
        };
        if let Some(waiting) = in_reply_to.and_then(|id| self.replies.remove(&*id)) {
            // A reply is taken by the request that waits for it.
            if let Some(seq) = message.seq {
                self.taken.fetch_max(seq, Ordering::AcqRel);
                write_frame(&mut conn.ws, ack_frame(seq)).await?;
            }
            let _ = waiting.send(message);
            return Ok(());
        }
        self.emit(Event::Message(message)).await;
        Ok(())
    }
}
