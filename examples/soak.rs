//! Soak test: runs the SPSC ring (both slot layouts), the MPMC queue, the overwriting
//! SPSC ring and the broadcast ring in turn, in short randomised rounds, for a given
//! time, and checks every item that comes out.
//!
//! Each round picks a queue kind (in turn), an item type, a capacity from
//! (1, 2, 3, 7, 1024), a maximum batch size, a random subset of the operations, a way
//! to end the round and, for MPMC, 1 to 3 producers and 1 to 3 consumers and whether
//! producers may `force_push`. One MPMC round in four ends with `close`: producer 0
//! closes the queue at its deadline while the others keep pushing until they are
//! refused for it, and the consumers drain until they find the queue closed and empty
//! (checked: a refusal for closed hands the value back, nothing accepted is lost, and
//! the queue ends empty and refusing pushes). Checked continuously:
//!
//! * exactly-once delivery: every item carries its producer and a per-producer sequence
//!   number; SPSC items must come out in total order (item `k` is the `k`-th popped);
//!   MPMC items are marked in a per-producer bitmap (a second mark is a duplicate, an
//!   unmarked sequence number at the end of the round a loss), and each consumer must
//!   see each producer's items in increasing order; items displaced by `force_push`
//!   count as delivered (and are checked the same way), never also popped;
//! * the items' integrity (the 64-byte item carries a checksum);
//! * what the operations report (counts within the batch, `ChunkError` figures, the
//!   values handed back by a failed `push`, iterators not over-consumed);
//! * drop accounting: the boxed and zero-sized items count themselves alive; after a
//!   round the live count equals the items left in the queue, and is zero once the
//!   queue (both halves for SPSC) is dropped;
//! * progress: a watchdog reports a stall (no item moved for `--stall-secs`, default
//!   10) as a violation instead of hanging; a panic in a worker is a violation.
//!
//! Every sixth round is an *overwriting* round (`spsc::overwriting`): the producer
//! pushes freely (the ring overwrites), only while not full (nothing may be
//! displaced), or both; the consumer pops, peeks, drains and, with a wait strategy,
//! waits. Items popped and items handed back by a displacing push must each come out
//! in increasing order, and popped + displaced + left over must be exactly the items
//! pushed (counts, and a sum of per-item fingerprints).
//!
//! One round in six is a *waiting* round: an SPSC ring of `u64`s built with a random
//! wait strategy, whose producer and consumer pick among the waiting operations
//! (`push_blocking`, `push_timeout`, `push_async`, and the pops' twins) and the plain
//! ones, and pause now and then so that the other side goes to sleep (and the
//! producer often pauses before its drop, which must wake a sleeping consumer); the
//! consumer runs until `Disconnected`. Order and the count are checked, and a lost
//! wake-up is a stall that the watchdog reports.
//!
//! One round in six is a *broadcast* round (`broadcast`, either policy, a random wait
//! strategy): one producer and 1 to 4 readers subscribed before the first push (from
//! the producer or from the first consumer), plus, in half the rounds, a late reader
//! the producer subscribes at a known position. The producer uses every push its
//! policy allows (`push`, `push_timeout`, `push_blocking`, `push_async`); a
//! `Backpressure` refusal must hand the value back, a `Lossy` push must never fail.
//! Readers mix `pop`, `pop_slice` and, with a waiting strategy, the waiting pops;
//! some re-subscribe from their own consumer now and then (the new consumer's first
//! item must come after the last one seen), and in `Mode::Leave` some drop their
//! consumer halfway (a `Backpressure` producer must not be held back by them). Each
//! item must be exactly the reader's next position once its reported lags are added
//! (no lag at all under `Backpressure`), so every item is seen once per reader or
//! counted as lagged; a reader that read to the end covered every position from its
//! start to the last pushed; and the boxed and zero-sized items (whose clones count
//! too) are all dropped once every handle is gone.
//!
//! Run: `cargo run --release --example soak -- --seconds N [--seed S] [--verbose]`.
//! The seed (printed at the start) fixes the rounds' parameters and the threads' random
//! choices, so a failure can be replayed (thread timing itself is not reproducible).
//! Exit status 1 on any violation. `--inject lose|dup|leak|panic|stall` deliberately
//! mishandles the 1000th item a consumer pops in each round, to show that the checks
//! (and the watchdog, with `--stall-secs`) catch it.

use std::future::Future;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringway::broadcast;
use ringway::mpmc::Queue;
use ringway::spsc::{self, stamped, Consumer, Heap, Indexed, Producer, Storage};
use ringway::{
    ChunkError, Disconnected, PopTimeoutError, PushError, PushTimeoutError, WaitStrategy,
};

// ---------------------------------------------------------------------------------
// Random numbers

/// splitmix64: seeds the generators and scrambles values for checksums.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(splitmix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (0 when `n == 0`).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// In `0..=n`.
    fn upto(&mut self, n: usize) -> usize {
        self.below(n as u64 + 1) as usize
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    fn pick<X: Copy>(&mut self, xs: &[X]) -> X {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// A batch size: mostly `1..=max`, sometimes 0 or just above `max`.
    fn batch(&mut self, max: usize) -> usize {
        match self.below(32) {
            0 => 0,
            1 => max + 1 + self.upto(2),
            _ => 1 + self.below(max as u64) as usize,
        }
    }
}

// ---------------------------------------------------------------------------------
// Violations and round state

static VIOLATIONS: AtomicU64 = AtomicU64::new(0);
/// Set by a violation or a panicking worker: every worker of the round stops.
static ABORT: AtomicBool = AtomicBool::new(false);
/// Describes the current round, printed with each violation.
static ROUND: Mutex<String> = Mutex::new(String::new());
const MAX_PRINTED: u64 = 40;

fn violation(msg: impl AsRef<str>) {
    let n = VIOLATIONS.fetch_add(1, Ordering::SeqCst);
    ABORT.store(true, Ordering::SeqCst);
    if n < MAX_PRINTED {
        let round = ROUND.lock().map(|r| r.clone()).unwrap_or_default();
        eprintln!("VIOLATION [{round}]: {}", msg.as_ref());
    } else if n == MAX_PRINTED {
        eprintln!("VIOLATION: (further violations are counted, not printed)");
    }
}

/// `--inject`: a deliberate fault, to show that the checks catch it.
static INJECT: AtomicU8 = AtomicU8::new(0);
const INJECTIONS: [&str; 6] = ["none", "lose", "dup", "leak", "panic", "stall"];

/// Passes a popped item to `check`, applying the injected fault (if any) to the
/// 1000th item a consumer pops in a round.
fn inject<T: Item>(popped: u64, v: T, check: &mut dyn FnMut(&T)) {
    if popped != 1000 {
        check(&v);
        return;
    }
    match INJECTIONS[INJECT.load(Ordering::Relaxed) as usize] {
        "lose" => drop(v),
        "dup" => {
            check(&v);
            check(&v);
        }
        "leak" => {
            check(&v);
            std::mem::forget(v);
        }
        "panic" => panic!("injected panic"),
        "stall" => thread::sleep(Duration::from_secs(3600)),
        _ => check(&v),
    }
}

fn aborted() -> bool {
    ABORT.load(Ordering::Relaxed)
}

/// Stops the round when a worker panics, so that its partners do not wait for it.
struct AbortOnPanic;

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            ABORT.store(true, Ordering::SeqCst);
        }
    }
}

/// A worker's progress counter on its own cache lines; the watchdog sums them.
#[repr(align(128))]
struct Progress(AtomicU64);

fn progress_slots(n: usize) -> Arc<Vec<Progress>> {
    Arc::new((0..n).map(|_| Progress(AtomicU64::new(0))).collect())
}

/// Spins, then yields (the machine may have fewer cores than threads).
fn backoff(fails: u32) {
    if fails < 16 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// What one worker did.
#[derive(Default, Clone, Copy)]
struct Counts {
    /// Calls that moved at least one item.
    ops: u64,
    /// Items moved (pushed by producers; popped, or displaced by `force_push`, for
    /// consumers' and forcing producers' deliveries).
    items: u64,
    /// Items delivered (popped or displaced) by this worker.
    delivered: u64,
}

/// Waits for the workers, watching their progress; reports a stall or a panic as a
/// violation. Exits the process if a stalled worker never returns.
fn supervise<R>(handles: Vec<JoinHandle<R>>, progress: &[Progress], stall: Duration) -> Vec<R> {
    let sum = || {
        progress
            .iter()
            .fold(0u64, |a, p| a.wrapping_add(p.0.load(Ordering::Relaxed)))
    };
    let mut last = sum();
    let mut last_change = Instant::now();
    while !handles.iter().all(JoinHandle::is_finished) {
        thread::sleep(Duration::from_millis(2));
        let now = sum();
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() >= stall && !aborted() {
            let stuck: Vec<String> = handles
                .iter()
                .filter(|h| !h.is_finished())
                .map(|h| h.thread().name().unwrap_or("?").to_owned())
                .collect();
            violation(format!(
                "stall: no item moved for {:.1} s; still running: {}",
                stall.as_secs_f64(),
                stuck.join(", ")
            ));
            let give_up = Instant::now() + Duration::from_secs(5);
            while !handles.iter().all(JoinHandle::is_finished) {
                if Instant::now() >= give_up {
                    eprintln!("soak: workers did not stop after the stall; giving up");
                    std::process::exit(1);
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    let mut out = Vec::new();
    for h in handles {
        let name = h.thread().name().unwrap_or("?").to_owned();
        match h.join() {
            Ok(r) => out.push(r),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string payload)".to_owned());
                violation(format!("worker {name} panicked: {msg}"));
            }
        }
    }
    out
}

fn spawn<R: Send + 'static>(name: String, f: impl FnOnce() -> R + Send + 'static) -> JoinHandle<R> {
    thread::Builder::new()
        .name(name)
        .spawn(move || {
            let _guard = AbortOnPanic;
            f()
        })
        .expect("spawn a worker")
}

// ---------------------------------------------------------------------------------
// Item types

/// Items alive now, for the types that count themselves.
static LIVE: AtomicI64 = AtomicI64::new(0);

/// The most items one MPMC producer pushes in a round (bounds the bitmaps).
const MAX_SEQ: u64 = 1 << 23;

trait Item: Send + Sized + 'static {
    const NAME: &'static str;
    /// Counts itself in [`LIVE`].
    const TRACKED: bool = false;
    /// Carries its producer and sequence number (false for the ZST).
    const HAS_ID: bool = true;
    /// `Copy`, so the slice operations apply.
    const COPY: bool = false;

    fn make(producer: u32, seq: u64) -> Self;
    /// `(producer, seq)`; meaningless unless `HAS_ID`.
    fn id(&self) -> (u32, u64);
    /// Whether the checksum (if any) matches.
    fn intact(&self) -> bool {
        true
    }

    // The slice operations need `T: Copy`; only the `Copy` types override these.
    fn spsc_push_slice<S: Storage>(_: &mut Producer<Self, S>, _: &[Self]) -> usize {
        unreachable!("slice op on a non-Copy type")
    }
    fn spsc_pop_slice<S: Storage>(_: &mut Consumer<Self, S>, _: &mut [Self]) -> usize {
        unreachable!("slice op on a non-Copy type")
    }
    fn mpmc_push_slice(_: &Queue<Self>, _: &[Self]) -> usize {
        unreachable!("slice op on a non-Copy type")
    }
    fn mpmc_pop_slice(_: &Queue<Self>, _: &mut [Self]) -> usize {
        unreachable!("slice op on a non-Copy type")
    }
}

macro_rules! copy_slice_ops {
    () => {
        const COPY: bool = true;
        fn spsc_push_slice<S: Storage>(p: &mut Producer<Self, S>, s: &[Self]) -> usize {
            p.push_slice(s)
        }
        fn spsc_pop_slice<S: Storage>(c: &mut Consumer<Self, S>, d: &mut [Self]) -> usize {
            c.pop_slice(d)
        }
        fn mpmc_push_slice(q: &Queue<Self>, s: &[Self]) -> usize {
            q.push_slice(s)
        }
        fn mpmc_pop_slice(q: &Queue<Self>, d: &mut [Self]) -> usize {
            q.pop_slice(d)
        }
    };
}

impl Item for u64 {
    const NAME: &'static str = "u64";
    fn make(producer: u32, seq: u64) -> Self {
        (u64::from(producer) << 48) | seq
    }
    fn id(&self) -> (u32, u64) {
        ((*self >> 48) as u32, *self & ((1 << 48) - 1))
    }
    copy_slice_ops!();
}

/// 64 bytes: identity, a body derived from it, and a checksum over all of it.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Big {
    producer: u32,
    salt: u32,
    seq: u64,
    body: [u64; 5],
    check: u64,
}

