//! Integration tests of the waiting operations (`push_blocking`, `pop_timeout`,
//! `push_async`, ...) of both queues, under each wait strategy: `BusySpin`,
//! `SpinYield` (`SPIN_YIELD`) and `SpinPark` with 0 and the default spins.
//!
//! * SPSC: blocking streams (order, exactly once) at capacities 1, 2 and 1024; a push
//!   that waits on a full ring until a pop, and a pop that waits until a push; bulk
//!   operations (slices, iterators, chunks, drains) waking the other side; the
//!   producer's or consumer's drop waking a thread blocked on the other side, values
//!   handed back; timeouts; drop accounting.
//! * Async: streams through a minimal `block_on`, futures driven by hand with a
//!   counting waker: cancel-safety, pending futures dropped, wake-ups from the other
//!   side (`SpinPark`), self wake-ups (the other strategies), the latest waker wins.
//! * MPMC: 3 producers and 3 consumers blocking, 2 and 2 async, per strategy (exactly
//!   once, per-producer order); many parked consumers or producers all released;
//!   timeouts; cancel-safety and drop accounting. `close` wakes blocked pops, timed
//!   pops, blocked and timed pushes (values handed back) and pending futures, after
//!   the drain, and ends a blocking or async stream.
//! * Static storage: a `StaticRing` and a `StaticQueue` in `static`s, waiting.
//! * `Send`, `Unpin`, `Error` and `Debug` of the futures and error types.
//!
//! Nothing here measures time. Sleeps only give a thread the chance to reach its wait
//! (so the wake-up path is exercised); no assertion depends on how long anything took.
//! A thread that should be woken is joined with a watchdog (`common::WATCHDOG`), so a
//! lost wake-up fails the test instead of hanging it (under Miri, whose clock is
//! virtual, the join blocks and Miri reports the deadlock); a timed wait that should
//! be cut short uses a timeout of `LONG`, so a lost wake-up shows as a `Timeout`.
//! Item counts shrink for the spinning strategies and under `cfg(miri)`.
//!
//! The waiting operations need the `std` feature and the futures `async`, so the file
//! is empty without `async`. With `async` and without `std` (`cargo test -p ringway
//! --no-default-features --features async --test waiting`, a stage of `.ci/run`) the
//! tests of the blocking operations, the timeouts, the error types and the contained
//! waker panics (all `std`-only in the crate) are left out (`cfg(feature = "std")`),
//! and the rest test the futures of the crate's `no_std` build: the test binary has
//! `std`, the crate does not.

#![cfg(feature = "async")]
// Without `std`, helpers of the left-out tests go unused.
#![cfg_attr(not(feature = "std"), allow(dead_code, unused_imports))]
// The static-storage tests are left out of loom builds (their `static`s need `const`).
#![cfg_attr(ringway_loom, allow(unused_imports))]

mod common;

use std::cell::Cell;
use std::error::Error;
use std::fmt::Debug;
use std::marker::PhantomPinned;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{
    block_on, counting_waker, join_within_watchdog, poll_once, DropTracker, InlineTask, Tracked,
};
use ringway::mpmc::{self, Queue, StaticQueue};
use ringway::spsc::{self, channel_with_wait_strategy, Consumer, Producer, StaticRing};
use ringway::{Disconnected, WaitStrategy};
#[cfg(feature = "std")]
use ringway::{PopTimeoutError, PushTimeoutError};
use static_assertions::{assert_impl_all, assert_not_impl_any};

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Every strategy worth telling apart: both parking flavours, since `spins: 0` parks
/// at the first miss and the default spins first.
const STRATEGIES: [WaitStrategy; 4] = [
    WaitStrategy::BusySpin,
    WaitStrategy::SPIN_YIELD,
    WaitStrategy::SpinPark { spins: 0 },
    WaitStrategy::SpinPark {
        spins: WaitStrategy::DEFAULT_SPINS,
    },
];

/// The strategies whose waiters sleep until a publisher wakes them.
const PARKING: [WaitStrategy; 2] = [
    WaitStrategy::SpinPark { spins: 0 },
    WaitStrategy::SpinPark {
        spins: WaitStrategy::DEFAULT_SPINS,
    },
];

/// The strategies whose pending futures ask to be polled again at once.
const SELF_WAKING: [WaitStrategy; 3] = [
    WaitStrategy::BusySpin,
    WaitStrategy::SPIN_YIELD,
    WaitStrategy::SpinYield { spins: 0 },
];

/// A time limit for waits that must be cut short by the other side: below
/// `common::WATCHDOG`, so a lost wake-up shows up as a `Timeout` result.
const LONG: Duration = Duration::from_secs(30);

/// A time limit for waits that are meant to run out.
const SHORT: Duration = Duration::from_millis(1);

fn parks(strategy: WaitStrategy) -> bool {
    matches!(strategy, WaitStrategy::SpinPark { .. })
}

/// The item count for a threaded stream: `normal`, or a tenth of it where the waiting
/// side never gives up its core (`BusySpin`, and the self-waking futures of the
/// non-parking strategies, which `block_on` polls again at once). On a loaded 2-core
/// machine each hand-off of such a run may wait for a scheduler time slice, so a full
/// count could take seconds; a tenth still makes a hundred hand-offs or more.
fn stream_len(strategy: WaitStrategy, asynchronous: bool, normal: usize, miri: usize) -> usize {
    let busy_polls = match strategy {
        WaitStrategy::BusySpin => true,
        WaitStrategy::SpinYield { .. } => asynchronous,
        WaitStrategy::SpinPark { .. } => false,
    };
    if cfg!(miri) {
        miri
    } else if busy_polls {
        normal / 10
    } else {
        normal
    }
}

/// The strategies of the threaded stream tests: all of them, or under Miri (where
/// every thread and every spin costs interpretation time) all but `SpinYield`, whose
/// waiting threads differ from `BusySpin`'s only by yielding, and whose futures behave
/// exactly as `BusySpin`'s.
fn stream_strategies() -> &'static [WaitStrategy] {
    if cfg!(miri) {
        &[STRATEGIES[0], STRATEGIES[2], STRATEGIES[3]]
    } else {
        &STRATEGIES
    }
}

/// Held by the threaded stream tests, so that their spinning threads do not compete
/// with each other for the two cores (the other tests still run alongside).
fn one_stream_at_a_time() -> MutexGuard<'static, ()> {
    static STREAMS: Mutex<()> = Mutex::new(());
    STREAMS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Gives a thread that has just passed a barrier the chance to reach its wait (and,
/// with `SpinPark`, to park) before the test wakes it. No assertion depends on it: a
/// thread that is not waiting yet only makes the round less interesting.
fn let_it_block() {
    thread::sleep(Duration::from_millis(20));
}

/// Packs a producer index and a sequence number into one MPMC item.
fn tag(producer: usize, seq: usize) -> u64 {
    ((producer as u64) << 32) | seq as u64
}

/// The MPMC item that tells a consumer thread to stop.
const STOP: u64 = u64::MAX;

/// Checks an MPMC run: every `(producer, seq)` item for `seq < per_producer` arrived
/// exactly once over all consumers, and each consumer saw each producer's items in
/// increasing order.
fn check_exactly_once_in_order(
    what: &str,
    per_consumer: &[Vec<u64>],
    producers: usize,
    per_producer: usize,
) {
    let mut seen = vec![vec![0u8; per_producer]; producers];
    for (c, items) in per_consumer.iter().enumerate() {
        let mut last: Vec<Option<usize>> = vec![None; producers];
        for &item in items {
            let (p, seq) = ((item >> 32) as usize, (item & 0xFFFF_FFFF) as usize);
            assert!(
                p < producers && seq < per_producer,
                "{what}: unknown item {item:#x}"
            );
            if let Some(prev) = last[p] {
                assert!(
                    seq > prev,
                    "{what}: consumer {c} saw producer {p}'s item {seq} after {prev}"
                );
            }
            last[p] = Some(seq);
            seen[p][seq] += 1;
        }
    }
    for (p, counts) in seen.iter().enumerate() {
        for (seq, &n) in counts.iter().enumerate() {
            assert_eq!(n, 1, "{what}: producer {p}'s item {seq} arrived {n} times");
        }
    }
    let total: usize = per_consumer.iter().map(Vec::len).sum();
    assert_eq!(total, producers * per_producer, "{what}: item count");
}

// ---------------------------------------------------------------------------------
// 1. SPSC, blocking
// ---------------------------------------------------------------------------------

#[test]
#[cfg(feature = "std")]
fn spsc_blocking_stream_keeps_order_exactly_once() {
    let _serial = one_stream_at_a_time();
    for &strategy in stream_strategies() {
        let n = stream_len(strategy, false, 2_000, 40) as u64;
        for cap in [1, 2, 1024] {
            let what = format!("{strategy:?}, capacity {cap}");
            let (mut tx, mut rx) = channel_with_wait_strategy::<u64>(cap, strategy);
            let producer = thread::spawn(move || {
                for i in 0..n {
                    tx.push_blocking(i).expect("the consumer is alive");
                }
            });
            let w = what.clone();
            let consumer = thread::spawn(move || {
                let mut next = 0;
                while let Ok(v) = rx.pop_blocking() {
                    assert_eq!(v, next, "{w}: out of order");
                    next += 1;
                }
                (next, rx)
            });
            join_within_watchdog(producer, &format!("{what}: producer"));
            let (received, mut rx) = join_within_watchdog(consumer, &format!("{what}: consumer"));
            assert_eq!(received, n, "{what}: items received");
            // Disconnected is final.
            assert_eq!(rx.pop_blocking(), Err(Disconnected(())), "{what}");
        }
    }
}

#[test]
#[cfg(feature = "std")]
fn spsc_push_blocking_waits_on_a_full_ring_until_a_pop() {
    for strategy in STRATEGIES {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(2, strategy);
        tx.push(0).unwrap();
        tx.push(1).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let producer = thread::spawn(move || {
            b.wait();
            let result = tx.push_blocking(2);
            (tx, result)
        });
        barrier.wait();
        let_it_block();
        // Whatever the delay, the push cannot complete before a pop.
        assert!(
            !producer.is_finished(),
            "{strategy:?}: push_blocking returned while the ring was full"
        );
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.pop(), Some(0));
        let (tx, result) = join_within_watchdog(producer, &format!("{strategy:?}: producer"));
        assert_eq!(result, Ok(()), "{strategy:?}");
        assert_eq!(rx.pop(), Some(1));
        assert_eq!(rx.pop(), Some(2));
        assert_eq!(rx.pop(), None);
        drop(tx);
    }
}

