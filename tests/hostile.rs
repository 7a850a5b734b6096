//! Black-box tests of the wake-up protocol against hostile but ordinary users, from a
//! black-box review of that protocol (issue #12): wakers that poll inline, drop
//! things, or panic in `wake`, `clone` or `drop`; futures that are moved, re-polled
//! with other wakers, cancelled, forgotten or polled after completion; timed waits
//! racing the other side. Public API only.
//!
//! A waker is foreign code, and the queues contain its panics: a panic in a waker's
//! `wake` or drop stays inside the queue, so the operation that ran it (a push, a pop,
//! a chunk's commit, a half's drop, a poll that replaces or a future's drop that
//! withdraws the waker) completes with its full effect, every other waiter is still
//! woken, no item is lost or doubled, and a destructor that runs it during unwinding
//! does not abort the process (checked in a child process). A panic in a waker's
//! `clone` comes out of the poll, with nothing registered.

// Every test here waits: the blocking operations need `std`, the futures `async`.
#![cfg(all(feature = "std", feature = "async"))]

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{
    block_on, counting_waker, join_within_watchdog, poll_once, DropTracker, InlineTask, Rng,
    WakeCounter,
};
use ringway::mpmc::Queue;
use ringway::spsc::{channel_with_wait_strategy, Consumer, PopFuture, Producer, PushFuture};
use ringway::{Disconnected, PopTimeoutError, WaitStrategy};

/// The strategies whose waiters register and sleep.
const PARKING: [WaitStrategy; 2] = [
    WaitStrategy::SpinPark { spins: 0 },
    WaitStrategy::SpinPark {
        spins: WaitStrategy::DEFAULT_SPINS,
    },
];

fn n(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}

// ---------------------------------------------------------------------------------
// A configurable hostile waker (raw vtable, so every clone and drop is observable).
// ---------------------------------------------------------------------------------

#[derive(Default)]
struct Hostile {
    panic_wake: AtomicBool,
    panic_clone: AtomicBool,
    panic_drop: AtomicBool,
    /// Calls to `wake` / `wake_by_ref`.
    wakes: AtomicUsize,
    /// Live `Waker` handles (clones not yet dropped or consumed by `wake`).
    live: AtomicUsize,
}

