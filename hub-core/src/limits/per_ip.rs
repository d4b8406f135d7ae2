//! Per-client-address connection caps, checked at admission before the
//! upgrade: how fast one IP may open connections (a governor limiter keyed
//! by IP) and how many it may hold at once. A single host — or a script on
//! it — cannot take the whole `max_connections` or keep the server busy
//! with handshakes.
//!
//! An IP whose session was closed for abuse (`too_many_errors`, 4006) sits
//! out a cooldown before it may connect again: `abuse_cooldown_ms`, doubled
//! for each further strike up to `abuse_cooldown_max_ms`, forgotten once
//! it has kept quiet for the longest cooldown. A flooder that reconnects
//! each time it is cut off then costs the server a cheap 429 per attempt,
//! not a session per attempt.
//!
//! The rate limiter keeps a little state per IP it has seen; it is pruned of
//! IPs whose state has fully recovered every `PRUNE_EVERY` admissions, so
//! its memory follows the recently active addresses. Penalties are pruned
//! at the same time.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::limits::clock::shared_clock;

/// Admissions between two prunings of the rate limiter's state.
const PRUNE_EVERY: u64 = 4096;

/// Why an IP may not open a connection now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpRefusal {
    /// Over `connection_rate_per_ip`: the next connection is allowed after this long.
    TooFast(Duration),
    /// `max_connections_per_ip` are open.
    TooMany,
    /// The IP is sitting out an abuse cooldown for this much longer.
    CoolingDown(Duration),
}

/// How long an IP is kept out after its sessions were closed for abuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cooldown {
    /// After the first strike; 0 disables penalties.
    pub(crate) base: Duration,
    /// The longest, reached by doubling.
    pub(crate) max: Duration,
}

/// One IP's strikes.
#[derive(Debug, Clone, Copy)]
struct Penalty {
    strikes: u32,
    last: Instant,
    until: Instant,
}

/// The caps of every client IP. See the module docs.
#[derive(Debug)]
pub(crate) struct PerIp {
    /// `connection_rate_per_ip` and its limiter (`None` when it is 0);
    /// replaced whole when the limit changes.
    rate: RwLock<(u32, Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>)>,
    /// Connections open per IP (counted also without a cap, so a cap set
    /// later counts right); an IP leaves the map with its last one.
    open: DashMap<IpAddr, usize>,
    /// 0: no cap.
    max_open: AtomicUsize,
    /// IPs closed for abuse recently.
    penalties: DashMap<IpAddr, Penalty>,
    cooldown: Cooldown,
    admissions: AtomicU64,
}

impl PerIp {
    pub(crate) fn new(rate_per_sec: u32, max_open: usize, cooldown: Cooldown) -> Self {
        Self {
            rate: RwLock::new((rate_per_sec, limiter(rate_per_sec))),
            open: DashMap::new(),
            max_open: AtomicUsize::new(max_open),
            penalties: DashMap::new(),
            cooldown,
            admissions: AtomicU64::new(0),
        }
    }

    /// Applies new limits (a reload) to the next connections: those open
    /// stay. A changed rate starts with full buckets.
    pub(crate) fn set_limits(&self, rate_per_sec: u32, max_open: usize) {
        self.max_open.store(max_open, Ordering::Relaxed);
        let mut rate = self.rate.write().unwrap_or_else(|e| e.into_inner());
        if rate.0 != rate_per_sec {
            *rate = (rate_per_sec, limiter(rate_per_sec));
        }
    }

    fn limiter(&self) -> Option<Arc<DefaultKeyedRateLimiter<IpAddr>>> {
        self.rate
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// One more strike for `ip`: its session was closed for abuse.
    pub(crate) fn penalize(&self, ip: IpAddr) {
        if self.cooldown.base.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entry = self.penalties.entry(ip).or_insert(Penalty {
            strikes: 0,
            last: now,
            until: now,
        });
        // Quiet for the longest cooldown: start over.
        if now.duration_since(entry.last) > self.cooldown.max {
            entry.strikes = 0;
        }
        entry.strikes = entry.strikes.saturating_add(1);
        let doubled = self
            .cooldown
            .base
            .saturating_mul(1 << (entry.strikes - 1).min(16));
        entry.last = now;
        entry.until = now + doubled.min(self.cooldown.max);
    }

    fn cooling_down(&self, ip: &IpAddr) -> Option<Duration> {
        if self.penalties.is_empty() {
            return None;
        }
        let until = self.penalties.get(ip)?.until;
        until.checked_duration_since(Instant::now())
    }

    /// Takes a connection for `ip`, or says why not. The slot is held until
    /// the returned [`IpSlot`] drops.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<IpSlot, IpRefusal> {
        if self.admissions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        if let Some(wait) = self.cooling_down(&ip) {
            return Err(IpRefusal::CoolingDown(wait));
        }
        if let Some(rate) = self.limiter() {
            if let Err(not_until) = rate.check_key(&ip) {
                let wait = not_until.wait_time_from(rate.clock().now());
                return Err(IpRefusal::TooFast(wait));
            }
        }
        let max_open = self.max_open.load(Ordering::Relaxed);
        let mut open = self.open.entry(ip).or_insert(0);
        if max_open > 0 && *open >= max_open {
            return Err(IpRefusal::TooMany);
        }
        *open += 1;
        drop(open);
        Ok(IpSlot {
            ip,
            caps: self.clone(),
        })
    }
}

