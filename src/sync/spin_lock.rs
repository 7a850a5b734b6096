//! The lock of the waker lists (`crate::wait`) in builds without `std`, which has no
//! `Mutex`: a test-and-set spin lock over one `AtomicBool`.
//!
//! A spin lock is acceptable there because of how `WaitCell` uses it: it is held only
//! for a few operations on a short list (a push, a search by key, a swap-remove, a
//! take), never while foreign code runs (wakers are woken and dropped after it is
//! released) and never across an `.await`, so a waiter spins for at most a few list
//! operations of another core. It is taken only by queues built with
//! `WaitStrategy::SpinPark`: the other strategies never register a waker, so nothing
//! locks. What a spin lock cannot do is wait for a holder that the spinner itself
//! pre-empted: an interrupt handler that notifies (pushes to or pops from a `SpinPark`
//! queue) while the code it interrupted on the same core holds the lock would spin
//! forever; `WaitStrategy`'s docs say so to users.
//!
//! Built on the facade's atomics and cell, so under `--cfg ringway_loom` it is
//! model-checked (`loom-tests/tests/spin_lock.rs`, which also kills the ordering
//! mutants of this file) even though the loom build's waker lists use loom's `Mutex`.
//! Accesses go through a closure ([`SpinLock::with`]) rather than a guard that derefs,
//! because loom's cell lends its contents only inside `with_mut`.

use super::{AtomicBool, Ordering, UnsafeCell};

/// A lock that spins until it is free; see the module docs for when that is fine.
pub struct SpinLock<T> {
    /// Whether some thread holds the lock and may be using `data`.
    locked: AtomicBool,
    /// Touched only by the holder of the lock.
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands `data` to one thread at a time (the `Acquire` that takes it
// pairs with the `Release` that gave it up), so sharing the lock shares no `T` between
// threads at once; moving a `T` between threads needs `T: Send`, as for std's `Mutex`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    loom_const_fn! {
        /// An unlocked lock around `data` (`const`, for queues in a `static`).
        pub fn new(data: T) -> Self {
            SpinLock {
                locked: AtomicBool::new(false),
                data: UnsafeCell::new(data),
            }
        }
    }

    /// Runs `f` on the data, holding the lock; spins while another thread holds it.
    /// The lock is released when `f` returns or unwinds.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock();
        let _unlock = Unlock(&self.locked);
        self.data.with_mut(|data| {
            // SAFETY: this thread holds the lock (taken above, released only when
            // `_unlock` drops, after `f`), and only the holder touches `data`; the
            // `Acquire` of `lock` makes the previous holder's writes visible.
            f(unsafe { &mut *data })
        })
    }

    /// Whether some thread holds the lock now (tests: wakers run after it is released).
    #[cfg(test)]
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }

    /// Takes the lock: a compare-and-swap from `false` to `true`, with a spin hint
    /// between failed tries.
    ///
    /// Not test-and-test-and-set (spinning on a plain load, which keeps the line shared,
    /// and trying only when it looks free): the lock is held for a few list operations,
    /// so spinning on the compare-and-swap costs little, and loom explores every stale
    /// value a spinning load may return and exceeds its branch limit. Not a `swap`
    /// either: loom 0.7 spun forever on a `swap` loop in this model after the holder
    /// had unlocked (not investigated further); a failed compare-and-swap writes
    /// nothing, and the model passes.
    fn lock(&self) {
        // `Acquire`: the previous holder's writes to `data` (before its `Release` in
        // `Unlock::drop`) happen before this holder's accesses.
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            super::spin_loop();
        }
    }
}

impl<T> core::fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpinLock")
            .field("locked", &self.locked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Releases the lock when dropped (also when the closure under it unwinds).
struct Unlock<'a>(&'a AtomicBool);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        // `Release`: this holder's writes to `data` happen before the next holder's
        // `Acquire` swap sees the lock free.
        self.0.store(false, Ordering::Release);
    }
}

/// The lock alone, in the builds that use it (`--no-default-features --features async`;
/// the loom model is `loom-tests/tests/spin_lock.rs`).
#[cfg(all(test, not(ringway_loom)))]
mod tests {
    use std::sync::{Arc, MutexGuard};
    use std::thread;
    use std::vec::Vec;

    use static_assertions::{assert_impl_all, assert_not_impl_any};

    use super::SpinLock;

    // `Sync` exactly when `T: Send`, as std's `Mutex`.
    assert_impl_all!(SpinLock<core::cell::Cell<u8>>: Send, Sync);
    assert_not_impl_any!(SpinLock<std::rc::Rc<u8>>: Send, Sync);
    assert_not_impl_any!(SpinLock<MutexGuard<'static, u8>>: Send, Sync);

    /// Threads that increment a plain counter under the lock lose no increment (a data
    /// race for Miri's detector if the lock let two in).
    #[test]
    fn threads_take_turns() {
        let per_thread = if cfg!(miri) { 50 } else { 10_000 };
        let lock = Arc::new(SpinLock::new(0usize));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || {
                    for _ in 0..per_thread {
                        lock.with(|n| *n += 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(lock.with(|n| *n), 4 * per_thread);
        assert!(!lock.is_locked());
    }

    /// A panic under the lock releases it.
    #[test]
    fn a_panic_under_the_lock_releases_it() {
        let lock = SpinLock::new(1);
        let caught = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            lock.with(|_| panic!("inside"));
        }));
        assert!(caught.is_err());
        assert!(!lock.is_locked());
        assert_eq!(lock.with(|n| *n), 1);
    }
}
