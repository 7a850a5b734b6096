//! Shared by `benches/latency.rs` and `benches/throughput.rs`: one small adapter per queue and
//! the generic drivers that every queue runs through, so no workload is written per queue.
//!
//! * [`Tx`] / [`Rx`]: the two halves of a queue seen as a stream of `u64`. `try_push` and
//!   `try_pop` move one item; `push_run` / `pop_run` move as many as the adapter likes (one for
//!   every single-item contender, a slice or a chunk for the batched ones).
//! * [`Spsc`]: a factory of a (Tx, Rx) pair of a given capacity (`None` if the queue cannot
//!   have that capacity, e.g. heapless' compile-time sizes or disruptor's powers of two).
//! * [`Mpmc`]: a shared queue (`&self` push/pop) for the multi-producer workloads; every
//!   `Mpmc` is also usable as an SPSC pair through [`Shared`].
//! * Drivers: [`roundtrip`] (ping-pong through two queues), [`stream`] (one producer, one
//!   consumer, in the "full" or "empty" start regime), [`mpmc_stream`] (P producers, C consumers),
//!   [`push_pop_cost`] (single thread).
//! * [`base`] (re-exported here): what needs no peer crate (the traits, the wait loop, pinning,
//!   the slice adapters, the sides of the ping-pong and of streaming), shared with the
//!   cross-process harness [`shm`] (feature `shm`) and the standalone `benches/ipc` crate.
//!
//! Every driver waits with the same loop ([`wait`]: `core::hint::spin_loop()`, or
//! `thread::yield_now()` when fewer than two cores are available), whatever the queue.
#![allow(dead_code)]

pub mod base;
#[cfg(feature = "shm")]
pub mod shm;

use std::cell::Cell;
use std::hint::spin_loop;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use quanta::Clock;

pub use base::*;

// ---------------------------------------------------------------------------------------------
// Queue factories
// ---------------------------------------------------------------------------------------------

pub trait Spsc {
    type Tx: Tx + 'static;
    type Rx: Rx + 'static;
    /// `None` when the queue cannot be built with exactly this capacity.
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)>;
}

pub trait Mpmc: Send + Sync + Sized + 'static {
    fn new(capacity: usize) -> Option<Self>;
    fn try_push(&self, v: u64) -> bool;
    fn try_pop(&self) -> Option<u64>;
}

/// An [`Mpmc`] queue used as an SPSC pair (both halves share one `Arc`).
pub struct Shared<Q>(Arc<Q>);

impl<Q: Mpmc> Tx for Shared<Q> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.0.try_push(v)
    }
}
impl<Q: Mpmc> Rx for Shared<Q> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.0.try_pop()
    }
}
impl<Q: Mpmc> Spsc for Q {
    type Tx = Shared<Q>;
    type Rx = Shared<Q>;
    fn channel(capacity: usize) -> Option<(Shared<Q>, Shared<Q>)> {
        let q = Arc::new(Q::new(capacity)?);
        Some((Shared(q.clone()), Shared(q)))
    }
}

// ---------------------------------------------------------------------------------------------
// Sequences of the chunk adapters
// ---------------------------------------------------------------------------------------------

/// Fills `a` then `b` with `next, next + 1, ...`.
#[inline(always)]
fn fill_seq(a: &mut [MaybeUninit<u64>], b: &mut [MaybeUninit<u64>], next: u64) {
    for (i, slot) in a.iter_mut().enumerate() {
        slot.write(next + i as u64);
    }
    let base = next + a.len() as u64;
    for (i, slot) in b.iter_mut().enumerate() {
        slot.write(base + i as u64);
    }
}

/// Checks that `a` then `b` hold `expected, expected + 1, ...`.
#[inline(always)]
fn check_seq(a: &[u64], b: &[u64], expected: u64) {
    for (i, &v) in a.iter().enumerate() {
        check(v, expected + i as u64);
    }
    let base = expected + a.len() as u64;
    for (i, &v) in b.iter().enumerate() {
        check(v, base + i as u64);
    }
}

// ---------------------------------------------------------------------------------------------
// The floor: a raw cross-core atomic hand-off (a one-word mailbox), used for the ping-pong only
// ---------------------------------------------------------------------------------------------

/// The physical limit of a hand-off: the producer stores `v + 1` into one padded `AtomicU64`,
/// the consumer sees a new value and returns it. Not a queue (a second push overwrites the
/// first), so it is only used by the ping-pong, where at most one value is in flight.
pub struct Floor;
pub struct FloorTx(Arc<Padded<AtomicU64>>);
pub struct FloorRx(Arc<Padded<AtomicU64>>, u64);
impl Tx for FloorTx {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.0 .0.store(v + 1, Ordering::Release);
        true
    }
}
impl Rx for FloorRx {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        let x = self.0 .0.load(Ordering::Acquire);
        if x != self.1 {
            self.1 = x;
            Some(x - 1)
        } else {
            None
        }
    }
}
impl Spsc for Floor {
    type Tx = FloorTx;
    type Rx = FloorRx;
    fn channel(_capacity: usize) -> Option<(FloorTx, FloorRx)> {
        let cell = Arc::new(Padded(AtomicU64::new(0)));
        Some((FloorTx(cell.clone()), FloorRx(cell, 0)))
    }
}

