//! Publish and broadcast `msg_id` claims in Redis (`SET NX PX GET` in the
//! sender's slot), and their settling with the first attempt's outcome.

use super::*;

impl RedisLedger {
    /// The key of `sender`'s `msg_id` of a publish or broadcast, in the
    /// sender's own slot.
    fn claim_key(&self, sender: &str, msg_id: &str) -> String {
        format!("{}{{o:{sender}}}:{msg_id}", self.prefix)
    }

    /// Claims `msg_id` for the hub: `SET NX PX ... GET`, one step.
    pub(super) fn claim(
        &self,
        sender: &str,
        msg_id: &str,
        print: &str,
        window: Duration,
    ) -> impl Future<Output = Result<ClaimedHere, HubError>> + 'static {
        let (client, key, print) = (
            self.client.clone(),
            self.claim_key(sender, msg_id),
            print.to_owned(),
        );
        async move {
            let set = CustomCommand::new_static("SET", ClusterHash::FirstKey, false);
            let args: Vec<Value> = vec![
                key.into(),
                format!("{print} ").into(),
                "NX".into(),
                "PX".into(),
                (window.as_millis().max(1) as i64).into(),
                "GET".into(),
            ];
            let prior: Value = client
                .custom(set, args)
                .await
                .map_err(|e| unavailable(&e))?;
            let Some(prior) = prior.as_string() else {
                return Ok(ClaimedHere::Fresh);
            };
            let Some(outcome) = prior.strip_prefix(&format!("{print} ")) else {
                return Ok(ClaimedHere::Conflict);
            };
            if outcome.is_empty() {
                return Ok(ClaimedHere::Pending);
            }
            serde_json::from_str(outcome)
                .map(ClaimedHere::Repeat)
                .map_err(|_| HubError::Internal("a remembered outcome could not be read"))
        }
    }

    /// Records how a claimed `msg_id` went (`Some`: its outcome as JSON,
    /// kept for the rest of the window), or frees it for a retry (`None`).
    pub(super) fn settle_claim(
        &self,
        sender: &str,
        msg_id: &str,
        print: &str,
        outcome: Option<String>,
    ) -> impl Future<Output = ()> + 'static {
        let (client, key, print) = (
            self.client.clone(),
            self.claim_key(sender, msg_id),
            print.to_owned(),
        );
        let release = self.release.clone();
        async move {
            let done = match outcome {
                Some(outcome) => {
                    let set = CustomCommand::new_static("SET", ClusterHash::FirstKey, false);
                    let args: Vec<Value> = vec![
                        key.into(),
                        format!("{print} {outcome}").into(),
                        "XX".into(),
                        "KEEPTTL".into(),
                    ];
                    client.custom::<Value, _>(set, args).await.map(drop)
                }
                None => release
                    .evalsha_with_reload::<Value, _, _>(
                        &client,
                        vec![Key::from(key)],
                        vec![format!("{print} ")],
                    )
                    .await
                    .map(drop),
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "a msg_id's claim was not settled");
            }
        }
    }
}
