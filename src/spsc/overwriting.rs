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
//! `push` is wait-free (one atomic swap) and `pop` lock-free: the
//! consumer and a displacing producer race for the oldest item, exactly one of them
//! gets it, and a consumer that loses retries only because the producer made progress.
//! The plain [`spsc::channel`](super::channel) pays nothing for this race (its hot
//! path has no read-modify-write); this ring pays one read-modify-write per push and
//! per pop.
//!
//! # The protocol
//!
//! The values live in `capacity + 2` cells; the ring itself is `capacity` *entries*,
//! each one atomic word naming a cell, the position whose item it holds, and whether
//! that item is still there (*full*) or was taken by the consumer (*taken*). The
//! producer owns one cell outside the ring (its *spare*), and so does the consumer
//! (the cell of the last item it took). So neither side ever reads or writes a cell
//! the other may be using, and neither waits for the other:
//!
//! * **push** writes the value into its spare cell, then swaps the entry of its
//!   position `tail`, which names the previous lap's position (`tail - lap`), for
//!   "full, `tail`, the spare" (one atomic swap, `AcqRel`). The cell it gets back
//!   becomes its new spare: if the entry was still *full*, the ring was full and that
//!   cell holds the displaced item, which `push` moves out and returns; if *taken*,
//!   the consumer left its free cell there. Whichever of the swap and the consumer's
//!   compare-and-swap comes first gets the item.
//! * **pop** takes the item at its position `head` with one compare-and-swap of its
//!   entry from "full, `head`, cell `c`" to "taken, `head`, the consumer's free cell"
//!   (`AcqRel`: it sees the value written into `c`, and the producer, which will
//!   reuse the free cell, sees the consumer's reads of it finished). Then it moves the
//!   value out of `c`, which becomes its free cell. An entry naming an earlier
//!   position means the item is not there yet (empty); one naming a later position
//!   `q` means the producer has displaced every item up to `q - lap`, and the consumer
//!   moves on to the next position after that and looks again.
//!
//! Positions are counted as [`StaticRing`](super::StaticRing)'s are: the entry of
//! `pos` is `pos & mask`, and when the capacity is not a power of two the positions
//! past the last entry of a lap are skipped. An entry holds the position in its high
//! bits (truncated: a capacity of `c` leaves `63 - bits(c + 2)` bits, 52 for a
//! capacity of 1000), and a consumer compares positions within that width. So a
//! consumer suspended between reading an entry and its compare-and-swap, while the
//! producer pushes 2^51 or more items (at a billion items a second, most of a month,
//! for a capacity of 1000), could mistake a recycled entry for the one it read (the
//! ABA problem every tagged-index queue bounds this way). The largest capacity is
//! 2^24 - 2, which still leaves 38 bits.
//!
//! Entries are a machine word of 64 bits: the module exists on 64-bit targets only.
//!
//! # Waiting
//!
//! The producer never waits. The consumer's waiting pops ([`Consumer::pop_blocking`],
//! [`Consumer::pop_timeout`], [`Consumer::pop_async`]) wait as the ring's
//! [`WaitStrategy`](crate::WaitStrategy) says, as for [`spsc::channel`](super::channel)
//! ([`channel_with_wait_strategy`] picks it), and report [`Disconnected`] once the
//! producer is gone and the ring is empty.
//!
//! # Not yet
//!
//! A static form (this ring is heap-allocated).

