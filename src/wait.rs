//! Waiting for room or items without burning a core: the wait strategies and the
//! wake-up protocol that both queues share (needs the `std` or the `async` feature;
//! without `std`, see [below](#without-std)).
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
//! [`WaitStrategy::SPIN_YIELD`]: its waiters never sleep, so publishing skips the
//! check (one predictable branch on a read-only field), and their waiting operations
//! poll, and their futures ask the executor to poll again. No protocol can do without
//! the fence: a waiter that may sleep and a publisher that may not fence form the
//! store-buffering litmus test, whose both loads may miss.
//!
//! Every notification wakes every registered waiter ("notify all"): with several
//! waiting threads (MPMC) the losers register again, which costs a lock round trip
//! each, but no wake-up can be consumed by a waiter that has gone away (a dropped
//! future), so cancellation never strands another waiter.
//!
//! # Wakers are foreign code
//!
//! A task's [`Waker`] runs code the queue does not control: an executor may poll the
//! task inline from `wake` (which may wait on the same queue again), and a waker may
//! panic in `wake` or in its drop. So a notifier takes the waiters out of the list
//! under the lock and wakes them after releasing it (as tokio and futures-channel do):
//! a waker that re-enters the queue finds the lock free. Wakers are dropped outside
//! the lock too. Each waker call and drop runs isolated ([`isolated`]): a panic in it
//! is caught (the panic hook has already reported it, as for any panic) and goes no
//! further, so every other waiter is still woken and the queue operation that ran it
//! completes. Letting it reach the caller would lose data: a pop notifies after it
//! has taken its item out of the ring, and unwinding from there would drop the item;
//! from a half's drop, during another panic's unwinding, it would abort the process.
//!
//! Each waiter holds a [`Registration`], the key of its entry: a waiter that comes back
//! replaces its own entry instead of adding one, and a future that is dropped, or a
//! waiting call that returns, withdraws its entry. The list therefore holds at most one
//! entry per waiting call or live, pending future, however many futures are
//! cancelled (a future leaked with `mem::forget` keeps its entry until the next
//! notification takes it, or the queue is dropped).
//!
//! # Without `std`
//!
//! With `async` and without `std` this module serves the futures alone: there are no
//! threads to park, so the blocking operations (`push_blocking`, `pop_timeout`, ...)
//! and thread entries do not exist, and the `embedded-io` traits spin whatever the
//! strategy (as they do without `async`). Three things differ:
//!
//! * The list's lock is the facade's spin lock (`src/sync/spin_lock.rs`), held only for
//!   a few list operations and never while a waker runs. Only `SpinPark` queues take
//!   it. A spin lock cannot wait for a holder its own core pre-empted: an interrupt
//!   handler that pushes to or pops from a `SpinPark` queue (which may lock, in
//!   `wake_all`) while the code it interrupted holds the same cell's lock (in a poll or
//!   drop of one of that queue's futures, or in a push or pop of its own that wakes
//!   waiters) spins forever. [`WaitStrategy`] says so to users. (A notifier that never
//!   spins, leaving the wake-up to the holder when the lock is taken, would lift
//!   this; not done.)
//! * A waker's panic cannot be caught (`catch_unwind` is `std`'s; `no_std` builds
//!   usually abort on panic): [`isolated`] calls the waker directly, so a panicking
//!   waker unwinds into the queue operation that woke it, where the `std` build would
//!   contain it.
//! * The spin lock needs compare-and-swap: `async` without `std` is refused at compile
//!   time on targets without `target_has_atomic = "ptr"` (Cortex-M0), see `lib.rs`.
//!
//! Without `alloc` as well (static forms only, no global allocator) the list is an
//! array of `FIXED_WAITERS` (4) places instead of a `Vec`. A waiter that finds it full
//! is not listed, and [`WaitCell::announce`] says so: its future then wakes itself
//! (the executor polls it again), as a non-parking strategy's does, so it is never
//! stranded. An SPSC half has one waiting future at a time, so only forgotten futures
//! (whose entries stay until the next notification) or many MPMC waiters fill it.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
use core::task::Waker;
#[cfg(feature = "async")]
use core::task::{Context, Poll};
#[cfg(feature = "std")]
use std::time::Instant;

#[cfg(feature = "shm")]
use core::ptr::NonNull;
use crossbeam_utils::CachePadded;

use crate::sync::{self, fence, AtomicUsize, Mutex, Ordering};
#[cfg(feature = "std")]
use crate::sync::{current, park, Thread};