impl PerIp {
    /// Forgets recovered rate-limiter state and penalties that have
    /// expired and been quiet for the longest cooldown.
    fn prune(&self) {
        if let Some(rate) = self.limiter() {
            rate.retain_recent();
        }
        let now = Instant::now();
        let max = self.cooldown.max;
        self.penalties
            .retain(|_, p| now < p.until || now.duration_since(p.last) <= max);
    }
}

/// A limiter of `rate_per_sec` per IP; `None` for 0 (no limit).
fn limiter(rate_per_sec: u32) -> Option<Arc<DefaultKeyedRateLimiter<IpAddr>>> {
    NonZeroU32::new(rate_per_sec).map(|per_sec| {
        Arc::new(RateLimiter::dashmap_with_clock(
            Quota::per_second(per_sec),
            shared_clock(),
        ))
    })
}

/// One open connection of an IP; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct IpSlot {
    ip: IpAddr,
    caps: Arc<PerIp>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        // Remove the entry with its last connection, so the map holds only
        // IPs with connections open.
        self.caps.open.remove_if_mut(&self.ip, |_, open| {
            *open = open.saturating_sub(1);
            *open == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const NO_COOLDOWN: Cooldown = Cooldown {
        base: Duration::ZERO,
        max: Duration::ZERO,
    };

    #[test]
    fn strikes_double_the_cooldown_up_to_the_max() {
        let cooldown = Cooldown {
            base: Duration::from_secs(10),
            max: Duration::from_secs(25),
        };
        let caps = Arc::new(PerIp::new(0, 0, cooldown));
        assert!(caps.admit(IP).is_ok());
        let wait = |caps: &Arc<PerIp>| match caps.admit(IP) {
            Err(IpRefusal::CoolingDown(wait)) => wait,
            other => panic!("expected a cooldown, got {other:?}"),
        };
        caps.penalize(IP);
        let first = wait(&caps);
        assert!(first > Duration::from_secs(9) && first <= Duration::from_secs(10));
        caps.penalize(IP);
        let second = wait(&caps);
        assert!(second > Duration::from_secs(19) && second <= Duration::from_secs(20));
        caps.penalize(IP);
        let third = wait(&caps);
        assert!(
            third > Duration::from_secs(24) && third <= Duration::from_secs(25),
            "capped"
        );
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(caps.admit(other).is_ok(), "only the offender sits out");
        let off = Arc::new(PerIp::new(0, 0, NO_COOLDOWN));
        off.penalize(IP);
        assert!(off.admit(IP).is_ok(), "a zero cooldown disables penalties");
    }

    #[test]
    fn the_rate_refuses_with_the_wait_and_other_ips_are_not_affected() {
        let caps = Arc::new(PerIp::new(2, 0, NO_COOLDOWN));
        let _a = caps.admit(IP).unwrap();
        let _b = caps.admit(IP).unwrap();
        match caps.admit(IP) {
            Err(IpRefusal::TooFast(wait)) => assert!(wait > Duration::ZERO),
            other => panic!("expected TooFast, got {other:?}"),
        }
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(caps.admit(other).is_ok());
    }

    #[test]
    fn open_connections_are_capped_and_freed_on_drop() {
        let caps = Arc::new(PerIp::new(0, 2, NO_COOLDOWN));
        let a = caps.admit(IP).unwrap();
        let _b = caps.admit(IP).unwrap();
        assert_eq!(caps.admit(IP).unwrap_err(), IpRefusal::TooMany);
        drop(a);
        let _c = caps.admit(IP).unwrap();
        drop((_b, _c));
        assert!(
            caps.open.is_empty(),
            "an IP leaves with its last connection"
        );
    }
}
