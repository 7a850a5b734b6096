//! The synchronisation facade: every atomic, cell, `Arc` and spin hint the queues use
//! comes from here, so that building with `RUSTFLAGS="--cfg ringway_loom"` swaps them
//! all for loom's model-checked versions (the `primitive` shim of crossbeam, tokio's
//! `src/loom/`). The switch is `cfg(ringway_loom)` alone, not `all(test, loom)`, so the
//! separate `loom-tests` crate can drive the loom build of this crate.
//!
//! The switch has the crate's own name, as crossbeam's `crossbeam_loom` does, rather
//! than the plain `loom` that tokio uses: a user who model-checks their own code with
//! `RUSTFLAGS="--cfg loom"` gets the ordinary ringway (real atomics, `const`
//! constructors, so their `static` rings still compile), not ringway's loom build,
//! whose atomics would panic outside a `loom::model` and whose constructors are not
//! `const`. A user who wants ringway's own atomics modelled too adds
//! `--cfg ringway_loom`.
//!
//! Rule for the rest of the crate: never name `core::sync::atomic`, `core::cell::UnsafeCell`,
//! `core::hint::spin_loop` or `std::thread::yield_now` directly; a spin or back-off that
//! loom cannot see is a hang in a model, and a cell loom cannot see is a data race it
//! cannot report.
//!
//! The one exception is [`UntrackedUnsafeCell`] (`core::cell::UnsafeCell` in every build): the
//! SPSC slot storage, whose values must stay contiguous for the chunk slices, so loom
//! tracks each slot with a separate `UnsafeCell<()>` instead (see `buffer.rs`).

//!
//! The lock of the waker lists (`crate::wait`) comes from here too, with `locked` to
//! use it: std's `Mutex` with `std`, loom's under loom, and without `std` the spin lock
//! of `sync/spin_lock.rs` (which says why a spin lock is acceptable there).
//!
//! The loom-only code lives here too: loom's stand-ins for what std gives the waiting
//! operations (a token parker, a timed park), the per-thread count of sleeps that the
//! loom models read as a coverage canary ([`count_sleep`]), and [`model_panicked`],
//! which keeps drop paths from touching loom cells while a failed model unwinds. Each
//! has a no-op twin in ordinary builds, so the rest of the crate names no
//! `cfg(ringway_loom)` for them.

/// Storage that loom does not track itself (see the module docs).
pub(crate) use core::cell::UnsafeCell as UntrackedUnsafeCell;

// The lock of the waker lists without `std`; compiled under loom too, for its model.
#[cfg(any(ringway_loom, all(feature = "async", not(feature = "std"))))]
mod spin_lock;
#[cfg(any(ringway_loom, all(feature = "async", not(feature = "std"))))]
pub use spin_lock::SpinLock;

