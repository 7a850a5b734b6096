//! One producer, many consumers, and every consumer sees every item: a broadcast ring.
//!
//! For market-data fan-out, logging taps and pipelines with several readers. Consumers
//! join at any time ([`Producer::subscribe`], [`Consumer::subscribe`]) and leave by
//! being dropped; each one reads at its own pace and gets a clone of every item pushed
//! after it subscribed ([`Consumer::pop`], [`Consumer::pop_slice`]), or borrows it
//! ([`Consumer::pop_with`], for items that are not `Clone`). The ring keeps the
//! original, and drops it when a later push reuses its slot or when the last handle
//! goes: every item is dropped exactly once.
//!
//! ```
//! use ringway::broadcast::{self, Policy};
//!
//! let (mut tx, mut strategy) = broadcast::channel(4, Policy::Backpressure);
//! let mut logger = strategy.subscribe();
//! tx.push("tick 1").unwrap();
//! tx.push("tick 2").unwrap();
//! assert_eq!(strategy.pop(), Ok(Some("tick 1")));
//! assert_eq!(logger.pop(), Ok(Some("tick 1")));
//! assert_eq!(logger.pop(), Ok(Some("tick 2")));
//! assert_eq!(logger.pop(), Ok(None));
//! ```
//!
//! # The slow-reader policy
//!
//! Chosen once, at construction ([`Policy`]):
//!
//! * [`Policy::Backpressure`]: the producer never overwrites an item some consumer has
//!   not read; [`Producer::push`] reports [`PushError::Full`] while the slowest consumer
//!   is `capacity` items behind (the LMAX Disruptor's gating). Nothing is ever lost.
//! * [`Policy::Lossy`]: the producer never waits; it overwrites the oldest item. A
//!   consumer that fell more than `capacity` items behind gets [`Lagged`] with the number
//!   of items it missed, and its next pop resumes at the oldest item still held (tokio's
//!   `broadcast` reports `Lagged(n)` the same way).
//!
//! The capacity is rounded up to a power of two (as tokio's `broadcast` does), so that a
//! position maps to its slot with a mask: [`Producer::capacity`] says what it became.
//!
//! # Progress
//!
//! Under `Backpressure` both sides are wait-free: a push is a slot write and two stores
//! (plus, when its cached view of the slowest consumer says full, one pass over the
//! consumers' cursors); a pop is a load, a clone and a store. Under `Lossy` a consumer
//! is wait-free, and so is the producer except for one case: a push waits for consumers
//! that are cloning *the very item it overwrites* at that moment to finish their clone
//! (each holds a read count on the slot for the duration of one `clone`, and registers
//! only after a plain look found that item, so consumers polling for items not pushed
//! yet never hold the producer up). A consumer pre-empted in the middle of that clone
//! (or in the few instructions between registering and seeing the producer's bit) holds
//! the producer up until it runs again; a consumer that is merely slow, or asleep
//! between pops, never does.
//!
//! # The protocol
//!
//! Each slot has an atomic *state* word: the *stamp* of the item it holds (its
//! position plus one, in the high 47 bits; 0 before the first item), and under `Lossy`
//! a *writing* bit and a count of the consumers cloning the item (the low 17 bits).
//! The producer writes the item at position `tail` into slot `tail & mask` and then
//! stores the new stamp with `Release`; a consumer at position `pos` loads the state
//! with `Acquire`, and finds the item there if the stamp is `pos`'s (one cache line
//! per hand-off, as `spsc::stamped`), an earlier lap's (empty) or, under `Lossy`, a
//! later lap's (lagged). The producer also publishes `tail` itself, for `len`, for
//! subscribers and for a lagged consumer's restart; no consumer reads it per item.
//!
//! * **Backpressure gating** (the Disruptor's gating sequences, with the producer
//!   caching the slowest one as the SPSC rings cache the remote index): each consumer
//!   publishes its *cursor*, the next position it will read, with `Release` after each
//!   pop. The producer keeps a lower bound of all cursors and only when that bound says
//!   full does it load every cursor again (`Acquire`: the consumers' clones of the item
//!   it is about to drop are finished). The cursors live in a list of nodes that only
//!   grows; a dropped consumer marks its node idle and a new one reuses it, so the list
//!   holds about as many nodes as the most consumers alive at once (a subscriber racing
//!   a consumer's drop may add one instead of reusing it), and is freed with the ring.
//! * **Joining under backpressure** is the store-buffering (Dekker) pattern: a new
//!   consumer writes a conservative cursor (the `tail` it saw) into its node, runs a
//!   `SeqCst` fence and loads `tail` again, starting there; the producer runs a `SeqCst`
//!   fence before it loads the cursors. Either the producer's pass sees the new cursor,
//!   or the consumer's second load sees every push the stale pass allowed, so it starts
//!   past every slot that pass lets the producer reuse.
//! * **Lossy overwriting** is a per-slot reader count instead (a seqlock whose readers
//!   register, since a clone must not race with the drop of the item it reads): a
//!   consumer looks at the state, and only if the stamp is its own and no write is in
//!   progress adds one to it (`Acquire`), clones if that is still so, and subtracts one
//!   (`Release`). The producer sets the writing bit (`Acquire`), waits for the count to
//!   reach zero (clones already under way, and registrations a moment older than the
//!   bit, which leave at once), swaps the item, and moves the stamp on and clears the bit in one
//!   `Release` addition that leaves any late readers' counts intact.
//!
//! Stamps are positions truncated to 47 bits: a `Lossy` consumer suspended between two
//! pops while the producer pushes 2^47 items (about 39 hours at a billion a second)
//! could mistake a newer item for its own: it would get that item, in order, and a
//! wrong lag count; never an invalid value. Under `Backpressure` a consumer is never
//! more than `capacity` behind, so the question does not arise.
//!
//! # Waiting
//!
//! Consumers wait for items ([`Consumer::pop_blocking`], [`Consumer::pop_timeout`],
//! [`Consumer::pop_async`]) and a `Backpressure` producer for room
//! ([`Producer::push_blocking`], ...), as the ring's
//! [`WaitStrategy`](crate::WaitStrategy) says ([`channel_with_wait_strategy`]); a
//! consumer's waiting pop reports [`PopError::Disconnected`] once the producer is gone
//! and it has read everything. A producer with no consumers never waits: there is
//! nobody to wait for, and its items are dropped as later pushes reuse their slots.
//!
//! # Limits
//!
//! The ring lives on the heap (feature `alloc`; there is no static form, since the list
//! of cursors grows with the consumers) and exists wherever the target has 64-bit
//! atomics (`target_has_atomic = "64"`: every 64-bit target, and 32-bit ones such as
//! i686, ARMv7-A and wasm32): positions and slot states are 64-bit words everywhere
//! (a state packs a 47-bit stamp). At most [`MAX_CONSUMERS`] consumers at once, a
//! capacity of at most [`MAX_CAPACITY`].

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::mem::MaybeUninit;
use core::ptr;

