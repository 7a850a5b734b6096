//! Integration tests of the overwriting SPSC ring (`ringway::spsc::overwriting`).
//!
//! * a differential model test (proptest, plus a deterministic variant small enough
//!   for Miri) of push (with what it displaces), pop, peek, pop_slice, drain and len
//!   against a `VecDeque` that drops its oldest item when full, at capacities that are
//!   and are not powers of two, across many laps;
//! * two-thread streams where the producer outruns the consumer: every item is popped
//!   or handed back by the push that displaced it, exactly once, and the popped ones
//!   come in order (`u64`, and drop-tracked items);
//! * drop accounting: items left in the ring, an item taken by `peek` and never
//!   popped, a forgotten consumer; zero-sized items;
//! * `is_abandoned` both ways, capacity panics, `Debug`, `Send`/`Sync`.
//!
//! No test times anything or pins a thread; loop counts shrink under `cfg!(miri)`.

#![cfg(all(feature = "alloc", target_has_atomic = "64"))]

mod common;

use std::collections::VecDeque;
use std::thread;

use common::{DropTracker, Rng, ZstDrop};
use proptest::prelude::*;
use ringway::spsc::overwriting::{
    channel, Borrowed, Consumer, Drain, Producer, StaticRing, Storage, MAX_CAPACITY,
};
use static_assertions::{assert_impl_all, assert_not_impl_any};

// -------------------------------------------------------------------------------------
// 1. The model
// -------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Push,
    Pop,
    Peek,
    PopSlice(usize),
    Drain(usize),
}

/// The reference: a `VecDeque` of at most `capacity` items that drops its oldest on a
/// push when full, plus the item `peek` took out of it (which nothing displaces), and
/// how many items the consumer took out of the ring since a pop last found it empty
/// (until the consumer reports them, `Producer::is_full` may still count them).
struct Model {
    capacity: usize,
    ring: VecDeque<u64>,
    held: Option<u64>,
    unreported: usize,
}

impl Model {
    fn push(&mut self, v: u64) -> Option<u64> {
        let displaced = if self.ring.len() == self.capacity {
            self.ring.pop_front()
        } else {
            None
        };
        self.ring.push_back(v);
        displaced
    }

    fn pop(&mut self) -> Option<u64> {
        self.held.take().or_else(|| self.take())
    }

    fn peek(&mut self) -> Option<u64> {
        if self.held.is_none() {
            self.held = self.take();
        }
        self.held
    }

    /// The consumer takes the oldest item out of the ring, or finds it empty (and
    /// reports what it took before).
    fn take(&mut self) -> Option<u64> {
        let item = self.ring.pop_front();
        if item.is_some() {
            self.unreported += 1;
        } else {
            self.unreported = 0;
        }
        item
    }

    fn len(&self) -> usize {
        self.ring.len() + self.held.is_some() as usize
    }
}

fn run_model(capacity: usize, ops: &[Op]) {
    let (mut tx, mut rx) = channel::<u64>(capacity);
    run_model_on(&mut tx, &mut rx, capacity, ops, 0);
}