impl Hostile {
    fn new() -> Arc<Self> {
        Arc::new(Hostile::default())
    }
    fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }
    fn live(&self) -> usize {
        self.live.load(SeqCst)
    }
    fn set(&self, wake: bool, clone: bool, drop: bool) {
        self.panic_wake.store(wake, SeqCst);
        self.panic_clone.store(clone, SeqCst);
        self.panic_drop.store(drop, SeqCst);
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(h_clone, h_wake, h_wake_by_ref, h_drop);

fn hostile_waker(h: &Arc<Hostile>) -> Waker {
    h.live.fetch_add(1, SeqCst);
    let p = Arc::into_raw(Arc::clone(h)).cast::<()>();
    // SAFETY: the vtable functions treat `p` as an `Arc<Hostile>` reference.
    unsafe { Waker::from_raw(RawWaker::new(p, &VTABLE)) }
}

unsafe fn h_clone(p: *const ()) -> RawWaker {
    let h = unsafe { &*p.cast::<Hostile>() };
    if h.panic_clone.load(SeqCst) {
        panic!("hostile clone");
    }
    unsafe { Arc::increment_strong_count(p.cast::<Hostile>()) };
    h.live.fetch_add(1, SeqCst);
    RawWaker::new(p, &VTABLE)
}

unsafe fn h_wake(p: *const ()) {
    let arc = unsafe { Arc::from_raw(p.cast::<Hostile>()) };
    arc.live.fetch_sub(1, SeqCst);
    arc.wakes.fetch_add(1, SeqCst);
    if arc.panic_wake.load(SeqCst) {
        panic!("hostile wake");
    }
}

unsafe fn h_wake_by_ref(p: *const ()) {
    let h = unsafe { &*p.cast::<Hostile>() };
    h.wakes.fetch_add(1, SeqCst);
    if h.panic_wake.load(SeqCst) {
        panic!("hostile wake");
    }
}

unsafe fn h_drop(p: *const ()) {
    let arc = unsafe { Arc::from_raw(p.cast::<Hostile>()) };
    arc.live.fetch_sub(1, SeqCst);
    let panic = arc.panic_drop.load(SeqCst);
    drop(arc);
    if panic && !thread::panicking() {
        panic!("hostile drop");
    }
}

fn panic_msg(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------
// 1. Inline-polling wakers that re-enter the queue, in both directions.
// ---------------------------------------------------------------------------------

/// Two inline tasks ping-pong over two MPMC queues of capacity 1: every wake-up polls
/// the other task from inside the publishing call, which then publishes on the other
/// queue (and waits again) before the first call returns.
#[test]
fn inline_tasks_ping_pong_over_mpmc() {
    let rounds = n(200, 5) as u32;
    for strategy in PARKING {
        let ping = Arc::new(Queue::<u32>::with_wait_strategy(1, strategy));
        let pong = Arc::new(Queue::<u32>::with_wait_strategy(1, strategy));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let echo = InlineTask::spawn({
            let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
            async move {
                loop {
                    let v = ping.pop_async().await.unwrap();
                    if v == u32::MAX {
                        return;
                    }
                    pong.push_async(v).await.unwrap();
                }
            }
        });
        let driver = InlineTask::spawn({
            let (ping, pong, seen) = (Arc::clone(&ping), Arc::clone(&pong), Arc::clone(&seen));
            async move {
                for i in 0..rounds {
                    ping.push_async(i).await.unwrap();
                    let v = pong.pop_async().await.unwrap();
                    seen.lock().unwrap().push(v);
                }
                ping.push_async(u32::MAX).await.unwrap();
            }
        });
        // Everything ran inline from the spawns: nothing else polls them.
        assert!(
            driver.is_done() && echo.is_done(),
            "{strategy:?}: a task stalled"
        );
        assert_eq!(*seen.lock().unwrap(), (0..rounds).collect::<Vec<_>>());
        assert!(ping.is_empty() && pong.is_empty());
    }
}

/// The same over two SPSC rings, with the halves owned by the tasks; at the end the
/// driver drops its halves and the echo task must see `Disconnected`.
#[test]
fn inline_tasks_ping_pong_over_spsc() {
    let rounds = n(200, 5) as u32;
    for strategy in PARKING {
        let (mut ping_tx, mut ping_rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let (mut pong_tx, mut pong_rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let echo_done = Arc::new(AtomicBool::new(false));
        let echo = InlineTask::spawn({
            let echo_done = Arc::clone(&echo_done);
            async move {
                while let Ok(v) = ping_rx.pop_async().await {
                    if pong_tx.push_async(v).await.is_err() {
                        break;
                    }
                }
                echo_done.store(true, SeqCst);
            }
        });
        let driver = InlineTask::spawn({
            let seen = Arc::clone(&seen);
            async move {
                for i in 0..rounds {
                    ping_tx.push_async(i).await.unwrap();
                    let v = pong_rx.pop_async().await.unwrap();
                    seen.lock().unwrap().push(v);
                }
                // Dropping `ping_tx` here (end of the task) wakes the echo task inline.
            }
        });
        assert!(driver.is_done(), "{strategy:?}: driver stalled");
        assert!(echo.is_done() && echo_done.load(SeqCst), "{strategy:?}");
        assert_eq!(*seen.lock().unwrap(), (0..rounds).collect::<Vec<_>>());
    }
}

/// Many inline tasks on one MPMC queue, each relaying what it pops back into the same
/// queue (incremented) until a limit: pops wake pushers and pushes wake poppers, all
/// re-entrantly on the same two cells. Every value is seen exactly once.
#[test]
fn inline_relays_on_one_mpmc_queue() {
    let limit = n(300, 12) as u32;
    for strategy in PARKING {
        let q = Arc::new(Queue::<u32>::with_wait_strategy(2, strategy));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (q, seen) = (Arc::clone(&q), Arc::clone(&seen));
                InlineTask::spawn(async move {
                    loop {
                        let v = q.pop_async().await.unwrap();
                        seen.lock().unwrap().push(v);
                        if v >= limit {
                            // Pass the stop marker on so the next task stops too.
                            q.push_async(v).await.unwrap();
                            return;
                        }
                        q.push_async(v + 1).await.unwrap();
                    }
                })
            })
            .collect();
        q.push(0).unwrap();
        assert!(
            tasks.iter().all(|t| t.is_done()),
            "{strategy:?}: a relay stalled"
        );
        let mut seen = seen.lock().unwrap().clone();
        // 0..limit once each, then `limit` once per task.
        let stops = seen.iter().filter(|&&v| v == limit).count();
        assert_eq!(stops, 4);
        seen.retain(|&v| v != limit);
        assert_eq!(seen, (0..limit).collect::<Vec<_>>());
        assert_eq!(q.pop(), Some(limit));
    }
}

// ---------------------------------------------------------------------------------
// 2. Wakers that drop the future, or a queue half, when woken.
// ---------------------------------------------------------------------------------

/// A waker that, when woken, drops its task (the pending future and whatever it owns).
struct Dropper {
    task: Mutex<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>,
    woken: AtomicUsize,
}

impl Dropper {
    fn new(f: impl Future<Output = ()> + Send + 'static) -> Arc<Self> {
        Arc::new(Dropper {
            task: Mutex::new(Some(Box::pin(f))),
            woken: AtomicUsize::new(0),
        })
    }
    /// Polls the task once with this waker.
    fn poll(self: &Arc<Self>) -> Poll<()> {
        let waker = Waker::from(Arc::clone(self));
        let mut slot = self.task.lock().unwrap();
        slot.as_mut()
            .unwrap()
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
    }
}

impl Wake for Dropper {
    fn wake(self: Arc<Self>) {
        self.woken.fetch_add(1, SeqCst);
        let task = self.task.lock().unwrap().take();
        drop(task);
    }
}

/// MPMC: futures whose wakers drop them, beside ordinary futures registered before and
/// after them: the others are still woken, and no waker is left registered.
#[test]
fn mpmc_waker_that_drops_its_future_when_woken() {
    for strategy in PARKING {
        let q = Arc::new(Queue::<u32>::with_wait_strategy(2, strategy));
        let (w_before, c_before) = counting_waker();
        let mut before = q.pop_async();
        assert!(poll_once(&mut before, &w_before).is_pending());
        let droppers: Vec<_> = (0..3)
            .map(|_| {
                let q = Arc::clone(&q);
                let d = Dropper::new(async move {
                    let _ = q.pop_async().await;
                    unreachable!("the waker drops this task before it is polled again");
                });
                assert!(d.poll().is_pending());
                d
            })
            .collect();
        let (w_after, c_after) = counting_waker();
        let mut after = q.pop_async();
        assert!(poll_once(&mut after, &w_after).is_pending());

        q.push(1).unwrap();
        assert_eq!((c_before.count(), c_after.count()), (1, 1), "{strategy:?}");
        for d in &droppers {
            assert_eq!(d.woken.load(SeqCst), 1);
            assert!(d.task.lock().unwrap().is_none());
            // Only the test's handle: the queue kept no clone, the task is gone.
            assert_eq!(Arc::strong_count(d), 1);
        }
        assert_eq!(
            Arc::strong_count(&q),
            1,
            "a dropped task still holds the queue"
        );
        assert_eq!(poll_once(&mut after, &w_after), Poll::Ready(Ok(1)));
        assert!(poll_once(&mut before, &w_before).is_pending());
        q.push(2).unwrap();
        assert_eq!(c_before.count(), 2);
        assert_eq!(poll_once(&mut before, &w_before), Poll::Ready(Ok(2)));
        drop((before, after));
        drop((w_before, w_after));
        assert_eq!(
            (Arc::strong_count(&c_before), Arc::strong_count(&c_after)),
            (1, 1)
        );
    }
}

/// SPSC: the consumer task's waker drops the task, and with it the `Consumer`, from
/// inside the producer's `push` (the consumer's drop then notifies the producer's
/// side re-entrantly). The producer then sees `Disconnected`, and the item pushed is
/// dropped exactly once, with the ring.
#[test]
fn spsc_waker_that_drops_the_consumer_when_woken() {
    static TRACKER: DropTracker = DropTracker::new();
    let tracker = &TRACKER;
    for strategy in PARKING {
        let (mut tx, mut rx) = channel_with_wait_strategy(2, strategy);
        let d = Dropper::new(async move {
            let _ = rx.pop_async().await;
            unreachable!();
        });
        assert!(d.poll().is_pending());
        tx.push(tracker.item()).unwrap();
        assert_eq!(d.woken.load(SeqCst), 1);
        assert!(
            tx.is_abandoned(),
            "{strategy:?}: the consumer was not dropped"
        );
        let (w, c) = counting_waker();
        let mut fut = tx.push_async(tracker.item());
        assert!(matches!(
            poll_once(&mut fut, &w),
            Poll::Ready(Err(Disconnected(_)))
        ));
        assert_eq!(c.count(), 0);
        drop(fut);
        drop(tx);
        tracker.assert_all_dropped_once();
    }
}

/// SPSC: the producer task's waker drops the `Producer` from inside the consumer's
/// `pop_blocking` (whose thread is itself registered): the consumer gets the item,
/// then `Disconnected`.
#[test]
fn spsc_waker_that_drops_the_producer_when_woken() {
    for strategy in PARKING {
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        tx.push(1).unwrap();
        let d = Dropper::new(async move {
            let _ = tx.push_async(2).await;
            unreachable!();
        });
        assert!(d.poll().is_pending());
        assert_eq!(rx.pop_blocking(), Ok(1));
        assert_eq!(d.woken.load(SeqCst), 1);
        assert!(rx.is_abandoned());
        assert_eq!(rx.pop_blocking(), Err(Disconnected(())));
        assert_eq!(
            rx.pop_timeout(Duration::from_millis(1)),
            Err(PopTimeoutError::Disconnected)
        );
    }
}

// ---------------------------------------------------------------------------------
// 3. Many futures of one task; cancellation; moving; re-polling; after completion.
// ---------------------------------------------------------------------------------

/// Eight pop futures of one task (one waker) on an MPMC queue, half of them cancelled:
/// each live one is woken by a push, the cancelled ones leave nothing registered, and
/// the live ones complete exactly once each.
#[test]
fn mpmc_many_futures_of_one_task_some_cancelled() {
    for strategy in PARKING {
        let q = Queue::<u32>::with_wait_strategy(4, strategy);
        let h = Hostile::new();
        let waker = hostile_waker(&h);
        let mut futs: Vec<Option<_>> = (0..8).map(|_| Some(q.pop_async())).collect();
        for f in futs.iter_mut() {
            assert!(poll_once(f.as_mut().unwrap(), &waker).is_pending());
        }
        assert_eq!(h.live(), 1 + 8);
        for i in (0..8).step_by(2) {
            futs[i] = None;
        }
        assert_eq!(
            h.live(),
            1 + 4,
            "{strategy:?}: cancelled futures left wakers"
        );
        q.push(10).unwrap();
        assert_eq!(h.wakes(), 4, "{strategy:?}: a live future was not woken");
        assert_eq!(h.live(), 1);
        let mut got = Vec::new();
        let mut value = 11;
        while futs.iter().any(Option::is_some) {
            for f in futs.iter_mut() {
                if let Some(fut) = f {
                    if let Poll::Ready(v) = poll_once(fut, &waker) {
                        got.push(v.unwrap());
                        *f = None;
                    }
                }
            }
            let wakes = h.wakes();
            if futs.iter().any(Option::is_some) {
                q.push(value).unwrap();
                value += 1;
                assert!(h.wakes() > wakes, "{strategy:?}: a push woke nobody");
            }
        }
        got.sort_unstable();
        assert_eq!(got, (10..value).collect::<Vec<_>>());
        assert!(q.is_empty());
        assert_eq!(h.live(), 1);
    }
}

/// Cancelling some futures of one task while another thread pushes: the task never
/// misses a wake-up (block_on fails on a lost one), and values are neither lost nor
/// duplicated.
#[test]
fn mpmc_cancelling_siblings_never_loses_a_wakeup() {
    let items = n(400, 8);
    for strategy in PARKING {
        let q = Arc::new(Queue::<usize>::with_wait_strategy(2, strategy));
        let producer = thread::spawn({
            let q = Arc::clone(&q);
            move || (0..items).for_each(|i| q.push_blocking(i).unwrap())
        });
        let mut got = Vec::new();
        let mut rng = Rng::new(7);
        while got.len() < items {
            // Up to three pop futures of one task, kept across polls; the first to
            // finish wins and the others are cancelled (a `select!`); on some polls a
            // pending one is cancelled early.
            let q = &*q;
            let k = rng.range(1, 3);
            let v = block_on(async {
                let mut futs: Vec<_> = (0..k).map(|_| q.pop_async()).collect();
                std::future::poll_fn(|cx| {
                    for f in futs.iter_mut() {
                        if let Poll::Ready(v) = Pin::new(f).poll(cx) {
                            return Poll::Ready(v);
                        }
                    }
                    if futs.len() > 1 && rng.one_in(2) {
                        let i = rng.below(futs.len());
                        drop(futs.remove(i));
                    }
                    Poll::Pending
                })
                .await
            });
            got.push(v.unwrap());
        }
        join_within_watchdog(producer, "producer");
        assert_eq!(got, (0..items).collect::<Vec<_>>(), "{strategy:?}");
    }
}

/// A future re-polled many times with the same waker keeps one registration; re-polled
/// with fresh wakers it keeps only the latest; moved (boxed, then unboxed) it still
/// completes; and a forgotten future's waker is released by the next notification.
#[test]
fn registrations_stay_bounded() {
    let rounds = n(1000, 20);
    for strategy in PARKING {
        let q = Queue::<u32>::with_wait_strategy(1, strategy);
        let h = Hostile::new();
        let w = hostile_waker(&h);
        let mut fut = q.pop_async();
        for _ in 0..rounds {
            assert!(poll_once(&mut fut, &w).is_pending());
        }
        assert_eq!(h.live(), 2, "{strategy:?}: the same waker registered twice");
        let others: Vec<_> = (0..rounds).map(|_| Hostile::new()).collect();
        for o in &others {
            assert!(poll_once(&mut fut, &hostile_waker(o)).is_pending());
        }
        assert_eq!(h.live(), 1, "{strategy:?}: an old waker is still held");
        assert!(others[..rounds - 1].iter().all(|o| o.live() == 0));
        assert_eq!(others[rounds - 1].live(), 1);
        // Move it (and poll it from the box), then push.
        let mut boxed = Box::new(fut);
        assert!(poll_once(&mut *boxed, &w).is_pending());
        let mut fut = *boxed;
        q.push(5).unwrap();
        assert_eq!(h.wakes(), 1);
        assert_eq!(others[rounds - 1].wakes(), 0, "a replaced waker was woken");
        assert_eq!(poll_once(&mut fut, &w), Poll::Ready(Ok(5)));
        drop(fut);
        assert_eq!(h.live(), 1);

        // Forgotten pending futures (SPSC pop and MPMC pop): the wakers stay until
        // the next notification, which wakes and releases all of them.
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let f = Hostile::new();
        for _ in 0..rounds.min(50) {
            let mut a = rx.pop_async();
            assert!(poll_once(&mut a, &hostile_waker(&f)).is_pending());
            std::mem::forget(a);
            let mut b = q.pop_async();
            assert!(poll_once(&mut b, &hostile_waker(&f)).is_pending());
            std::mem::forget(b);
        }
        assert_eq!(f.live(), 2 * rounds.min(50));
        tx.push(1).unwrap();
        q.push(1).unwrap();
        assert_eq!(f.live(), 0);
        assert_eq!(f.wakes(), 2 * rounds.min(50));
        assert_eq!((rx.pop(), q.pop()), (Some(1), Some(1)));
    }
}

/// Polling a completed future panics and never pops or pushes again, for both
/// queues, both directions, including SPSC futures that completed with
/// `Disconnected`; a fresh future then works normally.
#[test]
fn polled_after_completion_panics_and_changes_nothing() {
    for strategy in PARKING {
        let (w1, _c1) = counting_waker();
        let (w2, _c2) = counting_waker();
        let q = Queue::<u32>::with_wait_strategy(2, strategy);
        q.push(1).unwrap();
        q.push(2).unwrap();
        let mut pop = q.pop_async();
        assert_eq!(poll_once(&mut pop, &w1), Poll::Ready(Ok(1)));
        assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut pop, &w2))).is_err());
        assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut pop, &w1))).is_err());
        drop(pop);
        assert_eq!(q.len(), 1);
        let mut push = q.push_async(3);
        assert_eq!(poll_once(&mut push, &w1), Poll::Ready(Ok(())));
        assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut push, &w2))).is_err());
        drop(push);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(2), Some(3), None));

        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(2, strategy);
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        {
            let mut pop = rx.pop_async();
            assert_eq!(poll_once(&mut pop, &w1), Poll::Ready(Ok(1)));
            assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut pop, &w2))).is_err());
        }
        assert_eq!(rx.len(), 1);
        assert_eq!(rx.pop(), Some(2));
        {
            let mut push = tx.push_async(3);
            assert_eq!(poll_once(&mut push, &w1), Poll::Ready(Ok(())));
            assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut push, &w2))).is_err());
        }
        assert_eq!(rx.len(), 1);
        drop(tx);
        {
            let mut pop = rx.pop_async();
            assert_eq!(poll_once(&mut pop, &w1), Poll::Ready(Ok(3)));
            assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut pop, &w1))).is_err());
        }
        {
            let mut pop = rx.pop_async();
            assert_eq!(poll_once(&mut pop, &w1), Poll::Ready(Err(Disconnected(()))));
            assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut pop, &w1))).is_err());
        }
        let (mut tx, rx) = channel_with_wait_strategy::<u32>(1, strategy);
        drop(rx);
        let mut push = tx.push_async(4);
        assert_eq!(poll_once(&mut push, &w1), Poll::Ready(Err(Disconnected(4))));
        assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut push, &w1))).is_err());
    }
}

