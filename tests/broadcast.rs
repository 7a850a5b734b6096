//! Integration tests of the broadcast ring (`ringway::broadcast`), written from its
//! documented contract alone (public API only):
//!
//! * construction: capacity rounded up to a power of two, the panics (0, above
//!   `MAX_CAPACITY`, `usize::MAX`), `MAX_CONSUMERS`;
//! * a differential model test (deterministic, small enough for Miri, and proptest) of
//!   push, pop, pop_slice, subscribe (from the producer and from a consumer), dropping
//!   consumers, `len`/`is_empty`/`consumer_count` and the drop of every original item,
//!   in both policies: Backpressure refuses exactly when the slowest consumer is
//!   `capacity` behind; Lossy never refuses and reports `Lagged(n)` with the exact `n`,
//!   then resumes at the oldest item still held;
//! * single-threaded scenarios of the same rules, `pop_slice` across the wrap and
//!   after a lag, abandonment;
//! * drop accounting with a type that tells its originals from its clones: every item
//!   pushed is dropped exactly once (when overwritten, or with the last handle), every
//!   clone handed out is dropped by its owner, with consumers in every state and the
//!   handles dropped in every order;
//! * hostile users: a `Clone` that panics in the middle of `pop` / `pop_slice` (the
//!   channel stays usable, the producer does not hang), forgotten consumers and
//!   futures;
//! * threads (1 producer, 2 or 3 consumers, both policies, `u64` sequence numbers): in
//!   Backpressure each consumer sees exactly `0..n` in order; in Lossy each consumer's
//!   items are exactly the positions it did not skip, `seen + sum(lagged)` covering
//!   every item from its start; consumers that join or leave midway;
//! * waiting operations (std/async): blocking and timed pops and pushes, futures,
//!   wake-ups of a sleeping `SpinPark` waiter by a push, a pop or a dropped consumer;
//! * `Send`/`Sync` pins and `Debug`.
//!
//! No test times anything or pins a thread; loop counts shrink under `cfg!(miri)`.

#![cfg(all(feature = "alloc", target_has_atomic = "64"))]

mod common;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{join_while_progressing, join_within_watchdog, Rng};
use proptest::prelude::*;
use ringway::broadcast::{
    channel, Consumer, Lagged, Policy, PopError, Producer, MAX_CAPACITY, MAX_CONSUMERS,
};
use ringway::PushError;
use static_assertions::{assert_impl_all, assert_not_impl_any};

const POLICIES: [Policy; 2] = [Policy::Backpressure, Policy::Lossy];

fn n(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}

/// The next item a consumer gets, unwrapped: panics on `Ok(None)` or a lag.
#[track_caller]
fn next<T: Clone>(rx: &mut Consumer<T>) -> T {
    match rx.pop() {
        Ok(Some(v)) => v,
        other => panic!(
            "expected an item, got {}",
            match other {
                Ok(None) => "Ok(None)".to_owned(),
                Err(Lagged(k)) => format!("Err(Lagged({k}))"),
                Ok(Some(_)) => unreachable!(),
            }
        ),
    }
}

/// Pops until `Ok(None)`; panics on a lag.
#[track_caller]
fn drain<T: Clone>(rx: &mut Consumer<T>) -> Vec<T> {
    let mut out = Vec::new();
    loop {
        match rx.pop() {
            Ok(Some(v)) => out.push(v),
            Ok(None) => return out,
            Err(Lagged(k)) => panic!("unexpected Lagged({k}) while draining"),
        }
    }
}

/// The message of a caught panic.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string payload)".to_owned())
}

// -------------------------------------------------------------------------------------
// A drop ledger that tells originals from clones
// -------------------------------------------------------------------------------------

/// Records, per original item, how many times it was dropped, and counts clones made
/// and dropped; optionally makes the clone of one item panic.
#[derive(Debug)]
struct Ledger {
    /// `originals[id]`: times original `id` was dropped.
    originals: Mutex<Vec<u32>>,
    clones_made: AtomicUsize,
    clones_dropped: AtomicUsize,
    /// The id whose `clone` panics (`usize::MAX`: none).
    panic_on: AtomicUsize,
    /// The id whose original's `drop` panics, after it is counted (`usize::MAX`: none).
    panic_drop_of: AtomicUsize,
}

impl Ledger {
    fn new() -> Self {
        Ledger {
            originals: Mutex::new(Vec::new()),
            clones_made: AtomicUsize::new(0),
            clones_dropped: AtomicUsize::new(0),
            panic_on: AtomicUsize::new(usize::MAX),
            panic_drop_of: AtomicUsize::new(usize::MAX),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Vec<u32>> {
        self.originals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new original with the next id.
    fn item(&self) -> Counted<'_> {
        let mut counts = self.counts();
        counts.push(0);
        Counted {
            id: counts.len() - 1,
            ledger: self,
            original: true,
        }
    }

    fn arm(&self, id: usize) {
        self.panic_on.store(id, SeqCst);
    }

    fn disarm(&self) {
        self.panic_on.store(usize::MAX, SeqCst);
    }

    /// Originals dropped at least once.
    fn dropped(&self) -> usize {
        self.counts().iter().filter(|&&c| c > 0).count()
    }

    /// Ids of the originals never dropped.
    fn live_ids(&self) -> Vec<usize> {
        let c = self.counts();
        (0..c.len()).filter(|&i| c[i] == 0).collect()
    }

    fn live_clones(&self) -> isize {
        self.clones_made.load(SeqCst) as isize - self.clones_dropped.load(SeqCst) as isize
    }

    #[track_caller]
    fn assert_no_double_drop(&self) {
        let c = self.counts();
        let doubles: Vec<(usize, u32)> = c
            .iter()
            .enumerate()
            .filter(|(_, &k)| k > 1)
            .map(|(i, &k)| (i, k))
            .collect();
        assert!(
            doubles.is_empty(),
            "originals dropped more than once (id, drops): {doubles:?}"
        );
    }

    /// Every original dropped exactly once, every clone dropped.
    #[track_caller]
    fn assert_all_dropped_once(&self) {
        self.assert_no_double_drop();
        let live = self.live_ids();
        assert!(
            live.is_empty(),
            "originals never dropped (leaked): {live:?}"
        );
        assert_eq!(self.live_clones(), 0, "clones made minus clones dropped");
    }
}

/// An item of a [`Ledger`]: an original (made by `Ledger::item`) or a clone of one.
struct Counted<'a> {
    id: usize,
    ledger: &'a Ledger,
    original: bool,
}

impl Clone for Counted<'_> {
    fn clone(&self) -> Self {
        if self.ledger.panic_on.load(SeqCst) == self.id {
            panic!("the clone of item {} panics, as asked", self.id);
        }
        self.ledger.clones_made.fetch_add(1, SeqCst);
        Counted {
            id: self.id,
            ledger: self.ledger,
            original: false,
        }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if self.original {
            self.ledger.counts()[self.id] += 1;
            if self.ledger.panic_drop_of.load(SeqCst) == self.id && !thread::panicking() {
                panic!("the drop of item {} panics, as asked", self.id);
            }
        } else {
            self.ledger.clones_dropped.fetch_add(1, SeqCst);
        }
    }
}

impl std::fmt::Debug for Counted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.original { "original" } else { "clone" };
        write!(f, "Counted({}, {kind})", self.id)
    }
}

fn ids(items: &[Counted<'_>]) -> Vec<usize> {
    items.iter().map(|c| c.id).collect()
}

// -------------------------------------------------------------------------------------
// 1. Construction
// -------------------------------------------------------------------------------------

#[test]
fn capacity_rounds_up_to_a_power_of_two() {
    for policy in POLICIES {
        for (asked, got) in [
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 4),
            (5, 8),
            (7, 8),
            (9, 16),
            (1000, 1024),
        ] {
            let (mut tx, rx) = channel::<u32>(asked, policy);
            assert_eq!(tx.capacity(), got, "{policy:?} capacity({asked})");
            assert_eq!(rx.capacity(), got, "{policy:?} capacity({asked})");
            assert_eq!(tx.policy(), policy);
            assert_eq!(rx.policy(), policy);
            // The rounding is real: `got` items fit, and a Backpressure ring refuses
            // the next one while the consumer has read nothing.
            for i in 0..got as u32 {
                assert_eq!(tx.push(i), Ok(()), "{policy:?} capacity({asked}) push {i}");
            }
            assert_eq!(rx.len(), got);
            let next = tx.push(u32::MAX);
            match policy {
                Policy::Backpressure => assert_eq!(next, Err(PushError::Full(u32::MAX))),
                Policy::Lossy => assert_eq!(next, Ok(())),
            }
            assert_eq!(rx.len(), got, "len is at most the capacity");
        }
    }
}

#[test]
fn the_constants() {
    #[cfg(target_pointer_width = "64")]
    assert_eq!(MAX_CAPACITY, 1 << 45);
    #[cfg(target_pointer_width = "32")]
    assert_eq!(MAX_CAPACITY, 1 << 31);
    assert!(MAX_CAPACITY.is_power_of_two());
    assert_eq!(MAX_CONSUMERS, 65535);
}

#[test]
#[should_panic(expected = "capacity")]
fn capacity_zero_panics() {
    let _ = channel::<u8>(0, Policy::Backpressure);
}

#[test]
#[should_panic(expected = "capacity")]
fn capacity_zero_panics_lossy() {
    let _ = channel::<u8>(0, Policy::Lossy);
}

#[test]
#[should_panic(expected = "capacity")]
fn capacity_above_the_largest_panics() {
    let _ = channel::<u8>(MAX_CAPACITY + 1, Policy::Lossy);
}

/// `usize::MAX.next_power_of_two()` overflows: the constructor must still say what is
/// wrong (not "attempt to add with overflow", nor a zero-sized ring in release).
#[test]
#[should_panic(expected = "capacity")]
fn capacity_usize_max_panics() {
    let _ = channel::<()>(usize::MAX, Policy::Backpressure);
}

/// Just above the largest power of two that fits a `usize`.
#[test]
#[should_panic(expected = "capacity")]
fn capacity_above_half_usize_panics() {
    let _ = channel::<()>((1 << (usize::BITS - 1)) + 1, Policy::Lossy);
}

