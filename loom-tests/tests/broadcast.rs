#![cfg(ringway_loom)]
//! loom models of the broadcast ring (`ringway::broadcast`).
//!
//! Under `--cfg ringway_loom` every access to a slot's value goes through a loom
//! `UnsafeCell`, so a consumer's clone that is not ordered before the producer's
//! replacement of the same item (the `Lossy` reader count, the `Backpressure` cursors,
//! the join protocol), or a clone that is not ordered after the write it reads (the
//! stamps), is a loom panic. Items are `Track`ed (the ring's originals and the clones
//! alike): one dropped twice or never fails the execution.
//!
//! Each model checks in every execution that every consumer got every item it was
//! owed, in order, or was told how many it missed (`Lossy`), and its coverage canary
//! ([`loom_tests::explore`]) asserts that the races it is about were seen each way.

use loom::alloc::Track;
use loom::sync::Arc;
use loom::thread;
use loom_tests::{bounded_explore, explore};
use ringway::broadcast::{self, Consumer, Lagged, Policy, PopError};
use ringway::WaitStrategy;

/// The pre-emption bound of the three-thread models (see their comments).
const THREE_THREADS_PREEMPTIONS: usize = 2;

/// Waiters park at once after a failed look.
const PARK: WaitStrategy = WaitStrategy::SpinPark { spins: 0 };

/// A tracked item that can be cloned (every clone tracked too).
#[derive(Debug)]
struct Item(Track<u32>);

impl Item {
    fn new(v: u32) -> Self {
        Item(Track::new(v))
    }

    fn get(&self) -> u32 {
        *self.0.get_ref()
    }
}

impl Clone for Item {
    fn clone(&self) -> Self {
        Item::new(self.get())
    }
}

/// One pop's outcome, for canaries: the item, or `-n` for `Lagged(n)`.
fn event(r: Result<Option<Item>, Lagged>) -> Option<i64> {
    match r {
        Ok(Some(v)) => Some(i64::from(v.get())),
        Ok(None) => None,
        Err(Lagged(n)) => Some(-(n as i64)),
    }
}

/// Reads `rx` to its end (single-threaded, after the race) and returns every event of
/// the race and after it, checked: items strictly increasing, and items plus the
/// counts of missed ones make up exactly `from..pushed`, ending with the last item.
fn finish(rx: &mut Consumer<Item>, mut events: Vec<i64>, from: u32, pushed: u32) -> Vec<i64> {
    let raced = events.len();
    while let Some(e) = event(rx.pop()) {
        events.push(e);
    }
    let mut next = i64::from(from);
    for &e in &events {
        if e >= 0 {
            assert!(e >= next, "out of order or duplicated: {events:?}");
            assert_eq!(e, next, "an item lost without a lag report: {events:?}");
            next = e + 1;
        } else {
            next -= e;
        }
    }
    assert_eq!(next, i64::from(pushed), "unaccounted items: {events:?}");
    events.truncate(raced);
    events
}

/// `Lossy` displacement: the producer pushes `pushed` items into a ring of `capacity`
/// while a consumer pops `pops` times, so it races clones of the oldest item against
/// the pushes that overwrite it. Outcome: the consumer's events during the race.
fn lossy_race(capacity: usize, pushed: u32, pops: usize) -> Vec<i64> {
    let (mut tx, mut rx) = broadcast::channel::<Item>(capacity, Policy::Lossy);
    let producer = thread::spawn(move || {
        for i in 0..pushed {
            assert!(tx.push(Item::new(i)).is_ok(), "Lossy never refuses");
        }
        tx
    });
    let events: Vec<i64> = (0..pops).filter_map(|_| event(rx.pop())).collect();
    let tx = producer.join().unwrap();
    let events = finish(&mut rx, events, 0, pushed);
    drop((tx, rx));
    events
}