use alloc::boxed::Box;
use core::fmt;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::sync::{self, Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use crate::wait::Waiters;
#[cfg(any(feature = "std", feature = "async"))]
use crate::Disconnected;
use crate::InvariantIn;

/// The largest capacity of an overwriting ring: `2^24 - 2` (its `capacity + 2` cells
/// are numbered in 24 bits, leaving the entries at least 38 bits of position).
pub const MAX_CAPACITY: usize = (1 << 24) - 2;

/// An entry's flag bit (above its cell bits): the item is still there.
const FULL: usize = 1;

/// What the two halves share.
struct Shared<T> {
    /// The producer's count of pushes, as a position (stored after every push,
    /// `Relaxed`): only `Consumer::len` reads it, for a snapshot of the length. The
    /// items themselves are published through the entries.
    tail: CachePadded<AtomicUsize>,
    /// Set with `Release` by whichever half is dropped first; the producer's pushes
    /// (their entry swaps) come before it, so an `Acquire` load that sees it is
    /// followed by pops that see every item pushed.
    abandoned: AtomicBool,
    /// `capacity` entries, each `position << (cell_bits + 1) | flag << cell_bits | cell`.
    /// The entry of position `pos` is `entries[pos & mask]`. Each names a distinct
    /// cell: the cells named by entries, the producer's spare and the consumer's cell
    /// are `capacity + 2` distinct cells, each owned by one of them at a time.
    /// Dense (eight to a 64-byte line), as crossbeam's `ArrayQueue` slots are: a
    /// streaming consumer then pulls several entries per line it takes over.
    entries: Box<[AtomicUsize]>,
    /// `capacity + 2` cells. A cell holds a value exactly when a *full* entry names it,
    /// or it is the consumer's and the consumer has taken an item it has not yet
    /// returned (`Consumer::holds_item`).
    cells: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// The geometry, as the halves copy it.
    geometry: Geometry,
    /// The consumer's wait strategy and its sleeping waiters (the producer never
    /// waits): the producer notifies after every push and when it is dropped (only
    /// with `WaitStrategy::SpinPark`).
    waiters: Waiters,
    /// Makes the ring (and both halves) invariant in `T` (see `InvariantIn`).
    _invariant: InvariantIn<T>,
}

/// The fixed numbers of a ring, copied into both halves.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    /// The number of entries (the capacity), `1 ..= MAX_CAPACITY`.
    capacity: usize,
    /// The lap minus one: `capacity` rounded up to a power of two, minus one.
    mask: usize,
    /// The number of low bits of an entry that name its cell.
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
        let cells = capacity + 2;
        Geometry {
            capacity,
            mask: capacity.next_power_of_two() - 1,
            cell_bits: usize::BITS - (cells - 1).leading_zeros(),
        }
    }

    /// The position after `pos`, skipping the positions past the last entry of a lap.
    #[inline(always)]
    fn next(self, pos: usize) -> usize {
        if (pos & self.mask) + 1 == self.capacity {
            (pos | self.mask).wrapping_add(1)
        } else {
            pos.wrapping_add(1)
        }
    }

    /// The number of positions an entry holds: those above its cell and flag bits.
    #[inline(always)]
    fn tag_shift(self) -> u32 {
        self.cell_bits + 1
    }

    /// The entry saying that position `pos` is in `cell`, `full` or taken.
    #[inline(always)]
    fn entry(self, pos: usize, full: bool, cell: usize) -> usize {
        debug_assert!(cell < self.capacity + 2);
        (pos << self.tag_shift()) | ((full as usize) << self.cell_bits) | cell
    }

    /// The cell an entry names.
    #[inline(always)]
    fn cell(self, entry: usize) -> usize {
        entry & ((1 << self.cell_bits) - 1)
    }

    /// Whether an entry's item is still there.
    #[inline(always)]
    fn is_full(self, entry: usize) -> bool {
        (entry >> self.cell_bits) & FULL != 0
    }

    /// Where an entry's position lies from `pos`: `Ok(d)` if it is `pos + d` (so `d`
    /// is 0 for `pos` itself), `Err(())` if it is before `pos`. Compared in the
    /// truncated width of the entries (see the module docs).
    #[inline(always)]
    fn place(self, entry: usize, pos: usize) -> Result<usize, ()> {
        let shift = self.tag_shift();
        let d = (entry >> shift).wrapping_sub(pos) & (usize::MAX >> shift);
        if d >> (usize::BITS - shift - 1) == 0 {
            Ok(d)
        } else {
            Err(())
        }
    }
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
    let geometry = Geometry::new(capacity);
    let lap = geometry.mask + 1;
    // Every entry starts out "taken" at its position of the lap before the first
    // (`i - lap`), naming cell `i`; cell `capacity` is the producer's spare and cell
    // `capacity + 1` the consumer's: the producer's first lap finds each entry taken,
    // and a consumer finds each position not yet pushed.
    let entries = (0..capacity)
        .map(|i| {
            let pos = i.wrapping_sub(lap);
            AtomicUsize::new(geometry.entry(pos, false, i))
        })
        .collect();
    let cells = (0..capacity + 2)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        tail: CachePadded::new(AtomicUsize::new(0)),
        abandoned: AtomicBool::new(false),
        entries,
        cells,
        geometry,
        waiters,
        _invariant: InvariantIn::default(),
    });
    let producer = Producer {
        parks: shared.waiters.parks(),
        shared: Arc::clone(&shared),
        geometry,
        tail: 0,
        spare: capacity,
    };
    let consumer = Consumer {
        shared,
        geometry,
        head: 0,
        cell: capacity + 1,
        holds_item: false,
    };
    (producer, consumer)
}

