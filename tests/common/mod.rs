//! Helpers shared by the integration tests (SPSC now, MPMC later).
//!
//! * [`DropTracker`] / [`Tracked`]: items that record, per item, how many times they
//!   were dropped, so a test can assert "every item dropped exactly once" and tell a
//!   leak from a double drop. Items hold only a reference to the tracker (no heap
//!   allocation per item), so a test that leaks items on purpose does not trip Miri's
//!   leak checker.
//! * [`ZstDrop`]: a zero-sized type with a `Drop` that counts into a static counter
//!   chosen by a const tag (one tag per test, so parallel tests do not interfere).
//! * [`Rng`]: a tiny deterministic xorshift generator for threaded tests and the
//!   Miri-sized model runs (no timing, no OS entropy).
//! * Waiting helpers: [`join_within_watchdog`] (join a thread, or fail instead of
//!   hanging if it never finishes), [`block_on`] (a minimal park/unpark executor that
//!   fails instead of hanging if a pending future is never woken), [`counting_waker`]
//!   and [`poll_once`] (drive a future by hand and count its wake-ups), [`InlineTask`]
//!   (an executor that polls a task inline from its waker).

#![allow(dead_code)]

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Records how many times each [`Tracked`] item it created has been dropped.
#[derive(Debug, Default)]
pub struct DropTracker {
    /// `counts[id]`: number of times item `id` was dropped.
    counts: Mutex<Vec<u32>>,
}

impl DropTracker {
    /// A tracker with no items.
    pub const fn new() -> Self {
        DropTracker {
            counts: Mutex::new(Vec::new()),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Vec<u32>> {
        // A panicking `Drop` never holds the lock, but do not let poisoning hide
        // the real failure either.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new item with the next id (0, 1, 2, ...).
    pub fn item(&self) -> Tracked<'_> {
        self.make(false)
    }

    /// A new item whose `Drop` panics (after recording the drop), unless the thread
    /// is already panicking.
    pub fn item_panicking(&self) -> Tracked<'_> {
        self.make(true)
    }

    fn make(&self, panic_on_drop: bool) -> Tracked<'_> {
        let mut counts = self.counts();
        let id = counts.len();
        counts.push(0);
        Tracked {
            id,
            tracker: self,
            panic_on_drop,
        }
    }

    /// Number of items created so far.
    pub fn created(&self) -> usize {
        self.counts().len()
    }

    /// How many times item `id` has been dropped.
    pub fn drops_of(&self, id: usize) -> u32 {
        self.counts()[id]
    }

    /// Number of distinct items dropped at least once.
    pub fn dropped(&self) -> usize {
        self.counts().iter().filter(|&&c| c > 0).count()
    }

    /// Number of items created and not dropped yet.
    pub fn live(&self) -> usize {
        self.counts().iter().filter(|&&c| c == 0).count()
    }

    /// Ids of the items never dropped.
    pub fn live_ids(&self) -> Vec<usize> {
        let counts = self.counts();
        (0..counts.len()).filter(|&i| counts[i] == 0).collect()
    }

    /// Panics if any item was dropped more than once.
    #[track_caller]
    pub fn assert_no_double_drop(&self) {
        let counts = self.counts();
        let doubles: Vec<(usize, u32)> = counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 1)
            .map(|(i, &c)| (i, c))
            .collect();
        assert!(
            doubles.is_empty(),
            "items dropped more than once (id, drops): {doubles:?}"
        );
    }

    /// Panics unless every item created was dropped exactly once.
    #[track_caller]
    pub fn assert_all_dropped_once(&self) {
        self.assert_no_double_drop();
        let live = self.live_ids();
        assert!(live.is_empty(), "items never dropped (leaked): {live:?}");
    }
}

/// An item that tells its [`DropTracker`] when it is dropped.
pub struct Tracked<'a> {
    id: usize,
    tracker: &'a DropTracker,
    panic_on_drop: bool,
}

impl Tracked<'_> {
    /// The item's id (its creation order in the tracker).
    pub fn id(&self) -> usize {
        self.id
    }
}

impl std::fmt::Debug for Tracked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tracked({})", self.id)
    }
}

impl PartialEq for Tracked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && std::ptr::eq(self.tracker, other.tracker)
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        {
            let mut counts = self.tracker.counts();
            counts[self.id] += 1;
        }
        if self.panic_on_drop && !std::thread::panicking() {
            panic!("Tracked({}) panics in Drop, as asked", self.id);
        }
    }
}

/// One drop counter per tag; `ZstDrop<TAG>` counts into `ZST_DROPS[TAG]`.
pub static ZST_DROPS: [AtomicUsize; 16] = {
    #[allow(clippy::declare_interior_mutable_const)]
    const ZERO: AtomicUsize = AtomicUsize::new(0);
    [ZERO; 16]
};

/// A zero-sized type whose `Drop` increments `ZST_DROPS[TAG]`. Give each test its own
/// `TAG` so tests running in parallel do not share a counter.
#[derive(Debug, PartialEq, Eq)]
pub struct ZstDrop<const TAG: usize>;

impl<const TAG: usize> ZstDrop<TAG> {
    /// The number of `ZstDrop<TAG>` values dropped so far.
    pub fn drops() -> usize {
        ZST_DROPS[TAG].load(Ordering::SeqCst)
    }
}

impl<const TAG: usize> Drop for ZstDrop<TAG> {
    fn drop(&mut self) {
        ZST_DROPS[TAG].fetch_add(1, Ordering::SeqCst);
    }
}

