//! Tests of `topic::registry`.

use super::*;
use crate::seams::broker::MemoryBroker;

/// A directory holding topic `t` (id 1) with `forwarded` joins sent to it.
fn directory_with_topic(forwarded: u64) -> TopicRegistry {
    let index: TopicIndex = Arc::new(DashMap::new());
    let mut directory = TopicRegistry::new(
        index,
        Arc::new(MemoryBroker),
        10,
        10,
        Duration::from_secs(5),
        Arc::new(Metrics::default()),
    );
    // An address whose actor never runs: the rule only compares numbers.
    let addr = Context::<Topic>::new().address();
    directory.index.insert("t".into(), addr.clone());
    directory.topics.insert(
        "t".into(),
        TopicEntry {
            addr,
            id: 1,
            joins_forwarded: forwarded,
            heard: None,
        },
    );
    directory
}

fn idle(id: u64, joins_seen: u64) -> TopicIdle {
    TopicIdle {
        topic: "t".into(),
        id,
        joins_seen,
        had_history: false,
    }
}

#[actix_rt::test]
async fn an_idle_topic_that_saw_every_join_is_retired() {
    let mut directory = directory_with_topic(3);
    assert!(directory.retire(&idle(1, 3)).is_some());
    assert!(directory.topics.is_empty() && directory.index.is_empty());
    assert!(directory.retire(&idle(1, 3)).is_none(), "once");
}

#[actix_rt::test]
async fn a_join_in_flight_keeps_the_topic() {
    let mut directory = directory_with_topic(4);
    assert!(directory.retire(&idle(1, 3)).is_none());
    assert!(
        directory.index.contains_key("t"),
        "publishers still find it"
    );
}

#[actix_rt::test]
async fn a_predecessors_report_does_not_retire_its_successor() {
    let mut directory = directory_with_topic(3);
    assert!(directory.retire(&idle(0, 3)).is_none());
    assert!(directory.topics.contains_key("t"));
}