const _: () = assert!(std::mem::size_of::<Big>() == 64);

impl Big {
    fn checksum(&self) -> u64 {
        let mut h = splitmix(u64::from(self.producer) ^ (u64::from(self.salt) << 32));
        h = splitmix(h ^ self.seq);
        for b in self.body {
            h = splitmix(h ^ b);
        }
        h
    }
}

impl Item for Big {
    const NAME: &'static str = "big64";
    fn make(producer: u32, seq: u64) -> Self {
        let mut b = Big {
            producer,
            salt: seq as u32 ^ 0xA5A5_A5A5,
            seq,
            body: [0; 5],
            check: 0,
        };
        for (i, w) in b.body.iter_mut().enumerate() {
            *w = splitmix(seq.wrapping_mul(7).wrapping_add(i as u64));
        }
        b.check = b.checksum();
        b
    }
    fn id(&self) -> (u32, u64) {
        (self.producer, self.seq)
    }
    fn intact(&self) -> bool {
        self.check == self.checksum()
    }
    copy_slice_ops!();
}

struct Payload {
    producer: u32,
    seq: u64,
    check: u64,
}

impl Drop for Payload {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A heap value that counts itself alive.
struct Boxed(Box<Payload>);

/// A clone is one more value alive (broadcast consumers get clones).
impl Clone for Boxed {
    fn clone(&self) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Boxed(Box::new(Payload {
            producer: self.0.producer,
            seq: self.0.seq,
            check: self.0.check,
        }))
    }
}

impl Item for Boxed {
    const NAME: &'static str = "boxed";
    const TRACKED: bool = true;
    fn make(producer: u32, seq: u64) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Boxed(Box::new(Payload {
            producer,
            seq,
            check: splitmix(seq ^ u64::from(producer)),
        }))
    }
    fn id(&self) -> (u32, u64) {
        (self.0.producer, self.0.seq)
    }
    fn intact(&self) -> bool {
        self.0.check == splitmix(self.0.seq ^ u64::from(self.0.producer))
    }
}

/// A zero-sized value that counts itself alive.
struct Ghost;

impl Clone for Ghost {
    fn clone(&self) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Ghost
    }
}

impl Drop for Ghost {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Item for Ghost {
    const NAME: &'static str = "zst";
    const TRACKED: bool = true;
    const HAS_ID: bool = false;
    fn make(_: u32, _: u64) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Ghost
    }
    fn id(&self) -> (u32, u64) {
        (0, 0)
    }
}

// ---------------------------------------------------------------------------------
// Round configuration

/// How a round ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Consumers take every item; the queue must end empty.
    Drain,
    /// Consumers stop when the producers stop; the queue is dropped with items in it.
    Leave,
    /// SPSC only: the consumer drops its half early; the producer must see
    /// `is_abandoned` and stop.
    Abandon,
    /// MPMC only: producer 0 closes the queue at its deadline; the other producers push
    /// until they are refused for it; consumers take every item, then see it closed.
    Close,
}

#[derive(Clone)]
struct Cfg {
    seed: u64,
    cap: usize,
    dur: Duration,
    max_batch: usize,
    mode: Mode,
    /// Operation codes each side may use.
    prod_ops: Vec<u8>,
    cons_ops: Vec<u8>,
    producers: usize,
    consumers: usize,
}

// SPSC operations
const SP_PUSH: u8 = 0;
const SP_SLICE: u8 = 1;
const SP_ITER: u8 = 2;
const SP_CHUNK: u8 = 3;
const SP_FILL: u8 = 4;
const SC_POP: u8 = 0;
const SC_SLICE: u8 = 1;
const SC_DRAIN: u8 = 2;
const SC_CHUNK: u8 = 3;
// MPMC operations
const MP_PUSH: u8 = 0;
const MP_SLICE: u8 = 1;
const MP_FORCE: u8 = 2;
const MC_POP: u8 = 0;
const MC_SLICE: u8 = 1;

/// A non-empty random subset of `ops`.
fn subset(rng: &mut Rng, ops: &[u8]) -> Vec<u8> {
    if rng.chance(1, 3) {
        return ops.to_vec();
    }
    loop {
        let s: Vec<u8> = ops.iter().copied().filter(|_| rng.chance(1, 2)).collect();
        if !s.is_empty() {
            return s;
        }
    }
}

fn op_names(ops: &[u8], names: &[&str]) -> String {
    ops.iter()
        .map(|&o| names[o as usize])
        .collect::<Vec<_>>()
        .join("+")
}

/// Totals of one round.
#[derive(Default)]
struct RoundStats {
    ops: u64,
    items: u64,
}

// ---------------------------------------------------------------------------------
// SPSC

struct SpscState {
    done: AtomicBool,
    produced: AtomicU64,
    progress: Arc<Vec<Progress>>,
}

fn spsc_producer<T: Item, S: Chunks<T>>(
    mut tx: Producer<T, S>,
    cfg: Cfg,
    st: Arc<SpscState>,
) -> (Producer<T, S>, Counts) {
    let mut rng = Rng::new(cfg.seed ^ 0x5052_4F44);
    let deadline = Instant::now() + cfg.dur;
    let cap = cfg.cap;
    let (mut seq, mut c, mut fails, mut iter) = (0u64, Counts::default(), 0u32, 0u64);
    let mut buf: Vec<T> = Vec::new();
    while !aborted() {
        iter += 1;
        if (fails > 0 || iter % 64 == 0) && Instant::now() >= deadline {
            break;
        }
        let b = rng.batch(cfg.max_batch);
        let n = match rng.pick(&cfg.prod_ops) {
            SP_PUSH => match tx.push(T::make(0, seq)) {
                Ok(()) => 1,
                Err(e) => {
                    let v = e.into_inner();
                    if T::HAS_ID && (v.id() != (0, seq) || !v.intact()) {
                        violation(format!(
                            "SPSC push: Full handed back {:?}, not item {seq}",
                            v.id()
                        ));
                    }
                    0
                }
            },
            SP_SLICE => {
                buf.clear();
                buf.extend((0..b as u64).map(|i| T::make(0, seq + i)));
                let n = T::spsc_push_slice(&mut tx, &buf);
                if n > b.min(cap) {
                    violation(format!(
                        "SPSC push_slice of {b} pushed {n} (capacity {cap})"
                    ));
                }
                n
            }
            SP_ITER => {
                let mut r = seq..seq + b as u64;
                let n = tx.push_iter(r.by_ref().map(|s| T::make(0, s)));
                if r.start - seq != n as u64 || n > cap {
                    violation(format!(
                        "SPSC push_iter reported {n} but took {} items from the iterator",
                        r.start - seq
                    ));
                }
                n
            }
            op @ (SP_CHUNK | SP_FILL) => {
                let a = ChunkArgs {
                    b,
                    cap,
                    rng: &mut rng,
                };
                S::push_chunk(&mut tx, op, seq, a)
            }
            op => unreachable!("SPSC producer op {op}"),
        };
        if n > 0 {
            seq += n as u64;
            c.ops += 1;
            c.items += n as u64;
            fails = 0;
            st.progress[0].0.store(seq, Ordering::Relaxed);
        } else {
            fails += 1;
            if tx.is_abandoned() {
                if cfg.mode != Mode::Abandon {
                    violation("SPSC producer: is_abandoned() while the consumer is alive");
                }
                break;
            }
            backoff(fails);
        }
    }
    st.produced.store(seq, Ordering::Relaxed);
    st.done.store(true, Ordering::Release);
    (tx, c)
}

/// The zero-copy chunk operations of a ring's layout: the real ones for the indexed
/// layout; the stamped layout has none, and its rounds never pick them.
trait Chunks<T: Item>: Storage + Sized + Send + 'static {
    /// `write_chunk_uninit(b)`, then `fill_from_iter` (`SP_FILL`) or a commit of part
    /// of it (`SP_CHUNK`); returns the items pushed, from sequence number `seq`.
    fn push_chunk(tx: &mut Producer<T, Self>, op: u8, seq: u64, a: ChunkArgs) -> usize {
        let _ = (tx, op, seq, a);
        unreachable!("the stamped layout has no chunks: its rounds never pick them")
    }
    /// `read_chunk(b)`, checked and then committed, iterated or dropped; returns the
    /// items taken, advancing `expected`.
    fn pop_chunk(rx: &mut Consumer<T, Self>, expected: &mut u64, a: ChunkArgs) -> usize {
        let _ = (rx, expected, a);
        unreachable!("the stamped layout has no chunks: its rounds never pick them")
    }
}

/// What a chunk operation of the soak needs besides its half: the chunk size, the
/// ring's capacity and the thread's random source.
struct ChunkArgs<'r> {
    b: usize,
    cap: usize,
    rng: &'r mut Rng,
}

