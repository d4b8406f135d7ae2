//! In-process addresses: an actor or a closure of the application holds an
//! address like a session, and clients' `hub:send`s to it arrive as
//! [`DirectMessage`]s with no network hop.

use actix::prelude::*;

use super::Hub;
use crate::error::HubError;
use crate::registry::{Register, UnregisterLocal};
use crate::route::{DirectMessage, Endpoint};

impl Hub {
    /// Registers an in-process actor under `address`: clients' `hub:send` to
    /// it arrive as [`DirectMessage`]s, with no network hop. Evicts a session
    /// holding the address. Local registrations do not expire.
    ///
    /// # Errors
    /// `InvalidName` or `RegistryFull`.
    pub async fn register_local(
        &self,
        address: &str,
        recipient: Recipient<DirectMessage>,
    ) -> Result<(), HubError> {
        self.node.router.check_name("address", address)?;
        self.node
            .registry
            .send(Register {
                address: address.into(),
                endpoint: Endpoint::Local(recipient),
                client: None,
            })
            .await
            .map_err(|_| HubError::Internal("registry stopped"))?
            .map(drop)
    }

    /// Registers a closure under `address`: each client `hub:send` to it calls
    /// `handler` on an actor of its own on the current arbiter (so calls are
    /// sequential). Reply with [`Hub::send`] (an async call: spawn it).
    ///
    /// # Errors
    /// `InvalidName` or `RegistryFull`.
    ///
    /// # Panics
    /// When called outside an actix system.
    pub async fn register_handler<F>(&self, address: &str, handler: F) -> Result<(), HubError>
    where
        F: FnMut(DirectMessage) + 'static,
    {
        let actor = LocalHandler(Box::new(handler)).start();
        self.register_local(address, actor.recipient()).await
    }

    /// Removes an in-process actor registered with [`Hub::register_local`].
    pub fn unregister_local(&self, address: &str) {
        self.node.registry.do_send(UnregisterLocal {
            address: address.into(),
        });
    }
}

/// Runs a closure registered with [`Hub::register_handler`].
struct LocalHandler(Box<dyn FnMut(DirectMessage)>);

impl Actor for LocalHandler {
    type Context = Context<Self>;
}

impl Handler<DirectMessage> for LocalHandler {
    type Result = ();

    fn handle(&mut self, msg: DirectMessage, _: &mut Self::Context) {
        (self.0)(msg);
    }
}
