//! Slot storage for the SPSC ring.
//!
//! The protocol code works on [`Slots`], a raw, copyable view of `len` contiguous,
//! possibly uninitialised values of `T`. A position maps to its slot with a mask,
//! never `%`: `pos & mask`, where `mask + 1` (the *lap*) is `len` rounded up to a
//! power of two. When `len` is not a power of two, the positions whose `pos & mask`
//! would fall at or past `len` are skipped: a position moves from the last slot of a
//! lap straight to the first slot of the next (the lap-and-index encoding of
//! crossbeam's `ArrayQueue`), so counts of positions go through [`Slots::distance`]
//! and moves through [`Slots::advance`]. Two owners provide the memory it views, and
//! the protocol code does not know which:
//!
//! * `Buffer` (feature `alloc`, on targets with an `Arc`): one heap allocation of `capacity` rounded up to a
//!   power of two (the queue still holds exactly `capacity` items: the index
//!   protocol, not the storage, enforces the bound, and no position is ever skipped),
//!   aligned to and padded out to the alignment of [`CachePadded`], so no
//!   neighbouring allocation shares a cache line with the first or last slot
//!   (rigtorp's SPSCQueue pads its slot array at both ends for the same reason);
//! * [`InlineSlots`]: an array of exactly `N` slots (any `N >= 1`) inside a
//!   `StaticRing`, wrapped in [`CachePadded`] for the same padding; a static ring's
//!   capacity is its slot count, so when `N` is not a power of two its positions skip.
//!
//! [`CachePadded`] picks its alignment per target architecture (128 bytes on x86_64
//! and aarch64, where the adjacent-line prefetcher pulls lines in pairs; 32 on the
//! Cortex-M targets; 64 on most others).
//!
//! Under loom, each slot also has a `loom::cell::UnsafeCell<()>` that every access
//! touches, so a missing happens-before edge between the producer's write of a slot
//! and the consumer's read of it is reported as a data race. The values themselves
//! stay contiguous so chunks can hand out real slices.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::slice;

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicUsize, Ordering, UntrackedUnsafeCell};
use crate::InvariantIn;

/// How an SPSC ring's slots tell the consumer that an item is there: [`Indexed`] (the
/// default) or [`Stamped`].
///
/// Both layouts run the same protocol code and have the same operations, but for the
/// zero-copy chunks, which need [`Indexed`]'s contiguous slots. Sealed: the two are the
/// only ones.
///
/// # Examples
///
/// ```
/// use ringway::spsc::{Consumer, Layout, Producer, Storage};
///
/// // Code generic over the storage (and so over the layout) works with every ring.
/// fn relay<S: Storage, R: Storage>(rx: &mut Consumer<u32, S>, tx: &mut Producer<u32, R>) -> usize {
///     tx.push_iter(rx.drain())
/// }
///
/// let (mut tx, mut a) = ringway::spsc::channel(4);
/// let (mut b, mut rx) = ringway::spsc::stamped::channel(4);
/// tx.push_slice(&[1, 2, 3]);
/// assert_eq!(relay(&mut a, &mut b), 3);
/// assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2, 3]);
/// # fn _layout<L: Layout>() {}
/// ```
pub trait Layout: sealed::LayoutImpl + 'static {}

/// The contiguous layout: the slots are an array of `T`, and the producer publishes
/// items by storing its counter, which the consumer reads when it runs out of items it
/// knows of.
///
/// Dense (a slot is a `T`), and slices of it are slices of `T`, which is what zero-copy
/// chunks ([`Producer::write_chunk_uninit`](crate::spsc::Producer::write_chunk_uninit),
/// [`Consumer::read_chunk`](crate::spsc::Consumer::read_chunk)) hand out. A hand-off
/// of one item moves two cache lines between the cores: the counter's and the slot's.
///
/// # Examples
///
/// ```
/// use ringway::spsc::{Heap, Indexed, Producer};
///
/// // `spsc::channel` builds this layout: `Producer<T>` is `Producer<T, Heap<T, Indexed>>`.
/// let (tx, _rx) = ringway::spsc::channel::<u8>(4);
/// let _same: Producer<u8, Heap<u8, Indexed>> = tx;
/// ```
#[derive(Debug)]
pub enum Indexed {}

