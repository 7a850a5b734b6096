//! The broadcast workload (issue #16 part 2): one producer, several consumers, each consumer
//! sees every item.
//!
//! * **Round trip (1 -> 1).** ringway's `broadcast` rings (both policies) and
//!   `tokio::sync::broadcast` as [`Spsc`] contenders: a channel with its one first consumer is
//!   an SPSC pair, so they run through the same ping-pong driver ([`common::roundtrip`]) as the
//!   `roundtrip` workload, against the same floor.
//! * **Fan-out (1 -> k).** [`fanout_stream`]: one producer streams `0..items` (`u64`, each its
//!   sequence number) to `k` readers; every reader checks every item it gets. Each contender is
//!   a small adapter ([`Fanout`]: a [`Tx`] and `k` [`FanRx`]), and every thread waits with the
//!   shared wait loop ([`wait`]). A lossy channel's reader that is told it missed `n` items
//!   counts them as lagged and expects the item `n` further on; it is done when it got or
//!   missed all `items`.
//! * **disruptor's own consumers.** [`disruptor_handlers_stream`] is the one exception to the
//!   shared loop: disruptor's `handle_events_with` consumers run on threads the crate spawns,
//!   in its own `BusySpin` loop (no spin hint; [`HarnessBusySpin`]: it yields when the
//!   harness's loop does), reading every available event as one batch (so it is the tables'
//!   batched peer). It is there because it is how the crate is meant to be used for fan-out;
//!   the `disruptor` row (one `EventPoller` per reader, `take(1)`) is the one that runs the
//!   same loop as the others.
//! * **Placement** ([`fanout_placement`]): pinned (producer on core A, readers on B and
//!   further cores) only with a core per thread; otherwise unpinned, and on the 2-vCPU guest
//!   1 -> 2 and 1 -> 3 are oversubscribed (3 and 4 threads on 2 cores): `latency.rs` then
//!   makes every wait loop yield and says so in the header and the table titles.
//!
//! Timing (fan-out): the readers are polling the empty ring when the producer starts (the
//! SPSC tables' empty start); from the producer's first push (taken on its thread, once every
//! thread has passed a `Barrier`) to the last reader's receipt of its last item (taken on
//! that reader's thread): raw ticks of one `quanta::Clock` compared across threads, as in
//! `common::mpmc_stream`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use core_affinity::CoreId;
use quanta::Clock;

use crate::common::{self, check, pin, wait, Padded, Rx, Spsc, SpscEntry, Tx};

// ---------------------------------------------------------------------------------------------
// Round-trip adapters (1 -> 1)
// ---------------------------------------------------------------------------------------------

use ringway::broadcast::{Consumer as BcConsumer, Policy, Producer as BcProducer};

impl Tx for BcProducer<u64> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.push(v).is_ok()
    }
}

#[cold]
#[inline(never)]
fn lagged_in_ping_pong(n: u64) -> ! {
    panic!("lagged {n} items in a ping-pong (at most one item is in flight)")
}

impl Rx for BcConsumer<u64> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        match self.pop() {
            Ok(v) => v,
            Err(ringway::broadcast::Lagged(n)) => lagged_in_ping_pong(n),
        }
    }
}

/// ringway `broadcast` with `Policy::Backpressure` (`LOSSY = false`) or `Policy::Lossy`,
/// through its producer and the consumer `channel` returns.
pub struct RingwayBroadcast<const LOSSY: bool>;

fn policy(lossy: bool) -> Policy {
    if lossy {
        Policy::Lossy
    } else {
        Policy::Backpressure
    }
}

impl<const LOSSY: bool> Spsc for RingwayBroadcast<LOSSY> {
    type Tx = BcProducer<u64>;
    type Rx = BcConsumer<u64>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        // The ring rounds the capacity up to a power of two: take only the ones it keeps.
        if !capacity.is_power_of_two() {
            return None;
        }
        Some(ringway::broadcast::channel(capacity, policy(LOSSY)))
    }
}

/// `tokio::sync::broadcast` (1.x, feature `sync`), with its non-async `send` (never waits: a
/// full channel drops its oldest value) and `try_recv`.
pub struct TokioBroadcast;