use crossbeam_utils::CachePadded;

// Positions and slot states are `Word`s (64 bits on every target), so that positions
// never wrap in practice and stamps keep their 47 bits on 32-bit targets too.
use crate::sync::{
    self, fence, Arc, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, UnsafeCell, Word,
};
use crate::wait::Waiters;
use crate::{InvariantIn, PushError};

/// The largest capacity [`channel`] accepts: 2^45 (stamps keep 47 bits, and a consumer
/// tells an earlier lap from a later one by the sign of their difference), or 2^31 on a
/// 32-bit target, where the memory runs out long before.
///
/// # Examples
///
/// ```
/// # #[cfg(target_pointer_width = "64")]
/// assert_eq!(ringway::broadcast::MAX_CAPACITY, 1 << 45);
/// ```
pub const MAX_CAPACITY: usize = if usize::BITS >= 64 {
    (1u64 << 45) as usize
} else {
    1 << (usize::BITS - 1)
};

/// The most consumers a ring can have alive at once (2^16 - 1: the width of a slot's
/// reader count under [`Policy::Lossy`]).
///
/// # Examples
///
/// ```
/// assert_eq!(ringway::broadcast::MAX_CONSUMERS, 65_535);
/// ```
pub const MAX_CONSUMERS: usize = READERS as usize;

/// One consumer in a slot's reader count.
const READER: Word = 1;
/// The reader count's bits of a slot state.
const READERS: Word = (1 << 16) - 1;
/// The bit of a slot state that says the producer is replacing the item (`Lossy`).
const WRITING: Word = 1 << 16;
/// Where the stamp starts in a slot state.
const STAMP_SHIFT: u32 = 17;
/// The bits of a slot state below the stamp.
const LOW: Word = (1 << STAMP_SHIFT) - 1;
/// The cursor of a node no consumer holds.
const IDLE: Word = Word::MAX;

/// The stamp of the item pushed at `pos`, in place in a slot state: `pos + 1` in the
/// high 47 bits (truncated), so that 0 means "never written".
#[inline(always)]
fn stamp(pos: Word) -> Word {
    pos.wrapping_add(1) << STAMP_SHIFT
}

/// What a consumer does when nobody is ahead of it: which policy the ring has.
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Policy};
///
/// let (tx, _rx) = broadcast::channel::<u8>(2, Policy::Lossy);
/// assert_eq!(tx.policy(), Policy::Lossy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The producer waits for the slowest consumer: [`Producer::push`] reports
    /// [`PushError::Full`] while some consumer is `capacity` items behind. No item is
    /// lost; a stalled consumer stalls the producer.
    Backpressure,
    /// The producer never waits and overwrites the oldest item; a consumer that fell
    /// more than `capacity` items behind gets [`Lagged`] and resumes at the oldest item
    /// still held.
    Lossy,
}

/// A consumer fell behind a [`Policy::Lossy`] producer: it missed `self.0` items, and
/// its next pop returns the oldest item still held.
///
/// That item is the next to be overwritten: a consumer that is slower than the producer
/// for good lags again at once, and reads a few items between lag reports. Pace the
/// producer, or read faster (`pop_slice`), where that matters.
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Lagged, Policy};
///
/// let (mut tx, mut rx) = broadcast::channel(2, Policy::Lossy);
/// for i in 0..5 {
///     tx.push(i).unwrap(); // never fails under `Lossy`
/// }
/// assert_eq!(rx.pop(), Err(Lagged(3))); // 0, 1 and 2 were overwritten
/// assert_eq!(rx.pop(), Ok(Some(3)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lagged(pub u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the consumer fell behind and missed {} items", self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Lagged {}