/// The stamped layout: each slot carries a stamp beside its value, stored by the
/// producer right after the value (slot as its own ready flag, as in FastForward and
/// atomic_queue), so the consumer of a single item reads one cache line, the slot's.
///
/// A slot is a `usize` stamp plus a `T` (16 bytes for a `u64`), and its values are
/// not contiguous, so this layout has no zero-copy chunks; every other operation is
/// the same. The producer still stores its counter too (for `len` and batches), after
/// the stamps, and for single pushes only now and then, on a line the consumer reads only
/// for those.
///
/// # Examples
///
/// ```
/// use ringway::spsc::{stamped, Heap, Producer, Stamped};
///
/// let (tx, _rx) = stamped::channel::<u8>(4);
/// let _same: Producer<u8, Heap<u8, Stamped>> = tx;
/// ```
#[derive(Debug)]
pub enum Stamped {}

impl Layout for Indexed {}
impl Layout for Stamped {}

/// One slot of the stamped layout.
/// (`pub` only for the sealed trait's signatures: the module is private.)
#[allow(missing_debug_implementations)]
#[repr(C)]
pub struct StampedSlot<T> {
    /// `pos + 1` for the last position `pos` of this slot that was published (or, for a
    /// slot not yet written, a value that is not `pos + 1` for the next position the
    /// consumer will look for in it: see [`Slots::reset_stamps`]). Stored only by the
    /// producer, with `Release`, right after the value and before the header's `tail`.
    stamp: AtomicUsize,
    /// The value, initialised as the index protocol says.
    value: MaybeUninit<T>,
}

pub(crate) mod sealed {
    use super::{Indexed, Slots, Stamped, StampedSlot};
    use core::mem::MaybeUninit;

    /// What the protocol code asks of a layout.
    pub trait LayoutImpl: Sized {
        /// The storage of one slot.
        type Slot<T>;
        /// Whether slots carry stamps (a constant: the branches on it compile away).
        const STAMPED: bool;
        /// The value inside `slot`.
        fn value<T>(slot: *mut Self::Slot<T>) -> *mut MaybeUninit<T>;
        /// The stamp inside `slot`, if the layout has stamps.
        fn stamp<T>(slot: *mut Self::Slot<T>) -> *mut crate::sync::AtomicUsize;
        /// Copies `items` into the slots from `pos`.
        ///
        /// # Safety
        ///
        /// As [`Slots::write`] for each of those slots; `items.len() <= slots`.
        unsafe fn copy_in<T: Copy>(slots: &Slots<T, Self>, pos: usize, items: &[T]);
        /// Copies the values of the slots from `pos` into `dst`.
        ///
        /// # Safety
        ///
        /// As [`Slots::get`] for each of those slots; `dst.len() <= slots`.
        unsafe fn copy_out<T: Copy>(slots: &Slots<T, Self>, pos: usize, dst: &mut [T]);
        /// Drops the values in slots `pos .. pos + n` (see [`Slots::drop_range`]).
        ///
        /// # Safety
        ///
        /// As [`Slots::drop_range`].
        unsafe fn drop_range<T>(slots: &Slots<T, Self>, pos: usize, n: usize);
    }

    impl LayoutImpl for Indexed {
        type Slot<T> = MaybeUninit<T>;
        const STAMPED: bool = false;
        #[inline(always)]
        fn value<T>(slot: *mut MaybeUninit<T>) -> *mut MaybeUninit<T> {
            slot
        }
        #[inline(always)]
        fn stamp<T>(_: *mut MaybeUninit<T>) -> *mut crate::sync::AtomicUsize {
            unreachable!("ringway: the indexed layout has no stamps")
        }
        #[inline(always)]
        unsafe fn copy_in<T: Copy>(slots: &Slots<T, Self>, pos: usize, items: &[T]) {
            // SAFETY: forwarded from the caller.
            let (first, second) = unsafe { slots.slices_mut(pos, items.len()) };
            let (a, b) = items.split_at(first.len());
            copy_into(first, a);
            copy_into(second, b);
        }
        #[inline(always)]
        unsafe fn copy_out<T: Copy>(slots: &Slots<T, Self>, pos: usize, dst: &mut [T]) {
            // SAFETY: forwarded from the caller.
            let (first, second) = unsafe { slots.slices(pos, dst.len()) };
            let (a, b) = dst.split_at_mut(first.len());
            a.copy_from_slice(first);
            b.copy_from_slice(second);
        }
        #[inline]
        unsafe fn drop_range<T>(slots: &Slots<T, Self>, pos: usize, n: usize) {
            // SAFETY: forwarded from the caller.
            let (a, b) = unsafe { slots.init_slices_mut(pos, n) };
            // Slice drop glue goes on with the rest of its run if one value's `Drop`
            // panics, and `drop_each` with the other run.
            crate::drop_each([a, b], |run| {
                // SAFETY: initialised, exclusive, and never read again (caller); each
                // run is handed over once.
                unsafe { core::ptr::drop_in_place(run) }
            });
        }
    }