/// `MAX_CONSUMERS` live consumers at most: the next `subscribe` (from the producer or
/// a consumer) panics and changes nothing; once one goes, there is room again.
fn max_consumers(policy: Policy) {
    let (mut tx, rx) = channel::<u64>(4, policy);
    let mut all = vec![rx];
    while all.len() < MAX_CONSUMERS {
        all.push(tx.subscribe());
    }
    assert_eq!(tx.consumer_count(), MAX_CONSUMERS);
    let from_producer = catch_unwind(AssertUnwindSafe(|| tx.subscribe()));
    let msg = panic_message(from_producer.expect_err("subscribe beyond MAX_CONSUMERS"));
    assert!(msg.contains("consumers"), "{policy:?}: {msg}");
    let from_consumer = catch_unwind(AssertUnwindSafe(|| all[7].subscribe()));
    assert!(
        from_consumer.is_err(),
        "{policy:?}: subscribe beyond MAX_CONSUMERS"
    );
    assert_eq!(
        tx.consumer_count(),
        MAX_CONSUMERS,
        "a failed subscribe counted"
    );
    // Still a working channel.
    tx.push(1).unwrap();
    assert_eq!(all[0].pop(), Ok(Some(1)));
    assert_eq!(all[MAX_CONSUMERS - 1].pop(), Ok(Some(1)));
    all.pop();
    let mut again = tx.subscribe();
    assert_eq!(tx.consumer_count(), MAX_CONSUMERS);
    tx.push(2).unwrap();
    assert_eq!(again.pop(), Ok(Some(2)));
    drop(all);
    assert_eq!(tx.consumer_count(), 1);
}

#[test]
#[cfg_attr(miri, ignore)] // 65535 consumers: too slow under Miri
fn subscribing_beyond_max_consumers_panics_lossy() {
    max_consumers(Policy::Lossy);
}

/// The same under Backpressure, where each consumer takes a cursor node: `subscribe`
/// walks the list only when a node is idle, so reaching the limit is linear.
#[test]
#[cfg_attr(miri, ignore)] // 65535 consumers: too slow under Miri
fn subscribing_beyond_max_consumers_panics_backpressure() {
    max_consumers(Policy::Backpressure);
}

// -------------------------------------------------------------------------------------
// 2. The model
// -------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Push,
    /// Pop from the live consumer `i % live`.
    Pop(usize),
    /// `pop_with` (the borrowing read) from the live consumer `i % live`.
    PopWith(usize),
    /// `pop_slice` of a `dst` of this length.
    PopSlice(usize, usize),
    /// Subscribe from the producer (`None`) or from a consumer.
    Subscribe(Option<usize>),
    /// Drop the live consumer `i % live`.
    DropConsumer(usize),
}

/// Runs `ops` on a channel of `asked` capacity against a model of positions: the
/// producer's count of pushes `tail`, each consumer's next position, and the ids of
/// the items pushed. Checks every result, `len`, `is_empty`, `consumer_count`, and
/// that exactly the overwritten originals (and the refused ones, which the test drops)
/// have been dropped; at the end, that every original is dropped once and every clone
/// too.
fn run_model(asked: usize, policy: Policy, ops: &[Op]) {
    let ledger = Ledger::new();
    {
        let (mut tx, rx) = channel::<Counted<'_>>(asked, policy);
        let cap = tx.capacity() as u64;
        assert!(cap.is_power_of_two() && cap >= asked as u64);
        let mut rxs: Vec<Consumer<Counted<'_>>> = vec![rx];
        let mut pos: Vec<u64> = vec![0];
        let mut pushed: Vec<usize> = Vec::new(); // ids, by position
        let mut refused = 0usize;
        for (step, op) in ops.iter().enumerate() {
            let tail = pushed.len() as u64;
            match *op {
                Op::Push => {
                    let item = ledger.item();
                    let id = item.id;
                    let full =
                        policy == Policy::Backpressure && pos.iter().any(|&p| tail - p == cap);
                    match tx.push(item) {
                        Ok(()) => {
                            assert!(!full, "step {step}: push accepted while full");
                            pushed.push(id);
                        }
                        Err(PushError::Full(back)) => {
                            assert!(full, "step {step}: Full while not full ({policy:?})");
                            assert_eq!(back.id, id, "step {step}: Full handed back another item");
                            refused += 1;
                        }
                        Err(e) => panic!("step {step}: unexpected {e:?}"),
                    }
                }
                Op::Pop(i) if !rxs.is_empty() => {
                    let i = i % rxs.len();
                    let got = rxs[i].pop();
                    let p = pos[i];
                    if tail - p > cap {
                        assert_eq!(policy, Policy::Lossy);
                        let want = tail - cap - p;
                        assert_eq!(
                            got.map(|o| o.map(|c| c.id)),
                            Err(Lagged(want)),
                            "step {step}"
                        );
                        pos[i] = tail - cap;
                    } else if p == tail {
                        assert!(matches!(got, Ok(None)), "step {step}: {got:?}");
                    } else {
                        let c = got.unwrap().unwrap();
                        assert_eq!(c.id, pushed[p as usize], "step {step}: pop");
                        assert!(!c.original, "step {step}: a consumer got the original");
                        pos[i] += 1;
                    }
                }
                Op::PopWith(i) if !rxs.is_empty() => {
                    let i = i % rxs.len();
                    let clones = ledger.clones_made.load(SeqCst);
                    let mut called = false;
                    let got = rxs[i].pop_with(|c| {
                        called = true;
                        assert!(c.original, "pop_with lends the ring's item");
                        c.id
                    });
                    assert_eq!(ledger.clones_made.load(SeqCst), clones, "pop_with cloned");
                    let p = pos[i];
                    if tail - p > cap {
                        assert_eq!(got, Err(Lagged(tail - cap - p)), "step {step}: pop_with");
                        assert!(!called, "step {step}: read called on a lag");
                        pos[i] = tail - cap;
                    } else if p == tail {
                        assert_eq!(got, Ok(None), "step {step}: pop_with");
                        assert!(!called, "step {step}: read called with no item");
                    } else {
                        assert_eq!(got, Ok(Some(pushed[p as usize])), "step {step}: pop_with");
                        pos[i] += 1;
                    }
                }
                Op::PopSlice(i, len) if !rxs.is_empty() => {
                    let i = i % rxs.len();
                    let mut dst: Vec<Counted<'_>> = (0..len).map(|_| ledger.item()).collect();
                    let got = rxs[i].pop_slice(&mut dst);
                    let p = pos[i];
                    if tail - p > cap && len > 0 {
                        assert_eq!(policy, Policy::Lossy);
                        assert_eq!(got, Err(Lagged(tail - cap - p)), "step {step}: pop_slice");
                        pos[i] = tail - cap;
                    } else if tail - p <= cap {
                        let k = (len as u64).min(tail - p) as usize;
                        assert_eq!(got, Ok(k), "step {step}: pop_slice count");
                        let want = &pushed[p as usize..p as usize + k];
                        assert_eq!(ids(&dst[..k]), want, "step {step}: pop_slice items");
                        pos[i] += k as u64;
                    } else {
                        // An empty `dst` while lagged: either report the lag (and move
                        // on to the oldest) or copy nothing; both leave it consistent.
                        match got {
                            Ok(0) => {}
                            Err(Lagged(k)) => {
                                assert_eq!(k, tail - cap - p, "step {step}");
                                pos[i] = tail - cap;
                            }
                            other => panic!("step {step}: pop_slice(&mut []) gave {other:?}"),
                        }
                    }
                }
                Op::Subscribe(from) => {
                    let new = match from {
                        Some(i) if !rxs.is_empty() => rxs[i % rxs.len()].subscribe(),
                        _ => tx.subscribe(),
                    };
                    assert_eq!(new.len(), 0, "step {step}: a new consumer has items");
                    assert!(new.is_empty());
                    rxs.push(new);
                    pos.push(tail);
                }
                Op::DropConsumer(i) if !rxs.is_empty() => {
                    let i = i % rxs.len();
                    drop(rxs.swap_remove(i));
                    pos.swap_remove(i);
                }
                _ => {}
            }
            // After every step.
            let tail = pushed.len() as u64;
            assert_eq!(
                tx.consumer_count(),
                rxs.len(),
                "step {step}: consumer_count"
            );
            for (rx, &p) in rxs.iter().zip(&pos) {
                let len = (tail - p).min(cap) as usize;
                assert_eq!(rx.len(), len, "step {step}: len after {op:?}");
                assert_eq!(
                    rx.is_empty(),
                    len == 0,
                    "step {step}: is_empty after {op:?}"
                );
                assert!(!rx.is_abandoned());
            }
            let overwritten = pushed.len().saturating_sub(cap as usize);
            assert_eq!(
                ledger.dropped(),
                overwritten + refused + ledger_fillers_dropped(&ledger, &pushed, refused),
                "step {step}: originals dropped after {op:?} (only the overwritten ones \
                 may be, and the refused ones, which the test drops)"
            );
            assert_eq!(
                ledger.live_clones(),
                0,
                "step {step}: the test drops every clone"
            );
        }
        ledger.assert_no_double_drop();
    }
    ledger.assert_all_dropped_once();
}

/// The `pop_slice` fillers are originals too (the test made them and dropped them, or
/// `pop_slice` overwrote them): the ledger's originals that were neither pushed nor
/// refused. They are all dropped by the end of each step.
fn ledger_fillers_dropped(ledger: &Ledger, pushed: &[usize], refused: usize) -> usize {
    ledger.counts().len() - pushed.len() - refused
}

fn random_op(rng: &mut Rng) -> Op {
    match rng.below(16) {
        0..=6 => Op::Push,
        7..=9 => Op::Pop(rng.below(8)),
        10 => Op::PopWith(rng.below(8)),
        11 | 12 => Op::PopSlice(rng.below(8), rng.below(6)),
        13 => Op::Subscribe(if rng.one_in(2) {
            None
        } else {
            Some(rng.below(8))
        }),
        14 => Op::DropConsumer(rng.below(8)),
        // A burst of pushes: the producer laps (Lossy) or fills (Backpressure).
        _ => Op::Push,
    }
}

const MODEL_CAPS: &[usize] = &[1, 2, 3, 4, 5, 8, 13];

