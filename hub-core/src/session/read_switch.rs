//! [`ReadSwitch`]: how a session stops or pauses its socket reader, shared
//! without a lock. A reader that finds reading paused registers its waker
//! and looks again, so a resume between its look and its registration is
//! not lost: model-checked with loom (`loom/`), which compiles this file
//! on its own.

use std::sync::Arc;

use crate::sync::{AtomicBool, AtomicWaker, Ordering};

/// Shared by a session and its socket reader: once the session gives up on
/// its client (a flood of refused frames), the reader stops reading. The
/// client can still read the close frame; its flood stops at a full TCP
/// window, at no cost to the server, and the session ends after
/// `close_timeout_ms`.
///
/// It also pauses reading while the session has as many stored sends
/// waiting for their commit as it allows: the client's further frames wait
/// in its TCP window (backpressure) instead of piling answers up faster
/// than its outbound queue takes them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadSwitch(Arc<SwitchState>);

#[derive(Debug, Default)]
struct SwitchState {
    discarding: AtomicBool,
    paused: AtomicBool,
    /// The reader waiting for the pause to end.
    waker: AtomicWaker,
}

impl ReadSwitch {
    /// From now on, input is dropped unread.
    pub(crate) fn discard(&self) {
        self.0.discarding.store(true, Ordering::Release);
    }

    /// Whether input is to be dropped unread.
    pub(crate) fn is_discarding(&self) -> bool {
        self.0.discarding.load(Ordering::Acquire)
    }

    /// Stops reading until [`ReadSwitch::resume`].
    pub(crate) fn pause(&self) {
        self.0.paused.store(true, Ordering::Release);
    }

    /// Reads again.
    pub(crate) fn resume(&self) {
        self.0.paused.store(false, Ordering::Release);
        self.0.waker.wake();
    }

    /// Whether reading is paused; when it is, `cx` is woken on resume.
    pub(crate) fn is_paused(&self, cx: &std::task::Context<'_>) -> bool {
        if !self.0.paused.load(Ordering::Acquire) {
            return false;
        }
        self.0.waker.register_by_ref(cx.waker());
        // Resumed between the first look and the registration?
        self.0.paused.load(Ordering::Acquire)
    }
}