    impl LayoutImpl for Stamped {
        type Slot<T> = StampedSlot<T>;
        const STAMPED: bool = true;
        #[inline(always)]
        fn value<T>(slot: *mut StampedSlot<T>) -> *mut MaybeUninit<T> {
            // SAFETY: a field projection of the slot pointer the caller got from `Slots::slot`,
            // in bounds of the storage; nothing is read or written.
            unsafe { core::ptr::addr_of_mut!((*slot).value) }
        }
        #[inline(always)]
        fn stamp<T>(slot: *mut StampedSlot<T>) -> *mut crate::sync::AtomicUsize {
            // SAFETY: as in `value`.
            unsafe { core::ptr::addr_of_mut!((*slot).stamp) }
        }
        #[inline(always)]
        unsafe fn copy_in<T: Copy>(slots: &Slots<T, Self>, pos: usize, items: &[T]) {
            let mut pos = pos;
            for item in items {
                // SAFETY: forwarded from the caller.
                unsafe { slots.write(pos, *item) };
                pos = slots.advance(pos, 1);
            }
        }
        #[inline(always)]
        unsafe fn copy_out<T: Copy>(slots: &Slots<T, Self>, pos: usize, dst: &mut [T]) {
            let mut pos = pos;
            for out in dst {
                // SAFETY: forwarded from the caller.
                *out = unsafe { *slots.get(pos) };
                pos = slots.advance(pos, 1);
            }
        }
        #[inline]
        unsafe fn drop_range<T>(slots: &Slots<T, Self>, pos: usize, n: usize) {
            let positions = core::iter::successors(Some(pos), |&pos| Some(slots.advance(pos, 1)));
            crate::drop_each(positions.take(n), |pos| {
                // SAFETY: one of the caller's initialised, exclusive slots; `drop_each`
                // hands each position over once, so it is never touched again.
                drop(unsafe { slots.read(pos) })
            });
        }
    }

    /// Copies `src` into `dst` (`dst.len() == src.len()`), as one `memcpy`.
    #[inline(always)]
    fn copy_into<T: Copy>(dst: &mut [MaybeUninit<T>], src: &[T]) {
        assert_eq!(
            dst.len(),
            src.len(),
            "ringway: copy between runs of unequal length"
        );
        // SAFETY: both runs hold `src.len()` values of `T` (checked just above), `dst` is
        // exclusively borrowed so they cannot overlap, and `MaybeUninit<T>` has `T`'s
        // layout; writing `Copy` values over uninitialised slots drops nothing.
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<T>(), src.len())
        };
    }
}

use sealed::LayoutImpl;

/// A raw view of `len` contiguous slots of layout `L`, whose values of `T` may be
/// uninitialised.
///
/// It owns nothing and never drops values: which slots are initialised is the index
/// protocol's business. The storage that owns the memory (a `Buffer` or an
/// [`InlineSlots`]) outlives every view of it: the SPSC halves keep the owner alive, or
/// borrow it, for as long as they hold the view. A stamped slot's stamp is always
/// initialised (the owner writes every stamp before the first view is used).
/// (`pub` only for the sealed trait's signatures: the module is private.)
#[allow(missing_debug_implementations)]
pub struct Slots<T, L: LayoutImpl = Indexed> {
    /// First of `len` slots, valid for reads and writes of that many slots (a
    /// dangling, aligned pointer when the slot is zero-sized: every access is then a
    /// no-op).
    ptr: NonNull<L::Slot<T>>,
    /// `lap - 1`, where the lap is `len` rounded up to a power of two; `pos & mask` is
    /// `pos`'s slot. Invariant: every position the protocol uses (one made by
    /// [`advance`](Self::advance) from 0 or from another such position) has
    /// `pos & mask < len`.
    mask: usize,
    /// The number of slots, in `1 ..= mask + 1`; `mask + 1 - len` positions are
    /// skipped at the end of every lap.
    len: usize,
    /// First of the `len` loom-tracked cells, one per slot (loom builds only).
    #[cfg(ringway_loom)]
    cells: NonNull<crate::sync::UnsafeCell<()>>,
    /// Makes the view, and every SPSC type built on it (`Producer`, `Consumer`, their
    /// chunks and futures, `Heap`), invariant in `T`. `NonNull` alone is covariant, and
    /// a covariant producer is unsound: safe code could turn a
    /// `Producer<&'static str>` into a `Producer<&'a str>`, push a short-lived
    /// reference, and pop it from the `Consumer<&'static str>` after it died.
    _invariant: InvariantIn<T>,
}

