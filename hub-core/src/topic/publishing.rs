//! How a topic takes a publication: made here (fanned out at once, or,
//! with history, numbered by the engine's history store and handed out in
//! offset order once final), or carried from another node (fanned out as it
//! came, or, numbered by the store, kept and handed out).

use super::*;
use crate::seams::history::{Numbering, Publishing};

impl Handler<Publish> for Topic {
    type Result = usize;

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) -> usize {
        let accepted = fan_out(
            &mut self.subscribers,
            &msg.frame,
            msg.received,
            (&self.metrics, self.namespace),
        );
        self.arm_idle_timer(ctx);
        accepted
    }
}

/// A publication another node made (an encoded `hub:message`), fanned out
/// as it is. With `epoch`: a publication numbered by the engine's history
/// store (made on any node, this one too), kept in this node's history and
/// handed out in offset order.
#[derive(Message)]
#[rtype(result = "()")]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct PublishRemote {
    pub(crate) frame: ByteString,
    pub(crate) epoch: Option<Arc<str>>,
    /// When it arrived at this node.
    pub(crate) received: Instant,
}

impl Handler<PublishRemote> for Topic {
    type Result = ();

    fn handle(&mut self, msg: PublishRemote, ctx: &mut Self::Context) {
        if let (Some(epoch), true) = (msg.epoch, self.kept.is_some()) {
            self.receive_numbered(epoch, msg.frame, msg.received, ctx);
            return;
        }
        fan_out(
            &mut self.subscribers,
            &msg.frame,
            msg.received,
            (&self.metrics, self.namespace),
        );
        self.arm_idle_timer(ctx);
    }
}

/// The `offset` of an encoded publication (its first `"offset":`).
fn offset_of(frame: &str) -> Option<u64> {
    const KEY: &str = "\"offset\":";
    let at = frame.find(KEY)? + KEY.len();
    let digits = frame[at..].bytes().take_while(u8::is_ascii_digit).count();
    frame[at..at + digits].parse().ok()
}

impl Topic {
    /// A publication the history store numbered, in `epoch`: kept in this
    /// node's history (one already kept is dropped) and handed out.
    fn receive_numbered(
        &mut self,
        epoch: Arc<str>,
        frame: ByteString,
        received: Instant,
        ctx: &mut Context<Self>,
    ) {
        let Some(offset) = offset_of(&frame) else {
            return;
        };
        let Some(kept) = self.kept.as_mut() else {
            return;
        };
        let publication = StoredPublication {
            offset,
            at_ms: now_ms(),
            frame: frame.clone(),
        };
        if !kept.history.adopt(&epoch, publication) {
            return;
        }
        self.hand_out(&frame, offset, received);
        self.arm_expiry_timer(ctx);
    }
}

impl Handler<PublishRecorded> for Topic {
    type Result = ResponseFuture<Result<Published, HubError>>;

    fn handle(&mut self, msg: PublishRecorded, ctx: &mut Self::Context) -> Self::Result {
        let Some(kept) = self.kept.as_mut() else {
            // Not a topic with history (cannot happen through the registry).
            let frame = encode_publication(&self.name, &msg.from, 0, &msg.payload);
            let recipients = fan_out(
                &mut self.subscribers,
                &frame,
                msg.received,
                (&self.metrics, self.namespace),
            );
            return Box::pin(std::future::ready(Ok(Published {
                recipients,
                offset: None,
            })));
        };
        let me = ctx.address();
        let reply_to = move || me.clone().recipient();
        let publishing = Publishing {
            from: &msg.from,
            payload: &msg.payload,
            memo: msg.memo,
            reply_to: &reply_to,
            now_ms: now_ms(),
        };
        match kept
            .store
            .publish(&self.name, &mut kept.history, publishing)
        {
            Numbering::Numbered(publication) => {
                let published = self.deliver_recorded(publication, msg.received, ctx);
                Box::pin(std::future::ready(Ok(published)))
            }
            Numbering::Recording(publication) => {
                let (reply, answer) = oneshot::channel();
                kept.unrecorded.push_back(Unrecorded {
                    publication,
                    received: msg.received,
                    reply,
                });
                Box::pin(async move {
                    answer
                        .await
                        .unwrap_or(Err(HubError::Internal("the topic stopped")))
                })
            }
            // Handed out when the store brings it back; the subscribers
            // counted are those here now (other nodes' are not).
            Numbering::Carried(numbered) => {
                let recipients = self.subscribers.len();
                Box::pin(async move {
                    let (_, offset) = numbered.await?;
                    Ok(Published {
                        recipients,
                        offset: Some(offset),
                    })
                })
            }
        }
    }
}

impl Handler<Recorded> for Topic {
    type Result = ();

    /// Commits come back in order; everything up to `offset` is settled.
    fn handle(&mut self, msg: Recorded, ctx: &mut Self::Context) {
        while let Some(kept) = self.kept.as_mut() {
            let due = kept.unrecorded.front();
            if due.is_none_or(|u| u.publication.offset > msg.offset) {
                break;
            }
            let Some(waiting) = kept.unrecorded.pop_front() else {
                break;
            };
            let answer = if msg.ok {
                Ok(self.deliver_recorded(waiting.publication, waiting.received, ctx))
            } else {
                kept.history.skip(waiting.publication.offset);
                Err(HubError::Internal("the store failed"))
            };
            let _ = waiting.reply.send(answer);
        }
        self.arm_idle_timer(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::offset_of;

    #[test]
    fn the_offset_of_a_publication_is_its_own_field() {
        let frame = r#"{"type":"hub:message","topic":"t\"offset\":9","from":"a","offset":42,"payload":{"offset":7}}"#;
        assert_eq!(offset_of(frame), Some(42));
        assert_eq!(offset_of(r#"{"type":"hub:message"}"#), None);
    }
}
