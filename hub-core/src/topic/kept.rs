//! What a topic with history keeps: its publications and stream position,
//! the publications waiting for their commit, the expiry of the oldest, and
//! the subscribers being caught up (see `catching_up`); and where a new
//! subscriber begins in it.

use super::catching_up::CatchingUp;
use super::*;

/// A publication numbered and sent to the store, not yet committed.
pub(super) struct Unrecorded {
    pub(super) publication: StoredPublication,
    pub(super) received: Instant,
    pub(super) reply: oneshot::Sender<Result<Published, HubError>>,
}

/// What a topic with history keeps.
pub(super) struct Kept {
    /// Kept publications and the stream position.
    pub(super) history: History,
    /// The engine's history store: numbers publications, reads for
    /// recoveries.
    pub(super) store: Arc<dyn HistoryStore>,
    /// Publications waiting for their commit, in offset order.
    pub(super) unrecorded: VecDeque<Unrecorded>,
    /// The pending drop of the oldest kept publication.
    pub(super) expiry_timer: Option<SpawnHandle>,
    /// Subscribers being caught up from the store (see `catching_up`).
    pub(super) catching: HashMap<SessionId, CatchingUp>,
}

impl Kept {
    /// Whether the topic must stay: something kept, recent, or on its way.
    pub(super) fn busy(&self, now_ms: u64) -> bool {
        !self.history.forgettable(now_ms) || !self.unrecorded.is_empty()
    }
}

impl Topic {
    /// Keeps `history` (opened by `store`), numbered and read through it.
    pub(crate) fn with_history(mut self, history: History, store: Arc<dyn HistoryStore>) -> Self {
        self.kept = Some(Box::new(Kept {
            history,
            store,
            unrecorded: VecDeque::new(),
            expiry_timer: None,
            catching: HashMap::new(),
        }));
        self
    }

    /// Drops expired publications when the oldest is due, telling the store.
    pub(super) fn arm_expiry_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(kept) = self.kept.as_mut() else {
            return;
        };
        if kept.expiry_timer.is_some() {
            return;
        }
        let Some(due) = kept.history.next_expiry_ms() else {
            return;
        };
        let wait = Duration::from_millis(due.saturating_sub(now_ms()) + 1);
        kept.expiry_timer = Some(ctx.run_later(wait, |act, ctx| {
            let Some(kept) = act.kept.as_mut() else {
                return;
            };
            kept.expiry_timer = None;
            if kept.history.expire(now_ms()) {
                kept.store.expired(&act.name, &kept.history);
            }
            act.arm_expiry_timer(ctx);
        }));
    }

    /// Keeps a publication numbered here and final, and hands it out.
    pub(super) fn deliver_recorded(
        &mut self,
        publication: StoredPublication,
        received: Instant,
        ctx: &mut Context<Self>,
    ) -> Published {
        let offset = publication.offset;
        let frame = publication.frame.clone();
        if let Some(kept) = self.kept.as_mut() {
            kept.history.keep(publication);
        }
        let recipients = self.hand_out(&frame, offset, received);
        self.arm_expiry_timer(ctx);
        Published {
            recipients,
            offset: Some(offset),
        }
    }

    /// Where a subscriber not caught up begins: at the history's position,
    /// or, without history, nowhere (a `since` is not recovered).
    pub(super) fn begin(&self, since: Option<(Arc<str>, u64)>) -> Joined {
        let Some(history) = self.kept.as_ref().map(|k| &k.history) else {
            return Joined {
                recovered: since.map(|_| false),
                ..Joined::default()
            };
        };
        Joined {
            epoch: Some(history.epoch().clone()),
            offset: Some(history.offset()),
            recovered: None,
        }
    }
}
