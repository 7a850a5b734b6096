//! What every harness shares and that needs no peer crate: the [`Tx`] / [`Rx`] traits, the one
//! wait loop, pinning, checking, the slice adapters, and the two sides of the ping-pong and of
//! streaming as functions, so the in-process drivers (`mod.rs`) and the cross-process ones
//! (`shm.rs`, and the standalone `benches/ipc` crate, which includes this file and `shm.rs` with
//! `#[path]`) run the very same loops.
#![allow(dead_code)]

use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use core_affinity::CoreId;
use quanta::Clock;

// ---------------------------------------------------------------------------------------------
// Waiting, pinning, checking
// ---------------------------------------------------------------------------------------------

static YIELD_WHEN_WAITING: AtomicBool = AtomicBool::new(false);

/// Make every driver's wait loop yield instead of spinning (for machines with < 2 cores, where a
/// spinning waiter would hold the only core until the scheduler preempts it).
pub fn set_yield_when_waiting(yield_: bool) {
    YIELD_WHEN_WAITING.store(yield_, Ordering::Relaxed);
}

/// Whether the wait loop yields now (see [`set_yield_when_waiting`]).
pub fn yield_when_waiting() -> bool {
    YIELD_WHEN_WAITING.load(Ordering::Relaxed)
}

/// The one wait step used by every driver for every contender.
#[inline(always)]
pub fn wait() {
    if YIELD_WHEN_WAITING.load(Ordering::Relaxed) {
        thread::yield_now();
    } else {
        spin_loop();
    }
}

pub fn pin(core: Option<CoreId>) {
    if let Some(core) = core {
        core_affinity::set_for_current(core);
    }
}

#[cold]
#[inline(never)]
pub fn order_violation(got: u64, expected: u64) -> ! {
    panic!("stream out of order: got {got}, expected {expected}");
}

/// Every streamed item is its sequence number; the consumer checks each one.
#[inline(always)]
pub fn check(got: u64, expected: u64) {
    if got != expected {
        order_violation(got, expected);
    }
}

/// Keeps a value on its own 128-byte block (two cache lines, for adjacent-line prefetch).
#[repr(align(128))]
pub struct Padded<T>(pub T);

/// Items moved per slice call by the slice-batched adapters (`push_slice` / `pop_slice`).
pub const SLICE_BATCH: usize = 512;

// ---------------------------------------------------------------------------------------------
// Contender traits
// ---------------------------------------------------------------------------------------------

pub trait Tx: Send {
    /// Push one item; false if the queue is full.
    fn try_push(&mut self, v: u64) -> bool;
    /// Push items `next, next + 1, ...` (at most `end - next`, `end > next`); returns how many
    /// were pushed (0: full). Single-item adapters push one.
    #[inline(always)]
    fn push_run(&mut self, next: u64, _end: u64) -> u64 {
        self.try_push(next) as u64
    }
}

pub trait Rx: Send {
    /// Pop one item; `None` if the queue is empty.
    fn try_pop(&mut self) -> Option<u64>;
    /// Pop items, checking that they are `expected, expected + 1, ...`; returns how many were
    /// popped (0: empty). Single-item adapters pop one.
    #[inline(always)]
    fn pop_run(&mut self, expected: u64) -> u64 {
        match self.try_pop() {
            Some(v) => {
                check(v, expected);
                1
            }
            None => 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Batched adapters shared by ringway and the peers that have the same operations
// ---------------------------------------------------------------------------------------------

/// `push_slice` / `pop_slice` of a queue of `u64` (ringway, ringbuf).
pub trait SliceOps {
    fn push_slice(&mut self, items: &[u64]) -> usize;
    fn pop_slice(&mut self, out: &mut [u64]) -> usize;
}

/// Producer half that moves up to [`SLICE_BATCH`] items per `push_slice`. Items not taken by a
/// partial push stay in its buffer for the next call (no refilling).
pub struct SliceTx<P> {
    inner: P,
    buf: Box<[u64; SLICE_BATCH]>,
    off: usize,
    len: usize,
}
impl<P> SliceTx<P> {
    pub fn new(inner: P) -> Self {
        SliceTx {
            inner,
            buf: Box::new([0; SLICE_BATCH]),
            off: 0,
            len: 0,
        }
    }
}
impl<P: SliceOps + Send> Tx for SliceTx<P> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.inner.push_slice(&[v]) == 1
    }
    #[inline(always)]
    fn push_run(&mut self, next: u64, end: u64) -> u64 {
        if self.off == self.len {
            let n = (end - next).min(SLICE_BATCH as u64) as usize;
            for (i, slot) in self.buf[..n].iter_mut().enumerate() {
                *slot = next + i as u64;
            }
            self.off = 0;
            self.len = n;
        }
        let k = self.inner.push_slice(&self.buf[self.off..self.len]);
        self.off += k;
        k as u64
    }
}

/// Consumer half that moves up to [`SLICE_BATCH`] items per `pop_slice`.
pub struct SliceRx<C> {
    inner: C,
    buf: Box<[u64; SLICE_BATCH]>,
}
impl<C> SliceRx<C> {
    pub fn new(inner: C) -> Self {
        SliceRx {
            inner,
            buf: Box::new([0; SLICE_BATCH]),
        }
    }
}
impl<C: SliceOps + Send> Rx for SliceRx<C> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        let mut one = [0u64];
        (self.inner.pop_slice(&mut one) == 1).then_some(one[0])
    }
    #[inline(always)]
    fn pop_run(&mut self, expected: u64) -> u64 {
        let k = self.inner.pop_slice(&mut self.buf[..]);
        for (i, &v) in self.buf[..k].iter().enumerate() {
            check(v, expected + i as u64);
        }
        k as u64
    }
}

