//! The abuse cooldown: what a session closed with `too_many_errors` (4006)
//! costs afterwards. It must cost the abuser, not the people who merely
//! share its IP (everyone behind one proxy, one office NAT, one carrier's
//! NAT), so nothing here refuses a connection by IP alone:
//!
//! - the abuser's **address** from that IP is refused `hub:connect` for the
//!   cooldown (its identity: with a key, the token's subject);
//! - new sessions from that IP are **on probation** for the cooldown: their
//!   first refused frame before `hub:connect` closes them (4006) at once.
//!   A client that starts with a valid `hub:connect`, as every SDK does,
//!   never notices.
//!
//! Each further strike doubles the cooldown, up to `abuse_cooldown_max_ms`;
//! a strike quiet for that long is forgotten. Expired entries are pruned
//! every `PRUNE_EVERY` strikes, and an IP keeps at most
//! `MAX_ADDRESSES_PER_IP` addresses' strikes, so memory follows the abuse.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Strikes between two prunings.
const PRUNE_EVERY: u64 = 1024;

/// Addresses whose strikes one IP keeps; past it, the stalest is dropped
/// (its IP's probation still stands).
const MAX_ADDRESSES_PER_IP: usize = 256;

/// How long an abuser sits out: after the first strike, and at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cooldown {
    /// After the first strike; 0 disables the cooldown.
    pub(crate) base: Duration,
    /// The longest, reached by doubling.
    pub(crate) max: Duration,
}

/// One offender's strikes.
#[derive(Debug, Clone, Copy)]
struct Penalty {
    strikes: u32,
    last: Instant,
    until: Instant,
}

impl Penalty {
    fn new(now: Instant) -> Self {
        Self {
            strikes: 0,
            last: now,
            until: now,
        }
    }

    /// One more strike at `now`.
    fn strike(&mut self, now: Instant, cooldown: Cooldown) {
        if now.duration_since(self.last) > cooldown.max {
            self.strikes = 0; // quiet for the longest cooldown: start over
        }
        self.strikes = self.strikes.saturating_add(1);
        let doubled = cooldown
            .base
            .saturating_mul(1 << (self.strikes - 1).min(16));
        self.last = now;
        self.until = now + doubled.min(cooldown.max);
    }

    fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
    }

    fn forgotten(&self, now: Instant, cooldown: Cooldown) -> bool {
        now >= self.until && now.duration_since(self.last) > cooldown.max
    }
}

/// One IP's strikes: any (its probation), and per address.
#[derive(Debug)]
struct Offender {
    any: Penalty,
    addresses: HashMap<Arc<str>, Penalty>,
}

/// Every abuser's cooldown. See the module docs.
#[derive(Debug)]
pub(crate) struct Cooldowns {
    cooldown: Cooldown,
    offenders: DashMap<IpAddr, Offender>,
    strikes: AtomicU64,
}

impl Cooldowns {
    pub(crate) fn new(cooldown: Cooldown) -> Self {
        Self {
            cooldown,
            offenders: DashMap::new(),
            strikes: AtomicU64::new(0),
        }
    }

    /// A session from `ip`, connected as `address` or not yet connected,
    /// was closed for abuse.
    pub(crate) fn strike(&self, ip: IpAddr, address: Option<&Arc<str>>) {
        if self.cooldown.base.is_zero() {
            return;
        }
        if self.strikes.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        let now = Instant::now();
        let mut offender = self.offenders.entry(ip).or_insert_with(|| Offender {
            any: Penalty::new(now),
            addresses: HashMap::new(),
        });
        offender.any.strike(now, self.cooldown);
        let Some(address) = address else { return };
        let addresses = &mut offender.addresses;
        if !addresses.contains_key(address) && addresses.len() >= MAX_ADDRESSES_PER_IP {
            let stalest = addresses
                .iter()
                .min_by_key(|(_, p)| p.last)
                .map(|(a, _)| a.clone());
            if let Some(stalest) = stalest {
                addresses.remove(&stalest);
            }
        }
        addresses
            .entry(address.clone())
            .or_insert_with(|| Penalty::new(now))
            .strike(now, self.cooldown);
    }

    /// Whether a new session from `ip` is on probation.
    pub(crate) fn on_probation(&self, ip: IpAddr) -> bool {
        if self.offenders.is_empty() {
            return false;
        }
        self.offenders
            .get(&ip)
            .is_some_and(|o| o.any.remaining(Instant::now()).is_some())
    }

    /// How much longer `address` may not connect from `ip`, if it sits out
    /// a cooldown.
    pub(crate) fn refused(&self, ip: IpAddr, address: &str) -> Option<Duration> {
        if self.offenders.is_empty() {
            return None;
        }
        let offender = self.offenders.get(&ip)?;
        offender.addresses.get(address)?.remaining(Instant::now())
    }

    /// Forgets strikes quiet for the longest cooldown.
    fn prune(&self) {
        let now = Instant::now();
        let cooldown = self.cooldown;
        self.offenders.retain(|_, offender| {
            offender
                .addresses
                .retain(|_, p| !p.forgotten(now, cooldown));
            !offender.any.forgotten(now, cooldown)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn cooldowns(base: u64, max: u64) -> Cooldowns {
        Cooldowns::new(Cooldown {
            base: Duration::from_secs(base),
            max: Duration::from_secs(max),
        })
    }

    #[test]
    fn strikes_double_the_cooldown_up_to_the_max() {
        let c = cooldowns(10, 25);
        let mallory: Arc<str> = "mallory".into();
        let waits: Vec<Duration> = (0..3)
            .map(|_| {
                c.strike(IP, Some(&mallory));
                c.refused(IP, "mallory").unwrap()
            })
            .collect();
        assert!(waits[0] > Duration::from_secs(9) && waits[0] <= Duration::from_secs(10));
        assert!(waits[1] > Duration::from_secs(19) && waits[1] <= Duration::from_secs(20));
        assert!(waits[2] > Duration::from_secs(24) && waits[2] <= Duration::from_secs(25));
    }

    #[test]
    fn only_the_abusers_address_is_refused_and_its_ip_is_on_probation() {
        let c = cooldowns(10, 30);
        assert!(!c.on_probation(IP));
        c.strike(IP, Some(&"mallory".into()));
        assert!(c.refused(IP, "mallory").is_some());
        assert!(c.refused(IP, "alice").is_none(), "a neighbour connects");
        assert!(c.on_probation(IP));
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(c.refused(other, "mallory").is_none());
        assert!(!c.on_probation(other));
    }

    #[test]
    fn a_strike_before_connect_puts_only_the_ip_on_probation() {
        let c = cooldowns(10, 30);
        c.strike(IP, None);
        assert!(c.on_probation(IP));
        assert!(c.refused(IP, "anyone").is_none());
    }

    #[test]
    fn a_zero_cooldown_disables_it() {
        let c = cooldowns(0, 0);
        c.strike(IP, Some(&"mallory".into()));
        assert!(!c.on_probation(IP));
        assert!(c.refused(IP, "mallory").is_none());
    }

    #[test]
    fn an_ip_keeps_a_bounded_number_of_addresses() {
        let c = cooldowns(10, 30);
        for i in 0..MAX_ADDRESSES_PER_IP + 10 {
            c.strike(IP, Some(&format!("a{i}").into()));
        }
        let kept = c.offenders.get(&IP).unwrap().addresses.len();
        assert_eq!(kept, MAX_ADDRESSES_PER_IP);
        let newest = format!("a{}", MAX_ADDRESSES_PER_IP + 9);
        assert!(c.refused(IP, &newest).is_some());
    }
}
