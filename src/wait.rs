//! Waiting for room or items without burning a core: the wait strategies and the
//! wake-up protocol that both queues share (needs the `std` feature).
//!
//! # The protocol: no lost wake-ups
//!
//! A waiter *announces* itself (registers a thread handle or a task [`Waker`] in a
//! [`WaitCell`] and raises its `waiting` count), then *looks again* at the queue, and
//! only then sleeps. A notifier *publishes* (its ordinary index or stamp store), then
//! *looks for waiters*. Each side puts a `SeqCst` fence between its store and its load
//! (the store-buffering, or Dekker, pattern of Vyukov's eventcount and folly's
//! `EventCount`): the two fences are totally ordered, so either the waiter's second look
//! sees the progress, or the notifier's load sees the announcement and wakes it.
//! Without the fences both loads may read the old values (a store still sitting in a
//! store buffer) and the waiter sleeps through the only wake-up it would get.
//!
//! # The cost on the non-blocking path
//!
//! Only a queue built with [`WaitStrategy::SpinPark`] notifies: each publishing
//! operation then runs the fence and one load of the `waiting` count (a line written
//! only when a thread parks, so it stays shared in both caches). The fence is not
//! cheap: it waits for the publishing thread's pending stores, including the slot
//! write whose line the other core holds, so in single-item cross-core streaming it
//! costs a line round trip per item (PERFORMANCE.md has the figures). That is why the
//! plain constructors (`spsc::channel`, `mpmc::Queue::new`) use
//! [`WaitStrategy::NON_BLOCKING`]: its waiters never sleep, so publishing skips the
//! check (one predictable branch on a read-only field), and their waiting operations
//! poll, and their futures ask the executor to poll again. No protocol can do without
//! the fence: a waiter that may sleep and a publisher that may not fence form the
//! store-buffering litmus test, whose both loads may miss.
//!
//! Every notification wakes every registered waiter ("notify all"): with several
//! waiting threads (MPMC) the losers register again, which costs a lock round trip
//! each, but no wake-up can be consumed by a waiter that has gone away (a dropped
//! future), so cancellation never strands another waiter.

use core::task::Waker;
#[cfg(feature = "async")]
use core::task::{Context, Poll};
use std::time::Instant;
use std::vec::Vec;

use crossbeam_utils::CachePadded;

use crate::sync::{self, fence, AtomicUsize, Mutex, Ordering};
#[cfg(not(loom))]
use crate::sync::{current, park, Thread};
#[cfg(loom)]
use loom_parker::{current, park, Thread};

/// How a queue's waiting operations (`push_blocking`, `pop_timeout`, `pop_async`, ...)
/// wait, chosen once when the queue is built (disruptor's wait strategies).
///
/// The non-blocking operations (`push`, `pop`, ...) never wait, whatever the strategy.
///
/// | strategy | a waiting thread | a waiting future | cost on every publish |
/// |---|---|---|---|
/// | `BusySpin` | spins on the queue (lowest wake-up latency, burns its core) | wakes itself at once (the executor polls it again) | none |
/// | `SpinYield` ([`NON_BLOCKING`](Self::NON_BLOCKING), what `spsc::channel` and `mpmc::Queue::new` use) | spins `spins` times, then yields its time slice between looks | as `BusySpin` | none |
/// | `SpinPark` ([`default`](Self::default), for queues built to block) | spins `spins` times, then sleeps until woken | sleeps until woken | a `SeqCst` fence and one load |
///
/// # Examples
///
/// ```
/// use ringway::WaitStrategy;
///
/// assert_eq!(WaitStrategy::default(), WaitStrategy::SpinPark { spins: WaitStrategy::DEFAULT_SPINS });
/// let (mut tx, mut rx) = ringway::spsc::channel_with::<u32>(8, WaitStrategy::BusySpin);
/// let t = std::thread::spawn(move || rx.pop_blocking());
/// tx.push_blocking(5).unwrap();
/// assert_eq!(t.join().unwrap(), Ok(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitStrategy {
    /// Spin with [`core::hint::spin_loop`] until the operation can go ahead.
    BusySpin,
    /// Spin `spins` times, then [`std::thread::yield_now`] between looks.
    SpinYield {
        /// Looks (each after a spin hint) before the first yield.
        spins: u32,
    },
    /// Spin `spins` times, then park the thread (or leave the task pending) until the
    /// other side makes progress or goes away.
    SpinPark {
        /// Looks (each after a spin hint) before the first park.
        spins: u32,
    },
}

