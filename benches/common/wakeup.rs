//! Wake-up latency: the round trip through two queues when the side that answers has
//! been idle for a while, waiting in its queue's blocking receive (spinning, yielding
//! or asleep, as its wait strategy says).
//!
//! Thread A (core A) busy-waits `gap` on its own clock, then takes a timestamp, sends a
//! token and waits for the answer with the same blocking receive; thread B (core B)
//! answers every token at once. With a gap far above the spin budget, a parking
//! receiver is asleep when the token arrives, so the round trip includes the sender's
//! wake-up call and the scheduler's wake-up of B. Every contender waits only through
//! its own blocking operations (no harness spin loop), with the same gap, item type,
//! capacity and pinning.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use quanta::Clock;
use ringway::WaitStrategy;

use crate::common::{pin, Cores};

/// A queue pair with blocking send and receive.
pub trait Blocking {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &mut Self::Tx, v: u64);
    fn recv(rx: &mut Self::Rx) -> u64;
}

/// A ringway wait strategy, as a type.
pub trait Strategy {
    const STRATEGY: WaitStrategy;
}

pub struct Busy;
impl Strategy for Busy {
    const STRATEGY: WaitStrategy = WaitStrategy::BusySpin;
}
pub struct Yield;
impl Strategy for Yield {
    const STRATEGY: WaitStrategy = WaitStrategy::SPIN_YIELD;
}
pub struct Park;
impl Strategy for Park {
    const STRATEGY: WaitStrategy = WaitStrategy::SpinPark {
        spins: WaitStrategy::DEFAULT_SPINS,
    };
}
pub struct ParkNow;
impl Strategy for ParkNow {
    const STRATEGY: WaitStrategy = WaitStrategy::SpinPark { spins: 0 };
}

/// ringway's SPSC ring built with strategy `S`.
pub struct RingwaySpsc<S>(std::marker::PhantomData<S>);
impl<S: Strategy> Blocking for RingwaySpsc<S> {
    type Tx = ringway::spsc::Producer<u64>;
    type Rx = ringway::spsc::Consumer<u64>;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        ringway::spsc::channel_with_wait_strategy(capacity, S::STRATEGY)
    }
    #[inline(always)]
    fn send(tx: &mut Self::Tx, v: u64) {
        tx.push_blocking(v).expect("the answering thread is alive");
    }
    #[inline(always)]
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.pop_blocking().expect("the other thread is alive")
    }
}

/// ringway's MPMC queue built with strategy `S`, used by one thread on each side.
pub struct RingwayMpmc<S>(std::marker::PhantomData<S>);
impl<S: Strategy> Blocking for RingwayMpmc<S> {
    type Tx = Arc<ringway::mpmc::Queue<u64>>;
    type Rx = Arc<ringway::mpmc::Queue<u64>>;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(ringway::mpmc::Queue::with_wait_strategy(
            capacity,
            S::STRATEGY,
        ));
        (Arc::clone(&q), q)
    }
    #[inline(always)]
    fn send(tx: &mut Self::Tx, v: u64) {
        tx.push_blocking(v).expect("the queue is not closed");
    }
    #[inline(always)]
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.pop_blocking().expect("the queue is not closed")
    }
}

pub struct CrossbeamChannel;
impl Blocking for CrossbeamChannel {
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(capacity)
    }
    #[inline(always)]
    fn send(tx: &mut Self::Tx, v: u64) {
        tx.send(v).expect("the answering thread is alive");
    }
    #[inline(always)]
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("the other thread is alive")
    }
}

pub struct StdSyncChannel;
impl Blocking for StdSyncChannel {
    type Tx = mpsc::SyncSender<u64>;
    type Rx = mpsc::Receiver<u64>;
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        mpsc::sync_channel(capacity)
    }
    #[inline(always)]
    fn send(tx: &mut Self::Tx, v: u64) {
        tx.send(v).expect("the answering thread is alive");
    }
    #[inline(always)]
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("the other thread is alive")
    }
}

/// Busy-waits `gap` on `clock`, without touching any queue.
#[inline(always)]
fn idle(clock: &Clock, gap: Duration) {
    let until = clock.now() + gap;
    while clock.now() < until {
        std::hint::spin_loop();
    }
}

/// Runs `warmup + samples` wake-up round trips with `gap` of idleness before each and
/// returns the `samples` timed ones in raw clock ticks.
pub fn wakeup_roundtrip<B: Blocking>(
    capacity: usize,
    gap: Duration,
    warmup: usize,
    samples: usize,
    cores: Cores,
    clock: &Clock,
) -> Vec<u64> {
    let (mut a_tx, mut b_rx) = B::channel(capacity);
    let (mut b_tx, mut a_rx) = B::channel(capacity);
    let total = (warmup + samples) as u64;
    let barrier = &Barrier::new(2);
    let mut out = vec![1u64; samples];
    let out_ref = &mut out;
    thread::scope(|s| {
        s.spawn(move || {
            pin(cores.b);
            barrier.wait();
            for _ in 0..total {
                let v = B::recv(&mut b_rx);
                B::send(&mut b_tx, v);
            }
        });
        s.spawn(move || {
            pin(cores.a);
            barrier.wait();
            for i in 0..total {
                idle(clock, gap);
                let start = clock.raw();
                B::send(&mut a_tx, i);
                let v = B::recv(&mut a_rx);
                let end = clock.raw();
                assert_eq!(v, i, "the answer is the token sent");
                if i >= warmup as u64 {
                    out_ref[(i - warmup as u64) as usize] = end.saturating_sub(start);
                }
            }
        });
    });
    out
}

/// One wake-up contender.
pub struct WakeEntry {
    pub name: &'static str,
    pub run: fn(usize, Duration, usize, usize, Cores, &Clock) -> Vec<u64>,
}

/// The contenders: ringway SPSC with each wait strategy, ringway MPMC parking, and the
/// two blocking channels.
pub fn contenders() -> Vec<WakeEntry> {
    vec![
        WakeEntry {
            name: "ringway SPSC busy-spin",
            run: wakeup_roundtrip::<RingwaySpsc<Busy>>,
        },
        WakeEntry {
            name: "ringway SPSC spin-yield",
            run: wakeup_roundtrip::<RingwaySpsc<Yield>>,
        },
        WakeEntry {
            name: "ringway SPSC spin-park",
            run: wakeup_roundtrip::<RingwaySpsc<Park>>,
        },
        WakeEntry {
            name: "ringway SPSC park (0 spins)",
            run: wakeup_roundtrip::<RingwaySpsc<ParkNow>>,
        },
        WakeEntry {
            name: "ringway MPMC spin-park",
            run: wakeup_roundtrip::<RingwayMpmc<Park>>,
        },
        WakeEntry {
            name: "crossbeam-channel",
            run: wakeup_roundtrip::<CrossbeamChannel>,
        },
        WakeEntry {
            name: "std sync_channel",
            run: wakeup_roundtrip::<StdSyncChannel>,
        },
    ]
}