impl<T> Shared<T> {
    /// The entry of `pos`.
    #[inline(always)]
    fn entry(&self, pos: usize) -> &AtomicUsize {
        let i = pos & self.geometry.mask;
        debug_assert!(
            i < self.geometry.capacity,
            "position {pos} maps past the entries"
        );
        // SAFETY: positions are made by `Geometry::next` from 0 (and the consumer's
        // jumps land on such positions), so `pos & mask < capacity`, the number of
        // entries.
        unsafe { self.entries.get_unchecked(i) }
    }

    /// Moves `value` into `cell`.
    ///
    /// # Safety
    ///
    /// The caller owns `cell`, which holds no value.
    #[inline(always)]
    unsafe fn write(&self, cell: usize, value: T) {
        // SAFETY: the caller owns the cell (no other access can race), and a cell index
        // from an entry or a half is below `capacity + 2`.
        self.cells[cell].with_mut(|slot| unsafe { (*slot).write(value) });
    }

    /// Moves the value out of `cell`, which then holds none.
    ///
    /// # Safety
    ///
    /// The caller owns `cell`, which holds a value, and treats it as empty afterwards.
    #[inline(always)]
    unsafe fn read(&self, cell: usize) -> T {
        // SAFETY: owned and initialised (caller).
        self.cells[cell].with_mut(|slot| unsafe { (*slot).assume_init_read() })
    }
}

impl<T> Drop for Shared<T> {
    /// Drops the items left in the entries (the consumer drops the one it holds).
    fn drop(&mut self) {
        if sync::model_panicked() {
            return;
        }
        let g = self.geometry;
        for i in 0..g.capacity {
            let entry = sync::load_mut(&mut self.entries[i]);
            if g.is_full(entry) {
                // SAFETY: both halves are gone (this is the last `Arc`), so nothing
                // else touches the cell, and a full entry's cell holds its item.
                drop(unsafe { self.read(g.cell(entry)) });
            }
        }
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
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    geometry: Geometry,
    /// The position of the next push; its entry names position `tail - lap` (the
    /// previous lap's), full or taken. Only the producer writes entries there.
    tail: usize,
    /// The producer's cell: named by no entry, holds no value.
    spare: usize,
    /// The consumer's waiters may sleep (`WaitStrategy::parks`), so each push must
    /// notify; read once, so the hot path reads no shared line for it.
    parks: bool,
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
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    geometry: Geometry,
    /// The position of the next item to take; every item before it was taken by this
    /// consumer or displaced by the producer.
    head: usize,
    /// The consumer's cell, named by no entry: it holds the item taken by
    /// [`peek`](Consumer::peek) and not yet popped when `holds_item`, else no value.
    cell: usize,
    /// Whether `cell` holds an item (taken by `peek`, the oldest in the ring).
    holds_item: bool,
}

// SAFETY: a half moves `T`s to or from the other half's thread through the cells, so
// `T: Send` is needed and sufficient; the shared state is reached through atomics, and
// each cell through the side that owns it at the time (see `Shared::entries`).
unsafe impl<T: Send> Send for Producer<T> {}
// SAFETY: as for `Producer`.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Producer<T> {
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
        // SAFETY: the spare is the producer's and holds no value (field invariant).
        unsafe { self.shared.write(self.spare, value) };
        // The entry names the previous lap's position, full or taken, whichever it is
        // now: the swap takes its cell either way. It publishes the spare's value
        // (`Release`) and takes the entry's cell (`Acquire`: the consumer's reads of a
        // cell it left there are finished).
        let old = self
            .shared
            .entry(tail)
            .swap(g.entry(tail, true, self.spare), Ordering::AcqRel);
        debug_assert_eq!(
            g.place(old, tail),
            Err(()),
            "the entry of tail named tail or later"
        );
        self.spare = g.cell(old);
        self.tail = g.next(tail);
        self.shared.tail.store(self.tail, Ordering::Relaxed);
        if self.parks {
            self.shared.waiters.items_published();
        }
        if g.is_full(old) {
            // SAFETY: the entry was full, so its cell held the previous lap's item,
            // which nobody took; the swap made the cell the producer's.
            Some(unsafe { self.shared.read(self.spare) })
        } else {
            None
        }
    }

    /// Whether the ring is full, so that the next [`push`](Self::push) would displace
    /// the oldest item (a snapshot: the consumer may take that item at any moment).
    ///
    /// `false` stays `false` until the next push: only the producer fills the ring. So
    /// a producer that must not lose items can push only while this is `false`, and
    /// the ring then works as a plain bounded queue.
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
        // The entry of `tail` holds the previous lap's item until the consumer takes it
        // (then only this producer changes the entry again): `Relaxed` suffices, a
        // stale "full" only under-reports room.
        let entry = self.shared.entry(self.tail).load(Ordering::Relaxed);
        self.geometry.is_full(entry)
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
        self.shared.abandoned.load(Ordering::Acquire)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Every push is in the entries already; this orders them before the flag.
        self.shared.abandoned.store(true, Ordering::Release);
        // A consumer asleep waiting for items must wake to see it never gets more.
        self.shared.waiters.items_published();
    }
}