/// How a queue's waiting operations (`push_blocking`, `pop_timeout`, `pop_async`, ...)
/// wait, chosen once when the queue is built (disruptor's wait strategies).
///
/// The non-blocking operations (`push`, `pop`, ...) never wait, whatever the strategy.
///
/// | strategy | a waiting thread | a waiting future | cost on every publish |
/// |---|---|---|---|
/// | `BusySpin` | spins on the queue (lowest wake-up latency, burns its core) | wakes itself at once (the executor polls it again) | none |
/// | `SpinYield` ([`SPIN_YIELD`](Self::SPIN_YIELD), the [default](Self::default): what `spsc::channel` and `mpmc::Queue::new` use) | spins `spins` times, then yields its time slice between looks | as `BusySpin` | none |
/// | `SpinPark` ([`SPIN_PARK`](Self::SPIN_PARK), for queues built to block) | spins `spins` times, then sleeps until woken | sleeps until woken | a `SeqCst` fence and one load |
///
/// # Without `std`
///
/// With the `async` feature and without `std` the strategies exist for the futures:
/// there are no blocking operations (no threads to park), a `BusySpin` or `SpinYield`
/// future wakes itself at once (there is no thread to yield: `SpinYield` spins where
/// `std` would yield), and a `SpinPark` future sleeps until woken. The `embedded-io`
/// traits spin whatever the strategy. A `SpinPark` queue's list of sleeping wakers is
/// then guarded by a spin lock, held only for a few list operations: do not push to or
/// pop from a `SpinPark` queue in an interrupt handler that can interrupt other code
/// using the same queue on the same core (polling or dropping its futures, pushing or
/// popping): the handler could spin forever on a lock the interrupted code holds. The
/// other strategies never take the lock (their futures wake themselves), so an
/// interrupt handler may push to a `SpinYield` queue that a task awaits. A panicking
/// waker is not contained as with `std` (no `catch_unwind`). Without `alloc` either, a
/// `SpinPark` queue lists up to four sleeping futures per direction (an SPSC half has
/// one); a future beyond them wakes itself instead of sleeping.
///
/// # Examples
///
/// ```
/// use ringway::WaitStrategy;
///
/// assert_eq!(WaitStrategy::default(), WaitStrategy::SPIN_YIELD);
/// let (mut tx, mut rx) = ringway::spsc::channel_with_wait_strategy::<u32>(8, WaitStrategy::SPIN_PARK);
/// let t = std::thread::spawn(move || rx.pop_blocking()); // sleeps until woken
/// tx.push_blocking(5).unwrap();
/// assert_eq!(t.join().unwrap(), Ok(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitStrategy {
    /// Spin with [`core::hint::spin_loop`] until the operation can go ahead.
    BusySpin,
    /// Spin `spins` times, then yield the thread (`std::thread::yield_now`) between
    /// looks; without `std`, keep spinning.
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
    /// The spin budget of [`SPIN_YIELD`](Self::SPIN_YIELD) and
    /// [`SPIN_PARK`](Self::SPIN_PARK): 64 looks, a few microseconds on a current x86
    /// core, about the time a park and wake-up pair costs.
    pub const DEFAULT_SPINS: u32 = 64;

    /// Spin [`DEFAULT_SPINS`](Self::DEFAULT_SPINS) times, then yield between looks:
    /// the [default](Self::default), which the plain constructors (`spsc::channel`,
    /// `mpmc::Queue::new`, the static forms' `new`) use. Nobody sleeps, so `push` and
    /// `pop` carry no wake-up cost.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::WaitStrategy;
    ///
    /// let q = ringway::mpmc::Queue::<u8>::new(4);
    /// assert_eq!(q.wait_strategy(), WaitStrategy::SPIN_YIELD);
    /// assert_eq!(WaitStrategy::SPIN_YIELD, WaitStrategy::SpinYield { spins: 64 });
    /// ```
    pub const SPIN_YIELD: WaitStrategy = WaitStrategy::SpinYield {
        spins: Self::DEFAULT_SPINS,
    };

    /// Spin [`DEFAULT_SPINS`](Self::DEFAULT_SPINS) times, then sleep until woken: the
    /// strategy for a queue built to block, whose every publish pays a `SeqCst` fence
    /// to wake sleepers (see the table above).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::WaitStrategy;
    ///
    /// let q = ringway::mpmc::Queue::<u8>::with_wait_strategy(4, WaitStrategy::SPIN_PARK);
    /// assert_eq!(WaitStrategy::SPIN_PARK, WaitStrategy::SpinPark { spins: 64 });
    /// let t = std::thread::scope(|s| {
    ///     let t = s.spawn(|| q.pop_blocking()); // sleeps until the push wakes it
    ///     q.push(9).unwrap();
    ///     t.join().unwrap()
    /// });
    /// assert_eq!(t, Ok(9));
    /// ```
    pub const SPIN_PARK: WaitStrategy = WaitStrategy::SpinPark {
        spins: Self::DEFAULT_SPINS,
    };

    /// Whether waiters of this strategy sleep, so that publishers must wake them.
    #[inline(always)]
    pub(crate) fn parks(self) -> bool {
        matches!(self, WaitStrategy::SpinPark { .. })
    }
}

impl Default for WaitStrategy {
    /// [`WaitStrategy::SPIN_YIELD`], what the plain constructors use.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = ringway::spsc::channel::<u8>(1);
    /// assert_eq!(tx.wait_strategy(), ringway::WaitStrategy::default());
    /// ```
    fn default() -> Self {
        Self::SPIN_YIELD
    }
}

/// A registered waiter (threads only with `std`).
#[cfg_attr(not(feature = "async"), allow(dead_code))]
enum Entry {
    #[cfg(feature = "std")]
    Thread(Thread),
    Task(Waker),
}

impl Entry {
    fn wake(self) {
        match self {
            #[cfg(feature = "std")]
            Entry::Thread(thread) => thread.unpark(),
            Entry::Task(waker) => waker.wake(),
        }
    }

