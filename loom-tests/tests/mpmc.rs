#![cfg(ringway_loom)]
//! loom models of the MPMC queue (`ringway::mpmc`).
//!
//! Under `--cfg ringway_loom` the queue uses loom's atomics and touches a loom `UnsafeCell`
//! on every slot access, so a missing happens-before edge between a slot's write and
//! its read (or its read and its reuse one lap later) is a loom panic.
//!
//! Every model:
//! * starts from a queue whose positions already went round a lap (items pushed and
//!   popped on the main thread before the threads are spawned), so the pushes in the
//!   model cross from one lap to the next;
//! * makes a fixed number of attempts (push once and accept `Full`, pop `k` times,
//!   drain after `join`): spin-until-success models exceed loom's branch limit. The
//!   queue itself still waits (through the sync facade's yield) on a slot that is
//!   claimed but not yet published;
//! * asserts what must hold in *every* execution inside the body (exactly-once,
//!   per-producer order, FIFO against the final drain, batch contiguity, `len`
//!   bounds, no item both displaced and popped), and goes through
//!   [`loom_tests::explore`], whose coverage canary asserts that every listed outcome
//!   was seen in some execution and that more than one execution ran.
//!
//! Items are `loom::alloc::Track`ed where the type allows (not for the `Copy`-only
//! slice API), so a leaked item fails the execution and a double drop panics.
//!
//! An item is `10 * producer + sequence`, so each producer's items are ordered.
//!
//! `static_p2_c1_capacity_2` runs the producer/consumer model on a `StaticQueue`
//! (inline slots, the same protocol code).
//!
//! `close_races_push_and_pop` and `close_races_force_push` model `close` (the `closed`
//! flag, and the seal a drained pop puts in the slot at `head`) against pushes, pops
//! and a displacement; `close_happens_before_refusal` and `seal_happens_after_close`
//! check what the flag's and the seal's orderings are for, and fail (loom: a stale
//! read) when they are weakened to `Relaxed`.
//!
//! A single claim moves its side's counter with a plain store that can land late and
//! move the counter back onto claimed positions (`Queue::step_past`); the models
//! above reach such late stores with their preemptions. Measured with deliberate
//! bugs (2026-12-07): treating only the old "claimed by a single push or pop" stamps
//! as passed, so that a counter moved back behind a slot that has gone a lap further
//! waits forever, fails `p2_c1_capacity_2`, `static_p2_c1_capacity_2`,
//! `pop_after_own_push_is_never_empty`, `push_after_own_pop_is_never_full` and
//! `drop_with_items_left` (loom: "exceeded maximum number of branches", a wait that
//! never ends); ignoring later laps only, seven models; `Drop` without `settle`
//! (counting from the raw counters) fails four, `len` without it two.

use std::ops::Deref;

use loom::alloc::Track;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{bounded_explore, explore};
use ringway::mpmc::{Queue, StaticQueue, Storage};
use ringway::{Disconnected, PushError};

type Item = Track<u32>;

/// Attempts per item for a push that may find the queue full.
const ATTEMPTS: usize = 2;

/// The preemption bound of the producer/consumer models (see
/// [`loom_tests::bounded_explore`]).
const PC_PREEMPTIONS: usize = 1;

/// How many items to push and pop on the main thread before a model starts, so that
/// the model's pushes cross into the next lap: all but one slot, at least one.
fn wrap_offset(capacity: usize) -> usize {
    capacity.saturating_sub(1).max(1)
}

/// A queue of `capacity` whose positions are `wrap_offset(capacity)` pushes/pops in.
fn prewrapped<T>(capacity: usize, make: impl FnMut() -> T) -> Queue<T> {
    prewrap(HeapQueue(Queue::new(capacity)), make).0
}

/// Pushes and pops `wrap_offset(capacity)` items on `q` (empty), so that its positions
/// are that far in; returns it.
fn prewrap<T, S: Storage<T>, Q: Deref<Target = Queue<T, S>>>(
    q: Q,
    mut make: impl FnMut() -> T,
) -> Q {
    for _ in 0..wrap_offset(q.capacity()) {
        assert!(q.push(make()).is_ok());
        assert!(q.pop().is_some());
    }
    assert!(q.is_empty());
    q
}

/// A `Queue<T>` as a `Deref` to itself, so that the models take either storage as a
/// `Deref<Target = Queue<T, S>>` (a `StaticQueue` is one).
struct HeapQueue<T>(Queue<T>);

impl<T> Deref for HeapQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}

/// Pushes `value` with up to [`ATTEMPTS`] tries, yielding between them (the yield
/// lets loom run the other threads, e.g. a consumer that frees a slot, without
/// spending a preemption); `true` if it went in.
fn push_bounded<S: Storage<Item>>(q: &Queue<Item, S>, value: u32) -> bool {
    let mut item = Track::new(value);
    for attempt in 0..ATTEMPTS {
        match q.push(item) {
            Ok(()) => return true,
            Err(full) => item = full.into_inner(),
        }
        if attempt + 1 < ATTEMPTS {
            thread::yield_now();
        }
    }
    false
}

/// Pops everything left (after the model's threads joined).
fn drain<S: Storage<Item>>(q: &Queue<Item, S>) -> Vec<u32> {
    let mut rest = Vec::new();
    while let Some(item) = q.pop() {
        rest.push(item.into_inner());
    }
    rest
}

/// Asserts that `items` holds each producer's items in increasing order.
fn assert_per_producer_order(what: &str, items: &[u32]) {
    for (i, a) in items.iter().enumerate() {
        for b in &items[i + 1..] {
            assert!(
                a / 10 != b / 10 || a < b,
                "{what}: producer {}'s items out of order: {items:?}",
                a / 10
            );
        }
    }
}

