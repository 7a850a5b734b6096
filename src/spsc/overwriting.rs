//! An SPSC ring that keeps the newest items: when it is full, [`Producer::push`]
//! displaces the oldest item and hands it back, instead of refusing the new one.
//!
//! For meters, telemetry, audio visualisation and market-data snapshots, where the
//! latest values matter and a slow reader must never hold the writer up. Nothing is
//! dropped silently: every item is either popped or handed back to the producer by the
//! push that displaced it, so the caller can count (or recycle) what was lost.
//!
//! ```
//! let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
//! assert_eq!(tx.push(1), None);
//! assert_eq!(tx.push(2), None);
//! assert_eq!(tx.push(3), Some(1)); // full: 1 is displaced, and handed back
//! assert_eq!(rx.pop(), Some(2));
//! assert_eq!(rx.pop(), Some(3));
//! assert_eq!(rx.pop(), None);
//! ```
//!
//! # Progress
//!
//! `push` is wait-free (at most one compare-and-swap, never retried) and `pop`
//! lock-free: the consumer and a displacing producer race for the oldest item,
//! exactly one of them gets it, and a consumer that loses retries only because the
//! producer made progress. The
//! race costs the consumer one compare-and-swap per pop, on a cache line only it
//! writes while the ring is not full; a push that does not displace has no
//! read-modify-write. The plain [`spsc::channel`](super::channel) pays nothing for
//! the race.
//!
//! # The protocol
//!
//! The ring is `capacity` *slots*, each an *entry* (one atomic word: the last
//! position pushed there, and the cell holding its value) and a cell beside it, plus
//! one more cell. The entries name distinct cells, normally each its own slot's; the
//! one cell no entry names is the producer's *spare*. Two counters on the consumer's
//! cache line: `head`, the oldest position in the ring, and `done`, the position
//! after the last item the consumer finished reading.
//!
//! * **pop** loads the entry of its position `head` (`Acquire`). An entry naming an
//!   earlier position means the item is not there yet (empty). If it names `head`,
//!   the consumer takes the item by moving `head` past it with a compare-and-swap;
//!   then it moves the value out of the cell and stores `done` (`Release`). If the
//!   compare-and-swap fails, or the entry names a later position, the producer has
//!   displaced the item, and the consumer goes on from where `head` is now.
//! * **push** writes the slot of its position `tail`, whose entry names the previous
//!   lap's position `tail - lap`. If that item is still in the ring (`head` is still
//!   `tail - lap`), the ring is full: the producer displaces it by moving `head` past
//!   it with a compare-and-swap, moves the value out, writes the new one into the
//!   same cell and returns the old one. Otherwise the consumer took that item, and
//!   the cell is free once `done` is past it: the producer writes the value there and
//!   stores the entry (`Release`). If the consumer is still reading that item, the
//!   producer does not wait: it writes into its spare instead, names the spare in
//!   the entry (a *redirect*), and the cell the consumer reads becomes its spare.
//!   The consumer reads one item at a time, so a redirect always finds the spare
//!   free: the consumer finished the item it read from it before it took the one it
//!   reads now.
//!   Until its first redirect the producer knows that each entry names its own
//!   slot's cell, and does not load the entry before writing the slot: a load there
//!   would fetch the line the consumer polls once to read it and again to write it.
//!
//! So a hand-off moves one cache line (the slot, entry and value together) while the
//! ring is not full, as [`spsc::stamped`](super::stamped) does. The producer touches
//! the consumer's line only when the ring may be full or the item it overwrites may
//! still be being read: before that it looks at what the consumer *reports*, a copy of
//! `done` it stores on a line of its own after at most `min(32, capacity / 2)` pops
//! (and when it finds the ring empty, and when it is dropped). A producer polling the
//! consumer's line itself would make the consumer's next compare-and-swap wait for the
//! line to come back on every pop.
//!
//! Positions are counted as [`StaticRing`](super::StaticRing)'s are: the slot of
//! `pos` is `pos & mask`, and when the capacity is not a power of two the positions
//! past the last slot of a lap are skipped. `head`, `done` and `tail` are full 64-bit
//! positions; an entry holds the position in its high bits, truncated to `64 -
//! bits(capacity)` bits (at least 40), and a consumer compares the positions of
//! entries within that width. Items are taken only by the compare-and-swap of the
//! full `head`, so that cannot hand out a wrong item; a consumer suspended for 2^39
//! pushes or more may only report the ring empty until the entry it looks at comes
//! round again.
//!
//! Entries and positions are 64-bit atomics on every target, so the bound above holds
//! on 32-bit targets too. The module exists wherever the target has 64-bit atomics
//! (`target_has_atomic = "64"`): every 64-bit target, and 32-bit ones such as i686,
//! ARMv7-A and wasm32; not Cortex-M or 32-bit RISC-V, which have no 64-bit atomics.
//!
//! # Waiting
//!
//! The producer never waits. The consumer's waiting pops ([`Consumer::pop_blocking`],
//! [`Consumer::pop_timeout`], [`Consumer::pop_async`]) wait as the ring's
//! [`WaitStrategy`](crate::WaitStrategy) says, as for [`spsc::channel`](super::channel)
//! ([`channel_with_wait_strategy`] picks it), and report [`Disconnected`] once the
//! producer is gone and the ring is empty.
//!
//! # Storage
//!
//! [`channel`] puts the ring on the heap ([`Heap`] storage); [`StaticRing`] holds it in
//! place, `const`-constructible for a `static`, and lends it to halves of
//! [`Borrowed`] storage. Both run the same code.

use alloc::boxed::Box;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crossbeam_utils::CachePadded;

// Positions and entries are `Word`s (64 bits on every target), so that 32-bit targets
// keep the entries' 38 or more bits of position (see the module docs).
use crate::sync::{self, Arc, AtomicBool, AtomicU64, Ordering, UnsafeCell, Word};
use crate::wait::Waiters;
#[cfg(any(feature = "std", feature = "async"))]
use crate::Disconnected;
use crate::InvariantIn;

/// The largest capacity of an overwriting ring: `2^24 - 2` (its `capacity + 1` cells
/// are numbered in 24 bits, leaving the entries 40 bits of position).
pub const MAX_CAPACITY: usize = (1 << 24) - 2;

/// The counters and flags both halves share, wherever the ring lives.
struct Header {
    /// What the consumer writes on every pop, on one line of its own.
    consumer: CachePadded<Progress>,
    /// A value `done` had, which the consumer *reports* (stores, `Release`) after at
    /// most `Consumer::report_every` pops, whenever a pop finds the ring empty, and
    /// when it is dropped: on a line of its own, which the producer may poll (its
    /// `is_full`, and a push whose last look at `done` is behind) without making the
    /// consumer's next compare-and-swap of `head` wait for `done`'s line to come back.
    released: CachePadded<AtomicU64>,
    /// The producer's count of pushes, as a position (stored after every push,
    /// `Relaxed`): `Consumer::len` reads it for a snapshot of the length, and a
    /// `StaticRing` split again starts from it. The items themselves are published
    /// through the entries.
    tail: CachePadded<AtomicU64>,
    /// Set with `Release` by whichever half is dropped first; the producer's pushes
    /// (their entries' stores) come before it, so an `Acquire` load that sees it is
    /// followed by pops that see every item pushed. Cleared only with exclusive access
    /// to the ring (a `StaticRing` split again).
    abandoned: AtomicBool,
    /// The consumer's wait strategy and its sleeping waiters (the producer never
    /// waits): the producer notifies after every push and when it is dropped (only
    /// with `WaitStrategy::SpinPark`).
    waiters: Waiters,
}

