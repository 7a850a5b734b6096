#![cfg(ringway_loom)]
//! loom models of the stamped-slot SPSC queue (`ringway::spsc::stamped`).
//!
//! Under `--cfg ringway_loom` each slot's value is a loom `UnsafeCell`, so a missing
//! happens-before edge between the producer's write of a slot and the consumer's read
//! of it (the stamp's `Release`/`Acquire`), or between that read and the producer's
//! next write of the slot (`head`'s `Release`/`Acquire`), is a loom panic.
//!
//! As in `spsc.rs`: every model starts from counters that already wrapped the storage,
//! makes a bounded number of attempts, asserts what must hold in every execution, and
//! goes through [`loom_tests::explore`] (coverage canary). Items are
//! `loom::alloc::Track`ed, so a leak or a double drop fails the execution.

use loom::alloc::Track;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use ringway::spsc::stamped::{channel, Consumer, Producer};

type Item = Track<u32>;

/// Attempts per item for a push that may find the queue full.
const ATTEMPTS: usize = 2;

/// Pushes and pops enough items on the calling thread that the counters of a fresh
/// queue of `capacity` start one short of the end of the storage (`capacity` rounded
/// up to a power of two), so the model's positions wrap it.
fn prewrap(tx: &mut Producer<Item>, rx: &mut Consumer<Item>) {
    let n = tx.capacity().next_power_of_two().max(2) - 1;
    for _ in 0..n {
        assert!(tx.push(Track::new(u32::MAX)).is_ok());
        assert!(rx.pop().is_some());
    }
    assert!(rx.is_empty() && tx.is_empty());
}

/// Pushes `value` with up to [`ATTEMPTS`] tries; `true` if it went in.
fn push_bounded(tx: &mut Producer<Item>, value: u32) -> bool {
    let mut item = Track::new(value);
    for attempt in 0..ATTEMPTS {
        match tx.push(item) {
            Ok(()) => return true,
            Err(full) => item = full.into_inner(),
        }
        if attempt + 1 < ATTEMPTS {
            thread::yield_now();
        }
    }
    false
}

/// Push/pop hand-off at `capacity`: the producer offers one item more than the storage
/// has slots, so its last push reuses the slot of its first item, which the consumer
/// must have popped in that execution (the producer writes a slot the consumer just
/// read). The consumer pops twice. Outcome: (items pushed, items the consumer popped).
fn handoff(name: &str, capacity: usize, expected: &[(usize, usize)]) {
    explore(name, expected, move || {
        let (mut tx, mut rx) = channel::<Item>(capacity);
        let items = capacity.next_power_of_two() + 1;
        assert!(items - capacity <= 2, "the consumer pops only twice");
        prewrap(&mut tx, &mut rx);
        let producer = thread::spawn(move || {
            let mut pushed = 0;
            for value in 0..items as u32 {
                if !push_bounded(&mut tx, value) {
                    break;
                }
                pushed += 1;
            }
            assert!(
                pushed >= capacity,
                "a push into a queue with free slots failed"
            );
            (tx, pushed)
        });
        let consumer = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                if let Some(item) = rx.pop() {
                    got.push(item.into_inner());
                }
            }
            (rx, got)
        });
        let (tx, pushed) = producer.join().unwrap();
        let (mut rx, mut got) = consumer.join().unwrap();
        let popped = got.len();
        while let Some(item) = rx.pop() {
            got.push(item.into_inner());
        }
        assert_eq!(
            got,
            (0..pushed as u32).collect::<Vec<_>>(),
            "FIFO / exactly-once"
        );
        drop((tx, rx));
        (pushed, popped)
    });
}

#[test]
fn stamped_handoff_capacity_1() {
    handoff(
        "stamped_handoff_capacity_1",
        1,
        &[(1, 0), (1, 1), (2, 1), (2, 2)],
    );
}

#[test]
fn stamped_handoff_capacity_2() {
    // Capacity equals the slot count: the producer fills the ring, and its third push
    // succeeds only after a pop.
    handoff(
        "stamped_handoff_capacity_2",
        2,
        &[(2, 0), (2, 1), (2, 2), (3, 1), (3, 2)],
    );
}

#[test]
fn stamped_handoff_capacity_3() {
    handoff(
        "stamped_handoff_capacity_3",
        3,
        &[(3, 0), (3, 1), (3, 2), (4, 1), (4, 2), (5, 2)],
    );
}

/// `Consumer::is_abandoned` with items in flight, capacity 2 (counters from 1): the
/// producer pushes 0 and 1 (wrapping the storage) and drops. The consumer pops once,
/// then checks `is_abandoned`; once it is true, popping must yield every remaining
/// item. The consumer then drops its half on its own thread (the last half dropped
/// drops what is left). Outcome: (early pop got an item, saw abandoned).
#[test]
fn stamped_abandoned_producer_items_all_visible() {
    explore(
        "stamped_abandoned_producer_items_all_visible",
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let (mut tx, mut rx) = channel::<Item>(2);
            prewrap(&mut tx, &mut rx);
            let producer = thread::spawn(move || {
                assert!(tx.push(Track::new(0)).is_ok());
                assert!(tx.push(Track::new(1)).is_ok());
                drop(tx);
            });
            let consumer = thread::spawn(move || {
                let mut got: Vec<u32> = rx.pop().map(Track::into_inner).into_iter().collect();
                let early = !got.is_empty();
                let abandoned = rx.is_abandoned();
                if abandoned {
                    while let Some(item) = rx.pop() {
                        got.push(item.into_inner());
                    }
                    assert_eq!(
                        got,
                        [0, 1],
                        "is_abandoned() was true but not every pushed item was poppable"
                    );
                }
                drop(rx);
                (early, abandoned)
            });
            producer.join().unwrap();
            consumer.join().unwrap()
        },
    );
}