    /// Whether waking `self` wakes the same waiter as waking `other` (so `self` need
    /// not be replaced by `other`).
    fn wakes_as(&self, other: &Entry) -> bool {
        match (self, other) {
            #[cfg(feature = "std")]
            (Entry::Thread(a), Entry::Thread(b)) => a.id() == b.id(),
            (Entry::Task(a), Entry::Task(b)) => a.will_wake(b),
            #[cfg(feature = "std")]
            _ => false,
        }
    }
}

/// A waiter's claim on its entry in a [`WaitCell`]: empty until the waiter announces
/// itself, the entry's key while it may be in the list (a notifier may have taken it
/// out since), and `Done` once a future has completed.
#[derive(Debug, Default)]
pub(crate) enum Registration {
    /// Not in any list.
    #[default]
    None,
    /// Announced with this key (unique per cell for the life of the process: a `u64`
    /// counter that would take centuries to wrap).
    Key(u64),
    /// The future this belongs to has returned `Ready` (futures only).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    Done,
}

/// The list behind a [`WaitCell`]'s lock.
struct Entries {
    /// The announced waiters with their keys, in no particular order.
    list: List,
    /// The key of the next new entry.
    next_key: u64,
}

/// How many waiters a cell lists without `alloc` (`async` on a target with no global
/// allocator): room for an SPSC half's one waiting future and a few forgotten ones,
/// or a few MPMC waiters. A waiter that finds the list full is not listed: its future
/// wakes itself (the executor polls it again) instead of sleeping, so it is never
/// stranded, only busier.
#[cfg(not(feature = "alloc"))]
const FIXED_WAITERS: usize = 4;

/// The waiters of a cell with their keys: a `Vec` with `alloc`, else an array of
/// [`FIXED_WAITERS`] places.
#[derive(Default)]
struct List {
    #[cfg(feature = "alloc")]
    items: Vec<(u64, Entry)>,
    /// Places `0 .. len` are `Some`.
    #[cfg(not(feature = "alloc"))]
    items: [Option<(u64, Entry)>; FIXED_WAITERS],
    #[cfg(not(feature = "alloc"))]
    len: usize,
}

impl List {
    loom_const_fn! {
        fn new() -> Self {
            List {
                #[cfg(feature = "alloc")]
                items: Vec::new(),
                #[cfg(not(feature = "alloc"))]
                items: [const { None }; FIXED_WAITERS],
                #[cfg(not(feature = "alloc"))]
                len: 0,
            }
        }
    }

    fn len(&self) -> usize {
        #[cfg(feature = "alloc")]
        return self.items.len();
        #[cfg(not(feature = "alloc"))]
        return self.len;
    }

    /// The entries with their keys.
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut (u64, Entry)> {
        #[cfg(feature = "alloc")]
        return self.items.iter_mut();
        #[cfg(not(feature = "alloc"))]
        return self.items[..self.len].iter_mut().flatten();
    }

    /// Adds `item`, or hands it back if the list is full (only without `alloc`).
    fn push(&mut self, item: (u64, Entry)) -> Result<(), (u64, Entry)> {
        #[cfg(feature = "alloc")]
        {
            self.items.push(item);
            Ok(())
        }
        #[cfg(not(feature = "alloc"))]
        {
            if self.len == FIXED_WAITERS {
                return Err(item);
            }
            self.items[self.len] = Some(item);
            self.len += 1;
            Ok(())
        }
    }

    /// Removes the entry of `key`, if listed.
    fn remove(&mut self, key: u64) -> Option<Entry> {
        let i = self.iter_mut().position(|(k, _)| *k == key)?;
        #[cfg(feature = "alloc")]
        return Some(self.items.swap_remove(i).1);
        #[cfg(not(feature = "alloc"))]
        {
            self.len -= 1;
            self.items.swap(i, self.len);
            self.items[self.len].take().map(|(_, entry)| entry)
        }
    }

    /// Takes every entry out, leaving the list empty.
    fn take(&mut self) -> impl Iterator<Item = Entry> {
        let taken = core::mem::take(self);
        #[cfg(feature = "alloc")]
        return taken.items.into_iter().map(|(_, entry)| entry);
        #[cfg(not(feature = "alloc"))]
        return taken.items.into_iter().flatten().map(|(_, entry)| entry);
    }
}

/// The waiters for one kind of progress ("an item was published" or "a slot was
/// freed") of one queue.
pub(crate) struct WaitCell {
    /// `entries.list.len()`, stored under the lock whenever the list changes.
    /// Notifiers read it without the lock, after their `SeqCst` fence: 0 means nobody
    /// had announced itself before the notifier's publish became visible to it.
    waiting: AtomicUsize,
    /// The announced waiters; a notification takes them all. Never held while a waker
    /// runs or is dropped (see the module docs). std's `Mutex`, or a spin lock
    /// without `std` (the facade's `Mutex`).
    entries: Mutex<Entries>,
    /// The cell's word in memory shared with another process (a ring in shared memory,
    /// `crate::shm`, built to park): a thread of this process sleeps on it with a
    /// futex, and a notifier in either process wakes it. `None` in process.
    #[cfg(feature = "shm")]
    remote: Option<RemoteCell>,
}

