//! Integration tests of the SPSC ring with the stamped layout (`ringway::spsc::stamped`,
//! the same `Producer`/`Consumer` as `spsc::channel`'s over `Stamped` slots). What is
//! layout-specific gets tested here: the single-item path that reads stamps, the
//! counter the producer stores only now and then (so counts and batches read the
//! stamps beyond it), batches published last stamp first, and the stamps a static ring
//! writes afresh at each split.
//!
//! * a differential model test (proptest, plus a deterministic variant small enough
//!   for Miri) of push/pop/peek/len and the batch operations (push_slice, push_iter,
//!   pop_slice, drain) against a `VecDeque`, across the wrap of the storage, of
//!   non-power-of-two capacities, and of the counter's store interval;
//! * two-thread ordered streams (`u64` and boxed values) at small and large capacities;
//! * drop accounting: items left in the queue, across the storage's wrap, with either
//!   half dropped first and pushes after the consumer is gone;
//! * zero-sized types, `is_abandoned` both ways, capacity panics, `Debug`, `Send`/`Sync`.
//!
//! No test times anything or pins a thread; loop counts shrink under `cfg!(miri)`.

#![cfg(all(feature = "alloc", target_has_atomic = "ptr"))]

mod common;

use std::collections::VecDeque;
use std::thread;

use proptest::prelude::*;
use ringway::spsc::stamped::{channel, Consumer, Producer, StaticRing};
use ringway::PushError;
use static_assertions::{assert_impl_all, assert_not_impl_any};

use common::{DropTracker, Rng, ZstDrop};

assert_impl_all!(Producer<u64>: Send, std::fmt::Debug);
assert_impl_all!(Consumer<u64>: Send, std::fmt::Debug);
assert_not_impl_any!(Producer<u64>: Sync, Clone);
assert_not_impl_any!(Consumer<u64>: Sync, Clone);
assert_not_impl_any!(Producer<std::rc::Rc<u8>>: Send);
assert_not_impl_any!(Consumer<std::rc::Rc<u8>>: Send);

/// One step of the differential model.
#[derive(Debug, Clone, Copy)]
enum Op {
    Push,
    Pop,
    Peek,
    /// `push_slice` of this many items.
    PushSlice(usize),
    /// `push_iter` of this many items.
    PushIter(usize),
    /// `pop_slice` into a buffer of this many items.
    PopSlice(usize),
    /// `drain`, taking at most this many items.
    Drain(usize),
}

/// Runs `ops` on a queue of `capacity` and on a `VecDeque` bounded by `capacity`, and
/// checks every result, `len`, `is_empty` and `is_full` after each step.
fn run_model(capacity: usize, ops: &[Op]) {
    let (mut tx, mut rx) = channel::<u64>(capacity);
    let mut model = VecDeque::new();
    let mut next = 0u64;
    for &op in ops {
        match op {
            Op::Push => {
                let r = tx.push(next);
                if model.len() < capacity {
                    assert_eq!(r, Ok(()));
                    model.push_back(next);
                } else {
                    assert_eq!(r, Err(PushError::Full(next)));
                }
                next += 1;
            }
            Op::Pop => assert_eq!(rx.pop(), model.pop_front()),
            Op::Peek => assert_eq!(rx.peek(), model.front()),
            Op::PushSlice(n) | Op::PushIter(n) => {
                let items: Vec<u64> = (next..next + n as u64).collect();
                let pushed = match op {
                    Op::PushSlice(_) => tx.push_slice(&items),
                    _ => tx.push_iter(items.iter().copied()),
                };
                assert_eq!(pushed, n.min(capacity - model.len()), "{op:?}");
                model.extend(&items[..pushed]);
                next += pushed as u64;
            }
            Op::PopSlice(n) => {
                let mut buf = vec![u64::MAX; n];
                let popped = rx.pop_slice(&mut buf);
                assert_eq!(popped, n.min(model.len()), "{op:?}");
                let expected: Vec<u64> = model.drain(..popped).collect();
                assert_eq!(buf[..popped], expected[..]);
            }
            Op::Drain(n) => {
                let got: Vec<u64> = rx.drain().take(n).collect();
                let expected: Vec<u64> = model.drain(..n.min(model.len())).collect();
                assert_eq!(got, expected);
            }
        }
        assert_eq!(rx.len(), model.len());
        assert_eq!(tx.len(), model.len());
        assert_eq!(tx.is_empty(), model.is_empty());
        assert_eq!(rx.is_empty(), model.is_empty());
        assert_eq!(tx.is_full(), model.len() == capacity);
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Push),
        3 => Just(Op::Pop),
        1 => Just(Op::Peek),
        1 => (0usize..12).prop_map(Op::PushSlice),
        1 => (0usize..12).prop_map(Op::PushIter),
        1 => (0usize..12).prop_map(Op::PopSlice),
        1 => (0usize..12).prop_map(Op::Drain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 256 },
        ..ProptestConfig::default()
    })]

    #[test]
    #[cfg_attr(miri, ignore)] // see `model_deterministic`
    fn model_random(capacity in 1usize..10, ops in proptest::collection::vec(op(), 0..200)) {
        run_model(capacity, &ops);
    }
}