#[test]
#[cfg(feature = "std")]
fn spsc_pop_blocking_waits_on_an_empty_ring_until_a_push() {
    for strategy in STRATEGIES {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(2, strategy);
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let consumer = thread::spawn(move || {
            b.wait();
            let result = rx.pop_blocking();
            (rx, result)
        });
        barrier.wait();
        let_it_block();
        assert!(
            !consumer.is_finished(),
            "{strategy:?}: pop_blocking returned while the ring was empty"
        );
        tx.push(7).unwrap();
        let (mut rx, result) = join_within_watchdog(consumer, &format!("{strategy:?}: consumer"));
        assert_eq!(result, Ok(7), "{strategy:?}");
        assert_eq!(rx.pop(), None);
    }
}

/// Items pushed right before the producer drops all reach a consumer that is waiting
/// (or about to) in `pop_blocking`, which then reports `Disconnected`. Many short
/// rounds so the drop lands at different points of the consumer's wait.
#[test]
#[cfg(feature = "std")]
fn spsc_pop_blocking_drains_then_reports_disconnected() {
    let _serial = one_stream_at_a_time();
    for strategy in STRATEGIES {
        let rounds = stream_len(strategy, false, 150, 6);
        for round in 0..rounds {
            let k = round % 9; // 0 ..= 2 * capacity items
            let (mut tx, mut rx) = channel_with_wait_strategy::<usize>(4, strategy);
            let consumer = thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(v) = rx.pop_blocking() {
                    got.push(v);
                }
                got
            });
            // Pushed from a thread of its own (so a lost wake-up of this side fails the
            // watchdog instead of hanging the test), dropped right after the last push.
            let producer = thread::spawn(move || {
                for i in 0..k {
                    tx.push_blocking(i).expect("the consumer is alive");
                }
            });
            let what = format!("{strategy:?}, round {round}");
            join_within_watchdog(producer, &format!("{what}: producer"));
            let got = join_within_watchdog(consumer, &format!("{what}: consumer"));
            assert_eq!(
                got,
                (0..k).collect::<Vec<_>>(),
                "{strategy:?}, round {round}"
            );
        }
    }
}

#[test]
#[cfg(feature = "std")]
fn spsc_blocked_push_wakes_when_the_consumer_drops() {
    static TRACKER: DropTracker = DropTracker::new();
    for strategy in STRATEGIES {
        let (mut tx, rx) = channel_with_wait_strategy::<Tracked<'static>>(1, strategy);
        let queued = TRACKER.item();
        let queued_id = queued.id();
        tx.push(queued).unwrap();
        let blocked = TRACKER.item();
        let blocked_id = blocked.id();
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let producer = thread::spawn(move || {
            b.wait();
            let result = tx.push_blocking(blocked);
            (tx, result)
        });
        barrier.wait();
        let_it_block();
        assert!(
            !producer.is_finished(),
            "{strategy:?}: push_blocking returned while the ring was full"
        );
        drop(rx);
        let (tx, result) = join_within_watchdog(
            producer,
            &format!("{strategy:?}: push_blocking after the consumer dropped"),
        );
        let back = result.expect_err("the consumer is gone").into_inner();
        assert_eq!(
            back.id(),
            blocked_id,
            "{strategy:?}: a different value came back"
        );
        assert_eq!(TRACKER.drops_of(blocked_id), 0);
        drop(back);
        // The item still in the ring goes with the last half.
        assert_eq!(TRACKER.drops_of(queued_id), 0);
        drop(tx);
        assert_eq!(TRACKER.drops_of(queued_id), 1);
    }
    TRACKER.assert_all_dropped_once();
}

#[test]
#[cfg(feature = "std")]
fn spsc_blocked_pop_wakes_when_the_producer_drops() {
    for strategy in STRATEGIES {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(2, strategy);
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let consumer = thread::spawn(move || {
            b.wait();
            let mut got = Vec::new();
            while let Ok(v) = rx.pop_blocking() {
                got.push(v);
            }
            got
        });
        barrier.wait();
        let_it_block();
        tx.push(1).unwrap(); // wakes it with an item ...
        let_it_block(); // ... and it goes back to waiting
        drop(tx);
        let got = join_within_watchdog(
            consumer,
            &format!("{strategy:?}: pop_blocking after the producer dropped"),
        );
        assert_eq!(got, [1], "{strategy:?}");
    }
}

#[test]
#[cfg(feature = "std")]
fn spsc_timeouts_single_thread() {
    let tracker = DropTracker::new();
    for strategy in STRATEGIES {
        let (mut tx, mut rx) = channel_with_wait_strategy::<Tracked<'_>>(1, strategy);
        assert_eq!(rx.pop_timeout(SHORT), Err(PopTimeoutError::Timeout));
        assert_eq!(
            rx.pop_timeout(Duration::ZERO),
            Err(PopTimeoutError::Timeout)
        );

        let a = tracker.item();
        let a_id = a.id();
        assert_eq!(tx.push_timeout(a, SHORT), Ok(()));
        let b = tracker.item();
        let b_id = b.id();
        let b = match tx.push_timeout(b, SHORT) {
            Err(PushTimeoutError::Timeout(v)) => v,
            other => panic!("{strategy:?}: push_timeout on a full ring gave {other:?}"),
        };
        let b = match tx.push_timeout(b, Duration::ZERO) {
            Err(PushTimeoutError::Timeout(v)) => v,
            other => panic!("{strategy:?}: push_timeout(0) on a full ring gave {other:?}"),
        };
        assert_eq!(b.id(), b_id);
        assert_eq!(tracker.drops_of(b_id), 0, "a value handed back was dropped");

        // A zero timeout still takes what is there; `Duration::MAX` (no deadline)
        // returns at once when it can.
        assert_eq!(rx.pop_timeout(Duration::ZERO).map(|v| v.id()), Ok(a_id));
        assert_eq!(tx.push_timeout(b, Duration::MAX), Ok(()));
        drop(tx);
        assert_eq!(rx.pop_timeout(Duration::MAX).map(|v| v.id()), Ok(b_id));
        // The producer is gone and the ring empty: no waiting, even without a deadline.
        assert_eq!(
            rx.pop_timeout(Duration::MAX),
            Err(PopTimeoutError::Disconnected)
        );
        assert_eq!(
            rx.pop_timeout(Duration::ZERO),
            Err(PopTimeoutError::Disconnected)
        );
        assert_eq!(rx.pop_blocking(), Err(Disconnected(())));

        // The consumer gone: every push gives its value back, even with room.
        let (mut tx, rx) = channel_with_wait_strategy::<Tracked<'_>>(2, strategy);
        drop(rx);
        let c = tracker.item();
        let c_id = c.id();
        let c = match tx.push_timeout(c, Duration::MAX) {
            Err(PushTimeoutError::Disconnected(v)) => v,
            other => panic!("{strategy:?}: push_timeout without a consumer gave {other:?}"),
        };
        let c = tx
            .push_blocking(c)
            .expect_err("the consumer is gone")
            .into_inner();
        assert_eq!(c.id(), c_id);
        assert_eq!(tracker.drops_of(c_id), 0);
        assert!(
            tx.is_empty(),
            "{strategy:?}: a refused value reached the ring"
        );
    }
    tracker.assert_all_dropped_once();
}

/// A timed wait must end when the other side acts, long before its time limit.
#[test]
#[cfg(feature = "std")]
fn spsc_timed_waits_are_woken_by_the_other_side() {
    for strategy in STRATEGIES {
        // push_timeout on a full ring, woken by a pop.
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        tx.push(1).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let producer = thread::spawn(move || {
            b.wait();
            let result = tx.push_timeout(2, LONG);
            (tx, result)
        });
        barrier.wait();
        let_it_block();
        assert_eq!(rx.pop(), Some(1));
        let (tx, result) = join_within_watchdog(producer, &format!("{strategy:?}: push"));
        assert_eq!(
            result,
            Ok(()),
            "{strategy:?}: push_timeout not woken by the pop"
        );

        // pop_timeout on an empty ring, woken by a push.
        assert_eq!(rx.pop(), Some(2));
        let b = Arc::clone(&barrier);
        let consumer = thread::spawn(move || {
            b.wait();
            let result = rx.pop_timeout(LONG);
            (rx, result)
        });
        let mut tx = tx;
        barrier.wait();
        let_it_block();
        tx.push(3).unwrap();
        let (rx, result) = join_within_watchdog(consumer, &format!("{strategy:?}: pop"));
        assert_eq!(
            result,
            Ok(3),
            "{strategy:?}: pop_timeout not woken by the push"
        );

        // pop_timeout woken by the producer's drop.
        let b = Arc::clone(&barrier);
        let mut rx = rx;
        let consumer = thread::spawn(move || {
            b.wait();
            let result = rx.pop_timeout(LONG);
            (rx, result)
        });
        barrier.wait();
        let_it_block();
        drop(tx);
        let (rx, result) = join_within_watchdog(consumer, &format!("{strategy:?}: pop"));
        assert_eq!(
            result,
            Err(PopTimeoutError::Disconnected),
            "{strategy:?}: pop_timeout not woken by the producer's drop"
        );
        drop(rx);

        // push_timeout woken by the consumer's drop, value handed back.
        let (mut tx, rx) = channel_with_wait_strategy::<String>(1, strategy);
        tx.push("queued".to_owned()).unwrap();
        let b = Arc::clone(&barrier);
        let producer = thread::spawn(move || {
            b.wait();
            tx.push_timeout("blocked".to_owned(), LONG)
        });
        barrier.wait();
        let_it_block();
        drop(rx);
        let result = join_within_watchdog(producer, &format!("{strategy:?}: push"));
        assert_eq!(
            result,
            Err(PushTimeoutError::Disconnected("blocked".to_owned())),
            "{strategy:?}: push_timeout not woken by the consumer's drop"
        );
    }
}