// ---------------------------------------------------------------------------------------------
// ringway
// ---------------------------------------------------------------------------------------------

pub mod ringway_adapters {
    use super::*;
    use ringway::spsc::{Consumer, Producer};
    use ringway::ChunkError;

    impl Tx for Producer<u64> {
        #[inline(always)]
        fn try_push(&mut self, v: u64) -> bool {
            self.push(v).is_ok()
        }
    }
    impl Rx for Consumer<u64> {
        #[inline(always)]
        fn try_pop(&mut self) -> Option<u64> {
            self.pop()
        }
    }
    impl SliceOps for Producer<u64> {
        #[inline(always)]
        fn push_slice(&mut self, items: &[u64]) -> usize {
            Producer::push_slice(self, items)
        }
        fn pop_slice(&mut self, _: &mut [u64]) -> usize {
            unreachable!()
        }
    }
    impl SliceOps for Consumer<u64> {
        fn push_slice(&mut self, _: &[u64]) -> usize {
            unreachable!()
        }
        #[inline(always)]
        fn pop_slice(&mut self, out: &mut [u64]) -> usize {
            Consumer::pop_slice(self, out)
        }
    }

    /// ringway SPSC, single-item `push` / `pop`.
    pub struct RingwaySpsc;
    impl Spsc for RingwaySpsc {
        type Tx = Producer<u64>;
        type Rx = Consumer<u64>;
        fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
            Some(ringway::spsc::channel(capacity))
        }
    }

    /// ringway SPSC, `push_slice` / `pop_slice` of up to [`SLICE_BATCH`] items.
    pub struct RingwaySpscSlice;
    impl Spsc for RingwaySpscSlice {
        type Tx = SliceTx<Producer<u64>>;
        type Rx = SliceRx<Consumer<u64>>;
        fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
            let (tx, rx) = ringway::spsc::channel(capacity);
            Some((SliceTx::new(tx), SliceRx::new(rx)))
        }
    }

    /// ringway SPSC, zero-copy chunks: asks for all remaining items (at most the capacity); on
    /// `TooFewSlots(k)` takes the `k` there are.
    pub struct RingwaySpscChunk;
    pub struct ChunkTx(Producer<u64>, usize);
    pub struct ChunkRx(Consumer<u64>, usize);
    impl Tx for ChunkTx {
        #[inline(always)]
        fn try_push(&mut self, v: u64) -> bool {
            self.0.push(v).is_ok()
        }
        #[inline(always)]
        fn push_run(&mut self, next: u64, end: u64) -> u64 {
            let want = (end - next).min(self.1 as u64) as usize;
            let n = match self.0.write_chunk_uninit(want) {
                Ok(mut chunk) => {
                    let (a, b) = chunk.as_mut_slices();
                    fill_seq(a, b, next);
                    // SAFETY: all `want` slots were initialised just above.
                    unsafe { chunk.commit(want) };
                    return want as u64;
                }
                Err(ChunkError::TooFewSlots(0)) => return 0,
                Err(ChunkError::TooFewSlots(n)) => n,
            };
            let mut chunk = match self.0.write_chunk_uninit(n) {
                Ok(chunk) => chunk,
                Err(_) => return 0,
            };
            let (a, b) = chunk.as_mut_slices();
            fill_seq(a, b, next);
            // SAFETY: all `n` slots were initialised just above.
            unsafe { chunk.commit(n) };
            n as u64
        }
    }
    impl Rx for ChunkRx {
        #[inline(always)]
        fn try_pop(&mut self) -> Option<u64> {
            self.0.pop()
        }
        #[inline(always)]
        fn pop_run(&mut self, expected: u64) -> u64 {
            let want = self.1;
            let n = match self.0.read_chunk(want) {
                Ok(chunk) => {
                    let (a, b) = chunk.as_slices();
                    check_seq(a, b, expected);
                    chunk.commit(want);
                    return want as u64;
                }
                Err(ChunkError::TooFewSlots(0)) => return 0,
                Err(ChunkError::TooFewSlots(n)) => n,
            };
            let chunk = match self.0.read_chunk(n) {
                Ok(chunk) => chunk,
                Err(_) => return 0,
            };
            let (a, b) = chunk.as_slices();
            check_seq(a, b, expected);
            chunk.commit(n);
            n as u64
        }
    }
    impl Spsc for RingwaySpscChunk {
        type Tx = ChunkTx;
        type Rx = ChunkRx;
        fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
            let (tx, rx) = ringway::spsc::channel(capacity);
            Some((ChunkTx(tx, capacity), ChunkRx(rx, capacity)))
        }
    }

    impl Tx for ringway::spsc::stamped::Producer<u64> {
        #[inline(always)]
        fn try_push(&mut self, v: u64) -> bool {
            self.push(v).is_ok()
        }
    }
    impl Rx for ringway::spsc::stamped::Consumer<u64> {
        #[inline(always)]
        fn try_pop(&mut self) -> Option<u64> {
            self.pop()
        }
    }

    /// ringway's stamped-slot SPSC queue (`spsc::stamped`), single-item `push` / `pop`.
    pub struct RingwayStamped;
    impl Spsc for RingwayStamped {
        type Tx = ringway::spsc::stamped::Producer<u64>;
        type Rx = ringway::spsc::stamped::Consumer<u64>;
        fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
            Some(ringway::spsc::stamped::channel(capacity))
        }
    }

    /// ringway's overwriting SPSC ring (`spsc::overwriting`), pushing only while
    /// `is_full` is false: its cost as a plain bounded queue, when nothing is
    /// overwritten (issue #16).
    pub struct RingwayOverwriting;
    pub struct OverwritingTx(ringway::spsc::overwriting::Producer<u64>);
    impl Tx for OverwritingTx {
        #[inline(always)]
        fn try_push(&mut self, v: u64) -> bool {
            if self.0.is_full() {
                return false;
            }
            let displaced = self.0.push(v);
            debug_assert!(displaced.is_none());
            true
        }
    }
    impl Rx for ringway::spsc::overwriting::Consumer<u64> {
        #[inline(always)]
        fn try_pop(&mut self) -> Option<u64> {
            self.pop()
        }
    }
    impl Spsc for RingwayOverwriting {
        type Tx = OverwritingTx;
        type Rx = ringway::spsc::overwriting::Consumer<u64>;
        fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
            let (tx, rx) = ringway::spsc::overwriting::channel(capacity);
            Some((OverwritingTx(tx), rx))
        }
    }

    /// ringway MPMC queue.
    pub type RingwayMpmc = ringway::mpmc::Queue<u64>;
    impl Mpmc for ringway::mpmc::Queue<u64> {
        fn new(capacity: usize) -> Option<Self> {
            Some(ringway::mpmc::Queue::new(capacity))
        }
        #[inline(always)]
        fn try_push(&self, v: u64) -> bool {
            self.push(v).is_ok()
        }
        #[inline(always)]
        fn try_pop(&self) -> Option<u64> {
            self.pop()
        }
    }
}
pub use ringway_adapters::{
    RingwayMpmc, RingwayOverwriting, RingwaySpsc, RingwaySpscChunk, RingwaySpscSlice,
    RingwayStamped,
};