/// The checks every producer/consumer model makes once its threads joined:
/// * exactly-once: what the consumers popped plus the final drain is exactly what
///   the producers pushed;
/// * each consumer saw each producer's items in order, and so does the drain;
/// * FIFO: an item left for the drain is newer than every popped item of its
///   producer (a pop never overtakes an older item that stays queued).
fn check_delivery(pushed: &[u32], popped: &[Vec<u32>], drained: &[u32]) {
    for (c, got) in popped.iter().enumerate() {
        assert_per_producer_order(&format!("consumer {c}"), got);
    }
    assert_per_producer_order("final drain", drained);
    for d in drained {
        for got in popped {
            for p in got {
                assert!(
                    p / 10 != d / 10 || p < d,
                    "item {d} was left queued while the newer {p} was popped"
                );
            }
        }
    }
    let mut delivered: Vec<u32> = popped.iter().flatten().chain(drained).copied().collect();
    delivered.sort_unstable();
    let mut expected = pushed.to_vec();
    expected.sort_unstable();
    assert_eq!(delivered, expected, "exactly-once delivery");
}

/// `producers` producers (producer `p` pushes `10 * p + s` for `s < items`, one
/// attempt each, accepting `Full`) and `consumers` consumers (each pops `pops` times)
/// on a prewrapped queue of `capacity`. The main thread is producer 0, so
/// `producers + consumers - 1` threads are spawned. Outcome: what each consumer popped.
///
/// Why the main thread produces rather than consumes: loom 0.7 records only the last
/// access to an atomic for its partial-order reduction, so when a thread loads a stamp
/// and then stores it (as every claim and publish does), an earlier *load* of that
/// stamp by another thread is forgotten and the store is never scheduled before it
/// (tokio-rs/loom#392). A consumer that runs first in loom's default schedule (the
/// main thread runs until it blocks) would then only ever see an empty queue; a
/// producer that runs first has its stores seen by the consumers' later loads, which
/// loom does turn into alternative schedules. The canaries check the result.
///
/// A consumer that pops more than once yields between its pops, so that loom can run
/// a producer between them without spending a preemption: a producer's claim loads the
/// stamp right before its publish stores it, so by loom#392 the publish is never
/// scheduled before the consumer's next stamp load, and with one preemption a second
/// pop never saw an item pushed after the first (the canary of `p2_c1_capacity_1`
/// caught this). The price: two empty pops in a row now need two preemptions.
#[allow(clippy::too_many_arguments)] // one call per model reads best flat
fn producers_consumers(
    max_preemptions: usize,
    name: &str,
    capacity: usize,
    producers: u32,
    items: u32,
    consumers: usize,
    pops: usize,
    expected: &[Vec<Vec<u32>>],
) {
    let shape = (producers, items, consumers, pops);
    let body = pc_execution(move || HeapQueue(Queue::new(capacity)), shape);
    bounded_explore(max_preemptions, name, expected, body);
}

/// The body of a [`producers_consumers`] model on the queue `make` builds (either
/// storage); `shape` is `(producers, items, consumers, pops)`.
fn pc_execution<S, Q>(
    make: impl Fn() -> Q + Send + Sync + 'static,
    (producers, items, consumers, pops): (u32, u32, usize, usize),
) -> impl Fn() -> Vec<Vec<u32>> + Send + Sync + 'static
where
    S: Storage<Item>,
    Q: Deref<Target = Queue<Item, S>> + Send + Sync + 'static,
{
    assert!(
        producers as usize + consumers - 1 <= 4,
        "loom: at most 4 spawned threads"
    );
    move || {
        let q = Arc::new(prewrap(make(), || Track::new(u32::MAX)));
        let produce = move |q: &Queue<Item, S>, p: u32| -> Vec<u32> {
            let mut pushed = Vec::new();
            for s in 0..items {
                let value = 10 * p + s;
                if push_bounded(q, value) {
                    pushed.push(value);
                }
            }
            pushed
        };
        let producer_handles: Vec<_> = (1..producers)
            .map(|p| {
                let q = Arc::clone(&q);
                thread::spawn(move || produce(&q, p))
            })
            .collect();
        let consumer_handles: Vec<_> = (0..consumers)
            .map(|_| {
                let q = Arc::clone(&q);
                thread::spawn(move || -> Vec<u32> {
                    let mut got = Vec::new();
                    for i in 0..pops {
                        if i > 0 {
                            // A free switch point (see the doc comment).
                            thread::yield_now();
                        }
                        got.extend(q.pop().map(Track::into_inner));
                    }
                    got
                })
            })
            .collect();
        let mut pushed = produce(&q, 0);
        pushed.extend(producer_handles.into_iter().flat_map(|h| h.join().unwrap()));
        let popped: Vec<Vec<u32>> = consumer_handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let drained = drain(&q);
        check_delivery(&pushed, &popped, &drained);
        popped
    }
}

fn v(items: &[&[u32]]) -> Vec<Vec<u32>> {
    items.iter().map(|x| x.to_vec()).collect()
}

/// 2 producers + 1 consumer at capacity 1: one item each, the consumer pops twice.
/// Popping both needs the second push to reuse the slot the consumer just emptied,
/// a lap later.
#[test]
fn p2_c1_capacity_1() {
    producers_consumers(
        PC_PREEMPTIONS,
        "p2_c1_capacity_1",
        1,
        2,
        1,
        1,
        2,
        &[v(&[&[0]]), v(&[&[10]]), v(&[&[0, 10]]), v(&[&[10, 0]])],
    );
}

/// 2 producers + 1 consumer at capacity 2 (positions 1 and then 4: the pushes
/// straddle a lap): two items each, the consumer pops twice.
#[test]
fn p2_c1_capacity_2() {
    producers_consumers(
        PC_PREEMPTIONS,
        "p2_c1_capacity_2",
        2,
        2,
        2,
        1,
        2,
        &[
            v(&[&[0]]),
            v(&[&[10]]),
            v(&[&[0, 1]]),
            v(&[&[0, 10]]),
            v(&[&[10, 11]]),
        ],
    );
}