#[test]
fn model_deterministic() {
    let (caps, steps, seeds) = if cfg!(miri) {
        (&MODEL_CAPS[..4], 120, 1)
    } else {
        (MODEL_CAPS, 2000, 6)
    };
    for policy in POLICIES {
        for &cap in caps {
            for seed in 0..seeds {
                let mut rng = Rng::new(cap as u64 * 1000 + seed);
                let ops: Vec<Op> = (0..steps).map(|_| random_op(&mut rng)).collect();
                run_model(cap, policy, &ops);
            }
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Push),
        3 => (0usize..8).prop_map(Op::Pop),
        1 => (0usize..8).prop_map(Op::PopWith),
        2 => (0usize..8, 0usize..7).prop_map(|(i, n)| Op::PopSlice(i, n)),
        1 => prop::option::of(0usize..8).prop_map(Op::Subscribe),
        1 => (0usize..8).prop_map(Op::DropConsumer),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    #[cfg_attr(miri, ignore)] // far too slow under Miri: see `model_deterministic`
    fn model_random(
        cap in 1usize..10,
        lossy in any::<bool>(),
        ops in prop::collection::vec(op(), 0..300),
    ) {
        let policy = if lossy { Policy::Lossy } else { Policy::Backpressure };
        run_model(cap, policy, &ops);
    }
}

// -------------------------------------------------------------------------------------
// 3. Backpressure, one thread
// -------------------------------------------------------------------------------------

#[test]
fn backpressure_every_consumer_sees_every_item_in_order() {
    let (mut tx, rx) = channel::<u64>(4, Policy::Backpressure);
    let mut rxs = [rx, tx.subscribe(), tx.subscribe()];
    let mut got = vec![Vec::new(); 3];
    let mut rng = Rng::new(3);
    let total = n(1000, 100) as u64;
    let mut i = 0;
    while i < total {
        match tx.push(i) {
            Ok(()) => i += 1,
            Err(PushError::Full(v)) => {
                assert_eq!(v, i);
                // Some consumer is 4 behind: let a random one read a little.
                let c = rng.below(3);
                for _ in 0..rng.range(1, 4) {
                    if let Some(v) = rxs[c].pop().unwrap() {
                        got[c].push(v);
                    }
                }
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    drop(tx);
    for (rx, got) in rxs.iter_mut().zip(&mut got) {
        got.extend(drain(rx));
        assert!(
            got.iter().copied().eq(0..total),
            "a consumer missed or reordered items"
        );
        assert!(rx.is_abandoned());
    }
}

/// Full exactly when the slowest consumer is `capacity` behind, whichever consumer
/// that is, and room as soon as it reads one.
#[test]
fn backpressure_full_only_when_the_slowest_is_capacity_behind() {
    let (mut tx, mut a) = channel::<u32>(4, Policy::Backpressure);
    let mut b = a.subscribe();
    for i in 0..4 {
        assert_eq!(tx.push(i), Ok(()));
    }
    assert_eq!(tx.push(4), Err(PushError::Full(4)));
    // `a` reads everything: `b` is still 4 behind.
    assert_eq!(drain(&mut a), [0, 1, 2, 3]);
    assert_eq!(
        tx.push(4),
        Err(PushError::Full(4)),
        "b is still capacity behind"
    );
    // `b` reads one: room for exactly one.
    assert_eq!(b.pop(), Ok(Some(0)));
    assert_eq!(tx.push(4), Ok(()));
    assert_eq!(tx.push(5), Err(PushError::Full(5)));
    // Now `a` is 1 behind, `b` 4 behind; `b` reads three: room for three.
    assert_eq!(b.pop(), Ok(Some(1)));
    assert_eq!(b.pop(), Ok(Some(2)));
    assert_eq!(b.pop(), Ok(Some(3)));
    for i in 5..8 {
        assert_eq!(tx.push(i), Ok(()), "push {i}");
    }
    // `a` is now the slowest (4 behind: 4, 5, 6, 7).
    assert_eq!(a.len(), 4);
    assert_eq!(b.len(), 4);
    assert_eq!(tx.push(8), Err(PushError::Full(8)));
    assert_eq!(a.pop(), Ok(Some(4)));
    assert_eq!(tx.push(8), Err(PushError::Full(8)), "b is 4 behind now");
    assert_eq!(b.pop(), Ok(Some(4)));
    assert_eq!(tx.push(8), Ok(()));
    assert_eq!(drain(&mut a), [5, 6, 7, 8]);
    assert_eq!(drain(&mut b), [5, 6, 7, 8]);
}

#[test]
fn backpressure_full_hands_the_value_back() {
    let (mut tx, _rx) = channel::<String>(1, Policy::Backpressure);
    tx.push("a".to_owned()).unwrap();
    match tx.push("b".to_owned()) {
        Err(PushError::Full(v)) => assert_eq!(v, "b"),
        other => panic!("{other:?}"),
    }
    assert_eq!(tx.push("c".to_owned()).unwrap_err().into_inner(), "c");
}

/// A dropped consumer no longer holds the producer back, whatever it had left unread;
/// the others still see every item.
#[test]
fn backpressure_a_dropped_consumer_no_longer_holds_the_producer_back() {
    let (mut tx, mut fast) = channel::<u32>(2, Policy::Backpressure);
    let slow = fast.subscribe();
    tx.push(0).unwrap();
    tx.push(1).unwrap();
    assert_eq!(drain(&mut fast), [0, 1]);
    assert_eq!(tx.push(2), Err(PushError::Full(2)));
    assert_eq!(tx.consumer_count(), 2);
    drop(slow);
    assert_eq!(tx.consumer_count(), 1);
    assert_eq!(tx.push(2), Ok(()));
    assert_eq!(tx.push(3), Ok(()));
    assert_eq!(
        tx.push(4),
        Err(PushError::Full(4)),
        "the remaining consumer counts"
    );
    assert_eq!(drain(&mut fast), [2, 3]);
    // The last consumer gone: nothing holds the producer back.
    drop(fast);
    assert_eq!(tx.consumer_count(), 0);
    for i in 0..50 {
        assert_eq!(tx.push(i), Ok(()), "no consumers: push never fails");
    }
}

#[test]
fn no_consumers_push_never_fails_and_a_later_subscriber_sees_only_newer_items() {
    for policy in POLICIES {
        let (mut tx, rx) = channel::<u32>(2, policy);
        drop(rx);
        for i in 0..10 {
            assert_eq!(tx.push(i), Ok(()), "{policy:?}");
        }
        let mut late = tx.subscribe();
        assert_eq!(late.len(), 0);
        assert_eq!(
            late.pop(),
            Ok(None),
            "{policy:?}: the new consumer saw an old item"
        );
        tx.push(10).unwrap();
        tx.push(11).unwrap();
        assert_eq!(drain(&mut late), [10, 11]);
    }
}

// -------------------------------------------------------------------------------------
// 4. Subscribe
// -------------------------------------------------------------------------------------

/// A consumer made by `subscribe` (from the producer, or from a consumer at any
/// position) starts after the newest item: it sees exactly the items pushed after it
/// was made, whatever the consumer it came from had read.
#[test]
fn subscribe_starts_after_the_newest_item() {
    for policy in POLICIES {
        let (mut tx, mut a) = channel::<u32>(8, policy);
        for i in 0..5 {
            tx.push(i).unwrap();
        }
        assert_eq!(a.pop(), Ok(Some(0)));
        let mut from_tx = tx.subscribe();
        let mut from_a = a.subscribe();
        assert_eq!(tx.consumer_count(), 3);
        for c in [&from_tx, &from_a] {
            assert_eq!(c.len(), 0, "{policy:?}");
            assert!(c.is_empty());
            assert_eq!(c.capacity(), 8);
            assert_eq!(c.policy(), policy);
        }
        assert_eq!(
            from_a.pop(),
            Ok(None),
            "{policy:?}: not a clone of a's position"
        );
        tx.push(5).unwrap();
        tx.push(6).unwrap();
        assert_eq!(drain(&mut from_tx), [5, 6]);
        assert_eq!(drain(&mut from_a), [5, 6]);
        assert_eq!(
            drain(&mut a),
            [1, 2, 3, 4, 5, 6],
            "{policy:?}: a lost its place"
        );
    }
}

/// In Backpressure a new consumer holds the producer back from where it starts, not
/// from where the consumer it came from is.
#[test]
fn backpressure_a_subscriber_holds_back_from_its_start() {
    let (mut tx, mut a) = channel::<u32>(4, Policy::Backpressure);
    for i in 0..3 {
        tx.push(i).unwrap();
    }
    let mut b = a.subscribe(); // starts at 3
    assert_eq!(drain(&mut a), [0, 1, 2]);
    for i in 3..7 {
        assert_eq!(tx.push(i), Ok(()), "push {i}");
    }
    assert_eq!(tx.push(7), Err(PushError::Full(7)), "b is 4 behind");
    assert_eq!(b.pop(), Ok(Some(3)));
    assert_eq!(tx.push(7), Err(PushError::Full(7)), "a is 4 behind");
    assert_eq!(a.pop(), Ok(Some(3)));
    assert_eq!(tx.push(7), Ok(()));
}

// -------------------------------------------------------------------------------------
// 5. Lossy
// -------------------------------------------------------------------------------------

#[test]
fn lossy_push_never_fails() {
    let (mut tx, rx) = channel::<u64>(2, Policy::Lossy);
    let _b = rx.subscribe();
    for i in 0..n(1000, 50) as u64 {
        assert_eq!(tx.push(i), Ok(()));
    }
    assert_eq!(rx.len(), 2);
}

/// A consumer more than `capacity` behind gets `Lagged(n)` with the number it missed,
/// then the oldest item still held and the rest in order; lags add up exactly over
/// several laps, and each consumer lags on its own.
#[test]
fn lossy_lagged_exact_then_resumes_at_the_oldest() {
    let (mut tx, mut a) = channel::<u64>(4, Policy::Lossy);
    let mut b = a.subscribe();
    for i in 0..10 {
        tx.push(i).unwrap();
    }
    // Held: 6, 7, 8, 9.
    assert_eq!(a.len(), 4);
    assert!(!a.is_empty());
    assert_eq!(a.pop(), Err(Lagged(6)));
    assert_eq!(a.len(), 4);
    assert_eq!(a.pop(), Ok(Some(6)));
    assert_eq!(a.pop(), Ok(Some(7)));
    // `b` lags on its own, at the same place.
    assert_eq!(b.pop(), Err(Lagged(6)));
    assert_eq!(b.pop(), Ok(Some(6)));
    // Exactly `capacity` behind is no lag; one more is a lag of one.
    for i in 10..12 {
        tx.push(i).unwrap(); // a at 8: held 8..12, 4 behind
    }
    assert_eq!(a.len(), 4);
    tx.push(12).unwrap(); // held 9..13: a missed 8
    assert_eq!(a.pop(), Err(Lagged(1)));
    assert_eq!(drain(&mut a), [9, 10, 11, 12]);
    // `b` (at 7) missed 7 and 8.
    assert_eq!(b.pop(), Err(Lagged(2)));
    assert_eq!(drain(&mut b), [9, 10, 11, 12]);
    // Many laps: a at 13, tail 113, oldest 109.
    for i in 13..113 {
        tx.push(i).unwrap();
    }
    assert_eq!(a.pop(), Err(Lagged(96)));
    assert_eq!(drain(&mut a), [109, 110, 111, 112]);
    assert_eq!(a.pop(), Ok(None));
}

/// A lag is reported once: after it, the consumer reads in order, even if it waits
/// before reading on; and a lag found again later is a new, separate count.
#[test]
fn lossy_after_a_lag_reads_in_order() {
    let (mut tx, mut rx) = channel::<u64>(2, Policy::Lossy);
    for i in 0..5 {
        tx.push(i).unwrap();
    }
    assert_eq!(rx.pop(), Err(Lagged(3)));
    assert_eq!(rx.pop(), Ok(Some(3)));
    tx.push(5).unwrap(); // held 4, 5: rx at 4, not behind
    assert_eq!(rx.pop(), Ok(Some(4)));
    assert_eq!(rx.pop(), Ok(Some(5)));
    assert_eq!(rx.pop(), Ok(None));
    for i in 6..9 {
        tx.push(i).unwrap(); // held 7, 8: rx at 6 missed 6
    }
    assert_eq!(rx.pop(), Err(Lagged(1)));
    assert_eq!(drain(&mut rx), [7, 8]);
}

#[test]
fn lossy_len_is_at_most_the_capacity() {
    let (mut tx, mut rx) = channel::<u8>(4, Policy::Lossy);
    assert!(rx.is_empty());
    for i in 0..4u8 {
        tx.push(i).unwrap();
        assert_eq!(rx.len(), usize::from(i) + 1);
    }
    for i in 4..40u8 {
        tx.push(i).unwrap();
        assert_eq!(rx.len(), 4);
        assert!(!rx.is_empty());
    }
    assert!(rx.pop().is_err());
    assert_eq!(rx.len(), 4);
    assert_eq!(drain(&mut rx), [36, 37, 38, 39]);
    assert!(rx.is_empty());
}

/// `pop_with` lends items that are not `Clone`: in order, each to every consumer,
/// `read` not called on a lag or with nothing to read; the items stay in the ring.
#[test]
fn pop_with_reads_items_that_are_not_clone() {
    #[derive(Debug, PartialEq)]
    struct Tick(u32); // not Clone
    for policy in POLICIES {
        let (mut tx, mut a) = channel::<Tick>(2, policy);
        let mut b = a.subscribe();
        tx.push(Tick(1)).unwrap();
        tx.push(Tick(2)).unwrap();
        assert_eq!(a.pop_with(|t| t.0), Ok(Some(1)));
        assert_eq!(a.pop_with(|t| t.0 * 10), Ok(Some(20)));
        assert_eq!(
            a.pop_with(|_| -> u32 { panic!("called with no item") }),
            Ok(None)
        );
        assert_eq!(
            b.pop_with(|t| t.0),
            Ok(Some(1)),
            "{policy:?}: b has its own copy"
        );
        assert_eq!(b.len(), 1);
        if policy == Policy::Lossy {
            for i in 3..8 {
                tx.push(Tick(i)).unwrap(); // positions 2..=6: held 5, 6 (ticks 6, 7)
            }
            assert_eq!(
                a.pop_with(|_| -> u32 { panic!("called on a lag") }),
                Err(Lagged(3)) // a at 2 missed 2, 3, 4
            );
            assert_eq!(
                b.pop_with(|_| -> u32 { panic!("called on a lag") }),
                Err(Lagged(4)) // b at 1 missed 1 ..= 4
            );
            assert_eq!(a.pop_with(|t| t.0), Ok(Some(6)));
            assert_eq!(b.pop_with(|t| t.0), Ok(Some(6)));
        } else {
            // a is caught up, b one behind: room for one more, then b holds it back.
            assert_eq!(tx.push(Tick(3)), Ok(()));
            assert_eq!(tx.push(Tick(4)), Err(PushError::Full(Tick(4))));
            assert_eq!(b.pop_with(|t| t.0), Ok(Some(2)));
            assert_eq!(tx.push(Tick(4)), Ok(()));
        }
    }
}

/// A `read` that panics: the consumer stays where it was (documented), the producer
/// is not held up by the read count it held (under Lossy a push that overwrites that
/// slot would wait for it forever: the pushes run on a thread under a watchdog), and a
/// `read` that reads the same slot through another consumer works.
#[test]
fn pop_with_panicking_or_nested_read() {
    for policy in POLICIES {
        let (mut tx, mut a) = channel::<u64>(2, policy);
        let mut b = a.subscribe();
        tx.push(0).unwrap();
        tx.push(1).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| {
            a.pop_with(|&v| -> u64 { panic!("read of {v} panics, as asked") })
        }));
        assert!(r.is_err());
        // Nested: while `a` holds item 0, `b` reads it too.
        let nested = a.pop_with(|&v| (v, b.pop_with(|&w| w)));
        assert_eq!(nested, Ok(Some((0, Ok(Some(0))))), "{policy:?}");
        assert_eq!(a.pop(), Ok(Some(1)));
        assert_eq!(b.pop(), Ok(Some(1)));
        // Laps over both slots: a read count left behind would hang these pushes.
        let producer = thread::spawn(move || {
            for i in 2..40 {
                let mut v = i;
                while let Err(e) = tx.push(v) {
                    v = e.into_inner();
                    thread::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 38 {
            match (a.pop(), b.pop()) {
                (Ok(Some(x)), _) => got.push(x),
                (Err(Lagged(_)), _) => {
                    assert_eq!(policy, Policy::Lossy);
                    break;
                }
                (Ok(None), _) if a.is_abandoned() && a.is_empty() => break,
                _ => thread::yield_now(),
            }
        }
        join_within_watchdog(producer, "producer after a panicking read");
        assert!(got.windows(2).all(|w| w[0] < w[1]));
    }
}

// -------------------------------------------------------------------------------------
// 6. pop_slice
// -------------------------------------------------------------------------------------

#[test]
fn pop_slice_both_policies_across_the_wrap() {
    for policy in POLICIES {
        let (mut tx, mut rx) = channel::<u32>(4, policy);
        let mut dst = [u32::MAX; 6];
        assert_eq!(rx.pop_slice(&mut dst), Ok(0));
        for i in 0..4 {
            tx.push(i).unwrap();
        }
        assert_eq!(rx.pop_slice(&mut dst[..3]), Ok(3));
        assert_eq!(dst[..3], [0, 1, 2]);
        for i in 4..7 {
            tx.push(i).unwrap(); // slots 0, 1, 2 again: the ring wraps
        }
        assert_eq!(rx.pop_slice(&mut dst), Ok(4), "{policy:?}");
        assert_eq!(dst[..4], [3, 4, 5, 6]);
        assert_eq!(
            dst[4..],
            [u32::MAX; 2],
            "pop_slice wrote past what it returned"
        );
        assert_eq!(rx.pop_slice(&mut dst), Ok(0));
        assert_eq!(rx.pop_slice(&mut []), Ok(0));
        // Many laps, in slices of every length.
        let mut next = 7;
        let mut want = 7;
        for round in 0..n(200, 30) {
            let k = round % 5;
            if (next - want) as usize + k > 4 {
                // Catch up first, so that the producer never laps (Lossy) or fills
                // (Backpressure).
                for v in drain(&mut rx) {
                    assert_eq!(v, want, "{policy:?} round {round}");
                    want += 1;
                }
            }
            for _ in 0..k {
                tx.push(next).unwrap();
                next += 1;
            }
            let mut buf = vec![0; round % 6];
            let got = rx.pop_slice(&mut buf).unwrap();
            assert_eq!(got, buf.len().min((next - want) as usize));
            for &v in &buf[..got] {
                assert_eq!(v, want, "{policy:?} round {round}");
                want += 1;
            }
        }
        assert_eq!(want + drain(&mut rx).len() as u32, next);
    }
}

/// Lossy `pop_slice` after a lag: `Err(Lagged(n))` first, then the oldest items
/// held, across the wrap; a consumer that is not behind gets its slice.
#[test]
fn pop_slice_lossy_with_lag() {
    let (mut tx, mut rx) = channel::<u32>(4, Policy::Lossy);
    let mut b = rx.subscribe();
    for i in 0..6 {
        tx.push(i).unwrap(); // held 2..6, in slots 2, 3, 0, 1
    }
    let mut dst = [u32::MAX; 3];
    assert_eq!(rx.pop_slice(&mut dst), Err(Lagged(2)));
    assert_eq!(rx.pop_slice(&mut dst), Ok(3));
    assert_eq!(dst, [2, 3, 4]);
    assert_eq!(rx.pop_slice(&mut dst), Ok(1));
    assert_eq!(dst[0], 5);
    assert_eq!(rx.pop_slice(&mut dst), Ok(0));
    // `b` lagged the same; a single pop then a slice.
    assert_eq!(b.pop(), Err(Lagged(2)));
    let mut big = [0; 10];
    assert_eq!(b.pop_slice(&mut big), Ok(4));
    assert_eq!(big[..4], [2, 3, 4, 5]);
    // A lag found by pop_slice after reading some: 20 more pushes, rx at 6.
    for i in 6..26 {
        tx.push(i).unwrap();
    }
    assert_eq!(rx.pop_slice(&mut big), Err(Lagged(16)));
    assert_eq!(rx.pop_slice(&mut big), Ok(4));
    assert_eq!(big[..4], [22, 23, 24, 25]);
}

// -------------------------------------------------------------------------------------
// 7. Abandonment
// -------------------------------------------------------------------------------------

#[test]
fn consumers_drain_what_is_left_after_the_producer_goes() {
    for policy in POLICIES {
        let (mut tx, mut a) = channel::<u32>(4, policy);
        let mut b = a.subscribe();
        for i in 0..3 {
            tx.push(i).unwrap();
        }
        assert_eq!(a.pop(), Ok(Some(0)));
        assert!(!a.is_abandoned() && !b.is_abandoned());
        drop(tx);
        assert!(a.is_abandoned() && b.is_abandoned());
        assert_eq!(drain(&mut a), [1, 2]);
        assert_eq!(drain(&mut b), [0, 1, 2]);
        assert_eq!(a.pop(), Ok(None));
        // A consumer made after the producer is gone sees nothing, and knows it.
        let mut c = a.subscribe();
        assert!(c.is_abandoned());
        assert_eq!(c.pop(), Ok(None));
        assert_eq!(c.len(), 0);
    }
}

#[test]
fn lossy_lag_is_still_reported_after_the_producer_goes() {
    let (mut tx, mut rx) = channel::<u32>(2, Policy::Lossy);
    for i in 0..5 {
        tx.push(i).unwrap();
    }
    drop(tx);
    assert_eq!(rx.pop(), Err(Lagged(3)));
    assert_eq!(drain(&mut rx), [3, 4]);
}

// -------------------------------------------------------------------------------------
// 8. Drop accounting
// -------------------------------------------------------------------------------------

/// Every permutation of `0..n` (Heap's algorithm; n is small).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn go(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            go(k - 1, a, out);
            if k % 2 == 0 {
                a.swap(i, k - 1);
            } else {
                a.swap(0, k - 1);
            }
        }
    }
    let mut out = Vec::new();
    go(n, &mut (0..n).collect(), &mut out);
    out
}

/// Handles in every state (Backpressure: caught up, midway, at the start, subscribed
/// late; Lossy: also lagged with the lag not yet reported, and one that was
/// reported), dropped in every order: no original is dropped before it is
/// overwritten or the last handle goes, each exactly once, and every clone handed out
/// is dropped by its owner.
#[test]
fn drop_accounting_every_state_every_order() {
    let orders = permutations(5);
    let orders: Vec<&Vec<usize>> = if cfg!(miri) {
        orders.iter().step_by(17).collect()
    } else {
        orders.iter().collect()
    };
    for policy in POLICIES {
        for order in &orders {
            let ledger = Ledger::new();
            let (mut tx, mut caught_up) = channel::<Counted<'_>>(4, policy);
            let mut midway = caught_up.subscribe();
            let at_start = tx.subscribe();
            let mut pushed = 0;
            fn push<'a>(tx: &mut Producer<Counted<'a>>, ledger: &'a Ledger, k: usize) -> usize {
                for _ in 0..k {
                    tx.push(ledger.item()).unwrap();
                }
                k
            }
            pushed += push(&mut tx, &ledger, 4);
            assert_eq!(ids(&drain(&mut caught_up)), [0, 1, 2, 3]);
            assert_eq!(next(&mut midway).id, 0);
            assert_eq!(next(&mut midway).id, 1);
            let late = midway.subscribe();
            let mut handles: Vec<Option<Box<dyn FnOnce() + '_>>> = Vec::new();
            if policy == Policy::Lossy {
                // Lap everyone: `at_start` and `late` (at 4) lag unreported, `midway`
                // (at 2) reports its lag.
                pushed += push(&mut tx, &ledger, 7); // tail 11, held 7..11
                assert_eq!(midway.pop().map(|o| o.map(|c| c.id)), Err(Lagged(5)));
                assert_eq!(next(&mut midway).id, 7);
            }
            assert_eq!(
                ledger.dropped(),
                pushed - 4,
                "{policy:?}: originals dropped before they were overwritten"
            );
            handles.push(Some(Box::new(move || drop(tx))));
            handles.push(Some(Box::new(move || drop(caught_up))));
            handles.push(Some(Box::new(move || drop(midway))));
            handles.push(Some(Box::new(move || drop(at_start))));
            handles.push(Some(Box::new(move || drop(late))));
            for (k, &h) in order.iter().enumerate() {
                (handles[h].take().unwrap())();
                if k + 1 < order.len() {
                    assert_eq!(
                        ledger.dropped(),
                        pushed - 4,
                        "{policy:?} order {order:?}: items dropped before the last handle"
                    );
                }
            }
            ledger.assert_all_dropped_once();
        }
    }
}

/// Lossy overwrites drop the overwritten original at once, consumers or none, and a
/// long run through a small ring drops every original exactly once.
#[test]
fn drop_accounting_overwritten_items() {
    for policy in POLICIES {
        let ledger = Ledger::new();
        {
            let (mut tx, rx) = channel::<Counted<'_>>(2, policy);
            // Backpressure: no consumers, so never full; Lossy: one that never reads.
            let _rx = (policy == Policy::Lossy).then_some(rx);
            for i in 0..n(500, 40) {
                tx.push(ledger.item()).unwrap();
                assert_eq!(
                    ledger.dropped(),
                    i.saturating_sub(1),
                    "{policy:?} after push {i}"
                );
            }
        }
        ledger.assert_all_dropped_once();
    }
}

/// `pop_slice` overwrites `dst`'s old values (dropped once, by the assignment) and
/// the clones it writes are the caller's.
#[test]
fn drop_accounting_pop_slice() {
    for policy in POLICIES {
        let ledger = Ledger::new();
        {
            let (mut tx, mut rx) = channel::<Counted<'_>>(4, policy);
            let pushes = if policy == Policy::Lossy { 6 } else { 4 };
            for _ in 0..pushes {
                tx.push(ledger.item()).unwrap();
            }
            let mut dst: Vec<Counted<'_>> = (0..3).map(|_| ledger.item()).collect();
            if policy == Policy::Lossy {
                assert!(rx.pop_slice(&mut dst).is_err());
            }
            assert_eq!(rx.pop_slice(&mut dst), Ok(3));
            assert!(dst.iter().all(|c| !c.original));
            assert_eq!(ledger.live_clones(), 3);
            drop(dst);
            assert_eq!(ledger.live_clones(), 0);
        }
        ledger.assert_all_dropped_once();
    }
}

/// Zero-sized items with a `Drop`: counted, not lost, in both policies.
#[test]
fn zero_sized_items_are_dropped_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Debug)]
    struct Zst;
    impl Clone for Zst {
        fn clone(&self) -> Self {
            Zst
        }
    }
    impl Drop for Zst {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    let mut expected = 0;
    for policy in POLICIES {
        let (mut tx, mut rx) = channel::<Zst>(3, policy); // 4
        let pushes = if policy == Policy::Lossy { 20 } else { 4 };
        for _ in 0..pushes {
            tx.push(Zst).unwrap();
        }
        if policy == Policy::Lossy {
            assert_eq!(rx.pop().unwrap_err(), Lagged(16));
        }
        let popped = drain(&mut rx);
        assert_eq!(popped.len(), 4);
        drop(popped);
        drop((tx, rx));
        expected += pushes + 4;
        assert_eq!(DROPS.load(SeqCst), expected, "{policy:?}: pushes + clones");
    }
}