// ---------------------------------------------------------------------------------------------
// Peers
// ---------------------------------------------------------------------------------------------

/// rtrb 0.3: `push` / `pop`.
pub struct Rtrb;
impl Tx for rtrb::Producer<u64> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.push(v).is_ok()
    }
}
impl Rx for rtrb::Consumer<u64> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.pop().ok()
    }
}
impl Spsc for Rtrb {
    type Tx = rtrb::Producer<u64>;
    type Rx = rtrb::Consumer<u64>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        Some(rtrb::RingBuffer::new(capacity))
    }
}

/// rtrb 0.3 with its chunk API (`slots()` then `write_chunk_uninit` / `read_chunk`): a batched
/// peer for ringway's batched modes.
pub struct RtrbChunk;
pub struct RtrbChunkTx(rtrb::Producer<u64>);
pub struct RtrbChunkRx(rtrb::Consumer<u64>);
impl Tx for RtrbChunkTx {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.0.push(v).is_ok()
    }
    #[inline(always)]
    fn push_run(&mut self, next: u64, end: u64) -> u64 {
        let n = self.0.slots().min((end - next) as usize);
        if n == 0 {
            return 0;
        }
        let Ok(mut chunk) = self.0.write_chunk_uninit(n) else {
            return 0;
        };
        let (a, b) = chunk.as_mut_slices();
        fill_seq(a, b, next);
        // SAFETY: all `n` slots were initialised just above.
        unsafe { chunk.commit_all() };
        n as u64
    }
}
impl Rx for RtrbChunkRx {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.0.pop().ok()
    }
    #[inline(always)]
    fn pop_run(&mut self, expected: u64) -> u64 {
        let n = self.0.slots();
        if n == 0 {
            return 0;
        }
        let Ok(chunk) = self.0.read_chunk(n) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        check_seq(a, b, expected);
        chunk.commit_all();
        n as u64
    }
}
impl Spsc for RtrbChunk {
    type Tx = RtrbChunkTx;
    type Rx = RtrbChunkRx;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        let (tx, rx) = rtrb::RingBuffer::new(capacity);
        Some((RtrbChunkTx(tx), RtrbChunkRx(rx)))
    }
}

