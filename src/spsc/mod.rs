//! The single-producer single-consumer bounded ring buffer.
//!
//! [`channel`] returns a [`Producer`] and a [`Consumer`]; each may move to its own
//! thread. Both sides are **wait-free**: every operation finishes in a bounded number
//! of its own steps whatever the other thread does, and uses only atomic loads and
//! stores (no read-modify-write), so the queue also works on targets without
//! compare-and-swap (Cortex-M0, `thumbv6m-none-eabi`).
//!
//! # Storage: heap or static
//!
//! The halves are generic over where the ring lives, `Producer<T, S>` and
//! `Consumer<T, S>`, and every operation is the same code for both:
//!
//! * [`Heap<T>`] (the default, features `alloc` and a target with pointer-sized
//!   compare-and-swap): [`channel`] allocates the ring once; the halves share it and the
//!   last one dropped frees it, so each half is `'static` and can move anywhere.
//! * [`Borrowed<'a>`](Borrowed): [`StaticRing<T, N>`](StaticRing) holds the ring inline
//!   and can be built by a `const fn`, so it can live in a `static` (no allocator at
//!   all); [`StaticRing::split`] lends it to a pair of halves for `'a`.
//!
//! # Layout: indexed or stamped
//!
//! The storage also says how the ring's slots are laid out, [`Indexed`] (the default:
//! `Heap<T>` is `Heap<T, Indexed>`) or [`Stamped`] ([`stamped::channel`],
//! `Heap<T, Stamped>`, `StaticRing<T, N, Stamped>`). It is one type family and one
//! protocol code path; the layout changes only how the consumer learns that an item is
//! there:
//!
//! | | [`Indexed`] | [`Stamped`] |
//! |---|---|---|
//! | a slot | a `T` | a `usize` stamp beside a `T` (16 bytes for a `u64`) |
//! | a single-item hand-off reads | the producer's counter, then the slot: two cache lines (a consumer that has waited a while prefetches the slot's line on each look, so the two arrive together) | the slot alone (its stamp): one line |
//! | zero-copy chunks ([`WriteChunkUninit`], [`ReadChunk`]) | yes (the slots are contiguous `T`s) | no |
//! | every other operation | yes | yes, the same |
//! | pick it for | batches, chunks, byte streams, the densest storage | single items between polling threads, the lowest round trip |
//!
//! PERFORMANCE.md in the repository has the measured figures behind the last row.
//!
//! # The protocol
//!
//! Two counters, `head` (items popped so far) and `tail` (items pushed so far), grow
//! without bound and wrap at `usize::MAX`; `tail - head` (wrapping) is the length and
//! never exceeds the capacity. (A [`StaticRing`] whose `N` is not a power of two counts
//! in positions that skip the end of each lap, so that a mask still finds the slot; its
//! length is the number of positions between them. See `src/buffer.rs`.) Only the
//! producer stores `tail`, only the consumer stores `head`:
//!
//! * the producer writes slots, then publishes them with a `Release` store of `tail`;
//!   the consumer's `Acquire` load of `tail` makes those writes visible before it
//!   reads the slots;
//! * the consumer reads (moves out) slots, then frees them with a `Release` store of
//!   `head`; the producer's `Acquire` load of `head` orders its next write of a slot
//!   after the consumer's read of it.
//!
//! Each side keeps its own counter in a plain field (it is the only writer, so never
//! needs to load it back) and a *cached copy of the other side's counter*, which it
//! reloads only when the cache says the queue is full (producer) or empty (consumer)
//! (the "cached remote index" of rigtorp's SPSCQueue and rtrb). In steady streaming
//! the shared lines then move between cores once per batch of items, not once per
//! item. `head` and `tail` sit on separate cache lines ([`CachePadded`], 128 bytes on
//! x86_64 and aarch64, what crossbeam-utils chooses for other targets), so the
//! producer's stores never invalidate the line the consumer stores to. Each half also
//! keeps its own copy of where the slots are and of the capacity, so an operation
//! reads no shared line but the other side's counter, and that only when its cache
//! runs out.
//!
//! Batch operations ([`Producer::push_slice`], [`Producer::push_iter`],
//! [`WriteChunkUninit`], [`Consumer::pop_slice`], [`ReadChunk`], [`Consumer::drain`])
//! publish once per batch.
//!
//! With the [`Stamped`] layout the producer also stores each slot's stamp, `pos + 1`,
//! with `Release` right after the value (before the counter), and stores the counter
//! itself only for batches, every 32nd position and when it is dropped. The consumer's
//! single-item operations (`pop`, `peek`, the waiting pops) read the stamp of the slot
//! at `head` and never the counter; its counts and batches read the counter and then
//! the stamps beyond it. A batch's stamps are stored last first, so a consumer that
//! reads forward sees a batch whole or not at all, as with the indexed layout's single
//! counter store. (See [`stamped`] for the details.)
//!
//! [`CachePadded`]: crossbeam_utils::CachePadded

mod chunks;
#[cfg(feature = "embedded-io")]
mod embedded_io;
#[cfg(feature = "std")]
mod io;
#[cfg(all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64"))]
pub mod overwriting;
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub mod stamped;
mod static_ring;
#[cfg(any(feature = "std", feature = "async"))]
mod waiting;

pub use crate::buffer::{Indexed, Layout, Stamped};
pub use chunks::{Drain, ReadChunk, WriteChunkUninit};
pub use static_ring::StaticRing;
#[cfg(feature = "async")]
pub use waiting::{PopFuture, PushFuture};

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crossbeam_utils::CachePadded;

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
use crate::buffer::Buffer;
use crate::buffer::{sealed::LayoutImpl, Slots};
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
use crate::sync::Arc;
use crate::sync::{self, load_mut, AtomicUsize, Ordering};
use crate::wait::Waiters;
#[cfg(all(
    any(feature = "std", feature = "async"),
    feature = "alloc",
    target_has_atomic = "ptr"
))]
use crate::WaitStrategy;
use crate::{ChunkError, PushError};

/// With the stamped layout, single pushes store the counter only at positions that are
/// multiples of this (a power of two), so a count of the items from the counter on
/// (`Consumer::len`) reads at most this many stamps beyond it.
const COUNTER_EVERY: usize = 32;

/// After this many looks in a row at the producer's counter that found no new item, an
/// indexed consumer's empty looks also prefetch the next item's slot (`available`): a
/// consumer waiting for the next item of a round trip looks many times, one that keeps
/// up with a stream finds an item within a look or two.
const IDLE_LOOKS: u8 = 3;

