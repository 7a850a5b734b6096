#![cfg(ringway_loom)]
//! loom models of the wake-up protocol of the waiting operations (`src/wait.rs`):
//! a waiter *announces* itself (registers, raises `waiting`, `SeqCst` fence), looks at
//! the queue again and only then sleeps; a notifier publishes, fences, and wakes the
//! announced waiters if it sees any. A lost wake-up leaves a waiter parked (or a
//! future pending) forever: the model's `join` then blocks too and loom fails the
//! execution with "deadlock". Abandonment (an SPSC half dropped) must wake the other
//! half, which then returns `Disconnected`.
//!
//! Every queue here is built with `WaitStrategy::SpinPark { spins: 0 }`, so a waiter
//! goes straight from a failed look to announcing and parking: loom explores the
//! sleeping path, not spins. Under loom a waiting thread parks through a copy of std's
//! token parker (`parker` in the facade, `src/sync.rs`; loom 0.7's own `unpark` drops the
//! token when its target is not parked, tokio-rs/loom#249), which blocks until an
//! `unpark` (no spurious wake-ups); `loom::future::block_on` sleeps on a pending future
//! until its waker is woken (loom also explores its spurious wake-ups).
//!
//! A deadlock usually aborts the whole test binary (loom's panic unwinds through
//! destructors that call into loom again); the output still starts with loom's
//! "deadlock; threads = ..." line, and `xtask/mutants.py` then runs each model alone.
//!
//! Coverage canaries ([`loom_tests::explore`]): each model's outcome records whether
//! (or how often) each waiting call *slept* (parked, or returned `Pending` after
//! announcing), read from `WaitStrategy::loom_sleeps`, a loom-only per-thread counter
//! in the facade (`src/sync.rs`).
//! Every model expects an execution where the waiter slept and was woken, and one
//! where it did not need to, so a model that never reached the sleeping path (or
//! explored a single schedule) fails. What must hold in every execution (the value
//! each waiter gets, FIFO, exactly-once, `Disconnected` with the value back) is
//! asserted in the body; items are `loom::alloc::Track`ed, so a leak or double drop
//! fails too.
//!
//! The fence-removal mutants of `src/wait.rs` (`python3 xtask/mutants.py --only
//! src/wait.rs`) are judged by this file: without either `SeqCst` fence, every model
//! here deadlocks (checked by hand when the models were written).

use std::future::Future;
use std::task::Poll;

use loom::alloc::Track;
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use loom_tests::{bounded_explore, explore};
use ringway::mpmc::Queue;
use ringway::spsc::{channel_with_wait_strategy, Consumer, Producer, Storage};
use ringway::{Disconnected, WaitStrategy};

type Item = Track<u32>;

/// Waiters park (or leave their future pending) at once after a failed look.
const PARK: WaitStrategy = WaitStrategy::SpinPark { spins: 0 };

/// The preemption bound of the model with two MPMC consumers (see
/// [`loom_tests::bounded_explore`]): a pop that finds a slot claimed but not yet
/// published waits through the facade's yield, and at 3 preemptions loom alternates
/// between the two waiting consumers until it exceeds its branch limit. The other
/// models (one waiter each) run at `LOOM_MAX_PREEMPTIONS`.
const TWO_CONSUMERS_PREEMPTIONS: usize = 2;

/// Runs `op` and returns its result and whether it slept (see the module docs).
fn sleeps<R>(op: impl FnOnce() -> R) -> (R, bool) {
    let before = WaitStrategy::loom_sleeps();
    let r = op();
    (r, WaitStrategy::loom_sleeps() > before)
}

// ---------------------------------------------------------------------------------
// SPSC, blocking
// ---------------------------------------------------------------------------------

/// The consumer takes `items` items with `pop_blocking` while the producer (the main
/// thread) pushes them with plain `push` (capacity `>= items`, so no push fails).
/// Every push notifies, so each `pop_blocking` that sleeps must be woken by the push
/// that follows its announcement. Outcome: for each pop, whether it slept.
fn spsc_pop_blocking_vs_push(name: &str, capacity: usize, items: u32, expected: &[Vec<bool>]) {
    spsc_pop_blocking_vs_push_on(name, capacity, items, expected, |capacity| {
        channel_with_wait_strategy::<Item>(capacity, PARK)
    });
}