impl<T, L: LayoutImpl> Clone for Slots<T, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, L: LayoutImpl> Copy for Slots<T, L> {}

#[cfg(all(
    feature = "shm",
    target_os = "linux",
    target_pointer_width = "64",
    not(ringway_loom)
))]
impl<T> Slots<T, Indexed> {
    /// A view of `count` contiguous `T`s at `ptr`: memory a ring in shared memory
    /// (`crate::shm`) placed in its mapped region.
    ///
    /// # Safety
    ///
    /// `count` is a power of two, and `ptr` is aligned for `T` and valid for reads and
    /// writes of `count` values of `T` for as long as any copy of the view is used.
    pub(crate) unsafe fn from_raw(ptr: NonNull<MaybeUninit<T>>, count: usize) -> Self {
        debug_assert!(count.is_power_of_two());
        debug_assert!(ptr.as_ptr().is_aligned());
        Slots {
            ptr,
            mask: count - 1,
            len: count,
            _invariant: PhantomData,
        }
    }
}

impl<T, L: LayoutImpl> Slots<T, L> {
    /// The number of slots.
    #[inline(always)]
    pub(crate) fn count(&self) -> usize {
        self.len
    }

    /// The position `n` places after `pos` (`n <= len`), skipping the positions past
    /// the last slot of a lap (see the module docs); with a power-of-two slot count it
    /// is `pos + n`, wrapping.
    #[inline(always)]
    pub(crate) fn advance(&self, pos: usize, n: usize) -> usize {
        debug_assert!(n <= self.len && pos & self.mask < self.len);
        let skip = self.mask + 1 - self.len;
        if (pos & self.mask) + n >= self.len {
            pos.wrapping_add(n).wrapping_add(skip)
        } else {
            pos.wrapping_add(n)
        }
    }

    /// The number of positions from `from` up to `to`, where `to` is `from` advanced
    /// by at most `len` (so the two are at most one lap apart); with a power-of-two
    /// slot count it is `to - from`, wrapping. For a `to` behind `from` (the stamped
    /// layout's lagging counter) it is some number above `len`, as `to - from` is.
    #[inline(always)]
    pub(crate) fn distance(&self, from: usize, to: usize) -> usize {
        let skip = self.mask + 1 - self.len;
        let d = to.wrapping_sub(from);
        if (from ^ to) > self.mask {
            d.wrapping_sub(skip) // one lap boundary crossed, and its skipped positions
        } else {
            d
        }
    }

    /// Pointer to `pos`'s slot.
    #[inline(always)]
    fn slot(&self, pos: usize) -> *mut L::Slot<T> {
        debug_assert!(
            pos & self.mask < self.len,
            "position {pos} maps past the slots"
        );
        // SAFETY: `pos & mask < len` (invariant on `mask`), so the result stays inside
        // the storage (or is a zero-sized offset from a dangling pointer).
        unsafe { self.ptr.as_ptr().add(pos & self.mask) }
    }

