//! Black-box tests of the wake-up protocol against hostile but ordinary users: wakers
//! that poll inline, drop things, or panic in `wake`, `clone` or `drop`; futures that
//! are moved, re-polled with other wakers, cancelled, forgotten or polled after
//! completion; timed waits racing the other side. Public API only.
//!
//! Tests named `defect_*` are `#[ignore]`d reproducers of defects found in review: they
//! fail (or abort a child process) against the reviewed code.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{block_on, counting_waker, join_within_watchdog, poll_once, DropTracker, Rng};
use ringway::mpmc::Queue;
use ringway::spsc::channel_with;
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
// An inline executor: `wake` polls the task on the waking thread, handling wake-ups
// that arrive while the task is being polled (no lost wake-up in the executor).
// ---------------------------------------------------------------------------------

struct InlineTask {
    future: Mutex<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>,
    notified: AtomicBool,
}

impl InlineTask {
    fn spawn(future: impl Future<Output = ()> + Send + 'static) -> Arc<Self> {
        let task = Arc::new(InlineTask {
            future: Mutex::new(Some(Box::pin(future))),
            notified: AtomicBool::new(false),
        });
        Waker::from(Arc::clone(&task)).wake();
        task
    }

    fn is_done(&self) -> bool {
        self.future.lock().unwrap().is_none()
    }
}

