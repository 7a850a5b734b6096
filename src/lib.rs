//! Lock-free, bounded ring buffers for latency-sensitive code (audio and trading
//! threads, telemetry pipelines, schedulers, embedded loops): a single-producer
//! single-consumer ring and a multi-producer multi-consumer queue that hold exactly
//! their capacity, never allocate after construction, come in heap and `static` forms,
//! and can wait by spinning, yielding, parking or as futures. Every atomic protocol is
//! model-checked with [loom](https://docs.rs/loom), and the unsafe code is checked
//! under Miri; the crate is `no_std`, with `alloc` optional.
//!
//! # Which queue to pick
//!
//! | you have | pick | progress |
//! |---|---|---|
//! | one producer thread and one consumer thread: single items, slices, iterators, zero-copy chunks, byte streams (`io::Read`/`io::Write`) | [`spsc::channel`], or [`spsc::StaticRing`] without an allocator | wait-free push and pop, no read-modify-write |
//! | the same, mostly single items streamed between two polling threads | the same ring with the [`Stamped`](spsc::Stamped) layout, [`spsc::stamped::channel`] (each slot its own ready flag: one cache line per hand-off; every operation but the zero-copy chunks) | the same |
//! | one producer that must never wait, and a consumer that only wants the newest items (meters, telemetry, snapshots) | [`spsc::overwriting::channel`], or [`spsc::overwriting::StaticRing`] without an allocator: a push into a full ring displaces the oldest item and hands it back | wait-free push, lock-free pop (one read-modify-write each) |
//! | several producers or several consumers | [`mpmc::Queue`], or [`mpmc::StaticQueue`] without an allocator | see [`mpmc`]: a pre-empted thread between claiming and publishing a slot stalls that slot |
//! | a producer and a consumer in two processes (64-bit Linux) | `shm::Ring` (feature `shm`): the same SPSC ring in a file under `/dev/shm` or a sealed memfd passed by descriptor, plain-data items, a header checked on open, a peer's death detected | as the SPSC ring |
//! | threads or tasks that should sleep while the queue is empty or full | any of them built with [`WaitStrategy::SPIN_PARK`] (`spsc::channel_with_wait_strategy`, `with_wait_strategy`), then `pop_blocking`, `pop_timeout`, `pop_async`, ... | the waiting operations sleep; `push` and `pop` stay as above |
//!
//! # Examples
//!
//! ```
//! let (mut tx, mut rx) = ringway::spsc::channel::<u64>(1024);
//! let consumer = std::thread::spawn(move || {
//!     let mut sum = 0;
//!     for _ in 0..1000 {
//!         sum += loop {
//!             if let Some(v) = rx.pop() {
//!                 break v;
//!             }
//!             std::hint::spin_loop();
//!         };
//!     }
//!     sum
//! });
//! for i in 0..1000 {
//!     while tx.push(i).is_err() {
//!         std::hint::spin_loop();
//!     }
//! }
//! assert_eq!(consumer.join().unwrap(), 499_500);
//!
//! let q = ringway::mpmc::Queue::new(4); // share by reference or `Arc`
//! q.push("a").unwrap();
//! assert_eq!(q.pop(), Some("a"));
//! ```
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `alloc` | yes (via `std`) | the heap forms: [`spsc::channel`], [`mpmc::Queue::new`] |
//! | `std` | yes | implies `alloc`; the waiting operations and [`WaitStrategy`], `std::io` for byte rings, `std::error::Error` for the errors |
//! | `async` | yes | `push_async` / `pop_async` and [`WaitStrategy`], also in `no_std` builds on an embedded executor, with or without an allocator (without `alloc`, a queue lists up to four sleeping futures per direction, and one beyond them wakes itself; needs compare-and-swap: not Cortex-M0) |
//! | `embedded-io` | no | the `embedded_io` traits (`Read`, `Write`, `ReadReady`, `WriteReady`) for a byte ring's halves, with or without `std` |
//! | `shm` | no | `shm`: SPSC rings in shared memory between processes (64-bit Linux; implies `std`) |
//!
//! With `default-features = false` only the static forms exist, and the SPSC ring
//! builds for targets without compare-and-swap (Cortex-M0). Add `async` for the futures
//! without `std` (the blocking operations need `std`'s threads; see [`WaitStrategy`]
//! for what differs there). The README has the
//! longer tour (static storage on embedded targets, the waiting operations) and
//! `PERFORMANCE.md` the measured figures.
#![no_std]
// docs.rs (`--cfg docsrs`, Cargo.toml): badges saying which feature or target each
// gated item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", ringway_loom, test))]
extern crate std;

