#![cfg(ringway_loom)]
//! loom models of the SPSC ring (`ringway::spsc`).
//!
//! Under `--cfg ringway_loom` the crate uses loom's atomics and `Arc`, and touches a loom
//! `UnsafeCell` on every slot access, so a missing happens-before edge between a
//! slot's write and its read (or its read and its reuse) is a loom panic.
//!
//! Every model:
//! * starts from a ring whose counters already wrapped the storage (items pushed and
//!   popped on the main thread before the threads are spawned), so positions are not
//!   slot numbers and batches straddle the end of the storage;
//! * makes a bounded number of attempts (no spin-until-success loops: loom's branch
//!   limit), yielding between failed ones;
//! * asserts what must hold in *every* execution (FIFO, exactly-once, batch
//!   atomicity, synchronisation) inside the body, and goes through
//!   [`loom_tests::explore`], whose coverage canary asserts that every listed outcome
//!   was seen in some execution and that more than one execution ran.
//!
//! Items are `loom::alloc::Track`ed where the type allows (not for the `Copy`-only
//! slice API), so a leaked item fails the execution and a double drop panics.
//!
//! The `static_*` models run the same protocol code on the halves of a `StaticRing`
//! (borrowed storage): a hand-off across the wrap, abandonment and splitting again,
//! and racing `try_split`s.
//!
//! Both layouts run the same models: each model is a function generic over the
//! layout, and its `stamped_` twin runs it on [`Stamped`] slots (each slot its own ready
//! flag, the counter stored lazily), whose consumer reads stamps for single items and
//! the counter, then the stamps beyond it, for batches and counts. The zero-copy chunk
//! model is [`Indexed`] only (the stamped layout has no chunks).

use std::iter;
use std::mem;

use loom::alloc::Track;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use loom_tests::explore;
use ringway::spsc::{
    self, Borrowed, Consumer, Heap, Indexed, Layout, Producer, Stamped, StaticRing, Storage,
};
use ringway::ChunkError;

/// The halves of a heap ring of layout `L`.
type HeapHalves<T, L> = (Producer<T, Heap<T, L>>, Consumer<T, Heap<T, L>>);

/// The heap constructor of each layout, so that every model runs on both.
trait Layouts: Layout {
    fn channel<T>(capacity: usize) -> HeapHalves<T, Self>;
}

impl Layouts for Indexed {
    fn channel<T>(capacity: usize) -> HeapHalves<T, Self> {
        spsc::channel(capacity)
    }
}

impl Layouts for Stamped {
    fn channel<T>(capacity: usize) -> HeapHalves<T, Self> {
        spsc::stamped::channel(capacity)
    }
}

/// Attempts per item for a push that may find the ring full.
const ATTEMPTS: usize = 2;

type Item = Track<u32>;

/// Pushes and pops `n` items on the calling thread, so that the counters of a fresh
/// ring start at `n` (past the end of the storage for the capacities used here).
fn prewrap<T, S: Storage>(
    tx: &mut Producer<T, S>,
    rx: &mut Consumer<T, S>,
    n: usize,
    mut make: impl FnMut() -> T,
) {
    for _ in 0..n {
        assert!(tx.push(make()).is_ok());
        assert!(rx.pop().is_some());
    }
    assert!(rx.is_empty() && tx.is_empty());
}

/// How many items to pre-push/pop so that the storage (`capacity` rounded up to a
/// power of two) wraps during the model: all but one slot of the storage, at least 1.
fn wrap_offset(capacity: usize) -> usize {
    capacity.next_power_of_two().max(2) - 1
}

/// Pops everything left on the calling thread (after the model's threads joined).
fn drain_rest<S: Storage>(rx: &mut Consumer<Item, S>) -> Vec<u32> {
    let mut rest = Vec::new();
    while let Some(item) = rx.pop() {
        rest.push(item.into_inner());
    }
    rest
}