#[cfg(not(ringway_loom))]
mod imp {
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    pub(crate) use alloc::sync::Arc;
    #[cfg(any(
        feature = "std",
        feature = "async",
        all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64")
    ))]
    pub(crate) use core::sync::atomic::fence;
    /// Every user needs compare-and-swap (not on `thumbv6m`, which has only loads and
    /// stores).
    #[cfg(target_has_atomic = "8")]
    pub(crate) use core::sync::atomic::AtomicBool;
    /// The broadcast ring's list of consumer cursors.
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64"))]
    pub(crate) use core::sync::atomic::AtomicPtr;
    /// The 64-bit words of the overwriting and broadcast rings (on every target).
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64"))]
    pub(crate) use core::sync::atomic::AtomicU64;
    pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};
    #[cfg(feature = "std")]
    pub(crate) use std::sync::Mutex;
    #[cfg(feature = "std")]
    pub(crate) use std::thread::{current, park, park_timeout, Thread};

    /// The lock of the waker lists: std's `Mutex`, or without `std` a spin lock
    /// (`spin_lock.rs` says why that is acceptable there).
    #[cfg(all(feature = "async", not(feature = "std")))]
    pub(crate) type Mutex<T> = super::SpinLock<T>;

    /// Runs `f` on the data behind `mutex`, holding the lock. A poisoned lock (a panic
    /// under it) is still used: the crate holds its locks only for list operations that
    /// cannot leave the data half-changed.
    #[cfg(feature = "std")]
    pub(crate) fn locked<T, R>(mutex: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Runs `f` on the data behind `mutex`, holding the lock.
    #[cfg(all(feature = "async", not(feature = "std")))]
    pub(crate) fn locked<T, R>(mutex: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
        mutex.with(f)
    }

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

    /// [`load_mut`] for the 64-bit words of the overwriting and broadcast rings.
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64"))]
    #[inline(always)]
    pub(crate) fn load_mut_u64(atomic: &mut AtomicU64) -> u64 {
        *atomic.get_mut()
    }

    /// Reads a 64-bit atomic that only the calling thread stores to (the overwriting
    /// ring's entries, which only its producer writes): its own last store.
    ///
    /// # Safety
    ///
    /// No other thread stores to `atomic` while this thread may load it.
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64"))]
    #[inline(always)]
    pub(crate) unsafe fn load_own_u64(atomic: &AtomicU64) -> u64 {
        atomic.load(Ordering::Relaxed)
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

    /// Counts a sleep for the loom models' canaries: nothing outside loom.
    #[inline(always)]
    #[cfg(any(feature = "std", feature = "async"))]
    pub(crate) fn count_sleep() {}

    /// Whether a loom model is unwinding from a failure: never outside loom.
    #[inline(always)]
    pub(crate) fn model_panicked() -> bool {
        false
    }
}

#[cfg(ringway_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };
    pub(crate) use loom::sync::{Arc, Mutex};
    pub(crate) use parker::{current, park, Thread};

    /// Runs `f` on the data behind `mutex`, holding the lock (poisoning ignored, as in
    /// ordinary builds).
    pub(crate) fn locked<T, R>(mutex: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// loom has no timed park: model the timeout as expiring at once (a spurious
    /// wake-up, which every caller must tolerate anyway).
    pub(crate) fn park_timeout(_timeout: std::time::Duration) {
        loom::thread::yield_now();
    }

    /// Reads an atomic through `&mut`, where no other thread can race (used in `Drop`).
    pub(crate) fn load_mut(atomic: &mut AtomicUsize) -> usize {
        atomic.with_mut(|v| *v)
    }

    /// [`load_mut`] for the 64-bit words of the overwriting and broadcast rings.
    pub(crate) fn load_mut_u64(atomic: &mut AtomicU64) -> u64 {
        atomic.with_mut(|v| *v)
    }

    /// [`load_own_u64`] under loom: an unsynchronised load, which loom checks comes
    /// after every store to `atomic`. (An atomic load here would also hide
    /// interleavings: loom stops exploring a newly spawned thread whose first step is
    /// an atomic load, tokio-rs/loom#392.)
    ///
    /// # Safety
    ///
    /// As [`load_own_u64`].
    pub(crate) unsafe fn load_own_u64(atomic: &AtomicU64) -> u64 {
        // SAFETY: only this thread stores to it (caller).
        unsafe { atomic.unsync_load() }
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

    /// Whether this thread is unwinding from a failed model. A model that found a race
    /// panics inside a cell access, leaving loom's cell marked busy; a drop path that
    /// then touched the cells again would abort the whole test binary, so it returns
    /// early instead (leaking what a failed execution left, which is harmless).
    pub(crate) fn model_panicked() -> bool {
        std::thread::panicking()
    }

    /// Test-only observability for the loom models (`loom-tests/tests/waiting.rs`): how
    /// many times waiting operations on the current (loom) thread went to sleep, so a model
    /// can assert that some execution really took the sleeping path. Compiled only with
    /// `--cfg ringway_loom`; no cost and no API in ordinary builds.
    #[cfg(feature = "std")]
    impl crate::WaitStrategy {
        /// The number of times a waiting operation on the calling loom thread went to
        /// sleep in this execution: called `park` or `park_timeout` after announcing
        /// itself, or returned `Pending` after announcing its task. Each loom execution
        /// starts its threads from 0.
        #[doc(hidden)]
        pub fn loom_sleeps() -> usize {
            LOOM_SLEEPS.with(core::cell::Cell::get)
        }
    }

    loom::thread_local! {
        /// See [`WaitStrategy::loom_sleeps`](crate::WaitStrategy::loom_sleeps).
        static LOOM_SLEEPS: core::cell::Cell<usize> = core::cell::Cell::new(0);
    }

    /// Counts one sleep for [`WaitStrategy::loom_sleeps`](crate::WaitStrategy::loom_sleeps):
    /// a waiting operation announced itself and is about to park (or return `Pending`).
    pub(crate) fn count_sleep() {
        LOOM_SLEEPS.with(|n| n.set(n.get() + 1));
    }

    /// std's park/unpark for the loom models.
    ///
    /// loom 0.7's `Thread::unpark` is not std's: it makes its target runnable whatever the
    /// target is blocked on (a `join`, a lock, a yield) and then keeps no token, so an
    /// unpark that std would keep for the target's next `park` is lost, and one that
    /// reaches a thread blocked in `join` or on a lock aborts the model
    /// (tokio-rs/loom#249, #418). This protocol unparks waiters that may be busy elsewhere
    /// (a waiter whose second look succeeded stays registered, and one woken during its
    /// second look is still looking), so under loom it parks through this copy of std's
    /// futex parker (`EMPTY`/`PARKED`/`NOTIFIED`, same orderings), which calls loom's
    /// `unpark` only on a thread that is parked or about to park.
    mod parker {
        // Orderings named bare: this stand-in for std is not shipped code, so it stays out
        // of the ordering mutation check (xtask/mutants.py matches `Ordering::...`).
        use loom::sync::atomic::AtomicI8;
        use loom::sync::atomic::Ordering::{Acquire, Release};
        use loom::thread as sync;
        use std::sync::Arc;

        const EMPTY: i8 = 0;
        const PARKED: i8 = -1;
        const NOTIFIED: i8 = 1;

        loom::thread_local! {
            /// The calling thread's park token.
            static STATE: Arc<AtomicI8> = Arc::new(AtomicI8::new(EMPTY));
        }

        /// A handle to a thread that can unpark it.
        pub(crate) struct Thread {
            thread: sync::Thread,
            state: Arc<AtomicI8>,
        }

        impl Thread {
            pub(crate) fn id(&self) -> loom::thread::ThreadId {
                self.thread.id()
            }

            /// Makes the token available; wakes the thread if it is parked.
            pub(crate) fn unpark(&self) {
                if self.state.swap(NOTIFIED, Release) == PARKED {
                    self.thread.unpark();
                }
            }
        }

        /// The calling thread.
        pub(crate) fn current() -> Thread {
            Thread {
                thread: sync::current(),
                state: STATE.with(Arc::clone),
            }
        }

        /// Consumes the token if it is available, otherwise sleeps until unparked.
        pub(crate) fn park() {
            let state = STATE.with(Arc::clone);
            // NOTIFIED -> EMPTY (return at once) or EMPTY -> PARKED (sleep).
            if state.fetch_sub(1, Acquire) == NOTIFIED {
                return;
            }
            loop {
                sync::park();
                if state
                    .compare_exchange(NOTIFIED, EMPTY, Acquire, Acquire)
                    .is_ok()
                {
                    return;
                }
            }
        }
    }
}

pub(crate) use imp::*;

/// The 64-bit word of the rings whose positions must not wrap in practice and carry tags
/// (the overwriting ring's entries, the broadcast ring's positions and slot states): 64
/// bits on every target, so a 32-bit target keeps the same ranges; the same type as
/// `usize` on 64-bit targets. Atomically, an `AtomicU64`.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64"))]
pub(crate) type Word = u64;
