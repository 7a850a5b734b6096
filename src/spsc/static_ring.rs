//! The SPSC ring with inline storage: `const`-constructible, no allocator.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

#[cfg(target_has_atomic = "8")]
use super::Halves;
use super::{Borrowed, Consumer, Header, Indexed, Layout, Producer};
use crate::buffer::InlineSlots;
#[cfg(target_has_atomic = "8")]
use crate::sync::{AtomicBool, Ordering};
use crate::wait::Waiters;
#[cfg(any(feature = "std", feature = "async"))]
use crate::WaitStrategy;

/// An SPSC ring that holds exactly `N` items in place: no allocation, a `const`
/// constructor, so it can live in a `static` (firmware, interrupt handlers, audio
/// callbacks set up before anything may allocate).
///
/// Any `N >= 1` works, and the ring stores exactly `N` slots. Slots are still found
/// with a mask, never `%`: when `N` is not a power of two, the ring's positions skip
/// from the last slot straight to the next lap (crossbeam's `ArrayQueue` encodes its
/// positions the same way), at the cost of one compare when a position moves.
/// `N = 0` is a compile-time error. The ring uses the same protocol code as [`channel`](super::channel);
/// only the storage differs. [`split`](Self::split) lends it to a
/// [`Producer`] and a [`Consumer`] with the full SPSC API, generic over
/// [`Borrowed<'a>`](Borrowed) storage. The counters sit on their own cache lines and
/// the slots are padded at both ends, with the line size crossbeam-utils' `CachePadded`
/// chooses for the target (128 bytes on x86_64 and aarch64, 32 on Cortex-M).
///
/// # Splitting again
///
/// The halves borrow the ring, so it cannot be split again (or dropped) while either
/// lives. Once both are dropped, [`split`](Self::split) may be called again: the new
/// halves *continue* with whatever items the old ones left in the ring (nothing is
/// reset or dropped), and [`is_abandoned`](Producer::is_abandoned) starts false again:
/// it reports whether the other half *of the same split* has been dropped. Dropping the
/// ring drops the items left in it, exactly once. (A ring in a `static` is never
/// dropped: what it holds at the end of the program is leaked, like any static.)
///
/// If a consumer is forgotten (`mem::forget`) rather than dropped, the ring cannot tell
/// which of its items that consumer already moved out (a forgotten
/// [`Drain`](super::Drain) moves items out before it releases their slots), so the next
/// split, or the ring's drop, leaks every item left instead of yielding or dropping it
/// again. A forgotten producer of the [`Indexed`] layout loses nothing: what it
/// published stays. One of the [`Stamped`](super::Stamped) layout stores its counter
/// only now and then (at most 31 single pushes apart, and when it is dropped), so the
/// items it pushed since the last store are leaked (never yielded or dropped) by the
/// next split or the ring's drop.
///
/// # Layout
///
/// `L` is the layout of the slots, [`Indexed`] (the default) or
/// [`Stamped`](super::Stamped) (see the [module docs](super) for which to pick;
/// `spsc::stamped::StaticRing<T, N>` names the stamped one).
///
/// # In a `static`
///
/// `split` needs `&mut self`. For a ring in a `static`, [`try_split`](Self::try_split)
/// hands out the halves once from `&'static self` (on targets with atomic
/// compare-and-swap); on targets without it (Cortex-M0) get a `&'static mut` in the
/// usual ways (`cortex_m::singleton!`, the `static_cell` crate, or a `static mut`
/// reached once through `addr_of_mut!`).
///
/// `StaticRing<T, N>` is `Send` and `Sync` when `T: Send`.
///
/// # Examples
///
/// ```
/// use ringway::spsc::StaticRing;
///
/// static RING: StaticRing<u32, 64> = StaticRing::new();
///
/// let (mut tx, mut rx) = RING.try_split().expect("split only once");
/// assert!(RING.try_split().is_none());
/// let producer = std::thread::spawn(move || {
///     for i in 0..1000 {
///         while tx.push(i).is_err() {
///             std::hint::spin_loop();
///         }
///     }
/// });
/// let mut sum = 0;
/// let mut n = 0;
/// while n < 1000 {
///     for v in rx.drain() {
///         sum += v;
///         n += 1;
///     }
/// }
/// producer.join().unwrap();
/// assert_eq!(sum, 499_500);
/// ```
///
/// A capacity that is not a power of two holds exactly that many items:
///
/// ```
/// let mut ring = ringway::spsc::StaticRing::<u8, 3>::new();
/// let (mut tx, mut rx) = ring.split();
/// for round in 0..5 {
///     assert_eq!(tx.push_slice(&[round, round + 1, round + 2, 99]), 3);
///     assert!(tx.is_full());
///     assert_eq!(rx.drain().collect::<Vec<_>>(), [round, round + 1, round + 2]);
/// }
/// ```
///
/// A capacity of 0 does not compile:
///
/// ```compile_fail
/// static RING: ringway::spsc::StaticRing<u8, 0> = ringway::spsc::StaticRing::new();
/// ```
///
/// The check is a constant evaluated when the constructor is instantiated for that
/// `N`. In a `static` or `const` that happens during type checking, so `cargo check`
/// reports it; a ring built at run time (a `let`, as below) is only instantiated when
/// code is generated, so `cargo check` accepts it and `cargo build` (or `cargo test`)
/// fails with "needs N >= 1":
///
/// ```compile_fail
/// let mut ring = ringway::spsc::StaticRing::<u8, 0>::new();
/// let _halves = ring.split();
/// ```
pub struct StaticRing<T, const N: usize, L: Layout = Indexed> {
    header: Header,
    /// The wait strategy and the sleeping waiters.
    waiters: Waiters,
    /// The `N` slots; the header's invariants say which hold items. With the stamped
    /// layout, every split writes the stamps afresh (`halves`).
    slots: InlineSlots<T, N, L>,
    /// Whether [`try_split`](Self::try_split) has handed out the halves.
    #[cfg(target_has_atomic = "8")]
    split_taken: AtomicBool,
}

