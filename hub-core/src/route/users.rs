//! A direct send to a user: every connection of the user on this node —
//! the address itself, if held, and each of its devices (`alice/phone`) —
//! gets the one encoded frame.

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::value::RawValue;

use super::{deliver, Router};
use crate::error::HubError;
use crate::message_frame::encode_message;
use crate::metrics::Metrics;
use crate::protocol::{user_of, Correlation};
use crate::seams::Answer;

impl Router {
    /// Sends to `user`'s connections here: the address `user` (if held)
    /// and `devices`. `Ok` when at least one took it; else `RecipientSlow`
    /// when one was slow, or `RecipientNotFound`.
    pub(super) fn send_to_user(
        &self,
        from: &str,
        user: &str,
        devices: &[Arc<str>],
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) -> Result<(), HubError> {
        let frame = encode_message(None, from, payload, correlation.clone());
        let own = self.endpoints.get(user).map(|e| e.clone());
        let mut taken = 0u64;
        let mut slow = false;
        let targets =
            own.map(|e| (Arc::<str>::from(user), e))
                .into_iter()
                .chain(devices.iter().filter_map(|d| {
                    let endpoint = self.endpoints.get(d)?.clone();
                    Some((d.clone(), endpoint))
                }));
        for (address, endpoint) in targets {
            match deliver(
                &endpoint,
                &address,
                || frame.clone(),
                from,
                payload,
                &correlation,
            ) {
                Ok(()) => taken += 1,
                Err(HubError::RecipientSlow(_)) => slow = true,
                Err(_) => {}
            }
        }
        Metrics::add(&self.metrics.deliveries_total, taken);
        match (taken, slow) {
            (1.., _) => Ok(()),
            (0, true) => Err(HubError::RecipientSlow(user.to_owned())),
            (0, false) => Err(HubError::RecipientNotFound(user.to_owned())),
        }
    }

    /// With durability on, a send to a user that has a device connection
    /// (`alice/phone`) on some node goes live to all its connections —
    /// its own address and each device, here and elsewhere — answered as
    /// [`Router::send_anywhere`]: there is no stored copy per device yet.
    /// `None` when `to` is a device's own address or a user with no device
    /// connection: then it is stored for `to`, as any address's.
    pub(crate) fn send_to_user_live(
        &self,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) -> Answer<Option<Result<(), HubError>>> {
        if user_of(to).is_some() {
            return Answer::now(None);
        }
        if self.endpoints.devices_of(to).is_none() {
            return self
                .broker
                .send_to_devices_elsewhere(from, to, payload, correlation);
        }
        match self.send_anywhere(from, to, payload, correlation, true) {
            Answer::Later(later) => Answer::Later(later.map(Some).boxed()),
            now => Answer::now(now.into_now().ok()),
        }
    }
}