/// 1 producer + 2 consumers at capacity 1: the producer pushes 0 and 1 (the second
/// only fits once a consumer emptied the slot); each consumer pops once.
#[test]
fn p1_c2_capacity_1() {
    producers_consumers(
        PC_PREEMPTIONS,
        "p1_c2_capacity_1",
        1,
        1,
        2,
        2,
        1,
        &[
            v(&[&[], &[]]),
            v(&[&[0], &[]]),
            v(&[&[], &[0]]),
            v(&[&[0], &[1]]),
            v(&[&[1], &[0]]),
        ],
    );
}

/// 1 producer + 2 consumers at capacity 2: the producer pushes 0, 1, 2 (the third
/// fits only once a consumer popped); each consumer pops once.
#[test]
fn p1_c2_capacity_2() {
    producers_consumers(
        PC_PREEMPTIONS,
        "p1_c2_capacity_2",
        2,
        1,
        3,
        2,
        1,
        &[
            v(&[&[], &[]]),
            v(&[&[0], &[]]),
            v(&[&[], &[0]]),
            v(&[&[1], &[0]]),
            v(&[&[0], &[1]]),
        ],
    );
}

/// 2 producers + 2 consumers at capacity 1: one item each, one pop each (the main
/// thread is the second consumer).
#[test]
fn p2_c2_capacity_1() {
    producers_consumers(
        PC_PREEMPTIONS,
        "p2_c2_capacity_1",
        1,
        2,
        1,
        2,
        1,
        &[
            v(&[&[], &[]]),
            v(&[&[0], &[]]),
            v(&[&[], &[10]]),
            v(&[&[0], &[10]]),
            v(&[&[10], &[0]]),
            v(&[&[10], &[]]),
            v(&[&[], &[0]]),
        ],
    );
}

/// 2 producers + 2 consumers at capacity 2: one item each, one pop each.
#[test]
fn p2_c2_capacity_2() {
    producers_consumers(
        PC_PREEMPTIONS,
        "p2_c2_capacity_2",
        2,
        2,
        1,
        2,
        1,
        &[
            v(&[&[], &[]]),
            v(&[&[0], &[]]),
            v(&[&[], &[10]]),
            v(&[&[0], &[10]]),
            v(&[&[10], &[0]]),
            v(&[&[10], &[]]),
            v(&[&[], &[0]]),
        ],
    );
}

/// `force_push` racing `pop`: a queue of `capacity` holds `0 .. capacity` (pushed
/// before the threads start); one thread force-pushes 100 (displacing the oldest
/// item if the queue is still full), another pops once. No item is both displaced
/// and popped, the displaced item is the oldest one left, and after the final drain
/// every item is accounted for exactly once, in FIFO order. The forcing thread is
/// spawned first so that loom's default schedule runs its stores before the
/// consumer's loads (see [`producers_consumers`]). Outcome: (displaced, popped).
fn force_push_races_pop(name: &str, capacity: usize, expected: &[(Option<u32>, Option<u32>)]) {
    explore(name, expected, move || {
        let q = Arc::new(prewrapped(capacity, || Track::new(u32::MAX)));
        for i in 0..capacity as u32 {
            assert!(q.push(Track::new(i)).is_ok());
        }
        let forcer = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                q.force_push(Track::new(100))
                    .unwrap()
                    .map(Track::into_inner)
            })
        };
        let consumer = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.pop().map(Track::into_inner))
        };
        let displaced = forcer.join().unwrap();
        let popped = consumer.join().unwrap();
        assert!(
            displaced.is_none() || displaced != popped,
            "{displaced:?} was both displaced and popped"
        );
        let drained = drain(&q);
        let pushed: Vec<u32> = (0..capacity as u32).chain([100]).collect();
        let displaced_v: Vec<u32> = displaced.into_iter().collect();
        let popped_v: Vec<u32> = popped.into_iter().collect();
        check_delivery(&pushed, &[displaced_v, popped_v], &drained);
        (displaced, popped)
    });
}

#[test]
fn force_push_races_pop_capacity_1() {
    force_push_races_pop(
        "force_push_races_pop_capacity_1",
        1,
        &[(None, Some(0)), (Some(0), Some(100))],
    );
}

#[test]
fn force_push_races_pop_capacity_2() {
    force_push_races_pop(
        "force_push_races_pop_capacity_2",
        2,
        &[(None, Some(0)), (Some(0), Some(1))],
    );
}

/// `force_push` racing a `pop` and a `push` at capacity 1 (2 producers + 1
/// consumer): item 0 is queued before the threads start; one thread force-pushes
/// 100, one pushes 200 once (accepting `Full`), one pops once. The force-push may
/// find the queue full, then (after the pop and the push went through) displace 200,
/// which it must read after that push wrote it. Outcome: (displaced, 200 pushed,
/// popped).
#[test]
fn force_push_races_pop_and_push() {
    bounded_explore(
        PC_PREEMPTIONS,
        "force_push_races_pop_and_push",
        &[
            (None, false, Some(0)),
            (Some(0), false, Some(100)),
            (Some(0), true, Some(100)),
            (Some(200), true, Some(0)),
        ],
        || {
            let q = Arc::new(prewrapped(1, || Track::new(u32::MAX)));
            assert!(q.push(Track::new(0)).is_ok());
            let forcer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    q.force_push(Track::new(100))
                        .unwrap()
                        .map(Track::into_inner)
                })
            };
            let pusher = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.push(Track::new(200)).is_ok())
            };
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.pop().map(Track::into_inner))
            };
            let displaced = forcer.join().unwrap();
            let pushed_200 = pusher.join().unwrap();
            let popped = consumer.join().unwrap();
            let drained = drain(&q);
            let mut pushed = vec![0, 100];
            if pushed_200 {
                pushed.push(200);
            }
            let displaced_v: Vec<u32> = displaced.into_iter().collect();
            let popped_v: Vec<u32> = popped.into_iter().collect();
            // Items of different "producers" (0, 100, 200 are producers 0, 10, 20):
            // exactly-once is what matters here.
            check_delivery(&pushed, &[displaced_v, popped_v], &drained);
            (displaced, pushed_200, popped)
        },
    );
}