impl WaitStrategy {
    /// The spin budget of [`WaitStrategy::default`]: 64 looks, a few microseconds on a
    /// current x86 core, about the time a park and wake-up pair costs.
    pub const DEFAULT_SPINS: u32 = 64;

    /// What the plain constructors (`spsc::channel`, `mpmc::Queue::new`) use:
    /// `SpinYield` with [`DEFAULT_SPINS`](Self::DEFAULT_SPINS). Nobody sleeps, so
    /// `push` and `pop` carry no wake-up cost.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::WaitStrategy;
    ///
    /// let q = ringway::mpmc::Queue::<u8>::new(4);
    /// assert_eq!(q.wait_strategy(), WaitStrategy::NON_BLOCKING);
    /// assert_eq!(WaitStrategy::NON_BLOCKING, WaitStrategy::SpinYield { spins: 64 });
    /// ```
    pub const NON_BLOCKING: WaitStrategy = WaitStrategy::SpinYield {
        spins: Self::DEFAULT_SPINS,
    };

    /// Whether waiters of this strategy sleep, so that publishers must wake them.
    #[inline(always)]
    pub(crate) fn parks(self) -> bool {
        matches!(self, WaitStrategy::SpinPark { .. })
    }
}

/// Test-only observability for the loom models (`loom-tests/tests/waiting.rs`): how
/// many times waiting operations on the current (loom) thread went to sleep, so a model
/// can assert that some execution really took the sleeping path. Compiled only with
/// `--cfg loom`; no cost and no API in ordinary builds.
#[cfg(loom)]
impl WaitStrategy {
    /// The number of times a waiting operation on the calling loom thread went to
    /// sleep in this execution: called `park` or `park_timeout` after announcing
    /// itself, or returned `Pending` after announcing its task. Each loom execution
    /// starts its threads from 0.
    #[doc(hidden)]
    pub fn loom_sleeps() -> usize {
        LOOM_SLEEPS.with(core::cell::Cell::get)
    }
}

#[cfg(loom)]
loom::thread_local! {
    /// See [`WaitStrategy::loom_sleeps`].
    static LOOM_SLEEPS: core::cell::Cell<usize> = core::cell::Cell::new(0);
}

