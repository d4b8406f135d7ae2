//! Broadcasts: one payload to a list of addresses or to every address,
//! here ([`Router::broadcast`]) and on every node
//! ([`Router::broadcast_across`]).

use std::collections::HashSet;

use serde_json::value::RawValue;

use super::{deliver_local, Endpoint, Router};
use crate::durable::store::Outcome;
use crate::error::HubError;
use crate::message_frame::encode_message;
use crate::metrics::Metrics;
use crate::outbox::{OutFrame, Pushed};
use crate::protocol::{BroadcastTarget, Correlation};
use crate::seams::Answer;

/// What a broadcast reached.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct BroadcastOutcome<'a> {
    /// Recipients whose queue (or mailbox) accepted the message.
    pub(crate) recipients: usize,
    /// Listed addresses with no live session or local actor, or whose
    /// session is closing: the same cases a direct send calls
    /// `recipient_not_found`.
    pub(crate) not_found: Vec<&'a str>,
}

impl Router {
    /// [`Router::broadcast_across`], answered as a `msg_id`'s memo keeps
    /// it: a hub-wide broadcast's outcome.
    pub(crate) fn broadcast_outcome(
        &self,
        from: &str,
        to: &BroadcastTarget,
        payload: &RawValue,
    ) -> impl std::future::Future<Output = Result<Outcome, HubError>> + 'static {
        let across = self.broadcast_across(from, to, payload);
        async move {
            let (recipients, not_found) = across?.await;
            Ok(Outcome::Broadcast {
                recipients,
                not_found,
            })
        }
    }

    /// A broadcast to the holders on every node: delivered here now, and
    /// asked of the other nodes (`"*"`: each counts its own; a list: the
    /// addresses not held here) at once. Answers (recipients, not found).
    ///
    /// # Errors
    /// As [`Router::broadcast`]; nothing is delivered then.
    pub(crate) fn broadcast_across(
        &self,
        from: &str,
        to: &BroadcastTarget,
        payload: &RawValue,
    ) -> Result<impl std::future::Future<Output = (usize, Vec<String>)> + 'static, HubError> {
        use futures_util::future::{join_all, Either};
        let outcome = self.broadcast(from, to, payload)?;
        let here = outcome.recipients;
        if matches!(to, BroadcastTarget::All) {
            let there = self.broker.broadcast_elsewhere(from, payload);
            return Ok(Either::Left(async move {
                (here + there.await.unwrap_or(0), Vec::new())
            }));
        }
        let mut not_found = Vec::new();
        let mut asked = Vec::new();
        for address in outcome.not_found {
            let correlation = Correlation::default();
            let answer = self
                .broker
                .send_elsewhere(from, address, payload, correlation, true);
            match answer.into_now() {
                Ok(Err(HubError::RecipientNotFound(_))) => not_found.push(address.to_owned()),
                Ok(Ok(())) => asked.push((address.to_owned(), Answer::now(Ok(())))),
                Ok(Err(_)) => {}
                Err(later) => asked.push((address.to_owned(), later)),
            }
        }
        Ok(Either::Right(async move {
            let (addresses, answers): (Vec<String>, Vec<_>) = asked.into_iter().unzip();
            let mut recipients = here;
            for (address, outcome) in addresses.into_iter().zip(join_all(answers).await) {
                match outcome {
                    Ok(()) => recipients += 1,
                    Err(HubError::RecipientNotFound(_)) => not_found.push(address),
                    // Its node did not answer: neither reached nor missing.
                    Err(_) => {}
                }
            }
            (recipients, not_found)
        }))
    }

    /// Sends one payload to a list of addresses (each once, however often it
    /// is listed) or to every address on this node but `from`. The frame is
    /// encoded once; each session recipient costs a reference-count
    /// increment.
    ///
    /// # Errors
    /// `BroadcastTooLarge` over `broadcast_max_recipients` (for `"*"`: when
    /// more addresses than that are registered besides the sender), or
    /// `InvalidName` for a listed address that is not a valid name. Nothing
    /// is delivered then.
    pub(crate) fn broadcast<'a>(
        &self,
        from: &str,
        to: &'a BroadcastTarget,
        payload: &RawValue,
    ) -> Result<BroadcastOutcome<'a>, HubError> {
        let max = self.broadcast_max_recipients;
        let count = match to {
            BroadcastTarget::List(list) => list.len(),
            BroadcastTarget::All => self.endpoints.len().saturating_sub(1),
        };
        if count > max {
            return Err(HubError::BroadcastTooLarge { count, max });
        }
        if let BroadcastTarget::List(list) = to {
            for address in list {
                self.check_name("address in `to`", address)?;
            }
        }
        let frame = OutFrame::text(encode_message(None, from, payload, Correlation::default()));
        let mut outcome = BroadcastOutcome::default();
        match to {
            BroadcastTarget::List(list) => {
                let mut seen = HashSet::with_capacity(list.len());
                for address in list.iter().filter(|a| seen.insert(a.as_str())) {
                    let endpoint = self.endpoints.get(address.as_str()).map(|e| e.clone());
                    match endpoint.map(|e| deliver(&e, &frame, from, address, payload)) {
                        Some(Ok(())) => outcome.recipients += 1,
                        Some(Err(HubError::RecipientNotFound(_))) | None => {
                            outcome.not_found.push(address)
                        }
                        Some(Err(_)) => {}
                    }
                }
            }
            BroadcastTarget::All => {
                // Bounded by the cap checked above. Collected first so that no
                // shard lock is held while pushing.
                let targets: Vec<_> = self
                    .endpoints
                    .iter()
                    .filter(|e| &**e.key() != from)
                    .take(max)
                    .map(|e| (e.key().clone(), e.value().clone()))
                    .collect();
                for (address, endpoint) in targets {
                    if deliver(&endpoint, &frame, from, &address, payload).is_ok() {
                        outcome.recipients += 1;
                    }
                }
            }
        }
        Metrics::add(&self.metrics.deliveries_total, outcome.recipients as u64);
        Ok(outcome)
    }
}

/// Delivers one shared broadcast frame to an endpoint.
fn deliver(
    endpoint: &Endpoint,
    frame: &OutFrame,
    from: &str,
    to: &str,
    payload: &RawValue,
) -> Result<(), HubError> {
    match endpoint {
        Endpoint::Session(handle) => match handle.push_frame(frame.clone()) {
            Pushed::Accepted => Ok(()),
            Pushed::Slow => Err(HubError::RecipientSlow(to.to_owned())),
            Pushed::Gone => Err(HubError::RecipientNotFound(to.to_owned())),
        },
        Endpoint::Local(recipient) => {
            deliver_local(recipient, from, to, payload, Correlation::default())
        }
    }
}