impl WaitCell {
    loom_const_fn! {
        /// An empty cell (`const`, so that a queue in a `static` can have one).
        pub(crate) fn new() -> Self {
            WaitCell {
                waiting: AtomicUsize::new(0),
                entries: Mutex::new(Entries {
                    list: List::new(),
                    next_key: 0,
                }),
                #[cfg(feature = "shm")]
                remote: None,
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
        // The other process's sleepers, read after the same fence (its waiters raise
        // their count before the same fence in `announce`).
        #[cfg(feature = "shm")]
        if let Some(remote) = &self.remote {
            remote.wake();
        }
    }

    /// Takes every entry out under the lock, then wakes each after releasing it, each
    /// [`isolated`]: a panicking waker neither stops the others nor reaches the caller.
    #[cold]
    #[inline(never)]
    fn wake_all(&self) {
        let taken = self.locked(|entries| {
            self.waiting.store(0, Ordering::Relaxed);
            entries.list.take()
        });
        for entry in taken {
            // `wake` consumes the entry, so its drop runs inside too.
            isolated(|| entry.wake());
        }
    }

    /// Registers a waiter, or refreshes its entry if `registration` says it has one
    /// still in the list; the caller must look at the queue again before sleeping.
    /// Returns whether the waiter is listed: only without `alloc`, when the list is
    /// full, is it not, and then it must not sleep (a future wakes itself instead).
    fn announce(&self, registration: &mut Registration, entry: Entry) -> bool {
        let (replaced, listed) = self.locked(|entries| {
            let Entries { list, next_key } = entries;
            let mine = match *registration {
                Registration::Key(key) => list.iter_mut().find(|(k, _)| *k == key),
                _ => None,
            };
            let outcome = match mine {
                Some((_, old)) if old.wakes_as(&entry) => (Some(entry), true),
                Some((_, old)) => (Some(core::mem::replace(old, entry)), true),
                None => match list.push((*next_key, entry)) {
                    Ok(()) => {
                        *registration = Registration::Key(*next_key);
                        *next_key = next_key.wrapping_add(1);
                        (None, true)
                    }
                    Err((_, entry)) => (Some(entry), false),
                },
            };
            self.waiting.store(list.len(), Ordering::Relaxed);
            outcome
        });
        // Dropped outside the lock: dropping a waker runs foreign code too.
        isolated(|| drop(replaced));
        // Orders the store above before the caller's next look at the queue (the
        // other half of the fence in `notify`).
        fence(Ordering::SeqCst);
        listed
    }

    /// Removes the waiter's entry if a notifier has not taken it yet, and forgets the
    /// key. Cheap when the waiter never announced itself (no lock).
    fn withdraw(&self, registration: &mut Registration) {
        let Registration::Key(key) = *registration else {
            return;
        };
        *registration = Registration::None;
        let removed = self.locked(|entries| {
            let removed = entries.list.remove(key);
            self.waiting.store(entries.list.len(), Ordering::Relaxed);
            removed
        });
        // Dropped outside the lock and isolated, as in `announce`.
        isolated(|| drop(removed));
    }

    /// The number of entries in the list (tests: the list stays bounded).
    #[cfg(all(test, not(ringway_loom)))]
    fn len(&self) -> usize {
        self.locked(|entries| entries.list.len())
    }

    /// Runs `f` on the list under the lock. A panic while holding it cannot leave the
    /// list inconsistent (no foreign code runs under it; pushes, removals and takes
    /// only), so a poisoned lock is still good (`sync::locked` ignores poisoning).
    fn locked<R>(&self, f: impl FnOnce(&mut Entries) -> R) -> R {
        sync::locked(&self.entries, f)
    }
}

impl Drop for WaitCell {
    /// Drops the wakers still listed (futures that were forgotten rather than dropped,
    /// or waiters that never came back), each [`isolated`] like every other waker drop:
    /// a queue's drop must not unwind from a waker's drop.
    fn drop(&mut self) {
        if sync::model_panicked() {
            return;
        }
        let left = self.locked(|entries| entries.list.take());
        for entry in left {
            isolated(|| drop(entry));
        }
    }
}

/// Runs `foreign` (a waker's `wake` or drop) so that a panic in it goes no further:
/// the payload is caught and dropped (and forgotten if dropping it panics too). See
/// the module docs for why the queue cannot let it unwind.
#[cfg(feature = "std")]
fn isolated(foreign: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(core::panic::AssertUnwindSafe(foreign)) {
        if let Err(again) =
            std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| drop(payload)))
        {
            core::mem::forget(again);
        }
    }
}

/// Without `std` a panic cannot be caught: runs `foreign` directly (see the module
/// docs, "Without `std`").
#[cfg(not(feature = "std"))]
fn isolated(foreign: impl FnOnce()) {
    foreign();
}

