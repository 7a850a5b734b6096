//! `cargo bench --bench latency`: ringway against its peers on this machine, in one command.
//!
//! # Method
//!
//! * **Threads.** Two threads pinned with `core_affinity` to cores A and B (the first two
//!   available, or `--cores A,B`). With fewer than two cores the run says so, runs unpinned and
//!   every wait loop yields (figures are then not comparable).
//! * **Contenders** (`common::spsc_contenders`, `common::mpmc_contenders`). SPSC: ringway's
//!   `spsc` (single, slice, chunk), `spsc::stamped` and `spsc::overwriting` (pushing only while
//!   `is_full` is false: its cost when nothing is overwritten), rtrb (single, chunk), ringbuf (single,
//!   slice), disruptor, heapless. MPMC queues and channels (MPMC throughput, and single-item in
//!   the round trip): ringway `mpmc`, crossbeam `ArrayQueue`, crossbeam-channel, kanal and flume
//!   (`bounded`, `try_send` / `try_recv`), thingbuf; std `sync_channel` in the round trip only.
//!   No BBQ: its one Rust crate (bbq-rs 0.1.1) needs nightly and has no non-blocking push / pop
//!   (see `benches/common/mod.rs`). Broadcast (`benches/common/broadcast.rs`): ringway
//!   `broadcast` (`Policy::Backpressure` and `Policy::Lossy`), disruptor (one `EventPoller` per
//!   reader, and its own `handle_events_with` consumer threads), tokio `sync::broadcast`
//!   (`send` / `try_recv`).
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
//! * **Overwrite** (`spsc::overwriting` alone, issue #16): the producer pushes as fast as it
//!   can and never waits, the consumer pops as fast as it can; the table gives the push rate
//!   and the share of items popped and displaced, at capacities 16 and 1024.
//! * **Wake-up round trip** (the waiting operations): the same ping-pong through two queues,
//!   but both threads wait only in the queue's own blocking receive (ringway's `pop_blocking`
//!   with each wait strategy: busy-spin, spin-then-yield, spin-then-park, park at once; the
//!   blocking `recv` of crossbeam-channel and std `sync_channel`), and thread A idles 50 us
//!   before each token, so a parking receiver is asleep when it arrives. 4 000 samples per
//!   run (1 000 with `--quick`).
//! * **SPSC throughput:** a producer on core A streams `u64`s, each its sequence number, to a
//!   consumer on core B that checks every item. Capacities 1024 and 65536. Two start regimes,
//!   because SPSC streaming has two stable regimes and which one a run settles in depends on the
//!   start: *full start* (the producer fills the queue to capacity before the consumer is
//!   released: a backlog) and *empty start* (the consumer is already polling an empty queue when
//!   the producer is released: it chases the producer, one line transfer per item unless the
//!   producer publishes in batches). Timed on the consumer's thread, from its release to the
//!   last item. Each (capacity, regime) case has two tables whose contenders run interleaved in
//!   the same rounds: *single-item* push/pop for every queue, and *batched* (ringway's
//!   `push_slice`/`pop_slice` of up to 512 items and zero-copy chunks, with rtrb's chunks and
//!   ringbuf's slices as the batched peers).
//! * **MPMC throughput:** 1 producer + 1 consumer pinned (A, B), and 2 producers + 2 consumers
//!   unpinned (4 threads on the 2 cores), capacity 1024. Per-producer order and the total count
//!   and checksum are verified.
//! * **Broadcast** (`ringway::broadcast`, issue #16 part 2; `benches/common/broadcast.rs`):
//!   - *Round trip 1 -> 1*: the ping-pong above through two broadcast channels (one each way,
//!     one consumer each), in its own rounds with the floor probes at the start and end of each
//!     round, so the ratios are to the floor of the same run: ringway broadcast (both
//!     policies), tokio broadcast, and ringway `spsc` and disruptor as single-consumer
//!     references. Table "Broadcast round trip 1 -> 1"; `broadcast-roundtrip.csv`.
//!   - *Fan-out 1 -> k* (`--fanout-readers`, default 2 and 3): one producer streams `u64`s,
//!     each its sequence number, and each of `k` readers gets (and checks) every item; the
//!     readers are already polling the empty ring when the producer starts (the SPSC tables'
//!     empty start); timed from the producer's first push to the last reader's last item (raw
//!     ticks compared across threads, as in MPMC); items/s is items pushed per second. Capacities 1024 and
//!     65536 (1024 only with `--quick`). Contenders: ringway broadcast `Backpressure` (the
//!     producer waits for the slowest reader) and `Lossy` (never waits; a reader that falls
//!     behind is told how many items it missed), disruptor with one `EventPoller` per reader
//!     (`take(1)`, the shared wait loop; it waits for the slowest reader), disruptor with
//!     `handle_events_with` consumers (the crate's own threads and `BusySpin` loop, reading
//!     every available event as one batch: how the crate is meant to fan out, but not the
//!     shared loop, so it is the table's batched peer), tokio `sync::broadcast` (`send` never
//!     waits, a lagging `try_recv` says how many it missed). For the lossy ones the table gives
//!     the share of deliveries (items x readers) missed and the most items missed in one run,
//!     and `throughput.csv` its `lagged` column. Items per run as MPMC (`--broadcast-items`).
//!     Pinned (producer on A, readers on B and further cores) only when there is a core per
//!     thread; **on the 2-vCPU guest 1 -> 2 and 1 -> 3 are unpinned and oversubscribed** (3
//!     and 4 threads on 2 cores), and the printed header and table titles say so. Then every
//!     wait loop yields instead of spinning (the harness's, and the wait strategy given to
//!     disruptor's consumer threads), as on a one-core machine: a spinning waiter would hold
//!     a core that the thread it waits for needs, and a `Backpressure` producer would stall
//!     for a whole time slice whenever its slowest reader is descheduled (tens of K items/s
//!     at capacity 1024, a run of minutes). `--fanout-spin` spins anyway. Such figures are not
//!     comparable with a run on enough cores.
//! * **Cross-process** (`--features shm`, workload `shm`; issue #17; `benches/common/shm.rs`):
//!   ringway's `shm` rings between two processes. The other process is this bench binary
//!   re-executed with the environment variable `RINGWAY_BENCH_CHILD` (nothing else to build),
//!   pinned to core B; the parent's timed side runs on core A. Files under `/dev/shm`, made
//!   afresh for each run and removed after it; the parent waits until the child is attached
//!   and pinned before it starts timing, so spawning is never timed. Same loops, wait loop
//!   and item (`u64`) as in process.
//!   - *Round trip*: the ping-pong above, in the same rounds: the in-process floor (probes at
//!     the start and end of each round, as always), the *cross-process floor* (the floor's
//!     one-word hand-off each way, on two words of a mapping shared with the child, which
//!     echoes), ringway `spsc` in process, and ringway shm (two rings, the echo side in the
//!     child). Table "Cross-process round trip"; `shm-roundtrip.csv`.
//!   - *Streaming*: the child produces, the parent consumes (checking each item) and is timed,
//!     as in the SPSC tables: both start regimes, single-item and `push_slice` / `pop_slice`,
//!     against ringway's in-process ring with the same placement (producer on B, consumer on
//!     A), capacity 1024 (`--capacity`). The "x best peer" columns of these tables compare with
//!     the in-process ring. In `throughput.csv`.
//!   - *Issue #17 targets*: a last table with the round trip of ringway shm over the in-process
//!     floor (target <= 1.15x) and over the cross-process floor, and each streaming rate over
//!     the in-process ring's (target >= 0.9x).
//!
//!   Run it alone: `cargo bench --bench latency --features shm -- --workloads shm`. The
//!   peers' cross-process round trip (iceoryx2, ipc-channel) is measured by the standalone
//!   crate `benches/ipc`, which reuses `benches/common/shm.rs` (see its `src/main.rs`).
//! * **Items per run.** Every contender of a table streams the same number of items. By
//!   default that is 100 M (SPSC) and 10 M (MPMC), cut per table to what the table's *slowest*
//!   contender streams in about 1 s at the rate of its warm-up run (`--run-budget`; rounded down
//!   to two significant digits, never below a quarter of the default, so one preempted warm-up
//!   cannot shrink a table's runs to nothing). Batched tables move hundreds of M items/s and
//!   keep 100 M; on a machine whose cross-core line transfer is slow (a few hundred ns, like
//!   our 2-vCPU Xeon guest) single-item SPSC tables run 25-50 M and MPMC tables 2.5-10 M, and
//!   the whole run takes about 100 s instead of about 4 minutes; where single-item streaming
//!   runs at hundreds of M items/s they keep 100 M. Rates (items/s) compare across tables; each table's footer
//!   gives its count. `--items N` / `--mpmc-items N` fix the counts instead.
//! * **Interleaving and repetition.** In each workload the contenders run one after the other
//!   (A B C ..., rotating the start each round so no queue always runs first) and the whole
//!   sequence is repeated `--rounds` times (default 3). Tables show medians over rounds; ratios
//!   are per-round ratios (latency) or ratios of the medians (throughput). Throughput runs each
//!   contender once unrecorded first (warm-up, a twentieth of the table's largest count).
//! * **Where the time goes.** A `[time]` line on stderr per workload (warm-up, timed rounds,
//!   the contender that took longest, items per run); `RINGWAY_BENCH_TIMES=1` adds one line per
//!   run (wall time, thread start and checks included).
//! * **Stuck runs.** A run still going after `--stuck-after` seconds (default 120; a normal run
//!   takes 0.1-4 s) is reported as stuck and the bench exits with status 3, with the CSVs of
//!   what finished already written: a livelocked queue's threads spin inside its own code and
//!   cannot be stopped. Seen with thingbuf 2 + 2 on the 2 vCPUs while other work was running.
//!
//! # Output
//!
//! Latency: p50, p90, p99, p99.9, max, mean of the fastest 99%, and the ratio to the floor.
//! Throughput: items/s (median, min, max over rounds) and the ratio to the best non-ringway
//! single-item contender of the same case (and, in the batched tables, to the best non-ringway
//! batched contender too); each footer gives the table's items per run. Also written under
//! `<target>/ringway-report/`: `roundtrip.csv` (per round), `wakeup.csv` (per round),
//! `roundtrip-percentiles.csv` (the curves), `roundtrip.svg` (latency against percentile,
//! log-scaled tail), `broadcast-roundtrip.csv` and `shm-roundtrip.csv` (per round, the columns
//! of `roundtrip.csv`),
//! `throughput.csv` (per run, with the broadcast fan-out; `lagged`: items a lossy broadcast's
//! readers missed, empty for the others).
//!
//! # Flags (after `--`)
//!
//! `--quick` (about 20 s, must stay under 40 s: 100 000 round trips per run, SPSC at most 10 M and MPMC at most 1 M
//! items per run, `--run-budget 0.25`), `--cores A,B`, `--capacity N` (round trip, MPMC and the
//! one SPSC streaming capacity), `--items N` (every SPSC table, and MPMC `N / 10` unless
//! `--mpmc-items`), `--mpmc-items N`, `--mpmc-threads K,...` (MPMC with K producers + K
//! consumers for each K, 1 pinned and the others unpinned; default `1,2`), `--run-budget S` (seconds for the slowest contender's run
//! when the counts are not given; 0: always the default maximum), `--samples N` (round trips
//! per run, default 500 000), `--warmup N` (round trips, default 50 000), `--rounds N`,
//! `--stuck-after S` (seconds, 0: never), `--only NAME,...` (contenders whose name contains a
//! word; the floor always runs), `--broadcast-items N` (broadcast fan-out items per run;
//! default as MPMC), `--fanout-readers K,...` (broadcast fan-out 1 -> K for each K; default
//! `2,3`), `--fanout-spin` (spin in the fan-out even when oversubscribed),
//! `--workloads roundtrip,wakeup,spsc,mpmc,overwrite,broadcast,shm` (default: all; `shm` only
//! with `--features shm`). Unknown flags
//! (cargo's `--bench`) are ignored.