// -------------------------------------------------------------------------------------
// 9. Hostile users
// -------------------------------------------------------------------------------------

/// A `Clone` that panics in `pop`: the panic comes out of `pop`; afterwards the
/// consumer reads on from the item whose clone panicked (documented: it "stays where it
/// was"), in order; the other consumer is unaffected, and the producer's next pushes
/// succeed as the positions say (it does not hang or see a phantom reader).
#[test]
fn clone_panicking_in_pop_leaves_the_channel_usable() {
    for policy in POLICIES {
        let ledger = Ledger::new();
        {
            let (mut tx, mut rx) = channel::<Counted<'_>>(4, policy);
            let mut other = rx.subscribe();
            for _ in 0..4 {
                tx.push(ledger.item()).unwrap(); // 0..4
            }
            assert_eq!(next(&mut rx).id, 0);
            assert_eq!(ids(&drain(&mut other)), [0, 1, 2, 3]);
            ledger.arm(1);
            let r = catch_unwind(AssertUnwindSafe(|| rx.pop().map(|o| o.map(|c| c.id))));
            let msg = panic_message(r.expect_err("the clone's panic comes out of pop"));
            assert!(msg.contains("as asked"), "{msg}");
            ledger.disarm();
            // The consumer is at 1 (the item not delivered) or 2 (skipped): room for 1
            // or 2 pushes in Backpressure. Push one: always room.
            assert_eq!(
                tx.push(ledger.item()).map_err(|e| e.into_inner().id),
                Ok(())
            );
            // Documented: "the consumer stays where it was".
            let resumed = next(&mut rx).id;
            assert_eq!(
                resumed, 1,
                "{policy:?}: after the panic the consumer resumed at {resumed}"
            );
            // Now the consumer is at `resumed + 1` (and `other` at 4): Backpressure has
            // room for exactly `resumed` more (tail is 5, the slowest may be 4 behind).
            let room = resumed;
            for k in 0..room {
                let r = tx.push(ledger.item());
                assert!(r.is_ok(), "{policy:?}: push {k} of {room} after the panic");
            }
            if policy == Policy::Backpressure {
                assert!(
                    tx.push(ledger.item()).is_err(),
                    "room for more than the positions say"
                );
            }
            let rest = ids(&drain(&mut rx));
            let want: Vec<usize> = (resumed + 1..5 + room).collect();
            assert_eq!(rest, want, "{policy:?}: in order after the panic");
            let rest = ids(&drain(&mut other));
            assert_eq!(
                rest,
                (4..5 + room).collect::<Vec<_>>(),
                "{policy:?}: the other consumer"
            );
            // And on, for a few laps.
            for _ in 0..12 {
                tx.push(ledger.item()).unwrap();
                assert_eq!(next(&mut rx).id, next(&mut other).id);
            }
        }
        ledger.assert_all_dropped_once();
    }
}

