//! Per-client-address connection caps, checked at admission before the
//! upgrade: how fast one IP may open connections (a governor limiter keyed
//! by IP) and how many it may hold at once. A single host — or a script on
//! it — cannot take the whole `max_connections` or keep the server busy
//! with handshakes.
//!
//! The rate limiter keeps a little state per IP it has seen; it is pruned of
//! IPs whose state has fully recovered every `PRUNE_EVERY` admissions, so
//! its memory follows the recently active addresses.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::clock::shared_clock;

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
    /// `None` when `connection_rate_per_ip` is 0.
    rate: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Connections open per IP; an IP leaves the map with its last one.
    open: DashMap<IpAddr, usize>,
    /// 0: no cap.
    max_open: usize,
    admissions: AtomicU64,
}

impl PerIp {
    pub(crate) fn new(rate_per_sec: u32, max_open: usize) -> Self {
        let rate = NonZeroU32::new(rate_per_sec).map(|per_sec| {
            RateLimiter::dashmap_with_clock(Quota::per_second(per_sec), shared_clock())
        });
        Self {
            rate,
            open: DashMap::new(),
            max_open,
            admissions: AtomicU64::new(0),
        }
    }

    /// Takes a connection for `ip`, or says why not. The slot is held until
    /// the returned [`IpSlot`] drops.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<IpSlot, IpRefusal> {
        if let Some(rate) = &self.rate {
            if self.admissions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
                rate.retain_recent();
            }
            if let Err(not_until) = rate.check_key(&ip) {
                let wait = not_until.wait_time_from(rate.clock().now());
                return Err(IpRefusal::TooFast(wait));
            }
        }
        if self.max_open > 0 {
            let mut open = self.open.entry(ip).or_insert(0);
            if *open >= self.max_open {
                return Err(IpRefusal::TooMany);
            }
            *open += 1;
        }
        Ok(IpSlot {
            ip,
            caps: self.clone(),
        })
    }
}

/// One open connection of an IP; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct IpSlot {
    ip: IpAddr,
    caps: Arc<PerIp>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if self.caps.max_open == 0 {
            return;
        }
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
