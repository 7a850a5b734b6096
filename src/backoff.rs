//! Exponential back-off for contended retry loops, built on the sync facade so loom
//! sees every spin (crossbeam's `Backoff::snooze` calls std's `yield_now`, which loom
//! cannot see, so it cannot be used here).

use crate::sync;

/// Spins `2^step` times per call, doubling up to `2^SPIN_LIMIT`, then yields to the OS.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

/// Beyond `2^SPIN_LIMIT` spins per step, [`Backoff::snooze`] yields instead.
const SPIN_LIMIT: u32 = 6;

impl Backoff {
    /// A fresh back-off, at its shortest step.
    #[inline]
    pub(crate) fn new() -> Self {
        Backoff { step: 0 }
    }

    /// Backs off after losing a race for a shared index (someone else made progress):
    /// spin only, briefly.
    #[inline]
    pub(crate) fn spin(&mut self) {
        if cfg!(ringway_loom) {
            // Under loom one hint is a scheduling point; more would only add states.
            sync::spin_loop();
            return;
        }
        for _ in 0..1u32 << self.step.min(SPIN_LIMIT) {
            sync::spin_loop();
        }
        if self.step <= SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Backs off while waiting for another thread to finish (a claimed slot not yet
    /// published): spin, then yield the time slice once spinning stops paying.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        if cfg!(ringway_loom) || self.step > SPIN_LIMIT {
            sync::yield_now();
        } else {
            for _ in 0..1u32 << self.step {
                sync::spin_loop();
            }
        }
        if self.step <= SPIN_LIMIT {
            self.step += 1;
        }
    }
}