/// ringbuf 0.4 (`HeapRb`, caching halves): `try_push` / `try_pop`.
pub struct Ringbuf;
type RbProd = ringbuf::HeapProd<u64>;
type RbCons = ringbuf::HeapCons<u64>;
impl Tx for RbProd {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        ringbuf::traits::Producer::try_push(self, v).is_ok()
    }
}
impl Rx for RbCons {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        ringbuf::traits::Consumer::try_pop(self)
    }
}
impl SliceOps for RbProd {
    #[inline(always)]
    fn push_slice(&mut self, items: &[u64]) -> usize {
        ringbuf::traits::Producer::push_slice(self, items)
    }
    fn pop_slice(&mut self, _: &mut [u64]) -> usize {
        unreachable!()
    }
}
impl SliceOps for RbCons {
    fn push_slice(&mut self, _: &[u64]) -> usize {
        unreachable!()
    }
    #[inline(always)]
    fn pop_slice(&mut self, out: &mut [u64]) -> usize {
        ringbuf::traits::Consumer::pop_slice(self, out)
    }
}
fn ringbuf_pair(capacity: usize) -> (RbProd, RbCons) {
    use ringbuf::traits::Split;
    ringbuf::HeapRb::<u64>::new(capacity).split()
}
impl Spsc for Ringbuf {
    type Tx = RbProd;
    type Rx = RbCons;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        Some(ringbuf_pair(capacity))
    }
}

/// ringbuf 0.4 with `push_slice` / `pop_slice` of up to [`SLICE_BATCH`] items: a batched peer.
pub struct RingbufSlice;
impl Spsc for RingbufSlice {
    type Tx = SliceTx<RbProd>;
    type Rx = SliceRx<RbCons>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        let (tx, rx) = ringbuf_pair(capacity);
        Some((SliceTx::new(tx), SliceRx::new(rx)))
    }
}

/// disruptor 4.x: a single-producer disruptor whose one consumer is an `EventPoller`
/// (`try_publish` to push, `take(1)` to pop one event). Its ring size must be a power of two.
pub struct Disruptor;
pub struct DisruptorTx(disruptor::SingleProducer<u64, disruptor::SingleConsumerBarrier>);
pub struct DisruptorRx(disruptor::EventPoller<u64, disruptor::SingleProducerBarrier>);
impl Tx for DisruptorTx {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        use disruptor::Producer;
        self.0.try_publish(|slot| *slot = v).is_ok()
    }
}
impl Rx for DisruptorRx {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        match self.0.take(1) {
            Ok(mut events) => (&mut events).next().copied(),
            Err(_) => None,
        }
    }
}
impl Spsc for Disruptor {
    type Tx = DisruptorTx;
    type Rx = DisruptorRx;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        if !capacity.is_power_of_two() {
            return None;
        }
        let builder = disruptor::build_single_producer(capacity, || 0u64, disruptor::BusySpin);
        let (poller, builder) = builder.new_event_poller();
        Some((DisruptorTx(builder.build()), DisruptorRx(poller)))
    }
}

/// heapless 0.9 `spsc::Queue<u64, N>`: compile-time size; it holds `N - 1` items and asks for a
/// power-of-two `N` ("to get better performance"), so capacity `C` runs as `N = C` (`C - 1`
/// usable slots). Only `C = N` is accepted. The queue is boxed and freed after both halves.
pub struct Heapless<const N: usize>;
struct HeaplessOwner<const N: usize>(*mut heapless::spsc::Queue<u64, N>);
// SAFETY: the owner only frees the queue, after both halves (which borrow it) are dropped.
unsafe impl<const N: usize> Send for HeaplessOwner<N> {}
unsafe impl<const N: usize> Sync for HeaplessOwner<N> {}
impl<const N: usize> Drop for HeaplessOwner<N> {
    fn drop(&mut self) {
        // SAFETY: created by Box::into_raw; the halves that borrowed it are gone (field order).
        drop(unsafe { Box::from_raw(self.0) });
    }
}
// Field order matters: the half is dropped before the owner.
pub struct HeaplessTx<const N: usize>(
    heapless::spsc::Producer<'static, u64>,
    Arc<HeaplessOwner<N>>,
);
pub struct HeaplessRx<const N: usize>(
    heapless::spsc::Consumer<'static, u64>,
    Arc<HeaplessOwner<N>>,
);
impl<const N: usize> Tx for HeaplessTx<N> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.0.enqueue(v).is_ok()
    }
}
impl<const N: usize> Rx for HeaplessRx<N> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.0.dequeue()
    }
}
impl<const N: usize> Spsc for Heapless<N> {
    type Tx = HeaplessTx<N>;
    type Rx = HeaplessRx<N>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        if capacity != N {
            return None;
        }
        let raw = Box::into_raw(Box::new(heapless::spsc::Queue::<u64, N>::new()));
        let owner = Arc::new(HeaplessOwner(raw));
        // SAFETY: the queue lives until `owner` drops, which is after both halves.
        let (p, c) = unsafe { &mut *raw }.split();
        Some((HeaplessTx(p, owner.clone()), HeaplessRx(c, owner)))
    }
}

