//! Integration tests for `ringway::mpmc::Queue`.
//!
//! * Threaded stress (P producers x C consumers, P, C in 1..=3, capacities 1, 2, 3,
//!   16): every item is tagged `(producer, sequence)`; delivery is checked
//!   exactly-once and per-producer FIFO as seen by each consumer.
//! * Single and slice operations mixed under contention, with a check that a
//!   `pop_slice` run never shows another producer's item inside a `push_slice` batch.
//! * `force_push` under contention: every item is displaced or popped, exactly once.
//! * A differential property test against a `VecDeque` model (single-threaded).
//! * Drop accounting (after wraps, `force_push`, with ZSTs), constructor panics,
//!   `Send`/`Sync` pins, and `len` bounds under concurrency.
//! * The static queue's own API (`const` construction in a `static`, `Deref`).
//! * `close`: refusals with the value handed back (single, slice, `force_push`) at
//!   every fill level and lap offset, the drain after it, drops after it, and
//!   producers racing it (every accepted item out exactly once). The differential
//!   model closes the queue in most runs.
//!
//! The tests listed in `storage_tests!` run their one body on both storages (see
//! `tests/storage/mod.rs`): `Queue::new` and `StaticQueue`, which dereferences to a
//! `Queue<T, Inline<T, N>>`; the bodies are generic over the storage. The heavy
//! threaded ones run fewer items (and, under Miri, fewer configurations) on the
//! static storage.
//!
//! Loop counts shrink under Miri; nothing here measures time.

// Without `alloc` only the static variants run; the heap-only helpers go unused.
#![cfg_attr(not(feature = "alloc"), allow(dead_code, unused_imports))]

mod common;
#[macro_use]
mod storage;

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;

use common::{DropTracker, Rng, Tracked, ZstDrop};
use proptest::prelude::*;
use ringway::mpmc::{Heap, Inline, Queue, StaticQueue, Storage as Slots};
use ringway::{Disconnected, PushError};
use static_assertions::{assert_impl_all, assert_not_impl_any};
use storage::Storage;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A tagged item: `(producer, seq, batch_start)`. `batch_start` is the `seq` of the
/// first item of the `push`/`push_slice` call that pushed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
struct Item {
    producer: usize,
    seq: usize,
    batch_start: usize,
}

impl Item {
    fn new(producer: usize, seq: usize) -> Self {
        Item {
            producer,
            seq,
            batch_start: seq,
        }
    }
}

/// Capacities used by the threaded tests (under Miri, one for the static storage).
fn stress_capacities(storage: Storage) -> &'static [usize] {
    if cfg!(miri) {
        storage.heavy(&[1, 3], &[3])
    } else {
        &[1, 2, 3, 16]
    }
}

/// Items each producer pushes in the threaded tests.
fn per_producer(storage: Storage) -> usize {
    if cfg!(miri) {
        6
    } else {
        storage.heavy(4_000, 1_000)
    }
}

/// Thread counts for the P x C grid (the same under Miri: the item counts shrink; the
/// static storage's Miri runs take 2 x 2 only).
fn thread_counts(storage: Storage) -> &'static [usize] {
    if cfg!(miri) {
        storage.heavy(&[1, 2, 3], &[2])
    } else {
        &[1, 2, 3]
    }
}

/// Checks that each consumer saw each producer's items in increasing `seq` order.
#[track_caller]
fn check_per_producer_order(what: &str, per_consumer: &[Vec<Item>]) {
    for (c, seen) in per_consumer.iter().enumerate() {
        let mut last: HashMap<usize, usize> = HashMap::new();
        for item in seen {
            if let Some(&prev) = last.get(&item.producer) {
                assert!(
                    item.seq > prev,
                    "{what}: consumer {c} saw producer {} seq {} after seq {prev}",
                    item.producer,
                    item.seq
                );
            }
            last.insert(item.producer, item.seq);
        }
    }
}

/// Checks that `all` holds every `(p, s)` for `p < producers`, `s < per_producer`
/// exactly once (and nothing else).
#[track_caller]
fn check_exactly_once(what: &str, all: impl IntoIterator<Item = Item>, producers: usize, n: usize) {
    let mut count = vec![vec![0u32; n]; producers];
    let mut total = 0;
    for item in all {
        assert!(
            item.producer < producers && item.seq < n,
            "{what}: item {item:?} was never pushed"
        );
        count[item.producer][item.seq] += 1;
        total += 1;
    }
    for (p, counts) in count.iter().enumerate() {
        for (s, &c) in counts.iter().enumerate() {
            assert!(c == 1, "{what}: producer {p} seq {s} delivered {c} times");
        }
    }
    assert_eq!(
        total,
        producers * n,
        "{what}: wrong number of items delivered"
    );
}

/// Increments a counter when dropped, so threads waiting on it are released even when
/// the thread that owns it panics (a failing assertion must not turn into a hang).
struct DoneOnDrop<'a>(&'a AtomicUsize);

impl Drop for DoneOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Shared progress of a producers/consumers run; turns the test's own waiting loops
/// into failures where a bug would otherwise make them spin forever.
struct Progress {
    producers: usize,
    consumers: usize,
    total: usize,
    producers_done: AtomicUsize,
    consumers_done: AtomicUsize,
    popped: AtomicUsize,
}

/// Consecutive empty polls, after every producer finished and with no delivery
/// anywhere, before a consumer declares items lost. A count, not a time.
const IDLE_LIMIT: u32 = if cfg!(miri) { 2_000 } else { 1_000_000 };

impl Progress {
    fn new(producers: usize, consumers: usize, total: usize) -> Self {
        Progress {
            producers,
            consumers,
            total,
            producers_done: AtomicUsize::new(0),
            consumers_done: AtomicUsize::new(0),
            popped: AtomicUsize::new(0),
        }
    }

    /// Whether consumers should keep going.
    fn undelivered(&self) -> bool {
        self.popped.load(Ordering::Acquire) < self.total
    }

    /// A producer found the queue full.
    #[track_caller]
    fn producer_blocked(&self, what: &str) {
        assert!(
            self.consumers_done.load(Ordering::Acquire) < self.consumers,
            "{what}: the queue refuses a push although every consumer has stopped \
             after {} deliveries of {} (an item delivered twice?)",
            self.popped.load(Ordering::Relaxed),
            self.total
        );
        thread::yield_now();
    }

    /// A consumer found the queue empty. `idle` counts its consecutive empty polls
    /// with no delivery by anyone since `last_popped`.
    #[track_caller]
    fn consumer_idle(&self, what: &str, idle: &mut u32, last_popped: &mut usize) {
        let popped = self.popped.load(Ordering::Acquire);
        if popped != *last_popped || self.producers_done.load(Ordering::Acquire) < self.producers {
            *idle = 0;
            *last_popped = popped;
        } else {
            *idle += 1;
            assert!(
                *idle < IDLE_LIMIT,
                "{what}: every producer finished and the queue stays empty, but only \
                 {popped} of {} items were delivered (items lost?)",
                self.total
            );
        }
        thread::yield_now();
    }

    fn delivered(&self, n: usize) {
        self.popped.fetch_add(n, Ordering::AcqRel);
    }
}

// ---------------------------------------------------------------------------
// 1. P x C stress with single operations
// ---------------------------------------------------------------------------

fn stress_single(storage: Storage, producers: usize, consumers: usize, capacity: usize, n: usize) {
    with_queue!(storage, Item, capacity, |q| stress_single_on(
        q, producers, consumers, n
    ));
}

