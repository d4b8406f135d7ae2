//! Outbound: commands from the handles become calls written on the socket.

use hub_core::protocol::ClientFrame;

use super::command::{into_call, Call, Command, Frame, Intake, Waiter};
use super::wire::{write_frame, write_text};
use super::{Conn, Driver};

/// `hub:ack` for every stored message up to `seq`.
pub(super) fn ack_frame(seq: u64) -> Frame {
    ClientFrame::Ack { seq }
}

impl Driver {
    /// Writes pending call `id` on the current connection.
    pub(super) async fn write_call(&mut self, id: u64, conn: &mut Conn) -> Result<(), String> {
        let Some(text) = self.calls.write(id) else {
            return Ok(());
        };
        write_text(&mut conn.ws, text).await?;
        self.calls.written(id);
        Ok(())
    }

    /// Registers a call as pending and writes it.
    pub(super) async fn start_call(
        &mut self,
        frame: Frame,
        waiter: Waiter,
        conn: &mut Conn,
    ) -> Result<(), String> {
        match self.calls.queue(frame, waiter) {
            Some(id) => self.write_call(id, conn).await,
            None => Ok(()),
        }
    }

    pub(super) async fn on_command_up(
        &mut self,
        command: Command,
        conn: &mut Conn,
    ) -> Result<(), String> {
        let command = match into_call(command) {
            Intake::Call(call) => {
                let (frame, waiter) = self.accept(call);
                return self.start_call(frame, waiter, conn).await;
            }
            Intake::Control(other) => other,
        };
        match command {
            Command::Unsubscribe {
                topic,
                sub_id,
                reply,
            } => {
                if self.remove_subscription(&topic, sub_id) {
                    let frame = ClientFrame::Unsubscribe {
                        topic: topic.into(),
                    };
                    self.start_call(frame, Waiter::Unsubscribe(reply), conn)
                        .await
                } else {
                    Waiter::Unsubscribe(reply).succeed(None);
                    Ok(())
                }
            }
            Command::Ack { seq } => write_frame(&mut conn.ws, ack_frame(seq)).await,
            Command::Close { reply } => {
                self.closing = true;
                self.start_call(ClientFrame::Disconnect, Waiter::Disconnect(reply), conn)
                    .await
            }
            other => {
                self.on_command_anytime(other);
                Ok(())
            }
        }
    }

    /// Takes a call on: registers its subscription, if any.
    pub(super) fn accept(&mut self, call: Call) -> (Frame, Waiter) {
        match &call.frame {
            ClientFrame::Watch { address } => self.watches.watch(address),
            ClientFrame::Unwatch { address } => self.watches.unwatch(address),
            _ => {}
        }
        if let Some((topic, sub_id, tx)) = call.subscription {
            self.subscriptions
                .entry(topic)
                .or_default()
                .push((sub_id, tx));
        }
        (call.frame, call.waiter)
    }

    /// Removes one subscription handle; true when it was the topic's last.
    pub(super) fn remove_subscription(&mut self, topic: &str, sub_id: u64) -> bool {
        let Some(subs) = self.subscriptions.get_mut(topic) else {
            return false;
        };
        subs.retain(|(id, _)| *id != sub_id);
        if subs.is_empty() {
            self.subscriptions.remove(topic);
            self.positions.forget(topic);
            return true;
        }
        false
    }

    pub(super) fn on_command_anytime(&mut self, command: Command) {
        match command {
            Command::AwaitReply {
                correlation_id,
                reply,
            } => {
                self.replies.insert(correlation_id, reply);
            }
            Command::CancelReply { correlation_id } => {
                self.replies.remove(&correlation_id);
            }
            Command::Events { tx } => {
                // The stream's buffer is as large as `early` may grow.
                for event in self.early.drain(..) {
                    let _ = tx.try_send(event);
                }
                self.events = Some(tx);
            }
            _ => {}
        }
    }
}