// ---------------------------------------------------------------------------------------------
// Placement and regimes
// ---------------------------------------------------------------------------------------------

/// Where the threads run. `a` is the producer / ping side, `b` the consumer / pong side.
#[derive(Clone, Copy, Debug)]
pub struct Cores {
    pub a: Option<CoreId>,
    pub b: Option<CoreId>,
}

impl Cores {
    pub const UNPINNED: Cores = Cores { a: None, b: None };

    /// Picks cores `a` and `b` (by id) or the first two available; unpinned with a message when
    /// fewer than two are available (and then every wait loop yields).
    pub fn detect(wanted: Option<(usize, usize)>) -> (Cores, String) {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        let find = |id: usize| ids.iter().copied().find(|c| c.id == id);
        if let Some((a, b)) = wanted {
            if let (Some(ca), Some(cb)) = (find(a), find(b)) {
                if a != b {
                    return (
                        Cores {
                            a: Some(ca),
                            b: Some(cb),
                        },
                        format!("pinned to cores {a} and {b}"),
                    );
                }
            }
            eprintln!(
                "warning: cores {a},{b} are not two distinct available cores (available: {:?})",
                ids.iter().map(|c| c.id).collect::<Vec<_>>()
            );
        }
        if ids.len() >= 2 {
            let (a, b) = (ids[0], ids[1]);
            (
                Cores {
                    a: Some(a),
                    b: Some(b),
                },
                format!("pinned to cores {} and {}", a.id, b.id),
            )
        } else {
            set_yield_when_waiting(true);
            (
                Cores::UNPINNED,
                format!(
                    "only {} core(s) available: running UNPINNED, waits yield instead of spinning; \
                     figures are not comparable with a two-core run",
                    ids.len()
                ),
            )
        }
    }
}

/// The two stable regimes of SPSC streaming (see ENGINEERING.md section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// The producer fills the queue to capacity before the consumer is released (a backlog:
    /// the producer stays ahead).
    Full,
    /// The consumer is already polling an empty queue when the producer is released (it
    /// chases the producer on an almost empty queue).
    Empty,
}

impl Regime {
    pub fn name(self) -> &'static str {
        match self {
            Regime::Full => "full start (backlog regime)",
            Regime::Empty => "empty start (chasing regime)",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The sides of the ping-pong and of streaming (the same loops in process and across processes)
// ---------------------------------------------------------------------------------------------

/// The echo side of the ping-pong: `total` times, waits for an item on `rx` (which must be the
/// next sequence number) and sends it back on `tx`.
#[inline(always)]
pub fn pong<R: Rx, T: Tx>(rx: &mut R, tx: &mut T, total: u64) {
    for i in 0..total {
        let v = loop {
            if let Some(v) = rx.try_pop() {
                break v;
            }
            wait();
        };
        check(v, i);
        while !tx.try_push(v) {
            wait();
        }
    }
}

/// The timed side of the ping-pong: `warmup + out.len()` times, pushes `i` on `tx` and waits for
/// it on `rx`; the raw clock ticks of each round trip after the warm-up go into `out` (nothing
/// else on the timed path).
#[inline(always)]
pub fn ping<T: Tx, R: Rx>(tx: &mut T, rx: &mut R, warmup: usize, out: &mut [u64], clock: &Clock) {
    let total = (warmup + out.len()) as u64;
    for i in 0..total {
        let t0 = clock.raw();
        while !tx.try_push(i) {
            wait();
        }
        let v = loop {
            if let Some(v) = rx.try_pop() {
                break v;
            }
            wait();
        };
        let t1 = clock.raw();
        check(v, i);
        if i >= warmup as u64 {
            out[(i - warmup as u64) as usize] = t1.wrapping_sub(t0);
        }
    }
}

/// The producer side of streaming: pushes `0..items`. `Full`: prefills the queue, then sets `go`
/// (which releases the consumer); `Empty`: waits for the consumer to set `go` first.
#[inline(always)]
pub fn produce<T: Tx>(tx: &mut T, items: u64, regime: Regime, go: &AtomicU32) {
    let mut next = 0u64;
    match regime {
        Regime::Full => {
            while next < items {
                let k = tx.push_run(next, items);
                if k == 0 {
                    break; // full
                }
                next += k;
            }
            go.store(1, Ordering::Release);
        }
        Regime::Empty => {
            while go.load(Ordering::Acquire) == 0 {
                wait();
            }
        }
    }
    while next < items {
        let k = tx.push_run(next, items);
        if k == 0 {
            wait();
        } else {
            next += k;
        }
    }
}

/// The consumer side of streaming: pops and checks `0..items`, and returns the time from its
/// release (`Full`: when the producer sets `go`; `Empty`: when it sets `go` itself) to the last
/// item, measured on this thread only.
#[inline(always)]
pub fn consume<R: Rx>(
    rx: &mut R,
    items: u64,
    regime: Regime,
    go: &AtomicU32,
    clock: &Clock,
) -> Duration {
    let start = match regime {
        Regime::Full => {
            while go.load(Ordering::Acquire) == 0 {
                wait();
            }
            clock.raw()
        }
        Regime::Empty => {
            let start = clock.raw();
            go.store(1, Ordering::Release);
            start
        }
    };
    let mut expected = 0u64;
    while expected < items {
        let k = rx.pop_run(expected);
        if k == 0 {
            wait();
        } else {
            expected += k;
        }
    }
    clock.delta(start, clock.raw())
}
