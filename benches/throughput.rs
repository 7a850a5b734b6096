//! `cargo bench --bench throughput`: the streaming workloads of `benches/latency.rs` as criterion
//! benchmarks (criterion's statistics and HTML report under `target/criterion/`).
//!
//! Method: every queue runs through the same drivers as in `latency.rs` (`benches/common/mod.rs`):
//! same `u64` items (each its sequence number, checked by the consumer), same capacity, same
//! pinning (producer on the first available core, consumer on the second) and same wait loop
//! (`core::hint::spin_loop()`). Each criterion sample uses `iter_custom`: the threads are spawned
//! and pinned, meet at a `std::sync::Barrier`, and only the streaming of `iters` items is timed
//! (with `quanta`, on the consumer's thread), never the spawn. One criterion iteration is one
//! item, so criterion's "thrpt" is items per second.
//!
//! Groups:
//! * `spsc_stream/cap2` (contended: producer and consumer hit the same lines on every item) and
//!   `spsc_stream/cap65536` (uncontended), starting on an empty queue. (`latency.rs` measures
//!   both start regimes; criterion's varying iteration counts suit the empty start.)
//! * `mpmc_stream/1p1c_pinned/capN` and `mpmc_stream/2p2c_unpinned/capN`, N = 2 and 65536:
//!   ringway mpmc, crossbeam `ArrayQueue`, crossbeam-channel, kanal, flume, thingbuf.
//! * `push_pop_1thread`: one thread pushes one item and pops it, capacity 1024: the bare cost of
//!   the operations without any cross-core traffic.
//!
//! Kept short (sample size 10, 1 s warm-up, 2 s measurement) so that the whole bench takes a few
//! minutes. Filter as usual with criterion, e.g. `cargo bench --bench throughput -- rtrb`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Cores, Regime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use quanta::Clock;

/// Contended and uncontended capacities.
const CAPACITIES: [usize; 2] = [2, 65536];

fn setup() -> (Cores, Clock) {
    let (cores, how) = Cores::detect(None);
    eprintln!("throughput bench: {how}");
    (cores, Clock::new())
}

fn spsc_stream(c: &mut Criterion) {
    let (cores, clock) = setup();
    for cap in CAPACITIES {
        let mut group = c.benchmark_group(format!("spsc_stream/cap{cap}"));
        group.throughput(Throughput::Elements(1));
        for e in common::spsc_contenders().into_iter().filter(|e| e.streams) {
            if (e.stream)(cap, 1, Regime::Empty, cores, &clock).is_none() {
                continue; // cannot have this capacity
            }
            group.bench_function(e.name, |b| {
                b.iter_custom(|iters| {
                    (e.stream)(cap, iters.max(1), Regime::Empty, cores, &clock).unwrap()
                })
            });
        }
        group.finish();
    }
}

fn mpmc_stream(c: &mut Criterion) {
    let (cores, clock) = setup();
    for (p, n, pinned) in [(1usize, 1usize, true), (2, 2, false)] {
        let cores = if pinned { cores } else { Cores::UNPINNED };
        for cap in CAPACITIES {
            let label = format!(
                "mpmc_stream/{p}p{n}c_{}/cap{cap}",
                if pinned { "pinned" } else { "unpinned" }
            );
            let mut group = c.benchmark_group(label);
            group.throughput(Throughput::Elements(1));
            for e in common::mpmc_contenders() {
                group.bench_function(e.name, |b| {
                    b.iter_custom(|iters| {
                        // Each producer streams iters / p items (at least one).
                        let items = iters.max(p as u64);
                        let d = (e.stream)(cap, items, p, n, cores, &clock).expect("mpmc queue");
                        let streamed = items / p as u64 * p as u64;
                        d.mul_f64(iters as f64 / streamed as f64)
                    })
                });
            }
            group.finish();
        }
    }
}

fn push_pop_1thread(c: &mut Criterion) {
    let clock = Clock::new();
    let mut group = c.benchmark_group("push_pop_1thread");
    group.throughput(Throughput::Elements(1));
    for e in common::spsc_contenders().into_iter().filter(|e| !e.batched) {
        if (e.push_pop)(1024, 1, &clock).is_none() {
            continue;
        }
        group.bench_function(e.name, |b| {
            b.iter_custom(|iters| (e.push_pop)(1024, iters, &clock).unwrap())
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = spsc_stream, mpmc_stream, push_pop_1thread
}
criterion_main!(benches);
