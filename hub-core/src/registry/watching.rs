//! The registry's presence side: an address's watchers (`hub:watch`, its
//! answer and every later `hub:online` / `hub:offline`), the transitions a
//! networked directory announces, evictions decided on other nodes, the
//! list of this node's sessions and their graceful drain.

use super::*;

/// Wait before asking the directory again about watched addresses.
const RESYNC_RETRY: Duration = Duration::from_secs(1);

/// `handle` watches `address`: the registry queues `hub:watch_ack` (echoing
/// `id`, with whether the address is online) into the watcher's queue
/// itself, so no `hub:online` / `hub:offline` can overtake it.
#[derive(Message)]
#[rtype(result = "Result<(), HubError>")]
pub(crate) struct Watch {
    pub(crate) address: Arc<str>,
    pub(crate) handle: SessionHandle,
    pub(crate) id: Option<FrameId>,
}

/// Whether `address` is online (held, or within its grace).
#[derive(Message)]
#[rtype(result = "Result<bool, HubError>")]
pub(crate) struct IsOnline {
    pub(crate) address: Arc<str>,
}

/// The live session connections of `user` in the hub, with their nodes.
#[derive(Message)]
#[rtype(result = "Result<crate::seams::addresses::Connections, HubError>")]
pub(crate) struct ConnectionsOf {
    pub(crate) user: Arc<str>,
}

/// `session` stops watching `addresses`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Unwatch {
    pub(crate) addresses: Vec<Arc<str>>,
    pub(crate) session: SessionId,
}

/// Another node's claim took `address` from this node's `session` (holding
/// `epoch`): close it, if it still holds the address here.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Evicted {
    pub(crate) address: Arc<str>,
    pub(crate) session: SessionId,
    pub(crate) epoch: Epoch,
}

/// The shared directory announced that `address` came online or went
/// offline: tell its watchers on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Transition {
    pub(crate) address: Arc<str>,
    pub(crate) online: bool,
}

/// Mark every address watched here as watched again in the shared
/// directory (its announcements name watched addresses only) and ask it
/// whether each is online, telling the watchers what changed: after this
/// node was cut off from Redis (announcements may have been missed).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ResyncWatches;

impl Handler<Evicted> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Evicted, _: &mut Self::Context) {
        let lease = Lease {
            address: msg.address,
            holder: Holder::Session {
                node: self.node,
                session: msg.session,
            },
            epoch: msg.epoch,
        };
        // Counted in `evictions_total` by the node that claimed.
        if !self.close_holder(&lease, CloseCode::DuplicateConnection) {
            self.order.evicted_before_applied(msg.session);
        }
    }
}

impl Handler<Transition> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Transition, _: &mut Self::Context) {
        self.watchers.notify(&msg.address, msg.online);
    }
}

impl Registry {
    /// Marks every address watched here again in the shared directory (a
    /// mark lasts `ttl`) without holding up the registry: its answer tells
    /// no one (announcements and [`ResyncWatches`] do). One at a time, so
    /// marks cannot pile up behind a stalled Redis.
    pub(super) fn remark_watches(&mut self, ctx: &mut Context<Self>) {
        if self.remarking {
            return;
        }
        let addresses: Vec<Arc<str>> = self.watchers.told().into_iter().map(|(a, _)| a).collect();
        if addresses.is_empty() {
            return;
        }
        if let Err(later) = self.directory.watch(&addresses, self.ttl).into_now() {
            self.remarking = true;
            ctx.spawn(
                later
                    .into_actor(self)
                    .map(|_, act, _| act.remarking = false),
            );
        }
    }
}

impl Handler<ResyncWatches> for Registry {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: ResyncWatches, ctx: &mut Self::Context) -> Self::Result {
        let me = ctx.address();
        let addresses: Vec<Arc<str>> = self.watchers.told().into_iter().map(|(a, _)| a).collect();
        let answer = self.directory.watch(&addresses, self.ttl);
        self.on_answer(answer, move |act, online| match online {
            Ok(online) => {
                for (address, online) in addresses.iter().zip(online) {
                    act.watchers.notify(address, online);
                }
            }
            // Not read: told nothing, and asked again in a second.
            Err(_) => {
                tracing::warn!(
                    "watched addresses not resynchronised yet: the directory did not answer"
                );
                actix_rt::spawn(async move {
                    tokio::time::sleep(RESYNC_RETRY).await;
                    me.do_send(ResyncWatches);
                });
            }
        })
    }
}

