//! SPSC rings in shared memory, between processes (feature `shm`, 64-bit Linux).
//!
//! A [`Ring`] is a file (under `/dev/shm`, a `tmpfs`, for memory speed) that holds the
//! same SPSC ring as [`spsc::channel`](crate::spsc::channel()): one process creates it
//! with [`Ring::create`], any process maps it with [`Ring::open`], and each side takes
//! its half with [`Ring::producer`] or [`Ring::consumer`]. The halves are the crate's
//! own [`spsc::Producer`] and
//! [`spsc::Consumer`] over the [`Shm`] storage, so every
//! operation (`push`, `pop`, slices, iterators, zero-copy chunks, `drain`, the waiting
//! operations) is the same code as in process, and the in-process loom models cover
//! its hand-off; only where the memory comes from, and how far the other side is
//! trusted, differ. What is new here (attaching, the range checks, the futex, the lock
//! hand-over) is outside loom (system calls); the unit tests (under Miri, on a heap
//! region) and the two-process tests (`tests/shm.rs`) cover it.
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
//! once and check the copy (a value read twice may differ). Two limits Linux leaves
//! open: a peer that shrinks the file makes this process's next access to the lost
//! pages raise `SIGBUS` (only a sealed `memfd` could forbid that; [`Ring::create`]
//! allocates every page up front, so a full `/dev/shm` is an error there, not a
//! `SIGBUS` later), and [`Ring::open`] trusts a file that a hostile peer initialises
//! consistently (it is the peer's ring, after all).
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
//! library opens files close-on-exec, so the usual spawn shares nothing.)
//!
//! What is lost when a process dies: a producer's items that it had written but not yet
//! published (its last `push_slice` or chunk not committed); a consumer's items that it
//! had moved out but whose slots it had not yet released (a [`Drain`] not dropped, a
//! chunk not committed) are delivered again to the next consumer. Items published and
//! not yet popped stay in the ring for whoever attaches next, and the file outlives
//! both processes until someone removes it (`std::fs::remove_file`).
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
use std::os::fd::AsRawFd;
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
        /// The file's path, reopened by each half for a lock of its own.
        path: PathBuf,
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
    /// The region of `map`, a mapping of `file`, found at `path`.
    fn mapped(map: memmap2::MmapRaw, path: &Path, file: &File) -> io::Result<Region> {
        Ok(Region {
            base: NonNull::new(map.as_mut_ptr()).expect("a mapping is never at address 0"),
            backing: Backing::Map {
                _map: map,
                path: path.to_path_buf(),
                id: file_id(file)?,
            },
        })
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
/// [`open`](Self::open) it, then take a half with [`producer`](Self::producer) or
/// [`consumer`](Self::consumer).
///
/// The mapping lives as long as the `Ring` or any half taken from it. Dropping every
/// handle unmaps the region; the file stays until removed.
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
            // Allocated now, not on first touch: a `tmpfs` that is full (a container's
            // small `/dev/shm`) is then `ENOSPC` here rather than `SIGBUS` at a push.
            allocate(&file, geometry.len)?;
            let map = memmap2::MmapOptions::new()
                .len(geometry.len)
                .map_raw(&file)?;
            let region = Region::mapped(map, path, &file)?;
            // SAFETY: the region is new and `geometry.len` long; nobody else can
            // reach it before the link below.
            unsafe { Self::initialise(&region, geometry, strategy) };
            std::fs::hard_link(&temporary, path)?;
            Ok::<_, io::Error>(region)
        })();
        // The temporary name goes whether or not the ring was linked.
        let _ = std::fs::remove_file(&temporary);
        Ok(Ring {
            region: Arc::new(made?),
            geometry,
            strategy,
            _item: InvariantIn::<T>::default(),
        })
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
        let file = open_regular(path)?;
        let file_len = file.metadata()?.len();
        if file_len < size_of::<Meta>() as u64 {
            return Err(Error::Truncated {
                len: file_len,
                needed: size_of::<Meta>() as u64,
            });
        }
        let map_len = usize::try_from(file_len).map_err(|_| Error::Corrupt("file length"))?;
        let map = memmap2::MmapOptions::new().len(map_len).map_raw(&file)?;
        let region = Region::mapped(map, path, &file)?;
        let (geometry, strategy) = Geometry::check::<T>(region.meta(), file_len)?;
        Ok(Ring {
            region: Arc::new(region),
            geometry,
            strategy,
            _item: InvariantIn::<T>::default(),
        })
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
        Ring {
            region: Arc::new(region),
            geometry,
            strategy: WaitStrategy::SPIN_YIELD,
            _item: InvariantIn::<T>::default(),
        }
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

    /// Attaches this process as the ring's producer.
    ///
    /// The producer continues from the last position a previous producer published;
    /// see the module docs for what a producer that died left behind.
    ///
    /// # Errors
    ///
    /// [`Error::RoleTaken`] if a live producer holds the ring (in this process or
    /// another); [`Error::Corrupt`] if the counters in the region are out of range;
    /// [`Error::Io`] if the file cannot be reopened for the role's lock (or the path
    /// now names another file), [`Error::NotARing`] if the path now names something
    /// other than a regular file.
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
        let lock = match &self.region.backing {
            Backing::Map { path, id, .. } => {
                // A file description of the half's own: the role's lock belongs to
                // it, and a lock test from it sees the other half's lock even in the
                // same process.
                let file = open_regular(path)?;
                if file_id(&file)? != *id {
                    return Err(Error::Io(io::Error::other(
                        "the ring's path now names another file",
                    )));
                }
                if !try_lock(&file, role.lock_byte())? {
                    let pid = self.region.meta().pids[role as usize].load(Ordering::Relaxed);
                    return Err(Error::RoleTaken {
                        role,
                        pid: u64::from(pid),
                    });
                }
                Some(file)
            }
            #[cfg(test)]
            Backing::Heap(_) => None,
        };
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
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(Error::NotARing);
    }
    Ok(file)
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
