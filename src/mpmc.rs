//! The multi-producer multi-consumer bounded queue.
//!
//! # Algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue ("per-slot sequence stamps", 1024cores.net),
//! with the lap-packed positions of crossbeam's `ArrayQueue` so that any capacity works
//! without `%` or `/`, and DPDK-style bulk claims for the slice operations.
//!
//! A *position* is `lap * one_lap + index`, where `index < capacity` names a slot and
//! `one_lap` is twice the smallest power of two above `capacity`; the position after
//! the last index of a lap is index 0 of the next lap. The bit between the index and
//! the lap (`mark_bit`, the power of two above `capacity`) is in no position: it is the
//! *closed mark* that [`close`](Queue::close) sets in `tail` (as crossbeam-channel's
//! array flavour does). `tail` is the next position to push, `head` the next to pop.
//! Every slot carries a `stamp`:
//!
//! * `stamp == pos`: the slot is empty and ready for the push at `pos`;
//! * `stamp == pos + 1`: it holds the value pushed at `pos`, ready for the pop at `pos`
//!   (after which the pop sets `stamp = pos + one_lap`, the next lap's push position).
//!
//! A producer reads the stamp of `tail`'s slot; if the slot is ready it claims the
//! position with a compare-and-swap on `tail`, writes the value and publishes it with a
//! `Release` store of the stamp. Consumers mirror this on `head`. The stamp is both
//! the hand-off flag and the value's neighbour, so a hand-off moves the slot's line and
//! nothing else; `head` and `tail` sit on their own 128-byte lines and move only
//! between threads of the same side. A slice operation checks the stamps of up to `n`
//! consecutive slots and claims them all with one compare-and-swap (DPDK's burst
//! mode), then fills or empties them.
//!
//! # Closing
//!
//! [`close`](Queue::close) sets the mark in `tail` with one `fetch_or`. Every claim of a
//! push position is a compare-and-swap of an unmarked `tail`, so once the mark is in,
//! no push claims a position again: one that was about to fails its compare-and-swap,
//! reads `tail` again and sees the mark. Pushes that claimed their positions before it
//! complete, and pops drain them; a pop that finds its slot empty reads `tail`, and
//! `tail` equal to its `head` plus the mark means "closed and drained", for good. The
//! mark lives where push and pop already look: a push whose slot is ready (its stamp
//! equals `tail`, which no marked value does) and a pop that finds an item test
//! nothing more than on an open queue.
//!
//! # Progress
//!
//! A push or pop that finds its slot ready, or finds the queue full or empty,
//! completes in a bounded number of steps unless other threads keep winning the
//! compare-and-swap (lock-free among threads that are running). It is **not** strictly
//! lock-free: a thread pre-empted between claiming a position and publishing its slot
//! stalls that slot, and a pop (or push) that reaches the stalled slot waits for it,
//! with a back-off that spins and then yields. Pushes that find the queue full and pops
//! that find it empty never wait: they return at once.

#[cfg(feature = "alloc")]
use alloc::boxed::Box;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;
#[cfg(feature = "alloc")]
use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ops::Deref;

use crossbeam_utils::CachePadded;

use crate::backoff::Backoff;
use crate::sync::{self, load_mut, AtomicUsize, Ordering, UnsafeCell};
use crate::wait::Waiters;
#[cfg(feature = "std")]
use crate::WaitStrategy;
use crate::{Disconnected, InvariantIn, PushError};

#[cfg(feature = "std")]
mod waiting;
#[cfg(feature = "async")]
pub use waiting::{PopFuture, PushFuture};

use sealed::Slot;

/// Why a claim (`claim_tail`, `claim_head`) got no position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Nothing to claim now: the queue was full (`claim_tail`) or empty
    /// (`claim_head`).
    Unavailable,
    /// Nothing to claim ever again: the queue is closed (`claim_tail`), or closed and
    /// drained (`claim_head`).
    Closed,
}

/// A bounded multi-producer multi-consumer FIFO queue.
///
/// Share it between threads by reference (scoped threads, a `static`) or in an
/// `Arc`. Holds exactly `capacity` items; never allocates after [`new`](Self::new).
/// See the [module docs](self) for the algorithm and its progress guarantee.
///
/// `S` says where the slots live: [`Heap<T>`] (the default: `Queue<T>` is a queue
/// from [`Queue::new`]) or [`Inline<T, N>`](Inline), inside a
/// [`StaticQueue<T, N>`](StaticQueue), which dereferences to a
/// `Queue<T, Inline<T, N>>`. Every operation is the same code for both.
///
/// `Queue<T, S>` is `Send` and `Sync` when `T: Send`.
///
/// # Examples
///
/// ```
/// use ringway::mpmc::Queue;
///
/// let q = Queue::new(64);
/// std::thread::scope(|s| {
///     for p in 0..2u64 {
///         let q = &q;
///         s.spawn(move || {
///             for i in 0..100 {
///                 while q.push(p * 1000 + i).is_err() {
///                     std::hint::spin_loop();
///                 }
///             }
///         });
///     }
///     let mut seen = 0;
///     while seen < 200 {
///         if q.pop().is_some() {
///             seen += 1;
///         }
///     }
/// });
/// assert!(q.is_empty());
/// ```
pub struct Queue<T, S: Storage<T> = Heap<T>> {
    /// The next position to pop. Advanced by consumers with a compare-and-swap, and
    /// by `force_push` when it displaces the oldest item.
    ///
    /// `head` and `tail` are always read with `Acquire` (`load_head`, `load_tail`) and
    /// claimed with `Release`:
    /// the stamps alone order the slot accesses, but an operation that observes another
    /// thread's claim must also observe what that thread did before it, or a pop that
    /// follows its own thread's push could see another thread's later pop yet miss the
    /// push before it and report "empty" (not linearizable on weak memory models; a
    /// Miri weak-memory test caught exactly this with `Relaxed`).
    head: CachePadded<AtomicUsize>,
    /// The next position to push, and the closed mark. Advanced by producers with a
    /// compare-and-swap of its unmarked value (so no push claims a position once the
    /// mark is in), and by `force_push` with a `fetch_add` that keeps the mark; `close`
    /// sets `mark_bit` with a `fetch_or`.
    ///
    /// Invariant: `tail & !mark_bit` is a position (its index, `tail & (mark_bit - 1)`,
    /// is below `capacity`) at most one lap of `capacity` positions ahead of `head`;
    /// `tail & mark_bit` is set once, by `close`, and never cleared. Every use of a
    /// `tail` value as a position masks the mark off or has already excluded it
    /// (`distance` and `next` assert it).
    tail: CachePadded<AtomicUsize>,
    /// Exactly `capacity` slots; slot `i` starts with stamp `i` (empty for lap 0).
    slots: S,
    /// The number of slots, at least 1.
    capacity: usize,
    /// The smallest power of two greater than `capacity`: the closed mark in `tail`.
    /// No position and no stamp has this bit (an index, and the `index + 1` of a full
    /// slot's stamp, are at most `capacity`), so positions and stamps never collide
    /// with it, and `pos & (mark_bit - 1)` is a position's index.
    mark_bit: usize,
    /// `2 * mark_bit`: the distance between two positions that share a slot.
    one_lap: usize,
    /// The wait strategy and the sleeping waiters: every push wakes the item cell and
    /// every pop the slot cell, and `close` wakes both (only with
    /// `WaitStrategy::SpinPark`).
    waiters: Waiters,
    /// The queue owns the `T`s in its slots (the storage type says so only through
    /// its `Storage<T>` bound).
    _items: PhantomData<T>,
    /// Keeps the queue invariant in `T` whatever its storage's fields are (see
    /// [`InvariantIn`]): `_items` alone is covariant.
    _invariant: InvariantIn<T>,
}