// ---------------------------------------------------------------------------------
// 4. Wakers that panic in `clone` or `drop`.
// ---------------------------------------------------------------------------------

/// A waker that panics in `clone`: the poll panics, nothing is registered, and the
/// future still works with a good waker afterwards (MPMC and SPSC).
#[test]
fn waker_panicking_in_clone() {
    for strategy in PARKING {
        let q = Queue::<u32>::with_wait_strategy(1, strategy);
        let h = Hostile::new();
        h.set(false, true, false);
        let bad = hostile_waker(&h);
        let mut fut = q.pop_async();
        let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut, &bad)));
        assert_eq!(panic_msg(r.unwrap_err()), "hostile clone");
        assert_eq!(h.live(), 1);
        q.push(1).unwrap(); // nobody registered: no wake, no panic
        assert_eq!(h.wakes(), 0);
        let (good, c) = counting_waker();
        assert_eq!(poll_once(&mut fut, &good), Poll::Ready(Ok(1)));
        assert_eq!(c.count(), 0);

        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        {
            let mut fut = rx.pop_async();
            assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut, &bad))).is_err());
            assert!(poll_once(&mut fut, &good).is_pending());
            tx.push(2).unwrap();
            assert_eq!(c.count(), 1);
            assert_eq!(poll_once(&mut fut, &good), Poll::Ready(Ok(2)));
        }
        assert_eq!(h.live(), 1);
    }
}