#[test]
fn model_deterministic() {
    let (caps, steps, seeds): (&[usize], usize, u64) = if cfg!(miri) {
        (&[1, 3, 4], 60, 2)
    } else {
        (&[1, 2, 3, 4, 5, 7, 8, 9, 16], 2000, 8)
    };
    for &capacity in caps {
        for seed in 0..seeds {
            let mut rng = Rng::new(seed + 1);
            let ops: Vec<Op> = (0..steps)
                .map(|_| match rng.below(11) {
                    0..=2 => Op::Push,
                    3..=5 => Op::Pop,
                    6 => Op::Peek,
                    7 => Op::PushSlice(rng.below(12)),
                    8 => Op::PushIter(rng.below(12)),
                    9 => Op::PopSlice(rng.below(12)),
                    _ => Op::Drain(rng.below(12)),
                })
                .collect();
            run_model(capacity, &ops);
        }
    }
}

#[test]
fn holds_exactly_capacity_items() {
    for capacity in [1, 2, 3, 5, 8, 1000] {
        let (mut tx, mut rx) = channel::<usize>(capacity);
        assert_eq!((tx.capacity(), rx.capacity()), (capacity, capacity));
        for lap in 0..3 {
            for i in 0..capacity {
                assert_eq!(tx.push(lap * capacity + i), Ok(()), "capacity {capacity}");
            }
            assert!(tx.is_full());
            assert_eq!(tx.push(usize::MAX), Err(PushError::Full(usize::MAX)));
            for i in 0..capacity {
                assert_eq!(rx.pop(), Some(lap * capacity + i));
            }
            assert_eq!(rx.pop(), None);
        }
    }
}

#[test]
fn full_error_gives_the_value_back() {
    let (mut tx, _rx) = channel::<String>(1);
    tx.push("kept".to_owned()).unwrap();
    let err = tx.push("returned".to_owned()).unwrap_err();
    assert_eq!(err.to_string(), "push to a full queue");
    assert_eq!(err.into_inner(), "returned");
}

#[test]
fn peek_does_not_remove() {
    let (mut tx, mut rx) = channel::<Box<u32>>(2);
    assert!(rx.peek().is_none());
    tx.push(Box::new(5)).unwrap();
    assert_eq!(rx.peek().map(|b| **b), Some(5));
    assert_eq!(rx.peek().map(|b| **b), Some(5));
    assert_eq!(rx.pop().map(|b| *b), Some(5));
    assert!(rx.peek().is_none());
}

