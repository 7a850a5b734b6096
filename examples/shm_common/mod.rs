//! What `shm_producer` and `shm_consumer` agree on: the item, its form in the ring, the
//! ring's default path and capacity.
// Each example uses its half of what is here.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use bytemuck::{Pod, Zeroable};

/// Where the ring lives unless a path is given: `/dev/shm` is a `tmpfs`, so the ring
/// is memory, not disk.
pub const DEFAULT_PATH: &str = "/dev/shm/ringway-example";

/// Items the ring holds.
pub const CAPACITY: usize = 1024;

/// One item: plain data (`Pod`: `Copy`, `repr(C)`, no padding, no pointers), so it can
/// cross into another address space.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Stamp {
    /// 0, 1, 2, ... in the order the producer pushed them.
    pub seq: u64,
    /// When the producer pushed it, in ns since the Unix epoch (the wall clock, which
    /// both processes read alike).
    pub sent_ns: u64,
}

/// The item as it travels in the ring: `Stamp`'s exact bytes, as a type both binaries
/// name alike.
///
/// `Ring::open` checks the item type by its size, alignment and a hash of its
/// `type_name`, and a struct's `type_name` starts with the crate that compiles it:
/// `shm_producer::shm_common::Stamp` in one example, `shm_consumer::shm_common::Stamp`
/// in the other, so a `Ring<Stamp>` made by one is refused by the other
/// (`Error::WrongType`). Two programs that take the struct from one library crate they
/// both depend on share it as is; two examples have no such crate, so they send the
/// struct as `[u64; 2]`, converted with `bytemuck::cast` (free: same bytes).
pub type Wire = [u64; 2];

impl Stamp {
    /// The item with sequence number `seq`, stamped now.
    pub fn now(seq: u64) -> Self {
        Stamp {
            seq,
            sent_ns: now_ns(),
        }
    }

    /// The form it travels in.
    pub fn to_wire(self) -> Wire {
        bytemuck::cast(self)
    }

    /// Back from the ring.
    pub fn from_wire(wire: Wire) -> Self {
        bytemuck::cast(wire)
    }
}

/// The wall clock in ns since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