impl core::fmt::Debug for WaitCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WaitCell")
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A wait cell's word in memory shared between processes (`crate::shm`): a futex and
/// a count of the threads that may sleep on it. Plain words: the other process may
/// store anything here, which can cost a spurious wake-up or a late one (a sleep is
/// never longer than [`REMOTE_NAP`]), never more.
#[cfg(feature = "shm")]
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct FutexWord {
    /// Bumped by a notifier that saw sleepers, before it wakes them: a sleeper's futex
    /// wait returns at once if it moved since the sleeper looked.
    seq: core::sync::atomic::AtomicU32,
    /// Threads between their announcement and the end of their sleep.
    sleepers: core::sync::atomic::AtomicU32,
}

#[cfg(all(
    feature = "shm",
    target_os = "linux",
    target_pointer_width = "64",
    not(ringway_loom)
))]
impl FutexWord {
    /// Forgets every sleeper counted: call only where no thread can be between its
    /// announcement and the end of its sleep on this word (a ring in shared memory:
    /// the half that attaches, holding the only role whose threads sleep on it). A
    /// thread of a process killed in its sleep would otherwise stay counted for good,
    /// and cost every notification a system call.
    pub(crate) fn forget_sleepers(&self) {
        self.sleepers.store(0, Ordering::Relaxed);
    }
}

/// The longest a thread sleeps on a [`FutexWord`] before it looks at the ring again:
/// it bounds what a lost or withheld wake-up (a peer that died, or one that scribbled
/// on the word) can cost, and how late a sleeper notices a peer that died (its
/// `is_abandoned` tests the peer's lock).
#[cfg(feature = "shm")]
pub(crate) const REMOTE_NAP: std::time::Duration = std::time::Duration::from_millis(10);

/// A [`WaitCell`]'s view of its [`FutexWord`].
///
/// Every access is `Relaxed`: the store-buffering fences of `announce` and `notify`
/// order them, exactly as they order the cell's `waiting` count (a sleeper raises
/// `sleepers` and reads `seq` before its fence, then looks at the ring; a notifier
/// publishes, fences, then reads `sleepers`); the futex compares `seq` in the kernel.
#[cfg(feature = "shm")]
struct RemoteCell {
    /// Valid for atomic access as long as the cell lives (`Waiters::with_remote`).
    word: NonNull<FutexWord>,
}

// SAFETY: the word is shared memory made for access from any thread (and process),
// only through atomics and futex calls.
#[cfg(feature = "shm")]
unsafe impl Send for RemoteCell {}
// SAFETY: as for `Send`.
#[cfg(feature = "shm")]
unsafe impl Sync for RemoteCell {}

#[cfg(feature = "shm")]
impl RemoteCell {
    fn word(&self) -> &FutexWord {
        // SAFETY: valid while the cell lives (field invariant); atomics only.
        unsafe { self.word.as_ref() }
    }

    /// Counts the calling thread among the sleepers; returns the ticket to sleep on.
    fn arrive(&self) -> u32 {
        self.word().sleepers.fetch_add(1, Ordering::Relaxed);
        self.word().seq.load(Ordering::Relaxed)
    }

    /// Undoes `arrive`.
    fn depart(&self) {
        self.word().sleepers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Sleeps until woken, unless `seq` has moved from `ticket`; at most `timeout` and
    /// at most [`REMOTE_NAP`].
    fn sleep(&self, ticket: u32, timeout: Option<std::time::Duration>) {
        let nap = timeout.map_or(REMOTE_NAP, |t| t.min(REMOTE_NAP));
        let spec = libc::timespec {
            tv_sec: nap.as_secs() as libc::time_t,
            tv_nsec: nap.subsec_nanos() as _,
        };
        // SAFETY: `FUTEX_WAIT` reads the word (a valid, aligned `u32` for the call) and
        // the timespec (alive across the call); not `FUTEX_PRIVATE_FLAG`, as the word is
        // shared between processes. Its result (woken, timed out, `EAGAIN` when `seq`
        // moved, `EINTR`) needs no handling: the caller looks at the ring again.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word().seq.as_ptr(),
                libc::FUTEX_WAIT,
                ticket,
                &spec as *const libc::timespec,
            );
        }
    }

    /// Wakes the sleepers, if any: called after the notifier's fence.
    fn wake(&self) {
        if self.word().sleepers.load(Ordering::Relaxed) != 0 {
            self.word().seq.fetch_add(1, Ordering::Relaxed);
            // SAFETY: `FUTEX_WAKE` only names the word (valid and aligned); shared, not
            // private, as in `sleep`.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word().seq.as_ptr(),
                    libc::FUTEX_WAKE,
                    i32::MAX,
                );
            }
        }
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
/// once the awaited progress (or the other side's departure, or the queue's close) is
/// visible: it runs again after every announcement. A thread that announced itself
/// withdraws its entry before returning, so no entry outlives the call.
#[cfg(feature = "std")]
pub(crate) fn block<C: ?Sized, R>(
    ctx: &mut C,
    waiters: impl Fn(&C) -> &Waiters,
    awaited: Awaited,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(&mut C) -> Option<R>,
) -> Option<R> {
    let strategy = waiters(ctx).strategy;
    let mut looks = 0u32;
    let mut registration = Registration::None;
    let done = loop {
        if let Some(done) = attempt(ctx) {
            break Some(done);
        }
        let now = deadline.map(|d| (d, Instant::now()));
        if let Some((d, now)) = now {
            if now >= d {
                break None;
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
                // A ring in shared memory: count this thread among the region's
                // sleepers and note the word's value before the fence in `announce`.
                #[cfg(feature = "shm")]
                let ticket = waiters(ctx)
                    .cell(awaited)
                    .remote
                    .as_ref()
                    .map(RemoteCell::arrive);
                let listed = waiters(ctx)
                    .cell(awaited)
                    .announce(&mut registration, Entry::Thread(current()));
                // With `std` the list is a `Vec`: a thread is always listed.
                debug_assert!(listed, "a thread not listed");
                let done = attempt(ctx);
                #[cfg(feature = "shm")]
                if let (Some(ticket), Some(remote)) = (ticket, &waiters(ctx).cell(awaited).remote) {
                    if done.is_none() {
                        sync::count_sleep();
                        remote.sleep(ticket, now.map(|(d, now)| d - now));
                    }
                    remote.depart();
                    if let Some(done) = done {
                        break Some(done);
                    }
                    continue;
                }
                if let Some(done) = done {
                    break Some(done);
                }
                sync::count_sleep();
                match now {
                    None => park(),
                    Some((d, now)) => sync::park_timeout(d - now),
                }
            }
        }
    };
    // `attempt` panicking skips this: the entry then stays until the next notification
    // takes it (an extra unpark of this thread, which every parker tolerates).
    waiters(ctx).cell(awaited).withdraw(&mut registration);
    done
}