/// The consumer's progress, as both halves see it.
struct Progress {
    /// The oldest position in the ring: every earlier item was taken by the consumer
    /// or displaced by the producer. Both move it, one position at a time and only by
    /// compare-and-swap: whichever moves it from `pos` gets `pos`'s item. The
    /// consumer's moves are `Release` (its reads of every earlier item it took are
    /// finished: see `Producer::free_cell`).
    head: AtomicU64,
    /// The position after the last item the consumer finished reading, stored with
    /// `Release` right after the read: the cell of an item the consumer took before
    /// `done` is free again.
    done: AtomicU64,
}

impl Header {
    loom_const_fn! {
        fn new(waiters: Waiters) -> Self {
            Header {
                consumer: CachePadded::new(Progress {
                    head: AtomicU64::new(0),
                    done: AtomicU64::new(0),
                }),
                released: CachePadded::new(AtomicU64::new(0)),
                tail: CachePadded::new(AtomicU64::new(0)),
                abandoned: AtomicBool::new(false),
                waiters,
            }
        }
    }

    /// Sets the counters of a ring with no half alive whose oldest position is `head`
    /// and next push `tail`.
    fn set(&self, head: Word, tail: Word) {
        self.consumer.head.store(head, Ordering::Relaxed);
        self.consumer.done.store(head, Ordering::Relaxed);
        self.released.store(head, Ordering::Relaxed);
        self.tail.store(tail, Ordering::Relaxed);
    }
}

/// One cell: a place for one value.
type Cell<T> = UnsafeCell<MaybeUninit<T>>;

/// One position of a lap: its entry, and a cell beside it, which the entry names
/// unless the producer redirected it (see [`View`]). Entry and cell share a cache
/// line (for items of up to 56 bytes), so a hand-off moves one line.
struct Slot<T> {
    /// `position << cell_bits | cell`: the last position pushed here, and the cell
    /// holding its value. Only the producer writes it.
    entry: AtomicU64,
    /// Cell `i` of slot `i`.
    cell: Cell<T>,
}

impl<T> Slot<T> {
    loom_const_fn! {
        fn new() -> Self {
            Slot {
                entry: AtomicU64::new(0),
                cell: UnsafeCell::new(MaybeUninit::uninit()),
            }
        }
    }
}

/// A raw view of a ring's slots and cells, copied into both halves; the storage that
/// owns them (a [`Heap`] ring or a [`StaticRing`]) outlives every view of them.
///
/// The ring is `capacity` slots; the slot of position `pos` is `slots[pos & mask]`.
/// There are `capacity + 1` cells: one in each slot, and one more (`extra`, cell
/// `capacity`). The entries name distinct cells; the one cell no entry names belongs
/// to the producer (its spare, or a cell it waits to get back). A cell holds a value
/// exactly when an entry of a position in the ring names it (positions `head ..
/// tail`), or the consumer took its item and is reading it (or holds it, after
/// `peek`).
struct View<T> {
    /// The `capacity` slots.
    slots: NonNull<Slot<T>>,
    /// Cell `capacity`.
    extra: NonNull<Cell<T>>,
    geometry: Geometry,
    /// Makes the view, and every type built on it, invariant in `T` (see
    /// `InvariantIn`).
    _invariant: InvariantIn<T>,
}

impl<T> Clone for View<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for View<T> {}

impl<T> View<T> {
    /// The entry of `pos`.
    #[inline(always)]
    fn entry(&self, pos: Word) -> &AtomicU64 {
        // Below `capacity` (asserted below), so it fits a `usize`.
        let i = (pos & self.geometry.mask) as usize;
        debug_assert!(
            i < self.geometry.capacity,
            "position {pos} maps past the slots"
        );
        // SAFETY: positions are made by `Geometry::next` (and the consumer's jumps land
        // on such positions), so `pos & mask < capacity`, the number of slots, which
        // outlive the view (type docs).
        unsafe { &(*self.slots.as_ptr().add(i)).entry }
    }

    /// Cell `cell`.
    #[inline(always)]
    fn cell(&self, cell: usize) -> &Cell<T> {
        let n = self.geometry.capacity;
        debug_assert!(cell <= n, "cell {cell} out of range");
        // SAFETY: a cell index from an entry or a half is at most `capacity`: the first
        // `capacity` are in the slots, the last is `extra`; the storage outlives the
        // view (type docs).
        unsafe {
            if cell < n {
                &(*self.slots.as_ptr().add(cell)).cell
            } else {
                self.extra.as_ref()
            }
        }
    }

    /// Moves `value` into `cell`.
    ///
    /// # Safety
    ///
    /// The caller owns `cell`, which holds no value (one it held is leaked).
    #[inline(always)]
    unsafe fn write(&self, cell: usize, value: T) {
        // SAFETY: the caller owns the cell, so no other access can race.
        self.cell(cell)
            .with_mut(|slot| unsafe { (*slot).write(value) });
    }

    /// Moves the value out of `cell`, which then holds none.
    ///
    /// # Safety
    ///
    /// The caller owns `cell`, which holds a value, and treats it as empty afterwards.
    #[inline(always)]
    unsafe fn read(&self, cell: usize) -> T {
        // SAFETY: owned and initialised (caller).
        self.cell(cell)
            .with_mut(|slot| unsafe { (*slot).assume_init_read() })
    }

    /// The value in `cell`.
    ///
    /// # Safety
    ///
    /// The caller owns `cell`, which holds a value, for `'a`, and nobody moves it out
    /// meanwhile.
    #[inline(always)]
    unsafe fn get<'a>(&self, cell: usize) -> &'a T {
        // SAFETY: owned and initialised for `'a` (caller).
        self.cell(cell)
            .with(|slot| unsafe { (*slot).assume_init_ref() })
    }

    /// Makes the ring empty, its counters all `first`, the start of a lap (0, but for
    /// the tests of positions that wrap around): the entry of slot `i` names position
    /// `first + i - lap` (a lap before its first push) and its own cell, so the
    /// producer's first lap finds each cell free and a consumer finds each position
    /// not yet pushed. The spare is cell `capacity`.
    ///
    /// # Safety
    ///
    /// No half of the ring is alive, and its cells hold no values that need dropping
    /// (they would be leaked).
    unsafe fn reset(&self, header: &Header, first: Word) {
        let g = self.geometry;
        debug_assert_eq!(first & g.mask, 0, "{first} does not start a lap");
        for i in 0..g.capacity {
            let pos = first.wrapping_add(i as Word);
            self.entry(pos)
                .store(g.entry(pos.wrapping_sub(g.lap()), i), Ordering::Relaxed);
        }
        header.set(first, first);
    }

    /// Whether every slot's entry names the slot's own cell (then the spare is cell
    /// `capacity`): so after `reset`, until the first redirect.
    ///
    /// Only the producer stores entries, so the caller must be it, or have the ring to
    /// itself.
    fn names_own_cells(&self) -> bool {
        let g = self.geometry;
        (0..g.capacity).all(|i| {
            // SAFETY: only the producer stores to entries (caller).
            g.cell(unsafe { sync::load_own_u64(self.entry(i as Word)) }) == i
        })
    }

    /// Where the producer of a ring with no half alive starts (`StaticRing` split
    /// again): its spare is the one cell no entry names. The counters stay as the
    /// last halves left them, but for `done`, which becomes `head`: every item the
    /// consumer took was read (or leaked, by a consumer forgotten while it held one).
    fn start(&self, header: &Header) -> usize {
        let g = self.geometry;
        let mut unnamed = 0;
        for c in 0..=g.capacity {
            unnamed ^= c;
        }
        for i in 0..g.capacity as Word {
            unnamed ^= g.cell(self.entry(i).load(Ordering::Relaxed));
        }
        let head = header.consumer.head.load(Ordering::Relaxed);
        header.set(head, header.tail.load(Ordering::Relaxed));
        unnamed
    }