#[path = "common/broadcast.rs"]
mod broadcast;
#[path = "common/mod.rs"]
mod common;
#[path = "common/wakeup.rs"]
mod wakeup;

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
    /// SPSC streaming: items per run (the same for every contender of a table).
    items: Count,
    /// MPMC streaming: items per run.
    mpmc_items: Count,
    /// MPMC streaming: `k` producers + `k` consumers for each `k` (1: pinned to A and B;
    /// more: unpinned).
    mpmc_threads: Vec<usize>,
    /// Broadcast fan-out: items per run.
    broadcast_items: Count,
    /// Broadcast fan-out: 1 producer -> `k` readers for each `k`.
    fanout_readers: Vec<usize>,
    /// Broadcast fan-out: keep spinning in the wait loop when there are more threads than
    /// cores (by default the loop then yields).
    fanout_spin: bool,
    samples: usize,
    warmup: usize,
    rounds: usize,
    only: Vec<String>,
    workloads: Vec<String>,
    /// A run still going after this long is reported as stuck and the bench exits (0: never).
    stuck_after: Duration,
}

fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        quick,
        cores: None,
        capacity: None,
        items: Count::Fixed(0),
        mpmc_items: Count::Fixed(0),
        mpmc_threads: vec![1, 2],
        broadcast_items: Count::Fixed(0),
        fanout_readers: vec![2, 3],
        fanout_spin: args.iter().any(|a| a == "--fanout-spin"),
        samples: if quick { 100_000 } else { 500_000 },
        warmup: if quick { 10_000 } else { 50_000 },
        rounds: 3,
        only: Vec::new(),
        stuck_after: Duration::from_secs(120),
        workloads: vec![
            "roundtrip".into(),
            "wakeup".into(),
            "spsc".into(),
            "mpmc".into(),
            "overwrite".into(),
            "broadcast".into(),
            #[cfg(feature = "shm")]
            "shm".into(),
        ],
    };
    let (mut items, mut mpmc_items, mut broadcast_items) = (None, None, None);
    let mut budget_s: f64 = if quick { 0.25 } else { 1.0 };
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
            "--items" => items = Some(num(a, v)),
            "--mpmc-items" => mpmc_items = Some(num(a, v)),
            "--broadcast-items" => broadcast_items = Some(num(a, v)),
            "--fanout-readers" => {
                o.fanout_readers = list(v)
                    .iter()
                    .map(|k| k.trim().parse::<usize>().expect("--fanout-readers K,..."))
                    .filter(|&k| k >= 1)
                    .collect();
            }
            "--mpmc-threads" => {
                o.mpmc_threads = list(v)
                    .iter()
                    .map(|k| k.trim().parse::<usize>().expect("--mpmc-threads K,..."))
                    .filter(|&k| k >= 1)
                    .collect();
            }
            "--samples" => o.samples = num(a, v) as usize,
            "--stuck-after" => o.stuck_after = Duration::from_secs(num(a, v)),
            "--run-budget" => {
                budget_s = v
                    .and_then(|v| v.parse().ok())
                    .expect("--run-budget needs a number of seconds")
            }
            "--warmup" => o.warmup = num(a, v) as usize,
            "--rounds" => o.rounds = (num(a, v) as usize).max(1),
            "--only" => o.only = list(v),
            "--workloads" => o.workloads = list(v),
            _ => takes_value = false, // --quick, cargo's --bench, anything else: ignored
        }
        i += if takes_value { 2 } else { 1 };
    }
    // Defaults: at most 100 M items per SPSC run and 10 M per MPMC run (10 M and 1 M with
    // --quick), cut per table to what its slowest contender streams in about `budget_s` seconds
    // (see `Count::UpTo`). An explicit --items / --mpmc-items is used as given.
    let adaptive = |max: u64| {
        if budget_s > 0.0 {
            Count::UpTo { max, budget_s }
        } else {
            Count::Fixed(max)
        }
    };
    let max_items = if quick { 10_000_000 } else { 100_000_000 };
    o.items = items.map_or(adaptive(max_items), Count::Fixed);
    o.mpmc_items = match (mpmc_items, items) {
        (Some(n), _) => Count::Fixed(n),
        (None, Some(n)) => Count::Fixed((n / 10).max(1_000)),
        (None, None) => adaptive(max_items / 10),
    };
    o.broadcast_items = match (broadcast_items, items) {
        (Some(n), _) => Count::Fixed(n),
        (None, Some(n)) => Count::Fixed((n / 10).max(1_000)),
        (None, None) => adaptive(max_items / 10),
    };
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
// Where the run's time goes (stderr)
// ---------------------------------------------------------------------------------------------