/// Capacity 1, two pushes, one pop: the pop finds nothing, the first item (before it is
/// overwritten, or while the overwrite waits for its clone) or a lag of one.
#[test]
fn lossy_displacement_capacity_1() {
    explore(
        "broadcast_lossy_displacement_capacity_1",
        &[vec![], vec![0], vec![-1]],
        || lossy_race(1, 2, 1),
    );
}

/// Capacity 2, four pushes, two pops: the second lap overwrites both first-lap items.
#[test]
fn lossy_displacement_capacity_2() {
    explore(
        "broadcast_lossy_displacement_capacity_2",
        &[vec![0, 1], vec![0, -1], vec![-2, 2], vec![-1, 1], vec![]],
        || lossy_race(2, 4, 2),
    );
}

/// `Lossy` `pop_slice` against pushes across a lap: the batch stops at a lag and the
/// next call reports it. Outcome: the sizes of the two batches (or `-n` for a lag).
#[test]
fn lossy_pop_slice_across_a_lap() {
    explore(
        "broadcast_lossy_pop_slice_across_a_lap",
        &[vec![0, 0], vec![2, 1], vec![-1, 2], vec![1, 2]],
        || {
            let (mut tx, mut rx) = broadcast::channel::<Item>(2, Policy::Lossy);
            let producer = thread::spawn(move || {
                for i in 0..3 {
                    assert!(tx.push(Item::new(i)).is_ok());
                }
                tx
            });
            let mut got = Vec::new();
            let mut sizes = Vec::new();
            for _ in 0..2 {
                let mut dst: Vec<Item> = (0..2).map(|_| Item::new(u32::MAX)).collect();
                match rx.pop_slice(&mut dst) {
                    Ok(n) => {
                        sizes.push(n as i64);
                        got.extend(dst[..n].iter().map(|v| i64::from(v.get())));
                    }
                    Err(Lagged(n)) => {
                        sizes.push(-(n as i64));
                        got.push(-(n as i64));
                    }
                }
            }
            let tx = producer.join().unwrap();
            finish(&mut rx, got, 0, 3);
            drop((tx, rx));
            sizes
        },
    );
}

/// `Backpressure`, two consumers on two threads and the producer on the main thread:
/// the producer makes `attempts` pushes of the next item (refused while a consumer is
/// `capacity` behind) while each consumer pops `pops` times; after the race each reads
/// the rest, and each must have every item pushed, in order. Outcome: how many items
/// went in during the race.
fn backpressure_two_consumers(capacity: usize, attempts: usize, pops: usize) -> u32 {
    let (mut tx, a) = broadcast::channel::<Item>(capacity, Policy::Backpressure);
    let b = a.subscribe();
    let reader = |mut rx: Consumer<Item>| {
        thread::spawn(move || {
            let events: Vec<i64> = (0..pops).filter_map(|_| event(rx.pop())).collect();
            (rx, events)
        })
    };
    let (ta, tb) = (reader(a), reader(b));
    let mut pushed = 0;
    for _ in 0..attempts {
        if tx.push(Item::new(pushed)).is_ok() {
            pushed += 1;
        }
    }
    let (mut a, ea) = ta.join().unwrap();
    let (mut b, eb) = tb.join().unwrap();
    for (rx, events) in [(&mut a, ea), (&mut b, eb)] {
        let events = finish(rx, events, 0, pushed);
        assert!(events.iter().all(|&e| e >= 0), "Backpressure never lags");
    }
    drop((tx, a, b));
    pushed
}

/// Capacity 1: the second item goes in only after both consumers have read the first.
#[test]
fn backpressure_two_consumers_capacity_1() {
    explore(
        "broadcast_backpressure_two_consumers_capacity_1",
        &[1, 2],
        || backpressure_two_consumers(1, 2, 1),
    );
}

/// Capacity 2 across a lap: the third item reuses the first one's slot.
#[test]
fn backpressure_two_consumers_capacity_2() {
    explore(
        "broadcast_backpressure_two_consumers_capacity_2",
        &[2, 3],
        || backpressure_two_consumers(2, 3, 1),
    );
}

