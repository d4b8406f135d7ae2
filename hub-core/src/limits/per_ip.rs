//! Per-client-address connection caps, checked at admission before the
//! upgrade: how fast one IP may open connections (a governor limiter keyed
//! by IP) and how many it may hold at once. A single host — or a script on
//! it — cannot take the whole `max_connections` or keep the server busy
//! with handshakes.
//! Behind proxies, the IP is the client's only with `trusted_proxies` set
//! (see `client_ip`). Abuse is not answered here, by IP, but by
//! `cooldown`, which spares others behind the same IP.
//!
//! The rate limiter keeps a little state per IP it has seen; it is pruned of
//! IPs whose state has fully recovered every `PRUNE_EVERY` admissions, so
//! its memory follows the recently active addresses.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

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
    admissions: AtomicU64,
}

impl PerIp {
    pub(crate) fn new(rate_per_sec: u32, max_open: usize) -> Self {
        Self {
            rate: RwLock::new((rate_per_sec, limiter(rate_per_sec))),
            open: DashMap::new(),
            max_open: AtomicUsize::new(max_open),
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

    /// Takes a connection for `ip`, or says why not. The slot is held until
    /// the returned [`IpSlot`] drops.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<IpSlot, IpRefusal> {
        if self.admissions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
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
    /// Forgets recovered rate-limiter state.
    fn prune(&self) {
        if let Some(rate) = self.limiter() {
            rate.retain_recent();
        }
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
    #[test]
    fn the_rate_refuses_with_the_wait_and_other_ips_are_not_affected() {
        let caps = Arc::new(PerIp::new(2, 0));
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
        let caps = Arc::new(PerIp::new(0, 2));
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