/// A waker that panics in `drop`: replaced by another waker (the poll panics but the
/// new waker is registered and woken), and withdrawn by a dropped future (the drop
/// panics but the entry is gone and never woken).
/// A waker that panics in `drop`, MPMC and SPSC: replaced by another waker (the poll
/// returns `Pending`, the old waker is released, the new one is registered and woken),
/// and withdrawn by a dropped future (the drop returns, the entry is gone and never
/// woken).
#[test]
fn waker_panicking_in_drop() {
    for strategy in PARKING {
        let h = Hostile::new();
        let bad = hostile_waker(&h);
        h.set(false, false, true);
        let (good, c) = counting_waker();

        // MPMC, replaced.
        let q = Queue::<u32>::with_wait_strategy(2, strategy);
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &bad).is_pending());
        assert_eq!(h.live(), 2);
        assert!(poll_once(&mut fut, &good).is_pending());
        assert_eq!(
            h.live(),
            1,
            "{strategy:?}: the replaced waker is still held"
        );
        q.push(1).unwrap();
        assert_eq!((c.count(), h.wakes()), (1, 0));
        assert_eq!(poll_once(&mut fut, &good), Poll::Ready(Ok(1)));
        drop(fut);

        // MPMC, withdrawn by a cancelled future.
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &bad).is_pending());
        assert_eq!(h.live(), 2);
        drop(fut);
        assert_eq!(
            h.live(),
            1,
            "{strategy:?}: the withdrawn waker is still held"
        );
        q.push(2).unwrap();
        assert_eq!(
            (c.count(), h.wakes()),
            (1, 0),
            "a cancelled future's waker was woken"
        );
        assert_eq!((q.pop(), q.pop()), (Some(2), None));

        // SPSC, replaced, then withdrawn.
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(2, strategy);
        {
            let mut fut = rx.pop_async();
            assert!(poll_once(&mut fut, &bad).is_pending());
            assert!(poll_once(&mut fut, &good).is_pending());
            assert_eq!(
                h.live(),
                1,
                "{strategy:?}: the replaced waker is still held"
            );
            tx.push(3).unwrap();
            assert_eq!((c.count(), h.wakes()), (2, 0));
            assert_eq!(poll_once(&mut fut, &good), Poll::Ready(Ok(3)));
        }
        {
            let mut fut = rx.pop_async();
            assert!(poll_once(&mut fut, &bad).is_pending());
            assert_eq!(h.live(), 2);
        }
        assert_eq!(
            h.live(),
            1,
            "{strategy:?}: the withdrawn waker is still held"
        );
        tx.push(4).unwrap();
        assert_eq!((c.count(), h.wakes()), (2, 0));
        assert_eq!((rx.pop(), rx.pop()), (Some(4), None));

        h.set(false, false, false); // let `bad` itself drop quietly
        drop((bad, good));
        assert_eq!(
            (h.live(), Arc::strong_count(&h), Arc::strong_count(&c)),
            (0, 1, 1)
        );
    }
}

// ---------------------------------------------------------------------------------
// 5. Wakers that panic in `wake`: the panic stays inside the queue, the call that
//    woke the waker completes with its full effect, every other waiter is woken, and
//    no item is lost or doubled.
// ---------------------------------------------------------------------------------

/// Three wakers to register in this order: a good one, one that panics in `wake`, and
/// another good one (so a waiter both before and after the panic is checked).
struct Trio {
    before: Waker,
    hostile: Arc<Hostile>,
    after: Waker,
    counters: [Arc<WakeCounter>; 2],
}

impl Trio {
    fn new() -> Self {
        let (before, c_before) = counting_waker();
        let hostile = Hostile::new();
        hostile.set(true, false, false);
        let (after, c_after) = counting_waker();
        Trio {
            before,
            hostile,
            after,
            counters: [c_before, c_after],
        }
    }

    /// Wake-ups of the three, in registration order.
    fn wakes(&self) -> (usize, usize, usize) {
        let [b, a] = &self.counters;
        (b.count(), self.hostile.wakes(), a.count())
    }

    /// Registers the three wakers in order on `rx` with three pending pop futures: the
    /// first two are forgotten (so their entries stay listed), the third is returned.
    fn register_pops<'a>(&self, rx: &'a mut Consumer<u32>) -> PopFuture<'a, u32> {
        let mut first = rx.pop_async();
        assert!(poll_once(&mut first, &self.before).is_pending());
        std::mem::forget(first);
        let mut second = rx.pop_async();
        assert!(poll_once(&mut second, &hostile_waker(&self.hostile)).is_pending());
        std::mem::forget(second);
        let mut third = rx.pop_async();
        assert!(poll_once(&mut third, &self.after).is_pending());
        third
    }

    /// The same with three pending push futures of `values` on a full ring: the first
    /// two (and their values) are forgotten, the third is returned.
    fn register_pushes<'a, T>(&self, tx: &'a mut Producer<T>, values: [T; 3]) -> PushFuture<'a, T> {
        let [a, b, c] = values;
        let mut first = tx.push_async(a);
        assert!(poll_once(&mut first, &self.before).is_pending());
        std::mem::forget(first);
        let mut second = tx.push_async(b);
        assert!(poll_once(&mut second, &hostile_waker(&self.hostile)).is_pending());
        std::mem::forget(second);
        let mut third = tx.push_async(c);
        assert!(poll_once(&mut third, &self.after).is_pending());
        third
    }

    /// Checks that nothing holds a waker any more (the queue kept no clone).
    #[track_caller]
    fn assert_released(self) {
        let Trio {
            before,
            hostile,
            after,
            counters,
        } = self;
        drop((before, after));
        assert_eq!(hostile.live(), 0, "the hostile waker is still held");
        for c in &counters {
            assert_eq!(Arc::strong_count(c), 1, "a good waker is still held");
        }
    }
}

