#![cfg(ringway_loom)]
//! loom models of the overwriting SPSC ring (`ringway::spsc::overwriting`).
//!
//! Under `--cfg ringway_loom` every access to a cell goes through a loom `UnsafeCell`,
//! so a missing happens-before edge between the producer's write of a cell and the
//! consumer's read of it, or between the consumer's read of a cell and the producer's
//! next write of the same cell (once `done` is past the item, or after a redirect), is
//! a loom panic. Items are `Track`ed: one displaced and never dropped, or dropped twice,
//! fails the execution.
//!
//! Each model asserts in every execution that every item pushed was popped, handed
//! back by the push that displaced it, or is left in the ring, exactly once, and that
//! the popped ones are in order; its coverage canary ([`loom_tests::explore`]) asserts
//! that the races it is about were each seen both ways.

use loom::alloc::Track;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use ringway::spsc::overwriting::{
    channel, channel_with_wait_strategy, Consumer, Producer, StaticRing, Storage,
};
use ringway::WaitStrategy;

type Item = Track<u32>;

/// Pushes and pops `n` items on the calling thread, so the positions of a fresh ring
/// start at `n` (past a lap end for the capacities used here).
fn prewrap<S: Storage>(tx: &mut Producer<Item, S>, rx: &mut Consumer<Item, S>, n: usize) {
    for _ in 0..n {
        assert!(tx.push(Track::new(u32::MAX)).is_none());
        assert!(rx.pop().is_some());
    }
    assert!(rx.is_empty());
}

/// What became of every item: checks exactly-once and order, returns (the items the
/// consumer's thread got, the items the pushes handed back).
fn account<S: Storage>(
    pushed: u32,
    got: Vec<u32>,
    displaced: Vec<u32>,
    rx: &mut Consumer<Item, S>,
) -> (Vec<u32>, Vec<u32>) {
    let rest: Vec<u32> = rx.drain().map(Track::into_inner).collect();
    let popped: Vec<u32> = got.iter().chain(&rest).copied().collect();
    assert!(
        popped.windows(2).all(|w| w[0] < w[1]),
        "popped out of order: {popped:?}"
    );
    let mut all: Vec<u32> = popped.iter().chain(&displaced).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..pushed).collect::<Vec<_>>(),
        "lost or duplicated: got {got:?}, rest {rest:?}, displaced {displaced:?}"
    );
    (got, displaced)
}

/// The displacement race: the producer pushes `pushed` items (`capacity + 1`: the
/// last one finds the ring full unless the consumer took the oldest first) while the
/// consumer pops `pops` times, so the consumer and the displacing push race for the
/// oldest item. The positions start `offset` on. Outcome: (what the consumer got,
/// what the pushes handed back).
fn displacement_race(
    capacity: usize,
    offset: usize,
    pops: usize,
    pushed: u32,
) -> (Vec<u32>, Vec<u32>) {
    let (tx, rx) = channel::<Item>(capacity);
    let (tx, mut rx, got, displaced) = race_on(tx, rx, offset, pops, pushed);
    let outcome = account(pushed, got, displaced, &mut rx);
    drop((tx, rx));
    outcome
}

/// What [`race_on`] returns: the halves, what the consumer's thread got and what the
/// pushes handed back.
type Raced<S> = (Producer<Item, S>, Consumer<Item, S>, Vec<u32>, Vec<u32>);

/// The threads of [`displacement_race`] on `tx` and `rx`.
fn race_on<S: Storage + Send + 'static>(
    mut tx: Producer<Item, S>,
    mut rx: Consumer<Item, S>,
    offset: usize,
    pops: usize,
    pushed: u32,
) -> Raced<S> {
    prewrap(&mut tx, &mut rx, offset);
    let producer = thread::spawn(move || {
        let displaced: Vec<u32> = (0..pushed)
            .filter_map(|i| tx.push(Track::new(i)))
            .map(Track::into_inner)
            .collect();
        (tx, displaced)
    });
    let consumer = thread::spawn(move || {
        let got: Vec<u32> = (0..pops)
            .filter_map(|_| rx.pop())
            .map(Track::into_inner)
            .collect();
        (rx, got)
    });
    let (tx, displaced) = producer.join().unwrap();
    let (rx, got) = consumer.join().unwrap();
    (tx, rx, got, displaced)
}