/// Pops everything left with `pop_slice` (after the model's threads joined).
fn drain_slices(q: &Queue<u32>) -> Vec<u32> {
    let mut rest = Vec::new();
    loop {
        let mut buf = [u32::MAX; 4];
        let n = q.pop_slice(&mut buf);
        if n == 0 {
            return rest;
        }
        rest.extend_from_slice(&buf[..n]);
    }
}

/// Slice hand-off at capacity 2 (positions from 1, so each batch straddles a lap):
/// `[0, 1]` is queued before the threads start; the producer offers `[2, 3]` once
/// (it fits as far as the consumer freed slots: a batch claims slots emptied by two
/// separate pops), the consumer takes two looks with `pop_slice` (a batch takes slots
/// filled by two separate writes). With one producer, everything popped plus the
/// final drain is exactly `0 .. 2 + pushed`, in order. Outcome: (pushed, first look,
/// second look).
#[test]
fn slices_hand_off_batches() {
    explore(
        "slices_hand_off_batches",
        &[(0, 2, 0), (1, 2, 0), (1, 2, 1), (2, 2, 0), (2, 2, 2)],
        || {
            let q = Arc::new(prewrapped(2, || u32::MAX));
            assert_eq!(q.push_slice(&[0, 1]), 2);
            let producer = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.push_slice(&[2, 3]))
            };
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut looks = (0, 0);
                    for look in [&mut looks.0, &mut looks.1] {
                        let mut buf = [u32::MAX; 2];
                        *look = q.pop_slice(&mut buf);
                        got.extend_from_slice(&buf[..*look]);
                    }
                    (got, looks)
                })
            };
            let pushed = producer.join().unwrap();
            let (mut got, looks) = consumer.join().unwrap();
            got.extend(drain_slices(&q));
            assert_eq!(got, (0..2 + pushed as u32).collect::<Vec<_>>(), "FIFO");
            (pushed, looks.0, looks.1)
        },
    );
}

/// Batches land contiguously and in order, at capacity 3 (positions from 2, so the
/// batches straddle a lap): two producers each push a 2-item slice once (the second
/// batch fits only partly unless the consumer freed slots), one consumer pops once
/// with a 4-item `pop_slice`. In the order the items leave the queue, each
/// producer's accepted items are adjacent and in order. Outcome: (producer 0's
/// count, producer 1's count, consumer's count).
#[test]
fn slices_batches_land_contiguously() {
    bounded_explore(
        PC_PREEMPTIONS,
        "slices_batches_land_contiguously",
        &[
            (2, 1, 0),
            (1, 2, 0),
            (2, 1, 3),
            (1, 2, 3),
            (2, 2, 1),
            (2, 2, 2),
        ],
        || {
            let q = Arc::new(prewrapped(3, || u32::MAX));
            let producers: Vec<_> = [[0, 1], [10, 11]]
                .into_iter()
                .map(|batch| {
                    let q = Arc::clone(&q);
                    thread::spawn(move || q.push_slice(&batch))
                })
                .collect();
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let mut buf = [u32::MAX; 4];
                    let n = q.pop_slice(&mut buf);
                    buf[..n].to_vec()
                })
            };
            let counts: Vec<usize> = producers.into_iter().map(|h| h.join().unwrap()).collect();
            let popped = consumer.join().unwrap();
            let mut order = popped.clone();
            order.extend(drain_slices(&q));
            for (p, &n) in counts.iter().enumerate() {
                let batch: Vec<u32> = (0..n as u32).map(|s| 10 * p as u32 + s).collect();
                let at = order.iter().position(|&x| x == 10 * p as u32);
                let landed = at.map_or(&[][..], |at| &order[at..(at + n).min(order.len())]);
                assert_eq!(landed, &batch[..], "batch {p} not contiguous: {order:?}");
            }
            assert_eq!(
                order.len(),
                counts.iter().sum::<usize>(),
                "exactly-once: {order:?}"
            );
            (counts[0], counts[1], popped.len())
        },
    );
}

/// A single push against a slice push, at capacity 3 (positions from 2, so the batch
/// straddles a lap): producer A offers `[0, 1]` with `push_slice`, producer B pushes
/// 10 and then pops once. While A's first slot says "claiming", B must wait for A to
/// move `tail` past the whole batch rather than claim inside it, so A's items stay
/// adjacent; and B's pop right after its own push must never find the queue empty,
/// whichever of the two claimed first (claims happen in position order, so a pop that
/// finds A's slot "writing" waits for it instead of reporting empty). Everything fits,
/// so both are accepted. Outcome: whether 10 left the queue first.
#[test]
fn single_push_races_slice_push() {
    bounded_explore(
        PC_PREEMPTIONS,
        "single_push_races_slice_push",
        &[true, false],
        || {
            let q = Arc::new(prewrapped(3, || u32::MAX));
            let a = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.push_slice(&[0, 1]))
            };
            let b = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    q.push(10).expect("three slots for three items");
                    q.pop().expect("pop said empty right after its own push")
                })
            };
            assert_eq!(a.join().unwrap(), 2, "three slots for three items");
            let mut order = vec![b.join().unwrap()];
            order.extend(drain_slices(&q));
            let at = order.iter().position(|&x| x == 0).expect("0 was pushed");
            assert_eq!(
                &order[at..at + 2],
                &[0, 1],
                "batch not contiguous: {order:?}"
            );
            assert_eq!(order.len(), 3, "exactly-once: {order:?}");
            order[0] == 10
        },
    );
}

