//! The link is down: commands queue (bounded), a backoff timer runs, then
//! one connection attempt.

use std::time::Duration;

use tokio::time::Instant;

use super::command::{into_call, Command, Intake, Waiter};
use super::establish::{establish, EstablishError, Resume};
use super::{Driver, Link};
use crate::error::ClientError;
use crate::types::ConnectionState;

impl Driver {
    pub(super) async fn run_down(&mut self, attempt: u32, delay: Duration) -> Link {
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => break,
                command = self.commands.recv(), if self.commands_open => {
                    if let Some(link) = self.on_command_down(command) {
                        return link;
                    }
                }
            }
        }
        let token = self.token().await;
        let resume = Resume {
            topics: self
                .subscriptions
                .keys()
                .map(|topic| (topic.clone(), self.positions.since(topic)))
                .collect(),
            watches: self.watches.addresses(),
        };
        let first_id = self.calls.take_ids(resume.ids());
        let config = self.config.clone();
        let url = config.urls[self.url % config.urls.len()].clone();
        let attempt_fut = establish(&config, &url, token, resume, first_id);
        tokio::pin!(attempt_fut);
        let result = loop {
            tokio::select! {
                result = &mut attempt_fut => break result,
                command = self.commands.recv(), if self.commands_open => {
                    if let Some(link) = self.on_command_down(command) {
                        return link;
                    }
                }
            }
        };
        match result {
            Ok(established) => self.up(established, true).await,
            Err(EstablishError::Transient(why)) => {
                let attempt = attempt + 1;
                tracing::debug!(attempt, why, "reconnect attempt failed");
                // The next attempt goes to the next node.
                self.url = (self.url + 1) % self.config.urls.len();
                self.state
                    .send_replace(ConnectionState::Reconnecting { attempt });
                Link::Down {
                    attempt,
                    delay: self.backoff(attempt),
                }
            }
            Err(EstablishError::Fatal(error)) => {
                tracing::warn!(%error, "reconnect refused; stopping");
                self.fail_everything(error);
                Link::Closed
            }
        }
    }

    /// Takes a command while disconnected. `Some(link)` ends the wait.
    fn on_command_down(&mut self, command: Option<Command>) -> Option<Link> {
        let Some(command) = command else {
            self.commands_open = false;
            return Some(Link::Closed);
        };
        let command = match into_call(command) {
            Intake::Call(call) => {
                let capacity = self.config.offline_queue_capacity;
                if self.calls.unwritten_count() >= capacity {
                    call.waiter.fail(ClientError::QueueFull(capacity));
                } else {
                    let (frame, waiter) = self.accept(call);
                    self.calls.queue(frame, waiter);
                }
                return None;
            }
            Intake::Control(other) => other,
        };
        match command {
            Command::Unsubscribe {
                topic,
                sub_id,
                reply,
            } => {
                // Not resubscribed on reconnect, so nothing to tell the server.
                self.remove_subscription(&topic, sub_id);
                Waiter::Unsubscribe(reply).succeed(None);
            }
            Command::Close { reply } => {
                let _ = reply.send(Ok(()));
                return Some(Link::Closed);
            }
            other => self.on_command_anytime(other),
        }
        None
    }
}