/// Pushes `value` with up to [`ATTEMPTS`] tries; `true` if it went in.
fn push_bounded<S: Storage>(tx: &mut Producer<Item, S>, value: u32) -> bool {
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

/// Push/pop hand-off at `capacity`: the producer offers one item more than the
/// storage has slots (`capacity` rounded up to a power of two), so its last push
/// reuses the slot of its first item, which the consumer must have popped (and read)
/// in the model: the producer writes a slot the consumer just read. The consumer pops
/// twice. Outcome: (items pushed, items the consumer popped).
fn handoff<L: Layouts>(name: &str, capacity: usize, expected: &[(usize, usize)]) {
    explore(name, expected, move || {
        let (tx, rx) = L::channel::<Item>(capacity);
        handoff_execution(tx, rx)
    });
}

/// One execution of the hand-off model on `tx` and `rx` (the halves of a fresh ring),
/// which it drops at the end.
fn handoff_execution<S: Storage + 'static>(
    mut tx: Producer<Item, S>,
    mut rx: Consumer<Item, S>,
) -> (usize, usize)
where
    Producer<Item, S>: Send,
    Consumer<Item, S>: Send,
{
    let capacity = tx.capacity();
    let items = capacity.next_power_of_two() + 1;
    assert!(items - capacity <= 2, "the consumer pops only twice");
    prewrap(&mut tx, &mut rx, wrap_offset(capacity), || {
        Track::new(u32::MAX)
    });
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
            "a push into a ring with free slots failed"
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
    got.extend(drain_rest(&mut rx));
    assert_eq!(
        got,
        (0..pushed as u32).collect::<Vec<_>>(),
        "FIFO / exactly-once"
    );
    drop((tx, rx));
    (pushed, popped)
}

#[test]
fn handoff_capacity_1() {
    handoff::<Indexed>("handoff_capacity_1", 1, &[(1, 0), (1, 1), (2, 1), (2, 2)]);
}

#[test]
fn stamped_handoff_capacity_1() {
    handoff::<Stamped>(
        "stamped_handoff_capacity_1",
        1,
        &[(1, 0), (1, 1), (2, 1), (2, 2)],
    );
}

#[test]
fn handoff_capacity_2() {
    handoff::<Indexed>(
        "handoff_capacity_2",
        2,
        &[(2, 0), (2, 1), (2, 2), (3, 1), (3, 2)],
    );
}

#[test]
fn stamped_handoff_capacity_2() {
    handoff::<Stamped>(
        "stamped_handoff_capacity_2",
        2,
        &[(2, 0), (2, 1), (2, 2), (3, 1), (3, 2)],
    );
}

#[test]
fn handoff_capacity_3() {
    handoff::<Indexed>(
        "handoff_capacity_3",
        3,
        &[(3, 0), (3, 1), (3, 2), (4, 1), (4, 2), (5, 2)],
    );
}

#[test]
fn stamped_handoff_capacity_3() {
    handoff::<Stamped>(
        "stamped_handoff_capacity_3",
        3,
        &[(3, 0), (3, 1), (3, 2), (4, 1), (4, 2), (5, 2)],
    );
}

/// `push_slice`/`pop_slice` at capacity 3 (storage 4, counters from 3, so the first
/// batch occupies slots 3 and 0): the producer pushes `[0, 1]` then offers `[2, 3]`
/// (1 or 2 fit, depending on whether the consumer freed slots); the consumer takes two
/// looks with `pop_slice`. A batch is published with one store, so the consumer's
/// first look sees 0, 2 or 3 items, never 1. Outcome: (first look, second batch size).
fn slices_publish_whole_batches<L: Layouts>(name: &str) {
    explore(name, &SLICES_OUTCOMES, || {
        let (tx, rx) = L::channel::<u32>(3);
        slices_execution(tx, rx, wrap_offset(3))
    });
}

/// The outcomes of [`slices_publish_whole_batches`] and its static twin.
const SLICES_OUTCOMES: [(usize, usize); 5] = [(0, 1), (0, 2), (2, 1), (2, 2), (3, 1)];