    /// Drops the items in the ring, those of the entries of positions `head` and
    /// later (the ring's drop; a consumer drops the item it holds itself).
    ///
    /// # Safety
    ///
    /// No half of the ring is alive, and its entries and counters are as the protocol
    /// left them.
    unsafe fn drop_items(&self, header: &Header) {
        if sync::model_panicked() {
            return;
        }
        let g = self.geometry;
        let head = header.consumer.head.load(Ordering::Relaxed);
        let items = (0..g.capacity as Word)
            .map(|i| self.entry(i).load(Ordering::Relaxed))
            .filter(|&entry| g.place(entry, head).is_ok());
        crate::drop_each(items, |entry| {
            // SAFETY: no half is alive, so nothing else touches the cell, and the entry
            // of a position in the ring names the cell of its item; the entries name
            // distinct cells, and `drop_each` hands each entry over once (also if a
            // `Drop` panics).
            drop(unsafe { self.read(g.cell(entry)) })
        });
    }
}

/// The storage of the halves made by [`channel`]: the ring is one heap allocation,
/// shared by reference counting, which the last half dropped frees.
///
/// # Examples
///
/// ```
/// use ringway::spsc::overwriting::{Heap, Producer};
///
/// // `Producer<T>` is `Producer<T, Heap<T>>`.
/// let (tx, _rx): (Producer<u8, Heap<u8>>, _) = ringway::spsc::overwriting::channel(4);
/// ```
pub struct Heap<T> {
    _ring: Arc<HeapRing<T>>,
}

impl<T> fmt::Debug for Heap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Heap")
    }
}

/// The storage of the halves made by [`StaticRing::split`]: they borrow the ring for
/// `'a`.
///
/// # Examples
///
/// ```
/// use ringway::spsc::overwriting::{Borrowed, Producer, StaticRing};
///
/// let mut ring = StaticRing::<u8, 4>::new();
/// let (tx, _rx): (Producer<u8, Borrowed<'_>>, _) = ring.split();
/// # drop(tx);
/// ```
pub struct Borrowed<'a>(PhantomData<&'a ()>);

impl fmt::Debug for Borrowed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Borrowed")
    }
}

/// The storages an overwriting ring's halves can have: [`Heap<T>`] and
/// [`Borrowed<'a>`](Borrowed). Sealed; it exists for code generic over both.
///
/// # Examples
///
/// ```
/// use ringway::spsc::overwriting::{Consumer, Storage};
///
/// fn newest<S: Storage>(rx: &mut Consumer<u64, S>) -> Option<u64> {
///     rx.drain().last()
/// }
///
/// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
/// tx.push(1);
/// tx.push(2);
/// assert_eq!(newest(&mut rx), Some(2));
/// ```
pub trait Storage: sealed::Sealed {}

impl<T> Storage for Heap<T> {}
impl Storage for Borrowed<'_> {}

mod sealed {
    /// Keeps [`Storage`](super::Storage) to this module's types.
    pub trait Sealed {}
    impl<T> Sealed for super::Heap<T> {}
    impl Sealed for super::Borrowed<'_> {}
}

/// The heap allocation behind [`Heap`]: the header, the slots and the extra cell,
/// and what is left in them, dropped when the last half goes.
struct HeapRing<T> {
    header: Header,
    /// `capacity` slots (see [`View`]).
    slots: Box<[Slot<T>]>,
    /// Cell `capacity` (see [`View`]).
    extra: Cell<T>,
    geometry: Geometry,
}

// SAFETY: the ring owns `T`s in its cells, reached only through views, one side per
// cell at a time (see `View`); the rest is atomics. Sending or sharing it (through
// the `Arc` of the halves' `Heap` storage) moves `T`s between threads, so `T: Send` is
// needed and sufficient.
unsafe impl<T: Send> Send for HeapRing<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for HeapRing<T> {}

impl<T> HeapRing<T> {
    fn view(&self) -> View<T> {
        View {
            // From the whole slice, so the pointer may reach every slot.
            slots: NonNull::from(&*self.slots).cast::<Slot<T>>(),
            extra: NonNull::from(&self.extra),
            geometry: self.geometry,
            _invariant: InvariantIn::default(),
        }
    }
}

impl<T> Drop for HeapRing<T> {
    fn drop(&mut self) {
        // SAFETY: both halves are gone (this is the last `Arc`).
        unsafe { self.view().drop_items(&self.header) };
    }
}

/// The fixed numbers of a ring, copied into both halves.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    /// The number of slots (the capacity), `1 ..= MAX_CAPACITY`.
    capacity: usize,
    /// The lap minus one: `capacity` rounded up to a power of two, minus one.
    mask: Word,
    /// The number of low bits of an entry that name its cell (`capacity + 1` cells).
    cell_bits: u32,
}

impl Geometry {
    fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "ringway: capacity must be at least 1");
        assert!(
            capacity <= MAX_CAPACITY,
            "ringway: capacity overflow: {capacity} is above the largest capacity of an \
             overwriting ring, {MAX_CAPACITY}"
        );
        Geometry {
            capacity,
            // At most 2^24 - 1 (`MAX_CAPACITY`): fits any `Word`.
            mask: capacity.next_power_of_two() as Word - 1,
            // Cells `0 ..= capacity`.
            cell_bits: usize::BITS - capacity.leading_zeros(),
        }
    }

    /// The number of positions in a lap (the valid ones, and those skipped past the
    /// last slot when the capacity is not a power of two).
    #[inline(always)]
    fn lap(self) -> Word {
        self.mask + 1
    }

    /// The position after `pos`, skipping the positions past the last slot of a lap.
    #[inline(always)]
    fn next(self, pos: Word) -> Word {
        if (pos & self.mask) + 1 == self.capacity as Word {
            (pos | self.mask).wrapping_add(1)
        } else {
            pos.wrapping_add(1)
        }
    }

    /// The entry saying that position `pos` is in `cell`.
    #[inline(always)]
    fn entry(self, pos: Word, cell: usize) -> Word {
        debug_assert!(cell <= self.capacity);
        (pos << self.cell_bits) | cell as Word
    }

    /// The cell an entry names.
    #[inline(always)]
    fn cell(self, entry: Word) -> usize {
        // At most `cell_bits <= 24` bits: fits any `usize` (of at least 32 bits).
        (entry & ((1 << self.cell_bits) - 1)) as usize
    }

    /// Where an entry's position lies from `pos`: `Ok(d)` if it is `pos + d` (so `d`
    /// is 0 for `pos` itself), `Err(())` if it is before `pos`. Compared in the
    /// truncated width of the entries (see the module docs).
    #[inline(always)]
    fn place(self, entry: Word, pos: Word) -> Result<Word, ()> {
        let shift = self.cell_bits;
        let d = (entry >> shift).wrapping_sub(pos) & (Word::MAX >> shift);
        if d >> (Word::BITS - shift - 1) == 0 {
            Ok(d)
        } else {
            Err(())
        }
    }
}

/// Whether position `a` comes before position `b` (positions of one ring, within
/// half the `Word` range of each other).
#[inline(always)]
fn before(a: Word, b: Word) -> bool {
    let d = b.wrapping_sub(a);
    d != 0 && d <= Word::MAX / 2
}

/// Creates an overwriting SPSC ring that holds up to `capacity` items and returns its
/// two halves.
///
/// # Panics
///
/// If `capacity` is 0 or above [`MAX_CAPACITY`].
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::overwriting::channel::<u32>(3);
/// for i in 0..10 {
///     if let Some(old) = tx.push(i) {
///         assert_eq!(old, i - 3); // the oldest goes when the ring is full
///     }
/// }
/// assert_eq!(rx.drain().collect::<Vec<_>>(), [7, 8, 9]);
/// ```
///
/// ```should_panic
/// let _ = ringway::spsc::overwriting::channel::<u8>(0); // panics: capacity must be at least 1
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    with_waiters(capacity, Waiters::spin_yield())
}