impl<T, const N: usize, L: Layout> StaticRing<T, N, L> {
    /// Checked when the ring is built (post-monomorphisation, so a bad `N` fails the
    /// build): `N` is at least 1, and its lap (`N` rounded up to a power of two) leaves
    /// the top bit of a position free for the wrapping comparisons. (An array of that
    /// many slots of a sized `T` fails to compile long before.)
    const VALID_CAPACITY: () = assert!(
        N >= 1 && N <= (isize::MAX as usize >> 1) + 1,
        "ringway: StaticRing<T, N> needs N >= 1 (and at most 2^62 on 64-bit targets)"
    );

    loom_const_fn! {
        /// Creates an empty ring of capacity `N` whose waiting operations
        /// ([`Consumer::pop_blocking`], ...) never sleep, like
        /// [`channel`](super::channel)'s (`WaitStrategy::SPIN_YIELD` with the `std` or
        /// `async` feature).
        ///
        /// `const`: usable in a `static` (in ordinary builds; under `--cfg ringway_loom` it is
        /// a plain function).
        ///
        /// # Panics
        ///
        /// Never at run time: `N = 0` is a compile-time error (from `cargo build`;
        /// `cargo check` reports it only in a `static` or `const`, see the type docs).
        ///
        /// # Examples
        ///
        /// ```
        /// static RING: ringway::spsc::StaticRing<[u8; 16], 8> = ringway::spsc::StaticRing::new();
        /// assert_eq!(RING.capacity(), 8);
        /// ```
        pub fn new() -> Self {
            Self::with_waiters(Waiters::spin_yield())
        }
    }

    loom_const_fn! {
        /// Creates an empty ring of capacity `N` whose waiting operations wait as
        /// `strategy` says (see [`channel_with_wait_strategy`](super::channel_with_wait_strategy)); `const`, like
        /// [`new`](Self::new).
        ///
        /// # Examples
        ///
        /// ```
        /// use ringway::{spsc::StaticRing, WaitStrategy};
        ///
        /// static RING: StaticRing<u64, 16> = StaticRing::with_wait_strategy(WaitStrategy::SpinPark { spins: 32 });
        /// let (mut tx, mut rx) = RING.try_split().unwrap();
        /// let consumer = std::thread::spawn(move || rx.pop_blocking()); // parks until woken
        /// tx.push(7).unwrap();
        /// assert_eq!(consumer.join().unwrap(), Ok(7));
        /// ```
        #[cfg(any(feature = "std", feature = "async"))]
        pub fn with_wait_strategy(strategy: WaitStrategy) -> Self {
            Self::with_waiters(Waiters::new(strategy))
        }
    }

    loom_const_fn! {
        fn with_waiters(waiters: Waiters) -> Self {
            #[allow(clippy::let_unit_value)]
            let () = Self::VALID_CAPACITY;
            StaticRing {
                header: Header::new(),
                waiters,
                slots: InlineSlots::new(),
                #[cfg(target_has_atomic = "8")]
                split_taken: AtomicBool::new(false),
            }
        }
    }

