//! A user's view of the topic every user publishes to and follows
//! (`feed:all`, a namespace with history), for the recovery check: every
//! two seconds the user unsubscribes and subscribes again with `since` (its
//! last position), as a client switching views does, so recoveries are
//! asked on every node through every fault. It records each publication's
//! acknowledged offset (`published`), each publication a session was
//! handed (`topic_delivered`) and each recovery with what it replayed
//! before its ack (`recovery`).

use serde_json::{json, Value};

/// The topic.
pub(crate) const TOPIC: &str = "feed:all";

/// A recovery asked, until its ack.
struct Asked {
    /// When it was asked (ms since the run began).
    t: u64,
    since: Option<(String, u64)>,
    /// The unsubscribe before it was answered: publications from here on
    /// are the replay.
    unsubscribed: bool,
    replayed: Vec<u64>,
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct Feed {
    /// The last (epoch, offset) seen.
    position: Option<(String, u64)>,
    asked: Option<Asked>,
    published: u64,
}

impl Feed {
    /// The subscribe a new session begins with (no unsubscribe before it).
    pub(crate) fn begin(&mut self, now: u64) -> Vec<Value> {
        self.asked = None;
        let mut frames = self.subscribe(now);
        if let Some(asked) = &mut self.asked {
            asked.unsubscribed = true;
        }
        frames.truncate(1);
        frames
    }

    /// Unsubscribes and subscribes again with `since`; nothing while the
    /// last one is unanswered.
    pub(crate) fn again(&mut self, now: u64) -> Vec<Value> {
        if self.asked.is_some() {
            return Vec::new();
        }
        let mut frames = vec![json!({"type": "hub:unsubscribe", "id": "un", "topic": TOPIC})];
        frames.extend(self.subscribe(now));
        frames
    }

    fn subscribe(&mut self, now: u64) -> Vec<Value> {
        let mut subscribe = json!({"type": "hub:subscribe", "id": "rs", "topic": TOPIC});
        if let Some((epoch, offset)) = &self.position {
            subscribe["since"] = json!({"epoch": epoch, "offset": offset});
        }
        self.asked = Some(Asked {
            t: now,
            since: self.position.clone(),
            unsubscribed: false,
            replayed: Vec::new(),
        });
        vec![subscribe]
    }

    /// A publication from `me`.
    pub(crate) fn publish(&mut self, me: &str) -> Value {
        self.published += 1;
        let n = self.published;
        json!({"type": "hub:publish", "id": format!("pub:{n}"), "topic": TOPIC, "payload": format!("{me}:p{n}")})
    }

    /// Takes `f` if it is about the feed; returns the history lines it
    /// makes (`None`: not about the feed).
    pub(crate) fn on_frame(&mut self, f: &Value, session: &str, me: &str) -> Option<Vec<Value>> {
        let id = f["id"].as_str().unwrap_or("");
        match f["type"].as_str().unwrap_or("") {
            "hub:message" if f["topic"] == TOPIC => {
                let offset = f["offset"].as_u64()?;
                if let Some(asked) = self.asked.as_mut().filter(|a| a.unsubscribed) {
                    asked.replayed.push(offset);
                }
                if let Some((_, at)) = &mut self.position {
                    *at = offset;
                }
                Some(vec![
                    json!({"op": "topic_delivered", "session": session, "to": me, "offset": offset}),
                ])
            }
            "hub:publish_ack" if id.starts_with("pub:") => Some(
                f["offset"]
                    .as_u64()
                    .map(|offset| {
                        json!({"op": "published", "from": me, "epoch": f["epoch"], "offset": offset})
                    })
                    .into_iter()
                    .collect(),
            ),
            "hub:unsubscribe_ack" if id == "un" => {
                if let Some(asked) = &mut self.asked {
                    asked.unsubscribed = true;
                }
                Some(Vec::new())
            }
            "hub:subscribe_ack" if id == "rs" => {
                let asked = self.asked.take()?;
                let epoch = f["epoch"].as_str().map(str::to_owned);
                let offset = f["offset"].as_u64();
                // Newer publications may have come before the ack: the
                // position is the higher of the two.
                if let (Some(epoch), Some(offset)) = (&epoch, offset) {
                    let seen = asked.replayed.last().copied().unwrap_or(0);
                    self.position = Some((epoch.clone(), offset.max(seen)));
                }
                let Some((since_epoch, since_offset)) = asked.since else {
                    return Some(Vec::new());
                };
                Some(vec![json!({
                    "op": "recovery", "session": session, "to": me, "asked_t": asked.t,
                    "since_epoch": since_epoch, "since_offset": since_offset,
                    "recovered": f["recovered"] == true, "epoch": epoch, "offset": offset,
                    "replayed": asked.replayed,
                })])
            }
            "hub:error" if id == "un" => {
                if let Some(asked) = &mut self.asked {
                    asked.unsubscribed = true;
                }
                Some(Vec::new())
            }
            "hub:error" if id == "rs" => {
                self.asked = None;
                Some(Vec::new())
            }
            "hub:error" if id.starts_with("pub:") => Some(Vec::new()),
            _ => None,
        }
    }
}
