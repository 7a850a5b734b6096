//! Runs each test body on both storages of the queues: the heap forms
//! (`spsc::channel`, `mpmc::Queue::new`) and the static forms (`spsc::StaticRing`,
//! `mpmc::StaticQueue`), which share the protocol code and differ only in where the
//! ring lives.
//!
//! * `storage_tests!(name, ..)` runs each `fn name(storage: Storage)` as two tests,
//!   `name::heap` and `name::static_storage`: one body, both storages. (Test filters
//!   by name, such as CI's Miri selections, match both.)
//! * `with_ring!` and `with_queue!` build a queue of a capacity chosen at run time
//!   on the given storage and run a body on it. A static ring needs its capacity as a
//!   const parameter, so the macros map run-time capacities to the instantiations
//!   below: [`static_ring`] (the capacities of [`STATIC_RING_CAPS`], powers of two and
//!   others, whose positions skip the end of each lap) and the arms of `with_queue!`
//!   (any capacity the MPMC tests use).
//!
//! A static ring of a capacity outside [`STATIC_RING_CAPS`] gets the capacity rounded
//! up to a power of two ([`Storage::capacity`]); tests that care about exact
//! capacities ask [`Storage::caps`] for the capacities the storage can build.
//!
//! Without the `alloc` feature (`cargo test --no-default-features`) only the
//! `static_storage` tests exist.
//!
//! The halves of a static ring borrow it, so the bodies use scoped threads, and items
//! left in a static ring are dropped when the ring goes, at the end of `with_ring!`
//! (not when the last half goes, as on the heap): drop accounting is checked after
//! it.

#![allow(dead_code, unused_macros)]

use ringway::spsc::{Borrowed, Consumer, Producer, StaticRing};

/// Which storage a test body runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// `spsc::channel`, `mpmc::Queue::new`.
    Heap,
    /// `spsc::StaticRing` split into borrowed halves, `mpmc::StaticQueue`.
    Static,
}

impl Storage {
    /// Whether this is the static storage.
    pub fn is_static(self) -> bool {
        self == Storage::Static
    }

    /// The capacity an SPSC ring asked for with `cap` gets on this storage: `cap` on
    /// the heap and for a `StaticRing` of a capacity in [`STATIC_RING_CAPS`], else
    /// the next power of two.
    pub fn capacity(self, cap: usize) -> usize {
        match self {
            Storage::Heap => cap,
            Storage::Static => static_ring_slots(cap),
        }
    }

    /// The capacities in `caps` that an SPSC ring of this storage holds exactly: all of
    /// them on the heap, those [`static_ring`] builds exactly for a `StaticRing`.
    ///
    /// Under Miri, the static storage gets one or two of them (see [`miri_static`]).
    ///
    /// [`miri_static`]: Storage::miri_static
    pub fn caps(self, caps: &[usize]) -> Vec<usize> {
        let mut caps: Vec<usize> = caps
            .iter()
            .copied()
            .filter(|&c| self == Storage::Heap || static_ring_slots(c) == c)
            .collect();
        if self.miri_static() && !caps.is_empty() {
            // The second smallest (usually 2, whose positions wrap the storage every
            // other item), or the only one, and the first that is not a power of two
            // (whose positions skip at the end of each lap).
            let mut few = vec![caps[1.min(caps.len() - 1)]];
            few.extend(
                caps.iter()
                    .find(|c| !c.is_power_of_two() && !few.contains(c)),
            );
            caps = few;
        }
        caps
    }

    /// Whether this is the static storage under Miri, where its variants run one
    /// configuration (or a few): they check the storage (inline slots, borrowed halves,
    /// drops by the ring), not the protocol code again, and CI's Miri time is budgeted.
    pub fn miri_static(self) -> bool {
        cfg!(miri) && self == Storage::Static
    }