impl Wake for InlineTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, SeqCst);
        loop {
            // Busy: the thread polling it sees `notified` and polls again.
            let Ok(mut slot) = self.future.try_lock() else {
                return;
            };
            if !self.notified.swap(false, SeqCst) {
                return;
            }
            let waker = Waker::from(Arc::clone(self));
            if let Some(f) = slot.as_mut() {
                if f.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                    *slot = None;
                }
            }
            drop(slot);
            if !self.notified.load(SeqCst) {
                return;
            }
        }
    }
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
                    let v = ping.pop_async().await;
                    if v == u32::MAX {
                        return;
                    }
                    pong.push_async(v).await;
                }
            }
        });
        let driver = InlineTask::spawn({
            let (ping, pong, seen) = (Arc::clone(&ping), Arc::clone(&pong), Arc::clone(&seen));
            async move {
                for i in 0..rounds {
                    ping.push_async(i).await;
                    let v = pong.pop_async().await;
                    seen.lock().unwrap().push(v);
                }
                ping.push_async(u32::MAX).await;
            }
        });
        // Everything ran inline from the spawns: nothing else polls them.
        assert!(driver.is_done() && echo.is_done(), "{strategy:?}: a task stalled");
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
        let (mut ping_tx, mut ping_rx) = channel_with::<u32>(1, strategy);
        let (mut pong_tx, mut pong_rx) = channel_with::<u32>(1, strategy);
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
                        let v = q.pop_async().await;
                        seen.lock().unwrap().push(v);
                        if v >= limit {
                            // Pass the stop marker on so the next task stops too.
                            q.push_async(v).await;
                            return;
                        }
                        q.push_async(v + 1).await;
                    }
                })
            })
            .collect();
        q.push(0).unwrap();
        assert!(tasks.iter().all(|t| t.is_done()), "{strategy:?}: a relay stalled");
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
                    q.pop_async().await;
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
        assert_eq!(Arc::strong_count(&q), 1, "a dropped task still holds the queue");
        assert_eq!(poll_once(&mut after, &w_after), Poll::Ready(1));
        assert!(poll_once(&mut before, &w_before).is_pending());
        q.push(2).unwrap();
        assert_eq!(c_before.count(), 2);
        assert_eq!(poll_once(&mut before, &w_before), Poll::Ready(2));
        drop((before, after));
        drop((w_before, w_after));
        assert_eq!((Arc::strong_count(&c_before), Arc::strong_count(&c_after)), (1, 1));
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
        let (mut tx, mut rx) = channel_with(2, strategy);
        let d = Dropper::new(async move {
            let _ = rx.pop_async().await;
            unreachable!();
        });
        assert!(d.poll().is_pending());
        tx.push(tracker.item()).unwrap();
        assert_eq!(d.woken.load(SeqCst), 1);
        assert!(tx.is_abandoned(), "{strategy:?}: the consumer was not dropped");
        let (w, c) = counting_waker();
        let mut fut = tx.push_async(tracker.item());
        assert!(matches!(poll_once(&mut fut, &w), Poll::Ready(Err(Disconnected(_)))));
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
        let (mut tx, mut rx) = channel_with::<u32>(1, strategy);
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
        assert_eq!(h.live(), 1 + 4, "{strategy:?}: cancelled futures left wakers");
        q.push(10).unwrap();
        assert_eq!(h.wakes(), 4, "{strategy:?}: a live future was not woken");
        assert_eq!(h.live(), 1);
        let mut got = Vec::new();
        let mut value = 11;
        while futs.iter().any(Option::is_some) {
            for f in futs.iter_mut() {
                if let Some(fut) = f {
                    if let Poll::Ready(v) = poll_once(fut, &waker) {
                        got.push(v);
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
            move || (0..items).for_each(|i| q.push_blocking(i))
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
            got.push(v);
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
        assert_eq!(poll_once(&mut fut, &w), Poll::Ready(5));
        drop(fut);
        assert_eq!(h.live(), 1);

        // Forgotten pending futures (SPSC pop and MPMC pop): the wakers stay until
        // the next notification, which wakes and releases all of them.
        let (mut tx, mut rx) = channel_with::<u32>(1, strategy);
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
        assert_eq!(poll_once(&mut pop, &w1), Poll::Ready(1));
        assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut pop, &w2))).is_err());
        assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut pop, &w1))).is_err());
        drop(pop);
        assert_eq!(q.len(), 1);
        let mut push = q.push_async(3);
        assert_eq!(poll_once(&mut push, &w1), Poll::Ready(()));
        assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut push, &w2))).is_err());
        drop(push);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(2), Some(3), None));

        let (mut tx, mut rx) = channel_with::<u32>(2, strategy);
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
        let (mut tx, rx) = channel_with::<u32>(1, strategy);
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
        assert_eq!(poll_once(&mut fut, &good), Poll::Ready(1));
        assert_eq!(c.count(), 0);

        let (mut tx, mut rx) = channel_with::<u32>(1, strategy);
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
#[test]
fn waker_panicking_in_drop() {
    for strategy in PARKING {
        let q = Queue::<u32>::with_wait_strategy(2, strategy);
        let h = Hostile::new();
        let bad = hostile_waker(&h);
        h.set(false, false, true);
        let (good, c) = counting_waker();

        // Replaced.
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &bad).is_pending());
        let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut, &good)));
        assert_eq!(panic_msg(r.unwrap_err()), "hostile drop");
        assert_eq!(h.live(), 1);
        q.push(1).unwrap();
        assert_eq!((c.count(), h.wakes()), (1, 0));
        assert_eq!(poll_once(&mut fut, &good), Poll::Ready(1));
        drop(fut);

        // Withdrawn by a cancelled future.
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &bad).is_pending());
        let r = catch_unwind(AssertUnwindSafe(move || drop(fut)));
        assert_eq!(panic_msg(r.unwrap_err()), "hostile drop");
        assert_eq!(h.live(), 1);
        q.push(2).unwrap();
        assert_eq!(h.wakes(), 0, "a cancelled future's waker was woken");
        assert_eq!(q.pop(), Some(2));
        assert!(q.is_empty());
        h.set(false, false, false); // let `bad` itself drop quietly
    }
}

// ---------------------------------------------------------------------------------
// 5. Wakers that panic in `wake`: the publishing call panics after publishing, every
//    other waiter is woken, and the queue stays consistent.
// ---------------------------------------------------------------------------------