/// crossbeam-queue 0.3 `ArrayQueue` (MPMC).
pub type ArrayQueue = crossbeam_queue::ArrayQueue<u64>;
impl Mpmc for crossbeam_queue::ArrayQueue<u64> {
    fn new(capacity: usize) -> Option<Self> {
        Some(crossbeam_queue::ArrayQueue::new(capacity))
    }
    #[inline(always)]
    fn try_push(&self, v: u64) -> bool {
        self.push(v).is_ok()
    }
    #[inline(always)]
    fn try_pop(&self) -> Option<u64> {
        self.pop()
    }
}

/// thingbuf 0.1 `ThingBuf` (MPMC, lock-free).
pub type ThingBuf = thingbuf::ThingBuf<u64>;
impl Mpmc for thingbuf::ThingBuf<u64> {
    fn new(capacity: usize) -> Option<Self> {
        Some(thingbuf::ThingBuf::new(capacity))
    }
    #[inline(always)]
    fn try_push(&self, v: u64) -> bool {
        self.push(v).is_ok()
    }
    #[inline(always)]
    fn try_pop(&self) -> Option<u64> {
        self.pop()
    }
}

/// crossbeam-channel 0.5 `bounded`: `try_send` / `try_recv` (MPMC; as an SPSC pair it uses its
/// own `Sender` and `Receiver`).
pub struct CrossbeamChannel {
    tx: crossbeam_channel::Sender<u64>,
    rx: crossbeam_channel::Receiver<u64>,
}
impl Mpmc for CrossbeamChannel {
    fn new(capacity: usize) -> Option<Self> {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        Some(CrossbeamChannel { tx, rx })
    }
    #[inline(always)]
    fn try_push(&self, v: u64) -> bool {
        self.tx.try_send(v).is_ok()
    }
    #[inline(always)]
    fn try_pop(&self) -> Option<u64> {
        self.rx.try_recv().ok()
    }
}
/// crossbeam-channel as an SPSC pair, with its own halves (no `Arc` around them).
pub struct CrossbeamChannelSpsc;
impl Tx for crossbeam_channel::Sender<u64> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.try_send(v).is_ok()
    }
}
impl Rx for crossbeam_channel::Receiver<u64> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.try_recv().ok()
    }
}
impl Spsc for CrossbeamChannelSpsc {
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        Some(crossbeam_channel::bounded(capacity))
    }
}

/// kanal 0.1 `bounded` (sync API): `try_send` / `try_recv` (MPMC; as an SPSC pair it uses its
/// own `Sender` and `Receiver`). `bounded(n)` holds `n` items, like the other channels here (0 is
/// a rendezvous channel). Not lock-free: each call takes the channel's lock around a `VecDeque`
/// (its own spin lock, which backs off to zero-length sleeps while contended). `try_send`
/// answers `Ok(false)` when full, an error only when the channel is closed.
pub struct Kanal {
    tx: kanal::Sender<u64>,
    rx: kanal::Receiver<u64>,
}
impl Mpmc for Kanal {
    fn new(capacity: usize) -> Option<Self> {
        let (tx, rx) = kanal::bounded(capacity);
        Some(Kanal { tx, rx })
    }
    #[inline(always)]
    fn try_push(&self, v: u64) -> bool {
        matches!(self.tx.try_send(v), Ok(true))
    }
    #[inline(always)]
    fn try_pop(&self) -> Option<u64> {
        self.rx.try_recv().ok().flatten()
    }
}
/// kanal as an SPSC pair, with its own halves (no `Arc` around them).
pub struct KanalSpsc;
impl Tx for kanal::Sender<u64> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        matches!(self.try_send(v), Ok(true))
    }
}
impl Rx for kanal::Receiver<u64> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.try_recv().ok().flatten()
    }
}
impl Spsc for KanalSpsc {
    type Tx = kanal::Sender<u64>;
    type Rx = kanal::Receiver<u64>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        Some(kanal::bounded(capacity))
    }
}

/// flume 0.12 `bounded` (default features): `try_send` / `try_recv` (MPMC; as an SPSC pair it
/// uses its own `Sender` and `Receiver`). `bounded(n)` holds `n` items, like the other channels
/// here (0 is a rendezvous channel). Not lock-free: each call takes the channel's `std` mutex
/// around a `VecDeque`.
pub struct Flume {
    tx: flume::Sender<u64>,
    rx: flume::Receiver<u64>,
}
impl Mpmc for Flume {
    fn new(capacity: usize) -> Option<Self> {
        let (tx, rx) = flume::bounded(capacity);
        Some(Flume { tx, rx })
    }
    #[inline(always)]
    fn try_push(&self, v: u64) -> bool {
        self.tx.try_send(v).is_ok()
    }
    #[inline(always)]
    fn try_pop(&self) -> Option<u64> {
        self.rx.try_recv().ok()
    }
}
/// flume as an SPSC pair, with its own halves (no `Arc` around them).
pub struct FlumeSpsc;
impl Tx for flume::Sender<u64> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.try_send(v).is_ok()
    }
}
impl Rx for flume::Receiver<u64> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.try_recv().ok()
    }
}
impl Spsc for FlumeSpsc {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        Some(flume::bounded(capacity))
    }
}

