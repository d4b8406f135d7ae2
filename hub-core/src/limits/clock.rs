//! The one clock every rate limiter of the process reads (sessions' rate
//! limits and error budgets, the per-IP limiter). Making a clock is not free
//! — the default one probes the CPU each time — and a session makes two.

use governor::clock::DefaultClock;

/// The process's limiter clock.
pub(crate) fn shared_clock() -> DefaultClock {
    static CLOCK: std::sync::OnceLock<DefaultClock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(DefaultClock::default).clone()
}
