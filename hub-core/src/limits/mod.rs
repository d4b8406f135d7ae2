//! Limits that are not one actor's: the one clock every rate limiter of the
//! process reads (`clock`), the per-IP connection caps (`per_ip`) that
//! admission applies and a connection's outbox holds a slot of until its
//! socket is gone, and the abuse cooldown (`cooldown`) that sessions read
//! and strike.

pub(crate) mod clock;
pub(crate) mod cooldown;
pub(crate) mod per_ip;
