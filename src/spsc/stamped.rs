//! An SPSC queue whose slots are their own ready flags: the lowest-latency single-item
//! hand-off in the crate.
//!
//! [`channel`] returns a [`Producer`] and a [`Consumer`] like [`spsc::channel`](super::channel),
//! and `push`/`pop` mean the same thing, but the consumer never reads a shared index:
//! each slot carries a *stamp*, stored by the producer next to the value it describes.
//!
//! # When to pick it
//!
//! For single items moved one at a time between two threads that poll (a request and
//! its reply, a command stream, a latency-critical feed). On the
//! round-trip and single-item streaming workloads of `cargo bench --bench latency` it
//! moves one cache line per hand-off where an index-publishing ring moves two (see
//! PERFORMANCE.md in the repository for measured figures).
//!
//! Pick [`spsc::channel`](super::channel) instead for batches (slices, chunks,
//! iterators: one index store per batch, and contiguous `&[T]` views that this layout
//! cannot give), for waiting operations (`push_blocking`, `pop_async`), for `len` on
//! both sides, or for a ring without an allocator (`StaticRing`).
//!
//! # The protocol
//!
//! Two counters grow without bound and wrap at `usize::MAX`: the producer's `tail`
//! (items pushed) and the consumer's `head` (items popped). Position `pos` lives in slot
//! `pos & mask` (the storage is `capacity` rounded up to a power of two).
//!
//! * **Hand-off (slot as ready flag, as in FastForward and atomic_queue).** The producer
//!   writes the value into the slot and then stores the slot's stamp `pos + 1` with
//!   `Release`. The consumer's `Acquire` load of the stamp of `head`'s slot tells it
//!   whether the item is there (`stamp == head + 1`) and makes the value's write
//!   visible. `tail` is never published: it stays in a plain field of the producer.
//!   The stamp sits beside the value, so a hand-off moves the slot's line and nothing
//!   else (for slots whose size divides the cache line, as the 16-byte slot of a `u64`
//!   does; a slot of another size may straddle two lines).
//! * **Free space (cached remote index, as in rigtorp's SPSCQueue and rtrb).** The
//!   consumer stores `head` with `Release` after each pop (its own 128-byte line); the
//!   producer keeps a cached copy and reloads it with `Acquire` only when the cache says
//!   the queue is full, which orders its next write of a slot after the consumer's
//!   read of it.
//!
//! A stale stamp is never mistaken for a fresh one: the stamp of the previous item in
//! a slot is `pos - slots + 1 != pos + 1`, and the constructor gives every slot the
//! stamp of the position one lap before its first, as if a lap had been pushed and
//! popped.
//!
//! Both sides are **wait-free** and use only atomic loads and stores.
//!
//! # What the layout costs
//!
//! Each slot is a `usize` stamp plus a `T` (16 bytes for a `u64`), so the storage is
//! larger than [`spsc::channel`](super::channel)'s, and a zero-sized `T` still takes a
//! word per slot. The consumer cannot know how many items are queued without the
//! producer's counter, so it has [`is_empty`](Consumer::is_empty) (is the next item
//! there?) but no `len`; the producer has [`len`](Producer::len) (a snapshot, exact
//! while the consumer is idle).
//!
//! # Examples
//!
//! ```
//! let (mut tx, mut rx) = ringway::spsc::stamped::channel::<u64>(1024);
//! let consumer = std::thread::spawn(move || {
//!     let mut sum = 0;
//!     for expected in 0..1000 {
//!         let v = loop {
//!             if let Some(v) = rx.pop() {
//!                 break v;
//!             }
//!             std::hint::spin_loop();
//!         };
//!         assert_eq!(v, expected);
//!         sum += v;
//!     }
//!     sum
//! });
//! for i in 0..1000u64 {
//!     let mut v = i;
//!     while let Err(full) = tx.push(v) {
//!         v = full.into_inner();
//!         std::hint::spin_loop();
//!     }
//! }
//! assert_eq!(consumer.join().unwrap(), 999 * 1000 / 2);
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{self, MaybeUninit};
use core::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::sync::{self, load_mut, Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use crate::{InvariantIn, PushError};

/// One slot: a value and the stamp that says which position it holds.
struct Slot<T> {
    /// `pos + 1` for the last position `pos` of this slot that was pushed (or, before
    /// the first push, for the position one lap before the first: see `new_at`).
    /// `pop` does not reset it, so the value is initialised exactly when the stamp is
    /// `pos + 1` **and** `pos >= head` (wrapping: `pos - head < capacity`). Stored only
    /// by the producer, with `Release`, right after it wrote `value`.
    stamp: AtomicUsize,
    /// Initialised from the producer's write of position `pos` until the consumer pops
    /// `pos` (or the ring's drop drops it). Written only by the producer, at `tail`,
    /// when `tail - head < capacity` (so the slot's previous value was popped); read
    /// only by the consumer, at `head`, after its `Acquire` load of `stamp` saw
    /// `head + 1`.
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    /// An empty slot whose stamp says "position `stamp - 1` was pushed (and popped)".
    fn empty(stamp: usize) -> Self {
        Slot {
            stamp: AtomicUsize::new(stamp),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

/// The state both halves share; the last half dropped drops it.
struct Shared<T> {
    /// The number of items popped so far, wrapping. Stored only by the consumer, with
    /// `Release`, after it has moved the value out of the slot below it. Invariant:
    /// `tail - head` (wrapping, `tail` being the producer's private counter) is in
    /// `0 ..= capacity`.
    head: CachePadded<AtomicUsize>,
    /// Set with `Release` by each half when it is dropped, so it says "the other half
    /// is gone". The producer stored every stamp before its store, so a consumer whose
    /// `Acquire` load sees it also sees every item pushed; the consumer stored `head`
    /// before its store.
    abandoned: CachePadded<AtomicBool>,
    /// `pad + slots + pad` slots: the ring's `slots` (a power of two) in the middle,
    /// and `pad` unused slots at each end spanning at least 128 bytes, so that no other
    /// allocation shares a cache line with the first or last slot of the ring.
    storage: Box<[Slot<T>]>,
    /// Where the ring's slots start in `storage`.
    pad: usize,
    /// The exact number of items the ring holds, in `1 ..= slots`.
    capacity: usize,
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Never touch loom's cells again while a failed model unwinds (see the facade).
        if sync::model_panicked() {
            return;
        }
        if !mem::needs_drop::<T>() {
            return;
        }
        // Both halves are gone (`&mut self`: this is the last `Arc`, whose drop
        // synchronises with the other half's), so everything can be read plainly. The
        // producer's `tail` is stored nowhere, so the unpopped items are found by their
        // stamps: positions `head .. tail` carry `pos + 1` (the producer cannot write
        // them again before `head` passes them), and `tail`'s slot carries the stamp of
        // the position one lap earlier, `tail - slots + 1 != tail + 1`, so the scan
        // stops exactly at `tail`. The `capacity` bound is only a safeguard.
        let (head, capacity) = (load_mut(&mut self.head), self.capacity);
        DropScan {
            shared: self,
            pos: head,
            left: capacity,
        }
        .run();
    }
}

/// The drop of the items left in a ring: if one item's `Drop` panics, the guard's own
/// drop goes on with the rest (as slice drop glue does), so nothing is leaked that can
/// be dropped and nothing is dropped twice; a second panic aborts, as it would there.
struct DropScan<'a, T> {
    shared: &'a mut Shared<T>,
    /// The next position to look at.
    pos: usize,
    /// Positions that may still hold items (0: done).
    left: usize,
}

impl<T> DropScan<'_, T> {
    fn run(&mut self) {
        let mask = self.shared.storage.len() - 2 * self.shared.pad - 1;
        while self.left > 0 {
            let pos = self.pos;
            let slot = &mut self.shared.storage[self.shared.pad + (pos & mask)];
            if load_mut(&mut slot.stamp) != pos.wrapping_add(1) {
                self.left = 0;
                break;
            }
            // Advance first, so a panicking drop below is never repeated.
            self.pos = pos.wrapping_add(1);
            self.left -= 1;
            // SAFETY: `pos` is in `head .. tail` (see `Shared::drop`), so the slot holds
            // the unpopped value of `pos` (field invariant on `Slot::stamp`); nothing can
            // reach it any more, and the scan has moved past it, so it is never touched
            // again.
            slot.value
                .with_mut(|value| unsafe { (*value).assume_init_drop() });
        }
    }
}

impl<T> Drop for DropScan<'_, T> {
    fn drop(&mut self) {
        // Reached with `left > 0` only while unwinding from a panicking item `Drop`.
        self.run();
    }
}