    /// `heap` on the heap, `fewer` on the static storage: the heavy threaded tests run
    /// their static variants with fewer items (the protocol code is the same; the
    /// static variant checks the storage, not the protocol again).
    pub fn heavy<T>(self, heap: T, fewer: T) -> T {
        match self {
            Storage::Heap => heap,
            Storage::Static => fewer,
        }
    }
}

/// For each `name` (a `fn name(storage: Storage)`), defines a module `name` with the
/// tests `heap` and `static_storage`, which run the function on each storage.
/// Attributes written before a name (`#[cfg_attr(miri, ignore)] name`) go on both.
macro_rules! storage_tests {
    ($( $(#[$meta:meta])* $name:ident ),* $(,)?) => {$(
        mod $name {
            $(#[$meta])*
            #[cfg(feature = "alloc")]
            #[test]
            fn heap() {
                super::$name($crate::storage::Storage::Heap)
            }

            $(#[$meta])*
            #[test]
            fn static_storage() {
                super::$name($crate::storage::Storage::Static)
            }
        }
    )*};
}

/// `$heap`, with the `alloc` feature; without it there is no heap storage (and no test
/// asks for it: `storage_tests!` makes only the static tests).
#[cfg(feature = "alloc")]
macro_rules! heap_or_unreachable {
    ($heap:expr) => {
        $heap
    };
}

#[cfg(not(feature = "alloc"))]
macro_rules! heap_or_unreachable {
    ($heap:expr) => {
        unreachable!("no heap storage without the `alloc` feature")
    };
}

/// An SPSC ring of a run-time capacity on `storage`: runs `body` with its halves bound
/// to `tx` and `rx` (patterns, so `mut tx` works), and returns what `body` returns.
///
/// On the static storage the ring is a boxed `StaticRing<T, N>`, `N` the capacity
/// rounded up to a power of two, dropped (with what is left in it) when the macro's
/// block ends. `with_ring!(storage, T, cap, via factory, |tx, rx| ..)` builds the static
/// ring with `factory::<T>(cap)` instead of [`static_ring`].
macro_rules! with_ring {
    ($storage:expr, $T:ty, $cap:expr, |$tx:pat_param, $rx:pat_param| $body:expr) => {
        with_ring!($storage, $T, $cap, via storage::static_ring, |$tx, $rx| $body)
    };
    ($storage:expr, $T:ty, $cap:expr, via $($make:ident)::+, |$tx:pat_param, $rx:pat_param| $body:expr) => {{
        let capacity: usize = $cap;
        match $storage {
            #[allow(unreachable_code, clippy::diverging_sub_expression)] // without `alloc`
            $crate::storage::Storage::Heap => {
                let ($tx, $rx): (::ringway::spsc::Producer<$T>, ::ringway::spsc::Consumer<$T>) =
                    heap_or_unreachable!(::ringway::spsc::channel::<$T>(capacity));
                $body
            }
            $crate::storage::Storage::Static => {
                let mut ring = crate::$($make)::+::<$T>(capacity);
                let ($tx, $rx) = $crate::storage::SplitRing::split(&mut *ring);
                $body
            }
        }
    }};
}

/// A `StaticRing<T, N>` of any `N`, behind a trait object.
pub trait SplitRing<T> {
    /// [`StaticRing::split`].
    fn split(&mut self) -> (Producer<T, Borrowed<'_>>, Consumer<T, Borrowed<'_>>);
}

impl<T, const N: usize> SplitRing<T> for StaticRing<T, N> {
    fn split(&mut self) -> (Producer<T, Borrowed<'_>>, Consumer<T, Borrowed<'_>>) {
        StaticRing::split(self)
    }
}

/// The capacities [`static_ring`] builds exactly (the others are rounded up to a power
/// of two): the powers of two up to 1024 and, for the skipping positions, others.
pub const STATIC_RING_CAPS: &[usize] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 24, 31, 32, 33, 64, 100, 128, 256, 512, 1000, 1024,
];

/// The slot count of the `StaticRing` that [`static_ring`] builds for `cap`.
pub fn static_ring_slots(cap: usize) -> usize {
    if STATIC_RING_CAPS.contains(&cap) || cap == ZST_SKIPPING_CAPACITY {
        cap
    } else {
        cap.next_power_of_two()
    }
}

/// A boxed `StaticRing<T, N>` whose `N` is [`static_ring_slots`]`(cap)`.
///
/// # Panics
///
/// If that is above 1024 (use [`zst_static_ring`] for huge zero-sized rings).
pub fn static_ring<'a, T: 'a>(cap: usize) -> Box<dyn SplitRing<T> + 'a> {
    macro_rules! pick {
        ($($n:literal)*) => {
            match static_ring_slots(cap) {
                $($n => Box::new(StaticRing::<T, $n>::new()),)*
                n => panic!("no static ring of {n} slots in the test harness"),
            }
        };
    }
    // The arms are `STATIC_RING_CAPS`.
    pick!(1 2 3 4 5 6 7 8 9 12 16 17 24 31 32 33 64 100 128 256 512 1000 1024)
}

/// The largest static ring capacity (as for the heap: `2^62` on 64-bit targets).
pub const ZST_MAX_CAPACITY: usize = 1 << (usize::BITS - 2);

/// A huge capacity that is not a power of two (`2^62 - 1`): its positions skip one
/// at the end of each lap, and a few laps wrap them around `usize::MAX`.
pub const ZST_SKIPPING_CAPACITY: usize = usize::MAX / 4;

/// A boxed zero-sized-item `StaticRing` of [`ZST_MAX_CAPACITY`] or
/// [`ZST_SKIPPING_CAPACITY`] slots, or as [`static_ring`] (only for zero-sized `T`: a
/// ring of `2^62` slots of anything else does not fit).
pub fn zst_static_ring<'a, T: 'a>(cap: usize) -> Box<dyn SplitRing<T> + 'a> {
    assert_eq!(
        std::mem::size_of::<T>(),
        0,
        "huge static rings are for ZSTs"
    );
    match cap {
        ZST_MAX_CAPACITY => Box::new(StaticRing::<T, ZST_MAX_CAPACITY>::new()),
        ZST_SKIPPING_CAPACITY => Box::new(StaticRing::<T, ZST_SKIPPING_CAPACITY>::new()),
        _ => static_ring(cap),
    }
}