/// One attempt of a waiting pop from an SPSC ring whose producer may be gone (the
/// `attempt` of [`block`] and [`poll`] for both SPSC rings): `Some(Ok(item))`,
/// `Some(Err(Disconnected(())))` once the producer is gone and everything it left has
/// been popped, or `None` to wait.
///
/// `gone` is the consumer's `is_abandoned`, an `Acquire` load of the flag the producer
/// sets with `Release` after its last push: once it is true, one more `pop` is final.
pub(crate) fn pop_or_disconnected<C: ?Sized, T>(
    consumer: &mut C,
    mut pop: impl FnMut(&mut C) -> Option<T>,
    gone: impl Fn(&C) -> bool,
) -> Option<Result<T, crate::Disconnected>> {
    if let Some(v) = pop(consumer) {
        return Some(Ok(v));
    }
    if gone(consumer) {
        return Some(pop(consumer).ok_or(crate::Disconnected(())));
    }
    None
}

/// [`block`] without a deadline: runs `attempt(ctx)` until it returns `Some`.
#[cfg(feature = "std")]
pub(crate) fn until<C: ?Sized, R>(
    ctx: &mut C,
    waiters: impl Fn(&C) -> &Waiters,
    awaited: Awaited,
    attempt: impl FnMut(&mut C) -> Option<R>,
) -> R {
    block(ctx, waiters, awaited, None, attempt).expect("waits without a deadline")
}

/// Runs `attempt(ctx)` until it returns `Some`. Without `std` nothing can park or
/// yield, so it spins between attempts whatever the strategy (the `embedded-io`
/// traits, as in the build without `async`, `wait_none.rs`).
#[cfg(all(not(feature = "std"), feature = "embedded-io"))]
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
        sync::spin_loop();
    }
}

/// One poll of a waiting future: `Ready` if `attempt(ctx)` succeeds, otherwise
/// `Pending` with a wake-up arranged as the queue's strategy says (see [`block`]).
///
/// `registration` is the future's own (see [`Registration`]); the future passes it to
/// [`Waiters::withdraw`] when it is dropped.
///
/// # Panics
///
/// If the future already returned `Ready` (every future of the crate then panics,
/// whatever it waits for).
#[cfg(feature = "async")]
pub(crate) fn poll<C: ?Sized, R>(
    ctx: &mut C,
    waiters: impl Fn(&C) -> &Waiters,
    awaited: Awaited,
    registration: &mut Registration,
    cx: &mut Context<'_>,
    mut attempt: impl FnMut(&mut C) -> Option<R>,
) -> Poll<R> {
    assert!(
        !matches!(registration, Registration::Done),
        "ringway: future polled after completion"
    );
    let mut done = attempt(ctx);
    if done.is_none() {
        let w = waiters(ctx);
        if w.strategy.parks() && !w.remote() {
            let listed = w
                .cell(awaited)
                .announce(registration, Entry::Task(cx.waker().clone()));
            done = attempt(ctx);
            if done.is_none() {
                if listed {
                    sync::count_sleep();
                } else {
                    // The list is full (no `alloc`): nobody will wake us, so ask to be
                    // polled again, as the non-parking strategies do.
                    cx.waker().wake_by_ref();
                }
            }
        } else {
            // Nobody will wake us (a ring in shared memory: a task cannot sleep on the
            // other process's futex): ask to be polled again (the executor's yield).
            cx.waker().wake_by_ref();
        }
    }
    match done {
        Some(done) => {
            waiters(ctx).cell(awaited).withdraw(registration);
            *registration = Registration::Done;
            Poll::Ready(done)
        }
        None => Poll::Pending,
    }
}

/// A queue's wait strategy and its two wait cells.
pub(crate) struct Waiters {
    /// Fixed at construction.
    strategy: WaitStrategy,
    /// Consumers waiting for an item.
    item_waiters: CachePadded<WaitCell>,
    /// Producers waiting for a free slot.
    slot_waiters: CachePadded<WaitCell>,
}