/// Creates a stamped-slot queue that holds exactly `capacity` items, and returns its
/// two halves.
///
/// # Panics
///
/// If `capacity` is 0, or if the storage (`capacity` rounded up to a power of two, of
/// slots of a `usize` stamp and a `T`) would exceed `isize::MAX` bytes.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::stamped::channel(2);
/// tx.push('a').unwrap();
/// tx.push('b').unwrap();
/// assert_eq!(tx.push('c').unwrap_err().into_inner(), 'c'); // full: the value comes back
/// assert_eq!(rx.pop(), Some('a'));
/// assert_eq!(rx.pop(), Some('b'));
/// assert_eq!(rx.pop(), None);
/// ```
///
/// ```should_panic
/// let _ = ringway::spsc::stamped::channel::<u8>(0); // panics: capacity must be at least 1
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    new_at(capacity, 0)
}

/// A queue like [`channel`]'s whose counters start at `start` (not 0: the unit tests
/// start near `usize::MAX` to cross the wrap). Each slot's stamp starts as that of the
/// last position one lap before `start` that maps to it, as if a lap had been pushed
/// and popped, so "stamp == pos + 1" never holds for a slot not yet written.
fn new_at<T>(capacity: usize, start: usize) -> (Producer<T>, Consumer<T>) {
    assert!(capacity >= 1, "ringway: capacity must be at least 1");
    let slots = capacity
        .checked_next_power_of_two()
        .expect("ringway: capacity overflow (the storage would exceed isize::MAX bytes)");
    let slot_size = mem::size_of::<Slot<T>>();
    // `Slot` holds a `usize`, so it is never zero-sized; pad 128 bytes at each end.
    let pad = 128usize.div_ceil(slot_size);
    let total = slots
        .checked_add(2 * pad)
        .filter(|&n| {
            n.checked_mul(slot_size)
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .expect("ringway: capacity overflow (the storage would exceed isize::MAX bytes)");
    let mask = slots - 1;
    let storage: Box<[Slot<T>]> = (0..total)
        .map(|i| {
            // Ring slot `j = i - pad` (the padding's stamps are never read): the
            // position `q` in `start - slots .. start` with `q & mask == j`.
            let j = i.wrapping_sub(pad) & mask;
            let q = start
                .wrapping_sub(slots)
                .wrapping_add(j.wrapping_sub(start) & mask);
            Slot::empty(q.wrapping_add(1))
        })
        .collect::<Vec<_>>()
        .into();
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(start)),
        abandoned: CachePadded::new(AtomicBool::new(false)),
        storage,
        pad,
        capacity,
    });
    // Derived from the whole slice (not one element), so the pointer may reach every
    // slot.
    let first = NonNull::from(&shared.storage[..]).cast::<Slot<T>>();
    let ring = Ring {
        // SAFETY: `pad + slots <= storage.len()`, so `first + pad` is in the storage.
        slots: unsafe { first.add(pad) },
        mask,
        capacity,
        _invariant: PhantomData,
    };
    let producer = Producer {
        shared: shared.clone(),
        ring,
        tail: start,
        cached_head: start,
    };
    let consumer = Consumer {
        shared,
        ring,
        head: start,
    };
    (producer, consumer)
}