/// The capacities `with_queue!` can build a static queue of.
pub const STATIC_QUEUE_CAPS: &[usize] = &[1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 24, 32, 64, 100];

/// An MPMC queue of a run-time capacity on `storage`: runs `body` with `q` bound to a
/// `&Queue<T, S>` (a `StaticQueue` dereferenced, on the static storage) and returns
/// what `body` returns. The queue is dropped, with what is left in it, when the
/// macro's block ends.
///
/// On the static storage the body is compiled once per capacity arm below (the queue
/// types differ), so keep it to a call of a generic helper where it is long.
macro_rules! with_queue {
    ($storage:expr, $T:ty, $cap:expr, |$q:ident| $body:expr) => {{
        let capacity: usize = $cap;
        match $storage {
            #[allow(unreachable_code, unused_variables, clippy::diverging_sub_expression)] // without `alloc`
            $crate::storage::Storage::Heap => {
                let queue: ::ringway::mpmc::Queue<$T> =
                    heap_or_unreachable!(::ringway::mpmc::Queue::<$T>::new(capacity));
                let $q = &queue;
                $body
            }
            $crate::storage::Storage::Static => {
                // The arms are `STATIC_QUEUE_CAPS`.
                with_queue!(@static $T, capacity, |$q| $body, 1 2 3 4 5 7 8 9 16 17 24 32 64 100)
            }
        }
    }};
    (@static $T:ty, $capacity:ident, |$q:ident| $body:expr, $($n:literal)*) => {
        match $capacity {
            $($n => {
                let queue = Box::new(::ringway::mpmc::StaticQueue::<$T, $n>::new());
                let $q = &**queue;
                $body
            })*
            n => panic!("no static queue of capacity {n} in the test harness"),
        }
    };
}