/// The indices and flags both halves share, wherever the slots live.
///
/// Plain words only (`repr(C)`, no pointers, no `bool`): in a ring in shared memory
/// (`crate::shm`) the header lies in the mapped region, where the other process may
/// write any bits into it, and every bit pattern of a word is a valid value. The
/// waiters, which hold pointers, live beside it, never in it.
#[repr(C)]
pub(crate) struct Header {
    /// The position of the next item to pop: the items popped so far, as a position
    /// (`Slots::advance` from the start; for a static ring whose `N` is not a power of
    /// two, positions skip at the end of each lap, see `buffer.rs`). Stored only by the
    /// consumer, with `Release`, after it has finished with the slots below it.
    /// Invariant: `Slots::distance(head, tail)` is in `0 ..= capacity`.
    head: CachePadded<AtomicUsize>,
    /// The position of the next item to push (as `head`). Stored only by the producer,
    /// with `Release`, after it has written the slots below it (and, with the stamped
    /// layout, stored their stamps). Positions `head .. tail` (wrapping) of the ring's
    /// slots hold initialised values owned by the consumer; all other slots are
    /// uninitialised and owned by the producer. With the stamped layout the producer
    /// publishes a slot by its stamp a moment before it stores `tail`, so the consumer
    /// may take that item, and store `head` past it, first: until the producer's store,
    /// `head` may exceed `tail` by the items taken that way (never while both halves are
    /// gone, which is when `Header::drop_items` and `start_split` read both).
    tail: CachePadded<AtomicUsize>,
    /// Set with `Release` by whichever half is dropped first, after it published its
    /// counter; an `Acquire` load that sees it therefore sees every item or free slot
    /// the other half published. Cleared only with exclusive access to the ring (a
    /// `StaticRing` split again).
    abandoned: Flag,
    /// Set when a `StaticRing` hands out a consumer, cleared when that consumer is
    /// dropped (after it stored its counter). Read only while no half is alive: still
    /// set then means the consumer was forgotten (`mem::forget`), possibly after moving
    /// items out through a forgotten `Drain` without releasing their slots, so `head`
    /// may lag what was moved out (see `start_split`). (A forgotten heap half leaks the
    /// whole ring instead, so the heap form never sets it.)
    consumer_out: Flag,
}

/// A flag kept in a word rather than an `AtomicBool`, whose load of a byte other than
/// 0 or 1 would be undefined behaviour: in shared memory another process may store
/// anything there. Any value but 0 reads as set.
#[repr(transparent)]
struct Flag(AtomicUsize);

impl Flag {
    loom_const_fn! {
        /// A flag that is set if `set`.
        fn new(set: bool) -> Self {
            Flag(AtomicUsize::new(set as usize))
        }
    }

    /// Whether the flag is set.
    #[inline(always)]
    fn load(&self, order: Ordering) -> bool {
        self.0.load(order) != 0
    }

    /// Sets or clears the flag.
    #[inline(always)]
    fn store(&self, set: bool, order: Ordering) {
        self.0.store(set as usize, order);
    }
}

impl Header {
    loom_const_fn! {
        /// A header for an empty ring whose counters start at 0.
        fn new() -> Self {
            Self::new_at(0)
        }
    }

    loom_const_fn! {
        /// A header for an empty ring whose counters start at `start`.
        pub(crate) fn new_at(start: usize) -> Self {
            Header {
                head: CachePadded::new(AtomicUsize::new(start)),
                tail: CachePadded::new(AtomicUsize::new(start)),
                abandoned: Flag::new(false),
                consumer_out: Flag::new(false),
            }
        }
    }

    /// The counters `(head, tail)` as they are now, for a half of a ring in shared
    /// memory that attaches to it (`crate::shm`, which checks them before use).
    ///
    /// `Relaxed`: the attaching half keeps only its own counter from these loads, the
    /// one no live half stores (it holds the role's lock, which the kernel handed over
    /// from the last half of its role only after that half stored its counter and let
    /// go); it starts with no knowledge of the other side's counter, so its first
    /// `room` or `available` loads that with `Acquire`, as every later reload does.
    #[cfg(all(
        feature = "shm",
        target_os = "linux",
        target_pointer_width = "64",
        not(ringway_loom)
    ))]
    pub(crate) fn counters(&self) -> (usize, usize) {
        (
            self.head.load(Ordering::Relaxed),
            self.tail.load(Ordering::Relaxed),
        )
    }

    /// Clears the abandoned flag: a new half of a ring in shared memory attached to it
    /// (`crate::shm`), so the other side has a peer again. `Relaxed`: clearing it
    /// publishes nothing (the flag's `Release` stores publish a half's last counter).
    #[cfg(all(
        feature = "shm",
        target_os = "linux",
        target_pointer_width = "64",
        not(ringway_loom)
    ))]
    pub(crate) fn reattached(&self) {
        self.abandoned.store(false, Ordering::Relaxed);
    }

    /// Drops the items left in `slots` (positions `head .. tail`); call only when no
    /// half is left, through the storage's `Drop`.
    ///
    /// # Safety
    ///
    /// `slots` are this header's slots, and `capacity` is the ring's capacity.
    unsafe fn drop_items<T, L: LayoutImpl>(&mut self, slots: Slots<T, L>, capacity: usize) {
        // Never touch loom's cells again while a failed model unwinds (see the facade).
        if sync::model_panicked() {
            return;
        }
        // A forgotten consumer may have moved out items below its own counter without
        // storing it: which slots still hold values is unknown, so leak them all.
        if self.consumer_out.load(Ordering::Relaxed) {
            return;
        }
        // Both halves are gone (`&mut self` proves it: the last `Arc` is being dropped,
        // which synchronises with the other half's drop, or the `StaticRing` borrow
        // ended), so the counters can be read plainly.
        let head = load_mut(&mut self.head);
        let tail = load_mut(&mut self.tail);
        let len = slots.distance(head, tail);
        debug_assert!(len <= capacity, "ring invariant: len {len} > capacity");
        // SAFETY: slots `head .. tail` are initialised (field invariant on `tail`),
        // nobody else can reach them any more, and they are never touched again
        // (the storage is being dropped); `len <= capacity <= slots` (caller).
        unsafe { slots.drop_range(head, len) };
    }

    /// The counters `(head, tail)` for a new pair of halves of a `StaticRing`, which it
    /// marks as handed out.
    ///
    /// Call only while no half of the ring is alive, after whatever the last halves
    /// did (exclusive access, or the one `try_split`); so `Relaxed` suffices
    /// throughout. If the last consumer was forgotten rather than dropped, the items it
    /// may have moved out without releasing their slots are not told apart from the
    /// rest: every item left is leaked (never yielded or dropped again) by moving
    /// `head` to `tail`.
    fn start_split(&self) -> (usize, usize) {
        let tail = self.tail.load(Ordering::Relaxed);
        let mut head = self.head.load(Ordering::Relaxed);
        if self.consumer_out.load(Ordering::Relaxed) {
            head = tail;
            self.head.store(head, Ordering::Relaxed);
        }
        self.consumer_out.store(true, Ordering::Relaxed);
        self.abandoned.store(false, Ordering::Relaxed);
        (head, tail)
    }
}

/// The storage of halves made by [`channel`] (layout [`Indexed`], the default) and
/// [`stamped::channel`] (layout [`Stamped`]): the ring is one heap allocation, shared by
/// reference counting, which the last half dropped frees.
///
/// Needs the `alloc` feature and a target with pointer-sized compare-and-swap (for
/// the reference count); without them the type exists but has no values.
///
/// # Examples
///
/// ```
/// use ringway::spsc::{Heap, Producer};
///
/// // `Producer<T>` is `Producer<T, Heap<T>>`.
/// let (tx, _rx): (Producer<u8, Heap<u8>>, _) = ringway::spsc::channel(4);
/// let _same: Producer<u8> = tx;
/// ```
pub struct Heap<T, L: Layout = Indexed> {
    #[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
    _shared: Arc<HeapShared<T, L>>,
    #[cfg(not(all(feature = "alloc", target_has_atomic = "ptr")))]
    _never: core::convert::Infallible,
    #[cfg(not(all(feature = "alloc", target_has_atomic = "ptr")))]
    _items: crate::InvariantIn<(T, L)>,
}