/// One execution of the batch model on `tx` and `rx` (the halves of a fresh ring of
/// capacity 3), whose counters start `offset` positions on; drops them at the end.
fn slices_execution<S: Storage + 'static>(
    mut tx: Producer<u32, S>,
    mut rx: Consumer<u32, S>,
    offset: usize,
) -> (usize, usize)
where
    Producer<u32, S>: Send,
    Consumer<u32, S>: Send,
{
    {
        prewrap(&mut tx, &mut rx, offset, || u32::MAX);
        let producer = thread::spawn(move || {
            assert_eq!(
                tx.push_slice(&[0, 1]),
                2,
                "an empty ring of 3 took fewer than 2"
            );
            let second = tx.push_slice(&[2, 3]);
            assert!(second == 1 || second == 2, "second batch of {second}");
            (tx, second)
        });
        let consumer = thread::spawn(move || {
            let mut got = Vec::new();
            let mut looks = [0; 2];
            for look in &mut looks {
                let mut buf = [u32::MAX; 4];
                *look = rx.pop_slice(&mut buf);
                got.extend_from_slice(&buf[..*look]);
            }
            (rx, got, looks[0])
        });
        let (tx, second) = producer.join().unwrap();
        let (mut rx, mut got, first_look) = consumer.join().unwrap();
        assert!(
            matches!(first_look, 0 | 2 | 3),
            "consumer saw a torn batch: {first_look} items"
        );
        let mut buf = [u32::MAX; 4];
        let n = rx.pop_slice(&mut buf);
        got.extend_from_slice(&buf[..n]);
        assert_eq!(got, (0..2 + second as u32).collect::<Vec<_>>());
        drop((tx, rx));
        (first_look, second)
    }
}

#[test]
fn slices_publish_whole_batches_indexed() {
    slices_publish_whole_batches::<Indexed>("slices_publish_whole_batches");
}

#[test]
fn stamped_slices_publish_whole_batches() {
    slices_publish_whole_batches::<Stamped>("stamped_slices_publish_whole_batches");
}

/// Chunk publishing at capacity 2 (counters from 1, so a 2-slot chunk is slot 1 then
/// slot 0): the producer fills a wrapping `write_chunk_uninit(2)` and commits it with
/// one store, then makes up to two `write_chunk_uninit(1)` + `fill_from_iter`
/// attempts for a third item, which needs a slot the consumer released. The consumer
/// tries `read_chunk(2)` (checks both slices, `commit_all` drops the items in place),
/// then `drain()`s what is available. Outcome: (first look, items drained, third
/// item pushed).
#[test]
fn chunks_publish_and_release() {
    explore(
        "chunks_publish_and_release",
        &[
            (0, 0, false),
            (0, 2, false),
            (0, 2, true),
            (2, 0, false),
            (2, 0, true),
            (2, 1, true),
        ],
        || {
            let (mut tx, mut rx) = spsc::channel::<Item>(2);
            prewrap(&mut tx, &mut rx, wrap_offset(2), || Track::new(u32::MAX));
            let producer = thread::spawn(move || {
                let mut chunk = tx.write_chunk_uninit(2).expect("an empty ring of 2");
                let (first, second) = chunk.as_mut_slices();
                assert_eq!((first.len(), second.len()), (1, 1), "the chunk must wrap");
                first[0].write(Track::new(0));
                second[0].write(Track::new(1));
                // SAFETY: both slots of the chunk were initialised just above.
                unsafe { chunk.commit_all() };
                let mut third = false;
                for attempt in 0..ATTEMPTS {
                    match tx.write_chunk_uninit(1) {
                        Ok(chunk) => {
                            assert_eq!(chunk.fill_from_iter(iter::once(Track::new(2))), 1);
                            third = true;
                            break;
                        }
                        Err(ChunkError::TooFewSlots(0)) => {}
                        Err(e) => panic!("full ring of 2 reported {e:?}"),
                    }
                    if attempt + 1 < ATTEMPTS {
                        thread::yield_now();
                    }
                }
                (tx, third)
            });
            let consumer = thread::spawn(move || {
                let first_look = match rx.read_chunk(2) {
                    Ok(chunk) => {
                        let (a, b) = chunk.as_slices();
                        let values: Vec<u32> = a.iter().chain(b).map(|t| *t.get_ref()).collect();
                        assert_eq!(values, [0, 1]);
                        assert_eq!((a.len(), b.len()), (1, 1), "the chunk must wrap");
                        chunk.commit_all();
                        2
                    }
                    Err(ChunkError::TooFewSlots(n)) => {
                        assert_eq!(n, 0, "consumer saw a torn chunk commit");
                        0
                    }
                };
                let drained: Vec<u32> = rx.drain().map(Track::into_inner).collect();
                (rx, first_look, drained)
            });
            let (tx, third) = producer.join().unwrap();
            let (mut rx, first_look, drained) = consumer.join().unwrap();
            let mut got: Vec<u32> = if first_look == 2 { vec![0, 1] } else { vec![] };
            let n_drained = drained.len();
            got.extend(drained);
            got.extend(drain_rest(&mut rx));
            let pushed = if third { 3 } else { 2 };
            assert_eq!(got, (0..pushed).collect::<Vec<_>>(), "FIFO / exactly-once");
            drop((tx, rx));
            (first_look, n_drained, third)
        },
    );
}