/// Both sides mix bulk operations with single blocking ones: whenever a side blocks
/// (on a `SpinPark` ring: sleeps), the other side's slices, iterators, chunks and
/// drains must wake it.
#[test]
#[cfg(feature = "std")]
fn spsc_bulk_operations_wake_blocked_threads() {
    let _serial = one_stream_at_a_time();
    for &strategy in stream_strategies() {
        let n = stream_len(strategy, false, 3_000, 60) as u64;
        for cap in [1, 3, 8] {
            let what = format!("{strategy:?}, capacity {cap}");
            let (mut tx, mut rx) = channel_with_wait_strategy::<u64>(cap, strategy);
            let producer = thread::spawn(move || {
                let mut next = 0u64;
                let mut round = 0u64;
                while next < n {
                    round += 1;
                    let want = (1 + round % 4).min(n - next);
                    let batch: Vec<u64> = (next..next + want).collect();
                    let pushed = match round % 3 {
                        0 => tx.push_slice(&batch),
                        1 => tx.push_iter(batch.iter().copied()),
                        _ => match tx.write_chunk_uninit(want as usize) {
                            Ok(chunk) => chunk.fill_from_iter(batch.iter().copied()),
                            Err(_) => 0,
                        },
                    };
                    next += pushed as u64;
                    if pushed == 0 {
                        tx.push_blocking(next).expect("the consumer is alive");
                        next += 1;
                    }
                }
            });
            let w = what.clone();
            let consumer = thread::spawn(move || {
                let mut expected = 0u64;
                let mut round = 0u64;
                let mut check = |v: u64| {
                    assert_eq!(v, expected, "{w}: out of order");
                    expected += 1;
                };
                loop {
                    round += 1;
                    let took = match round % 3 {
                        0 => {
                            let mut buf = [0u64; 3];
                            let k = rx.pop_slice(&mut buf);
                            buf[..k].iter().for_each(|&v| check(v));
                            k
                        }
                        1 => {
                            let mut k = 0;
                            for v in rx.drain() {
                                check(v);
                                k += 1;
                            }
                            k
                        }
                        _ => match rx.read_chunk(1 + (round as usize / 3) % 2) {
                            Ok(chunk) => {
                                let (a, b) = chunk.as_slices();
                                a.iter().chain(b).for_each(|&v| check(v));
                                let k = chunk.len();
                                chunk.commit_all();
                                k
                            }
                            Err(_) => 0,
                        },
                    };
                    if took == 0 {
                        match rx.pop_blocking() {
                            Ok(v) => check(v),
                            Err(Disconnected(())) => break,
                        }
                    }
                }
                expected
            });
            join_within_watchdog(producer, &format!("{what}: producer"));
            let received = join_within_watchdog(consumer, &format!("{what}: consumer"));
            assert_eq!(received, n, "{what}: items received");
        }
    }
}

#[test]
#[cfg(feature = "std")]
fn spsc_every_value_dropped_exactly_once() {
    for strategy in STRATEGIES {
        let tracker = DropTracker::new();
        {
            let (waker, _) = counting_waker();
            let (mut tx, mut rx) = channel_with_wait_strategy::<Tracked<'_>>(2, strategy);
            tx.push_blocking(tracker.item()).unwrap(); // 0
            tx.push_timeout(tracker.item(), SHORT).unwrap(); // 1

            // Handed back by a timed-out push, then dropped by us.
            let back = tx
                .push_timeout(tracker.item(), Duration::ZERO) // 2
                .expect_err("the ring is full");
            assert!(matches!(back, PushTimeoutError::Timeout(_)));
            assert_eq!(tracker.drops_of(2), 0);
            drop(back);
            assert_eq!(tracker.drops_of(2), 1);

            // A pending push future takes its value down with it.
            let mut fut = tx.push_async(tracker.item()); // 3
            assert!(poll_once(&mut fut, &waker).is_pending());
            assert_eq!(tracker.drops_of(3), 0);
            drop(fut);
            assert_eq!(tracker.drops_of(3), 1);
            // So does one never polled.
            drop(tx.push_async(tracker.item())); // 4
            assert_eq!(tracker.drops_of(4), 1);
            assert_eq!(
                rx.len(),
                2,
                "{strategy:?}: a dropped future pushed its value"
            );

            // Popped items belong to the caller.
            let first = rx.pop_blocking().unwrap();
            assert_eq!(first.id(), 0);
            assert_eq!(tracker.drops_of(0), 0);
            drop(first);
            block_on(tx.push_async(tracker.item())).unwrap(); // 5
            let second = block_on(rx.pop_async()).unwrap();
            assert_eq!(second.id(), 1);
            drop(second);
            assert_eq!(rx.pop_timeout(SHORT).map(|v| v.id()), Ok(5), "{strategy:?}");
            tx.push(tracker.item()).unwrap(); // 6, left in the ring

            // The consumer gone: every waiting push hands its value back.
            drop(rx);
            let back = tx.push_blocking(tracker.item()).unwrap_err(); // 7
            assert_eq!(back.0.id(), 7);
            drop(back);
            let back = tx.push_timeout(tracker.item(), SHORT).unwrap_err(); // 8
            assert!(matches!(back, PushTimeoutError::Disconnected(_)));
            drop(back);
            match block_on(tx.push_async(tracker.item())) {
                // 9
                Err(Disconnected(v)) => assert_eq!(v.id(), 9),
                Ok(()) => panic!("{strategy:?}: push_async succeeded without a consumer"),
            }
            assert_eq!(tracker.live_ids(), [6], "{strategy:?}");
        }
        assert_eq!(tracker.created(), 10);
        tracker.assert_all_dropped_once();
    }
}

// ---------------------------------------------------------------------------------
// 2. SPSC, async
// ---------------------------------------------------------------------------------

#[test]
fn spsc_async_stream_keeps_order_exactly_once() {
    let _serial = one_stream_at_a_time();
    for &strategy in stream_strategies() {
        let n = stream_len(strategy, true, 1_000, 30) as u64;
        for cap in [1, 2, 64] {
            let what = format!("{strategy:?}, capacity {cap}");
            let (mut tx, mut rx) = channel_with_wait_strategy::<u64>(cap, strategy);
            let producer = thread::spawn(move || {
                block_on(async {
                    for i in 0..n {
                        tx.push_async(i).await.expect("the consumer is alive");
                    }
                });
            });
            let consumer = thread::spawn(move || {
                block_on(async {
                    let mut got = Vec::new();
                    while let Ok(v) = rx.pop_async().await {
                        got.push(v);
                    }
                    got
                })
            });
            join_within_watchdog(producer, &format!("{what}: producer"));
            let got = join_within_watchdog(consumer, &format!("{what}: consumer"));
            assert!(
                got.iter().copied().eq(0..n),
                "{what}: received {} items, not 0..{n} in order",
                got.len()
            );
        }
    }
}

/// A pop future takes an item only in the poll that returns it.
#[test]
fn spsc_pop_future_is_cancel_safe() {
    for strategy in STRATEGIES {
        let (waker, _) = counting_waker();
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(4, strategy);

        // Pending on an empty ring, dropped, then an item arrives: a new future gets it.
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
        drop(fut);
        tx.push(1).unwrap();
        assert_eq!(block_on(rx.pop_async()), Ok(1), "{strategy:?}");

        // Pending, an item arrives, the future is dropped unpolled: the item stays.
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
        tx.push(2).unwrap();
        drop(fut);
        assert_eq!(rx.len(), 1, "{strategy:?}: a dropped future took an item");

        // Never polled: takes nothing.
        drop(rx.pop_async());
        tx.push(3).unwrap();
        let mut fut = rx.pop_async();
        assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(2)));
        drop(fut);
        assert_eq!(block_on(rx.pop_async()), Ok(3), "{strategy:?}");
        assert_eq!(rx.pop(), None);
    }
}

#[test]
fn spsc_dropped_pending_push_future_drops_its_value_once() {
    for strategy in STRATEGIES {
        let tracker = DropTracker::new();
        {
            let (waker, _) = counting_waker();
            let (mut tx, mut rx) = channel_with_wait_strategy::<Tracked<'_>>(2, strategy);
            tx.push(tracker.item()).unwrap(); // 0
            tx.push(tracker.item()).unwrap(); // 1
            let mut fut = tx.push_async(tracker.item()); // 2
            assert!(poll_once(&mut fut, &waker).is_pending());
            assert!(poll_once(&mut fut, &waker).is_pending());
            drop(fut);
            assert_eq!(tracker.drops_of(2), 1);
            // The ring is as before: the value never got in, a slot freed now stays free.
            let ids: Vec<usize> = rx.drain().map(|v| v.id()).collect();
            assert_eq!(ids, [0, 1], "{strategy:?}");
            assert_eq!(rx.pop(), None);
            assert_eq!(tx.free_slots(), 2);
        }
        tracker.assert_all_dropped_once();
    }
}