/// A producer and a consumer of items.
type Halves<S> = (Producer<Item, S>, Consumer<Item, S>);

/// [`spsc_pop_blocking_vs_push`] on the halves `make` builds (either layout).
fn spsc_pop_blocking_vs_push_on<S: Storage + Send + 'static>(
    name: &str,
    capacity: usize,
    items: u32,
    expected: &[Vec<bool>],
    make: fn(usize) -> Halves<S>,
) {
    assert!(items as usize <= capacity);
    explore(name, expected, move || {
        let (mut tx, mut rx) = make(capacity);
        let consumer = thread::spawn(move || {
            let mut got = Vec::new();
            let mut slept = Vec::new();
            for _ in 0..items {
                let (item, s) = sleeps(|| rx.pop_blocking());
                got.push(item.expect("the producer is alive").into_inner());
                slept.push(s);
            }
            (rx, got, slept)
        });
        for value in 0..items {
            assert!(tx.push(Track::new(value)).is_ok(), "push into a free slot");
        }
        let (rx, got, slept) = consumer.join().unwrap();
        assert_eq!(got, (0..items).collect::<Vec<_>>(), "FIFO / exactly-once");
        drop((tx, rx));
        slept
    });
}

#[test]
fn spsc_pop_blocking_vs_push_capacity_1() {
    spsc_pop_blocking_vs_push(
        "spsc_pop_blocking_vs_push_capacity_1",
        1,
        1,
        &[vec![false], vec![true]],
    );
}

/// The stamped layout: a sleeping consumer waits for a stamp (single pushes of a ring
/// whose waiters park store the counter and notify on every push).
#[test]
fn stamped_spsc_pop_blocking_vs_push_capacity_2() {
    spsc_pop_blocking_vs_push_on(
        "stamped_spsc_pop_blocking_vs_push_capacity_2",
        2,
        2,
        &[
            vec![false, false],
            vec![true, false],
            vec![false, true],
            vec![true, true],
        ],
        |capacity| ringway::spsc::stamped::channel_with_wait_strategy::<Item>(capacity, PARK),
    );
}

#[test]
fn spsc_pop_blocking_vs_push_capacity_2() {
    spsc_pop_blocking_vs_push(
        "spsc_pop_blocking_vs_push_capacity_2",
        2,
        2,
        &[
            vec![false, false],
            vec![true, false],
            vec![false, true],
            vec![true, true],
        ],
    );
}

/// Both sides wait, on a ring of 1: the producer pushes 0 and 1 with `push_blocking`
/// (the second waits for the consumer to free the slot), the consumer takes both with
/// `pop_blocking`. Each side's progress must wake the other's sleep. Outcome:
/// (the producer's second push slept, either pop slept).
#[test]
fn spsc_blocking_both_sides_capacity_1() {
    explore(
        "spsc_blocking_both_sides_capacity_1",
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let (mut tx, mut rx) = channel_with_wait_strategy::<Item>(1, PARK);
            let consumer = thread::spawn(move || {
                let mut got = Vec::new();
                let mut slept = false;
                for _ in 0..2 {
                    let (item, s) = sleeps(|| rx.pop_blocking());
                    got.push(item.expect("the producer is alive").into_inner());
                    slept |= s;
                }
                (rx, got, slept)
            });
            assert!(tx.push_blocking(Track::new(0)).is_ok());
            let (pushed, producer_slept) = sleeps(|| tx.push_blocking(Track::new(1)));
            assert!(pushed.is_ok(), "the consumer is alive");
            let (rx, got, consumer_slept) = consumer.join().unwrap();
            assert_eq!(got, [0, 1], "FIFO / exactly-once");
            drop((tx, rx));
            (producer_slept, consumer_slept)
        },
    );
}

/// The producer's `push_blocking` finds the ring of 1 full (an item pushed before the
/// model's threads start) and must be woken by the consumer's plain `pop`. Outcome:
/// whether the push slept.
#[test]
fn spsc_push_blocking_on_full_vs_pop() {
    explore("spsc_push_blocking_on_full_vs_pop", &[false, true], || {
        let (mut tx, mut rx) = channel_with_wait_strategy::<Item>(1, PARK);
        assert!(tx.push(Track::new(0)).is_ok());
        let producer = thread::spawn(move || {
            let (pushed, slept) = sleeps(|| tx.push_blocking(Track::new(1)));
            assert!(pushed.is_ok(), "the consumer is alive");
            (tx, slept)
        });
        let first = rx.pop().expect("the ring was full").into_inner();
        let (tx, slept) = producer.join().unwrap();
        let second = rx.pop().expect("the waiting push went in").into_inner();
        assert_eq!((first, second), (0, 1), "FIFO / exactly-once");
        drop((tx, rx));
        slept
    });
}