/// `peek` at capacity 1 (counters from 1): the producer pushes 0, then tries to push 1
/// into the slot 0 occupied. The consumer peeks, pops, peeks again: the second peek
/// may see item 1 in the slot just reused. Outcome: (peek, pop, peek).
fn peek_sees_published_items<L: Layouts>(name: &str) {
    explore(
        name,
        &[
            (None, None, None),
            (None, None, Some(0)),
            (None, Some(0), None),
            (None, Some(0), Some(1)),
            (Some(0), Some(0), None),
            (Some(0), Some(0), Some(1)),
        ],
        || {
            let (mut tx, mut rx) = L::channel::<Item>(1);
            prewrap(&mut tx, &mut rx, wrap_offset(1), || Track::new(u32::MAX));
            let producer = thread::spawn(move || {
                assert!(push_bounded(&mut tx, 0));
                let second = push_bounded(&mut tx, 1);
                (tx, second)
            });
            let consumer = thread::spawn(move || {
                let first = rx.peek().map(|t| *t.get_ref());
                let popped = rx.pop().map(Track::into_inner);
                let second = rx.peek().map(|t| *t.get_ref());
                if first.is_some() {
                    assert_eq!(first, popped, "peek and pop disagree");
                }
                match (popped, second) {
                    (Some(0), None | Some(1)) | (None, None | Some(0)) => {}
                    other => panic!("impossible pop/peek pair {other:?}"),
                }
                (rx, (first, popped, second))
            });
            let (tx, _second) = producer.join().unwrap();
            let (rx, outcome) = consumer.join().unwrap();
            drop((tx, rx)); // what is left is dropped by the ring (Track checks)
            outcome
        },
    );
}

#[test]
fn peek_sees_published_items_indexed() {
    peek_sees_published_items::<Indexed>("peek_sees_published_items");
}

#[test]
fn stamped_peek_sees_published_items() {
    peek_sees_published_items::<Stamped>("stamped_peek_sees_published_items");
}

/// `Consumer::is_abandoned` with items in flight, capacity 2 (counters from 1): the
/// producer pushes 0 and 1 (wrapping) and drops. The consumer pops once, then checks
/// `is_abandoned`; once it is true, popping must yield every remaining item. The
/// consumer then drops its half on its own thread. Outcome: (early pop got an item,
/// saw abandoned).
fn abandoned_producer_items_all_visible<L: Layouts>(name: &str) {
    explore(
        name,
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let (mut tx, mut rx) = L::channel::<Item>(2);
            prewrap(&mut tx, &mut rx, wrap_offset(2), || Track::new(u32::MAX));
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
                    for _ in 0..2 {
                        if let Some(item) = rx.pop() {
                            got.push(item.into_inner());
                        }
                    }
                    assert_eq!(
                        got,
                        [0, 1],
                        "is_abandoned() was true but not every pushed item was poppable"
                    );
                    assert!(rx.pop().is_none());
                }
                drop(rx); // items left (if any) are dropped by whichever half goes last
                (early, abandoned)
            });
            producer.join().unwrap();
            consumer.join().unwrap()
        },
    );
}

