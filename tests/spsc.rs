//! Integration tests of the SPSC ring (`ringway::spsc`).
//!
//! * a differential model test (proptest, plus a deterministic variant small enough
//!   for Miri) that runs random sequences of every operation against a `VecDeque`,
//!   for `u64` (all operations, slices included) and for drop-tracked items;
//! * two-thread ordered streams mixing single, slice, iterator and chunk operations on
//!   both sides, for small and large capacities;
//! * drop accounting: items left in the ring, dropped / committed / forgotten chunks,
//!   forgotten and partial `Drain`s, panicking iterators and `Drop`s;
//! * zero-sized types (huge capacities, position wrap-around, `Drop` counting);
//! * `is_abandoned` on both sides, single-threaded and across threads;
//! * capacity panics, error types, `Debug` without `T: Debug`, `Send`/`Sync`;
//! * the static ring's own API: `split` again, `try_split` from a `static`, drops.
//!
//! The tests defined in `storage_tests!` run their one body on both storages (see
//! `tests/storage/mod.rs`): halves from `channel` and halves of a `StaticRing` of one
//! of the capacities the harness instantiates, powers of two and others (those bodies
//! use `storage.caps(..)` or `storage.capacity(..)`). The heavy threaded ones run fewer items on the static
//! storage, and under Miri the static variants use fewer capacities.
//!
//! No test times anything or pins a thread; loop counts shrink under `cfg!(miri)`.

// The tests drop and forget chunks on purpose to check what that does, whether or
// not the guard types implement `Drop` today.
#![allow(clippy::drop_non_drop, clippy::forget_non_drop)]

mod common;
#[macro_use]
mod storage;

use std::collections::VecDeque;
use std::fmt::Debug;
use std::mem::{self, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::thread;

use proptest::prelude::*;
#[cfg(feature = "alloc")]
use ringway::spsc::channel;
use ringway::spsc::{
    Borrowed, Consumer, Drain, Heap, Indexed, Producer, ReadChunk, StaticRing, Storage as Store,
    WriteChunkUninit,
};
use ringway::{ChunkError, PushError};
use static_assertions::{assert_impl_all, assert_not_impl_any};

use common::{DropTracker, Rng, Tracked, ZstDrop};
use storage::{Storage, ZST_MAX_CAPACITY, ZST_SKIPPING_CAPACITY};

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// What an iterator passed to `push_iter` / `fill_from_iter` reports as its size hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    /// The exact length.
    Exact,
    /// `(0, None)`, like `filter` or `from_fn`.
    Zero,
    /// A lower bound of half the true length.
    Half,
}

/// Wraps an exact-size iterator and reports the size hint `hint` asks for.
struct Hinted<I> {
    inner: I,
    hint: Hint,
}

impl<I: ExactSizeIterator> Hinted<I> {
    fn new(inner: I, hint: Hint) -> Self {
        Hinted { inner, hint }
    }

    /// Items not taken yet.
    fn remaining(&self) -> usize {
        self.inner.len()
    }
}

impl<I: ExactSizeIterator> Iterator for Hinted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.inner.len();
        match self.hint {
            Hint::Exact => (n, Some(n)),
            Hint::Zero => (0, None),
            Hint::Half => (n / 2, Some(n)),
        }
    }
}

/// `len` consecutive values from `from`, as an exact-size iterator (`Range<u64>` is not
/// one).
fn run_of(from: u64, len: usize) -> impl ExactSizeIterator<Item = u64> + Clone {
    (0..len).map(move |i| from + i as u64)
}

/// Writes `values` into the chunk's slots, in order, until either runs out (the
/// iterator is not advanced past the last slot); returns how many were written.
fn fill_slots<T, S: Store<Layout = Indexed>>(
    chunk: &mut WriteChunkUninit<'_, T, S>,
    values: impl IntoIterator<Item = T>,
) -> usize {
    let (a, b) = chunk.as_mut_slices();
    let mut n = 0;
    for (slot, value) in a.iter_mut().chain(b.iter_mut()).zip(values) {
        slot.write(value);
        n += 1;
    }
    n
}

/// Moves the values out of slots `from .. to` of the chunk and drops them (undoing
/// writes that will not be committed, so they are not leaked).
///
/// # Safety
///
/// Those slots were initialised by the test.
unsafe fn unwrite_slots<T, S: Store<Layout = Indexed>>(
    chunk: &mut WriteChunkUninit<'_, T, S>,
    from: usize,
    to: usize,
) {
    let (a, b) = chunk.as_mut_slices();
    for slot in a.iter_mut().chain(b.iter_mut()).take(to).skip(from) {
        // SAFETY: initialised (caller) and treated as uninitialised afterwards.
        drop(unsafe { slot.assume_init_read() });
    }
}

/// Concatenation of a chunk's two slices.
fn concat<T: Clone>((a, b): (&[T], &[T])) -> Vec<T> {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    v
}

/// Swaps the first and last items of a read chunk (which crosses the wrap when the
/// chunk does).
fn swap_ends<T, S: Store<Layout = Indexed>>(chunk: &mut ReadChunk<'_, T, S>) {
    let (a, b) = chunk.as_mut_slices();
    let mut all: Vec<&mut T> = a.iter_mut().chain(b.iter_mut()).collect();
    let n = all.len();
    if n >= 2 {
        let (x, y) = all.split_at_mut(n - 1);
        mem::swap(&mut *x[0], &mut *y[0]);
    }
}

/// Checks every size query on both halves against the model's length.
#[track_caller]
fn check_sizes<T, S: Store>(
    tx: &Producer<T, S>,
    rx: &Consumer<T, S>,
    len: usize,
    cap: usize,
    step: usize,
) {
    assert_eq!(tx.capacity(), cap, "step {step}: tx.capacity");
    assert_eq!(rx.capacity(), cap, "step {step}: rx.capacity");
    assert_eq!(tx.len(), len, "step {step}: tx.len");
    assert_eq!(rx.len(), len, "step {step}: rx.len");
    assert_eq!(tx.free_slots(), cap - len, "step {step}: tx.free_slots");
    assert_eq!(tx.is_empty(), len == 0, "step {step}: tx.is_empty");
    assert_eq!(rx.is_empty(), len == 0, "step {step}: rx.is_empty");
    assert_eq!(tx.is_full(), len == cap, "step {step}: tx.is_full");
    assert_eq!(rx.is_full(), len == cap, "step {step}: rx.is_full");
    assert!(!tx.is_abandoned(), "step {step}: tx.is_abandoned");
    assert!(!rx.is_abandoned(), "step {step}: rx.is_abandoned");
}

// ---------------------------------------------------------------------------------
// 1. Differential model tests
// ---------------------------------------------------------------------------------

/// What to do with a write chunk once granted. Sizes are raw numbers, reduced modulo
/// the relevant bound when the operation runs.
#[derive(Debug, Clone)]
enum WriteThen {
    /// Write `written` slots, publish the first `k` of them.
    Commit { written: usize, k: usize },
    /// Write every slot and publish them all.
    CommitAll,
    /// Write `written` slots, then drop the chunk without committing.
    DropUncommitted { written: usize },
    /// `fill_from_iter` with an iterator of `len` items.
    FillFromIter { len: usize, hint: Hint },
}

/// What to do with a read chunk once granted.
#[derive(Debug, Clone)]
enum ReadThen {
    /// Release (and drop) the first `k` items.
    Commit(usize),
    CommitAll,
    /// Drop without committing: every item stays.
    Drop,
    /// Modify the items through `as_mut_slices`, then drop without committing.
    MutateThenDrop,
    /// Iterate by value, taking `take` items (`None`: all of them), then drop.
    IntoIter(Option<usize>),
}

#[derive(Debug, Clone)]
enum Op {
    Push,
    PushSlice(usize),
    PushIter {
        len: usize,
        hint: Hint,
    },
    WriteChunk {
        n: usize,
        then: WriteThen,
    },
    Pop,
    Peek,
    PopSlice(usize),
    /// `drain()`, taking `take` items (`None`: exhaust it).
    Drain {
        take: Option<usize>,
    },
    ReadChunk {
        n: usize,
        then: ReadThen,
    },
    /// Debug output of both halves (sizes are checked after every step anyway).
    Inspect,
}

