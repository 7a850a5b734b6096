//! The SPSC ring with the [`Stamped`] layout: the same [`Producer`](super::Producer)
//! and [`Consumer`](super::Consumer), the same code and operations, whose slots are
//! their own ready flags.
//!
//! [`channel`] returns the halves of a ring whose every slot carries a stamp beside its
//! value. The producer stores a slot's stamp right after the value (and after its
//! counter), so a consumer taking one item at a time reads the slot's line and nothing
//! else, where the default [`Indexed`](super::Indexed) layout also reads the producer's
//! counter. That is one cache line per hand-off instead of two, and a consumer polling
//! an empty ring touches only the line the next item will arrive on.
//!
//! # When to pick it
//!
//! For single items streamed between two threads that poll: on the single-item
//! streaming workloads of `cargo bench --bench latency` it is the fastest SPSC ring
//! in the crate (see PERFORMANCE.md in the repository for measured figures). Its slots
//! are larger (a `usize` stamp beside each value, 16 bytes for a `u64`) and not
//! contiguous, so it has no zero-copy chunks
//! ([`write_chunk_uninit`](super::Producer::write_chunk_uninit),
//! [`read_chunk`](super::Consumer::read_chunk)); everything else, batches, `drain`,
//! `len`, waiting, static storage ([`StaticRing`]), is the same. Pick
//! [`spsc::channel`](super::channel) for the chunks, for the densest storage, and for
//! batched streaming.
//!
//! # The protocol
//!
//! As the module docs of [`spsc`](super) say, with one more step: right after writing
//! a value, the producer stores its slot's stamp `pos + 1` with `Release` (a batch's
//! stamps last first), and only then, and for single pushes only every 32nd position
//! (and when it is dropped), its counter `tail`. A consumer taking a single item loads
//! the stamp of the slot at its `head` with `Acquire`: `head + 1` means the item is
//! there and its value, written before, is visible. Counts and batches load the counter
//! and then the stamps beyond it; the counter may lag the stamps, even `head`, and is
//! then ignored. A stale stamp is never mistaken for a fresh one: a slot's previous stamp is that
//! of the position one lap earlier, `pos - slots + 1 != pos + 1`, and a new ring (or a
//! new split of a [`StaticRing`]) gives every slot not holding an item the stamp of the
//! position one lap before the next one it will hold.
//!
//! Both sides are **wait-free** and use only atomic loads and stores.
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

use super::{Heap, Stamped};
use crate::wait::Waiters;
#[cfg(any(feature = "std", feature = "async"))]
use crate::WaitStrategy;

/// The sending half of a stamped ring: [`spsc::Producer`](super::Producer) with
/// [`Heap<T, Stamped>`](Heap) storage.
pub type Producer<T> = super::Producer<T, Heap<T, Stamped>>;

/// The receiving half of a stamped ring: [`spsc::Consumer`](super::Consumer) with
/// [`Heap<T, Stamped>`](Heap) storage.
pub type Consumer<T> = super::Consumer<T, Heap<T, Stamped>>;

/// A stamped ring with inline storage: [`spsc::StaticRing`](super::StaticRing) with
/// the [`Stamped`] layout.
///
/// # Examples
///
/// ```
/// static RING: ringway::spsc::stamped::StaticRing<u32, 8> = ringway::spsc::StaticRing::new();
///
/// let (mut tx, mut rx) = RING.try_split().unwrap();
/// tx.push(5).unwrap();
/// assert_eq!(rx.pop(), Some(5));
/// ```
pub type StaticRing<T, const N: usize> = super::StaticRing<T, N, Stamped>;

/// Creates a stamped SPSC ring that holds exactly `capacity` items, and returns its
/// two halves (as [`spsc::channel`](super::channel) does for the indexed layout).
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
/// assert_eq!(rx.len(), 1);
/// assert_eq!(rx.drain().collect::<Vec<_>>(), ['b']);
/// ```
///
/// ```should_panic
/// let _ = ringway::spsc::stamped::channel::<u8>(0); // panics: capacity must be at least 1
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    super::with_waiters::<T, Stamped>(capacity, Waiters::spin_yield())
}

/// Creates a stamped SPSC ring like [`channel`] whose waiting operations wait as
/// `strategy` says (as [`spsc::channel_with_wait_strategy`](super::channel_with_wait_strategy)).
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
///     ringway::spsc::stamped::channel_with_wait_strategy::<u64>(64, WaitStrategy::SPIN_PARK);
/// let consumer = std::thread::spawn(move || rx.pop_blocking()); // sleeps until woken
/// tx.push(7).unwrap(); // wakes it
/// assert_eq!(consumer.join().unwrap(), Ok(7));
/// ```
#[cfg(any(feature = "std", feature = "async"))]
pub fn channel_with_wait_strategy<T>(
    capacity: usize,
    strategy: WaitStrategy,
) -> (Producer<T>, Consumer<T>) {
    super::with_waiters::<T, Stamped>(capacity, Waiters::new(strategy))
}