impl<T, L: Layout> fmt::Debug for Heap<T, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Heap")
    }
}

/// The storage of halves made by [`StaticRing::split`]: they borrow the ring of layout
/// `L` for `'a`.
///
/// # Examples
///
/// ```
/// use ringway::spsc::{Borrowed, Consumer, Producer, StaticRing};
///
/// let mut ring = StaticRing::<u8, 4>::new();
/// let (tx, rx): (Producer<u8, Borrowed<'_>>, Consumer<u8, Borrowed<'_>>) = ring.split();
/// # drop((tx, rx));
/// ```
pub struct Borrowed<'a, L: Layout = Indexed>(BorrowMarker<'a, L>);

/// What [`Borrowed`] holds: the borrow's lifetime, and the layout through a function
/// pointer, so that the marker is `Send + Sync` whatever `L` is.
type BorrowMarker<'a, L> = PhantomData<(&'a (), fn() -> L)>;

impl<L: Layout> fmt::Debug for Borrowed<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Borrowed")
    }
}

/// The heap allocation behind [`Heap`]: the header, the slots and what is left in
/// them, dropped when the last half goes.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
struct HeapShared<T, L: Layout> {
    header: Header,
    /// The wait strategy and the sleeping waiters (see `Producer::waiters`).
    waiters: Waiters,
    /// The slots: `capacity` rounded up to a power of two.
    buffer: Buffer<T, L>,
    /// The exact number of items the ring holds, `>= 1`.
    capacity: usize,
}

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
impl<T, L: Layout> Drop for HeapShared<T, L> {
    fn drop(&mut self) {
        let slots = self.buffer.slots();
        // SAFETY: `slots` and `capacity` are this ring's.
        unsafe { self.header.drop_items(slots, self.capacity) };
    }
}

/// Creates a bounded SPSC ring that holds exactly `capacity` items and returns its
/// two halves.
///
/// The storage is allocated once, here; no operation allocates afterwards.
/// Zero-sized `T` allocates nothing. (For a ring without an allocator, in a `static`,
/// see [`StaticRing`].)
///
/// # Panics
///
/// If `capacity` is 0, if the storage (`capacity` rounded up to a power of two,
/// times the size of `T`) would exceed `isize::MAX` bytes, or, for zero-sized `T`
/// (which allocates nothing), if `capacity` exceeds 2^62 (2^30 on 32-bit targets):
/// the slot count, `capacity` rounded up to a power of two, must fit in `isize`.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::channel::<u64>(2);
/// let consumer = std::thread::spawn(move || {
///     let mut got = Vec::new();
///     while got.len() < 100 {
///         if let Some(v) = rx.pop() {
///             got.push(v);
///         }
///     }
///     got
/// });
/// for i in 0..100 {
///     let mut item = i;
///     while let Err(e) = tx.push(item) {
///         item = e.into_inner();
///         std::hint::spin_loop();
///     }
/// }
/// assert_eq!(consumer.join().unwrap(), (0..100).collect::<Vec<_>>());
/// ```
///
/// ```should_panic
/// let _ = ringway::spsc::channel::<u64>(0); // panics: capacity must be at least 1
/// ```
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    with_waiters::<T, Indexed>(capacity, Waiters::spin_yield())
}

/// Creates a bounded SPSC ring like [`channel`], whose waiting operations
/// ([`Producer::push_blocking`], [`Consumer::pop_async`], ...) wait as `strategy` says.
///
/// [`channel`] builds with [`WaitStrategy::SPIN_YIELD`] (spin, then yield), whose
/// waiters never sleep, so `push` and `pop` carry no wake-up check. Build with
/// [`WaitStrategy::SpinPark`] (`WaitStrategy::SPIN_PARK`) for waiting operations that
/// sleep; every publish then pays a `SeqCst` fence (see [`WaitStrategy`]).
///
/// # Examples
///
/// ```
/// use ringway::WaitStrategy;
///
/// let (mut tx, mut rx) = ringway::spsc::channel_with_wait_strategy::<u64>(64, WaitStrategy::SPIN_PARK);
/// let consumer = std::thread::spawn(move || rx.pop_blocking()); // sleeps until woken
/// std::thread::sleep(std::time::Duration::from_millis(10));
/// tx.push(7).unwrap(); // wakes it
/// assert_eq!(consumer.join().unwrap(), Ok(7));
/// ```
///
/// # Panics
///
/// As [`channel`].
///
/// # Examples
///
/// ```
/// use ringway::WaitStrategy;
///
/// let (mut tx, mut rx) = ringway::spsc::channel_with_wait_strategy(4, WaitStrategy::SpinYield { spins: 100 });
/// assert_eq!(tx.wait_strategy(), WaitStrategy::SpinYield { spins: 100 });
/// let consumer = std::thread::spawn(move || {
///     let mut sum = 0;
///     while let Ok(v) = rx.pop_blocking() {
///         sum += v;
///     }
///     sum // the producer is gone and the ring is empty
/// });
/// for i in 1..=100 {
///     tx.push_blocking(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(consumer.join().unwrap(), 5050);
/// ```
#[cfg(any(feature = "std", feature = "async"))]
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub fn channel_with_wait_strategy<T>(
    capacity: usize,
    strategy: WaitStrategy,
) -> (Producer<T>, Consumer<T>) {
    with_waiters::<T, Indexed>(capacity, Waiters::new(strategy))
}

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
fn with_waiters<T, L: Layout>(capacity: usize, waiters: Waiters) -> Halves<T, Heap<T, L>> {
    with_waiters_at(capacity, waiters, 0)
}

/// A ring like [`with_waiters`]'s whose counters start at `start` (not 0: the unit
/// tests start near `usize::MAX` to cross the counters' wrap).
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
fn with_waiters_at<T, L: Layout>(
    capacity: usize,
    waiters: Waiters,
    start: usize,
) -> Halves<T, Heap<T, L>> {
    let buffer = Buffer::<T, L>::new(capacity);
    // SAFETY: the buffer is new (no half exists yet), and `tail - head = 0`.
    unsafe { buffer.slots().reset_stamps(start, start) };
    let shared = Arc::new(HeapShared {
        header: Header::new_at(start),
        waiters,
        buffer,
        capacity,
    });
    let header = NonNull::from(&shared.header);
    let waiters = NonNull::from(&shared.waiters);
    let slots = shared.buffer.slots();
    let producer = Producer::new(
        header,
        waiters,
        slots,
        capacity,
        (start, start),
        Heap {
            _shared: Arc::clone(&shared),
        },
    );
    let consumer = Consumer::new(
        header,
        waiters,
        slots,
        capacity,
        (start, start),
        Heap { _shared: shared },
    );
    (producer, consumer)
}

/// A producer and a consumer of one ring (for the heap constructors and
/// `StaticRing::try_split`, so unused on a target with neither, Cortex-M0 without
/// `alloc`).
#[cfg(any(
    all(feature = "alloc", target_has_atomic = "ptr"),
    target_has_atomic = "8"
))]
type Halves<T, S> = (Producer<T, S>, Consumer<T, S>);