// BBQ (Wang et al., "BBQ: A Block-based Bounded Queue for Exchanging Data and Profiling",
// USENIX ATC 2022) is not a contender: its one Rust crate, bbq-rs 0.1.1, does not build on stable
// (`#![feature(allocator_api)]`, `#![feature(ptr_as_uninit)]`), and its only public operations
// are a `push` / `pop` that sleep 10 ms while the queue is full / empty (its non-blocking
// enqueue / dequeue are private), so it cannot run through the shared wait loop. Its pop also
// allocates a heap cell per item that it never frees.

/// std `sync_channel`: `try_send` / `try_recv`.
pub struct StdSyncChannel;
impl Tx for mpsc::SyncSender<u64> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.try_send(v).is_ok()
    }
}
impl Rx for mpsc::Receiver<u64> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.try_recv().ok()
    }
}
impl Spsc for StdSyncChannel {
    type Tx = mpsc::SyncSender<u64>;
    type Rx = mpsc::Receiver<u64>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        Some(mpsc::sync_channel(capacity))
    }
}

// ---------------------------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------------------------

/// Ping-pong: thread A pushes `i` into queue 1 and waits for it to come back on queue 2;
/// thread B pops from 1 and pushes to 2. Returns `samples` raw clock-tick round trips
/// (after `warmup` untimed-and-discarded ones), written into a preallocated, pre-touched Vec;
/// no histogram work on the timed path.
pub fn roundtrip<S: Spsc>(
    capacity: usize,
    warmup: usize,
    samples: usize,
    cores: Cores,
    clock: &Clock,
) -> Option<Vec<u64>> {
    let (mut a_tx, mut b_rx) = S::channel(capacity)?;
    let (mut b_tx, mut a_rx) = S::channel(capacity)?;
    let total = (warmup + samples) as u64;
    let barrier = &Barrier::new(2);
    let mut out = vec![1u64; samples]; // non-zero: the pages are touched before timing
    let out_ref = &mut out;
    // Each thread takes its halves by value (`move`), so their local fields (own index,
    // cached remote index) live on that thread's stack: halves borrowed from one stack
    // frame would share cache lines across the two threads and measure false sharing.
    thread::scope(|s| {
        s.spawn(move || {
            pin(cores.b);
            barrier.wait();
            pong(&mut b_rx, &mut b_tx, total);
        });
        s.spawn(move || {
            pin(cores.a);
            barrier.wait();
            ping(&mut a_tx, &mut a_rx, warmup, out_ref, clock);
        });
    });
    Some(out)
}

/// One producer (core A) streams `0..items` to one consumer (core B), which checks each item.
/// Timed on the consumer's thread only (no cross-core clock comparison): from its release
/// (`Full`: after the producer prefilled the queue; `Empty`: when it releases the producer)
/// to its receipt of the last item. Threads are spawned and pinned before a `Barrier`, so
/// the spawn is never timed.
pub fn stream<S: Spsc>(
    capacity: usize,
    items: u64,
    regime: Regime,
    cores: Cores,
    clock: &Clock,
) -> Option<Duration> {
    let (mut tx, mut rx) = S::channel(capacity)?;
    let barrier = &Barrier::new(2);
    let go = &Padded(AtomicU32::new(0));
    let elapsed = Cell::new(None);
    // The halves move into their threads (see `roundtrip`).
    thread::scope(|s| {
        s.spawn(move || {
            pin(cores.a);
            barrier.wait();
            produce(&mut tx, items, regime, &go.0);
        });
        let consumer = s.spawn(move || {
            pin(cores.b);
            barrier.wait();
            consume(&mut rx, items, regime, &go.0, clock)
        });
        elapsed.set(Some(consumer.join().unwrap()));
    });
    elapsed.get()
}