/// `RINGWAY_BENCH_TIMES=1`: one stderr line per run (wall time, spawn and checks included).
fn trace_runs() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RINGWAY_BENCH_TIMES").is_some_and(|v| v != "0"))
}

/// The run in progress and when it started, for the watchdog.
static RUNNING: std::sync::Mutex<Option<(String, Instant)>> = std::sync::Mutex::new(None);

/// Runs `f` as one named run: traced (`RINGWAY_BENCH_TIMES`) and watched ([`start_watchdog`]).
fn timed<R>(workload: &str, name: &str, what: &str, f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    *RUNNING.lock().unwrap() = Some((format!("{workload} / {name} {what}"), t));
    let r = f();
    let wall = t.elapsed();
    *RUNNING.lock().unwrap() = None;
    trace_run(workload, name, what, wall);
    (r, wall)
}

/// A run still going after `limit` is stuck, and nothing can stop its threads (they spin inside
/// the queue's own code): the bench says which run it is and exits with status 3, instead of
/// spinning until someone kills it. Seen on this 2-vCPU guest with other work running:
/// thingbuf with 2 producers + 2 consumers made no progress for 14 minutes (a producer stuck
/// in `push_ref`, both consumers in `pop_ref`). The CSVs of the workloads done so far, and
/// `throughput.csv` up to the last finished table, are already written by then.
fn start_watchdog(limit: Duration) {
    if limit.is_zero() {
        return;
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        if let Some((what, since)) = RUNNING.lock().unwrap().as_ref() {
            if since.elapsed() > limit {
                let msg = format!(
                    "STUCK: {what} has run for {:.0} s without finishing (--stuck-after {}); its \
                     threads cannot be stopped, so the bench stops here (exit status 3). Tables and \
                     CSVs so far are written.",
                    since.elapsed().as_secs_f64(),
                    limit.as_secs()
                );
                println!("\n{msg}");
                eprintln!("{msg}");
                std::process::exit(3);
            }
        }
    });
}

fn trace_run(workload: &str, name: &str, what: &str, wall: Duration) {
    if trace_runs() {
        eprintln!(
            "  [time] {workload} / {name} {what}: {:.3} s",
            wall.as_secs_f64()
        );
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
    let contenders: Vec<SpscEntry> = common::spsc_contenders()
        .into_iter()
        .filter(|c| !c.batched && common::name_selected(c.name, &o.only))
        .collect();
    let capacity = o.capacity.unwrap_or(1024);
    let heading = format!("Round trip (ping-pong through two queues), u64, capacity {capacity}");
    roundtrip_rounds(
        o,
        cores,
        tb,
        csv,
        "roundtrip",
        &heading,
        "Round trip",
        contenders,
    )
}

/// The ping-pong of `contenders` against the floor, interleaved in `--rounds` rounds (each
/// round: floor probe, every contender, floor probe; re-run when the floor moved), then one
/// table. `workload` names the `[time]` lines, `heading` the section, `title` the table.
#[allow(clippy::too_many_arguments)]
fn roundtrip_rounds(
    o: &Opts,
    cores: Cores,
    tb: &Timebase,
    csv: &mut String,
    workload: &str,
    heading: &str,
    title: &str,
    contenders: Vec<SpscEntry>,
) -> Vec<RtResult> {
    let capacity = o.capacity.unwrap_or(1024);
    let floor = common::floor_entry();
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
        ticks: timed(workload, c.name, "run", || {
            (c.roundtrip)(capacity, o.warmup, o.samples, cores, &tb.clock)
        })
        .0
        .expect("capacity checked above"),
    };
    let rt_started = Instant::now();

    println!(
        "\n# {heading}, {} samples per run after {} warm-up, {} rounds",
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
            "{title}, ns (median of {} rounds), capacity {capacity}",
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
        let mut row = latency_row(r.name, &r.rounds);
        row.push(format!("{:.2}x", median(r.ratios.clone())));
        table.rows.push(row);
    }
    table.notes.push(format!(
        "x floor: per-round mean-of-fastest-99% over that round's floor (mean of its two probes), median over rounds.{}",
        if reruns > 0 { format!(" {reruns} round(s) re-run because the floor moved.") } else { String::new() }
    ));
    table.print();
    eprintln!(
        "[time] {workload}: {:.1} s ({} rounds, {reruns} re-run)",
        rt_started.elapsed().as_secs_f64(),
        o.rounds
    );
    results
}