/// The sending half of an SPSC ring, created by [`channel`] or [`StaticRing::split`].
///
/// `S` says where the ring lives: [`Heap<T>`] (the default: `Producer<T>` is a half
/// from [`channel`]) or [`Borrowed<'a>`](Borrowed) (a half of a [`StaticRing`]); every
/// operation is the same code for both.
///
/// Every operation is wait-free. A `Producer` is `Send` when `T: Send`, and never
/// `Sync` (use it from one thread at a time).
///
/// # Examples
///
/// ```
/// use ringway::spsc::{Producer, Storage};
///
/// // Code generic over the storage works with halves of either kind.
/// fn push_all<S: Storage>(tx: &mut Producer<u32, S>, items: &[u32]) -> usize {
///     tx.push_slice(items)
/// }
///
/// let (mut tx, _rx) = ringway::spsc::channel(4);
/// assert_eq!(push_all(&mut tx, &[1, 2, 3]), 3);
///
/// let mut ring = ringway::spsc::StaticRing::<u32, 4>::new();
/// let (mut tx, _rx) = ring.split();
/// assert_eq!(push_all(&mut tx, &[1, 2, 3, 4, 5]), 4);
/// ```
pub struct Producer<T, S: Storage = Heap<T>> {
    /// The ring's header. Valid for as long as this half lives: `_storage` keeps the
    /// ring alive (`Heap`) or ties the half to the ring's borrow (`Borrowed`).
    header: NonNull<Header>,
    /// The ring's wait strategy and sleeping waiters, valid as `header`: the producer
    /// wakes the consumer's cell after every publish (and when it is dropped), the
    /// consumer the producer's after every release, only with `WaitStrategy::SpinPark`.
    /// Beside the header, not in it, so that the header holds no pointer.
    waiters: NonNull<Waiters>,
    /// The ring's slots, valid as `header`. The producer owns those outside
    /// `head .. tail`.
    slots: Slots<T, S::Layout>,
    /// The exact number of items the ring holds, in `1 ..= slots.count()`.
    capacity: usize,
    /// The producer's own counter: the items it has published (by the header's `tail`,
    /// or with the stamped layout by their stamps, the header's `tail` following now and
    /// then); inside `push`, also the item it is writing, since the counter moves
    /// before the value's write. The producer is the only writer of `tail`, so it never
    /// loads the atomic back.
    tail: usize,
    /// A value the header's `head` had. `head` only grows, so `tail - cached_head` is
    /// at least the true length: a stale cache can only under-report free slots.
    cached_head: usize,
    /// The ring's waiters may sleep (`WaitStrategy::parks`), so each publish must
    /// notify; read once from the header, so the hot path reads no shared line for it.
    parks: bool,
    /// Stamped layout: a single push stores the counter only at positions `pos` with
    /// `pos & counter_skip == 0`: `COUNTER_EVERY - 1`, or 0 (every push, which then
    /// also notifies) when `parks`.
    counter_skip: usize,
    /// Keeps `header` and `slots` valid (see `header`).
    _storage: S,
}

// SAFETY: the producer moves `T`s into the ring from whichever thread owns it, and the
// consumer takes them out on another thread, so `T: Send` is needed and sufficient.
// The header is only touched through atomics (and the waiters' mutexes), and the slots
// only where the index protocol gives them to the producer alone. The storage is
// `Heap<T>` (an `Arc` of the ring, `Send` exactly when `T: Send`: the other half may
// drop or move its items on another thread) or `Borrowed` (shared with the consumer only
// through atomics and the slots the protocol hands to one side at a time); the
// constructors never pair a `Producer<T, _>` with another item type's storage. Written
// over any `S: Send` rather than for the two storages, so that the compiler can prove it
// for types with higher-ranked lifetimes too (an `async` block holding a future of the
// half).
unsafe impl<T: Send, S: Storage + Send> Send for Producer<T, S> {}

/// The storages a ring's halves can have: [`Heap<T, L>`](Heap) and
/// [`Borrowed<'a, L>`](Borrowed), each of either [`Layout`]; and, with the `shm`
/// feature, `shm::Shm`, a ring in memory shared with another process.
///
/// Sealed; it exists for code generic over every kind of half (every method of
/// [`Producer`] and [`Consumer`] works for any storage, but the zero-copy chunks, which
/// need [`Indexed`] slots).
///
/// # Examples
///
/// ```
/// use ringway::spsc::{Consumer, Storage};
///
/// fn total<S: Storage>(rx: &mut Consumer<u64, S>) -> u64 {
///     rx.drain().sum()
/// }
///
/// let (mut tx, mut rx) = ringway::spsc::channel(4);
/// tx.push_slice(&[1, 2, 3]);
/// assert_eq!(total(&mut rx), 6);
/// ```
pub trait Storage: sealed::Sealed {
    /// The layout of the ring's slots.
    type Layout: Layout;
}

impl<T, L: Layout> Storage for Heap<T, L> {
    type Layout = L;
}
impl<L: Layout> Storage for Borrowed<'_, L> {
    type Layout = L;
}

pub(crate) mod sealed {
    use super::Layout;

    /// Keeps [`Storage`](super::Storage) to this crate's types.
    pub trait Sealed {
        /// Whether the ring's positions may skip (its slot count may not be a power of
        /// two: a `StaticRing<T, N>` of any `N`). A heap ring rounds its slot count up
        /// to a power of two, so its positions never skip, and a constant `false` here
        /// keeps the test out of its hot path.
        const SKIPS: bool;

        /// Whether the other half may be a process that stores anything at all into
        /// the header (a ring in shared memory, `crate::shm`). The counters it loads
        /// from the other side are then checked before use: a count above the
        /// capacity is never cached and reads as no room (producer) or no new items
        /// (consumer). A constant: the checks compile away for the in-process storages,
        /// whose other half is this crate's own code.
        const UNTRUSTED: bool = false;

        /// Whether the other half is gone without having said so in the header (a
        /// process that died); [`Producer::is_abandoned`](super::Producer::is_abandoned)
        /// and the consumer's read it after the header's flag. Never, in process.
        #[inline(always)]
        fn peer_gone(&self) -> bool {
            false
        }
    }
    impl<T, L: Layout> Sealed for super::Heap<T, L> {
        const SKIPS: bool = false;
    }
    impl<L: Layout> Sealed for super::Borrowed<'_, L> {
        const SKIPS: bool = true;
    }
}

/// `pos` advanced by `n` in a ring of storage `S` ([`Slots::advance`]); the plain
/// wrapping addition when `S`'s positions never skip.
#[inline(always)]
fn advance<S: Storage, T>(slots: &Slots<T, S::Layout>, pos: usize, n: usize) -> usize {
    if S::SKIPS {
        slots.advance(pos, n)
    } else {
        pos.wrapping_add(n)
    }
}

/// The number of positions from `from` to `to` in a ring of storage `S`
/// ([`Slots::distance`]); the plain wrapping difference when `S`'s positions never
/// skip.
#[inline(always)]
fn distance<S: Storage, T>(slots: &Slots<T, S::Layout>, from: usize, to: usize) -> usize {
    if S::SKIPS {
        slots.distance(from, to)
    } else {
        to.wrapping_sub(from)
    }
}