    /// Asks the core to start fetching the cache line of `pos`'s slot, and returns at
    /// once: a hint, not a load of the value (so it cannot race with a write to the
    /// slot), on x86_64 only, a no-op elsewhere. A consumer that found no new item issues it
    /// so that, when the producer's counter next shows one, the item's line is already
    /// on its way (see `Consumer::available`).
    #[inline(always)]
    pub(crate) fn prefetch(&self, pos: usize) {
        #[cfg(all(target_arch = "x86_64", not(miri), not(ringway_loom)))]
        {
            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: `sse`, the intrinsic's target feature, is part of every x86_64
            // target; a prefetch never faults and is no access in the memory model,
            // whatever the address (and this one is inside the slots, `slot`).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(self.slot(pos).cast::<i8>().cast_const()) };
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri), not(ringway_loom))))]
        let _ = pos;
    }

    /// Pointer to the value in `pos`'s slot.
    #[inline(always)]
    fn value(&self, pos: usize) -> *mut MaybeUninit<T> {
        L::value(self.slot(pos))
    }

    /// The stamp of `pos`'s slot (stamped layout only).
    #[inline(always)]
    fn stamp(&self, pos: usize) -> &AtomicUsize {
        debug_assert!(L::STAMPED);
        // SAFETY: the slot is in bounds (`slot`), its stamp is initialised (type docs)
        // and only ever accessed atomically, and the storage outlives this view.
        unsafe { &*L::stamp(self.slot(pos)) }
    }

    /// The loom-tracked cell of `pos`'s slot.
    #[cfg(ringway_loom)]
    fn cell(&self, pos: usize) -> &crate::sync::UnsafeCell<()> {
        debug_assert!(
            pos & self.mask < self.len,
            "position {pos} maps past the slots"
        );
        // SAFETY: `pos & mask < len` (invariant on `mask`); the storage owns `len` cells
        // from `cells` and outlives this view (type docs).
        unsafe { &*self.cells.as_ptr().add(pos & self.mask) }
    }

    /// Records an exclusive access to slots `pos .. pos + n` for loom's race detector.
    #[inline(always)]
    fn track_mut(&self, pos: usize, n: usize) {
        #[cfg(ringway_loom)]
        {
            let mut pos = pos;
            for _ in 0..n {
                self.cell(pos).with_mut(|_| ());
                pos = self.advance(pos, 1);
            }
        }
        let _ = (pos, n);
    }

    /// Records a shared access to slots `pos .. pos + n` for loom's race detector.
    #[inline(always)]
    fn track(&self, pos: usize, n: usize) {
        #[cfg(ringway_loom)]
        {
            let mut pos = pos;
            for _ in 0..n {
                self.cell(pos).with(|_| ());
                pos = self.advance(pos, 1);
            }
        }
        let _ = (pos, n);
    }

    /// Moves `value` into `pos`'s slot.
    ///
    /// # Safety
    ///
    /// The caller has exclusive access to the slot, and the slot holds no value that
    /// still needs dropping (it would be leaked, not dropped).
    #[inline(always)]
    pub(crate) unsafe fn write(&self, pos: usize, value: T) {
        self.track_mut(pos, 1);
        // SAFETY: the slot is in bounds (`slot`) and exclusively ours (caller).
        unsafe { self.value(pos).write(MaybeUninit::new(value)) }
    }

    /// Moves the value out of `pos`'s slot, leaving it logically uninitialised.
    ///
    /// # Safety
    ///
    /// The caller has exclusive access to the slot, the slot is initialised, and the
    /// caller treats it as uninitialised afterwards.
    #[inline(always)]
    pub(crate) unsafe fn read(&self, pos: usize) -> T {
        self.track_mut(pos, 1);
        // SAFETY: in bounds, exclusive and initialised (caller).
        unsafe { self.value(pos).read().assume_init() }
    }

    /// Shared reference to the initialised value in `pos`'s slot.
    ///
    /// # Safety
    ///
    /// The slot is initialised and nobody writes or moves it out for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn get<'a>(&self, pos: usize) -> &'a T {
        self.track(pos, 1);
        // SAFETY: initialised and not mutated for `'a` (caller).
        unsafe { (*self.value(pos)).assume_init_ref() }
    }

    /// Copies `items` into the slots from `pos`.
    ///
    /// # Safety
    ///
    /// As [`write`](Self::write) for each of those slots; `items.len() <= slots`.
    #[inline(always)]
    pub(crate) unsafe fn copy_in(&self, pos: usize, items: &[T])
    where
        T: Copy,
    {
        // SAFETY: forwarded from the caller.
        unsafe { L::copy_in(self, pos, items) }
    }

    /// Copies the values of the slots from `pos` into `dst`.
    ///
    /// # Safety
    ///
    /// As [`get`](Self::get) for each of those slots; `dst.len() <= slots`.
    #[inline(always)]
    pub(crate) unsafe fn copy_out(&self, pos: usize, dst: &mut [T])
    where
        T: Copy,
    {
        // SAFETY: forwarded from the caller.
        unsafe { L::copy_out(self, pos, dst) }
    }

    /// Drops the values in slots `pos .. pos + n` in place.
    ///
    /// If one value's `Drop` panics, the others are still dropped while it unwinds
    /// (`crate::drop_each`); nothing is dropped twice.
    ///
    /// # Safety
    ///
    /// The slots are initialised and exclusively the caller's, and are treated as
    /// uninitialised afterwards; `n <= slots`.
    #[inline]
    pub(crate) unsafe fn drop_range(&self, pos: usize, n: usize) {
        if core::mem::needs_drop::<T>() && n > 0 {
            // SAFETY: forwarded from the caller.
            unsafe { L::drop_range(self, pos, n) }
        }
    }

    /// Stamped layout: publishes the `n` positions from `from` on (the producer's,
    /// just written) by storing each slot's stamp `pos + 1` with `Release`, the last
    /// position first. (`pos + 1`, not the next position: a stamp only has to be ahead
    /// of its position, see [`stamp_ready`](Self::stamp_ready).)
    /// A consumer reads stamps forward from its `head` and stops at the first one not
    /// yet stored, and the `Acquire` that sees the first position's stamp also sees
    /// every later one (stored before it): so it sees a batch whole or not at all, as
    /// the indexed layout's single counter store gives. Indexed layout: nothing.
    ///
    /// `from`'s own stamp, the last, takes no arithmetic on the position, so that a
    /// single push (`n` the constant 1) compiles to the one store, right after the
    /// value's write (a loop over `advance`d positions there cost the single-item
    /// stream 0.2x-0.6x its rate on an Intel Xeon: PERFORMANCE.md, 2026-12-07).
    #[inline(always)]
    pub(crate) fn publish_stamps(&self, from: usize, n: usize) {
        if L::STAMPED {
            let mut k = n;
            while k > 0 {
                k -= 1;
                let pos = if k == 0 { from } else { self.advance(from, k) };
                self.stamp(pos)
                    .store(pos.wrapping_add(1), Ordering::Release);
            }
        }
    }

    /// Stamped layout: whether the item at `pos` has been published (its stamp is
    /// `pos + 1`); the `Acquire` makes the value's write visible. Call only for a `pos`
    /// in `head .. head + slots`, and only with the stamped layout. The same slot's
    /// positions are a lap (`mask + 1`) apart, so a stamp from an earlier lap is behind
    /// `pos`.
    #[inline(always)]
    pub(crate) fn stamp_ready(&self, pos: usize) -> bool {
        let stamp = self.stamp(pos).load(Ordering::Acquire);
        // `stamp == pos + 1`, written as the equivalent "the stamp is ahead of `pos`"
        // (a stale stamp, `pos + 1 - lap`, or one reset for a later lap is behind
        // it): from an equality the compiler may reuse the loaded stamp as `pos + 1`,
        // which makes the consumer's next slot address wait for this load and
        // serialises a streaming consumer on the cross-core latency (measured: 0.4x).
        (stamp.wrapping_sub(pos) as isize) > 0
    }

    /// Stamped layout: writes every slot's stamp for a ring whose counters are `head`
    /// and `tail`: `pos + 1` for the positions `head .. tail` (published), and for each
    /// other slot a value that is not `pos + 1` for the next position `pos` the consumer
    /// will look for in it (the stamp of the position one lap, `mask + 1`, earlier, as
    /// if a lap had been pushed and popped). Indexed layout: nothing.
    ///
    /// # Safety
    ///
    /// No half of the ring is alive (nobody else touches the slots), and `tail - head`
    /// (wrapping) is at most the slot count. The stamps may be uninitialised: they are
    /// overwritten without being read or dropped (an atomic needs no drop).
    pub(crate) unsafe fn reset_stamps(&self, head: usize, tail: usize) {
        if !L::STAMPED {
            return;
        }
        let len = self.distance(head, tail);
        debug_assert!(len <= self.count());
        let mut pos = head;
        for i in 0..self.count() {
            // `pos` is the position in `head .. head + slots` whose slot is the `i`-th
            // from `head`.
            let stamp = if i < len {
                pos.wrapping_add(1)
            } else {
                pos.wrapping_sub(self.mask) // `pos - lap + 1`
            };
            // SAFETY: in bounds; no one else touches the slots (caller); writing over a
            // possibly uninitialised atomic without reading or dropping it is sound.
            unsafe { L::stamp(self.slot(pos)).write(AtomicUsize::new(stamp)) };
            pos = self.advance(pos, 1);
        }
    }
}