impl<T: Item> Chunks<T> for Heap<T, Indexed> {
    fn push_chunk(tx: &mut Producer<T, Self>, op: u8, seq: u64, a: ChunkArgs) -> usize {
        let ChunkArgs { b, cap, rng } = a;
        match tx.write_chunk_uninit(b) {
            Ok(mut chunk) => {
                if chunk.len() != b {
                    violation(format!(
                        "SPSC write_chunk_uninit({b}) has {} slots",
                        chunk.len()
                    ));
                }
                if op == SP_FILL {
                    let mut r = seq..seq + rng.upto(b + 2) as u64;
                    let want = (r.end - r.start).min(b as u64);
                    let n = chunk.fill_from_iter(r.by_ref().map(|s| T::make(0, s)));
                    if n as u64 != want || r.start - seq != n as u64 {
                        violation(format!(
                            "SPSC fill_from_iter on {b} slots: returned {n}, took {}, expected {want}",
                            r.start - seq
                        ));
                    }
                    n
                } else {
                    let k = rng.upto(b);
                    let (first, second) = chunk.as_mut_slices();
                    if first.len() + second.len() != b {
                        violation(format!(
                            "SPSC write chunk of {b}: slices of {} + {}",
                            first.len(),
                            second.len()
                        ));
                    }
                    for (i, slot) in first
                        .iter_mut()
                        .chain(second.iter_mut())
                        .take(k)
                        .enumerate()
                    {
                        *slot = MaybeUninit::new(T::make(0, seq + i as u64));
                    }
                    // SAFETY: the first `k` slots, in `as_mut_slices` order, were
                    // initialised just above (`k <= b`, the chunk's length, checked).
                    unsafe { chunk.commit(k) };
                    k
                }
            }
            Err(ChunkError::TooFewSlots(m)) => {
                if m >= b || m > cap {
                    violation(format!(
                        "SPSC write_chunk_uninit({b}): TooFewSlots({m}), capacity {cap}"
                    ));
                }
                0
            }
        }
    }

    fn pop_chunk(rx: &mut Consumer<T, Self>, expected: &mut u64, a: ChunkArgs) -> usize {
        let ChunkArgs { b, cap, rng } = a;
        match rx.read_chunk(b) {
            Ok(chunk) => {
                let (first, second) = chunk.as_slices();
                if chunk.len() != b || first.len() + second.len() != b {
                    violation(format!(
                        "SPSC read_chunk({b}): len {}, slices {} + {}",
                        chunk.len(),
                        first.len(),
                        second.len()
                    ));
                }
                let mut e = *expected;
                for v in first.iter().chain(second) {
                    spsc_check(v, &mut e);
                }
                let k = rng.upto(b);
                match rng.below(4) {
                    0 => {
                        chunk.commit(k);
                        *expected += k as u64;
                        k
                    }
                    1 => {
                        chunk.commit_all();
                        *expected += b as u64;
                        b
                    }
                    2 => {
                        let mut got = 0;
                        for v in chunk.into_iter().take(k) {
                            spsc_check(&v, expected);
                            got += 1;
                        }
                        got
                    }
                    _ => 0, // dropped uncommitted: the items stay
                }
            }
            Err(ChunkError::TooFewSlots(m)) => {
                if m >= b || m > cap {
                    violation(format!(
                        "SPSC read_chunk({b}): TooFewSlots({m}), capacity {cap}"
                    ));
                }
                0
            }
        }
    }
}

/// The defaults: never called.
impl<T: Item> Chunks<T> for Heap<T, spsc::Stamped> {}

/// Checks that `v` is the SPSC item `*expected` and advances it.
fn spsc_check<T: Item>(v: &T, expected: &mut u64) {
    if T::HAS_ID {
        let (p, s) = v.id();
        if p != 0 || s != *expected {
            violation(format!(
                "SPSC order: expected item {expected}, got producer {p} seq {s}"
            ));
            *expected = s;
        }
    }
    if !v.intact() {
        violation(format!("SPSC item {expected}: checksum mismatch"));
    }
    *expected += 1;
}

/// An SPSC consumer's check before each step: `None` when it must stop (the round is
/// over for it, it abandons its half now, or it popped more than was pushed, a
/// violation), else whether the producer has finished.
fn consumer_goes_on(
    name: &str,
    cfg: &Cfg,
    st: &SpscState,
    expected: u64,
    fails: u32,
    iter: u64,
    abandon_at: Instant,
) -> Option<bool> {
    let done = st.done.load(Ordering::Acquire);
    if done {
        let produced = st.produced.load(Ordering::Relaxed);
        if expected > produced {
            violation(format!(
                "{name}: popped {expected} items, only {produced} pushed"
            ));
            return None;
        }
        if cfg.mode != Mode::Drain || expected == produced {
            return None;
        }
    }
    if cfg.mode == Mode::Abandon && (fails > 0 || iter % 64 == 0) && Instant::now() >= abandon_at {
        return None;
    }
    Some(done)
}

fn spsc_consumer<T: Item, S: Chunks<T>>(
    mut rx: Consumer<T, S>,
    cfg: Cfg,
    st: Arc<SpscState>,
) -> (Option<Consumer<T, S>>, Counts) {
    let mut rng = Rng::new(cfg.seed ^ 0x434F_4E53);
    let start = Instant::now();
    let abandon_at = start + cfg.dur.mul_f64(0.2 + 0.8 * rng.below(1000) as f64 / 1000.0);
    let cap = cfg.cap;
    let (mut expected, mut c, mut fails, mut iter) = (0u64, Counts::default(), 0u32, 0u64);
    let mut buf: Vec<T> = Vec::new();
    while !aborted() {
        iter += 1;
        let Some(done) = consumer_goes_on("SPSC", &cfg, &st, expected, fails, iter, abandon_at)
        else {
            break;
        };
        let b = rng.batch(cfg.max_batch);
        let op = rng.pick(&cfg.cons_ops);
        let n = match op {
            SC_POP => {
                if rng.chance(1, 8) {
                    if let Some(v) = rx.peek() {
                        let mut e = expected;
                        spsc_check(v, &mut e);
                    }
                }
                match rx.pop() {
                    Some(v) => {
                        inject(c.items, v, &mut |v| spsc_check(v, &mut expected));
                        1
                    }
                    None => 0,
                }
            }
            SC_SLICE => {
                buf.clear();
                buf.extend((0..b).map(|_| T::make(0xFFFF, 0)));
                let n = T::spsc_pop_slice(&mut rx, &mut buf);
                if n > b.min(cap) {
                    violation(format!(
                        "SPSC pop_slice into {b} popped {n} (capacity {cap})"
                    ));
                }
                for v in &buf[..n.min(b)] {
                    spsc_check(v, &mut expected);
                }
                n
            }
            SC_DRAIN => {
                let mut d = rx.drain();
                let avail = d.len();
                if avail > cap {
                    violation(format!("SPSC drain: {avail} items, capacity {cap}"));
                }
                let k = rng.upto(avail);
                let mut got = 0;
                for v in d.by_ref().take(k) {
                    spsc_check(&v, &mut expected);
                    got += 1;
                }
                if got != k || d.len() != avail - k {
                    violation(format!(
                        "SPSC drain of {avail}: took {got} of {k}, {} left",
                        d.len()
                    ));
                }
                got
            }
            SC_CHUNK => {
                let a = ChunkArgs {
                    b,
                    cap,
                    rng: &mut rng,
                };
                S::pop_chunk(&mut rx, &mut expected, a)
            }
            op => unreachable!("SPSC consumer op {op}"),
        };
        if n > 0 {
            c.ops += 1;
            c.items += n as u64;
            fails = 0;
            st.progress[1].0.store(expected, Ordering::Relaxed);
        } else {
            if done && cfg.mode == Mode::Drain && (op == SC_POP || (op == SC_SLICE && b > 0)) {
                let produced = st.produced.load(Ordering::Relaxed);
                violation(format!(
                    "SPSC: pop found the ring empty after the producer finished, {} of {produced} items missing",
                    produced - expected.min(produced)
                ));
                break;
            }
            fails += 1;
            backoff(fails);
        }
    }
    c.delivered = expected;
    if cfg.mode == Mode::Abandon {
        drop(rx);
        (None, c)
    } else {
        (Some(rx), c)
    }
}

// ---------------------------------------------------------------------------------
// The SPSC layouts: indexed (`spsc::channel`) and stamped (`spsc::stamped`), the same
// producer and consumer code above, the stamped rounds without the chunk operations

/// The two SPSC layouts, as a round drives and checks them.
trait SpscKind<T: Item> {
    /// How violations name the queue.
    const NAME: &'static str;
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn channel(cap: usize) -> (Self::Tx, Self::Rx);
    fn produce(tx: Self::Tx, cfg: Cfg, st: Arc<SpscState>) -> (Self::Tx, Counts);
    fn consume(rx: Self::Rx, cfg: Cfg, st: Arc<SpscState>) -> (Option<Self::Rx>, Counts);
    fn tx_len(tx: &Self::Tx) -> usize;
    fn tx_abandoned(tx: &Self::Tx) -> bool;
    fn rx_abandoned(rx: &Self::Rx) -> bool;
    /// Checks what the consumer itself says about the `leftover` items at the end.
    fn check_rx(rx: &Self::Rx, leftover: u64);
}

/// `spsc::channel`, with every batch operation.
struct Ring;

impl<T: Item> SpscKind<T> for Ring {
    const NAME: &'static str = "SPSC";
    type Tx = Producer<T>;
    type Rx = Consumer<T>;
    fn channel(cap: usize) -> (Self::Tx, Self::Rx) {
        spsc::channel(cap)
    }
    fn produce(tx: Self::Tx, cfg: Cfg, st: Arc<SpscState>) -> (Self::Tx, Counts) {
        spsc_producer(tx, cfg, st)
    }
    fn consume(rx: Self::Rx, cfg: Cfg, st: Arc<SpscState>) -> (Option<Self::Rx>, Counts) {
        spsc_consumer(rx, cfg, st)
    }
    fn tx_len(tx: &Self::Tx) -> usize {
        tx.len()
    }
    fn tx_abandoned(tx: &Self::Tx) -> bool {
        tx.is_abandoned()
    }
    fn rx_abandoned(rx: &Self::Rx) -> bool {
        rx.is_abandoned()
    }
    fn check_rx(rx: &Self::Rx, leftover: u64) {
        if rx.len() as u64 != leftover {
            violation(format!(
                "SPSC: consumer's len() {} but {leftover} items left",
                rx.len()
            ));
        }
    }
}

/// `spsc::stamped::channel`: the same producer and consumer over stamped slots, with
/// every operation but the chunks.
struct Stamped;

