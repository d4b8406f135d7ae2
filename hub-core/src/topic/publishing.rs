//! How a topic takes a publication: made here (fanned out at once, or,
//! with history, numbered and recorded first, then fanned out in offset
//! order), or carried from another node (fanned out as it came, or adopted
//! into the history shared by the hub).

use super::*;

impl Handler<Publish> for Topic {
    type Result = usize;

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) -> usize {
        let accepted = fan_out(
            &mut self.subscribers,
            &msg.frame,
            msg.received,
            &self.metrics,
        );
        self.arm_idle_timer(ctx);
        accepted
    }
}

/// A publication another node made (an encoded `hub:message`, without
/// offset): fanned out as it is, or, in a topic with history, numbered and
/// recorded here like a publication made on this node, so this node's
/// history holds every publication of the hub (with this node's offsets).
/// With `epoch`: a publication numbered in the topic's history shared by
/// the hub (made on any node, this one too), kept and fanned out as it is.
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
        let shared = self.kept.as_ref().is_some_and(|k| k.shared.is_some());
        if let (true, Some(epoch)) = (shared, msg.epoch.clone()) {
            self.receive_shared(epoch, msg.frame, msg.received, ctx);
            return;
        }
        if self.kept.is_none() || shared || msg.epoch.is_some() {
            fan_out(
                &mut self.subscribers,
                &msg.frame,
                msg.received,
                &self.metrics,
            );
            self.arm_idle_timer(ctx);
            return;
        }
        #[derive(serde::Deserialize)]
        struct Sent<'a> {
            from: &'a str,
            #[serde(borrow)]
            payload: &'a RawValue,
        }
        let Ok(sent) = serde_json::from_str::<Sent<'_>>(&msg.frame) else {
            return;
        };
        // Behind whatever is queued already, as any publication.
        ctx.address().do_send(PublishRecorded {
            from: sent.from.into(),
            payload: sent.payload.to_owned(),
            memo: None,
            received: msg.received,
        });
    }
}

impl Handler<PublishRecorded> for Topic {
    type Result = ResponseFuture<Result<Published, HubError>>;

    fn handle(&mut self, msg: PublishRecorded, ctx: &mut Self::Context) -> Self::Result {
        if let Some(published) = self.publish_shared(&msg) {
            return published;
        }
        let now = now_ms();
        let Some(kept) = self.kept.as_mut() else {
            // Not a topic with history (cannot happen through the directory).
            let frame = encode_publication(&self.name, &msg.from, 0, &msg.payload);
            let recipients = fan_out(&mut self.subscribers, &frame, msg.received, &self.metrics);
            return Box::pin(std::future::ready(Ok(Published {
                recipients,
                offset: None,
            })));
        };
        let offset = kept.history.assign(now);
        let publication = StoredPublication {
            offset,
            at_ms: now,
            frame: encode_publication(&self.name, &msg.from, offset, &msg.payload),
        };
        let Some(recorder) = &kept.recorder else {
            let published = self.deliver_recorded(publication, msg.received, ctx);
            return Box::pin(std::future::ready(Ok(published)));
        };
        // Its subscribers are not known until the commit returns.
        let memo = msg.memo.map(|memo| Remembered {
            outcome: Some(Outcome::Published {
                recipients: 0,
                offset: Some(offset),
            }),
            ..memo
        });
        recorder.do_send(RecordHistory {
            change: HistoryChange {
                topic: self.name.clone(),
                publication: Some(publication.clone()),
                position: kept.history.position(Some(offset)),
            },
            reply_to: Some(ctx.address().recipient()),
            memo,
        });
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