/// Where a [`Queue`]'s slots live: [`Heap<T>`] or [`Inline<T, N>`](Inline).
///
/// Sealed; it exists for code generic over both kinds of queue (every method of
/// [`Queue`] works for any storage).
///
/// # Examples
///
/// ```
/// use ringway::mpmc::{Queue, StaticQueue, Storage};
///
/// fn fill<S: Storage<u32>>(q: &Queue<u32, S>) -> usize {
///     q.push_slice(&[1, 2, 3, 4, 5])
/// }
///
/// assert_eq!(fill(&Queue::new(3)), 3);
/// static Q: StaticQueue<u32, 4> = StaticQueue::new();
/// assert_eq!(fill(&Q), 4);
/// ```
pub trait Storage<T>: sealed::Sealed<T> {}

mod sealed {
    use core::mem::MaybeUninit;

    use crate::sync::{AtomicUsize, UnsafeCell};

    /// One slot: a value and the stamp that says whose turn it is. (`pub` in a private
    /// module, so that [`Sealed`] can name it; unreachable from outside the crate.)
    pub struct Slot<T> {
        /// `pos` when empty and ready for the push at `pos`; `pos + 1` when holding the
        /// value pushed at `pos` (see the module docs). Stored with `Release` by the
        /// thread that just wrote (or read) `value`, loaded with `Acquire` before the next
        /// access to `value`.
        pub(crate) stamp: AtomicUsize,
        /// Initialised exactly while `stamp == pos + 1` for some position `pos` of this
        /// slot, and then accessed only by the thread that claimed `pos`.
        pub(crate) value: UnsafeCell<MaybeUninit<T>>,
    }

    impl<T> core::fmt::Debug for Slot<T> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Slot").finish_non_exhaustive()
        }
    }

    /// Gives the queue its slots; keeps [`Storage`](super::Storage) to this crate's
    /// types.
    pub trait Sealed<T> {
        /// The slots, `capacity` of them.
        fn slots(&self) -> &[Slot<T>];
    }
}

/// The slots of a queue from [`Queue::new`]: one heap allocation.
///
/// Needs the `alloc` feature; without it the type exists but has no values.
///
/// # Examples
///
/// ```
/// use ringway::mpmc::{Heap, Queue};
///
/// let q: Queue<u8, Heap<u8>> = Queue::new(2); // the same type as `Queue<u8>`
/// # drop(q);
/// ```
pub struct Heap<T> {
    #[cfg(feature = "alloc")]
    slots: Box<[Slot<T>]>,
    #[cfg(not(feature = "alloc"))]
    _never: core::convert::Infallible,
    #[cfg(not(feature = "alloc"))]
    _items: PhantomData<T>,
}

impl<T> Storage<T> for Heap<T> {}

impl<T> sealed::Sealed<T> for Heap<T> {
    #[inline(always)]
    fn slots(&self) -> &[Slot<T>] {
        #[cfg(feature = "alloc")]
        return &self.slots;
        #[cfg(not(feature = "alloc"))]
        match self._never {}
    }
}

impl<T> fmt::Debug for Heap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Heap")
    }
}

/// The slots of a [`StaticQueue<T, N>`](StaticQueue): `N` of them in place, padded
/// onto their own cache lines.
///
/// # Examples
///
/// ```
/// use ringway::mpmc::{Inline, Queue, StaticQueue};
///
/// static Q: StaticQueue<u8, 3> = StaticQueue::new();
/// let q: &Queue<u8, Inline<u8, 3>> = &Q;
/// assert_eq!(q.capacity(), 3);
/// ```
pub struct Inline<T, const N: usize> {
    slots: CachePadded<[Slot<T>; N]>,
}

impl<T, const N: usize> Storage<T> for Inline<T, N> {}

impl<T, const N: usize> sealed::Sealed<T> for Inline<T, N> {
    #[inline(always)]
    fn slots(&self) -> &[Slot<T>] {
        &*self.slots
    }
}

impl<T, const N: usize> fmt::Debug for Inline<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Inline")
    }
}