/// The producer pushes one item and is dropped; the consumer calls `pop_blocking`
/// until it fails. It must get the item, then `Err(Disconnected)` (a consumer asleep
/// when the producer goes away must be woken by the drop). Outcome: (the pop that got
/// the item slept, the pop that got `Disconnected` slept).
#[test]
fn spsc_pop_blocking_vs_producer_drop() {
    explore(
        "spsc_pop_blocking_vs_producer_drop",
        &[(false, false), (false, true), (true, false), (true, true)],
        || {
            let (mut tx, mut rx) = channel_with_wait_strategy::<Item>(1, PARK);
            let consumer = thread::spawn(move || {
                let (first, slept_first) = sleeps(|| rx.pop_blocking());
                assert_eq!(first.map(Track::into_inner), Ok(0), "the pushed item");
                let (second, slept_second) = sleeps(|| rx.pop_blocking());
                assert_eq!(
                    second.map(Track::into_inner),
                    Err(Disconnected(())),
                    "the producer is gone and the ring is empty"
                );
                (slept_first, slept_second)
            });
            assert!(tx.push(Track::new(0)).is_ok());
            drop(tx);
            consumer.join().unwrap()
        },
    );
}

/// The producer's `push_blocking` waits on a full ring of 1 while the consumer is
/// dropped without popping: the push can never succeed, so it must be woken by the
/// drop and hand its value back in `Err(Disconnected)`. Outcome: whether it slept.
#[test]
fn spsc_push_blocking_vs_consumer_drop() {
    explore(
        "spsc_push_blocking_vs_consumer_drop",
        &[false, true],
        || {
            let (mut tx, rx) = channel_with_wait_strategy::<Item>(1, PARK);
            assert!(tx.push(Track::new(0)).is_ok());
            let producer = thread::spawn(move || {
                let (pushed, slept) = sleeps(|| tx.push_blocking(Track::new(1)));
                let Err(Disconnected(back)) = pushed else {
                    panic!("push_blocking into a full ring whose consumer is gone succeeded");
                };
                assert_eq!(back.into_inner(), 1, "the value comes back");
                slept
            });
            drop(rx);
            producer.join().unwrap()
        },
    );
}

// ---------------------------------------------------------------------------------
// SPSC, async
// ---------------------------------------------------------------------------------

/// `block_on(rx.pop_async())` against a push: a future left pending after announcing
/// its waker must be woken by the push. Outcome: whether the future went pending.
#[test]
fn spsc_pop_async_vs_push() {
    explore("spsc_pop_async_vs_push", &[false, true], || {
        let (mut tx, mut rx) = channel_with_wait_strategy::<Item>(1, PARK);
        let consumer = thread::spawn(move || {
            let (item, slept) = sleeps(|| block_on(rx.pop_async()));
            assert_eq!(item.map(Track::into_inner), Ok(0));
            (rx, slept)
        });
        assert!(tx.push(Track::new(0)).is_ok());
        let (rx, slept) = consumer.join().unwrap();
        drop((tx, rx));
        slept
    });
}

/// `block_on(tx.push_async(1))` on a full ring of 1 against a pop. Outcome: whether
/// the future went pending.
#[test]
fn spsc_push_async_on_full_vs_pop() {
    explore("spsc_push_async_on_full_vs_pop", &[false, true], || {
        let (mut tx, mut rx) = channel_with_wait_strategy::<Item>(1, PARK);
        assert!(tx.push(Track::new(0)).is_ok());
        let producer = thread::spawn(move || {
            let (pushed, slept) = sleeps(|| block_on(tx.push_async(Track::new(1))));
            assert!(pushed.is_ok(), "the consumer is alive");
            (tx, slept)
        });
        let first = rx.pop().expect("the ring was full").into_inner();
        let (tx, slept) = producer.join().unwrap();
        let second = rx.pop().expect("the waiting push went in").into_inner();
        assert_eq!((first, second), (0, 1), "FIFO / exactly-once");
        drop((tx, rx));
        slept
    });
}