/// A consumer subscribes (from the first consumer, which it then drops) while the
/// producer pushes into a ring of capacity 1: the producer's pass over the cursors may
/// miss the new consumer, which must then start past every slot that pass lets the
/// producer reuse (the join's fence). It reads twice during the race and the rest
/// after; it must get a gap-free run of items ending at the last one. Outcome: (items
/// pushed, the first item it got or -1).
#[test]
fn backpressure_subscribe_races_push() {
    explore(
        "broadcast_backpressure_subscribe_races_push",
        &[(1, -1), (1, 0), (2, 0), (2, 1), (3, 1)],
        || {
            let (mut tx, first) = broadcast::channel::<Item>(1, Policy::Backpressure);
            let subscriber = thread::spawn(move || {
                let mut late = first.subscribe();
                drop(first);
                let events: Vec<i64> = (0..2).filter_map(|_| event(late.pop())).collect();
                (late, events)
            });
            let mut pushed = 0;
            for _ in 0..3 {
                if tx.push(Item::new(pushed)).is_ok() {
                    pushed += 1;
                }
            }
            let (mut late, events) = subscriber.join().unwrap();
            let mut all = events;
            while let Some(e) = event(late.pop()) {
                all.push(e);
            }
            assert!(all.iter().all(|&e| e >= 0), "Backpressure never lags");
            assert!(
                all.windows(2).all(|w| w[1] == w[0] + 1),
                "a gap or a repeat: {all:?}"
            );
            if let Some(&last) = all.last() {
                assert_eq!(last, i64::from(pushed) - 1, "missed the newest: {all:?}");
            }
            drop((tx, late));
            (pushed, all.first().copied().unwrap_or(-1))
        },
    );
}

/// A consumer reads one item and is dropped while the producer pushes into a ring of
/// capacity 1: once the producer sees the consumer gone it reuses the slot, which must
/// come after the consumer's clone. Outcome: items pushed.
#[test]
fn backpressure_dropped_consumer_releases_the_producer() {
    explore(
        "broadcast_backpressure_dropped_consumer_releases_the_producer",
        &[1, 2, 3],
        || {
            let (mut tx, mut rx) = broadcast::channel::<Item>(1, Policy::Backpressure);
            assert!(tx.push(Item::new(0)).is_ok());
            let reader = thread::spawn(move || {
                let got = rx.pop();
                assert!(matches!(&got, Ok(Some(v)) if v.get() == 0));
                drop(rx);
            });
            let mut pushed = 1;
            for _ in 0..2 {
                if tx.push(Item::new(pushed)).is_ok() {
                    pushed += 1;
                }
            }
            reader.join().unwrap();
            drop(tx);
            pushed
        },
    );
}

/// A consumer blocked in `pop_blocking` on a `SpinPark` ring is woken by a push, and a
/// second `pop_blocking` by the producer's drop, which must not hide the item pushed
/// before it. Outcome: whether the first slept.
fn pop_blocking_vs_push_and_drop(name: &str, policy: Policy) {
    explore(name, &[false, true], move || {
        let (mut tx, mut rx) = broadcast::channel_with_wait_strategy::<Item>(1, policy, PARK);
        let reader = thread::spawn(move || {
            let before = WaitStrategy::loom_sleeps();
            let first = rx.pop_blocking().map(|v| v.get());
            let slept = WaitStrategy::loom_sleeps() > before;
            let second = rx.pop_blocking().map(|v| v.get());
            (first, second, slept)
        });
        assert!(tx.push(Item::new(7)).is_ok());
        drop(tx);
        let (first, second, slept) = reader.join().unwrap();
        assert_eq!(first, Ok(7));
        assert_eq!(second, Err(PopError::Disconnected));
        slept
    });
}

