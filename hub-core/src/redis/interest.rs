//! [`Interest`]: which topic channels this node is subscribed to in Redis.
//!
//! The topic registry says when its interest in a topic begins and ends;
//! the interest task brings Redis in line, by difference: it holds the set
//! of topics wanted and the changes not yet applied (at most one per topic,
//! the latest), so its memory is bounded by the node's topics however fast
//! they come and go, and a topic retired and made again is not confused by
//! reordering. After fred reconnects (a new connection has no
//! subscriptions) or a command fails, the task subscribes again to every
//! topic wanted, retrying until Redis takes it.
//!
//! A subscribe answers once Redis has confirmed it, so a publication made
//! on another node after a client's subscribe was acknowledged reaches the
//! client. While Redis is away it answers at once: the node serves its own
//! sessions and reports not ready.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{Client, ClientLike, EventInterface, Key, PubsubInterface};
use tokio::sync::{watch, Notify};

use super::RedisOptions;

/// Channels named in one `SSUBSCRIBE`/`SUNSUBSCRIBE`, at most.
const CHANNELS_PER_COMMAND: usize = 1_024;

/// Wait between attempts to restore the subscriptions after a failure.
const RETRY: Duration = Duration::from_millis(500);

/// How far the interest task has come.
#[derive(Debug, Clone, Copy)]
struct Synced {
    /// The last generation of changes applied (or given up on: see `in_sync`).
    generation: u64,
    /// Whether Redis holds every subscription wanted, as far as the task
    /// knows. False from a failure or a reconnect until restored.
    in_sync: bool,
    /// The subscriptions were restored once since the node started: until
    /// then the node is starting, not cut off.
    started: bool,
}

#[derive(Debug, Default)]
struct State {
    wanted: HashSet<Arc<str>>,
    /// Changes not yet applied: topic → wanted.
    pending: HashMap<Arc<str>, bool>,
    /// Generation of the latest change.
    requested: u64,
    /// Subscribe again to everything wanted.
    resync: bool,
}

/// See the module docs.
pub(super) struct Interest {
    subscriber: Client,
    options: RedisOptions,
    /// Channels always subscribed (sharded, in the directory's slots): this
    /// node's own channel and the presence channel of every directory
    /// shard, and the `"*"` channel.
    fixed: Vec<String>,
    /// Called after every full restore: announcements on the fixed
    /// channels may have been missed meanwhile.
    restored: Box<dyn Fn() + Send + Sync>,
    state: Mutex<State>,
    wake: Notify,
    synced: watch::Sender<Synced>,
}

impl Interest {
    pub(super) fn new(
        subscriber: Client,
        options: RedisOptions,
        fixed: Vec<String>,
        restored: Box<dyn Fn() + Send + Sync>,
    ) -> Arc<Self> {
        // Not in sync until the fixed channels are subscribed.
        let (synced, _) = watch::channel(Synced {
            generation: 0,
            in_sync: false,
            started: false,
        });
        Arc::new(Self {
            subscriber,
            options,
            fixed,
            restored,
            state: Mutex::new(State {
                resync: true,
                ..State::default()
            }),
            wake: Notify::new(),
            synced,
        })
    }