/// Creates an overwriting SPSC ring like [`channel`], whose consumer's waiting pops
/// ([`Consumer::pop_blocking`], [`Consumer::pop_async`], ...) wait as `strategy`
/// says (see [`spsc::channel_with_wait_strategy`](super::channel_with_wait_strategy):
/// with [`WaitStrategy::SpinPark`](crate::WaitStrategy::SpinPark) they sleep, and
/// every push pays a fence to wake them).
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
/// let (mut tx, mut rx) =
///     ringway::spsc::overwriting::channel_with_wait_strategy(4, WaitStrategy::SPIN_PARK);
/// let consumer = std::thread::spawn(move || rx.pop_blocking()); // sleeps until woken
/// tx.push(7);
/// assert_eq!(consumer.join().unwrap(), Ok(7));
/// ```
#[cfg(any(feature = "std", feature = "async"))]
pub fn channel_with_wait_strategy<T>(
    capacity: usize,
    strategy: crate::WaitStrategy,
) -> (Producer<T>, Consumer<T>) {
    with_waiters(capacity, Waiters::new(strategy))
}

fn with_waiters<T>(capacity: usize, waiters: Waiters) -> (Producer<T>, Consumer<T>) {
    with_waiters_at(capacity, waiters, 0)
}

/// The halves of a new heap ring whose positions start at `first`, the start of a lap
/// (0, but for the tests of positions that wrap around).
fn with_waiters_at<T>(
    capacity: usize,
    waiters: Waiters,
    first: Word,
) -> (Producer<T>, Consumer<T>) {
    let geometry = Geometry::new(capacity);
    let ring = Arc::new(HeapRing {
        header: Header::new(waiters),
        slots: (0..capacity).map(|_| Slot::new()).collect(),
        extra: UnsafeCell::new(MaybeUninit::uninit()),
        geometry,
    });
    let view = ring.view();
    // SAFETY: the ring is new: no half, no values.
    unsafe { view.reset(&ring.header, first) };
    let header = NonNull::from(&ring.header);
    let storage = || Heap {
        _ring: Arc::clone(&ring),
    };
    (
        Producer::new(header, view, capacity, storage()),
        Consumer::new(header, view, storage()),
    )
}

/// `[e; N]` for a non-`Copy` `e` (an atomic, a cell), in a `const fn` (under loom,
/// whose atomics and cells are not `const`, an `array::from_fn`).
#[cfg(not(ringway_loom))]
macro_rules! array_of {
    ($n:expr, $e:expr) => {
        [const { $e }; $n]
    };
}
#[cfg(ringway_loom)]
macro_rules! array_of {
    ($n:expr, $e:expr) => {
        core::array::from_fn(|_| $e)
    };
}

/// An overwriting SPSC ring that holds up to `N` items in place: no allocation, a
/// `const` constructor, so it can live in a `static`. The same protocol code as
/// [`channel`]'s; only the storage differs. Any `N` from 1 to [`MAX_CAPACITY`] (`N =
/// 0` is a compile-time error).
///
/// [`split`](Self::split) lends it to a [`Producer`] and a [`Consumer`] (generic over
/// [`Borrowed<'a>`](Borrowed) storage), [`try_split`](Self::try_split) hands them out
/// once from `&'static self`. Once both halves are dropped it can be split again: the
/// new halves go on with the items left (the consumer from the oldest). Dropping the
/// ring drops the items left in it, once. If a consumer is forgotten (`mem::forget`)
/// rather than dropped, an item it took with [`peek`](Consumer::peek) and never
/// popped is leaked, never dropped twice.
///
/// `StaticRing<T, N>` is `Send` and `Sync` when `T: Send`.
///
/// # Examples
///
/// ```
/// use ringway::spsc::overwriting::StaticRing;
///
/// static LATEST: StaticRing<[f32; 4], 3> = StaticRing::new();
///
/// let (mut tx, mut rx) = LATEST.try_split().expect("split once");
/// for i in 0..10 {
///     tx.push([i as f32; 4]); // never waits; the oldest readings go
/// }
/// assert_eq!(rx.drain().map(|r| r[0]).collect::<Vec<_>>(), [7.0, 8.0, 9.0]);
/// assert!(LATEST.try_split().is_none());
/// ```
///
/// ```compile_fail
/// static EMPTY: ringway::spsc::overwriting::StaticRing<u8, 0> =
///     ringway::spsc::overwriting::StaticRing::new(); // N must be at least 1
/// ```
pub struct StaticRing<T, const N: usize> {
    header: Header,
    /// The `N` slots (see [`View`]), their entries written at the first split.
    slots: [Slot<T>; N],
    /// Cell `N`.
    extra: Cell<T>,
    /// Whether the first split has written the entries. Read and written only with
    /// no half alive (exclusive access, or the one `try_split`).
    started: AtomicBool,
    /// Whether [`try_split`](Self::try_split) has handed out the halves.
    split_taken: AtomicBool,
    /// Invariant in `T` (see `InvariantIn`).
    _invariant: InvariantIn<T>,
}

// SAFETY: the cells are reached only through views, one side per cell at a time (see
// `View`), and the rest is atomics; sharing `&StaticRing` gives `try_split` (one pair
// of halves, each `Send` when `T: Send`), nothing that reads a `T`. So `T: Send` is
// needed and sufficient, as for the heap ring.
unsafe impl<T: Send, const N: usize> Sync for StaticRing<T, N> {}

impl<T, const N: usize> StaticRing<T, N> {
    /// `N` is at least 1 and at most [`MAX_CAPACITY`] (checked when the ring is built,
    /// so a bad `N` fails the build).
    const VALID_CAPACITY: () = assert!(
        N >= 1 && N <= MAX_CAPACITY,
        "ringway: overwriting::StaticRing<T, N> needs 1 <= N <= MAX_CAPACITY"
    );

    loom_const_fn! {
        /// An empty ring whose consumer's waiting pops never sleep (as [`channel`]'s);
        /// `const`, for a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// static RING: ringway::spsc::overwriting::StaticRing<u64, 5> =
        ///     ringway::spsc::overwriting::StaticRing::new();
        /// assert_eq!(RING.capacity(), 5);
        /// ```
        pub fn new() -> Self {
            Self::with_waiters(Waiters::spin_yield())
        }
    }

    loom_const_fn! {
        /// An empty ring whose consumer's waiting pops wait as `strategy` says (see
        /// [`channel_with_wait_strategy`]); `const`, like [`new`](Self::new).
        ///
        /// # Examples
        ///
        /// ```
        /// use ringway::{spsc::overwriting::StaticRing, WaitStrategy};
        ///
        /// static RING: StaticRing<u32, 2> = StaticRing::with_wait_strategy(WaitStrategy::SPIN_PARK);
        /// let (mut tx, mut rx) = RING.try_split().unwrap();
        /// let consumer = std::thread::spawn(move || rx.pop_blocking()); // sleeps until woken
        /// tx.push(1);
        /// assert_eq!(consumer.join().unwrap(), Ok(1));
        /// ```
        #[cfg(any(feature = "std", feature = "async"))]
        pub fn with_wait_strategy(strategy: crate::WaitStrategy) -> Self {
            Self::with_waiters(Waiters::new(strategy))
        }
    }

    loom_const_fn! {
        fn with_waiters(waiters: Waiters) -> Self {
            #[allow(clippy::let_unit_value)]
            let () = Self::VALID_CAPACITY;
            StaticRing {
                header: Header::new(waiters),
                slots: array_of!(N, Slot::new()),
                extra: UnsafeCell::new(MaybeUninit::uninit()),
                started: AtomicBool::new(false),
                split_taken: AtomicBool::new(false),
                _invariant: PhantomData,
            }
        }
    }