/// SPSC producer side: `push`, `push_slice`, `push_iter`, a write chunk's `commit`,
/// `fill_from_iter`, and the producer's drop, with three consumer futures registered
/// (the first two forgotten, so that all three are): a good one, one whose waker
/// panics in `wake`, and another good one. The operation returns normally with its
/// full effect, all three wakers ran once, and the items are in the ring, in order.
#[test]
fn spsc_producer_operations_with_a_panicking_consumer_waker() {
    type Op = fn(&mut ringway::spsc::Producer<u32>) -> usize;
    let ops: [(&str, Op, &[u32]); 5] = [
        (
            "push",
            |tx| {
                tx.push(7).unwrap();
                1
            },
            &[7],
        ),
        ("push_slice", |tx| tx.push_slice(&[7, 8]), &[7, 8]),
        ("push_iter", |tx| tx.push_iter([7, 8, 9]), &[7, 8, 9]),
        (
            "write chunk commit",
            |tx| {
                let mut chunk = tx.write_chunk_uninit(2).unwrap();
                let (a, b) = chunk.as_mut_slices();
                for (slot, v) in a.iter_mut().chain(b.iter_mut()).zip(7..) {
                    slot.write(v);
                }
                // SAFETY: both slots were written.
                unsafe { chunk.commit(2) };
                2
            },
            &[7, 8],
        ),
        (
            "fill_from_iter",
            |tx| tx.write_chunk_uninit(3).unwrap().fill_from_iter(7..),
            &[7, 8, 9],
        ),
    ];
    for strategy in PARKING {
        for (name, op, pushed) in ops {
            let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(4, strategy);
            let trio = Trio::new();
            let mut third = trio.register_pops(&mut rx);

            assert_eq!(op(&mut tx), pushed.len(), "{name}");
            assert_eq!(trio.wakes(), (1, 1, 1), "{name}: a waiter was skipped");
            assert_eq!(trio.hostile.live(), 0, "{name}");
            assert_eq!(
                poll_once(&mut third, &trio.after),
                Poll::Ready(Ok(7)),
                "{name}"
            );
            drop(third);
            // Nothing is registered any more: the next push wakes nobody.
            tx.push(100).unwrap();
            assert_eq!(trio.wakes(), (1, 1, 1), "{name}");
            let rest: Vec<u32> = rx.drain().collect();
            assert_eq!(rest, [&pushed[1..], &[100]].concat(), "{name}");
            trio.assert_released();
        }

        // The producer's drop.
        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(4, strategy);
        tx.push(1).unwrap();
        assert_eq!(rx.pop(), Some(1));
        let trio = Trio::new();
        let mut third = trio.register_pops(&mut rx);
        drop(tx);
        assert_eq!(
            trio.wakes(),
            (1, 1, 1),
            "{strategy:?}: a waiter was skipped"
        );
        assert_eq!(
            poll_once(&mut third, &trio.after),
            Poll::Ready(Err(Disconnected(())))
        );
        drop(third);
        assert!(rx.is_abandoned());
        trio.assert_released();
    }
}

/// SPSC consumer side: a read chunk's `commit_all` and `commit(1)`, a drain, a read
/// chunk iterated, and the consumer's drop, with three producer futures registered
/// (the first two forgotten, their values leaked): a good one, one whose waker panics
/// in `wake`, and another good one. The slots are freed, all three wakers ran once,
/// the last future then pushes, and every item but the two leaked ones is dropped
/// exactly once.
#[test]
fn spsc_consumer_operations_with_a_panicking_producer_waker() {
    for strategy in PARKING {
        for op in ["commit_all", "commit(1)", "drain", "read chunk iterated"] {
            let tracker = DropTracker::new();
            let (mut tx, mut rx) = channel_with_wait_strategy(2, strategy);
            tx.push(tracker.item()).unwrap(); // 0
            tx.push(tracker.item()).unwrap(); // 1
            let trio = Trio::new();
            // Items 2 and 3 are leaked with the forgotten futures; 4 is the third's.
            let items = [tracker.item(), tracker.item(), tracker.item()];
            let mut third = trio.register_pushes(&mut tx, items);

            let kept: Vec<_> = match op {
                "commit_all" => {
                    rx.read_chunk(2).unwrap().commit_all();
                    Vec::new()
                }
                "commit(1)" => {
                    rx.read_chunk(2).unwrap().commit(1);
                    Vec::new()
                }
                "drain" => rx.drain().collect(),
                _ => rx.read_chunk(2).unwrap().into_iter().collect(),
            };
            assert_eq!(trio.wakes(), (1, 1, 1), "{op}: a waiter was skipped");
            // The handed-out items are dropped here, once each.
            let kept: Vec<usize> = kept.into_iter().map(|t| t.id()).collect();
            let (expect_kept, expect_left): (&[usize], &[usize]) = match op {
                "commit_all" => (&[], &[4]),
                "commit(1)" => (&[], &[1, 4]),
                _ => (&[0, 1], &[4]),
            };
            assert_eq!(kept, expect_kept, "{op}");
            // Committed or handed-out items were dropped once, the rest untouched.
            assert_eq!(tracker.drops_of(0), 1, "{op}");
            assert_eq!(tracker.drops_of(1), u32::from(op != "commit(1)"), "{op}");
            assert_eq!(
                poll_once(&mut third, &trio.after),
                Poll::Ready(Ok(())),
                "{op}"
            );
            drop(third);
            let left: Vec<usize> = rx.drain().map(|t| t.id()).collect();
            assert_eq!(left, expect_left, "{op}");
            drop((tx, rx));
            tracker.assert_no_double_drop();
            assert_eq!(tracker.live_ids(), vec![2, 3], "{op}: lost or leaked items");
            trio.assert_released();
        }

        // The consumer's drop.
        let (mut tx, rx) = channel_with_wait_strategy::<u32>(1, strategy);
        tx.push(0).unwrap();
        let trio = Trio::new();
        let mut third = trio.register_pushes(&mut tx, [1, 2, 3]);
        drop(rx);
        assert_eq!(
            trio.wakes(),
            (1, 1, 1),
            "{strategy:?}: a waiter was skipped"
        );
        assert_eq!(
            poll_once(&mut third, &trio.after),
            Poll::Ready(Err(Disconnected(3)))
        );
        drop(third);
        assert!(tx.is_abandoned());
        trio.assert_released();
    }
}

/// MPMC: every publishing call (`push`, `push_slice`, `force_push`, `push_blocking`,
/// `push_timeout`, a push future's poll) with consumer futures registered with a
/// good waker, one that panics in `wake`, and another good one: the call returns
/// normally, all three are woken, and the items are queued once each.
#[test]
fn mpmc_publishers_with_a_panicking_waker_wake_everyone_else() {
    let ops = [
        "push",
        "push_slice",
        "force_push",
        "push_blocking",
        "push_timeout",
        "push_async",
    ];
    for strategy in PARKING {
        for op in ops {
            let q = Queue::<u32>::with_wait_strategy(2, strategy);
            let trio = Trio::new();
            let mut f1 = q.pop_async();
            assert!(poll_once(&mut f1, &trio.before).is_pending());
            let mut bad_fut = q.pop_async();
            assert!(poll_once(&mut bad_fut, &hostile_waker(&trio.hostile)).is_pending());
            let mut f2 = q.pop_async();
            assert!(poll_once(&mut f2, &trio.after).is_pending());
            let pushed = match op {
                "push" => {
                    assert_eq!(q.push(7), Ok(()));
                    vec![7]
                }
                "push_slice" => {
                    assert_eq!(q.push_slice(&[7, 8]), 2);
                    vec![7, 8]
                }
                "force_push" => {
                    assert_eq!(q.force_push(7), Ok(None));
                    vec![7]
                }
                "push_blocking" => {
                    q.push_blocking(7).unwrap();
                    vec![7]
                }
                "push_timeout" => {
                    assert_eq!(q.push_timeout(7, Duration::ZERO), Ok(()));
                    vec![7]
                }
                _ => {
                    let (w, c) = counting_waker();
                    assert_eq!(poll_once(&mut q.push_async(7), &w), Poll::Ready(Ok(())));
                    assert_eq!(c.count(), 0);
                    vec![7]
                }
            };
            assert_eq!(trio.wakes(), (1, 1, 1), "{op}: a waiter was skipped");
            assert_eq!(trio.hostile.live(), 0, "{op}");
            let mut got = Vec::new();
            for (f, w) in [(&mut f1, &trio.before), (&mut f2, &trio.after)] {
                if let Poll::Ready(v) = poll_once(f, w) {
                    got.push(v.unwrap());
                }
            }
            assert!(!got.is_empty(), "{op}: no woken future got an item");
            got.extend(std::iter::from_fn(|| q.pop()));
            got.sort_unstable();
            assert_eq!(got, pushed, "{op}");
            drop((f1, f2, bad_fut));
            trio.assert_released();
        }
    }
}