/// Runs `ops` on halves of an empty ring (whose next pushed item is `next`) against
/// the model; leaves the ring empty and returns the next item to push.
fn run_model_on<S: Storage>(
    tx: &mut Producer<u64, S>,
    rx: &mut Consumer<u64, S>,
    capacity: usize,
    ops: &[Op],
    mut next: u64,
) -> u64 {
    let mut model = Model {
        capacity,
        ring: VecDeque::new(),
        held: None,
        unreported: 0,
    };
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Push => {
                assert_eq!(tx.push(next), model.push(next), "step {step}: push");
                next += 1;
            }
            Op::Pop => assert_eq!(rx.pop(), model.pop(), "step {step}: pop"),
            Op::Peek => assert_eq!(rx.peek().copied(), model.peek(), "step {step}: peek"),
            Op::PopSlice(n) => {
                let mut buf = vec![u64::MAX; *n];
                let got = rx.pop_slice(&mut buf);
                let want: Vec<u64> = (0..*n).map_while(|_| model.pop()).collect();
                assert_eq!(&buf[..got], &want[..], "step {step}: pop_slice");
            }
            Op::Drain(n) => {
                let got: Vec<u64> = rx.drain().take(*n).collect();
                let want: Vec<u64> = (0..*n).map_while(|_| model.pop()).collect();
                assert_eq!(got, want, "step {step}: drain");
            }
        }
        assert_eq!(rx.len(), model.len(), "step {step}: len after {op:?}");
        // Exact but for the items the consumer has not reported yet.
        let full = model.ring.len() == capacity;
        if full || model.unreported == 0 {
            assert_eq!(tx.is_full(), full, "step {step}: is_full after {op:?}");
        }
        assert_eq!(rx.is_empty(), model.len() == 0);
    }
    // Leave the ring empty for the next run.
    assert!(rx.drain().eq(std::iter::from_fn(|| model.pop())));
    next
}

fn random_op(rng: &mut Rng) -> Op {
    match rng.below(10) {
        0..=3 => Op::Push,
        4 | 5 => Op::Pop,
        6 => Op::Peek,
        7 => Op::PopSlice(rng.below(5)),
        8 => Op::Drain(rng.below(5)),
        // A burst of pushes: the producer laps the consumer.
        _ => Op::Push,
    }
}

const MODEL_CAPS: &[usize] = &[1, 2, 3, 4, 5, 7, 8, 9, 17, 100];