impl<T> Slots<T, Indexed> {
    /// Splits the `n` positions from `pos` into the run up to the end of the storage
    /// and the run that wraps to its start: `(first slot, first len, second len)`; the
    /// second run always starts at slot 0.
    #[inline(always)]
    fn runs(&self, pos: usize, n: usize) -> (*mut MaybeUninit<T>, usize, usize) {
        debug_assert!(n <= self.len, "a run longer than the storage");
        let start = pos & self.mask;
        let first = n.min(self.len - start);
        (self.slot(pos), first, n - first)
    }

    /// The slots `pos .. pos + n` as at most two exclusive slices, in order.
    ///
    /// # Safety
    ///
    /// The caller has exclusive access to those slots for `'a`, and `n <= slots`.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slices_mut<'a>(
        &self,
        pos: usize,
        n: usize,
    ) -> (&'a mut [MaybeUninit<T>], &'a mut [MaybeUninit<T>]) {
        self.track_mut(pos, n);
        let (first, first_len, second_len) = self.runs(pos, n);
        // SAFETY: both runs lie inside the allocation (`runs`), do not overlap (they
        // cover distinct slots since `n <= slots`), and are exclusively ours (caller).
        unsafe {
            (
                slice::from_raw_parts_mut(first, first_len),
                slice::from_raw_parts_mut(self.ptr.as_ptr(), second_len),
            )
        }
    }

    /// The initialised slots `pos .. pos + n` as at most two shared slices, in order.
    ///
    /// # Safety
    ///
    /// The slots are initialised and not mutated for `'a`, and `n <= slots`.
    #[inline]
    pub(crate) unsafe fn slices<'a>(&self, pos: usize, n: usize) -> (&'a [T], &'a [T]) {
        self.track(pos, n);
        let (first, first_len, second_len) = self.runs(pos, n);
        // SAFETY: in bounds (`runs`), initialised and not mutated for `'a` (caller);
        // `MaybeUninit<T>` has the layout of `T`.
        unsafe {
            (
                slice::from_raw_parts(first.cast::<T>(), first_len),
                slice::from_raw_parts(self.ptr.as_ptr().cast::<T>(), second_len),
            )
        }
    }

    /// The initialised slots `pos .. pos + n` as at most two exclusive slices.
    ///
    /// # Safety
    ///
    /// The slots are initialised and exclusively the caller's for `'a`; `n <= slots`.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn init_slices_mut<'a>(
        &self,
        pos: usize,
        n: usize,
    ) -> (&'a mut [T], &'a mut [T]) {
        // SAFETY: forwarded from the caller.
        let (a, b) = unsafe { self.slices_mut(pos, n) };
        // SAFETY: the slots are initialised (caller); `MaybeUninit<T>` has `T`'s layout.
        unsafe {
            (
                &mut *(a as *mut [MaybeUninit<T>] as *mut [T]),
                &mut *(b as *mut [MaybeUninit<T>] as *mut [T]),
            )
        }
    }
}