/// A stream of `n` values from a producer thread to a consumer thread, checking order.
fn stream<T: Send + 'static>(capacity: usize, n: u64, make: fn(u64) -> T, value: fn(&T) -> u64) {
    let (mut tx, mut rx) = channel::<T>(capacity);
    let consumer = thread::spawn(move || {
        let mut expected = 0;
        while expected < n {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(value(&v), expected, "FIFO order");
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        assert!(rx.pop().is_none());
        rx
    });
    for i in 0..n {
        let mut v = make(i);
        while let Err(full) = tx.push(v) {
            v = full.into_inner();
            thread::yield_now();
        }
    }
    let rx = common::join_within_watchdog(consumer, "stamped stream consumer");
    assert!(tx.is_empty());
    drop((tx, rx));
}

#[test]
fn stream_u64_two_threads() {
    let n = if cfg!(miri) { 200 } else { 200_000 };
    for capacity in [1, 3, 1024] {
        stream(capacity, n, |i| i, |v| *v);
    }
}

#[test]
fn stream_boxed_two_threads() {
    let n = if cfg!(miri) { 100 } else { 50_000 };
    for capacity in [2, 7] {
        stream(capacity, n, Box::new, |b| **b);
    }
}

/// Items left in the queue are dropped exactly once, whichever half goes last, also
/// when they straddle the end of the storage, and items pushed after the consumer is
/// gone are dropped with the queue.
#[test]
fn leftovers_dropped_exactly_once() {
    for capacity in [1usize, 3, 4, 5] {
        for offset in 0..capacity.next_power_of_two() {
            for consumer_first in [false, true] {
                let tracker = DropTracker::new();
                {
                    let (mut tx, mut rx) = channel(capacity);
                    for _ in 0..offset {
                        tx.push(tracker.item()).unwrap();
                        drop(rx.pop().unwrap());
                    }
                    let keep = capacity.div_ceil(2);
                    for _ in 0..keep {
                        tx.push(tracker.item()).unwrap();
                    }
                    if consumer_first {
                        drop(rx);
                        assert!(tx.is_abandoned());
                        while tx.push(tracker.item()).is_ok() {}
                        drop(tx);
                    } else {
                        drop(tx);
                        assert!(rx.is_abandoned());
                        drop(rx);
                    }
                }
                tracker.assert_all_dropped_once();
            }
        }
    }
}

/// One item's `Drop` panicking while the queue drops what is left: the panic
/// propagates, the items after it are still dropped, and none is dropped twice.
#[test]
fn panicking_item_drop_drops_the_rest() {
    let tracker = DropTracker::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (mut tx, mut rx) = channel(4);
        // Start past the end of the storage, so the items left straddle it.
        for _ in 0..3 {
            tx.push(tracker.item()).unwrap();
            drop(rx.pop());
        }
        tx.push(tracker.item()).unwrap();
        tx.push(tracker.item_panicking()).unwrap();
        tx.push(tracker.item()).unwrap();
        tx.push(tracker.item()).unwrap();
        drop((tx, rx));
    }));
    assert!(result.is_err(), "the item's panic must propagate");
    tracker.assert_all_dropped_once();
}

#[test]
fn zero_sized_items() {
    const TAG: usize = 0;
    let before = ZstDrop::<TAG>::drops();
    {
        let (mut tx, mut rx) = channel(3);
        for _ in 0..10 {
            tx.push(ZstDrop::<TAG>).unwrap();
            tx.push(ZstDrop::<TAG>).unwrap();
            assert!(rx.pop().is_some());
            assert!(rx.pop().is_some());
        }
        tx.push(ZstDrop::<TAG>).unwrap();
        tx.push(ZstDrop::<TAG>).unwrap();
        assert_eq!(tx.len(), 2);
    }
    // 20 popped values dropped by the asserts, 2 left in the queue.
    assert_eq!(ZstDrop::<TAG>::drops() - before, 22);
}

#[test]
fn abandoned_both_ways() {
    let (tx, rx) = channel::<u8>(1);
    assert!(!tx.is_abandoned() && !rx.is_abandoned());
    drop(tx);
    assert!(rx.is_abandoned());

    let (tx, rx) = channel::<u8>(1);
    drop(rx);
    assert!(tx.is_abandoned());
}