/// SPSC producer side: `push`, `push_slice`, `push_iter`, a write chunk's `commit`,
/// `fill_from_iter`, and the producer's drop each wake a panicking waker registered
/// beside a good one (two consumer futures, the first forgotten so both are
/// registered). The panic comes out, the items are in the ring, the good waker ran.
#[test]
fn spsc_producer_operations_with_a_panicking_consumer_waker() {
    type Op = fn(&mut ringway::spsc::Producer<u32>) -> usize;
    let ops: [(&str, Op); 5] = [
        ("push", |tx| {
            tx.push(7).unwrap();
            1
        }),
        ("push_slice", |tx| tx.push_slice(&[7, 8])),
        ("push_iter", |tx| tx.push_iter([7, 8, 9])),
        ("write chunk commit", |tx| {
            let mut chunk = tx.write_chunk_uninit(2).unwrap();
            let (a, b) = chunk.as_mut_slices();
            a.iter_mut().chain(b.iter_mut()).for_each(|s| {
                s.write(7);
            });
            // SAFETY: both slots were written.
            unsafe { chunk.commit(2) };
            2
        }),
        ("fill_from_iter", |tx| tx.write_chunk_uninit(3).unwrap().fill_from_iter(7..)),
    ];
    for strategy in PARKING {
        for (name, op) in ops {
            let (mut tx, mut rx) = channel_with::<u32>(4, strategy);
            let h = Hostile::new();
            h.set(true, false, false);
            let (good, c) = counting_waker();
            let mut first = rx.pop_async();
            assert!(poll_once(&mut first, &hostile_waker(&h)).is_pending());
            std::mem::forget(first);
            let mut second = rx.pop_async();
            assert!(poll_once(&mut second, &good).is_pending());
            let mut pushed = 0;
            let r = catch_unwind(AssertUnwindSafe(|| pushed = op(&mut tx)));
            assert_eq!(panic_msg(r.unwrap_err()), "hostile wake", "{name}");
            assert_eq!((h.wakes(), c.count()), (1, 1), "{name}: a waiter was skipped");
            assert_eq!(h.live(), 0);
            assert!(matches!(poll_once(&mut second, &good), Poll::Ready(Ok(7))), "{name}");
            drop(second);
            // `pushed` was not set (the op panicked): count what is in the ring.
            assert_eq!(pushed, 0);
            let expected = match name {
                "push" => 1,
                "push_slice" | "write chunk commit" => 2,
                _ => 3,
            };
            assert_eq!((rx.len(), tx.len()), (expected - 1, expected - 1), "{name}");
            // Nothing registered any more: the next push does not panic.
            tx.push(100).unwrap();
            let rest: Vec<u32> = rx.drain().collect();
            let mut want: Vec<u32> = (8..7 + expected as u32).collect();
            if name == "write chunk commit" {
                want = vec![7];
            }
            want.push(100);
            assert_eq!(rest, want, "{name}");
        }

        // The producer's drop.
        let (tx, mut rx) = channel_with::<u32>(4, strategy);
        let h = Hostile::new();
        h.set(true, false, false);
        let (good, c) = counting_waker();
        let mut first = rx.pop_async();
        assert!(poll_once(&mut first, &hostile_waker(&h)).is_pending());
        std::mem::forget(first);
        let mut second = rx.pop_async();
        assert!(poll_once(&mut second, &good).is_pending());
        let r = catch_unwind(AssertUnwindSafe(move || drop(tx)));
        assert_eq!(panic_msg(r.unwrap_err()), "hostile wake");
        assert_eq!((h.wakes(), c.count()), (1, 1));
        assert_eq!(poll_once(&mut second, &good), Poll::Ready(Err(Disconnected(()))));
    }
}