impl Handler<Watch> for Registry {
    type Result = AtomicResponse<Self, Result<(), HubError>>;

    fn handle(&mut self, msg: Watch, _: &mut Self::Context) -> Self::Result {
        let answer = self
            .directory
            .watch(std::slice::from_ref(&msg.address), self.ttl);
        // Answered and added within one registry turn: every transition
        // after the answer reaches the watcher, none before it.
        self.on_answer(answer, move |act, online| {
            let online = online?.first().copied().unwrap_or(false);
            let ack = ServerFrame::WatchAck(WatchAck {
                id: msg.id.as_ref().map(std::borrow::Cow::Borrowed),
                address: std::borrow::Cow::Borrowed(&msg.address),
                online: Some(online),
            });
            msg.handle.push(ack.to_json().into());
            act.watchers.add(msg.address, msg.handle, online);
            Ok(())
        })
    }
}

impl Handler<IsOnline> for Registry {
    type Result = AtomicResponse<Self, Result<bool, HubError>>;

    fn handle(&mut self, msg: IsOnline, _: &mut Self::Context) -> Self::Result {
        let answer = self.directory.online(&msg.address);
        self.on_answer(answer, |_, online| online)
    }
}

impl Handler<ConnectionsOf> for Registry {
    type Result = AtomicResponse<Self, Result<crate::seams::addresses::Connections, HubError>>;

    fn handle(&mut self, msg: ConnectionsOf, _: &mut Self::Context) -> Self::Result {
        let answer = self.directory.connections_of(&msg.user);
        self.on_answer(answer, |_, held| held)
    }
}

impl Handler<Unwatch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Self::Context) {
        for address in &msg.addresses {
            self.watchers.remove(address, msg.session);
        }
    }
}

impl Handler<ForgetSession> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ForgetSession, _: &mut Self::Context) {
        self.sessions.remove(&msg.id);
    }
}

impl Handler<Drain> for Registry {
    type Result = usize;

    fn handle(&mut self, msg: Drain, ctx: &mut Self::Context) -> usize {
        // A one-off O(sessions) walk: shutdown has to reach everyone. The
        // list is taken now; no session opens while draining.
        let waiting: Vec<SessionHandle> = self.sessions.values().cloned().collect();
        let total = waiting.len();
        let wave = drain_wave(total, msg.batch, msg.interval, msg.within);
        tracing::debug!(sessions = total, wave, "telling sessions to leave");
        tell_wave(waiting, wave, msg.interval, ctx);
        total
    }
}

/// Tells the last `batch` of `waiting` to leave, and the next wave after
/// `interval`.
fn tell_wave(
    mut waiting: Vec<SessionHandle>,
    batch: usize,
    interval: Duration,
    ctx: &mut Context<Registry>,
) {
    let from = waiting.len().saturating_sub(batch);
    for handle in waiting.drain(from..) {
        handle.close(CloseCode::ServerShutdown);
    }
    if !waiting.is_empty() {
        ctx.run_later(interval, move |_, ctx| {
            tell_wave(waiting, batch, interval, ctx)
        });
    }
}

impl Handler<TrackSession> for Registry {
    type Result = ();

    fn handle(&mut self, msg: TrackSession, _: &mut Self::Context) {
        self.sessions.insert(msg.handle.id, msg.handle);
    }
}

/// Tell every open session the server is shutting down, `batch` sessions
/// every `interval` (all at once when `batch` is 0), in bigger waves if
/// that pace would not reach everyone `within`. Returns how many sessions
/// there are to tell.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Drain {
    pub(crate) batch: usize,
    pub(crate) interval: Duration,
    pub(crate) within: Duration,
}

/// Sessions per wave so that `sessions` are told within `within`: at least
/// `batch` (0: everyone in one wave), more when `batch` every `interval`
/// would take longer.
pub(crate) fn drain_wave(
    sessions: usize,
    batch: usize,
    interval: Duration,
    within: Duration,
) -> usize {
    if batch == 0 || sessions == 0 {
        return sessions.max(1);
    }
    let waves = match within.as_millis().checked_div(interval.as_millis()) {
        Some(later) => usize::try_from(later)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
        None => usize::MAX,
    };
    batch.max(sessions.div_ceil(waves))
}