/// The mirror image: a single pop against a slice pop, at capacity 3 (positions from
/// 2, so the batch straddles a lap): the queue holds `[0, 1, 2]`; consumer A takes two
/// with `pop_slice`, consumer B pops once and then pushes 10. While A's first slot
/// says "draining", B must wait for A to move `head` past the whole batch rather than
/// claim inside it, so A's items are adjacent; and B's push right after its own pop
/// must never find the queue full, whichever of the two claimed first (if A's batch
/// holds the oldest slot, the one B's push needs, B's push finds it "draining" or
/// "reading" and waits instead of reporting full). Outcome: what B popped.
#[test]
fn single_pop_races_slice_pop() {
    explore("single_pop_races_slice_pop", &[0, 2], || {
        let q = Arc::new(prewrapped(3, || u32::MAX));
        assert_eq!(q.push_slice(&[0, 1, 2]), 3);
        let a = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut buf = [u32::MAX; 2];
                let n = q.pop_slice(&mut buf);
                buf[..n].to_vec()
            })
        };
        let b = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let popped = q.pop().expect("three items, three pops");
                assert!(q.push(10).is_ok(), "push said full right after its own pop");
                popped
            })
        };
        let batch = a.join().unwrap();
        let single = b.join().unwrap();
        assert!(
            batch == [0, 1] || batch == [1, 2],
            "batch not contiguous: {batch:?}, single {single}"
        );
        assert!(
            !batch.contains(&single),
            "exactly-once: {batch:?} and {single}"
        );
        assert_eq!(drain_slices(&q), [10]);
        single
    });
}

/// `len()` is a consistent snapshot, at capacity 3 (positions from 2): one thread
/// pushes 0, pops it and pushes 1, so the queue never holds more than one item; an
/// observer's `len()` must never exceed 1 (nor capacity). Pairing a `tail` with a
/// stale `head` (or the reverse) would count 2: this is what the claims' `Release`
/// and `len`'s `Acquire` loads are for. The worker is spawned first so that its
/// stores precede the observer's loads in loom's default schedule. Outcome: `len()`.
#[test]
fn len_never_exceeds_occupancy() {
    explore("len_never_exceeds_occupancy", &[0, 1], || {
        let q = Arc::new(prewrapped(3, || Track::new(u32::MAX)));
        let worker = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                assert!(q.push(Track::new(0)).is_ok());
                assert_eq!(q.pop().map(Track::into_inner), Some(0));
                assert!(q.push(Track::new(1)).is_ok());
            })
        };
        let observer = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.len())
        };
        worker.join().unwrap();
        let len = observer.join().unwrap();
        assert!(
            len <= 1,
            "len() = {len}, but the queue never held more than 1 item"
        );
        assert_eq!(drain(&q), [1]);
        len
    });
}

/// `len()` during a displacement, at capacity 3 (positions from 2): the queue is
/// full (0, 1, 2 pushed before the threads start) and one thread force-pushes 100,
/// so the queue holds 3 items, or 2 while the oldest is being replaced; an observer's
/// `len()` must be 2 or 3. Outcome: `len()`.
#[test]
fn len_during_force_push() {
    explore("len_during_force_push", &[2, 3], || {
        let q = Arc::new(prewrapped(3, || Track::new(u32::MAX)));
        for i in 0..3 {
            assert!(q.push(Track::new(i)).is_ok());
        }
        let forcer = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                q.force_push(Track::new(100))
                    .unwrap()
                    .map(Track::into_inner)
            })
        };
        let observer = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.len())
        };
        assert_eq!(forcer.join().unwrap(), Some(0));
        let len = observer.join().unwrap();
        assert!(
            matches!(len, 2 | 3),
            "len() = {len} while the queue held 2 or 3 items"
        );
        assert_eq!(drain(&q), [1, 2, 100]);
        len
    });
}

/// Drop with items left, at capacity 2 (positions from 1): two producers push a
/// tracked item each, a consumer pops once; every thread drops its handle, so the
/// queue is dropped by whichever finishes last, with 0 to 2 items left. loom's
/// `Track` fails the execution if an item leaks; a double drop panics. Outcome:
/// what the consumer popped.
#[test]
fn drop_with_items_left() {
    explore("drop_with_items_left", &[None, Some(0), Some(10)], || {
        let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
        let producers: Vec<_> = [0, 10]
            .into_iter()
            .map(|value| {
                let q = Arc::clone(&q);
                thread::spawn(move || assert!(q.push(Track::new(value)).is_ok()))
            })
            .collect();
        let consumer = thread::spawn(move || q.pop().map(Track::into_inner));
        for h in producers {
            h.join().unwrap();
        }
        consumer.join().unwrap()
    });
}

/// Linearizability of "empty", at capacity 2 (positions from 1, so the pushes
/// straddle a lap): two workers each push one item, then pop once. A worker that has
/// pushed and not yet popped leaves at least one item queued in every linearization,
/// so its pop must never report empty, and (two items at most, two slots) no push
/// reports full. The main thread is worker 0 (pushes 0), the spawned thread worker 1
/// (pushes 10).
///
/// This is what `load_head`/`load_tail` read with `Acquire` for: when worker 1 pushes
/// behind worker 0's item and pops it, worker 0's pop reads worker 1's `head` claim;
/// with a `Relaxed` read it need not see worker 1's earlier push (neither its stamp
/// nor its `tail` claim), finds the slot at `head` empty and `tail == head`, and
/// reports empty (Miri's weak-memory emulation found this in
/// `tests/mpmc.rs::pop_after_own_push_is_never_empty`).
///
/// Outcome: (what worker 0 popped, what worker 1 popped). `(10, 0)` needs worker 1's
/// push before worker 0's and both before worker 0's pop; `(0, 10)` happens, e.g.,
/// sequentially.
#[test]
fn pop_after_own_push_is_never_empty() {
    explore(
        "pop_after_own_push_is_never_empty",
        &[(0, 10), (10, 0)],
        || {
            let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
            let work = |q: &Queue<Item>, value: u32| -> u32 {
                assert!(
                    q.push(Track::new(value)).is_ok(),
                    "push {value}: full with at most 2 items in 2 slots"
                );
                q.pop()
                    .map(Track::into_inner)
                    .unwrap_or_else(|| panic!("pop after pushing {value} said empty"))
            };
            let other = {
                let q = Arc::clone(&q);
                thread::spawn(move || work(&q, 10))
            };
            let mine = work(&q, 0);
            let theirs = other.join().unwrap();
            assert!(q.is_empty());
            assert!(q.pop().is_none());
            (mine, theirs)
        },
    );
}