fn stress_single_on<S: Slots<Item>>(
    q: &Queue<Item, S>,
    producers: usize,
    consumers: usize,
    n: usize,
) {
    let capacity = q.capacity();
    let what = &format!("stress_single P={producers} C={consumers} cap={capacity}");
    let progress = Progress::new(producers, consumers, producers * n);
    let per_consumer: Vec<Vec<Item>> = thread::scope(|s| {
        for p in 0..producers {
            let progress = &progress;
            s.spawn(move || {
                let _done = DoneOnDrop(&progress.producers_done);
                for seq in 0..n {
                    let mut item = Item::new(p, seq);
                    loop {
                        match q.push(item) {
                            Ok(()) => break,
                            Err(PushError::Full(back)) => {
                                assert_eq!(back, item, "{what}: push handed back another item");
                                item = back;
                                progress.producer_blocked(what);
                            }
                            Err(PushError::Disconnected(_)) => panic!("{what}: not closed"),
                        }
                    }
                }
            });
        }
        let handles: Vec<_> = (0..consumers)
            .map(|_| {
                let progress = &progress;
                s.spawn(move || {
                    let _done = DoneOnDrop(&progress.consumers_done);
                    let (mut idle, mut last) = (0, 0);
                    let mut seen = Vec::new();
                    while progress.undelivered() {
                        match q.pop() {
                            Some(item) => {
                                seen.push(item);
                                progress.delivered(1);
                            }
                            None => progress.consumer_idle(what, &mut idle, &mut last),
                        }
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(q.pop(), None, "{what}: item left after all were delivered");
    assert!(q.is_empty(), "{what}");
    assert_eq!(q.len(), 0, "{what}");
    check_per_producer_order(what, &per_consumer);
    check_exactly_once(what, per_consumer.into_iter().flatten(), producers, n);
}

fn stress_single_ops_grid(storage: Storage) {
    for &capacity in stress_capacities(storage) {
        for &p in thread_counts(storage) {
            for &c in thread_counts(storage) {
                stress_single(storage, p, c, capacity, per_producer(storage));
            }
        }
    }
}

storage_tests!(stress_single_ops_grid);

// ---------------------------------------------------------------------------
// 2. Single and slice operations mixed under contention
// ---------------------------------------------------------------------------

/// Checks one `pop_slice` result: the items come from consecutive positions, so an item
/// that is not the first of its push batch must directly follow its predecessor in the
/// same batch (whenever it is not the first item of the popped run).
#[track_caller]
fn check_pop_run(what: &str, run: &[Item]) {
    for w in run.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.seq != b.batch_start {
            assert!(
                a.producer == b.producer && a.seq + 1 == b.seq && a.batch_start == b.batch_start,
                "{what}: popped run {run:?} has {a:?} in the middle of the push_slice batch of {b:?}"
            );
        }
    }
}

/// Coverage canaries of the mixed runs: multi-item slices were really moved.
#[derive(Default)]
struct SliceCoverage {
    multi_pushes: AtomicUsize,
    multi_pops: AtomicUsize,
}

fn stress_mixed(
    storage: Storage,
    producers: usize,
    consumers: usize,
    capacity: usize,
    n: usize,
    seed: u64,
    coverage: &SliceCoverage,
) {
    with_queue!(storage, Item, capacity, |q| {
        stress_mixed_on(q, producers, consumers, n, seed, coverage)
    });
}

fn stress_mixed_on<S: Slots<Item>>(
    q: &Queue<Item, S>,
    producers: usize,
    consumers: usize,
    n: usize,
    seed: u64,
    coverage: &SliceCoverage,
) {
    let capacity = q.capacity();
    let what = &format!("stress_mixed P={producers} C={consumers} cap={capacity}");
    let progress = Progress::new(producers, consumers, producers * n);
    let per_consumer: Vec<Vec<Item>> = thread::scope(|s| {
        for p in 0..producers {
            let progress = &progress;
            s.spawn(move || {
                let _done = DoneOnDrop(&progress.producers_done);
                let mut rng = Rng::new(seed ^ ((p as u64 + 1) * 0x1000));
                let mut seq = 0;
                let mut buf = Vec::new();
                while seq < n {
                    if rng.one_in(3) {
                        let item = Item::new(p, seq);
                        if q.push(item).is_ok() {
                            seq += 1;
                        } else {
                            progress.producer_blocked(what);
                        }
                    } else {
                        let len = rng.range(1, capacity + 2).min(n - seq);
                        buf.clear();
                        buf.extend((seq..seq + len).map(|s| Item {
                            producer: p,
                            seq: s,
                            batch_start: seq,
                        }));
                        let pushed = q.push_slice(&buf);
                        assert!(pushed <= len, "{what}: push_slice pushed {pushed} of {len}");
                        if pushed > 1 {
                            coverage.multi_pushes.fetch_add(1, Ordering::Relaxed);
                        }
                        seq += pushed;
                        if pushed == 0 {
                            progress.producer_blocked(what);
                        }
                    }
                }
            });
        }
        let handles: Vec<_> = (0..consumers)
            .map(|c| {
                let progress = &progress;
                s.spawn(move || {
                    let _done = DoneOnDrop(&progress.consumers_done);
                    let what = &format!("{what} consumer {c}");
                    let (mut idle, mut last) = (0, 0);
                    let mut rng = Rng::new(seed.wrapping_mul(31) ^ (c as u64 + 7));
                    let mut seen = Vec::new();
                    let mut buf = vec![Item::default(); capacity + 3];
                    while progress.undelivered() {
                        if rng.one_in(3) {
                            match q.pop() {
                                Some(item) => {
                                    seen.push(item);
                                    progress.delivered(1);
                                }
                                None => progress.consumer_idle(what, &mut idle, &mut last),
                            }
                        } else {
                            let len = rng.range(1, capacity + 3);
                            let got = q.pop_slice(&mut buf[..len]);
                            assert!(got <= len.min(capacity), "{what}: popped {got} of {len}");
                            check_pop_run(what, &buf[..got]);
                            seen.extend_from_slice(&buf[..got]);
                            if got > 1 {
                                coverage.multi_pops.fetch_add(1, Ordering::Relaxed);
                            }
                            if got == 0 {
                                progress.consumer_idle(what, &mut idle, &mut last);
                            } else {
                                progress.delivered(got);
                            }
                        }
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(q.pop(), None, "{what}: item left after all were delivered");
    if consumers == 1 {
        // A single consumer pops every position in order, so the whole sequence it saw
        // is the queue's order: every push_slice batch must appear as one unbroken run.
        check_pop_run(&format!("{what} (whole sequence)"), &per_consumer[0]);
    }
    check_per_producer_order(what, &per_consumer);
    check_exactly_once(what, per_consumer.into_iter().flatten(), producers, n);
}

fn stress_mixed_slice_ops_grid(storage: Storage) {
    let mut seed = 1;
    // The coverage canaries below need more than one run per capacity.
    let threads: &[usize] = if storage.miri_static() {
        &[1, 2]
    } else {
        thread_counts(storage)
    };
    for &capacity in stress_capacities(storage) {
        let coverage = SliceCoverage::default();
        for &p in threads {
            for &c in threads {
                stress_mixed(
                    storage,
                    p,
                    c,
                    capacity,
                    per_producer(storage),
                    seed,
                    &coverage,
                );
                seed += 1;
            }
        }
        if capacity > 1 {
            // Coverage canaries: the grid for this capacity really moved multi-item
            // runs in both directions (a slice op that always moved one item would pass
            // the checks above without testing bulk claims).
            assert!(
                coverage.multi_pushes.into_inner() > 0,
                "cap {capacity}: no multi-item push_slice"
            );
            assert!(
                coverage.multi_pops.into_inner() > 0,
                "cap {capacity}: no multi-item pop_slice"
            );
        }
    }
}

storage_tests!(stress_mixed_slice_ops_grid);

/// Producers push only 4-item batches into a roomy queue (so batches really are
/// pushed whole, concurrently); one consumer pops every position in order, so each
/// batch must appear unbroken in what it sees. (A `push_slice` built from separate
/// single claims interleaves here within a fraction of a second.)
fn push_slice_batches_stay_contiguous(storage: Storage) {
    let n = if cfg!(miri) {
        storage.heavy(24, 12)
    } else {
        storage.heavy(200_000, 50_000)
    };
    let producers: &[usize] = if storage.miri_static() { &[2] } else { &[2, 3] };
    for &producers in producers {
        with_queue!(storage, Item, 64, |q| push_slice_batches_on(
            q, producers, n
        ));
    }
}

storage_tests!(push_slice_batches_stay_contiguous);

fn push_slice_batches_on<S: Slots<Item>>(q: &Queue<Item, S>, producers: usize, n: usize) {
    let what = &format!("push_slice_batches_stay_contiguous P={producers}");
    let progress = Progress::new(producers, 1, producers * n);
    let seen = thread::scope(|s| {
        for p in 0..producers {
            let progress = &progress;
            s.spawn(move || {
                let _done = DoneOnDrop(&progress.producers_done);
                let mut seq = 0;
                while seq < n {
                    let len = 4.min(n - seq);
                    let batch: Vec<Item> = (seq..seq + len)
                        .map(|s| Item {
                            producer: p,
                            seq: s,
                            batch_start: seq,
                        })
                        .collect();
                    let pushed = q.push_slice(&batch);
                    seq += pushed;
                    if pushed == 0 {
                        progress.producer_blocked(what);
                    }
                }
            });
        }
        let _done = DoneOnDrop(&progress.consumers_done);
        let (mut idle, mut last) = (0, 0);
        let mut seen = Vec::with_capacity(producers * n);
        while progress.undelivered() {
            match q.pop() {
                Some(item) => {
                    seen.push(item);
                    progress.delivered(1);
                }
                None => progress.consumer_idle(what, &mut idle, &mut last),
            }
        }
        seen
    });
    check_pop_run(what, &seen);
    check_per_producer_order(what, std::slice::from_ref(&seen));
    check_exactly_once(what, seen, producers, n);
}

/// Single-threaded: a `pop_slice` sees each `push_slice` batch as a contiguous run.
fn slices_are_contiguous_and_fifo_single_thread(storage: Storage) {
    with_queue!(storage, i32, 5, |q| slices_contiguous_on(q));
}

storage_tests!(slices_are_contiguous_and_fifo_single_thread);

fn slices_contiguous_on<S: Slots<i32>>(q: &Queue<i32, S>) {
    assert_eq!(q.push_slice(&[1, 2]), 2);
    assert_eq!(q.push(3), Ok(()));
    assert_eq!(q.push_slice(&[4, 5, 6, 7]), 2);
    assert!(q.is_full());
    assert_eq!(q.push_slice(&[8]), 0);
    let mut out = [0; 8];
    assert_eq!(q.pop_slice(&mut out[..3]), 3);
    assert_eq!(out[..3], [1, 2, 3]);
    // Wrap: positions 5.. reuse slots 0..
    assert_eq!(q.push_slice(&[8, 9, 10, 11]), 3);
    assert_eq!(q.pop_slice(&mut out), 5);
    assert_eq!(out[..5], [4, 5, 8, 9, 10]);
    assert_eq!(q.pop_slice(&mut out), 0);
    assert_eq!(q.push_slice(&[]), 0);
    assert_eq!(q.pop_slice(&mut []), 0);
    assert!(q.is_empty());
}

// ---------------------------------------------------------------------------
// 3. force_push under contention
// ---------------------------------------------------------------------------

fn stress_force_push(
    storage: Storage,
    producers: usize,
    consumers: usize,
    capacity: usize,
    n: usize,
) {
    with_queue!(storage, Item, capacity, |q| stress_force_push_on(
        q, producers, consumers, n
    ));
}

fn stress_force_push_on<S: Slots<Item>>(
    q: &Queue<Item, S>,
    producers: usize,
    consumers: usize,
    n: usize,
) {
    let capacity = q.capacity();
    let what = format!("stress_force_push P={producers} C={consumers} cap={capacity}");
    let producers_done = AtomicUsize::new(0);
    let (displaced, popped): (Vec<Vec<Item>>, Vec<Vec<Item>>) = thread::scope(|s| {
        let prod: Vec<_> = (0..producers)
            .map(|p| {
                let done = &producers_done;
                s.spawn(move || {
                    let _done = DoneOnDrop(done);
                    let mut displaced = Vec::new();
                    for seq in 0..n {
                        if let Some(old) = q.force_push(Item::new(p, seq)).unwrap() {
                            assert!(
                                old != Item::new(p, seq),
                                "force_push displaced the item it pushed"
                            );
                            displaced.push(old);
                        }
                        assert!(q.len() <= capacity);
                    }
                    displaced
                })
            })
            .collect();
        let cons: Vec<_> = (0..consumers)
            .map(|_| {
                let done = &producers_done;
                s.spawn(move || {
                    let mut seen = Vec::new();
                    // Bounded: producers finish in a bounded number of pushes.
                    while done.load(Ordering::Acquire) < producers {
                        match q.pop() {
                            Some(item) => seen.push(item),
                            None => thread::yield_now(),
                        }
                    }
                    seen
                })
            })
            .collect();
        (
            prod.into_iter().map(|h| h.join().unwrap()).collect(),
            cons.into_iter().map(|h| h.join().unwrap()).collect(),
        )
    });
    // Final drain.
    let mut drained = Vec::new();
    while let Some(item) = q.pop() {
        drained.push(item);
    }
    assert!(
        drained.len() <= capacity,
        "{what}: drained {} > capacity",
        drained.len()
    );
    if consumers == 0 && producers * n >= capacity {
        // Without consumers, force_push keeps the queue full once it fills and
        // displaces exactly the surplus.
        assert_eq!(
            drained.len(),
            capacity,
            "{what}: force_push did not fill the queue"
        );
        let displaced_total: usize = displaced.iter().map(Vec::len).sum();
        assert_eq!(
            displaced_total,
            producers * n - capacity,
            "{what}: displaced count"
        );
    }
    // Displaced items are removed oldest-first, so each displacing thread also sees
    // each producer's items in order; so does the final drain.
    check_per_producer_order(&format!("{what} (displaced)"), &displaced);
    check_per_producer_order(&format!("{what} (popped)"), &popped);
    check_per_producer_order(&format!("{what} (drained)"), std::slice::from_ref(&drained));
    let all = displaced
        .into_iter()
        .flatten()
        .chain(popped.into_iter().flatten())
        .chain(drained);
    check_exactly_once(&what, all, producers, n);
}

fn stress_force_push_grid(storage: Storage) {
    for &capacity in stress_capacities(storage) {
        for &p in thread_counts(storage) {
            for c in [0, 1, 2] {
                stress_force_push(storage, p, c, capacity, per_producer(storage));
            }
        }
    }
}

/// Single-threaded `force_push` semantics, across laps and capacities.
fn force_push_displaces_oldest(storage: Storage) {
    for capacity in [1, 2, 3, 5, 8] {
        with_queue!(
            storage,
            usize,
            capacity,
            |q| force_push_displaces_oldest_on(q)
        );
    }
}

storage_tests!(stress_force_push_grid, force_push_displaces_oldest);

fn force_push_displaces_oldest_on<S: Slots<usize>>(q: &Queue<usize, S>) {
    let capacity = q.capacity();
    for i in 0..capacity {
        assert_eq!(q.force_push(i), Ok(None));
    }
    assert!(q.is_full());
    for i in capacity..capacity * 5 + 2 {
        assert_eq!(q.force_push(i), Ok(Some(i - capacity)), "cap {capacity}");
        assert_eq!(q.len(), capacity);
    }
    let top = capacity * 5 + 2;
    for i in top - capacity..top {
        assert_eq!(q.pop(), Some(i));
    }
    assert_eq!(q.pop(), None);
    // After the displacements, plain pushes and pops still work.
    assert_eq!(q.push(100), Ok(()));
    assert_eq!(q.force_push(101).unwrap().is_some(), capacity == 1);
}

// ---------------------------------------------------------------------------
// 4. Differential property test against a VecDeque model
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Push(u32),
    Pop,
    ForcePush(u32),
    PushSlice(Vec<u32>),
    PopSlice(usize),
    Len,
    IsEmpty,
    IsFull,
    Capacity,
    /// `close()`: from then on the model refuses pushes and still gives out its items.
    Close,
    IsClosed,
}

fn op_strategy(capacity: usize) -> impl Strategy<Value = Op> {
    let max_slice = capacity * 2 + 2;
    prop_oneof![
        4 => any::<u32>().prop_map(Op::Push),
        4 => Just(Op::Pop),
        2 => any::<u32>().prop_map(Op::ForcePush),
        2 => prop::collection::vec(any::<u32>(), 0..=max_slice).prop_map(Op::PushSlice),
        2 => (0..=max_slice).prop_map(Op::PopSlice),
        1 => Just(Op::Len),
        1 => Just(Op::IsEmpty),
        1 => Just(Op::IsFull),
        1 => Just(Op::Capacity),
        1 => Just(Op::IsClosed),
    ]
}

/// Ops for a model run: `op_strategy`'s, with a `Close` inserted at a random point in
/// about two runs of three (and a second one, which must return `false`, in some), so
/// that runs check the open queue, the closing and the drain after it.
fn ops_strategy(capacity: usize) -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(op_strategy(capacity), 0..400),
        prop::option::weighted(0.67, 0..400usize),
        prop::option::weighted(0.2, 0..400usize),
    )
        .prop_map(|(mut ops, first, second)| {
            for at in [first, second].into_iter().flatten() {
                ops.insert(at.min(ops.len()), Op::Close);
            }
            ops
        })
}

fn capacity_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 1..=17usize,
        1 => prop::sample::select(vec![31usize, 32, 33, 63, 64, 65, 100, 1000]),
    ]
}

/// Applies `op` to both the queue and the model (its items, and whether it is closed)
/// and compares the results.
fn apply<S: Slots<u32>>(
    q: &Queue<u32, S>,
    model: &mut VecDeque<u32>,
    closed: &mut bool,
    capacity: usize,
    op: &Op,
) -> Result<(), String> {
    macro_rules! check {
        ($got:expr, $want:expr) => {{
            let (got, want) = ($got, $want);
            if got != want {
                return Err(format!("{op:?}: got {got:?}, model says {want:?}"));
            }
        }};
    }
    match op {
        Op::Push(v) => {
            let want = if *closed {
                Err(PushError::Disconnected(*v))
            } else if model.len() < capacity {
                model.push_back(*v);
                Ok(())
            } else {
                Err(PushError::Full(*v))
            };
            check!(q.push(*v), want);
        }
        Op::Pop => check!(q.pop(), model.pop_front()),
        Op::ForcePush(v) => {
            let want = if *closed {
                Err(Disconnected(*v))
            } else if model.len() == capacity {
                let oldest = model.pop_front();
                model.push_back(*v);
                Ok(oldest)
            } else {
                model.push_back(*v);
                Ok(None)
            };
            check!(q.force_push(*v), want);
        }
        Op::PushSlice(items) => {
            let n = if *closed {
                0
            } else {
                items.len().min(capacity - model.len())
            };
            model.extend(&items[..n]);
            check!(q.push_slice(items), n);
        }
        Op::PopSlice(len) => {
            let mut buf = vec![u32::MAX; *len];
            let got = q.pop_slice(&mut buf);
            let want: Vec<u32> = (0..(*len).min(model.len()))
                .map(|_| model.pop_front().unwrap())
                .collect();
            check!(got, want.len());
            check!(&buf[..got], &want[..]);
            // The rest of `dst` is untouched.
            check!(buf[got..].iter().all(|&x| x == u32::MAX), true);
        }
        Op::Len => check!(q.len(), model.len()),
        Op::IsEmpty => check!(q.is_empty(), model.is_empty()),
        Op::IsFull => check!(q.is_full(), model.len() == capacity),
        Op::Capacity => check!(q.capacity(), capacity),
        Op::Close => {
            check!(q.close(), !*closed);
            *closed = true;
        }
        Op::IsClosed => check!(q.is_closed(), *closed),
    }
    // Invariants after every op.
    check!(q.len(), model.len());
    check!(q.is_closed(), *closed);
    Ok(())
}

fn run_model(storage: Storage, capacity: usize, ops: &[Op]) -> Result<(), String> {
    with_queue!(storage, u32, capacity, |q| run_model_on(q, ops))
}

fn run_model_on<S: Slots<u32>>(q: &Queue<u32, S>, ops: &[Op]) -> Result<(), String> {
    let capacity = q.capacity();
    let mut model = VecDeque::new();
    let mut closed = false;
    for (i, op) in ops.iter().enumerate() {
        apply(q, &mut model, &mut closed, capacity, op)
            .map_err(|e| format!("op #{i}, cap {capacity}: {e}"))?;
    }
    // Final drain matches the model.
    let mut rest = Vec::new();
    while let Some(v) = q.pop() {
        rest.push(v);
    }
    let want: Vec<u32> = model.into_iter().collect();
    if rest != want {
        return Err(format!("final drain {rest:?} != model {want:?}"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[cfg(feature = "alloc")]
    #[test]
    #[cfg_attr(miri, ignore)]
    fn differential_vs_vecdeque(
        (capacity, ops) in capacity_strategy().prop_flat_map(|cap| {
            (Just(cap), ops_strategy(cap))
        })
    ) {
        if let Err(e) = run_model(Storage::Heap, capacity, &ops) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn differential_vs_vecdeque_static(
        (capacity, ops) in prop::sample::select(storage::STATIC_QUEUE_CAPS).prop_flat_map(|cap| {
            (Just(cap), ops_strategy(cap))
        })
    ) {
        if let Err(e) = run_model(Storage::Static, capacity, &ops) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// A long deterministic differential run (many laps for every capacity), which also
/// runs under Miri in a shortened form.
fn differential_many_laps_deterministic(storage: Storage) {
    let steps = if cfg!(miri) { 300 } else { 40_000 };
    let caps: Vec<usize> = if cfg!(miri) {
        vec![1, 2, 3, 4, 5, 7, 8, 9]
    } else {
        (1..=17).chain([31, 32, 33, 100, 1000]).collect()
    };
    // On the static storage: the capacities the test harness instantiates (under Miri,
    // one of them).
    let caps: Vec<usize> = match storage {
        Storage::Heap => caps,
        Storage::Static => caps
            .into_iter()
            .filter(|c| storage::STATIC_QUEUE_CAPS.contains(c))
            .filter(|&c| !cfg!(miri) || c == 3)
            .collect(),
    };
    for capacity in caps {
        let mut rng = Rng::new(capacity as u64 * 7919);
        let max_slice = capacity * 2 + 2;
        let ops: Vec<Op> = (0..steps)
            .map(|step| {
                // The last quarter runs on the closed queue (closed twice: the second
                // `close` returns `false`): pushes refused, pops drain.
                if step == steps * 3 / 4 || step == steps * 7 / 8 {
                    return Op::Close;
                }
                // Bias towards filling and emptying in turns so laps wrap at every fill level.
                match rng.below(12) {
                    0..=2 => Op::Push(rng.next_u64() as u32),
                    3..=5 => Op::Pop,
                    6 => Op::ForcePush(rng.next_u64() as u32),
                    7 => Op::PushSlice((0..rng.below(max_slice + 1)).map(|i| i as u32).collect()),
                    8 => Op::PopSlice(rng.below(max_slice + 1)),
                    9 => Op::Len,
                    10 => Op::IsFull,
                    _ => Op::IsEmpty,
                }
            })
            .collect();
        run_model(storage, capacity, &ops).unwrap();
    }
}

storage_tests!(differential_many_laps_deterministic);

// ---------------------------------------------------------------------------
// 5. Drop accounting
// ---------------------------------------------------------------------------

/// Items left in the queue are dropped exactly once when it is dropped, after any
/// number of wraps, pops and displacements.
fn drop_leftovers_exactly_once(storage: Storage) {
    let caps: &[usize] = if cfg!(miri) {
        storage.heavy(&[1, 2, 3, 5], &[3])
    } else {
        &[1, 2, 3, 4, 5, 7, 8, 16, 17]
    };
    for &capacity in caps {
        for fill in 0..=capacity {
            for laps in [0, 1, 3] {
                let tracker = DropTracker::new();
                with_queue!(storage, Tracked<'_>, capacity, |q| {
                    drop_leftovers_on(q, &tracker, fill, laps)
                });
                tracker.assert_all_dropped_once();
            }
        }
    }
}

storage_tests!(drop_leftovers_exactly_once);

fn drop_leftovers_on<'t, S: Slots<Tracked<'t>>>(
    q: &Queue<Tracked<'t>, S>,
    tracker: &'t DropTracker,
    fill: usize,
    laps: usize,
) {
    let capacity = q.capacity();
    // Advance `laps` laps plus a partial one so head/tail are at every offset.
    for _ in 0..laps * capacity + fill / 2 + 1 {
        q.push(tracker.item()).unwrap();
        drop(q.pop().unwrap());
    }
    for _ in 0..fill {
        q.push(tracker.item()).unwrap();
    }
    assert_eq!(q.len(), fill);
    // A refused push hands the item back; dropping it here is its one drop.
    if fill == capacity {
        let err = q.push(tracker.item()).unwrap_err();
        drop(err.into_inner());
        // Displace a few (they drop here, in the test).
        for _ in 0..capacity + 1 {
            let old = q.force_push(tracker.item()).unwrap().expect("full queue");
            assert!(tracker.drops_of(old.id()) == 0);
        }
    }
    tracker.assert_no_double_drop();
    let live = tracker.live();
    assert_eq!(
        live, fill,
        "cap {capacity} fill {fill}: live items before drop"
    );
}

/// A concurrent mix of pushes, force_pushes and pops with drop-tracked items, then the
/// queue is dropped with items left in it: every item is dropped exactly once.
fn drop_after_concurrent_use(storage: Storage) {
    let n = if cfg!(miri) { 10 } else { 2_000 };
    for &capacity in stress_capacities(storage) {
        let tracker = DropTracker::new();
        // Create all items up front so threads need not share the tracker's counter.
        let batches: Vec<Vec<Tracked<'_>>> = (0..3)
            .map(|_| (0..n).map(|_| tracker.item()).collect())
            .collect();
        with_queue!(storage, Tracked<'_>, capacity, |q| {
            drop_after_concurrent_use_on(q, &tracker, batches, n)
        });
        tracker.assert_all_dropped_once();
    }
}

storage_tests!(drop_after_concurrent_use);

fn drop_after_concurrent_use_on<'t, S: Slots<Tracked<'t>>>(
    q: &Queue<Tracked<'t>, S>,
    tracker: &'t DropTracker,
    mut batches: Vec<Vec<Tracked<'t>>>,
    n: usize,
) {
    let capacity = q.capacity();
    thread::scope(|s| {
        for (p, batch) in batches.drain(..).enumerate() {
            s.spawn(move || {
                for item in batch {
                    if p == 0 {
                        drop(q.force_push(item));
                    } else if let Err(e) = q.push(item) {
                        drop(e.into_inner());
                    }
                }
            });
        }
        s.spawn(move || {
            for _ in 0..n / 2 {
                drop(q.pop());
            }
        });
    });
    // Leave at least one item (most runs leave more) for the queue's drop.
    drop(q.force_push(tracker.item()));
    tracker.assert_no_double_drop();
    assert!(tracker.live() <= capacity);
    assert_eq!(tracker.live(), q.len(), "cap {capacity}: live items vs len");
}

fn zst_without_drop(storage: Storage) {
    let caps: &[usize] = if storage.miri_static() {
        &[3]
    } else {
        &[1, 2, 3, 16]
    };
    for &capacity in caps {
        with_queue!(storage, (), capacity, |q| zst_without_drop_on(q));
    }
}

fn zst_without_drop_on<S: Slots<()>>(q: &Queue<(), S>) {
    let capacity = q.capacity();
    for round in 0..5 {
        for i in 0..capacity {
            assert_eq!(q.len(), i, "round {round}");
            q.push(()).unwrap();
        }
        assert!(q.is_full());
        assert_eq!(q.push(()), Err(PushError::Full(())));
        assert_eq!(q.force_push(()), Ok(Some(())));
        assert_eq!(q.push_slice(&[(), ()]), 0);
        let mut out = [(); 3];
        let got = q.pop_slice(&mut out);
        assert_eq!(got, capacity.min(3));
        for _ in got..capacity {
            assert_eq!(q.pop(), Some(()));
        }
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
        assert_eq!(q.push_slice(&[(); 20]), capacity);
        while q.pop().is_some() {}
    }
}

fn zst_with_drop(storage: Storage) {
    // One drop counter per storage: the two variants run in parallel.
    match storage {
        Storage::Heap => zst_with_drop_with::<3>(storage),
        Storage::Static => zst_with_drop_with::<5>(storage),
    }
}

fn zst_with_drop_with<const TAG: usize>(storage: Storage) {
    let before = ZstDrop::<TAG>::drops();
    let mut expected = 0;
    with_queue!(storage, ZstDrop<TAG>, 3, |q| {
        for _ in 0..7 {
            q.push(ZstDrop).unwrap();
            drop(q.pop().unwrap());
            expected += 1;
        }
        for _ in 0..3 {
            q.push(ZstDrop).unwrap();
        }
        let err = q.push(ZstDrop).unwrap_err();
        drop(err);
        expected += 1;
        let old = q.force_push(ZstDrop).expect("full");
        drop(old);
        expected += 1;
        assert_eq!(ZstDrop::<TAG>::drops() - before, expected);
        assert_eq!(q.len(), 3);
    });
    expected += 3; // the three left in the queue
    assert_eq!(ZstDrop::<TAG>::drops() - before, expected);
}

/// Threaded ZST-with-Drop: popped + left-over drops add up exactly.
fn zst_with_drop_concurrent(storage: Storage) {
    match storage {
        Storage::Heap => zst_with_drop_concurrent_with::<4>(storage),
        Storage::Static => zst_with_drop_concurrent_with::<6>(storage),
    }
}

storage_tests!(zst_without_drop, zst_with_drop, zst_with_drop_concurrent);

fn zst_with_drop_concurrent_with<const TAG: usize>(storage: Storage) {
    let n = if cfg!(miri) {
        storage.heavy(20, 8)
    } else {
        5_000
    };
    let before = ZstDrop::<TAG>::drops();
    let (left, pushed) = with_queue!(storage, ZstDrop<TAG>, 2, |q| {
        zst_with_drop_concurrent_on(q, n)
    });
    assert!(left <= 2 && pushed >= left);
    // Refused pushes and pops dropped theirs on the threads, the queue the rest.
    assert_eq!(ZstDrop::<TAG>::drops() - before, 2 * n);
}

/// Runs the threads; returns (items left, items pushed).
fn zst_with_drop_concurrent_on<const TAG: usize, S: Slots<ZstDrop<TAG>>>(
    q: &Queue<ZstDrop<TAG>, S>,
    n: usize,
) -> (usize, usize) {
    let pushed = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            let pushed = &pushed;
            s.spawn(move || {
                for _ in 0..n {
                    if q.push(ZstDrop).is_ok() {
                        pushed.fetch_add(1, Ordering::Relaxed);
                    }
                    // a failed push drops its value here
                }
            });
        }
        s.spawn(|| {
            for _ in 0..n {
                drop(q.pop());
            }
        });
    });
    (q.len(), pushed.into_inner())
}

// ---------------------------------------------------------------------------
// 6. Constructor panics
// ---------------------------------------------------------------------------

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity")]
fn capacity_zero_panics() {
    let _ = Queue::<u64>::new(0);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity")]
fn capacity_zero_panics_zst() {
    let _ = Queue::<()>::new(0);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_usize_max_panics() {
    let _ = Queue::<u64>::new(usize::MAX);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_usize_max_panics_zst() {
    let _ = Queue::<()>::new(usize::MAX);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_above_isize_max_bytes_panics() {
    // 2^61 slots of at least 16 bytes (2^29 of at least 12 on a 32-bit target): more
    // than isize::MAX bytes, but the lap arithmetic alone would not overflow.
    let _ = Queue::<u64>::new(1 << (usize::BITS - 3));
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_half_usize_panics() {
    let _ = Queue::<u8>::new(usize::MAX / 2 + 1);
}

// ---------------------------------------------------------------------------
// 7. Send / Sync pins
// ---------------------------------------------------------------------------

assert_impl_all!(Queue<u8>: Send, Sync, std::fmt::Debug);
assert_impl_all!(Queue<String>: Send, Sync);
assert_impl_all!(Queue<()>: Send, Sync);
// `Cell` is Send but not Sync: the queue only moves values, so it is still Sync.
assert_impl_all!(Queue<Cell<u8>>: Send, Sync);
assert_impl_all!(Queue<std::sync::mpsc::Receiver<u8>>: Send, Sync);
assert_not_impl_any!(Queue<Rc<u8>>: Send, Sync);
assert_not_impl_any!(Queue<*const u8>: Send, Sync);
// `MutexGuard` is Sync but not Send: the queue is neither.
assert_not_impl_any!(Queue<std::sync::MutexGuard<'static, u8>>: Send, Sync);
assert_impl_all!(PushError<Rc<u8>>: std::fmt::Debug);
// The same for the static queue, and the queue it dereferences to.
assert_impl_all!(StaticQueue<u8, 4>: Send, Sync, std::fmt::Debug);
assert_impl_all!(StaticQueue<Cell<u8>, 4>: Send, Sync);
assert_impl_all!(Queue<u8, Inline<u8, 4>>: Send, Sync, std::fmt::Debug);
assert_not_impl_any!(StaticQueue<Rc<u8>, 4>: Send, Sync);
assert_not_impl_any!(StaticQueue<std::sync::MutexGuard<'static, u8>, 4>: Send, Sync);
// The owning iterator holds the queue: the same rules.
assert_impl_all!(ringway::mpmc::IntoIter<u8>: Send, Sync, std::fmt::Debug);
assert_impl_all!(ringway::mpmc::IntoIter<Cell<u8>, Inline<Cell<u8>, 4>>: Send, Sync);
assert_not_impl_any!(ringway::mpmc::IntoIter<Rc<u8>>: Send, Sync);
assert_not_impl_any!(Queue<Rc<u8>, Inline<Rc<u8>, 4>>: Send, Sync);
// `Queue<T>` is `Queue<T, Heap<T>>`.
assert_impl_all!(Queue<u8, Heap<u8>>: Send, Sync);

/// Neither `Debug` nor anything else.
struct Opaque;

/// `Debug` needs no `T: Debug`.
fn debug_without_t_debug(storage: Storage) {
    with_queue!(storage, Opaque, 2, |q| {
        assert!(q.push(Opaque).is_ok());
        let s = format!("{q:?}");
        assert!(s.contains("capacity: 2") && s.contains("len: 1"), "{s}");
    });
}

storage_tests!(debug_without_t_debug);

// ---------------------------------------------------------------------------
// 8. len under concurrency
// ---------------------------------------------------------------------------

/// While producers (push / force_push / push_slice) and consumers (pop / pop_slice)
/// run, a poller never sees `len() > capacity` nor inconsistent `is_empty`/`is_full`.
fn len_bounded_under_concurrency(storage: Storage) {
    let n = if cfg!(miri) {
        storage.heavy(30, 15)
    } else {
        storage.heavy(20_000, 5_000)
    };
    for &capacity in stress_capacities(storage) {
        with_queue!(storage, Item, capacity, |q| len_bounded_on(q, n));
    }
}

storage_tests!(len_bounded_under_concurrency);

fn len_bounded_on<S: Slots<Item>>(q: &Queue<Item, S>, n: usize) {
    let capacity = q.capacity();
    let stop = AtomicBool::new(false);
    let polled = AtomicBool::new(false);
    let max_seen = AtomicUsize::new(0);
    thread::scope(|s| {
        let poller = {
            let (stop, max_seen, polled) = (&stop, &max_seen, &polled);
            s.spawn(move || {
                let mut polls = 0u64;
                loop {
                    let len = q.len();
                    assert!(len <= capacity, "len {len} > capacity {capacity}");
                    max_seen.fetch_max(len, Ordering::Relaxed);
                    if q.is_full() {
                        // snapshot may change, but is_full never claims more than capacity
                        assert!(q.len() <= capacity);
                    }
                    polls += 1;
                    polled.store(true, Ordering::Release);
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    if cfg!(miri) {
                        thread::yield_now();
                    }
                }
                polls
            })
        };
        let workers: Vec<_> = (0..3)
            .map(|t| {
                let polled = &polled;
                s.spawn(move || {
                    // Start once the poller runs, so it overlaps with the work.
                    while !polled.load(Ordering::Acquire) {
                        thread::yield_now();
                    }
                    let mut rng = Rng::new(t as u64 + 99);
                    let mut buf = vec![Item::default(); capacity + 1];
                    for i in 0..n {
                        match rng.below(6) {
                            0 => drop(q.push(Item::new(t, i))),
                            1 => drop(q.force_push(Item::new(t, i))),
                            2 => {
                                let len = rng.range(1, capacity + 1);
                                buf[..len].fill(Item::new(t, i));
                                q.push_slice(&buf[..len]);
                            }
                            3 | 4 => drop(q.pop()),
                            _ => {
                                let len = rng.range(1, capacity + 1);
                                q.pop_slice(&mut buf[..len]);
                            }
                        }
                        let len = q.len();
                        assert!(len <= capacity, "len {len} > capacity {capacity}");
                    }
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        // Stop the poller before propagating a worker's panic, or the scope hangs.
        stop.store(true, Ordering::Release);
        let polls = poller.join().unwrap();
        for r in results {
            r.unwrap();
        }
        assert!(polls > 0);
    });
    assert!(q.len() <= capacity);
}

/// With only producers running, a single observer never sees `len` go down; with
/// only consumers running, never up (head and tail only advance).
fn len_monotone_one_sided(storage: Storage) {
    // The static queue: 3 * 8 slots (3 * 3 under Miri).
    let per = if cfg!(miri) {
        storage.heavy(8, 3)
    } else {
        storage.heavy(3_000, 8)
    };
    with_queue!(storage, usize, 3 * per, |q| len_monotone_on(q, per));
}

storage_tests!(len_monotone_one_sided);

fn len_monotone_on<S: Slots<usize>>(q: &Queue<usize, S>, per: usize) {
    let capacity = q.capacity();
    let done = AtomicUsize::new(0);
    let check = |q: &Queue<usize, S>, done: &AtomicUsize, up: bool| {
        let mut last = q.len();
        while done.load(Ordering::Acquire) < 3 {
            let len = q.len();
            assert!(len <= capacity);
            if up {
                assert!(
                    len >= last,
                    "len went down from {last} to {len} with only pushes"
                );
            } else {
                assert!(
                    len <= last,
                    "len went up from {last} to {len} with only pops"
                );
            }
            last = len;
            if cfg!(miri) {
                thread::yield_now();
            }
        }
    };
    thread::scope(|s| {
        for t in 0..3 {
            let done = &done;
            s.spawn(move || {
                let _done = DoneOnDrop(done);
                for i in 0..per {
                    if i % 2 == 0 {
                        q.push(t * per + i).unwrap();
                    } else {
                        assert_eq!(q.push_slice(&[t * per + i]), 1);
                    }
                }
            });
        }
        check(q, &done, true);
    });
    assert_eq!(q.len(), capacity);
    assert!(q.is_full());
    done.store(0, Ordering::Release);
    thread::scope(|s| {
        for t in 0..3 {
            let done = &done;
            s.spawn(move || {
                let _done = DoneOnDrop(done);
                let mut buf = [0; 2];
                let mut got = 0;
                while got < per {
                    if t == 0 {
                        got += usize::from(q.pop().is_some());
                    } else {
                        got += q.pop_slice(&mut buf[..(per - got).min(2)]);
                    }
                }
            });
        }
        check(q, &done, false);
    });
    assert!(q.is_empty());
}

/// `len` is a consistent snapshot: with the queue kept nearly full (each worker pops
/// one item, then pushes one back), it stays within `capacity - workers ..= capacity`;
/// kept nearly empty (push one, then pop one), within `0 ..= workers`. A `len` built
/// from a stale `head` and a fresh `tail` would show the wrap-around as a wrong count.
fn len_is_a_consistent_snapshot(storage: Storage) {
    let rounds = if cfg!(miri) {
        storage.heavy(20, 8)
    } else {
        storage.heavy(20_000, 5_000)
    };
    let caps: &[usize] = if storage.miri_static() {
        &[3]
    } else {
        &[3, 5, 16]
    };
    for &capacity in caps {
        for near_full in [true, false] {
            with_queue!(storage, usize, capacity, |q| {
                len_snapshot_on(q, rounds, near_full)
            });
        }
    }
}

storage_tests!(len_is_a_consistent_snapshot);

fn len_snapshot_on<S: Slots<usize>>(q: &Queue<usize, S>, rounds: usize, near_full: bool) {
    let workers = 2;
    let capacity = q.capacity();
    if near_full {
        assert_eq!(q.push_slice(&vec![0; capacity]), capacity);
    }
    let done = AtomicUsize::new(0);
    let (lo, hi) = if near_full {
        (capacity - workers, capacity)
    } else {
        (0, workers)
    };
    thread::scope(|s| {
        for w in 0..workers {
            let done = &done;
            s.spawn(move || {
                let _done = DoneOnDrop(done);
                for i in 0..rounds {
                    if near_full {
                        let v = q.pop().expect("near-full queue ran empty");
                        if i % 3 == w {
                            assert_eq!(q.force_push(v), Ok(None));
                        } else {
                            q.push(v).expect("near-full queue overflowed");
                        }
                    } else {
                        q.push(i).expect("near-empty queue overflowed");
                        let mut one = [0];
                        if i % 2 == w {
                            assert_eq!(q.pop_slice(&mut one), 1);
                        } else {
                            q.pop().expect("near-empty queue ran empty");
                        }
                    }
                }
            });
        }
        while done.load(Ordering::Acquire) < workers {
            let len = q.len();
            assert!(
                (lo..=hi).contains(&len),
                "cap {capacity}: len {len} outside {lo}..={hi} (near_full {near_full})"
            );
            if cfg!(miri) {
                thread::yield_now();
            }
        }
    });
    assert_eq!(q.len(), if near_full { capacity } else { 0 });
}

// ---------------------------------------------------------------------------
// 9. Linearizability of the empty / full answers
// ---------------------------------------------------------------------------

/// Workers each push one item, then pop one. A worker that has pushed and not yet
/// popped knows the queue holds at least one item (every thread has pushed at least
/// as often as it popped, this one once more), so its pop must not report empty, in
/// any linearization. A `pop` (or `pop_slice`) that reads `head`/`tail` without
/// synchronising with the thread that advanced them can see a stale, "empty" state.
fn pop_after_own_push_is_never_empty(storage: Storage) {
    let rounds = if cfg!(miri) {
        storage.heavy(40, 5)
    } else {
        storage.heavy(20_000, 5_000)
    };
    let caps: &[usize] = if storage.miri_static() {
        &[2]
    } else {
        &[1, 2, 3, 4]
    };
    for &capacity in caps {
        for workers in [2, 3] {
            if workers > capacity + 1 {
                // More outstanding pushes than slots would make the push itself wait.
                continue;
            }
            with_queue!(storage, usize, capacity.max(workers), |q| {
                pop_after_own_push_on(q, workers, rounds)
            });
        }
    }
}

storage_tests!(pop_after_own_push_is_never_empty);

fn pop_after_own_push_on<S: Slots<usize>>(q: &Queue<usize, S>, workers: usize, rounds: usize) {
    thread::scope(|s| {
        for w in 0..workers {
            s.spawn(move || {
                let mut one = [0];
                for i in 0..rounds {
                    // At most `workers` items are ever in the queue.
                    q.push(i).expect("push to a queue with a free slot failed");
                    let got = if (i + w) % 2 == 0 {
                        q.pop().is_some()
                    } else {
                        q.pop_slice(&mut one) == 1
                    };
                    assert!(
                        got,
                        "worker {w} round {i}: pop said empty right after its own push"
                    );
                }
            });
        }
    });
    assert!(q.is_empty());
}

/// Yields until `flag` is set, at most `patience` times. Only steers the schedule: the
/// flag is `Relaxed`, so seeing it set gives the waiting thread no view of what the
/// setter did before.
fn yield_until(flag: &AtomicBool, patience: usize) {
    for _ in 0..patience {
        if flag.load(Ordering::Relaxed) {
            return;
        }
        thread::yield_now();
    }
}

/// The race of `pop_after_own_push_is_never_empty` with a displacement in it, at
/// capacity 2, round after round: worker 0 (the scope's own thread) pushes 0
/// (accepting `Full`, which it can find only if 10 and 11 are both in), then pops
/// once; worker 1 pushes 10, then force-pushes 11. At most one push displaces, so
/// after its own push (or its `Full`) worker 0 always leaves an item queued: its pop
/// must never report empty. Also checked: every item is popped, displaced or left
/// queued, exactly once, and none is both displaced and popped.
///
/// This is what the `Release` of the displacing `head` compare-and-swap (with
/// `load_head`'s `Acquire`) is for: when worker 1's force-push displaces 0, worker 0's
/// pop reads the displacer's `head`; without synchronising with the displacer it need
/// not see worker 1's push of 10 (its stamp or its `tail` claim), finds the slot at
/// `head` empty for this lap and `tail == head` (its own claim), and reports empty
/// though 10 and 11 are queued. loom cannot reach that execution (see
/// `loom-tests/tests/mpmc.rs`, same name); Miri's weak-memory emulation, over many
/// seeds, does. So that the displacement falls between worker 0's push and pop, most
/// rounds order the three steps with `Relaxed` flags and bounded yields (no
/// synchronisation); every fourth round races freely. The barrier between rounds
/// lets the next round start from an empty queue; it orders nothing inside a round.
#[cfg(feature = "alloc")]
#[test]
fn pop_after_own_push_races_displacement() {
    let rounds = if cfg!(miri) { 24 } else { 5_000 };
    let patience = |round: usize| if round % 4 == 3 { 0 } else { 64 };
    let q = Queue::<usize>::new(2);
    let barrier = Barrier::new(2);
    let (pushed, force_pushed, failed) = (
        AtomicBool::new(false),
        AtomicBool::new(false),
        AtomicBool::new(false),
    );
    // Per round: worker 0's (pushed 0, popped, left queued), worker 1's (pushed 10,
    // displaced). Nothing in the rounds panics, so a failure cannot strand the other
    // worker at the barrier; the checks run after the scope.
    let (zero, one) = thread::scope(|s| {
        let worker_1 = s.spawn(|| {
            let mut log = Vec::new();
            for round in 0..rounds {
                barrier.wait();
                yield_until(&pushed, patience(round));
                let pushed_10 = q.push(10).is_ok();
                let displaced = q.force_push(11).unwrap();
                force_pushed.store(true, Ordering::Relaxed);
                log.push((pushed_10, displaced));
                barrier.wait();
                if failed.load(Ordering::Relaxed) {
                    break;
                }
            }
            log
        });
        let mut log = Vec::new();
        for round in 0..rounds {
            barrier.wait();
            let pushed_0 = q.push(0).is_ok();
            pushed.store(true, Ordering::Relaxed);
            yield_until(&force_pushed, patience(round));
            let popped = if round % 2 == 0 {
                q.pop()
            } else {
                let mut one = [0];
                (q.pop_slice(&mut one) == 1).then_some(one[0])
            };
            if popped.is_none() {
                failed.store(true, Ordering::Relaxed);
            }
            barrier.wait();
            let queued: Vec<usize> = std::iter::from_fn(|| q.pop()).collect();
            pushed.store(false, Ordering::Relaxed);
            force_pushed.store(false, Ordering::Relaxed);
            log.push((pushed_0, popped, queued));
            if failed.load(Ordering::Relaxed) {
                break;
            }
        }
        (log, worker_1.join().unwrap())
    });
    assert_eq!(zero.len(), one.len());
    for (round, ((pushed_0, popped, queued), (pushed_10, displaced))) in
        zero.into_iter().zip(one).enumerate()
    {
        assert!(
            pushed_10,
            "round {round}: push 10 said full with one other item queued"
        );
        let popped =
            popped.unwrap_or_else(|| panic!("round {round}: pop said empty after its own push"));
        assert_ne!(
            displaced,
            Some(popped),
            "round {round}: {popped} displaced and popped"
        );
        let mut seen: Vec<usize> = queued
            .into_iter()
            .chain([popped])
            .chain(displaced)
            .collect();
        seen.sort_unstable();
        let expected: Vec<usize> = [0]
            .into_iter()
            .filter(|_| pushed_0)
            .chain([10, 11])
            .collect();
        assert_eq!(seen, expected, "round {round}: items lost or duplicated");
    }
}

/// The mirror image: the queue starts full, workers each pop one item, then push it
/// back. A worker that has popped and not yet pushed knows a slot is free, so its
/// push must not report full.
fn push_after_own_pop_is_never_full(storage: Storage) {
    let rounds = if cfg!(miri) {
        storage.heavy(40, 5)
    } else {
        storage.heavy(20_000, 5_000)
    };
    let caps: &[usize] = if storage.miri_static() {
        &[3]
    } else {
        &[2, 3, 4]
    };
    for &capacity in caps {
        for workers in [2, 3] {
            if workers > capacity {
                continue;
            }
            with_queue!(storage, usize, capacity, |q| {
                push_after_own_pop_on(q, workers, rounds)
            });
        }
    }
}

storage_tests!(push_after_own_pop_is_never_full);

fn push_after_own_pop_on<S: Slots<usize>>(q: &Queue<usize, S>, workers: usize, rounds: usize) {
    let capacity = q.capacity();
    assert_eq!(q.push_slice(&vec![7; capacity]), capacity);
    thread::scope(|s| {
        for w in 0..workers {
            s.spawn(move || {
                for i in 0..rounds {
                    let v = q.pop().expect("pop from a queue with an item failed");
                    let ok = if (i + w) % 2 == 0 {
                        q.push(v).is_ok()
                    } else {
                        q.push_slice(&[v]) == 1
                    };
                    assert!(
                        ok,
                        "worker {w} round {i}: push said full right after its own pop"
                    );
                }
            });
        }
    });
    assert!(q.is_full());
}

// ---------------------------------------------------------------------------
// 10. The static queue's own API
// ---------------------------------------------------------------------------

/// A queue in a `static`, used from unscoped threads through `&'static`: every item
/// delivered once, per-producer order kept.
#[test]
#[cfg(not(ringway_loom))] // `const` constructors (a `static`) are not `const` under loom
fn static_queue_in_a_static() {
    static QUEUE: StaticQueue<Item, 7> = StaticQueue::new();
    let n = if cfg!(miri) { 5 } else { 2_000 };
    let producers: Vec<_> = (0..2)
        .map(|p| {
            thread::spawn(move || {
                for seq in 0..n {
                    while QUEUE.push(Item::new(p, seq)).is_err() {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let consumer = thread::spawn(move || {
        let mut seen = Vec::new();
        while seen.len() < 2 * n {
            match QUEUE.pop() {
                Some(item) => seen.push(item),
                None => thread::yield_now(),
            }
        }
        seen
    });
    for p in producers {
        p.join().unwrap();
    }
    let seen = consumer.join().unwrap();
    assert!(QUEUE.is_empty());
    check_per_producer_order("static queue", std::slice::from_ref(&seen));
    check_exactly_once("static queue", seen, 2, n);
}

/// `StaticQueue<T, N>` is a `Queue<T, Inline<T, N>>` of capacity `N` (any `N`), and it
/// drops what it holds once.
#[test]
fn static_queue_derefs_and_drops_once() {
    let tracker = DropTracker::new();
    {
        let q = StaticQueue::<Tracked<'_>, 3>::new();
        let inner: &Queue<Tracked<'_>, Inline<Tracked<'_>, 3>> = &q;
        assert_eq!(inner.capacity(), 3);
        for _ in 0..5 {
            drop(inner.force_push(tracker.item()));
        }
        assert_eq!(q.len(), 3);
        assert!(format!("{q:?}").starts_with("StaticQueue(Queue { capacity: 3, len: 3"));
    }
    tracker.assert_all_dropped_once();
    let _default: StaticQueue<u8, 1> = StaticQueue::default();
}

/// The waiting operations on a static queue built to park its waiters.
#[test]
#[cfg(not(ringway_loom))] // `const` constructors (a `static`) are not `const` under loom
#[cfg(feature = "std")]
fn static_queue_parking_waits() {
    use ringway::WaitStrategy;

    static QUEUE: StaticQueue<u32, 2> =
        StaticQueue::with_wait_strategy(WaitStrategy::SpinPark { spins: 8 });
    let n = if cfg!(miri) { 20 } else { 2_000 };
    let consumer =
        thread::spawn(move || (0..n).map(|_| QUEUE.pop_blocking().unwrap()).sum::<u32>());
    for i in 0..n {
        QUEUE.push_blocking(i).unwrap();
    }
    assert_eq!(consumer.join().unwrap(), n * (n - 1) / 2);
}

// ---------------------------------------------------------------------------
// Owned iteration (`IntoIterator`, as crossbeam's `ArrayQueue` has)
// ---------------------------------------------------------------------------

/// crossbeam-queue's `into_iter` test, and more: the items come out oldest first
/// after the positions wrapped, the length is exact, and the items not yielded are
/// dropped exactly once with the iterator.
#[cfg(feature = "alloc")]
#[test]
fn into_iter_moves_items_out_oldest_first() {
    let q = Queue::new(100);
    for i in 0..100 {
        q.push(i).unwrap();
    }
    for (i, j) in q.into_iter().enumerate() {
        assert_eq!(i, j);
    }

    // After wrapping (capacity 3, not a power of two), with drop tracking.
    let tracker = DropTracker::new();
    let q = Queue::new(3);
    for _ in 0..5 {
        q.push(tracker.item()).unwrap();
        drop(q.pop());
    }
    for _ in 0..3 {
        q.push(tracker.item()).unwrap();
    }
    let first_left = tracker.created() - 3;
    let mut items = q.into_iter();
    assert_eq!(items.size_hint(), (3, Some(3)));
    assert_eq!(items.next().map(|t| t.id()), Some(first_left));
    assert_eq!(items.len(), 2);
    drop(items); // the two not yielded
    tracker.assert_all_dropped_once();

    let empty = Queue::<u8>::new(1).into_iter();
    assert_eq!(empty.len(), 0);
    let mut empty = empty;
    assert_eq!((empty.next(), empty.next()), (None, None)); // fused
}

#[test]
fn static_queue_into_iter() {
    let tracker = DropTracker::new();
    let q = StaticQueue::<_, 4>::new();
    for _ in 0..4 {
        q.push(tracker.item()).unwrap();
    }
    let ids: Vec<usize> = q.into_iter().take(2).map(|t| t.id()).collect();
    assert_eq!(ids, [0, 1]);
    tracker.assert_all_dropped_once();
}

// ---------------------------------------------------------------------------
// 12. close
// ---------------------------------------------------------------------------

/// `close` on one thread, at every fill level and lap offset (so the drained pop seals
/// the slot at every index, including the last index of a lap): it returns `true` once;
/// every push is refused with its value (`push`, `force_push`, `push_slice`), full
/// queue or not; the pops drain the items left in FIFO order, then report nothing,
/// for good; `len`, `is_empty`, `is_full` and `Debug` still work; and the items left
/// in the queue when it is dropped are dropped exactly once.
fn close_refuses_pushes_and_drains(storage: Storage) {
    let caps: &[usize] = if cfg!(miri) {
        storage.heavy(&[1, 2, 3], &[3])
    } else {
        &[1, 2, 3, 4, 5, 7, 8, 9, 16, 17]
    };
    for &capacity in caps {
        for offset in 0..=capacity {
            for fill in 0..=capacity {
                for left in [0, fill / 2, fill] {
                    let tracker = DropTracker::new();
                    with_queue!(storage, Tracked<'_>, capacity, |q| {
                        close_then_drain_on(q, &tracker, offset, fill, left)
                    });
                    tracker.assert_all_dropped_once();
                }
            }
        }
    }
}

storage_tests!(close_refuses_pushes_and_drains);

/// Moves `q`'s positions `offset` in, pushes `fill` items, closes, checks the refusals,
/// pops all but `left` of them, and leaves `left` for the queue's drop.
fn close_then_drain_on<'t, S: Slots<Tracked<'t>>>(
    q: &Queue<Tracked<'t>, S>,
    tracker: &'t DropTracker,
    offset: usize,
    fill: usize,
    left: usize,
) {
    let capacity = q.capacity();
    let what = format!("cap {capacity} offset {offset} fill {fill} left {left}");
    for _ in 0..offset {
        q.push(tracker.item()).unwrap();
        drop(q.pop().unwrap());
    }
    let first = tracker.created();
    for _ in 0..fill {
        q.push(tracker.item()).unwrap();
    }
    assert!(!q.is_closed(), "{what}");
    assert!(format!("{q:?}").contains("closed: false"), "{what}: {q:?}");
    assert!(q.close(), "{what}: the first close did not close it");
    assert!(!q.close(), "{what}: the second close said it closed it");
    assert!(q.is_closed(), "{what}");
    assert!(format!("{q:?}").contains("closed: true"), "{what}: {q:?}");
    assert_eq!(q.len(), fill, "{what}: len after close");
    assert_eq!(q.is_full(), fill == capacity, "{what}");
    assert_eq!(q.is_empty(), fill == 0, "{what}");

    // Every push is refused, with its own value back, whether the queue is full or not.
    let refused = tracker.item();
    let id = refused.id();
    match q.push(refused) {
        Err(PushError::Disconnected(back)) => assert_eq!(back.id(), id, "{what}"),
        other => panic!("{what}: push on a closed queue gave {other:?}"),
    }
    let refused = tracker.item();
    let id = refused.id();
    match q.force_push(refused) {
        Err(Disconnected(back)) => assert_eq!(back.id(), id, "{what}"),
        Ok(displaced) => panic!("{what}: force_push on a closed queue gave Ok({displaced:?})"),
    }
    tracker.assert_no_double_drop();
    assert_eq!(q.len(), fill, "{what}: a refused push changed the queue");

    // The pops drain what is left, oldest first, then find nothing, for good.
    for i in 0..fill - left {
        let got = q.pop().unwrap_or_else(|| panic!("{what}: item {i} lost"));
        assert_eq!(got.id(), first + i, "{what}: FIFO after close");
    }
    if left == 0 {
        assert!(q.pop().is_none(), "{what}: drained queue gave an item");
        assert!(q.pop().is_none(), "{what}");
        assert!(q.is_empty() && q.is_closed(), "{what}");
    }
    assert_eq!(q.len(), left, "{what}");
    // Still refused after the drain.
    assert!(matches!(
        q.push(tracker.item()),
        Err(PushError::Disconnected(_))
    ));
    // The `left` items go with the queue's drop (checked by the caller).
    assert_eq!(tracker.live(), left, "{what}: live items before the drop");
}

/// The slice operations on a closed queue: `push_slice` pushes nothing (0, like a full
/// queue: `is_closed` tells them apart), `pop_slice` drains in batches and then returns
/// 0. Zero-sized items too (the seal lives in the stamp, not the value).
fn close_slices(storage: Storage) {
    for capacity in [1, 2, 3, 5, 8] {
        with_queue!(storage, u32, capacity, |q| close_slices_on(q));
        with_queue!(storage, (), capacity, |q| {
            q.push_slice(&[(); 2]);
            q.close();
            assert_eq!(q.push_slice(&[()]), 0);
            assert_eq!(q.push(()), Err(PushError::Disconnected(())));
            let mut out = [(); 8];
            assert_eq!(q.pop_slice(&mut out), capacity.min(2));
            assert_eq!(q.pop_slice(&mut out), 0);
        });
    }
}

storage_tests!(close_slices);

fn close_slices_on<S: Slots<u32>>(q: &Queue<u32, S>) {
    let capacity = q.capacity();
    // Positions one short of a lap, so the batches straddle it.
    for i in 0..capacity as u32 - 1 {
        q.push(i).unwrap();
        q.pop().unwrap();
    }
    let items: Vec<u32> = (0..capacity as u32).collect();
    assert_eq!(q.push_slice(&items), capacity);
    assert_eq!(q.push_slice(&[99]), 0, "full");
    assert!(!q.is_closed(), "full, not closed");
    assert!(q.close());
    assert_eq!(q.push_slice(&[99]), 0, "closed");
    assert!(q.is_closed());
    let mut out = vec![u32::MAX; capacity];
    let half = capacity.div_ceil(2);
    assert_eq!(q.pop_slice(&mut out[..half]), half);
    assert_eq!(q.push_slice(&[99]), 0, "closed, with room");
    assert_eq!(q.pop_slice(&mut out[half..]), capacity - half);
    assert_eq!(out, items);
    assert_eq!(q.pop_slice(&mut out), 0);
    assert_eq!(q.pop(), None);
}

/// Producers race `close` (single pushes, slices and `force_push`), consumers pop until
/// the queue is closed and drained. Every push that was accepted is popped (or
/// displaced) exactly once, every refused push got its value back, nothing else comes
/// out, and each producer's accepted items are a prefix of what it offered (once
/// refused, a push is refused for good). The close happens once the consumers have
/// taken `close_after` items: at every point of the run across the loop.
fn close_races_producers(storage: Storage) {
    let n = if cfg!(miri) {
        8
    } else {
        storage.heavy(2_000, 500)
    };
    let caps: &[usize] = if cfg!(miri) {
        storage.heavy(&[1, 3], &[3])
    } else {
        &[1, 2, 3, 16]
    };
    for &capacity in caps {
        for (producers, consumers) in [(1, 1), (2, 2), (3, 1), (1, 3)] {
            for close_after in [0, n / 3, 2 * n] {
                with_queue!(storage, Item, capacity, |q| close_races_on(
                    q,
                    producers,
                    consumers,
                    n,
                    close_after
                ));
            }
        }
    }
}

storage_tests!(close_races_producers);

fn close_races_on<S: Slots<Item>>(
    q: &Queue<Item, S>,
    producers: usize,
    consumers: usize,
    n: usize,
    close_after: usize,
) {
    let capacity = q.capacity();
    let what =
        format!("close_races P={producers} C={consumers} cap={capacity} close after {close_after}");
    let what = &what;
    let popped = AtomicUsize::new(0);
    let producers_done = AtomicUsize::new(0);
    let (accepted, displaced, per_consumer) = thread::scope(|s| {
        let prod: Vec<_> = (0..producers)
            .map(|p| {
                let done = &producers_done;
                s.spawn(move || {
                    let _done = DoneOnDrop(done);
                    // Producer `p` uses one way to push: 0 single, 1 slices, 2 force.
                    let mut accepted = 0;
                    let mut displaced = Vec::new();
                    'items: while accepted < n {
                        match p % 3 {
                            0 => match q.push(Item::new(p, accepted)) {
                                Ok(()) => accepted += 1,
                                Err(PushError::Full(back)) => {
                                    assert_eq!(back, Item::new(p, accepted));
                                    thread::yield_now();
                                }
                                Err(PushError::Disconnected(back)) => {
                                    assert_eq!(back, Item::new(p, accepted), "{what}");
                                    break 'items;
                                }
                            },
                            1 => {
                                let batch: Vec<Item> = (accepted..n.min(accepted + 3))
                                    .map(|seq| Item {
                                        batch_start: accepted,
                                        ..Item::new(p, seq)
                                    })
                                    .collect();
                                match q.push_slice(&batch) {
                                    0 if q.is_closed() => break 'items,
                                    0 => thread::yield_now(),
                                    k => accepted += k,
                                }
                            }
                            _ => match q.force_push(Item::new(p, accepted)) {
                                Ok(old) => {
                                    displaced.extend(old);
                                    accepted += 1;
                                }
                                Err(Disconnected(back)) => {
                                    assert_eq!(back, Item::new(p, accepted), "{what}");
                                    break 'items;
                                }
                            },
                        }
                    }
                    // Closed (or done): every later push is refused too.
                    if accepted < n {
                        assert!(q.is_closed(), "{what}");
                        assert!(q.push(Item::new(p, n)).is_err(), "{what}");
                    }
                    (accepted, displaced)
                })
            })
            .collect();
        let cons: Vec<_> = (0..consumers)
            .map(|_| {
                let popped = &popped;
                s.spawn(move || {
                    let mut seen = Vec::new();
                    loop {
                        // Checked before the pop: a `None` after seeing the queue
                        // closed is final.
                        let closed = q.is_closed();
                        match q.pop() {
                            Some(item) => {
                                seen.push(item);
                                popped.fetch_add(1, Ordering::Relaxed);
                            }
                            None if closed => return seen,
                            // Open: more may come (the test closes it at the latest
                            // once every producer is done).
                            None => thread::yield_now(),
                        }
                    }
                })
            })
            .collect();
        // Close once the consumers took `close_after` items, or once the producers
        // are done (whichever first; with `close_after` above everything, the latter).
        while popped.load(Ordering::Relaxed) < close_after
            && producers_done.load(Ordering::Acquire) < producers
        {
            thread::yield_now();
        }
        assert!(q.close(), "{what}: someone else closed it");
        let mut accepted = Vec::new();
        let mut displaced = Vec::new();
        for h in prod {
            let (a, d) = h.join().unwrap();
            accepted.push(a);
            displaced.extend(d);
        }
        let per_consumer: Vec<Vec<Item>> = cons.into_iter().map(|h| h.join().unwrap()).collect();
        (accepted, displaced, per_consumer)
    });
    assert!(
        q.is_empty() && q.pop().is_none(),
        "{what}: items left after the drain"
    );
    check_per_producer_order(what, &per_consumer);
    // Exactly once: what came out (popped or displaced) is, per producer, exactly
    // the prefix it had accepted.
    let mut count: Vec<Vec<u32>> = accepted.iter().map(|&a| vec![0; a]).collect();
    for item in per_consumer.iter().flatten().chain(&displaced) {
        let slot = count[item.producer]
            .get_mut(item.seq)
            .unwrap_or_else(|| panic!("{what}: {item:?} came out but was refused"));
        *slot += 1;
    }
    for (p, counts) in count.iter().enumerate() {
        for (seq, &c) in counts.iter().enumerate() {
            assert_eq!(c, 1, "{what}: producer {p} item {seq} came out {c} times");
        }
    }
}

/// Items left in a closed queue are dropped exactly once with the queue, and with an
/// `into_iter` that stops early.
#[test]
fn drop_after_close_drops_leftovers_once() {
    let tracker = DropTracker::new();
    with_queue!(Storage::Static, Tracked<'_>, 3, |q| {
        for _ in 0..3 {
            q.push(tracker.item()).unwrap();
        }
        drop(q.pop());
        q.push(tracker.item()).unwrap();
        q.close();
    });
    tracker.assert_all_dropped_once();

    #[cfg(feature = "alloc")]
    {
        let tracker = DropTracker::new();
        let q = Queue::new(4);
        for _ in 0..4 {
            q.push(tracker.item()).unwrap();
        }
        q.close();
        let mut items = q.into_iter();
        assert_eq!(items.len(), 4);
        assert_eq!(items.next().map(|t| t.id()), Some(0));
        drop(items);
        tracker.assert_all_dropped_once();
    }
}

#[test]
#[cfg(not(ringway_loom))] // `const` constructors (a `static`) are not `const` under loom
fn static_queue_in_a_static_closes() {
    static CLOSED: StaticQueue<u8, 2> = StaticQueue::new();
    CLOSED.push(1).unwrap();
    assert!(CLOSED.close());
    assert_eq!(CLOSED.push(2), Err(PushError::Disconnected(2)));
    assert_eq!((CLOSED.pop(), CLOSED.pop()), (Some(1), None));
}

/// The close errors: `PushError::Disconnected` and `Disconnected` give the value back,
/// need no `T: Debug`, say something other than "full", and exist without `std`.
#[test]
fn close_errors_debug_display() {
    struct Opaque;
    let err = PushError::Disconnected(Opaque);
    assert_eq!(format!("{err:?}"), "Disconnected(..)");
    assert_eq!(format!("{:?}", Disconnected(Opaque)), "Disconnected(..)");
    let (closed, full) = (err.to_string(), PushError::Full(Opaque).to_string());
    assert!(
        !closed.is_empty() && closed != full,
        "{closed:?} / {full:?}"
    );
    assert!(closed.contains("closed"), "{closed}");
    assert!(Disconnected(()).to_string().contains("closed"));
    assert_eq!(PushError::Disconnected(5).into_inner(), 5);
    assert_eq!(Disconnected(6).into_inner(), 6);
    assert_ne!(PushError::Disconnected(1), PushError::Full(1));
}