impl<T, S: Storage> Producer<T, S> {
    /// The producer of a ring whose counters are `(head, tail)`, kept valid by
    /// `storage`.
    pub(crate) fn new(
        header: NonNull<Header>,
        waiters: NonNull<Waiters>,
        slots: Slots<T, S::Layout>,
        capacity: usize,
        (head, tail): (usize, usize),
        storage: S,
    ) -> Self {
        debug_assert!(capacity >= 1 && capacity <= slots.count());
        debug_assert!(slots.distance(head, tail) <= capacity, "ring invariant");
        // SAFETY: `storage` keeps the header and the waiters alive (caller).
        let parks = unsafe { waiters.as_ref() }.parks();
        Producer {
            header,
            waiters,
            slots,
            capacity,
            tail,
            cached_head: head,
            parks,
            counter_skip: if parks { 0 } else { COUNTER_EVERY - 1 },
            _storage: storage,
        }
    }

    /// The ring's header.
    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: the header outlives this value: the `Producer` holding it keeps the
        // ring alive or borrows it (field invariant on `header`).
        unsafe { self.header.as_ref() }
    }

    /// The ring's waiters.
    #[inline(always)]
    pub(super) fn waiters(&self) -> &Waiters {
        // SAFETY: as for `header` (field invariant on `waiters`).
        unsafe { self.waiters.as_ref() }
    }

    /// Marks the ring abandoned (the producer's drop): everything pushed is published
    /// (by its stamps, or by `tail`, which this stores once more), so the `Release`
    /// makes all of it visible to an `Acquire` of the flag.
    fn abandon(&mut self) {
        // The stamped layout does not store the counter on every push: store it now,
        // so the ring's drop and a later split see every item.
        self.header().tail.store(self.tail, Ordering::Release);
        self.header().abandoned.store(true, Ordering::Release);
        // A consumer asleep waiting for items must wake to see it never gets more.
        self.waiters().items_published();
    }

    /// Returns the number of free slots, reloading the consumer's counter only when
    /// the cached one shows fewer than `wanted`.
    #[inline(always)]
    fn room(&mut self, wanted: usize) -> usize {
        let capacity = self.capacity;
        let mut len = distance::<S, T>(&self.slots, self.cached_head, self.tail);
        if capacity - len < wanted {
            let head = self.header().head.load(Ordering::Acquire);
            let loaded = distance::<S, T>(&self.slots, head, self.tail);
            if S::UNTRUSTED && loaded > capacity {
                // No consumer of this ring could have stored that `head`: keep the last
                // good one, and report no room rather than trust it.
                return 0;
            }
            self.cached_head = head;
            len = loaded;
        }
        debug_assert!(len <= capacity, "ring invariant: len {len} > capacity");
        capacity - len
    }

    /// Makes the slots from the producer's counter up to `tail` visible to the
    /// consumer (see [`publish_from`](Self::publish_from)) and moves the counter.
    /// For batches; a single `push` moves its counter before it writes the value.
    #[inline(always)]
    fn publish(&mut self, tail: usize) {
        let from = self.tail;
        self.publish_from(from, distance::<S, T>(&self.slots, from, tail), tail);
        self.tail = tail;
    }

    /// Makes the `n` slots from `from` up to `tail`, just written, visible to the
    /// consumer: (stamped layout) each slot's stamp, then the header's counter, all
    /// `Release`.
    /// The stamps go first so that, in a single-item hand-off, the value and its stamp
    /// reach the slot's line together, before a polling consumer can pull the line
    /// back between them; the consumer copes with a counter that lags the stamps
    /// (`Consumer::available`, `Consumer::len`).
    ///
    /// Called right after the values' writes, with no store between: a store there,
    /// even to the producer's own fields, made the single-item round trip 1.3x as long
    /// on an Intel Xeon (`Producer::push`; PERFORMANCE.md, 2026-12-07).
    #[inline(always)]
    fn publish_from(&mut self, from: usize, n: usize, tail: usize) {
        debug_assert!(self.slots.distance(self.cached_head, tail) <= self.capacity);
        debug_assert_eq!(self.slots.distance(from, tail), n);
        if <S::Layout as LayoutImpl>::STAMPED {
            // First thing after the value's write: a single item's value and stamp
            // are then adjacent stores to one line, which the core commits together
            // (another store between them measured 0.75x the streaming rate).
            self.slots.publish_stamps(from, n);
            // The consumer's single-item operations read the stamps alone; its counts
            // and batches read the counter and then the stamps beyond it, so the
            // counter is stored only by batches and every `COUNTER_EVERY` positions.
            // (`counter_skip` is 0 on a ring whose waiters park, so that every push
            // takes the path below and notifies: one test on the hot path, not two.)
            if n == 1 && tail & self.counter_skip != 0 {
                return;
            }
        }
        self.header().tail.store(tail, Ordering::Release);
        if self.parks {
            self.waiters().items_published();
        }
    }
}