    /// The number of items the ring holds when full: `N`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = ringway::spsc::overwriting::StaticRing::<u8, 3>::new();
    /// assert_eq!(ring.capacity(), 3);
    /// ```
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Lends the ring to a producer and a consumer, which borrow it until both are
    /// dropped; split again, the new halves go on with the items left.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ring = ringway::spsc::overwriting::StaticRing::<u32, 2>::new();
    /// let (mut tx, rx) = ring.split();
    /// tx.push(1);
    /// tx.push(2);
    /// tx.push(3); // displaces 1
    /// drop((tx, rx));
    /// let (_tx, mut rx) = ring.split();
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), [2, 3]);
    /// ```
    pub fn split(&mut self) -> (Producer<T, Borrowed<'_>>, Consumer<T, Borrowed<'_>>) {
        // `&mut self`: no half is alive, and what the last ones did happened before.
        self.halves()
    }

    /// Lends a shared ring to a producer and a consumer, the first time it is called
    /// on this ring; `None` every later time. For a ring in a `static`: the halves
    /// are then `'static`.
    ///
    /// # Examples
    ///
    /// ```
    /// static RING: ringway::spsc::overwriting::StaticRing<u8, 4> =
    ///     ringway::spsc::overwriting::StaticRing::new();
    /// let (mut tx, mut rx) = RING.try_split().unwrap();
    /// tx.push(1);
    /// assert_eq!(rx.pop(), Some(1));
    /// assert!(RING.try_split().is_none());
    /// ```
    pub fn try_split(&self) -> Option<(Producer<T, Borrowed<'_>>, Consumer<T, Borrowed<'_>>)> {
        // The swap's atomicity alone makes the halves unique; the callers that lose
        // touch nothing. No half of an earlier `split` is alive (that borrow was
        // exclusive), and its end happened before this shared borrow.
        if self.split_taken.swap(true, Ordering::Relaxed) {
            return None;
        }
        Some(self.halves())
    }

    /// The ring's view.
    fn view(&self) -> View<T> {
        View {
            slots: NonNull::from(&self.slots).cast(),
            extra: NonNull::from(&self.extra),
            geometry: Geometry::new(N),
            _invariant: InvariantIn::default(),
        }
    }

    /// The halves; the caller has made sure no other half of this ring is alive for
    /// `'_`.
    fn halves(&self) -> (Producer<T, Borrowed<'_>>, Consumer<T, Borrowed<'_>>) {
        let view = self.view();
        // No half is alive (caller), so `Relaxed` suffices for these flags.
        let spare = if self.started.load(Ordering::Relaxed) {
            view.start(&self.header)
        } else {
            self.started.store(true, Ordering::Relaxed);
            // SAFETY: no half has ever been alive: no values, nobody to race.
            unsafe { view.reset(&self.header, 0) };
            N
        };
        self.header.abandoned.store(false, Ordering::Relaxed);
        let header = NonNull::from(&self.header);
        (
            Producer::new(header, view, spare, Borrowed(PhantomData)),
            Consumer::new(header, view, Borrowed(PhantomData)),
        )
    }
}

impl<T, const N: usize> Default for StaticRing<T, N> {
    /// [`StaticRing::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Drop for StaticRing<T, N> {
    fn drop(&mut self) {
        if self.started.load(Ordering::Relaxed) {
            // SAFETY: `&mut self`: no half is alive.
            unsafe { self.view().drop_items(&self.header) };
        }
    }
}

impl<T, const N: usize> fmt::Debug for StaticRing<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticRing")
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

/// The writing half of an overwriting ring: its [`push`](Self::push) never fails.
///
/// `Send` when `T: Send`, never `Sync`.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(1);
/// std::thread::spawn(move || {
///     for reading in 0..1000 {
///         tx.push(reading); // never waits: a slow reader only misses readings
///     }
/// })
/// .join()
/// .unwrap();
/// assert_eq!(rx.pop(), Some(999));
/// ```
pub struct Producer<T, S: Storage = Heap<T>> {
    /// The ring's header, valid while this half lives (`_storage` keeps the ring alive
    /// or borrows it).
    header: NonNull<Header>,
    /// The ring's slots and cells, valid as `header`.
    view: View<T>,
    geometry: Geometry,
    /// The position of the next push; its entry names position `tail - lap` (the
    /// previous lap's). Only the producer writes entries.
    tail: Word,
    /// A value `head` had (never ahead of it): if it is past `tail - lap`, that
    /// position's item was taken, and the ring is not full.
    head: Word,
    /// A value `done` had (never ahead of it).
    done: Word,
    /// Whether the last push displaced an item.
    displacing: bool,
    /// Whether every entry names its own slot's cell (no redirect yet, since the ring
    /// was made or split): a push then knows the cell of `tail` without loading its
    /// entry. Loading it first made the push's store of the entry a second trip for
    /// the line, which the consumer polls: the round trip about 1.3x as long on an Intel
    /// Xeon (PERFORMANCE.md, 2026-12-07). Cleared by the first redirect, for good.
    names_own_cells: bool,
    /// The one cell no entry names; it holds no value.
    spare: usize,
    /// `Some(pos)` after the producer redirected a slot whose cell the consumer was
    /// still reading item `pos` from: that cell became the spare, which the producer
    /// may write only once `done` is past `pos`.
    spare_read: Option<Word>,
    /// How many redirects the producer made (the loom models' coverage canaries).
    #[cfg(ringway_loom)]
    redirects: u64,
    /// The consumer's waiters may sleep (`WaitStrategy::parks`), so each push must
    /// notify; read once, so the hot path reads no shared line for it.
    parks: bool,
    /// Keeps `header` and `view` valid.
    _storage: S,
}

/// The reading half of an overwriting ring.
///
/// `Send` when `T: Send`, never `Sync`.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(4);
/// tx.push("a");
/// assert_eq!(rx.peek(), Some(&"a"));
/// assert_eq!(rx.pop(), Some("a"));
/// ```
pub struct Consumer<T, S: Storage = Heap<T>> {
    /// As [`Producer`]'s.
    header: NonNull<Header>,
    /// As [`Producer`]'s.
    view: View<T>,
    geometry: Geometry,
    /// The position of the next item to take: `head` as the consumer last moved or
    /// saw it. Every item before it was taken by this consumer or displaced by the
    /// producer.
    head: Word,
    /// The cell of the item the consumer took with [`peek`](Consumer::peek) and has
    /// not popped yet, when `holds_item`.
    cell: usize,
    /// Whether the consumer holds an item (taken by `peek`, the oldest in the ring):
    /// it is in `cell`, which the producer will not reuse until `done` passes it.
    holds_item: bool,
    /// The last value the consumer stored to `done`.
    done: Word,
    /// The last value the consumer stored to `released`.
    reported: Word,
    /// Keeps `header` and `view` valid.
    _storage: S,
}

// SAFETY: a half moves `T`s to or from the other half's thread through the cells, so
// `T: Send` is needed and sufficient; the header and entries are reached through
// atomics, and each cell through the side that owns it at the time (see `View`). The
// storage is `Heap<T>` (an `Arc` of the ring, `Send` exactly when `T: Send`) or
// `Borrowed` (a lifetime); written over any `S: Send`, as for `spsc::Producer`.
unsafe impl<T: Send, S: Storage + Send> Send for Producer<T, S> {}
// SAFETY: as for `Producer`.
unsafe impl<T: Send, S: Storage + Send> Send for Consumer<T, S> {}

