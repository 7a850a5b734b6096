//! Without the `std` and `async` features nothing can sleep, so nothing needs waking:
//! the queues' notification hooks compile to nothing (`wait.rs` serves the builds with
//! either feature).

/// The stand-in for the waiters of a queue: no strategy, no cells.
#[derive(Debug)]
pub(crate) struct Waiters;

impl Waiters {
    /// What the plain constructors use (with `std` or `async`: `WaitStrategy::SPIN_YIELD`).
    pub(crate) const fn spin_yield() -> Self {
        Waiters
    }

    /// Nothing sleeps.
    #[inline(always)]
    pub(crate) fn parks(&self) -> bool {
        false
    }

    /// Nobody to wake.
    #[inline(always)]
    pub(crate) fn items_published(&self) {}

    /// Nobody to wake.
    #[inline(always)]
    pub(crate) fn slots_freed(&self) {}
}

/// Which progress a waiter waits for (as in `wait.rs`).
#[cfg(feature = "embedded-io")]
#[derive(Debug, Clone, Copy)]
pub(crate) enum Awaited {
    /// An item to pop.
    Item,
    /// A free slot to push into.
    Slot,
}

/// Runs `attempt(ctx)` until it returns `Some`. Without `std` nothing can sleep or
/// yield, so it spins between attempts (the `std` build waits as the queue's strategy
/// says; `wait.rs` has the same loop for `async` without `std`).
#[cfg(feature = "embedded-io")]
pub(crate) fn until<C: ?Sized, R>(
    ctx: &mut C,
    _waiters: impl Fn(&C) -> &Waiters,
    _awaited: Awaited,
    mut attempt: impl FnMut(&mut C) -> Option<R>,
) -> R {
    loop {
        if let Some(done) = attempt(ctx) {
            return done;
        }
        crate::sync::spin_loop();
    }
}
