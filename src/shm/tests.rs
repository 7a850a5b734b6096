//! Unit tests of the region's layout and checks, over a heap region (they run under
//! Miri, where nothing can be mapped): the geometry, `Geometry::check` against each
//! corrupted `Meta` field, and both halves' operations against corrupted counters, so
//! that Miri sees every access they make stay inside the region.
//!
//! No file, mapping, lock or process here (Miri has none); the same attacks on a mapped
//! file, and everything about locks, peers and processes, are in `tests/shm.rs`.

use core::sync::atomic::AtomicUsize;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::spsc::{Consumer, Producer};
use crate::{ChunkError, PopTimeoutError, PushTimeoutError};

// The operations of both halves and their checks, shared with `tests/shm.rs`.
#[path = "../../tests/shm_ops/mod.rs"]
mod ops;

use ops::Writers;

/// A field of `Meta`, as a test picks it.
type MetaField = fn(&Meta) -> &AtomicU64;

/// A word of a ring's header, as a test picks it.
type HeaderWord = fn(&Ring<u64>) -> &AtomicUsize;

/// The size of one counter of the SPSC header with its padding: `tail` starts this far
/// after `head`, the abandoned flag twice this far.
const PADDED: usize = size_of::<CachePadded<AtomicUsize>>();

/// A word of `ring`'s header (`offset` from the header's start), as another process
/// would store into it.
fn header_word<T>(ring: &Ring<T>, offset: usize) -> &AtomicUsize {
    let at = ring.geometry.header_offset + offset;
    assert!(
        at % align_of::<AtomicUsize>() == 0
            && at + size_of::<AtomicUsize>() <= ring.geometry.slots_offset,
        "a header word at {at}"
    );
    // SAFETY: the word lies in the header, inside the region (asserted above), aligned
    // (the region starts on a line, the offset is a multiple of the word's alignment),
    // and lives as long as `ring`; the header is atomic words only, which the halves
    // and this test access atomically alone.
    unsafe { &*ring.region.base.as_ptr().add(at).cast::<AtomicUsize>() }
}

/// The `head` counter's word.
fn head_word<T>(ring: &Ring<T>) -> &AtomicUsize {
    header_word(ring, 0)
}

/// The `tail` counter's word.
fn tail_word<T>(ring: &Ring<T>) -> &AtomicUsize {
    header_word(ring, PADDED)
}

/// The abandoned flag's word.
fn abandoned_word<T>(ring: &Ring<T>) -> &AtomicUsize {
    header_word(ring, 2 * PADDED)
}

/// The counters `(head, tail)` as the header reports them.
fn counters<T>(ring: &Ring<T>) -> (usize, usize) {
    let header = ring
        .region
        .base
        .as_ptr()
        .wrapping_add(ring.geometry.header_offset)
        .cast::<Header>();
    // SAFETY: the geometry puts the header inside the region, aligned; it is atomic
    // words only and lives as long as `ring`.
    unsafe { &*header }.counters()
}

#[test]
fn a_heap_ring_round_trips() {
    let ring = Ring::<u64>::on_heap(3);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!(tx.push_slice(&[1, 2, 3, 4]), 3);
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(ring.reopen::<u64>().unwrap().capacity(), 3);
    assert!(matches!(ring.reopen::<u32>(), Err(Error::WrongType { .. })));
}

#[test]
fn type_names_lose_their_paths() {
    for (full, short) in [
        ("u64", "u64"),
        ("[u64; 2]", "[u64; 2]"),
        ("shm_producer::shm_common::Stamp", "Stamp"),
        ("a::Pair<b::c::Tick, u8>", "Pair<Tick, u8>"),
        ("(a::X, [b::Y; 4])", "(X, [Y; 4])"),
    ] {
        assert_eq!(short_type_name(full), short, "{full}");
    }
}

// ---------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------

fn item(size: u64, align: u64) -> ItemType {
    ItemType {
        size,
        align,
        name_hash: 0,
    }
}