fn hint_strategy() -> impl Strategy<Value = Hint> {
    prop_oneof![Just(Hint::Exact), Just(Hint::Zero), Just(Hint::Half)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let raw = || 0usize..2048;
    let write_then = prop_oneof![
        (raw(), raw()).prop_map(|(written, k)| WriteThen::Commit { written, k }),
        Just(WriteThen::CommitAll),
        raw().prop_map(|written| WriteThen::DropUncommitted { written }),
        (raw(), hint_strategy()).prop_map(|(len, hint)| WriteThen::FillFromIter { len, hint }),
    ];
    let read_then = prop_oneof![
        raw().prop_map(ReadThen::Commit),
        Just(ReadThen::CommitAll),
        Just(ReadThen::Drop),
        Just(ReadThen::MutateThenDrop),
        proptest::option::of(raw()).prop_map(ReadThen::IntoIter),
    ];
    prop_oneof![
        4 => Just(Op::Push),
        2 => raw().prop_map(Op::PushSlice),
        2 => (raw(), hint_strategy()).prop_map(|(len, hint)| Op::PushIter { len, hint }),
        3 => (raw(), write_then).prop_map(|(n, then)| Op::WriteChunk { n, then }),
        4 => Just(Op::Pop),
        1 => Just(Op::Peek),
        2 => raw().prop_map(Op::PopSlice),
        2 => proptest::option::of(raw()).prop_map(|take| Op::Drain { take }),
        3 => (raw(), read_then).prop_map(|(n, then)| Op::ReadChunk { n, then }),
        1 => Just(Op::Inspect),
    ]
}

/// The same distribution as [`op_strategy`], from a deterministic generator.
fn random_op(rng: &mut Rng) -> Op {
    let raw = rng.below(2048);
    let raw2 = rng.below(2048);
    let hint = [Hint::Exact, Hint::Zero, Hint::Half][rng.below(3)];
    let opt = if rng.one_in(3) { None } else { Some(raw2) };
    match rng.below(24) {
        0..=3 => Op::Push,
        4..=5 => Op::PushSlice(raw),
        6..=7 => Op::PushIter { len: raw, hint },
        8..=10 => Op::WriteChunk {
            n: raw,
            then: match rng.below(4) {
                0 => WriteThen::Commit {
                    written: raw2,
                    k: rng.below(2048),
                },
                1 => WriteThen::CommitAll,
                2 => WriteThen::DropUncommitted { written: raw2 },
                _ => WriteThen::FillFromIter { len: raw2, hint },
            },
        },
        11..=14 => Op::Pop,
        15 => Op::Peek,
        16..=17 => Op::PopSlice(raw),
        18..=19 => Op::Drain { take: opt },
        20..=22 => Op::ReadChunk {
            n: raw,
            then: match rng.below(5) {
                0 => ReadThen::Commit(raw2),
                1 => ReadThen::CommitAll,
                2 => ReadThen::Drop,
                3 => ReadThen::MutateThenDrop,
                _ => ReadThen::IntoIter(opt),
            },
        },
        _ => Op::Inspect,
    }
}

/// Runs `ops` on a `u64` ring of capacity `cap` (rounded up to a power of two on the
/// static storage) and on a `VecDeque` model, checking every returned value, count and
/// error, and every size query after each step.
fn run_model_u64(storage: Storage, cap: usize, ops: &[Op]) {
    let cap = storage.capacity(cap);
    with_ring!(storage, u64, cap, |tx, rx| model_u64(tx, rx, cap, ops));
}

fn model_u64<S: Store<Layout = Indexed>>(
    mut tx: Producer<u64, S>,
    mut rx: Consumer<u64, S>,
    cap: usize,
    ops: &[Op],
) {
    let mut model: VecDeque<u64> = VecDeque::new();
    // Every value ever offered is distinct, so a value that should not be in the ring
    // (an uncommitted write, a rejected push) cannot be mistaken for a legitimate one.
    let mut next: u64 = 0;
    let size = |raw: usize| raw % (cap + 3);
    for (step, op) in ops.iter().enumerate() {
        let free = cap - model.len();
        match op {
            Op::Push => match tx.push(next) {
                Ok(()) => {
                    assert!(free > 0, "step {step}: push succeeded on a full ring");
                    model.push_back(next);
                    next += 1;
                }
                Err(err) => {
                    assert_eq!(free, 0, "step {step}: push refused with {free} free slots");
                    assert!(matches!(err, PushError::Full(v) if v == next));
                    assert_eq!(err.into_inner(), next);
                }
            },
            Op::PushSlice(raw) => {
                let items: Vec<u64> = (next..).take(size(*raw)).collect();
                let pushed = tx.push_slice(&items);
                assert_eq!(
                    pushed,
                    items.len().min(free),
                    "step {step}: push_slice count"
                );
                model.extend(&items[..pushed]);
                next += items.len() as u64;
            }
            Op::PushIter { len, hint } => {
                let len = size(*len);
                let mut iter = Hinted::new(run_of(next, len), *hint);
                let pushed = tx.push_iter(&mut iter);
                assert_eq!(
                    pushed,
                    len.min(free),
                    "step {step}: push_iter of {len} items ({hint:?} size hint) with {free} \
                     free slots (len {})",
                    model.len()
                );
                assert_eq!(
                    iter.remaining(),
                    len - pushed,
                    "step {step}: push_iter took items it did not push"
                );
                model.extend(next..next + pushed as u64);
                next += len as u64;
            }
            Op::WriteChunk { n, then } => {
                let n = size(*n);
                match tx.write_chunk_uninit(n) {
                    Err(ChunkError::TooFewSlots(available)) => {
                        assert!(
                            n > free,
                            "step {step}: write_chunk_uninit({n}) refused with {free} free"
                        );
                        assert_eq!(available, free, "step {step}: TooFewSlots value");
                    }
                    Ok(mut chunk) => {
                        assert!(
                            n <= free,
                            "step {step}: write_chunk_uninit({n}) granted with {free} free"
                        );
                        assert_eq!(chunk.len(), n);
                        assert_eq!(chunk.is_empty(), n == 0);
                        let (a, b) = chunk.as_mut_slices();
                        assert_eq!(
                            a.len() + b.len(),
                            n,
                            "step {step}: write chunk slice lengths"
                        );
                        assert!(b.is_empty() || !a.is_empty());
                        assert!(format!("{chunk:?}").contains("WriteChunkUninit"));
                        match then {
                            WriteThen::Commit { written, k } => {
                                let w = written % (n + 1);
                                let k = k % (w + 1);
                                assert_eq!(fill_slots(&mut chunk, next..next + w as u64), w);
                                // SAFETY: the first `w >= k` slots were written.
                                unsafe { chunk.commit(k) };
                                model.extend(next..next + k as u64);
                                next += w as u64;
                            }
                            WriteThen::CommitAll => {
                                assert_eq!(fill_slots(&mut chunk, next..next + n as u64), n);
                                // SAFETY: every slot was written.
                                unsafe { chunk.commit_all() };
                                model.extend(next..next + n as u64);
                                next += n as u64;
                            }
                            WriteThen::DropUncommitted { written } => {
                                let w = written % (n + 1);
                                fill_slots(&mut chunk, next..next + w as u64);
                                drop(chunk);
                                next += w as u64;
                            }
                            WriteThen::FillFromIter { len, hint } => {
                                let len = len % (n + 3);
                                let mut iter = Hinted::new(run_of(next, len), *hint);
                                let filled = chunk.fill_from_iter(&mut iter);
                                assert_eq!(filled, len.min(n), "step {step}: fill_from_iter count");
                                assert_eq!(iter.remaining(), len - filled);
                                model.extend(next..next + filled as u64);
                                next += len as u64;
                            }
                        }
                    }
                }
            }
            Op::Pop => assert_eq!(rx.pop(), model.pop_front(), "step {step}: pop"),
            Op::Peek => {
                assert_eq!(rx.peek(), model.front(), "step {step}: peek");
                assert_eq!(rx.peek(), model.front(), "step {step}: peek twice");
            }
            Op::PopSlice(raw) => {
                let mut buf = vec![u64::MAX; size(*raw)];
                let popped = rx.pop_slice(&mut buf);
                assert_eq!(
                    popped,
                    buf.len().min(model.len()),
                    "step {step}: pop_slice count"
                );
                let expected: Vec<u64> = model.drain(..popped).collect();
                assert_eq!(
                    &buf[..popped],
                    &expected[..],
                    "step {step}: pop_slice values"
                );
                assert!(
                    buf[popped..].iter().all(|&v| v == u64::MAX),
                    "step {step}: pop_slice wrote past the count"
                );
            }
            Op::Drain { take } => {
                let mut drain = rx.drain();
                assert_eq!(drain.len(), model.len(), "step {step}: drain len");
                assert_eq!(drain.size_hint(), (model.len(), Some(model.len())));
                match take {
                    None => {
                        let got: Vec<u64> = drain.by_ref().collect();
                        let expected: Vec<u64> = model.drain(..).collect();
                        assert_eq!(got, expected, "step {step}: drain values");
                    }
                    Some(t) => {
                        let t = t % (model.len() + 2);
                        for i in 0..t {
                            let got = drain.next();
                            assert_eq!(got, model.pop_front(), "step {step}: drain item {i}");
                            assert_eq!(drain.len(), model.len());
                        }
                    }
                }
                if drain.len() == 0 {
                    assert_eq!(drain.next(), None);
                    assert_eq!(drain.next(), None, "Drain is fused");
                }
                drop(drain);
            }
            Op::ReadChunk { n, then } => {
                let n = size(*n);
                match rx.read_chunk(n) {
                    Err(ChunkError::TooFewSlots(available)) => {
                        assert!(
                            n > model.len(),
                            "step {step}: read_chunk({n}) refused with {} items",
                            model.len()
                        );
                        assert_eq!(available, model.len(), "step {step}: TooFewSlots value");
                    }
                    Ok(mut chunk) => {
                        assert!(
                            n <= model.len(),
                            "step {step}: read_chunk({n}) granted with {} items",
                            model.len()
                        );
                        assert_eq!(chunk.len(), n);
                        assert_eq!(chunk.is_empty(), n == 0);
                        let expected: Vec<u64> = model.iter().take(n).copied().collect();
                        assert_eq!(
                            concat(chunk.as_slices()),
                            expected,
                            "step {step}: read chunk contents"
                        );
                        let (a, b) = chunk.as_slices();
                        assert!(b.is_empty() || !a.is_empty());
                        assert!(format!("{chunk:?}").contains("ReadChunk"));
                        match then {
                            ReadThen::Commit(k) => {
                                let k = k % (n + 1);
                                chunk.commit(k);
                                model.drain(..k);
                            }
                            ReadThen::CommitAll => {
                                chunk.commit_all();
                                model.drain(..n);
                            }
                            ReadThen::Drop => drop(chunk),
                            ReadThen::MutateThenDrop => {
                                let (a, b) = chunk.as_mut_slices();
                                for v in a.iter_mut().chain(b.iter_mut()) {
                                    *v ^= 1 << 63;
                                }
                                swap_ends(&mut chunk);
                                drop(chunk);
                                for v in model.iter_mut().take(n) {
                                    *v ^= 1 << 63;
                                }
                                if n >= 2 {
                                    model.swap(0, n - 1);
                                }
                            }
                            ReadThen::IntoIter(take) => {
                                let mut iter = chunk.into_iter();
                                assert_eq!(iter.len(), n);
                                let t = take.map_or(n + 1, |t| t % (n + 2));
                                for i in 0..t {
                                    let got = iter.next();
                                    let want = if i < n { model.pop_front() } else { None };
                                    assert_eq!(
                                        got, want,
                                        "step {step}: read chunk iterator item {i}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
            Op::Inspect => {
                let (t, r) = (format!("{tx:?}"), format!("{rx:?}"));
                assert!(
                    t.contains("Producer") && t.contains(&format!("{}", model.len())),
                    "{t}"
                );
                assert!(
                    r.contains("Consumer") && r.contains(&format!("{cap}")),
                    "{r}"
                );
            }
        }
        check_sizes(&tx, &rx, model.len(), cap, step);
        assert_eq!(rx.peek(), model.front(), "step {step}: peek after the step");
    }
    // Finally empty it: everything still modelled comes out, in order.
    let rest: Vec<u64> = rx.drain().collect();
    assert_eq!(rest, Vec::from(model));
}

/// Runs `ops` on a ring of drop-tracked items (operations that need `T: Copy` are
/// mapped to their by-value counterparts) and checks after every step that exactly
/// the modelled items are alive, and at the end that every item was dropped once.
/// Checks that `got` is the model's oldest item and removes it from the model.
#[track_caller]
fn take_id(model: &mut VecDeque<usize>, got: Option<Tracked<'_>>, what: &str) {
    assert_eq!(got.as_ref().map(Tracked::id), model.pop_front(), "{what}");
}

fn run_model_tracked(storage: Storage, cap: usize, ops: &[Op], consumer_first: bool) {
    let cap = storage.capacity(cap);
    let tracker = DropTracker::new();
    with_ring!(storage, Tracked<'_>, cap, |tx, rx| {
        model_tracked(&tracker, tx, rx, cap, ops, consumer_first)
    });
    // A static ring drops what is left when it goes (at the end of `with_ring!`), the
    // heap ring when its last half goes.
    tracker.assert_all_dropped_once();
}

fn model_tracked<'t, S: Store<Layout = Indexed>>(
    tracker: &'t DropTracker,
    mut tx: Producer<Tracked<'t>, S>,
    mut rx: Consumer<Tracked<'t>, S>,
    cap: usize,
    ops: &[Op],
    consumer_first: bool,
) {
    // Ids of the items in the ring, oldest first. Items are created just before they
    // are offered, so (apart from `MutateThenDrop` swaps) ids increase along it.
    let mut model: VecDeque<usize> = VecDeque::new();
    let size = |raw: usize| raw % (cap + 3);
    for (step, op) in ops.iter().enumerate() {
        let free = cap - model.len();
        match op {
            Op::Push => {
                let item = tracker.item();
                let id = item.id();
                match tx.push(item) {
                    Ok(()) => model.push_back(id),
                    Err(err) => {
                        assert_eq!(free, 0, "step {step}");
                        let back = err.into_inner();
                        assert_eq!(back.id(), id);
                        assert_eq!(tracker.drops_of(id), 0);
                    }
                }
            }
            Op::PushSlice(len) | Op::PushIter { len, .. } => {
                let hint = match op {
                    Op::PushIter { hint, .. } => *hint,
                    _ => Hint::Exact,
                };
                let len = size(*len);
                let first = tracker.created();
                let mut iter = Hinted::new((0..len).map(|_| tracker.item()), hint);
                let pushed = tx.push_iter(&mut iter);
                assert_eq!(
                    pushed,
                    len.min(free),
                    "step {step}: push_iter count ({hint:?} hint)"
                );
                assert_eq!(iter.remaining(), len - pushed);
                drop(iter);
                assert_eq!(
                    tracker.created(),
                    first + pushed,
                    "push_iter took items it did not push"
                );
                model.extend(first..first + pushed);
            }
            Op::WriteChunk { n, then } => {
                let n = size(*n);
                match tx.write_chunk_uninit(n) {
                    Err(ChunkError::TooFewSlots(available)) => {
                        assert!(n > free);
                        assert_eq!(available, free);
                    }
                    Ok(mut chunk) => {
                        assert!(n <= free);
                        let first = tracker.created();
                        match then {
                            WriteThen::Commit { written, k } => {
                                let w = written % (n + 1);
                                let k = k % (w + 1);
                                fill_slots(&mut chunk, (0..w).map(|_| tracker.item()));
                                // SAFETY: slots `k .. w` were written just above.
                                unsafe { unwrite_slots(&mut chunk, k, w) };
                                // SAFETY: the first `k` slots are still written.
                                unsafe { chunk.commit(k) };
                                model.extend(first..first + k);
                            }
                            WriteThen::CommitAll => {
                                fill_slots(&mut chunk, (0..n).map(|_| tracker.item()));
                                // SAFETY: every slot was written.
                                unsafe { chunk.commit_all() };
                                model.extend(first..first + n);
                            }
                            WriteThen::DropUncommitted { written } => {
                                let w = written % (n + 1);
                                fill_slots(&mut chunk, (0..w).map(|_| tracker.item()));
                                // SAFETY: the first `w` slots were written just above.
                                unsafe { unwrite_slots(&mut chunk, 0, w) };
                                drop(chunk);
                            }
                            WriteThen::FillFromIter { len, hint } => {
                                let len = len % (n + 3);
                                let mut iter = Hinted::new((0..len).map(|_| tracker.item()), *hint);
                                let filled = chunk.fill_from_iter(&mut iter);
                                assert_eq!(filled, len.min(n));
                                assert_eq!(iter.remaining(), len - filled);
                                model.extend(first..first + filled);
                            }
                        }
                    }
                }
            }
            Op::Pop => take_id(&mut model, rx.pop(), "pop"),
            Op::Peek => assert_eq!(rx.peek().map(Tracked::id), model.front().copied()),
            Op::PopSlice(take) | Op::Drain { take: Some(take) } => {
                let mut drain = rx.drain();
                assert_eq!(drain.len(), model.len());
                for _ in 0..take % (model.len() + 2) {
                    take_id(&mut model, drain.next(), "drain");
                }
            }
            Op::Drain { take: None } => {
                for item in rx.drain() {
                    take_id(&mut model, Some(item), "drain");
                }
                assert!(model.is_empty());
            }
            Op::ReadChunk { n, then } => {
                let n = size(*n);
                match rx.read_chunk(n) {
                    Err(ChunkError::TooFewSlots(available)) => {
                        assert!(n > model.len());
                        assert_eq!(available, model.len());
                    }
                    Ok(mut chunk) => {
                        let (a, b) = chunk.as_slices();
                        let ids: Vec<usize> = a.iter().chain(b).map(Tracked::id).collect();
                        assert_eq!(ids, model.iter().take(n).copied().collect::<Vec<_>>());
                        match then {
                            ReadThen::Commit(k) => {
                                let k = k % (n + 1);
                                chunk.commit(k);
                                for id in model.drain(..k) {
                                    assert_eq!(
                                        tracker.drops_of(id),
                                        1,
                                        "committed item {id} not dropped"
                                    );
                                }
                            }
                            ReadThen::CommitAll => {
                                chunk.commit_all();
                                for id in model.drain(..n) {
                                    assert_eq!(tracker.drops_of(id), 1);
                                }
                            }
                            ReadThen::Drop => drop(chunk),
                            ReadThen::MutateThenDrop => {
                                swap_ends(&mut chunk);
                                drop(chunk);
                                if n >= 2 {
                                    model.swap(0, n - 1);
                                }
                            }
                            ReadThen::IntoIter(take) => {
                                let mut iter = chunk.into_iter();
                                let t = take.map_or(n + 1, |t| t % (n + 2));
                                for i in 0..t {
                                    let got = iter.next();
                                    if i < n {
                                        take_id(&mut model, got, "read chunk iterator");
                                    } else {
                                        assert!(got.is_none());
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Op::Inspect => {
                assert!(format!("{tx:?} {rx:?}").contains("Consumer"));
            }
        }
        check_sizes(&tx, &rx, model.len(), cap, step);
        tracker.assert_no_double_drop();
        assert_eq!(
            tracker.live(),
            model.len(),
            "step {step}: live items vs model"
        );
    }
    let mut ids: Vec<usize> = model.iter().copied().collect();
    ids.sort_unstable();
    assert_eq!(
        tracker.live_ids(),
        ids,
        "live items are not the modelled ones"
    );
    if consumer_first {
        drop(rx);
        assert!(tx.is_abandoned());
        assert_eq!(
            tracker.live(),
            model.len(),
            "items dropped while the producer lives"
        );
        drop(tx);
    } else {
        drop(tx);
        assert!(rx.is_abandoned());
        assert_eq!(
            tracker.live(),
            model.len(),
            "items dropped while the consumer lives"
        );
        drop(rx);
    }
}

#[cfg(feature = "alloc")]
fn capacity_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 1usize..=17,
        1 => Just(64usize),
        1 => Just(100usize),
        1 => Just(128usize),
        1 => Just(1000usize),
    ]
}

/// Capacities a `StaticRing` can have (powers of two), small ones most often.
fn static_capacity_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => prop::sample::select(vec![1usize, 2, 4, 8, 16]),
        1 => Just(64usize),
        1 => Just(128usize),
        1 => Just(1024usize),
    ]
}

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { 2 } else { cases },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    #[cfg_attr(miri, ignore)] // far too slow under Miri: see `model_deterministic_*`
    #[cfg(feature = "alloc")]
    fn model_u64_heap(cap in capacity_strategy(), ops in prop::collection::vec(op_strategy(), 1..400)) {
        run_model_u64(Storage::Heap, cap, &ops);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn model_u64_static(cap in static_capacity_strategy(), ops in prop::collection::vec(op_strategy(), 1..400)) {
        run_model_u64(Storage::Static, cap, &ops);
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[cfg(feature = "alloc")]
    #[test]
    #[cfg_attr(miri, ignore)]
    fn model_tracked_heap(
        cap in prop_oneof![8 => 1usize..=17, 1 => Just(64usize), 1 => Just(100usize)],
        ops in prop::collection::vec(op_strategy(), 1..300),
        consumer_first in any::<bool>(),
    ) {
        run_model_tracked(Storage::Heap, cap, &ops, consumer_first);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn model_tracked_static(
        cap in static_capacity_strategy(),
        ops in prop::collection::vec(op_strategy(), 1..300),
        consumer_first in any::<bool>(),
    ) {
        run_model_tracked(Storage::Static, cap, &ops, consumer_first);
    }
}

/// Capacities for the deterministic model runs.
const MODEL_CAPS: &[usize] = &[1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 64, 100, 1000];

fn model_deterministic_u64(storage: Storage) {
    let (caps, steps, seeds) = if cfg!(miri) {
        (&MODEL_CAPS[..6], storage.heavy(120, 60), 1)
    } else {
        (MODEL_CAPS, 2000, 8)
    };
    // On the static storage: those the harness instantiates (all of them today).
    for cap in storage.caps(caps) {
        for seed in 0..seeds {
            let mut rng = Rng::new(cap as u64 * 1000 + seed);
            let ops: Vec<Op> = (0..steps).map(|_| random_op(&mut rng)).collect();
            run_model_u64(storage, cap, &ops);
        }
    }
}

fn model_deterministic_tracked(storage: Storage) {
    let (caps, steps, seeds) = if cfg!(miri) {
        (&MODEL_CAPS[..5], storage.heavy(100, 50), 1)
    } else {
        (&MODEL_CAPS[..11], 1000, 4)
    };
    for cap in storage.caps(caps) {
        for seed in 0..seeds {
            let mut rng = Rng::new(cap as u64 * 7919 + seed);
            let ops: Vec<Op> = (0..steps).map(|_| random_op(&mut rng)).collect();
            run_model_tracked(storage, cap, &ops, seed % 2 == 0);
        }
    }
}

storage_tests!(model_deterministic_u64, model_deterministic_tracked);

/// Many full laps of the storage with a batch size coprime to the capacity, so every
/// slot is the start, middle and end of a wrapped batch.
fn many_wraparounds_with_batches(storage: Storage) {
    let caps: &[usize] = if cfg!(miri) {
        &[1, 2, 3, 5, 8]
    } else {
        &[1, 2, 3, 5, 7, 8, 13, 16, 17, 100]
    };
    for cap in storage.caps(caps) {
        with_ring!(storage, u64, cap, |mut tx, mut rx| {
            let laps = if cfg!(miri) { 3 } else { 200 };
            let mut next = 0u64;
            let mut expected = 0u64;
            for batch in 1..=cap {
                for _ in 0..laps {
                    let items: Vec<u64> = (next..next + batch as u64).collect();
                    assert_eq!(tx.push_slice(&items), batch);
                    next += batch as u64;
                    let chunk = rx.read_chunk(batch).unwrap();
                    assert_eq!(concat(chunk.as_slices()), items);
                    chunk.commit_all();
                    expected += batch as u64;
                    // Leave one item behind to shift the phase, then take it.
                    if cap > 1 {
                        tx.push(next).unwrap();
                        next += 1;
                        assert_eq!(rx.pop(), Some(expected));
                        expected += 1;
                    }
                }
            }
            assert!(rx.is_empty() && tx.is_empty());
        });
    }
}

storage_tests!(many_wraparounds_with_batches);

// ---------------------------------------------------------------------------------
// Specific regressions found by the model test, kept as plain tests.
// ---------------------------------------------------------------------------------

/// `push_iter` must fill the ring when the iterator's size hint is not exact: its doc
/// says it moves items "until it is full or the iterator ends". With a stale cached
/// consumer index it stops early.
fn push_iter_fills_the_ring_whatever_the_size_hint(storage: Storage) {
    for hint in [Hint::Exact, Hint::Half, Hint::Zero] {
        with_ring!(storage, u32, 4, |mut tx, mut rx| {
            assert_eq!(tx.push_slice(&[1, 2]), 2);
            assert_eq!(rx.pop_slice(&mut [0; 2]), 2);
            // The ring is empty (both halves agree) ...
            assert_eq!((tx.len(), rx.len()), (0, 0));
            let mut iter = Hinted::new(10..20, hint);
            // ... so 4 items fit.
            assert_eq!(
                tx.push_iter(&mut iter),
                4,
                "push_iter with a {hint:?} size hint"
            );
            assert_eq!(iter.remaining(), 6);
            assert!(tx.is_full());
        });
    }
}

/// A plain `filter` (size hint `(0, _)`) must behave like the exact iterator.
fn push_iter_with_filter_after_pops(storage: Storage) {
    with_ring!(storage, u32, 8, |mut tx, mut rx| {
        assert_eq!(tx.push_iter(0..6), 6);
        assert_eq!(rx.drain().count(), 6);
        let pushed = tx.push_iter((100..200).filter(|v| v % 2 == 0));
        assert_eq!(pushed, 8, "the ring had 8 free slots");
    });
}

storage_tests!(
    push_iter_fills_the_ring_whatever_the_size_hint,
    push_iter_with_filter_after_pops
);

// ---------------------------------------------------------------------------------
// 2. Two-thread ordered streams
// ---------------------------------------------------------------------------------

/// Pushes `0 .. n` in order with a random mix of every producer operation.
fn produce_u64<S: Store<Layout = Indexed>>(tx: &mut Producer<u64, S>, n: u64, seed: u64) {
    let cap = tx.capacity();
    let mut rng = Rng::new(seed);
    let mut next = 0u64;
    while next < n {
        let before = next;
        let remaining = (n - next) as usize;
        let want = rng.range(0, cap + 1).min(remaining);
        match rng.below(7) {
            0 => {
                let mut item = next;
                loop {
                    match tx.push(item) {
                        Ok(()) => break,
                        Err(e) => {
                            item = e.into_inner();
                            thread::yield_now();
                        }
                    }
                }
                next += 1;
            }
            1 => {
                let items: Vec<u64> = (next..next + want as u64).collect();
                next += tx.push_slice(&items) as u64;
            }
            2 => {
                let hint = [Hint::Exact, Hint::Zero, Hint::Half][rng.below(3)];
                let mut iter = Hinted::new(run_of(next, want), hint);
                let pushed = tx.push_iter(&mut iter);
                assert_eq!(iter.remaining(), want - pushed);
                next += pushed as u64;
            }
            3 | 4 => {
                let chunk = match tx.write_chunk_uninit(want) {
                    Ok(chunk) => chunk,
                    Err(ChunkError::TooFewSlots(free)) => {
                        assert!(free < want && free <= cap);
                        // The consumer only frees slots: `free` are still free.
                        tx.write_chunk_uninit(free).expect("free slots shrank")
                    }
                };
                let mut chunk = chunk;
                let len = chunk.len();
                // Write everything, including garbage past the commit point, which
                // must never reach the consumer.
                let k = rng.range(0, len);
                fill_slots(
                    &mut chunk,
                    (next..next + k as u64).chain(std::iter::repeat(u64::MAX)),
                );
                // SAFETY: every slot was written.
                unsafe { chunk.commit(k) };
                next += k as u64;
            }
            5 => {
                if let Ok(chunk) = tx.write_chunk_uninit(want) {
                    let m = rng.range(0, want);
                    next += chunk.fill_from_iter(next..next + m as u64) as u64;
                }
            }
            _ => {
                // Read-only queries from the producer side.
                // The consumer only frees slots, so later snapshots see no fewer.
                let len = tx.len();
                assert!(len <= cap);
                assert!(tx.free_slots() >= cap - len);
                assert!(tx.len() <= len);
                assert!(!tx.is_abandoned());
            }
        }
        if next == before {
            thread::yield_now();
        }
    }
}

/// Pops `0 .. n` with a random mix of every consumer operation, checking the order.
fn consume_u64<S: Store<Layout = Indexed>>(rx: &mut Consumer<u64, S>, n: u64, seed: u64) {
    let cap = rx.capacity();
    let mut rng = Rng::new(seed);
    let mut expected = 0u64;
    let mut buf = vec![0u64; cap + 2];
    while expected < n {
        let before = expected;
        let want = rng.range(0, cap + 1);
        match rng.below(7) {
            0 => {
                if let Some(v) = rx.pop() {
                    assert_eq!(v, expected, "pop");
                    expected += 1;
                }
            }
            1 => {
                let peeked = rx.peek().copied();
                if let Some(v) = peeked {
                    assert_eq!(v, expected, "peek");
                    assert_eq!(rx.pop(), Some(v), "pop after peek");
                    expected += 1;
                }
            }
            2 => {
                let got = rx.pop_slice(&mut buf[..want]);
                for (i, &v) in buf[..got].iter().enumerate() {
                    assert_eq!(v, expected + i as u64, "pop_slice");
                }
                expected += got as u64;
            }
            3 => {
                for v in rx.drain().take(want) {
                    assert_eq!(v, expected, "drain");
                    expected += 1;
                }
            }
            4 | 5 => {
                let chunk = match rx.read_chunk(want) {
                    Ok(chunk) => chunk,
                    Err(ChunkError::TooFewSlots(available)) => {
                        assert!(available < want && available <= cap);
                        // The producer only adds items: `available` are still there.
                        rx.read_chunk(available).expect("available items shrank")
                    }
                };
                let items = concat(chunk.as_slices());
                for (i, &v) in items.iter().enumerate() {
                    assert_eq!(v, expected + i as u64, "read chunk");
                }
                let k = rng.range(0, items.len());
                if rng.one_in(2) {
                    chunk.commit(k);
                    expected += k as u64;
                } else {
                    let mut iter = chunk.into_iter();
                    for _ in 0..k {
                        assert_eq!(iter.next(), Some(expected), "read chunk iterator");
                        expected += 1;
                    }
                }
            }
            _ => {
                // The producer only adds items, so later snapshots see no fewer.
                let len = rx.len();
                assert!(len <= cap);
                assert!(rx.len() >= len);
                assert!(!rx.is_abandoned());
            }
        }
        if expected == before {
            thread::yield_now();
        }
    }
    assert_eq!(expected, n);
}

const STREAM_CAPS: &[usize] = &[1, 2, 3, 4, 5, 7, 8, 16, 17, 64, 1000];

fn stream_u64_two_threads(storage: Storage) {
    let (caps, n) = if cfg!(miri) {
        (&STREAM_CAPS[..4], storage.heavy(150, 60))
    } else {
        (STREAM_CAPS, storage.heavy(100_000, 25_000))
    };
    for (i, cap) in storage.caps(caps).into_iter().enumerate() {
        with_ring!(storage, u64, cap, |mut tx, mut rx| {
            thread::scope(|s| {
                s.spawn(|| produce_u64(&mut tx, n, 2 * i as u64));
                s.spawn(|| consume_u64(&mut rx, n, 2 * i as u64 + 1));
            });
            assert!(
                tx.is_empty() && rx.is_empty(),
                "capacity {cap}: items left over"
            );
            assert_eq!(rx.pop(), None);
        });
    }
}

storage_tests!(stream_u64_two_threads);

/// A stream of non-`Copy` items (so no slice operations), generic over the item:
/// `make(seq)` is called once per item, in sequence order, and `seq` reads it back.
fn stream_by_value<T: Send>(
    storage: Storage,
    cap: usize,
    n: u64,
    seed: u64,
    make: &(dyn Fn(u64) -> T + Sync),
    seq: &(dyn Fn(&T) -> u64 + Sync),
) {
    with_ring!(storage, T, cap, |tx, rx| stream_halves(
        tx, rx, n, seed, make, seq
    ));
}

fn stream_halves<T: Send, S: Store<Layout = Indexed>>(
    mut tx: Producer<T, S>,
    mut rx: Consumer<T, S>,
    n: u64,
    seed: u64,
    make: &(dyn Fn(u64) -> T + Sync),
    seq: &(dyn Fn(&T) -> u64 + Sync),
) where
    Producer<T, S>: Send,
    Consumer<T, S>: Send,
{
    let cap = tx.capacity();
    thread::scope(|s| {
        s.spawn(|| {
            let mut rng = Rng::new(seed);
            let mut next = 0u64;
            while next < n {
                let before = next;
                let want = rng.range(0, cap + 1).min((n - next) as usize);
                match rng.below(4) {
                    0 => {
                        let mut item = make(next);
                        while let Err(e) = tx.push(item) {
                            item = e.into_inner();
                            thread::yield_now();
                        }
                        next += 1;
                    }
                    1 => {
                        // Lazily created: an item is made only when the ring takes it.
                        let hint = [Hint::Exact, Hint::Zero, Hint::Half][rng.below(3)];
                        let mut iter = Hinted::new(run_of(next, want).map(make), hint);
                        next += tx.push_iter(&mut iter) as u64;
                    }
                    2 => {
                        let free = match tx.write_chunk_uninit(want) {
                            Ok(_) => want,
                            Err(ChunkError::TooFewSlots(free)) => free,
                        };
                        let mut chunk = tx.write_chunk_uninit(free).expect("free slots shrank");
                        let k = rng.range(0, free);
                        assert_eq!(fill_slots(&mut chunk, (next..next + k as u64).map(make)), k);
                        // SAFETY: the first `k` slots were written.
                        unsafe { chunk.commit(k) };
                        next += k as u64;
                    }
                    _ => {
                        if let Ok(chunk) = tx.write_chunk_uninit(want) {
                            next +=
                                chunk.fill_from_iter((next..next + want as u64).map(make)) as u64;
                        }
                    }
                }
                if next == before {
                    thread::yield_now();
                }
            }
        });
        s.spawn(|| {
            let mut rng = Rng::new(!seed);
            let mut expected = 0u64;
            while expected < n {
                let before = expected;
                let want = rng.range(0, cap + 1);
                match rng.below(5) {
                    0 => {
                        if let Some(v) = rx.pop() {
                            assert_eq!(seq(&v), expected);
                            expected += 1;
                        }
                    }
                    1 => {
                        if let Some(v) = rx.peek() {
                            assert_eq!(seq(v), expected);
                        }
                    }
                    2 => {
                        for v in rx.drain().take(want) {
                            assert_eq!(seq(&v), expected);
                            expected += 1;
                        }
                    }
                    3 => {
                        if let Ok(chunk) = rx.read_chunk(want) {
                            let (a, b) = chunk.as_slices();
                            for (i, v) in a.iter().chain(b).enumerate() {
                                assert_eq!(seq(v), expected + i as u64);
                            }
                            let k = rng.range(0, want);
                            chunk.commit(k);
                            expected += k as u64;
                        }
                    }
                    _ => {
                        let available = rx.len().min(want);
                        let chunk = rx.read_chunk(available).expect("available items shrank");
                        let k = rng.range(0, available);
                        for v in chunk.into_iter().take(k) {
                            assert_eq!(seq(&v), expected);
                            expected += 1;
                        }
                    }
                }
                if expected == before {
                    thread::yield_now();
                }
            }
            assert_eq!(rx.pop().map(|v| seq(&v)), None);
        });
    });
}

#[allow(clippy::borrowed_box)]
fn stream_boxed_two_threads(storage: Storage) {
    let (caps, n) = if cfg!(miri) {
        (&STREAM_CAPS[..3], storage.heavy(100, 40))
    } else {
        (STREAM_CAPS, storage.heavy(30_000, 8_000))
    };
    for (i, cap) in storage.caps(caps).into_iter().enumerate() {
        // The items are heap pointers, so Miri checks each hand-off of an allocation.
        stream_by_value(
            storage,
            cap,
            n,
            100 + i as u64,
            &|v| Box::new(v),
            &|b: &Box<u64>| **b,
        );
    }
}

fn stream_tracked_two_threads_drops_each_once(storage: Storage) {
    let (caps, n) = if cfg!(miri) {
        (&STREAM_CAPS[..3], storage.heavy(100, 40))
    } else {
        (&STREAM_CAPS[..8], storage.heavy(20_000, 5_000))
    };
    for (i, cap) in storage.caps(caps).into_iter().enumerate() {
        let tracker = DropTracker::new();
        // Items are created in sequence order, so an item's id is its sequence number.
        stream_by_value(
            storage,
            cap,
            n,
            200 + i as u64,
            &|_| tracker.item(),
            &|t: &Tracked<'_>| t.id() as u64,
        );
        assert_eq!(
            tracker.created(),
            n as usize,
            "capacity {cap}: items made but never pushed"
        );
        tracker.assert_all_dropped_once();
    }
}

storage_tests!(
    stream_boxed_two_threads,
    stream_tracked_two_threads_drops_each_once
);

// ---------------------------------------------------------------------------------
// 3. Drop accounting
// ---------------------------------------------------------------------------------

/// Advances the positions of a fresh ring by `offset` (so the items pushed next wrap
/// around the end of the storage), then pushes `items` tracked items; returns their
/// ids.
fn prefill<'t, S: Store>(
    tracker: &'t DropTracker,
    tx: &mut Producer<Tracked<'t>, S>,
    rx: &mut Consumer<Tracked<'t>, S>,
    offset: usize,
    items: usize,
) -> Vec<usize> {
    for _ in 0..offset {
        tx.push(tracker.item()).unwrap();
        drop(rx.pop().unwrap());
    }
    let first = tracker.created();
    assert_eq!(tx.push_iter((0..items).map(|_| tracker.item())), items);
    (first..first + items).collect()
}

fn items_left_in_the_ring_are_dropped_once_in_either_drop_order(storage: Storage) {
    let caps: &[usize] = if cfg!(miri) {
        &[1, 2, 3, 5]
    } else {
        &[1, 2, 3, 5, 8, 16, 17]
    };
    for cap in storage.caps(caps) {
        for offset in [0, 1, cap - 1, cap, 2 * cap + 1] {
            for left in [0, 1, cap / 2, cap] {
                for consumer_first in [false, true] {
                    let tracker = DropTracker::new();
                    let ids = with_ring!(storage, Tracked<'_>, cap, |mut tx, mut rx| {
                        let ids = prefill(&tracker, &mut tx, &mut rx, offset, left);
                        assert_eq!(tracker.live(), left);
                        if consumer_first {
                            drop(rx);
                            assert!(tx.is_abandoned());
                            assert_eq!(
                                tracker.live(),
                                left,
                                "items dropped while the producer lives"
                            );
                            drop(tx);
                        } else {
                            drop(tx);
                            assert!(rx.is_abandoned());
                            assert_eq!(
                                tracker.live(),
                                left,
                                "items dropped while the consumer lives"
                            );
                            drop(rx);
                        }
                        if storage.is_static() {
                            assert_eq!(
                                tracker.live(),
                                left,
                                "a static ring keeps its items until it is dropped"
                            );
                        }
                        ids
                    });
                    for id in ids {
                        assert_eq!(
                            tracker.drops_of(id),
                            1,
                            "cap {cap} offset {offset} left {left}"
                        );
                    }
                    tracker.assert_all_dropped_once();
                }
            }
        }
    }
}

fn uncommitted_write_chunk_publishes_nothing_and_never_drops(storage: Storage) {
    let tracker = DropTracker::new();
    let leaked = with_ring!(storage, Tracked<'_>, 4, |mut tx, mut rx| {
        prefill(&tracker, &mut tx, &mut rx, 3, 0);
        let mut chunk = tx.write_chunk_uninit(4).unwrap();
        assert_eq!(fill_slots(&mut chunk, (0..4).map(|_| tracker.item())), 4);
        let leaked: Vec<usize> = tracker.live_ids();
        drop(chunk); // documented: the written values are leaked, not published
        assert_eq!((tx.len(), rx.len()), (0, 0));
        assert_eq!(rx.pop(), None);
        // Reuse the same slots; the leaked values are overwritten, never dropped.
        assert_eq!(tx.push_iter((0..4).map(|_| tracker.item())), 4);
        drop(rx.pop());
        drop((tx, rx));
        leaked
    });
    tracker.assert_no_double_drop();
    for id in leaked {
        assert_eq!(tracker.drops_of(id), 0, "an uncommitted value was dropped");
    }
    assert_eq!(tracker.live(), 4);
}

fn forgotten_write_chunk_publishes_nothing(storage: Storage) {
    let tracker = DropTracker::new();
    let cap = storage.capacity(3);
    with_ring!(storage, Tracked<'_>, cap, |mut tx, mut rx| {
        prefill(&tracker, &mut tx, &mut rx, 2, 1);
        let mut chunk = tx.write_chunk_uninit(2).unwrap();
        fill_slots(&mut chunk, (0..2).map(|_| tracker.item()));
        mem::forget(chunk);
        assert_eq!((tx.len(), rx.len()), (1, 1));
        assert_eq!(tx.push_iter((0..5).map(|_| tracker.item())), cap - 1);
        assert_eq!(rx.drain().count(), cap);
    });
    tracker.assert_no_double_drop();
    assert_eq!(tracker.live(), 2, "exactly the two forgotten values leak");
}

fn uncommitted_and_forgotten_read_chunks_keep_their_items(storage: Storage) {
    let tracker = DropTracker::new();
    with_ring!(
        storage,
        Tracked<'_>,
        storage.capacity(5),
        |mut tx, mut rx| {
            let ids = prefill(&tracker, &mut tx, &mut rx, 3, 5);
            drop(rx.read_chunk(3).unwrap());
            mem::forget(rx.read_chunk(4).unwrap());
            assert_eq!((tx.len(), rx.len()), (5, 5));
            assert_eq!(tracker.live(), 5);
            assert_eq!(rx.peek().map(Tracked::id), Some(ids[0]));
            assert_eq!(rx.pop().map(|t| t.id()), Some(ids[0]));
        }
    );
    tracker.assert_all_dropped_once();
}

fn read_chunk_commit_drops_exactly_the_committed_items(storage: Storage) {
    let caps: &[usize] = if cfg!(miri) {
        &[1, 2, 3, 4]
    } else {
        &[1, 2, 3, 4, 7, 8]
    };
    for cap in storage.caps(caps) {
        for offset in 0..=cap {
            for k in 0..=cap {
                let tracker = DropTracker::new();
                with_ring!(storage, Tracked<'_>, cap, |mut tx, mut rx| {
                    let ids = prefill(&tracker, &mut tx, &mut rx, offset, cap);
                    rx.read_chunk(cap).unwrap().commit(k);
                    for (i, &id) in ids.iter().enumerate() {
                        assert_eq!(
                            tracker.drops_of(id),
                            u32::from(i < k),
                            "cap {cap} offset {offset} k {k} item {i}"
                        );
                    }
                    assert_eq!((tx.len(), rx.len()), (cap - k, cap - k));
                    assert_eq!(rx.peek().map(Tracked::id), ids.get(k).copied());
                });
                tracker.assert_all_dropped_once();
            }
        }
    }
}

fn read_chunk_into_iter_partially_consumed(storage: Storage) {
    let tracker = DropTracker::new();
    with_ring!(
        storage,
        Tracked<'_>,
        storage.capacity(6),
        |mut tx, mut rx| {
            let ids = prefill(&tracker, &mut tx, &mut rx, 4, 6);
            let mut iter = rx.read_chunk(4).unwrap().into_iter();
            assert_eq!(iter.len(), 4);
            let a = iter.next().unwrap();
            let b = iter.next().unwrap();
            assert!(format!("{iter:?}").contains("Drain"));
            drop(iter);
            assert_eq!((a.id(), b.id()), (ids[0], ids[1]));
            assert_eq!(
                tracker.live(),
                6,
                "yielded items are ours, not dropped by the ring"
            );
            drop((a, b));
            assert_eq!((tx.len(), rx.len()), (4, 4));
            assert_eq!(rx.pop().map(|t| t.id()), Some(ids[2]));
        }
    );
    tracker.assert_all_dropped_once();
}

fn partial_drain_releases_only_what_it_yielded(storage: Storage) {
    for taken in 0..=5 {
        let tracker = DropTracker::new();
        with_ring!(
            storage,
            Tracked<'_>,
            storage.capacity(5),
            |mut tx, mut rx| {
                let ids = prefill(&tracker, &mut tx, &mut rx, 3, 5);
                let got: Vec<usize> = rx.drain().take(taken).map(|t| t.id()).collect();
                assert_eq!(got, ids[..taken]);
                assert_eq!((tx.len(), rx.len()), (5 - taken, 5 - taken));
                assert_eq!(tracker.live(), 5 - taken);
            }
        );
        tracker.assert_all_dropped_once();
    }
}

fn forgotten_drain_never_double_drops(storage: Storage) {
    for consumer_first in [false, true] {
        let tracker = DropTracker::new();
        with_ring!(
            storage,
            Tracked<'_>,
            storage.capacity(5),
            |mut tx, mut rx| {
                let ids = prefill(&tracker, &mut tx, &mut rx, 3, 5);
                let mut drain = rx.drain();
                let a = drain.next().unwrap();
                let b = drain.next().unwrap();
                mem::forget(drain);
                // The consumer does not yield them again ...
                assert_eq!(rx.len(), 3);
                assert_eq!(rx.peek().map(Tracked::id), Some(ids[2]));
                drop((a, b));
                if consumer_first {
                    drop(rx);
                    assert!(tx.is_abandoned());
                    assert_eq!(
                        tx.len(),
                        3,
                        "the consumer's drop releases the forgotten drain's slots"
                    );
                    drop(tx);
                } else {
                    drop(tx);
                    drop(rx);
                }
            }
        );
        // ... and the final drop does not drop them again.
        tracker.assert_all_dropped_once();
    }
}

/// The `Drain` docs promise that a forgotten drain's slots "are released by the
/// consumer's next operation".
fn forgotten_drain_slots_released_by_next_pop(storage: Storage) {
    with_ring!(storage, u32, 4, |mut tx, mut rx| {
        assert_eq!(tx.push_slice(&[1, 2, 3]), 3);
        let mut drain = rx.drain();
        assert_eq!(drain.next(), Some(1));
        mem::forget(drain);
        assert_eq!(rx.pop(), Some(2));
        assert_eq!(tx.len(), 1);
        assert_eq!(tx.push_slice(&[4, 5, 6, 7]), 3);
        assert_eq!(rx.drain().collect::<Vec<_>>(), [3, 4, 5, 6]);
    });
}

/// A forgotten drain that took every item leaves the ring empty for the consumer;
/// the producer must be able to refill it (the drain docs promise the slots are
/// released by the consumer's next operation). Otherwise a producer waiting for
/// room spins forever while the consumer sees an empty ring.
fn forgotten_drain_of_everything_frees_the_slots(storage: Storage) {
    with_ring!(storage, u32, 2, |mut tx, mut rx| {
        assert_eq!(tx.push_slice(&[1, 2]), 2);
        let mut drain = rx.drain();
        assert_eq!(drain.next(), Some(1));
        assert_eq!(drain.next(), Some(2));
        mem::forget(drain);
        assert_eq!(rx.len(), 0);
        // The consumer's next operations (all of them find the ring empty):
        assert_eq!(rx.pop(), None);
        assert_eq!(rx.pop_slice(&mut [0; 2]), 0);
        assert_eq!(rx.drain().count(), 0);
        assert_eq!(rx.read_chunk(1).unwrap_err(), ChunkError::TooFewSlots(0));
        assert_eq!(
            tx.len(),
            0,
            "producer still sees the drained slots as occupied"
        );
        assert_eq!(
            tx.push(3),
            Ok(()),
            "producer cannot push into an empty ring"
        );
    });
}

fn forgotten_read_chunk_iterator_never_double_drops(storage: Storage) {
    let tracker = DropTracker::new();
    with_ring!(storage, Tracked<'_>, 4, |mut tx, mut rx| {
        let ids = prefill(&tracker, &mut tx, &mut rx, 1, 4);
        let mut iter = rx.read_chunk(3).unwrap().into_iter();
        let a = iter.next().unwrap();
        mem::forget(iter);
        assert_eq!(a.id(), ids[0]);
        drop(a);
        assert_eq!(rx.len(), 3);
        assert_eq!(rx.pop().map(|t| t.id()), Some(ids[1]));
    });
    tracker.assert_all_dropped_once();
}

fn rejected_push_gives_the_value_back_undropped(storage: Storage) {
    let tracker = DropTracker::new();
    with_ring!(storage, Tracked<'_>, 1, |mut tx, rx| {
        tx.push(tracker.item()).unwrap();
        let err = tx.push(tracker.item()).unwrap_err();
        assert_eq!(tracker.live(), 2);
        let back = err.into_inner();
        assert_eq!(back.id(), 1);
        drop(back);
        assert_eq!(tracker.drops_of(1), 1);
        drop((tx, rx));
    });
    tracker.assert_all_dropped_once();
}

fn producer_keeps_pushing_after_consumer_is_gone(storage: Storage) {
    let tracker = DropTracker::new();
    let cap = storage.capacity(3);
    with_ring!(storage, Tracked<'_>, cap, |mut tx, mut rx| {
        prefill(&tracker, &mut tx, &mut rx, 2, 1);
        drop(rx);
        assert!(tx.is_abandoned());
        assert_eq!(tx.push_iter((0..5).map(|_| tracker.item())), cap - 1);
        assert!(tx.push(tracker.item()).is_err());
        assert_eq!(tracker.live(), cap);
    });
    tracker.assert_all_dropped_once();
}

storage_tests!(
    items_left_in_the_ring_are_dropped_once_in_either_drop_order,
    uncommitted_write_chunk_publishes_nothing_and_never_drops,
    forgotten_write_chunk_publishes_nothing,
    uncommitted_and_forgotten_read_chunks_keep_their_items,
    read_chunk_commit_drops_exactly_the_committed_items,
    read_chunk_into_iter_partially_consumed,
    partial_drain_releases_only_what_it_yielded,
    forgotten_drain_never_double_drops,
    forgotten_drain_slots_released_by_next_pop,
    forgotten_drain_of_everything_frees_the_slots,
    forgotten_read_chunk_iterator_never_double_drops,
    rejected_push_gives_the_value_back_undropped,
    producer_keeps_pushing_after_consumer_is_gone
);

// ---------------------------------------------------------------------------------
// 4. Zero-sized types
// ---------------------------------------------------------------------------------

fn zst_huge_capacity_and_position_wraparound(storage: Storage) {
    // `usize::MAX / 4` is not a power of two: on the static storage its positions skip
    // one at the end of each lap.
    for cap in storage.caps(&[ZST_SKIPPING_CAPACITY, ZST_MAX_CAPACITY]) {
        with_ring!(storage, (), cap, via storage::zst_static_ring, |mut tx, mut rx| {
            assert_eq!((tx.capacity(), rx.capacity()), (cap, cap));
            assert_eq!(tx.push_slice(&[(); 3]), 3);
            assert_eq!(rx.pop(), Some(()));
            assert_eq!(rx.len(), 2);
            // Each lap moves both positions by almost `cap` in O(1) (no drop glue, no
            // per-item work), so a few laps wrap the positions around `usize::MAX`.
            for lap in 0..10 {
                let free = tx.free_slots();
                let chunk = tx.write_chunk_uninit(free).unwrap();
                assert_eq!(chunk.len(), free);
                // SAFETY: `()` has no bytes: every slot is trivially initialised.
                unsafe { chunk.commit_all() };
                assert!(tx.is_full() && rx.is_full(), "lap {lap}");
                assert_eq!((tx.len(), rx.len()), (cap, cap));
                assert_eq!(tx.push(()), Err(PushError::Full(())));
                assert_eq!(tx.push_iter(std::iter::repeat(())), 0);
                assert_eq!(
                    tx.write_chunk_uninit(1).unwrap_err(),
                    ChunkError::TooFewSlots(0)
                );
                assert_eq!(rx.read_chunk(cap).map(|c| c.len()), Ok(cap));
                let mut drain = rx.drain();
                assert_eq!(drain.len(), cap);
                assert_eq!(drain.next(), Some(()));
                drop(drain);
                assert_eq!((tx.len(), rx.len()), (cap - 1, cap - 1));
                rx.read_chunk(cap - 3).unwrap().commit_all();
                assert_eq!((tx.len(), rx.len()), (2, 2));
                assert_eq!(tx.push_iter(std::iter::repeat_n((), 5)), 5);
                assert_eq!(rx.pop_slice(&mut [(); 4]), 4);
                assert_eq!(rx.len(), 3);
                assert_eq!(rx.peek(), Some(&()));
            }
            assert_eq!(rx.drain().count(), 3);
            assert!(rx.is_empty() && tx.is_empty());
            assert_eq!(rx.pop(), None);
        });
    }
}

fn zst_with_drop_is_counted(storage: Storage) {
    // One drop counter per storage: the two variants run in parallel.
    match storage {
        Storage::Heap => zst_with_drop_is_counted_with::<1>(storage),
        Storage::Static => zst_with_drop_is_counted_with::<3>(storage),
    }
}

fn zst_with_drop_huge_capacity(storage: Storage) {
    match storage {
        Storage::Heap => zst_with_drop_huge_capacity_with::<2>(storage),
        Storage::Static => zst_with_drop_huge_capacity_with::<4>(storage),
    }
}

storage_tests!(
    zst_huge_capacity_and_position_wraparound,
    zst_with_drop_is_counted,
    zst_with_drop_huge_capacity
);

fn zst_with_drop_is_counted_with<const TAG: usize>(storage: Storage) {
    with_ring!(storage, ZstDrop<TAG>, 1000, |mut tx, mut rx| {
        for _ in 0..10 {
            tx.push(ZstDrop).unwrap();
        }
        assert_eq!(tx.push_iter(std::iter::repeat_with(|| ZstDrop).take(5)), 5);
        assert_eq!(
            tx.write_chunk_uninit(5)
                .unwrap()
                .fill_from_iter(std::iter::repeat_with(|| ZstDrop)),
            5
        );
        assert_eq!(rx.len(), 20);
        assert_eq!(ZstDrop::<TAG>::drops(), 0);
        for _ in 0..3 {
            drop(rx.pop().unwrap());
        }
        assert_eq!(ZstDrop::<TAG>::drops(), 3);
        rx.read_chunk(4).unwrap().commit(2);
        assert_eq!(ZstDrop::<TAG>::drops(), 5);
        drop(rx.read_chunk(4).unwrap());
        assert_eq!(ZstDrop::<TAG>::drops(), 5);
        assert_eq!(rx.drain().take(2).count(), 2);
        assert_eq!(ZstDrop::<TAG>::drops(), 7);
        assert_eq!(rx.len(), 13);
        drop(rx);
        assert_eq!(ZstDrop::<TAG>::drops(), 7);
        drop(tx);
        // The heap ring's last half drops the 13 left; a static ring drops them when
        // the ring goes.
        let dropped = if storage.is_static() { 7 } else { 20 };
        assert_eq!(ZstDrop::<TAG>::drops(), dropped);
    });
    assert_eq!(ZstDrop::<TAG>::drops(), 20);
}

fn zst_with_drop_huge_capacity_with<const TAG: usize>(storage: Storage) {
    with_ring!(storage, ZstDrop<TAG>, ZST_MAX_CAPACITY, via storage::zst_static_ring, |mut tx, mut rx| {
        assert_eq!(
            tx.push_iter(std::iter::repeat_with(|| ZstDrop).take(100)),
            100
        );
        let err = with_ring!(storage, ZstDrop<TAG>, 1, |mut tx1, _rx1| {
            // A full ring hands a ZST back too.
            tx1.push(ZstDrop).unwrap();
            tx1.push(ZstDrop).unwrap_err()
        });
        assert_eq!(ZstDrop::<TAG>::drops(), 1, "the full ring's item");
        drop(err.into_inner());
        assert_eq!(ZstDrop::<TAG>::drops(), 2);
        rx.read_chunk(30).unwrap().commit_all();
        assert_eq!(ZstDrop::<TAG>::drops(), 32);
        drop(tx);
        drop(rx);
    });
    assert_eq!(ZstDrop::<TAG>::drops(), 102);
}

// ---------------------------------------------------------------------------------
// 5. Panics: iterators and Drop
// ---------------------------------------------------------------------------------

/// Yields `ok` tracked items, then panics.
struct PanickingIter<'t> {
    tracker: &'t DropTracker,
    ok: usize,
    hint: usize,
}

impl<'t> Iterator for PanickingIter<'t> {
    type Item = Tracked<'t>;

    fn next(&mut self) -> Option<Tracked<'t>> {
        if self.ok == 0 {
            panic!("PanickingIter panics, as asked");
        }
        self.ok -= 1;
        Some(self.tracker.item())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.hint, None)
    }
}