#[test]
fn model_deterministic() {
    let (caps, steps, seeds) = if cfg!(miri) {
        (&MODEL_CAPS[..4], 150, 1)
    } else {
        (MODEL_CAPS, 3000, 6)
    };
    for &cap in caps {
        for seed in 0..seeds {
            let mut rng = Rng::new(cap as u64 * 1000 + seed);
            let ops: Vec<Op> = (0..steps).map(|_| random_op(&mut rng)).collect();
            run_model(cap, &ops);
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Push),
        2 => Just(Op::Pop),
        1 => Just(Op::Peek),
        1 => (0usize..6).prop_map(Op::PopSlice),
        1 => (0usize..6).prop_map(Op::Drain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    #[cfg_attr(miri, ignore)] // far too slow under Miri: see `model_deterministic`
    fn model_random(cap in 1usize..12, ops in prop::collection::vec(op(), 0..300)) {
        run_model(cap, &ops);
    }
}

/// `Producer::is_full` reads what the consumer reports: after `min(32, capacity / 2)`
/// pops (at least 1), and when the consumer is dropped. Until then it still counts
/// the items popped; `push` never displaces meanwhile.
#[test]
fn is_full_counts_pops_until_the_consumer_reports() {
    for (capacity, every) in [(1usize, 1usize), (2, 1), (8, 4), (64, 32), (128, 32)] {
        let (mut tx, mut rx) = channel::<usize>(capacity);
        let fill = |tx: &mut Producer<usize>| {
            while !tx.is_full() {
                assert_eq!(tx.push(0), None);
            }
        };
        fill(&mut tx);
        assert_eq!(rx.len(), capacity);
        for popped in 1..=every {
            assert_eq!(rx.pop(), Some(0));
            assert_eq!(
                tx.is_full(),
                popped < every,
                "capacity {capacity}, {popped} popped"
            );
        }
        // Room that was not reported yet is still room for `push`.
        fill(&mut tx);
        assert!(rx.pop().is_some());
        assert_eq!(tx.push(1), None, "capacity {capacity}: displaced with room");
        assert_eq!(rx.len(), capacity);
        // The consumer's drop reports.
        assert!(rx.pop().is_some());
        assert_eq!(tx.is_full(), every > 1, "capacity {capacity}");
        drop(rx);
        assert!(!tx.is_full());
    }
}

/// A huge ring of zero-sized items: the producer laps it in a few pushes past its
/// capacity, and the entries' positions wrap around `usize::MAX`'s share of them.
#[test]
fn zero_sized_items_are_counted() {
    let cap = 5;
    {
        let (mut tx, mut rx) = channel::<ZstDrop<0>>(cap);
        let mut displaced = 0;
        for _ in 0..100 {
            if let Some(old) = tx.push(ZstDrop) {
                displaced += 1;
                drop(old);
            }
        }
        assert_eq!(displaced, 100 - cap);
        assert_eq!(rx.len(), cap);
        assert!(rx.pop().is_some());
        assert!(rx.peek().is_some());
    } // 4 in the ring and 1 peeked: dropped here
    assert_eq!(ZstDrop::<0>::drops(), 100);
}

/// The model on `StaticRing`s (capacities that are and are not powers of two), split
/// again between runs: each split starts from the positions the last halves left.
#[test]
fn model_static_split_again() {
    fn on<const N: usize>(runs: u64, steps: usize) {
        let mut ring = StaticRing::<u64, N>::new();
        let mut next = 0;
        for run in 0..runs {
            let mut rng = Rng::new(N as u64 * 77 + run);
            let ops: Vec<Op> = (0..steps).map(|_| random_op(&mut rng)).collect();
            let (mut tx, mut rx) = ring.split();
            next = run_model_on(&mut tx, &mut rx, N, &ops, next);
        }
    }
    let (runs, steps) = if cfg!(miri) { (3, 60) } else { (20, 500) };
    on::<1>(runs, steps);
    on::<2>(runs, steps);
    on::<3>(runs, steps);
    on::<5>(runs, steps);
    on::<8>(runs, steps);
}

/// Splitting a static ring again with items in it: the new consumer starts at the
/// oldest item left, whatever the last consumer took or the producer displaced; the
/// item the last consumer peeked and dropped is gone (dropped once), one a forgotten
/// consumer peeked is leaked (never dropped twice); the ring's drop drops the rest.
#[test]
fn static_split_again_with_items_left() {
    let tracker = DropTracker::new();
    {
        let mut ring = StaticRing::<common::Tracked<'_>, 3>::new();
        let (mut tx, mut rx) = ring.split();
        for _ in 0..5 {
            drop(tx.push(tracker.item())); // 0 and 1 displaced
        }
        assert_eq!(rx.pop().map(|t| t.id()), Some(2));
        assert_eq!(rx.peek().map(|t| t.id()), Some(3));
        drop((tx, rx)); // the consumer drops 3
        assert_eq!(tracker.live_ids(), [4]);

        let (mut tx, mut rx) = ring.split();
        assert!(!rx.is_abandoned() && !tx.is_abandoned());
        assert_eq!(rx.len(), 1);
        for _ in 0..3 {
            drop(tx.push(tracker.item())); // 5, 6, then 7 displaces 4
        }
        assert_eq!(tracker.live_ids(), [5, 6, 7]);
        assert_eq!(rx.peek().map(|t| t.id()), Some(5));
        std::mem::forget(rx); // 5 is leaked with it
        drop(tx);

        let (mut tx, mut rx) = ring.split();
        assert_eq!(rx.pop().map(|t| t.id()), Some(6));
        drop(tx.push(tracker.item())); // 8
        drop((tx, rx));
    } // the ring drops 7 and 8
    tracker.assert_no_double_drop();
    assert_eq!(
        tracker.live_ids(),
        [5],
        "only the forgotten consumer's item is left"
    );
}

#[test]
#[cfg(not(ringway_loom))] // `const` constructors (a `static`) are not `const` under loom
fn static_ring_in_a_static_hands_out_its_halves_once() {
    static RING: StaticRing<u64, 5> = StaticRing::new();
    let (mut tx, mut rx) = RING.try_split().unwrap();
    assert!(RING.try_split().is_none());
    let n = if cfg!(miri) { 200 } else { 100_000 };
    let producer = thread::spawn(move || (0..n).filter_map(|i| tx.push(i)).count() as u64);
    let mut popped = Vec::new();
    while !rx.is_abandoned() || !rx.is_empty() {
        popped.extend(rx.pop());
    }
    let displaced = common::join_within_watchdog(producer, "producer");
    assert!(popped.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(popped.len() as u64 + displaced, n);
    assert_eq!(popped.last(), Some(&(n - 1)));
}

// -------------------------------------------------------------------------------------
// 2. Two threads
// -------------------------------------------------------------------------------------

/// The producer pushes `0..n` as fast as it can and keeps what its pushes hand back;
/// the consumer pops (and now and then peeks, or pops a slice) until the producer is
/// gone and the ring is empty. Every item is popped or displaced, exactly once, and
/// the popped ones are increasing.
fn stream(capacity: usize, n: u64, seed: u64) {
    let (mut tx, mut rx) = channel::<u64>(capacity);
    let producer = thread::spawn(move || {
        let mut displaced = Vec::new();
        for i in 0..n {
            displaced.extend(tx.push(i));
        }
        displaced
    });
    let mut popped = Vec::new();
    let mut rng = Rng::new(seed);
    loop {
        let abandoned = rx.is_abandoned();
        match rng.below(8) {
            0 => {
                let mut buf = [0; 3];
                let k = rx.pop_slice(&mut buf);
                popped.extend_from_slice(&buf[..k]);
            }
            1 => {
                let _ = rx.peek();
            }
            _ => popped.extend(rx.pop()),
        }
        if abandoned && rx.is_empty() {
            popped.extend(rx.drain());
            break;
        }
    }
    let displaced = common::join_within_watchdog(producer, "producer");
    assert!(
        popped.windows(2).all(|w| w[0] < w[1]),
        "popped out of order"
    );
    let mut all: Vec<u64> = popped.iter().chain(&displaced).copied().collect();
    all.sort_unstable();
    assert_eq!(all.len() as u64, n, "items lost or duplicated");
    assert!(all.iter().copied().eq(0..n), "items lost or duplicated");
    // The last item pushed is never displaced.
    assert_eq!(popped.last(), Some(&(n - 1)));
}

#[test]
fn stream_u64_two_threads() {
    let n = if cfg!(miri) { 300 } else { 200_000 };
    for (i, cap) in [1, 2, 3, 5, 64].into_iter().enumerate() {
        stream(cap, n, i as u64);
    }
}

/// As [`stream`], with drop-tracked items: each is dropped exactly once, by whoever
/// ended up with it (the consumer, the producer's caller, or the ring's drop).
#[test]
fn stream_tracked_drops_each_once() {
    let n = if cfg!(miri) { 200 } else { 20_000 };
    let tracker = DropTracker::new();
    for cap in [1, 3, 8] {
        thread::scope(|s| {
            let (mut tx, mut rx) = channel(cap);
            let tracker = &tracker;
            s.spawn(move || {
                for _ in 0..n {
                    drop(tx.push(tracker.item()));
                }
            });
            let mut last = None;
            while !rx.is_abandoned() {
                if let Some(item) = rx.pop() {
                    assert!(last < Some(item.id()), "out of order");
                    last = Some(item.id());
                }
            }
            // Leave the rest to the ring's drop, and one item to the consumer's.
            let _ = rx.peek();
        });
        tracker.assert_no_double_drop();
    }
    tracker.assert_all_dropped_once();
}

// -------------------------------------------------------------------------------------
// 3. Drops, abandonment, bad input, traits
// -------------------------------------------------------------------------------------

#[test]
fn items_left_and_a_peeked_item_are_dropped_once() {
    let tracker = DropTracker::new();
    {
        let (mut tx, mut rx) = channel(3);
        for _ in 0..5 {
            drop(tx.push(tracker.item())); // two displaced, dropped here
        }
        assert_eq!(tracker.dropped(), 2);
        assert_eq!(rx.peek().map(|t| t.id()), Some(2));
        drop(tx.push(tracker.item())); // the peeked item is not displaced
        assert_eq!(tracker.dropped(), 2);
        drop(tx.push(tracker.item())); // item 3 is
        assert_eq!(tracker.live_ids(), [2, 4, 5, 6]);
        drop(rx); // the peeked item
        assert_eq!(tracker.live_ids(), [4, 5, 6]);
    } // the ring, with the rest
    tracker.assert_all_dropped_once();
}

#[test]
#[cfg_attr(miri, ignore)] // leaks the ring on purpose (Miri's leak check would fail)
fn a_forgotten_consumer_leaks_its_item_and_nothing_drops_twice() {
    let tracker = DropTracker::new();
    {
        let (mut tx, mut rx) = channel(2);
        drop(tx.push(tracker.item()));
        drop(tx.push(tracker.item()));
        assert!(rx.peek().is_some());
        std::mem::forget(rx);
        drop(tx.push(tracker.item()));
        drop(tx.push(tracker.item())); // displaces item 1
    } // the producer's drop; the ring itself leaks with the forgotten half's `Arc`
    tracker.assert_no_double_drop();
    assert_eq!(tracker.dropped(), 1);
}

#[test]
fn abandoned_both_ways() {
    let (mut tx, rx) = channel::<u8>(1);
    assert!(!tx.is_abandoned() && !rx.is_abandoned());
    drop(rx);
    assert!(tx.is_abandoned());
    assert_eq!(
        tx.push(1),
        None,
        "push after the consumer is gone still works"
    );
    assert_eq!(tx.push(2), Some(1));
    let (tx, mut rx) = channel::<u8>(1);
    drop(tx);
    assert!(rx.is_abandoned());
    assert_eq!(rx.pop(), None);
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn capacity_zero_panics() {
    let _ = channel::<u8>(0);
}

#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_above_the_largest_panics() {
    let _ = channel::<()>(MAX_CAPACITY + 1);
}

#[test]
fn the_largest_capacity_works() {
    if cfg!(miri) {
        return; // 2^24 entries: too slow to build under Miri
    }
    let (mut tx, mut rx) = channel::<()>(MAX_CAPACITY);
    assert_eq!(tx.capacity(), MAX_CAPACITY);
    assert_eq!(tx.push(()), None);
    assert_eq!(rx.pop(), Some(()));
}

#[test]
fn debug_without_t_debug() {
    struct Opaque;
    let (tx, mut rx) = channel::<Opaque>(2);
    assert_eq!(format!("{tx:?}"), "Producer { capacity: 2, .. }");
    assert_eq!(format!("{rx:?}"), "Consumer { capacity: 2, len: 0, .. }");
    assert_eq!(format!("{:?}", rx.drain()), "Drain { .. }");
}

assert_impl_all!(Producer<u64>: Send);
assert_impl_all!(Consumer<u64>: Send);
assert_not_impl_any!(Producer<u64>: Sync);
assert_not_impl_any!(Consumer<u64>: Sync);
assert_not_impl_any!(Producer<std::rc::Rc<u8>>: Send, Sync);
assert_not_impl_any!(Consumer<std::rc::Rc<u8>>: Send, Sync);
assert_impl_all!(Drain<'static, u64>: Send);
assert_impl_all!(StaticRing<u64, 4>: Send, Sync);
assert_not_impl_any!(StaticRing<std::rc::Rc<u8>, 4>: Send, Sync);
assert_impl_all!(Producer<u64, Borrowed<'static>>: Send);
assert_not_impl_any!(Producer<u64, Borrowed<'static>>: Sync);
assert_not_impl_any!(Drain<'static, u64>: Sync);

// -------------------------------------------------------------------------------------
// 4. Waiting pops
// -------------------------------------------------------------------------------------

#[cfg(all(feature = "std", feature = "async"))] // blocking pops and futures
mod waiting {
    use std::task::Poll;
    use std::thread;
    use std::time::Duration;

    use ringway::spsc::overwriting::{channel, channel_with_wait_strategy};
    use ringway::{Disconnected, PopTimeoutError, WaitStrategy};

    use crate::common::{block_on, counting_waker, join_within_watchdog, poll_once};

    const STRATEGIES: [WaitStrategy; 3] = [
        WaitStrategy::BusySpin,
        WaitStrategy::SPIN_YIELD,
        WaitStrategy::SpinPark { spins: 0 },
    ];

    /// A consumer that waits (and, with `SpinPark`, sleeps) for every item gets each
    /// of a stream the producer paces by `is_full` (nothing displaced), then
    /// `Disconnected` once the producer is gone.
    #[test]
    fn pop_blocking_gets_every_item_then_disconnected() {
        let n = if cfg!(miri) { 30 } else { 3_000 };
        for strategy in STRATEGIES {
            let (mut tx, mut rx) = channel_with_wait_strategy::<u64>(2, strategy);
            assert_eq!(rx.wait_strategy(), strategy);
            let producer = thread::spawn(move || {
                for i in 0..n {
                    while tx.is_full() {
                        thread::yield_now();
                    }
                    assert_eq!(tx.push(i), None);
                }
            });
            for i in 0..n {
                assert_eq!(rx.pop_blocking(), Ok(i), "{strategy:?}");
            }
            assert_eq!(rx.pop_blocking(), Err(Disconnected(())), "{strategy:?}");
            join_within_watchdog(producer, "producer");
        }
    }

    /// A consumer asleep on an empty ring wakes when the producer is dropped.
    #[test]
    fn a_sleeping_consumer_wakes_when_the_producer_goes() {
        let (tx, mut rx) = channel_with_wait_strategy::<u8>(1, WaitStrategy::SpinPark { spins: 0 });
        let consumer = thread::spawn(move || rx.pop_blocking());
        thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
        drop(tx);
        assert_eq!(
            join_within_watchdog(consumer, "consumer"),
            Err(Disconnected(()))
        );
    }

    #[test]
    fn pop_timeout_times_out_then_pops_then_disconnects() {
        for strategy in STRATEGIES {
            let (mut tx, mut rx) = channel_with_wait_strategy::<u8>(1, strategy);
            let short = Duration::from_millis(5);
            assert_eq!(rx.pop_timeout(short), Err(PopTimeoutError::Timeout));
            tx.push(1);
            tx.push(2); // displaces 1
            assert_eq!(rx.pop_timeout(short), Ok(2));
            drop(tx);
            assert_eq!(rx.pop_timeout(short), Err(PopTimeoutError::Disconnected));
        }
    }

    /// The future: pending on an empty ring (a parking ring registers the waker, and a
    /// push wakes it), ready with the item, `Disconnected` after the producer goes, and
    /// a cancelled future pops nothing.
    #[test]
    fn pop_async_waits_for_a_push() {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u8>(2, WaitStrategy::SPIN_PARK);
        let (waker, wakes) = counting_waker();
        {
            let mut future = rx.pop_async();
            assert_eq!(poll_once(&mut future, &waker), Poll::Pending);
            assert_eq!(wakes.count(), 0);
            tx.push(3);
            assert_eq!(wakes.count(), 1, "the push did not wake the pending future");
            assert_eq!(poll_once(&mut future, &waker), Poll::Ready(Ok(3)));
        }
        tx.push(4);
        drop(rx.pop_async()); // cancelled
        assert_eq!(block_on(rx.pop_async()), Ok(4));
        drop(tx);
        assert_eq!(block_on(rx.pop_async()), Err(Disconnected(())));
        let (_tx, mut rx) = channel::<u8>(1);
        let mut future = rx.pop_async();
        assert_eq!(poll_once(&mut future, &waker), Poll::Pending);
    }
}