/// Linearizability of "full", the mirror image, at capacity 2 (positions from 1):
/// the queue starts full (0 and 1 pushed before the threads start); two workers each
/// pop once, then push one item. A worker that has popped and not yet pushed leaves
/// a free slot in every linearization, so its push must never report full, and (at
/// least one item until both pushed) no pop reports empty. The main thread is worker
/// 0 (pushes 100), the spawned thread worker 1 (pushes 110).
///
/// This is what `load_tail`/`load_head` read with `Acquire` for: when worker 1 pops
/// the item behind worker 0's and pushes into the freed slot, worker 0's push reads
/// worker 1's `tail` claim; with a `Relaxed` read it need not see worker 1's earlier
/// pop (neither its stamp nor its `head` claim), finds the slot at `tail` still
/// holding last lap's item and `head` a lap behind, and reports full.
///
/// Outcome: (what worker 0 popped, what worker 1 popped, the final drain). The drain
/// order shows whose push came first, so `(0, 1, [110, 100])` needs the workers to
/// overlap. (`(1, 0, [100, 110])`, worker 1 overlapping from the start, is possible but
/// not reached: by loom#392 it is not scheduled ahead of the main thread.)
#[test]
fn push_after_own_pop_is_never_full() {
    explore(
        "push_after_own_pop_is_never_full",
        &[
            (0, 1, vec![100, 110]),
            (0, 1, vec![110, 100]),
            (1, 0, vec![110, 100]),
        ],
        || {
            let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
            for i in 0..2 {
                assert!(q.push(Track::new(i)).is_ok());
            }
            let work = |q: &Queue<Item>, value: u32| -> u32 {
                let popped = q
                    .pop()
                    .map(Track::into_inner)
                    .unwrap_or_else(|| panic!("pop before pushing {value} said empty"));
                assert!(
                    q.push(Track::new(value)).is_ok(),
                    "push {value} after popping {popped} said full"
                );
                popped
            };
            let other = {
                let q = Arc::clone(&q);
                thread::spawn(move || work(&q, 110))
            };
            let mine = work(&q, 100);
            let theirs = other.join().unwrap();
            assert!(q.is_full());
            (mine, theirs, drain(&q))
        },
    );
}

/// Linearizability of "empty" when the `head` claim that a pop reads is a
/// displacement, at capacity 2 (positions from 1): worker 0 (the main thread) pushes
/// 0 (accepting `Full`, which it finds only once 10 and 11 are both in), then pops
/// once; worker 1 pushes 10, then force-pushes 11. At most one push displaces, so
/// after its own push (or its `Full`) worker 0 always leaves an item queued: its pop
/// must never report empty.
///
/// This is what the `Release` of the displacing `head` compare-and-swap (and
/// `load_head`'s `Acquire`) is for: when worker 1's force-push displaces worker 0's
/// item, worker 0's pop reads the displacer's `head`; without synchronising with the
/// displacer it need not see worker 1's earlier push of 10 (its stamp or its `tail`
/// claim), finds the slot at `head` empty and `tail == head` (its own claim), and
/// reports empty, though 10 and 11 are queued.
///
/// loom 0.7 does not reach that execution, so this model does **not** kill the
/// `Relaxed` mutant of that compare-and-swap (Miri does: the threaded test of the same
/// name in `tests/mpmc.rs`, run by `xtask/mutants.py`'s Miri fallback): the pop
/// must start after the displacement with no yield since its own push, but loom
/// schedules nothing between the push and the pop's first `head` load without a yield
/// (the displacer loads `head` right before its compare-and-swap, so by loom#392 the
/// conflict with that load is forgotten), and after a yield (the pop's retry after a
/// failed compare-and-swap spins, a yield under loom) loom never lets a thread read a
/// store it saw before the yield again, such as its own `tail` claim. It still checks
/// the displacement against a racing push and pop: exactly-once, FIFO, no item both
/// displaced and popped.
///
/// Outcome: (whether 0 went in, what worker 0 popped, what worker 1's force-push
/// displaced); `(true, 10, Some(0))` is the race above. (`(true, 0, Some(10))`, worker
/// 1 running first and displacing its own 10, is possible but, by loom#392, not
/// scheduled ahead of the main thread.)
#[test]
fn pop_after_own_push_races_displacement() {
    explore(
        "pop_after_own_push_races_displacement",
        &[
            (true, 0, None),
            (true, 10, None),
            (true, 10, Some(0)),
            (false, 10, None),
        ],
        || {
            let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
            let forcer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    assert!(q.push(Track::new(10)).is_ok(), "push 10: full");
                    q.force_push(Track::new(11)).unwrap().map(Track::into_inner)
                })
            };
            let pushed_0 = q.push(Track::new(0)).is_ok();
            let popped = q
                .pop()
                .map(Track::into_inner)
                .expect("pop after pushing 0 said empty");
            let displaced = forcer.join().unwrap();
            assert_ne!(displaced, Some(popped), "{popped} displaced and popped");
            let pushed: Vec<u32> = [0]
                .iter()
                .filter(|_| pushed_0)
                .chain(&[10, 11])
                .copied()
                .collect();
            let displaced_v: Vec<u32> = displaced.into_iter().collect();
            check_delivery(&pushed, &[vec![popped], displaced_v], &drain(&q));
            (pushed_0, popped, displaced)
        },
    );
}