/// Abandonment wakes an async waiter: `block_on(rx.pop_async())` against the
/// producer's drop resolves to `Err(Disconnected)`. Outcome: whether it went pending.
#[test]
fn spsc_pop_async_vs_producer_drop() {
    explore("spsc_pop_async_vs_producer_drop", &[false, true], || {
        let (tx, mut rx) = channel_with_wait_strategy::<Item>(1, PARK);
        let consumer = thread::spawn(move || {
            let (item, slept) = sleeps(|| block_on(rx.pop_async()));
            assert_eq!(item.map(Track::into_inner), Err(Disconnected(())));
            slept
        });
        drop(tx);
        consumer.join().unwrap()
    });
}

/// Abandonment wakes an async waiter: `block_on(tx.push_async(1))` on a full ring
/// against the consumer's drop resolves to `Err(Disconnected(1))`. Outcome: whether it
/// went pending.
#[test]
fn spsc_push_async_vs_consumer_drop() {
    explore("spsc_push_async_vs_consumer_drop", &[false, true], || {
        let (mut tx, rx) = channel_with_wait_strategy::<Item>(1, PARK);
        assert!(tx.push(Track::new(0)).is_ok());
        let producer = thread::spawn(move || {
            let (pushed, slept) = sleeps(|| block_on(tx.push_async(Track::new(1))));
            let Err(Disconnected(back)) = pushed else {
                panic!("push_async into a full ring whose consumer is gone succeeded");
            };
            assert_eq!(back.into_inner(), 1, "the value comes back");
            slept
        });
        drop(rx);
        producer.join().unwrap()
    });
}

// ---------------------------------------------------------------------------------
// MPMC
// ---------------------------------------------------------------------------------

/// An MPMC queue of `capacity` that parks its waiters, shared through a loom `Arc`.
fn mpmc_queue(capacity: usize) -> Arc<Queue<Item>> {
    Arc::new(Queue::with_wait_strategy(capacity, PARK))
}

/// One `pop_blocking` consumer against one pusher (the main thread, see
/// `tests/mpmc.rs` on why the main thread pushes). Outcome: whether the pop slept.
#[test]
fn mpmc_pop_blocking_vs_push() {
    explore("mpmc_pop_blocking_vs_push", &[false, true], || {
        let q = mpmc_queue(1);
        let consumer = {
            let q = Arc::clone(&q);
            thread::spawn(move || sleeps(|| q.pop_blocking().unwrap().into_inner()))
        };
        assert!(q.push(Track::new(0)).is_ok());
        let (got, slept) = consumer.join().unwrap();
        assert_eq!(got, 0);
        assert!(q.pop().is_none(), "exactly-once");
        slept
    });
}

/// Two consumers blocked in `pop_blocking` against two pushes (capacity 2, so neither
/// push fails). A notification wakes every announced waiter, so the consumer that
/// loses the race for the first item must register again and be woken by the second
/// push. Each consumer gets exactly one item. Outcome: how many times each consumer
/// slept; the canary wants, among others, both slept and one of them twice (woken by
/// the first push, lost the item, announced again and slept until the second push).
#[test]
fn mpmc_two_blocked_consumers_vs_two_pushes() {
    bounded_explore(
        TWO_CONSUMERS_PREEMPTIONS,
        "mpmc_two_blocked_consumers_vs_two_pushes",
        &[
            (0, 0),
            (1, 0),
            (0, 1),
            (1, 1),
            (2, 0),
            (0, 2),
            (2, 1),
            (1, 2),
        ],
        || {
            let q = mpmc_queue(2);
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let q = Arc::clone(&q);
                    thread::spawn(move || {
                        let got = q.pop_blocking().unwrap().into_inner();
                        (got, WaitStrategy::loom_sleeps())
                    })
                })
                .collect();
            // A free switch point: the consumers may look (and park) before the first
            // push without spending the one preemption.
            thread::yield_now();
            for value in 0..2 {
                assert!(q.push(Track::new(value)).is_ok(), "push into a free slot");
            }
            let results: Vec<(u32, usize)> =
                consumers.into_iter().map(|h| h.join().unwrap()).collect();
            let mut got: Vec<u32> = results.iter().map(|r| r.0).collect();
            got.sort_unstable();
            assert_eq!(got, [0, 1], "each consumer gets exactly one item");
            assert!(q.pop().is_none(), "exactly-once");
            (results[0].1, results[1].1)
        },
    );
}