impl<T, S: Storage> Producer<T, S> {
    /// Appends `value`, or hands it back in [`PushError::Full`] if the ring holds
    /// `capacity` items.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] with `value` when the ring is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::PushError;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(1);
    /// assert_eq!(tx.push(1), Ok(()));
    /// assert_eq!(tx.push(2), Err(PushError::Full(2)));
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(tx.push(2), Ok(()));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        if self.room(1) == 0 {
            return Err(PushError::Full(value));
        }
        let tail = self.tail;
        let next = advance::<S, T>(&self.slots, tail, 1);
        // The producer's own counter moves first, so that no store comes between the
        // value's write and its publication (`publish_from`). Storing it after the
        // header's counter instead cost 0.85x-0.9x the streaming rate at capacity 65536.
        self.tail = next;
        // SAFETY: a free slot exists, so the slot at `tail` is outside `head .. tail`:
        // uninitialised and owned by the producer (invariant on `Header::tail`).
        unsafe { self.slots.write(tail, value) };
        self.publish_from(tail, 1, next);
        Ok(())
    }

    /// Copies as many items from the front of `items` as fit, in order, publishing
    /// them with one store; returns how many were pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// assert_eq!(tx.push_slice(&[1, 2, 3, 4, 5, 6]), 4);
    /// let mut out = [0; 8];
    /// assert_eq!(rx.pop_slice(&mut out), 4);
    /// assert_eq!(out[..4], [1, 2, 3, 4]);
    /// ```
    #[inline]
    pub fn push_slice(&mut self, items: &[T]) -> usize
    where
        T: Copy,
    {
        let n = self.room(items.len()).min(items.len());
        if n == 0 {
            return 0;
        }
        let tail = self.tail;
        // SAFETY: `n` free slots exist, so `tail .. tail + n` are uninitialised and the
        // producer's; `n <= capacity <= slots`.
        unsafe { self.slots.copy_in(tail, &items[..n]) };
        self.publish(advance::<S, T>(&self.slots, tail, n));
        n
    }

    /// Moves items from `iter` into the ring until it is full or the iterator ends,
    /// publishing them with one store (two when the cached room runs out and it looks
    /// again); returns how many were pushed, at most `capacity`.
    ///
    /// It never takes an item from `iter` that it cannot store, so whatever is left in
    /// the iterator can be pushed later. If `iter` panics, the items already taken
    /// from it are published (and so neither lost nor dropped twice).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(3);
    /// let mut words = ["a", "b", "c", "d"].into_iter().map(String::from);
    /// assert_eq!(tx.push_iter(&mut words), 3);
    /// assert_eq!(words.next().as_deref(), Some("d"));
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), ["a", "b", "c"]);
    /// ```
    #[inline]
    pub fn push_iter<I: IntoIterator<Item = T>>(&mut self, iter: I) -> usize {
        let mut iter = iter.into_iter();
        // Reload the consumer's counter only if the cached room cannot take the items
        // the iterator promises (at least one).
        let free = self.room(iter.size_hint().0.max(1));
        let pushed = WriteChunkUninit::new(self, free).fill_from_iter(&mut iter);
        if pushed < free {
            return pushed; // the iterator ended (or the ring is full)
        }
        // The cached room ran out first: look once more (a bounded number of steps,
        // and never more than `capacity` items in one call).
        let more = self.room(1).min(self.capacity() - pushed);
        pushed + WriteChunkUninit::new(self, more).fill_from_iter(&mut iter)
    }

    /// The exact number of items the ring holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = ringway::spsc::channel::<u8>(5);
    /// assert_eq!(tx.capacity(), 5);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of free slots right now (from the producer's side: the consumer
    /// may free more at any moment, never fewer).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel(5);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.free_slots(), 4);
    /// ```
    #[inline]
    pub fn free_slots(&self) -> usize {
        self.capacity() - self.len()
    }

    /// The number of items in the ring, as seen by the producer: a snapshot that the
    /// consumer may lower at any moment, never above `capacity`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// assert_eq!(tx.len(), 3);
    /// rx.pop();
    /// assert_eq!(tx.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        let head = self.header().head.load(Ordering::Acquire);
        let len = distance::<S, T>(&self.slots, head, self.tail);
        if S::UNTRUSTED {
            // A `head` no consumer could have stored: read it as full, as `room` does.
            return len.min(self.capacity);
        }
        debug_assert!(len <= self.capacity);
        len
    }

    /// Whether the ring holds no items (a snapshot from the producer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel(4);
    /// assert!(tx.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!tx.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring holds `capacity` items (a snapshot from the producer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::channel(1);
    /// tx.push(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Whether the [`Consumer`] has been dropped. Once true it stays true, and no
    /// pushed item will ever be popped. (A ring in shared memory, `shm`, differs: it is
    /// also true while the consumer's process is dead, and false again once a new
    /// consumer attaches, which pops what is left.)
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = ringway::spsc::channel::<u8>(1);
    /// assert!(!tx.is_abandoned());
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.header().abandoned.load(Ordering::Acquire) || self._storage.peer_gone()
    }
}

/// The zero-copy chunks, which hand out the slots as slices of `T`: only the
/// [`Indexed`] layout's slots are contiguous.
impl<T, S: Storage<Layout = Indexed>> Producer<T, S> {
    /// Grants exclusive, zero-copy access to the next `n` free slots, which the
    /// returned chunk publishes with [`WriteChunkUninit::commit`].
    ///
    /// # Errors
    ///
    /// [`ChunkError::TooFewSlots`] with the number of free slots if fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::mem::MaybeUninit;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::channel(8);
    /// let mut chunk = tx.write_chunk_uninit(3).unwrap();
    /// let (first, second) = chunk.as_mut_slices();
    /// for (i, slot) in first.iter_mut().chain(second).enumerate() {
    ///     *slot = MaybeUninit::new(i * 10);
    /// }
    /// // SAFETY: all three slots were initialised above.
    /// unsafe { chunk.commit_all() };
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), [0, 10, 20]);
    /// ```
    #[inline]
    pub fn write_chunk_uninit(
        &mut self,
        n: usize,
    ) -> Result<WriteChunkUninit<'_, T, S>, ChunkError> {
        let free = self.room(n);
        if free < n {
            return Err(ChunkError::TooFewSlots(free));
        }
        Ok(WriteChunkUninit::new(self, n))
    }
}

impl<T, S: Storage> Drop for Producer<T, S> {
    fn drop(&mut self) {
        self.abandon();
    }
}

impl<T, S: Storage> fmt::Debug for Producer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The receiving half of an SPSC ring, created by [`channel`] or [`StaticRing::split`].
///
/// `S` says where the ring lives, as for [`Producer`]. Every operation is wait-free. A
/// `Consumer` is `Send` when `T: Send`, and never `Sync` (use it from one thread at a
/// time).
///
/// # Examples
///
/// ```
/// let mut ring = ringway::spsc::StaticRing::<&str, 2>::new();
/// let (mut tx, mut rx) = ring.split();
/// tx.push("a").unwrap();
/// assert_eq!(rx.pop(), Some("a"));
/// ```
pub struct Consumer<T, S: Storage = Heap<T>> {
    /// The ring's header, valid as in [`Producer`].
    header: NonNull<Header>,
    /// The ring's waiters, valid as `header`, as in [`Producer`].
    waiters: NonNull<Waiters>,
    /// The ring's slots, valid as `header`. The consumer owns those in `head .. tail`.
    slots: Slots<T, S::Layout>,
    /// The exact number of items the ring holds, in `1 ..= slots.count()`.
    capacity: usize,
    /// The consumer's own counter. It may run ahead of the header's `head` after a
    /// [`Drain`] (items moved out, slots not yet released); see `unreleased`. The
    /// consumer never loads `head` back.
    head: usize,
    /// Set when a [`Drain`] starts, cleared when the consumer next stores its counter
    /// on a look for items: true whenever the header's `head` may lag `head` (a `Drain`
    /// still running, or forgotten). It may stay true after a pop has stored `head`
    /// (only a look for items clears it, which then stores `head` once more), so a
    /// forgotten `Drain` never keeps its slots from the producer for longer than until
    /// the consumer next finds no item it knows of, or is dropped.
    unreleased: bool,
    /// A value the header's `tail` had: items below it are published. With the
    /// indexed layout `cached_tail - head` (wrapping) is in `0 ..= capacity` and at most
    /// the true length (a stale cache can only under-report items). The stamped
    /// layout's single-item operations read stamps instead and let `head` pass it; a
    /// difference above the capacity then means no item is known ([`Self::known`]).
    cached_tail: usize,
    /// How many looks at the producer's counter in a row found nothing new (saturating):
    /// from [`IDLE_LOOKS`] on, an empty look also prefetches the next item's slot
    /// (indexed layout; see `available`).
    idle_looks: u8,
    /// As [`Producer`]'s: each release must notify.
    parks: bool,
    /// Keeps `header` and `slots` valid, as in [`Producer`].
    _storage: S,
}

// SAFETY: the consumer receives `T`s pushed on another thread and may drop them, so
// `T: Send` is needed and sufficient; shared state is touched only through atomics and
// through slots the protocol hands to the consumer alone; the storage is as for
// `Producer`, whose impl says why it is written over any `S: Send`.
unsafe impl<T: Send, S: Storage + Send> Send for Consumer<T, S> {}

