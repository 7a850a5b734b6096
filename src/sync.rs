//! The synchronisation facade: every atomic, cell, `Arc` and spin hint the queues use
//! comes from here, so that building with `RUSTFLAGS="--cfg loom"` swaps them all for
//! loom's model-checked versions (the `primitive` shim of crossbeam, tokio's
//! `src/loom/`). The switch is `cfg(loom)` alone, not `all(test, loom)`, so the
//! separate `loom-tests` crate can drive the loom build of this crate.
//!
//! Rule for the rest of the crate: never name `core::sync::atomic`, `core::cell::UnsafeCell`,
//! `core::hint::spin_loop` or `std::thread::yield_now` directly; a spin or back-off that
//! loom cannot see is a hang in a model, and a cell loom cannot see is a data race it
//! cannot report.
//!
//! The one exception is [`UntrackedUnsafeCell`] (`core::cell::UnsafeCell` in every build): the
//! SPSC slot storage, whose values must stay contiguous for the chunk slices, so loom
//! tracks each slot with a separate `UnsafeCell<()>` instead (see `buffer.rs`).

/// Storage that loom does not track itself (see the module docs).
pub(crate) use core::cell::UnsafeCell as UntrackedUnsafeCell;

#[cfg(not(loom))]
mod imp {
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    pub(crate) use alloc::sync::Arc;
    #[cfg(feature = "std")]
    pub(crate) use core::sync::atomic::fence;
    pub(crate) use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    #[cfg(feature = "std")]
    pub(crate) use std::sync::{Mutex, MutexGuard};
    #[cfg(feature = "std")]
    pub(crate) use std::thread::{current, park, park_timeout, Thread};

    /// An `UnsafeCell` whose accesses go through closures, as loom's does; outside loom
    /// the closures compile to a plain pointer access.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    #[cfg_attr(not(target_has_atomic = "ptr"), allow(dead_code))] // MPMC and `spsc::stamped` only
    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        #[inline(always)]
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }
    }

    #[cfg_attr(not(target_has_atomic = "ptr"), allow(dead_code))] // MPMC and `spsc::stamped` only
    impl<T: ?Sized> UnsafeCell<T> {
        /// Gives `f` a shared-access pointer to the contents.
        #[inline(always)]
        #[allow(dead_code)] // `spsc::stamped` only (absent without `alloc`)
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Gives `f` an exclusive-access pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// Reads an atomic through `&mut`, where no other thread can race (used in `Drop`).
    #[inline(always)]
    pub(crate) fn load_mut(atomic: &mut AtomicUsize) -> usize {
        *atomic.get_mut()
    }

    /// A hint to the processor that this thread is spinning.
    #[inline(always)]
    #[cfg_attr(not(target_has_atomic = "ptr"), allow(dead_code))] // MPMC and waits only
    pub(crate) fn spin_loop() {
        core::hint::spin_loop();
    }

    /// Offers the rest of this thread's time slice to the OS; a spin hint without `std`.
    #[inline]
    #[allow(dead_code)]
    pub(crate) fn yield_now() {
        #[cfg(feature = "std")]
        std::thread::yield_now();
        #[cfg(not(feature = "std"))]
        core::hint::spin_loop();
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
    pub(crate) use loom::thread::{current, park, Thread};

    /// loom has no timed park: model the timeout as expiring at once (a spurious
    /// wake-up, which every caller must tolerate anyway).
    pub(crate) fn park_timeout(_timeout: std::time::Duration) {
        loom::thread::yield_now();
    }

    /// Reads an atomic through `&mut`, where no other thread can race (used in `Drop`).
    pub(crate) fn load_mut(atomic: &mut AtomicUsize) -> usize {
        atomic.with_mut(|v| *v)
    }

    /// loom's spin hint: lets the model switch to another thread.
    pub(crate) fn spin_loop() {
        loom::hint::spin_loop();
    }

    /// loom's yield: lets the model switch to another thread.
    #[allow(dead_code)]
    pub(crate) fn yield_now() {
        loom::thread::yield_now();
    }
}

pub(crate) use imp::*;