impl<T, const N: usize> Inline<T, N> {
    loom_const_fn! {
        /// `N` empty slots for lap 0: slot `i` has stamp `i`.
        fn new() -> Self {
            let mut slots: [MaybeUninit<Slot<T>>; N] = [const { MaybeUninit::uninit() }; N];
            let mut i = 0;
            while i < N {
                slots[i] = MaybeUninit::new(Slot {
                    stamp: AtomicUsize::new(i),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                });
                i += 1;
            }
            // SAFETY: the loop initialised every element, and `[MaybeUninit<Slot<T>>; N]`
            // has the layout of `[Slot<T>; N]`; the source is `MaybeUninit`, so it is
            // not dropped after this copy.
            let slots = unsafe { (&slots as *const [MaybeUninit<Slot<T>>; N]).cast::<[Slot<T>; N]>().read() };
            Inline {
                slots: CachePadded::new(slots),
            }
        }
    }
}

// SAFETY: through `&Queue`, values are only moved in and out (never shared as `&T`),
// and every slot access is exclusive to the thread that claimed its position (the
// stamp protocol), so `T: Send` suffices; `T: Sync` is not needed. Either storage owns
// its slots (a box or an array), so sending the queue moves owned `T`s, which
// `T: Send` allows.
unsafe impl<T: Send, S: Storage<T>> Send for Queue<T, S> {}
// SAFETY: see `Send`.
unsafe impl<T: Send, S: Storage<T>> Sync for Queue<T, S> {}

#[cfg(feature = "alloc")]
impl<T> Queue<T> {
    /// Creates a queue that holds exactly `capacity` items. (For a queue without an
    /// allocator, in a `static`, see [`StaticQueue`].)
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or if the slots would exceed `isize::MAX` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::<String>::new(3);
    /// assert_eq!(q.capacity(), 3);
    /// ```
    ///
    /// ```should_panic
    /// let _ = ringway::mpmc::Queue::<u8>::new(0); // panics: capacity must be at least 1
    /// ```
    pub fn new(capacity: usize) -> Self {
        #[cfg(feature = "std")]
        let waiters = Waiters::new(WaitStrategy::SPIN_YIELD);
        #[cfg(not(feature = "std"))]
        let waiters = Waiters;
        Self::with_waiters(capacity, waiters)
    }

    /// Creates a queue like [`Queue::new`] whose waiting operations
    /// ([`Queue::push_blocking`], [`Queue::pop_async`], ...) wait as `strategy` says.
    ///
    /// [`Queue::new`] builds with [`WaitStrategy::SPIN_YIELD`] (spin, then yield),
    /// whose waiters never sleep, so `push` and `pop` carry no wake-up check. Build
    /// with [`WaitStrategy::SpinPark`] (`WaitStrategy::SPIN_PARK`) for waiting
    /// operations that sleep; every publish then pays a `SeqCst` fence (see
    /// [`WaitStrategy`]).
    ///
    /// # Panics
    ///
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::{mpmc::Queue, WaitStrategy};
    ///
    /// let q = Queue::<u32>::with_wait_strategy(16, WaitStrategy::BusySpin);
    /// assert_eq!(q.wait_strategy(), WaitStrategy::BusySpin);
    /// ```
    #[cfg(feature = "std")]
    pub fn with_wait_strategy(capacity: usize, strategy: WaitStrategy) -> Self {
        Self::with_waiters(capacity, Waiters::new(strategy))
    }

    fn with_waiters(capacity: usize, waiters: Waiters) -> Self {
        assert!(capacity > 0, "ringway: capacity must be at least 1");
        let mark_bit = capacity
            .checked_add(1)
            .and_then(usize::checked_next_power_of_two)
            // `one_lap = 2 * mark_bit` must fit, at most `isize::MAX + 1`.
            .filter(|&mark| mark <= 1 << (usize::BITS - 2));
        let (Some(mark_bit), Ok(_)) = (mark_bit, Layout::array::<Slot<T>>(capacity)) else {
            panic!(
                "ringway: capacity overflow: {capacity} slots of {} bytes do not fit in isize::MAX bytes",
                core::mem::size_of::<Slot<T>>()
            )
        };
        let slots: Vec<Slot<T>> = (0..capacity)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Queue {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots: Heap {
                slots: slots.into_boxed_slice(),
            },
            capacity,
            mark_bit,
            one_lap: 2 * mark_bit,
            waiters,
            _items: PhantomData,
            _invariant: PhantomData,
        }
    }
}

impl<T, const N: usize> Queue<T, Inline<T, N>> {
    /// Checked when a queue is built (post-monomorphisation, so a bad `N` fails the
    /// build).
    const VALID_CAPACITY: () = assert!(N >= 1, "ringway: StaticQueue<T, N> needs N >= 1");

    loom_const_fn! {
        /// An empty queue of `N` slots in place.
        fn inline(waiters: Waiters) -> Self {
            #[allow(clippy::let_unit_value)]
            let () = Self::VALID_CAPACITY;
            Queue {
                head: CachePadded::new(AtomicUsize::new(0)),
                tail: CachePadded::new(AtomicUsize::new(0)),
                slots: Inline::new(),
                capacity: N,
                // `N + 1` and the doubling cannot overflow: an array of `N` slots fits
                // in `isize::MAX` bytes, and a slot is at least a word, so `N < 2^61`
                // on 64-bit targets (`N < 2^29` on 32-bit ones).
                mark_bit: (N + 1).next_power_of_two(),
                one_lap: 2 * (N + 1).next_power_of_two(),
                waiters,
                _items: PhantomData,
                _invariant: PhantomData,
            }
        }
    }
}

impl<T, S: Storage<T>> Queue<T, S> {
    /// Reads `tail`. Every read of `tail` goes through here, with `Acquire`: an
    /// operation that acts on a `tail` value must also see what the thread that stored
    /// it did before (its own pops included), or a push right after its thread's pop
    /// could report "full" (see the field docs of `head`). A successful claim is a
    /// `Release` read-modify-write, so it continues the release sequence of the value
    /// it replaced: reading a claim's value synchronises with every earlier claimant.
    #[inline(always)]
    fn load_tail(&self) -> usize {
        self.tail.load(Ordering::Acquire)
    }