/// SPSC consumer side: `read_chunk` commit, a drain's drop, `pop_slice`, and the
/// consumer's drop, with a panicking producer waker beside a good one: the panic comes
/// out after the slots were freed, the good waker ran, no item is lost or doubled.
#[test]
fn spsc_consumer_operations_with_a_panicking_producer_waker() {
    for strategy in PARKING {
        for op in 0..4 {
            let tracker = DropTracker::new();
            let (mut tx, mut rx) = channel_with(2, strategy);
            tx.push(tracker.item()).unwrap();
            tx.push(tracker.item()).unwrap();
            let h = Hostile::new();
            h.set(true, false, false);
            let (good, c) = counting_waker();
            let mut first = tx.push_async(tracker.item());
            assert!(poll_once(&mut first, &hostile_waker(&h)).is_pending());
            std::mem::forget(first); // its value is leaked
            let mut second = tx.push_async(tracker.item());
            assert!(poll_once(&mut second, &good).is_pending());
            let mut kept = Vec::new();
            let r = catch_unwind(AssertUnwindSafe(|| match op {
                0 => rx.read_chunk(2).unwrap().commit_all(),
                1 => kept.extend(rx.drain()),
                2 => {
                    let chunk = rx.read_chunk(2).unwrap();
                    kept.extend(chunk);
                }
                _ => {
                    rx.read_chunk(2).unwrap().commit(1);
                }
            }));
            assert_eq!(panic_msg(r.unwrap_err()), "hostile wake", "op {op}");
            assert_eq!((h.wakes(), c.count()), (1, 1), "op {op}");
            assert!(poll_once(&mut second, &good).is_ready());
            drop(second);
            drop(kept);
            let left: Vec<_> = rx.drain().collect();
            let expected_left = if op == 3 { 2 } else { 1 };
            assert_eq!(left.len(), expected_left, "op {op}");
            drop(left);
            drop((tx, rx));
            // Item 2 was leaked with the forgotten future; every other item is dropped
            // exactly once.
            tracker.assert_no_double_drop();
            assert_eq!(tracker.live_ids(), vec![2], "op {op}");
        }

        // The consumer's drop.
        let (mut tx, rx) = channel_with::<u32>(1, strategy);
        tx.push(0).unwrap();
        let h = Hostile::new();
        h.set(true, false, false);
        let (good, c) = counting_waker();
        let mut first = tx.push_async(1);
        assert!(poll_once(&mut first, &hostile_waker(&h)).is_pending());
        std::mem::forget(first);
        let mut second = tx.push_async(2);
        assert!(poll_once(&mut second, &good).is_pending());
        let r = catch_unwind(AssertUnwindSafe(move || drop(rx)));
        assert_eq!(panic_msg(r.unwrap_err()), "hostile wake");
        assert_eq!((h.wakes(), c.count()), (1, 1));
        assert_eq!(poll_once(&mut second, &good), Poll::Ready(Err(Disconnected(2))));
    }
}

