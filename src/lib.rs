#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;
#[cfg(any(feature = "std", loom, test))]
extern crate std;

mod backoff;
mod buffer;
mod error;
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