#[test]
fn backpressure_pop_blocking_vs_push_and_drop() {
    pop_blocking_vs_push_and_drop(
        "broadcast_backpressure_pop_blocking_vs_push_and_drop",
        Policy::Backpressure,
    );
}

#[test]
fn lossy_pop_blocking_vs_push_and_drop() {
    pop_blocking_vs_push_and_drop(
        "broadcast_lossy_pop_blocking_vs_push_and_drop",
        Policy::Lossy,
    );
}

/// Two consumers subscribe at once (from a first one, shared, whose last reference goes
/// at a varying point) while the producer pushes into a ring of capacity 1: they race
/// for the first one's node once it is idle, and one may add a node to the list while
/// the other walks it. Each then pops once during the race and reads the rest after;
/// each must get a gap-free run ending at the last item. Outcome: items pushed.
#[test]
fn backpressure_two_subscribers_race() {
    // Three threads: at 3 pre-emptions 92 000 executions (8 s a run, and a run per
    // ordering mutant of the file); 2 keep the races it is about (the canary, and the
    // `Relaxed` load of the list head in `take_node`, which it kills) at 8 700.
    bounded_explore(
        THREE_THREADS_PREEMPTIONS,
        "broadcast_backpressure_two_subscribers_race",
        &[1, 2],
        || {
            let (mut tx, first) = broadcast::channel::<Item>(1, Policy::Backpressure);
            let first = Arc::new(first);
            let subscriber = |first: Arc<Consumer<Item>>| {
                thread::spawn(move || {
                    let mut c = first.subscribe();
                    drop(first);
                    let events: Vec<i64> = event(c.pop()).into_iter().collect();
                    (c, events)
                })
            };
            let (ta, tb) = (
                subscriber(Arc::clone(&first)),
                subscriber(Arc::clone(&first)),
            );
            drop(first);
            let mut pushed = 0;
            for _ in 0..2 {
                if tx.push(Item::new(pushed)).is_ok() {
                    pushed += 1;
                }
            }
            for t in [ta, tb] {
                let (mut c, mut all) = t.join().unwrap();
                while let Some(e) = event(c.pop()) {
                    all.push(e);
                }
                assert!(
                    all.windows(2).all(|w| w[1] == w[0] + 1) && all.iter().all(|&e| e >= 0),
                    "a gap, a repeat or a lag: {all:?}"
                );
                if let Some(&last) = all.last() {
                    assert_eq!(last, i64::from(pushed) - 1, "missed the newest: {all:?}");
                }
            }
            drop(tx);
            pushed
        },
    );
}

/// A `Backpressure` producer blocked in `push_blocking` on a full `SpinPark` ring is
/// woken by the consumer's pop. Outcome: whether it slept.
#[test]
fn push_blocking_vs_pop() {
    explore("broadcast_push_blocking_vs_pop", &[false, true], || {
        let (mut tx, mut rx) =
            broadcast::channel_with_wait_strategy::<Item>(1, Policy::Backpressure, PARK);
        assert!(tx.push(Item::new(0)).is_ok());
        let producer = thread::spawn(move || {
            let before = WaitStrategy::loom_sleeps();
            tx.push_blocking(Item::new(1));
            (tx, WaitStrategy::loom_sleeps() > before)
        });
        let first = event(rx.pop());
        let (tx, slept) = producer.join().unwrap();
        assert_eq!(first, Some(0));
        assert_eq!(event(rx.pop()), Some(1));
        drop((tx, rx));
        slept
    });
}

/// The abandonment hand-off without waiting: the producer pushes one item and is
/// dropped while a consumer pops, looks at `is_abandoned` and pops again. Once it sees
/// the producer gone, the pop after must find the item if the first did not (the drop's
/// flag comes after every push). Outcome: (first pop got it, saw it gone, second got
/// it).
fn abandonment_hand_off(name: &str, policy: Policy) {
    explore(
        name,
        &[
            (false, false, false),
            (false, true, true),
            (true, true, false),
            (false, false, true),
        ],
        move || {
            let (mut tx, mut rx) = broadcast::channel::<Item>(1, policy);
            let reader = thread::spawn(move || {
                let first = event(rx.pop()).is_some();
                let gone = rx.is_abandoned();
                let second = event(rx.pop()).is_some();
                assert!(!gone || first || second, "the item hidden by the drop");
                (first, gone, second)
            });
            assert!(tx.push(Item::new(1)).is_ok());
            drop(tx);
            reader.join().unwrap()
        },
    );
}