impl<T: Item> SpscKind<T> for Stamped {
    const NAME: &'static str = "stamped";
    type Tx = stamped::Producer<T>;
    type Rx = stamped::Consumer<T>;
    fn channel(cap: usize) -> (Self::Tx, Self::Rx) {
        stamped::channel(cap)
    }
    fn produce(tx: Self::Tx, cfg: Cfg, st: Arc<SpscState>) -> (Self::Tx, Counts) {
        spsc_producer(tx, cfg, st)
    }
    fn consume(rx: Self::Rx, cfg: Cfg, st: Arc<SpscState>) -> (Option<Self::Rx>, Counts) {
        spsc_consumer(rx, cfg, st)
    }
    fn tx_len(tx: &Self::Tx) -> usize {
        tx.len()
    }
    fn tx_abandoned(tx: &Self::Tx) -> bool {
        tx.is_abandoned()
    }
    fn rx_abandoned(rx: &Self::Rx) -> bool {
        rx.is_abandoned()
    }
    fn check_rx(rx: &Self::Rx, leftover: u64) {
        if rx.len() as u64 != leftover || rx.is_empty() != (leftover == 0) {
            violation(format!(
                "stamped: consumer's len() {} (is_empty() {}) but {leftover} items left",
                rx.len(),
                rx.is_empty()
            ));
        }
    }
}

/// One SPSC round of queue kind `K`: a producer and a consumer thread, then the checks
/// of what is left, and the halves dropped in either order.
fn spsc_round<T: Item, K: SpscKind<T>>(cfg: &Cfg, stall: Duration) -> RoundStats {
    let name = K::NAME;
    let live_before = LIVE.load(Ordering::SeqCst);
    let (tx, rx) = K::channel(cfg.cap);
    let st = Arc::new(SpscState {
        done: AtomicBool::new(false),
        produced: AtomicU64::new(0),
        progress: progress_slots(2),
    });
    let (c1, s1) = (cfg.clone(), st.clone());
    let (c2, s2) = (cfg.clone(), st.clone());
    let p = spawn(format!("{name}-producer"), move || {
        let (tx, c) = K::produce(tx, c1, s1);
        (Some(tx), None, c)
    });
    let c = spawn(format!("{name}-consumer"), move || {
        let (rx, c) = K::consume(rx, c2, s2);
        (None, rx, c)
    });
    let mut results = supervise(vec![p, c], &st.progress, stall);
    let mut stats = RoundStats::default();
    if results.len() == 2 {
        let (_, rx, cc) = results.pop().unwrap();
        let (tx, _, pc) = results.pop().unwrap();
        let tx = tx.unwrap();
        stats.ops = pc.ops + cc.ops;
        stats.items = pc.items + cc.items;
        let produced = st.produced.load(Ordering::SeqCst);
        if !aborted() {
            let leftover = produced - cc.delivered.min(produced);
            if cfg.mode == Mode::Drain && leftover != 0 {
                violation(format!(
                    "{name} drain round ended with {leftover} items not popped"
                ));
            }
            if K::tx_len(&tx) as u64 != leftover {
                violation(format!(
                    "{name}: producer's len() {} but {leftover} items left",
                    K::tx_len(&tx)
                ));
            }
            if let Some(rx) = &rx {
                K::check_rx(rx, leftover);
            }
            if K::tx_abandoned(&tx) != rx.is_none() {
                violation(format!(
                    "{name}: is_abandoned() {} with the consumer {}",
                    K::tx_abandoned(&tx),
                    if rx.is_some() { "alive" } else { "dropped" }
                ));
            }
            let live = LIVE.load(Ordering::SeqCst) - live_before;
            if T::TRACKED && live != leftover as i64 {
                violation(format!(
                    "{name} drop accounting: {live} items alive, {leftover} left in the queue"
                ));
            }
        }
        // Drop the halves in either order.
        let mut rng = Rng::new(cfg.seed ^ 0x4452_4F50);
        if rng.chance(1, 2) {
            drop(tx);
            if let Some(rx) = rx {
                if !K::rx_abandoned(&rx) {
                    violation(format!(
                        "{name}: consumer not abandoned after the producer was dropped"
                    ));
                }
            }
        } else {
            drop(rx);
            drop(tx);
        }
    }
    let live = LIVE.load(Ordering::SeqCst) - live_before;
    if T::TRACKED && live != 0 {
        violation(format!(
            "{name} drop accounting: {live} items alive after both halves were dropped"
        ));
        LIVE.fetch_sub(live, Ordering::SeqCst);
    }
    stats
}

// ---------------------------------------------------------------------------------
// Waiting operations (SPSC)

/// Wakes a thread parked in [`block_on`].
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on this thread, parking between polls (a spurious unpark only polls
/// again). A future never woken leaves the thread parked: the watchdog reports it.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

/// A random wait strategy, parking ones twice as likely (they are what wakes).
fn random_strategy(rng: &mut Rng) -> WaitStrategy {
    rng.pick(&[
        WaitStrategy::BusySpin,
        WaitStrategy::SPIN_YIELD,
        WaitStrategy::SpinPark { spins: 0 },
        WaitStrategy::SpinPark { spins: 0 },
        WaitStrategy::SPIN_PARK,
        WaitStrategy::SPIN_PARK,
    ])
}

/// A short random time limit for the timed waits, from 0 to 200 us.
fn random_timeout(rng: &mut Rng) -> Duration {
    Duration::from_micros(rng.below(201))
}

/// One waiting round (see the module docs): returns its stats.
fn waiting_round(cfg: &Cfg, strategy: WaitStrategy, stall: Duration) -> RoundStats {
    let (tx, rx) = spsc::channel_with_wait_strategy::<u64>(cfg.cap, strategy);
    let progress = progress_slots(2);
    let (p1, p2) = (progress.clone(), progress.clone());
    let (seed, dur) = (cfg.seed, cfg.dur);
    let producer = spawn("wait-producer".to_owned(), move || {
        let mut tx = tx;
        let mut rng = Rng::new(seed ^ 0x5741_4954);
        let deadline = Instant::now() + dur;
        let (mut seq, mut ops) = (0u64, 0u64);
        while !aborted() && Instant::now() < deadline {
            let pushed = match rng.below(4) {
                0 => tx.push_blocking(seq).is_ok(),
                1 => match tx.push_timeout(seq, random_timeout(&mut rng)) {
                    Ok(()) => true,
                    Err(PushTimeoutError::Timeout(v)) => {
                        if v != seq {
                            violation(format!("push_timeout handed back {v}, not {seq}"));
                        }
                        false
                    }
                    Err(PushTimeoutError::Disconnected(_)) => {
                        violation("push_timeout: Disconnected with the consumer alive");
                        false
                    }
                },
                2 => block_on(tx.push_async(seq)).is_ok(),
                _ => tx.push(seq).is_ok(),
            };
            ops += 1;
            if pushed {
                seq += 1;
                p1[0].0.store(seq, Ordering::Relaxed);
            }
            // Pauses now and then, so that the consumer runs dry and goes to sleep.
            if rng.chance(1, 64) {
                thread::sleep(Duration::from_micros(rng.below(200)));
            }
        }
        // Pause before the drop half the time, so that the consumer is often asleep on
        // the empty ring when the drop has to wake it.
        if rng.chance(1, 2) {
            thread::sleep(Duration::from_micros(rng.below(500)));
        }
        (seq, ops)
    });
    let consumer = spawn("wait-consumer".to_owned(), move || {
        let mut rx = rx;
        let mut rng = Rng::new(seed ^ 0x504F_5057);
        let (mut expected, mut ops) = (0u64, 0u64);
        let check = |v: u64, expected: &mut u64| {
            if v != *expected {
                violation(format!("waiting pop: got {v}, expected {expected}"));
            }
            *expected = v + 1;
        };
        while !aborted() {
            ops += 1;
            let got = match rng.below(4) {
                0 => rx.pop_blocking(),
                1 => match rx.pop_timeout(random_timeout(&mut rng)) {
                    Ok(v) => Ok(v),
                    Err(PopTimeoutError::Timeout) => continue,
                    Err(PopTimeoutError::Disconnected) => Err(Disconnected(())),
                },
                2 => block_on(rx.pop_async()),
                _ => match rx.pop() {
                    Some(v) => Ok(v),
                    None if rx.is_abandoned() && rx.is_empty() => Err(Disconnected(())),
                    None => {
                        std::hint::spin_loop();
                        continue;
                    }
                },
            };
            match got {
                Ok(v) => {
                    check(v, &mut expected);
                    p2[1].0.store(expected, Ordering::Relaxed);
                }
                Err(Disconnected(())) => break,
            }
            // Pauses now and then, so that the producer fills the ring and sleeps.
            if rng.chance(1, 64) {
                thread::sleep(Duration::from_micros(rng.below(200)));
            }
        }
        (expected, ops)
    });
    let results = supervise(vec![producer, consumer], &progress, stall);
    let mut stats = RoundStats::default();
    if let [(produced, pops), (consumed, cops)] = results[..] {
        stats.ops = pops + cops;
        stats.items = produced + consumed;
        if !aborted() && produced != consumed {
            violation(format!(
                "waiting round: {produced} pushed, {consumed} popped before Disconnected"
            ));
        }
    }
    stats
}

// ---------------------------------------------------------------------------------
// Overwriting SPSC

/// How an overwriting round's producer paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// Pushes as fast as it can: the ring overwrites whenever the consumer lags.
    Free,
    /// Pushes only while `is_full` is false: nothing may be displaced.
    Bounded,
    /// Either, at random, item by item.
    Mixed,
}

/// A fingerprint of an item's sequence number, summed (wrapping) over a set of items:
/// the items popped, displaced and left over must add up to those pushed.
fn print_of(seq: u64) -> u64 {
    splitmix(seq ^ 0x4F56_4552)
}