/// A `Clone` that panics in the middle of `pop_slice`: the items cloned before it count
/// as read (documented), so the consumer resumes at the one that panicked, in order; the producer's pushes go on;
/// every original and clone is dropped once (the clones written into `dst` before the
/// panic are the caller's).
#[test]
fn clone_panicking_in_pop_slice_leaves_the_channel_usable() {
    for policy in POLICIES {
        let ledger = Ledger::new();
        {
            let (mut tx, mut rx) = channel::<Counted<'_>>(4, policy);
            for _ in 0..6 {
                // Wrap first: push 2, read 2, then 4 more (ids 2..6 in slots 2,3,0,1).
                if ledger.counts().len() == 2 {
                    assert_eq!(ids(&drain(&mut rx)), [0, 1]);
                }
                tx.push(ledger.item()).unwrap();
            }
            // ids: 0..6 pushed; held 2..6. Now make the third of the slice panic.
            ledger.arm(4);
            let mut dst: Vec<Counted<'_>> = (0..4).map(|_| ledger.item()).collect(); // 6..10
            let r = catch_unwind(AssertUnwindSafe(|| rx.pop_slice(&mut dst)));
            assert!(r.is_err(), "the clone's panic comes out of pop_slice");
            ledger.disarm();
            assert_eq!(ids(&dst[..2]), [2, 3], "the items read before the panic");
            drop(dst);
            assert_eq!(ledger.live_clones(), 0);
            // Documented: "the items before it count as read" (2 and 3, which the
            // caller finds in `dst[..2]`), so it resumes at the one that panicked.
            let resumed = next(&mut rx).id;
            assert_eq!(
                resumed, 4,
                "{policy:?}: after the panic the consumer resumed at {resumed}"
            );
            // The producer: there is room for at least one more (the slowest, rx, is at
            // 3 at least).
            tx.push(ledger.item()).unwrap(); // id 10
            let rest = ids(&drain(&mut rx));
            let mut want: Vec<usize> = (resumed + 1..6).collect();
            want.push(10);
            assert_eq!(rest, want, "{policy:?}");
            for _ in 0..9 {
                tx.push(ledger.item()).unwrap();
                assert!(!next(&mut rx).original);
            }
        }
        ledger.assert_all_dropped_once();
    }
}

/// An item whose `Drop` panics when a later push overwrites it: the panic comes out of
/// that push, which has pushed its own item all the same (consumers get it); the
/// producer pushes on and every other original is dropped once.
#[test]
fn overwritten_item_panicking_in_drop() {
    for policy in POLICIES {
        let ledger = Ledger::new();
        {
            let (mut tx, mut rx) = channel::<Counted<'_>>(2, policy);
            tx.push(ledger.item()).unwrap(); // 0: panics when dropped
            tx.push(ledger.item()).unwrap(); // 1
            assert_eq!(ids(&drain(&mut rx)), [0, 1]);
            ledger.panic_drop_of.store(0, SeqCst);
            let r = catch_unwind(AssertUnwindSafe(|| tx.push(ledger.item()).is_ok())); // 2
            let msg = panic_message(r.expect_err("the overwritten item's panic comes out of push"));
            assert!(msg.contains("drop of item 0"), "{msg}");
            assert_eq!(
                rx.len(),
                1,
                "{policy:?}: the push that panicked did not push"
            );
            assert_eq!(next(&mut rx).id, 2);
            for _ in 0..6 {
                tx.push(ledger.item()).unwrap();
                assert!(!next(&mut rx).original);
            }
        }
        ledger.assert_all_dropped_once();
    }
}