#[test]
fn abandoned_producer_items_all_visible_indexed() {
    abandoned_producer_items_all_visible::<Indexed>("abandoned_producer_items_all_visible");
}

#[test]
fn stamped_abandoned_producer_items_all_visible() {
    abandoned_producer_items_all_visible::<Stamped>("stamped_abandoned_producer_items_all_visible");
}

/// `Producer::is_abandoned` synchronises with the consumer's drop: the consumer
/// writes a side cell, then drops its half; a producer that sees `is_abandoned()`
/// must see that write (a loom cell, so a missing edge is a reported race). Capacity
/// 1, counters from 1. Outcome: (consumer popped an item, producer saw abandoned).
fn abandoned_consumer_synchronises<L: Layouts>(name: &str) {
    explore(
        name,
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let (mut tx, mut rx) = L::channel::<Item>(1);
            prewrap(&mut tx, &mut rx, wrap_offset(1), || Track::new(u32::MAX));
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

#[test]
fn abandoned_consumer_synchronises_indexed() {
    abandoned_consumer_synchronises::<Indexed>("abandoned_consumer_synchronises");
}

#[test]
fn stamped_abandoned_consumer_synchronises() {
    abandoned_consumer_synchronises::<Stamped>("stamped_abandoned_consumer_synchronises");
}

/// Both halves dropped on different threads with items left, capacity 2 (counters
/// from 1): the producer pushes two tracked items and drops; the consumer pops up to
/// twice and drops. Whatever is left is dropped exactly once by the last half (loom
/// `Track` reports a leak; a double drop panics). Outcome: items popped.
fn drop_with_items_left_on_two_threads<L: Layouts>(name: &str) {
    explore(name, &[0, 1, 2], || {
        let (mut tx, mut rx) = L::channel::<Item>(2);
        prewrap(&mut tx, &mut rx, wrap_offset(2), || Track::new(u32::MAX));
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
    });
}

#[test]
fn drop_with_items_left_on_two_threads_indexed() {
    drop_with_items_left_on_two_threads::<Indexed>("drop_with_items_left_on_two_threads");
}

#[test]
fn stamped_drop_with_items_left_on_two_threads() {
    drop_with_items_left_on_two_threads::<Stamped>("stamped_drop_with_items_left_on_two_threads");
}

/// A forgotten `Drain`, then the consumer's drop, capacity 1 (counters from 1, one
/// item queued before the threads start): the consumer moves the item out through a
/// `Drain` it forgets (so the slot is not released), drops the item and its half; the
/// consumer's drop must release the slot (and order its read of it before the
/// producer's reuse), and the ring must not drop the moved-out item again. The
/// producer tries to push a second item. Outcome: second item pushed.
fn forgotten_drain_then_drop<L: Layouts>(name: &str) {
    explore(name, &[false, true], || {
        let (mut tx, mut rx) = L::channel::<Item>(1);
        prewrap(&mut tx, &mut rx, wrap_offset(1), || Track::new(u32::MAX));
        assert!(tx.push(Track::new(0)).is_ok());
        let producer = thread::spawn(move || {
            let pushed = push_bounded(&mut tx, 1);
            drop(tx);
            pushed
        });
        let consumer = thread::spawn(move || {
            let mut drain = rx.drain();
            let item = drain.next().expect("item 0 was queued before spawning");
            assert_eq!(*item.get_ref(), 0);
            mem::forget(drain);
            drop(item);
            drop(rx);
        });
        let pushed = producer.join().unwrap();
        consumer.join().unwrap();
        pushed
    });
}

#[test]
fn forgotten_drain_then_drop_indexed() {
    forgotten_drain_then_drop::<Indexed>("forgotten_drain_then_drop");
}

#[test]
fn stamped_forgotten_drain_then_drop() {
    forgotten_drain_then_drop::<Stamped>("stamped_forgotten_drain_then_drop");
}

/// `len`/`is_empty` snapshots synchronise like the operations they summarise, at
/// capacity 1 (counters from 1): the producer writes a side cell, then pushes; a
/// consumer whose `len()` counts the item may read that cell. The consumer drains
/// (writing a second cell per item before the drain releases the slots); a producer
/// whose `is_empty()` sees the slot released may read that cell. Outcome: (consumer's
/// len, items drained, producer saw empty).
fn len_snapshots_synchronise<L: Layouts>(name: &str) {
    explore(
        name,
        &[
            (0, 0, false),
            (0, 1, false),
            (0, 1, true),
            (1, 1, false),
            (1, 1, true),
        ],
        || {
            let (mut tx, mut rx) = L::channel::<Item>(1);
            prewrap(&mut tx, &mut rx, wrap_offset(1), || Track::new(u32::MAX));
            let before_push = Arc::new(UnsafeCell::new(0u32));
            let before_release = Arc::new(UnsafeCell::new(0u32));
            let (before_push_c, before_release_p) =
                (Arc::clone(&before_push), Arc::clone(&before_release));
            let producer = thread::spawn(move || {
                // SAFETY: read by the consumer only once it counts the item pushed below.
                before_push.with_mut(|p| unsafe { *p = 1 });
                assert!(tx.push(Track::new(0)).is_ok());
                let empty = tx.is_empty();
                if empty {
                    // SAFETY: written by the consumer before it released the slot.
                    let seen = before_release_p.with(|p| unsafe { *p });
                    assert_eq!(seen, 1);
                }
                (tx, empty)
            });
            let consumer = thread::spawn(move || {
                let len = rx.len();
                assert!(len <= 1);
                if len == 1 {
                    // SAFETY: written by the producer before it published the item.
                    let seen = before_push_c.with(|p| unsafe { *p });
                    assert_eq!(seen, 1);
                }
                let mut drained = 0;
                for item in rx.drain() {
                    assert_eq!(*item.get_ref(), 0);
                    // SAFETY: the producer reads it only after the drain released the slot.
                    before_release.with_mut(|p| unsafe { *p = 1 });
                    drained += 1;
                }
                assert!(drained >= len);
                (rx, len, drained)
            });
            let (tx, empty) = producer.join().unwrap();
            let (rx, len, drained) = consumer.join().unwrap();
            drop((tx, rx));
            (len, drained, empty)
        },
    );
}

#[test]
fn len_snapshots_synchronise_indexed() {
    len_snapshots_synchronise::<Indexed>("len_snapshots_synchronise");
}

#[test]
fn stamped_len_snapshots_synchronise() {
    len_snapshots_synchronise::<Stamped>("stamped_len_snapshots_synchronise");
}

/// The counter the producer stores when it is dropped, capacity 2 (counters from 1):
/// the producer pushes two items one at a time (with the stamped layout, single pushes
/// store only the stamps, and the counter now and then) and drops its half; the
/// consumer drains what it finds. A drain reads the counter, then the stamps beyond
/// it, and takes every item below the counter without looking at its stamp, so the
/// counter's store at the drop must publish them (else loom reports the race on the
/// slots). Outcome: items drained.
fn drain_after_producer_drop<L: Layouts>(name: &str) {
    explore(name, &[0, 1, 2], || {
        let (mut tx, mut rx) = L::channel::<Item>(2);
        prewrap(&mut tx, &mut rx, wrap_offset(2), || Track::new(u32::MAX));
        let producer = thread::spawn(move || {
            assert!(tx.push(Track::new(0)).is_ok());
            assert!(tx.push(Track::new(1)).is_ok());
            drop(tx);
        });
        let consumer = thread::spawn(move || {
            let got: Vec<u32> = rx.drain().map(Track::into_inner).collect();
            assert_eq!(got, [0, 1][..got.len()], "FIFO");
            let n = got.len();
            drop(rx); // the rest, if any, is dropped by the ring (Track checks)
            n
        });
        producer.join().unwrap();
        consumer.join().unwrap()
    });
}

#[test]
fn drain_after_producer_drop_indexed() {
    drain_after_producer_drop::<Indexed>("drain_after_producer_drop");
}

#[test]
fn stamped_drain_after_producer_drop() {
    drain_after_producer_drop::<Stamped>("stamped_drain_after_producer_drop");
}

/// A `StaticRing` for one model execution. loom's threads need `'static` halves, so
/// the ring is boxed and leaked while halves of it live, and freed by [`free`] once
/// they are gone, which drops the items left in it (`Track` checks: once each).
///
/// [`free`]: LeakedRing::free
struct LeakedRing<const N: usize, L: Layout = Indexed, T = Item>(*mut StaticRing<T, N, L>);

impl<const N: usize, L: Layout, T: 'static> LeakedRing<N, L, T> {
    fn new() -> Self {
        LeakedRing(Box::into_raw(Box::new(StaticRing::new())))
    }

    /// `StaticRing::split`. The caller drops the halves before splitting again or
    /// freeing.
    fn split(
        &self,
    ) -> (
        Producer<T, Borrowed<'static, L>>,
        Consumer<T, Borrowed<'static, L>>,
    ) {
        // SAFETY: the pointer is from `Box::into_raw` and valid until `free`; no other
        // reference to the ring is alive (the caller dropped the previous halves).
        unsafe { (*self.0).split() }
    }

    /// The ring, shared (for `try_split`).
    fn shared(&self) -> &'static StaticRing<T, N, L> {
        // SAFETY: as in `split`; shared references only, until `free`.
        unsafe { &*self.0 }
    }

    /// Frees the ring, dropping what is left in it. No halves may be alive.
    fn free(self) {
        // SAFETY: from `Box::into_raw`, freed once; the caller dropped every half.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

/// The hand-off model of `handoff_capacity_2` on the halves of a `StaticRing<_, 2>`
/// (counters from 1, so the producer's third push reuses the slot the consumer just
/// read, across the wrap).
fn static_handoff_capacity_2<L: Layout>(name: &str) {
    explore(name, &[(2, 0), (2, 1), (2, 2), (3, 1), (3, 2)], || {
        let ring = LeakedRing::<2, L>::new();
        let (tx, rx) = ring.split();
        let outcome = handoff_execution(tx, rx);
        ring.free();
        outcome
    });
}

#[test]
fn static_handoff_capacity_2_indexed() {
    static_handoff_capacity_2::<Indexed>("static_handoff_capacity_2");
}

#[test]
fn stamped_static_handoff_capacity_2() {
    static_handoff_capacity_2::<Stamped>("stamped_static_handoff_capacity_2");
}

/// The hand-off model of `handoff_capacity_3` on a `StaticRing<_, 3>`: three slots, so
/// its positions skip one at the end of each lap (3 to 4, 7 to 8); counters start at 4
/// (after three items), and the model's pushes cross the next skip, the fourth reusing
/// the slot of the first.
fn static_handoff_capacity_3<L: Layout>(name: &str) {
    explore(
        name,
        &[(3, 0), (3, 1), (3, 2), (4, 1), (4, 2), (5, 2)],
        || {
            let ring = LeakedRing::<3, L>::new();
            let (tx, rx) = ring.split();
            let outcome = handoff_execution(tx, rx);
            ring.free();
            outcome
        },
    );
}

#[test]
fn static_handoff_capacity_3_indexed() {
    static_handoff_capacity_3::<Indexed>("static_handoff_capacity_3");
}

#[test]
fn stamped_static_handoff_capacity_3() {
    static_handoff_capacity_3::<Stamped>("stamped_static_handoff_capacity_3");
}

/// The batch model of `slices_publish_whole_batches` on a `StaticRing<_, 3>` whose
/// counters start at 2, so the first batch is the last slot and then, past the skipped
/// position, the first: a batch straddling the skip is still published whole.
fn static_slices_publish_whole_batches<L: Layout>(name: &str) {
    explore(name, &SLICES_OUTCOMES, || {
        let ring = LeakedRing::<3, L, u32>::new();
        let (tx, rx) = ring.split();
        let outcome = slices_execution(tx, rx, 2);
        ring.free();
        outcome
    });
}

#[test]
fn static_slices_publish_whole_batches_indexed() {
    static_slices_publish_whole_batches::<Indexed>("static_slices_publish_whole_batches");
}

#[test]
fn stamped_static_slices_publish_whole_batches() {
    static_slices_publish_whole_batches::<Stamped>("stamped_static_slices_publish_whole_batches");
}

/// Abandonment through borrowed halves, then splitting again, capacity 2 (counters
/// from 1): the producer pushes 0 and 1 (wrapping) and drops its half; the consumer
/// pops once, checks `is_abandoned` (once true, every item must be poppable) and drops
/// its half on its thread. Split again after the joins: neither new half is
/// abandoned, and the consumer finds what the first one left, in order; it pops one
/// and leaves the rest for the ring's drop (`Track`: dropped once). Outcome: (early
/// pop got an item, saw abandoned).
fn static_abandon_then_split_again<L: Layout>(name: &str) {
    explore(
        name,
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let ring = LeakedRing::<2, L>::new();
            let (mut tx, mut rx) = ring.split();
            prewrap(&mut tx, &mut rx, wrap_offset(2), || Track::new(u32::MAX));
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
                (got, early, abandoned)
            });
            producer.join().unwrap();
            let (mut got, early, abandoned) = consumer.join().unwrap();
            let (tx, mut rx) = ring.split();
            assert!(
                !tx.is_abandoned() && !rx.is_abandoned(),
                "a new split is not abandoned"
            );
            assert_eq!(rx.len(), 2 - got.len(), "the items left by the first split");
            got.extend(rx.pop().map(Track::into_inner));
            assert_eq!(got, [0, 1][..got.len()], "FIFO across splits");
            drop((tx, rx));
            ring.free(); // drops the item left, if any
            (early, abandoned)
        },
    );
}

