//! The heartbeat clock: one timer per worker thread for every session on it,
//! instead of a periodic timer per session (10,000 idle sessions ticking once
//! a second would keep a core busy doing nothing).
//!
//! A session reports activity by storing a timestamp ([`Liveness::seen`]: an
//! atomic store, no message, no wake-up). The thread's [`HeartbeatWheel`]
//! actor keeps each session under the deadline by which it must have been
//! seen, and sleeps until the earliest one. When a deadline comes, it reads
//! the session's last activity: seen since, the session is filed again under
//! its new deadline; not seen, the session is told [`HeartbeatTimedOut`].
//! So a session costs one check per heartbeat timeout, not one per tick, and
//! a thread whose sessions are all active or idle-but-alive wakes at most
//! once per `granularity`. Deadlines are rounded up to that granularity (a
//! tenth of the timeout, 10 ms to 1 s) so that sessions share wake-ups; a
//! silent session is closed between `timeout` and `timeout + granularity`
//! after it was last seen. A session that stops is taken off at once
//! ([`Unwatch`]), so the wheel holds exactly the live sessions of its thread:
//! under churn, memory does not grow with the connection rate times the
//! timeout.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::Session;

/// Told to a session whose heartbeat deadline passed without activity.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct HeartbeatTimedOut;

/// Put a session under watch.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Watch {
    pub(crate) session: Addr<Session>,
    pub(crate) liveness: Arc<Liveness>,
    pub(crate) timeout: Duration,
}

/// Take a session off the wheel (it has stopped).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Unwatch {
    pub(crate) token: u64,
}

/// A session's last activity, shared with its thread's wheel.
#[derive(Debug)]
pub(crate) struct Liveness {
    /// Names this session to the wheel; unique in the process.
    pub(crate) token: u64,
    /// When the session was last seen, in milliseconds since [`origin`].
    last_seen_ms: AtomicU64,
    /// The session has stopped: drop it at its next deadline.
    ended: AtomicBool,
}

/// The instant all `Liveness` timestamps count from.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

fn millis(at: Instant) -> u64 {
    at.saturating_duration_since(origin()).as_millis() as u64
}

impl Liveness {
    /// Seen now.
    pub(crate) fn new() -> Self {
        static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);
        Self {
            token: NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
            last_seen_ms: AtomicU64::new(millis(Instant::now())),
            ended: AtomicBool::new(false),
        }
    }

    /// Records activity.
    pub(crate) fn seen(&self, at: Instant) {
        self.last_seen_ms.store(millis(at), Ordering::Relaxed);
    }

    /// When the session was last seen.
    pub(crate) fn last_seen(&self) -> Instant {
        origin() + Duration::from_millis(self.last_seen_ms.load(Ordering::Relaxed))
    }

    /// The session has stopped.
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::Relaxed);
    }
}

/// How far a deadline is rounded up, so that sessions share wake-ups.
pub(crate) fn granularity(timeout: Duration) -> Duration {
    (timeout / 10).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// One watched session.
#[derive(Debug)]
struct Watched {
    session: Addr<Session>,
    liveness: Arc<Liveness>,
    timeout: Duration,
}

/// The thread's heartbeat clock. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct HeartbeatWheel {
    /// Sessions by deadline; the token keeps equal deadlines apart.
    due: BTreeMap<(Instant, u64), Watched>,
    /// Each watched session's current deadline, by token, so that a stopped
    /// session is taken off at once.
    filed: HashMap<u64, Instant>,
    /// The pending wake-up, and when it fires.
    alarm: Option<(Instant, SpawnHandle)>,
}

thread_local! {
    /// This thread's wheel; replaced if the actix system it ran on has ended.
    static WHEEL: RefCell<Option<Addr<HeartbeatWheel>>> = const { RefCell::new(None) };
}

/// The current thread's wheel, started on first use.
pub(crate) fn wheel() -> Addr<HeartbeatWheel> {
    WHEEL.with(|wheel| {
        let mut wheel = wheel.borrow_mut();
        match &*wheel {
            Some(addr) if addr.connected() => addr.clone(),
            _ => {
                let addr = HeartbeatWheel::default().start();
                *wheel = Some(addr.clone());
                addr
            }
        }
    })
}

/// `at` rounded up to a multiple of `step` since [`origin`].
fn round_up(at: Instant, step: Duration) -> Instant {
    let step_ms = step.as_millis().max(1) as u64;
    let ms = millis(at).div_ceil(step_ms) * step_ms;
    origin() + Duration::from_millis(ms)
}

impl HeartbeatWheel {
    fn file(&mut self, watched: Watched) {
        let token = watched.liveness.token;
        self.unwatch(token);
        let deadline = watched.liveness.last_seen() + watched.timeout;
        let at = round_up(deadline, granularity(watched.timeout));
        self.filed.insert(token, at);
        self.due.insert((at, token), watched);
    }