impl<T, S: Storage> Producer<T, S> {
    /// The producer of a ring with no half alive, whose counters are in its header and
    /// whose one cell no entry names is `spare`, kept valid by `storage`.
    fn new(header: NonNull<Header>, view: View<T>, spare: usize, storage: S) -> Self {
        // SAFETY: `storage` keeps the header alive (caller).
        let h = unsafe { header.as_ref() };
        // No half is alive: `Relaxed` suffices.
        Producer {
            header,
            view,
            geometry: view.geometry,
            tail: h.tail.load(Ordering::Relaxed),
            head: h.consumer.head.load(Ordering::Relaxed),
            done: h.consumer.done.load(Ordering::Relaxed),
            displacing: false,
            // The scan reads entries only the producer stores, no half being alive.
            names_own_cells: spare == view.geometry.capacity && view.names_own_cells(),
            spare,
            spare_read: None,
            #[cfg(ringway_loom)]
            redirects: 0,
            parks: h.waiters.parks(),
            _storage: storage,
        }
    }

    /// The ring's header.
    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: the header outlives this half (field invariant on `header`).
        unsafe { self.header.as_ref() }
    }
}

impl<T, S: Storage> Consumer<T, S> {
    /// The consumer of a ring with no half alive, whose counters are in its header,
    /// kept valid by `storage`.
    fn new(header: NonNull<Header>, view: View<T>, storage: S) -> Self {
        // SAFETY: `storage` keeps the header alive (caller).
        let h = unsafe { header.as_ref() };
        Consumer {
            header,
            view,
            geometry: view.geometry,
            // No half is alive: `Relaxed` suffices.
            head: h.consumer.head.load(Ordering::Relaxed),
            cell: 0,
            holds_item: false,
            done: h.consumer.done.load(Ordering::Relaxed),
            reported: h.consumer.done.load(Ordering::Relaxed),
            _storage: storage,
        }
    }

    /// The ring's header.
    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: the header outlives this half (field invariant on `header`).
        unsafe { self.header.as_ref() }
    }
}

impl<T, S: Storage> Producer<T, S> {
    /// Appends `value`; if the ring was full, displaces the oldest item and returns it.
    ///
    /// Never fails and never waits: the consumer cannot hold the producer up. A
    /// consumer that is dropped changes nothing (the items stay in the ring until it
    /// is dropped, displaced as usual).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
    /// let lost = (0..5).filter_map(|i| tx.push(i)).count();
    /// assert_eq!(lost, 3);
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), [3, 4]);
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Option<T> {
        let g = self.geometry;
        let tail = self.tail;
        let view = self.view;
        let entry = view.entry(tail);
        let prev = tail.wrapping_sub(g.lap());
        // The cell the entry of `tail` names: without loading the entry while no
        // redirect has made an entry name another slot's cell (`names_own_cells`).
        let mut cell = if self.names_own_cells {
            #[cfg(debug_assertions)]
            {
                // SAFETY: only the producer stores to entries (type docs of `View`).
                let seen = unsafe { sync::load_own_u64(entry) };
                debug_assert_eq!(g.place(seen, prev), Ok(0), "the entry of tail names {prev}");
                debug_assert_eq!(g.cell(seen), (tail & g.mask) as usize, "a redirected entry");
            }
            (tail & g.mask) as usize
        } else {
            // SAFETY: only the producer stores to entries (type docs of `View`).
            let seen = unsafe { sync::load_own_u64(entry) };
            debug_assert_eq!(g.place(seen, prev), Ok(0), "the entry of tail names {prev}");
            g.cell(seen)
        };
        let mut displaced = None;
        if !before(prev, self.head) && !before(prev, self.done) {
            // `prev` may still be in the ring: then it is its oldest item, and the ring
            // is full. Right after a displacement it most likely is; else look first at
            // what the consumer reported, a line it writes only now and then.
            if !self.displacing {
                self.done = self.header().released.load(Ordering::Acquire);
            }
            if !before(prev, self.done) {
                let next = g.next(prev);
                // Displace it, unless the consumer took it first: whichever moves
                // `head` past it gets it. On failure `head` is past `prev` (it never
                // falls behind `tail - lap`), and `Acquire`: see `free_cell`.
                match self.header().consumer.head.compare_exchange(
                    prev,
                    next,
                    Ordering::Relaxed,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        self.head = next;
                        // SAFETY: moving `head` past `prev` made its item the
                        // producer's (the consumer moves `head` past an item to take
                        // it); its cell holds it, and is written again right below.
                        displaced = Some(unsafe { self.view.read(cell) });
                    }
                    Err(now) => self.head = now,
                }
            }
        }
        self.displacing = displaced.is_some();
        if displaced.is_none() {
            cell = self.free_cell(prev, cell);
        }
        // SAFETY: the cell is the producer's and empty: it held the displaced item, now
        // moved out, or the consumer has finished reading the one it held (`free_cell`).
        unsafe { self.view.write(cell, value) };
        // `Release`: a consumer that sees the entry sees the value.
        entry.store(g.entry(tail, cell), Ordering::Release);
        self.tail = g.next(tail);
        self.header().tail.store(self.tail, Ordering::Relaxed);
        if self.parks {
            self.header().waiters.items_published();
        }
        displaced
    }

    /// The cell to write the push of `tail` into, when the consumer took `prev`, the
    /// item of a lap before, from `cell`: that cell once the consumer has finished
    /// reading `prev` (`done` is past it), else the spare, and `cell` becomes the spare
    /// (a *redirect*: the producer never waits for the consumer).
    ///
    /// Why the spare is free then: the consumer reads one item at a time, so if it is
    /// still reading `prev`, it finished the item it read from the spare (an earlier
    /// redirect's) before it took `prev`. The producer knows `prev` was taken from a
    /// value of `head` past it, loaded with `Acquire`, and the consumer's move of
    /// `head` past `prev` is `Release`, after its store of `done` past that earlier
    /// item: so the `done` loaded below is past it too.
    #[inline(always)]
    fn free_cell(&mut self, prev: Word, cell: usize) -> usize {
        if before(prev, self.done) {
            return cell;
        }
        // `Acquire`: the consumer's reads of the cells of items before `done` are
        // finished before the producer writes them again.
        self.done = self.header().consumer.done.load(Ordering::Acquire);
        if before(prev, self.done) {
            return cell;
        }
        if let Some(read) = self.spare_read {
            assert!(
                before(read, self.done),
                "ringway: overwriting ring: the consumer is reading two items at once \
                 (a bug in ringway)"
            );
        }
        debug_assert_ne!(self.spare, cell, "the spare is named by an entry");
        self.spare_read = Some(prev);
        self.names_own_cells = false;
        #[cfg(ringway_loom)]
        {
            self.redirects += 1;
        }
        core::mem::replace(&mut self.spare, cell)
    }

    /// Whether the next [`push`](Self::push) may displace the oldest item: `true` when
    /// the ring is full (a snapshot: the consumer may take that item at any moment).
    ///
    /// `false` is exact and stays `false` until the next push: only the producer fills
    /// the ring. So a producer that must not lose items can push only while this is
    /// `false`, and the ring then works as a plain bounded queue. `true` can come
    /// early: this reads only what the consumer *reports*, which it does after at most
    /// `min(32, max(1, capacity / 2))` pops, whenever a pop finds the ring empty, and
    /// when it is dropped (so that a producer polling this does not make the consumer
    /// wait for a cache line on every pop). Items popped since the last report still
    /// count. `push` itself is exact: it displaces only from a full ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(1);
    /// assert!(!tx.is_full());
    /// tx.push(1);
    /// assert!(tx.is_full());
    /// assert_eq!(rx.pop(), Some(1));
    /// assert!(!tx.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        // Full while the item of a lap before `tail` may still be in the ring: unless
        // `head` is past it, or the consumer reported it finished. `Relaxed`: a stale
        // report only under-reports room.
        let prev = self.tail.wrapping_sub(self.geometry.lap());
        if before(prev, self.head) || before(prev, self.done) {
            return false;
        }
        !before(prev, self.header().released.load(Ordering::Relaxed))
    }

    /// How many times a push found the consumer still reading from the cell it would
    /// write and wrote its spare instead (loom builds only: the models' coverage
    /// canaries).
    #[cfg(ringway_loom)]
    #[doc(hidden)]
    pub fn redirects(&self) -> u64 {
        self.redirects
    }

    /// The number of items the ring holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = ringway::spsc::overwriting::channel::<u8>(5);
    /// assert_eq!(tx.capacity(), 5);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.geometry.capacity
    }

    /// Whether the [`Consumer`] has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = ringway::spsc::overwriting::channel::<u8>(1);
    /// assert!(!tx.is_abandoned());
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.header().abandoned.load(Ordering::Acquire)
    }
}

