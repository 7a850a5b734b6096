//! SPSC rings in shared memory, between processes (feature `shm`, 64-bit Linux).
//!
//! A [`Ring`] is a file (under `/dev/shm`, a `tmpfs`, for memory speed) that holds the
//! same SPSC ring as [`spsc::channel`](crate::spsc::channel()): one process creates it
//! with [`Ring::create`], any process maps it with [`Ring::open`], and each side takes
//! its half with [`Ring::producer`] or [`Ring::consumer`]. Or the ring is an anonymous
//! file, sealed so that nobody can resize it ([`Ring::create_memfd`]), whose descriptor
//! ([`AsFd`]) is passed to a child or over a Unix socket and mapped there with
//! [`Ring::from_fd`]: see [Trust](#trust) for which to pick. The halves
//! are the crate's own [`spsc::Producer`] and [`spsc::Consumer`] over the [`Shm`]
//! storage, so every operation (`push`, `pop`, slices, iterators, zero-copy chunks,
//! `drain`, the waiting operations) is the same code as in process, and the
//! in-process loom models cover its hand-off; only where the memory comes from, and
//! how far the other side is trusted, differ. What is new here (attaching, the range
//! checks, the futex, the lock hand-over) is outside loom (system calls); the unit
//! tests (under Miri, on a heap region) and the two-process tests (`tests/shm.rs`)
//! cover it.
//!
//! # Items are plain data
//!
//! An item crosses into another address space, where a pointer or a reference means
//! nothing, and the other process may write any bytes into the region; so the item
//! type must be [`Pod`] (`bytemuck::Pod`, derivable: `Copy`, no padding, no pointers,
//! every bit pattern valid). A buggy or hostile peer can then only make this side
//! read items with garbage values, never an invalid value.
//!
//! # The region
//!
//! ```text
//! offset 0    Meta (repr(C)): magic, layout version, word size, the item type's size,
//!             alignment and name (a hash of `type_name`), capacity, slot count,
//!             the offsets below and the region's length, each side's pid and count
//!             of attachments, the wait strategy and two futex words
//! offset 128  the SPSC header (repr(C)): `head` and `tail` on their own cache lines,
//!             the abandoned flag, all plain words
//! offset 4096 the slots, on a page of their own: the capacity rounded up to a power
//!             of two, of `T`
//! ```
//!
//! (Offsets as on x86_64, where cache lines are padded to 128 bytes; the header stores
//! them, and both sides compute and compare them.) No pointer is ever stored in the
//! region. [`Ring::open`] checks every field of `Meta` against the item type and
//! against the file's length before it touches anything else, and fails with an
//! [`Error`] that says which check failed.
//!
//! # Trust
//!
//! The region is shared with a process this one cannot vouch for, so the halves copy
//! the geometry once, when they attach, and never read it again; a slot is found with
//! that private mask, so no index can point outside the region. The counters the other
//! side stores are checked each time they are loaded: a distance from `head` to `tail`
//! above the capacity is never believed (the producer sees no room, the consumer no new
//! items). What a hostile peer can still do is write garbage items, or claim to have
//! freed slots it has not read (its own loss), or hold its role's lock and never move,
//! so that a waiting operation of this side waits for good (as a peer that is merely
//! slow would). [`Consumer::peek`](crate::spsc::Consumer::peek) and the chunks
//! ([`Consumer::read_chunk`](crate::spsc::Consumer::read_chunk),
//! [`Producer::write_chunk_uninit`](crate::spsc::Producer::write_chunk_uninit)) hand out
//! references into the region: a peer that breaks the protocol can change the items
//! under them while they are held, so with a peer you do not trust, copy an item out
//! once and check the copy (a value read twice may differ). And [`Ring::open`] (or
//! [`Ring::from_fd`]) trusts a file that a hostile peer initialises consistently (it
//! is the peer's ring, after all).
//!
//! **Truncation.** A ring in a named file ([`Ring::create`], [`Ring::open`]) can be
//! truncated by any process with write access to the file (`ftruncate`), and then this
//! process's next access to a lost page kills it with `SIGBUS`: nothing in this crate,
//! or in Linux, can stop that for a named file. A ring from [`Ring::create_memfd`]
//! cannot be truncated: it is sealed against shrinking and growing, and its seals
//! against change, before its descriptor leaves the call, so `ftruncate` fails with
//! `EPERM` in every process, and [`Ring::is_sealed`] says so in each. With a peer you
//! do not trust, share a sealed memfd ring and check [`Ring::is_sealed`] in the
//! process that receives it ([`Ring::from_fd`] accepts an unsealed descriptor too, a
//! named file's, with the named file's exposure). The seal fixes the size only: the
//! other limits above stand, and a peer may still punch holes in the file
//! (`fallocate` with `FALLOC_FL_PUNCH_HOLE`), which zeroes those pages as a write of
//! zeros would (garbage, as above) and frees them until they are touched again.
//! [`Ring::create`] and [`Ring::create_memfd`] allocate every page up front, so a full
//! `/dev/shm` (or memory) is an error there, not a `SIGBUS` later.
//!
//! # Peers that die
//!
//! Each half holds an open file description lock (`F_OFD_SETLK`) on its own byte of
//! the file (byte 0 the producer's, byte 1 the consumer's) for as long as it lives. The
//! kernel drops the lock when the process exits, however it exits, so:
//!
//! * a second producer (or consumer) of one ring, in any process, fails with
//!   [`Error::RoleTaken`], which names the pid of the holder;
//! * [`is_abandoned`](crate::spsc::Producer::is_abandoned) is true when the other half
//!   was dropped, or when it attached once and its lock is gone (its process died).
//!   The lock is tested on the first call and then at most once a millisecond (a
//!   system call; the calls in between read the clock), so a waiting operation
//!   (`pop_blocking`, ...), which asks once per attempt, stops waiting on a dead peer
//!   within a millisecond of spinning or yielding, or within one nap of a sleep
//!   (10 ms, see below); once the peer was found gone, the lock is tested on every
//!   call, so a half that attaches in its place is seen at once;
//! * a new half may attach in place of the one that went: a restarted consumer starts at
//!   the first item not yet released, and a restarted producer at the last published
//!   position, and `is_abandoned` is false again for the other side (unlike in
//!   process, where it stays true).
//!
//! The lock belongs to the open file description, which a child made by `fork` without
//! `exec` shares: while such a child lives, the role stays taken and a dead parent looks
//! alive to its peer. (`std::process::Command` executes the child, and the standard
//! library opens files close-on-exec, so the usual spawn shares nothing. A ring's own
//! descriptor, which a child may inherit on purpose ([`Ring::from_fd`]), holds no lock:
//! each half takes its lock on a file description it opened for itself.)
//!
//! What is lost when a process dies: a producer's items that it had written but not yet
//! published (its last `push_slice` or chunk not committed); a consumer's items that it
//! had moved out but whose slots it had not yet released (a [`Drain`] not dropped, a
//! chunk not committed) are delivered again to the next consumer. Items published and
//! not yet popped stay in the ring for whoever attaches next, and a named file outlives
//! both processes until someone removes it (`std::fs::remove_file`); a memfd ring
//! lives while some process holds its descriptor or a mapping of it.
//!
//! # Waiting
//!
//! The creator picks the ring's [`WaitStrategy`] ([`Ring::create_with_wait_strategy`];
//! [`Ring::create`] takes [`WaitStrategy::SPIN_YIELD`]), which the region records and
//! both sides use. Spinning and yielding work across processes exactly as in process.
//! With [`WaitStrategy::SpinPark`] a waiting thread sleeps on a futex word in the
//! region (not a private futex: the word is shared), which the other side's publishes
//! wake through the same store-buffering fences as in process; a sleep lasts at most
//! 10 ms, so that neither a peer that died nor one that scribbled on the word can
//! strand a sleeper. Futures cannot sleep on another process's futex: their polls ask
//! to be polled again at once.
//!
//! [`Drain`]: crate::spsc::Drain
//!
//! # Examples
//!
//! Both halves in one process here, to keep the example self-contained; in practice
//! each runs in its own process (see `examples/shm_producer.rs` and
//! `examples/shm_consumer.rs`):
//!
//! ```
//! use ringway::shm::Ring;
//!
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
//! #[repr(C)]
//! struct Tick {
//!     price: u64,
//!     size: u32,
//!     side: u32,
//! }
//!
//! let path = format!("/dev/shm/ringway-doc-{}", std::process::id());
//! let ring = Ring::<Tick>::create(&path, 1024)?;
//! let mut tx = ring.producer()?;
//!
//! // In another process: `Ring::<Tick>::open(&path)?.consumer()?`.
//! let mut rx = Ring::<Tick>::open(&path)?.consumer()?;
//! assert!(matches!(ring.producer(), Err(ringway::shm::Error::RoleTaken { .. })));
//!
//! tx.push(Tick { price: 101, size: 5, side: 0 }).unwrap();
//! assert_eq!(rx.pop().map(|t| t.price), Some(101));
//! std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::cell::Cell;
use core::fmt;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(test)]
use crossbeam_utils::CachePadded;

