#![doc = include_str!("../README.md")]
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
/// `buffer::Slots` (every SPSC type holds one, or a `&mut` to a raw half that does),
/// `mpmc::Queue` and `spsc::stamped`'s `Ring`. The compile-fail doctests in
/// `src/variance.rs` pin the variance of every public generic type.
pub(crate) type InvariantIn<T> = core::marker::PhantomData<fn(T) -> T>;

#[cfg(doctest)]
mod variance;

#[cfg(target_has_atomic = "ptr")]
mod backoff;
mod buffer;
mod error;
#[cfg(target_has_atomic = "ptr")]
pub mod mpmc;
pub mod spsc;
mod sync;
#[cfg(feature = "std")]
mod wait;
#[cfg(not(feature = "std"))]
#[path = "wait_none.rs"]
mod wait;

pub use error::{ChunkError, PushError};
#[cfg(feature = "std")]
pub use error::{Disconnected, PopTimeoutError, PushTimeoutError};
#[cfg(feature = "std")]
pub use wait::WaitStrategy;