// ---------------------------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------------------------

/// What one throughput run measured.
#[derive(Clone, Copy)]
struct Streamed {
    /// The timed part of the run.
    time: Duration,
    /// Lossy broadcast channels only: the items their readers missed (all readers together)
    /// and the deliveries a run without loss makes (items x readers).
    lagged: Option<(u64, u64)>,
}

impl From<Duration> for Streamed {
    fn from(time: Duration) -> Self {
        Streamed { time, lagged: None }
    }
}

/// One throughput contender: `run(items)` streams and returns what it measured (the dynamic
/// call is outside the timed region, which is inside the driver).
struct TputContender<'a> {
    name: &'static str,
    /// False for the contenders the others are compared with ("x best peer"): the peer
    /// crates, or in the shm tables the in-process ring.
    ringway: bool,
    batched: bool,
    run: Box<dyn Fn(u64) -> Option<Streamed> + 'a>,
}

/// How many items each run of a table streams: the same count for every contender of the table.
#[derive(Clone, Copy)]
enum Count {
    /// Exactly this many (`--items` / `--mpmc-items` given).
    Fixed(u64),
    /// `max`, or fewer when the table's slowest contender, at its warm-up rate, would need more
    /// than `budget_s` seconds for one run; never fewer than `max / 4` (one warm-up run is a
    /// noisy estimate: a preempted one must not shrink the runs to nothing).
    UpTo { max: u64, budget_s: f64 },
}

impl Count {
    fn max(self) -> u64 {
        match self {
            Count::Fixed(n) | Count::UpTo { max: n, .. } => n,
        }
    }
}

/// One table: contenders that all stream the same number of items per run.
struct TputTable<'a> {
    title: String,
    /// Workload name in `throughput.csv` and on the `[time]` lines.
    workload: String,
    count: Count,
    contenders: Vec<TputContender<'a>>,
    /// What the "x best peer" columns compare with, for the table's note: `"non-ringway"` (the
    /// peer crates), or `"in-process"` (the shm tables).
    peer: &'static str,
}

/// The median rate of one contender of a [`throughput_tables`] call, items/s.
#[cfg_attr(not(feature = "shm"), allow(dead_code))] // read by the shm workload only
struct TputMedian {
    name: &'static str,
    median: f64,
}

/// Warm-up runs: a twentieth of the table's largest count, at least 10 000 items.
fn warm_items(count: Count) -> u64 {
    (count.max() / 20).max(10_000)
}

/// Rounds `x` down to two significant digits (27 345 678 -> 27 000 000).
fn round_down_2(x: u64) -> u64 {
    let mut p = 1u64;
    while x / p >= 100 {
        p *= 10;
    }
    x / p * p
}

/// Runs the contenders of all `tables` interleaved in the same `rounds` (one sequence, rotated
/// each round), then prints one table each and appends to the CSV. Tables may stream different
/// item counts (a rate is a rate), but within a table every contender streams the same count.
/// "x best peer" columns compare with the best non-ringway contender of any of the tables of
/// the call: single-item, and (when there are batched contenders) batched.
fn throughput_tables(
    rounds: usize,
    tables: Vec<TputTable<'_>>,
    csv: &mut String,
) -> Vec<TputMedian> {
    let medians = throughput_tables_inner(rounds, tables, csv);
    // Kept up to date table by table, so a run stopped by the watchdog keeps what it measured.
    let _ = std::fs::write(report_dir().join("throughput.csv"), &*csv);
    medians
}

