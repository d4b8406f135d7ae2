//! Tests of `topic`.

use super::*;
use crate::fixtures::handle;

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
        fan_out(&mut subscribers, &frame, Instant::now(), &metrics),
        2,
        "the full queue takes its first frame"
    );
    assert_eq!(
        fan_out(&mut subscribers, &frame, Instant::now(), &metrics),
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
