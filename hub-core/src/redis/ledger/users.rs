//! A user's inboxes in Redis: every key of the user's own inbox and of its
//! devices' (`alice/phone`) is under the user's hash tag, `{i:alice}`, so a
//! send to the user is stored in all of them by one script (one Cluster
//! slot). The user's devices set (`{i:alice}:v`) holds the suffix of each
//! device's keys (`/phone`): added when a device's inbox is attached,
//! dropped by the append that finds its inbox forgotten.

use super::*;
use crate::durable::ledger::StoredCopy;

impl RedisLedger {
    /// `{prefix}{i:user}/device` (or `{prefix}{i:user}`): every key of the
    /// address's inbox starts so.
    pub(super) fn base(&self, address: &str) -> String {
        match address.split_once('/') {
            Some((user, device)) => format!("{}{{i:{user}}}/{device}", self.prefix),
            None => format!("{}{{i:{address}}}", self.prefix),
        }
    }

    /// The state and stream keys of `address`'s inbox.
    pub(super) fn keys(&self, address: &str) -> Vec<Key> {
        let base = self.base(address);
        vec![format!("{base}:s").into(), format!("{base}:m").into()]
    }

    /// The set of `user`'s devices' suffixes.
    pub(super) fn devices_key(&self, user: &str) -> String {
        format!("{}:v", self.base(user))
    }

    /// The keys and arguments of `inbox_attach.lua` for `address`: a
    /// device's adds it to its user's devices.
    pub(super) fn attach_call(
        &self,
        address: &str,
        retention: Duration,
        ttl: Duration,
        floor: u64,
    ) -> Call {
        let base = self.base(address);
        let mut keys = vec![format!("{base}:s"), format!("{base}:m")];
        let mut args: Vec<Value> = vec![
            (retention.as_millis().max(1) as i64).into(),
            (ttl.as_millis() as i64).into(),
            (floor as i64).into(),
        ];
        if let Some((user, device)) = address.split_once('/') {
            keys.push(self.devices_key(user));
            args.push(format!("/{device}").into());
        }
        Call { keys, args }
    }
}

/// What `inbox_append.lua` answered for a user with devices: `to`'s own
/// copy (if stored), then each device's, with the receipts of what expired
/// in each inbox.
pub(super) fn copies(to: &str, out: &[Value]) -> AppendAnswer {
    let at = |i: usize| out.get(i).map_or(0, number);
    let (own, expired, full, listed) = (at(1), at(2), at(4), at(5));
    let mut stored = Vec::with_capacity(listed as usize + 1);
    let mut i = 6;
    for _ in 0..listed {
        let suffix = out.get(i).and_then(text).unwrap_or_default();
        let (seq, n) = (at(i + 1), at(i + 2) as usize);
        let receipts = receipts(&out[(i + 3).min(out.len())..(i + 3 + n).min(out.len())], 0);
        stored.push(StoredCopy {
            to: format!("{to}{suffix}").into(),
            seq,
            frame: None,
            receipts,
        });
        i += 3 + n;
    }
    if own > 0 {
        stored.insert(
            0,
            StoredCopy {
                to: to.into(),
                seq: own,
                frame: None,
                receipts: Vec::new(),
            },
        );
    }
    let appended = Appended::Copies { stored, full };
    Ok((appended, expired, receipts(out, i)))
}
