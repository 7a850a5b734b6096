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

impl Stamp {
    /// The item with sequence number `seq`, stamped now.
    pub fn now(seq: u64) -> Self {
        Stamp {
            seq,
            sent_ns: now_ns(),
        }
    }
}

/// The wall clock in ns since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