fn throughput_tables_inner(
    rounds: usize,
    tables: Vec<TputTable<'_>>,
    csv: &mut String,
) -> Vec<TputMedian> {
    struct Row {
        table: usize,
        name: &'static str,
        ringway: bool,
        batched: bool,
        rates: Vec<f64>,
        /// Per round: (items missed, deliveries without loss), lossy contenders only.
        lagged: Vec<(u64, u64)>,
        wall_s: f64,
    }
    let started = Instant::now();
    // Warm-up (also drops the contenders that cannot run this case, e.g. capacity) and
    // calibration of the adaptive counts.
    let mut runs: Vec<(usize, TputContender<'_>)> = vec![];
    let mut counts = vec![];
    let mut specs = vec![];
    let mut titles = vec![];
    let mut peers = vec![];
    let mut workloads = vec![];
    for (t, table) in tables.into_iter().enumerate() {
        let warm = warm_items(table.count);
        let mut slowest = f64::INFINITY;
        for c in table.contenders {
            let (Some(d), _) = timed(&table.workload, c.name, "warm-up", || (c.run)(warm)) else {
                continue;
            };
            slowest = slowest.min(warm as f64 / d.time.as_secs_f64().max(1e-9));
            runs.push((t, c));
        }
        counts.push(match table.count {
            Count::Fixed(n) => n,
            Count::UpTo { max, budget_s } => {
                round_down_2((slowest * budget_s).min(max as f64) as u64).max(max / 4)
            }
        });
        specs.push(table.count);
        titles.push(table.title);
        peers.push(table.peer);
        workloads.push(table.workload);
    }
    if runs.is_empty() {
        return vec![];
    }
    let warm_s = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut rows: Vec<Row> = runs
        .iter()
        .map(|(t, c)| Row {
            table: *t,
            name: c.name,
            ringway: c.ringway,
            batched: c.batched,
            rates: vec![],
            lagged: vec![],
            wall_s: 0.0,
        })
        .collect();
    for round in 0..rounds {
        for k in 0..runs.len() {
            let i = (k + round) % runs.len();
            let (table, c) = &runs[i];
            let items = counts[*table];
            let (d, wall) = timed(&workloads[*table], c.name, "run", || (c.run)(items));
            let d = d.expect("ran in warm-up");
            rows[i].wall_s += wall.as_secs_f64();
            let rate = items as f64 / d.time.as_secs_f64();
            rows[i].rates.push(rate);
            rows[i].lagged.extend(d.lagged);
            let _ = writeln!(
                csv,
                "{},{},{},{items},{:.6},{:.0},{}",
                workloads[*table],
                round + 1,
                c.name,
                d.time.as_secs_f64(),
                rate,
                d.lagged.map_or(String::new(), |l| l.0.to_string())
            );
        }
    }
    let timed_s = t.elapsed().as_secs_f64();
    let med: Vec<f64> = rows.iter().map(|r| median(r.rates.clone())).collect();
    let best = |batched: bool| {
        rows.iter()
            .zip(&med)
            .filter(|(r, _)| !r.ringway && r.batched == batched)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(r, &m)| (r.name, m))
    };
    let (best_single, best_batched) = (best(false), best(true));
    let ratio = |m: f64, best: Option<(&str, f64)>| match best {
        Some((_, b)) => format!("{:.2}x", m / b),
        None => "-".into(),
    };
    let name_of = |best: Option<(&'static str, f64)>| best.map_or("-", |b| b.0);
    let ntables = titles.len();
    for (ti, title) in titles.into_iter().enumerate() {
        let in_table: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].table == ti).collect();
        if in_table.is_empty() {
            continue;
        }
        let batched_table = in_table.iter().any(|&i| rows[i].batched);
        let lossy_table = in_table.iter().any(|&i| !rows[i].lagged.is_empty());
        let mut header = vec!["queue", "M items/s (median)", "min", "max"];
        header.extend(if batched_table {
            &["x best batched peer", "x best single-item peer"][..]
        } else {
            &["x best peer"][..]
        });
        if lossy_table {
            header.push("lagged: median % of deliveries (max items)");
        }
        let mut table = Table::new(title, &header);
        for &i in &in_table {
            let (r, m) = (&rows[i], med[i]);
            let mn = r.rates.iter().copied().fold(f64::INFINITY, f64::min);
            let mx = r.rates.iter().copied().fold(0.0, f64::max);
            let mut cells = vec![r.name.to_string(), f1(m / 1e6), f1(mn / 1e6), f1(mx / 1e6)];
            if batched_table {
                cells.push(ratio(m, best_batched));
            }
            cells.push(ratio(m, best_single));
            if lossy_table {
                cells.push(lagged_cell(&r.lagged));
            }
            table.rows.push(cells);
        }
        let mut note = match specs[ti] {
            Count::UpTo { max, budget_s } if counts[ti] < max => format!(
                "{} items per run for every contender, {rounds} rounds (default {max}, cut to what the \
                 slowest contender streams in about {budget_s} s at its warm-up rate).",
                counts[ti]
            ),
            _ => format!("{} items per run, {rounds} rounds.", counts[ti]),
        };
        if ntables > 1 {
            let others: Vec<String> = (0..ntables)
                .filter(|&o| o != ti && counts[o] != counts[ti])
                .map(|o| counts[o].to_string())
                .collect();
            if !others.is_empty() {
                let _ = write!(
                    note,
                    " The other table of this case ran {} items per run, interleaved in the same \
                     rounds; items/s is a rate, so the two tables compare.",
                    others.join(" / ")
                );
            }
        }
        if batched_table {
            let _ = write!(
                note,
                " x best batched peer: median rate over the best {peer} batched contender's \
                 median ({}); x best single-item peer: over the best {peer} single-item \
                 contender's median ({}).",
                name_of(best_batched),
                name_of(best_single),
                peer = peers[ti]
            );
        } else {
            let _ = write!(
                note,
                " x best peer: median rate over the best {peer} single-item contender's \
                 median ({}).",
                name_of(best_single),
                peer = peers[ti]
            );
        }
        if lossy_table {
            note.push_str(
                " lagged: the items a lossy channel's readers missed (it overwrote them before \
                 they read them), over items x readers; median over rounds, and the most items \
                 missed in one run (all readers). Its items/s counts every item pushed, missed \
                 or not.",
            );
        }
        table.notes.push(note);
        table.print();
    }
    let slowest = rows
        .iter()
        .max_by(|a, b| a.wall_s.total_cmp(&b.wall_s))
        .map(|r| format!("{} {:.1} s", r.name, r.wall_s))
        .unwrap_or_default();
    eprintln!(
        "[time] {}: items per run {:?}; warm-up {warm_s:.1} s, {rounds} rounds {timed_s:.1} s \
         (slowest contender: {slowest})",
        workloads.join(" + "),
        counts
    );
    rows.iter()
        .zip(med)
        .map(|(r, median)| TputMedian {
            name: r.name,
            median,
        })
        .collect()
}

/// The lagged cell of a lossy contender: median share of deliveries missed, and the most items
/// missed in one run; "-" for a contender that never loses items.
fn lagged_cell(rounds: &[(u64, u64)]) -> String {
    if rounds.is_empty() {
        return "-".into();
    }
    let share = median(
        rounds
            .iter()
            .map(|&(l, d)| 100.0 * l as f64 / d.max(1) as f64)
            .collect(),
    );
    let max = rounds.iter().map(|r| r.0).max().unwrap_or(0);
    format!("{share:.2} % ({max})")
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
            let tables = [false, true]
                .into_iter()
                .map(|batched| {
                    let kind = if batched { "batched" } else { "single-item" };
                    TputTable {
                        title: format!(
                            "SPSC throughput, {kind}, capacity {cap}, {} (1 producer core A -> 1 \
                             consumer core B)",
                            regime.name()
                        ),
                        workload: format!("spsc cap={cap} {} {kind}", regime.name()),
                        count: o.items,
                        peer: "non-ringway",
                        contenders: entries
                            .iter()
                            .filter(|e| e.batched == batched)
                            .map(|e| {
                                let f = e.stream;
                                TputContender {
                                    name: e.name,
                                    ringway: e.ringway,
                                    batched: e.batched,
                                    run: Box::new(move |n| {
                                        f(cap, n, regime, cores, &tb.clock).map(Into::into)
                                    }),
                                }
                            })
                            .collect(),
                    }
                })
                .collect();
            throughput_tables(o.rounds, tables, csv);
        }
    }
}