/// The displacement race of capacity 3 on a `StaticRing` (borrowed halves), then the
/// halves are dropped with items left and the ring is split again: the new consumer
/// must start at the oldest item left (recovered from the entries), and the ring's
/// drop drops what the second halves leave (`Track`: each once). Outcome: as
/// [`displacement_race`]'s.
#[test]
fn static_displacement_race_then_split_again() {
    explore(
        "overwriting_static_displacement_race_then_split_again",
        &[(vec![], vec![0]), (vec![0], vec![]), (vec![1], vec![0])],
        || {
            let ring: &'static mut StaticRing<Item, 3> = Box::leak(Box::new(StaticRing::new()));
            let raw: *mut StaticRing<Item, 3> = ring;
            // SAFETY: `raw` is the leaked box, valid until freed below; the halves of
            // each split are dropped before the next split or the free.
            let (tx, rx) = unsafe { (*raw).split() };
            let (tx, rx, got, displaced) = race_on(tx, rx, 2, 1, 4);
            drop((tx, rx));
            // SAFETY: as above; the first halves are gone.
            let (mut tx, mut rx) = unsafe { (*raw).split() };
            let outcome = account(4, got, displaced, &mut rx);
            assert!(
                tx.push(Track::new(9)).is_none(),
                "a push after the drain displaced"
            );
            drop((tx, rx));
            // SAFETY: from `Box::leak`, freed once, after every half is gone; its drop
            // drops the 9 left in it.
            drop(unsafe { Box::from_raw(raw) });
            outcome
        },
    );
}

#[test]
fn displacement_race_capacity_1() {
    explore(
        "overwriting_displacement_race_capacity_1",
        &[
            (vec![], vec![0]),
            (vec![0], vec![]),
            (vec![1], vec![0]),
            (vec![0, 1], vec![]),
        ],
        || displacement_race(1, 1, 2, 2),
    );
}

#[test]
fn displacement_race_capacity_2() {
    explore(
        "overwriting_displacement_race_capacity_2",
        &[
            (vec![], vec![0]),
            (vec![0], vec![]),
            (vec![1], vec![0]),
            (vec![0, 1], vec![]),
            (vec![1, 2], vec![0]),
        ],
        || displacement_race(2, 1, 2, 3),
    );
}

/// A capacity that is not a power of two (3 entries, positions skip 3): the pushes
/// cross the skipped position and the consumer's look-ahead after a displacement
/// lands past it.
#[test]
fn displacement_race_capacity_3() {
    explore(
        "overwriting_displacement_race_capacity_3",
        &[(vec![], vec![0]), (vec![0], vec![]), (vec![1], vec![0])],
        || displacement_race(3, 2, 1, 4),
    );
}

/// `peek` takes the oldest item out of the producer's reach: the producer pushes two
/// items into a ring of one while the consumer peeks, then pops. Outcome: (what the
/// consumer peeked, what it got, what the pushes handed back).
#[test]
fn peek_takes_the_item_out_of_reach() {
    explore(
        "overwriting_peek_takes_the_item_out_of_reach",
        &[
            (None, vec![], vec![0]),
            (Some(0), vec![0], vec![]),
            (Some(1), vec![1], vec![0]),
        ],
        || {
            let (mut tx, mut rx) = channel::<Item>(1);
            prewrap(&mut tx, &mut rx, 1);
            let producer = thread::spawn(move || {
                let displaced: Vec<u32> = (0..2)
                    .filter_map(|i| tx.push(Track::new(i)))
                    .map(Track::into_inner)
                    .collect();
                (tx, displaced)
            });
            let consumer = thread::spawn(move || {
                let peeked = rx.peek().map(|t| *t.get_ref());
                let got: Vec<u32> = rx.pop().map(Track::into_inner).into_iter().collect();
                if peeked.is_some() {
                    assert_eq!(peeked, got.first().copied(), "pop returned another item");
                }
                (rx, peeked, got)
            });
            let (tx, displaced) = producer.join().unwrap();
            let (mut rx, peeked, got) = consumer.join().unwrap();
            let (got, displaced) = account(2, got, displaced, &mut rx);
            drop((tx, rx));
            (peeked, got, displaced)
        },
    );
}

/// Abandonment: the producer pushes two items into a ring of two and is dropped; a
/// consumer that sees `is_abandoned` must then find both. Outcome: (items popped
/// before the look, saw abandoned).
#[test]
fn abandoned_producer_items_all_visible() {
    explore(
        "overwriting_abandoned_producer_items_all_visible",
        &[(0, false), (0, true), (1, false), (1, true)],
        || {
            let (mut tx, mut rx) = channel::<Item>(2);
            prewrap(&mut tx, &mut rx, 1);
            let producer = thread::spawn(move || {
                assert!(tx.push(Track::new(0)).is_none());
                assert!(tx.push(Track::new(1)).is_none());
            });
            let early = rx.pop().map(Track::into_inner);
            let abandoned = rx.is_abandoned();
            let mut got: Vec<u32> = early.into_iter().collect();
            let before = got.len();
            if abandoned {
                got.extend(rx.drain().map(Track::into_inner));
                assert_eq!(got, [0, 1], "abandoned, but not every item was visible");
            }
            producer.join().unwrap();
            drop(rx);
            (before, abandoned)
        },
    );
}