    /// Reads `head`, with `Acquire`, for the same reason as [`load_tail`](Self::load_tail).
    #[inline(always)]
    fn load_head(&self) -> usize {
        self.head.load(Ordering::Acquire)
    }

    /// The slot of position `pos`, which may carry the closed mark (a `tail` value):
    /// the index below `mark_bit` ignores it.
    #[inline(always)]
    fn slot(&self, pos: usize) -> &Slot<T> {
        let index = pos & (self.mark_bit - 1);
        debug_assert!(index < self.capacity, "position {pos:#x} has no slot");
        // SAFETY: every position the queue forms has `index < capacity` (positions
        // start at 0 and advance only through `next`; the closed mark sits above the
        // index bits and is masked off), and `slots.len() == capacity`.
        unsafe { sealed::Sealed::slots(&self.slots).get_unchecked(index) }
    }

    /// The position after `pos` (an unmarked position: a marked `tail` is never
    /// advanced).
    #[inline(always)]
    fn next(&self, pos: usize) -> usize {
        debug_assert_eq!(pos & self.mark_bit, 0, "advancing the closed mark {pos:#x}");
        let index = pos & (self.mark_bit - 1);
        if index + 1 < self.capacity {
            pos.wrapping_add(1)
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Claims up to `max` (`>= 1`) consecutive positions from `tail` whose slots are
    /// empty, with one compare-and-swap. Returns the first position and the count;
    /// [`Refused::Unavailable`] if the queue was full, [`Refused::Closed`] if it is
    /// closed (whether full or not).
    #[inline(always)]
    fn claim_tail(&self, max: usize) -> Result<(usize, usize), Refused> {
        debug_assert!(max >= 1);
        let mut backoff = Backoff::new();
        let mut tail = self.load_tail();
        loop {
            let stamp = self.slot(tail).stamp.load(Ordering::Acquire);
            // No stamp carries the closed mark, so a ready slot means an open `tail`:
            // the open queue's push tests nothing more.
            if stamp == tail {
                let (mut end, mut n) = (self.next(tail), 1);
                while n < max && self.slot(end).stamp.load(Ordering::Acquire) == end {
                    end = self.next(end);
                    n += 1;
                }
                // On failure the current value is re-read with `load_tail`, so the
                // failure ordering can be `Relaxed`. The expected value is unmarked, so
                // once `close` has set the mark this fails, and the next look sees it.
                match self.tail.compare_exchange_weak(
                    tail,
                    end,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok((tail, n)),
                    Err(_) => {
                        backoff.spin();
                        tail = self.load_tail();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail.wrapping_add(1) {
                // The slot still holds the value pushed one lap ago: full, unless a
                // consumer has claimed it meanwhile. (Never for a marked `tail`: the
                // mark is in `tail + 1` and in no `stamp + one_lap`.)
                debug_assert_eq!(tail & self.mark_bit, 0);
                if self.load_head().wrapping_add(self.one_lap) == tail {
                    return Err(Refused::Unavailable);
                }
                backoff.snooze();
                tail = self.load_tail();
            } else if tail & self.mark_bit != 0 {
                // Closed: no push claims a position again.
                return Err(Refused::Closed);
            } else {
                // Another producer claimed `tail` and has not published yet, or our
                // `tail` is stale: wait for it to move.
                backoff.snooze();
                tail = self.load_tail();
            }
        }
    }

    /// Claims up to `max` (`>= 1`) consecutive positions from `head` whose slots are
    /// full, with one compare-and-swap. Returns the first position and the count;
    /// [`Refused::Unavailable`] if the queue was empty, [`Refused::Closed`] if it was
    /// empty and closed (drained: it never holds an item again).
    #[inline(always)]
    fn claim_head(&self, max: usize) -> Result<(usize, usize), Refused> {
        debug_assert!(max >= 1);
        let mut backoff = Backoff::new();
        let mut head = self.load_head();
        loop {
            let stamp = self.slot(head).stamp.load(Ordering::Acquire);
            if stamp == head.wrapping_add(1) {
                let (mut end, mut n) = (self.next(head), 1);
                while n < max && self.slot(end).stamp.load(Ordering::Acquire) == end.wrapping_add(1)
                {
                    end = self.next(end);
                    n += 1;
                }
                match self.head.compare_exchange_weak(
                    head,
                    end,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok((head, n)),
                    Err(_) => {
                        backoff.spin();
                        head = self.load_head();
                    }
                }
            } else if stamp == head {
                // The slot is empty for this lap: empty, unless a producer has
                // claimed it meanwhile; closed and drained if `tail` is `head` with
                // the mark (no push claims a position after the mark).
                let tail = self.load_tail();
                if tail == head {
                    return Err(Refused::Unavailable);
                }
                if tail == head | self.mark_bit {
                    return Err(Refused::Closed);
                }
                backoff.snooze();
                head = self.load_head();
            } else {
                // Another consumer claimed `head` and has not released yet, or our
                // `head` is stale: wait for it to move.
                backoff.snooze();
                head = self.load_head();
            }
        }
    }

    /// Writes `value` into the slot of the claimed position `pos` and publishes it.
    ///
    /// # Safety
    ///
    /// This thread claimed `pos` with `claim_tail` (so the slot is empty and ours) and
    /// has not published it yet.
    #[inline(always)]
    unsafe fn put(&self, pos: usize, value: T) {
        let slot = self.slot(pos);
        debug_assert_eq!(slot.stamp.load(Ordering::Relaxed), pos);
        // SAFETY: the slot is empty and exclusively ours until the stamp store (caller).
        slot.value
            .with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
        slot.stamp.store(pos.wrapping_add(1), Ordering::Release);
    }

    /// Moves the value out of the slot of the claimed position `pos` and frees the slot
    /// for the next lap.
    ///
    /// # Safety
    ///
    /// This thread claimed `pos` with `claim_head` (so the slot is full and ours) and
    /// has not taken it yet.
    #[inline(always)]
    unsafe fn take(&self, pos: usize) -> T {
        let slot = self.slot(pos);
        debug_assert_eq!(slot.stamp.load(Ordering::Relaxed), pos.wrapping_add(1));
        // SAFETY: the slot is initialised and exclusively ours until the stamp store
        // (caller); the store marks it empty, so the value is never read again.
        let value = slot.value.with_mut(|p| unsafe { p.read().assume_init() });
        slot.stamp
            .store(pos.wrapping_add(self.one_lap), Ordering::Release);
        value
    }

    /// Appends `value`, or hands it back if the queue holds `capacity` items or is
    /// closed.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] with `value` when the queue is full,
    /// [`PushError::Disconnected`] with `value` once it is [closed](Self::close) (full
    /// or not).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::PushError;
    ///
    /// let q = ringway::mpmc::Queue::new(1);
    /// assert_eq!(q.push(1), Ok(()));
    /// assert_eq!(q.push(2), Err(PushError::Full(2)));
    /// q.close();
    /// assert_eq!(q.push(3), Err(PushError::Disconnected(3)));
    /// ```
    #[inline]
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        match self.claim_tail(1) {
            // SAFETY: we just claimed `pos`.
            Ok((pos, _)) => unsafe { self.put(pos, value) },
            Err(Refused::Unavailable) => return Err(PushError::Full(value)),
            Err(Refused::Closed) => return Err(PushError::Disconnected(value)),
        }
        self.waiters.items_published();
        Ok(())
    }

    /// Removes and returns the oldest item, or `None` if the queue is empty.
    ///
    /// A [closed](Self::close) queue still gives out the items it holds; `None` from
    /// a queue that [`is_closed`](Self::is_closed) (checked before the pop) is final.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(2);
    /// assert_eq!(q.pop(), None::<u8>);
    /// q.push(5).unwrap();
    /// assert_eq!(q.pop(), Some(5));
    /// ```
    #[inline]
    pub fn pop(&self) -> Option<T> {
        let (pos, _) = self.claim_head(1).ok()?;
        // SAFETY: we just claimed `pos`.
        let value = unsafe { self.take(pos) };
        self.waiters.slots_freed();
        Some(value)
    }

    /// Appends `value`; if the queue is full, displaces the oldest item and returns it
    /// (`Ok(Some(oldest))`; `Ok(None)` if nothing was displaced).
    ///
    /// No item is lost silently: the displaced item is returned, never also popped.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] with `value` once the queue is [closed](Self::close): nothing
    /// is pushed or displaced. (A `force_push` that had already displaced the oldest
    /// item when `close` ran completes, like a `push` that had claimed its position:
    /// its item is popped by the drain.)
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(2);
    /// assert_eq!(q.force_push(1), Ok(None));
    /// assert_eq!(q.force_push(2), Ok(None));
    /// assert_eq!(q.force_push(3), Ok(Some(1)));
    /// assert_eq!(q.pop(), Some(2));
    /// q.close();
    /// assert_eq!(q.force_push(4), Err(ringway::Disconnected(4)));
    /// assert_eq!(q.pop(), Some(3));
    /// ```
    pub fn force_push(&self, mut value: T) -> Result<Option<T>, Disconnected<T>> {
        loop {
            match self.push(value) {
                Ok(()) => return Ok(None),
                Err(PushError::Full(v)) => value = v,
                Err(PushError::Disconnected(v)) => return Err(Disconnected(v)),
            }
            match self.displace_oldest(value) {
                Ok(old) => return Ok(Some(old)),
                // Not full any more, or closed: `push` tells which.
                Err(v) => value = v,
            }
        }
    }

    /// If the queue is full and open, claims the oldest position for consumers' sake
    /// (advancing `head` past it) and the tail position for ours, swaps `value` into
    /// their shared slot and returns the old value; otherwise hands `value` back.
    fn displace_oldest(&self, value: T) -> Result<T, T> {
        let tail = self.load_tail();
        if tail & self.mark_bit != 0 {
            return Err(value);
        }
        let slot = self.slot(tail);
        // The slot holds the value pushed one lap ago, published (the `Acquire` pairs
        // with that push's `Release`, so reading it below is ordered after its write).
        let oldest = tail.wrapping_sub(self.one_lap);
        if slot.stamp.load(Ordering::Acquire) != oldest.wrapping_add(1) {
            return Err(value);
        }
        let new_tail = self.next(tail);
        // Taking `head` from `oldest` claims that position as a consumer would; it
        // succeeds only if the queue is full (head one lap behind tail), in which case
        // no other producer can advance `tail` until we do. `Release`, like the claims:
        // a pop that reads this `head` must also see our earlier pushes, or it could
        // report "empty" with items queued.
        if self
            .head
            .compare_exchange(
                oldest,
                new_tail.wrapping_sub(self.one_lap),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Err(value);
        }
        // Advance `tail` to `new_tail`, keeping a closed mark that `close` may have set
        // since we read `tail` (a store would erase it, and the queue would reopen):
        // the mark bit is clear in both `tail` and `new_tail`, so adding their
        // difference leaves it as it is. No producer moves `tail` meanwhile (see
        // above). If the mark went in after our read, this push is linearised before
        // the close: from our read to the `head` compare-and-swap nothing but the mark
        // changed (no push claims while the queue is full, and no pop took `oldest`),
        // so no other operation can tell. A `force_push` that starts after `close`
        // returned reads the mark above and displaces nothing.
        let before = self
            .tail
            .fetch_add(new_tail.wrapping_sub(tail), Ordering::Release);
        debug_assert_eq!(
            before & !self.mark_bit,
            tail,
            "tail moved under a displacement"
        );
        // SAFETY: the slot is initialised (its stamp says so) and ours alone: no
        // consumer can claim `oldest` (head moved past it) and no producer can claim
        // `tail` until the stamp below marks the slot as published for `tail`.
        let old = slot
            .value
            .with_mut(|p| unsafe { core::ptr::replace(p, MaybeUninit::new(value)).assume_init() });
        slot.stamp.store(tail.wrapping_add(1), Ordering::Release);
        Ok(old)
    }

    /// Copies as many items from the front of `items` as fit, in order, claiming their
    /// slots with one compare-and-swap; returns how many were pushed.
    ///
    /// The items land in consecutive positions, so no other producer's items interleave
    /// with them. A [closed](Self::close) queue takes nothing: 0 then means full or
    /// closed, and [`is_closed`](Self::is_closed) tells which (once closed, always
    /// closed).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(3);
    /// assert_eq!(q.push_slice(&[1, 2, 3, 4]), 3);
    /// let mut out = [0; 4];
    /// assert_eq!(q.pop_slice(&mut out), 3);
    /// assert_eq!(out[..3], [1, 2, 3]);
    /// q.close();
    /// assert_eq!(q.push_slice(&[5]), 0);
    /// assert!(q.is_closed());
    /// ```
    pub fn push_slice(&self, items: &[T]) -> usize
    where
        T: Copy,
    {
        if items.is_empty() {
            return 0;
        }
        let Ok((mut pos, n)) = self.claim_tail(items.len().min(self.capacity)) else {
            return 0;
        };
        for &item in &items[..n] {
            // SAFETY: we claimed the `n` positions from `pos`; each is put exactly once.
            unsafe { self.put(pos, item) };
            pos = self.next(pos);
        }
        self.waiters.items_published();
        n
    }

    /// Moves as many of the oldest items as fit into the front of `dst`, claiming their
    /// slots with one compare-and-swap; returns how many were popped.
    ///
    /// The items come from consecutive positions, in FIFO order. A [closed](Self::close)
    /// queue gives out what it holds; 0 from a queue that
    /// [`is_closed`](Self::is_closed) (checked before the call) is final.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(4);
    /// q.push_slice(&[1, 2, 3]);
    /// let mut out = [0; 2];
    /// assert_eq!(q.pop_slice(&mut out), 2);
    /// assert_eq!(out, [1, 2]);
    /// ```
    pub fn pop_slice(&self, dst: &mut [T]) -> usize
    where
        T: Copy,
    {
        if dst.is_empty() {
            return 0;
        }
        let Ok((mut pos, n)) = self.claim_head(dst.len().min(self.capacity)) else {
            return 0;
        };
        for out in &mut dst[..n] {
            // SAFETY: we claimed the `n` positions from `pos`; each is taken once.
            *out = unsafe { self.take(pos) };
            pos = self.next(pos);
        }
        self.waiters.slots_freed();
        n
    }

    /// Closes the queue: from now on no push succeeds, pops drain the items left and
    /// then report closed, and every thread or future waiting on the queue wakes.
    /// Returns `true` if this call closed it, `false` if it was already closed.
    ///
    /// After `close`:
    /// * [`push`](Self::push) hands its value back in [`PushError::Disconnected`],
    ///   [`force_push`](Self::force_push) in [`Disconnected`], and
    ///   [`push_slice`](Self::push_slice) pushes nothing; the waiting pushes
    ///   (`push_blocking`, `push_timeout`, `push_async`) give the value back in
    ///   [`Disconnected`] (`PushTimeoutError::Disconnected`), whether the queue is full
    ///   or not;
    /// * [`pop`](Self::pop) and [`pop_slice`](Self::pop_slice) return the items still
    ///   queued, then `None` and 0; the waiting pops (`pop_blocking`, `pop_timeout`,
    ///   `pop_async`) return the items, then `Disconnected` (`PopTimeoutError::Disconnected`);
    /// * [`is_closed`](Self::is_closed) is `true`, for good (a queue never reopens;
    ///   dropping it drops the items left, as for an open queue).
    ///
    /// Pushes that succeed are linearised before the close: a push (or a
    /// `force_push` displacement) that had claimed its position when the mark went
    /// in completes, and its item is among those the pops drain; no push that starts
    /// after `close` returns succeeds. Whatever the closing thread did before
    /// `close` is visible to a thread that sees the queue closed (through
    /// `is_closed`, a refused push or a `Disconnected` pop), as for a `Release` store
    /// and an `Acquire` load. The same event as an SPSC ring's dropped half, with the
    /// same errors ([`Disconnected`]); it works without `std` too.
    ///
    /// Costs one read-modify-write of the producers' index (and, with
    /// [`WaitStrategy::SpinPark`], the wake-ups); an open queue's `push` and `pop` pay
    /// nothing for it.
    ///
    /// # Panics
    ///
    /// Never. (Wakers that panic when woken are isolated, as for every wake-up; see
    /// [`WaitStrategy`].)
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::PushError;
    ///
    /// let q = ringway::mpmc::Queue::new(4);
    /// q.push("left").unwrap();
    /// assert!(q.close()); // this call closed it
    /// assert!(!q.close()); // already closed
    /// assert_eq!(q.push("refused"), Err(PushError::Disconnected("refused")));
    /// assert_eq!(q.pop(), Some("left")); // drains what is left
    /// assert_eq!(q.pop(), None); // then nothing, for good
    /// ```
    ///
    /// A consumer blocked on a queue that nobody will fill again gets a way out:
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use ringway::{mpmc::Queue, Disconnected, WaitStrategy};
    ///
    /// let q = Queue::<u32>::with_wait_strategy(4, WaitStrategy::SPIN_PARK);
    /// std::thread::scope(|s| {
    ///     let consumer = s.spawn(|| {
    ///         let mut got = Vec::new();
    ///         while let Ok(v) = q.pop_blocking() {
    ///             got.push(v);
    ///         }
    ///         got // `pop_blocking` returned `Err(Disconnected(()))`
    ///     });
    ///     q.push_blocking(1).unwrap();
    ///     q.push_blocking(2).unwrap();
    ///     q.close(); // wakes the consumer if it sleeps
    ///     assert_eq!(consumer.join().unwrap(), [1, 2]);
    /// });
    /// assert_eq!(q.push_blocking(3), Err(Disconnected(3)));
    /// # }
    /// ```
    pub fn close(&self) -> bool {
        // `Release`: what this thread did before is visible to a thread whose
        // `Acquire` load of `tail` (`load_tail`: `is_closed`, the claims) reads the
        // mark. A read-modify-write, so it lands after every claim before it in
        // `tail`'s modification order (which the claims' compare-and-swaps of an
        // unmarked value then cannot follow), and it continues their release sequence.
        let before = self.tail.fetch_or(self.mark_bit, Ordering::Release);
        debug_assert!(
            before & (self.mark_bit - 1) < self.capacity,
            "tail {before:#x} is not a position"
        );
        if before & self.mark_bit != 0 {
            return false;
        }
        // Every waiter must wake and look again: a consumer waiting for items that
        // will never come, a producer waiting for room it may no longer use (the same
        // hooks as an SPSC half's drop; each notifies after a `SeqCst` fence, so a
        // waiter that announced itself is woken or sees the mark in its next look).
        self.waiters.items_published();
        self.waiters.slots_freed();
        true
    }

    /// Whether the queue has been [closed](Self::close) (once `true`, always `true`).
    ///
    /// `Acquire`: a thread that sees `true` also sees what the closing thread did
    /// before [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: ringway::mpmc::StaticQueue<u8, 2> = ringway::mpmc::StaticQueue::new();
    /// assert!(!Q.is_closed());
    /// Q.push_slice(&[1, 2]);
    /// Q.close();
    /// assert!(Q.is_closed());
    /// // Full or closed? `push_slice` returns 0 for both; `is_closed` tells.
    /// assert_eq!(Q.push_slice(&[3]), 0);
    /// let mut out = [0; 2];
    /// assert_eq!(Q.pop_slice(&mut out), 2);
    /// assert_eq!(Q.pop_slice(&mut out), 0);
    /// ```
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.load_tail() & self.mark_bit != 0
    }

    /// The exact number of items the queue holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::<u8>::new(10);
    /// assert_eq!(q.capacity(), 10);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of items between the positions `head` and `tail` (unmarked: the
    /// caller masks the closed mark off), which are at most a lap apart.
    #[inline]
    fn distance(&self, head: usize, tail: usize) -> usize {
        debug_assert_eq!((head | tail) & self.mark_bit, 0, "a marked position");
        let hix = head & (self.mark_bit - 1);
        let tix = tail & (self.mark_bit - 1);
        if hix < tix {
            tix - hix
        } else if hix > tix {
            self.capacity - hix + tix
        } else if tail == head {
            0
        } else {
            self.capacity
        }
    }

    /// The number of items in the queue: a snapshot of a consistent pair of `head` and
    /// `tail`, always in `0 ..= capacity`.
    ///
    /// Under concurrency it counts items whose positions are claimed, including a push
    /// still writing its value and excluding a pop still reading its own; by the time
    /// it returns, other threads may have changed it. (On a weak memory model the pair
    /// it reads may also be one that never coexisted in real time, when the push that
    /// moved `tail` and the pop that moved `head` are not ordered with each other; the
    /// result is still within `0 ..= capacity`.)
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(4);
    /// q.push_slice(&[1, 2, 3]);
    /// assert_eq!(q.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        loop {
            // Acquire pairs with the claims' `Release`: the `head` read below is never
            // behind a pop whose push this `tail` does not show, and vice versa.
            let tail = self.load_tail();
            let head = self.load_head();
            // Only compared: nothing is read on the strength of this load.
            if self.tail.load(Ordering::Relaxed) == tail {
                return self.distance(head, tail & !self.mark_bit);
            }
        }
    }

    /// Whether the queue holds no items (a snapshot, see [`len`](Self::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(4);
    /// assert!(q.is_empty());
    /// q.push(1).unwrap();
    /// assert!(!q.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds `capacity` items (a snapshot, see [`len`](Self::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(1);
    /// q.push(1).unwrap();
    /// assert!(q.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity
    }
}