/// `producers` threads each stream their share of `items` (item = producer << 48 | sequence) to
/// `consumers` threads through one shared queue. Each consumer checks that the sequence of each
/// producer increases, and the totals (count and sum) are checked at the end. The last producer
/// to finish pushes one stop marker per consumer. Pinned only for 1+1 with `cores` set (A:
/// producer, B: consumer). Timed from the earliest thread start after a `Barrier` to the latest
/// consumer end.
pub fn mpmc_stream<Q: Mpmc>(
    capacity: usize,
    items: u64,
    producers: usize,
    consumers: usize,
    cores: Cores,
    clock: &Clock,
) -> Option<Duration> {
    const STOP: u64 = u64::MAX;
    let q = Q::new(capacity)?;
    let pinned = producers == 1 && consumers == 1;
    let barrier = Barrier::new(producers + consumers);
    let done_producers = AtomicUsize::new(0);
    let per = items / producers as u64;
    let total_items = per * producers as u64;
    let expected_sum: u64 = (0..producers as u64)
        .map(|p| per * (p << 48) + per * (per.saturating_sub(1)) / 2)
        .fold(0u64, u64::wrapping_add);
    let (mut start, mut end, mut count, mut sum) = (u64::MAX, 0u64, 0u64, 0u64);
    thread::scope(|s| {
        let mut handles = Vec::new();
        for p in 0..producers {
            let (q, barrier, done) = (&q, &barrier, &done_producers);
            handles.push(s.spawn(move || {
                pin(if pinned { cores.a } else { None });
                barrier.wait();
                let t0 = clock.raw();
                let base = (p as u64) << 48;
                for i in 0..per {
                    while !q.try_push(base | i) {
                        wait();
                    }
                }
                if done.fetch_add(1, Ordering::AcqRel) + 1 == producers {
                    for _ in 0..consumers {
                        while !q.try_push(STOP) {
                            wait();
                        }
                    }
                }
                (t0, 0u64, 0u64, 0u64)
            }));
        }
        for _ in 0..consumers {
            let (q, barrier) = (&q, &barrier);
            handles.push(s.spawn(move || {
                pin(if pinned { cores.b } else { None });
                let mut next_seq = vec![0u64; producers];
                barrier.wait();
                let t0 = clock.raw();
                let (mut n, mut sum) = (0u64, 0u64);
                loop {
                    let v = match q.try_pop() {
                        Some(v) => v,
                        None => {
                            wait();
                            continue;
                        }
                    };
                    if v == STOP {
                        break;
                    }
                    let (p, seq) = ((v >> 48) as usize, v & ((1 << 48) - 1));
                    if p >= producers || seq < next_seq[p] {
                        order_violation(seq, next_seq[p.min(producers - 1)]);
                    }
                    next_seq[p] = seq + 1;
                    n += 1;
                    sum = sum.wrapping_add(v);
                }
                (t0, clock.raw(), n, sum)
            }));
        }
        for h in handles {
            let (t0, t1, n, s) = h.join().unwrap();
            start = start.min(t0);
            end = end.max(t1);
            count += n;
            sum = sum.wrapping_add(s);
        }
    });
    assert_eq!(count, total_items, "MPMC stream lost or duplicated items");
    assert_eq!(sum, expected_sum, "MPMC stream checksum mismatch");
    Some(clock.delta(start, end))
}

/// Single-thread cost: `iters` times push one item then pop it, on one thread.
pub fn push_pop_cost<S: Spsc>(capacity: usize, iters: u64, clock: &Clock) -> Option<Duration> {
    let (mut tx, mut rx) = S::channel(capacity)?;
    let start = clock.raw();
    for i in 0..iters {
        let ok = tx.try_push(std::hint::black_box(i));
        let v = rx.try_pop();
        std::hint::black_box((ok, v));
    }
    Some(clock.delta(start, clock.raw()))
}

/// What [`overwrite_stream`] measured.
pub struct OverwriteRun {
    /// The producer's time for all its pushes (none waits).
    pub push_time: Duration,
    /// Items the consumer popped.
    pub popped: u64,
    /// Items the pushes displaced and handed back.
    pub displaced: u64,
}