/// Counts one sleep for [`WaitStrategy::loom_sleeps`].
#[cfg(loom)]
fn count_sleep() {
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
#[cfg(loom)]
mod loom_parker {
    // Orderings named bare: this stand-in for std is not shipped code, so it stays out
    // of the ordering mutation check (xtask/mutants.py matches `Ordering::...`).
    use loom::sync::atomic::AtomicI8;
    use loom::sync::atomic::Ordering::{Acquire, Release};
    use std::sync::Arc;

    use crate::sync;

    const EMPTY: i8 = 0;
    const PARKED: i8 = -1;
    const NOTIFIED: i8 = 1;

    loom::thread_local! {
        /// The calling thread's park token.
        static STATE: Arc<AtomicI8> = Arc::new(AtomicI8::new(EMPTY));
    }

    /// A handle to a thread that can unpark it.
    pub(super) struct Thread {
        thread: sync::Thread,
        state: Arc<AtomicI8>,
    }

    impl Thread {
        pub(super) fn id(&self) -> loom::thread::ThreadId {
            self.thread.id()
        }

        /// Makes the token available; wakes the thread if it is parked.
        pub(super) fn unpark(&self) {
            if self.state.swap(NOTIFIED, Release) == PARKED {
                self.thread.unpark();
            }
        }
    }

    /// The calling thread.
    pub(super) fn current() -> Thread {
        Thread {
            thread: sync::current(),
            state: STATE.with(Arc::clone),
        }
    }

    /// Consumes the token if it is available, otherwise sleeps until unparked.
    pub(super) fn park() {
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

impl Default for WaitStrategy {
    /// [`WaitStrategy::SpinPark`] with [`WaitStrategy::DEFAULT_SPINS`]: the strategy for
    /// a queue built to block (`spsc::channel_with(n, WaitStrategy::default())`).
    fn default() -> Self {
        WaitStrategy::SpinPark {
            spins: Self::DEFAULT_SPINS,
        }
    }
}

/// A registered waiter.
#[cfg_attr(not(feature = "async"), allow(dead_code))]
enum Entry {
    Thread(Thread),
    Task(Waker),
}

impl Entry {
    fn wake(self) {
        match self {
            Entry::Thread(thread) => thread.unpark(),
            Entry::Task(waker) => waker.wake(),
        }
    }

    /// Whether waking `self` would wake `other`'s waiter too (so `other` need not be
    /// registered again).
    fn covers(&self, other: &Entry) -> bool {
        match (self, other) {
            (Entry::Thread(a), Entry::Thread(b)) => a.id() == b.id(),
            (Entry::Task(a), Entry::Task(b)) => a.will_wake(b),
            _ => false,
        }
    }
}

/// The waiters for one kind of progress ("an item was published" or "a slot was
/// freed") of one queue.
pub(crate) struct WaitCell {
    /// `entries.len()`, stored under the lock whenever the list changes. Notifiers
    /// read it without the lock, after their `SeqCst` fence: 0 means nobody had
    /// announced itself before the notifier's publish became visible to it.
    waiting: AtomicUsize,
    /// The announced waiters; a notification drains them all.
    entries: Mutex<Vec<Entry>>,
}

impl WaitCell {
    loom_const_fn! {
        /// An empty cell (`const`, so that a queue in a `static` can have one).
        pub(crate) fn new() -> Self {
            WaitCell {
                waiting: AtomicUsize::new(0),
                entries: Mutex::new(Vec::new()),
            }
        }
    }

    /// Wakes every announced waiter; call right after publishing progress.
    #[inline(always)]
    pub(crate) fn notify(&self) {
        // Orders the caller's publishing store before the load below (store-buffering
        // pattern; the waiter's fence in `announce` is the other half).
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) != 0 {
            self.wake_all();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_all(&self) {
        let mut entries = self.lock();
        self.waiting.store(0, Ordering::Relaxed);
        for entry in entries.drain(..) {
            entry.wake();
        }
    }

    /// Registers a waiter; the caller must look at the queue again before sleeping.
    fn announce(&self, entry: Entry) {
        {
            let mut entries = self.lock();
            if !entries.iter().any(|e| e.covers(&entry)) {
                entries.push(entry);
            }
            self.waiting.store(entries.len(), Ordering::Relaxed);
        }
        // Orders the store above before the caller's next look at the queue (the
        // other half of the fence in `notify`).
        fence(Ordering::SeqCst);
    }

    fn lock(&self) -> sync::MutexGuard<'_, Vec<Entry>> {
        // A panic while holding the lock cannot leave the list inconsistent (pushes
        // and drains only), so a poisoned lock is still good.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl core::fmt::Debug for WaitCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WaitCell")
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Which progress a waiter waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Awaited {
    /// An item to pop (consumers wait for this).
    Item,
    /// A free slot to push into (producers wait for this).
    Slot,
}

/// Runs `attempt(ctx)` until it returns `Some`, waiting between attempts as the
/// queue's strategy says and sleeping on its cell for `awaited`; returns `None` if
/// `deadline` passes first.
///
/// `waiters(ctx)` finds the queue's [`Waiters`] (a function rather than a reference so
/// that `attempt` may borrow `ctx` mutably in between). `attempt` must return `Some`
/// once the awaited progress (or the other side's departure) is visible: it runs
/// again after every announcement.
pub(crate) fn block<C: ?Sized, R>(
    ctx: &mut C,
    waiters: impl Fn(&C) -> &Waiters,
    awaited: Awaited,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(&mut C) -> Option<R>,
) -> Option<R> {
    let strategy = waiters(ctx).strategy;
    let mut looks = 0u32;
    loop {
        if let Some(done) = attempt(ctx) {
            return Some(done);
        }
        let now = deadline.map(|d| (d, Instant::now()));
        if let Some((d, now)) = now {
            if now >= d {
                return None;
            }
        }
        match strategy {
            WaitStrategy::BusySpin => sync::spin_loop(),
            WaitStrategy::SpinYield { spins } | WaitStrategy::SpinPark { spins }
                if looks < spins =>
            {
                looks += 1;
                sync::spin_loop();
            }
            WaitStrategy::SpinYield { .. } => sync::yield_now(),
            WaitStrategy::SpinPark { .. } => {
                waiters(ctx)
                    .cell(awaited)
                    .announce(Entry::Thread(current()));
                if let Some(done) = attempt(ctx) {
                    return Some(done);
                }
                #[cfg(loom)]
                count_sleep();
                match now {
                    None => park(),
                    Some((d, now)) => sync::park_timeout(d - now),
                }
            }
        }
    }
}

/// One poll of a waiting future: `Ready` if `attempt(ctx)` succeeds, otherwise
/// `Pending` with a wake-up arranged as the queue's strategy says (see [`block`]).
#[cfg(feature = "async")]
pub(crate) fn poll<C: ?Sized, R>(
    ctx: &mut C,
    waiters: impl Fn(&C) -> &Waiters,
    awaited: Awaited,
    cx: &mut Context<'_>,
    mut attempt: impl FnMut(&mut C) -> Option<R>,
) -> Poll<R> {
    if let Some(done) = attempt(ctx) {
        return Poll::Ready(done);
    }
    let w = waiters(ctx);
    if w.strategy.parks() {
        w.cell(awaited).announce(Entry::Task(cx.waker().clone()));
        if let Some(done) = attempt(ctx) {
            return Poll::Ready(done);
        }
        #[cfg(loom)]
        count_sleep();
    } else {
        // Nobody will wake us: ask to be polled again (the executor's yield).
        cx.waker().wake_by_ref();
    }
    Poll::Pending
}

/// A queue's wait strategy and its two wait cells.
pub(crate) struct Waiters {
    /// Fixed at construction.
    strategy: WaitStrategy,
    /// Consumers waiting for an item.
    items: CachePadded<WaitCell>,
    /// Producers waiting for a free slot.
    slots: CachePadded<WaitCell>,
}

impl Waiters {
    loom_const_fn! {
        /// Waiters that wait as `strategy` says (`const`, for queues in a `static`).
        pub(crate) fn new(strategy: WaitStrategy) -> Self {
            Waiters {
                strategy,
                items: CachePadded::new(WaitCell::new()),
                slots: CachePadded::new(WaitCell::new()),
            }
        }
    }

    /// The strategy the queue was built with.
    pub(crate) fn strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Call after publishing items (or after the producing side went away).
    #[inline(always)]
    pub(crate) fn items_published(&self) {
        if self.strategy.parks() {
            self.items.notify();
        }
    }

    /// Call after freeing slots (or after the consuming side went away).
    #[inline(always)]
    pub(crate) fn slots_freed(&self) {
        if self.strategy.parks() {
            self.slots.notify();
        }
    }

    /// The cell of those waiting for `awaited`.
    fn cell(&self, awaited: Awaited) -> &WaitCell {
        match awaited {
            Awaited::Item => &self.items,
            Awaited::Slot => &self.slots,
        }
    }
}

impl core::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Waiters")
            .field("strategy", &self.strategy)
            .field("items", &*self.items)
            .field("slots", &*self.slots)
            .finish()
    }
}
