//! `"*"` broadcasts across nodes: one publish on the hub-wide channel;
//! every other node delivers to its own holders and answers with its count
//! on the sender's channel; Redis says how many nodes heard it, so the
//! sender stops waiting once each has answered, or at the command timeout
//! with the counts that came. Questions asked of every node share the
//! channel (see `census`).

use super::*;

impl Direct {
    /// A `"*"` broadcast for every other node's addresses; answers with how
    /// many recipients took it there (nodes that do not answer within the
    /// command timeout are not counted).
    pub(in crate::redis) fn broadcast_all(
        self: &Arc<Self>,
        from: &str,
        payload: &RawValue,
    ) -> Answer<Result<usize, HubError>> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let node = self.node.to_string();
        let everyone = ToEveryone {
            node: &node,
            req,
            from,
            payload,
        };
        let Ok(json) = serde_json::to_string(&everyone) else {
            return Answer::now(Err(HubError::Unavailable("the other nodes")));
        };
        let (done, rx) = oneshot::channel();
        {
            let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
            if tallies.len() >= self.max_pending {
                return Answer::now(Err(HubError::Unavailable("the other nodes")));
            }
            tallies.insert(
                req,
                Tally {
                    expected: None,
                    answered: 0,
                    recipients: 0,
                    done: Some(done),
                },
            );
        }
        let message = format!("everyone {json}");
        let size = message.len();
        if !self.enqueue(Job::Everyone { message, req }, size) {
            self.tallies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&req);
            return Answer::now(Err(HubError::Unavailable("the other nodes")));
        }
        let (wait, this) = (self.wait, self.clone());
        Answer::Later(
            async move {
                match tokio::time::timeout(wait, rx).await {
                    Ok(Ok(recipients)) => Ok(recipients),
                    // Those that answered in time.
                    _ => Ok(this
                        .tallies
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&req)
                        .map_or(0, |t| t.recipients)),
                }
            }
            .boxed(),
        )
    }

    /// Adds to a broadcast's tally; answers it once every node has.
    pub(super) fn tally(&self, req: u64, change: impl FnOnce(&mut Tally)) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tally) = tallies.get_mut(&req) else {
            return;
        };
        change(tally);
        if tally.expected.is_some_and(|n| tally.answered >= n) {
            if let Some(tally) = tallies.remove(&req) {
                if let Some(done) = tally.done {
                    let _ = done.send(tally.recipients);
                }
            }
        }
    }

    /// A message on the hub-wide channel: another node's `"*"` broadcast,
    /// or a question asked of every node.
    pub(in crate::redis) fn on_everyone(self: &Arc<Self>, text: &str) {
        if let Some(json) = text.strip_prefix("census ") {
            return self.census_here(json);
        }
        let Some(json) = text.strip_prefix("everyone ") else {
            return;
        };
        let Ok(everyone) = serde_json::from_str::<ToEveryone<'_>>(json) else {
            return;
        };
        if everyone.node == self.node.to_string() {
            return;
        }
        let Some(local) = self.local.get() else {
            return;
        };
        let recipients = (local.everyone)(everyone.from, everyone.payload);
        self.reply(
            everyone.node,
            format!("counted {} {recipients}", everyone.req),
        );
    }
}