/// `push_blocking` on a full queue of 1 (an item pushed before the threads start)
/// against a pop. Outcome: whether the push slept.
#[test]
fn mpmc_push_blocking_on_full_vs_pop() {
    explore("mpmc_push_blocking_on_full_vs_pop", &[false, true], || {
        let q = mpmc_queue(1);
        assert!(q.push(Track::new(0)).is_ok());
        let producer = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let (pushed, slept) = sleeps(|| q.push_blocking(Track::new(1)));
                assert!(pushed.is_ok(), "the queue is open");
                slept
            })
        };
        let first = q.pop().expect("the queue was full").into_inner();
        let slept = producer.join().unwrap();
        let second = q.pop().expect("the waiting push went in").into_inner();
        assert_eq!((first, second), (0, 1), "FIFO / exactly-once");
        slept
    });
}

/// `block_on(q.pop_async())` against a push. Outcome: whether the future went
/// pending.
#[test]
fn mpmc_pop_async_vs_push() {
    explore("mpmc_pop_async_vs_push", &[false, true], || {
        let q = mpmc_queue(1);
        let consumer = {
            let q = Arc::clone(&q);
            thread::spawn(move || sleeps(|| block_on(q.pop_async()).unwrap().into_inner()))
        };
        assert!(q.push(Track::new(0)).is_ok());
        let (got, slept) = consumer.join().unwrap();
        assert_eq!(got, 0);
        assert!(q.pop().is_none(), "exactly-once");
        slept
    });
}

// ---------------------------------------------------------------------------------
// Hostile wakers (issue #12)
// ---------------------------------------------------------------------------------

/// A waker that polls its task inline when woken, as some executors do: the task pops
/// from the queue and then waits on it again (a second `pop_async` that goes pending
/// announces itself on the cell whose notification is running, then is dropped and
/// withdraws). With wakers called under the cell's lock, that announcement
/// re-entered the lock and loom reported a deadlock.
struct InlinePopper {
    q: Arc<Queue<Item>>,
    /// What the inline polls popped (a plain `std` mutex: it records, it does not
    /// synchronise the model).
    got: std::sync::Mutex<Vec<u32>>,
}

impl std::task::Wake for InlinePopper {
    fn wake(self: std::sync::Arc<Self>) {
        let waker = std::task::Waker::from(std::sync::Arc::clone(&self));
        let mut cx = std::task::Context::from_waker(&waker);
        loop {
            let mut next = self.q.pop_async();
            match std::pin::Pin::new(&mut next).poll(&mut cx) {
                Poll::Ready(item) => self.got.lock().unwrap().push(item.unwrap().into_inner()),
                Poll::Pending => break,
            }
        }
    }
}

/// One `pop_async` whose waker polls inline (the main thread polls it once and keeps
/// it), against a push on another thread. Either the future's second look finds the
/// item, or the push wakes the waker, which pops it inline and waits again: exactly
/// one of them gets it, and nothing deadlocks. Outcome: whether the item was popped
/// inline by the waker.
#[test]
fn mpmc_inline_polling_waker_vs_push() {
    explore("mpmc_inline_polling_waker_vs_push", &[false, true], || {
        let q = mpmc_queue(1);
        let popper = std::sync::Arc::new(InlinePopper {
            q: Arc::clone(&q),
            got: std::sync::Mutex::new(Vec::new()),
        });
        let waker = std::task::Waker::from(std::sync::Arc::clone(&popper));
        let producer = {
            let q = Arc::clone(&q);
            thread::spawn(move || assert!(q.push(Track::new(0)).is_ok()))
        };
        let mut fut = q.pop_async();
        let polled = std::pin::Pin::new(&mut fut).poll(&mut std::task::Context::from_waker(&waker));
        producer.join().unwrap();
        drop(fut); // only now: a dropped future withdraws its waker
        let by_waker = std::mem::take(&mut *popper.got.lock().unwrap());
        let pending = polled.is_pending();
        match polled {
            Poll::Ready(item) => {
                assert_eq!(
                    (item.unwrap().into_inner(), by_waker.len()),
                    (0, 0),
                    "exactly-once"
                )
            }
            Poll::Pending => assert_eq!(by_waker, [0], "a pending future's waker was not woken"),
        }
        assert!(q.pop().is_none(), "exactly-once");
        pending
    });
}