fn push_iter_panicking_iterator_publishes_what_it_took(storage: Storage) {
    let caps: &[usize] = if cfg!(miri) {
        &[1, 2, 3]
    } else {
        &[1, 2, 3, 4, 8]
    };
    for cap in storage.caps(caps) {
        for offset in [0, 1, cap - 1] {
            for ok in 0..=cap + 1 {
                for hint in [0, ok, cap + 2] {
                    let tracker = DropTracker::new();
                    with_ring!(storage, Tracked<'_>, cap, |mut tx, mut rx| {
                        prefill(&tracker, &mut tx, &mut rx, offset, 0);
                        let first = tracker.created();
                        let result = panic::catch_unwind(AssertUnwindSafe(|| {
                            tx.push_iter(PanickingIter {
                                tracker: &tracker,
                                ok,
                                hint,
                            })
                        }));
                        let taken = tracker.created() - first;
                        match result {
                            // It stopped before asking for more than fits.
                            Ok(pushed) => {
                                assert!(ok >= cap || pushed < cap, "cap {cap} ok {ok} hint {hint}");
                                assert_eq!(pushed, taken);
                            }
                            Err(_) => assert_eq!(taken, ok, "cap {cap} ok {ok} hint {hint}"),
                        }
                        assert_eq!(
                            (tx.len(), rx.len()),
                            (taken, taken),
                            "taken items are published"
                        );
                        assert_eq!(tracker.live(), taken);
                        for id in first..first + taken {
                            assert_eq!(rx.pop().map(|t| t.id()), Some(id));
                        }
                        assert_eq!(rx.pop().map(|t| t.id()), None);
                        // The ring still works.
                        assert_eq!(tx.push_iter((0..cap).map(|_| tracker.item())), cap);
                    });
                    tracker.assert_all_dropped_once();
                }
            }
        }
    }
}