/// A pending future learns that the other half is gone: it is woken (`SpinPark`; the
/// other strategies wake themselves anyway) and its next poll reports `Disconnected`,
/// a push future with its value.
#[test]
fn spsc_pending_futures_complete_when_the_other_half_drops() {
    for strategy in STRATEGIES {
        // Pop future, producer dropped.
        let (tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let (waker, wakes) = counting_waker();
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
        let before = wakes.count();
        drop(tx);
        if parks(strategy) {
            assert!(
                wakes.count() > before,
                "{strategy:?}: dropping the producer did not wake the pending pop future"
            );
        }
        assert_eq!(
            poll_once(&mut fut, &waker),
            Poll::Ready(Err(Disconnected(())))
        );

        // Push future, consumer dropped.
        let (mut tx, rx) = channel_with_wait_strategy::<u32>(1, strategy);
        tx.push(1).unwrap();
        let (waker, wakes) = counting_waker();
        let mut fut = tx.push_async(2);
        assert!(poll_once(&mut fut, &waker).is_pending());
        let before = wakes.count();
        drop(rx);
        if parks(strategy) {
            assert!(
                wakes.count() > before,
                "{strategy:?}: dropping the consumer did not wake the pending push future"
            );
        }
        assert_eq!(
            poll_once(&mut fut, &waker),
            Poll::Ready(Err(Disconnected(2)))
        );

        // The same across threads, through block_on (which polls only when woken).
        let (tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let barrier = Arc::new(Barrier::new(2));
        let b = Arc::clone(&barrier);
        let consumer = thread::spawn(move || {
            b.wait();
            block_on(rx.pop_async())
        });
        barrier.wait();
        let_it_block();
        drop(tx);
        assert_eq!(
            join_within_watchdog(consumer, &format!("{strategy:?}: pop_async")),
            Err(Disconnected(()))
        );

        let (mut tx, rx) = channel_with_wait_strategy::<u32>(1, strategy);
        tx.push(1).unwrap();
        let b = Arc::clone(&barrier);
        let producer = thread::spawn(move || {
            b.wait();
            block_on(tx.push_async(2))
        });
        barrier.wait();
        let_it_block();
        drop(rx);
        assert_eq!(
            join_within_watchdog(producer, &format!("{strategy:?}: push_async")),
            Err(Disconnected(2))
        );
    }
}

/// A `SpinPark` pop future pending on an empty ring does not wake itself, and every
/// way of publishing wakes it.
#[test]
fn spsc_spin_park_pop_future_is_woken_by_every_publish() {
    type Publish = fn(&mut Producer<u64>);
    let publishers: [(&str, Publish); 4] = [
        ("push", |tx| tx.push(1).unwrap()),
        ("push_slice", |tx| assert_eq!(tx.push_slice(&[1, 2]), 2)),
        ("push_iter", |tx| assert_eq!(tx.push_iter([1, 2, 3]), 3)),
        ("write chunk", |tx| {
            let chunk = tx.write_chunk_uninit(2).unwrap();
            assert_eq!(chunk.fill_from_iter([1, 2]), 2);
        }),
    ];
    for strategy in PARKING {
        for (what, publish) in publishers {
            let (mut tx, mut rx) = channel_with_wait_strategy::<u64>(4, strategy);
            let (waker, wakes) = counting_waker();
            let mut fut = rx.pop_async();
            assert!(poll_once(&mut fut, &waker).is_pending());
            assert_eq!(wakes.count(), 0, "{strategy:?}: the future woke itself");
            publish(&mut tx);
            assert!(
                wakes.count() >= 1,
                "{strategy:?}: {what} did not wake the pending pop future"
            );
            assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(1)));
        }
    }
}

/// A `SpinPark` push future pending on a full ring does not wake itself, and every
/// way of freeing a slot wakes it.
#[test]
fn spsc_spin_park_push_future_is_woken_by_every_release() {
    type Release = fn(&mut Consumer<u64>);
    let releasers: [(&str, Release); 5] = [
        ("pop", |rx| assert_eq!(rx.pop(), Some(1))),
        ("pop_slice", |rx| assert_eq!(rx.pop_slice(&mut [0; 1]), 1)),
        ("drain", |rx| assert_eq!(rx.drain().next(), Some(1))),
        ("read chunk commit", |rx| {
            rx.read_chunk(2).unwrap().commit(1)
        }),
        ("read chunk iterator", |rx| {
            assert_eq!(rx.read_chunk(2).unwrap().into_iter().count(), 2);
        }),
    ];
    for strategy in PARKING {
        for (what, release) in releasers {
            let (mut tx, mut rx) = channel_with_wait_strategy::<u64>(2, strategy);
            tx.push(1).unwrap();
            tx.push(2).unwrap();
            let (waker, wakes) = counting_waker();
            let mut fut = tx.push_async(3);
            assert!(poll_once(&mut fut, &waker).is_pending());
            assert_eq!(wakes.count(), 0, "{strategy:?}: the future woke itself");
            release(&mut rx);
            assert!(
                wakes.count() >= 1,
                "{strategy:?}: {what} did not wake the pending push future"
            );
            assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(())));
        }
    }
}

/// With the strategies whose waiters never sleep, nobody will wake a pending future:
/// it must ask to be polled again itself.
#[test]
fn self_waking_strategies_wake_pending_futures_at_once() {
    for strategy in SELF_WAKING {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let (waker, wakes) = counting_waker();
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
        assert!(wakes.count() > 0, "{strategy:?}: spsc pop future not woken");
        drop(fut);

        tx.push(1).unwrap();
        let (waker, wakes) = counting_waker();
        let mut fut = tx.push_async(2);
        assert!(poll_once(&mut fut, &waker).is_pending());
        assert!(
            wakes.count() > 0,
            "{strategy:?}: spsc push future not woken"
        );
        drop(fut);

        let q = Queue::<u32>::with_wait_strategy(1, strategy);
        let (waker, wakes) = counting_waker();
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
        assert!(wakes.count() > 0, "{strategy:?}: mpmc pop future not woken");
        drop(fut);

        q.push(1).unwrap();
        let (waker, wakes) = counting_waker();
        let mut fut = q.push_async(2);
        assert!(poll_once(&mut fut, &waker).is_pending());
        assert!(
            wakes.count() > 0,
            "{strategy:?}: mpmc push future not woken"
        );
    }
}

/// A future polled again with a different waker must wake the latest one, and a
/// pending future dropped with its waker registered must not keep a later future from
/// being woken.
#[test]
fn spin_park_futures_wake_their_latest_waker() {
    for strategy in PARKING {
        // SPSC: one future, two wakers.
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let (first, _) = counting_waker();
        let (latest, latest_wakes) = counting_waker();
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &first).is_pending());
        assert!(poll_once(&mut fut, &latest).is_pending());
        tx.push(1).unwrap();
        assert!(
            latest_wakes.count() >= 1,
            "{strategy:?}: latest waker not woken"
        );
        assert_eq!(poll_once(&mut fut, &latest), Poll::Ready(Ok(1)));
        drop(fut); // a future borrows its half until dropped (it withdraws its waker)

        // SPSC: a dropped future, then a new one.
        let (first, _) = counting_waker();
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &first).is_pending());
        drop(fut);
        let (second, second_wakes) = counting_waker();
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &second).is_pending());
        tx.push(2).unwrap();
        assert!(
            second_wakes.count() >= 1,
            "{strategy:?}: new future not woken"
        );
        assert_eq!(poll_once(&mut fut, &second), Poll::Ready(Ok(2)));

        // MPMC: two futures pending at once, one dropped; the other is still woken.
        let q = Queue::<u32>::with_wait_strategy(1, strategy);
        let (a, _) = counting_waker();
        let (b, b_wakes) = counting_waker();
        let mut fut_a = q.pop_async();
        let mut fut_b = q.pop_async();
        assert!(poll_once(&mut fut_a, &a).is_pending());
        assert!(poll_once(&mut fut_b, &b).is_pending());
        drop(fut_a);
        q.push(3).unwrap();
        assert!(
            b_wakes.count() >= 1,
            "{strategy:?}: surviving future not woken"
        );
        assert_eq!(poll_once(&mut fut_b, &b), Poll::Ready(Ok(3)));

        // MPMC: one future, two wakers.
        let (first, _) = counting_waker();
        let (latest, latest_wakes) = counting_waker();
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &first).is_pending());
        assert!(poll_once(&mut fut, &latest).is_pending());
        q.push(4).unwrap();
        assert!(
            latest_wakes.count() >= 1,
            "{strategy:?}: latest waker not woken"
        );
        assert_eq!(poll_once(&mut fut, &latest), Poll::Ready(Ok(4)));
    }
}

#[test]
#[should_panic(expected = "polled after completion")]
fn spsc_push_future_polled_after_completion_panics() {
    let (mut tx, _rx) = channel_with_wait_strategy::<u8>(1, WaitStrategy::SPIN_PARK);
    let (waker, _) = counting_waker();
    let mut fut = tx.push_async(1);
    assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(())));
    let _ = poll_once(&mut fut, &waker);
}

// ---------------------------------------------------------------------------------
// 3. MPMC
// ---------------------------------------------------------------------------------

/// Runs `producers` threads pushing `per_producer` tagged items each into `q` and
/// `consumers` threads popping until they get [`STOP`], all through the waiting
/// operations (`asynchronous`: `push_async`/`pop_async` under `block_on`, otherwise
/// `push_blocking`/`pop_blocking`), then checks the delivery. `q` is an `Arc` of a
/// heap queue or a `&'static` of a static one.
fn mpmc_run<Q, S>(q: Q, producers: usize, consumers: usize, per_producer: usize, asynchronous: bool)
where
    Q: Deref<Target = Queue<u64, S>> + Clone + Send + 'static,
    S: mpmc::Storage<u64> + 'static,
{
    let what = format!(
        "{:?}, capacity {}, {producers}+{consumers} threads, async {asynchronous}",
        q.wait_strategy(),
        q.capacity()
    );
    let producer_threads: Vec<_> = (0..producers)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                if asynchronous {
                    block_on(async {
                        for seq in 0..per_producer {
                            q.push_async(tag(p, seq)).await.unwrap();
                        }
                    });
                } else {
                    #[cfg(feature = "std")]
                    for seq in 0..per_producer {
                        q.push_blocking(tag(p, seq)).unwrap();
                    }
                    #[cfg(not(feature = "std"))]
                    unreachable!("the blocking operations need the `std` feature");
                }
            })
        })
        .collect();
    let consumer_threads: Vec<_> = (0..consumers)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                if asynchronous {
                    block_on(async {
                        loop {
                            match q.pop_async().await {
                                Ok(STOP) => break,
                                v => got.push(v.unwrap()),
                            }
                        }
                    });
                } else {
                    #[cfg(feature = "std")]
                    loop {
                        match q.pop_blocking() {
                            Ok(STOP) => break,
                            v => got.push(v.unwrap()),
                        }
                    }
                    #[cfg(not(feature = "std"))]
                    unreachable!("the blocking operations need the `std` feature");
                }
                got
            })
        })
        .collect();
    for (p, t) in producer_threads.into_iter().enumerate() {
        join_within_watchdog(t, &format!("{what}: producer {p}"));
    }
    for _ in 0..consumers {
        // Timed, so that a lost wake-up fails the test instead of hanging it.
        #[cfg(feature = "std")]
        assert_eq!(
            q.push_timeout(STOP, LONG),
            Ok(()),
            "{what}: stop item not taken: a lost wake-up?"
        );
        // Without the crate's `std` (no `push_timeout`): retried until `LONG` passes.
        #[cfg(not(feature = "std"))]
        {
            let deadline = std::time::Instant::now() + LONG;
            while q.push(STOP).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{what}: stop item not taken: a lost wake-up?"
                );
                thread::yield_now();
            }
        }
    }
    let per_consumer: Vec<Vec<u64>> = consumer_threads
        .into_iter()
        .enumerate()
        .map(|(c, t)| join_within_watchdog(t, &format!("{what}: consumer {c}")))
        .collect();
    check_exactly_once_in_order(&what, &per_consumer, producers, per_producer);
    assert!(q.is_empty(), "{what}: items left over");
}