/// An `spsc::overwriting` ring of `T`s, built with `strategy`: the producer pushes for
/// the round's duration at the given pace and checks that what its pushes hand back
/// is the oldest (increasing); the consumer pops, peeks, drains and waits (a waiting
/// pop only when the strategy is given), checks that what it gets is increasing and
/// intact, and in `Mode::Leave` stops early and leaves the rest to the drop. Checked
/// at the end: every item pushed was popped, displaced or left in the ring, once
/// (counts and a sum of fingerprints), nothing displaced at the bounded pace, and drop
/// accounting.
fn overwriting_round<T: Item>(
    cfg: &Cfg,
    pace: Pace,
    strategy: WaitStrategy,
    stall: Duration,
) -> RoundStats {
    let live_before = LIVE.load(Ordering::SeqCst);
    let (tx, rx) = spsc::overwriting::channel_with_wait_strategy::<T>(cfg.cap, strategy);
    let progress = progress_slots(2);
    let (p1, p2) = (progress.clone(), progress.clone());
    let (seed, dur, mode) = (cfg.seed, cfg.dur, cfg.mode);
    /// Checks one item that came out (popped, or handed back), `last` the previous
    /// sequence number out by the same way; adds its fingerprint to `prints`.
    fn out<T: Item>(v: &T, last: &mut Option<u64>, prints: &mut u64, how: &str) {
        if T::HAS_ID {
            let (_, seq) = v.id();
            if *last >= Some(seq) {
                violation(format!("overwriting: {how} {seq} after {last:?}"));
            }
            *last = Some(seq);
            *prints = prints.wrapping_add(print_of(seq));
        }
        if !v.intact() {
            violation(format!("overwriting: {how} item with a bad checksum"));
        }
    }
    let producer = spawn("overwrite-producer".to_owned(), move || {
        let mut tx = tx;
        let mut rng = Rng::new(seed ^ 0x4F56_5750);
        let deadline = Instant::now() + dur;
        let (mut seq, mut displaced, mut prints, mut last) = (0u64, 0u64, 0u64, None);
        while !aborted() && Instant::now() < deadline {
            let bounded = match pace {
                Pace::Free => false,
                Pace::Bounded => true,
                Pace::Mixed => rng.chance(1, 2),
            };
            if bounded && tx.is_full() {
                std::hint::spin_loop();
                continue;
            }
            if let Some(old) = tx.push(T::make(0, seq)) {
                if bounded {
                    violation("overwriting: a push displaced an item although not full");
                }
                out(&old, &mut last, &mut prints, "displaced");
                displaced += 1;
            }
            seq += 1;
            p1[0].0.store(seq, Ordering::Relaxed);
        }
        // Dropped here: the consumer then sees the ring abandoned, and drains it.
        drop(tx);
        (None, seq, displaced, prints)
    });
    let consumer = spawn("overwrite-consumer".to_owned(), move || {
        let mut rx = rx;
        let mut rng = Rng::new(seed ^ 0x4F56_5243);
        let waits = strategy != WaitStrategy::BusySpin;
        let stop_early = Instant::now() + dur / 2;
        let (mut popped, mut ops, mut prints, mut last) = (0u64, 0u64, 0u64, None);
        let mut take = |v: T, popped: &mut u64| {
            out(&v, &mut last, &mut prints, "popped");
            *popped += 1;
            p2[1].0.store(*popped, Ordering::Relaxed);
        };
        loop {
            if aborted() || (mode == Mode::Leave && Instant::now() >= stop_early) {
                break;
            }
            ops += 1;
            match rng.below(8) {
                0 => {
                    let _ = rx.peek(); // the next pop returns it
                }
                1 => {
                    let n = rng.upto(4);
                    for v in rx.drain().take(n) {
                        take(v, &mut popped);
                    }
                }
                2 if waits => match rx.pop_timeout(random_timeout(&mut rng)) {
                    Ok(v) => take(v, &mut popped),
                    Err(PopTimeoutError::Timeout) => {}
                    Err(PopTimeoutError::Disconnected) => break,
                },
                3 if waits => match rx.pop_blocking() {
                    Ok(v) => take(v, &mut popped),
                    Err(Disconnected(())) => break,
                },
                _ => match rx.pop() {
                    Some(v) => take(v, &mut popped),
                    None if rx.is_abandoned() => {
                        if let Some(v) = rx.pop() {
                            take(v, &mut popped);
                        } else {
                            break;
                        }
                    }
                    None => std::hint::spin_loop(),
                },
            }
            // Pauses now and then, so that the producer laps the consumer.
            if rng.chance(1, 256) {
                thread::sleep(Duration::from_micros(rng.below(100)));
            }
        }
        (Some(rx), popped, ops, prints)
    });
    // One result type for `supervise`: the consumer returns its half, and each worker
    // three counts.
    let mut results = supervise(vec![producer, consumer], &progress, stall);
    let mut stats = RoundStats::default();
    if results.len() == 2 {
        let (rx, popped, cops, cprints) = results.pop().unwrap();
        let (_, pushed, displaced, pprints) = results.pop().unwrap();
        let mut rx = rx.expect("the consumer returns its half");
        stats.ops = pushed + cops;
        stats.items = pushed + popped + displaced;
        if !rx.is_abandoned() {
            violation("overwriting: the consumer does not see the dropped producer");
        }
        // What is left (`Mode::Leave`: the consumer stopped early): drained here,
        // checked and counted like the rest.
        let mut left = 0u64;
        let mut lprints = 0u64;
        let mut last = None;
        for v in rx.drain() {
            out(&v, &mut last, &mut lprints, "left");
            left += 1;
        }
        if !aborted() {
            if popped + displaced + left != pushed {
                violation(format!(
                    "overwriting: {pushed} pushed but {popped} popped + {displaced} displaced + {left} left"
                ));
            }
            let all = (0..pushed).fold(0u64, |a, s| a.wrapping_add(print_of(s)));
            if T::HAS_ID && cprints.wrapping_add(pprints).wrapping_add(lprints) != all {
                violation("overwriting: the items out are not the items pushed (fingerprints)");
            }
            if mode == Mode::Drain && left > cfg.cap as u64 {
                violation(format!(
                    "overwriting: {left} items left, above the capacity"
                ));
            }
        }
        drop(rx);
    }
    let live = LIVE.load(Ordering::SeqCst) - live_before;
    if T::TRACKED && live != 0 {
        violation(format!(
            "overwriting drop accounting: {live} items alive after both halves were dropped"
        ));
        LIVE.fetch_sub(live, Ordering::SeqCst);
    }
    stats
}

// ---------------------------------------------------------------------------------
// Broadcast

/// What one broadcast reader did.
#[derive(Default)]
struct ReaderEnd {
    /// Items popped.
    seen: u64,
    /// Sum of the lags reported.
    lagged: u64,
    /// Its position at the end: every position below it was seen or reported lagged.
    end: u64,
    /// Whether it knew its start (from the round's start, or the producer's subscribe
    /// at a known position) for the whole run; a reader that re-subscribed from its own
    /// consumer did not.
    from_start: bool,
    /// Its start, when known.
    start: u64,
    /// It stopped early (`Mode::Leave`) and dropped its consumer.
    left: bool,
    ops: u64,
}

/// Reads a broadcast consumer until the producer is gone (or, with `leave_at`, until
/// then), with the operations its strategy allows, checking every item: it must be
/// exactly the next position (after adding each reported lag), intact, and never a lag
/// under `Backpressure`. Now and then (when `resubscribe`) it swaps its consumer for a
/// new one from `subscribe`, whose first item must come after the last one seen.
#[allow(clippy::too_many_arguments)]
fn broadcast_reader<T: Item + Clone + Sync>(
    rx: broadcast::Consumer<T>,
    start: u64,
    policy: broadcast::Policy,
    waits: bool,
    resubscribe: bool,
    leave_at: Option<Instant>,
    seed: u64,
    progress: Arc<Vec<Progress>>,
    me: usize,
    who: String,
) -> ReaderEnd {
    use broadcast::{Lagged, Policy, PopError};
    let mut rx = rx;
    let mut rng = Rng::new(seed);
    let mut end = ReaderEnd {
        end: start,
        start,
        from_start: true,
        ..ReaderEnd::default()
    };
    // Whether `end.end` is the exact next position (false after a re-subscribe, until
    // the first item; a lag before that item is counted but not placed).
    let mut placed = true;
    let mut last_seen: Option<u64> = None;
    let mut slice: Vec<T> = Vec::new();
    let lagged = |n: u64, end: &mut ReaderEnd, placed: bool| {
        if policy == Policy::Backpressure {
            violation(format!("broadcast {who}: Lagged({n}) under Backpressure"));
        }
        if n == 0 {
            violation(format!("broadcast {who}: Lagged(0)"));
        }
        end.lagged += n;
        if placed {
            end.end += n;
        }
    };
    let take = |v: &T, end: &mut ReaderEnd, placed: &mut bool, last: &mut Option<u64>| {
        if !v.intact() {
            violation(format!("broadcast {who}: an item with a bad checksum"));
        }
        if T::HAS_ID {
            let (_, seq) = v.id();
            if !*placed {
                if last.is_some_and(|l| seq <= l) {
                    violation(format!(
                        "broadcast {who}: a new subscriber starts at {seq}, after {last:?}"
                    ));
                }
                end.end = seq;
                *placed = true;
            } else if seq != end.end {
                violation(format!(
                    "broadcast {who}: got {seq}, expected {} ({} lagged so far)",
                    end.end, end.lagged
                ));
            }
            *last = Some(seq);
        }
        end.end += 1;
        end.seen += 1;
        progress[me].0.fetch_add(1, Ordering::Relaxed);
    };
    loop {
        if aborted() {
            break;
        }
        if leave_at.is_some_and(|t| Instant::now() >= t) {
            end.left = true;
            break;
        }
        if resubscribe && rng.chance(1, 4096) {
            rx = rx.subscribe(); // the old one is dropped
            end.from_start = false;
            placed = !T::HAS_ID; // a ZST carries no position to place it by
        }
        end.ops += 1;
        let gone = rx.is_abandoned();
        let got_any = match rng.below(if waits { 8 } else { 5 }) {
            0 => {
                let k = rng.batch(8).max(1);
                slice.clear();
                slice.extend((0..k).map(|_| T::make(0, u64::MAX >> 16)));
                let r = rx.pop_slice(&mut slice);
                let got = match r {
                    Ok(got) => got,
                    Err(Lagged(n)) => {
                        lagged(n, &mut end, placed);
                        continue;
                    }
                };
                if got > k {
                    violation(format!("broadcast {who}: pop_slice returned {got} > {k}"));
                }
                for v in &slice[..got.min(k)] {
                    take(v, &mut end, &mut placed, &mut last_seen);
                }
                got > 0
            }
            op @ 5..=7 => {
                let (name, r) = match op {
                    5 => ("pop_timeout", rx.pop_timeout(random_timeout(&mut rng))),
                    6 => ("pop_blocking", rx.pop_blocking()),
                    _ => ("pop_async", block_on(rx.pop_async())),
                };
                match r {
                    Ok(v) => {
                        take(&v, &mut end, &mut placed, &mut last_seen);
                        true
                    }
                    Err(PopError::Lagged(n)) => {
                        lagged(n, &mut end, placed);
                        continue;
                    }
                    Err(PopError::Timeout) if op == 5 => continue,
                    Err(PopError::Timeout) => {
                        violation(format!("broadcast {who}: {name} timed out"));
                        break;
                    }
                    Err(PopError::Disconnected) => break,
                }
            }
            _ => match rx.pop() {
                Ok(Some(v)) => {
                    take(&v, &mut end, &mut placed, &mut last_seen);
                    true
                }
                Ok(None) => false,
                Err(Lagged(n)) => {
                    lagged(n, &mut end, placed);
                    continue;
                }
            },
        };
        if !got_any {
            // Nothing, and the producer was gone before we looked: nothing more comes.
            if gone {
                break;
            }
            std::hint::spin_loop();
        }
        if rx.len() > rx.capacity() {
            violation(format!(
                "broadcast {who}: len {} above the capacity",
                rx.len()
            ));
        }
        // Pauses now and then, so that the producer laps (Lossy) or fills (Backpressure).
        if rng.chance(1, 512) {
            thread::sleep(Duration::from_micros(rng.below(150)));
        }
    }
    end
}