/// Defines a function from one body as a `const fn` in ordinary builds and as a plain
/// `fn` under loom, whose atomics, cells and mutexes have no `const` constructors.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(ringway_loom))]
        $(#[$attr])*
        $vis const fn $($rest)*

        #[cfg(ringway_loom)]
        $(#[$attr])*
        $vis fn $($rest)*
    };
}

/// A marker that makes the type holding it invariant in `T` without claiming to own
/// a `T` (no effect on drop check, `Send`, `Sync` or `Unpin`).
///
/// Every type that can put a `T` into a ring must be invariant in `T`: were it
/// covariant, safe code could shorten a `&'static` item type to `&'a`, push a
/// reference that dies at the end of `'a`, and pop it as `&'static` from the other
/// end (a use-after-free). The marker sits on the root type of each protocol, even
/// where another field (an `UnsafeCell<T>`) already makes it invariant, so that the
/// reason is written where the type is and a refactor of the fields cannot lose it:
/// `buffer::Slots` (every SPSC type holds one, or a `&mut` to a half that does),
/// `mpmc::Queue` and `spsc::stamped`'s `Ring`. The compile-fail doctests in
/// `src/variance.rs` pin the variance of every public generic type.
pub(crate) type InvariantIn<T> = core::marker::PhantomData<fn(T) -> T>;

/// Calls `drop_one` on each element of `items`, in order, and goes on with the rest if
/// one call panics: a guard finishes the loop while that panic unwinds, as slice drop
/// glue and `Vec`'s drop do (a second panic then aborts, as it would there). The
/// iterator moves past an element before `drop_one` gets it, so no element is handed
/// over twice, across a panic either.
///
/// Every path that drops the items a ring still holds goes through this, so a `T`
/// whose `Drop` panics makes no ring leak the items after it (`tests/drop_panics.rs`).
pub(crate) fn drop_each<I: IntoIterator>(items: I, drop_one: impl FnMut(I::Item)) {
    /// The elements not handed over yet, and what to do with each.
    struct Rest<I: Iterator, F: FnMut(I::Item)> {
        /// Fused, so the guard's second look at an iterator that has ended finds it
        /// ended.
        items: core::iter::Fuse<I>,
        drop_one: F,
    }
    impl<I: Iterator, F: FnMut(I::Item)> Rest<I, F> {
        fn run(&mut self) {
            for item in &mut self.items {
                (self.drop_one)(item);
            }
        }
    }
    impl<I: Iterator, F: FnMut(I::Item)> Drop for Rest<I, F> {
        fn drop(&mut self) {
            // Finds nothing left unless a call in `run` below panicked: then it goes on
            // from the element after that one.
            self.run();
        }
    }
    Rest {
        items: items.into_iter().fuse(),
        drop_one,
    }
    .run();
}

#[cfg(doctest)]
mod variance;

/// The README's examples, compiled and run as doctests (the crate docs above are
/// written for rustdoc; the README opens with shell commands for the repository).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(target_has_atomic = "ptr")]
mod backoff;
#[cfg(all(feature = "alloc", target_has_atomic = "ptr", target_has_atomic = "64"))]
pub mod broadcast;
mod buffer;
mod error;
#[cfg(target_has_atomic = "ptr")]
pub mod mpmc;
#[cfg(all(
    feature = "shm",
    target_os = "linux",
    target_pointer_width = "64",
    not(ringway_loom)
))]
pub mod shm;
pub mod spsc;
mod sync;
// The wait strategies and the waker lists: with `std` (threads park) or `async` (tasks
// sleep; without `std` the lists sit behind a spin lock, which needs compare-and-swap).
#[cfg(any(feature = "std", feature = "async"))]
mod wait;
#[cfg(not(any(feature = "std", feature = "async")))]
#[path = "wait_none.rs"]
mod wait;

#[cfg(all(
    feature = "async",
    not(feature = "std"),
    not(target_has_atomic = "ptr")
))]
compile_error!(
    "ringway: the `async` feature without `std` needs compare-and-swap \
     (`target_has_atomic = \"ptr\"`; not Cortex-M0 / thumbv6m) for the lock of its waker lists"
);

pub use error::{ChunkError, Disconnected, PushError};
#[cfg(feature = "std")]
pub use error::{PopTimeoutError, PushTimeoutError};
/// The spin lock of the waker lists without `std`, for its loom model
/// (`loom-tests/tests/spin_lock.rs`); loom builds only.
#[cfg(ringway_loom)]
#[doc(hidden)]
pub use sync::SpinLock as LoomSpinLock;
#[cfg(any(feature = "std", feature = "async"))]
pub use wait::WaitStrategy;
