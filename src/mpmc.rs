//! The multi-producer multi-consumer bounded queue.
//!
//! # Algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue ("per-slot sequence stamps", 1024cores.net),
//! with the lap-packed positions of crossbeam's `ArrayQueue` so that any capacity works
//! without `%` or `/`, DPDK-style bulk claims for the slice operations, and one change
//! of our own: **both sides claim their positions in the slot, not in `tail` or
//! `head`**, so neither side ever reads the other side's counter.
//!
//! A *position* is `lap * one_lap + index`, where `index < capacity` names a slot and
//! `one_lap` is twice the smallest power of two above `capacity + 3` (`state_bit`);
//! the position after the last index of a lap is index 0 of the next lap. `head` is
//! the next position to pop and `tail` the next to push. Every slot carries a `stamp`:
//!
//! * `pos`: empty, ready for the push at `pos`;
//! * `pos + state_bit` (*writing*): a push claimed `pos` and is writing its value;
//! * `pos + state_bit + 1` (*claiming*): a slice push claimed the positions from `pos`;
//! * `pos + 1`: it holds the value pushed at `pos`, ready for the pop at `pos`;
//! * `pos + state_bit + 3` (*reading*): a pop claimed `pos` and is moving its value
//!   out (after which it sets `pos + one_lap`, empty for the next lap);
//! * `pos + state_bit + 4` (*draining*): a slice pop claimed the positions from `pos`;
//! * `pos + state_bit + 2` (*closed*): the queue was closed and drained at `pos`.
//!
//! **Push.** A producer reads `tail` and the stamp of its slot. If the slot is empty it
//! claims the position with a compare-and-swap of the stamp (empty to writing), moves
//! `tail` on with a plain store, writes the value and publishes it with a `Release`
//! store of the stamp. The claim is the compare-and-swap of the stamp alone; `tail` is
//! a hint, so one read-modify-write per item, as in `ArrayQueue`. A producer that
//! finds the slot already claimed (or published, or gone further) moves `tail` on
//! with a compare-and-swap and tries the next position, so a producer pre-empted after
//! its claim never holds the others up, and a late store that moves `tail` back onto
//! claimed positions only costs the next producer those steps. `tail` only ever
//! holds positions whose predecessors are all claimed, so **positions are claimed in
//! order**: a claim of `pos + 1` happens after (and, through `tail`'s
//! `Release`/`Acquire`, is ordered after) the claim of `pos`. If the slot still
//! holds last lap's item, unclaimed, the queue is full (pops claim in order too, so no
//! pop has claimed anything); if a pop has claimed that item (*reading*), the push waits
//! for the slot, so a push right after its own thread's pop is never refused.
//!
//! **Pop.** The mirror image. A consumer reads `head` and its slot's stamp: full, it
//! claims the position with a compare-and-swap of the stamp (full to reading), moves
//! `head` on with a plain store (unless a consumer that saw the claim has),
//! moves the value out and frees the slot for the next lap; writing, it waits for the
//! value; empty, the queue is empty: no push has claimed `head`, so (claims being in
//! order) none has claimed a later position, and a pop right after its own thread's
//! push never finds the queue empty.
//!
//! So a consumer polling an empty queue and a producer polling a full one each read
//! their slot's line and nothing else, and the counters stay on the lines of their own
//! side. crossbeam's `ArrayQueue` claims pushes in `tail` and pops in `head`, so it must
//! read `tail` to tell "empty" from "claimed, being written" (and `head` to tell "full"
//! from "claimed, being read"), and every such poll pulls the line that the other
//! side's next compare-and-swap needs. Measured (PERFORMANCE.md): claiming pushes in the
//! slot took the round trip through two queues from about 3x the floor to about 1.3x;
//! claiming pops in the slot too made one producer and one consumer stream 2.2x-2.8x
//! faster (a producer polling a full queue no longer pulls `head`'s line away from the
//! consumer's next compare-and-swap), with the round trip unchanged.
//!
//! The stamps are the truth and the counters hints: [`len`](Queue::len) and `Drop`
//! read the stamps after each counter for positions claimed that it does not show
//! yet.
//!
//! **Batches.** A slice push claims its first slot with the *claiming* stamp, which
//! tells other producers to wait instead of moving `tail`; it then marks the empty
//! slots after it as writing (no one else can claim them: claims go through `tail`'s
//! position), moves `tail` past them in one store, and fills them. So a batch is
//! contiguous. A slice pop does the same with *draining* in its first slot and
//! *reading* in the full slots after it, and moves `head` past them all in one store
//! (DPDK's burst mode).
//!
//! # Closing
//!
//! [`close`](Queue::close) sets a flag, `closed`, that every push reads before it
//! claims (a line nobody writes, so it stays in every reader's cache). A pop that
//! finds the queue empty reads it too and, if it is set, *seals* the slot at `head`:
//! a compare-and-swap of its stamp from empty to closed, which no push can claim. A
//! push that read the flag before it was set and claims first wins the race, and its
//! item is popped before any pop reports closed; one that comes second finds the seal
//! and reports closed. Claims being in order, nothing is ever claimed after the seal.
//!
//! # Progress
//!
//! A push or pop that finds its slot ready, or finds the queue full or empty,
//! completes in a bounded number of steps unless other threads keep winning the
//! compare-and-swap (lock-free among threads that are running). A push never waits for
//! another push, nor a pop for another pop, except for the few steps in which a slice
//! push or pop claims its batch, and a pop that reaches a slot whose last-lap item
//! another pop (or a displacing `force_push`) is still moving out. It is **not**
//! strictly lock-free: a thread pre-empted between claiming a position and publishing
//! (or freeing) its slot stalls that slot, and a pop (or push) that reaches the
//! stalled slot waits for it, with a back-off that spins and then yields. Pushes that
//! find the queue full and pops that find it empty never wait: they return at once.

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
use crate::sync::{self, load_mut, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use crate::wait::Waiters;
#[cfg(any(feature = "std", feature = "async"))]
use crate::WaitStrategy;
use crate::{Disconnected, InvariantIn, PushError};

#[cfg(any(feature = "std", feature = "async"))]
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

/// Which side of the queue a claim is for: pushes claim empty slots and move `tail`,
/// pops claim full ones and move `head`, with the same code (`Queue::claim_run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Producers.
    Push,
    /// Consumers.
    Pop,
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
    /// The next position to pop: a hint that is never ahead of the pops' claims (every
    /// position before it was claimed by a pop) and may trail them, by at most
    /// `capacity` positions. Moved past a position by the pop that claimed it (a plain
    /// store that may land late and move it back, `step_past`), or by a consumer that
    /// finds that position's slot claimed (`advance`); past a whole batch by the slice
    /// pop that claimed it (no one else moves it meanwhile); and past the oldest item
    /// by `force_push` when it displaces that item. No push reads it.
    ///
    /// `head` and `tail` are always read with `Acquire` (`load_head`, `load_tail`) and
    /// moved with `Release` (all but `displace_oldest`'s store of `tail`, which says
    /// why not):
    /// the stamps alone order the slot accesses, but an operation that observes another
    /// thread's claim must also observe what that thread did before it, or a pop that
    /// follows its own thread's push could see another thread's later pop yet miss the
    /// push before it and report "empty" (not linearizable on weak memory models; a
    /// Miri weak-memory test caught exactly this with `Relaxed`).
    head: CachePadded<AtomicUsize>,
    /// The next position to push: a hint that is never ahead of the pushes' claims
    /// and may trail them, by at most `capacity` positions (as `head`). Moved past a
    /// position by the push that claimed it (`step_past`), or by a producer that finds
    /// that position's slot claimed (`advance`); past a whole batch by the slice push
    /// that claimed it (no one else moves it meanwhile); and by `force_push` when it
    /// displaces.
    ///
    /// Invariant: the push side's next claim (`settle(Push, tail)`) is at most one lap
    /// of `capacity` positions ahead of the pop side's (`settle(Pop, head)`), and never
    /// behind it. The counters themselves may cross (a late store).
    tail: CachePadded<AtomicUsize>,
    /// Exactly `capacity` slots; slot `i` starts with stamp `i` (empty for lap 0).
    slots: S,
    /// The number of slots, at least 1.
    capacity: usize,
    /// The smallest power of two above `capacity + 3`: the bit that a stamp adds to
    /// its position for the five states of a slot besides "empty" and "full"
    /// (`writing`, `claiming`, `closed_at`, `reading`, `draining`: `pos + state_bit +
    /// 0, 1, 2, 3, 4`). No position and no "full" stamp has it (their index part, at
    /// most `capacity`, is below it), and `capacity + 3 < state_bit` keeps the five
    /// apart from the next lap's positions.
    state_bit: usize,
    /// `2 * state_bit`: the distance between two positions that share a slot.
    one_lap: usize,
    /// Set once, by [`close`](Queue::close). Read by every push before it claims and
    /// by a pop that finds the queue empty; written once, so its line stays in every
    /// reader's cache.
    closed: AtomicBool,
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
        /// value pushed at `pos`; in between, the states of a claim (see the module
        /// docs). Stored with `Release` by the thread that just wrote (or read) `value`,
        /// loaded with `Acquire` before the next access to `value`.
        pub(crate) stamp: AtomicUsize,
        /// Initialised from the write of the push that claimed a position `pos` of this
        /// slot until the read of the pop that claimed it: while `stamp` is `pos + 1`,
        /// or says a pop (or a displacing `force_push`) holds `pos`; accessed only by
        /// the thread whose claim the stamp shows.
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
        Self::with_waiters(capacity, Waiters::spin_yield())
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
    #[cfg(any(feature = "std", feature = "async"))]
    pub fn with_wait_strategy(capacity: usize, strategy: WaitStrategy) -> Self {
        Self::with_waiters(capacity, Waiters::new(strategy))
    }

    fn with_waiters(capacity: usize, waiters: Waiters) -> Self {
        assert!(capacity > 0, "ringway: capacity must be at least 1");
        let state_bit = capacity
            .checked_add(4)
            .and_then(usize::checked_next_power_of_two)
            // `one_lap = 2 * state_bit` must fit, at most `isize::MAX + 1`.
            .filter(|&bit| bit <= 1 << (usize::BITS - 2));
        let (Some(state_bit), Ok(_)) = (state_bit, Layout::array::<Slot<T>>(capacity)) else {
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
            state_bit,
            one_lap: 2 * state_bit,
            closed: AtomicBool::new(false),
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
                // `N + 4` and the doubling cannot overflow: an array of `N` slots fits
                // in `isize::MAX` bytes, and a slot is at least two words, so
                // `N < 2^59` on 64-bit targets (`N < 2^27` on 32-bit ones).
                state_bit: (N + 4).next_power_of_two(),
                one_lap: 2 * (N + 4).next_power_of_two(),
                closed: AtomicBool::new(false),
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

    /// The slot of position `pos`.
    #[inline(always)]
    fn slot(&self, pos: usize) -> &Slot<T> {
        let index = pos & (self.state_bit - 1);
        debug_assert!(index < self.capacity, "position {pos:#x} has no slot");
        // SAFETY: every position the queue forms has `index < capacity` (positions
        // start at 0 and advance only through `next`), and `slots.len() == capacity`.
        unsafe { sealed::Sealed::slots(&self.slots).get_unchecked(index) }
    }

    /// The position after `pos`.
    #[inline(always)]
    fn next(&self, pos: usize) -> usize {
        debug_assert_eq!(pos & self.state_bit, 0, "{pos:#x} is not a position");
        let index = pos & (self.state_bit - 1);
        if index + 1 < self.capacity {
            pos.wrapping_add(1)
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// The stamp of `pos`'s slot while a single push writes it (claimed, unpublished).
    #[inline(always)]
    fn writing(&self, pos: usize) -> usize {
        pos.wrapping_add(self.state_bit)
    }

    /// The stamp of `pos`'s slot while a slice push claims the positions from `pos`
    /// (claimed, unpublished; `tail` not yet past the batch).
    #[inline(always)]
    fn claiming(&self, pos: usize) -> usize {
        pos.wrapping_add(self.state_bit).wrapping_add(1)
    }

    /// The stamp of `pos`'s slot once a pop found the closed queue drained at `pos`:
    /// no push claims `pos`, or any position after it, ever.
    #[inline(always)]
    fn closed_at(&self, pos: usize) -> usize {
        pos.wrapping_add(self.state_bit).wrapping_add(2)
    }

    /// The stamp of `pos`'s slot while a single pop (or a displacing `force_push`)
    /// moves its value out (claimed, not yet released).
    #[inline(always)]
    fn reading(&self, pos: usize) -> usize {
        pos.wrapping_add(self.state_bit).wrapping_add(3)
    }

    /// The stamp of `pos`'s slot while a slice pop claims the positions from `pos`
    /// (claimed, not yet released; `head` not yet past the batch).
    #[inline(always)]
    fn draining(&self, pos: usize) -> usize {
        pos.wrapping_add(self.state_bit).wrapping_add(4)
    }

    /// `side`'s counter: `tail` for pushes, `head` for pops.
    #[inline(always)]
    fn counter(&self, side: Side) -> &AtomicUsize {
        match side {
            Side::Push => &self.tail,
            Side::Pop => &self.head,
        }
    }

    /// The stamp of `pos`'s slot when it is ready for `side`: empty for a push, full
    /// (published) for a pop.
    #[inline(always)]
    fn ready(&self, side: Side, pos: usize) -> usize {
        match side {
            Side::Push => pos,
            Side::Pop => pos.wrapping_add(1),
        }
    }

    /// The stamp of `pos`'s slot once a single claim of `side` holds it:
    /// [`writing`](Self::writing) for a push, [`reading`](Self::reading) for a pop.
    #[inline(always)]
    fn claimed(&self, side: Side, pos: usize) -> usize {
        match side {
            Side::Push => self.writing(pos),
            Side::Pop => self.reading(pos),
        }
    }

    /// Moves `side`'s counter from the claimed position `pos` to the next one, unless
    /// another thread of that side already has; returns the counter afterwards.
    #[inline(always)]
    fn advance(&self, side: Side, pos: usize) -> usize {
        let next = self.next(pos);
        // `Release`: a thread whose `Acquire` read of the counter sees `next` claims
        // after `pos` was claimed and sees that claim (claims happen in position order),
        // and what the claimant did before it (see `load_tail`).
        match self
            .counter(side)
            .compare_exchange(pos, next, Ordering::Release, Ordering::Acquire)
        {
            Ok(_) => next,
            Err(current) => current,
        }
    }

    /// Whether `stamp`, read from `pos`'s slot, shows that `side` has claimed `pos`
    /// already: the slot has gone past the state in which `side` claims `pos` (a
    /// single claim, the item published or taken, or any stamp of a later lap). Then a
    /// counter that reads `pos` is stale (the claimant has not moved it yet, or moved
    /// it back with a late store, see [`step_past`](Self::step_past)) and may be moved
    /// on without waiting for anyone.
    ///
    /// A slot's stamps for its positions `p`, `p + one_lap`, ... only ever move forward
    /// in this order: `p` (empty), `writing` or `claiming`, `p + 1` (full), `reading` or
    /// `draining`, `p + one_lap` (empty for the next lap), ... (or `closed_at`, for
    /// good). So `stamp - pos` is a lap count times `one_lap` plus the state's offset
    /// (0, 1, or `state_bit + 0 ..= 4`, all below `one_lap`), and its sign says which
    /// lap. Not passed, and so left to the caller: the state in which `side` claims
    /// `pos` and the ones before it, a batch claim in progress at `pos` (`claiming`
    /// for pushes, `draining` for pops: its claimant moves the counter past the whole
    /// batch, and no one may claim inside it meanwhile), and `closed_at(pos)`.
    #[inline(always)]
    fn passed(&self, side: Side, pos: usize, stamp: usize) -> bool {
        let offset = stamp.wrapping_sub(pos);
        // A later lap: `pos` was claimed, and its slot went round since. (Positions
        // wrap round `usize` too; a counter is never stale by half of that.)
        if offset as isize >= self.one_lap as isize {
            return true;
        }
        match side {
            // Claimed by a single push, published, or taken by a pop.
            Side::Push => {
                stamp == self.writing(pos)
                    || stamp == pos.wrapping_add(1)
                    || stamp == self.reading(pos)
                    || stamp == self.draining(pos)
            }
            // Claimed by a single pop (the next state, `pos + one_lap`, is a later lap).
            Side::Pop => stamp == self.reading(pos),
        }
    }

    /// The first position from `pos` (a value of `side`'s counter) whose slot has not
    /// [`passed`](Self::passed) it: where `side`'s next claim will be, once the
    /// counter has been moved on. Reads stamps only; moves nothing. Exact when no
    /// operation is in flight; under concurrency a snapshot that may be behind, and at
    /// most `capacity` steps from `pos`.
    fn settle(&self, side: Side, mut pos: usize) -> usize {
        for _ in 0..self.capacity {
            if !self.passed(side, pos, self.slot(pos).stamp.load(Ordering::Acquire)) {
                break;
            }
            pos = self.next(pos);
        }
        pos
    }

    /// Moves `side`'s counter past `pos`, which this thread has just claimed alone
    /// (a single push or pop), with a plain store: the claim in the slot is what
    /// counts, and the counter is a hint, so no second read-modify-write.
    ///
    /// The store can land late: another thread of the side may have moved the counter
    /// past `pos` (it saw our claim, `advance`) and further, and a late store then
    /// moves it *back*, to a position that is already claimed. Nothing is claimed
    /// twice (a claim is a compare-and-swap of the slot's stamp from `ready`, and no
    /// stamp goes back), and the next thread of the side that reads the counter sees a
    /// slot that has [`passed`](Self::passed) it and moves it on. The load first only
    /// makes a late store rarer: it skips the store once someone else has moved the
    /// counter.
    #[inline(always)]
    fn step_past(&self, side: Side, pos: usize) {
        let counter = self.counter(side);
        if counter.load(Ordering::Relaxed) == pos {
            // `Release`: as `advance`'s, for a thread that reads the counter we store.
            counter.store(self.next(pos), Ordering::Release);
        }
    }

    /// Claims for `side` up to `max` (`>= 1`) consecutive positions from `pos`, whose
    /// slot's stamp was just read as [`ready`](Self::ready): the first with a
    /// compare-and-swap of its stamp (to [`writing`](Self::writing) or
    /// [`reading`](Self::reading) for a single position, to
    /// [`claiming`](Self::claiming) or [`draining`](Self::draining) for a batch, which
    /// tells the side's other threads to wait for the claimant to move the counter past
    /// the whole batch), then the ready slots after it with plain stores. Returns the
    /// first position and the count, or `None` if the compare-and-swap lost (the
    /// caller reads the stamp again). Pushes and pops claim alike, in mirror image.
    #[inline(always)]
    fn claim_run(&self, side: Side, pos: usize, max: usize) -> Option<(usize, usize)> {
        let busy = match (side, max == 1) {
            (_, true) => self.claimed(side, pos),
            (Side::Push, false) => self.claiming(pos),
            (Side::Pop, false) => self.draining(pos),
        };
        // `AcqRel`. `Acquire` pairs with the `Release` of the store that made the slot
        // ready (a pop's release of the old value, a push's publication of the new one;
        // the caller's load already read this very store, so it is belt and braces).
        // `Release` is what a counter moved by another thread of the side must carry:
        // that thread reads this stamp with `Acquire` and moves the counter with
        // `Release`, so a thread that reads the moved counter also sees what we did
        // before this claim, our own pushes and pops included (see `load_tail`). With
        // `Relaxed` in a push's claim (before pushes and pops shared this code), CI's
        // 16-seed Miri sweep of `pop_after_own_push_is_never_empty` saw a push report
        // "full" with a free slot (seed 13); weakened here, the mutation check's loom
        // models or Miri kill it.
        if self
            .slot(pos)
            .stamp
            .compare_exchange_weak(
                self.ready(side, pos),
                busy,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return None;
        }
        if max == 1 {
            self.step_past(side, pos);
            return Some((pos, 1));
        }
        // Nobody else moves the counter while our first slot says `claiming` or
        // `draining`, and no one else claims the ready slots after it (claims go
        // through the counter's position), so the rest of the batch is ours for the
        // taking.
        let (mut end, mut n) = (self.next(pos), 1);
        while n < max && self.slot(end).stamp.load(Ordering::Acquire) == self.ready(side, end) {
            self.slot(end)
                .stamp
                .store(self.claimed(side, end), Ordering::Relaxed);
            end = self.next(end);
            n += 1;
        }
        // `Release` publishes the stamps above to the threads that read this counter.
        self.counter(side).store(end, Ordering::Release);
        Some((pos, n))
    }

    /// Claims up to `max` (`>= 1`) consecutive positions from `tail` whose slots are
    /// empty ([`claim_run`](Self::claim_run)). Returns the first position and the
    /// count; [`Refused::Unavailable`] if the queue was full, [`Refused::Closed`] if it
    /// is closed.
    ///
    /// "Full" is read off the slot alone: it still holds last lap's item and no pop has
    /// claimed it. So a producer polling a full queue reads only its slot's line, never
    /// `head`'s, which the consumers write.
    #[inline(always)]
    fn claim_tail(&self, max: usize) -> Result<(usize, usize), Refused> {
        debug_assert!(max >= 1);
        if self.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        let mut backoff = Backoff::new();
        let mut tail = self.load_tail();
        loop {
            let slot = self.slot(tail);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                match self.claim_run(Side::Push, tail, max) {
                    Some(claimed) => return Ok(claimed),
                    None => backoff.spin(),
                }
            } else if self.passed(Side::Push, tail, stamp) {
                // Claimed by a single push (writing, published, taken since or gone
                // round a lap) that has not moved `tail` yet, or `tail` was moved back
                // by a late store (`step_past`): move it on (lock-free among
                // producers).
                tail = self.advance(Side::Push, tail);
            } else if stamp.wrapping_add(self.one_lap) == tail.wrapping_add(1) {
                // The slot still holds the value pushed one lap ago, and no pop has
                // claimed it (a claim changes the stamp): full. Pops claim positions in
                // order, so none has claimed a later one either; the queue holds
                // `capacity` items, read off this slot without touching `head`'s line,
                // which the consumers write.
                return Err(Refused::Unavailable);
            } else if stamp == self.reading(tail.wrapping_sub(self.one_lap))
                || stamp == self.draining(tail.wrapping_sub(self.one_lap))
            {
                // A pop claimed last lap's item and is moving it out: the queue is not
                // full, so wait for the slot (a push right after its own thread's pop
                // is never refused).
                backoff.snooze();
            } else if stamp == self.closed_at(tail) {
                return Err(Refused::Closed);
            } else {
                // A batch claim in progress at `tail` (its claimant moves `tail`, and
                // publishes the slot, which then has passed), or last lap's push still
                // writing this slot: wait.
                backoff.snooze();
                tail = self.load_tail();
            }
        }
    }

    /// Claims up to `max` (`>= 1`) consecutive positions from `head` whose slots are
    /// full ([`claim_run`](Self::claim_run)). Returns the first position and the count;
    /// [`Refused::Unavailable`] if the queue was empty, [`Refused::Closed`] if it was
    /// empty and closed (drained: it never holds an item again).
    ///
    /// "Empty" is read off the slot alone: its stamp says no push has claimed `head`,
    /// and pushes claim positions in order, so none has claimed a later one either. So
    /// a consumer polling an empty queue reads only its slot's line, never `tail`'s,
    /// which the producers write.
    #[inline(always)]
    fn claim_head(&self, max: usize) -> Result<(usize, usize), Refused> {
        debug_assert!(max >= 1);
        let mut backoff = Backoff::new();
        let mut head = self.load_head();
        loop {
            let slot = self.slot(head);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head.wrapping_add(1) {
                match self.claim_run(Side::Pop, head, max) {
                    Some(claimed) => return Ok(claimed),
                    None => backoff.spin(),
                }
            } else if stamp == head {
                // No push has claimed `head`: empty.
                if !self.closed.load(Ordering::Acquire) {
                    return Err(Refused::Unavailable);
                }
                // Closed: seal the slot, so that no push that read `closed` before it
                // was set claims `head` (or, claims being in order, anything after).
                // Losing the race to such a push means an item is coming: look again.
                if slot
                    .stamp
                    .compare_exchange(
                        head,
                        self.closed_at(head),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    return Err(Refused::Closed);
                }
            } else if self.passed(Side::Pop, head, stamp) {
                // Claimed by a single pop (still reading, done, or gone round a lap)
                // that has not moved `head` yet, or `head` was moved back by a late
                // store (`step_past`): move it on (lock-free among consumers).
                head = self.advance(Side::Pop, head);
            } else if stamp == self.writing(head) || stamp == self.claiming(head) {
                // A push claimed `head` and is writing it: wait for the item.
                backoff.snooze();
            } else if stamp == self.closed_at(head) {
                return Err(Refused::Closed);
            } else if stamp == self.reading(head.wrapping_sub(self.one_lap))
                || stamp == self.draining(head.wrapping_sub(self.one_lap))
            {
                // Last lap's item in this slot is still being moved out: by a pop
                // (then no push has claimed `head` yet), or by a `force_push` that
                // displaces it, which has claimed `head` for its own item already (and
                // moved `tail` past it), so "empty" would be wrong: a pop right after
                // its own push could report it (loom's
                // `pop_behind_a_displacement_in_progress`). Wait for the slot, with a
                // back-off that yields: the thread moving the item out may have been
                // pre-empted, and spinning would keep it off the core.
                backoff.snooze();
            } else {
                // A batch claim in progress at `head`: its claimant moves `head` past
                // the batch in a few steps.
                backoff.spin();
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
        debug_assert!({
            let stamp = slot.stamp.load(Ordering::Relaxed);
            stamp == self.writing(pos) || stamp == self.claiming(pos)
        });
        // SAFETY: the slot is claimed by us (its stamp says `writing` or `claiming`,
        // which only our claim set) and exclusively ours until the stamp store below.
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
        debug_assert!({
            let stamp = slot.stamp.load(Ordering::Relaxed);
            stamp == self.reading(pos) || stamp == self.draining(pos)
        });
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

    /// If the queue is full and open, claims the oldest position as a pop would (and
    /// moves `head` past it) and the tail position for ours, swaps `value` into their
    /// shared slot and returns the old value; otherwise hands `value` back.
    fn displace_oldest(&self, value: T) -> Result<T, T> {
        // Only steers: a closed queue's refusal comes from `push`'s own (`Acquire`)
        // look at `closed`, which `force_push` takes next.
        if self.closed.load(Ordering::Relaxed) {
            return Err(value);
        }
        let tail = self.load_tail();
        let slot = self.slot(tail);
        let oldest = tail.wrapping_sub(self.one_lap);
        // Claim the oldest item as a pop does: its slot's stamp from "full" (published
        // for `oldest`, so no pop has claimed it, and pops claim in order: `head` is
        // `oldest`, the queue is full) to `reading`. Then no push has claimed `tail`
        // (a claim needs the slot empty), so `tail` is not stale: it is the next
        // position to push, and no other producer claims or moves it while the stamp
        // says `reading`. `AcqRel`, as a pop's claim: `Acquire` pairs with the push
        // that published the value we take; `Release` carries our earlier pushes to a
        // consumer that moves `head` past this claim (see `claim_run`).
        if slot
            .stamp
            .compare_exchange(
                oldest.wrapping_add(1),
                self.reading(oldest),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Err(value);
        }
        self.advance(Side::Pop, oldest);
        // Only we move `tail` forward now (see above; a late store of an earlier
        // claim may still move it back, `step_past`, and producers then wait at this
        // slot until it is published). If `close` ran since our check of
        // `closed`, this push is linearised before it, like a push that had claimed its
        // slot: the drain pops its item.
        // `Relaxed`, unlike the other counter stores: the queue is full before and
        // after, so what a thread that reads this `tail` does next it decides from
        // the slots' stamps, read with `Acquire` (a push's claim, `len`'s `settle`, a
        // displacement's compare-and-swap), and `len` clamps to `capacity`. Measured:
        // the `Release` here was killed by no loom model and no Miri seed once the
        // counters became hints (xtask/mutants.py, 2026-12-07).
        let new_tail = self.next(tail);
        self.tail.store(new_tail, Ordering::Relaxed);
        // SAFETY: the slot is initialised (it held the published value of `oldest`) and
        // ours alone: we claimed `oldest` as a consumer (no other pop can), and no
        // producer can claim `tail` until the stamp below marks the slot as published
        // for `tail`.
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
    /// No push that starts after `close` returns succeeds. A push running while
    /// `close` runs may still succeed (it read the queue open and claimed its slot
    /// before a pop sealed it; see the module docs), and then its item is among those
    /// the pops drain: no pop reports the queue closed while an accepted item is in
    /// it. Whatever the closing thread did before
    /// `close` is visible to a thread that sees the queue closed (through
    /// `is_closed`, a refused push or a `Disconnected` pop), as for a `Release` store
    /// and an `Acquire` load. The same event as an SPSC ring's dropped half, with the
    /// same errors ([`Disconnected`]); it works without `std` too.
    ///
    /// Costs one swap of the `closed` flag (and, with [`WaitStrategy::SpinPark`], the
    /// wake-ups). An open queue's `push` reads the flag, on a line that nobody writes,
    /// and its `pop` reads it only when it finds the queue empty.
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
        // `AcqRel`: what this thread did before is visible to a thread whose `Acquire`
        // load of `closed` (`is_closed`, the claims, a pop of the drained queue) reads
        // `true`; of two closers, one sees the other's `true` and returns `false`.
        if self.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        // Every waiter must wake and look again: a consumer waiting for items that
        // will never come, a producer waiting for room it may no longer use (the same
        // hooks as an SPSC half's drop; each notifies after a `SeqCst` fence, so a
        // waiter that announced itself is woken or sees `closed` in its next look).
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
        self.closed.load(Ordering::Acquire)
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

    /// The number of positions from `head` to `tail`, clamped to `0 ..= capacity`
    /// (under concurrency the two may come from different moments, `tail` even behind
    /// `head`; when no operation is in flight, `tail` is at most a lap ahead of `head`
    /// and the count exact).
    #[inline]
    fn distance(&self, head: usize, tail: usize) -> usize {
        let lap = |pos: usize| pos & !(self.one_lap - 1);
        let index = |pos: usize| (pos & (self.one_lap - 1)) as isize;
        // Whole laps from `head`'s to `tail`'s, signed: `one_lap` is a power of two,
        // so a shift divides.
        let laps = (lap(tail).wrapping_sub(lap(head)) as isize) >> self.one_lap.trailing_zeros();
        let n = laps
            .saturating_mul(self.capacity as isize)
            .saturating_add(index(tail) - index(head));
        n.clamp(0, self.capacity as isize) as usize
    }

    /// The number of items in the queue: exact when no other thread is using it, a
    /// snapshot otherwise, always in `0 ..= capacity`.
    ///
    /// Under concurrency it counts items whose positions are claimed, including a push
    /// still writing its value and excluding a pop still reading its own; by the time
    /// it returns, other threads may have changed it. (It reads `head` and `tail`, then
    /// the slots after them that were claimed without moving them yet, at slightly
    /// different moments; on a weak memory model the two ends may also be ones that
    /// never coexisted in real time. The result is still within `0 ..= capacity`.)
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
            // The counters are hints that may trail the claims (`step_past`): each end
            // is where that side's next claim will be (`settle`). `Acquire` (the
            // counters' and the stamps') pairs with the claims' `Release`: the `head`
            // end found below is never behind a pop whose push this `tail` end does not
            // show, and vice versa.
            let tail = self.settle(Side::Push, self.load_tail());
            let head = self.settle(Side::Pop, self.load_head());
            // The same `tail` end after `head`'s was found: the two coexisted.
            if self.settle(Side::Push, self.load_tail()) == tail {
                return self.distance(head, tail);
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
        // The counters may trail the claims (`step_past`); with `&mut self` nothing is
        // in flight, so `settle` finds the exact ends.
        let head = load_mut(&mut self.head);
        let head = self.settle(Side::Pop, head);
        let tail = load_mut(&mut self.tail);
        let tail = self.settle(Side::Push, tail);
        let len = self.distance(head, tail);
        debug_assert!(
            len <= self.capacity,
            "queue invariant: len {len} > capacity"
        );
        let positions = core::iter::successors(Some(head), |&pos| Some(self.next(pos)));
        crate::drop_each(positions.take(len), |pos| {
            debug_assert_eq!(
                self.slot(pos).stamp.load(Ordering::Relaxed),
                pos.wrapping_add(1),
                "queue invariant: position {pos:#x} between head and tail is not full"
            );
            // SAFETY: with `&mut self` no operation is in flight, so every position in
            // `head .. tail` (the settled ends) was published: its slot holds an
            // initialised value that nothing else will read or drop; `drop_each`
            // hands each position over once (also if a `Drop` panics).
            self.slot(pos)
                .value
                .with_mut(|p| unsafe { (*p).assume_init_drop() })
        });
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
        /// like [`Queue::new`]'s (`WaitStrategy::SPIN_YIELD` with the `std` or `async`
        /// feature).
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
            StaticQueue {
                queue: Queue::inline(Waiters::spin_yield()),
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
        #[cfg(any(feature = "std", feature = "async"))]
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