fn run_mpmc_throughput(o: &Opts, cores: Cores, tb: &Timebase, csv: &mut String) {
    let cap = o.capacity.unwrap_or(1024);
    let entries: Vec<_> = common::mpmc_contenders()
        .into_iter()
        .filter(|c| common::name_selected(c.name, &o.only))
        .collect();
    for (p, c, pinned) in o.mpmc_threads.iter().map(|&k| (k, k, k == 1)) {
        let cores = if pinned { cores } else { Cores::UNPINNED };
        let contenders = entries
            .iter()
            .map(|e| {
                let f = e.stream;
                TputContender {
                    name: e.name,
                    ringway: e.ringway,
                    batched: false,
                    run: Box::new(move |n| f(cap, n, p, c, cores, &tb.clock).map(Into::into)),
                }
            })
            .collect();
        let table = TputTable {
            title: format!(
                "MPMC throughput, {p} producer(s) + {c} consumer(s), {}, capacity {cap}",
                if pinned { "pinned" } else { "unpinned" }
            ),
            workload: format!("mpmc {p}+{c} cap={cap}"),
            count: o.mpmc_items,
            peer: "non-ringway",
            contenders,
        };
        throughput_tables(o.rounds, vec![table], csv);
    }
}

// ---------------------------------------------------------------------------------------------
// Wake-up round trip (waiting operations, issue #6)
// ---------------------------------------------------------------------------------------------

/// Idle time before each wake-up round trip: far above every spin budget, so a parking
/// receiver is asleep when the token arrives.
const WAKE_GAP: Duration = Duration::from_micros(50);

/// A latency table's row: the queue's name and, per statistic, its median over rounds
/// (p50, p90, p99, p99.9, max, mean of the fastest 99%).
fn latency_row(name: &str, rounds: &[LatStats]) -> Vec<String> {
    let m = |f: fn(&LatStats) -> f64| median(rounds.iter().map(f).collect());
    vec![
        name.to_string(),
        f1(m(|s| s.p50)),
        f1(m(|s| s.p90)),
        f1(m(|s| s.p99)),
        f1(m(|s| s.p999)),
        f1(m(|s| s.max)),
        f1(m(|s| s.mean99)),
    ]
}

/// `spsc::overwriting` with a producer that never waits (see `common::overwrite_stream`):
/// the rate of its pushes, and the share of the items the consumer got (the rest were
/// displaced), at capacities 16 and 1024 (or `--capacity`), `--rounds` times each.
fn run_overwrite(o: &Opts, cores: Cores, tb: &Timebase, csv: &mut String) {
    let caps = o.capacity.map_or(vec![16, 1024], |c| vec![c]);
    let items: u64 = if o.quick { 2_000_000 } else { 20_000_000 };
    println!(
        "{items} items per run, the producer never waits; {} rounds\n",
        o.rounds
    );
    println!("| capacity | round | pushes, M/s | popped | displaced |");
    println!("|---:|---:|---:|---:|---:|");
    for &cap in &caps {
        for round in 0..o.rounds {
            let (run, _) = timed("overwrite", "ringway overwriting", "run", || {
                common::overwrite_stream(cap, items, cores, &tb.clock)
            });
            let per_s = items as f64 / run.push_time.as_secs_f64();
            let share = |n: u64| 100.0 * n as f64 / items as f64;
            println!(
                "| {cap} | {} | {:.1} | {:.1} % | {:.1} % |",
                round + 1,
                per_s / 1e6,
                share(run.popped),
                share(run.displaced)
            );
            let _ = writeln!(
                csv,
                "overwrite cap {cap},{},ringway overwriting,{items},{:.6},{:.0},",
                round + 1,
                run.push_time.as_secs_f64(),
                per_s
            );
        }
    }
}

/// The broadcast workload (issue #16 part 2, `benches/common/broadcast.rs`): the 1 -> 1 round
/// trip through two broadcast channels against the floor of the same rounds (into `rt_csv`),
/// then fan-out throughput, 1 producer -> `k` readers for each `--fanout-readers` `k`, at
/// capacities 1024 and 65536 (1024 only with `--quick`; or `--capacity`, rounded up to a power
/// of two as the channels do).
fn run_broadcast(o: &Opts, cores: Cores, tb: &Timebase, rt_csv: &mut String, csv: &mut String) {
    let started = Instant::now();
    let capacity = o.capacity.unwrap_or(1024);
    let contenders: Vec<SpscEntry> = broadcast::roundtrip_contenders()
        .into_iter()
        .filter(|c| common::name_selected(c.name, &o.only))
        .collect();
    let heading = format!(
        "Broadcast round trip 1 -> 1 (ping-pong through two broadcast channels, one each way, \
         one consumer each), u64, capacity {capacity}"
    );
    roundtrip_rounds(
        o,
        cores,
        tb,
        rt_csv,
        "broadcast roundtrip",
        &heading,
        "Broadcast round trip 1 -> 1",
        contenders,
    );

    let caps = match o.capacity {
        Some(c) => vec![c.next_power_of_two()],
        None if o.quick => vec![1024],
        None => vec![1024, 65536],
    };
    let entries: Vec<broadcast::FanoutEntry> = broadcast::fanout_contenders()
        .into_iter()
        .filter(|c| common::name_selected(c.name, &o.only))
        .collect();
    let placements: Vec<(usize, broadcast::Placement)> = o
        .fanout_readers
        .iter()
        .map(|&k| (k, broadcast::fanout_placement(cores, k)))
        .collect();
    let crowded: Vec<String> = placements
        .iter()
        .filter(|p| p.1.oversubscribed)
        .map(|p| format!("1 -> {}", p.0))
        .collect();
    let ncores = core_affinity::get_core_ids().map_or(0, |ids| ids.len());
    println!(
        "\n# Broadcast fan-out throughput: 1 producer -> k readers, each reader gets and checks \
         every item (u64, its sequence number); timed from the producer's first push to the last \
         reader's last item. Pinned (producer on core A, readers on B and further cores) when \
         there is a core per thread; this machine has {ncores}."
    );
    if !crowded.is_empty() {
        println!(
            "{}: UNPINNED and OVERSUBSCRIBED (more threads than cores), so {}; not comparable \
             with a run on enough cores.",
            crowded.join(", "),
            if o.fanout_spin {
                "every wait loop spins anyway (--fanout-spin): a waiting thread holds a core \
                 until the scheduler preempts it, and the rates mostly measure time slices"
            } else {
                "every wait loop (the harness's, and disruptor handlers' wait strategy) yields \
                 instead of spinning, as on a one-core machine (--fanout-spin: spin anyway)"
            }
        );
    }
    for &cap in &caps {
        for (k, place) in &placements {
            let k = *k;
            let pins = &place.pins[..];
            let contenders = entries
                .iter()
                .map(|e| {
                    let (f, lossy) = (e.stream, e.lossy);
                    TputContender {
                        name: e.name,
                        ringway: e.ringway,
                        batched: e.batched,
                        run: Box::new(move |n| {
                            f(cap, n, k, pins, &tb.clock).map(|r| Streamed {
                                time: r.time,
                                lagged: lossy.then_some((r.lagged, n * k as u64)),
                            })
                        }),
                    }
                })
                .collect();
            let yields = place.oversubscribed && !o.fanout_spin;
            let was = common::yield_when_waiting();
            common::set_yield_when_waiting(was || yields);
            let how = &place.how;
            let waits = if common::yield_when_waiting() {
                "waits yield"
            } else {
                "waits spin"
            };
            let table = TputTable {
                title: format!(
                    "Broadcast fan-out, 1 producer -> {k} reader(s), capacity {cap}, {how}, {waits}"
                ),
                workload: format!("broadcast 1->{k} cap={cap}"),
                count: o.broadcast_items,
                peer: "non-ringway",
                contenders,
            };
            throughput_tables(o.rounds, vec![table], csv);
            common::set_yield_when_waiting(was);
        }
    }
    eprintln!(
        "[time] broadcast: {:.1} s (round trip and fan-out)",
        started.elapsed().as_secs_f64()
    );
}

