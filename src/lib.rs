#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", loom, test))]
extern crate std;

/// Defines a function from one body as a `const fn` in ordinary builds and as a plain
/// `fn` under loom, whose atomics, cells and mutexes have no `const` constructors.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $($rest)*

        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $($rest)*
    };
}

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