#[test]
#[cfg(feature = "std")]
fn mpmc_blocking_producers_and_consumers_exactly_once_in_order() {
    let _serial = one_stream_at_a_time();
    for &strategy in stream_strategies() {
        for &cap in if cfg!(miri) { &[1, 4][..] } else { &[1, 4, 64] } {
            let per_producer = stream_len(strategy, false, 400, 8);
            let q = Arc::new(Queue::with_wait_strategy(cap, strategy));
            mpmc_run(q, 3, 3, per_producer, false);
        }
    }
}

#[test]
fn mpmc_async_producers_and_consumers_exactly_once_in_order() {
    let _serial = one_stream_at_a_time();
    for &strategy in stream_strategies() {
        for cap in [1, 8] {
            let per_producer = stream_len(strategy, true, 300, 8);
            let q = Arc::new(Queue::with_wait_strategy(cap, strategy));
            mpmc_run(q, 2, 2, per_producer, true);
        }
    }
}

#[test]
#[cfg(feature = "std")]
fn mpmc_parked_consumers_are_all_released() {
    let n = 4;
    for strategy in STRATEGIES {
        let q = Arc::new(Queue::<usize>::with_wait_strategy(2, strategy));
        let barrier = Arc::new(Barrier::new(n + 1));
        let consumers: Vec<_> = (0..n)
            .map(|_| {
                let (q, b) = (Arc::clone(&q), Arc::clone(&barrier));
                thread::spawn(move || {
                    b.wait();
                    q.pop_blocking().unwrap()
                })
            })
            .collect();
        barrier.wait();
        let_it_block();
        // One item at a time, so the consumers left over go back to waiting. (Timed:
        // a lost wake-up of this thread fails the test instead of hanging it.)
        for i in 0..n {
            assert_eq!(q.push_timeout(i, LONG), Ok(()), "{strategy:?}: push {i}");
            let_it_block();
        }
        let mut got: Vec<usize> = consumers
            .into_iter()
            .map(|t| join_within_watchdog(t, &format!("{strategy:?}: consumer")))
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..n).collect::<Vec<_>>(), "{strategy:?}");
        assert!(q.is_empty());
    }
}

#[test]
#[cfg(feature = "std")]
fn mpmc_parked_producers_are_all_released() {
    let n = 4;
    for strategy in STRATEGIES {
        let q = Arc::new(Queue::<usize>::with_wait_strategy(1, strategy));
        q.push(0).unwrap();
        let barrier = Arc::new(Barrier::new(n + 1));
        let producers: Vec<_> = (1..=n)
            .map(|i| {
                let (q, b) = (Arc::clone(&q), Arc::clone(&barrier));
                thread::spawn(move || {
                    b.wait();
                    q.push_blocking(i).unwrap();
                })
            })
            .collect();
        barrier.wait();
        let_it_block();
        let mut got = Vec::new();
        for _ in 0..=n {
            got.push(
                q.pop_timeout(LONG)
                    .unwrap_or_else(|e| panic!("{strategy:?}: pop gave {e:?}: a lost wake-up?")),
            );
            let_it_block();
        }
        for t in producers {
            join_within_watchdog(t, &format!("{strategy:?}: producer"));
        }
        got.sort_unstable();
        assert_eq!(got, (0..=n).collect::<Vec<_>>(), "{strategy:?}");
        assert!(q.is_empty());
    }
}

#[test]
#[cfg(feature = "std")]
fn mpmc_timeouts_single_thread() {
    let tracker = DropTracker::new();
    for strategy in STRATEGIES {
        let q = Queue::<Tracked<'_>>::with_wait_strategy(1, strategy);
        assert_eq!(q.pop_timeout(SHORT), Err(PopTimeoutError::Timeout));
        assert_eq!(q.pop_timeout(Duration::ZERO), Err(PopTimeoutError::Timeout));
        let a = tracker.item();
        let a_id = a.id();
        assert_eq!(q.push_timeout(a, SHORT), Ok(()));
        let b = tracker.item();
        let b_id = b.id();
        let b = q
            .push_timeout(b, SHORT)
            .expect_err("the queue is full")
            .into_inner();
        let b = match q.push_timeout(b, Duration::ZERO) {
            Err(PushTimeoutError::Timeout(v)) => v,
            Err(PushTimeoutError::Disconnected(_)) => panic!("an MPMC queue disconnected"),
            Ok(()) => panic!("{strategy:?}: push_timeout(0) into a full queue succeeded"),
        };
        assert_eq!(b.id(), b_id);
        assert_eq!(tracker.drops_of(b_id), 0, "a value handed back was dropped");
        assert_eq!(q.pop_timeout(Duration::MAX).map(|v| v.id()), Ok(a_id));
        assert_eq!(q.push_timeout(b, Duration::MAX), Ok(()));
        assert_eq!(q.pop_timeout(Duration::ZERO).map(|v| v.id()), Ok(b_id));
        assert_eq!(q.pop_timeout(SHORT), Err(PopTimeoutError::Timeout));
    }
    tracker.assert_all_dropped_once();
}

#[test]
#[cfg(feature = "std")]
fn mpmc_timed_waits_are_woken_by_the_other_side() {
    for strategy in STRATEGIES {
        let q = Arc::new(Queue::<u32>::with_wait_strategy(1, strategy));
        let barrier = Arc::new(Barrier::new(2));

        let (q2, b) = (Arc::clone(&q), Arc::clone(&barrier));
        let consumer = thread::spawn(move || {
            b.wait();
            q2.pop_timeout(LONG)
        });
        barrier.wait();
        let_it_block();
        q.push(1).unwrap();
        assert_eq!(
            join_within_watchdog(consumer, &format!("{strategy:?}: pop_timeout")),
            Ok(1),
            "{strategy:?}: pop_timeout not woken by the push"
        );

        q.push(2).unwrap();
        let (q2, b) = (Arc::clone(&q), Arc::clone(&barrier));
        let producer = thread::spawn(move || {
            b.wait();
            q2.push_timeout(3, LONG)
        });
        barrier.wait();
        let_it_block();
        assert_eq!(q.pop(), Some(2));
        assert_eq!(
            join_within_watchdog(producer, &format!("{strategy:?}: push_timeout")),
            Ok(()),
            "{strategy:?}: push_timeout not woken by the pop"
        );
        assert_eq!(q.pop(), Some(3));
    }
}

/// Pending MPMC futures: `SpinPark` ones are woken by every push or pop (single and
/// slice) and do not wake themselves.
#[test]
fn mpmc_spin_park_futures_are_woken_by_the_other_side() {
    for strategy in PARKING {
        for slice in [false, true] {
            let q = Queue::<u64>::with_wait_strategy(2, strategy);
            let (waker, wakes) = counting_waker();
            let mut fut = q.pop_async();
            assert!(poll_once(&mut fut, &waker).is_pending());
            assert_eq!(wakes.count(), 0, "{strategy:?}: the pop future woke itself");
            if slice {
                assert_eq!(q.push_slice(&[1, 2]), 2);
            } else {
                q.push(1).unwrap();
            }
            assert!(
                wakes.count() >= 1,
                "{strategy:?}: push (slice {slice}) did not wake the pending pop future"
            );
            assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(1)));

            while q.push(9).is_ok() {}
            let (waker, wakes) = counting_waker();
            let mut fut = q.push_async(3);
            assert!(poll_once(&mut fut, &waker).is_pending());
            assert_eq!(
                wakes.count(),
                0,
                "{strategy:?}: the push future woke itself"
            );
            if slice {
                assert_eq!(q.pop_slice(&mut [0; 1]), 1);
            } else {
                assert!(q.pop().is_some());
            }
            assert!(
                wakes.count() >= 1,
                "{strategy:?}: pop (slice {slice}) did not wake the pending push future"
            );
            assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(())));
        }
    }
}

#[test]
#[cfg(feature = "std")]
fn mpmc_futures_are_cancel_safe_and_drop_values_once() {
    for strategy in STRATEGIES {
        let tracker = DropTracker::new();
        {
            let (waker, _) = counting_waker();
            let q = Queue::<Tracked<'_>>::with_wait_strategy(1, strategy);

            // A pop future pending on an empty queue, dropped: the next one gets the item.
            let mut fut = q.pop_async();
            assert!(poll_once(&mut fut, &waker).is_pending());
            drop(fut);
            q.push(tracker.item()).unwrap(); // 0
            assert_eq!(block_on(q.pop_async()).unwrap().id(), 0);

            // Pending, an item arrives, dropped unpolled: the item stays.
            let mut fut = q.pop_async();
            assert!(poll_once(&mut fut, &waker).is_pending());
            q.push(tracker.item()).unwrap(); // 1
            drop(fut);
            drop(q.pop_async());
            assert_eq!(
                q.len(),
                1,
                "{strategy:?}: a dropped pop future took an item"
            );

            // A push future pending on the full queue, dropped: its value goes with it.
            let mut fut = q.push_async(tracker.item()); // 2
            assert!(poll_once(&mut fut, &waker).is_pending());
            drop(fut);
            assert_eq!(tracker.drops_of(2), 1);
            drop(q.push_async(tracker.item())); // 3, never polled
            assert_eq!(tracker.drops_of(3), 1);
            assert_eq!(q.len(), 1);
            let got = q.pop_blocking().unwrap();
            assert_eq!(got.id(), 1, "{strategy:?}");
            drop(got);
            assert!(q.is_empty(), "{strategy:?}: a dropped push future pushed");

            // Handed back by a timed-out push, left in the queue when it drops.
            block_on(q.push_async(tracker.item())).unwrap(); // 4
            let back = q.push_timeout(tracker.item(), SHORT).unwrap_err(); // 5
            assert_eq!(back.into_inner().id(), 5);
            assert_eq!(tracker.live_ids(), [4]);
        }
        tracker.assert_all_dropped_once();
    }
}