/// MPMC: `push`, `push_slice`, `force_push` with a panicking consumer waker between
/// two good futures: the panic comes out, the items are queued, both good futures are
/// woken, and no item is lost or doubled.
#[test]
fn mpmc_publishers_with_a_panicking_waker_wake_everyone_else() {
    for strategy in PARKING {
        for op in 0..3 {
            let q = Queue::<u32>::with_wait_strategy(2, strategy);
            let (g1, c1) = counting_waker();
            let mut f1 = q.pop_async();
            assert!(poll_once(&mut f1, &g1).is_pending());
            let h = Hostile::new();
            h.set(true, false, false);
            let mut bad_fut = q.pop_async();
            assert!(poll_once(&mut bad_fut, &hostile_waker(&h)).is_pending());
            let (g2, c2) = counting_waker();
            let mut f2 = q.pop_async();
            assert!(poll_once(&mut f2, &g2).is_pending());
            let (r, pushed) = match op {
                0 => (catch_unwind(AssertUnwindSafe(|| q.push(7).unwrap())), vec![7]),
                1 => (
                    catch_unwind(AssertUnwindSafe(|| assert_eq!(q.push_slice(&[7, 8]), 2))),
                    vec![7, 8],
                ),
                _ => (
                    catch_unwind(AssertUnwindSafe(|| assert_eq!(q.force_push(7), None))),
                    vec![7],
                ),
            };
            assert_eq!(panic_msg(r.unwrap_err()), "hostile wake", "op {op}");
            assert_eq!((c1.count(), h.wakes(), c2.count()), (1, 1, 1), "op {op}");
            assert_eq!(h.live(), 0);
            let mut got = Vec::new();
            for (f, g) in [(&mut f1, &g1), (&mut f2, &g2)] {
                if let Poll::Ready(v) = poll_once(f, g) {
                    got.push(v);
                }
            }
            got.extend(std::iter::from_fn(|| q.pop()));
            got.sort_unstable();
            assert_eq!(got, pushed, "op {op}");
            drop((f1, f2, bad_fut));
            drop((g1, g2));
            assert_eq!((Arc::strong_count(&c1), Arc::strong_count(&c2)), (1, 1));
        }
    }
}

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
                            assert_eq!(q.pop_blocking(), usize::MAX);
                            return got;
                        }
                        let t = Duration::from_micros(rng.below(50) as u64);
                        match q.pop_timeout(t) {
                            Some(usize::MAX) => return got,
                            Some(v) => {
                                got.push(v);
                                received.fetch_add(1, SeqCst);
                            }
                            None => {}
                        }
                    }
                })
            })
            .collect();
        for i in 0..items {
            q.push_blocking(i);
        }
        // Unblock both final `pop_blocking`s.
        q.push_blocking(usize::MAX);
        q.push_blocking(usize::MAX);
        let mut all = Vec::new();
        for c in consumers {
            all.extend(join_within_watchdog(c, "timed consumer"));
        }
        all.sort_unstable();
        assert_eq!(all, (0..items).collect::<Vec<_>>(), "{strategy:?}");

        // SPSC: timed pops racing a blocking producer, then `Disconnected`.
        let (mut tx, mut rx) = channel_with::<usize>(1, strategy);
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
            assert_eq!(q.pop_timeout(short), None);
        }
        let (w, c) = counting_waker();
        let mut fut = q.pop_async();
        assert!(poll_once(&mut fut, &w).is_pending());
        q.push(1).unwrap();
        assert_eq!(c.count(), 1);
        assert_eq!(poll_once(&mut fut, &w), Poll::Ready(1));
        drop(fut);
        q.push(2).unwrap();
        for _ in 0..n(20, 2) {
            assert!(q.push_timeout(3, short).is_err());
        }
        let mut push = q.push_async(4);
        assert!(poll_once(&mut push, &w).is_pending());
        assert_eq!(q.pop(), Some(2));
        assert_eq!(c.count(), 2);
        assert_eq!(poll_once(&mut push, &w), Poll::Ready(()));
        drop(push);
        assert_eq!(q.pop(), Some(4));
        drop(w);
        assert_eq!(Arc::strong_count(&c), 1);

        let (mut tx, mut rx) = channel_with::<u32>(1, strategy);
        for _ in 0..n(20, 2) {
            assert_eq!(rx.pop_timeout(short), Err(PopTimeoutError::Timeout));
        }
        let t = thread::spawn(move || rx.pop_blocking());
        tx.push(9).unwrap();
        assert_eq!(join_within_watchdog(t, "pop_blocking after timeouts"), Ok(9));
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
        assert!(fut.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
        // (The future owns its own `Arc`, so it is 'static and can move.)
        let runner = thread::spawn(move || block_on(fut));
        let pusher = thread::spawn({
            let q = Arc::clone(&q);
            move || q.push_blocking(42)
        });
        join_within_watchdog(pusher, "pusher");
        assert_eq!(join_within_watchdog(runner, "moved future"), 42, "{strategy:?}");
        assert!(c1.count() <= 1);
        drop(w1);
        assert_eq!(Arc::strong_count(&c1), 1, "the first waker is still held");

        let (mut tx, mut rx) = channel_with::<u32>(1, strategy);
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
        assert_eq!(q.pop_timeout(Duration::ZERO), None);
        let t = thread::spawn({
            let q = Arc::clone(&q);
            move || q.pop_timeout(Duration::MAX)
        });
        q.push_blocking(1);
        assert_eq!(join_within_watchdog(t, "pop_timeout(MAX)"), Some(1));
        q.push(2).unwrap();
        assert!(q.push_timeout(3, Duration::ZERO).is_err());
        let t = thread::spawn({
            let q = Arc::clone(&q);
            move || q.push_timeout(3, Duration::MAX)
        });
        assert_eq!(q.pop_blocking(), 2);
        assert_eq!(join_within_watchdog(t, "push_timeout(MAX)"), Ok(()));
        assert_eq!(q.pop(), Some(3));

        let (mut tx, mut rx) = channel_with::<u32>(1, strategy);
        assert_eq!(rx.pop_timeout(Duration::ZERO), Err(PopTimeoutError::Timeout));
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
// Defect reproducers (ignored: they fail against the reviewed code).
// ---------------------------------------------------------------------------------

/// DEFECT 1: a waker panicking in `wake` during `pop` (it is a producer's waker,
/// woken because a slot was freed) makes `pop` unwind after the item was moved out of
/// the queue: the item is dropped by the unwinding, lost to every consumer. Same for
/// `pop_blocking`, `pop_timeout` and a pop future's poll, SPSC and MPMC.
#[test]
#[ignore = "defect: a panicking producer waker makes pop drop the popped item"]
fn defect_pop_loses_the_item_when_a_waker_panics() {
    let tracker = DropTracker::new();
    let q = Queue::with_wait_strategy(1, WaitStrategy::SpinPark { spins: 0 });
    q.push(tracker.item()).unwrap();
    let h = Hostile::new();
    h.set(true, false, false);
    let mut push = q.push_async(tracker.item());
    assert!(poll_once(&mut push, &hostile_waker(&h)).is_pending());
    let r = catch_unwind(AssertUnwindSafe(|| q.pop()));
    assert!(r.is_err());
    // Item 0 left the queue, and nobody has it.
    assert_eq!(q.len(), 0);
    assert_eq!(
        tracker.drops_of(0),
        0,
        "item 0 was popped and dropped by the unwinding: lost"
    );
}

/// Same, SPSC, through `pop_blocking`.
#[test]
#[ignore = "defect: a panicking producer waker makes pop_blocking drop the popped item"]
fn defect_spsc_pop_blocking_loses_the_item_when_a_waker_panics() {
    let tracker = DropTracker::new();
    let (mut tx, mut rx) = channel_with(1, WaitStrategy::SpinPark { spins: 0 });
    tx.push(tracker.item()).unwrap();
    let h = Hostile::new();
    h.set(true, false, false);
    {
        let mut push = tx.push_async(tracker.item());
        assert!(poll_once(&mut push, &hostile_waker(&h)).is_pending());
        std::mem::forget(push); // keep item 1 out of the accounting
    }
    let r = catch_unwind(AssertUnwindSafe(|| rx.pop_blocking()));
    assert!(r.is_err());
    assert_eq!(rx.len(), 0);
    assert_eq!(tracker.drops_of(0), 0, "item 0 was popped and dropped: lost");
}

/// Runs test `name` of this binary in a child process with `HOSTILE_CHILD` set and
/// returns whether it exited successfully (an abort kills it).
fn child_succeeds(name: &str) -> bool {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env("HOSTILE_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    status.success()
}

fn in_child() -> bool {
    std::env::var_os("HOSTILE_CHILD").is_some()
}

/// Child of the test below: a `Producer` dropped while its thread unwinds from an
/// unrelated panic, with a consumer future registered with a waker that panics in
/// `wake`. The producer's drop resumes the waker's panic during unwinding.
#[test]
fn child_producer_dropped_while_unwinding() {
    if !in_child() {
        return;
    }
    let (tx, mut rx) = channel_with::<u32>(1, WaitStrategy::SpinPark { spins: 0 });
    let h = Hostile::new();
    h.set(true, false, false);
    let mut fut = rx.pop_async();
    assert!(poll_once(&mut fut, &hostile_waker(&h)).is_pending());
    let r = catch_unwind(AssertUnwindSafe(move || {
        let _tx = tx;
        panic!("unrelated panic while holding the producer");
    }));
    assert!(r.is_err());
}

/// Child: an item whose `Drop` panics inside `ReadChunk::commit`, with a producer
/// future registered with a waker that panics in `wake`: the slots are released from
/// a drop guard during unwinding, which resumes the waker's panic.
#[test]
fn child_read_chunk_commit_with_panicking_item_drop() {
    if !in_child() {
        return;
    }
    let tracker = DropTracker::new();
    let (mut tx, mut rx) = channel_with(1, WaitStrategy::SpinPark { spins: 0 });
    tx.push(tracker.item_panicking()).unwrap();
    let h = Hostile::new();
    h.set(true, false, false);
    let mut fut = tx.push_async(tracker.item());
    assert!(poll_once(&mut fut, &hostile_waker(&h)).is_pending());
    std::mem::forget(fut);
    let r = catch_unwind(AssertUnwindSafe(|| rx.read_chunk(1).unwrap().commit_all()));
    assert!(r.is_err());
}

/// DEFECT 2: the first waker panic is resumed by `wake_all` even when the notifying
/// call runs in a destructor during unwinding (a half dropped by an unrelated panic,
/// the drop guards of `ReadChunk::commit`, `fill_from_iter`, `Drain`), which is a
/// panic escaping a drop during cleanup: the process aborts.
#[test]
#[ignore = "defect: a waker panic during unwinding aborts the process"]
fn defect_waker_panic_while_unwinding_aborts() {
    if cfg!(miri) {
        return; // no child processes under Miri
    }
    assert!(
        child_succeeds("child_producer_dropped_while_unwinding"),
        "aborted: producer dropped during unwinding"
    );
    assert!(
        child_succeeds("child_read_chunk_commit_with_panicking_item_drop"),
        "aborted: read chunk commit with a panicking item drop"
    );
}