impl<T, S: Storage<T>> Drop for Queue<T, S> {
    fn drop(&mut self) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        // Never touch loom's cells again while a failed model unwinds (see the facade).
        if sync::model_panicked() {
            return;
        }
        let head = load_mut(&mut self.head);
        let tail = load_mut(&mut self.tail) & !self.mark_bit;
        let mut pos = head;
        for _ in 0..self.distance(head, tail) {
            let slot = self.slot(pos);
            // SAFETY: with `&mut self` no operation is in flight, so every position in
            // `head .. tail` was published: its slot holds an initialised value that
            // nothing else will read or drop.
            slot.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = self.next(pos);
        }
    }
}

impl<T, S: Storage<T>> IntoIterator for Queue<T, S> {
    type Item = T;
    type IntoIter = IntoIter<T, S>;

    /// Turns the queue into an iterator that moves its items out, oldest first (as
    /// crossbeam's `ArrayQueue` does). Items the iterator does not yield are dropped
    /// with it.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::Queue::new(4);
    /// q.push_slice(&[1, 2, 3]);
    /// assert_eq!(q.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    fn into_iter(self) -> IntoIter<T, S> {
        IntoIter { queue: self }
    }
}

/// An iterator that moves the items out of a queue it owns, oldest first, from
/// [`Queue::into_iter`] (or [`StaticQueue::into_iter`]).
///
/// Dropping it drops the items it has not yielded, exactly once.
///
/// # Examples
///
/// ```
/// let q = ringway::mpmc::Queue::new(3);
/// q.push_slice(&['a', 'b', 'c']);
/// let mut items = q.into_iter();
/// assert_eq!(items.len(), 3);
/// assert_eq!(items.next(), Some('a'));
/// assert_eq!(items.collect::<String>(), "bc");
/// ```
pub struct IntoIter<T, S: Storage<T> = Heap<T>> {
    /// The queue, owned: nothing else can push or pop, so `len` is exact.
    queue: Queue<T, S>,
}

