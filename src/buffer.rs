//! Slot storage for the SPSC ring.
//!
//! The protocol code works on [`Slots`], a raw, copyable view of `mask + 1`
//! contiguous, possibly uninitialised values of `T`, where the slot count is a power
//! of two so that a position maps to its slot with a mask, never `%`. Two owners
//! provide the memory it views, and the protocol code does not know which:
//!
//! * `Buffer` (feature `alloc`, on targets with an `Arc`): one heap allocation of `capacity` rounded up to a
//!   power of two (the queue still holds exactly `capacity` items: the index
//!   protocol, not the storage, enforces the bound), aligned to and padded out to the
//!   alignment of [`CachePadded`], so no neighbouring allocation shares a cache line
//!   with the first or last slot (rigtorp's SPSCQueue pads its slot array at both
//!   ends for the same reason);
//! * [`InlineSlots`]: an array of `N` slots (a power of two) inside a `StaticRing`,
//!   wrapped in [`CachePadded`] for the same padding.
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

use crate::sync::UntrackedUnsafeCell;
use crate::InvariantIn;

/// A raw view of `mask + 1` contiguous, possibly uninitialised slots of `T`.
///
/// It owns nothing and never drops values: which slots are initialised is the index
/// protocol's business. The storage that owns the memory (a `Buffer` or an
/// [`InlineSlots`]) outlives every view of it: the SPSC halves keep the owner alive, or
/// borrow it, for as long as they hold the view.
pub(crate) struct Slots<T> {
    /// First of `mask + 1` slots, valid for reads and writes of that many values (a
    /// dangling, aligned pointer when `T` is zero-sized: every access is then a no-op).
    ptr: NonNull<MaybeUninit<T>>,
    /// `slots - 1`, where `slots` is a power of two; `pos & mask` is `pos`'s slot.
    mask: usize,
    /// First of the `mask + 1` loom-tracked cells, one per slot (loom builds only).
    #[cfg(ringway_loom)]
    cells: NonNull<crate::sync::UnsafeCell<()>>,
    /// Makes the view, and every SPSC type built on it (the raw halves, `Producer`,
    /// `Consumer`, their chunks and futures, `Heap`), invariant in `T`. `NonNull` alone
    /// is covariant, and a covariant producer is unsound: safe code could turn a
    /// `Producer<&'static str>` into a `Producer<&'a str>`, push a short-lived
    /// reference, and pop it from the `Consumer<&'static str>` after it died.
    _invariant: InvariantIn<T>,
}

impl<T> Clone for Slots<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Slots<T> {}

impl<T> Slots<T> {
    /// The number of slots, a power of two.
    #[inline(always)]
    pub(crate) fn count(&self) -> usize {
        self.mask + 1
    }

    /// Pointer to `pos`'s slot.
    #[inline(always)]
    fn slot(&self, pos: usize) -> *mut MaybeUninit<T> {
        // SAFETY: `pos & mask < slots`, so the result stays inside the storage (or is a
        // zero-sized offset from a dangling pointer).
        unsafe { self.ptr.as_ptr().add(pos & self.mask) }
    }

    /// The loom-tracked cell of `pos`'s slot.
    #[cfg(ringway_loom)]
    fn cell(&self, pos: usize) -> &crate::sync::UnsafeCell<()> {
        // SAFETY: `pos & mask < slots`; the storage owns `slots` cells from `cells` and
        // outlives this view (type docs).
        unsafe { &*self.cells.as_ptr().add(pos & self.mask) }
    }

    /// Records an exclusive access to slots `pos .. pos + n` for loom's race detector.
    #[inline(always)]
    fn track_mut(&self, pos: usize, n: usize) {
        #[cfg(ringway_loom)]
        for i in 0..n {
            self.cell(pos.wrapping_add(i)).with_mut(|_| ());
        }
        let _ = (pos, n);
    }