/// Why a consumer's waiting pop returned without an item.
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, PopError, Policy};
///
/// let (tx, mut rx) = broadcast::channel::<u8>(2, Policy::Backpressure);
/// drop(tx);
/// assert_eq!(rx.pop_blocking(), Err(PopError::Disconnected));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopError {
    /// The consumer missed this many items ([`Lagged`]; `Lossy` rings only); the next
    /// pop resumes at the oldest item still held.
    Lagged(u64),
    /// The time ran out with nothing to pop (only from [`Consumer::pop_timeout`]).
    Timeout,
    /// The producer is gone and the consumer has read everything it left.
    Disconnected,
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopError::Lagged(n) => Lagged(*n).fmt(f),
            PopError::Timeout => f.write_str("timed out waiting on an empty ring"),
            PopError::Disconnected => f.write_str("the producer is gone and the ring is empty"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PopError {}

/// One slot of the ring.
struct Slot<T> {
    /// `stamp(pos)` of the item held (0 before the first: see `value`), plus under `Lossy` the
    /// `WRITING` bit while the producer replaces it and the number of consumers cloning
    /// it. Only the producer changes the stamp and the bit.
    state: AtomicU64,
    /// Initialised once the slot's first position was pushed (slot `i` once `tail > i`),
    /// and from then on always (a push replaces the item). Written only by the producer,
    /// while no consumer may read it (gating, or the reader count); read by consumers
    /// through `&T` only. (Not "while the stamp is not 0": stamps are truncated, and the
    /// position `2^47 - 1` and every `2^47` after it have stamp 0.)
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A `Backpressure` consumer's published cursor.
struct Node {
    /// The next position its consumer will read: it has finished with every earlier
    /// item. `IDLE` while no consumer holds the node. Stored by the consumer (`Release`
    /// after each pop), loaded by the producer (`Acquire`).
    cursor: CachePadded<AtomicU64>,
    /// The node added before this one; written before the node is published on the
    /// list (a `Release` compare-and-swap of `Shared::nodes`), read after an `Acquire`
    /// load of a pointer to it, never changed after. (A facade cell, so that loom sees a
    /// read that is not ordered after the write.)
    next: UnsafeCell<*mut Node>,
}

impl Node {
    /// The node added before this one (null for the first).
    #[inline]
    fn next(&self) -> *mut Node {
        // SAFETY: written once before the node was published, and this thread reached
        // the node through an `Acquire` load of a pointer published after that write
        // (or owns it, in `Shared::drop`): no write races this read.
        self.next.with(|next| unsafe { *next })
    }
}

/// What the producer and every consumer share.
struct Shared<T> {
    /// `mask + 1` slots, a power of two.
    slots: Box<[Slot<T>]>,
    /// `slots.len() - 1`: `pos & mask` is the slot of `pos`.
    mask: Word,
    policy: Policy,
    /// The number of pushes begun (refused ones aside): stored by the producer before it
    /// writes the item, so it runs at most one ahead of the stamps, and a thread that has
    /// seen an item's stamp sees a `tail` past it. Read by subscribers, `len` and lagged
    /// consumers, never per item.
    tail: CachePadded<AtomicU64>,
    /// The newest node of the cursor list (`Backpressure`), or null. Nodes are added at
    /// the head and freed only with the ring, so a pointer read from the list stays
    /// valid as long as the ring.
    nodes: AtomicPtr<Node>,
    /// Live consumers, at most `MAX_CONSUMERS`.
    consumers: AtomicUsize,
    /// About how many nodes are idle (a hint: incremented after a node is marked idle,
    /// decremented after one is claimed, so it may briefly wrap below zero).
    idle: AtomicUsize,
    /// Set (`Release`) by the producer's drop, after its last push.
    closed: AtomicBool,
    waiters: Waiters,
    /// The ring stores `T`s: invariant (see `InvariantIn`).
    _invariant: InvariantIn<T>,
}

/// Creates a broadcast ring of at least `capacity` items (rounded up to a power of two)
/// with the slow-reader `policy`, and returns its producer and a first consumer.
///
/// Its waiting operations wait as [`WaitStrategy::SPIN_YIELD`](crate::WaitStrategy::SPIN_YIELD)
/// says (they never sleep, so pushes and pops pay nothing for them);
/// [`channel_with_wait_strategy`] picks another strategy.
///
/// # Panics
///
/// If `capacity` is 0 or above [`MAX_CAPACITY`].
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Policy};
/// use ringway::PushError;
///
/// let (mut tx, mut rx) = broadcast::channel(3, Policy::Backpressure);
/// assert_eq!(tx.capacity(), 4);
/// for i in 0..4 {
///     tx.push(i).unwrap();
/// }
/// assert_eq!(tx.push(4), Err(PushError::Full(4))); // `rx` has read nothing yet
/// assert_eq!(rx.pop(), Ok(Some(0)));
/// assert_eq!(tx.push(4), Ok(()));
/// ```
pub fn channel<T>(capacity: usize, policy: Policy) -> (Producer<T>, Consumer<T>) {
    with_waiters(capacity, policy, Waiters::spin_yield())
}

/// Creates a broadcast ring like [`channel`] whose waiting operations wait as
/// `strategy` says: with [`WaitStrategy::SpinPark`](crate::WaitStrategy::SpinPark) they
/// sleep, and every push (and every `Backpressure` pop) pays a fence to wake them.
///
/// # Panics
///
/// As [`channel`].
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Policy};
/// use ringway::WaitStrategy;
///
/// let (mut tx, mut rx) =
///     broadcast::channel_with_wait_strategy(4, Policy::Lossy, WaitStrategy::SPIN_PARK);
/// let reader = std::thread::spawn(move || rx.pop_blocking()); // sleeps until woken
/// tx.push(7).unwrap();
/// assert_eq!(reader.join().unwrap(), Ok(7));
/// ```
#[cfg(any(feature = "std", feature = "async"))]
pub fn channel_with_wait_strategy<T>(
    capacity: usize,
    policy: Policy,
    strategy: crate::WaitStrategy,
) -> (Producer<T>, Consumer<T>) {
    with_waiters(capacity, policy, Waiters::new(strategy))
}

fn with_waiters<T>(
    capacity: usize,
    policy: Policy,
    waiters: Waiters,
) -> (Producer<T>, Consumer<T>) {
    assert!(capacity > 0, "ringway: capacity must be at least 1");
    assert!(
        capacity <= MAX_CAPACITY,
        "ringway: capacity overflow: {capacity} is above the largest capacity of a \
         broadcast ring, {MAX_CAPACITY}"
    );
    let lap = capacity.next_power_of_two();
    let slots: Vec<Slot<T>> = (0..lap)
        .map(|_| Slot {
            state: AtomicU64::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        })
        .collect();
    let shared = Arc::new(Shared {
        slots: slots.into_boxed_slice(),
        mask: lap as Word - 1,
        policy,
        tail: CachePadded::new(AtomicU64::new(0)),
        nodes: AtomicPtr::new(ptr::null_mut()),
        consumers: AtomicUsize::new(0),
        idle: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
        waiters,
        _invariant: InvariantIn::default(),
    });
    let consumer = Consumer::join(&shared);
    let producer = Producer {
        shared,
        tail: 0,
        slowest: 0,
    };
    (producer, consumer)
}

impl<T> Shared<T> {
    /// The number of slots.
    #[inline(always)]
    fn lap(&self) -> Word {
        self.mask + 1
    }

    /// The slot of `pos`.
    #[inline(always)]
    fn slot(&self, pos: Word) -> &Slot<T> {
        // Below the number of slots, so it fits a `usize`.
        &self.slots[(pos & self.mask) as usize]
    }