#[test]
#[should_panic(expected = "polled after completion")]
fn mpmc_push_future_polled_after_completion_panics() {
    let q = Queue::<u8>::with_wait_strategy(1, WaitStrategy::SPIN_PARK);
    let (waker, _) = counting_waker();
    let mut fut = q.push_async(1);
    assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(())));
    let _ = poll_once(&mut fut, &waker);
}

#[test]
#[should_panic(expected = "polled after completion")]
fn mpmc_pop_future_polled_after_completion_panics() {
    // It used to pop a second item instead (issue #12).
    let q = Queue::<u8>::with_wait_strategy(2, WaitStrategy::SPIN_PARK);
    q.push_slice(&[1, 2]);
    let (waker, _) = counting_waker();
    let mut fut = q.pop_async();
    assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(1)));
    let _ = poll_once(&mut fut, &waker);
}

#[test]
#[should_panic(expected = "polled after completion")]
fn spsc_pop_future_polled_after_completion_panics() {
    let (mut tx, mut rx) = channel_with_wait_strategy::<u8>(2, WaitStrategy::SPIN_PARK);
    tx.push_slice(&[1, 2]);
    let (waker, _) = counting_waker();
    let mut fut = rx.pop_async();
    assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(1)));
    let _ = poll_once(&mut fut, &waker);
}

// ---------------------------------------------------------------------------------
// 3b. Hostile wakers (issue #12): wakers are foreign code, run outside the lock
// ---------------------------------------------------------------------------------

/// A waker that panics when woken.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("hostile waker");
    }
}

/// A waker whose task, woken inline by a push, pops and waits on the same queue again
/// (re-registering on the cell whose notification is running). With wakers called
/// under the cell's lock, the first push deadlocked on that lock.
#[test]
fn wakers_that_poll_inline_and_wait_again_do_not_deadlock() {
    let items = if cfg!(miri) { 3 } else { 100 };
    for strategy in PARKING {
        // MPMC.
        let q = Arc::new(Queue::<u32>::with_wait_strategy(4, strategy));
        let got = Arc::new(Mutex::new(Vec::new()));
        let task = InlineTask::spawn({
            let (q, got) = (Arc::clone(&q), Arc::clone(&got));
            async move {
                loop {
                    let v = q.pop_async().await.unwrap();
                    got.lock().unwrap().push(v);
                }
            }
        });
        let pusher = thread::spawn(move || (0..items).for_each(|i| q.push(i).unwrap()));
        join_within_watchdog(pusher, "MPMC push waking an inline-polling task");
        assert_eq!(
            *got.lock().unwrap(),
            (0..items).collect::<Vec<_>>(),
            "{strategy:?}"
        );
        task.cancel(); // it waits forever

        // SPSC, both directions: the consumer task woken by pushes, then the producer
        // task woken by pops.
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let got = Arc::new(Mutex::new(Vec::new()));
        let consumer_task = InlineTask::spawn({
            let got = Arc::clone(&got);
            async move {
                while let Ok(v) = rx.pop_async().await {
                    got.lock().unwrap().push(v);
                }
            }
        });
        let pusher = thread::spawn(move || {
            (0..items).for_each(|i| tx.push(i).unwrap());
            tx
        });
        let tx = join_within_watchdog(pusher, "SPSC push waking an inline-polling task");
        drop(tx); // the task sees `Disconnected` and finishes
        assert_eq!(
            *got.lock().unwrap(),
            (0..items).collect::<Vec<_>>(),
            "{strategy:?}"
        );
        assert!(consumer_task.is_done(), "{strategy:?}: task not done");

        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let producer_task = InlineTask::spawn(async move {
            for i in 0..items {
                tx.push_async(i).await.unwrap();
            }
        });
        let popper = thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < items as usize {
                got.extend(rx.pop());
            }
            got
        });
        let got = join_within_watchdog(popper, "SPSC pop waking an inline-polling task");
        assert_eq!(got, (0..items).collect::<Vec<_>>(), "{strategy:?}");
        assert!(producer_task.is_done(), "{strategy:?}");
    }
}

/// A panicking waker registered before a parked thread must not strand the thread:
/// every waiter taken from the list is woken, and the waker's panic stays inside the
/// queue, so the publishing operation completes. (A panic used to drop the rest of the
/// taken entries unwoken, the thread slept on with an item in the queue, and the
/// panic came out of `push`; out of a pop it would have dropped the popped item.)
#[test]
#[cfg(feature = "std")]
fn a_panicking_waker_does_not_strand_a_parked_thread() {
    let hostile = Waker::from(Arc::new(PanickingWaker));
    for strategy in PARKING {
        let q = Arc::new(Queue::<u32>::with_wait_strategy(1, strategy));
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &hostile).is_pending());
        let sleeper = thread::spawn({
            let q = Arc::clone(&q);
            // No deadline: a lost wake-up leaves it parked (the watchdog fails the
            // test), where `pop_timeout` would still return, late, with the item.
            move || q.pop_blocking()
        });
        let_it_block();
        q.push(7).unwrap(); // the waker panics inside; `push` completes
        assert_eq!(
            join_within_watchdog(sleeper, "thread parked beside a panicking waker"),
            Ok(7),
            "{strategy:?}: the parked thread was not woken"
        );
        // The future's entry was taken: it is neither woken again nor registered.
        q.push(8).unwrap();
        assert_eq!(poll_once(&mut fut, &hostile), Poll::Ready(Ok(8)));
    }

    // A pop whose release wakes a panicking producer waker keeps its item (SPSC and
    // MPMC), and the items stay exactly once.
    for strategy in PARKING {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        tx.push(5).unwrap();
        {
            let mut fut = tx.push_async(6);
            assert!(poll_once(&mut fut, &hostile).is_pending());
            assert_eq!(rx.pop(), Some(5)); // wakes the panicking waker
            assert_eq!(poll_once(&mut fut, &hostile), Poll::Ready(Ok(())));
        }
        assert_eq!(rx.pop_blocking(), Ok(6));

        let q = Queue::<u32>::with_wait_strategy(1, strategy);
        q.push(1).unwrap();
        let mut fut = q.push_async(2);
        assert!(poll_once(&mut fut, &hostile).is_pending());
        assert_eq!(q.pop_blocking(), Ok(1));
        assert_eq!(poll_once(&mut fut, &hostile), Poll::Ready(Ok(())));
        drop(fut);
        assert_eq!((q.pop(), q.pop()), (Some(2), None));
    }
}

/// Dropping a pending future withdraws its waker: 10,000 cancelled futures, each of
/// its own task, leave no waker (and no task) alive in the queue. (Each used to stay
/// registered until the next notification.)
#[test]
fn cancelled_futures_leave_no_wakers_registered() {
    let rounds = if cfg!(miri) { 50 } else { 10_000 };
    for strategy in PARKING {
        let q = Queue::<u32>::with_wait_strategy(1, strategy);
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        tx.push(0).unwrap(); // full: push futures wait
        let full = Queue::<u32>::with_wait_strategy(1, strategy);
        full.push(0).unwrap();
        for _ in 0..rounds {
            let (waker, counter) = counting_waker();
            let mut mpmc_pop = q.pop_async();
            let mut mpmc_push = full.push_async(1);
            assert!(poll_once(&mut mpmc_pop, &waker).is_pending());
            assert!(poll_once(&mut mpmc_push, &waker).is_pending());
            drop((mpmc_pop, mpmc_push));
            {
                let mut spsc_push = tx.push_async(1);
                assert!(poll_once(&mut spsc_push, &waker).is_pending());
            }
            drop(waker);
            assert_eq!(
                Arc::strong_count(&counter),
                1,
                "{strategy:?}: a waker is still registered"
            );
        }
        assert_eq!(rx.pop(), Some(0));
        // SPSC pop futures too, on an empty ring.
        for _ in 0..rounds {
            let (waker, counter) = counting_waker();
            {
                let mut spsc_pop = rx.pop_async();
                assert!(poll_once(&mut spsc_pop, &waker).is_pending());
            }
            drop(waker);
            assert_eq!(
                Arc::strong_count(&counter),
                1,
                "{strategy:?}: a waker is still registered"
            );
        }
        // The queues still wake a live future.
        let (waker, counter) = counting_waker();
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
        q.push(3).unwrap();
        assert_eq!(counter.count(), 1);
        assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(3)));
    }
}

// ---------------------------------------------------------------------------------
// 3b. MPMC close: SPSC's disconnection for a queue without halves
// ---------------------------------------------------------------------------------

/// Threads blocked in `pop_blocking` and `pop_timeout` on an empty queue all wake when
/// it is closed, and report it: `Disconnected`, not a timeout (the limit is `LONG`).
#[test]
#[cfg(feature = "std")]
fn mpmc_blocked_pops_wake_on_close() {
    for strategy in STRATEGIES {
        let q = Arc::new(Queue::<u32>::with_wait_strategy(2, strategy));
        let barrier = Arc::new(Barrier::new(5));
        let blocking: Vec<_> = (0..2)
            .map(|_| {
                let (q, b) = (Arc::clone(&q), Arc::clone(&barrier));
                thread::spawn(move || {
                    b.wait();
                    q.pop_blocking()
                })
            })
            .collect();
        let timed: Vec<_> = (0..2)
            .map(|_| {
                let (q, b) = (Arc::clone(&q), Arc::clone(&barrier));
                thread::spawn(move || {
                    b.wait();
                    q.pop_timeout(LONG)
                })
            })
            .collect();
        barrier.wait();
        let_it_block();
        assert!(
            blocking.iter().all(|t| !t.is_finished()) && timed.iter().all(|t| !t.is_finished()),
            "{strategy:?}: a pop returned from an empty open queue"
        );
        assert!(q.close(), "{strategy:?}");
        for t in blocking {
            let got = join_within_watchdog(t, &format!("{strategy:?}: pop_blocking, closed"));
            assert_eq!(got, Err(Disconnected(())), "{strategy:?}");
        }
        for t in timed {
            let got = join_within_watchdog(t, &format!("{strategy:?}: pop_timeout, closed"));
            assert_eq!(got, Err(PopTimeoutError::Disconnected), "{strategy:?}");
        }
        assert!(!q.close(), "{strategy:?}: closed twice");
    }
}