impl Tx for tokio::sync::broadcast::Sender<u64> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        // Fails only without receivers, which no driver does.
        self.send(v).is_ok()
    }
}

impl Rx for tokio::sync::broadcast::Receiver<u64> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        use tokio::sync::broadcast::error::TryRecvError;
        match self.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Lagged(n)) => lagged_in_ping_pong(n),
            Err(TryRecvError::Closed) => panic!("tokio broadcast closed in a ping-pong"),
        }
    }
}

impl Spsc for TokioBroadcast {
    type Tx = tokio::sync::broadcast::Sender<u64>;
    type Rx = tokio::sync::broadcast::Receiver<u64>;
    fn channel(capacity: usize) -> Option<(Self::Tx, Self::Rx)> {
        // It rounds the capacity up to a power of two too.
        if !capacity.is_power_of_two() {
            return None;
        }
        Some(tokio::sync::broadcast::channel(capacity))
    }
}

/// The round-trip contenders of the broadcast workload (the floor is added by the caller):
/// ringway's two broadcast policies and tokio's broadcast, with ringway's SPSC ring and
/// disruptor (one `EventPoller`) as the same run's single-consumer references.
pub fn roundtrip_contenders() -> Vec<SpscEntry> {
    vec![
        common::spsc_entry::<RingwayBroadcast<false>>("ringway broadcast backpressure", true),
        common::spsc_entry::<RingwayBroadcast<true>>("ringway broadcast lossy", true),
        common::spsc_entry::<common::RingwaySpsc>("ringway spsc", true),
        common::spsc_entry::<common::Disruptor>("disruptor", false),
        common::spsc_entry::<TokioBroadcast>("tokio broadcast", false),
    ]
}

// ---------------------------------------------------------------------------------------------
// Fan-out (1 -> k)
// ---------------------------------------------------------------------------------------------

/// What one reader's poll found.
pub enum Polled {
    Item(u64),
    Empty,
    /// The reader fell more than the capacity behind and missed this many items (lossy
    /// channels only); its next item is the one after them.
    Lagged(u64),
}

/// A reader of a fan-out channel.
pub trait FanRx: Send {
    fn poll(&mut self) -> Polled;
}

/// A fan-out channel: one producer ([`Tx`]) and `readers` readers, each of which gets every
/// item pushed after the channel was built.
pub trait Fanout {
    type Tx: Tx + 'static;
    type Rx: FanRx + 'static;
    /// `None` when the channel cannot have exactly this capacity.
    fn channel(capacity: usize, readers: usize) -> Option<(Self::Tx, Vec<Self::Rx>)>;
}

impl FanRx for BcConsumer<u64> {
    #[inline(always)]
    fn poll(&mut self) -> Polled {
        match self.pop() {
            Ok(Some(v)) => Polled::Item(v),
            Ok(None) => Polled::Empty,
            Err(ringway::broadcast::Lagged(n)) => Polled::Lagged(n),
        }
    }
}

impl<const LOSSY: bool> Fanout for RingwayBroadcast<LOSSY> {
    type Tx = BcProducer<u64>;
    type Rx = BcConsumer<u64>;
    fn channel(capacity: usize, readers: usize) -> Option<(Self::Tx, Vec<Self::Rx>)> {
        let (tx, first) = <Self as Spsc>::channel(capacity)?;
        let mut rxs = vec![first];
        rxs.extend((1..readers).map(|_| tx.subscribe()));
        Some((tx, rxs))
    }
}

impl FanRx for tokio::sync::broadcast::Receiver<u64> {
    #[inline(always)]
    fn poll(&mut self) -> Polled {
        use tokio::sync::broadcast::error::TryRecvError;
        match self.try_recv() {
            Ok(v) => Polled::Item(v),
            Err(TryRecvError::Empty) => Polled::Empty,
            Err(TryRecvError::Lagged(n)) => Polled::Lagged(n),
            // The producer is gone: the reader has everything there was (it stops at `items`
            // first, so this is never reached).
            Err(TryRecvError::Closed) => Polled::Empty,
        }
    }
}