    /// The smallest cursor of the live `Backpressure` consumers, or `tail` if there are
    /// none: no consumer will read a position below it again.
    #[cold]
    fn slowest_cursor(&self, tail: Word) -> Word {
        // Joining consumers: see the module docs (the fence pairs with theirs).
        fence(Ordering::SeqCst);
        let mut slowest = tail;
        let mut node = self.nodes.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: nodes on the list stay allocated as long as the ring (`nodes`).
            let n = unsafe { &*node };
            // `Acquire`: the consumer's clones of every item below its cursor are done
            // before the producer drops them.
            let cursor = n.cursor.load(Ordering::Acquire);
            if cursor != IDLE {
                debug_assert!(cursor <= tail, "a cursor past the producer");
                slowest = slowest.min(cursor);
            }
            node = n.next();
        }
        slowest
    }

    /// Takes a node for a new `Backpressure` consumer and publishes `cursor` in it: an
    /// idle one, or a new one added to the list.
    fn take_node(&self, cursor: Word) -> &Node {
        // Walks the list only when some node is idle, so that subscribing many consumers
        // one after the other is not quadratic.
        let mut node = if self.idle.load(Ordering::Relaxed) == 0 {
            ptr::null_mut()
        } else {
            self.nodes.load(Ordering::Acquire)
        };
        while !node.is_null() {
            // SAFETY: nodes on the list stay allocated as long as the ring (`nodes`).
            let n = unsafe { &*node };
            if n.cursor.load(Ordering::Relaxed) == IDLE
                && n.cursor
                    .compare_exchange(IDLE, cursor, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.idle.fetch_sub(1, Ordering::Relaxed);
                return n;
            }
            node = n.next();
        }
        let new = Box::into_raw(Box::new(Node {
            cursor: CachePadded::new(AtomicU64::new(cursor)),
            next: UnsafeCell::new(ptr::null_mut()),
        }));
        let mut head = self.nodes.load(Ordering::Relaxed);
        loop {
            // SAFETY: `new` is not on the list yet: only this thread sees it.
            unsafe { (*new).next.with_mut(|next| *next = head) };
            // `Release`: the producer that finds the node sees its fields.
            match self
                .nodes
                .compare_exchange(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        // SAFETY: on the list now, so allocated as long as the ring.
        unsafe { &*new }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // `Relaxed`: the last handle's drop synchronised with the others' (`Arc`).
        let mut node = self.nodes.load(Ordering::Relaxed);
        while !node.is_null() {
            // SAFETY: the last handle is gone: the nodes are ours, each freed once.
            let n = unsafe { Box::from_raw(node) };
            node = n.next();
        }
        if sync::model_panicked() {
            return;
        }
        // Slot `i` holds an item once position `i` was pushed (`Slot::value`).
        let pushed = sync::load_mut_u64(&mut self.tail);
        let pushed = usize::try_from(pushed).unwrap_or(usize::MAX);
        crate::drop_each(self.slots.iter_mut().take(pushed), |slot| {
            // SAFETY: the slot holds an item (above), nobody else can reach it now, and
            // `drop_each` hands each slot over once (also if a `Drop` panics).
            slot.value.with_mut(|p| unsafe { (*p).assume_init_drop() })
        });
    }
}

/// The pushing half of a broadcast ring.
///
/// `Send` and `Sync` when `T` is `Send` and `Sync` (consumers on other threads read
/// the items through shared references while the producer may drop them).
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Policy};
///
/// let (mut tx, mut rx) = broadcast::channel(8, Policy::Backpressure);
/// let reader = std::thread::spawn(move || {
///     let mut sum = 0;
///     for _ in 0..3 {
///         sum += rx.pop_blocking().unwrap();
///     }
///     sum
/// });
/// for i in 1..=3 {
///     tx.push_blocking(i);
/// }
/// assert_eq!(reader.join().unwrap(), 6);
/// ```
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next push; the shared `tail` holds the same value between
    /// pushes.
    tail: Word,
    /// `Backpressure`: a lower bound of every live consumer's cursor, from the last pass
    /// over them (the cached remote index). New consumers start at or after `tail`, so
    /// they never lower it.
    slowest: Word,
}

// SAFETY: the producer moves `T`s in and drops them on its own thread while consumers
// on other threads clone them through `&T`: `T: Send + Sync` covers both. Its own
// fields are plain positions and the shared ring, whose accesses follow the protocol.
unsafe impl<T: Send + Sync> Send for Producer<T> {}
// SAFETY: every `&self` method only reads atomics or subscribes (which any thread may
// do); pushing needs `&mut self`.
unsafe impl<T: Send + Sync> Sync for Producer<T> {}

impl<T> Producer<T> {
    /// Appends `value` for every consumer.
    ///
    /// Under [`Policy::Lossy`] it never fails: when the ring is full it overwrites (and
    /// drops) the oldest item. Under [`Policy::Backpressure`] it hands `value` back while
    /// the slowest consumer is `capacity` items behind. With no consumers it never
    /// fails.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] with `value` (`Backpressure` only).
    ///
    /// # Panics
    ///
    /// If the `Drop` of the item it overwrites panics: `value` is pushed by then, and the
    /// ring stays consistent (the old item is dropped last).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    /// use ringway::PushError;
    ///
    /// let (mut tx, mut rx) = broadcast::channel(1, Policy::Backpressure);
    /// assert_eq!(tx.push(1), Ok(()));
    /// assert_eq!(tx.push(2), Err(PushError::Full(2)));
    /// drop(rx); // nobody to wait for
    /// assert_eq!(tx.push(2), Ok(()));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let shared = &*self.shared;
        let tail = self.tail;
        let slot = shared.slot(tail);
        if shared.policy == Policy::Backpressure && tail.wrapping_sub(self.slowest) >= shared.lap()
        {
            self.slowest = shared.slowest_cursor(tail);
            if tail.wrapping_sub(self.slowest) >= shared.lap() {
                return Err(PushError::Full(value));
            }
        }
        self.tail = tail + 1;
        // Before the item's stamp, so that a thread that has seen the item (through the
        // stamp's `Release`) also sees a `tail` past it, and a consumer it subscribes
        // starts after it. `Relaxed`: a count, not a publication.
        shared.tail.store(self.tail, Ordering::Relaxed);
        let old = match shared.policy {
            Policy::Backpressure => {
                // SAFETY: every live consumer's cursor is past `tail - lap`, the item this
                // slot holds (gating, above), and new ones start at or after `tail`: no
                // consumer reads the slot until the stamp store below publishes it anew.
                let old = unsafe { self.replace(tail, slot, value) };
                slot.state.store(stamp(tail), Ordering::Release);
                old
            }
            Policy::Lossy => {
                // `Acquire`: the clones of the consumers counted here (and below) are done
                // before the item is dropped.
                let state = slot.state.fetch_or(WRITING, Ordering::Acquire);
                debug_assert_eq!(state & WRITING, 0, "only the producer writes");
                let mut readers = state & READERS;
                while readers != 0 {
                    sync::spin_loop();
                    readers = slot.state.load(Ordering::Acquire) & READERS;
                }
                // SAFETY: the writing bit turns every new reader away, and the count says
                // no reader that came before it is still cloning.
                let old = unsafe { self.replace(tail, slot, value) };
                // Moves the stamp from the old item's to `tail`'s and clears the bit in one
                // addition, leaving the counts of readers that came meanwhile (they see
                // the bit and leave).
                let step = stamp(tail).wrapping_sub(state & !LOW).wrapping_sub(WRITING);
                slot.state.fetch_add(step, Ordering::Release);
                old
            }
        };
        shared.waiters.items_published();
        // Dropped last: a panicking `Drop` of the old item leaves the ring consistent.
        drop(old);
        Ok(())
    }

    /// Writes `value` into `slot`, the slot of `tail`, and returns the item it held (from
    /// the previous lap), if any.
    ///
    /// # Safety
    ///
    /// No consumer reads the slot until its state is stored again.
    #[inline(always)]
    unsafe fn replace(&self, tail: Word, slot: &Slot<T>, value: T) -> Option<T> {
        let held = tail >= self.shared.lap();
        // SAFETY: exclusive access (caller); the slot holds an item from the previous lap
        // exactly when this is not the first lap (`Slot::value`).
        slot.value.with_mut(|p| unsafe {
            let old = if held {
                Some((*p).assume_init_read())
            } else {
                None
            };
            (*p).write(value);
            old
        })
    }

    /// A new consumer that gets every item pushed after this call returns.
    ///
    /// # Panics
    ///
    /// If the ring already has [`MAX_CONSUMERS`] consumers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, rx) = broadcast::channel(4, Policy::Lossy);
    /// drop(rx);
    /// tx.push(1).unwrap(); // nobody sees this one
    /// let mut late = tx.subscribe();
    /// tx.push(2).unwrap();
    /// assert_eq!(late.pop(), Ok(Some(2)));
    /// ```
    pub fn subscribe(&self) -> Consumer<T> {
        Consumer::join(&self.shared)
    }

    /// The number of items the ring holds: the capacity asked for, rounded up to a
    /// power of two.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (tx, _rx) = broadcast::channel::<u8>(1000, Policy::Lossy);
    /// assert_eq!(tx.capacity(), 1024);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }

    /// The ring's slow-reader policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (tx, _rx) = broadcast::channel::<u8>(2, Policy::Backpressure);
    /// assert_eq!(tx.policy(), Policy::Backpressure);
    /// ```
    pub fn policy(&self) -> Policy {
        self.shared.policy
    }

    /// The number of live consumers (a snapshot: others may subscribe or leave
    /// meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (tx, rx) = broadcast::channel::<u8>(2, Policy::Lossy);
    /// let rx2 = rx.subscribe();
    /// assert_eq!(tx.consumer_count(), 2);
    /// drop((rx, rx2));
    /// assert_eq!(tx.consumer_count(), 0);
    /// ```
    pub fn consumer_count(&self) -> usize {
        self.shared.consumers.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // `Release`: a consumer that sees the flag sees every push.
        self.shared.closed.store(true, Ordering::Release);
        self.shared.waiters.items_published();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("policy", &self.shared.policy)
            .field("capacity", &self.shared.lap())
            .field("tail", &self.tail)
            .finish_non_exhaustive()
    }
}