/// A `Clone` that panics under a waiting pop (blocking, timed and async): the panic
/// comes out, and the consumer then gets that item or (if the implementation skips
/// it) nothing more until the next push; never a hang.
#[cfg(all(feature = "std", feature = "async"))]
#[test]
fn clone_panicking_in_waiting_pops_leaves_the_channel_usable() {
    use std::time::Duration;
    let short = Duration::from_millis(5);
    for policy in POLICIES {
        let ledger = Ledger::new();
        {
            let (mut tx, mut rx) = channel::<Counted<'_>>(2, policy);
            for (k, way) in ["blocking", "timeout", "async"].into_iter().enumerate() {
                tx.push(ledger.item()).unwrap(); // id k
                ledger.arm(k);
                let r = catch_unwind(AssertUnwindSafe(|| match way {
                    "blocking" => drop(rx.pop_blocking()),
                    "timeout" => drop(rx.pop_timeout(short)),
                    _ => drop(common::block_on(rx.pop_async())),
                }));
                assert!(r.is_err(), "{policy:?} {way}: the clone's panic comes out");
                ledger.disarm();
                match rx.pop_timeout(short).map(|c| c.id) {
                    Ok(id) => assert_eq!(id, k, "{policy:?} {way}"),
                    Err(e) => assert_eq!(e, PopError::Timeout, "{policy:?} {way}"),
                }
            }
            tx.push(ledger.item()).unwrap();
            assert_eq!(rx.pop_blocking().map(|c| c.id), Ok(3), "{policy:?}");
        }
        ledger.assert_all_dropped_once();
    }
}

/// A forgotten consumer is a consumer that never reads: in Backpressure it holds the
/// producer back (it still counts), in Lossy it is lapped; the others go on, and no
/// item is dropped twice. The channel itself leaks with it.
#[test]
#[cfg_attr(miri, ignore)] // leaks the channel on purpose (Miri's leak check would fail)
fn a_forgotten_consumer() {
    for policy in POLICIES {
        let ledger = Ledger::new();
        {
            let (mut tx, mut rx) = channel::<Counted<'_>>(2, policy);
            std::mem::forget(rx.subscribe());
            assert_eq!(tx.consumer_count(), 2);
            tx.push(ledger.item()).unwrap();
            tx.push(ledger.item()).unwrap();
            assert_eq!(ids(&drain(&mut rx)), [0, 1]);
            let third = tx.push(ledger.item());
            match policy {
                Policy::Backpressure => assert!(third.is_err(), "the forgotten one is 2 behind"),
                Policy::Lossy => {
                    assert!(third.is_ok());
                    for _ in 0..10 {
                        tx.push(ledger.item()).unwrap();
                    }
                    assert_eq!(rx.pop().map(|o| o.map(|c| c.id)), Err(Lagged(9)));
                    assert_eq!(ids(&drain(&mut rx)), [11, 12]);
                }
            }
        }
        ledger.assert_no_double_drop();
        assert_eq!(ledger.live_clones(), 0);
    }
}

// -------------------------------------------------------------------------------------
// 10. Threads
// -------------------------------------------------------------------------------------

/// What one consumer thread saw.
#[derive(Debug, Default)]
struct Seen {
    /// The position it started at (for a consumer whose start is not known in
    /// advance: its first item's, less the lags reported before it).
    start: u64,
    /// Items received, in order.
    items: Vec<u64>,
    /// Sum of the lags reported.
    lagged: u64,
    /// The position after the last item or lag: `start + items + lagged`.
    next: u64,
}

impl Seen {
    /// Records item `v`: it must be exactly the next position (once the start is
    /// known).
    fn item(&mut self, v: u64, known: &mut bool, how: &str) {
        if !*known {
            *known = true;
            self.start = v - self.lagged;
            self.next = v;
        }
        assert_eq!(
            v, self.next,
            "{how}: item out of place (after {} lagged)",
            self.lagged
        );
        self.items.push(v);
        self.next += 1;
    }
}

/// Reads `rx` until the producer is gone and nothing is left (mixing `pop`,
/// `pop_with` and `pop_slice`), checking that every item is exactly the next position it expects
/// (after adding each lag); `start` is its first position if known. Stops early after
/// `stop_after` items, dropping the consumer midway.
fn read_all(
    mut rx: Consumer<u64>,
    start: Option<u64>,
    seed: u64,
    stop_after: Option<usize>,
) -> Seen {
    let mut rng = Rng::new(seed);
    let mut known = start.is_some();
    let mut seen = Seen {
        start: start.unwrap_or(0),
        next: start.unwrap_or(0),
        ..Seen::default()
    };
    let mut buf = [0u64; 5];
    loop {
        if stop_after.is_some_and(|k| seen.items.len() >= k) {
            return seen; // drops the consumer midway
        }
        let gone = rx.is_abandoned();
        let mut got_any = false;
        let r = if rng.one_in(3) {
            let k = rng.range(1, 5);
            rx.pop_slice(&mut buf[..k]).map(|got| {
                for &v in &buf[..got] {
                    seen.item(v, &mut known, "pop_slice");
                }
                got_any = got > 0;
            })
        } else if rng.one_in(3) {
            rx.pop_with(|&v| v).map(|o| {
                if let Some(v) = o {
                    seen.item(v, &mut known, "pop_with");
                    got_any = true;
                }
            })
        } else {
            rx.pop().map(|o| {
                if let Some(v) = o {
                    seen.item(v, &mut known, "pop");
                    got_any = true;
                }
            })
        };
        match r {
            Ok(()) if got_any => {}
            // Nothing, and the producer was gone before we looked: nothing more comes.
            Ok(()) if gone => return seen,
            Ok(()) => thread::yield_now(),
            Err(Lagged(k)) => {
                assert!(k > 0, "Lagged(0)");
                seen.lagged += k;
                seen.next += k;
            }
        }
    }
}