/// `close` with a consumer and a producer waker that panic in `wake` registered beside
/// good ones (pop futures on one queue, push futures on another): the close completes
/// and returns `true`, every other waiter is woken and resolves to `Disconnected` (the
/// pushes with their values), a thread parked beside them wakes too, and no waker is
/// held afterwards.
#[test]
fn close_wakes_everyone_despite_a_panicking_waker() {
    for strategy in PARKING {
        let empty = Arc::new(Queue::<u32>::with_wait_strategy(1, strategy));
        let trio = Trio::new();
        let mut before = empty.pop_async();
        assert!(poll_once(&mut before, &trio.before).is_pending());
        let mut bad = empty.pop_async();
        assert!(poll_once(&mut bad, &hostile_waker(&trio.hostile)).is_pending());
        let mut after = empty.pop_async();
        assert!(poll_once(&mut after, &trio.after).is_pending());
        let sleeper = thread::spawn({
            let q = Arc::clone(&empty);
            move || q.pop_blocking()
        });
        assert!(empty.close()); // the hostile waker panics inside
        assert_eq!(trio.wakes(), (1, 1, 1), "a waiter was skipped");
        let ok = trio.before.clone();
        for fut in [&mut before, &mut bad, &mut after] {
            assert_eq!(poll_once(fut, &ok), Poll::Ready(Err(Disconnected(()))));
        }
        assert_eq!(
            join_within_watchdog(sleeper, "pop_blocking beside a panicking waker"),
            Err(Disconnected(()))
        );
        drop((before, bad, after, ok));
        trio.assert_released();

        let full = Queue::<u32>::with_wait_strategy(1, strategy);
        full.push(0).unwrap();
        let trio = Trio::new();
        let mut before = full.push_async(1);
        assert!(poll_once(&mut before, &trio.before).is_pending());
        let mut bad = full.push_async(2);
        assert!(poll_once(&mut bad, &hostile_waker(&trio.hostile)).is_pending());
        let mut after = full.push_async(3);
        assert!(poll_once(&mut after, &trio.after).is_pending());
        assert!(full.close());
        assert_eq!(trio.wakes(), (1, 1, 1), "a waiter was skipped");
        let ok = trio.before.clone();
        for (fut, v) in [(&mut before, 1), (&mut bad, 2), (&mut after, 3)] {
            assert_eq!(poll_once(fut, &ok), Poll::Ready(Err(Disconnected(v))));
        }
        drop((before, bad, after, ok));
        assert_eq!((full.pop(), full.pop()), (Some(0), None));
        trio.assert_released();
    }
}

/// A pop that frees a slot wakes a producer whose waker panics in `wake`: the pop
/// returns the item it took (nothing lost, nothing dropped), the other producer
/// waiters are woken and complete, and every item is dropped exactly once. MPMC
/// `pop`, `pop_blocking`, `pop_timeout`, a pop future's poll, and `pop_slice`; SPSC
/// `pop`, `pop_blocking`, `pop_timeout`, a pop future's poll.
#[test]
fn pops_keep_their_item_when_a_producer_waker_panics() {
    let ops = ["pop", "pop_blocking", "pop_timeout", "pop_async"];
    for strategy in PARKING {
        for op in ops {
            let tracker = DropTracker::new();
            let q = Queue::with_wait_strategy(1, strategy);
            q.push(tracker.item()).unwrap(); // 0
            let trio = Trio::new();
            let mut p1 = q.push_async(tracker.item()); // 1
            assert!(poll_once(&mut p1, &trio.before).is_pending());
            let mut bad = q.push_async(tracker.item()); // 2
            assert!(poll_once(&mut bad, &hostile_waker(&trio.hostile)).is_pending());
            let mut p2 = q.push_async(tracker.item()); // 3
            assert!(poll_once(&mut p2, &trio.after).is_pending());
            let popped = match op {
                "pop" => q.pop(),
                "pop_blocking" => q.pop_blocking().ok(),
                "pop_timeout" => q.pop_timeout(Duration::ZERO).ok(),
                _ => match poll_once(&mut q.pop_async(), &trio.before) {
                    Poll::Ready(v) => v.ok(),
                    Poll::Pending => None,
                },
            };
            assert_eq!(popped.as_ref().map(|t| t.id()), Some(0), "MPMC {op}");
            assert_eq!(
                tracker.drops_of(0),
                0,
                "MPMC {op}: the popped item was dropped"
            );
            assert_eq!(trio.wakes(), (1, 1, 1), "MPMC {op}: a waiter was skipped");
            drop(popped);
            // The first woken producer takes the free slot, the next ones find it full.
            assert_eq!(
                poll_once(&mut p1, &trio.before),
                Poll::Ready(Ok(())),
                "MPMC {op}"
            );
            assert!(poll_once(&mut p2, &trio.after).is_pending());
            drop((p1, p2, bad)); // items 2 and 3 dropped with their futures
            assert_eq!(q.pop().map(|t| t.id()), Some(1), "MPMC {op}");
            assert!(q.is_empty());
            tracker.assert_all_dropped_once();
            trio.assert_released();
        }

        // MPMC `pop_slice` (a `Copy` item type).
        let q = Queue::<u32>::with_wait_strategy(2, strategy);
        assert_eq!(q.push_slice(&[1, 2]), 2);
        let trio = Trio::new();
        let mut p1 = q.push_async(3);
        assert!(poll_once(&mut p1, &trio.before).is_pending());
        let mut bad = q.push_async(4);
        assert!(poll_once(&mut bad, &hostile_waker(&trio.hostile)).is_pending());
        let mut p2 = q.push_async(5);
        assert!(poll_once(&mut p2, &trio.after).is_pending());
        let mut out = [0; 2];
        assert_eq!(q.pop_slice(&mut out), 2);
        assert_eq!(out, [1, 2]);
        assert_eq!(trio.wakes(), (1, 1, 1), "pop_slice: a waiter was skipped");
        assert_eq!(poll_once(&mut p1, &trio.before), Poll::Ready(Ok(())));
        assert_eq!(poll_once(&mut p2, &trio.after), Poll::Ready(Ok(())));
        drop((p1, p2, bad));
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(3), Some(5), None));
        trio.assert_released();

        // SPSC: one pending push future, whose waker panics in `wake`.
        for op in ops {
            let tracker = DropTracker::new();
            let h = Hostile::new();
            h.set(true, false, false);
            let (mut tx, mut rx) = channel_with_wait_strategy(1, strategy);
            tx.push(tracker.item()).unwrap(); // 0
            let mut push = tx.push_async(tracker.item()); // 1
            assert!(poll_once(&mut push, &hostile_waker(&h)).is_pending());
            let (w, c) = counting_waker();
            let popped = match op {
                "pop" => rx.pop(),
                "pop_blocking" => rx.pop_blocking().ok(),
                "pop_timeout" => rx.pop_timeout(Duration::ZERO).ok(),
                _ => match poll_once(&mut rx.pop_async(), &w) {
                    Poll::Ready(v) => v.ok(),
                    Poll::Pending => None,
                },
            };
            assert_eq!(popped.as_ref().map(|t| t.id()), Some(0), "SPSC {op}");
            assert_eq!(
                tracker.drops_of(0),
                0,
                "SPSC {op}: the popped item was dropped"
            );
            assert_eq!((h.wakes(), h.live(), c.count()), (1, 0, 0), "SPSC {op}");
            drop(popped);
            assert_eq!(poll_once(&mut push, &w), Poll::Ready(Ok(())), "SPSC {op}");
            drop(push);
            assert_eq!(rx.pop().map(|t| t.id()), Some(1), "SPSC {op}");
            drop((tx, rx));
            tracker.assert_all_dropped_once();
            drop(w);
            assert_eq!((Arc::strong_count(&h), Arc::strong_count(&c)), (1, 1));
        }
    }
}