/// What a consumer found at its position.
enum Read<R> {
    /// The item was there; `R` is what the reader made of it.
    Item(R),
    /// Not pushed yet.
    Empty,
    /// Overwritten (`Lossy`).
    Lagged,
}

/// Gives a slot's reader count back when dropped, also if the clone panics.
struct Reading<'a>(&'a AtomicU64);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        // `Release`: the clone is done before the producer, seeing the count drop,
        // replaces the item.
        self.0.fetch_sub(READER, Ordering::Release);
    }
}

/// A reading half of a broadcast ring: gets a clone of every item pushed after it
/// subscribed, in order.
///
/// `Send` and `Sync` when `T` is `Send` and `Sync`. Dropping it releases it: a
/// [`Policy::Backpressure`] producer no longer waits for it.
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Policy};
///
/// let (mut tx, mut a) = broadcast::channel(4, Policy::Backpressure);
/// let mut b = a.subscribe();
/// tx.push(String::from("quote")).unwrap();
/// assert_eq!(a.pop(), Ok(Some(String::from("quote"))));
/// assert_eq!(b.pop(), Ok(Some(String::from("quote"))));
/// ```
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next pop.
    pos: Word,
    /// `Backpressure`: this consumer's node, whose cursor it keeps at `pos` (after each
    /// pop). Null under `Lossy`. Points into the ring's node list, allocated as long as
    /// `shared`.
    node: *const Node,
}

// SAFETY: a consumer clones `T`s through `&T` that other consumers (on other threads)
// read at the same time and the producer drops: `T: Send + Sync`. Its node pointer is
// into the shared ring and only used for atomic stores.
unsafe impl<T: Send + Sync> Send for Consumer<T> {}
// SAFETY: every `&self` method only reads atomics or subscribes; popping needs
// `&mut self`.
unsafe impl<T: Send + Sync> Sync for Consumer<T> {}

impl<T> Consumer<T> {
    /// A new consumer of `shared`, starting after the newest item.
    fn join(shared: &Arc<Shared<T>>) -> Consumer<T> {
        let before = shared.consumers.fetch_add(1, Ordering::Relaxed);
        if before >= MAX_CONSUMERS {
            shared.consumers.fetch_sub(1, Ordering::Relaxed);
            panic!("ringway: a broadcast ring has at most {MAX_CONSUMERS} consumers");
        }
        let (pos, node) = match shared.policy {
            // Items pushed after this load are at or after its value (the stamps, not
            // `tail`, publish them: `Relaxed`).
            Policy::Lossy => (shared.tail.load(Ordering::Relaxed), ptr::null()),
            Policy::Backpressure => {
                // A conservative cursor first, then the fence, then the start: see the
                // module docs (the fence pairs with the producer's in `slowest_cursor`).
                let seen = shared.tail.load(Ordering::Relaxed);
                let node = shared.take_node(seen);
                fence(Ordering::SeqCst);
                let start = shared.tail.load(Ordering::Relaxed);
                // Only raises the cursor (`start >= seen`). `Relaxed` suffices for a reused
                // node too: the previous owner's clones come before its `IDLE` store
                // (`Release`), which `take_node`'s compare-and-swap read, and the `SeqCst`
                // fence above is also an acquire fence (after that read) and a release
                // fence (before this store), so a producer that loads `start` (`Acquire`)
                // sees those clones finished. Moving the fence below this store would
                // break that.
                node.cursor.store(start, Ordering::Relaxed);
                (start, node as *const Node)
            }
        };
        Consumer {
            shared: Arc::clone(shared),
            pos,
            node,
        }
    }

