//! Tests of `topic`.

use super::*;
use crate::error::HubError;
use crate::fixtures::handle;
use crate::outbox::OutFrame;
use crate::seams::presence::{PresenceQuery, PresenceRead, PushTo, SharedPresence, Told};
use crate::seams::Answer;
use serde_json::value::RawValue;

#[test]
fn fan_out_counts_accepted_skips_slow_and_drops_gone() {
    let mut subscribers = HashMap::new();
    let (live, mut live_q) = handle(1, 8);
    let (full, _full_q) = handle(2, 1);
    let (gone, gone_q) = handle(3, 8);
    drop(gone_q);
    for h in [live, full, gone] {
        subscribers.insert(h.id, h);
    }
    let frame = ByteString::from_static("{}");
    let metrics = Metrics::new();
    assert_eq!(
        fan_out(&mut subscribers, &frame, Instant::now(), (&metrics, 0)),
        2,
        "the full queue takes its first frame"
    );
    assert_eq!(
        fan_out(&mut subscribers, &frame, Instant::now(), (&metrics, 0)),
        1,
        "then only the live one"
    );
    assert!(
        !subscribers.contains_key(&SessionId(3)),
        "gone sessions are dropped"
    );
    assert!(
        subscribers.contains_key(&SessionId(2)),
        "slow ones stay until their session closes"
    );
    assert_eq!(
        (live_q.try_recv().is_ok(), live_q.try_recv().is_ok()),
        (true, true)
    );
}

/// An engine that announces every change itself, later (as Redis does).
#[derive(Debug)]
struct AnnouncesLater;

impl SharedPresence for AnnouncesLater {
    fn joined(&self, _: &str, _: &str, _: Option<&RawValue>) -> Told {
        Told::ByEngine
    }
    fn left(&self, _: &str, _: &str) -> Told {
        Told::ByEngine
    }
    fn read(
        &self,
        _: &str,
        _: PresenceQuery,
        _: Option<PushTo>,
    ) -> Answer<Result<PresenceRead, HubError>> {
        Answer::now(Ok(PresenceRead::default()))
    }
    fn told_later_max(&self) -> u64 {
        4_096
    }
}

/// The `hub:join` addresses queued to a session, in order.
fn joins_heard(queue: &mut tokio::sync::mpsc::Receiver<OutFrame>) -> Vec<String> {
    let mut heard = Vec::new();
    while let Ok(frame) = queue.try_recv() {
        let json: serde_json::Value = serde_json::from_str(frame.as_text().unwrap()).unwrap();
        if json["type"] == "hub:join" {
            heard.push(json["address"].as_str().unwrap().to_owned());
        }
    }
    heard
}

/// A join made on this node and announced by the engine only after a
/// newer subscriber began listening is not news to that subscriber (it
/// found the address a member already); one made elsewhere reaches all.
#[actix_rt::test]
async fn a_join_announced_late_reaches_only_those_listening_before_it() {
    use crate::presence::members::Members;
    use crate::presence::Membership;
    use crate::seams::broker::MemoryBroker;
    use crate::topic::presence::MemberChanged;
    use crate::topic::registry::{TopicIndex, TopicRegistry};

    let metrics = Arc::new(Metrics::default());
    let index: TopicIndex = Arc::new(dashmap::DashMap::new());
    let grace = Duration::from_secs(60);
    let broker = Arc::new(MemoryBroker);
    let directory = TopicRegistry::new(index, broker, 10, 10, grace, metrics.clone()).start();
    let topic = Topic::new("room".into(), 1, directory, 10, grace, metrics)
        .with_members(Members::new(Duration::ZERO), true, Arc::new(AnnouncesLater))
        .start();
    let (alice, mut alice_q) = handle(1, 16);
    let (bob, mut bob_q) = handle(2, 16);
    for (handle, address) in [(alice, "alice"), (bob, "bob")] {
        let member = Membership {
            address: address.into(),
            info: None,
            listens: true,
        };
        let join = Join {
            handle,
            since: None,
            member: Some(member),
            heard: None,
        };
        topic.send(join).await.unwrap().unwrap();
    }
    for address in ["alice", "bob", "carol"] {
        let changed = MemberChanged {
            address: address.into(),
            joined: true,
            info: None,
        };
        topic.send(changed).await.unwrap();
    }
    assert_eq!(joins_heard(&mut alice_q), ["bob", "carol"]);
    assert_eq!(
        joins_heard(&mut bob_q),
        ["carol"],
        "alice was a member before bob listened"
    );
}