#[test]
fn backpressure_abandonment_hand_off() {
    abandonment_hand_off(
        "broadcast_backpressure_abandonment_hand_off",
        Policy::Backpressure,
    );
}

#[test]
fn lossy_abandonment_hand_off() {
    abandonment_hand_off("broadcast_lossy_abandonment_hand_off", Policy::Lossy);
}

/// A consumer that has popped an item subscribes a new consumer, which must start after
/// that item (the producer stores `tail` before the item's stamp). Outcome: (what the
/// first consumer got, the new consumer's first item or -1).
fn subscribe_after_pop(name: &str, policy: Policy) {
    explore(
        name,
        &[(None, -1), (Some(0), 1), (Some(0), -1)],
        move || {
            let (mut tx, mut rx) = broadcast::channel::<Item>(2, policy);
            let reader = thread::spawn(move || {
                let got = event(rx.pop());
                let late = rx.subscribe();
                (got, late)
            });
            for i in 0..2 {
                assert!(tx.push(Item::new(i)).is_ok());
            }
            let (got, mut late) = reader.join().unwrap();
            let first = event(late.pop()).unwrap_or(-1);
            if let Some(g) = got {
                assert!(
                    first == -1 || first > g,
                    "the new consumer got {first} after {g}"
                );
            }
            drop(tx);
            (got, first)
        },
    );
}

#[test]
fn backpressure_subscribe_after_pop_starts_after_it() {
    subscribe_after_pop(
        "broadcast_backpressure_subscribe_after_pop_starts_after_it",
        Policy::Backpressure,
    );
}

#[test]
fn lossy_subscribe_after_pop_starts_after_it() {
    subscribe_after_pop(
        "broadcast_lossy_subscribe_after_pop_starts_after_it",
        Policy::Lossy,
    );
}

/// A consumer pops on its thread and is dropped while a third thread subscribes a new
/// consumer (which may take over the dropped one's idle node) and the producer pushes
/// into a ring of capacity 1: the push that reuses the popped item's slot must come
/// after the dropped consumer's clone, also when the producer learns of it only through
/// the reused node's new cursor (the join's fence orders it). Outcome: items pushed.
#[test]
fn backpressure_reused_node_orders_the_old_owners_clone() {
    // Three threads, bounded as `backpressure_two_subscribers_race` (33 000 executions at
    // 3 pre-emptions, 4 100 at 2; still kills the join fence's removal).
    bounded_explore(
        THREE_THREADS_PREEMPTIONS,
        "broadcast_backpressure_reused_node_orders_the_old_owners_clone",
        &[1, 2, 3],
        || {
            let (mut tx, mut rx) = broadcast::channel::<Item>(1, Policy::Backpressure);
            assert!(tx.push(Item::new(0)).is_ok());
            let seed = tx.subscribe();
            let reader = thread::spawn(move || {
                assert_eq!(event(rx.pop()), Some(0));
                drop(rx);
            });
            let subscriber = thread::spawn(move || {
                let late = seed.subscribe();
                drop(seed);
                late
            });
            let mut pushed = 1;
            for _ in 0..2 {
                if tx.push(Item::new(pushed)).is_ok() {
                    pushed += 1;
                }
            }
            reader.join().unwrap();
            let mut late = subscriber.join().unwrap();
            while let Some(e) = event(late.pop()) {
                assert!(e >= 1, "the late consumer got an old item");
            }
            drop((tx, late));
            pushed
        },
    );
}