    /// Looks at the item at `pos` and hands it to `read` if it is there.
    #[inline(always)]
    fn read_with<R>(&self, read: impl FnOnce(&T) -> R) -> Read<R> {
        let slot = self.shared.slot(self.pos);
        let want = stamp(self.pos);
        match self.shared.policy {
            Policy::Backpressure => {
                if slot.state.load(Ordering::Acquire) != want {
                    return Read::Empty;
                }
                // SAFETY: the stamp says the item is there (and initialised); the producer
                // does not replace it before this consumer's cursor passes `pos` (gating).
                Read::Item(slot.value.with(|p| read(unsafe { (*p).assume_init_ref() })))
            }
            Policy::Lossy => {
                // A look first, so that a consumer polling for an item not pushed yet
                // (or one it already missed) writes nothing: the producer's next push
                // overwrites exactly that slot, and must not wait for pollers. `Relaxed`:
                // it only decides whether to register; the `Acquire` below orders the read.
                let ready = |state: Word| state & !LOW == want && state & WRITING == 0;
                let mut state = slot.state.load(Ordering::Relaxed);
                let registered = ready(state);
                if registered {
                    // `Acquire`: sees the item the stamp announces.
                    state = slot.state.fetch_add(READER, Ordering::Acquire);
                }
                if registered && ready(state) {
                    // The count is ours: `reading` gives it back, also if `read` panics.
                    let reading = Reading(&slot.state);
                    debug_assert!(state & READERS < READERS, "reader count overflow");
                    // SAFETY: the stamp says the item is there, and the count this consumer
                    // holds (until `reading` drops) keeps the producer from replacing it.
                    let r = slot.value.with(|p| read(unsafe { (*p).assume_init_ref() }));
                    drop(reading);
                    return Read::Item(r);
                }
                if registered {
                    // The producer got there first: give the count back.
                    drop(Reading(&slot.state));
                }
                // The difference of the two stamps, as a signed 47-bit number (in the
                // high bits): negative for an earlier lap (not pushed yet, or being
                // pushed), otherwise an overwritten item.
                if ((state & !LOW).wrapping_sub(want) as i64) < 0 {
                    Read::Empty
                } else {
                    Read::Lagged
                }
            }
        }
    }

    /// Moves `pos` past the items it missed, to the oldest item still held, and says
    /// how many it skipped.
    #[cold]
    fn skip_lagged(&mut self) -> Lagged {
        let tail = self.shared.tail.load(Ordering::Relaxed);
        // At least one: the item at `pos` is gone. `tail` may be stale (below `pos`).
        let oldest = tail.saturating_sub(self.shared.lap()).max(self.pos + 1);
        let missed = oldest - self.pos;
        self.pos = oldest;
        Lagged(missed)
    }

    /// Publishes `pos` as this consumer's cursor (`Backpressure`): the producer may
    /// reuse the slots of the items before it.
    #[inline(always)]
    fn release(&self) {
        if !self.node.is_null() {
            // SAFETY: the node is on the ring's list (`node`), held by this consumer.
            let node = unsafe { &*self.node };
            // `Release`: the clones come before the producer's reuse of their slots.
            node.cursor.store(self.pos, Ordering::Release);
            self.shared.waiters.slots_freed();
        }
    }

    /// A new consumer that gets every item pushed after this call returns (not a copy
    /// of this one's position).
    ///
    /// # Panics
    ///
    /// If the ring already has [`MAX_CONSUMERS`] consumers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(4, Policy::Backpressure);
    /// tx.push(1).unwrap();
    /// let mut rx2 = rx.subscribe();
    /// tx.push(2).unwrap();
    /// assert_eq!(rx.pop(), Ok(Some(1)));
    /// assert_eq!(rx2.pop(), Ok(Some(2)));
    /// ```
    pub fn subscribe(&self) -> Consumer<T> {
        Consumer::join(&self.shared)
    }

    /// The number of items pushed that this consumer has not read yet, at most the
    /// capacity (under `Lossy`, older ones are gone: its next pop reports [`Lagged`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, rx) = broadcast::channel(2, Policy::Lossy);
    /// for i in 0..5 {
    ///     tx.push(i).unwrap();
    /// }
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        let tail = self.shared.tail.load(Ordering::Relaxed);
        // At most a lap: fits a `usize`.
        tail.saturating_sub(self.pos).min(self.shared.lap()) as usize
    }

    /// Whether this consumer has read every item pushed so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(2, Policy::Backpressure);
    /// assert!(rx.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of items the ring holds (see [`Producer::capacity`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (_tx, rx) = broadcast::channel::<u8>(5, Policy::Backpressure);
    /// assert_eq!(rx.capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }

    /// The ring's slow-reader policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (_tx, rx) = broadcast::channel::<u8>(2, Policy::Lossy);
    /// assert_eq!(rx.policy(), Policy::Lossy);
    /// ```
    pub fn policy(&self) -> Policy {
        self.shared.policy
    }

    /// Whether the producer is gone (the consumer may still have items to read).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(2, Policy::Backpressure);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_abandoned());
    /// assert_eq!(rx.pop(), Ok(Some(1)));
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The strategy the ring's waiting operations use.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (_tx, rx) = broadcast::channel::<u8>(1, Policy::Lossy);
    /// assert_eq!(rx.wait_strategy(), ringway::WaitStrategy::SPIN_YIELD);
    /// ```
    #[cfg(any(feature = "std", feature = "async"))]
    pub fn wait_strategy(&self) -> crate::WaitStrategy {
        self.shared.waiters.strategy()
    }

    /// Lends the next item to `read` and returns what it made of it, `None` if there is
    /// no item yet: the borrowing read, for items that are not `Clone` (or to look at a
    /// field without cloning the rest). The item stays in the ring for the other
    /// consumers.
    ///
    /// Under [`Policy::Lossy`], `read` runs while this consumer holds the slot's read
    /// count, and a push that would overwrite that item waits for it: keep it short, and
    /// do not push to the same ring from it (that push may wait for this read forever,
    /// on the same thread).
    ///
    /// # Errors
    ///
    /// [`Lagged`] as [`pop`](Self::pop) (`read` is not called).
    ///
    /// # Panics
    ///
    /// If `read` panics (the consumer stays where it was, and the ring usable).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// struct Quote {
    ///     bid: u64,
    ///     ask: u64,
    /// } // not `Clone`
    ///
    /// let (mut tx, mut rx) = broadcast::channel(4, Policy::Lossy);
    /// tx.push(Quote { bid: 99, ask: 101 }).unwrap();
    /// assert_eq!(rx.pop_with(|q| q.ask - q.bid), Ok(Some(2)));
    /// assert_eq!(rx.pop_with(|q| q.bid), Ok(None));
    /// ```
    #[inline]
    pub fn pop_with<R>(&mut self, read: impl FnOnce(&T) -> R) -> Result<Option<R>, Lagged> {
        match self.read_with(read) {
            Read::Item(r) => {
                self.pos += 1;
                self.release();
                Ok(Some(r))
            }
            Read::Empty => Ok(None),
            Read::Lagged => Err(self.skip_lagged()),
        }
    }
}