/// A consumer blocked on a queue that is then filled and closed pops what was pushed
/// and then reports the close: the drain comes first.
#[test]
#[cfg(feature = "std")]
fn mpmc_pop_blocking_drains_then_reports_closed() {
    for strategy in STRATEGIES {
        // Room for all three items, whether or not the consumer took the first yet.
        let q = Arc::new(Queue::<u32>::with_wait_strategy(4, strategy));
        let barrier = Arc::new(Barrier::new(2));
        let consumer = thread::spawn({
            let (q, b) = (Arc::clone(&q), Arc::clone(&barrier));
            move || {
                b.wait();
                let mut got = Vec::new();
                while let Ok(v) = q.pop_blocking() {
                    got.push(v);
                }
                got
            }
        });
        barrier.wait();
        let_it_block();
        q.push(1).unwrap(); // wakes it with an item ...
        let_it_block(); // ... and it goes back to waiting
        assert_eq!(q.push_slice(&[2, 3]), 2);
        q.close();
        let got = join_within_watchdog(consumer, &format!("{strategy:?}: drain after close"));
        assert_eq!(got, [1, 2, 3], "{strategy:?}");
        // After the drain: `Disconnected`, at once, from every waiting pop.
        assert_eq!(q.pop_blocking(), Err(Disconnected(())));
        assert_eq!(q.pop_timeout(LONG), Err(PopTimeoutError::Disconnected));
        assert_eq!(block_on(q.pop_async()), Err(Disconnected(())));
    }
}