    /// Records a shared access to slots `pos .. pos + n` for loom's race detector.
    #[inline(always)]
    fn track(&self, pos: usize, n: usize) {
        #[cfg(ringway_loom)]
        for i in 0..n {
            self.cell(pos.wrapping_add(i)).with(|_| ());
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
        unsafe { self.slot(pos).write(MaybeUninit::new(value)) }
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
        unsafe { self.slot(pos).read().assume_init() }
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
        unsafe { (*self.slot(pos)).assume_init_ref() }
    }

    /// Splits the `n` positions from `pos` into the run up to the end of the storage
    /// and the run that wraps to its start: `(first slot, first len, second len)`; the
    /// second run always starts at slot 0.
    #[inline(always)]
    fn runs(&self, pos: usize, n: usize) -> (*mut MaybeUninit<T>, usize, usize) {
        debug_assert!(n <= self.mask + 1, "a run longer than the storage");
        let start = pos & self.mask;
        let first = n.min(self.mask + 1 - start);
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

    /// Drops the values in slots `pos .. pos + n` in place.
    ///
    /// If one value's `Drop` panics, the rest of its run is still dropped (slice drop
    /// glue continues) and the other run is leaked; nothing is dropped twice.
    ///
    /// # Safety
    ///
    /// The slots are initialised and exclusively the caller's, and are treated as
    /// uninitialised afterwards; `n <= slots`.
    #[inline]
    pub(crate) unsafe fn drop_range(&self, pos: usize, n: usize) {
        if core::mem::needs_drop::<T>() && n > 0 {
            // SAFETY: forwarded from the caller.
            let (a, b) = unsafe { self.init_slices_mut(pos, n) };
            // SAFETY: initialised, exclusive, and never read again (caller).
            unsafe {
                core::ptr::drop_in_place(a);
                core::ptr::drop_in_place(b);
            }
        }
    }
}

/// The heap storage of a ring from `spsc::channel`: one allocation of `capacity`
/// rounded up to a power of two, aligned to and padded out to [`LINE`] bytes.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub(crate) struct Buffer<T> {
    /// The view of the allocation. Allocated with `layout` when `layout.size() > 0`,
    /// otherwise dangling (zero-sized `T`).
    slots: Slots<T>,
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
impl<T> Buffer<T> {
    /// Allocates room for at least `capacity` values.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0, or the storage would exceed `isize::MAX` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        use core::alloc::Layout;

        assert!(capacity > 0, "ringway: capacity must be at least 1");
        let overflow = || -> ! {
            panic!(
                "ringway: capacity overflow: {capacity} items of {} bytes do not fit in isize::MAX bytes",
                core::mem::size_of::<T>()
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
        let size = match slots.checked_mul(core::mem::size_of::<T>()) {
            Some(size) => size,
            None => overflow(),
        };
        let align = core::mem::align_of::<T>().max(LINE);
        let layout = match Layout::from_size_align(size, align) {
            Ok(layout) => layout.pad_to_align(),
            Err(_) => overflow(),
        };
        let ptr = if layout.size() == 0 {
            NonNull::dangling()
        } else {
            // SAFETY: `layout` has a non-zero size (checked just above).
            let raw = unsafe { alloc::alloc::alloc(layout) };
            match NonNull::new(raw.cast::<MaybeUninit<T>>()) {
                Some(ptr) => ptr,
                None => alloc::alloc::handle_alloc_error(layout),
            }
        };
        #[cfg(ringway_loom)]
        let cells: std::boxed::Box<[crate::sync::UnsafeCell<()>]> = (0..slots)
            .map(|_| crate::sync::UnsafeCell::new(()))
            .collect();
        Buffer {
            slots: Slots {
                ptr,
                mask: slots - 1,
                #[cfg(ringway_loom)]
                cells: NonNull::from(&cells[0]),
                _invariant: PhantomData,
            },
            layout,
            #[cfg(ringway_loom)]
            _cells: cells,
        }
    }

    /// The view of the slots, valid while `self` lives (the allocation never moves).
    #[inline(always)]
    pub(crate) fn slots(&self) -> Slots<T> {
        self.slots
    }
}

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
impl<T> Drop for Buffer<T> {
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
unsafe impl<T: Send> Send for Buffer<T> {}
// SAFETY: as for `Send`: through `&Buffer` only the raw view is reachable.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
unsafe impl<T: Send> Sync for Buffer<T> {}

/// The inline storage of a `StaticRing<T, N>`: `N` slots (a power of two, asserted at
/// compile time by the ring's constructor), padded onto their own cache lines.
pub(crate) struct InlineSlots<T, const N: usize> {
    /// The values, accessed only through [`Slots`] views; the cell makes a pointer
    /// derived from `&self` valid for writes.
    values: CachePadded<UntrackedUnsafeCell<MaybeUninit<[T; N]>>>,
    /// One loom-tracked cell per slot (loom builds only).
    #[cfg(ringway_loom)]
    cells: std::boxed::Box<[crate::sync::UnsafeCell<()>]>,
}

impl<T, const N: usize> InlineSlots<T, N> {
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
    pub(crate) fn slots(&self) -> Slots<T> {
        debug_assert!(
            N.is_power_of_two(),
            "inline slot count {N} not a power of two"
        );
        let values: *mut MaybeUninit<[T; N]> = self.values.get();
        Slots {
            // SAFETY: a pointer to a field of `self` is not null.
            ptr: unsafe { NonNull::new_unchecked(values.cast::<MaybeUninit<T>>()) },
            mask: N - 1,
            #[cfg(ringway_loom)]
            cells: NonNull::from(&self.cells[0]),
            _invariant: PhantomData,
        }
    }
}

// SAFETY: as for `Buffer`: the values are reached only through the raw view, one side
// per slot at a time, so `T: Send` is needed and sufficient to send or share them.
unsafe impl<T: Send, const N: usize> Send for InlineSlots<T, N> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send, const N: usize> Sync for InlineSlots<T, N> {}