/// `Producer::is_abandoned` synchronises with the consumer's drop: the consumer writes
/// a side cell, then drops its half; a producer that sees `is_abandoned()` must see
/// that write (a loom cell, so a missing edge is a reported race). Capacity 1,
/// counters from 1. Outcome: (consumer popped an item, producer saw abandoned).
#[test]
fn stamped_abandoned_consumer_synchronises() {
    explore(
        "stamped_abandoned_consumer_synchronises",
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let (mut tx, mut rx) = channel::<Item>(1);
            prewrap(&mut tx, &mut rx);
            let side = Arc::new(UnsafeCell::new(0u32));
            let side_c = Arc::clone(&side);
            let producer = thread::spawn(move || {
                assert!(tx.push(Track::new(0)).is_ok());
                let abandoned = tx.is_abandoned();
                if abandoned {
                    // SAFETY: the consumer's write happened before its drop, which the
                    // `true` above synchronises with (else loom reports the race).
                    let seen = side.with(|p| unsafe { *p });
                    assert_eq!(seen, 7);
                }
                drop(tx);
                abandoned
            });
            let consumer = thread::spawn(move || {
                let popped = rx.pop().map(Track::into_inner);
                assert!(matches!(popped, None | Some(0)));
                // SAFETY: the producer reads the cell only after `is_abandoned()`.
                side_c.with_mut(|p| unsafe { *p = 7 });
                drop(rx);
                popped.is_some()
            });
            let abandoned = producer.join().unwrap();
            let popped = consumer.join().unwrap();
            (popped, abandoned)
        },
    );
}

/// Both halves dropped on different threads with items left, capacity 2 (counters from
/// 1): the producer pushes two tracked items and drops; the consumer pops up to twice
/// and drops. Whatever is left is dropped exactly once by the last half, which finds
/// the items by their stamps (loom `Track` reports a leak; a double drop panics).
/// Outcome: items popped.
#[test]
fn stamped_drop_with_items_left_on_two_threads() {
    explore(
        "stamped_drop_with_items_left_on_two_threads",
        &[0, 1, 2],
        || {
            let (mut tx, mut rx) = channel::<Item>(2);
            prewrap(&mut tx, &mut rx);
            let producer = thread::spawn(move || {
                assert!(tx.push(Track::new(0)).is_ok());
                assert!(tx.push(Track::new(1)).is_ok());
            });
            let consumer = thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..2 {
                    if let Some(item) = rx.pop() {
                        got.push(item.into_inner());
                    }
                }
                assert_eq!(got, [0, 1][..got.len()]);
                got.len()
            });
            producer.join().unwrap();
            consumer.join().unwrap()
        },
    );
}

/// Snapshots synchronise like the operations they summarise, at capacity 1 (counters
/// from 1): the producer writes a side cell, then pushes; a consumer whose
/// `is_empty()` is false (the stamp is there) may read that cell. The consumer pops,
/// writing a second cell before; a producer whose `is_empty()` sees the pop (`head`
/// moved) may read that cell. Outcome: (consumer saw the item, popped, producer saw
/// empty).
#[test]
fn stamped_snapshots_synchronise() {
    explore(
        "stamped_snapshots_synchronise",
        &[
            (false, false, false),
            (false, true, false),
            (false, true, true),
            (true, true, false),
            (true, true, true),
        ],
        || {
            let (mut tx, mut rx) = channel::<Item>(1);
            prewrap(&mut tx, &mut rx);
            let before_push = Arc::new(UnsafeCell::new(0u32));
            let before_pop = Arc::new(UnsafeCell::new(0u32));
            let (before_push_c, before_pop_p) = (Arc::clone(&before_push), Arc::clone(&before_pop));
            let producer = thread::spawn(move || {
                // SAFETY: read by the consumer only once it sees the item pushed below.
                before_push.with_mut(|p| unsafe { *p = 1 });
                assert!(tx.push(Track::new(0)).is_ok());
                let empty = tx.is_empty();
                if empty {
                    // SAFETY: written by the consumer before its pop released the slot.
                    let seen = before_pop_p.with(|p| unsafe { *p });
                    assert_eq!(seen, 1);
                }
                (tx, empty)
            });
            let consumer = thread::spawn(move || {
                let seen = !rx.is_empty();
                if seen {
                    // SAFETY: written by the producer before it published the item.
                    let v = before_push_c.with(|p| unsafe { *p });
                    assert_eq!(v, 1);
                }
                let mut popped = false;
                if seen || rx.peek().is_some() {
                    // SAFETY: the producer reads it only after the pop released the slot.
                    before_pop.with_mut(|p| unsafe { *p = 1 });
                    assert_eq!(rx.pop().map(Track::into_inner), Some(0));
                    popped = true;
                }
                (rx, seen, popped)
            });
            let (tx, empty) = producer.join().unwrap();
            let (rx, seen, popped) = consumer.join().unwrap();
            drop((tx, rx));
            (seen, popped, empty)
        },
    );
}