/// Threads blocked in `push_blocking` and `push_timeout` on a full queue all wake when
/// it is closed and get their own values back; the item that was queued stays, for
/// the drain, and every value is dropped exactly once.
#[test]
#[cfg(feature = "std")]
fn mpmc_blocked_pushes_wake_on_close_and_get_their_values_back() {
    static TRACKER: DropTracker = DropTracker::new();
    for strategy in STRATEGIES {
        let q = Arc::new(Queue::<Tracked<'static>>::with_wait_strategy(1, strategy));
        let queued = TRACKER.item();
        let queued_id = queued.id();
        q.push(queued).unwrap();
        let barrier = Arc::new(Barrier::new(5));
        let producers: Vec<_> = (0..4)
            .map(|i| {
                let (q, b) = (Arc::clone(&q), Arc::clone(&barrier));
                let value = TRACKER.item();
                let id = value.id();
                let t = thread::spawn(move || {
                    b.wait();
                    if i % 2 == 0 {
                        q.push_blocking(value).map_err(Disconnected::into_inner)
                    } else {
                        match q.push_timeout(value, LONG) {
                            Err(PushTimeoutError::Disconnected(back)) => Err(back),
                            other => panic!("push_timeout on a closed queue gave {other:?}"),
                        }
                    }
                });
                (t, id)
            })
            .collect();
        barrier.wait();
        let_it_block();
        assert!(
            producers.iter().all(|(t, _)| !t.is_finished()),
            "{strategy:?}: a push returned while the queue was full"
        );
        assert!(q.close());
        for (t, id) in producers {
            let back = join_within_watchdog(t, &format!("{strategy:?}: push, closed"))
                .expect_err("the queue is closed");
            assert_eq!(back.id(), id, "{strategy:?}: another value came back");
            assert_eq!(TRACKER.drops_of(id), 0, "{strategy:?}");
        }
        // The queued item is still there, for the drain.
        assert_eq!(q.pop().map(|t| t.id()), Some(queued_id), "{strategy:?}");
        assert!(q.pop().is_none());
        // A waiting push on a closed queue returns at once, full or not.
        let v = TRACKER.item();
        let id = v.id();
        assert_eq!(q.push_blocking(v).unwrap_err().into_inner().id(), id);
        let v = TRACKER.item();
        let id = v.id();
        match q.push_timeout(v, LONG) {
            Err(PushTimeoutError::Disconnected(back)) => assert_eq!(back.id(), id),
            other => panic!("{strategy:?}: push_timeout on a closed queue gave {other:?}"),
        }
        let v = TRACKER.item();
        let id = v.id();
        assert_eq!(block_on(q.push_async(v)).unwrap_err().into_inner().id(), id);
    }
    TRACKER.assert_all_dropped_once();
}

/// Pending futures (pop on an empty queue, push on a full one) are woken by `close`
/// when their strategy parks, and resolve to `Disconnected` (the push with its
/// value); with the self-waking strategies the next poll resolves them.
#[test]
fn mpmc_pending_futures_complete_on_close() {
    for strategy in STRATEGIES {
        let empty = Queue::<u32>::with_wait_strategy(1, strategy);
        let full = Queue::<u32>::with_wait_strategy(1, strategy);
        full.push(1).unwrap();
        let (pop_waker, pop_wakes) = counting_waker();
        let (push_waker, push_wakes) = counting_waker();
        let mut pop = empty.pop_async();
        let mut push = full.push_async(2);
        assert!(poll_once(&mut pop, &pop_waker).is_pending());
        assert!(poll_once(&mut push, &push_waker).is_pending());
        let (pops_before, pushes_before) = (pop_wakes.count(), push_wakes.count());
        assert!(empty.close() && full.close());
        if parks(strategy) {
            assert_eq!(
                (pop_wakes.count(), push_wakes.count()),
                (pops_before + 1, pushes_before + 1),
                "{strategy:?}: close did not wake the pending futures"
            );
        }
        assert_eq!(
            poll_once(&mut pop, &pop_waker),
            Poll::Ready(Err(Disconnected(())))
        );
        assert_eq!(
            poll_once(&mut push, &push_waker),
            Poll::Ready(Err(Disconnected(2)))
        );
        drop((pop, push));
        assert_eq!(
            full.pop(),
            Some(1),
            "{strategy:?}: the queued item was lost"
        );
    }
}

/// A stream that ends with `close` instead of stop items: producers push everything,
/// then the queue is closed, and consumers (blocking or async) pop until it reports
/// the close. Every item arrives exactly once, in each producer's order, and every
/// consumer stops.
#[test]
#[cfg(feature = "std")]
fn mpmc_close_ends_a_stream() {
    let _serial = one_stream_at_a_time();
    for &strategy in stream_strategies() {
        for asynchronous in [false, true] {
            let per_producer = stream_len(strategy, asynchronous, 300, 8);
            let q = Arc::new(Queue::<u64>::with_wait_strategy(4, strategy));
            let what = format!("{strategy:?}, async {asynchronous}");
            let producers: Vec<_> = (0..2)
                .map(|p| {
                    let q = Arc::clone(&q);
                    thread::spawn(move || {
                        for seq in 0..per_producer {
                            if asynchronous {
                                block_on(q.push_async(tag(p, seq))).unwrap();
                            } else {
                                q.push_blocking(tag(p, seq)).unwrap();
                            }
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let q = Arc::clone(&q);
                    thread::spawn(move || {
                        let mut got = Vec::new();
                        if asynchronous {
                            block_on(async {
                                while let Ok(v) = q.pop_async().await {
                                    got.push(v);
                                }
                            });
                        } else {
                            while let Ok(v) = q.pop_blocking() {
                                got.push(v);
                            }
                        }
                        got
                    })
                })
                .collect();
            for (p, t) in producers.into_iter().enumerate() {
                join_within_watchdog(t, &format!("{what}: producer {p}"));
            }
            assert!(q.close());
            let per_consumer: Vec<Vec<u64>> = consumers
                .into_iter()
                .enumerate()
                .map(|(c, t)| join_within_watchdog(t, &format!("{what}: consumer {c}")))
                .collect();
            check_exactly_once_in_order(&what, &per_consumer, 2, per_producer);
            assert!(q.is_empty(), "{what}");
        }
    }
}

// ---------------------------------------------------------------------------------
// 4. Static storage (`spsc::StaticRing`, `mpmc::StaticQueue`)
// ---------------------------------------------------------------------------------

/// The waiting operations of a `StaticRing`'s halves: a blocking stream between
/// `'static` halves from `try_split` (the consumer also waits for the producer's
/// drop), and, on a ring split again, futures woken by the other side.
#[test]
#[cfg(not(ringway_loom))] // the static's `const` constructor is not `const` under loom
fn static_ring_waiting_operations() {
    static RING: StaticRing<u64, 2> =
        StaticRing::with_wait_strategy(WaitStrategy::SpinPark { spins: 0 });
    let (mut tx, mut rx) = RING.try_split().expect("split once");
    assert_eq!(rx.wait_strategy(), PARKING[0]);
    #[cfg(feature = "std")]
    {
        let n = stream_len(PARKING[0], false, 1_000, 30) as u64;
        let producer = thread::spawn(move || {
            for i in 0..n {
                tx.push_blocking(i).expect("the consumer is alive");
            }
        });
        let consumer = thread::spawn(move || {
            let mut next = 0;
            while let Ok(v) = rx.pop_blocking() {
                assert_eq!(v, next, "StaticRing: out of order");
                next += 1;
            }
            next
        });
        join_within_watchdog(producer, "StaticRing: producer");
        assert_eq!(join_within_watchdog(consumer, "StaticRing: consumer"), n);
    }
    // Without the crate's `std`: the same stream through the futures.
    #[cfg(not(feature = "std"))]
    {
        let n = stream_len(PARKING[0], true, 1_000, 30) as u64;
        let producer = thread::spawn(move || {
            block_on(async {
                for i in 0..n {
                    tx.push_async(i).await.expect("the consumer is alive");
                }
            })
        });
        let consumer = thread::spawn(move || {
            block_on(async {
                let mut next = 0;
                while let Ok(v) = rx.pop_async().await {
                    assert_eq!(v, next, "StaticRing: out of order");
                    next += 1;
                }
                next
            })
        });
        join_within_watchdog(producer, "StaticRing: producer");
        assert_eq!(join_within_watchdog(consumer, "StaticRing: consumer"), n);
    }

    for strategy in PARKING {
        let mut ring = StaticRing::<u32, 2>::with_wait_strategy(strategy);
        {
            let (tx, mut rx) = ring.split();
            let (waker, wakes) = counting_waker();
            let mut fut = rx.pop_async();
            assert!(poll_once(&mut fut, &waker).is_pending());
            drop(tx);
            assert!(
                wakes.count() >= 1,
                "{strategy:?}: producer drop did not wake"
            );
            assert_eq!(
                poll_once(&mut fut, &waker),
                Poll::Ready(Err(Disconnected(())))
            );
        }
        // Split again: not abandoned any more, so waits wait again.
        let (mut tx, mut rx) = ring.split();
        #[cfg(feature = "std")]
        assert_eq!(rx.pop_timeout(SHORT), Err(PopTimeoutError::Timeout));
        let (waker, wakes) = counting_waker();
        let mut fut = rx.pop_async();
        assert!(poll_once(&mut fut, &waker).is_pending());
        tx.push(1).unwrap();
        assert!(wakes.count() >= 1, "{strategy:?}: push did not wake");
        assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(1)));
        drop(fut);
        tx.push(2).unwrap();
        tx.push(3).unwrap();
        let (waker, wakes) = counting_waker();
        let mut fut = tx.push_async(4);
        assert!(poll_once(&mut fut, &waker).is_pending());
        assert_eq!(rx.pop(), Some(2));
        assert!(wakes.count() >= 1, "{strategy:?}: pop did not wake");
        assert_eq!(poll_once(&mut fut, &waker), Poll::Ready(Ok(())));
        drop(fut);
        assert_eq!(rx.drain().collect::<Vec<_>>(), [3, 4]);
    }
}

/// A `StaticQueue` in a `static`, shared by blocking and then async threads.
#[test]
#[cfg(not(ringway_loom))] // the static's `const` constructor is not `const` under loom
fn static_queue_waiting_operations() {
    static Q: StaticQueue<u64, 4> =
        StaticQueue::with_wait_strategy(WaitStrategy::SpinPark { spins: 0 });
    let _serial = one_stream_at_a_time();
    let per_producer = stream_len(PARKING[0], false, 300, 8);
    #[cfg(feature = "std")]
    mpmc_run(&*Q, 2, 2, per_producer, false);
    mpmc_run(&*Q, 2, 2, per_producer, true);
}

// ---------------------------------------------------------------------------------
// 5. Strategies, traits, error types
// ---------------------------------------------------------------------------------

#[test]
fn queues_report_their_strategy() {
    assert_eq!(WaitStrategy::SPIN_PARK, PARKING[1]);
    let (tx, rx) = spsc::channel::<u8>(1);
    assert_eq!(tx.wait_strategy(), WaitStrategy::SPIN_YIELD);
    assert_eq!(rx.wait_strategy(), WaitStrategy::SPIN_YIELD);
    assert_eq!(
        Queue::<u8>::new(1).wait_strategy(),
        WaitStrategy::SPIN_YIELD
    );
    for strategy in STRATEGIES {
        let (tx, rx) = channel_with_wait_strategy::<u8>(1, strategy);
        assert_eq!(tx.wait_strategy(), strategy);
        assert_eq!(rx.wait_strategy(), strategy);
        assert_eq!(
            Queue::<u8>::with_wait_strategy(1, strategy).wait_strategy(),
            strategy
        );
    }
}

/// A type with no trait implementations at all.
struct Opaque;

#[test]
#[cfg(feature = "std")]
fn debug_and_display_without_t_debug() {
    assert_eq!(format!("{:?}", Disconnected(Opaque)), "Disconnected(..)");
    assert_eq!(
        format!("{:?}", PushTimeoutError::Timeout(Opaque)),
        "Timeout(..)"
    );
    assert_eq!(
        format!("{:?}", PushTimeoutError::Disconnected(Opaque)),
        "Disconnected(..)"
    );
    assert_eq!(format!("{:?}", PopTimeoutError::Timeout), "Timeout");
    let messages = [
        Disconnected(Opaque).to_string(),
        PushTimeoutError::Timeout(Opaque).to_string(),
        PushTimeoutError::Disconnected(Opaque).to_string(),
        PopTimeoutError::Timeout.to_string(),
        PopTimeoutError::Disconnected.to_string(),
    ];
    assert!(messages.iter().all(|m| !m.is_empty()), "{messages:?}");
    assert_ne!(messages[1], messages[2]);
    assert_ne!(messages[3], messages[4]);

    let (mut tx, mut rx) = channel_with_wait_strategy::<Opaque>(1, WaitStrategy::SPIN_PARK);
    let push = tx.push_async(Opaque);
    assert!(format!("{push:?}").starts_with("PushFuture"), "{push:?}");
    drop(push);
    let pop = rx.pop_async();
    assert!(format!("{pop:?}").starts_with("PopFuture"), "{pop:?}");
    drop(pop);
    let q = Queue::<Opaque>::with_wait_strategy(1, WaitStrategy::SPIN_PARK);
    let push = q.push_async(Opaque);
    assert!(format!("{push:?}").starts_with("PushFuture"), "{push:?}");
    drop(push);
    let pop = q.pop_async();
    assert!(format!("{pop:?}").starts_with("PopFuture"), "{pop:?}");
}

/// The errors convert into `Box<dyn Error + Send + Sync>`, so `?` works in the usual
/// error-boxing functions.
#[test]
#[cfg(feature = "std")]
fn errors_box_into_dyn_error_send_sync() {
    fn push_to_gone_consumer() -> Result<(), Box<dyn Error + Send + Sync>> {
        let (mut tx, rx) = channel_with_wait_strategy::<String>(1, WaitStrategy::SPIN_PARK);
        drop(rx);
        tx.push_blocking("x".to_owned())?;
        Ok(())
    }
    fn timed_out_push() -> Result<(), Box<dyn Error + Send + Sync>> {
        let (mut tx, _rx) = channel_with_wait_strategy::<String>(1, WaitStrategy::SPIN_PARK);
        tx.push("a".to_owned())?;
        tx.push_timeout("b".to_owned(), SHORT)?;
        Ok(())
    }
    fn timed_out_pop() -> Result<(), Box<dyn Error + Send + Sync>> {
        let (_tx, mut rx) = channel_with_wait_strategy::<String>(1, WaitStrategy::SPIN_PARK);
        rx.pop_timeout(SHORT)?;
        Ok(())
    }
    let e = push_to_gone_consumer().unwrap_err();
    assert!(e.is::<Disconnected<String>>(), "{e:?}");
    assert!(e.source().is_none());
    let e = timed_out_push().unwrap_err();
    assert!(e.is::<PushTimeoutError<String>>(), "{e:?}");
    let e = timed_out_pop().unwrap_err();
    assert_eq!(
        e.downcast_ref::<PopTimeoutError>(),
        Some(&PopTimeoutError::Timeout)
    );
}

// The futures are `Send` exactly when `T: Send` (they hold `&mut` a half, or `&` a
// `Queue`, which is `Sync` only for `T: Send`), and `Unpin` whatever `T` is.
assert_impl_all!(spsc::PushFuture<'static, u64>: Send, Unpin, Debug);
assert_impl_all!(spsc::PopFuture<'static, u64>: Send, Unpin, Debug);
assert_impl_all!(mpmc::PushFuture<'static, u64>: Send, Unpin, Debug);
assert_impl_all!(mpmc::PopFuture<'static, u64>: Send, Unpin, Debug);
assert_impl_all!(spsc::PushFuture<'static, Cell<u8>>: Send);
assert_impl_all!(spsc::PopFuture<'static, Cell<u8>>: Send);
assert_impl_all!(mpmc::PushFuture<'static, Cell<u8>>: Send);
assert_impl_all!(mpmc::PopFuture<'static, Cell<u8>>: Send);
assert_not_impl_any!(spsc::PushFuture<'static, Rc<u8>>: Send, Sync);
assert_not_impl_any!(spsc::PopFuture<'static, Rc<u8>>: Send, Sync);
assert_not_impl_any!(mpmc::PushFuture<'static, Rc<u8>>: Send, Sync);
assert_not_impl_any!(mpmc::PopFuture<'static, Rc<u8>>: Send, Sync);
// `Sync + !Send` items must not cross threads inside a future either.
assert_not_impl_any!(spsc::PushFuture<'static, std::sync::MutexGuard<'static, u8>>: Send);
assert_not_impl_any!(mpmc::PopFuture<'static, std::sync::MutexGuard<'static, u8>>: Send);
assert_impl_all!(spsc::PushFuture<'static, PhantomPinned>: Unpin);
assert_impl_all!(mpmc::PushFuture<'static, PhantomPinned>: Unpin);
assert_impl_all!(spsc::PushFuture<'static, Opaque>: Debug);
assert_impl_all!(spsc::PopFuture<'static, Opaque>: Debug);
assert_impl_all!(mpmc::PushFuture<'static, Opaque>: Debug);
assert_impl_all!(mpmc::PopFuture<'static, Opaque>: Debug);

// The error types: `Error + Send + Sync` for `Send + Sync` items (and `Send` for
// `Send` items), `Debug`/`Display`/`Error` without `T: Debug`.
// (`std::error::Error` impls need the crate's `std`.)
#[cfg(feature = "std")]
assert_impl_all!(Disconnected<String>: Error, Send, Sync, Clone, PartialEq, Eq, std::hash::Hash);
#[cfg(feature = "std")]
assert_impl_all!(Disconnected: Error, Send, Sync, Copy, PartialEq, Eq);
#[cfg(feature = "std")]
assert_impl_all!(PushTimeoutError<String>: Error, Send, Sync, Clone, PartialEq, Eq, std::hash::Hash);
#[cfg(feature = "std")]
assert_impl_all!(PopTimeoutError: Error, Send, Sync, Copy, PartialEq, Eq, std::hash::Hash);
#[cfg(feature = "std")]
assert_impl_all!(Disconnected<Cell<u8>>: Error, Send);
#[cfg(feature = "std")]
assert_impl_all!(PushTimeoutError<Cell<u8>>: Error, Send);
#[cfg(feature = "std")]
assert_impl_all!(Disconnected<Opaque>: Debug, std::fmt::Display, Error);
#[cfg(feature = "std")]
assert_impl_all!(PushTimeoutError<Opaque>: Debug, std::fmt::Display, Error);
assert_impl_all!(WaitStrategy: Send, Sync, Copy, Debug, Default, Eq, std::hash::Hash);
