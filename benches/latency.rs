//! `cargo bench --bench latency`: ringway against its peers on this machine, in one command.
//!
//! # Method
//!
//! * **Threads.** Two threads pinned with `core_affinity` to cores A and B (the first two
//!   available, or `--cores A,B`). With fewer than two cores the run says so, runs unpinned and
//!   every wait loop yields (figures are then not comparable).
//! * **Same loop for everyone.** Every queue goes through the same generic drivers
//!   (`benches/common/mod.rs`) with the same item type (`u64`), capacity, pinning and wait loop
//!   (a busy spin on `core::hint::spin_loop()` after each failed push or pop). Each queue only
//!   contributes a tiny adapter (`try_push` / `try_pop`, plus `push_run` / `pop_run` for the
//!   batched modes).
//! * **Timer.** `quanta::Clock` raw ticks, read on the timed thread, converted to ns with
//!   `Clock::delta_as_nanos` after the run. The counter may advance in steps (about 10 ns on our
//!   KVM guest), so besides the HDR percentiles the tables give the *mean of the fastest 99%*
//!   of samples, computed from the raw ticks, which is not quantised and drops the tail.
//! * **Floor.** A raw cross-core hand-off through one padded `AtomicU64` (store `v + 1`, the
//!   other side spins until it sees it), run through the *same* ping-pong driver: the physical
//!   limit of a round trip between these two cores. Latency ratios are taken against the floor
//!   measured in the same round (the mean of the floor probes at the start and the end of the
//!   round). The host can move a vCPU (the round trip then jumps from ~85 ns to ~450 ns for
//!   seconds to minutes): a round whose two floor probes differ by more than 30%, or whose
//!   floor is more than 1.5x the best floor seen so far, is re-run (at most twice per round),
//!   and this is reported.
//! * **Round trip** (ping-pong): thread A pushes `i` into queue 1 and spins until it pops it from
//!   queue 2; thread B pops from 1 and pushes into 2. Capacity 1024 (`--capacity`). Each sample
//!   is one round trip, stored as raw ticks into a preallocated, pre-touched `Vec` (nothing else
//!   on the timed path); the HDR histograms are built from it afterwards. Warm-up round trips
//!   are discarded.
//! * **SPSC throughput:** a producer on core A streams `--items` (default 100 M) `u64`s, each
//!   its sequence number, to a consumer on core B that checks every item. Capacities 1024 and
//!   65536. Two start regimes, because SPSC streaming has two stable regimes and which one a run
//!   settles in depends on the start: *full start* (the producer fills the queue to capacity
//!   before the consumer is released: a backlog) and *empty start* (the consumer is already
//!   polling an empty queue when the producer is released: it chases the producer, one line
//!   transfer per item unless the producer publishes in batches). Timed on the consumer's thread,
//!   from its release to the last item. Single-item push/pop for every queue; batched modes
//!   (`push_slice`/`pop_slice` of up to 512 items, and zero-copy chunks) for ringway, with rtrb's
//!   chunks and ringbuf's slices as the batched peers.
//! * **MPMC throughput:** 1 producer + 1 consumer pinned (A, B), and 2 producers + 2 consumers
//!   unpinned (4 threads on the 2 cores), `--mpmc-items` (default `--items / 10`), capacity 1024.
//!   Per-producer order and the total count and checksum are verified.
//! * **Interleaving and repetition.** In each workload the contenders run one after the other
//!   (A B C ..., rotating the start each round so no queue always runs first) and the whole
//!   sequence is repeated `--rounds` times (default 3). Tables show medians over rounds; ratios
//!   are per-round ratios, then the median. Throughput runs each contender once unrecorded
//!   first (warm-up).
//!
//! # Output
//!
//! One table per workload: p50, p90, p99, p99.9, max, mean of the fastest 99%, and the ratio to
//! the floor (latency); items/s (median, min, max over rounds) and the ratio to the best
//! non-ringway single-item contender of the same table (throughput). Also written under
//! `<target>/ringway-report/`: `roundtrip.csv` (per round), `roundtrip-percentiles.csv` (the
//! curves), `roundtrip.svg` (latency against percentile, log-scaled tail), `throughput.csv`.
//!
//! # Flags (after `--`)
//!
//! `--quick` (under 40 s), `--cores A,B`, `--capacity N` (round trip, MPMC and the one SPSC
//! streaming capacity), `--items N`, `--mpmc-items N`, `--samples N` (round trips per run),
//! `--rounds N`, `--only NAME,...` (contenders whose name contains a word; the floor always
//! runs), `--workloads roundtrip,spsc,mpmc`. Unknown flags (cargo's `--bench`) are ignored.

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Cores, Regime, SpscEntry};
use hdrhistogram::Histogram;
use quanta::Clock;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