    /// The exact number of items the ring holds when full: `N`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = ringway::spsc::StaticRing::<u8, 4>::new();
    /// assert_eq!(ring.capacity(), 4);
    /// ```
    #[inline]
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Lends the ring to a producer and a consumer, which borrow it until both are
    /// dropped.
    ///
    /// The halves continue with the items a previous split left in the ring, and
    /// their [`is_abandoned`](Producer::is_abandoned) starts false (see the type docs,
    /// "Splitting again").
    ///
    /// # Examples
    ///
    /// ```
    /// let mut ring = ringway::spsc::StaticRing::<u32, 4>::new();
    /// let (mut tx, rx) = ring.split();
    /// tx.push_slice(&[1, 2, 3]);
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// drop(tx);
    ///
    /// // Split again: the items are still there, and neither half is abandoned.
    /// let (tx, mut rx) = ring.split();
    /// assert!(!rx.is_abandoned() && !tx.is_abandoned());
    /// assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2, 3]);
    ///
    /// std::thread::scope(|s| {
    ///     let (mut tx, mut rx) = (tx, rx);
    ///     s.spawn(move || tx.push(4).unwrap());
    ///     s.spawn(move || while rx.pop().is_none() {});
    /// });
    /// ```
    pub fn split(&mut self) -> (Producer<T, Borrowed<'_, L>>, Consumer<T, Borrowed<'_, L>>) {
        // `&mut self`: no half is alive, and whatever the last halves did happened
        // before this borrow began.
        let (head, tail) = self.header.start_split();
        self.halves(head, tail)
    }

    /// Lends a shared ring to a producer and a consumer, the first time it is called
    /// on this ring; `None` every later time (whether or not those halves are still
    /// alive).
    ///
    /// For a ring in a `static`, where `&mut self` is out of reach: the halves are then
    /// `'static`, and can be stored or moved to other threads. It does not interact
    /// with [`split`](Self::split), which needs exclusive access and so never runs
    /// while these halves live.
    ///
    /// Needs an atomic swap (`target_has_atomic = "8"`), so it is missing on
    /// `thumbv6m-none-eabi`; see the type docs for what to do there.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::spsc::{Borrowed, Consumer, Producer, StaticRing};
    ///
    /// static LOG: StaticRing<u16, 32> = StaticRing::new();
    ///
    /// fn halves() -> (Producer<u16, Borrowed<'static>>, Consumer<u16, Borrowed<'static>>) {
    ///     LOG.try_split().expect("LOG is split once, at start-up")
    /// }
    ///
    /// let (mut tx, mut rx) = halves();
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.pop(), Some(1));
    /// assert!(LOG.try_split().is_none());
    /// ```
    #[cfg(target_has_atomic = "8")]
    pub fn try_split(&self) -> Option<Halves<T, Borrowed<'_, L>>> {
        // The swap's atomicity alone makes the halves unique; the callers that lose
        // touch nothing, so no ordering is needed. No half of an earlier `split` is
        // alive (that borrow was exclusive), and its end happened before this shared
        // borrow, so `start_split` sees the last counters and is not raced.
        if self.split_taken.swap(true, Ordering::Relaxed) {
            return None;
        }
        let (head, tail) = self.header.start_split();
        Some(self.halves(head, tail))
    }

    /// The halves of the ring, whose counters are `head` and `tail`. The caller has made
    /// sure no other half of this ring is alive for `'_`.
    fn halves(
        &self,
        head: usize,
        tail: usize,
    ) -> (Producer<T, Borrowed<'_, L>>, Consumer<T, Borrowed<'_, L>>) {
        let header = NonNull::from(&self.header);
        let waiters = NonNull::from(&self.waiters);
        let slots = self.slots.slots();
        // SAFETY: no other half of this ring is alive (caller), and the header's
        // invariant bounds the distance from `head` to `tail` by `N`, the slot count.
        unsafe { slots.reset_stamps(head, tail) };
        let producer = Producer::new(
            header,
            waiters,
            slots,
            N,
            (head, tail),
            Borrowed(PhantomData),
        );
        let consumer = Consumer::new(
            header,
            waiters,
            slots,
            N,
            (head, tail),
            Borrowed(PhantomData),
        );
        (producer, consumer)
    }
}

impl<T, const N: usize, L: Layout> Default for StaticRing<T, N, L> {
    /// [`StaticRing::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize, L: Layout> Drop for StaticRing<T, N, L> {
    fn drop(&mut self) {
        let slots = self.slots.slots();
        // SAFETY: `slots` are this ring's, and its capacity is `N`.
        unsafe { self.header.drop_items(slots, N) };
    }
}

impl<T, const N: usize, L: Layout> fmt::Debug for StaticRing<T, N, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticRing")
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

// `StaticRing<T, N>` is `Send` and `Sync` when `T: Send` without an impl of its own:
// the header is atomics (and mutexes), and `InlineSlots` is `Send + Sync` exactly when
// `T: Send`. Sharing `&StaticRing` gives access to `try_split` (one pair of halves, each
// `Send` when `T: Send`) and `capacity`, nothing that reads a `T`.