/// The cross-process workload (`ringway::shm`, issue #17; `benches/common/shm.rs`): the round
/// trip of ringway shm rings between two processes against the floor in process and across
/// processes and ringway's in-process ring, all in the same rounds; then streaming from a child
/// process against the in-process ring, both start regimes, single-item and slices; then the
/// ratios that issue #17 sets targets for.
#[cfg(feature = "shm")]
fn run_shm(o: &Opts, cores: Cores, tb: &Timebase, rt_csv: &mut String, csv: &mut String) {
    use common::shm;
    const XFLOOR: &str = "floor (atomic, cross-process)";
    const INPROC: &str = "ringway spsc (in process)";
    const INPROC_SLICE: &str = "ringway spsc slice (in process)";
    const SHM: &str = "ringway shm (cross-process)";
    const SHM_SLICE: &str = "ringway shm slice (cross-process)";
    let started = Instant::now();
    let capacity = o.capacity.unwrap_or(1024);
    let selected = |name: &str| common::name_selected(name, &o.only);

    // Round trip. The cross-process floor always runs, as the in-process one does.
    let contenders: Vec<SpscEntry> = [
        common::roundtrip_entry(XFLOOR, false, shm::roundtrip_floor),
        common::spsc_entry::<common::RingwaySpsc>(INPROC, true),
        common::roundtrip_entry(SHM, true, shm::roundtrip_ring),
    ]
    .into_iter()
    .filter(|c| c.name == XFLOOR || selected(c.name))
    .collect();
    let heading = format!(
        "Cross-process round trip: ping-pong through two queues, the echo side in a child process \
         (this bench binary re-executed) pinned to core B, the timed side on core A; the floors \
         and the in-process ring in the same rounds; u64, capacity {capacity}"
    );
    let results = roundtrip_rounds(
        o,
        cores,
        tb,
        rt_csv,
        "shm roundtrip",
        &heading,
        "Cross-process round trip",
        contenders,
    );

    // Streaming: the child produces on core B, the parent consumes on core A (and is timed);
    // the in-process ring runs with the same placement (producer B, consumer A).
    let swapped = Cores {
        a: cores.b,
        b: cores.a,
    };
    println!(
        "\n# Cross-process streaming: a child process (core B) streams u64s, each its sequence \
         number, through a ringway shm ring to the parent (core A), which checks each and is \
         timed; against ringway's in-process ring with the same placement, capacity {capacity}"
    );
    let mut streamed = vec![];
    for regime in [Regime::Full, Regime::Empty] {
        let contender =
            |name: &'static str, batched: bool, cores: Cores, f: common::StreamFn| TputContender {
                name,
                ringway: !name.ends_with("(in process)"),
                batched,
                run: Box::new(move |n| f(capacity, n, regime, cores, &tb.clock).map(Into::into)),
            };
        let tables = [false, true]
            .into_iter()
            .map(|batched| {
                let kind = if batched { "slices" } else { "single-item" };
                let contenders = if batched {
                    vec![
                        contender(
                            INPROC_SLICE,
                            true,
                            swapped,
                            common::stream::<common::RingwaySpscSlice>,
                        ),
                        contender(SHM_SLICE, true, cores, shm::stream_ring_slice),
                    ]
                } else {
                    vec![
                        contender(
                            INPROC,
                            false,
                            swapped,
                            common::stream::<common::RingwaySpsc>,
                        ),
                        contender(SHM, false, cores, shm::stream_ring),
                    ]
                };
                TputTable {
                    title: format!(
                        "Cross-process streaming, {kind}, capacity {capacity}, {} (producer core B \
                         -> consumer core A)",
                        regime.name()
                    ),
                    workload: format!("shm cap={capacity} {} {kind}", regime.name()),
                    count: o.items,
                    contenders: contenders
                        .into_iter()
                        .filter(|c| selected(c.name))
                        .collect(),
                    peer: "in-process",
                }
            })
            .collect();
        streamed.push((regime, throughput_tables(o.rounds, tables, csv)));
    }

    // The targets of issue #17.
    let mut table = Table::new(
        "Issue #17 targets (this run)",
        &["measure", "ratio", "target", "met"],
    );
    let mut row = |what: String, ratio: f64, target: Option<(&str, bool)>| {
        let (target, met) = match target {
            _ if ratio.is_nan() => ("-", "-"),
            Some((t, ok)) => (t, if ok { "yes" } else { "NO" }),
            None => ("-", "-"),
        };
        table.rows.push(vec![
            what,
            if ratio.is_nan() {
                "-".into()
            } else {
                format!("{ratio:.2}x")
            },
            target.into(),
            met.into(),
        ]);
    };
    let find = |name: &str| results.iter().find(|r| r.name == name);
    let to_floor = |name: &str| find(name).map_or(f64::NAN, |r| median(r.ratios.clone()));
    // Per round: contender over the cross-process floor of the same round.
    let to_xfloor = |name: &str| match (find(name), find(XFLOOR)) {
        (Some(r), Some(x)) => median(
            r.rounds
                .iter()
                .zip(&x.rounds)
                .map(|(r, x)| r.mean99 / x.mean99)
                .collect(),
        ),
        _ => f64::NAN,
    };
    let shm_rt = to_floor(SHM);
    row(
        format!("round trip: {SHM} / in-process floor"),
        shm_rt,
        Some(("<= 1.15x", shm_rt <= 1.15)),
    );
    row(
        format!("round trip: {SHM} / {XFLOOR}"),
        to_xfloor(SHM),
        None,
    );
    row(
        format!("round trip: {XFLOOR} / in-process floor"),
        to_floor(XFLOOR),
        None,
    );
    row(
        format!("round trip: {INPROC} / in-process floor"),
        to_floor(INPROC),
        None,
    );
    for (regime, medians) in &streamed {
        let rate = |name: &str| {
            medians
                .iter()
                .find(|m| m.name == name)
                .map_or(f64::NAN, |m| m.median)
        };
        for (shm_name, inproc_name, kind) in [
            (SHM, INPROC, "single-item"),
            (SHM_SLICE, INPROC_SLICE, "slices"),
        ] {
            let ratio = rate(shm_name) / rate(inproc_name);
            row(
                format!("streaming, {kind}, {}: shm / in process", regime.name()),
                ratio,
                Some((">= 0.90x", ratio >= 0.90)),
            );
        }
    }
    table.notes.push(
        "Round trip: mean of the fastest 99% of samples; over the in-process floor, the median of \
         the per-round ratios to that round's floor probes; over the cross-process floor, the \
         median of the per-round ratios to the cross-process floor of the same round. Streaming: \
         the ratio of the median rates over the rounds (the tables above)."
            .into(),
    );
    table.print();
    eprintln!(
        "[time] shm: {:.1} s (round trip and streaming)",
        started.elapsed().as_secs_f64()
    );
}