impl Waiters {
    loom_const_fn! {
        /// Waiters that wait as `strategy` says (`const`, for queues in a `static`).
        pub(crate) fn new(strategy: WaitStrategy) -> Self {
            Waiters {
                strategy,
                item_waiters: CachePadded::new(WaitCell::new()),
                slot_waiters: CachePadded::new(WaitCell::new()),
            }
        }
    }

    loom_const_fn! {
        /// The waiters of the plain constructors: [`WaitStrategy::SPIN_YIELD`].
        pub(crate) fn spin_yield() -> Self {
            Self::new(WaitStrategy::SPIN_YIELD)
        }
    }

    /// The strategy the queue was built with.
    pub(crate) fn strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// These waiters with their two cells' words in memory shared with another process
    /// (`crate::shm`): a thread waiting on a cell then sleeps on its word's futex, and
    /// every notification of the cell wakes the word's sleepers too.
    ///
    /// # Safety
    ///
    /// `item` and `slot` are valid for atomic reads and writes for as long as the
    /// waiters live (the other process may store anything in them).
    #[cfg(all(
        feature = "shm",
        target_os = "linux",
        target_pointer_width = "64",
        not(ringway_loom)
    ))]
    pub(crate) unsafe fn with_remote(
        mut self,
        item: NonNull<FutexWord>,
        slot: NonNull<FutexWord>,
    ) -> Self {
        self.item_waiters.remote = Some(RemoteCell { word: item });
        self.slot_waiters.remote = Some(RemoteCell { word: slot });
        self
    }

    /// Whether the cells sleep on words shared with another process, which only a
    /// thread can sleep on (a future polls again instead).
    #[cfg(feature = "async")]
    fn remote(&self) -> bool {
        #[cfg(feature = "shm")]
        return self.item_waiters.remote.is_some();
        #[cfg(not(feature = "shm"))]
        return false;
    }

    /// Whether waiters may sleep, so that publishing and freeing must notify (fixed at
    /// construction: a queue's halves may read it once and keep it).
    #[inline(always)]
    pub(crate) fn parks(&self) -> bool {
        self.strategy.parks()
    }

    /// Call after publishing items (or after the producing side went away).
    #[inline(always)]
    pub(crate) fn items_published(&self) {
        if self.strategy.parks() {
            self.item_waiters.notify();
        }
    }

    /// Call after freeing slots (or after the consuming side went away).
    #[inline(always)]
    pub(crate) fn slots_freed(&self) {
        if self.strategy.parks() {
            self.slot_waiters.notify();
        }
    }

    /// Removes the entry that `registration` names, if it is still listed (a
    /// dropped future's, so that cancelled futures do not pile up).
    #[cfg(feature = "async")]
    pub(crate) fn withdraw(&self, awaited: Awaited, registration: &mut Registration) {
        self.cell(awaited).withdraw(registration);
    }

    /// The cell of those waiting for `awaited`.
    fn cell(&self, awaited: Awaited) -> &WaitCell {
        match awaited {
            Awaited::Item => &self.item_waiters,
            Awaited::Slot => &self.slot_waiters,
        }
    }
}

impl core::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Waiters")
            .field("strategy", &self.strategy)
            .field("item_waiters", &*self.item_waiters)
            .field("slot_waiters", &*self.slot_waiters)
            .finish()
    }
}

/// The wait cell against hostile wakers, at the level of the list (the black-box
/// versions through the queues are in `tests/waiting.rs`).
#[cfg(all(test, not(ringway_loom)))]
mod tests {
    // Orderings are `Relaxed`: every test runs on one thread (and test code stays out
    // of the ordering-mutation check, which weakens the stronger ones).
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::task::Wake;
    use std::vec::Vec;

    use super::*;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counter() -> (Arc<Counter>, Entry) {
        let counter = Arc::new(Counter::default());
        (Arc::clone(&counter), Entry::Task(Waker::from(counter)))
    }

    /// A waker that checks, when woken, that the cell's lock is free, and re-enters
    /// the cell (as a task polled inline that waits again would).
    struct Reentrant {
        cell: Arc<WaitCell>,
        lock_was_free: AtomicBool,
    }

    impl Wake for Reentrant {
        fn wake(self: Arc<Self>) {
            #[cfg(feature = "std")]
            let free = self.cell.entries.try_lock().is_ok();
            #[cfg(not(feature = "std"))]
            let free = !self.cell.entries.is_locked();
            self.lock_was_free.store(free, Ordering::Relaxed);
            if free {
                let again = Entry::Task(Waker::from(Arc::clone(&self)));
                self.cell.announce(&mut Registration::None, again);
            }
        }
    }

    #[cfg(feature = "std")]
    struct Panicking;

    #[cfg(feature = "std")]
    impl Wake for Panicking {
        fn wake(self: Arc<Self>) {
            panic!("hostile waker");
        }
    }

