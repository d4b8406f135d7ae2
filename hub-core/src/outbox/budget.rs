//! [`Budget`]: a session queue's byte bound and its one forced close,
//! shared by every pusher (topics and sessions on any thread) and the
//! writer, without a lock.
//!
//! A push takes its frame's bytes first and gives them back when the frame
//! does not fit, so two pushers racing for the last room cannot both get
//! in; a frame alone in the queue is let in whatever its size (a large
//! message still reaches an idle client). The first pusher to find the
//! queue full forces the close, and only that one tells the session. Both
//! properties are model-checked with loom (`loom/`), which compiles this
//! file on its own.

use crate::sync::{AtomicU16, AtomicUsize, Ordering};

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Bytes of the frames in the queue.
    queued: AtomicUsize,
    max: usize,
    /// The close code the writer must send at once; 0 when none.
    forced: AtomicU16,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            max,
            forced: AtomicU16::new(0),
        }
    }

    /// Takes `size` bytes for a frame; false (nothing taken) when they do
    /// not fit beside what is queued.
    pub(crate) fn take(&self, size: usize) -> bool {
        let before = self.queued.fetch_add(size, Ordering::AcqRel);
        if before > 0 && before + size > self.max {
            self.give_back(size);
            return false;
        }
        true
    }

    /// A frame of `size` bytes left the queue (or never went in).
    pub(crate) fn give_back(&self, size: usize) {
        self.queued.fetch_sub(size, Ordering::AcqRel);
    }

    /// Bytes queued now (read by the loom models).
    #[allow(dead_code)]
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Sets the forced close `code` (not 0); true for the first caller only.
    pub(crate) fn force(&self, code: u16) -> bool {
        self.forced
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The forced close code, if one was set.
    pub(crate) fn forced(&self) -> Option<u16> {
        match self.forced.load(Ordering::Acquire) {
            0 => None,
            code => Some(code),
        }
    }
}