/// One broadcast round: a producer pushes for the round's duration (every push
/// operation its policy allows; under `Backpressure` a refused value must come back
/// unchanged, under `Lossy` nothing may be refused) to `cfg.consumers` readers
/// subscribed before the first push, plus, now and then, a late reader the producer
/// subscribes at a known position. Readers may re-subscribe from their own consumer
/// and, in `Mode::Leave`, drop it halfway. Checked: each reader's items are exactly
/// the positions it did not report as lagged (and it reports none under
/// `Backpressure`); a reader that read to the end covered every item from its start
/// to the last pushed; drop accounting (every original and clone dropped once the
/// handles are gone).
fn broadcast_round<T: Item + Clone + Sync>(
    cfg: &Cfg,
    policy: broadcast::Policy,
    strategy: WaitStrategy,
    stall: Duration,
) -> RoundStats {
    use broadcast::{Policy, Producer};
    let live_before = LIVE.load(Ordering::SeqCst);
    let readers = cfg.consumers;
    // Slot 0: the producer; 1 ..= readers: the readers; readers + 1: a late reader.
    let progress = progress_slots(readers + 2);
    let (seed, dur, mode) = (cfg.seed, cfg.dur, cfg.mode);
    let waits = strategy != WaitStrategy::BusySpin;
    let (tx, rx) = broadcast::channel_with_wait_strategy::<T>(cfg.cap, policy, strategy);
    let mut rxs = vec![rx];
    while rxs.len() < readers {
        rxs.push(if rng_pick_from_producer(seed, rxs.len()) {
            tx.subscribe()
        } else {
            rxs[0].subscribe()
        });
    }
    if tx.consumer_count() != readers {
        violation(format!(
            "broadcast: consumer_count {} with {readers} consumers",
            tx.consumer_count()
        ));
    }
    let mut rng = Rng::new(seed ^ 0x4252_4344);
    let mut handles = Vec::new();
    for (i, rx) in rxs.into_iter().enumerate() {
        let leave_at = (mode == Mode::Leave && rng.chance(1, 2))
            .then(|| Instant::now() + dur.mul_f64(0.2 + 0.6 * (rng.below(100) as f64 / 100.0)));
        let resubscribe = rng.chance(1, 3);
        let progress = progress.clone();
        let rseed = rng.next();
        handles.push(spawn(format!("bcast-reader-{i}"), move || {
            let end = broadcast_reader(
                rx,
                0,
                policy,
                waits,
                resubscribe,
                leave_at,
                rseed,
                progress,
                1 + i,
                format!("reader {i}"),
            );
            (vec![end], 0u64, 0u64)
        }));
    }
    let pprogress = progress.clone();
    let producer = spawn("bcast-producer".to_owned(), move || {
        let mut tx: Producer<T> = tx;
        let mut rng = Rng::new(seed ^ 0x4250_5553);
        let deadline = Instant::now() + dur;
        let late_at = rng.chance(1, 2).then(|| rng.below(20_000));
        let mut late = None;
        let (mut seq, mut ops) = (0u64, 0u64);
        while !aborted() && Instant::now() < deadline {
            if late_at == Some(seq) && late.is_none() {
                // Sees exactly the items from `seq` on.
                let c = tx.subscribe();
                let progress = pprogress.clone();
                let (start, lseed, me) = (seq, rng.next(), readers + 1);
                late = Some(spawn("bcast-late-reader".to_owned(), move || {
                    broadcast_reader(
                        c,
                        start,
                        policy,
                        waits,
                        false,
                        None,
                        lseed,
                        progress,
                        me,
                        "late reader".to_owned(),
                    )
                }));
            }
            ops += 1;
            let v = T::make(0, seq);
            let pushed = match (policy, rng.below(if waits { 5 } else { 3 })) {
                (Policy::Backpressure, 0 | 1) => match tx.push(v) {
                    Ok(()) => true,
                    Err(ringway::PushError::Full(back)) => {
                        if T::HAS_ID && back.id().1 != seq {
                            violation("broadcast: Full handed back another value");
                        }
                        std::hint::spin_loop();
                        false
                    }
                    Err(e) => {
                        violation(format!("broadcast: push failed with {e:?}"));
                        false
                    }
                },
                (Policy::Backpressure, 2) => match tx.push_timeout(v, random_timeout(&mut rng)) {
                    Ok(()) => true,
                    Err(PushTimeoutError::Timeout(back)) => {
                        if T::HAS_ID && back.id().1 != seq {
                            violation("broadcast: push_timeout handed back another value");
                        }
                        false
                    }
                    Err(PushTimeoutError::Disconnected(_)) => {
                        violation("broadcast: push_timeout reported Disconnected");
                        false
                    }
                },
                (_, 3) => {
                    tx.push_blocking(v);
                    true
                }
                (_, 4) => {
                    block_on(tx.push_async(v));
                    true
                }
                (Policy::Lossy, _) => {
                    if tx.push(v).is_err() {
                        violation("broadcast: a Lossy push was refused");
                    }
                    true
                }
                (Policy::Backpressure, _) => unreachable!(),
            };
            if pushed {
                seq += 1;
                pprogress[0].0.store(seq, Ordering::Relaxed);
            }
            // Pauses now and then, so that the readers run dry and go to sleep.
            if rng.chance(1, 1024) {
                thread::sleep(Duration::from_micros(rng.below(100)));
            }
        }
        if rng.chance(1, 2) {
            thread::sleep(Duration::from_micros(rng.below(300)));
        }
        drop(tx); // the readers drain what is left, then see the producer gone
        let late = late.map(|h| match h.join() {
            Ok(end) => end,
            Err(_) => {
                violation("broadcast: the late reader panicked");
                ReaderEnd::default()
            }
        });
        (late.into_iter().collect::<Vec<_>>(), seq, ops)
    });
    handles.push(producer);
    let results = supervise(handles, &progress, stall);
    let mut stats = RoundStats::default();
    if results.len() == readers + 1 {
        let (ref late, pushed, pops) = results[readers];
        stats.ops += pops;
        stats.items += pushed;
        let ends = results[..readers]
            .iter()
            .flat_map(|r| r.0.iter())
            .chain(late.iter());
        for (i, e) in ends.enumerate() {
            stats.ops += e.ops;
            stats.items += e.seen;
            if aborted() || e.left {
                continue;
            }
            // Read to the end: every position from its start to the last pushed was
            // seen or reported lagged.
            if e.from_start && T::HAS_ID && e.end != pushed {
                violation(format!(
                    "broadcast reader {i}: ended at {} ({} seen + {} lagged from {}), {pushed} pushed",
                    e.end, e.seen, e.lagged, e.start
                ));
            }
            if e.from_start && e.seen + e.lagged != pushed - e.start {
                violation(format!(
                    "broadcast reader {i}: {} seen + {} lagged, {} pushed from its start {}",
                    e.seen,
                    e.lagged,
                    pushed - e.start,
                    e.start
                ));
            }
            if policy == Policy::Backpressure && e.from_start && e.seen != pushed - e.start {
                violation(format!(
                    "broadcast reader {i}: saw {} of the {} items pushed from its start",
                    e.seen,
                    pushed - e.start
                ));
            }
        }
    }
    let live = LIVE.load(Ordering::SeqCst) - live_before;
    if T::TRACKED && live != 0 {
        violation(format!(
            "broadcast drop accounting: {live} items alive after every handle was dropped"
        ));
        LIVE.fetch_sub(live, Ordering::SeqCst);
    }
    stats
}

/// Whether the `i`-th extra consumer of a round subscribes from the producer (else from
/// the first consumer): both start after the newest item, i.e. at 0 here.
fn rng_pick_from_producer(seed: u64, i: usize) -> bool {
    splitmix(seed ^ i as u64) & 1 == 0
}

// ---------------------------------------------------------------------------------
// MPMC

struct MpmcState {
    /// Producers finished.
    done: AtomicUsize,
    produced: Vec<AtomicU64>,
    /// Per producer, a bit per sequence number delivered (popped or displaced).
    seen: Vec<Vec<AtomicU64>>,
    progress: Arc<Vec<Progress>>,
}

/// Records a delivered item: order per producer for this receiver, exactly-once via the
/// bitmaps, integrity.
fn mpmc_deliver<T: Item>(v: &T, last: &mut [u64], st: &MpmcState, who: &str) {
    if !v.intact() {
        violation(format!("MPMC {who}: item {:?} checksum mismatch", v.id()));
    }
    if !T::HAS_ID {
        return;
    }
    let (p, s) = v.id();
    let p = p as usize;
    if p >= last.len() || s >= MAX_SEQ {
        violation(format!("MPMC {who}: phantom item producer {p} seq {s}"));
        return;
    }
    // `last[p]` is one past the last sequence number seen from producer `p`.
    if s < last[p] {
        violation(format!(
            "MPMC {who}: producer {p}'s seq {s} after seq {} (per-producer order)",
            last[p] - 1
        ));
    }
    last[p] = s + 1;
    let bit = 1u64 << (s % 64);
    if st.seen[p][(s / 64) as usize].fetch_or(bit, Ordering::Relaxed) & bit != 0 {
        violation(format!(
            "MPMC {who}: producer {p}'s seq {s} delivered twice"
        ));
    }
}

