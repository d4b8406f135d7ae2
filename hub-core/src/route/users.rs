//! A direct send to a user: every connection of the user on this node —
//! the address itself, if held, and each of its devices (`alice/phone`) —
//! gets the one encoded frame.

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::value::RawValue;

use super::{deliver, Endpoint, Router};
use crate::error::HubError;
use crate::message_frame::encode_message;
use crate::metrics::Metrics;
use crate::outbox::SessionOrder;
use crate::protocol::{CloseCode, Correlation};
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

    /// Closes `user`'s connections here (its own address, its devices) but
    /// `keep`, with `code`; how many.
    pub(crate) fn disconnect_user(&self, user: &str, keep: Option<&str>, code: CloseCode) -> usize {
        let devices = self.endpoints.devices_of(user).unwrap_or_default();
        std::iter::once(user)
            .chain(devices.iter().map(|d| &**d))
            .filter(|address| Some(*address) != keep)
            .filter(|address| self.disconnect(address, code))
            .count()
    }

    /// Closes `user`'s connections but `keep` on every node; answers
    /// whether one was closed.
    pub(crate) fn disconnect_user_anywhere(
        &self,
        user: &str,
        keep: Option<&str>,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        let here = self.disconnect_user(user, keep, code) > 0;
        match self.broker.disconnect_user_elsewhere(user, keep, code) {
            Answer::Later(later) => {
                Answer::Later(later.map(move |there| Ok(here || there?)).boxed())
            }
            now => Answer::now(Ok(
                here || now.into_now().ok().and_then(Result::ok).unwrap_or(false)
            )),
        }
    }

    /// Orders `user`'s sessions here (its own address, its devices) to
    /// join `topic` (`subscribe`) or leave it; how many were told.
    pub(crate) fn order_user(&self, user: &str, topic: &Arc<str>, subscribe: bool) -> usize {
        let devices = self.endpoints.devices_of(user).unwrap_or_default();
        let addresses = std::iter::once(user).chain(devices.iter().map(|d| &**d));
        let mut told = 0;
        for address in addresses {
            if let Some(Endpoint::Session(handle)) = self.endpoints.get(address).as_deref() {
                if handle.is_closing() {
                    continue;
                }
                handle.order(match subscribe {
                    true => SessionOrder::Subscribe(topic.clone()),
                    false => SessionOrder::Unsubscribe(topic.clone()),
                });
                told += 1;
            }
        }
        told
    }
}