impl<T, S: Storage> Drop for Producer<T, S> {
    fn drop(&mut self) {
        // Every push is in the entries already; this orders them before the flag.
        self.header().abandoned.store(true, Ordering::Release);
        // A consumer asleep waiting for items must wake to see it never gets more.
        self.header().waiters.items_published();
    }
}

impl<T, S: Storage> Consumer<T, S> {
    /// Takes the oldest item (the consumer then holds it, in `cell`), unless it holds
    /// one already; whether it holds one afterwards.
    #[inline]
    fn take(&mut self) -> bool {
        if self.holds_item {
            return true;
        }
        let g = self.geometry;
        loop {
            let head = self.head;
            // `Acquire`: the value in the entry's cell is visible.
            let seen = self.view.entry(head).load(Ordering::Acquire);
            match g.place(seen, head) {
                // The entry still names the previous lap: not pushed yet.
                Err(()) => {
                    if self.reported != self.done {
                        self.report();
                    }
                    return false;
                }
                Ok(0) => {
                    let next = g.next(head);
                    // Take it, unless the producer displaces it first: whichever moves
                    // `head` gets it. `Release`: the consumer's store of `done` after
                    // its last read comes before (see `Producer::free_cell`).
                    match self.header().consumer.head.compare_exchange(
                        head,
                        next,
                        Ordering::Release,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            self.cell = g.cell(seen);
                            self.holds_item = true;
                            self.head = next;
                            return true;
                        }
                        // The producer displaced it: go on from where `head` is now.
                        Err(now) => self.head = now,
                    }
                }
                // The producer pushed a lap past `head`, so it displaced `head`'s item
                // first (moving `head` before storing that entry, which this load saw
                // with `Acquire`): go on from where `head` is now.
                Ok(_) => self.head = self.header().consumer.head.load(Ordering::Relaxed),
            }
        }
    }

    /// Moves the item `take` took out of its cell, and tells the producer the cell is
    /// free (`done`).
    ///
    /// # Safety
    ///
    /// The consumer holds an item (`holds_item`).
    #[inline(always)]
    unsafe fn finish(&mut self) -> T {
        debug_assert!(self.holds_item);
        self.holds_item = false;
        // SAFETY: `take` took the item in the cell (caller): the producer writes the
        // cell again only once `done` is past the item.
        let value = unsafe { self.view.read(self.cell) };
        // `Release`: the read is finished before the producer writes the cell again.
        self.header()
            .consumer
            .done
            .store(self.head, Ordering::Release);
        self.done = self.head;
        if self.done.wrapping_sub(self.reported) >= self.report_every() {
            self.report();
        }
        value
    }

    /// How far `done` moves between reports to `released`: at most this many pops
    /// (fewer when the positions cross the end of a lap whose last positions are
    /// skipped).
    #[inline(always)]
    fn report_every(&self) -> Word {
        (self.geometry.capacity as Word / 2).clamp(1, 32)
    }

    /// Stores `done` to `released`.
    #[inline(always)]
    fn report(&mut self) {
        self.reported = self.done;
        // `Release`: as the store of `done`.
        self.header().released.store(self.done, Ordering::Release);
    }

    /// Removes and returns the oldest item, or `None` if the ring is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
    /// assert_eq!(rx.pop(), None);
    /// tx.push('x');
    /// assert_eq!(rx.pop(), Some('x'));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if !self.take() {
            return None;
        }
        // SAFETY: `take` took an item.
        Some(unsafe { self.finish() })
    }

    /// Returns a reference to the oldest item without popping it, or `None` if the
    /// ring is empty.
    ///
    /// The item is *taken* from the ring, though not yet returned: from here on the
    /// producer can no longer displace it (the ring then holds up to `capacity` items
    /// besides it), and the next [`pop`](Self::pop) returns it. That is why `peek`
    /// needs `&mut self`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(1);
    /// tx.push(1);
    /// assert_eq!(rx.peek(), Some(&1));
    /// assert_eq!(tx.push(2), None); // 1 is the consumer's: nothing to displace
    /// assert_eq!(tx.push(3), Some(2));
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(rx.pop(), Some(3));
    /// ```
    #[inline]
    pub fn peek(&mut self) -> Option<&T> {
        if !self.take() {
            return None;
        }
        // SAFETY: `cell` holds the item `take` took, which the producer does not touch
        // until `done` passes it, and only `&mut self` methods move it out.
        Some(unsafe { self.view.get(self.cell) })
    }

    /// Pops up to `dst.len()` of the oldest items into the front of `dst`; returns how
    /// many.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(4);
    /// for i in 0..6 {
    ///     tx.push(i);
    /// }
    /// let mut out = [0; 3];
    /// assert_eq!(rx.pop_slice(&mut out), 3);
    /// assert_eq!(out, [2, 3, 4]);
    /// ```
    #[inline]
    pub fn pop_slice(&mut self, dst: &mut [T]) -> usize
    where
        T: Copy,
    {
        let mut n = 0;
        for out in dst.iter_mut() {
            match self.pop() {
                Some(v) => *out = v,
                None => break,
            }
            n += 1;
        }
        n
    }

    /// Returns an iterator that pops items until the ring is empty (it does not wait
    /// for more; items pushed while it runs may be yielded too).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
    /// tx.push(1);
    /// tx.push(2);
    /// assert_eq!(rx.drain().sum::<i32>(), 3);
    /// assert_eq!(rx.pop(), None);
    /// ```
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, T, S> {
        Drain { consumer: self }
    }

    /// The number of items in the ring (a snapshot: the producer may add and displace
    /// items at any moment), counting one taken by [`peek`](Self::peek); at most
    /// `capacity + 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::overwriting::channel(2);
    /// assert_eq!(rx.len(), 0);
    /// for i in 0..5 {
    ///     tx.push(i);
    /// }
    /// assert_eq!(rx.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        let g = self.geometry;
        let tail = self.header().tail.load(Ordering::Relaxed);
        let lap = g.mask + 1;
        let d = tail.wrapping_sub(self.head);
        let in_ring = if d > Word::MAX / 2 {
            0 // `head` passed a stale `tail`
        } else if d >= lap {
            g.capacity // a lap or more pushed since `head`: full
        } else if (tail ^ self.head) > g.mask {
            // Across one lap end: less its skipped positions. Below a lap: fits a `usize`.
            (d - (lap - g.capacity as Word)) as usize
        } else {
            d as usize
        };
        in_ring.min(g.capacity) + self.holds_item as usize
    }

    /// Whether the ring holds no items (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::overwriting::channel(2);
    /// assert!(rx.is_empty());
    /// tx.push(1);
    /// assert!(!rx.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of items the ring holds when full (besides one taken by
    /// [`peek`](Self::peek)).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = ringway::spsc::overwriting::channel::<u8>(3);
    /// assert_eq!(rx.capacity(), 3);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.geometry.capacity
    }

    /// Whether the [`Producer`] has been dropped. Once it returns true, every item
    /// the producer pushed and did not displace can be popped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
    /// tx.push(1);
    /// drop(tx);
    /// assert!(rx.is_abandoned());
    /// assert_eq!(rx.pop(), Some(1));
    /// ```
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.header().abandoned.load(Ordering::Acquire)
    }
}