    #[test]
    fn wakers_run_after_the_lock_is_released() {
        let cell = Arc::new(WaitCell::new());
        let probe = Arc::new(Reentrant {
            cell: Arc::clone(&cell),
            lock_was_free: AtomicBool::new(false),
        });
        let entry = Entry::Task(Waker::from(Arc::clone(&probe)));
        cell.announce(&mut Registration::None, entry);
        cell.notify();
        assert!(
            probe.lock_was_free.load(Ordering::Relaxed),
            "woken under the lock"
        );
        assert_eq!(cell.len(), 1, "the re-entrant registration is listed");
        assert_eq!(cell.waiting.load(Ordering::Relaxed), 1);
        // Break the cycle (the cell lists a waker that holds the cell).
        cell.withdraw(&mut Registration::Key(1));
        assert_eq!(cell.len(), 0);
    }

    #[test]
    #[cfg(feature = "std")] // without `std` a waker's panic is not caught
    fn a_panicking_waker_does_not_keep_the_others_asleep() {
        let cell = WaitCell::new();
        let (before, entry) = counter();
        cell.announce(&mut Registration::None, entry);
        let hostile = Entry::Task(Waker::from(Arc::new(Panicking)));
        cell.announce(&mut Registration::None, hostile);
        let (after, entry) = counter();
        cell.announce(&mut Registration::None, entry);
        let hostile = Entry::Task(Waker::from(Arc::new(Panicking)));
        cell.announce(&mut Registration::None, hostile);

        cell.notify(); // the panics stay inside
        assert_eq!(before.0.load(Ordering::Relaxed), 1);
        assert_eq!(
            after.0.load(Ordering::Relaxed),
            1,
            "a waker after the panic was skipped"
        );
        assert_eq!((cell.len(), cell.waiting.load(Ordering::Relaxed)), (0, 0));
        // Nothing is left to wake (and nothing panics) next time.
        cell.notify();
        assert_eq!(after.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_registration_keeps_one_entry_and_withdraws_it() {
        let cell = WaitCell::new();
        // Announcing again with the same registration replaces the entry; the old
        // waker is dropped (not kept beside the new one).
        let mut registration = Registration::None;
        let (first, entry) = counter();
        cell.announce(&mut registration, entry);
        let (second, entry) = counter();
        cell.announce(&mut registration, entry);
        assert_eq!(cell.len(), 1);
        assert_eq!(
            Arc::strong_count(&first),
            1,
            "the replaced waker is still held"
        );
        assert_eq!(Arc::strong_count(&second), 2);

        // Many waiters that withdraw (cancelled futures) leave nothing behind (as many
        // as the list has room for, without `alloc`).
        #[cfg(feature = "alloc")]
        let many = 1000;
        #[cfg(not(feature = "alloc"))]
        let many = FIXED_WAITERS - 1;
        let mut others: Vec<Registration> = (0..many).map(|_| Registration::None).collect();
        for r in &mut others {
            assert!(cell.announce(r, counter().1));
        }
        assert_eq!(cell.waiting.load(Ordering::Relaxed), many + 1);
        for r in &mut others {
            cell.withdraw(r);
            assert!(matches!(r, Registration::None));
        }
        assert_eq!((cell.len(), cell.waiting.load(Ordering::Relaxed)), (1, 1));

        // A notification takes the entry: withdrawing after it is a no-op, and the
        // next announcement adds a fresh entry.
        cell.notify();
        assert_eq!(second.0.load(Ordering::Relaxed), 1);
        assert_eq!(cell.len(), 0);
        cell.withdraw(&mut registration);
        let (third, entry) = counter();
        cell.announce(&mut registration, entry);
        assert_eq!(cell.len(), 1);
        cell.withdraw(&mut registration);
        assert_eq!((cell.len(), cell.waiting.load(Ordering::Relaxed)), (0, 0));
        cell.notify();
        assert_eq!(
            third.0.load(Ordering::Relaxed),
            0,
            "a withdrawn waiter was woken"
        );
    }

    /// Without `alloc` the list has `FIXED_WAITERS` places: one waiter more is not
    /// listed (and told so, so that its future wakes itself instead of sleeping),
    /// those listed are still woken, and once a notification empties the list there is
    /// room again.
    #[test]
    #[cfg(not(feature = "alloc"))]
    fn a_full_fixed_list_refuses_a_waiter_and_wakes_the_others() {
        let cell = WaitCell::new();
        let listed: Vec<Arc<Counter>> = (0..FIXED_WAITERS)
            .map(|_| {
                let (count, entry) = counter();
                assert!(cell.announce(&mut Registration::None, entry));
                count
            })
            .collect();
        let (refused, entry) = counter();
        let mut registration = Registration::None;
        assert!(
            !cell.announce(&mut registration, entry),
            "listed past the room"
        );
        assert!(matches!(registration, Registration::None));
        assert_eq!(
            Arc::strong_count(&refused),
            1,
            "the refused waker is still held"
        );
        assert_eq!((cell.len(), cell.waiting.load(Ordering::Relaxed)), (4, 4));
        cell.notify();
        for count in &listed {
            assert_eq!(count.0.load(Ordering::Relaxed), 1);
        }
        let (again, entry) = counter();
        assert!(
            cell.announce(&mut registration, entry),
            "no room after the notification"
        );
        cell.notify();
        assert_eq!(again.0.load(Ordering::Relaxed), 1);
    }
}