/// The heap storage of a ring from `spsc::channel`: one allocation of `capacity`
/// rounded up to a power of two slots of layout `L`, aligned to and padded out to
/// [`LINE`] bytes.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub(crate) struct Buffer<T, L: LayoutImpl = Indexed> {
    /// The view of the allocation. Allocated with `layout` when `layout.size() > 0`,
    /// otherwise dangling (zero-sized slots). Every stamp is initialised in `new`.
    slots: Slots<T, L>,
    /// The allocation's layout; size 0 means nothing was allocated.
    layout: core::alloc::Layout,
    /// One loom-tracked cell per slot (loom builds only); `slots.cells` points here.
    #[cfg(ringway_loom)]
    _cells: std::boxed::Box<[crate::sync::UnsafeCell<()>]>,
}

/// The largest capacity of an SPSC ring, `2^(usize::BITS - 2)` (2^62 on 64-bit
/// targets): the largest power of two that fits in `isize`. Only zero-sized items can
/// reach it; for others the `isize::MAX`-byte limit on the storage comes first.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub(crate) const MAX_CAPACITY: usize = (isize::MAX as usize >> 1) + 1;

/// Alignment (and size granule) of a heap slot allocation: the alignment
/// [`CachePadded`] has on this target.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
const LINE: usize = core::mem::align_of::<CachePadded<u8>>();

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
impl<T, L: LayoutImpl> Buffer<T, L> {
    /// Allocates room for at least `capacity` values, stamps initialised for an empty
    /// ring whose counters start at 0.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or the storage would exceed `isize::MAX` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        use core::alloc::Layout;