impl Fanout for TokioBroadcast {
    type Tx = tokio::sync::broadcast::Sender<u64>;
    type Rx = tokio::sync::broadcast::Receiver<u64>;
    fn channel(capacity: usize, readers: usize) -> Option<(Self::Tx, Vec<Self::Rx>)> {
        let (tx, first) = <Self as Spsc>::channel(capacity)?;
        let mut rxs = vec![first];
        rxs.extend((1..readers).map(|_| tx.subscribe()));
        Some((tx, rxs))
    }
}

/// ringway broadcast (`Backpressure`) read with `pop_slice` of up to
/// [`common::SLICE_BATCH`] items into a local buffer (one cursor publish per batch), then
/// served one by one: the batched counterpart of disruptor's own handlers.
pub struct RingwayBroadcastSlice;

pub struct BcSliceRx {
    rx: BcConsumer<u64>,
    buf: Box<[u64; common::SLICE_BATCH]>,
    at: usize,
    len: usize,
}

impl FanRx for BcSliceRx {
    #[inline(always)]
    fn poll(&mut self) -> Polled {
        if self.at == self.len {
            match self.rx.pop_slice(&mut self.buf[..]) {
                Ok(0) => return Polled::Empty,
                Ok(n) => (self.at, self.len) = (0, n),
                Err(ringway::broadcast::Lagged(n)) => return Polled::Lagged(n),
            }
        }
        let v = self.buf[self.at];
        self.at += 1;
        Polled::Item(v)
    }
}

impl Fanout for RingwayBroadcastSlice {
    type Tx = BcProducer<u64>;
    type Rx = BcSliceRx;
    fn channel(capacity: usize, readers: usize) -> Option<(Self::Tx, Vec<Self::Rx>)> {
        let (tx, rxs) = <RingwayBroadcast<false> as Fanout>::channel(capacity, readers)?;
        let rxs = rxs
            .into_iter()
            .map(|rx| BcSliceRx {
                rx,
                buf: Box::new([0; common::SLICE_BATCH]),
                at: 0,
                len: 0,
            })
            .collect();
        Some((tx, rxs))
    }
}

/// disruptor 4.x, single producer, one `EventPoller` per reader (`take(1)`: one event per
/// poll, like the other single-item readers), polled by the harness's threads. The producer
/// waits for the slowest reader (`try_publish` fails while the ring is full for any of them).
pub struct DisruptorPollers;
pub struct DisruptorFanTx(disruptor::SingleProducer<u64, disruptor::MultiConsumerBarrier>);
pub struct DisruptorFanRx(disruptor::EventPoller<u64, disruptor::SingleProducerBarrier>);

impl Tx for DisruptorFanTx {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        use disruptor::Producer;
        self.0.try_publish(|slot| *slot = v).is_ok()
    }
}

impl FanRx for DisruptorFanRx {
    #[inline(always)]
    fn poll(&mut self) -> Polled {
        match self.0.take(1) {
            Ok(mut events) => match (&mut events).next() {
                Some(&v) => Polled::Item(v),
                None => Polled::Empty,
            },
            Err(_) => Polled::Empty,
        }
    }
}

impl Fanout for DisruptorPollers {
    type Tx = DisruptorFanTx;
    type Rx = DisruptorFanRx;
    fn channel(capacity: usize, readers: usize) -> Option<(Self::Tx, Vec<Self::Rx>)> {
        if !capacity.is_power_of_two() {
            return None;
        }
        let mut builder = disruptor::build_single_producer(capacity, || 0u64, disruptor::BusySpin)
            .with_multi_consumer();
        let mut rxs = Vec::with_capacity(readers);
        for _ in 0..readers {
            let (poller, next) = builder.new_event_poller();
            rxs.push(DisruptorFanRx(poller));
            builder = next;
        }
        Some((DisruptorFanTx(builder.build()), rxs))
    }
}

/// What one fan-out run measured.
#[derive(Clone, Copy, Debug)]
pub struct FanoutRun {
    /// From the producer's first push to the last reader's last item.
    pub time: Duration,
    /// Items the readers missed, all readers together (lossy channels only; else 0).
    pub lagged: u64,
}

/// Where the threads of a fan-out run: `[producer, reader 0, reader 1, ...]`; `None`:
/// unpinned.
pub type Pins = [Option<CoreId>];

fn pin_of(pins: &Pins, i: usize) -> Option<CoreId> {
    pins.get(i).copied().flatten()
}