fn fill_from_iter_panicking_iterator_publishes_what_it_took(storage: Storage) {
    let tracker = DropTracker::new();
    with_ring!(storage, Tracked<'_>, 4, |mut tx, mut rx| {
        prefill(&tracker, &mut tx, &mut rx, 3, 0);
        let first = tracker.created();
        let chunk = tx.write_chunk_uninit(4).unwrap();
        let t = &tracker;
        let result = panic::catch_unwind(AssertUnwindSafe(move || {
            chunk.fill_from_iter(PanickingIter {
                tracker: t,
                ok: 3,
                hint: 4,
            })
        }));
        assert!(result.is_err());
        assert_eq!((tx.len(), rx.len()), (3, 3));
        let got: Vec<usize> = rx.drain().map(|t| t.id()).collect();
        assert_eq!(got, (first..first + 3).collect::<Vec<_>>());
    });
    tracker.assert_all_dropped_once();
}

fn read_chunk_commit_with_panicking_drop_drops_each_item_once(storage: Storage) {
    // The chunk covers all 4 slots and wraps (offset 2): run one is items 0 and 1,
    // run two is items 2 and 3. One item panics in `Drop`.
    for panicking in 0..4 {
        for k in [panicking + 1, 4] {
            let tracker = DropTracker::new();
            with_ring!(storage, Tracked<'_>, 4, |mut tx, mut rx| {
                for _ in 0..2 {
                    tx.push(tracker.item()).unwrap();
                    drop(rx.pop());
                }
                let first = tracker.created();
                for i in 0..4 {
                    let item = if i == panicking {
                        tracker.item_panicking()
                    } else {
                        tracker.item()
                    };
                    tx.push(item).unwrap();
                }
                let chunk = rx.read_chunk(4).unwrap();
                let result = panic::catch_unwind(AssertUnwindSafe(move || chunk.commit(k)));
                assert!(result.is_err(), "the item's Drop panicked");
                tracker.assert_no_double_drop();
                for i in 0..k {
                    assert_eq!(
                        tracker.drops_of(first + i),
                        1,
                        "committed item {i} (panicking {panicking}, k {k})"
                    );
                }
                // The committed slots are released even though a Drop panicked.
                assert_eq!(
                    (tx.len(), rx.len()),
                    (4 - k, 4 - k),
                    "panicking {panicking} k {k}"
                );
                for i in k..4 {
                    assert_eq!(rx.pop().map(|t| t.id()), Some(first + i));
                }
                assert_eq!(rx.pop().map(|t| t.id()), None);
                // The ring keeps working over the same slots.
                assert_eq!(tx.push_iter((0..4).map(|_| tracker.item())), 4);
            });
            // The items after the panicking one are dropped too, while it unwinds.
            tracker.assert_all_dropped_once();
        }
    }
}