        assert!(capacity > 0, "ringway: capacity must be at least 1");
        let overflow = || -> ! {
            panic!(
                "ringway: capacity overflow: {capacity} slots of {} bytes do not fit in isize::MAX bytes",
                core::mem::size_of::<L::Slot<T>>()
            )
        };
        // The slot count, `capacity` rounded up to a power of two, must fit in `isize`
        // (as any slice length must), so the largest capacity is `MAX_CAPACITY` whatever
        // the size of `T`; for sized `T` the byte limit below is stricter anyway, so
        // this message is what a ring of zero-sized items sees.
        let slots = match capacity.checked_next_power_of_two() {
            Some(slots) if slots <= isize::MAX as usize => slots,
            _ => panic!(
                "ringway: capacity overflow: {capacity} is above the largest capacity, {MAX_CAPACITY} \
                 (the slot count, the capacity rounded up to a power of two, must fit in isize)"
            ),
        };
        let size = match slots.checked_mul(core::mem::size_of::<L::Slot<T>>()) {
            Some(size) => size,
            None => overflow(),
        };
        let align = core::mem::align_of::<L::Slot<T>>().max(LINE);
        let layout = match Layout::from_size_align(size, align) {
            Ok(layout) => layout.pad_to_align(),
            Err(_) => overflow(),
        };
        let ptr = if layout.size() == 0 {
            NonNull::dangling()
        } else {
            // SAFETY: `layout` has a non-zero size (checked just above).
            let raw = unsafe { alloc::alloc::alloc(layout) };
            match NonNull::new(raw.cast::<L::Slot<T>>()) {
                Some(ptr) => ptr,
                None => alloc::alloc::handle_alloc_error(layout),
            }
        };
        #[cfg(ringway_loom)]
        let cells: std::boxed::Box<[crate::sync::UnsafeCell<()>]> = (0..slots)
            .map(|_| crate::sync::UnsafeCell::new(()))
            .collect();
        let buffer = Buffer {
            slots: Slots {
                ptr,
                mask: slots - 1,
                len: slots,
                #[cfg(ringway_loom)]
                cells: NonNull::from(&cells[0]),
                _invariant: PhantomData,
            },
            layout,
            #[cfg(ringway_loom)]
            _cells: cells,
        };
        // SAFETY: the allocation is new, so nobody else touches it; the counters start
        // at 0, so `tail - head = 0`.
        unsafe { buffer.slots.reset_stamps(0, 0) };
        buffer
    }

    /// The view of the slots, valid while `self` lives (the allocation never moves).
    #[inline(always)]
    pub(crate) fn slots(&self) -> Slots<T, L> {
        self.slots
    }
}

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
impl<T, L: LayoutImpl> Drop for Buffer<T, L> {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: `slots.ptr` was allocated in `new` with exactly `layout` (non-zero
            // size).
            unsafe { alloc::alloc::dealloc(self.slots.ptr.as_ptr().cast::<u8>(), self.layout) }
        }
    }
}

// SAFETY: the buffer owns an allocation of `T`s and gives out only its raw view, whose
// unsafe methods require each slot to be accessed by one side at a time; sending or
// sharing it moves `T`s between threads, so `T: Send` is needed and sufficient.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
unsafe impl<T: Send, L: LayoutImpl> Send for Buffer<T, L> {}
// SAFETY: as for `Send`: through `&Buffer` only the raw view is reachable.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
unsafe impl<T: Send, L: LayoutImpl> Sync for Buffer<T, L> {}

/// `N` slots of layout `L`.
type SlotArray<T, const N: usize, L> = [<L as LayoutImpl>::Slot<T>; N];

/// The inline storage of a `StaticRing<T, N, L>`: `N` slots of layout `L` (`N >= 1`,
/// asserted at compile time by the ring's constructor), padded onto their own cache
/// lines.
pub(crate) struct InlineSlots<T, const N: usize, L: LayoutImpl = Indexed> {
    /// The slots, accessed only through [`Slots`] views; the cell makes a pointer
    /// derived from `&self` valid for writes. Stamps are uninitialised until the ring's
    /// first split writes them ([`Slots::reset_stamps`]).
    values: CachePadded<UntrackedUnsafeCell<MaybeUninit<SlotArray<T, N, L>>>>,
    /// One loom-tracked cell per slot (loom builds only).
    #[cfg(ringway_loom)]
    cells: std::boxed::Box<[crate::sync::UnsafeCell<()>]>,
}

impl<T, const N: usize, L: LayoutImpl> InlineSlots<T, N, L> {
    loom_const_fn! {
        /// `N` uninitialised slots.
        pub(crate) fn new() -> Self {
            InlineSlots {
                values: CachePadded::new(UntrackedUnsafeCell::new(MaybeUninit::uninit())),
                #[cfg(ringway_loom)]
                cells: (0..N).map(|_| crate::sync::UnsafeCell::new(())).collect(),
            }
        }
    }

    /// The view of the slots, valid while `self` lives and is not moved.
    #[inline(always)]
    pub(crate) fn slots(&self) -> Slots<T, L> {
        debug_assert!(N >= 1, "no inline slots");
        let values: *mut MaybeUninit<SlotArray<T, N, L>> = self.values.get();
        Slots {
            // SAFETY: a pointer to a field of `self` is not null.
            ptr: unsafe { NonNull::new_unchecked(values.cast::<L::Slot<T>>()) },
            mask: N.next_power_of_two() - 1,
            len: N,
            #[cfg(ringway_loom)]
            cells: NonNull::from(&self.cells[0]),
            _invariant: PhantomData,
        }
    }
}

// SAFETY: as for `Buffer`: the values are reached only through the raw view, one side
// per slot at a time, so `T: Send` is needed and sufficient to send or share them.
unsafe impl<T: Send, const N: usize, L: LayoutImpl> Send for InlineSlots<T, N, L> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send, const N: usize, L: LayoutImpl> Sync for InlineSlots<T, N, L> {}