/// One producer streams `0..items` to `readers` readers through `F`; each reader checks every
/// item (in order, each its sequence number; after `Lagged(n)`, the next one is `n` further).
/// Threads are spawned and pinned before a `Barrier`, so the spawn is never timed.
pub fn fanout_stream<F: Fanout>(
    capacity: usize,
    items: u64,
    readers: usize,
    pins: &Pins,
    clock: &Clock,
) -> Option<FanoutRun> {
    let (mut tx, rxs) = F::channel(capacity, readers)?;
    assert_eq!(rxs.len(), readers);
    let barrier = &Barrier::new(readers + 1);
    let (start, ends) = thread::scope(|s| {
        // The halves move into their threads (see `common::roundtrip`).
        let reader_threads: Vec<_> = rxs
            .into_iter()
            .enumerate()
            .map(|(r, mut rx)| {
                let core = pin_of(pins, r + 1);
                s.spawn(move || {
                    pin(core);
                    barrier.wait();
                    let (mut expected, mut lagged) = (0u64, 0u64);
                    while expected < items {
                        match rx.poll() {
                            Polled::Item(v) => {
                                check(v, expected);
                                expected += 1;
                            }
                            Polled::Lagged(n) => {
                                lagged += n;
                                expected += n;
                            }
                            Polled::Empty => wait(),
                        }
                    }
                    let end = clock.raw();
                    assert_eq!(
                        expected, items,
                        "a reader was told it missed items never pushed"
                    );
                    (end, lagged)
                })
            })
            .collect();
        let core = pin_of(pins, 0);
        let producer = s.spawn(move || {
            pin(core);
            barrier.wait();
            let start = clock.raw();
            for i in 0..items {
                while !tx.try_push(i) {
                    wait();
                }
            }
            start
        });
        let start = producer.join().unwrap();
        let ends: Vec<(u64, u64)> = reader_threads
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        (start, ends)
    });
    let end = ends.iter().map(|e| e.0).max().unwrap_or(start);
    Some(FanoutRun {
        time: clock.delta(start, end),
        lagged: ends.iter().map(|e| e.1).sum(),
    })
}

/// disruptor's `BusySpin` (do nothing between polls) while the harness spins, and
/// `thread::yield_now()` while the harness's wait loop yields (oversubscribed fan-out, see
/// [`fanout_placement`]), so its own consumer threads give way as the harness's do.
#[derive(Clone, Copy)]
pub struct HarnessBusySpin;
impl disruptor::wait_strategies::WaitStrategy for HarnessBusySpin {
    #[inline(always)]
    fn wait_for(&self, _sequence: disruptor::Sequence) {
        if common::yield_when_waiting() {
            thread::yield_now();
        }
    }
}

/// disruptor 4.x with `handle_events_with` consumers (one per reader), `BusySpin`: each
/// handler runs on a thread the crate spawns (pinned with `pin_at_core` where the reader would
/// be), in the crate's own wait loop, reading all available events per batch. Each handler
/// checks every event and takes the clock at the last one; the harness's producer thread
/// publishes with `try_publish` and the shared wait loop. Dropping the producer (after the
/// timed part) shuts the consumers down and joins their threads.
pub fn disruptor_handlers_stream(
    capacity: usize,
    items: u64,
    readers: usize,
    pins: &Pins,
    clock: &Clock,
) -> Option<FanoutRun> {
    use disruptor::{ProcessorSettings, Producer};
    if !capacity.is_power_of_two() {
        return None;
    }
    let ends: Arc<Vec<Padded<AtomicU64>>> =
        Arc::new((0..readers).map(|_| Padded(AtomicU64::new(0))).collect());
    let mut builder =
        disruptor::build_single_producer(capacity, || 0u64, HarnessBusySpin).with_multi_consumer();
    for r in 0..readers {
        if let Some(core) = pin_of(pins, r + 1) {
            builder = builder.pin_at_core(core.id);
        }
        let (ends, clock) = (Arc::clone(&ends), clock.clone());
        let mut expected = 0u64;
        builder = builder.handle_events_with(move |&v: &u64, _seq, _end_of_batch| {
            check(v, expected);
            expected += 1;
            if expected == items {
                ends[r].0.store(clock.raw(), Ordering::Release);
            }
        });
    }
    let mut tx = builder.build();
    let core = pin_of(pins, 0);
    let start = thread::scope(|s| {
        s.spawn(move || {
            pin(core);
            let start = clock.raw();
            for i in 0..items {
                while tx.try_publish(|slot| *slot = i).is_err() {
                    wait();
                }
            }
            drop(tx); // joins the consumer threads, after they handled everything
            start
        })
        .join()
        .unwrap()
    });
    let end = ends
        .iter()
        .map(|e| e.0.load(Ordering::Acquire))
        .inspect(|&t| assert!(t != 0, "a disruptor handler did not get every item"))
        .max()
        .unwrap_or(start);
    Some(FanoutRun {
        time: clock.delta(start, end),
        lagged: 0,
    })
}