/// MPMC: a queue dropped while it still lists the waker of a forgotten future, a waker
/// that panics in its drop: the queue's drop returns normally (the waker's panic goes
/// no further there either), and the queue's items are dropped once each.
#[test]
fn mpmc_queue_dropped_with_a_forgotten_waker_that_panics_in_drop() {
    for strategy in PARKING {
        let tracker = DropTracker::new();
        let h = Hostile::new();
        let q = Queue::with_wait_strategy(1, strategy);
        q.push(tracker.item()).unwrap();
        let mut push = q.push_async(tracker.item());
        assert!(poll_once(&mut push, &hostile_waker(&h)).is_pending());
        std::mem::forget(push); // item 1 leaked with it
        assert_eq!(h.live(), 1);
        h.set(false, false, true);
        let r = catch_unwind(AssertUnwindSafe(move || drop(q)));
        h.set(false, false, false);
        assert!(
            r.is_ok(),
            "{strategy:?}: the waker's panic came out of the queue's drop"
        );
        assert_eq!(h.live(), 0);
        assert_eq!(tracker.live_ids(), vec![1]);
        tracker.assert_no_double_drop();
    }
}

// ---------------------------------------------------------------------------------
// 6. Timed waits racing the other side.
// ---------------------------------------------------------------------------------

/// Two consumers doing `pop_timeout` with tiny random limits race a blocking
/// producer: every item is received exactly once, and after all those timed-out waits
/// an untimed `pop_blocking` is still woken. SPSC likewise, ending in `Disconnected`.
#[test]
fn timed_pops_racing_pushes_lose_nothing() {
    let items = n(2000, 20);
    for strategy in PARKING {
        let q = Arc::new(Queue::<usize>::with_wait_strategy(2, strategy));
        let received = Arc::new(AtomicUsize::new(0));
        let consumers: Vec<_> = (0..2u64)
            .map(|seed| {
                let (q, received) = (Arc::clone(&q), Arc::clone(&received));
                thread::spawn(move || {
                    let mut rng = Rng::new(seed);
                    let mut got = Vec::new();
                    loop {
                        if received.load(SeqCst) >= items {
                            // Only the stop markers are left.
                            assert_eq!(q.pop_blocking(), Ok(usize::MAX));
                            return got;
                        }
                        let t = Duration::from_micros(rng.below(50) as u64);
                        match q.pop_timeout(t) {
                            Ok(usize::MAX) => return got,
                            Ok(v) => {
                                got.push(v);
                                received.fetch_add(1, SeqCst);
                            }
                            Err(PopTimeoutError::Timeout) => {}
                            Err(e) => panic!("an MPMC queue reported {e:?}"),
                        }
                    }
                })
            })
            .collect();
        for i in 0..items {
            q.push_blocking(i).unwrap();
        }
        // Unblock both final `pop_blocking`s.
        q.push_blocking(usize::MAX).unwrap();
        q.push_blocking(usize::MAX).unwrap();
        let mut all = Vec::new();
        for c in consumers {
            all.extend(join_within_watchdog(c, "timed consumer"));
        }
        all.sort_unstable();
        assert_eq!(all, (0..items).collect::<Vec<_>>(), "{strategy:?}");

        // SPSC: timed pops racing a blocking producer, then `Disconnected`.
        let (mut tx, mut rx) = channel_with_wait_strategy::<usize>(1, strategy);
        let producer = thread::spawn(move || {
            for i in 0..items {
                tx.push_blocking(i).unwrap();
            }
        });
        let mut rng = Rng::new(3);
        let mut got = Vec::new();
        loop {
            match rx.pop_timeout(Duration::from_micros(rng.below(50) as u64)) {
                Ok(v) => got.push(v),
                Err(PopTimeoutError::Timeout) => {}
                Err(PopTimeoutError::Disconnected) => break,
            }
        }
        join_within_watchdog(producer, "SPSC producer");
        assert_eq!(got, (0..items).collect::<Vec<_>>());
        assert_eq!(rx.pop_blocking(), Err(Disconnected(())));
    }
}

/// A timed-out `pop_timeout` / `push_timeout` leaves nothing that disturbs later
/// waits: a future registered afterwards is woken exactly once per publish.
#[test]
fn timed_out_waits_leave_nothing_behind() {
    for strategy in PARKING {
        let q = Queue::<u32>::with_wait_strategy(1, strategy);
        let short = Duration::from_micros(10);
        for _ in 0..n(20, 2) {
            assert_eq!(q.pop_timeout(short), Err(PopTimeoutError::Timeout));
        }
        let (w, c) = counting_waker();
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &w).is_pending());
        q.push(1).unwrap();
        assert_eq!(c.count(), 1);
        assert_eq!(poll_once(&mut fut, &w), Poll::Ready(Ok(1)));
        drop(fut);
        q.push(2).unwrap();
        for _ in 0..n(20, 2) {
            assert!(q.push_timeout(3, short).is_err());
        }
        let mut push = q.push_async(4);
        assert!(poll_once(&mut push, &w).is_pending());
        assert_eq!(q.pop(), Some(2));
        assert_eq!(c.count(), 2);
        assert_eq!(poll_once(&mut push, &w), Poll::Ready(Ok(())));
        drop(push);
        assert_eq!(q.pop(), Some(4));
        drop(w);
        assert_eq!(Arc::strong_count(&c), 1);

        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        for _ in 0..n(20, 2) {
            assert_eq!(rx.pop_timeout(short), Err(PopTimeoutError::Timeout));
        }
        let t = thread::spawn(move || rx.pop_blocking());
        tx.push(9).unwrap();
        assert_eq!(
            join_within_watchdog(t, "pop_blocking after timeouts"),
            Ok(9)
        );
    }
}

/// A future polled (and registered) on one thread with one waker, then moved to
/// another thread and driven there by `block_on` with another waker, while a third
/// thread publishes: it completes (no lost wake-up), and the first waker is released.
#[test]
fn futures_moved_across_threads_and_wakers() {
    for strategy in PARKING {
        let q = Arc::new(Queue::<u32>::with_wait_strategy(1, strategy));
        let (w1, c1) = counting_waker();
        let mut fut = Box::pin({
            let q = Arc::clone(&q);
            async move { q.pop_async().await }
        });
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&w1))
            .is_pending());
        // (The future owns its own `Arc`, so it is 'static and can move.)
        let runner = thread::spawn(move || block_on(fut));
        let pusher = thread::spawn({
            let q = Arc::clone(&q);
            move || q.push_blocking(42).unwrap()
        });
        join_within_watchdog(pusher, "pusher");
        assert_eq!(
            join_within_watchdog(runner, "moved future"),
            Ok(42),
            "{strategy:?}"
        );
        assert!(c1.count() <= 1);
        drop(w1);
        assert_eq!(Arc::strong_count(&c1), 1, "the first waker is still held");

        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        let (w1, c1) = counting_waker();
        let runner = thread::spawn(move || {
            let mut fut = rx.pop_async();
            match poll_once(&mut fut, &w1) {
                Poll::Ready(v) => v, // the push came first
                Poll::Pending => block_on(fut),
            }
        });
        tx.push_blocking(7).unwrap();
        assert_eq!(join_within_watchdog(runner, "moved SPSC future"), Ok(7));
        assert_eq!(Arc::strong_count(&c1), 1);
    }
}