    fn unwatch(&mut self, token: u64) {
        if let Some(at) = self.filed.remove(&token) {
            self.due.remove(&(at, token));
        }
    }

    /// Handles every deadline that has come by `now`: sessions seen since are
    /// filed again, the others are told; returns how many were told.
    fn expire(&mut self, now: Instant) -> usize {
        let mut told = 0;
        while let Some(entry) = self.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let watched = entry.remove();
            self.filed.remove(&watched.liveness.token);
            if watched.liveness.ended.load(Ordering::Relaxed) {
                continue;
            }
            if now.saturating_duration_since(watched.liveness.last_seen()) >= watched.timeout {
                watched.session.do_send(HeartbeatTimedOut);
                told += 1;
            } else {
                self.file(watched);
            }
        }
        told
    }

    /// Sleeps until the earliest deadline (no wake-up at all when nothing is watched).
    fn arm(&mut self, ctx: &mut Context<Self>) {
        let Some(&(next, _)) = self.due.keys().next() else {
            return;
        };
        if let Some((at, handle)) = self.alarm {
            if at <= next {
                return;
            }
            ctx.cancel_future(handle);
        }
        let wait = next.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(wait, |act, ctx| {
            act.alarm = None;
            act.expire(Instant::now());
            act.arm(ctx);
        });
        self.alarm = Some((next, handle));
    }
}

impl Actor for HeartbeatWheel {
    type Context = Context<Self>;
}

impl Handler<Watch> for HeartbeatWheel {
    type Result = ();

    fn handle(&mut self, msg: Watch, ctx: &mut Self::Context) {
        self.file(Watched {
            session: msg.session,
            liveness: msg.liveness,
            timeout: msg.timeout,
        });
        self.arm(ctx);
    }
}

impl Handler<Unwatch> for HeartbeatWheel {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Self::Context) {
        self.unwatch(msg.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(liveness: &Arc<Liveness>, timeout: Duration) -> Watched {
        Watched {
            session: Context::<Session>::new().address(),
            liveness: liveness.clone(),
            timeout,
        }
    }

    #[actix_rt::test]
    async fn a_session_seen_since_is_filed_again_not_told() {
        let timeout = Duration::from_secs(30);
        let mut wheel = HeartbeatWheel::default();
        let liveness = Arc::new(Liveness::new());
        let start = liveness.last_seen();
        wheel.file(watched(&liveness, timeout));
        assert_eq!(wheel.expire(start + timeout / 2), 0, "not due yet");
        liveness.seen(start + timeout / 2);
        let first_deadline = start + timeout + granularity(timeout);
        assert_eq!(wheel.expire(first_deadline), 0, "seen since: filed again");
        assert_eq!(wheel.due.len(), 1);
        let second_deadline = start + timeout / 2 + timeout + granularity(timeout);
        assert_eq!(
            wheel.expire(second_deadline),
            1,
            "silent for a whole timeout: told"
        );
        assert!(wheel.due.is_empty());
    }

    #[actix_rt::test]
    async fn an_ended_session_is_dropped_silently() {
        let timeout = Duration::from_millis(100);
        let mut wheel = HeartbeatWheel::default();
        let liveness = Arc::new(Liveness::new());
        wheel.file(watched(&liveness, timeout));
        liveness.end();
        assert_eq!(wheel.expire(Instant::now() + Duration::from_secs(1)), 0);
        assert!(wheel.due.is_empty());
    }

    #[actix_rt::test]
    async fn a_stopped_session_leaves_the_wheel_at_once() {
        let mut wheel = HeartbeatWheel::default();
        let first = Arc::new(Liveness::new());
        let second = Arc::new(Liveness::new());
        wheel.file(watched(&first, Duration::from_secs(30)));
        wheel.file(watched(&second, Duration::from_secs(30)));
        wheel.file(watched(&first, Duration::from_secs(30)));
        assert_eq!(wheel.due.len(), 2, "filing again replaces");
        wheel.unwatch(first.token);
        assert_eq!((wheel.due.len(), wheel.filed.len()), (1, 1));
        wheel.unwatch(second.token);
        assert!(wheel.due.is_empty() && wheel.filed.is_empty());
    }

    #[test]
    fn deadlines_are_rounded_up_so_sessions_share_wake_ups() {
        let step = Duration::from_millis(100);
        let a = round_up(origin() + Duration::from_millis(1001), step);
        let b = round_up(origin() + Duration::from_millis(1099), step);
        assert_eq!(a, b);
        assert_eq!(a, origin() + Duration::from_millis(1100));
        assert_eq!(granularity(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(
            granularity(Duration::from_millis(50)),
            Duration::from_millis(10)
        );
    }
}