struct Opts {
    quick: bool,
    cores: Option<(usize, usize)>,
    capacity: Option<usize>,
    items: u64,
    mpmc_items: u64,
    samples: usize,
    warmup: usize,
    rounds: usize,
    only: Vec<String>,
    workloads: Vec<String>,
}

fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        quick,
        cores: None,
        capacity: None,
        items: if quick { 10_000_000 } else { 100_000_000 },
        mpmc_items: 0,
        samples: if quick { 100_000 } else { 500_000 },
        warmup: if quick { 10_000 } else { 50_000 },
        rounds: 3,
        only: Vec::new(),
        workloads: vec!["roundtrip".into(), "spsc".into(), "mpmc".into()],
    };
    let mut mpmc_items = None;
    let num = |flag: &str, v: Option<&String>| -> u64 {
        let v = v.unwrap_or_else(|| panic!("{flag} needs a value"));
        v.replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{flag}: not a number: {v}"))
    };
    let list = |v: Option<&String>| -> Vec<String> {
        v.map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let v = args.get(i + 1);
        let mut takes_value = true;
        match a {
            "--cores" => {
                let parts = list(v);
                let p = |s: &String| s.trim().parse::<usize>().expect("--cores A,B");
                assert!(parts.len() == 2, "--cores takes two core ids: A,B");
                o.cores = Some((p(&parts[0]), p(&parts[1])));
            }
            "--capacity" => o.capacity = Some(num(a, v) as usize),
            "--items" => o.items = num(a, v),
            "--mpmc-items" => mpmc_items = Some(num(a, v)),
            "--samples" => o.samples = num(a, v) as usize,
            "--warmup" => o.warmup = num(a, v) as usize,
            "--rounds" => o.rounds = (num(a, v) as usize).max(1),
            "--only" => o.only = list(v),
            "--workloads" => o.workloads = list(v),
            _ => takes_value = false, // --quick, cargo's --bench, anything else: ignored
        }
        i += if takes_value { 2 } else { 1 };
    }
    o.mpmc_items = mpmc_items.unwrap_or((o.items / 10).max(1_000));
    assert!(o.capacity != Some(0), "--capacity must be at least 1");
    o
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/// The statistics of one round-trip run, in ns.
#[derive(Clone, Copy, Default)]
struct LatStats {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean99: f64,
}

struct Samples {
    /// Raw ticks of each round trip.
    ticks: Vec<u64>,
}

struct Timebase {
    clock: Clock,
    ns_per_tick: f64,
}

