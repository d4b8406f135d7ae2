//! Limits that are not one actor's: the one clock every rate limiter of the
//! process reads (`clock`), and the per-IP connection caps (`per_ip`) that
//! admission applies and a connection's outbox holds a slot of until its
//! socket is gone.

pub(crate) mod clock;
pub(crate) mod per_ip;