/// One producer pushing `0..n`, `consumers` reader threads subscribed before the
/// first push; `leavers` of them stop after a few items (Backpressure: they must then
/// not hold the producer back). Backpressure: every reader that stays sees exactly
/// `0..n`. Lossy: every reader's items and lags add up exactly to `0..n`, and it ends
/// with the last item. Returns the readers' lag totals.
fn stress(policy: Policy, cap: usize, consumers: usize, leavers: usize, n: u64, seed: u64) -> u64 {
    let (mut tx, rx) = channel::<u64>(cap, policy);
    let mut rxs = vec![rx];
    while rxs.len() < consumers {
        rxs.push(tx.subscribe());
    }
    let readers: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let stop = (i < leavers).then_some(3 + i * 5);
            thread::spawn(move || read_all(rx, Some(0), seed * 10 + i as u64, stop))
        })
        .collect();
    // Nothing here parks: every thread spins or yields, so the watchdog bounds a stretch
    // without a push rather than the whole run (which can be slow under a sanitizer).
    let pushed = Arc::new(AtomicUsize::new(0));
    let producer_pushed = Arc::clone(&pushed);
    let producer = thread::spawn(move || {
        let mut full = 0u64;
        for i in 0..n {
            let mut v = i;
            loop {
                match tx.push(v) {
                    Ok(()) => {
                        producer_pushed.fetch_add(1, SeqCst);
                        break;
                    }
                    Err(PushError::Full(back)) => {
                        assert_eq!(policy, Policy::Backpressure, "Lossy refused a push");
                        full += 1;
                        v = back;
                        thread::yield_now();
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        full
    });
    join_while_progressing(producer, "producer", &pushed);
    let mut total_lag = 0;
    for (i, r) in readers.into_iter().enumerate() {
        // The producer is done; a reader has at most `cap` items left to read.
        let seen = join_within_watchdog(r, "reader");
        if i < leavers {
            continue; // read_all checked what it read
        }
        assert_eq!(
            seen.next, n,
            "{policy:?} reader {i}: items + lags do not cover 0..n"
        );
        assert_eq!(
            seen.items.last(),
            Some(&(n - 1)),
            "the last item is never lost"
        );
        match policy {
            Policy::Backpressure => {
                assert_eq!(seen.lagged, 0, "Backpressure reported a lag");
                assert!(seen.items.iter().copied().eq(0..n), "reader {i}");
            }
            Policy::Lossy => {
                assert_eq!(seen.items.len() as u64 + seen.lagged, n - seen.start);
                assert!(seen.items.windows(2).all(|w| w[0] < w[1]));
                total_lag += seen.lagged;
            }
        }
    }
    total_lag
}

#[test]
fn threads_backpressure_every_reader_sees_every_item() {
    let n = n(50_000, 150) as u64;
    for (i, (cap, consumers)) in [(1, 2), (2, 3), (4, 3), (64, 2)].into_iter().enumerate() {
        if cfg!(miri) && i > 1 {
            break;
        }
        stress(Policy::Backpressure, cap, consumers, 0, n, i as u64);
    }
}

#[test]
fn threads_lossy_every_item_seen_or_counted_as_lagged() {
    let n = n(100_000, 200) as u64;
    for (i, (cap, consumers)) in [(1, 2), (2, 3), (4, 3), (64, 2)].into_iter().enumerate() {
        if cfg!(miri) && i > 1 {
            break;
        }
        stress(Policy::Lossy, cap, consumers, 0, n, 100 + i as u64);
    }
}

/// Readers that drop their consumer midway: Backpressure producers are not held back
/// by them (the test would hang); the others still see everything.
#[test]
fn threads_readers_leaving_midway() {
    let n = n(30_000, 120) as u64;
    for policy in POLICIES {
        stress(policy, 2, 3, 2, n, 7);
    }
}

/// Consumers that join while the producer runs: one subscribed by the producer after
/// exactly `k` pushes (it must see exactly `k..n`, or in Lossy `k..n` less what it
/// reports as lagged), and one subscribed by a reader thread from its own consumer
/// (it must start after whatever that reader had seen, then read in order to the
/// end).
#[test]
fn threads_subscribers_joining_midway() {
    let n = n(20_000, 100) as u64;
    let k = n / 3;
    for policy in POLICIES {
        let (mut tx, rx) = channel::<u64>(4, policy);
        let first = thread::spawn(move || {
            // Read five items (fewer if a Lossy producer is done first: only the
            // last `capacity` are left then), then subscribe from this consumer, and
            // read both to the end (the new one on another thread).
            let mut rx = rx;
            let mut seen = Seen::default();
            let mut known = true;
            while seen.items.len() < 5 {
                let gone = rx.is_abandoned();
                match rx.pop() {
                    Ok(Some(v)) => seen.item(v, &mut known, "first"),
                    Ok(None) if gone => break,
                    Ok(None) => thread::yield_now(),
                    Err(Lagged(l)) => {
                        seen.lagged += l;
                        seen.next += l;
                    }
                }
            }
            let last_seen = seen.next - 1;
            let sub = rx.subscribe();
            let from_sub = thread::spawn(move || read_all(sub, None, 99, None));
            let rest = read_all(rx, Some(seen.next), 98, None);
            assert_eq!(rest.next, n, "{policy:?}: the first reader");
            let sub = join_within_watchdog(from_sub, "sub-reader");
            (last_seen, sub)
        });
        let producer = thread::spawn(move || {
            let mut late = None;
            for i in 0..n {
                if i == k {
                    let c = tx.subscribe();
                    late = Some(thread::spawn(move || read_all(c, Some(k), 5, None)));
                }
                let mut v = i;
                while let Err(e) = tx.push(v) {
                    v = e.into_inner();
                    thread::yield_now();
                }
            }
            late.unwrap()
        });
        let late = join_within_watchdog(producer, "producer");
        let late = join_within_watchdog(late, "late reader");
        assert_eq!(late.next, n, "{policy:?}: the producer's subscriber");
        if policy == Policy::Backpressure {
            assert!(
                late.items.iter().copied().eq(k..n),
                "{policy:?}: late subscriber"
            );
        }
        let (last_seen, sub) = join_within_watchdog(first, "first reader");
        // The sub started after the newest item at the time, which is at least the
        // last item its parent had seen; it then reads in order to the end.
        if let Some(&f) = sub.items.first() {
            assert!(
                f > last_seen,
                "{policy:?}: sub starts at {f}, parent had seen {last_seen}"
            );
            assert_eq!(sub.next, n, "{policy:?}: the sub");
            if policy == Policy::Backpressure {
                assert_eq!(sub.lagged, 0);
                assert!(
                    sub.items.iter().copied().eq(f..n),
                    "{policy:?}: sub not contiguous"
                );
            }
        }
    }
}

/// A consumer that has popped item `v` and then subscribes gets a consumer that starts
/// after `v`: `v` was pushed before the `subscribe` call (this thread saw it), and a
/// new consumer "gets every item pushed after this call returns" / "starts after the
/// newest item". Here a reader re-subscribes after every item it pops (dropping the
/// old consumer) while the producer streams; the first item of each new consumer must
/// be later than the last item of the old one.
fn resubscribe_after_every_pop(policy: Policy, n: u64) -> Vec<(u64, u64)> {
    let (mut tx, rx) = channel::<u64>(4, policy);
    let reader = thread::spawn(move || {
        let mut rx = rx;
        let mut last: Option<u64> = None;
        let mut fresh = false;
        let mut bad = Vec::new();
        loop {
            let gone = rx.is_abandoned();
            match rx.pop() {
                Ok(Some(v)) => {
                    if let Some(l) = last {
                        if v <= l {
                            assert!(fresh, "{policy:?}: {v} after {l} from one consumer");
                            bad.push((l, v));
                        }
                    }
                    last = Some(v);
                    rx = rx.subscribe(); // the old consumer is dropped
                    fresh = true;
                }
                Ok(None) if gone => return bad,
                Ok(None) => thread::yield_now(),
                Err(Lagged(_)) => {}
            }
        }
    });
    for i in 0..n {
        let mut v = i;
        while let Err(e) = tx.push(v) {
            v = e.into_inner();
            thread::yield_now();
        }
    }
    drop(tx);
    join_within_watchdog(reader, "reader")
}

#[test]
fn subscribe_from_a_consumer_starts_after_what_it_has_seen() {
    let n = n(300_000, 400) as u64;
    for policy in POLICIES {
        let bad = resubscribe_after_every_pop(policy, n);
        assert!(
            bad.is_empty(),
            "{policy:?}: {} new consumers got an item their parent had already popped \
             (parent's last, new consumer's first): {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
    }
}

/// Drop accounting under threads: originals and clones, both policies, with a reader
/// that stops early.
#[test]
fn threads_drop_accounting() {
    let n = n(5_000, 60);
    for policy in POLICIES {
        let ledger = Ledger::new();
        thread::scope(|s| {
            let (mut tx, rx) = channel::<Counted<'_>>(2, policy);
            let rx2 = tx.subscribe();
            let ledger = &ledger;
            for (rx, stop) in [(rx, usize::MAX), (rx2, n / 3)] {
                s.spawn(move || {
                    let mut rx = rx;
                    let mut got = 0;
                    let mut last = None;
                    loop {
                        let gone = rx.is_abandoned();
                        match rx.pop() {
                            Ok(Some(c)) => {
                                assert!(last < Some(c.id), "out of order");
                                last = Some(c.id);
                                got += 1;
                                if got >= stop {
                                    return;
                                }
                            }
                            Ok(None) if gone => return,
                            Ok(None) => thread::yield_now(),
                            Err(Lagged(_)) => {}
                        }
                    }
                });
            }
            s.spawn(move || {
                for _ in 0..n {
                    let mut v = ledger.item();
                    while let Err(e) = tx.push(v) {
                        v = e.into_inner();
                        thread::yield_now();
                    }
                }
            });
        });
        ledger.assert_all_dropped_once();
    }
}

// -------------------------------------------------------------------------------------
// 11. Traits
// -------------------------------------------------------------------------------------

#[test]
fn debug_without_t_debug() {
    struct Opaque;
    impl Clone for Opaque {
        fn clone(&self) -> Self {
            Opaque
        }
    }
    let (tx, rx) = channel::<Opaque>(2, Policy::Lossy);
    assert!(format!("{tx:?}").contains("Producer"));
    assert!(format!("{rx:?}").contains("Consumer"));
    assert_eq!(format!("{:?}", Lagged(3)), "Lagged(3)");
    assert_eq!(format!("{:?}", PopError::Lagged(3)), "Lagged(3)");
    assert_eq!(format!("{:?}", Policy::Lossy), "Lossy");
}

// Producer and Consumer are Send + Sync exactly when T is Send + Sync: a consumer
// clones the items the producer keeps, from another thread, so T must be Sync too.
assert_impl_all!(Producer<u64>: Send, Sync, std::fmt::Debug);
assert_impl_all!(Consumer<u64>: Send, Sync, std::fmt::Debug);
assert_impl_all!(Producer<String>: Send, Sync);
assert_impl_all!(Consumer<String>: Send, Sync);
assert_not_impl_any!(Producer<Rc<u8>>: Send, Sync);
assert_not_impl_any!(Consumer<Rc<u8>>: Send, Sync);
// Send but not Sync.
assert_not_impl_any!(Producer<Cell<u8>>: Send, Sync);
assert_not_impl_any!(Consumer<Cell<u8>>: Send, Sync);
// Sync but not Send.
assert_not_impl_any!(Producer<std::sync::MutexGuard<'static, u8>>: Send, Sync);
assert_not_impl_any!(Consumer<std::sync::MutexGuard<'static, u8>>: Send, Sync);
assert_not_impl_any!(Producer<*const u8>: Send, Sync);
assert_impl_all!(Policy: Send, Sync, Copy, Eq, std::fmt::Debug);
assert_impl_all!(Lagged: Send, Sync, Copy, Eq, std::fmt::Debug);
assert_impl_all!(PopError: Send, Sync, Copy, Eq, std::fmt::Debug);

#[cfg(feature = "async")]
mod future_pins {
    use super::*;
    use ringway::broadcast::{PopFuture, PushFuture};
    assert_impl_all!(PopFuture<'static, u64>: Send);
    assert_impl_all!(PushFuture<'static, u64>: Send);
    assert_not_impl_any!(PopFuture<'static, Rc<u8>>: Send);
    assert_not_impl_any!(PushFuture<'static, Rc<u8>>: Send);
}

// -------------------------------------------------------------------------------------
// 12. Waiting
// -------------------------------------------------------------------------------------

#[cfg(all(feature = "std", feature = "async"))] // blocking operations and futures
mod waiting {
    use std::task::Poll;
    use std::thread;
    use std::time::Duration;

    use ringway::broadcast::{channel, channel_with_wait_strategy, Lagged, Policy, PopError};
    use ringway::{PushTimeoutError, WaitStrategy};

    use super::{Ledger, POLICIES};
    use crate::common::{block_on, counting_waker, join_within_watchdog, poll_once};

    const STRATEGIES: [WaitStrategy; 3] = [
        WaitStrategy::BusySpin,
        WaitStrategy::SPIN_YIELD,
        WaitStrategy::SpinPark { spins: 0 },
    ];

    fn pause() {
        thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
    }

    /// Two readers that wait for every item (and, with `SpinPark`, sleep) get each of
    /// a stream that the producer pushes with `push_blocking` (Backpressure: it waits
    /// for the slower reader), then `Disconnected`.
    #[test]
    fn blocking_pops_and_pushes_every_item_then_disconnected() {
        let n = if cfg!(miri) { 30 } else { 3_000 };
        for strategy in STRATEGIES {
            let (mut tx, rx) = channel_with_wait_strategy::<u64>(2, Policy::Backpressure, strategy);
            let readers: Vec<_> = [rx.subscribe(), rx]
                .into_iter()
                .map(|mut rx| {
                    thread::spawn(move || {
                        for i in 0..n {
                            assert_eq!(rx.pop_blocking(), Ok(i), "{strategy:?}");
                        }
                        rx.pop_blocking()
                    })
                })
                .collect();
            for i in 0..n {
                tx.push_blocking(i);
            }
            drop(tx);
            for r in readers {
                assert_eq!(
                    join_within_watchdog(r, "reader"),
                    Err(PopError::Disconnected)
                );
            }
        }
    }

    /// Threads asleep in `pop_blocking` on a `SpinPark` channel: one push wakes every
    /// consumer; dropping the producer wakes them with `Disconnected`.
    #[test]
    fn sleeping_readers_are_woken_by_a_push_and_by_the_producer_going() {
        for policy in POLICIES {
            let (mut tx, rx) =
                channel_with_wait_strategy::<u32>(4, policy, WaitStrategy::SpinPark { spins: 0 });
            let readers: Vec<_> = [rx.subscribe(), rx.subscribe(), rx]
                .into_iter()
                .map(|mut rx| thread::spawn(move || (rx.pop_blocking(), rx.pop_blocking())))
                .collect();
            pause(); // let them fall asleep (not needed for correctness)
            tx.push(7).unwrap();
            pause();
            drop(tx);
            for r in readers {
                assert_eq!(
                    join_within_watchdog(r, "reader"),
                    (Ok(7), Err(PopError::Disconnected)),
                    "{policy:?}"
                );
            }
        }
    }

    /// A producer asleep in `push_blocking` on a full Backpressure channel wakes when
    /// the slowest consumer pops, and when the slowest consumer is dropped.
    #[test]
    fn a_sleeping_producer_wakes_when_the_slowest_pops_or_goes() {
        let (mut tx, mut fast) = channel_with_wait_strategy::<u32>(
            2,
            Policy::Backpressure,
            WaitStrategy::SpinPark { spins: 0 },
        );
        let mut slow = fast.subscribe();
        tx.push(0).unwrap();
        tx.push(1).unwrap();
        let producer = thread::spawn(move || {
            tx.push_blocking(2); // waits for `slow`
            tx.push_blocking(3); // waits for `slow` again (then its drop)
            tx
        });
        assert_eq!(fast.pop(), Ok(Some(0)));
        assert_eq!(fast.pop(), Ok(Some(1)));
        pause();
        assert_eq!(slow.pop(), Ok(Some(0)));
        pause();
        drop(slow);
        let mut tx = join_within_watchdog(producer, "producer");
        assert_eq!(super::drain(&mut fast), [2, 3]);
        assert_eq!(tx.consumer_count(), 1);
        tx.push(4).unwrap();
    }

    #[test]
    fn push_timeout_times_out_while_full_and_hands_the_value_back() {
        for strategy in STRATEGIES {
            let (mut tx, mut rx) =
                channel_with_wait_strategy::<String>(1, Policy::Backpressure, strategy);
            let short = Duration::from_millis(5);
            assert_eq!(tx.push_timeout("a".into(), short), Ok(()));
            assert_eq!(
                tx.push_timeout("b".into(), short),
                Err(PushTimeoutError::Timeout("b".to_owned())),
                "{strategy:?}"
            );
            assert_eq!(
                tx.push_timeout("b".into(), Duration::ZERO)
                    .unwrap_err()
                    .into_inner(),
                "b"
            );
            assert_eq!(rx.pop(), Ok(Some("a".to_owned())));
            assert_eq!(tx.push_timeout("b".into(), short), Ok(()));
            // No consumers: never waits, never fails.
            drop(rx);
            for _ in 0..3 {
                assert_eq!(tx.push_timeout("c".into(), short), Ok(()));
            }
            tx.push_blocking("d".into());
        }
    }

    /// Lossy: the waiting pushes never wait (a hang here is the failure).
    #[test]
    fn lossy_waiting_pushes_never_wait() {
        let (mut tx, _rx) =
            channel_with_wait_strategy::<u8>(1, Policy::Lossy, WaitStrategy::SpinPark { spins: 0 });
        for i in 0..10 {
            tx.push_blocking(i);
            assert_eq!(tx.push_timeout(i, Duration::from_secs(3600)), Ok(()));
            block_on(tx.push_async(i));
        }
    }

    #[test]
    fn pop_timeout_times_out_then_pops_then_disconnects() {
        for policy in POLICIES {
            for strategy in STRATEGIES {
                let (mut tx, mut rx) = channel_with_wait_strategy::<u8>(2, policy, strategy);
                let short = Duration::from_millis(5);
                assert_eq!(rx.pop_timeout(short), Err(PopError::Timeout));
                tx.push(1).unwrap();
                assert_eq!(rx.pop_timeout(short), Ok(1));
                assert_eq!(rx.pop_timeout(Duration::ZERO), Err(PopError::Timeout));
                tx.push(2).unwrap();
                drop(tx);
                assert_eq!(rx.pop_timeout(short), Ok(2), "{policy:?} {strategy:?}");
                assert_eq!(rx.pop_timeout(short), Err(PopError::Disconnected));
                assert_eq!(rx.pop_blocking(), Err(PopError::Disconnected));
                assert_eq!(block_on(rx.pop_async()), Err(PopError::Disconnected));
            }
        }
    }

    /// The waiting pops report a lag as `PopError::Lagged(n)`, exactly as `pop`, and
    /// then read on from the oldest item held; after the producer goes, a lagged
    /// consumer gets the lag, the items, then `Disconnected`.
    #[test]
    fn waiting_pops_report_lags() {
        let (mut tx, mut rx) = channel::<u32>(2, Policy::Lossy);
        for i in 0..5 {
            tx.push(i).unwrap();
        }
        assert_eq!(rx.pop_blocking(), Err(PopError::Lagged(3)));
        assert_eq!(rx.pop_blocking(), Ok(3));
        for i in 5..9 {
            tx.push(i).unwrap(); // rx at 4; held 7, 8
        }
        assert_eq!(
            rx.pop_timeout(Duration::from_millis(5)),
            Err(PopError::Lagged(3))
        );
        assert_eq!(rx.pop_timeout(Duration::from_millis(5)), Ok(7));
        for i in 9..12 {
            tx.push(i).unwrap(); // rx at 8; held 10, 11
        }
        assert_eq!(block_on(rx.pop_async()), Err(PopError::Lagged(2)));
        assert_eq!(block_on(rx.pop_async()), Ok(10));
        for i in 12..20 {
            tx.push(i).unwrap(); // rx at 11; held 18, 19
        }
        drop(tx);
        assert_eq!(rx.pop_blocking(), Err(PopError::Lagged(7)));
        assert_eq!(rx.pop_blocking(), Ok(18));
        assert_eq!(rx.pop_blocking(), Ok(19));
        assert_eq!(rx.pop_blocking(), Err(PopError::Disconnected));
        // Lagged(n) carries the same count as broadcast::Lagged.
        assert_eq!(PopError::Lagged(Lagged(4).0), PopError::Lagged(4));
    }

    /// The pop future with the default strategy and with `SpinPark`: pending on an
    /// empty ring (a `SpinPark` ring wakes it on a push, to every consumer's future),
    /// ready with the item, cancel-safe, `Disconnected` after the producer goes.
    #[test]
    fn pop_async_waits_for_a_push() {
        // The default strategy: a pending future need not sleep; it completes once
        // polled after the push.
        let (mut tx, mut rx) = channel::<u8>(2, Policy::Backpressure);
        let (waker, _) = counting_waker();
        {
            let mut f = rx.pop_async();
            assert_eq!(poll_once(&mut f, &waker), Poll::Pending);
            tx.push(1).unwrap();
            assert_eq!(poll_once(&mut f, &waker), Poll::Ready(Ok(1)));
        }
        for policy in POLICIES {
            let (mut tx, mut a) =
                channel_with_wait_strategy::<u8>(2, policy, WaitStrategy::SPIN_PARK);
            let mut b = a.subscribe();
            let (wa, ca) = counting_waker();
            let (wb, cb) = counting_waker();
            {
                let mut fa = a.pop_async();
                let mut fb = b.pop_async();
                assert_eq!(poll_once(&mut fa, &wa), Poll::Pending);
                assert_eq!(poll_once(&mut fb, &wb), Poll::Pending);
                assert_eq!((ca.count(), cb.count()), (0, 0));
                tx.push(3).unwrap();
                assert!(
                    ca.count() >= 1,
                    "{policy:?}: the push did not wake a's future"
                );
                assert!(
                    cb.count() >= 1,
                    "{policy:?}: the push did not wake b's future"
                );
                assert_eq!(poll_once(&mut fa, &wa), Poll::Ready(Ok(3)));
                assert_eq!(poll_once(&mut fb, &wb), Poll::Ready(Ok(3)));
            }
            // Cancelled futures pop nothing, polled or not.
            tx.push(4).unwrap();
            drop(a.pop_async());
            {
                let mut f = b.pop_async();
                assert_eq!(poll_once(&mut f, &wb), Poll::Ready(Ok(4)));
            }
            {
                let mut f = a.pop_async();
                let w = std::task::Waker::noop();
                assert_eq!(poll_once(&mut f, w), Poll::Ready(Ok(4)));
                drop(f);
                let mut f = a.pop_async();
                assert_eq!(poll_once(&mut f, w), Poll::Pending);
                drop(f);
            }
            tx.push(5).unwrap();
            drop(tx);
            assert_eq!(block_on(a.pop_async()), Ok(5));
            assert_eq!(block_on(b.pop_async()), Ok(5));
            assert_eq!(block_on(b.pop_async()), Err(PopError::Disconnected));
            assert_eq!(block_on(a.pop_async()), Err(PopError::Disconnected));
        }
    }

    /// The push future on a full Backpressure `SpinPark` ring: pending, woken by the
    /// slowest consumer's pop, then ready with the item pushed; a cancelled one pushes
    /// nothing.
    #[test]
    fn push_async_waits_for_room() {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u8>(
            1,
            Policy::Backpressure,
            WaitStrategy::SpinPark { spins: 0 },
        );
        tx.push(1).unwrap();
        let (waker, wakes) = counting_waker();
        {
            let mut f = tx.push_async(2);
            assert_eq!(poll_once(&mut f, &waker), Poll::Pending);
            assert_eq!(wakes.count(), 0);
            assert_eq!(rx.pop(), Ok(Some(1)));
            assert!(wakes.count() >= 1, "the pop did not wake the pending push");
            assert_eq!(poll_once(&mut f, &waker), Poll::Ready(()));
        }
        {
            let mut f = tx.push_async(3);
            assert_eq!(poll_once(&mut f, &waker), Poll::Pending);
        } // cancelled: 3 is dropped, not pushed
        assert_eq!(rx.pop(), Ok(Some(2)));
        assert_eq!(rx.pop(), Ok(None), "a cancelled push_async pushed its item");
        block_on(tx.push_async(4));
        assert_eq!(rx.pop(), Ok(Some(4)));
        // Room is made by the slowest consumer going away, too.
        block_on(tx.push_async(5));
        {
            let mut f = tx.push_async(6);
            assert_eq!(poll_once(&mut f, &waker), Poll::Pending);
            let before = wakes.count();
            drop(rx);
            assert!(
                wakes.count() > before,
                "dropping the consumer did not wake the push"
            );
            assert_eq!(poll_once(&mut f, &waker), Poll::Ready(()));
        }
        assert_eq!(tx.push(7), Ok(()));
        assert_eq!(tx.push(8), Ok(()), "no consumers: never full");
    }

    /// Forgotten futures: a pending pop future's registration is released by the next
    /// push and the consumer reads on; a pending push future's item is never pushed
    /// (it is leaked with the future, never dropped twice) and the producer pushes on
    /// (no slot is left reserved for it).
    #[test]
    fn forgotten_futures() {
        let ledger = Ledger::new();
        {
            let (mut tx, mut rx) = channel_with_wait_strategy(
                1,
                Policy::Backpressure,
                WaitStrategy::SpinPark { spins: 0 },
            );
            let (waker, wakes) = counting_waker();
            for _ in 0..3 {
                let mut f = rx.pop_async();
                assert!(poll_once(&mut f, &waker).is_pending());
                std::mem::forget(f);
            }
            tx.push(ledger.item()).unwrap(); // 0
            assert!(
                wakes.count() >= 1,
                "the push did not wake the forgotten futures"
            );
            assert_eq!(super::next(&mut rx).id, 0);
            tx.push(ledger.item()).unwrap(); // 1: full again
            let mut f = tx.push_async(ledger.item()); // 2
            assert!(poll_once(&mut f, &waker).is_pending());
            std::mem::forget(f);
            assert_eq!(super::next(&mut rx).id, 1);
            assert_eq!(
                rx.pop().map(|o| o.map(|c| c.id)),
                Ok(None),
                "the forgotten push pushed"
            );
            tx.push(ledger.item()).unwrap(); // 3
            assert_eq!(super::next(&mut rx).id, 3);
            let mut f = rx.pop_async();
            assert!(poll_once(&mut f, &waker).is_pending());
            std::mem::forget(f);
            drop(tx); // wakes (and releases) the last forgotten pop future
            assert_eq!(rx.pop_blocking().map(|c| c.id), Err(PopError::Disconnected));
        }
        ledger.assert_no_double_drop();
        assert_eq!(
            ledger.live_ids(),
            [2],
            "only the forgotten push's item is left"
        );
        assert_eq!(ledger.live_clones(), 0);
    }
}