/// A future that goes pending and is dropped (withdrawing its entry) must not take
/// another waiter's entry with it: the consumer cancels one `pop_async`, then blocks
/// on a second one, against a push. Outcome: whether the second future slept.
#[test]
fn mpmc_cancelled_future_then_pop_async_vs_push() {
    explore(
        "mpmc_cancelled_future_then_pop_async_vs_push",
        &[false, true],
        || {
            let q = mpmc_queue(1);
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let waker = std::task::Waker::noop();
                    let mut cancelled = q.pop_async();
                    let first = std::pin::Pin::new(&mut cancelled)
                        .poll(&mut std::task::Context::from_waker(waker));
                    drop(cancelled);
                    match first {
                        Poll::Ready(item) => (item.unwrap().into_inner(), false),
                        Poll::Pending => sleeps(|| block_on(q.pop_async()).unwrap().into_inner()),
                    }
                })
            };
            assert!(q.push(Track::new(0)).is_ok());
            let (got, slept) = consumer.join().unwrap();
            assert_eq!(got, 0);
            assert!(q.pop().is_none(), "exactly-once");
            slept
        },
    );
}

// ---------------------------------------------------------------------------------
// MPMC close
// ---------------------------------------------------------------------------------

/// A consumer blocked in `pop_blocking` on a queue that gets one item and is then
/// closed (by the main thread): it pops the item, then must be woken by `close` and
/// return `Disconnected`; without the wake-up it parks forever (loom: deadlock).
/// Outcome: whether each of its two pops slept.
#[test]
fn mpmc_pop_blocking_vs_push_then_close() {
    explore(
        "mpmc_pop_blocking_vs_push_then_close",
        &[(false, false), (true, false), (false, true), (true, true)],
        || {
            let q = mpmc_queue(1);
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let (first, s1) = sleeps(|| q.pop_blocking());
                    let (second, s2) = sleeps(|| q.pop_blocking());
                    assert_eq!(first.map(Track::into_inner), Ok(0), "the item comes first");
                    assert_eq!(second.map(Track::into_inner), Err(Disconnected(())));
                    (s1, s2)
                })
            };
            assert!(q.push(Track::new(0)).is_ok());
            assert!(q.close());
            let slept = consumer.join().unwrap();
            assert!(q.pop().is_none(), "exactly-once");
            slept
        },
    );
}

/// A producer blocked in `push_blocking` on a full queue of 1 must be woken by `close`
/// (the main thread) and get its value back; the queued item stays for the drain.
/// Outcome: whether the push slept.
#[test]
fn mpmc_push_blocking_on_full_vs_close() {
    explore(
        "mpmc_push_blocking_on_full_vs_close",
        &[false, true],
        || {
            let q = mpmc_queue(1);
            assert!(q.push(Track::new(0)).is_ok());
            let producer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let (pushed, slept) = sleeps(|| q.push_blocking(Track::new(1)));
                    let back = pushed.expect_err("the queue is full, then closed");
                    assert_eq!(back.into_inner().into_inner(), 1, "its own value back");
                    slept
                })
            };
            assert!(q.close());
            let slept = producer.join().unwrap();
            assert_eq!(
                q.pop().map(Track::into_inner),
                Some(0),
                "the queued item stays"
            );
            assert!(q.pop().is_none());
            slept
        },
    );
}

/// A pending `pop_async` on an empty queue must be woken by `close` and resolve to
/// `Disconnected`. Outcome: whether the future slept.
#[test]
fn mpmc_pop_async_vs_close() {
    explore("mpmc_pop_async_vs_close", &[false, true], || {
        let q = mpmc_queue(1);
        let consumer = {
            let q = Arc::clone(&q);
            thread::spawn(move || sleeps(|| block_on(q.pop_async()).map(Track::into_inner)))
        };
        assert!(q.close());
        let (got, slept) = consumer.join().unwrap();
        assert_eq!(got, Err(Disconnected(())));
        slept
    });
}