/// The consumer's waiting pops: the protocol is `crate::wait`'s, as for every queue.
impl<T, S: Storage> Consumer<T, S> {
    /// One attempt of a waiting pop: `Some(Ok)` with an item, `Some(Err)` once the
    /// producer is gone and the ring is empty, `None` to wait.
    #[cfg(any(feature = "std", feature = "async"))]
    fn attempt_pop(&mut self) -> Option<Result<T, Disconnected>> {
        // Every push comes before the flag (the producer's drop).
        crate::wait::pop_or_disconnected(self, Self::pop, Self::is_abandoned)
    }

    /// Removes and returns the oldest item, waiting for one as the ring's
    /// [`WaitStrategy`](crate::WaitStrategy) says.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] once the [`Producer`] has been dropped and every item it left
    /// has been popped.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::Disconnected;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
    /// std::thread::spawn(move || {
    ///     tx.push("a");
    /// });
    /// assert_eq!(rx.pop_blocking(), Ok("a"));
    /// assert_eq!(rx.pop_blocking(), Err(Disconnected(())));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_blocking(&mut self) -> Result<T, Disconnected> {
        crate::wait::until(
            self,
            |c: &Self| &c.header().waiters,
            crate::wait::Awaited::Item,
            Self::attempt_pop,
        )
    }

    /// Removes and returns the oldest item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`](crate::PopTimeoutError::Timeout) if the ring was
    /// still empty when the time ran out,
    /// [`PopTimeoutError::Disconnected`](crate::PopTimeoutError::Disconnected) once the
    /// [`Producer`] has been dropped and every item it left has been popped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringway::PopTimeoutError;
    ///
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(1);
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(10)), Err(PopTimeoutError::Timeout));
    /// tx.push(9);
    /// drop(tx);
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(10)), Ok(9));
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(10)), Err(PopTimeoutError::Disconnected));
    /// ```
    #[cfg(feature = "std")]
    pub fn pop_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> Result<T, crate::PopTimeoutError> {
        let deadline = std::time::Instant::now().checked_add(timeout);
        match crate::wait::block(
            self,
            |c: &Self| &c.header().waiters,
            crate::wait::Awaited::Item,
            deadline,
            Self::attempt_pop,
        ) {
            Some(Ok(v)) => Ok(v),
            Some(Err(Disconnected(()))) => Err(crate::PopTimeoutError::Disconnected),
            None => Err(crate::PopTimeoutError::Timeout),
        }
    }

    /// Returns a future that removes and returns the oldest item, pending until there
    /// is one (woken as the ring's [`WaitStrategy`](crate::WaitStrategy) says), or
    /// [`Disconnected`] once the producer is gone and the ring is empty.
    ///
    /// Cancel-safe: dropping the future before it completes pops nothing.
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
    /// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(2);
    /// tx.push(5);
    /// assert_eq!(block_on(rx.pop_async()), Ok(5));
    /// ```
    #[cfg(feature = "async")]
    pub fn pop_async(&mut self) -> PopFuture<'_, T, S> {
        PopFuture {
            consumer: self,
            registration: crate::wait::Registration::None,
        }
    }

    /// The strategy the ring's waiting pops use.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = ringway::spsc::overwriting::channel::<u8>(1);
    /// assert_eq!(rx.wait_strategy(), ringway::WaitStrategy::SPIN_YIELD);
    /// ```
    #[cfg(any(feature = "std", feature = "async"))]
    pub fn wait_strategy(&self) -> crate::WaitStrategy {
        self.header().waiters.strategy()
    }
}

/// The future of [`Consumer::pop_async`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics (it does not pop a second item).
///
/// # Examples
///
/// ```
/// let (_tx, mut rx) = ringway::spsc::overwriting::channel::<u8>(1);
/// let future = rx.pop_async();
/// drop(future); // cancelled: pops nothing
/// ```
#[cfg(feature = "async")]
#[must_use = "futures do nothing unless polled"]
pub struct PopFuture<'a, T, S: Storage = Heap<T>> {
    consumer: &'a mut Consumer<T, S>,
    registration: crate::wait::Registration,
}

#[cfg(feature = "async")]
impl<T, S: Storage> core::future::Future for PopFuture<'_, T, S> {
    type Output = Result<T, Disconnected>;

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        let this = self.get_mut();
        crate::wait::poll(
            this.consumer,
            |c: &Consumer<T, S>| &c.header().waiters,
            crate::wait::Awaited::Item,
            &mut this.registration,
            cx,
            Consumer::attempt_pop,
        )
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage> Drop for PopFuture<'_, T, S> {
    fn drop(&mut self) {
        self.consumer
            .header()
            .waiters
            .withdraw(crate::wait::Awaited::Item, &mut self.registration);
    }
}

#[cfg(feature = "async")]
impl<T, S: Storage> fmt::Debug for PopFuture<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopFuture").finish_non_exhaustive()
    }
}

impl<T, S: Storage> Drop for Consumer<T, S> {
    fn drop(&mut self) {
        let held = if self.holds_item && !sync::model_panicked() {
            // SAFETY: the consumer holds an item (`holds_item`).
            Some(unsafe { self.finish() })
        } else {
            None
        };
        if self.reported != self.done {
            self.report();
        }
        self.header().abandoned.store(true, Ordering::Release);
        // Dropped last, out of the ring: a panicking `Drop` of it finds the consumer's
        // leaving published.
        drop(held);
    }
}

/// The iterator of [`Consumer::drain`]: pops until the ring is empty.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::overwriting::channel(3);
/// tx.push("a");
/// let mut drain = rx.drain();
/// assert_eq!(drain.next(), Some("a"));
/// assert_eq!(drain.next(), None);
/// ```
pub struct Drain<'a, T, S: Storage = Heap<T>> {
    consumer: &'a mut Consumer<T, S>,
}

impl<T, S: Storage> Iterator for Drain<'_, T, S> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        self.consumer.pop()
    }
}

impl<T, S: Storage> fmt::Debug for Producer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
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

impl<T, S: Storage> fmt::Debug for Drain<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(ringway_loom)))]
mod tests {
    use alloc::collections::VecDeque;

    use super::*;

    /// Positions are 64-bit on every target (`Word`): from two laps before they wrap
    /// around `u64::MAX`, pushes, displacements, pops and `len` follow a model queue
    /// across the wrap (run under Miri on i686 by CI, where `usize` is 32 bits).
    #[test]
    fn positions_wrap_around_u64_max() {
        for capacity in [1, 2, 3, 5] {
            let lap = Geometry::new(capacity).mask + 1;
            let first = 0u64.wrapping_sub(2 * lap);
            let (mut tx, mut rx) = with_waiters_at::<u64>(capacity, Waiters::spin_yield(), first);
            let mut model = VecDeque::new();
            for i in 0..6 * lap {
                model.push_back(i);
                let displaced = if model.len() > capacity {
                    model.pop_front()
                } else {
                    None
                };
                assert_eq!(tx.push(i), displaced, "capacity {capacity}, push {i}");
                assert_eq!(rx.len(), model.len(), "capacity {capacity}, push {i}");
                if i % 3 == 1 {
                    assert_eq!(rx.pop(), model.pop_front(), "capacity {capacity}, push {i}");
                }
            }
            assert!(tx.tail < first, "the positions did not wrap around");
            assert_eq!(rx.drain().collect::<VecDeque<_>>(), model);
            assert_eq!(rx.pop(), None);
        }
    }
}