pub type FanoutFn = fn(usize, u64, usize, &Pins, &Clock) -> Option<FanoutRun>;

/// One fan-out contender.
#[derive(Clone, Copy)]
pub struct FanoutEntry {
    pub name: &'static str,
    /// ringway's own channel (excluded from "best peer").
    pub ringway: bool,
    /// Drops items for a slow reader instead of waiting for it (the table says how many).
    pub lossy: bool,
    /// Reads several items per operation (disruptor's own consumers read every available
    /// event as one batch); compared with the batched peers apart, as in the SPSC tables.
    pub batched: bool,
    pub stream: FanoutFn,
}

/// The fan-out contenders, in the order they run and print.
pub fn fanout_contenders() -> Vec<FanoutEntry> {
    fn e<F: Fanout>(name: &'static str, ringway: bool, lossy: bool) -> FanoutEntry {
        FanoutEntry {
            name,
            ringway,
            lossy,
            batched: false,
            stream: fanout_stream::<F>,
        }
    }
    vec![
        e::<RingwayBroadcast<false>>("ringway broadcast backpressure", true, false),
        e::<RingwayBroadcast<true>>("ringway broadcast lossy", true, true),
        FanoutEntry {
            batched: true,
            ..e::<RingwayBroadcastSlice>("ringway broadcast backpressure slice", true, false)
        },
        e::<DisruptorPollers>("disruptor", false, false),
        FanoutEntry {
            name: "disruptor handlers",
            ringway: false,
            lossy: false,
            batched: true,
            stream: disruptor_handlers_stream,
        },
        e::<TokioBroadcast>("tokio broadcast", false, true),
    ]
}

/// Where a 1 -> `readers` run's threads go.
pub struct Placement {
    /// `[producer, reader 0, reader 1, ...]`; `None`: unpinned.
    pub pins: Vec<Option<CoreId>>,
    /// More threads than available cores.
    pub oversubscribed: bool,
    /// For the table's title.
    pub how: String,
}

/// The producer on core A and reader 0 on core B (the cores every other workload uses), the
/// other readers on further available cores, when the machine has a core for each of the
/// `readers + 1` threads; otherwise all unpinned (as the MPMC workload's unpinned cases), and
/// oversubscribed when there are fewer cores than threads.
pub fn fanout_placement(cores: common::Cores, readers: usize) -> Placement {
    let threads = readers + 1;
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    if let (Some(a), Some(b)) = (cores.a, cores.b) {
        let others = ids.iter().copied().filter(|c| c.id != a.id && c.id != b.id);
        let pins: Vec<CoreId> = [a, b].into_iter().chain(others).take(threads).collect();
        if pins.len() == threads {
            let list: Vec<String> = pins.iter().map(|c| c.id.to_string()).collect();
            return Placement {
                pins: pins.into_iter().map(Some).collect(),
                oversubscribed: false,
                how: format!(
                    "pinned: producer on core {}, readers on core(s) {}",
                    list[0],
                    list[1..].join(", ")
                ),
            };
        }
    }
    let oversubscribed = ids.len() < threads;
    Placement {
        pins: vec![None; threads],
        oversubscribed,
        how: if oversubscribed {
            format!(
                "UNPINNED, OVERSUBSCRIBED: {threads} threads on {} core(s)",
                ids.len()
            )
        } else {
            "unpinned".to_string()
        },
    }
}
