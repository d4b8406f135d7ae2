//! [`Delivery`]: where one session stands in its address's inbox — what was
//! handed out, what waits for an ack, whether a read is on its way — and
//! the rules of handing over: in `seq` order, at most `inbox_window`
//! unacknowledged, nothing while a read is on its way (its messages come
//! first), gaps stepped over. The same for every store (memory, redb,
//! Redis): the inbox actors own one per attached session and do the I/O;
//! this is plain state, tested without a socket or an actor.

use std::collections::VecDeque;

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The client acknowledges with `hub:ack` (feature `ack`); without it,
    /// a message handed out is taken.
    acks: bool,
    /// Unacknowledged messages a session may hold (`inbox_window`).
    window: u64,
    /// The highest `seq` handed out, or passed over (expired, a gap).
    sent: u64,
    /// Handed out and not acknowledged, oldest first: at most the window
    /// (numbers can have gaps, so this counts messages, not a distance).
    in_flight: VecDeque<u64>,
    /// A read from the store is on its way (or the attach is): nothing is
    /// handed over meanwhile, so nothing newer overtakes what it brings.
    reading: bool,
}

/// What handing a message over did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handed {
    /// It waits for the client's ack.
    Unacked,
    /// A client without acks took it: delete everything up to this `seq`.
    Taken(u64),
}

/// A read to ask the store for: the messages after `after`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Read {
    pub(crate) after: u64,
    pub(crate) max: usize,
}

impl Delivery {
    /// A session that starts after `acked` (everything not acknowledged is
    /// handed out again).
    pub(crate) fn from(acks: bool, window: u64, acked: u64) -> Self {
        Self {
            acks,
            window,
            sent: acked,
            in_flight: VecDeque::new(),
            reading: false,
        }
    }

    /// A session whose starting point is still being read (see
    /// [`Delivery::start_at`]); nothing is handed over until then.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis inboxes'
    pub(crate) fn starting(acks: bool, window: u64) -> Self {
        Self {
            reading: true,
            ..Self::from(acks, window, 0)
        }
    }

    /// The starting point arrived: hand out what follows `acked`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis inboxes'
    pub(crate) fn start_at(&mut self, acked: u64) {
        self.sent = acked;
        self.reading = false;
    }

    /// The highest `seq` handed out or passed over.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis inboxes'
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether a read (or the attach) is on its way.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis inboxes'
    pub(crate) fn reading(&self) -> bool {
        self.reading
    }

    /// Whether `seq` may be handed over now: next in line, the window has
    /// room, and no read is on its way.
    pub(crate) fn is_next(&self, seq: u64) -> bool {
        !self.reading && self.sent + 1 == seq && (self.in_flight.len() as u64) < self.window
    }

    /// `seq` was handed over (the session's queue took it).
    pub(crate) fn handed(&mut self, seq: u64) -> Handed {
        debug_assert!(self.is_next(seq), "{seq} handed out of line");
        self.sent = seq;
        if self.acks {
            self.in_flight.push_back(seq);
            Handed::Unacked
        } else {
            Handed::Taken(seq)
        }
    }

    /// Begins a read when more is stored than was handed out (up to
    /// `last_stored`) and the window has room.
    pub(crate) fn begin_read(&mut self, last_stored: u64) -> Option<Read> {
        let room = self.window.saturating_sub(self.in_flight.len() as u64);
        if self.reading || room == 0 || self.sent >= last_stored {
            return None;
        }
        self.reading = true;
        Some(Read {
            after: self.sent,
            max: usize::try_from(room).unwrap_or(usize::MAX),
        })
    }

    /// The read on its way returned (or failed).
    pub(crate) fn read_ended(&mut self) {
        self.reading = false;
    }

    /// A read brought `seq`: the numbers before it that it skipped (a
    /// failed commit's, expired, deleted) are stepped over; an `expired`
    /// message is passed over itself, never handed out.
    pub(crate) fn passed_to(&mut self, seq: u64, expired: bool) {
        let before = if expired { seq } else { seq - 1 };
        self.sent = self.sent.max(before);
    }