fn mpmc_producer<T: Item>(q: Arc<Queue<T>>, cfg: Cfg, st: Arc<MpmcState>, me: usize) -> Counts {
    let mut rng = Rng::new(cfg.seed ^ splitmix(0x50 + me as u64));
    let deadline = Instant::now() + cfg.dur;
    let who = format!("producer {me}");
    let mut last = vec![0u64; cfg.producers];
    let (mut seq, mut c, mut fails, mut iter) = (0u64, Counts::default(), 0u32, 0u64);
    let mut buf: Vec<T> = Vec::new();
    let p = me as u32;
    // In `Mode::Close` only producer 0 stops at the deadline (and closes the queue);
    // the others stop at their first refusal for closed.
    let closer = cfg.mode != Mode::Close || me == 0;
    let mut closed = false;
    // A refusal for closed: the value must come back, and only in `Mode::Close`.
    let refused = |v: &T, seq: u64| {
        if T::HAS_ID && (v.id() != (p, seq) || !v.intact()) {
            violation(format!(
                "MPMC push: Disconnected handed back {:?}, not ({p}, {seq})",
                v.id()
            ));
        }
        if cfg.mode != Mode::Close {
            violation("MPMC push: refused for closed, but nobody closed the queue");
        }
    };
    while !aborted() && seq < MAX_SEQ {
        iter += 1;
        if closer && (fails > 0 || iter % 64 == 0) && Instant::now() >= deadline {
            break;
        }
        let b = rng.batch(cfg.max_batch).min((MAX_SEQ - seq) as usize);
        let n = match rng.pick(&cfg.prod_ops) {
            MP_PUSH => match q.push(T::make(p, seq)) {
                Ok(()) => 1,
                Err(PushError::Disconnected(v)) => {
                    refused(&v, seq);
                    closed = true;
                    0
                }
                Err(e) => {
                    let v = e.into_inner();
                    if T::HAS_ID && (v.id() != (p, seq) || !v.intact()) {
                        violation(format!(
                            "MPMC push: Full handed back {:?}, not ({p}, {seq})",
                            v.id()
                        ));
                    }
                    0
                }
            },
            MP_SLICE => {
                buf.clear();
                buf.extend((0..b as u64).map(|i| T::make(p, seq + i)));
                let n = T::mpmc_push_slice(&q, &buf);
                if n > b.min(cfg.cap) {
                    violation(format!(
                        "MPMC push_slice of {b} pushed {n} (capacity {})",
                        cfg.cap
                    ));
                }
                // 0 means full or closed; once closed, always closed.
                closed = n == 0 && cfg.mode == Mode::Close && q.is_closed();
                n
            }
            MP_FORCE => match q.force_push(T::make(p, seq)) {
                Ok(old) => {
                    if let Some(old) = old {
                        mpmc_deliver(&old, &mut last, &st, &who);
                        c.delivered += 1;
                    }
                    1
                }
                Err(Disconnected(v)) => {
                    refused(&v, seq);
                    closed = true;
                    0
                }
            },
            op => unreachable!("MPMC producer op {op}"),
        };
        if n > 0 {
            seq += n as u64;
            c.ops += 1;
            c.items += n as u64;
            fails = 0;
            st.progress[me].0.store(seq, Ordering::Relaxed);
        } else if closed {
            break;
        } else {
            fails += 1;
            backoff(fails);
        }
    }
    if cfg.mode == Mode::Close && me == 0 {
        q.close();
    }
    st.produced[me].store(seq, Ordering::Relaxed);
    st.done.fetch_add(1, Ordering::Release);
    c
}

fn mpmc_consumer<T: Item>(q: Arc<Queue<T>>, cfg: Cfg, st: Arc<MpmcState>, me: usize) -> Counts {
    let mut rng = Rng::new(cfg.seed ^ splitmix(0xC0 + me as u64));
    let who = format!("consumer {me}");
    let mut last = vec![0u64; cfg.producers];
    let (mut c, mut fails) = (Counts::default(), 0u32);
    let mut buf: Vec<T> = Vec::new();
    let slot = cfg.producers + me;
    while !aborted() {
        // Read before the pop: if every producer had finished before a pop that finds
        // the queue empty, the queue is empty for good.
        let done = st.done.load(Ordering::Acquire) == cfg.producers;
        if done && cfg.mode == Mode::Leave {
            break;
        }
        // Likewise: a pop that finds the queue empty after it was closed is final.
        let closed = cfg.mode == Mode::Close && q.is_closed();
        let b = rng.batch(cfg.max_batch);
        let (n, tried) = match rng.pick(&cfg.cons_ops) {
            MC_POP => match q.pop() {
                Some(v) => {
                    inject(c.items, v, &mut |v| mpmc_deliver(v, &mut last, &st, &who));
                    (1, true)
                }
                None => (0, true),
            },
            MC_SLICE => {
                buf.clear();
                buf.extend((0..b).map(|_| T::make(0xFFFF, 0)));
                let n = T::mpmc_pop_slice(&q, &mut buf);
                if n > b.min(cfg.cap) {
                    violation(format!(
                        "MPMC pop_slice into {b} popped {n} (capacity {})",
                        cfg.cap
                    ));
                }
                for v in &buf[..n.min(b)] {
                    mpmc_deliver(v, &mut last, &st, &who);
                }
                (n, b > 0)
            }
            op => unreachable!("MPMC consumer op {op}"),
        };
        if n > 0 {
            c.ops += 1;
            c.items += n as u64;
            c.delivered += n as u64;
            fails = 0;
            st.progress[slot].0.store(c.items, Ordering::Relaxed);
        } else {
            if (done || closed) && tried {
                break; // drained
            }
            fails += 1;
            backoff(fails);
        }
    }
    c
}

fn mpmc_round<T: Item>(cfg: &Cfg, stall: Duration) -> RoundStats {
    let live_before = LIVE.load(Ordering::SeqCst);
    let q = Arc::new(Queue::<T>::new(cfg.cap));
    let words = if T::HAS_ID {
        (MAX_SEQ / 64) as usize
    } else {
        0
    };
    let st = Arc::new(MpmcState {
        done: AtomicUsize::new(0),
        produced: (0..cfg.producers).map(|_| AtomicU64::new(0)).collect(),
        seen: (0..cfg.producers)
            .map(|_| (0..words).map(|_| AtomicU64::new(0)).collect())
            .collect(),
        progress: progress_slots(cfg.producers + cfg.consumers),
    });
    let mut handles = Vec::new();
    for i in 0..cfg.producers {
        let (q, cfg, st) = (q.clone(), cfg.clone(), st.clone());
        handles.push(spawn(format!("mpmc-producer-{i}"), move || {
            mpmc_producer(q, cfg, st, i)
        }));
    }
    for i in 0..cfg.consumers {
        let (q, cfg, st) = (q.clone(), cfg.clone(), st.clone());
        handles.push(spawn(format!("mpmc-consumer-{i}"), move || {
            mpmc_consumer(q, cfg, st, i)
        }));
    }
    let results = supervise(handles, &st.progress, stall);
    let mut stats = RoundStats::default();
    for r in &results {
        stats.ops += r.ops;
        stats.items += r.items;
    }
    if results.len() == cfg.producers + cfg.consumers && !aborted() {
        let leftover = q.len() as u64;
        let produced: Vec<u64> = st
            .produced
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect();
        let total: u64 = produced.iter().sum();
        let delivered: u64 = results.iter().map(|r| r.delivered).sum();
        if leftover > cfg.cap as u64 {
            violation(format!("MPMC len() {leftover} > capacity {}", cfg.cap));
        }
        if matches!(cfg.mode, Mode::Drain | Mode::Close) && (leftover != 0 || q.pop().is_some()) {
            violation(format!(
                "MPMC: consumers found the queue empty after the producers finished, but it holds {leftover} items"
            ));
        }
        if cfg.mode == Mode::Close
            && (!q.is_closed()
                || !matches!(q.push(T::make(0xFFFF, 0)), Err(PushError::Disconnected(_))))
        {
            violation("MPMC: the closed queue is not closed, or took a push");
        }
        if delivered + leftover != total {
            violation(format!(
                "MPMC: {total} pushed, {delivered} delivered (popped or displaced), {leftover} left"
            ));
        }
        if T::HAS_ID {
            let mut missing = 0u64;
            let mut first_missing = Vec::new();
            for (p, bits) in st.seen.iter().enumerate() {
                for (w, word) in bits.iter().enumerate() {
                    let word = word.load(Ordering::Relaxed);
                    for b in 0..64 {
                        let s = w as u64 * 64 + b;
                        let set = word >> b & 1 == 1;
                        if set && s >= produced[p] {
                            violation(format!(
                                "MPMC: producer {p}'s seq {s} delivered but never pushed"
                            ));
                        } else if !set && s < produced[p] {
                            missing += 1;
                            if first_missing.len() < 5 {
                                first_missing.push((p, s));
                            }
                        }
                    }
                }
            }
            if missing != leftover {
                violation(format!(
                    "MPMC: {missing} items never delivered but {leftover} left in the queue; first missing (producer, seq): {first_missing:?}"
                ));
            }
        }
        let live = LIVE.load(Ordering::SeqCst) - live_before;
        if T::TRACKED && live != leftover as i64 {
            violation(format!(
                "MPMC drop accounting: {live} items alive, {leftover} left in the queue"
            ));
        }
    }
    match Arc::try_unwrap(q) {
        Ok(q) => drop(q),
        Err(_) => violation("MPMC: queue still shared after the workers returned"),
    }
    let live = LIVE.load(Ordering::SeqCst) - live_before;
    if T::TRACKED && live != 0 {
        violation(format!(
            "MPMC drop accounting: {live} items alive after the queue was dropped"
        ));
        LIVE.fetch_sub(live, Ordering::SeqCst);
    }
    stats
}

// ---------------------------------------------------------------------------------
// Driver

fn arg(args: &[String], name: &str) -> Option<u64> {
    args.iter().position(|a| a == name).map(|i| {
        args.get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                eprintln!("soak: {name} takes a number");
                std::process::exit(2);
            })
    })
}

fn human(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.2}G", n as f64 / 1e9),
    }
}