impl Timebase {
    fn new() -> Self {
        let clock = Clock::new();
        let big = 1u64 << 40;
        let ns_per_tick = clock.delta_as_nanos(0, big) as f64 / big as f64;
        Timebase { clock, ns_per_tick }
    }
    fn ns(&self, ticks: u64) -> u64 {
        if ticks == 0 {
            0
        } else {
            self.clock.delta_as_nanos(0, ticks)
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("histogram bounds")
}

impl Samples {
    fn histogram(&self, tb: &Timebase) -> Histogram<u64> {
        let mut h = histogram();
        for &t in &self.ticks {
            h.saturating_record(tb.ns(t).max(1));
        }
        h
    }

    fn stats(&self, tb: &Timebase) -> LatStats {
        let h = self.histogram(tb);
        let mut sorted = self.ticks.clone();
        sorted.sort_unstable();
        let keep = ((sorted.len() as f64 * 0.99).ceil() as usize).clamp(1, sorted.len().max(1));
        let mean_ticks = sorted[..keep].iter().map(|&t| t as f64).sum::<f64>() / keep as f64;
        LatStats {
            p50: h.value_at_quantile(0.50) as f64,
            p90: h.value_at_quantile(0.90) as f64,
            p99: h.value_at_quantile(0.99) as f64,
            p999: h.value_at_quantile(0.999) as f64,
            max: tb.ns(*sorted.last().unwrap_or(&0)) as f64,
            mean99: mean_ticks * tb.ns_per_tick,
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

fn report_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // <target>/<profile>/deps/latency-<hash>
            let exe = std::env::current_exe().ok()?;
            let deps = exe
                .ancestors()
                .find(|p| p.file_name().is_some_and(|n| n == "deps"))?;
            Some(deps.parent()?.parent()?.to_path_buf())
        });
    let dir = target
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("ringway-report");
    std::fs::create_dir_all(&dir).expect("create the report directory");
    dir
}

struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    fn new(title: impl Into<String>, header: &[&str]) -> Self {
        Table {
            title: title.into(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: vec![],
            notes: vec![],
        }
    }
    fn print(&self) {
        let cols = self.header.len();
        let mut w = vec![0; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "\n## {}\n", self.title);
        let line = |r: &Vec<String>, out: &mut String| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        format!("{c:<0$}", w[i])
                    } else {
                        format!("{c:>0$}", w[i])
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        };
        line(&self.header, &mut out);
        let seps: Vec<String> = (0..cols)
            .map(|i| {
                if i == 0 {
                    "-".repeat(w[i] + 2)
                } else {
                    format!("{}:", "-".repeat(w[i] + 1))
                }
            })
            .collect();
        let _ = writeln!(out, "|{}|", seps.join("|"));
        for r in &self.rows {
            line(r, &mut out);
        }
        for n in &self.notes {
            let _ = writeln!(out, "\n{n}");
        }
        print!("{out}");
    }
}

/// At least three significant digits (one decimal at most from 100 up).
fn f1(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() >= 100.0 || x == 0.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

// ---------------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------------

struct RtResult {
    name: &'static str,
    rounds: Vec<LatStats>,
    ratios: Vec<f64>,
    merged: Histogram<u64>,
}

fn run_roundtrip(o: &Opts, cores: Cores, tb: &Timebase, csv: &mut String) -> Vec<RtResult> {
    let capacity = o.capacity.unwrap_or(1024);
    let floor = common::floor_entry();
    let contenders: Vec<SpscEntry> = common::spsc_contenders()
        .into_iter()
        .filter(|c| !c.batched && common::name_selected(c.name, &o.only))
        .collect();
    // Skip contenders that cannot have this capacity (e.g. heapless' other size).
    let contenders: Vec<SpscEntry> = contenders
        .into_iter()
        .filter(|c| (c.roundtrip)(capacity, 0, 1, cores, &tb.clock).is_some())
        .collect();

    let mut results: Vec<RtResult> = std::iter::once(&floor)
        .chain(&contenders)
        .map(|c| RtResult {
            name: c.name,
            rounds: vec![],
            ratios: vec![],
            merged: histogram(),
        })
        .collect();
    let run = |c: &SpscEntry| Samples {
        ticks: (c.roundtrip)(capacity, o.warmup, o.samples, cores, &tb.clock)
            .expect("capacity checked above"),
    };

    println!(
        "\n# Round trip (ping-pong through two queues), u64, capacity {capacity}, {} samples per run \
         after {} warm-up, {} rounds",
        o.samples, o.warmup, o.rounds
    );
    let mut reruns = 0;
    let mut retries_this_round = 0;
    let mut best_floor = f64::INFINITY;
    let mut round = 0;
    while round < o.rounds {
        let t = Instant::now();
        let first = run(&floor);
        let n = contenders.len().max(1);
        let order: Vec<usize> = (0..contenders.len()).map(|i| (i + round) % n).collect();
        // (index into `results`, floor probe label, samples)
        let mut got: Vec<(usize, &str, Samples)> = vec![(0, "start", first)];
        for &i in &order {
            got.push((i + 1, "", run(&contenders[i])));
        }
        let last = run(&floor);
        let (f0, f1_) = (got[0].2.stats(tb).mean99, last.stats(tb).mean99);
        let drift = (f0 - f1_).abs() / f0.min(f1_);
        let off = drift > 0.30 || f0.min(f1_) > 1.5 * best_floor;
        best_floor = best_floor.min(f0).min(f1_);
        if off && retries_this_round < 2 {
            reruns += 1;
            retries_this_round += 1;
            println!(
                "  round {}: floor probes {f0:.1} ns and {f1_:.1} ns (best so far {best_floor:.1} ns) are off \
                 (vCPU moved?): re-running the round",
                round + 1
            );
            continue;
        }
        let floor_ns = (f0 + f1_) / 2.0;
        got.push((0, "end", last));
        for (r, probe, samples) in &got {
            let r = *r;
            let s = samples.stats(tb);
            results[r].rounds.push(s);
            results[r].ratios.push(s.mean99 / floor_ns);
            results[r]
                .merged
                .add(samples.histogram(tb))
                .expect("histogram add");
            let name = results[r].name;
            let _ = writeln!(
                csv,
                "{},{name},{probe},{:.2},{:.2},{:.2},{:.2},{:.2},{:.3},{:.4},{:.3}",
                round + 1,
                s.p50,
                s.p90,
                s.p99,
                s.p999,
                s.max,
                s.mean99,
                s.mean99 / floor_ns,
                floor_ns
            );
        }
        println!(
            "  round {}: floor {:.1} ns (probes {:.1} / {:.1}), {:.1} s",
            round + 1,
            floor_ns,
            f0,
            f1_,
            t.elapsed().as_secs_f64()
        );
        round += 1;
        retries_this_round = 0;
    }

    let mut table = Table::new(
        format!(
            "Round trip, ns (median of {} rounds), capacity {capacity}",
            o.rounds
        ),
        &[
            "queue",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "mean fastest 99%",
            "x floor",
        ],
    );
    for r in &results {
        let m = |f: fn(&LatStats) -> f64| median(r.rounds.iter().map(f).collect());
        table.rows.push(vec![
            r.name.to_string(),
            f1(m(|s| s.p50)),
            f1(m(|s| s.p90)),
            f1(m(|s| s.p99)),
            f1(m(|s| s.p999)),
            f1(m(|s| s.max)),
            f1(m(|s| s.mean99)),
            format!("{:.2}x", median(r.ratios.clone())),
        ]);
    }
    table.notes.push(format!(
        "x floor: per-round mean-of-fastest-99% over that round's floor (mean of its two probes), median over rounds.{}",
        if reruns > 0 { format!(" {reruns} round(s) re-run because the floor moved.") } else { String::new() }
    ));
    table.print();
    results
}

// ---------------------------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------------------------

/// One throughput contender of a table: `run(items)` streams and returns the timed duration
/// (the dynamic call is outside the timed region, which is inside the driver).
struct TputContender<'a> {
    name: &'static str,
    ringway: bool,
    batched: bool,
    run: Box<dyn Fn(u64) -> Option<Duration> + 'a>,
}

struct TputRow {
    name: &'static str,
    ringway: bool,
    batched: bool,
    rates: Vec<f64>,
}

/// Runs `contenders` interleaved for `rounds`, prints the table, appends to the CSV.
fn throughput_table(
    title: String,
    workload: &str,
    rounds: usize,
    items: u64,
    contenders: Vec<TputContender<'_>>,
    csv: &mut String,
) {
    // Warm-up, and drop the contenders that cannot run this case (e.g. capacity).
    let warm_items = (items / 20).max(10_000);
    let contenders: Vec<_> = contenders
        .into_iter()
        .filter(|c| (c.run)(warm_items).is_some())
        .collect();
    if contenders.is_empty() {
        return;
    }
    let t = Instant::now();
    let mut rows: Vec<TputRow> = contenders
        .iter()
        .map(|c| TputRow {
            name: c.name,
            ringway: c.ringway,
            batched: c.batched,
            rates: vec![],
        })
        .collect();
    for round in 0..rounds {
        for k in 0..contenders.len() {
            let i = (k + round) % contenders.len();
            let d = (contenders[i].run)(items).expect("ran in warm-up");
            let rate = items as f64 / d.as_secs_f64();
            rows[i].rates.push(rate);
            let _ = writeln!(
                csv,
                "{workload},{},{},{items},{:.6},{:.0}",
                round + 1,
                rows[i].name,
                d.as_secs_f64(),
                rate
            );
        }
    }
    let med: Vec<f64> = rows.iter().map(|r| median(r.rates.clone())).collect();
    let best_peer = rows
        .iter()
        .zip(&med)
        .filter(|(r, _)| !r.ringway && !r.batched)
        .map(|(_, &m)| m)
        .fold(f64::NAN, f64::max);
    let best_name = rows
        .iter()
        .zip(&med)
        .find(|(r, &m)| !r.ringway && !r.batched && m == best_peer)
        .map(|(r, _)| r.name);
    let mut table = Table::new(
        title,
        &["queue", "M items/s (median)", "min", "max", "x best peer"],
    );
    for (r, &m) in rows.iter().zip(&med) {
        let mn = r.rates.iter().copied().fold(f64::INFINITY, f64::min);
        let mx = r.rates.iter().copied().fold(0.0, f64::max);
        table.rows.push(vec![
            format!("{}{}", r.name, if r.batched { " [batched]" } else { "" }),
            f1(m / 1e6),
            f1(mn / 1e6),
            f1(mx / 1e6),
            if best_peer.is_nan() {
                "-".into()
            } else {
                format!("{:.2}x", m / best_peer)
            },
        ]);
    }
    table.notes.push(format!(
        "{items} items per run, {rounds} rounds ({:.1} s). x best peer: median rate over the best non-ringway \
         single-item contender's median ({}).",
        t.elapsed().as_secs_f64(),
        best_name.unwrap_or("-")
    ));
    table.print();
}

fn run_spsc_throughput(o: &Opts, cores: Cores, tb: &Timebase, csv: &mut String) {
    let caps = match o.capacity {
        Some(c) => vec![c],
        None => vec![1024, 65536],
    };
    let entries: Vec<SpscEntry> = common::spsc_contenders()
        .into_iter()
        .filter(|c| c.streams && common::name_selected(c.name, &o.only))
        .collect();
    for &cap in &caps {
        for regime in [Regime::Full, Regime::Empty] {
            let contenders = entries
                .iter()
                .map(|e| {
                    let f = e.stream;
                    TputContender {
                        name: e.name,
                        ringway: e.ringway,
                        batched: e.batched,
                        run: Box::new(move |n| f(cap, n, regime, cores, &tb.clock)),
                    }
                })
                .collect();
            throughput_table(
                format!(
                    "SPSC throughput, capacity {cap}, {} (1 producer core A -> 1 consumer core B)",
                    regime.name()
                ),
                &format!("spsc cap={cap} {}", regime.name()),
                o.rounds,
                o.items,
                contenders,
                csv,
            );
        }
    }
}

fn run_mpmc_throughput(o: &Opts, cores: Cores, tb: &Timebase, csv: &mut String) {
    let cap = o.capacity.unwrap_or(1024);
    let entries: Vec<_> = common::mpmc_contenders()
        .into_iter()
        .filter(|c| common::name_selected(c.name, &o.only))
        .collect();
    for (p, c, pinned) in [(1usize, 1usize, true), (2, 2, false)] {
        let cores = if pinned { cores } else { Cores::UNPINNED };
        let contenders = entries
            .iter()
            .map(|e| {
                let f = e.stream;
                TputContender {
                    name: e.name,
                    ringway: e.ringway,
                    batched: false,
                    run: Box::new(move |n| f(cap, n, p, c, cores, &tb.clock)),
                }
            })
            .collect();
        throughput_table(
            format!(
                "MPMC throughput, {p} producer(s) + {c} consumer(s), {}, capacity {cap}",
                if pinned { "pinned" } else { "unpinned" }
            ),
            &format!("mpmc {p}+{c} cap={cap}"),
            o.rounds,
            o.mpmc_items,
            contenders,
            csv,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Plot
// ---------------------------------------------------------------------------------------------

/// x = -log10(1 - p): 0 is p0, 1 is p90, 2 is p99, 3 is p99.9 ...
fn percentile_points(h: &Histogram<u64>, xmax: f64) -> Vec<(f64, f64)> {
    let steps = (xmax * 40.0) as usize;
    (0..=steps)
        .map(|i| {
            let x = i as f64 / 40.0;
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q).max(1) as f64)
        })
        .collect()
}

fn plot_roundtrip(
    results: &[RtResult],
    dir: &std::path::Path,
    capacity: usize,
) -> Result<PathBuf, String> {
    use plotters::prelude::*;
    let count = results
        .iter()
        .map(|r| r.merged.len())
        .min()
        .unwrap_or(0)
        .max(10);
    // Up to the percentile that still has ~10 samples beyond it.
    let xmax = ((count as f64 / 10.0).log10()).clamp(1.0, 6.0);
    let curves: Vec<(&str, Vec<(f64, f64)>)> = results
        .iter()
        .filter(|r| !r.merged.is_empty())
        .map(|r| (r.name, percentile_points(&r.merged, xmax)))
        .collect();
    let ymin = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.1))
        .fold(f64::INFINITY, f64::min)
        * 0.8;
    let ymax = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        * 1.25;
    let path = dir.join("roundtrip.svg");
    let e = |e: &dyn std::fmt::Display| e.to_string();
    {
        let root = SVGBackend::new(&path, (1100, 700)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Round trip latency, u64, capacity {capacity} (merged over rounds)"),
                ("sans-serif", 22),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..xmax, (ymin.max(1.0)..ymax.max(2.0)).log_scale())
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc("percentile (log-scaled tail: x = -log10(1 - p))")
            .y_desc("round trip, ns (log)")
            .x_labels((xmax as usize) + 1)
            .x_label_formatter(&|x| {
                let p = 100.0 * (1.0 - 10f64.powf(-x));
                let s = format!("{p:.4}");
                let s = s.trim_end_matches('0').trim_end_matches('.');
                format!("p{s}")
            })
            .y_label_formatter(&|&y| match y {
                y if y >= 1e6 => format!("{} ms", y / 1e6),
                y if y >= 1e3 => format!("{} us", y / 1e3),
                y => format!("{y} ns"),
            })
            .draw()
            .map_err(|x| e(&x))?;
        for (i, (name, pts)) in curves.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let width = if name.starts_with("ringway") || name.starts_with("floor") {
                3
            } else {
                1
            };
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied(),
                    color.stroke_width(width),
                ))
                .map_err(|x| e(&x))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    let mut csv = String::from("queue,percentile,x,ns\n");
    for (name, pts) in &curves {
        for (x, y) in pts {
            let _ = writeln!(
                csv,
                "{name},{:.6},{x:.3},{y:.0}",
                100.0 * (1.0 - 10f64.powf(-x))
            );
        }
    }
    std::fs::write(dir.join("roundtrip-percentiles.csv"), csv).map_err(|x| e(&x))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let o = parse_opts();
    let started = Instant::now();
    let (cores, how) = Cores::detect(o.cores);
    let tb = Timebase::new();
    let dir = report_dir();
    println!(
        "ringway latency & throughput{}: {how}; quanta clock {:.3} ns/tick; {} round(s); report in {}",
        if o.quick { " (--quick)" } else { "" },
        tb.ns_per_tick,
        o.rounds,
        dir.display()
    );
    if let Some(load) = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next()?.parse::<f64>().ok())
    {
        if load > 0.5 {
            println!("warning: load average {load:.2} before the run: other work competes for the cores, figures will be noisy");
        }
    }
    let want = |w: &str| o.workloads.iter().any(|x| x == w);

    if want("roundtrip") {
        let mut csv = String::from("round,queue,floor_probe,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_fastest99_ns,x_floor,floor_ns\n");
        let results = run_roundtrip(&o, cores, &tb, &mut csv);
        std::fs::write(dir.join("roundtrip.csv"), csv).expect("write roundtrip.csv");
        match plot_roundtrip(&results, &dir, o.capacity.unwrap_or(1024)) {
            Ok(p) => println!("\nplot: {}", p.display()),
            Err(e) => eprintln!("warning: could not draw the plot: {e}"),
        }
    }
    let mut csv = String::from("workload,round,queue,items,seconds,items_per_s\n");
    if want("spsc") {
        println!("\n# SPSC streaming throughput, u64, each item its sequence number (checked)");
        run_spsc_throughput(&o, cores, &tb, &mut csv);
    }
    if want("mpmc") {
        println!(
            "\n# MPMC streaming throughput, u64 (per-producer order, count and checksum checked)"
        );
        run_mpmc_throughput(&o, cores, &tb, &mut csv);
    }
    if want("spsc") || want("mpmc") {
        std::fs::write(dir.join("throughput.csv"), csv).expect("write throughput.csv");
    }
    println!(
        "\nCSV and SVG in {}; total {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}