fn run_wakeup(o: &Opts, cores: Cores, tb: &Timebase, csv: &mut String) {
    let capacity = o.capacity.unwrap_or(1024);
    let samples = if o.quick { 1_000 } else { 4_000 };
    let warmup = samples / 10;
    let contenders: Vec<wakeup::WakeEntry> = wakeup::contenders()
        .into_iter()
        .filter(|c| common::name_selected(c.name, &o.only))
        .collect();
    println!(
        "\n# Wake-up round trip: the answering thread waits {} us in its blocking receive before \
         each token; u64, capacity {capacity}, {samples} samples per run after {warmup} warm-up, {} rounds",
        WAKE_GAP.as_micros(),
        o.rounds
    );
    let started = Instant::now();
    let mut per: Vec<Vec<LatStats>> = vec![Vec::new(); contenders.len()];
    for round in 0..o.rounds {
        let n = contenders.len().max(1);
        for k in 0..contenders.len() {
            let i = (k + round) % n;
            let c = &contenders[i];
            let s = Samples {
                ticks: timed("wakeup", c.name, "run", || {
                    (c.run)(capacity, WAKE_GAP, warmup, samples, cores, &tb.clock)
                })
                .0,
            };
            let st = s.stats(tb);
            let _ = writeln!(
                csv,
                "{},{},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1}",
                round + 1,
                c.name,
                st.p50,
                st.p90,
                st.p99,
                st.p999,
                st.max,
                st.mean99
            );
            per[i].push(st);
        }
    }
    let mut table = Table::new(
        format!("Wake-up round trip, ns (median of {} rounds)", o.rounds),
        &[
            "queue, wait",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "mean fastest 99%",
        ],
    );
    for (c, rounds) in contenders.iter().zip(&per) {
        table.rows.push(latency_row(c.name, rounds));
    }
    table.notes.push(format!(
        "Both threads wait only through the queue's own blocking receive (ringway: pop_blocking with the \
         wait strategy named; the channels: recv). Spinning strategies hold both cores; parking ones sleep \
         through the {} us gap, so their round trip includes the sender's wake-up call and the scheduler \
         waking the receiver. {:.1} s.",
        WAKE_GAP.as_micros(),
        started.elapsed().as_secs_f64()
    ));
    table.print();
    eprintln!(
        "[time] wakeup: {:.1} s ({} rounds)",
        started.elapsed().as_secs_f64(),
        o.rounds
    );
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

/// The columns of `roundtrip.csv` and `broadcast-roundtrip.csv`.
const ROUNDTRIP_CSV_HEADER: &str = "round,queue,floor_probe,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_fastest99_ns,x_floor,floor_ns\n";

fn main() {
    // A child process of the shm workload (the bench binary re-executed): run its side, exit.
    #[cfg(feature = "shm")]
    if common::shm::child_main() {
        return;
    }
    let o = parse_opts();
    start_watchdog(o.stuck_after);
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
        let mut csv = String::from(ROUNDTRIP_CSV_HEADER);
        let results = run_roundtrip(&o, cores, &tb, &mut csv);
        std::fs::write(dir.join("roundtrip.csv"), csv).expect("write roundtrip.csv");
        match plot_roundtrip(&results, &dir, o.capacity.unwrap_or(1024)) {
            Ok(p) => println!("\nplot: {}", p.display()),
            Err(e) => eprintln!("warning: could not draw the plot: {e}"),
        }
    }
    if want("wakeup") {
        let mut csv =
            String::from("round,queue,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_fastest99_ns\n");
        run_wakeup(&o, cores, &tb, &mut csv);
        std::fs::write(dir.join("wakeup.csv"), csv).expect("write wakeup.csv");
    }
    let mut csv = String::from("workload,round,queue,items,seconds,items_per_s,lagged\n");
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
    if want("overwrite") {
        println!("\n# The overwriting SPSC ring when the consumer cannot keep up (u64, pinned)");
        run_overwrite(&o, cores, &tb, &mut csv);
    }
    if want("broadcast") {
        println!(
            "\n# Broadcast: one producer, every consumer gets every item (ringway::broadcast, \
             issue #16 part 2)"
        );
        let mut rt_csv = String::from(ROUNDTRIP_CSV_HEADER);
        run_broadcast(&o, cores, &tb, &mut rt_csv, &mut csv);
        std::fs::write(dir.join("broadcast-roundtrip.csv"), rt_csv)
            .expect("write broadcast-roundtrip.csv");
    }
    if want("shm") {
        #[cfg(feature = "shm")]
        {
            println!(
                "\n# Cross-process: ringway::shm rings between two processes (issue #17), against \
                 the same rings in process and the floor"
            );
            let mut rt_csv = String::from(ROUNDTRIP_CSV_HEADER);
            run_shm(&o, cores, &tb, &mut rt_csv, &mut csv);
            std::fs::write(dir.join("shm-roundtrip.csv"), rt_csv).expect("write shm-roundtrip.csv");
        }
        #[cfg(not(feature = "shm"))]
        println!("\nThe shm workload needs the shm feature: --features shm. Skipped.");
    }
    if want("spsc") || want("mpmc") || want("overwrite") || want("broadcast") || want("shm") {
        std::fs::write(dir.join("throughput.csv"), csv).expect("write throughput.csv");
    }
    println!(
        "\nCSV and SVG in {}; total {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}