impl<T: Clone> Consumer<T> {
    /// Returns a clone of the next item, `None` if there is none yet.
    ///
    /// # Errors
    ///
    /// [`Lagged`] with the number of items missed, if this consumer fell more than
    /// `capacity` items behind a [`Policy::Lossy`] producer; the next pop returns the
    /// oldest item still held. Never under `Backpressure`.
    ///
    /// # Panics
    ///
    /// If `T::clone` panics (the consumer stays where it was, and the ring usable).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(2, Policy::Backpressure);
    /// assert_eq!(rx.pop(), Ok(None));
    /// tx.push('x').unwrap();
    /// assert_eq!(rx.pop(), Ok(Some('x')));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Result<Option<T>, Lagged> {
        self.pop_with(T::clone)
    }

    /// Clones the next items into `dst` (with `clone_from`, which reuses what `dst`'s
    /// items own), as many as there are up to `dst.len()`, and returns how many. Under
    /// `Backpressure` the consumer publishes its progress once for the whole batch.
    ///
    /// # Errors
    ///
    /// [`Lagged`] as [`pop`](Self::pop), if the first item is gone; a lag found after
    /// some items ends the batch, and the next call reports it. An empty `dst` reads
    /// nothing and reports nothing (`Ok(0)`).
    ///
    /// # Panics
    ///
    /// If `T::clone_from` panics (the items before it count as read).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(4, Policy::Backpressure);
    /// for i in 1..=3 {
    ///     tx.push(i).unwrap();
    /// }
    /// let mut dst = [0; 8];
    /// assert_eq!(rx.pop_slice(&mut dst), Ok(3));
    /// assert_eq!(dst[..3], [1, 2, 3]);
    /// ```
    pub fn pop_slice(&mut self, dst: &mut [T]) -> Result<usize, Lagged> {
        /// Publishes the batch's progress however the loop ends.
        struct Batch<'a, T>(&'a mut Consumer<T>, usize);
        impl<T> Drop for Batch<'_, T> {
            fn drop(&mut self) {
                if self.1 > 0 {
                    self.0.release();
                }
            }
        }
        let mut batch = Batch(self, 0);
        for d in dst.iter_mut() {
            match batch.0.read_with(|v| d.clone_from(v)) {
                Read::Item(()) => {
                    batch.0.pos += 1;
                    batch.1 += 1;
                }
                Read::Empty => break,
                Read::Lagged if batch.1 == 0 => return Err(batch.0.skip_lagged()),
                Read::Lagged => break,
            }
        }
        Ok(batch.1)
    }

    /// One attempt of a waiting pop: `Some` with the outcome, `None` to wait.
    #[cfg(any(feature = "std", feature = "async"))]
    fn attempt_pop(&mut self) -> Option<Result<T, PopError>> {
        let attempt = crate::wait::pop_or_disconnected(
            self,
            |c: &mut Self| c.pop().transpose(),
            Self::is_abandoned,
        )?;
        Some(match attempt {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(Lagged(n))) => Err(PopError::Lagged(n)),
            Err(crate::Disconnected(())) => Err(PopError::Disconnected),
        })
    }

    /// Returns a clone of the next item, waiting for one as the ring's
    /// [`WaitStrategy`](crate::WaitStrategy) says.
    ///
    /// # Errors
    ///
    /// [`PopError::Lagged`] as [`pop`](Self::pop); [`PopError::Disconnected`] once the
    /// producer is gone and this consumer has read everything it left.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, PopError, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(2, Policy::Backpressure);
    /// std::thread::spawn(move || tx.push_blocking("a"));
    /// assert_eq!(rx.pop_blocking(), Ok("a"));
    /// assert_eq!(rx.pop_blocking(), Err(PopError::Disconnected));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_blocking(&mut self) -> Result<T, PopError> {
        crate::wait::until(
            self,
            |c: &Self| &c.shared.waiters,
            crate::wait::Awaited::Item,
            Self::attempt_pop,
        )
    }

    /// Returns a clone of the next item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`PopError::Timeout`] if there was still nothing when the time ran out, and the
    /// errors of [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringway::broadcast::{self, PopError, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(2, Policy::Lossy);
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(5)), Err(PopError::Timeout));
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(5)), Ok(1));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_timeout(&mut self, timeout: std::time::Duration) -> Result<T, PopError> {
        let deadline = std::time::Instant::now().checked_add(timeout);
        crate::wait::block(
            self,
            |c: &Self| &c.shared.waiters,
            crate::wait::Awaited::Item,
            deadline,
            Self::attempt_pop,
        )
        .unwrap_or(Err(PopError::Timeout))
    }

    /// Returns a future that resolves to a clone of the next item, pending until there
    /// is one (woken as the ring's [`WaitStrategy`](crate::WaitStrategy) says), with the
    /// errors of [`pop_blocking`](Self::pop_blocking).
    ///
    /// Cancel-safe: dropping the future before it completes reads nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Waker};
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = Context::from_waker(Waker::noop());
    /// #     loop {
    /// #         if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
    /// #             return v;
    /// #         }
    /// #     }
    /// # }
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(2, Policy::Backpressure);
    /// tx.push(5).unwrap();
    /// assert_eq!(block_on(rx.pop_async()), Ok(5));
    /// ```
    #[cfg(feature = "async")]
    pub fn pop_async(&mut self) -> PopFuture<'_, T> {
        PopFuture {
            consumer: self,
            registration: crate::wait::Registration::None,
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        if !self.node.is_null() {
            // SAFETY: the node is on the ring's list (`node`), held by this consumer.
            let node = unsafe { &*self.node };
            // `Release`: this consumer's clones come before the producer's reuse of the
            // slots, which it may now do without waiting for it.
            node.cursor.store(IDLE, Ordering::Release);
            self.shared.idle.fetch_add(1, Ordering::Relaxed);
            self.shared.waiters.slots_freed();
        }
        self.shared.consumers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("policy", &self.shared.policy)
            .field("capacity", &self.shared.lap())
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

/// The producer's waiting pushes (they wait only under [`Policy::Backpressure`]).
impl<T> Producer<T> {
    /// One attempt of a waiting push: `Some(())` once pushed, `None` to wait (the value
    /// back in `value`).
    #[cfg(any(feature = "std", feature = "async"))]
    fn attempt_push(&mut self, value: &mut Option<T>) -> Option<()> {
        let v = value
            .take()
            .expect("ringway: push future polled after completion");
        match self.push(v) {
            Ok(()) => Some(()),
            Err(full) => {
                *value = Some(full.into_inner());
                None
            }
        }
    }

    /// Appends `value`, waiting while the slowest consumer is `capacity` items behind
    /// (`Backpressure`; under `Lossy` it never waits), as the ring's
    /// [`WaitStrategy`](crate::WaitStrategy) says. With no consumers it never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(1, Policy::Backpressure);
    /// tx.push_blocking(1);
    /// let t = std::thread::spawn(move || tx.push_blocking(2)); // waits for `rx`
    /// assert_eq!(rx.pop_blocking(), Ok(1));
    /// assert_eq!(rx.pop_blocking(), Ok(2));
    /// t.join().unwrap();
    /// ```
    #[cfg(feature = "std")]
    pub fn push_blocking(&mut self, value: T) {
        let mut value = Some(value);
        crate::wait::until(
            self,
            |p: &Self| &p.shared.waiters,
            crate::wait::Awaited::Slot,
            |p| p.attempt_push(&mut value),
        );
    }

    /// Appends `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`](crate::PushTimeoutError::Timeout) with `value` if
    /// the slowest consumer was still `capacity` items behind when the time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringway::broadcast::{self, Policy};
    /// use ringway::PushTimeoutError;
    ///
    /// let (mut tx, _rx) = broadcast::channel(1, Policy::Backpressure);
    /// assert_eq!(tx.push_timeout(1, Duration::from_millis(5)), Ok(()));
    /// assert_eq!(
    ///     tx.push_timeout(2, Duration::from_millis(5)),
    ///     Err(PushTimeoutError::Timeout(2))
    /// );
    /// ```
    #[cfg(feature = "std")]
    pub fn push_timeout(
        &mut self,
        value: T,
        timeout: std::time::Duration,
    ) -> Result<(), crate::PushTimeoutError<T>> {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut value = Some(value);
        match crate::wait::block(
            self,
            |p: &Self| &p.shared.waiters,
            crate::wait::Awaited::Slot,
            deadline,
            |p| p.attempt_push(&mut value),
        ) {
            Some(()) => Ok(()),
            None => Err(crate::PushTimeoutError::Timeout(
                value.expect("a timed-out push keeps its value"),
            )),
        }
    }

    /// Returns a future that appends `value`, pending while the slowest consumer is
    /// `capacity` items behind (`Backpressure`).
    ///
    /// Cancel-safe: dropping the future before it completes drops `value` unpushed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Waker};
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = Context::from_waker(Waker::noop());
    /// #     loop {
    /// #         if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
    /// #             return v;
    /// #         }
    /// #     }
    /// # }
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (mut tx, mut rx) = broadcast::channel(2, Policy::Backpressure);
    /// block_on(tx.push_async(1));
    /// assert_eq!(rx.pop(), Ok(Some(1)));
    /// ```
    #[cfg(feature = "async")]
    pub fn push_async(&mut self, value: T) -> PushFuture<'_, T> {
        PushFuture {
            producer: self,
            value: Some(value),
            registration: crate::wait::Registration::None,
        }
    }

    /// The strategy the ring's waiting operations use.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::broadcast::{self, Policy};
    ///
    /// let (tx, _rx) = broadcast::channel::<u8>(1, Policy::Lossy);
    /// assert_eq!(tx.wait_strategy(), ringway::WaitStrategy::SPIN_YIELD);
    /// ```
    #[cfg(any(feature = "std", feature = "async"))]
    pub fn wait_strategy(&self) -> crate::WaitStrategy {
        self.shared.waiters.strategy()
    }
}