#[test]
fn static_abandon_then_split_again_indexed() {
    static_abandon_then_split_again::<Indexed>("static_abandon_then_split_again");
}

/// With stamped slots, splitting again writes every stamp afresh from the counters the
/// last halves left (the producer's drop stores its counter).
#[test]
fn stamped_static_abandon_then_split_again() {
    static_abandon_then_split_again::<Stamped>("stamped_static_abandon_then_split_again");
}

/// Two threads race `try_split` on a shared ring: exactly one gets the halves; it
/// pushes its id, and the main thread pops it from the winner's consumer. Outcome:
/// the winner.
#[test]
fn static_try_split_is_exclusive() {
    explore("static_try_split_is_exclusive", &[0, 1], || {
        let ring = LeakedRing::<1>::new();
        let racers: Vec<_> = (0..2u32)
            .map(|id| {
                let shared = ring.shared();
                thread::spawn(move || {
                    shared.try_split().map(|(mut tx, rx)| {
                        assert!(tx.push(Track::new(id)).is_ok());
                        (tx, rx)
                    })
                })
            })
            .collect();
        let won: Vec<_> = racers
            .into_iter()
            .map(|h| h.join().unwrap())
            .enumerate()
            .filter_map(|(id, halves)| halves.map(|h| (id as u32, h)))
            .collect();
        assert_eq!(won.len(), 1, "try_split handed out two pairs");
        assert!(ring.shared().try_split().is_none());
        let (winner, (tx, mut rx)) = won.into_iter().next().unwrap();
        assert_eq!(rx.pop().map(Track::into_inner), Some(winner));
        drop((tx, rx));
        ring.free();
        winner
    });
}
