//! The models. Each runs its closure under every interleaving loom finds
//! (bounded by `LOOM_MAX_PREEMPTIONS`, 3 by default here).

use loom::sync::Arc;
use loom::thread;

use crate::budget::Budget;
use crate::histogram::Histogram;
use crate::read_switch::ReadSwitch;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Two threads observe at once (each into its own shard) while a third
/// reads: every observation is counted once the writers are done, and a
/// read in between never shows more than was observed, nor a sum that
/// does not go with its counts.
#[test]
fn racing_observations_are_all_counted_and_reads_are_never_ahead() {
    model(|| {
        let h = Arc::new(Histogram::new(&[1, 10]));
        let writers: Vec<_> = [(3, 2), (50, 1)]
            .into_iter()
            .map(|(value, times)| {
                let h = h.clone();
                thread::spawn(move || {
                    for _ in 0..times {
                        h.observe(value);
                    }
                })
            })
            .collect();
        let seen = h.totals();
        assert!(seen.count <= 3, "{seen:?}");
        assert!(seen.sum <= 56, "{seen:?}");
        for w in writers {
            w.join().unwrap();
        }
        let totals = h.totals();
        assert_eq!(totals.count, 3);
        assert_eq!(totals.sum, 56);
        assert_eq!(totals.buckets, vec![(1, 0), (10, 2), (u64::MAX, 1)]);
    });
}

/// Threads past the last private shard share it with atomic additions:
/// with one private shard, two threads that both land in the shared one
/// still count every observation.
#[test]
fn threads_sharing_the_last_shard_lose_nothing() {
    model(|| {
        let h = Arc::new(Histogram::new(&[5]));
        // The model's main thread takes the first shard.
        h.observe(1);
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let h = h.clone();
                thread::spawn(move || h.observe(7))
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let totals = h.totals();
        assert_eq!(totals.count, 3);
        assert_eq!(totals.sum, 15);
    });
}

/// Two pushers race for room for one more frame: at most one gets in, and
/// what they did not keep is given back, so the queued bytes are exactly
/// the frames in the queue.
#[test]
fn two_pushers_never_overfill_the_queue() {
    model(|| {
        let budget = Arc::new(Budget::new(100));
        assert!(budget.take(60));
        let pushers: Vec<_> = (0..2)
            .map(|_| {
                let budget = budget.clone();
                thread::spawn(move || budget.take(30))
            })
            .collect();
        let taken: Vec<bool> = pushers.into_iter().map(|p| p.join().unwrap()).collect();
        let kept = taken.iter().filter(|t| **t).count();
        assert!(kept <= 1, "both took the last room: {taken:?}");
        assert_eq!(budget.queued(), 60 + 30 * kept);
    });
}

/// The writer taking a frame out while a pusher comes in: the pusher gets
/// in whenever the bytes left fit, and the count never goes below zero
/// or ends anywhere but what is queued.
#[test]
fn a_frame_leaving_makes_room_for_the_next() {
    model(|| {
        let budget = Arc::new(Budget::new(100));
        assert!(budget.take(80));
        let writer = {
            let budget = budget.clone();
            thread::spawn(move || budget.give_back(80))
        };
        let pushed = budget.take(50);
        writer.join().unwrap();
        assert_eq!(budget.queued(), if pushed { 50 } else { 0 });
        // Alone in the queue, any frame goes in.
        if !pushed {
            assert!(budget.take(500));
        }
    });
}

/// Several pushers find the queue full at once: exactly one of them is
/// told it forced the close (and so tells the session), and the code it
/// set is the one the writer reads.
#[test]
fn exactly_one_pusher_forces_the_close() {
    model(|| {
        let budget = Arc::new(Budget::new(10));
        let pushers: Vec<_> = [4002, 4500]
            .into_iter()
            .map(|code| {
                let budget = budget.clone();
                thread::spawn(move || (code, budget.force(code)))
            })
            .collect();
        let outcomes: Vec<(u16, bool)> = pushers.into_iter().map(|p| p.join().unwrap()).collect();
        let first: Vec<u16> = outcomes.iter().filter(|o| o.1).map(|o| o.0).collect();
        assert_eq!(first.len(), 1, "{outcomes:?}");
        assert_eq!(budget.forced(), Some(first[0]));
    });
}

/// The session resumes reading while the reader is finding it paused: the
/// reader is always woken (a lost wake-up would leave it parked forever,
/// which loom reports as a deadlock).
#[test]
fn a_resume_racing_the_reader_always_wakes_it() {
    model(|| {
        let switch = ReadSwitch::default();
        switch.pause();
        let session = {
            let switch = switch.clone();
            thread::spawn(move || switch.resume())
        };
        loom::future::block_on(std::future::poll_fn(|cx| {
            if switch.is_paused(cx) {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        }));
        session.join().unwrap();
    });
}

/// Discarding is seen by the reader once set, whatever it raced with.
#[test]
fn a_discard_is_seen_after_the_session_set_it() {
    model(|| {
        let switch = ReadSwitch::default();
        let session = {
            let switch = switch.clone();
            thread::spawn(move || switch.discard())
        };
        let early = switch.is_discarding();
        session.join().unwrap();
        assert!(switch.is_discarding(), "early look: {early}");
    });
}