#[test]
fn abandoned_producer_across_threads() {
    let n = if cfg!(miri) { 50 } else { 10_000 };
    let (mut tx, mut rx) = channel::<u64>(4);
    let producer = thread::spawn(move || {
        for i in 0..n {
            while tx.push(i).is_err() {
                thread::yield_now();
            }
        }
    });
    let mut got = 0;
    loop {
        if let Some(v) = rx.pop() {
            assert_eq!(v, got);
            got += 1;
        } else if rx.is_abandoned() {
            // Every item pushed before the drop is visible now.
            if let Some(v) = rx.pop() {
                assert_eq!(v, got);
                got += 1;
                continue;
            }
            break;
        } else {
            thread::yield_now();
        }
    }
    common::join_within_watchdog(producer, "stamped producer");
    assert_eq!(got, n);
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn capacity_zero_panics() {
    let _ = channel::<u8>(0);
}

#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_overflow_panics() {
    let _ = channel::<u8>(usize::MAX);
}

#[test]
#[should_panic(expected = "capacity overflow")]
fn capacity_bytes_overflow_panics() {
    // Each slot is at least a stamp and 1 KiB, so this many slots exceed isize::MAX
    // bytes on every target width.
    let _ = channel::<[u8; 1024]>(isize::MAX as usize / 1024 + 1);
}

#[test]
fn debug_without_t_debug() {
    struct Opaque;
    let (mut tx, rx) = channel::<Opaque>(2);
    let _ = tx.push(Opaque);
    assert_eq!(format!("{tx:?}"), "Producer { capacity: 2, len: 1, .. }");
    assert_eq!(format!("{rx:?}"), "Consumer { capacity: 2, len: 1, .. }");
}

/// Batches and counts straddle the counter's store interval: single pushes store the
/// counter only now and then, so `len` and the batch pops read the stamps beyond it.
/// Long runs of single pushes, then every kind of look.
#[test]
fn counts_and_batches_read_the_stamps_beyond_the_counter() {
    let n = if cfg!(miri) { 70 } else { 300 };
    let (mut tx, mut rx) = channel::<u64>(n);
    for run in [1usize, 5, 31, 32, 33, 64, n] {
        for i in 0..run as u64 {
            tx.push(i).unwrap();
        }
        assert_eq!(rx.len(), run, "len after {run} single pushes");
        assert_eq!(rx.peek(), Some(&0));
        let half = run / 2;
        let mut buf = vec![0; half];
        assert_eq!(rx.pop_slice(&mut buf), half);
        assert_eq!(buf, (0..half as u64).collect::<Vec<_>>());
        assert_eq!(rx.len(), run - half);
        assert_eq!(
            rx.drain().collect::<Vec<_>>(),
            (half as u64..run as u64).collect::<Vec<_>>()
        );
        assert!(rx.is_empty() && rx.pop().is_none());
    }
}

/// A static ring with the stamped layout: split, use, drop the halves, split again
/// (every stamp is written afresh from the counters the last halves left, so what they
/// left is found, and nothing else), and a forgotten producer: what it pushed since
/// its counter was last stored is leaked, not yielded or dropped twice.
#[test]
fn static_ring_split_again_and_forgotten_halves() {
    let tracker = DropTracker::new();
    {
        let mut ring = StaticRing::<common::Tracked<'_>, 4>::new();
        let (mut tx, mut rx) = ring.split();
        for _ in 0..3 {
            tx.push(tracker.item()).unwrap(); // counters wrap the 4 slots below
            drop(rx.pop().unwrap());
        }
        tx.push(tracker.item()).unwrap();
        tx.push(tracker.item()).unwrap();
        drop((tx, rx));
        let (tx, mut rx) = ring.split();
        assert_eq!(rx.len(), 2, "the items the first halves left");
        drop(rx.pop().unwrap());
        drop((tx, rx));
        let (mut tx, rx) = ring.split();
        assert_eq!(rx.len(), 1);
        tx.push(tracker.item()).unwrap();
        std::mem::forget(tx); // its last push never reaches the counter
        drop(rx);
        let (tx, mut rx) = ring.split();
        // That push went to position 5, not a multiple of the counter's interval
        // (32), so only the item the second halves left is found.
        assert_eq!(rx.drain().count(), 1, "items after a forgotten producer");
        drop((tx, rx));
    } // the ring drops what is left: nothing
    assert_eq!(
        tracker.live(),
        1,
        "exactly the forgotten producer's push leaks (never yielded or dropped)"
    );
}