    /// The client acknowledged everything up to `seq` (cumulative). Returns
    /// the new acknowledged point when this took anything (only what was
    /// handed out can be taken), so the store deletes up to it.
    pub(crate) fn ack(&mut self, seq: u64) -> Option<u64> {
        let upto = seq.min(self.sent);
        let first = *self.in_flight.front()?;
        if upto < first {
            return None;
        }
        while self.in_flight.front().is_some_and(|s| *s <= upto) {
            self.in_flight.pop_front();
        }
        Some(upto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands `seq` over if it is next; returns what that did.
    fn offer(d: &mut Delivery, seq: u64) -> Option<Handed> {
        d.is_next(seq).then(|| d.handed(seq))
    }

    #[test]
    fn messages_go_in_order_up_to_the_window_and_acks_open_it() {
        let mut d = Delivery::from(true, 2, 0);
        assert_eq!(offer(&mut d, 2), None, "1 first");
        assert_eq!(offer(&mut d, 1), Some(Handed::Unacked));
        assert_eq!(offer(&mut d, 2), Some(Handed::Unacked));
        assert_eq!(offer(&mut d, 3), None, "the window is full");
        assert_eq!(d.ack(1), Some(1));
        assert_eq!(offer(&mut d, 3), Some(Handed::Unacked));
        assert_eq!(d.ack(3), Some(3), "cumulative: 2 and 3 at once");
        assert_eq!(d.sent(), 3);
    }

    #[test]
    fn only_what_was_handed_out_can_be_acknowledged() {
        let mut d = Delivery::from(true, 10, 4);
        assert_eq!(d.ack(9), None, "nothing handed out yet");
        assert!(d.is_next(5));
        d.handed(5);
        assert_eq!(d.ack(9), Some(5), "clamped to what was handed out");
        assert_eq!(d.ack(5), None, "already taken");
        assert_eq!(d.ack(3), None, "behind the acknowledged point");
    }

    #[test]
    fn a_client_without_acks_takes_what_it_is_handed() {
        let mut d = Delivery::from(false, 1, 0);
        assert_eq!(offer(&mut d, 1), Some(Handed::Taken(1)));
        // Nothing waits for an ack, so the window never fills.
        assert_eq!(offer(&mut d, 2), Some(Handed::Taken(2)));
        assert_eq!(d.ack(2), None, "its acks take nothing more");
    }

    #[test]
    fn nothing_is_handed_over_while_a_read_is_on_its_way() {
        let mut d = Delivery::from(true, 3, 0);
        assert_eq!(d.begin_read(0), None, "nothing stored");
        assert_eq!(d.begin_read(5), Some(Read { after: 0, max: 3 }));
        assert_eq!(d.begin_read(5), None, "one read at a time");
        assert!(!d.is_next(1), "a newer message waits behind the read");
        d.read_ended();
        assert!(d.is_next(1));
        d.handed(1);
        assert_eq!(
            d.begin_read(5),
            Some(Read { after: 1, max: 2 }),
            "room left: 2"
        );
    }

    #[test]
    fn a_read_steps_over_gaps_and_passes_over_expired_messages() {
        let mut d = Delivery::from(true, 10, 0);
        d.begin_read(9);
        d.read_ended();
        // The read brought 4 (1-3 gone): 4 is next.
        d.passed_to(4, false);
        assert!(d.is_next(4));
        d.handed(4);
        // 6 expired (5 gone too): passed over, 7 is next.
        d.passed_to(6, true);
        assert_eq!(d.sent(), 6);
        assert!(d.is_next(7));
    }

    #[test]
    fn a_starting_session_waits_for_its_starting_point() {
        let mut d = Delivery::starting(true, 5);
        assert!(d.reading());
        assert!(!d.is_next(1));
        assert_eq!(d.begin_read(10), None);
        d.start_at(7);
        assert!(d.is_next(8));
        assert_eq!(d.begin_read(10), Some(Read { after: 7, max: 5 }));
    }
}