#[test]
fn geometry_puts_header_and_slots_aligned_inside_the_region() {
    let line = align_of::<CachePadded<u8>>();
    for align in [1u64, 2, 4, 8, 16, 64, 128, 256, 4096] {
        for size in [0, align, 3 * align, align.max(64)] {
            for capacity in [1usize, 2, 3, 5, 8, 100, 1 << 20] {
                let g = Geometry::of(item(size, align), capacity)
                    .unwrap_or_else(|| panic!("no geometry for {size}/{align} x {capacity}"));
                // Formatted only if an assertion fails (Miri runs this 252 times).
                let what = (size, align, capacity, g);
                assert_eq!(g.capacity, capacity, "{what:?}");
                assert!(g.slot_count.is_power_of_two(), "{what:?}");
                assert!(
                    g.slot_count >= capacity && g.slot_count < 2 * capacity,
                    "{what:?}"
                );
                assert!(
                    g.header_offset >= size_of::<Meta>(),
                    "header over Meta: {what:?}"
                );
                assert_eq!(g.header_offset % align_of::<Header>(), 0, "{what:?}");
                assert!(
                    g.slots_offset >= g.header_offset + size_of::<Header>(),
                    "slots over the header: {what:?}"
                );
                assert_eq!(
                    g.slots_offset % align as usize,
                    0,
                    "slots misaligned: {what:?}"
                );
                assert_eq!(g.slots_offset % line, 0, "slots share a line: {what:?}");
                assert_eq!(
                    g.len,
                    g.slots_offset + g.slot_count * size as usize,
                    "the slots end the region: {what:?}"
                );
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn geometry_has_the_documented_offsets_on_x86_64() {
    // The module docs: Meta at 0, the header at 128, the slots at 4096.
    let g = Ring::<u64>::geometry_for(5);
    assert_eq!((g.header_offset, g.slots_offset), (128, 4096));
    assert_eq!((g.slot_count, g.len), (8, 4096 + 8 * 8));
    assert_eq!(PADDED, 128, "tail at header + 128");
}

#[test]
fn geometry_of_rejects_what_it_cannot_lay_out() {
    let u64s = item(8, 8);
    assert_eq!(Geometry::of(u64s, 0), None, "capacity 0");
    assert_eq!(Geometry::of(u64s, MAX_CAPACITY + 1), None, "capacity > MAX");
    assert_eq!(Geometry::of(u64s, usize::MAX), None, "capacity usize::MAX");
    // The largest capacity fits for bytes, not for pairs of bytes (> isize::MAX).
    assert!(Geometry::of(item(1, 1), MAX_CAPACITY).is_some());
    assert_eq!(
        Geometry::of(item(2, 2), MAX_CAPACITY),
        None,
        "region > isize::MAX"
    );
    assert_eq!(Geometry::of(u64s, MAX_CAPACITY), None, "slots overflow");
    assert_eq!(
        Geometry::of(item(u64::MAX, 1), 2),
        None,
        "item size overflow"
    );
    assert_eq!(
        Geometry::of(item(1 << 40, 8), 1 << 30),
        None,
        "region overflow"
    );
    for align in [0u64, 3, 6, 12, 8192, 1 << 40, u64::MAX] {
        assert_eq!(Geometry::of(item(8, align), 4), None, "alignment {align}");
    }
    assert!(
        Geometry::of(item(4096, 4096), 4).is_some(),
        "alignment 4096 is allowed"
    );
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn a_heap_ring_of_capacity_zero_panics() {
    let _ = Ring::<u64>::on_heap(0);
}

// ---------------------------------------------------------------------------------
// Geometry::check against each corrupted Meta field
// ---------------------------------------------------------------------------------

/// Stores `value` into `field` of `ring`'s Meta, checks what `reopen` says, and puts
/// the old value back (after which `reopen` must succeed again).
fn corrupt_meta(
    ring: &Ring<u64>,
    field: MetaField,
    value: u64,
    what: &str,
    expect: impl FnOnce(Result<Ring<u64>, Error>),
) {
    let meta = ring.region.meta();
    let old = field(meta).swap(value, Ordering::Relaxed);
    let result = ring.reopen::<u64>();
    let shown = std::format!("{:?}", result.as_ref().map(|r| r.capacity()));
    expect(result);
    field(meta).store(old, Ordering::Relaxed);
    assert!(
        ring.reopen::<u64>().is_ok(),
        "{what}: the restored header is refused (it gave {shown})"
    );
}

/// A check that `reopen` failed with `Corrupt` naming `field`.
fn corrupt(field: &'static str) -> impl FnOnce(Result<Ring<u64>, Error>) {
    move |r| match r {
        Err(Error::Corrupt(what)) => {
            assert!(what.contains(field), "Corrupt({what:?}), not {field}")
        }
        other => panic!(
            "expected Corrupt({field}), got {:?}",
            other.map(|r| r.capacity())
        ),
    }
}

#[test]
fn check_accepts_the_header_it_wrote() {
    let ring = Ring::<u64>::on_heap(5);
    let again = ring.reopen::<u64>().unwrap();
    assert_eq!(again.geometry, ring.geometry);
}

#[test]
fn check_refuses_a_region_without_the_magic_number() {
    let ring = Ring::<u64>::on_heap(5);
    for value in [
        0,
        MAGIC ^ 1,
        MAGIC ^ (1 << 63),
        u64::from_le_bytes(*b"RINGWAY\x02"),
    ] {
        corrupt_meta(
            &ring,
            |m| &m.magic,
            value,
            "magic",
            |r| {
                assert!(matches!(r, Err(Error::NotARing)), "magic {value:#x}");
            },
        );
    }
}

#[test]
fn check_refuses_another_layout_version() {
    let ring = Ring::<u64>::on_heap(5);
    let version = &ring.region.meta().version;
    for found in [0, LAYOUT_VERSION + 1, u32::MAX] {
        version.store(found, Ordering::Relaxed);
        match ring.reopen::<u64>() {
            Err(Error::Version { found: f, expected }) => {
                assert_eq!((f, expected), (found, LAYOUT_VERSION))
            }
            other => panic!("version {found}: {:?}", other.map(|r| r.capacity())),
        }
    }
    version.store(LAYOUT_VERSION, Ordering::Relaxed);
    assert!(ring.reopen::<u64>().is_ok());
}

#[test]
fn check_refuses_another_word_size() {
    let ring = Ring::<u64>::on_heap(5);
    let word_size = &ring.region.meta().word_size;
    for size in [0, 4, 16, u32::MAX] {
        word_size.store(size, Ordering::Relaxed);
        corrupt("word size")(ring.reopen::<u64>());
    }
    word_size.store(size_of::<usize>() as u32, Ordering::Relaxed);
    assert!(ring.reopen::<u64>().is_ok());
}

#[test]
fn check_refuses_another_item_type_in_meta() {
    let ring = Ring::<u64>::on_heap(5);
    let fields: [(&str, MetaField); 3] = [
        ("size", |m| &m.item_size),
        ("align", |m| &m.item_align),
        ("name", |m| &m.item_name),
    ];
    for (what, field) in fields {
        let old = field(ring.region.meta()).load(Ordering::Relaxed);
        for value in [0, old ^ 1, old.wrapping_add(8), u64::MAX] {
            corrupt_meta(&ring, field, value, what, |r| match r {
                Err(Error::WrongType { found, expected }) => {
                    assert_eq!(expected, ItemType::of::<u64>(), "{what}");
                    assert_ne!(found, expected, "{what}");
                }
                other => panic!("item {what} {value}: {:?}", other.map(|r| r.capacity())),
            });
        }
    }
}

#[test]
fn check_refuses_another_item_type_asked_for() {
    let ring = Ring::<u64>::on_heap(5);
    // Same size and alignment, another name.
    match ring.reopen::<i64>() {
        Err(Error::WrongType { found, expected }) => {
            assert_eq!((found.size, found.align), (expected.size, expected.align));
            assert_ne!(found.name_hash, expected.name_hash);
        }
        other => panic!("u64 as i64: {:?}", other.map(|r| r.capacity())),
    }
    // Same size, another alignment.
    assert!(
        matches!(ring.reopen::<[u8; 8]>(), Err(Error::WrongType { found, expected }) if found.size == expected.size && found.align != expected.align)
    );
    // Another size.
    assert!(
        matches!(ring.reopen::<u32>(), Err(Error::WrongType { found, expected }) if found.size != expected.size)
    );
    assert!(matches!(
        ring.reopen::<[u64; 2]>(),
        Err(Error::WrongType { .. })
    ));
}

#[test]
fn check_refuses_an_inconsistent_capacity_or_slot_count() {
    let ring = Ring::<u64>::on_heap(5); // 8 slots
    let capacity: MetaField = |m| &m.capacity;
    for value in [0, MAX_CAPACITY as u64 + 1, u64::MAX, 1 << 63] {
        corrupt_meta(&ring, capacity, value, "capacity", corrupt("capacity"));
    }
    // A capacity of another slot count contradicts the slot count.
    for value in [1, 2, 3, 4, 9, 16, 1000] {
        corrupt_meta(&ring, capacity, value, "capacity", corrupt("slot count"));
    }
    // One of the same slot count (and so the same region) is a consistent ring.
    for value in [6, 7, 8] {
        corrupt_meta(&ring, capacity, value, "capacity", |r| {
            assert_eq!(r.map(|r| r.capacity()).ok(), Some(value as usize));
        });
    }
    let slot_count: MetaField = |m| &m.slot_count;
    for value in [0, 4, 5, 7, 16, u64::MAX] {
        corrupt_meta(
            &ring,
            slot_count,
            value,
            "slot count",
            corrupt("slot count"),
        );
    }
}

#[test]
fn check_refuses_moved_offsets_and_another_length() {
    let ring = Ring::<u64>::on_heap(5);
    let g = ring.geometry;
    let fields: [(&str, MetaField, u64); 2] = [
        ("header", |m| &m.header_offset, g.header_offset as u64),
        ("slots", |m| &m.slots_offset, g.slots_offset as u64),
    ];
    for (what, field, at) in fields {
        for value in [0, 8, at - 8, at + 8, at + 128, u64::MAX] {
            corrupt_meta(&ring, field, value, what, corrupt("offsets"));
        }
    }
    let len = g.len as u64;
    for value in [0, 1, len - 1, len + 1, len + 4096, u64::MAX] {
        corrupt_meta(
            &ring,
            |m| &m.region_len,
            value,
            "length",
            corrupt("region length"),
        );
    }
}

#[test]
fn check_refuses_a_consistent_header_longer_than_the_region() {
    // A header grown consistently to 16 slots: the region (the "file") is too short.
    let ring = Ring::<u64>::on_heap(5);
    let bigger = Ring::<u64>::geometry_for(16);
    let meta = ring.region.meta();
    meta.capacity.store(16, Ordering::Relaxed);
    meta.slot_count.store(16, Ordering::Relaxed);
    meta.region_len.store(bigger.len as u64, Ordering::Relaxed);
    match ring.reopen::<u64>() {
        Err(Error::Truncated { len, needed }) => {
            assert_eq!((len, needed), (ring.geometry.len as u64, bigger.len as u64));
        }
        other => panic!("expected Truncated, got {:?}", other.map(|r| r.capacity())),
    }
}

#[test]
fn check_ignores_the_pids_and_attach_counts() {
    // They are written by every attach; garbage there is no reason to refuse a ring.
    let ring = Ring::<u64>::on_heap(5);
    let meta = ring.region.meta();
    for word in meta.pids.iter().chain(&meta.attaches) {
        word.store(u32::MAX, Ordering::Relaxed);
    }
    assert_eq!(ring.reopen::<u64>().unwrap().geometry, ring.geometry);
}

/// The 64-bit Meta words as `(name, word)` (the 32-bit ones are written apart).
fn meta_words(meta: &Meta) -> Vec<(&'static str, &AtomicU64)> {
    std::vec![
        ("magic", &meta.magic),
        ("item_size", &meta.item_size),
        ("item_align", &meta.item_align),
        ("item_name", &meta.item_name),
        ("capacity", &meta.capacity),
        ("slot_count", &meta.slot_count),
        ("header_offset", &meta.header_offset),
        ("slots_offset", &meta.slots_offset),
        ("region_len", &meta.region_len),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 12 } else { 512 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random values (near the old ones, small, near the top, anything) in random Meta
    /// fields: `check` returns, and a header it accepts describes a ring that fits the
    /// region and works.
    #[test]
    fn check_of_a_fuzzed_meta_refuses_or_describes_a_working_ring(
        capacity in 1usize..20,
        writes in proptest::collection::vec(
            (0usize..10, prop_oneof![
                (-3i64..=3).prop_map(|d| (true, d as u64)),
                (0u64..64).prop_map(|v| (false, v)),
                (0u64..4).prop_map(|d| (false, u64::MAX - d)),
                any::<u64>().prop_map(|v| (false, v)),
            ]),
            1..5,
        ),
    ) {
        let ring = Ring::<u64>::on_heap(capacity);
        let meta = ring.region.meta();
        let words = meta_words(meta);
        for &(index, (relative, value)) in &writes {
            if index == words.len() {
                // The word of `version` and `word_size`.
                let (v, w) = if relative {
                    (LAYOUT_VERSION.wrapping_add(value as u32), 8u32.wrapping_add(value as u32))
                } else {
                    (value as u32, (value >> 32) as u32)
                };
                meta.version.store(v, Ordering::Relaxed);
                meta.word_size.store(w, Ordering::Relaxed);
            } else {
                let word = words[index].1;
                let v = if relative { word.load(Ordering::Relaxed).wrapping_add(value) } else { value };
                word.store(v, Ordering::Relaxed);
            }
        }
        if let Ok(again) = ring.reopen::<u64>() {
            let g = again.geometry;
            prop_assert!(g.len <= ring.geometry.len, "accepted a region longer than it is: {:?}", g);
            prop_assert_eq!(Some(g), Geometry::of(ItemType::of::<u64>(), g.capacity));
            let (mut tx, mut rx) = (again.producer().unwrap(), again.consumer().unwrap());
            ops::round_trip(&mut tx, &mut rx, &mut 0);
        }
    }
}

// ---------------------------------------------------------------------------------
// Corrupted counters against both halves
// ---------------------------------------------------------------------------------

#[test]
fn the_counter_words_are_where_these_tests_write() {
    let ring = Ring::<u64>::on_heap(4);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    tx.push_slice(&[1, 2, 3]);
    rx.pop();
    assert_eq!(counters(&ring), (1, 3));
    assert_eq!(head_word(&ring).load(Ordering::Relaxed), 1);
    assert_eq!(tail_word(&ring).load(Ordering::Relaxed), 3);
    assert_eq!(abandoned_word(&ring).load(Ordering::Relaxed), 0);
    drop(tx);
    assert_ne!(abandoned_word(&ring).load(Ordering::Relaxed), 0);
    assert!(rx.is_abandoned());
}

/// Values for a counter word of a ring whose counters are `head`, `tail` and whose
/// capacity is `cap`: at, just inside and just outside the believable range, and far
/// outside it.
fn counter_values(head: usize, tail: usize, cap: usize) -> Vec<usize> {
    if cfg!(miri) {
        // The boundaries alone: Miri runs every operation per value.
        return std::vec![
            head.wrapping_sub(1),
            tail.wrapping_add(1),
            head.wrapping_add(cap),
            head.wrapping_add(cap + 1),
            tail.wrapping_sub(cap + 1),
            usize::MAX,
            1 << 63,
        ];
    }
    std::vec![
        0,
        1,
        head,
        tail,
        head.wrapping_sub(1),
        tail.wrapping_add(1),
        head.wrapping_add(cap),
        head.wrapping_add(cap + 1),
        tail.wrapping_sub(cap),
        tail.wrapping_sub(cap + 1),
        tail.wrapping_add(cap),
        usize::MAX,
        usize::MAX - cap,
        1 << 63,
        0x5555_5555_5555_5555,
    ]
}

/// For each header word and each value: a ring with items in it (`head` 1, `tail` 3),
/// the value stored between operations, then every operation of both halves twice;
/// then the halves dropped and new ones attached (refused as `Corrupt` or working).
#[test]
fn corrupted_counters_keep_every_operation_in_bounds() {
    let cap = 3; // 4 slots: the counters wrap the slots within a few operations
    let words: [(&str, HeaderWord); 4] = [
        ("head", head_word),
        ("tail", tail_word),
        ("abandoned", abandoned_word),
        ("the flag after it", |r| {
            header_word(r, 2 * PADDED + size_of::<usize>())
        }),
    ];
    for (what, word) in words {
        for value in counter_values(1, 3, cap) {
            let ring = Ring::<u64>::on_heap(cap);
            let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
            let mut next = 100;
            assert_eq!(tx.push_slice(&[1, 2, 3]), 3);
            assert_eq!(rx.pop(), Some(1));
            // Stored again before each half's turn: the producer's next publish
            // overwrites a garbage `tail`, the consumer's next release a garbage `head`.
            word(&ring).store(value, Ordering::Relaxed);
            ops::exercise_consumer(&mut rx, Writers::Quiet);
            ops::check_counts(&tx, &rx, Writers::Quiet);
            word(&ring).store(value, Ordering::Relaxed);
            ops::exercise_producer(&mut tx, &mut next, Writers::Quiet);
            ops::check_counts(&tx, &rx, Writers::Quiet);
            word(&ring).store(value, Ordering::Relaxed);
            ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet);
            drop((tx, rx));
            let (head, tail) = counters(&ring);
            let attached = (ring.producer(), ring.consumer());
            if tail.wrapping_sub(head) > cap {
                assert!(
                    matches!(attached, (Err(Error::Corrupt(_)), Err(Error::Corrupt(_)))),
                    "{what} = {value:#x}: counters {head:#x}..{tail:#x} accepted"
                );
            } else {
                let (Ok(mut tx), Ok(mut rx)) = attached else {
                    panic!("{what} = {value:#x}: counters {head:#x}..{tail:#x} refused");
                };
                ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet);
            }
        }
    }
}

/// A hostile thread stores garbage into the counters and the flag while the halves
/// run every operation: each stays in bounds (Miri: every access inside the region, no
/// data race).
#[test]
fn a_writer_racing_the_halves_never_breaks_them() {
    let cap = 3;
    let ring = Ring::<u64>::on_heap(cap);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let done = core::sync::atomic::AtomicBool::new(false);
    let rounds = if cfg!(miri) { 3 } else { 2000 };
    std::thread::scope(|s| {
        s.spawn(|| {
            let words = [head_word(&ring), tail_word(&ring), abandoned_word(&ring)];
            let mut i = 0usize;
            while !done.load(Ordering::Relaxed) {
                let (head, tail) = counters(&ring);
                let values = counter_values(head, tail, cap);
                let value = values[(i / words.len()) % values.len()];
                words[i % words.len()].store(value, Ordering::Relaxed);
                i = i.wrapping_add(1);
                std::thread::yield_now();
            }
        });
        // Stops the writer also if an operation panics (the scope would wait for ever).
        struct StopOnDrop<'a>(&'a core::sync::atomic::AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let stop = StopOnDrop(&done);
        let mut next = 0;
        for _ in 0..rounds {
            ops::exercise(&mut tx, &mut rx, &mut next, Writers::Racing);
        }
        drop(stop);
    });
}

/// The consumer's `peek` must not show an item its `pop` refuses: a `tail` more than
/// the capacity ahead of `head` is "never believed (the consumer no new items)", as
/// the module docs say.
#[test]
fn peek_does_not_believe_a_tail_pop_refuses() {
    let cap = 3;
    for beyond in [cap + 1, cap + 2, 1 << 40, usize::MAX] {
        let ring = Ring::<u64>::on_heap(cap);
        let (_tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        tail_word(&ring).store(beyond, Ordering::Relaxed); // head is 0
        assert_eq!(rx.len(), 0, "tail {beyond:#x}");
        assert_eq!(rx.peek(), None, "tail {beyond:#x}: peek showed an item");
        assert_eq!(rx.pop(), None, "tail {beyond:#x}");
    }
}

#[test]
fn attach_refuses_counters_more_than_the_capacity_apart() {
    let cap = 5;
    let ring = Ring::<u64>::on_heap(cap);
    for (head, tail, ok) in [
        (0, cap, true),
        (0, cap + 1, false),
        (7, 7 + cap, true),
        (7, 6, false),
        (usize::MAX, cap - 1, true), // across the wrap
        (usize::MAX, cap, false),
    ] {
        head_word(&ring).store(head, Ordering::Relaxed);
        tail_word(&ring).store(tail, Ordering::Relaxed);
        for attached in [ring.producer().map(drop), ring.consumer().map(drop)] {
            match attached {
                Ok(()) => assert!(ok, "counters {head:#x}..{tail:#x} accepted"),
                Err(Error::Corrupt(what)) => {
                    assert!(!ok, "counters {head:#x}..{tail:#x} refused");
                    assert!(what.contains("counters"), "{what}");
                }
                Err(e) => panic!("counters {head:#x}..{tail:#x}: {e}"),
            }
        }
    }
}

#[test]
fn garbage_in_meta_after_attaching_changes_nothing() {
    // The halves copied the geometry when they attached and never read it again.
    let ring = Ring::<u64>::on_heap(5);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let meta = ring.region.meta();
    for (_, word) in meta_words(meta) {
        word.store(u64::MAX, Ordering::Relaxed);
    }
    for word in [
        &meta.version,
        &meta.word_size,
        &meta.wait_kind,
        &meta.wait_spins,
    ]
    .into_iter()
    .chain(&meta.pids)
    .chain(&meta.attaches)
    {
        word.store(u32::MAX, Ordering::Relaxed);
    }
    let mut next = 0;
    for _ in 0..3 {
        ops::round_trip(&mut tx, &mut rx, &mut next);
    }
    ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet);
}

// ---------------------------------------------------------------------------------
// Halves that go and come back (no locks on the heap: only the flag)
// ---------------------------------------------------------------------------------

#[test]
fn a_new_consumer_starts_at_the_first_unreleased_item() {
    let ring = Ring::<u64>::on_heap(8);
    let mut tx = ring.producer().unwrap();
    assert_eq!(tx.push_slice(&[1, 2, 3, 4, 5, 6]), 6);
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.pop(), Some(1));
    let mut two = [0; 2];
    assert_eq!(rx.pop_slice(&mut two), 2);
    assert_eq!(two, [2, 3]);
    drop(rx);
    assert!(tx.is_abandoned());
    let mut rx = ring.consumer().unwrap();
    assert!(!tx.is_abandoned(), "a consumer is attached again");
    assert_eq!(rx.drain().collect::<Vec<_>>(), [4, 5, 6]);
}

#[test]
fn a_new_producer_continues_at_the_published_position() {
    let ring = Ring::<u64>::on_heap(4);
    let mut rx = ring.consumer().unwrap();
    let mut tx = ring.producer().unwrap();
    assert_eq!(tx.push_slice(&[1, 2, 3]), 3);
    drop(tx);
    assert!(rx.is_abandoned());
    assert_eq!(rx.pop(), Some(1));
    let mut tx = ring.producer().unwrap();
    assert!(!rx.is_abandoned(), "a producer is attached again");
    assert_eq!(tx.len(), 2);
    assert_eq!(
        tx.push_slice(&[4, 5, 6]),
        2,
        "a ring of 4 holding 2 takes 2"
    );
    assert_eq!(rx.drain().collect::<Vec<_>>(), [2, 3, 4, 5]);
}

#[test]
fn a_ring_holds_exactly_its_capacity_across_the_wrap() {
    for cap in [1, 2, 3, 5] {
        let ring = Ring::<u64>::on_heap(cap);
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        let mut next = 0;
        for _ in 0..3 {
            ops::round_trip(&mut tx, &mut rx, &mut next);
        }
        // Counters near the wrap: stored while no half is attached, as a ring that ran
        // long would have them.
        drop((tx, rx));
        head_word(&ring).store(usize::MAX - 1, Ordering::Relaxed);
        tail_word(&ring).store(usize::MAX - 1, Ordering::Relaxed);
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        for _ in 0..3 {
            ops::round_trip(&mut tx, &mut rx, &mut next);
        }
        let (head, tail) = counters(&ring);
        assert_eq!(head, tail);
        assert!(head < 3 * cap, "the counters wrapped: {head}");
    }
}

#[test]
fn items_of_any_plain_type_cross_unchanged() {
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct Tick {
        price: u64,
        size: u32,
        side: u32,
    }
    let ring = Ring::<Tick>::on_heap(3);
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let ticks: Vec<Tick> = (0..5)
        .map(|i| Tick {
            price: 100 + i,
            size: i as u32,
            side: (i % 2) as u32,
        })
        .collect();
    assert_eq!(tx.push_slice(&ticks), 3);
    assert_eq!(rx.pop(), Some(ticks[0]));
    assert_eq!(tx.push_slice(&ticks[3..]), 1);
    assert_eq!(
        rx.drain().collect::<Vec<_>>(),
        [ticks[1], ticks[2], ticks[3]]
    );
}

#[test]
fn check_refuses_another_header_layout() {
    // A build whose cache-line padding differs puts `tail` elsewhere in the header.
    for (index, value) in [(0, 0), (0, 192), (1, 64), (1, 0)] {
        let ring = Ring::<u64>::on_heap(4);
        ring.region.meta().header_shape[index].store(value, Ordering::Relaxed);
        assert!(
            matches!(ring.reopen::<u64>(), Err(Error::Corrupt(what)) if what.starts_with("header layout")),
            "shape word {index} = {value}"
        );
    }
}
