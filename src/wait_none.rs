//! Without the `std` feature nothing can sleep, so nothing needs waking: the queues'
//! notification hooks compile to nothing.

/// The no-`std` stand-in for the waiters of a queue: no strategy, no cells.
#[derive(Debug)]
pub(crate) struct Waiters;

impl Waiters {
    /// Nobody to wake.
    #[inline(always)]
    pub(crate) fn items_published(&self) {}

    /// Nobody to wake.
    #[inline(always)]
    pub(crate) fn slots_freed(&self) {}
}