impl<T, S: Storage> Consumer<T, S> {
    /// The consumer of a ring whose counters are `(head, tail)`, kept valid by
    /// `storage`.
    pub(crate) fn new(
        header: NonNull<Header>,
        waiters: NonNull<Waiters>,
        slots: Slots<T, S::Layout>,
        capacity: usize,
        (head, tail): (usize, usize),
        storage: S,
    ) -> Self {
        debug_assert!(capacity >= 1 && capacity <= slots.count());
        debug_assert!(slots.distance(head, tail) <= capacity, "ring invariant");
        // SAFETY: `storage` keeps the header and the waiters alive (caller).
        let parks = unsafe { waiters.as_ref() }.parks();
        Consumer {
            header,
            waiters,
            slots,
            capacity,
            head,
            unreleased: false,
            cached_tail: tail,
            idle_looks: 0,
            parks,
            _storage: storage,
        }
    }

    /// The ring's header.
    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: the header outlives this value: the `Consumer` holding it keeps the
        // ring alive or borrows it (field invariant on `header`).
        unsafe { self.header.as_ref() }
    }

    /// The ring's waiters.
    #[inline(always)]
    pub(super) fn waiters(&self) -> &Waiters {
        // SAFETY: as for `header` (field invariant on `waiters`).
        unsafe { self.waiters.as_ref() }
    }

    /// Releases everything moved out and marks the ring abandoned (the consumer's drop).
    fn abandon(&mut self) {
        // A forgotten `Drain` may have moved items out without releasing their slots:
        // publish the consumer's own counter so the final drop does not drop them again.
        // (Stored unconditionally: when nothing is pending it rewrites the same value,
        // which is simpler than asking `unreleased`.)
        self.header().head.store(self.head, Ordering::Release);
        self.header().abandoned.store(true, Ordering::Release);
        // The counter is stored: a later split (or the ring's drop) may trust it. Read
        // only once no half is alive, so `Relaxed`.
        self.header().consumer_out.store(false, Ordering::Relaxed);
        // A producer asleep waiting for room must wake to see it never gets any.
        self.waiters().slots_freed();
    }

    /// Returns the number of items available, reloading the producer's counter only
    /// when the cached one shows fewer than `wanted`.
    #[inline(always)]
    fn available(&mut self, wanted: usize) -> usize {
        let mut n = self.known();
        if n < wanted {
            self.flush_release();
            let tail = self.header().tail.load(Ordering::Acquire);
            // With the stamped layout the counter may lag what the stamps showed
            // (`head` may be past it): keep the larger count.
            let loaded = distance::<S, T>(&self.slots, self.head, tail);
            if loaded <= self.capacity && loaded > n {
                self.cached_tail = tail;
                n = loaded;
            }
            if !<S::Layout as LayoutImpl>::STAMPED {
                self.idle_looks = if n == 0 {
                    self.idle_looks.saturating_add(1)
                } else {
                    0
                };
                if self.idle_looks >= IDLE_LOOKS {
                    // Idle for a while: start fetching the line the next item will be
                    // written to, so that when the counter shows it, the value's line
                    // is already on its way rather than a second wait after the
                    // counter's. Not on the first empty looks, where a consumer that
                    // keeps up with a stream would pull the line from under the
                    // producer's next writes.
                    self.slots.prefetch(self.head);
                }
            }
            if <S::Layout as LayoutImpl>::STAMPED && n < wanted {
                // Items published by their stamps beyond the counter.
                n = self.stamped_beyond(n, wanted);
                self.cached_tail = advance::<S, T>(&self.slots, self.head, n);
            }
        }
        debug_assert!(n <= self.capacity, "ring invariant: len {n} > capacity");
        n
    }

    /// Stamped layout: `n` items from `head` are known published; counts on through
    /// the stamps after them, up to `wanted` (and the capacity).
    #[inline]
    fn stamped_beyond(&self, mut n: usize, wanted: usize) -> usize {
        let limit = wanted.min(self.capacity);
        let mut pos = advance::<S, T>(&self.slots, self.head, n);
        while n < limit && self.slots.stamp_ready(pos) {
            n += 1;
            pos = advance::<S, T>(&self.slots, pos, 1);
        }
        n
    }

    /// The number of items known to be published (from `cached_tail`), without looking.
    #[inline(always)]
    pub(super) fn known(&self) -> usize {
        let n = distance::<S, T>(&self.slots, self.head, self.cached_tail);
        if <S::Layout as LayoutImpl>::STAMPED && n > self.capacity {
            return 0; // `head` went past `cached_tail` by stamps
        }
        n
    }

    /// Stores the consumer's counter if a `Drain` may have left the header's behind.
    #[inline(always)]
    fn flush_release(&mut self) {
        if self.unreleased {
            self.unreleased = false;
            self.release(self.head);
        }
    }

    /// Whether the item at `head` is there (and visible), for the single-item
    /// operations. The stamped layout reads `head`'s stamp, on the slot's own line,
    /// and never the producer's counter, so a consumer polling an empty ring touches
    /// only the line the next item will arrive on; the indexed layout uses the items
    /// it knows of, then reloads the counter (`available`).
    #[inline(always)]
    fn has_item(&mut self) -> bool {
        if <S::Layout as LayoutImpl>::STAMPED {
            if self.slots.stamp_ready(self.head) {
                return true;
            }
            // Nothing new: release what a forgotten `Drain` moved out, as `available`
            // does, so the producer is never kept waiting for it.
            self.flush_release();
            return false;
        }
        self.available(1) > 0
    }

    /// Hands the slots below `head` back to the producer.
    #[inline(always)]
    fn release(&mut self, head: usize) {
        self.head = head;
        self.header().head.store(head, Ordering::Release);
        if self.parks {
            self.waiters().slots_freed();
        }
    }
}