/// The overwriting ring when the consumer cannot keep up (issue #16): the producer
/// (core A) pushes `0..items` as fast as it can, never waiting; the consumer (core B)
/// pops as fast as it can until the producer is done and the ring is empty, checking
/// that what it gets is increasing. Every item must be popped or displaced, once.
pub fn overwrite_stream(capacity: usize, items: u64, cores: Cores, clock: &Clock) -> OverwriteRun {
    let (mut tx, mut rx) = ringway::spsc::overwriting::channel::<u64>(capacity);
    let barrier = &Barrier::new(2);
    let done = &Padded(AtomicBool::new(false));
    thread::scope(|s| {
        let consumer = s.spawn(move || {
            pin(cores.b);
            barrier.wait();
            let (mut popped, mut last) = (0u64, None);
            loop {
                let finished = done.0.load(Ordering::Acquire);
                match rx.pop() {
                    Some(v) => {
                        assert!(last < Some(v), "popped out of order");
                        last = Some(v);
                        popped += 1;
                    }
                    None if finished => break,
                    None => spin_loop(),
                }
            }
            popped
        });
        pin(cores.a);
        barrier.wait();
        let t0 = clock.raw();
        let mut displaced = 0u64;
        for i in 0..items {
            displaced += tx.push(i).is_some() as u64;
        }
        let t1 = clock.raw();
        done.0.store(true, Ordering::Release);
        let popped = consumer.join().expect("consumer panicked");
        assert_eq!(popped + displaced, items, "items lost or duplicated");
        OverwriteRun {
            push_time: clock.delta(t0, t1),
            popped,
            displaced,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The contender lists
// ---------------------------------------------------------------------------------------------

pub type RoundtripFn = fn(usize, usize, usize, Cores, &Clock) -> Option<Vec<u64>>;
pub type StreamFn = fn(usize, u64, Regime, Cores, &Clock) -> Option<Duration>;
pub type MpmcFn = fn(usize, u64, usize, usize, Cores, &Clock) -> Option<Duration>;
pub type PushPopFn = fn(usize, u64, &Clock) -> Option<Duration>;

/// One SPSC-shaped contender, its drivers monomorphised for it.
#[derive(Clone, Copy)]
pub struct SpscEntry {
    pub name: &'static str,
    /// ringway's own queue (excluded from "best peer").
    pub ringway: bool,
    /// Moves several items per operation (slice or chunk); single-item contenders are false.
    pub batched: bool,
    /// Part of the SPSC streaming tables (the floor and the channels are only in the ping-pong).
    pub streams: bool,
    pub roundtrip: RoundtripFn,
    pub stream: StreamFn,
    pub push_pop: PushPopFn,
}

fn spsc<S: Spsc>(name: &'static str, ringway: bool, batched: bool, streams: bool) -> SpscEntry {
    SpscEntry {
        name,
        ringway,
        batched,
        streams,
        roundtrip: roundtrip::<S>,
        stream: stream::<S>,
        push_pop: push_pop_cost::<S>,
    }
}

/// A single-item contender of the ping-pong only (not in the SPSC streaming tables), for
/// workloads that build their own lists (`benches/common/broadcast.rs`).
pub fn spsc_entry<S: Spsc>(name: &'static str, ringway: bool) -> SpscEntry {
    spsc::<S>(name, ringway, false, false)
}

/// A contender of the ping-pong only, whose driver is given as is (the cross-process ones of
/// [`shm`]); it cannot stream.
pub fn roundtrip_entry(name: &'static str, ringway: bool, roundtrip: RoundtripFn) -> SpscEntry {
    fn no_stream(_: usize, _: u64, _: Regime, _: Cores, _: &Clock) -> Option<Duration> {
        None
    }
    fn no_push_pop(_: usize, _: u64, _: &Clock) -> Option<Duration> {
        None
    }
    SpscEntry {
        name,
        ringway,
        batched: false,
        streams: false,
        roundtrip,
        stream: no_stream,
        push_pop: no_push_pop,
    }
}

/// The floor of the ping-pong (not a queue).
pub fn floor_entry() -> SpscEntry {
    spsc::<Floor>("floor (atomic)", false, false, false)
}

/// Every SPSC-shaped contender, in the order they run and print.
pub fn spsc_contenders() -> Vec<SpscEntry> {
    vec![
        spsc::<RingwaySpsc>("ringway spsc", true, false, true),
        spsc::<RingwayStamped>("ringway stamped", true, false, true),
        spsc::<RingwayOverwriting>("ringway overwriting", true, false, true),
        spsc::<RingwaySpscSlice>("ringway spsc slice", true, true, true),
        spsc::<RingwaySpscChunk>("ringway spsc chunk", true, true, true),
        spsc::<RingwayMpmc>("ringway mpmc", true, false, false),
        spsc::<Rtrb>("rtrb", false, false, true),
        spsc::<RtrbChunk>("rtrb chunk", false, true, true),
        spsc::<Ringbuf>("ringbuf", false, false, true),
        spsc::<RingbufSlice>("ringbuf slice", false, true, true),
        spsc::<Disruptor>("disruptor", false, false, true),
        spsc::<Heapless<1024>>("heapless", false, false, true),
        spsc::<Heapless<65536>>("heapless", false, false, true),
        spsc::<ArrayQueue>("crossbeam ArrayQueue", false, false, true),
        spsc::<CrossbeamChannelSpsc>("crossbeam-channel", false, false, false),
        spsc::<KanalSpsc>("kanal", false, false, false),
        spsc::<FlumeSpsc>("flume", false, false, false),
        spsc::<StdSyncChannel>("std sync_channel", false, false, false),
        spsc::<ThingBuf>("thingbuf", false, false, false),
    ]
}

#[derive(Clone, Copy)]
pub struct MpmcEntry {
    pub name: &'static str,
    pub ringway: bool,
    pub stream: MpmcFn,
}

/// The MPMC contenders.
pub fn mpmc_contenders() -> Vec<MpmcEntry> {
    fn e<Q: Mpmc>(name: &'static str, ringway: bool) -> MpmcEntry {
        MpmcEntry {
            name,
            ringway,
            stream: mpmc_stream::<Q>,
        }
    }
    vec![
        e::<RingwayMpmc>("ringway mpmc", true),
        e::<ArrayQueue>("crossbeam ArrayQueue", false),
        e::<CrossbeamChannel>("crossbeam-channel", false),
        e::<Kanal>("kanal", false),
        e::<Flume>("flume", false),
        e::<ThingBuf>("thingbuf", false),
    ]
}

/// `--only a,b`: keeps names containing any of the (case-insensitive) words.
pub fn name_selected(name: &str, only: &[String]) -> bool {
    only.is_empty()
        || only
            .iter()
            .any(|w| name.to_lowercase().contains(&w.to_lowercase()))
}