fn read_chunk_commit_past_its_length_panics_and_changes_nothing(storage: Storage) {
    with_ring!(storage, u32, 4, |mut tx, mut rx| {
        tx.push_slice(&[1, 2, 3]);
        let chunk = rx.read_chunk(2).unwrap();
        assert!(panic::catch_unwind(AssertUnwindSafe(move || chunk.commit(3))).is_err());
        assert_eq!((tx.len(), rx.len()), (3, 3));
        assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2, 3]);
    });
}

fn write_chunk_commit_past_its_length_panics_and_changes_nothing(storage: Storage) {
    with_ring!(storage, u32, 4, |mut tx, rx| {
        let mut chunk = tx.write_chunk_uninit(2).unwrap();
        fill_slots(&mut chunk, [1, 2]);
        // SAFETY: it panics before publishing anything (and 3 > len is refused).
        let result = panic::catch_unwind(AssertUnwindSafe(move || unsafe { chunk.commit(3) }));
        assert!(result.is_err());
        assert_eq!((tx.len(), rx.len()), (0, 0));
    });
}

fn panicking_drop_of_a_left_item_drops_the_rest_once(storage: Storage) {
    let tracker = DropTracker::new();
    // The heap ring drops what is left when its last half goes, a static ring when it
    // goes itself: either way inside the `catch_unwind`.
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        with_ring!(storage, Tracked<'_>, 4, |mut tx, rx| {
            tx.push(tracker.item()).unwrap();
            tx.push(tracker.item_panicking()).unwrap();
            tx.push(tracker.item()).unwrap();
            drop(tx);
            drop(rx);
        })
    }));
    assert!(result.is_err());
    tracker.assert_no_double_drop();
    assert_eq!(tracker.drops_of(0), 1);
    assert_eq!(tracker.drops_of(1), 1);
}