impl<T, S: Storage> Consumer<T, S> {
    /// Removes and returns the oldest item, or `None` if the ring is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// assert_eq!(rx.pop(), None);
    /// tx.push("x").unwrap();
    /// assert_eq!(rx.pop(), Some("x"));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        // Copies, so the slot's address is computed from registers after the
        // `Acquire` in `has_item` (the compiler reloads fields after it).
        let (head, slots) = (self.head, self.slots);
        if !self.has_item() {
            return None;
        }
        // SAFETY: `has_item` saw the item at `head` published (by the counter, or by its
        // stamp, whose `Acquire` made the value's write visible), so the slot is inside
        // `head .. tail`: initialised and the consumer's; it is released (so treated as
        // uninitialised) right after.
        let value = unsafe { slots.read(head) };
        self.release(advance::<S, T>(&slots, head, 1));
        Some(value)
    }

    /// Returns a reference to the oldest item without removing it, or `None` if the
    /// ring is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// assert_eq!(rx.peek(), None);
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.peek(), Some(&7));
    /// assert_eq!(rx.pop(), Some(7));
    /// ```
    #[inline]
    pub fn peek(&self) -> Option<&T> {
        let head = self.head;
        let there = if <S::Layout as LayoutImpl>::STAMPED {
            self.slots.stamp_ready(head)
        } else if self.cached_tail != head {
            true
        } else {
            let tail = self.header().tail.load(Ordering::Acquire);
            // A `tail` more than the capacity ahead is never believed (a ring in shared
            // memory, whose other process may store anything): no item, as `available`
            // says to `pop`.
            tail != head
                && (!S::UNTRUSTED || distance::<S, T>(&self.slots, head, tail) <= self.capacity)
        };
        if !there {
            return None;
        }
        // SAFETY: the slot at `head` is inside `head .. tail` (a `tail` within the
        // capacity of `head`), initialised and the consumer's; it stays so while `&self`
        // is borrowed, since only `&mut self` methods move items out or release slots.
        Some(unsafe { self.slots.get(self.head) })
    }

    /// Copies as many of the oldest items as fit into the front of `dst`, removing
    /// them with one store; returns how many were popped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let mut out = [0; 2];
    /// assert_eq!(rx.pop_slice(&mut out), 2);
    /// assert_eq!(out, [1, 2]);
    /// assert_eq!(rx.pop_slice(&mut out), 1);
    /// assert_eq!(out[0], 3);
    /// ```
    #[inline]
    pub fn pop_slice(&mut self, dst: &mut [T]) -> usize
    where
        T: Copy,
    {
        let n = self.available(dst.len()).min(dst.len());
        if n == 0 {
            return 0;
        }
        let head = self.head;
        // SAFETY: `n` items are available, so `head .. head + n` are initialised and
        // the consumer's until released below; `T: Copy`, so copying out leaves
        // nothing to drop.
        unsafe { self.slots.copy_out(head, &mut dst[..n]) };
        self.release(advance::<S, T>(&self.slots, head, n));
        n
    }

    /// Returns an iterator that pops the items available now (it does not wait for
    /// more), releasing their slots to the producer once, when it is dropped.
    ///
    /// Items the iterator did not yield stay in the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let sum: i32 = rx.drain().sum();
    /// assert_eq!(sum, 6);
    /// assert!(rx.is_empty());
    /// ```
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, T, S> {
        let n = self.available(usize::MAX);
        Drain::new(self, n)
    }

    /// The exact number of items the ring holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = ringway::spsc::channel::<u8>(3);
    /// assert_eq!(rx.capacity(), 3);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of items in the ring, as seen by the consumer: a snapshot that the
    /// producer may raise at any moment; every item it counts is fully written.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2]);
    /// assert_eq!(rx.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        let tail = self.header().tail.load(Ordering::Acquire);
        let loaded = distance::<S, T>(&self.slots, self.head, tail);
        let known = self.known();
        // A counter below `head` (stamped layout: it lags the stamps) wraps above the
        // capacity: then the items known from the stamps are the count.
        let mut len = if loaded > self.capacity {
            known
        } else {
            loaded.max(known)
        };
        if <S::Layout as LayoutImpl>::STAMPED {
            // At most `COUNTER_EVERY - 1` single pushes lie beyond the counter.
            len = self.stamped_beyond(len, self.capacity);
        }
        debug_assert!(len <= self.capacity);
        len
    }

    /// Whether the ring holds no items (a snapshot from the consumer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::channel(4);
    /// assert!(rx.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring holds `capacity` items (a snapshot from the consumer's side).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::channel(2);
    /// tx.push_slice(&[1, 2]);
    /// assert!(rx.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Whether the [`Producer`] has been dropped. Once this returns true, every item
    /// the producer pushed is visible: popping until empty receives all of them. (A
    /// ring in shared memory, `shm`, differs: it is also true while the producer's
    /// process is dead, whose items not yet published are lost, and false again once a
    /// new producer attaches.)
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(2);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_abandoned());
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(rx.pop(), None);
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.header().abandoned.load(Ordering::Acquire) || self._storage.peer_gone()
    }
}

/// The zero-copy chunks, as for [`Producer`]'s: [`Indexed`] layout only.
impl<T, S: Storage<Layout = Indexed>> Consumer<T, S> {
    /// Grants zero-copy access to the `n` oldest items, which the returned chunk
    /// removes with [`ReadChunk::commit`].
    ///
    /// # Errors
    ///
    /// [`ChunkError::TooFewSlots`] with the number of available items if fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::channel(4);
    /// tx.push_slice(&[1, 2, 3]);
    /// let chunk = rx.read_chunk(2).unwrap();
    /// let (first, second) = chunk.as_slices();
    /// assert_eq!([first, second].concat(), [1, 2]);
    /// chunk.commit_all();
    /// assert_eq!(rx.pop(), Some(3));
    /// assert_eq!(rx.read_chunk(1).unwrap_err(), ringway::ChunkError::TooFewSlots(0));
    /// ```
    #[inline]
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, T, S>, ChunkError> {
        let available = self.available(n);
        if available < n {
            return Err(ChunkError::TooFewSlots(available));
        }
        Ok(ReadChunk::new(self, n))
    }
}

impl<T, S: Storage> Drop for Consumer<T, S> {
    fn drop(&mut self) {
        self.abandon();
    }
}

impl<T, S: Storage> fmt::Debug for Consumer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(ringway_loom), feature = "alloc", target_has_atomic = "ptr"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Counters that cross `usize::MAX` (a real run needs 2^64 items), for each layout:
    /// for each capacity and each start up to two laps of slots before the wrap, a mix
    /// of single pushes, pops, peeks and batches, checked against a model.
    fn counters_wrap_around_usize_max<L: Layout>() {
        for capacity in [1usize, 2, 3, 4, 5, 8] {
            for back in 0..2 * capacity.next_power_of_two() + 2 {
                let start = usize::MAX - back;
                let (mut tx, mut rx) =
                    with_waiters_at::<Vec<usize>, L>(capacity, Waiters::spin_yield(), start);
                assert!(rx.is_empty() && tx.is_empty());
                assert_eq!(
                    rx.pop(),
                    None,
                    "a fresh ring near the wrap looked non-empty"
                );
                let (mut pushed, mut popped) = (0usize, 0usize);
                for step in 0..4 * capacity + 8 {
                    match step % 5 {
                        // Two pushes for every pop until full, then drains.
                        0 | 1 if pushed - popped < capacity => {
                            tx.push(alloc::vec![pushed]).unwrap();
                            pushed += 1;
                        }
                        3 => {
                            let n = tx.push_iter((pushed..pushed + 2).map(|v| alloc::vec![v]));
                            assert_eq!(n, 2.min(capacity - (pushed - popped)));
                            pushed += n;
                        }
                        4 => {
                            for v in rx.drain().take(2) {
                                assert_eq!(v, [popped], "FIFO across the wrap (drain)");
                                popped += 1;
                            }
                        }
                        _ => {
                            let peeked = rx.peek().cloned();
                            match rx.pop() {
                                Some(v) => {
                                    assert_eq!(v, [popped], "FIFO across the wrap");
                                    assert_eq!(peeked.as_deref(), Some(&[popped][..]));
                                    popped += 1;
                                }
                                None => assert_eq!((peeked, pushed), (None, popped)),
                            }
                        }
                    }
                    assert_eq!(tx.len(), pushed - popped);
                    assert_eq!(rx.len(), pushed - popped);
                    assert_eq!(rx.is_empty(), pushed == popped);
                    if pushed - popped == capacity {
                        assert!(tx.push(alloc::vec![usize::MAX]).is_err());
                    }
                }
                // Items left (heap-allocated, so a miss leaks and a double drop
                // corrupts under Miri) are dropped with the ring.
                drop((tx, rx));
            }
        }
    }

    #[test]
    fn counters_wrap_around_usize_max_indexed() {
        counters_wrap_around_usize_max::<Indexed>();
    }

    #[test]
    fn counters_wrap_around_usize_max_stamped() {
        counters_wrap_around_usize_max::<Stamped>();
    }
}