/// Each half's private copy of where the ring is, so an operation reads no shared line
/// but the slot (and, for a producer whose cache ran out, `head`). Valid only inside the
/// half that holds it (it borrows nothing: the half's `Arc` keeps the storage alive), so
/// it never leaves that half.
struct Ring<T> {
    /// The first of the ring's `mask + 1` slots inside `Shared::storage`, valid for as
    /// long as the half holding it keeps its `Arc<Shared<T>>`.
    slots: NonNull<Slot<T>>,
    /// `slots - 1`; `pos & mask` is `pos`'s slot.
    mask: usize,
    /// The exact number of items the ring holds.
    capacity: usize,
    /// Keeps both halves invariant in `T` (see [`InvariantIn`]), whatever `Slot`'s
    /// fields are.
    _invariant: InvariantIn<T>,
}

impl<T> Clone for Ring<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Ring<T> {}

impl<T> Ring<T> {
    /// The slot of position `pos`.
    #[inline(always)]
    fn slot(&self, pos: usize) -> &Slot<T> {
        // SAFETY: `pos & mask <= mask`, so the slot is inside the ring's part of
        // `storage`, which the calling half keeps alive (field invariant on `slots`).
        unsafe { &*self.slots.as_ptr().add(pos & self.mask) }
    }
}