    /// This node wants (or no longer wants) `topics`. Returns the
    /// generation to wait for with [`Self::synced`].
    pub(super) fn want(&self, topics: &[Arc<str>], wanted: bool) -> u64 {
        let generation = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            for topic in topics {
                if wanted {
                    state.wanted.insert(topic.clone());
                } else {
                    state.wanted.remove(topic);
                }
                state.pending.insert(topic.clone(), wanted);
            }
            state.requested += 1;
            state.requested
        };
        self.wake.notify_one();
        generation
    }

    /// Resolves once the changes up to `generation` are applied in Redis,
    /// or at once while Redis is away (nothing to wait for), or after a
    /// command timeout at most. While the node is starting (its first
    /// subscriptions not restored yet) it waits for them: the node is not
    /// cut off, only not connected yet.
    pub(super) fn synced(&self, generation: u64) -> impl std::future::Future<Output = ()> {
        let connected = self.subscriber.is_connected();
        let mut synced = self.synced.subscribe();
        let starting = !synced.borrow().started;
        let limit = self.options.command_timeout;
        async move {
            if !connected && !starting {
                return;
            }
            let applied = synced.wait_for(|s| {
                (s.in_sync && s.generation >= generation) || (s.started && !s.in_sync)
            });
            let _ = tokio::time::timeout(limit, applied).await;
        }
    }

    /// Whether Redis holds every subscription this node wants.
    pub(super) fn in_sync(&self) -> bool {
        self.synced.borrow().in_sync
    }

    /// The interest task. Ends when fred closes the client's event streams.
    pub(super) async fn run(self: Arc<Self>) {
        let mut reconnects = self.subscriber.reconnect_rx();
        let mut failing = false;
        loop {
            let (subscribe, unsubscribe, generation, full) = self.take();
            if subscribe.is_empty() && unsubscribe.is_empty() && !full {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    reconnected = reconnects.recv() => {
                        if matches!(reconnected, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                            return;
                        }
                        self.restore_all();
                    }
                }
                continue;
            }
            match self.apply(subscribe, unsubscribe, full).await {
                Ok(()) => {
                    if failing {
                        tracing::info!(url = %self.options.url, "redis topic subscriptions restored");
                        failing = false;
                    }
                    self.synced.send_modify(|s| {
                        s.generation = generation;
                        s.in_sync = true;
                        s.started |= full;
                    });
                    if full {
                        (self.restored)();
                    }
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(url = %self.options.url, error = %super::link_log::said(&error), "redis topic subscriptions failed; retrying");
                        failing = true;
                    }
                    self.restore_all();
                    self.synced.send_modify(|s| {
                        s.generation = generation;
                        s.in_sync = false;
                    });
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Marks every wanted topic to be subscribed again.
    fn restore_all(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).resync = true;
        self.synced.send_modify(|s| s.in_sync = false);
    }

    /// The changes to apply: (subscribe, unsubscribe, generation, whether
    /// this is a full restore).
    fn take(&self) -> (Vec<Key>, Vec<Key>, u64, bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let channel = |topic: &Arc<str>| Key::from(self.options.topic_channel(topic));
        let generation = state.requested;
        if std::mem::take(&mut state.resync) {
            state.pending.clear();
            let all = state.wanted.iter().map(channel).collect();
            return (all, Vec::new(), generation, true);
        }
        let (mut subscribe, mut unsubscribe) = (Vec::new(), Vec::new());
        for (topic, wanted) in state.pending.drain() {
            if wanted {
                subscribe.push(channel(&topic));
            } else {
                unsubscribe.push(channel(&topic));
            }
        }
        (subscribe, unsubscribe, generation, false)
    }

    /// Sends the commands, channels grouped by hash slot (a Redis Cluster
    /// takes one slot per command) and chunked.
    async fn apply(
        &self,
        subscribe: Vec<Key>,
        unsubscribe: Vec<Key>,
        full: bool,
    ) -> Result<(), fred::error::Error> {
        if full {
            // Sharded, one command per directory shard's slot.
            let fixed: Vec<Key> = self.fixed.iter().map(|c| Key::from(c.as_str())).collect();
            for (_, group) in fred::util::group_by_hash_slot(fixed)? {
                self.subscriber.ssubscribe(Vec::from(group)).await?;
            }
        }
        for (_, group) in fred::util::group_by_hash_slot(unsubscribe)? {
            let group = Vec::from(group);
            for chunk in group.chunks(CHANNELS_PER_COMMAND) {
                self.subscriber.sunsubscribe(chunk.to_vec()).await?;
            }
        }
        for (_, group) in fred::util::group_by_hash_slot(subscribe)? {
            let group = Vec::from(group);
            for chunk in group.chunks(CHANNELS_PER_COMMAND) {
                self.subscriber.ssubscribe(chunk.to_vec()).await?;
            }
        }
        Ok(())
    }
}
