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

pub use error::{ChunkError, PushError};