/// `Producer::is_abandoned` synchronises with the consumer's drop: the consumer
/// writes a side cell, then drops its half; a producer that sees `is_abandoned()` must
/// see that write (a loom cell, so a missing edge is a reported race). Outcome:
/// (consumer popped an item, producer saw abandoned).
#[test]
fn abandoned_consumer_synchronises() {
    explore(
        "overwriting_abandoned_consumer_synchronises",
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let (mut tx, mut rx) = channel::<Item>(1);
            prewrap(&mut tx, &mut rx, 1);
            let side = Arc::new(UnsafeCell::new(0u32));
            let side_c = Arc::clone(&side);
            let producer = thread::spawn(move || {
                assert!(tx.push(Track::new(0)).is_none());
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

/// Cells come back: a cell the consumer read an item from is written again by the
/// producer a lap later, once the consumer's `done` is past the item (or, if the
/// consumer is still reading it, after the producer redirected that slot to its spare
/// and the cell became the spare). Capacity 1, four pushes against three pops, so a
/// cell read on the consumer's thread is written again on the producer's: the
/// `Release` of the consumer's stores of `done` and `released` and the `Acquire` of
/// the producer's loads of them order the read before the write (else loom reports
/// the race on the cell). Outcome: (what the consumer got, what the pushes handed
/// back).
#[test]
fn cells_read_by_the_consumer_come_back_to_the_producer() {
    explore(
        "overwriting_cells_read_by_the_consumer_come_back_to_the_producer",
        &[
            (vec![], vec![0, 1, 2]),
            (vec![0, 1], vec![2]),
            (vec![0, 2], vec![1]),
            (vec![1, 2], vec![0]),
            (vec![2, 3], vec![0, 1]),
            (vec![3], vec![0, 1, 2]),
        ],
        || displacement_race(1, 1, 3, 4),
    );
}

/// A redirect: the producer finds the consumer still reading the item of a lap before
/// from the cell it would write, so it writes its spare instead, and the cell being
/// read becomes the spare. Capacity 1, three pushes against two pops, with runs of
/// none, one and two redirects: the second must find the spare free, which the
/// `Release` of the consumer's compare-and-swap of `head` guarantees (the producer's
/// `Acquire` views of `head` then see the `done` of the item read from the spare; else
/// the producer's check panics). Outcome: (what the consumer got, what the pushes
/// handed back, how many redirects the producer made).
#[test]
fn a_push_redirects_round_a_cell_being_read() {
    explore(
        "overwriting_a_push_redirects_round_a_cell_being_read",
        &[
            (vec![0, 1], vec![], 2),
            (vec![0, 1], vec![], 1),
            (vec![0, 1], vec![], 0),
            (vec![0, 2], vec![1], 1),
            (vec![1, 2], vec![0], 0),
        ],
        || {
            let (tx, rx) = channel::<Item>(1);
            let (tx, mut rx, got, displaced) = race_on(tx, rx, 1, 2, 3);
            let redirects = tx.redirects();
            let (got, displaced) = account(3, got, displaced, &mut rx);
            drop((tx, rx));
            (got, displaced, redirects)
        },
    );
}

/// The overwriting consumer's waiting pop (`SpinPark`, no spins): it pops two items
/// with `pop_blocking` while the producer (the main thread) pushes one into a ring of
/// one, then another (displacing the first unless it was taken), and is dropped. Each
/// pop that sleeps must be woken by the push or the drop that follows its
/// announcement (a lost wake-up leaves it asleep: loom reports the deadlock). The
/// second pop gets the second item or, if the producer displaced nothing and is gone,
/// `Disconnected`. Outcome: (first pop got, second pop got, first slept, second slept).
#[test]
fn pop_blocking_vs_push_and_producer_drop() {
    explore(
        "overwriting_pop_blocking_vs_push_and_producer_drop",
        &[
            (Some(0), Some(1), false, false),
            (Some(0), Some(1), true, false),
            (Some(0), Some(1), false, true),
            (Some(0), Some(1), true, true),
            (Some(1), None, false, false),
            (Some(1), None, false, true),
        ],
        || {
            let park = WaitStrategy::SpinPark { spins: 0 };
            let (mut tx, mut rx) = channel_with_wait_strategy::<Item>(1, park);
            let consumer = thread::spawn(move || {
                let sleeps = |rx: &mut Consumer<Item>| {
                    let before = WaitStrategy::loom_sleeps();
                    let got = rx.pop_blocking().ok().map(Track::into_inner);
                    (got, WaitStrategy::loom_sleeps() > before)
                };
                let (first, slept_first) = sleeps(&mut rx);
                let (second, slept_second) = sleeps(&mut rx);
                (first, second, slept_first, slept_second)
            });
            let displaced: Vec<u32> = (0..2)
                .filter_map(|i| tx.push(Track::new(i)))
                .map(Track::into_inner)
                .collect();
            drop(tx);
            let (first, second, slept_first, slept_second) = consumer.join().unwrap();
            let got: Vec<u32> = first.into_iter().chain(second).collect();
            let mut all: Vec<u32> = got.iter().chain(&displaced).copied().collect();
            all.sort_unstable();
            assert_eq!(all, [0, 1], "lost or duplicated");
            assert!(
                first.is_some(),
                "the first pop cannot see the ring empty and gone"
            );
            (first, second, slept_first, slept_second)
        },
    );
}
