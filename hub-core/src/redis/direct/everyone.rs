//! `"*"` broadcasts across nodes: one publish on the hub-wide channel;
//! every other node delivers to its own holders and answers with its count,
//! gathered like any answer of every node (see `census`).

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
        let unavailable = || Answer::now(Err(HubError::Unavailable("the other nodes")));
        let node = self.node.to_string();
        let gathered = self.gather(|req| {
            let everyone = ToEveryone {
                node: &node,
                req,
                from: from.into(),
                payload,
            };
            serde_json::to_string(&everyone)
                .ok()
                .map(|json| format!("everyone {json}"))
        });
        let Some(gathered) = gathered else {
            return unavailable();
        };
        Answer::Later(
            async move {
                let counts = gathered.await;
                Ok(counts.iter().filter_map(|n| n.parse::<usize>().ok()).sum())
            }
            .boxed(),
        )
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
        let recipients = (local.everyone)(&everyone.from, everyone.payload);
        self.reply(
            everyone.node,
            format!("censused {} {recipients}", everyone.req),
        );
    }
}