/// A pop behind a displacement in progress, at capacity 2 (positions from 1): the
/// queue is full (10, 11) and the main thread force-pushes 20, displacing 10. While it
/// does, the slot it reuses says `reading` for 10's position, the same stamp as a pop
/// of 10 that is still moving it out, but here the push of the next lap's position
/// has been claimed (`tail` is past it). A worker pops, pushes 30 and pops again; the
/// second pop follows its own push, so it must never report empty.
///
/// Reading that stamp as "no push has claimed `head`: empty" (a change tried on
/// 2026-12-07) fails this model: the worker pops 11, pushes 30 into the other slot and
/// finds the displaced slot still `reading`. Outcome: (what the worker popped first,
/// whether 30 went in, what it popped second, what the force-push displaced).
#[test]
fn pop_behind_a_displacement_in_progress() {
    explore(
        "pop_behind_a_displacement_in_progress",
        &[(Some(11), true, Some(20), Some(10))],
        || {
            let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
            assert!(q.push(Track::new(10)).is_ok() && q.push(Track::new(11)).is_ok());
            let worker = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let first = q.pop().map(Track::into_inner);
                    let pushed = q.push(Track::new(30)).is_ok();
                    let second = q.pop().map(Track::into_inner);
                    assert!(
                        !pushed || second.is_some(),
                        "pop after pushing 30 said empty (first pop: {first:?})"
                    );
                    (first, pushed, second)
                })
            };
            let displaced = q.force_push(Track::new(20)).unwrap().map(Track::into_inner);
            let (first, pushed, second) = worker.join().unwrap();
            drain(&q);
            (first, pushed, second, displaced)
        },
    );
}

/// `p2_c1_capacity_2` on a `StaticQueue<_, 2>`: 2 producers + 1 consumer, two items
/// each, the consumer pops twice; the pushes straddle a lap of the inline slots.
#[test]
fn static_p2_c1_capacity_2() {
    bounded_explore(
        PC_PREEMPTIONS,
        "static_p2_c1_capacity_2",
        &[
            v(&[&[0]]),
            v(&[&[10]]),
            v(&[&[0, 1]]),
            v(&[&[0, 10]]),
            v(&[&[10, 11]]),
        ],
        pc_execution(StaticQueue::<Item, 2>::new, (2, 2, 1, 2)),
    );
}

/// `close` racing two pushes and a consumer, at capacity 2 (positions from 1, so the
/// pushes straddle a lap): the producer (the main thread) pushes 0 and then 1, once
/// each; one thread closes; the consumer looks twice (`is_closed`, then `pop`).
///
/// In every execution: a refused push gets `Disconnected` with its own value (never
/// `Full`: two items fit), and once refused the producer is refused again (a queue
/// never reopens); a push that starts after the closer's `close` returned (the
/// producer saw the closer's flag, set after `close`) is refused; every accepted item
/// comes out exactly once, in order (popped, or in the final drain), and no refused
/// one does; and a consumer that saw the queue closed *before* a pop that found
/// nothing had popped every accepted item by then (closed and drained is final).
///
/// Outcome: (items accepted, items the consumer popped, whether it saw the queue
/// closed and drained). The canary wants the close before, between and after the
/// pushes, and the consumer seeing "closed and drained" both with nothing accepted
/// and after popping an item accepted before the close.
#[test]
fn close_races_push_and_pop() {
    bounded_explore(
        2,
        "close_races_push_and_pop",
        &[
            (0, 0, true),
            (1, 1, true),
            (1, 1, false),
            (2, 0, false),
            (2, 1, false),
            (2, 2, false),
        ],
        || {
            let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
            let closed = Arc::new(AtomicBool::new(false));
            let closer = {
                let (q, closed) = (Arc::clone(&q), Arc::clone(&closed));
                thread::spawn(move || {
                    assert!(q.close(), "someone else closed it");
                    closed.store(true, Ordering::Release);
                })
            };
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let mut got = Vec::new();
                    for i in 0..2 {
                        if i > 0 {
                            // A free switch point (see `producers_consumers`).
                            thread::yield_now();
                        }
                        let was_closed = q.is_closed();
                        match q.pop() {
                            Some(item) => got.push(item.into_inner()),
                            None if was_closed => return (got, true),
                            None => {}
                        }
                    }
                    (got, false)
                })
            };
            let mut accepted = Vec::new();
            for value in 0..2 {
                let after_close = closed.load(Ordering::Acquire);
                match q.push(Track::new(value)) {
                    Ok(()) => {
                        assert!(!after_close, "push {value} accepted after close returned");
                        assert_eq!(accepted.len(), value as usize, "accepted after a refusal");
                        accepted.push(value);
                    }
                    Err(PushError::Disconnected(back)) => assert_eq!(back.into_inner(), value),
                    Err(PushError::Full(_)) => panic!("push {value}: full with two slots"),
                }
            }
            closer.join().unwrap();
            let (popped, saw_drained) = consumer.join().unwrap();
            assert!(q.is_closed());
            if saw_drained {
                assert_eq!(popped, accepted, "closed and drained, but items were left");
            }
            let mut out = popped.clone();
            out.extend(drain(&q));
            assert_eq!(out, accepted, "exactly-once, FIFO");
            assert!(q.push(Track::new(9)).is_err(), "accepted after close");
            (accepted.len(), popped.len(), saw_drained)
        },
    );
}