/// Extreme time limits: `Duration::MAX` waits like an untimed call (woken by the other
/// side), `Duration::ZERO` returns at once without leaving a registration behind.
#[test]
fn extreme_timeouts() {
    for strategy in PARKING {
        let q = Arc::new(Queue::<u32>::with_wait_strategy(1, strategy));
        assert_eq!(q.pop_timeout(Duration::ZERO), Err(PopTimeoutError::Timeout));
        let t = thread::spawn({
            let q = Arc::clone(&q);
            move || q.pop_timeout(Duration::MAX)
        });
        q.push_blocking(1).unwrap();
        assert_eq!(join_within_watchdog(t, "pop_timeout(MAX)"), Ok(1));
        q.push(2).unwrap();
        assert!(q.push_timeout(3, Duration::ZERO).is_err());
        let t = thread::spawn({
            let q = Arc::clone(&q);
            move || q.push_timeout(3, Duration::MAX)
        });
        assert_eq!(q.pop_blocking(), Ok(2));
        assert_eq!(join_within_watchdog(t, "push_timeout(MAX)"), Ok(()));
        assert_eq!(q.pop(), Some(3));

        let (mut tx, mut rx) = channel_with_wait_strategy::<u32>(1, strategy);
        assert_eq!(
            rx.pop_timeout(Duration::ZERO),
            Err(PopTimeoutError::Timeout)
        );
        let t = thread::spawn(move || {
            let first = rx.pop_timeout(Duration::MAX);
            (first, rx.pop_timeout(Duration::MAX))
        });
        tx.push(5).unwrap();
        drop(tx);
        assert_eq!(
            join_within_watchdog(t, "SPSC pop_timeout(MAX)"),
            (Ok(5), Err(PopTimeoutError::Disconnected))
        );
    }
}

// ---------------------------------------------------------------------------------
// 7. Wakers that panic in `wake` from destructors run during unwinding: the panic is
//    contained there too, so the process does not abort (child processes).
// ---------------------------------------------------------------------------------

/// Runs test `name` of this binary in a child process with `HOSTILE_CHILD` set, and
/// fails unless it ran that one test and exited successfully (an abort kills it).
fn assert_child_succeeds(name: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1"])
        .env("HOSTILE_CHILD", "1")
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}: the child failed ({}):\n{stdout}",
        out.status
    );
}

fn in_child() -> bool {
    std::env::var_os("HOSTILE_CHILD").is_some()
}

/// Child: a `Producer` dropped while its thread unwinds from an unrelated panic, with
/// a consumer future registered with a waker that panics in `wake`.
#[test]
fn child_producer_dropped_while_unwinding() {
    if !in_child() {
        return;
    }
    let (tx, mut rx) = channel_with_wait_strategy::<u32>(1, WaitStrategy::SpinPark { spins: 0 });
    let h = Hostile::new();
    h.set(true, false, false);
    let mut fut = rx.pop_async();
    assert!(poll_once(&mut fut, &hostile_waker(&h)).is_pending());
    let r = catch_unwind(AssertUnwindSafe(move || {
        let _tx = tx;
        panic!("unrelated panic while holding the producer");
    }));
    assert_eq!(
        panic_msg(r.unwrap_err()),
        "unrelated panic while holding the producer"
    );
    assert_eq!((h.wakes(), h.live()), (1, 0));
    let (w, _) = counting_waker();
    assert_eq!(poll_once(&mut fut, &w), Poll::Ready(Err(Disconnected(()))));
}

/// Child: an item whose `Drop` panics inside `ReadChunk::commit_all`, with a producer
/// future registered with a waker that panics in `wake`: the slots are released from
/// a drop guard during unwinding, which wakes the waker.
#[test]
fn child_read_chunk_commit_with_panicking_item_drop() {
    if !in_child() {
        return;
    }
    let tracker = DropTracker::new();
    let (mut tx, mut rx) = channel_with_wait_strategy(1, WaitStrategy::SpinPark { spins: 0 });
    tx.push(tracker.item_panicking()).unwrap();
    let h = Hostile::new();
    h.set(true, false, false);
    let mut fut = tx.push_async(tracker.item());
    assert!(poll_once(&mut fut, &hostile_waker(&h)).is_pending());
    let r = catch_unwind(AssertUnwindSafe(|| rx.read_chunk(1).unwrap().commit_all()));
    assert_eq!(
        panic_msg(r.unwrap_err()),
        "Tracked(0) panics in Drop, as asked"
    );
    assert_eq!((h.wakes(), h.live(), tracker.drops_of(0)), (1, 0, 1));
    assert!(rx.is_empty());
    let (w, _) = counting_waker();
    assert_eq!(poll_once(&mut fut, &w), Poll::Ready(Ok(())));
    drop(fut);
    assert_eq!(rx.pop().map(|t| t.id()), Some(1));
    tracker.assert_all_dropped_once();
}

/// Child: a `Drain` dropped while the consumer's loop over it unwinds, with a producer
/// future registered with a waker that panics in `wake`: the drain releases the slot
/// it handed out during unwinding, which wakes the waker.
#[test]
fn child_drain_dropped_while_unwinding() {
    if !in_child() {
        return;
    }
    let (mut tx, mut rx) =
        channel_with_wait_strategy::<u32>(2, WaitStrategy::SpinPark { spins: 0 });
    assert_eq!(tx.push_slice(&[0, 1]), 2);
    let h = Hostile::new();
    h.set(true, false, false);
    let mut fut = tx.push_async(2);
    assert!(poll_once(&mut fut, &hostile_waker(&h)).is_pending());
    let r = catch_unwind(AssertUnwindSafe(|| {
        for v in rx.drain() {
            assert_ne!(v, 0, "consumer panics mid-drain");
        }
    }));
    assert!(panic_msg(r.unwrap_err()).contains("consumer panics mid-drain"));
    assert_eq!((h.wakes(), h.live()), (1, 0));
    let (w, _) = counting_waker();
    assert_eq!(poll_once(&mut fut, &w), Poll::Ready(Ok(())));
    drop(fut);
    assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2]);
}

/// Child: `fill_from_iter` with an iterator that panics after one item, with a
/// consumer future registered with a waker that panics in `wake`: the item written is
/// published from a drop guard during unwinding, which wakes the waker.
#[test]
fn child_fill_from_iter_with_panicking_iterator() {
    if !in_child() {
        return;
    }
    let (mut tx, mut rx) =
        channel_with_wait_strategy::<u32>(2, WaitStrategy::SpinPark { spins: 0 });
    let h = Hostile::new();
    h.set(true, false, false);
    let mut fut = rx.pop_async();
    assert!(poll_once(&mut fut, &hostile_waker(&h)).is_pending());
    let r = catch_unwind(AssertUnwindSafe(|| {
        let chunk = tx.write_chunk_uninit(2).unwrap();
        chunk.fill_from_iter((5..).inspect(|&v| assert_ne!(v, 6, "iterator panics")))
    }));
    assert!(panic_msg(r.unwrap_err()).contains("iterator panics"));
    assert_eq!((h.wakes(), h.live()), (1, 0));
    let (w, _) = counting_waker();
    assert_eq!(poll_once(&mut fut, &w), Poll::Ready(Ok(5)));
    drop(fut);
    assert!(rx.is_empty());
    assert_eq!(tx.len(), 0);
}

/// A waker panicking in `wake` from a destructor that runs during unwinding (a half
/// dropped by an unrelated panic, the drop guards of `ReadChunk::commit_all`, `Drain`
/// and `fill_from_iter`) is contained like any other: each child process runs its
/// test to success instead of aborting on a panic escaping a drop during cleanup.
#[test]
fn waker_panics_during_unwinding_do_not_abort() {
    if cfg!(miri) {
        return; // no child processes under Miri
    }
    for name in [
        "child_producer_dropped_while_unwinding",
        "child_read_chunk_commit_with_panicking_item_drop",
        "child_drain_dropped_while_unwinding",
        "child_fill_from_iter_with_panicking_iterator",
    ] {
        assert_child_succeeds(name);
    }
}