storage_tests!(
    push_iter_panicking_iterator_publishes_what_it_took,
    fill_from_iter_panicking_iterator_publishes_what_it_took,
    read_chunk_commit_with_panicking_drop_drops_each_item_once,
    read_chunk_commit_past_its_length_panics_and_changes_nothing,
    write_chunk_commit_past_its_length_panics_and_changes_nothing,
    panicking_drop_of_a_left_item_drops_the_rest_once
);

// ---------------------------------------------------------------------------------
// 6. Send / Sync
// ---------------------------------------------------------------------------------

/// Neither `Debug` nor `Clone` nor anything else.
struct Opaque;

assert_impl_all!(Producer<u64>: Send);
assert_impl_all!(Consumer<u64>: Send);
assert_impl_all!(Producer<std::cell::Cell<u8>>: Send); // `Send + !Sync` items are fine
assert_impl_all!(Consumer<std::cell::Cell<u8>>: Send);
assert_not_impl_any!(Producer<u64>: Sync);
assert_not_impl_any!(Consumer<u64>: Sync);
assert_not_impl_any!(Producer<Rc<u8>>: Send, Sync);
assert_not_impl_any!(Consumer<Rc<u8>>: Send, Sync);
// `Sync + !Send` items must not cross threads either.
assert_not_impl_any!(Producer<std::sync::MutexGuard<'static, u8>>: Send, Sync);
assert_not_impl_any!(Consumer<std::sync::MutexGuard<'static, u8>>: Send, Sync);

// The guards hold `&mut Producer` / `&mut Consumer`: moving one to another thread is
// moving the half there for the borrow's duration (sound when `T: Send`); sharing one
// would share the half (never).
assert_impl_all!(WriteChunkUninit<'static, u64>: Send);
assert_impl_all!(ReadChunk<'static, u64>: Send);
assert_impl_all!(Drain<'static, u64>: Send);
assert_not_impl_any!(WriteChunkUninit<'static, u64>: Sync);
assert_not_impl_any!(ReadChunk<'static, u64>: Sync);
assert_not_impl_any!(Drain<'static, u64>: Sync);
assert_not_impl_any!(WriteChunkUninit<'static, Rc<u8>>: Send, Sync);
assert_not_impl_any!(ReadChunk<'static, Rc<u8>>: Send, Sync);
assert_not_impl_any!(Drain<'static, Rc<u8>>: Send, Sync);

// `Debug` never needs `T: Debug`.
assert_impl_all!(Producer<Opaque>: Debug);
assert_impl_all!(Consumer<Opaque>: Debug);
assert_impl_all!(WriteChunkUninit<'static, Opaque>: Debug);
assert_impl_all!(ReadChunk<'static, Opaque>: Debug);
assert_impl_all!(Drain<'static, Opaque>: Debug);

// The same for halves of a `StaticRing`, and the ring itself: `Send + Sync` when
// `T: Send` (a `static` needs `Sync`; `&StaticRing` only hands out `try_split`).
assert_impl_all!(Producer<u64, Borrowed<'static>>: Send, Debug);
assert_impl_all!(Consumer<u64, Borrowed<'static>>: Send, Debug);
assert_impl_all!(Producer<std::cell::Cell<u8>, Borrowed<'static>>: Send);
assert_not_impl_any!(Producer<u64, Borrowed<'static>>: Sync);
assert_not_impl_any!(Consumer<u64, Borrowed<'static>>: Sync);
assert_not_impl_any!(Producer<Rc<u8>, Borrowed<'static>>: Send, Sync);
assert_not_impl_any!(Consumer<Rc<u8>, Borrowed<'static>>: Send, Sync);
assert_not_impl_any!(Producer<std::sync::MutexGuard<'static, u8>, Borrowed<'static>>: Send, Sync);
assert_not_impl_any!(Consumer<std::sync::MutexGuard<'static, u8>, Borrowed<'static>>: Send, Sync);
assert_impl_all!(Producer<Opaque, Borrowed<'static>>: Debug);
// The guards of a static ring's halves carry its storage type, with the same traits.
assert_impl_all!(WriteChunkUninit<'static, u64, Borrowed<'static>>: Send, Debug);
assert_impl_all!(ReadChunk<'static, u64, Borrowed<'static>>: Send, Debug);
assert_impl_all!(Drain<'static, u64, Borrowed<'static>>: Send, Debug);
assert_not_impl_any!(WriteChunkUninit<'static, u64, Borrowed<'static>>: Sync);
assert_not_impl_any!(ReadChunk<'static, u64, Borrowed<'static>>: Sync);
assert_not_impl_any!(Drain<'static, u64, Borrowed<'static>>: Sync);
assert_not_impl_any!(WriteChunkUninit<'static, Rc<u8>, Borrowed<'static>>: Send, Sync);
assert_not_impl_any!(Drain<'static, Rc<u8>, Borrowed<'static>>: Send, Sync);
assert_impl_all!(StaticRing<u64, 4>: Send, Sync, Debug);
assert_impl_all!(StaticRing<std::cell::Cell<u8>, 4>: Send, Sync);
assert_impl_all!(StaticRing<Opaque, 4>: Debug);
assert_not_impl_any!(StaticRing<Rc<u8>, 4>: Send, Sync);
assert_not_impl_any!(StaticRing<std::sync::MutexGuard<'static, u8>, 4>: Send, Sync);
// `Producer<T>` is `Producer<T, Heap<T>>`.
assert_impl_all!(Producer<u64, Heap<u64>>: Send);
#[cfg(feature = "std")]
assert_impl_all!(PushError<Opaque>: Debug, std::fmt::Display, std::error::Error);
assert_impl_all!(PushError<u64>: Send, Sync, Clone, Copy, PartialEq, Eq, std::hash::Hash);
#[cfg(feature = "std")]
assert_impl_all!(ChunkError: Debug, std::fmt::Display, std::error::Error, Send, Sync, Copy, Eq);

fn halves_move_to_other_threads(storage: Storage) {
    with_ring!(storage, String, 2, |mut tx, mut rx| {
        thread::scope(|s| {
            let tx_thread = s.spawn(move || {
                tx.push("hello".to_owned()).unwrap();
                tx
            });
            let tx = tx_thread.join().unwrap();
            let got = s.spawn(move || rx.pop()).join().unwrap();
            assert_eq!(got.as_deref(), Some("hello"));
            assert!(tx.is_abandoned());
        });
    });
}

storage_tests!(halves_move_to_other_threads);

/// The heap halves are `'static`: they move to threads that may outlive the caller.
#[cfg(feature = "alloc")]
#[test]
fn heap_halves_move_to_unscoped_threads() {
    let (mut tx, mut rx) = channel::<String>(2);
    let tx_thread = thread::spawn(move || {
        tx.push("hello".to_owned()).unwrap();
        tx
    });
    let tx = tx_thread.join().unwrap();
    let got = thread::spawn(move || rx.pop()).join().unwrap();
    assert_eq!(got.as_deref(), Some("hello"));
    assert!(tx.is_abandoned());
}

// ---------------------------------------------------------------------------------
// 7. is_abandoned
// ---------------------------------------------------------------------------------

fn is_abandoned_single_thread(storage: Storage) {
    with_ring!(storage, u8, 1, |tx, rx| {
        assert!(!tx.is_abandoned() && !rx.is_abandoned());
        drop(rx);
        assert!(tx.is_abandoned());
        assert!(tx.is_abandoned(), "stays true");
    });

    with_ring!(storage, u8, 3, |mut tx, mut rx| {
        tx.push_slice(&[1, 2]);
        drop(tx);
        assert!(rx.is_abandoned());
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.pop_slice(&mut [0; 3]), 2);
        assert!(rx.is_abandoned());
    });
}

/// After the consumer sees `is_abandoned`, every item pushed before the producer's
/// drop is visible.
fn consumer_sees_every_item_after_is_abandoned(storage: Storage) {
    let (caps, n) = if cfg!(miri) {
        (&[1usize, 2, 3][..], 60u64)
    } else {
        (&[1usize, 2, 3, 4, 16, 1000][..], 5_000u64)
    };
    let rounds = if cfg!(miri) {
        storage.heavy(2, 1)
    } else {
        storage.heavy(10, 3)
    };
    for cap in storage.caps(caps) {
        for round in 0..rounds {
            with_ring!(storage, u64, cap, |mut tx, mut rx| thread::scope(|s| {
                let producer = s.spawn(move || {
                    // A varying amount, so the drop races with items in flight.
                    let n = n - round;
                    produce_u64(&mut tx, n, round * 31 + cap as u64);
                    drop(tx);
                    n
                });
                let mut expected = 0u64;
                loop {
                    let abandoned = rx.is_abandoned();
                    // Everything published before the flag is poppable now.
                    for v in rx.drain() {
                        assert_eq!(v, expected);
                        expected += 1;
                    }
                    if abandoned {
                        assert!(rx.is_empty(), "an item appeared after the drain");
                        assert_eq!(rx.pop(), None);
                        break;
                    }
                    thread::yield_now();
                }
                assert_eq!(
                    expected,
                    producer.join().unwrap(),
                    "cap {cap} round {round}: items lost"
                );
            }));
        }
    }
}

/// After the producer sees `is_abandoned`, the consumer's last release is visible.
fn producer_sees_final_release_after_is_abandoned(storage: Storage) {
    let rounds = if cfg!(miri) {
        3
    } else {
        storage.heavy(200, 50)
    };
    for round in 0..rounds {
        let cap = storage.capacity(1 + round % 5);
        let tracker = DropTracker::new();
        with_ring!(storage, Tracked<'_>, cap, |mut tx, mut rx| {
            let total = 2 * cap + 1;
            let popped = cap + round % (cap + 1);
            thread::scope(|s| {
                s.spawn(move || {
                    let mut got = 0;
                    while got < popped {
                        match rx.pop() {
                            Some(_) => got += 1,
                            None => thread::yield_now(),
                        }
                    }
                    drop(rx);
                });
                let mut pushed = 0;
                while pushed < total && !tx.is_abandoned() {
                    let free = tx.free_slots();
                    pushed += tx.push_iter((0..free.min(total - pushed)).map(|_| tracker.item()));
                    thread::yield_now();
                }
                while !tx.is_abandoned() {
                    thread::yield_now();
                }
                assert_eq!(
                    tx.len(),
                    pushed - popped,
                    "round {round}: stale length after is_abandoned"
                );
                // The ring is still usable after abandonment; the items are dropped with it.
                let free = tx.free_slots();
                assert_eq!(tx.push_iter((0..free).map(|_| tracker.item())), free);
                drop(tx);
            });
        });
        tracker.assert_all_dropped_once();
    }
}

storage_tests!(
    is_abandoned_single_thread,
    consumer_sees_every_item_after_is_abandoned,
    producer_sees_final_release_after_is_abandoned
);

// ---------------------------------------------------------------------------------
// 8. Capacity panics
// ---------------------------------------------------------------------------------

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity")]
fn capacity_zero_panics() {
    let _ = channel::<u64>(0);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity")]
fn capacity_zero_panics_for_zst() {
    let _ = channel::<()>(0);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn huge_capacity_panics() {
    let _ = channel::<u64>(usize::MAX / 2);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn max_capacity_panics() {
    let _ = channel::<u64>(usize::MAX);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_just_over_isize_max_bytes_panics() {
    // 2^60 eight-byte slots = 2^63 bytes > isize::MAX.
    let _ = channel::<u64>((isize::MAX as usize / 8) + 1);
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_overflow_for_bytes() {
    let _ = channel::<u8>(isize::MAX as usize);
}

/// Above the largest capacity (reached in `zst_huge_capacity_and_position_wraparound`),
/// a ring of zero-sized items panics naming the real limit (it used to say "items of 0
/// bytes do not fit in isize::MAX bytes", issue #12).
#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "is above the largest capacity")]
fn zero_sized_capacity_above_the_largest_panics_with_the_reason() {
    let _ = channel::<()>(ZST_MAX_CAPACITY + 1);
}

#[cfg(feature = "alloc")]
#[test]
fn capacity_is_exact_for_non_powers_of_two() {
    for cap in [1usize, 3, 5, 6, 7, 9, 31, 33, 100, 1000] {
        let (mut tx, rx) = channel::<u16>(cap);
        assert_eq!(tx.push_iter(0..u16::MAX), cap);
        assert!(tx.is_full() && rx.is_full());
        assert_eq!(tx.push(0), Err(PushError::Full(0)));
        assert_eq!(rx.len(), cap);
    }
}

/// An over-aligned item: slots of it must be aligned to 256.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(256))]
struct Big(u64);

/// Slots of over-aligned items are aligned (checked by Miri's symbolic alignment
/// check too).
fn over_aligned_items(storage: Storage) {
    with_ring!(storage, Big, 3, |mut tx, mut rx| {
        for round in 0..5u64 {
            assert_eq!(tx.push_slice(&[Big(round), Big(round + 1)]), 2);
            let chunk = rx.read_chunk(2).unwrap();
            let (a, b) = chunk.as_slices();
            for item in a.iter().chain(b) {
                assert_eq!(item as *const Big as usize % 256, 0);
            }
            chunk.commit_all();
        }
    });
}

storage_tests!(over_aligned_items);

// ---------------------------------------------------------------------------------
// 9. Error types
// ---------------------------------------------------------------------------------

#[cfg(feature = "std")]
#[test]
fn push_error_debug_display_error() {
    let err = PushError::Full(Opaque);
    let debug = format!("{err:?}");
    assert!(debug.contains("Full"), "{debug}");
    let display = err.to_string();
    assert!(display.to_lowercase().contains("full"), "{display}");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(PushError::Full(5u32));
    assert_eq!(boxed.to_string(), PushError::Full(0u32).to_string());
    assert!(boxed.source().is_none());
    assert_eq!(PushError::Full(7).into_inner(), 7);
    assert_eq!(PushError::Full(1), PushError::Full(1));
    assert_ne!(PushError::Full(1), PushError::Full(2));
    // `unwrap` compiles and works for a `T` without `Debug`.
    let (mut tx, _rx) = channel::<Opaque>(1);
    tx.push(Opaque).unwrap();
    let err = tx.push(Opaque).unwrap_err();
    assert!(matches!(err, PushError::Full(Opaque)));
}

#[cfg(feature = "alloc")]
#[test]
#[should_panic(expected = "Full")]
fn unwrap_of_push_error_without_debug_panics_with_its_debug() {
    let (mut tx, _rx) = channel::<Opaque>(1);
    tx.push(Opaque).unwrap();
    tx.push(Opaque).unwrap();
}

fn chunk_error_debug_display_error(storage: Storage) {
    let err = ChunkError::TooFewSlots(3);
    assert_eq!(format!("{err:?}"), "TooFewSlots(3)");
    assert!(err.to_string().contains('3'), "{err}");
    #[cfg(feature = "std")]
    {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
        assert_eq!(boxed.to_string(), err.to_string());
    }
    with_ring!(storage, u8, 4, |mut tx, mut rx| {
        tx.push(1).unwrap();
        assert_eq!(
            tx.write_chunk_uninit(4).unwrap_err(),
            ChunkError::TooFewSlots(3)
        );
        assert_eq!(rx.read_chunk(2).unwrap_err(), ChunkError::TooFewSlots(1));
        assert_eq!(
            rx.read_chunk(usize::MAX).unwrap_err(),
            ChunkError::TooFewSlots(1)
        );
        assert_eq!(
            tx.write_chunk_uninit(usize::MAX).unwrap_err(),
            ChunkError::TooFewSlots(3)
        );
    });
}

/// `MaybeUninit` is used by the write chunk's slices; make sure a chunk of zero slots
/// is harmless everywhere.
fn empty_chunks_and_batches(storage: Storage) {
    with_ring!(storage, u8, 2, |mut tx, mut rx| {
        let mut chunk = tx.write_chunk_uninit(0).unwrap();
        let (a, b): (&mut [MaybeUninit<u8>], &mut [MaybeUninit<u8>]) = chunk.as_mut_slices();
        assert!(a.is_empty() && b.is_empty());
        // SAFETY: no slots.
        unsafe { chunk.commit_all() };
        assert_eq!(tx.push_slice(&[]), 0);
        assert_eq!(tx.push_iter(std::iter::empty()), 0);
        assert_eq!(rx.pop_slice(&mut []), 0);
        assert_eq!(rx.read_chunk(0).unwrap().as_slices(), (&[][..], &[][..]));
        rx.read_chunk(0).unwrap().commit(0);
        assert_eq!(rx.drain().count(), 0);
        assert!(tx.is_empty() && rx.is_empty());
    });
}

storage_tests!(chunk_error_debug_display_error, empty_chunks_and_batches);

// ---------------------------------------------------------------------------------
// 10. The static ring's own API
// ---------------------------------------------------------------------------------

/// Splitting again after both halves are dropped continues with the items left (also
/// across the end of the storage), and `is_abandoned` starts false again.
#[test]
fn split_again_continues_with_the_items_left() {
    let tracker = DropTracker::new();
    {
        let mut ring = StaticRing::<Tracked<'_>, 4>::new();
        let mut next_id = 0;
        for round in 0..6 {
            let (mut tx, mut rx) = ring.split();
            assert!(!tx.is_abandoned() && !rx.is_abandoned(), "round {round}");
            // Whatever the last split left is still there, oldest first.
            let left: Vec<usize> = rx.drain().map(|t| t.id()).collect();
            assert_eq!(
                left,
                (next_id.max(3) - 3..next_id).collect::<Vec<_>>(),
                "round {round}"
            );
            // Leave three for the next split (the positions wrap the 4 slots).
            assert_eq!(tx.push_iter((0..3).map(|_| tracker.item())), 3);
            next_id = tracker.created();
            if round % 2 == 0 {
                drop(rx);
                assert!(tx.is_abandoned());
            } else {
                drop(tx);
                assert!(rx.is_abandoned());
            }
            // The ring holds the items, not the halves.
            assert_eq!(tracker.live(), 3, "round {round}");
        }
        assert_eq!(tracker.live(), 3);
    }
    tracker.assert_all_dropped_once();
}

/// A forgotten `Drain` whose consumer is then dropped: the next split does not yield
/// (or drop) the items it moved out.
#[test]
fn split_again_after_a_forgotten_drain() {
    let tracker = DropTracker::new();
    {
        let mut ring = StaticRing::<Tracked<'_>, 2>::new();
        let (mut tx, mut rx) = ring.split();
        assert_eq!(tx.push_iter((0..2).map(|_| tracker.item())), 2);
        let mut drain = rx.drain();
        let first = drain.next().unwrap();
        mem::forget(drain);
        drop((tx, rx));
        assert_eq!(first.id(), 0);
        drop(first);
        let (mut tx, mut rx) = ring.split();
        assert_eq!(tx.len(), 1);
        assert_eq!(rx.pop().map(|t| t.id()), Some(1));
        assert_eq!(tx.push_iter((0..3).map(|_| tracker.item())), 2);
    }
    tracker.assert_all_dropped_once();
}

/// A consumer forgotten after a forgotten `Drain` moved items out without releasing
/// their slots: the next split must not yield (or the ring drop) those items again.
/// It leaks what was left instead (a forgotten consumer's progress is unknown).
#[test]
fn forgotten_consumer_then_split_again_leaks_instead_of_double_dropping() {
    for split_again in [true, false] {
        let tracker = DropTracker::new();
        {
            let mut ring = StaticRing::<Tracked<'_>, 4>::new();
            let (mut tx, mut rx) = ring.split();
            assert_eq!(tx.push_iter((0..3).map(|_| tracker.item())), 3);
            let mut drain = rx.drain();
            let first = drain.next().unwrap();
            mem::forget(drain);
            mem::forget(rx);
            drop(tx);
            drop(first); // moved out: its one drop
            if split_again {
                let (mut tx, mut rx) = ring.split();
                assert_eq!(rx.pop().map(|t| t.id()), None, "a moved-out item came back");
                assert_eq!(tx.len(), 0);
                // The ring works on: new items come out, and are dropped once.
                assert_eq!(tx.push_iter((0..4).map(|_| tracker.item())), 4);
                assert_eq!(rx.pop().map(|t| t.id()), Some(3));
            }
        }
        tracker.assert_no_double_drop();
        // Items 1 and 2 were left behind the forgotten consumer: leaked, never dropped.
        assert_eq!(tracker.live_ids(), [1, 2], "split_again {split_again}");
    }
}

/// A forgotten producer loses nothing it published.
#[test]
fn forgotten_producer_then_split_again_keeps_its_items() {
    let tracker = DropTracker::new();
    {
        let mut ring = StaticRing::<Tracked<'_>, 4>::new();
        let (mut tx, rx) = ring.split();
        assert_eq!(tx.push_iter((0..2).map(|_| tracker.item())), 2);
        mem::forget(tx);
        drop(rx);
        let (_tx, mut rx) = ring.split();
        assert_eq!(rx.pop().map(|t| t.id()), Some(0));
    }
    tracker.assert_all_dropped_once();
}

/// A ring that was never split, or split and left with items, drops what it holds
/// once; a `static` one never drops.
#[test]
fn static_ring_drops_what_it_holds_once() {
    {
        let _never_split = StaticRing::<Box<u32>, 8>::new();
    }
    let tracker = DropTracker::new();
    {
        let mut ring = StaticRing::<Tracked<'_>, 8>::new();
        let (mut tx, rx) = ring.split();
        assert_eq!(tx.push_iter((0..5).map(|_| tracker.item())), 5);
        drop((tx, rx));
        assert_eq!(tracker.live(), 5);
    }
    tracker.assert_all_dropped_once();
}

/// `try_split` hands the halves of a `static` ring out once; they are `'static`, so
/// they move into unscoped threads.
#[test]
#[cfg(not(ringway_loom))] // `const` constructors (a `static`) are not `const` under loom
fn try_split_a_static_ring_once() {
    static RING: StaticRing<u64, 16> = StaticRing::new();
    assert_eq!(RING.capacity(), 16);
    let (mut tx, mut rx) = RING.try_split().expect("first try_split");
    assert!(RING.try_split().is_none());
    assert!(RING.try_split().is_none());
    let n = if cfg!(miri) { 100 } else { 10_000 };
    // Each half comes back from its thread: `consume_u64` checks that the producer is
    // not gone while it consumes.
    let producer = thread::spawn(move || {
        produce_u64(&mut tx, n, 7);
        tx
    });
    let consumer = thread::spawn(move || {
        consume_u64(&mut rx, n, 8);
        rx
    });
    let tx = producer.join().unwrap();
    let rx = consumer.join().unwrap();
    drop(tx);
    assert!(rx.is_abandoned() && rx.is_empty());
    assert!(
        RING.try_split().is_none(),
        "still taken after the halves are gone"
    );
}

/// Racing `try_split` calls: exactly one gets the halves.
#[test]
fn try_split_races_hand_out_one_pair() {
    for _ in 0..if cfg!(miri) { 2 } else { 100 } {
        let ring = StaticRing::<u8, 2>::new();
        let winners: usize = thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| usize::from(ring.try_split().is_some())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 1);
    }
}

/// A ring on the stack, halves in scoped threads, the waiting operations on borrowed
/// halves (a ring built to park its waiters).
#[cfg(feature = "std")]
#[test]
fn stack_ring_with_parking_waits() {
    use ringway::WaitStrategy;

    let mut ring = StaticRing::<u32, 4>::with_wait_strategy(WaitStrategy::SPIN_PARK);
    let (mut tx, mut rx) = ring.split();
    assert_eq!(tx.wait_strategy(), WaitStrategy::SPIN_PARK);
    let n = if cfg!(miri) { 50 } else { 5_000 };
    let sum = thread::scope(|s| {
        s.spawn(move || {
            for i in 0..n {
                tx.push_blocking(i).unwrap();
            }
        });
        s.spawn(move || {
            let mut sum = 0u64;
            while let Ok(v) = rx.pop_blocking() {
                sum += u64::from(v);
            }
            sum
        })
        .join()
        .unwrap()
    });
    assert_eq!(sum, u64::from(n) * u64::from(n - 1) / 2);
}

#[test]
fn static_ring_debug() {
    let mut ring = StaticRing::<Opaque, 4>::new();
    assert_eq!(format!("{ring:?}"), "StaticRing { capacity: 4, .. }");
    let (mut tx, rx) = ring.split();
    tx.push(Opaque).unwrap_or_else(|_| unreachable!());
    assert!(format!("{tx:?} {rx:?}").contains("len: 1"));
}