impl<T> Consumer<T> {
    /// Takes the oldest item into the consumer's cell, unless it holds one already;
    /// whether it holds one afterwards.
    #[inline]
    fn take(&mut self) -> bool {
        if self.holds_item {
            return true;
        }
        let g = self.geometry;
        loop {
            let head = self.head;
            let entry = self.shared.entry(head);
            let seen = entry.load(Ordering::Relaxed);
            match g.place(seen, head) {
                // The entry still names the previous lap: not pushed yet.
                Err(()) => return false,
                Ok(0) => {
                    debug_assert!(g.is_full(seen), "an item taken twice");
                    let taken = g.entry(head, false, self.cell);
                    // `Acquire`: the value in the entry's cell is visible; `Release`:
                    // the consumer is done with the cell it leaves in the entry.
                    if entry
                        .compare_exchange(seen, taken, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                    {
                        self.cell = g.cell(seen);
                        self.holds_item = true;
                        self.head = g.next(head);
                        return true;
                    }
                    // The producer displaced it: look again.
                }
                Ok(ahead) => {
                    // The producer pushed position `head + ahead`, so every item up to
                    // one lap before it is displaced: go on from the next one.
                    let lap = g.mask + 1;
                    self.head = g.next(head.wrapping_add(ahead).wrapping_sub(lap));
                }
            }
        }
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
        self.holds_item = false;
        // SAFETY: `take` made the cell the consumer's, holding the item; it holds none
        // from here on (`holds_item` is false).
        Some(unsafe { self.shared.read(self.cell) })
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
        // SAFETY: the consumer's cell holds the taken item (`take`), and only `&mut
        // self` methods move it out.
        Some(self.shared.cells[self.cell].with(|slot| unsafe { (*slot).assume_init_ref() }))
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
    pub fn drain(&mut self) -> Drain<'_, T> {
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
        let tail = self.shared.tail.load(Ordering::Relaxed);
        let lap = g.mask + 1;
        let d = tail.wrapping_sub(self.head);
        let in_ring = if d > usize::MAX / 2 {
            0 // `head` passed a stale `tail`
        } else if d >= lap {
            g.capacity // a lap or more pushed since `head`: full
        } else if (tail ^ self.head) > g.mask {
            d - (lap - g.capacity) // across one lap end: less its skipped positions
        } else {
            d
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
        self.shared.abandoned.load(Ordering::Acquire)
    }
}

/// The consumer's waiting pops: the protocol is `crate::wait`'s, as for every queue.
impl<T> Consumer<T> {
    /// One attempt of a waiting pop: `Some(Ok)` with an item, `Some(Err)` once the
    /// producer is gone and the ring is empty, `None` to wait.
    #[cfg(any(feature = "std", feature = "async"))]
    fn attempt_pop(&mut self) -> Option<Result<T, Disconnected>> {
        if let Some(v) = self.pop() {
            return Some(Ok(v));
        }
        if self.is_abandoned() {
            // Every push came before the flag, and the `Acquire` above makes it
            // visible: one more look is final.
            return Some(self.pop().ok_or(Disconnected(())));
        }
        None
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
            |c: &Self| &c.shared.waiters,
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
            |c: &Self| &c.shared.waiters,
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
    pub fn pop_async(&mut self) -> PopFuture<'_, T> {
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
        self.shared.waiters.strategy()
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
pub struct PopFuture<'a, T> {
    consumer: &'a mut Consumer<T>,
    registration: crate::wait::Registration,
}

#[cfg(feature = "async")]
impl<T> core::future::Future for PopFuture<'_, T> {
    type Output = Result<T, Disconnected>;

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

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        if self.holds_item && !sync::model_panicked() {
            self.holds_item = false;
            // SAFETY: the consumer's cell holds the item it took (`holds_item`).
            drop(unsafe { self.shared.read(self.cell) });
        }
        self.shared.abandoned.store(true, Ordering::Release);
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
pub struct Drain<'a, T> {
    consumer: &'a mut Consumer<T>,
}

impl<T> Iterator for Drain<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        self.consumer.pop()
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Drain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").finish_non_exhaustive()
    }
}