pub use bytemuck::Pod;

use crate::buffer::{Indexed, Slots};
use crate::spsc::{self, Header, Storage};
use crate::wait::{FutexWord, Waiters};
use crate::{InvariantIn, WaitStrategy};

/// The first word of every ringway region: `RINGWAY` and a format byte.
const MAGIC: u64 = u64::from_le_bytes(*b"RINGWAY\x01");

/// The version of the region's layout (its `Meta` words and the SPSC header). A region of
/// another version is refused with [`Error::Version`].
pub const LAYOUT_VERSION: u32 = 1;

/// The page size the layout assumes (the smallest Linux uses): the region starts on
/// one, and the slots start on one.
const PAGE: usize = 4096;

/// The largest item alignment a region supports: the mapping starts on a page, and the
/// slots' offset is a multiple of the item's alignment, so up to a page (4096 bytes,
/// the smallest page Linux uses) it is honoured.
const MAX_ALIGN: usize = PAGE;

/// The largest capacity a region may have: the slot count is the capacity rounded up
/// to a power of two, and counts are stored in 64-bit words.
pub const MAX_CAPACITY: usize = 1 << 62;

/// How long a test of the peer's lock stands for (`peer_gone` tests again after it).
const PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);

/// A side of a ring: which half a process holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The half that pushes ([`Ring::producer`]).
    Producer,
    /// The half that pops ([`Ring::consumer`]).
    Consumer,
}

impl Role {
    /// The byte of the file whose lock this role holds.
    fn lock_byte(self) -> i64 {
        match self {
            Role::Producer => 0,
            Role::Consumer => 1,
        }
    }

    /// The other side.
    fn peer(self) -> Role {
        match self {
            Role::Producer => Role::Consumer,
            Role::Consumer => Role::Producer,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        })
    }
}

/// The item type a region was made for, as its header records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ItemType {
    /// `size_of::<T>()`.
    pub size: u64,
    /// `align_of::<T>()`.
    pub align: u64,
    /// A hash (64-bit FNV-1a) of `core::any::type_name::<T>()` with its paths left
    /// out (`Tick` for `feed::proto::Tick`, `Pair<Tick>` for `a::Pair<b::Tick>`,
    /// `[u64; 2]`): two programs that each define `struct Tick` agree on it, and a
    /// `u64` ring opened as `i64` or `f64` does not. (`type_name`'s output is not
    /// promised stable across compiler versions: build both programs with one.)
    pub name_hash: u64,
}

impl ItemType {
    /// The record of `T`.
    fn of<T>() -> Self {
        ItemType {
            size: size_of::<T>() as u64,
            align: align_of::<T>() as u64,
            name_hash: fnv1a(short_type_name(core::any::type_name::<T>()).as_bytes()),
        }
    }
}