/// `force_push` racing `close` and a pop, at capacity 1 (positions from 1): item 0 is
/// queued before the threads start; the forcing thread force-pushes 100 once (it
/// displaces 0 if the queue is still full); one thread closes; the main thread pops
/// once. A refused force-push gets `Disconnected(100)` back and displaces nothing; an
/// accepted one is popped or drained exactly once; the displaced item is never also
/// popped; and the queue stays closed across a displacement that moves `tail` after
/// the close (the final push is refused). Outcome:
/// (what was displaced, whether 100 was accepted, what was popped): refused; pushed
/// after the pop freed the slot; displaced 0 and then popped.
#[test]
fn close_races_force_push() {
    bounded_explore(
        2,
        "close_races_force_push",
        &[
            (None, false, Some(0)),
            (Some(0), true, Some(100)),
            (None, true, Some(0)),
        ],
        || {
            let q = Arc::new(prewrapped(1, || Track::new(u32::MAX)));
            assert!(q.push(Track::new(0)).is_ok());
            let forcer = {
                let q = Arc::clone(&q);
                thread::spawn(move || match q.force_push(Track::new(100)) {
                    Ok(displaced) => (displaced.map(Track::into_inner), true),
                    Err(Disconnected(back)) => {
                        assert_eq!(back.into_inner(), 100);
                        (None, false)
                    }
                })
            };
            let closer = {
                let q = Arc::clone(&q);
                thread::spawn(move || assert!(q.close()))
            };
            let popped = q.pop().map(Track::into_inner);
            let (displaced, accepted) = forcer.join().unwrap();
            closer.join().unwrap();
            assert!(q.is_closed(), "a displacement reopened the queue");
            assert!(q.push(Track::new(9)).is_err(), "accepted after close");
            assert!(
                displaced.is_none() || displaced != popped,
                "{displaced:?} displaced and popped"
            );
            let mut pushed = vec![0];
            if accepted {
                pushed.push(100);
            }
            let displaced_v: Vec<u32> = displaced.into_iter().collect();
            let popped_v: Vec<u32> = popped.into_iter().collect();
            check_delivery(&pushed, &[displaced_v, popped_v], &drain(&q));
            (displaced, accepted, popped)
        },
    );
}

/// Spawns a thread that writes a note (a `Relaxed` store: only the close can
/// publish it) and then closes `q`; returns the note and the thread.
fn close_after_a_note(q: &Arc<Queue<Item>>) -> (Arc<AtomicUsize>, thread::JoinHandle<()>) {
    let note = Arc::new(AtomicUsize::new(0));
    let closer = {
        let (q, note) = (Arc::clone(q), Arc::clone(&note));
        thread::spawn(move || {
            note.store(1, Ordering::Relaxed);
            assert!(q.close(), "someone else closed it");
        })
    };
    (note, closer)
}

/// Pushes once into `q` (which has room); a refusal must see the closer's note.
/// Returns whether the push was refused.
fn push_checking_the_note(q: &Queue<Item>, note: &AtomicUsize) -> bool {
    match q.push(Track::new(0)) {
        Ok(()) => false,
        Err(PushError::Disconnected(_)) => {
            assert_eq!(note.load(Ordering::Relaxed), 1, "refused before the note");
            true
        }
        Err(PushError::Full(_)) => panic!("full with two slots"),
    }
}

/// What close's `Release` is for: the closing thread writes a note (a `Relaxed`
/// store) before `close`; a producer whose push is refused, or that sees
/// `is_closed`, reads the note after that and must see it. With a `Relaxed` close
/// (or a `Relaxed` load of `closed` in the push or in `is_closed`), seeing the queue
/// closed does not synchronise with the closer and loom reads the stale note.
/// Outcome: (the push was refused, `is_closed` said so).
#[test]
fn close_happens_before_refusal() {
    explore(
        "close_happens_before_refusal",
        &[(false, false), (false, true), (true, true)],
        || {
            let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
            let (note, closer) = close_after_a_note(&q);
            let refused = push_checking_the_note(&q, &note);
            let seen_closed = q.is_closed();
            if seen_closed {
                assert_eq!(note.load(Ordering::Relaxed), 1, "closed before the note");
            }
            closer.join().unwrap();
            drop(drain(&q));
            (refused, seen_closed)
        },
    );
}

/// What the orderings of a drained pop's seal are for: the closing thread writes a
/// note before `close`; a consumer pops the empty queue once (if it sees the queue
/// closed, it seals the slot at `head`); a producer pushes once. A push that read
/// `closed` before it was set and then finds the seal is refused, and must see the
/// note like any refusal: the consumer's `Acquire` load of `closed` synchronises with
/// the close, and the seal's `Release` passes that on to the producer's `Acquire`
/// read of the sealed stamp. Outcome: (the push was refused, the pop got the item).
#[test]
fn seal_happens_after_close() {
    explore(
        "seal_happens_after_close",
        &[(false, false), (false, true), (true, false)],
        || {
            let q = Arc::new(prewrapped(2, || Track::new(u32::MAX)));
            let (note, closer) = close_after_a_note(&q);
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || q.pop().map(Track::into_inner))
            };
            let refused = push_checking_the_note(&q, &note);
            closer.join().unwrap();
            let popped = consumer.join().unwrap();
            let left = drain(&q);
            let accepted: Vec<u32> = popped.into_iter().chain(left).collect();
            assert_eq!(
                accepted,
                if refused { vec![] } else { vec![0] },
                "exactly once"
            );
            (refused, popped.is_some())
        },
    );
}

/// Claims happen in position order even when a producer other than the claimant
/// moves `tail` past a claim: at capacity 3 (positions from 2), producers A and B
/// push once each while the main thread pushes 20 and then pops. When A is pre-empted
/// between claiming its slot and moving `tail`, B moves `tail` on for it; the main
/// thread, reading the `tail` B moved, must then see A's claim, so its pop after its
/// own push finds A's slot "writing" (and waits) rather than empty. This is what the
/// helper's `Acquire` read of the claimed stamp and the claim's `Release` are for.
/// Outcome: the item the main thread's pop got.
#[test]
fn pop_after_own_push_behind_a_helped_claim() {
    bounded_explore(
        2,
        "pop_after_own_push_behind_a_helped_claim",
        &[0, 10, 20],
        || {
            let q = Arc::new(prewrapped(3, || u32::MAX));
            let producers: Vec<_> = [0, 10]
                .into_iter()
                .map(|value| {
                    let q = Arc::clone(&q);
                    thread::spawn(move || q.push(value).expect("three slots for three items"))
                })
                .collect();
            q.push(20).expect("three slots for three items");
            let got = q.pop().expect("pop said empty right after its own push");
            for producer in producers {
                producer.join().unwrap();
            }
            let mut all = vec![got];
            all.extend(drain_slices(&q));
            all.sort_unstable();
            assert_eq!(all, [0, 10, 20], "exactly once");
            got
        },
    );
}