impl<T, S: Storage<T>> Iterator for IntoIter<T, S> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        self.queue.pop()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.queue.len();
        (len, Some(len))
    }
}

impl<T, S: Storage<T>> ExactSizeIterator for IntoIter<T, S> {}

impl<T, S: Storage<T>> core::iter::FusedIterator for IntoIter<T, S> {}

impl<T, S: Storage<T>> fmt::Debug for IntoIter<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("len", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<T, S: Storage<T>> fmt::Debug for Queue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// An MPMC queue that holds exactly `N` items in place: no allocation, a `const`
/// constructor, so it can live in a `static` and be used from `&'static` (firmware,
/// interrupt handlers, callbacks set up before anything may allocate).
///
/// It dereferences to a [`Queue<T, Inline<T, N>>`](Queue), which has the whole queue
/// API (the same code as a [`Queue::new`] queue: only the storage differs). `N` may be
/// any capacity of at least 1 (0 is a compile-time error). The indices sit on their own
/// cache lines and the slots are padded at both ends, with the line size that
/// crossbeam-utils' `CachePadded` chooses for the target.
///
/// Needs atomic compare-and-swap, like the whole [`mpmc`](self) module
/// (`target_has_atomic = "ptr"`; not on `thumbv6m-none-eabi`). Building a large `N` in
/// a `static` runs its slot initialisation in the compiler's const evaluator.
///
/// `StaticQueue<T, N>` is `Send` and `Sync` when `T: Send`.
///
/// # Examples
///
/// ```
/// use ringway::mpmc::StaticQueue;
///
/// static EVENTS: StaticQueue<u32, 100> = StaticQueue::new();
///
/// std::thread::scope(|s| {
///     for p in 0..2 {
///         s.spawn(move || {
///             for i in 0..50 {
///                 while EVENTS.push(p * 100 + i).is_err() {
///                     std::hint::spin_loop();
///                 }
///             }
///         });
///     }
/// });
/// assert_eq!(EVENTS.len(), 100);
/// let mut all = [0; 100];
/// assert_eq!(EVENTS.pop_slice(&mut all), 100);
/// ```
///
/// A capacity of 0 does not compile:
///
/// ```compile_fail
/// static Q: ringway::mpmc::StaticQueue<u8, 0> = ringway::mpmc::StaticQueue::new();
/// ```
pub struct StaticQueue<T, const N: usize> {
    queue: Queue<T, Inline<T, N>>,
}

impl<T, const N: usize> StaticQueue<T, N> {
    loom_const_fn! {
        /// Creates an empty queue of capacity `N` whose waiting operations never sleep,
        /// like [`Queue::new`]'s (`WaitStrategy::SPIN_YIELD` with the `std` feature).
        ///
        /// `const`: usable in a `static` (in ordinary builds; under `--cfg ringway_loom` it is
        /// a plain function).
        ///
        /// # Panics
        ///
        /// Never at run time: `N == 0` is a compile-time error.
        ///
        /// # Examples
        ///
        /// ```
        /// static Q: ringway::mpmc::StaticQueue<&str, 8> = ringway::mpmc::StaticQueue::new();
        /// Q.push("hello").unwrap();
        /// assert_eq!(Q.pop(), Some("hello"));
        /// ```
        pub fn new() -> Self {
            #[cfg(feature = "std")]
            let waiters = Waiters::new(WaitStrategy::SPIN_YIELD);
            #[cfg(not(feature = "std"))]
            let waiters = Waiters;
            StaticQueue {
                queue: Queue::inline(waiters),
            }
        }
    }

    loom_const_fn! {
        /// Creates an empty queue of capacity `N` whose waiting operations wait as
        /// `strategy` says (see [`Queue::with_wait_strategy`]); `const`, like
        /// [`new`](Self::new).
        ///
        /// # Examples
        ///
        /// ```
        /// use ringway::{mpmc::StaticQueue, WaitStrategy};
        ///
        /// static Q: StaticQueue<u64, 4> =
        ///     StaticQueue::with_wait_strategy(WaitStrategy::SpinPark { spins: 64 });
        /// let consumer = std::thread::spawn(|| Q.pop_blocking()); // parks until woken
        /// Q.push_blocking(9).unwrap();
        /// assert_eq!(consumer.join().unwrap(), Ok(9));
        /// ```
        #[cfg(feature = "std")]
        pub fn with_wait_strategy(strategy: WaitStrategy) -> Self {
            StaticQueue {
                queue: Queue::inline(Waiters::new(strategy)),
            }
        }
    }
}

impl<T, const N: usize> Default for StaticQueue<T, N> {
    /// [`StaticQueue::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Deref for StaticQueue<T, N> {
    type Target = Queue<T, Inline<T, N>>;

    /// The queue: every operation of [`Queue`] works through it.
    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.queue
    }
}

impl<T, const N: usize> IntoIterator for StaticQueue<T, N> {
    type Item = T;
    type IntoIter = IntoIter<T, Inline<T, N>>;

    /// Turns the queue into an iterator that moves its items out, oldest first (see
    /// [`Queue::into_iter`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = ringway::mpmc::StaticQueue::<u8, 4>::new();
    /// q.push_slice(&[7, 8]);
    /// assert_eq!(q.into_iter().collect::<Vec<_>>(), [7, 8]);
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        self.queue.into_iter()
    }
}

impl<T, const N: usize> fmt::Debug for StaticQueue<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StaticQueue").field(&self.queue).finish()
    }
}