/// `name` (a `type_name`) without its paths: every identifier followed by `::` is
/// left out, with the `::`.
fn short_type_name(name: &str) -> std::string::String {
    let mut short = std::string::String::with_capacity(name.len());
    let mut word = 0; // where the identifier being read started
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() || b == b'_' || !b.is_ascii() {
            i += 1;
            continue;
        }
        if bytes[i..].starts_with(b"::") {
            // A path segment: drop it and its separator.
            i += 2;
        } else {
            short.push_str(&name[word..=i]);
            i += 1;
        }
        word = i;
    }
    short.push_str(&name[word..]);
    short
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Why a region could not be created, opened or attached to.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be created, opened, sized or mapped (a missing file is
    /// [`io::ErrorKind::NotFound`], an existing one given to [`Ring::create`]
    /// [`io::ErrorKind::AlreadyExists`]).
    Io(io::Error),
    /// The file is shorter than its header says the region is (or than a header).
    Truncated {
        /// The file's length in bytes.
        len: u64,
        /// The length it needs.
        needed: u64,
    },
    /// The file does not start with the ringway magic number (not a ringway ring), or is
    /// not a regular file (a directory, a FIFO, a device).
    NotARing,
    /// The region was made by a ringway whose layout version differs.
    Version {
        /// The version in the file.
        found: u32,
        /// This build's, [`LAYOUT_VERSION`].
        expected: u32,
    },
    /// The region holds items of another type.
    WrongType {
        /// The type the region was made for.
        found: ItemType,
        /// The type it was opened as.
        expected: ItemType,
    },
    /// The header contradicts itself or this build: a word size, capacity, slot count,
    /// offset, length, header layout or wait strategy that this build would not have
    /// written for that item type and capacity, or counters further apart than the
    /// capacity; the string says which.
    Corrupt(&'static str),
    /// The role is held by a live half, in this process or another.
    RoleTaken {
        /// The role asked for.
        role: Role,
        /// The pid the holder recorded when it attached (as the region says; the
        /// holder may have forked since).
        pid: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "ringway shm: {e}"),
            Error::Truncated { len, needed } => write!(
                f,
                "ringway shm: the file is truncated: {len} bytes, the region needs {needed}"
            ),
            Error::NotARing => f.write_str(
                "ringway shm: not a ringway ring (no magic number)",
            ),
            Error::Version { found, expected } => write!(
                f,
                "ringway shm: layout version {found}, this build reads version {expected}"
            ),
            Error::WrongType { found, expected } => write!(
                f,
                "ringway shm: the ring holds another item type (size {}, align {}, name hash {:#x}; \
                 opened as size {}, align {}, name hash {:#x})",
                found.size, found.align, found.name_hash, expected.size, expected.align, expected.name_hash
            ),
            Error::Corrupt(what) => write!(f, "ringway shm: corrupt header: {what}"),
            Error::RoleTaken { role, pid } => {
                write!(f, "ringway shm: the ring already has a live {role} (pid {pid})")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// The region's first bytes. Every field is an atomic word: the other process may
/// store into any of them at any time, and every bit pattern is a valid value.
#[repr(C)]
struct Meta {
    /// [`MAGIC`], stored last by the creator, before the file is linked at its path.
    magic: AtomicU64,
    /// [`LAYOUT_VERSION`].
    version: AtomicU32,
    /// `size_of::<usize>()` of the creator: the header's counters are `usize`s.
    word_size: AtomicU32,
    /// [`ItemType::size`].
    item_size: AtomicU64,
    /// [`ItemType::align`].
    item_align: AtomicU64,
    /// [`ItemType::name_hash`].
    item_name: AtomicU64,
    /// The exact number of items the ring holds.
    capacity: AtomicU64,
    /// The number of slots: `capacity` rounded up to a power of two.
    slot_count: AtomicU64,
    /// Where the SPSC header starts.
    header_offset: AtomicU64,
    /// Where the slots start.
    slots_offset: AtomicU64,
    /// The region's length in bytes.
    region_len: AtomicU64,
    /// The pid of the last producer and consumer to attach (for [`Error::RoleTaken`]).
    pids: [AtomicU32; 2],
    /// How many times a producer and a consumer have attached (wrapping): a side that
    /// never had a peer is not abandoned.
    attaches: [AtomicU32; 2],
    /// The ring's wait strategy, which both sides use: 0 `BusySpin`, 1 `SpinYield`,
    /// 2 `SpinPark`.
    wait_kind: AtomicU32,
    /// The strategy's `spins`.
    wait_spins: AtomicU32,
    /// The futex words of the consumer waiting for items and of the producer waiting
    /// for room (`SpinPark`).
    futex: [FutexWord; 2],
    /// `size_of` and `align_of` the SPSC header: where its counters lie inside it
    /// depends on the cache-line padding the creator's build chose (per target, and per
    /// crossbeam-utils version), which both sides must share.
    header_shape: [AtomicU32; 2],
}

/// `Meta` fits in the 128 bytes before the header on every target.
const _: () = assert!(size_of::<Meta>() <= 128);

/// `size_of` and `align_of` the SPSC header, as `Meta::header_shape` records them.
fn header_shape() -> [u32; 2] {
    [size_of::<Header>() as u32, align_of::<Header>() as u32]
}

/// The strategy as `Meta` stores it.
fn encode(strategy: WaitStrategy) -> (u32, u32) {
    match strategy {
        WaitStrategy::BusySpin => (0, 0),
        WaitStrategy::SpinYield { spins } => (1, spins),
        WaitStrategy::SpinPark { spins } => (2, spins),
    }
}

/// The strategy `Meta` stores, if it is one.
fn decode(kind: u32, spins: u32) -> Option<WaitStrategy> {
    match kind {
        0 => Some(WaitStrategy::BusySpin),
        1 => Some(WaitStrategy::SpinYield { spins }),
        2 => Some(WaitStrategy::SpinPark { spins }),
        _ => None,
    }
}

/// Where everything is in a region of a given item type and capacity; computed by
/// each side from the capacity and compared with what the header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    capacity: usize,
    slot_count: usize,
    header_offset: usize,
    slots_offset: usize,
    len: usize,
}

/// `n` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
fn round_up(n: usize, align: usize) -> Option<usize> {
    Some(n.checked_add(align - 1)? & !(align - 1))
}

impl Geometry {
    /// The geometry of a region of `capacity` items of `item`'s size and alignment;
    /// `None` if it overflows or the capacity is out of range.
    fn of(item: ItemType, capacity: usize) -> Option<Geometry> {
        let size = usize::try_from(item.size).ok()?;
        let align = usize::try_from(item.align).ok()?;
        if capacity == 0 || capacity > MAX_CAPACITY || !align.is_power_of_two() || align > MAX_ALIGN
        {
            return None;
        }
        let slot_count = capacity.checked_next_power_of_two()?;
        let header_offset = round_up(size_of::<Meta>(), align_of::<Header>())?;
        // The slots start on a page of their own, after the header's. Measured
        // (PERFORMANCE.md, the shm section): with the slots right after the header, in
        // its page, cross-process slice streaming ran at 0.74x-0.80x the in-process ring
        // in three runs; a page further, 0.99x-1.18x in four.
        let slots_offset = round_up(
            header_offset.checked_add(size_of::<Header>())?,
            align.max(PAGE),
        )?;
        let len = slots_offset.checked_add(slot_count.checked_mul(size)?)?;
        // The region must fit in an `isize` (a mapping, like any allocation, does).
        if len > isize::MAX as usize {
            return None;
        }
        Some(Geometry {
            capacity,
            slot_count,
            header_offset,
            slots_offset,
            len,
        })
    }

    /// Checks a header against the item type `T` and the file's length `file_len`,
    /// returning the geometry and the wait strategy the header describes. Pure: reads only `meta`'s words
    /// (each once) and compares.
    fn check<T>(meta: &Meta, file_len: u64) -> Result<(Geometry, WaitStrategy), Error> {
        // `Relaxed`: a file is linked at its path only once its header is whole.
        if meta.magic.load(Ordering::Relaxed) != MAGIC {
            return Err(Error::NotARing);
        }
        let version = meta.version.load(Ordering::Relaxed);
        if version != LAYOUT_VERSION {
            return Err(Error::Version {
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        if meta.word_size.load(Ordering::Relaxed) as usize != size_of::<usize>() {
            return Err(Error::Corrupt(
                "word size (the ring was made by a program of another pointer width)",
            ));
        }
        let expected = ItemType::of::<T>();
        let found = ItemType {
            size: meta.item_size.load(Ordering::Relaxed),
            align: meta.item_align.load(Ordering::Relaxed),
            name_hash: meta.item_name.load(Ordering::Relaxed),
        };
        if found != expected {
            return Err(Error::WrongType { found, expected });
        }
        let capacity = usize::try_from(meta.capacity.load(Ordering::Relaxed))
            .map_err(|_| Error::Corrupt("capacity"))?;
        let geometry = Geometry::of(expected, capacity).ok_or(Error::Corrupt("capacity"))?;
        let field = |word: &AtomicU64| word.load(Ordering::Relaxed);
        if field(&meta.slot_count) != geometry.slot_count as u64 {
            return Err(Error::Corrupt("slot count"));
        }
        if field(&meta.header_offset) != geometry.header_offset as u64
            || field(&meta.slots_offset) != geometry.slots_offset as u64
        {
            return Err(Error::Corrupt("offsets"));
        }
        if field(&meta.region_len) != geometry.len as u64 {
            return Err(Error::Corrupt("region length"));
        }
        let shape = [
            meta.header_shape[0].load(Ordering::Relaxed),
            meta.header_shape[1].load(Ordering::Relaxed),
        ];
        if shape != header_shape() {
            return Err(Error::Corrupt(
                "header layout (the ring was made by a build that pads cache lines differently)",
            ));
        }
        let strategy = decode(
            meta.wait_kind.load(Ordering::Relaxed),
            meta.wait_spins.load(Ordering::Relaxed),
        )
        .ok_or(Error::Corrupt("wait strategy"))?;
        if file_len < geometry.len as u64 {
            return Err(Error::Truncated {
                len: file_len,
                needed: geometry.len as u64,
            });
        }
        Ok((geometry, strategy))
    }
}

/// The memory behind a region: a shared mapping of its file, or (unit tests, which
/// run under Miri, where nothing can be mapped) a heap allocation.
enum Backing {
    Map {
        /// The mapping, unmapped when dropped.
        _map: memmap2::MmapRaw,
        /// The file's descriptor, kept for [`Ring::as_fd`] and [`Ring::is_sealed`], and
        /// reopened through `/proc/self/fd` by each half of a ring without a path.
        file: File,
        /// The file's path, reopened by each half for a lock of its own; `None` for a
        /// ring made or opened from a descriptor ([`Ring::create_memfd`],
        /// [`Ring::from_fd`]).
        path: Option<PathBuf>,
        /// The file's device and inode, to tell a reopened path is the same file.
        id: (u64, u64),
    },
    /// The memory, freed when dropped (unit tests).
    #[cfg(test)]
    Heap(#[allow(dead_code)] std::vec::Vec<CachePadded<[u8; 128]>>),
}

/// A mapped region and where it starts.
struct Region {
    /// The region's first byte: page-aligned (a mapping) or aligned to a cache line
    /// (the test heap); valid for reads and writes of the region's length while the
    /// backing lives.
    base: NonNull<u8>,
    backing: Backing,
}

// SAFETY: the region is memory shared with other threads and processes by design;
// every access to it goes through atomics (the header, `Meta`) or through the SPSC
// protocol's slot ownership, as for an in-process ring.
unsafe impl Send for Region {}
// SAFETY: as for `Send`.
unsafe impl Sync for Region {}

impl Region {
    /// The region of `map`, a mapping of `file`, found at `path` (`None`: reached by
    /// its descriptor alone).
    fn mapped(map: memmap2::MmapRaw, file: File, path: Option<&Path>) -> io::Result<Region> {
        Ok(Region {
            base: NonNull::new(map.as_mut_ptr()).expect("a mapping is never at address 0"),
            backing: Backing::Map {
                _map: map,
                id: file_id(&file)?,
                file,
                path: path.map(Path::to_path_buf),
            },
        })
    }

    /// Opens the region's file anew, for a half's lock: a lock belongs to an open file
    /// description, so each half needs one of its own (a `dup` would share the ring's).
    /// A ring with a path reopens the path (and fails if it now names another file); a
    /// ring from a descriptor reopens `/proc/self/fd/N`, which opens the descriptor's
    /// file, not a copy of its description. `None` for a test heap region.
    fn reopen(&self) -> Result<Option<File>, Error> {
        let (file, path, id) = match &self.backing {
            Backing::Map { file, path, id, .. } => (file, path, id),
            #[cfg(test)]
            Backing::Heap(_) => return Ok(None),
        };
        let reopened = match path {
            Some(path) => open_regular(path)?,
            None => open_regular(Path::new(&std::format!(
                "/proc/self/fd/{}",
                file.as_raw_fd()
            )))?,
        };
        if file_id(&reopened)? != *id {
            return Err(Error::Io(io::Error::other(if path.is_some() {
                "the ring's path now names another file"
            } else {
                "the ring's descriptor now names another file"
            })));
        }
        Ok(Some(reopened))
    }

    /// The region's `Meta`.
    fn meta(&self) -> &Meta {
        // SAFETY: every region is at least `size_of::<Meta>()` long (checked before
        // one is made) and starts aligned for it; `Meta` is atomics only, valid for
        // any bits.
        unsafe { self.base.cast::<Meta>().as_ref() }
    }
}

/// A ring in shared memory, mapped into this process: [`create`](Self::create) or
/// [`open`](Self::open) it in a named file, or [`create_memfd`](Self::create_memfd) or
/// [`from_fd`](Self::from_fd) it by descriptor, then take a half with
/// [`producer`](Self::producer) or [`consumer`](Self::consumer).
///
/// The mapping, and the ring's descriptor ([`AsFd`]), live as long as the `Ring` or any
/// half taken from it. Dropping every handle unmaps the region and closes the
/// descriptor; a named file stays until removed, a memfd goes with the last descriptor
/// or mapping of it in any process.
///
/// # Examples
///
/// ```
/// use ringway::shm::Ring;
///
/// let path = format!("/dev/shm/ringway-doc-ring-{}", std::process::id());
/// let ring = Ring::<u64>::create(&path, 3)?;
/// assert_eq!(ring.capacity(), 3);
/// let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
/// assert_eq!(tx.push_slice(&[1, 2, 3, 4]), 3);
/// assert_eq!(rx.drain().sum::<u64>(), 6);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), ringway::shm::Error>(())
/// ```
pub struct Ring<T> {
    region: Arc<Region>,
    geometry: Geometry,
    /// The ring's wait strategy, read from its header once.
    strategy: WaitStrategy,
    /// The item type, invariantly: a `Ring<T>` makes halves that put `T`s into it.
    _item: InvariantIn<T>,
}

impl<T> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.geometry.capacity)
            .field("wait_strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}

impl<T: Pod> Ring<T> {
    /// Creates the file at `path` (it must not exist: under `/dev/shm` for a region in
    /// memory), sizes it for a ring of exactly `capacity` items of `T`, writes its
    /// header, and maps it.
    ///
    /// The file is made with mode `0o600` (the owner alone may open it), under a
    /// temporary name beside `path` (`.NAME.PID.N.tmp`), and linked to `path` only once
    /// its header is written: another process finds a whole ring at `path` or none.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be created (it exists:
    /// [`io::ErrorKind::AlreadyExists`]), sized or mapped.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 or above [`MAX_CAPACITY`], if the region would exceed
    /// `isize::MAX` bytes, or if `T`'s alignment exceeds 4096.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::shm::{Error, Ring};
    ///
    /// let path = format!("/dev/shm/ringway-doc-create-{}", std::process::id());
    /// let ring = Ring::<[u8; 64]>::create(&path, 16)?;
    /// assert!(matches!(Ring::<[u8; 64]>::create(&path, 16), Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists));
    /// drop(ring);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// ```should_panic
    /// let _ = ringway::shm::Ring::<u64>::create("/dev/shm/ringway-never", 0); // panics: capacity 0
    /// ```
    pub fn create(path: impl AsRef<Path>, capacity: usize) -> Result<Self, Error> {
        Self::create_with_wait_strategy(path, capacity, WaitStrategy::SPIN_YIELD)
    }

    /// Creates a ring like [`create`](Self::create) whose halves wait as `strategy`
    /// says, in every process that opens it.
    ///
    /// With [`WaitStrategy::SpinPark`] a thread of either process that waits
    /// (`pop_blocking`, `push_timeout`, ...) sleeps on a futex in the region, and every
    /// publish of the other side pays a `SeqCst` fence and a load, as in process, plus
    /// a `FUTEX_WAKE` system call when a thread sleeps. A sleeper looks at the ring
    /// again at least every 10 ms whatever happens (so a peer that dies, or scribbles
    /// on the futex word, can delay it by that much, never strand it). A future
    /// (`pop_async`, ...) cannot sleep on another process's futex: on a ring in shared
    /// memory it asks to be polled again at once, whatever the strategy.
    ///
    /// # Errors
    ///
    /// As [`create`](Self::create).
    ///
    /// # Panics
    ///
    /// As [`create`](Self::create).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::{shm::Ring, WaitStrategy};
    ///
    /// let path = format!("/dev/shm/ringway-doc-park-{}", std::process::id());
    /// let ring = Ring::<u64>::create_with_wait_strategy(&path, 64, WaitStrategy::SPIN_PARK)?;
    /// let mut rx = Ring::<u64>::open(&path)?.consumer()?; // in another process, usually
    /// let mut tx = ring.producer()?;
    /// let consumer = std::thread::spawn(move || rx.pop_blocking()); // sleeps on the futex
    /// tx.push(7).unwrap(); // wakes it
    /// assert_eq!(consumer.join().unwrap(), Ok(7));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), ringway::shm::Error>(())
    /// ```
    pub fn create_with_wait_strategy(
        path: impl AsRef<Path>,
        capacity: usize,
        strategy: WaitStrategy,
    ) -> Result<Self, Error> {
        let geometry = Self::geometry_for(capacity);
        let path = path.as_ref();
        // Made under a temporary name beside `path` and linked into place once its
        // header is whole: a process that opens `path` finds a complete ring or no
        // file, never a header being written. (The kernel's `link` and `open` order the
        // writes before the opener's reads, so the magic number needs no ordering of its
        // own.) `link`, unlike `rename`, fails if `path` exists.
        let (temporary, file) = create_temporary(path)?;
        let made = (|| {
            let region = Self::lay_out(file, Some(path), geometry, strategy, false)?;
            std::fs::hard_link(&temporary, path)?;
            Ok::<_, io::Error>(region)
        })();
        // The temporary name goes whether or not the ring was linked.
        let _ = std::fs::remove_file(&temporary);
        Ok(Ring::over(made?, geometry, strategy))
    }

    /// Creates a ring of exactly `capacity` items of `T` in an anonymous file
    /// (`memfd_create`), sealed so that no process can shrink or grow it, ever.
    ///
    /// The ring has no name: it is shared by passing its descriptor
    /// ([`as_fd`](Self::as_fd)) to another process, which maps it with
    /// [`from_fd`](Self::from_fd): a child inherits it (see [`from_fd`](Self::from_fd)
    /// for how it survives `exec`), or a Unix socket carries it (`SCM_RIGHTS`). It lives
    /// as long as some process holds a descriptor or a mapping of it, and leaves nothing
    /// to remove.
    ///
    /// Unlike a ring in a named file, which any process allowed to write the file can
    /// truncate (this process's next access to a lost page then dies of `SIGBUS`), this
    /// one is sealed with `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL` (the last so that
    /// the seals themselves cannot change) before any other process can reach it:
    /// `ftruncate` fails with `EPERM` in every process, and
    /// [`is_sealed`](Self::is_sealed) is true. The seal fixes the size, not the
    /// contents: a peer can still write garbage, or punch holes (see the module docs,
    /// [Trust](self#trust)). Every page is allocated here, as in
    /// [`create`](Self::create). The descriptor is close-on-exec.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be made (a kernel before 3.17, or out of
    /// descriptors), sized (out of memory: `ENOSPC` or `ENOMEM` here rather than
    /// `SIGBUS` at a push), mapped or sealed.
    ///
    /// # Panics
    ///
    /// As [`create`](Self::create).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::shm::Ring;
    ///
    /// let ring = Ring::<u64>::create_memfd(1024)?;
    /// assert!(ring.is_sealed());
    /// let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.pop(), Some(7));
    /// # Ok::<(), ringway::shm::Error>(())
    /// ```
    pub fn create_memfd(capacity: usize) -> Result<Self, Error> {
        Self::create_memfd_with_wait_strategy(capacity, WaitStrategy::SPIN_YIELD)
    }

    /// Creates a sealed anonymous ring like [`create_memfd`](Self::create_memfd) whose
    /// halves wait as `strategy` says, in every process that maps it (see
    /// [`create_with_wait_strategy`](Self::create_with_wait_strategy)).
    ///
    /// # Errors
    ///
    /// As [`create_memfd`](Self::create_memfd).
    ///
    /// # Panics
    ///
    /// As [`create`](Self::create).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::{shm::Ring, WaitStrategy};
    ///
    /// let ring = Ring::<u64>::create_memfd_with_wait_strategy(64, WaitStrategy::SPIN_PARK)?;
    /// assert_eq!(ring.wait_strategy(), WaitStrategy::SPIN_PARK);
    /// # Ok::<(), ringway::shm::Error>(())
    /// ```
    pub fn create_memfd_with_wait_strategy(
        capacity: usize,
        strategy: WaitStrategy,
    ) -> Result<Self, Error> {
        let geometry = Self::geometry_for(capacity);
        let file = memfd()?;
        let region = Self::lay_out(file, None, geometry, strategy, true)?;
        Ok(Ring::over(region, geometry, strategy))
    }

    /// A new ring's region in `file`, found at `path` (`None`: by descriptor alone):
    /// sized to `geometry.len` with every page allocated, sealed if `sealed` (a memfd
    /// made with `MFD_ALLOW_SEALING`), mapped, and its header written. The steps
    /// [`create_with_wait_strategy`](Self::create_with_wait_strategy) and
    /// [`create_memfd_with_wait_strategy`](Self::create_memfd_with_wait_strategy) share.
    ///
    /// `file` is new, empty, open for reading and writing, and reachable by no other
    /// process or handle yet.
    fn lay_out(
        file: File,
        path: Option<&Path>,
        geometry: Geometry,
        strategy: WaitStrategy,
        sealed: bool,
    ) -> io::Result<Region> {
        // Allocated now, not on first touch: a `tmpfs` that is full (a container's small
        // `/dev/shm`, or memory for a memfd) is then `ENOSPC` here rather than `SIGBUS`
        // at a push.
        allocate(&file, geometry.len)?;
        if sealed {
            // After the allocation (`F_SEAL_GROW` would refuse it), before the
            // descriptor can leave `create_memfd`.
            seal(&file)?;
        }
        let map = memmap2::MmapOptions::new()
            .len(geometry.len)
            .map_raw(&file)?;
        let region = Region::mapped(map, file, path)?;
        // SAFETY: the region is new and `geometry.len` long; nobody else can reach it
        // before the caller publishes it (links the file, or hands out the descriptor).
        unsafe { Self::initialise(&region, geometry, strategy) };
        Ok(region)
    }

    /// A ring over `region`.
    fn over(region: Region, geometry: Geometry, strategy: WaitStrategy) -> Self {
        Ring {
            region: Arc::new(region),
            geometry,
            strategy,
            _item: InvariantIn::<T>::default(),
        }
    }

    /// Maps the ring in the file at `path`, made by [`create`](Self::create) in this
    /// process or another, after checking its header against `T` and the file.
    ///
    /// # Errors
    ///
    /// * [`Error::Io`]: the file cannot be opened (missing: [`io::ErrorKind::NotFound`])
    ///   or mapped;
    /// * [`Error::Truncated`]: it is shorter than a header, or than its header says;
    /// * [`Error::NotARing`]: no ringway magic number, or not a regular file (a FIFO or
    ///   a device: opened without blocking, so neither can hang the call);
    /// * [`Error::Version`]: another layout version;
    /// * [`Error::WrongType`]: another item type (size, alignment or name);
    /// * [`Error::Corrupt`]: a header field that contradicts the others.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::shm::{Error, Ring};
    ///
    /// let path = format!("/dev/shm/ringway-doc-open-{}", std::process::id());
    /// let _ring = Ring::<u32>::create(&path, 8)?;
    /// assert_eq!(Ring::<u32>::open(&path)?.capacity(), 8);
    /// assert!(matches!(Ring::<u64>::open(&path), Err(Error::WrongType { .. })));
    /// assert!(matches!(Ring::<u32>::open("/dev/shm/ringway-missing"), Err(Error::Io(_))));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        Self::map_checked(open_regular(path)?, Some(path))
    }

    /// Maps the ring in the file `fd` refers to, after checking its header against `T`
    /// and the file exactly as [`open`](Self::open) does: a sealed ring from
    /// [`create_memfd`](Self::create_memfd) passed by another process, or any ring file
    /// (a named one too, then as open to truncation as with [`open`](Self::open):
    /// [`is_sealed`](Self::is_sealed) says which).
    ///
    /// The ring takes `fd` and closes it when the last of the ring and its halves goes;
    /// [`as_fd`](Self::as_fd) lends it out again. It must be open for reading and
    /// writing. Each half reopens the file through `/proc/self/fd` (a role's lock needs
    /// an open file description of its own), so [`producer`](Self::producer) and
    /// [`consumer`](Self::consumer) need `/proc` mounted and permission to open the file
    /// for reading and writing (always there for a memfd).
    ///
    /// # Passing a ring to a child process
    ///
    /// Descriptors are close-on-exec in Rust (the standard library's, and the ring's),
    /// so a child started with [`std::process::Command`] inherits one only if it is made
    /// inheritable in the child before `exec`: clear its `FD_CLOEXEC` flag in a
    /// [`pre_exec`](std::os::unix::process::CommandExt::pre_exec) hook (as below: the
    /// flag changes in the child alone), or `dup` it without the flag (which every
    /// child spawned meanwhile then inherits too). Pass its number in an argument, and
    /// in the child take ownership of it with
    /// [`OwnedFd::from_raw_fd`](std::os::fd::FromRawFd::from_raw_fd). (`tests/shm.rs`
    /// does this with a child process; the example below only compiles.)
    ///
    /// ```no_run
    /// use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
    /// use std::os::unix::process::CommandExt;
    /// use std::process::Command;
    /// use ringway::shm::Ring;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// if let Some(fd) = std::env::args().nth(1) {
    ///     // The child: the descriptor's number came in its first argument.
    ///     let fd: i32 = fd.parse()?;
    ///     // SAFETY: the parent left this descriptor open across `exec` for this
    ///     // process to own, and nothing else in it uses that number.
    ///     let ring = Ring::<u64>::from_fd(unsafe { OwnedFd::from_raw_fd(fd) })?;
    ///     let mut rx = ring.consumer()?;
    ///     assert_eq!(rx.pop_blocking(), Ok(42));
    ///     return Ok(());
    /// }
    /// // The parent.
    /// let ring = Ring::<u64>::create_memfd(1024)?;
    /// let fd = ring.as_fd().as_raw_fd();
    /// let mut command = Command::new(std::env::current_exe()?);
    /// command.arg(fd.to_string());
    /// // SAFETY: the hook runs in the child between `fork` and `exec`, and makes one
    /// // async-signal-safe call (`fcntl`) on a descriptor the child inherited.
    /// unsafe {
    ///     command.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
    ///         -1 => Err(std::io::Error::last_os_error()),
    ///         _ => Ok(()),
    ///     });
    /// }
    /// let mut child = command.spawn()?;
    /// ring.producer()?.push(42).unwrap();
    /// assert!(child.wait()?.success());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), but for the opening itself:
    ///
    /// * [`Error::Io`]: the file cannot be mapped (a descriptor not open for reading
    ///   and writing, one made with `O_PATH`);
    /// * [`Error::NotARing`]: not a regular file (a pipe, a socket, a directory, a
    ///   device), or no ringway magic number;
    /// * [`Error::Truncated`], [`Error::Version`], [`Error::WrongType`],
    ///   [`Error::Corrupt`]: as [`open`](Self::open).
    ///
    /// # Examples
    ///
    /// A second handle of a ring from a copy of its descriptor, in one process (in
    /// practice the copy goes to another process):
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use ringway::shm::{Error, Ring};
    ///
    /// let ring = Ring::<u32>::create_memfd(8)?;
    /// let other = Ring::<u32>::from_fd(ring.as_fd().try_clone_to_owned()?)?;
    /// assert_eq!(other.capacity(), 8);
    /// let (mut tx, mut rx) = (ring.producer()?, other.consumer()?);
    /// tx.push(5).unwrap();
    /// assert_eq!(rx.pop(), Some(5));
    ///
    /// let fd = ring.as_fd().try_clone_to_owned()?;
    /// assert!(matches!(Ring::<u64>::from_fd(fd), Err(Error::WrongType { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<Self, Error> {
        Self::map_checked(regular(File::from(fd))?, None)
    }

    /// Maps the ring in `file` (a regular file), found at `path` (`None`: by
    /// descriptor alone), once its length and header pass every check: the steps
    /// [`open`](Self::open) and [`from_fd`](Self::from_fd) share.
    fn map_checked(file: File, path: Option<&Path>) -> Result<Self, Error> {
        let file_len = file.metadata()?.len();
        if file_len < size_of::<Meta>() as u64 {
            return Err(Error::Truncated {
                len: file_len,
                needed: size_of::<Meta>() as u64,
            });
        }
        let map_len = usize::try_from(file_len).map_err(|_| Error::Corrupt("file length"))?;
        let map = memmap2::MmapOptions::new().len(map_len).map_raw(&file)?;
        let region = Region::mapped(map, file, path)?;
        let (geometry, strategy) = Geometry::check::<T>(region.meta(), file_len)?;
        Ok(Ring::over(region, geometry, strategy))
    }

    /// A ring of `capacity` items in a heap region laid out as a mapped one (unit tests:
    /// Miri cannot map files). Its halves hold no lock, so roles are not exclusive and
    /// a peer is never found dead.
    #[cfg(test)]
    fn on_heap(capacity: usize) -> Self {
        // The memory is aligned to a `CachePadded` only, not to a page.
        assert!(
            align_of::<T>() <= align_of::<CachePadded<[u8; 128]>>(),
            "a heap region holds items aligned to at most a cache line"
        );
        let geometry = Self::geometry_for(capacity);
        let lines = geometry.len.div_ceil(128).max(1);
        let mut memory = std::vec![CachePadded::new([0u8; 128]); lines];
        let base = NonNull::new(memory.as_mut_ptr().cast::<u8>()).expect("a Vec is never at 0");
        let region = Region {
            base,
            backing: Backing::Heap(memory),
        };
        // SAFETY: the region is new and at least `geometry.len` bytes long.
        unsafe { Self::initialise(&region, geometry, WaitStrategy::SPIN_YIELD) };
        Ring::over(region, geometry, WaitStrategy::SPIN_YIELD)
    }

    /// A second handle of this ring's region, checked as [`open`](Self::open) checks
    /// a file (unit tests).
    #[cfg(test)]
    fn reopen<U: Pod>(&self) -> Result<Ring<U>, Error> {
        let (geometry, strategy) =
            Geometry::check::<U>(self.region.meta(), self.geometry.len as u64)?;
        Ok(Ring {
            region: Arc::clone(&self.region),
            geometry,
            strategy,
            _item: InvariantIn::<U>::default(),
        })
    }

    /// The geometry of a new region of `capacity` items of `T`.
    ///
    /// # Panics
    ///
    /// As [`create`](Self::create).
    fn geometry_for(capacity: usize) -> Geometry {
        assert!(capacity > 0, "ringway: capacity must be at least 1");
        assert!(
            align_of::<T>() <= MAX_ALIGN,
            "ringway: shm items may be aligned to at most {MAX_ALIGN} bytes"
        );
        match Geometry::of(ItemType::of::<T>(), capacity) {
            Some(geometry) => geometry,
            None => panic!(
                "ringway: capacity overflow: a region of {capacity} items of {} bytes exceeds \
                 isize::MAX bytes (or the capacity exceeds {MAX_CAPACITY})",
                size_of::<T>()
            ),
        }
    }

    /// Writes a new region's header; the magic number last.
    ///
    /// # Safety
    ///
    /// `region` is at least `geometry.len` bytes long, and no other handle of it
    /// exists in this process.
    unsafe fn initialise(region: &Region, geometry: Geometry, strategy: WaitStrategy) {
        let header = region
            .base
            .as_ptr()
            .wrapping_add(geometry.header_offset)
            .cast::<Header>();
        // SAFETY: the header lies inside the region (the geometry puts it there) and
        // is aligned (its offset is a multiple of its alignment, and the region starts
        // on a page or a line); nobody else reads it before the magic is stored.
        unsafe { header.write(Header::new_at(0)) };
        let meta = region.meta();
        let item = ItemType::of::<T>();
        meta.version.store(LAYOUT_VERSION, Ordering::Relaxed);
        meta.word_size
            .store(size_of::<usize>() as u32, Ordering::Relaxed);
        meta.item_size.store(item.size, Ordering::Relaxed);
        meta.item_align.store(item.align, Ordering::Relaxed);
        meta.item_name.store(item.name_hash, Ordering::Relaxed);
        meta.capacity
            .store(geometry.capacity as u64, Ordering::Relaxed);
        meta.slot_count
            .store(geometry.slot_count as u64, Ordering::Relaxed);
        meta.header_offset
            .store(geometry.header_offset as u64, Ordering::Relaxed);
        meta.slots_offset
            .store(geometry.slots_offset as u64, Ordering::Relaxed);
        meta.region_len
            .store(geometry.len as u64, Ordering::Relaxed);
        let [size, align] = header_shape();
        meta.header_shape[0].store(size, Ordering::Relaxed);
        meta.header_shape[1].store(align, Ordering::Relaxed);
        let (kind, spins) = encode(strategy);
        meta.wait_kind.store(kind, Ordering::Relaxed);
        meta.wait_spins.store(spins, Ordering::Relaxed);
        // `Relaxed`: the region is published by linking its file into place (`create`).
        meta.magic.store(MAGIC, Ordering::Relaxed);
    }

    /// The exact number of items the ring holds when full.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = format!("/dev/shm/ringway-doc-cap-{}", std::process::id());
    /// let ring = ringway::shm::Ring::<u16>::create(&path, 5)?;
    /// assert_eq!(ring.capacity(), 5);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), ringway::shm::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.geometry.capacity
    }

    /// How the ring's halves wait, as its creator chose
    /// ([`create_with_wait_strategy`](Self::create_with_wait_strategy)).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = format!("/dev/shm/ringway-doc-strategy-{}", std::process::id());
    /// let ring = ringway::shm::Ring::<u16>::create(&path, 5)?;
    /// assert_eq!(ring.wait_strategy(), ringway::WaitStrategy::SPIN_YIELD);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), ringway::shm::Error>(())
    /// ```
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Whether the ring's file is sealed against shrinking (`F_GET_SEALS` has
    /// `F_SEAL_SHRINK`): then no process can truncate it, so no access of this
    /// process's mapping can die of `SIGBUS` for want of a page.
    ///
    /// True for a ring from [`create_memfd`](Self::create_memfd) (in every process that
    /// maps it); false for a ring in a named file ([`create`](Self::create),
    /// [`open`](Self::open), or [`from_fd`](Self::from_fd) of a named file's
    /// descriptor), which any process allowed to write the file can truncate, and for a
    /// memfd whose maker did not seal it. Asked of the kernel on each call (seals can be
    /// added to a file later, never removed); false when the file cannot carry seals.
    ///
    /// The seal fixes the size, not the pages: a peer's memfd that was never allocated
    /// (a sparse file) takes its pages when they are first touched, and can still fail
    /// to get them when memory runs out. [`create_memfd`](Self::create_memfd) allocates
    /// every page up front.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::shm::Ring;
    ///
    /// assert!(Ring::<u64>::create_memfd(4)?.is_sealed());
    /// let path = format!("/dev/shm/ringway-doc-sealed-{}", std::process::id());
    /// let named = Ring::<u64>::create(&path, 4)?;
    /// assert!(!named.is_sealed());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), ringway::shm::Error>(())
    /// ```
    pub fn is_sealed(&self) -> bool {
        match &self.region.backing {
            Backing::Map { file, .. } => seals(file).is_ok_and(|s| s & libc::F_SEAL_SHRINK != 0),
            #[cfg(test)]
            Backing::Heap(_) => false,
        }
    }

    /// Attaches this process as the ring's producer.
    ///
    /// The producer continues from the last position a previous producer published;
    /// see the module docs for what a producer that died left behind.
    ///
    /// # Errors
    ///
    /// [`Error::RoleTaken`] if a live producer holds the ring (in this process or
    /// another); [`Error::Corrupt`] if the counters in the region are out of range;
    /// [`Error::Io`] if the file cannot be reopened for the role's lock (by its path,
    /// which may now name another file; or, for a ring from a descriptor, through
    /// `/proc/self/fd`), [`Error::NotARing`] if the path now names something other
    /// than a regular file.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::shm::{Error, Ring, Role};
    ///
    /// let path = format!("/dev/shm/ringway-doc-producer-{}", std::process::id());
    /// let ring = Ring::<u64>::create(&path, 4)?;
    /// let tx = ring.producer()?;
    /// assert!(matches!(ring.producer(), Err(Error::RoleTaken { role: Role::Producer, .. })));
    /// drop(tx);
    /// let _tx = ring.producer()?; // the role is free again
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn producer(&self) -> Result<spsc::Producer<T, Shm>, Error> {
        self.attach(Role::Producer, spsc::Producer::new)
    }

    /// Attaches this process as the ring's consumer.
    ///
    /// The consumer continues from the first item no previous consumer released.
    ///
    /// # Errors
    ///
    /// As [`producer`](Self::producer), for the consumer's role.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringway::shm::Ring;
    ///
    /// let path = format!("/dev/shm/ringway-doc-consumer-{}", std::process::id());
    /// let ring = Ring::<u64>::create(&path, 4)?;
    /// ring.producer()?.push(7).unwrap(); // the producer goes, its item stays
    /// let mut rx = ring.consumer()?;
    /// assert!(rx.is_abandoned());
    /// assert_eq!(rx.pop(), Some(7));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), ringway::shm::Error>(())
    /// ```
    pub fn consumer(&self) -> Result<spsc::Consumer<T, Shm>, Error> {
        self.attach(Role::Consumer, spsc::Consumer::new)
    }

    /// Takes `role`'s lock, reads the counters and builds the half with `half` (the
    /// constructor both kinds of half share).
    fn attach<H>(&self, role: Role, half: HalfConstructor<T, H>) -> Result<H, Error> {
        // A file description of the half's own: the role's lock belongs to it, and a
        // lock test from it sees the other half's lock even in the same process.
        let lock = self.region.reopen()?;
        if let Some(file) = &lock {
            if !try_lock(file, role.lock_byte())? {
                let pid = self.region.meta().pids[role as usize].load(Ordering::Relaxed);
                return Err(Error::RoleTaken {
                    role,
                    pid: u64::from(pid),
                });
            }
        }
        // Counted once the lock is held, never before: the peer reads "attached once and
        // its lock is free" as gone, so a count raised before the lock would show a half
        // still attaching as dead. (A half that dies between its lock and this count is
        // then not seen gone until another half attaches: a window of a few instructions.)
        // Read only to tell "never had a peer" from "lost it": `Relaxed`.
        self.region.meta().attaches[role as usize].fetch_add(1, Ordering::Relaxed);
        let geometry = self.geometry;
        let base = self.region.base.as_ptr();
        let header = NonNull::new(base.wrapping_add(geometry.header_offset).cast::<Header>())
            .expect("inside the region");
        // SAFETY: the geometry was computed (or checked) for this region: the header
        // lies inside it, aligned; it is plain atomic words, valid for any bits, and
        // lives as long as the region, which the storage below keeps alive.
        let (head, tail) = unsafe { header.as_ref() }.counters();
        if tail.wrapping_sub(head) > geometry.capacity {
            return Err(Error::Corrupt("counters: more items than the capacity"));
        }
        // The half keeps its own counter and knows nothing of the other's yet: the
        // producer's cache says "full" and the consumer's "empty", so each loads the
        // other side's counter with `Acquire` before it touches a slot (see
        // `Header::counters`).
        let counters = match role {
            Role::Producer => (tail.wrapping_sub(geometry.capacity), tail),
            Role::Consumer => (head, head),
        };
        let meta = self.region.meta();
        meta.pids[role as usize].store(std::process::id(), Ordering::Relaxed);
        // Only this role's threads sleep on its futex word (the consumer's on the
        // first, the producer's on the second; one at a time, the waits take `&mut`),
        // and this half holds the role: a count left by a half killed in its sleep goes.
        meta.futex[role as usize ^ 1].forget_sleepers();
        // SAFETY: as above.
        unsafe { header.as_ref() }.reattached();
        let slots_ptr = NonNull::new(
            base.wrapping_add(geometry.slots_offset)
                .cast::<MaybeUninit<T>>(),
        )
        .expect("inside the region");
        // SAFETY: the slots lie inside the region (`slots_offset + slot_count *
        // size_of::<T>() <= len`, checked against the mapping's length), aligned for
        // `T` (the offset is a multiple of its alignment and the region starts on a
        // page or a line), and `slot_count` is a power of two; the storage keeps the
        // region alive as long as the half.
        let slots = unsafe { Slots::from_raw(slots_ptr, geometry.slot_count) };
        let mut waiters = Waiters::new(self.strategy);
        if self.strategy.parks() {
            let [items, slots] = &meta.futex;
            // SAFETY: the words lie in the region's `Meta`, which the storage below
            // keeps mapped as long as the half and its waiters live.
            waiters = unsafe { waiters.with_remote(NonNull::from(items), NonNull::from(slots)) };
        }
        let waiters = Arc::new(waiters);
        let storage = Shm {
            waiters: Arc::clone(&waiters),
            region: Arc::clone(&self.region),
            lock,
            role,
            probed: Cell::new(None),
            gone: Cell::new(false),
        };
        Ok(half(
            header,
            NonNull::from(&*storage.waiters),
            slots,
            geometry.capacity,
            counters,
            storage,
        ))
    }
}

/// The descriptor of the ring's file, to pass to another process, which maps the ring
/// with [`Ring::from_fd`] (see there how a child inherits it): the descriptor the ring
/// was made or opened with, close-on-exec. Lent, not given: the ring closes it when the
/// last of the ring and its halves goes; to keep it longer, or to send it, copy it
/// ([`BorrowedFd::try_clone_to_owned`]).
///
/// # Panics
///
/// Never for a ring the public constructors make (the unit tests' heap region has no
/// descriptor).
///
/// # Examples
///
/// ```
/// use std::os::fd::AsFd;
/// use ringway::shm::Ring;
///
/// let path = format!("/dev/shm/ringway-doc-as-fd-{}", std::process::id());
/// let ring = Ring::<u64>::create(&path, 4)?;
/// let len = std::fs::File::from(ring.as_fd().try_clone_to_owned()?).metadata()?.len();
/// assert_eq!(len, std::fs::metadata(&path)?.len());
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T> AsFd for Ring<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.region.backing {
            Backing::Map { file, .. } => file.as_fd(),
            #[cfg(test)]
            Backing::Heap(_) => panic!("a heap region (unit tests) has no descriptor"),
        }
    }
}

/// `spsc::Producer::new` or `spsc::Consumer::new`, for a half of storage [`Shm`]: the
/// header, the waiters, the slots, the capacity, the counters `(head, tail)`, the
/// storage.
type HalfConstructor<T, H> =
    fn(NonNull<Header>, NonNull<Waiters>, Slots<T, Indexed>, usize, (usize, usize), Shm) -> H;

/// Creates a new file beside `path` for a ring being made, under a name of its own
/// (`.NAME.PID.N.NANOS.tmp`); tries further names if one exists (left by a process that
/// died while making a ring, or made by someone else).
fn create_temporary(path: &Path) -> Result<(PathBuf, File), Error> {
    static MADE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    let name = path.file_name().map_or_else(
        || std::ffi::OsString::from("ring"),
        std::ffi::OsStr::to_os_string,
    );
    let mut tries = 0;
    loop {
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut temporary = std::ffi::OsString::from(".");
        temporary.push(&name);
        temporary.push(std::format!(".{}.{n}.{nanos}.tmp", std::process::id()));
        let temporary = path.with_file_name(temporary);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
        {
            Ok(file) => return Ok((temporary, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 8 => tries += 1,
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

/// Sizes `file` to `len` bytes, all of them allocated (`posix_fallocate`).
fn allocate(file: &File, len: usize) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `posix_fallocate` only reads its integer arguments; the descriptor is open
    // (`file` is borrowed).
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

/// Opens `path` for reading and writing if it is a regular file; anything else (a
/// directory, a FIFO, a device) is [`Error::NotARing`]. Opened without blocking, so
/// that a FIFO at the path cannot hang the call.
fn open_regular(path: &Path) -> Result<File, Error> {
    regular(
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?,
    )
}

/// `file` if it is a regular file; anything else (a directory, a FIFO, a socket, a
/// device) is [`Error::NotARing`].
fn regular(file: File) -> Result<File, Error> {
    if !file.metadata()?.file_type().is_file() {
        return Err(Error::NotARing);
    }
    Ok(file)
}

/// The seals a ring made by [`Ring::create_memfd`] carries: its size can never change,
/// and neither can its seals.
const SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// A new anonymous file (`memfd_create`) that can be sealed, close-on-exec.
fn memfd() -> io::Result<File> {
    // SAFETY: the name is a NUL-terminated string that lives across the call, which
    // takes no other pointer.
    let fd = unsafe {
        libc::memfd_create(
            c"ringway".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened by `memfd_create` and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Adds [`SEALS`] to `file`, a memfd made with `MFD_ALLOW_SEALING`.
fn seal(file: &File) -> io::Result<()> {
    // SAFETY: `fcntl` with `F_ADD_SEALS` takes an integer argument; the descriptor is
    // open (`file` is borrowed).
    match unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } {
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// The seals on `file` (`F_GET_SEALS`): an error for a file that cannot carry seals
/// (`EINVAL`: not on a `tmpfs` or `hugetlbfs`).
fn seals(file: &File) -> io::Result<libc::c_int> {
    // SAFETY: `fcntl` with `F_GET_SEALS` takes no argument; the descriptor is open
    // (`file` is borrowed).
    match unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) } {
        -1 => Err(io::Error::last_os_error()),
        seals => Ok(seals),
    }
}

/// The device and inode of `file`.
fn file_id(file: &File) -> io::Result<(u64, u64)> {
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// A lock request on one byte of a file.
fn lock_request(kind: libc::c_int, byte: i64) -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers, valid all zeros.
    let mut request: libc::flock = unsafe { core::mem::zeroed() };
    request.l_type = kind as _;
    request.l_whence = libc::SEEK_SET as _;
    request.l_start = byte as _;
    request.l_len = 1;
    request
}

/// Takes an open file description write lock on `byte` of `file`: `Ok(false)` if
/// another open file description holds it.
fn try_lock(file: &File, byte: i64) -> io::Result<bool> {
    let request = lock_request(libc::F_WRLCK, byte);
    // SAFETY: `fcntl` with `F_OFD_SETLK` reads the `flock` it is given, which lives
    // across the call; the descriptor is open (`file` is borrowed).
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &request) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(e),
    }
}

/// Whether another open file description holds a lock on `byte` of `file`; true when
/// the test itself fails (a peer is never declared dead on an error).
fn locked_elsewhere(file: &File, byte: i64) -> bool {
    let mut request = lock_request(libc::F_WRLCK, byte);
    // SAFETY: `fcntl` with `F_OFD_GETLK` reads and writes the `flock` it is given,
    // which lives across the call; the descriptor is open.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut request) };
    r != 0 || request.l_type != libc::F_UNLCK as _
}

/// The storage of a half of a ring in shared memory ([`Ring::producer`],
/// [`Ring::consumer`]): it keeps the mapping alive and holds the role's lock, which
/// the kernel drops when the half is dropped or its process ends.
///
/// `Send` (a half may move to another thread), not `Sync`.
///
/// # Examples
///
/// ```
/// use ringway::shm::{Ring, Shm};
/// use ringway::spsc::Producer;
///
/// let path = format!("/dev/shm/ringway-doc-shm-{}", std::process::id());
/// let ring = Ring::<u64>::create(&path, 4)?;
/// let _tx: Producer<u64, Shm> = ring.producer()?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), ringway::shm::Error>(())
/// ```
pub struct Shm {
    /// The half's waiters, process-local (they hold pointers); the half points at them.
    /// Before `region`, so dropped first: their futex words lie in it.
    waiters: Arc<Waiters>,
    /// The mapping the half's header and slots point into.
    region: Arc<Region>,
    /// The file description holding the role's lock (`None` for a test heap region).
    lock: Option<File>,
    /// Which half this is.
    role: Role,
    /// When `peer_gone` last tested the peer's lock.
    probed: Cell<Option<std::time::Instant>>,
    /// What the last test of the peer's lock found.
    gone: Cell<bool>,
}

impl fmt::Debug for Shm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shm")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Storage for Shm {
    type Layout = Indexed;
}

impl spsc::sealed::Sealed for Shm {
    const SKIPS: bool = false;
    const UNTRUSTED: bool = true;

    fn peer_gone(&self) -> bool {
        let now = std::time::Instant::now();
        // At most once per `PROBE_INTERVAL` while the peer lives; on every call once
        // it was found gone, so that a half attached in its place is seen at once
        // (`is_abandoned` false again, the waiting operations waiting again).
        let due = self.gone.get()
            || self
                .probed
                .get()
                .is_none_or(|then| now.duration_since(then) >= PROBE_INTERVAL);
        if due {
            self.probed.set(Some(now));
            if let Some(file) = &self.lock {
                let peer = self.role.peer();
                let attached =
                    self.region.meta().attaches[peer as usize].load(Ordering::Relaxed) != 0;
                self.gone
                    .set(attached && !locked_elsewhere(file, peer.lock_byte()));
            }
        }
        self.gone.get()
    }
}

#[cfg(test)]
mod tests;