const TYPES: [&str; 4] = [u64::NAME, Big::NAME, Boxed::NAME, Ghost::NAME];
const COPY: [bool; 4] = [u64::COPY, Big::COPY, Boxed::COPY, Ghost::COPY];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = arg(&args, "--seconds").unwrap_or(10);
    let stall = Duration::from_secs(arg(&args, "--stall-secs").unwrap_or(10));
    let verbose = args.iter().any(|a| a == "--verbose");
    if let Some(i) = args.iter().position(|a| a == "--inject") {
        let name = args.get(i + 1).map(String::as_str).unwrap_or("");
        let Some(k) = INJECTIONS.iter().position(|&n| n == name) else {
            eprintln!("soak: --inject takes one of {INJECTIONS:?}");
            std::process::exit(2);
        };
        INJECT.store(k as u8, Ordering::Relaxed);
        println!("soak: injecting fault '{name}' (expect violations)");
    }
    let seed = arg(&args, "--seed").unwrap_or_else(|| {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        splitmix(t.as_nanos() as u64) % 1_000_000_000
    });
    println!("soak: {seconds} s, seed {seed} (replay with --seed {seed})");

    let mut rng = Rng::new(seed);
    let total = Duration::from_secs(seconds);
    let start = Instant::now();
    let (mut rounds, mut spsc_rounds, mut mpmc_rounds) = (0u64, 0u64, 0u64);
    let (mut spsc_ops, mut spsc_items, mut mpmc_ops, mut mpmc_items) = (0u64, 0u64, 0u64, 0u64);
    let (mut stamped_rounds, mut stamped_ops, mut stamped_items) = (0u64, 0u64, 0u64);
    let (mut waiting_rounds, mut waiting_ops, mut waiting_items) = (0u64, 0u64, 0u64);
    let (mut overwriting_rounds, mut overwriting_ops, mut overwriting_items) = (0u64, 0u64, 0u64);
    let (mut broadcast_rounds, mut broadcast_ops, mut broadcast_items) = (0u64, 0u64, 0u64);
    let mut last_print = Instant::now();
    let mut since_print = 0u64;
    // Round kinds in turn: SPSC, MPMC, stamped SPSC, waiting SPSC, overwriting SPSC,
    // broadcast.
    let mut turn = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= total || (rounds > 0 && total - elapsed < Duration::from_millis(100)) {
            break;
        }
        rounds += 1;
        let ty = rng.below(4) as usize;
        let cap = rng.pick(&[1, 2, 3, 7, 1024]);
        let dur = Duration::from_millis(500 + rng.below(1501)).min(total - elapsed);
        let max_batch = rng.pick(&[1, 2, 3, 4, 8, 16, 64, 256, 1100]);
        let mut cfg = Cfg {
            seed: rng.next(),
            cap,
            dur,
            max_batch,
            mode: Mode::Drain,
            prod_ops: Vec::new(),
            cons_ops: Vec::new(),
            producers: 1,
            consumers: 1,
        };
        let desc;
        ABORT.store(false, Ordering::SeqCst);
        let violations_before = VIOLATIONS.load(Ordering::SeqCst);
        let stats = if turn % 6 == 5 {
            cfg.mode = rng.pick(&[Mode::Drain, Mode::Drain, Mode::Leave]);
            cfg.consumers = 1 + rng.below(4) as usize;
            let policy = rng.pick(&[broadcast::Policy::Backpressure, broadcast::Policy::Lossy]);
            let strategy = if rng.chance(1, 3) {
                WaitStrategy::BusySpin
            } else {
                random_strategy(&mut rng)
            };
            desc = format!(
                "round {rounds} seed {seed}: broadcast {} cap={cap} {} readers {policy:?} {:?} {strategy:?}",
                TYPES[ty], cfg.consumers, cfg.mode
            );
            *ROUND.lock().unwrap() = desc.clone();
            let s = match ty {
                0 => broadcast_round::<u64>(&cfg, policy, strategy, stall),
                1 => broadcast_round::<Big>(&cfg, policy, strategy, stall),
                2 => broadcast_round::<Boxed>(&cfg, policy, strategy, stall),
                _ => broadcast_round::<Ghost>(&cfg, policy, strategy, stall),
            };
            broadcast_rounds += 1;
            broadcast_ops += s.ops;
            broadcast_items += s.items;
            s
        } else if turn % 6 == 4 {
            cfg.mode = rng.pick(&[Mode::Drain, Mode::Drain, Mode::Leave]);
            let pace = rng.pick(&[Pace::Free, Pace::Bounded, Pace::Mixed]);
            let strategy = if rng.chance(1, 2) {
                WaitStrategy::BusySpin
            } else {
                random_strategy(&mut rng)
            };
            desc = format!(
                "round {rounds} seed {seed}: overwriting {} cap={cap} {:?} {pace:?} {strategy:?}",
                TYPES[ty], cfg.mode
            );
            *ROUND.lock().unwrap() = desc.clone();
            let s = match ty {
                0 => overwriting_round::<u64>(&cfg, pace, strategy, stall),
                1 => overwriting_round::<Big>(&cfg, pace, strategy, stall),
                2 => overwriting_round::<Boxed>(&cfg, pace, strategy, stall),
                _ => overwriting_round::<Ghost>(&cfg, pace, strategy, stall),
            };
            overwriting_rounds += 1;
            overwriting_ops += s.ops;
            overwriting_items += s.items;
            s
        } else if turn % 6 == 3 {
            let strategy = random_strategy(&mut rng);
            desc = format!("round {rounds} seed {seed}: waiting spsc u64 cap={cap} {strategy:?}");
            *ROUND.lock().unwrap() = desc.clone();
            let s = waiting_round(&cfg, strategy, stall);
            waiting_rounds += 1;
            waiting_ops += s.ops;
            waiting_items += s.items;
            s
        } else if turn % 6 == 2 {
            cfg.mode = rng.pick(&[Mode::Drain, Mode::Drain, Mode::Leave, Mode::Abandon]);
            // Every SPSC operation but the chunks, which this layout does not have.
            let (p, c): (&[u8], &[u8]) = if COPY[ty] {
                (&[SP_PUSH, SP_SLICE, SP_ITER], &[SC_POP, SC_SLICE, SC_DRAIN])
            } else {
                (&[SP_PUSH, SP_ITER], &[SC_POP, SC_DRAIN])
            };
            cfg.prod_ops = subset(&mut rng, p);
            cfg.cons_ops = subset(&mut rng, c);
            if INJECT.load(Ordering::Relaxed) != 0 {
                cfg.cons_ops = vec![SC_POP];
            }
            desc = format!(
                "round {rounds} seed {seed}: stamped {} cap={cap} batch<={max_batch} {:?} push:{} pop:{}",
                TYPES[ty],
                cfg.mode,
                op_names(&cfg.prod_ops, &["push", "slice", "iter", "chunk", "fill"]),
                op_names(&cfg.cons_ops, &["pop", "slice", "drain", "chunk"]),
            );
            *ROUND.lock().unwrap() = desc.clone();
            let s = match ty {
                0 => spsc_round::<u64, Stamped>(&cfg, stall),
                1 => spsc_round::<Big, Stamped>(&cfg, stall),
                2 => spsc_round::<Boxed, Stamped>(&cfg, stall),
                _ => spsc_round::<Ghost, Stamped>(&cfg, stall),
            };
            stamped_rounds += 1;
            stamped_ops += s.ops;
            stamped_items += s.items;
            s
        } else if turn % 6 == 0 {
            cfg.mode = rng.pick(&[Mode::Drain, Mode::Drain, Mode::Leave, Mode::Abandon]);
            let (p, c): (&[u8], &[u8]) = if COPY[ty] {
                (
                    &[SP_PUSH, SP_SLICE, SP_ITER, SP_CHUNK, SP_FILL],
                    &[SC_POP, SC_SLICE, SC_DRAIN, SC_CHUNK],
                )
            } else {
                (
                    &[SP_PUSH, SP_ITER, SP_CHUNK, SP_FILL],
                    &[SC_POP, SC_DRAIN, SC_CHUNK],
                )
            };
            cfg.prod_ops = subset(&mut rng, p);
            cfg.cons_ops = subset(&mut rng, c);
            if INJECT.load(Ordering::Relaxed) != 0 {
                cfg.cons_ops = vec![SC_POP];
            }
            desc = format!(
                "round {rounds} seed {seed}: spsc {} cap={cap} batch<={max_batch} {:?} push:{} pop:{}",
                TYPES[ty],
                cfg.mode,
                op_names(&cfg.prod_ops, &["push", "slice", "iter", "chunk", "fill"]),
                op_names(&cfg.cons_ops, &["pop", "slice", "drain", "chunk"]),
            );
            *ROUND.lock().unwrap() = desc.clone();
            let s = match ty {
                0 => spsc_round::<u64, Ring>(&cfg, stall),
                1 => spsc_round::<Big, Ring>(&cfg, stall),
                2 => spsc_round::<Boxed, Ring>(&cfg, stall),
                _ => spsc_round::<Ghost, Ring>(&cfg, stall),
            };
            spsc_rounds += 1;
            spsc_ops += s.ops;
            spsc_items += s.items;
            s
        } else {
            cfg.mode = rng.pick(&[Mode::Drain, Mode::Drain, Mode::Leave, Mode::Close]);
            cfg.producers = 1 + rng.below(3) as usize;
            cfg.consumers = 1 + rng.below(3) as usize;
            let force = rng.chance(1, 3);
            let p: &[u8] = if COPY[ty] {
                &[MP_PUSH, MP_SLICE]
            } else {
                &[MP_PUSH]
            };
            cfg.prod_ops = subset(&mut rng, p);
            if force {
                if rng.chance(1, 2) {
                    cfg.prod_ops.push(MP_FORCE);
                } else {
                    cfg.prod_ops = vec![MP_FORCE];
                }
            }
            let c: &[u8] = if COPY[ty] {
                &[MC_POP, MC_SLICE]
            } else {
                &[MC_POP]
            };
            cfg.cons_ops = subset(&mut rng, c);
            if INJECT.load(Ordering::Relaxed) != 0 {
                cfg.cons_ops = vec![MC_POP];
            }
            desc = format!(
                "round {rounds} seed {seed}: mpmc {} cap={cap} {}p{}c batch<={max_batch} {:?} push:{} pop:{}",
                TYPES[ty],
                cfg.producers,
                cfg.consumers,
                cfg.mode,
                op_names(&cfg.prod_ops, &["push", "slice", "force"]),
                op_names(&cfg.cons_ops, &["pop", "slice"]),
            );
            *ROUND.lock().unwrap() = desc.clone();
            let s = match ty {
                0 => mpmc_round::<u64>(&cfg, stall),
                1 => mpmc_round::<Big>(&cfg, stall),
                2 => mpmc_round::<Boxed>(&cfg, stall),
                _ => mpmc_round::<Ghost>(&cfg, stall),
            };
            mpmc_rounds += 1;
            mpmc_ops += s.ops;
            mpmc_items += s.items;
            s
        };
        turn += 1;
        since_print += 1;
        let bad = VIOLATIONS.load(Ordering::SeqCst) != violations_before;
        if verbose || bad || last_print.elapsed() >= Duration::from_secs(3) {
            println!(
                "[{:6.1}s] {desc}: {} ops, {} items{}{}",
                start.elapsed().as_secs_f64(),
                human(stats.ops),
                human(stats.items),
                if since_print > 1 {
                    format!(" (+{} rounds)", since_print - 1)
                } else {
                    String::new()
                },
                if bad { "  <-- VIOLATION" } else { "" },
            );
            last_print = Instant::now();
            since_print = 0;
        }
    }
    let violations = VIOLATIONS.load(Ordering::SeqCst);
    println!(
        "soak: {:.1} s, {rounds} rounds, seed {seed}\n  spsc: {spsc_rounds} rounds, {} ops, {} items in+out\n  stamped spsc: {stamped_rounds} rounds, {} ops, {} items in+out\n  mpmc: {mpmc_rounds} rounds, {} ops, {} items in+out\n  waiting spsc: {waiting_rounds} rounds, {} calls, {} items in+out\n  overwriting spsc: {overwriting_rounds} rounds, {} ops, {} items in+out\n  broadcast: {broadcast_rounds} rounds, {} ops, {} items in+out\n  violations: {violations}",
        start.elapsed().as_secs_f64(),
        human(spsc_ops),
        human(spsc_items),
        human(stamped_ops),
        human(stamped_items),
        human(mpmc_ops),
        human(mpmc_items),
        human(waiting_ops),
        human(waiting_items),
        human(overwriting_ops),
        human(overwriting_items),
        human(broadcast_ops),
        human(broadcast_items),
    );
    if violations > 0 {
        std::process::exit(1);
    }
}