/// The future of [`Consumer::pop_async`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Policy};
///
/// let (_tx, mut rx) = broadcast::channel::<u8>(1, Policy::Lossy);
/// let future = rx.pop_async();
/// drop(future); // cancelled: reads nothing
/// ```
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct PopFuture<'a, T> {
    consumer: &'a mut Consumer<T>,
    registration: crate::wait::Registration,
}

#[cfg(feature = "async")]
impl<T: Clone> core::future::Future for PopFuture<'_, T> {
    type Output = Result<T, PopError>;

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        let this = self.get_mut();
        crate::wait::poll(
            this.consumer,
            |c: &Consumer<T>| &c.shared.waiters,
            crate::wait::Awaited::Item,
            &mut this.registration,
            cx,
            Consumer::attempt_pop,
        )
    }
}

#[cfg(feature = "async")]
impl<T> Drop for PopFuture<'_, T> {
    fn drop(&mut self) {
        self.consumer
            .shared
            .waiters
            .withdraw(crate::wait::Awaited::Item, &mut self.registration);
    }
}

#[cfg(feature = "async")]
impl<T> fmt::Debug for PopFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopFuture").finish_non_exhaustive()
    }
}

/// The future of [`Producer::push_async`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Examples
///
/// ```
/// use ringway::broadcast::{self, Policy};
///
/// let (mut tx, _rx) = broadcast::channel(1, Policy::Backpressure);
/// let future = tx.push_async(1);
/// drop(future); // cancelled: 1 is dropped unpushed
/// ```
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct PushFuture<'a, T> {
    producer: &'a mut Producer<T>,
    value: Option<T>,
    registration: crate::wait::Registration,
}

// The value is never pinned (it is moved out to be pushed): the future may move.
#[cfg(feature = "async")]
impl<T> Unpin for PushFuture<'_, T> {}

#[cfg(feature = "async")]
impl<T> core::future::Future for PushFuture<'_, T> {
    type Output = ();

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<()> {
        let this = self.get_mut();
        let value = &mut this.value;
        crate::wait::poll(
            this.producer,
            |p: &Producer<T>| &p.shared.waiters,
            crate::wait::Awaited::Slot,
            &mut this.registration,
            cx,
            |p| p.attempt_push(value),
        )
    }
}

#[cfg(feature = "async")]
impl<T> Drop for PushFuture<'_, T> {
    fn drop(&mut self) {
        self.producer
            .shared
            .waiters
            .withdraw(crate::wait::Awaited::Slot, &mut self.registration);
    }
}

#[cfg(feature = "async")]
impl<T> fmt::Debug for PushFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushFuture").finish_non_exhaustive()
    }
}