/// A static stamped ring of a capacity that is not a power of two (5 slots, so its
/// positions skip from 4 to 8, from 12 to 16, ...): single items, batches, counts and
/// drains against a `VecDeque` across many skips, and split again every round with
/// whatever the last halves left (each split writes the stamps afresh over skipping
/// positions, items straddling a skip included).
#[test]
fn static_ring_of_a_capacity_that_is_not_a_power_of_two() {
    let mut ring = StaticRing::<u64, 5>::new();
    let mut model = VecDeque::new();
    let mut next = 0u64;
    for round in 0..if cfg!(miri) { 12 } else { 60 } {
        let (mut tx, mut rx) = ring.split();
        assert_eq!(
            rx.len(),
            model.len(),
            "round {round}: what the last halves left"
        );
        for step in 0..round % 4 + 2 {
            match (round + step) % 4 {
                0 => {
                    let ok = tx.push(next).is_ok();
                    assert_eq!(ok, model.len() < 5);
                    if ok {
                        model.push_back(next);
                        next += 1;
                    }
                }
                1 => {
                    let batch: Vec<u64> = (next..next + 3).collect();
                    let n = tx.push_slice(&batch);
                    assert_eq!(n, 3.min(5 - model.len()));
                    model.extend(&batch[..n]);
                    next += n as u64;
                }
                2 => assert_eq!(rx.pop(), model.pop_front()),
                _ => {
                    let mut buf = [0; 2];
                    let n = rx.pop_slice(&mut buf);
                    let want: Vec<u64> = (0..n).map(|_| model.pop_front().unwrap()).collect();
                    assert_eq!(&buf[..n], &want[..]);
                    assert_eq!(n, want.len());
                }
            }
            assert_eq!((tx.len(), rx.len()), (model.len(), model.len()));
            assert_eq!(rx.peek(), model.front());
        }
        if round % 5 == 4 {
            assert!(rx.drain().eq(model.drain(..)));
        }
    }
    let (_tx, mut rx) = ring.split();
    assert!(rx.drain().eq(model.drain(..)));
}

/// The waiting operations work the same on stamped slots (the wake-ups follow the
/// stamps: single pushes do not store the counter).
#[test]
#[cfg(feature = "std")] // the blocking operations
fn waiting_operations() {
    use ringway::WaitStrategy;
    let (mut tx, mut rx) =
        ringway::spsc::stamped::channel_with_wait_strategy::<u64>(4, WaitStrategy::SPIN_PARK);
    let n = if cfg!(miri) { 50 } else { 5000 };
    let consumer = thread::spawn(move || {
        let mut sum = 0;
        while let Ok(v) = rx.pop_blocking() {
            sum += v;
        }
        sum
    });
    for i in 0..n {
        tx.push_blocking(i).unwrap();
    }
    drop(tx);
    let sum = common::join_within_watchdog(consumer, "stamped pop_blocking consumer");
    assert_eq!(sum, n * (n - 1) / 2);
}

/// A byte ring with stamped slots is a `std::io` pipe like an indexed one.
#[test]
#[cfg(feature = "std")] // `std::io`
fn io_read_write() {
    use std::io::{Read, Write};
    let (mut tx, mut rx) = channel::<u8>(8);
    assert_eq!(tx.write(b"hello world").unwrap(), 8);
    let mut buf = [0; 5];
    rx.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    assert_eq!(tx.write(b"!").unwrap(), 1);
    let mut rest = Vec::new();
    drop(tx);
    rx.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b" wo!");
}