/// A deterministic xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// How long [`join_within_watchdog`] and [`block_on`] wait before declaring a hang (a
/// lost wake-up). Not a timing check: only a bound that turns a hang into a failure,
/// far above anything a correct run needs, even on a loaded machine.
///
/// Not used under Miri, whose virtual clock advances 5 µs per interpreted basic block
/// (`miri/src/clock.rs`), so that a fixed bound could fire on a slow but healthy run;
/// there the helpers block, and a lost wake-up leaves every thread blocked, which
/// Miri reports as a deadlock.
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// Joins `handle`, re-raising its panic; panics with `what` in the message if the thread
/// is still running after [`WATCHDOG`] (the thread is then left behind, so the test
/// fails instead of hanging the whole run). Under Miri it simply joins (see
/// [`WATCHDOG`]).
#[track_caller]
pub fn join_within_watchdog<T>(handle: JoinHandle<T>, what: &str) -> T {
    join_watched(handle, what, None)
}

/// [`join_within_watchdog`] for a thread that never parks (it spins or yields until the
/// queue lets it go on), and that bumps `progress` each time it gets somewhere (an item
/// pushed or read): the [`WATCHDOG`] bound then applies to a stretch with no progress,
/// not to the whole run. Such a thread cannot lose a wake-up; what the bound catches is
/// a livelock (a ring that stays full or empty for good), and a whole run may take
/// longer than [`WATCHDOG`] on a slow machine (ThreadSanitizer on a core shared with a
/// Miri run took over 60 s for one 50 000-item broadcast run in CI on 2026-12-07).
#[track_caller]
pub fn join_while_progressing<T>(handle: JoinHandle<T>, what: &str, progress: &AtomicUsize) -> T {
    join_watched(handle, what, Some(progress))
}

#[track_caller]
fn join_watched<T>(handle: JoinHandle<T>, what: &str, progress: Option<&AtomicUsize>) -> T {
    let seen = || progress.map(|p| p.load(Ordering::Relaxed));
    if !cfg!(miri) {
        let mut start = Instant::now();
        let mut last = seen();
        while !handle.is_finished() {
            let now = seen();
            if now != last {
                last = now;
                start = Instant::now();
            }
            assert!(
                start.elapsed() < WATCHDOG,
                "{what}: {}",
                if progress.is_some() {
                    format!("no progress in {WATCHDOG:?}: a livelock?")
                } else {
                    format!("the thread is still blocked after {WATCHDOG:?}: a lost wake-up?")
                }
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
    match handle.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Wakes a thread parked in [`block_on`], recording that it was woken so that
/// spurious unparks are not mistaken for wake-ups.
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on this thread: polls it, and after each `Pending`
/// parks until its waker is called. It polls again only after a real wake-up, so a
/// future that returns `Pending` and is never woken makes it panic after [`WATCHDOG`]
/// (under Miri: deadlock) instead of succeeding on a later poll (or hanging).
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&state));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let start = Instant::now();
        // Park until woken; `swap` clears the flag so the next `Pending` needs a new
        // wake-up (one that came during the poll is kept and re-polls at once).
        while !state.woken.swap(false, Ordering::SeqCst) {
            if cfg!(miri) {
                thread::park();
                continue;
            }
            let waited = start.elapsed();
            assert!(
                waited < WATCHDOG,
                "block_on: the future returned Pending and was not woken within \
                 {WATCHDOG:?}: a lost wake-up?"
            );
            thread::park_timeout(WATCHDOG - waited);
        }
    }
}

/// Counts the calls to the [`Waker`] made by [`counting_waker`].
#[derive(Debug, Default)]
pub struct WakeCounter(AtomicUsize);

impl WakeCounter {
    /// How many times the waker (or a clone of it) has been woken.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that only counts its wake-ups, and its counter.
pub fn counting_waker() -> (Waker, Arc<WakeCounter>) {
    let counter = Arc::new(WakeCounter::default());
    (Waker::from(Arc::clone(&counter)), counter)
}

/// Polls `future` once with `waker`.
pub fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

// ---------------------------------------------------------------------------------

/// A task whose waker polls it inline, on the waking thread, as some executors do;
/// wake-ups that arrive while it is being polled make the poller poll again (no
/// wake-up is lost in the executor). Its future may wait on the very queue whose
/// publish is waking it.
pub struct InlineTask {
    future: Mutex<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>,
    notified: AtomicBool,
}

impl InlineTask {
    pub fn spawn(future: impl Future<Output = ()> + Send + 'static) -> Arc<Self> {
        let task = Arc::new(InlineTask {
            future: Mutex::new(Some(Box::pin(future))),
            notified: AtomicBool::new(false),
        });
        Waker::from(Arc::clone(&task)).wake();
        task
    }

    /// Whether the task's future has completed (or was cancelled).
    pub fn is_done(&self) -> bool {
        self.future.lock().unwrap().is_none()
    }

    /// Drops the task's future (a task that would wait forever), which withdraws any
    /// waker it has registered: otherwise the queue lists a waker that holds the task,
    /// which holds the queue, a cycle that leaks.
    pub fn cancel(&self) {
        drop(self.future.lock().unwrap().take());
    }
}

impl Wake for InlineTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, Ordering::SeqCst);
        loop {
            // Busy: the thread polling it sees `notified` and polls again.
            let Ok(mut slot) = self.future.try_lock() else {
                return;
            };
            if !self.notified.swap(false, Ordering::SeqCst) {
                return;
            }
            let waker = Waker::from(Arc::clone(self));
            if let Some(f) = slot.as_mut() {
                if f.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                    *slot = None;
                }
            }
            drop(slot);
            if !self.notified.load(Ordering::SeqCst) {
                return;
            }
        }
    }
}