/// The sending half of a [`stamped::channel`](channel).
///
/// `Send` when `T: Send`; not `Sync` (it is one thread's end).
///
/// # Examples
///
/// ```
/// let (mut tx, rx) = ringway::spsc::stamped::channel(4);
/// tx.push(1u8).unwrap();
/// assert_eq!(tx.len(), 1);
/// assert_eq!(tx.capacity(), 4);
/// # drop(rx);
/// ```
pub struct Producer<T> {
    /// Keeps the ring alive.
    shared: Arc<Shared<T>>,
    /// Where the ring is.
    ring: Ring<T>,
    /// The number of items pushed so far, wrapping; stored nowhere else (the stamps
    /// publish each item). Invariant: `tail - head` is in `0 ..= capacity`.
    tail: usize,
    /// A value the shared `head` had. `head` only grows, so `tail - cached_head` is at
    /// least the true length: a stale cache can only under-report free slots.
    cached_head: usize,
}

// SAFETY: the producer moves `T`s into the ring from whichever thread owns it, and the
// consumer takes them out (or the ring's drop drops them) on another thread, so
// `T: Send` is needed and sufficient. The shared state is only touched through atomics,
// and a slot's value only by the side the stamp and `head` protocol gives it to.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// Appends `value`, or hands it back in [`PushError::Full`] if the queue holds
    /// `capacity` items.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] with `value` when the queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::PushError;
    ///
    /// let (mut tx, _rx) = ringway::spsc::stamped::channel(1);
    /// assert!(tx.push("a").is_ok());
    /// assert_eq!(tx.push("b"), Err(PushError::Full("b")));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let tail = self.tail;
        if tail.wrapping_sub(self.cached_head) == self.ring.capacity {
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            if tail.wrapping_sub(self.cached_head) == self.ring.capacity {
                return Err(PushError::Full(value));
            }
        }
        debug_assert!(
            tail.wrapping_sub(self.cached_head) < self.ring.capacity,
            "ring invariant"
        );
        let slot = self.ring.slot(tail);
        // SAFETY: fewer than `capacity` items are unpopped, so the item last stored in
        // this slot (position `tail - slots`, if any) was popped, and the consumer's
        // `Release` store of `head` past it, which the `Acquire` load above (now or
        // earlier) saw, ordered its read before this write: the slot is the producer's.
        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
        slot.stamp.store(tail.wrapping_add(1), Ordering::Release);
        self.tail = tail.wrapping_add(1);
        Ok(())
    }

    /// The number of items in the queue: exact when nothing else runs, and a value it
    /// had during the call otherwise (the consumer may pop meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::stamped::channel(4);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// rx.pop();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let len = self
            .tail
            .wrapping_sub(self.shared.head.load(Ordering::Acquire));
        debug_assert!(len <= self.ring.capacity, "ring invariant");
        len
    }

    /// Whether the queue is empty (see [`len`](Self::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::stamped::channel(4);
    /// assert!(tx.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue is full, so that `push` would fail now (see [`len`](Self::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = ringway::spsc::stamped::channel(1);
    /// tx.push(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.ring.capacity
    }

    /// The number of items the queue holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = ringway::spsc::stamped::channel::<u8>(3);
    /// assert_eq!(tx.capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity
    }

    /// Whether the consumer was dropped (nothing pushed from now on will be popped).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = ringway::spsc::stamped::channel::<u8>(1);
    /// assert!(!tx.is_abandoned());
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::Acquire)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Every push already stored its stamp, so this `Release` publishes all of them
        // to a consumer that sees the flag.
        self.shared.abandoned.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("stamped::Producer")
            .field("capacity", &self.ring.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The receiving half of a [`stamped::channel`](channel).
///
/// `Send` when `T: Send`; not `Sync` (it is one thread's end).
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = ringway::spsc::stamped::channel(4);
/// tx.push(7u8).unwrap();
/// assert_eq!(rx.peek(), Some(&7));
/// assert_eq!(rx.pop(), Some(7));
/// assert!(rx.is_empty());
/// ```
pub struct Consumer<T> {
    /// Keeps the ring alive.
    shared: Arc<Shared<T>>,
    /// Where the ring is.
    ring: Ring<T>,
    /// The number of items popped so far, wrapping: equal to the shared `head`, which
    /// only this half stores (so it never loads it back).
    head: usize,
}

// SAFETY: as for `Producer`: values move in on one thread and out on another, so
// `T: Send` is needed and sufficient; `peek`'s `&T` stays with the consumer, which is
// not `Sync`.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// The next item's slot if the item is there.
    #[inline(always)]
    fn ready_slot(&self) -> Option<&Slot<T>> {
        let slot = self.ring.slot(self.head);
        (slot.stamp.load(Ordering::Acquire) == self.head.wrapping_add(1)).then_some(slot)
    }

    /// Removes and returns the oldest item, or `None` if the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::stamped::channel(2);
    /// assert_eq!(rx.pop(), None);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.pop(), Some(1));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let slot = self.ready_slot()?;
        // SAFETY: the stamp is `head + 1`, so the slot holds the value pushed at
        // `head`, written before the stamp's `Release` store that the `Acquire` in
        // `ready_slot` saw; the producer will not write the slot again before it sees
        // `head` move past it (below). Moving the value out leaves the slot
        // uninitialised, as `head + 1` being stored says.
        let value = slot
            .value
            .with(|cell| unsafe { (*cell).assume_init_read() });
        self.head = self.head.wrapping_add(1);
        self.shared.head.store(self.head, Ordering::Release);
        Some(value)
    }

    /// The oldest item, left in the queue, or `None` if the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::stamped::channel(2);
    /// tx.push(String::from("hi")).unwrap();
    /// assert_eq!(rx.peek().map(String::as_str), Some("hi"));
    /// assert_eq!(rx.pop().as_deref(), Some("hi"));
    /// ```
    pub fn peek(&self) -> Option<&T> {
        let slot = self.ready_slot()?;
        // SAFETY: as in `pop`, the slot holds an initialised value the producer will
        // not touch until `head` moves, which needs `&mut self`: the borrow of `self`
        // keeps the value in place for the reference's lifetime.
        Some(slot.value.with(|cell| unsafe { (*cell).assume_init_ref() }))
    }

    /// Whether the next item is missing, so that `pop` would return `None` now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = ringway::spsc::stamped::channel(2);
    /// assert!(rx.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ready_slot().is_none()
    }

    /// The number of items the queue holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = ringway::spsc::stamped::channel::<u8>(5);
    /// assert_eq!(rx.capacity(), 5);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity
    }

    /// Whether the producer was dropped. Once this returns `true`, every item it pushed
    /// is visible: if `pop` then returns `None`, no item will ever come.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = ringway::spsc::stamped::channel(2);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_abandoned());
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(rx.pop(), None);
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.shared.abandoned.load(Ordering::Acquire)
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // `head` is already stored by every pop.
        self.shared.abandoned.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("stamped::Consumer")
            .field("capacity", &self.ring.capacity)
            .field("empty", &self.is_empty())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(ringway_loom)))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Counters that cross `usize::MAX` (a real run needs 2^64 items): for each
    /// capacity and each start a little below the wrap, push and pop in a pattern that
    /// keeps the queue partly full, checking FIFO order, full/empty and the drop scan
    /// of the items left, which straddle the wrap.
    #[test]
    fn counters_wrap_around_usize_max() {
        for capacity in [1usize, 2, 3, 4, 5, 8] {
            for back in 0..2 * capacity.next_power_of_two() + 2 {
                let start = usize::MAX - back;
                let (mut tx, mut rx) = new_at::<Vec<usize>>(capacity, start);
                assert!(rx.is_empty() && tx.is_empty());
                assert_eq!(
                    rx.pop(),
                    None,
                    "a fresh queue near the wrap looked non-empty"
                );
                let (mut pushed, mut popped) = (0usize, 0usize);
                for step in 0..4 * capacity + 8 {
                    // Two pushes for every pop until full, then drain one.
                    let push = step % 3 != 2 && pushed - popped < capacity;
                    if push {
                        tx.push(alloc::vec![pushed]).unwrap();
                        pushed += 1;
                    } else if let Some(v) = rx.pop() {
                        assert_eq!(v, [popped], "FIFO across the wrap");
                        popped += 1;
                    }
                    assert_eq!(tx.len(), pushed - popped);
                    assert_eq!(rx.is_empty(), pushed == popped);
                    if pushed - popped == capacity {
                        assert!(tx.push(alloc::vec![usize::MAX]).is_err());
                    }
                }
                // Items left (heap-allocated, so a miss leaks and a double drop
                // corrupts under Miri) are dropped with the queue.
                drop((tx, rx));
            }
        }
    }
}
