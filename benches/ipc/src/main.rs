//! Cross-process round trip: ringway shm against the Rust IPC peers (issue #17), in one run.
//!
//! A standalone crate (its own `[workspace]`, `publish = false`), so that the peers (iceoryx2,
//! ipc-channel) are not dev-dependencies of ringway that every `cargo test` would compile. It
//! reuses the latency bench's harness with `#[path]`: `benches/common/base.rs` (the `Tx` / `Rx`
//! traits, the one wait loop, pinning, the ping and pong loops) and `benches/common/shm.rs` (the
//! child process, the shared control block, the cross-process floor, ringway shm's round trip).
//!
//! # Run
//!
//! ```text
//! cd benches/ipc
//! cargo run --release -- [--samples N] [--warmup N] [--rounds N] [--only NAME,...]
//!                        [--cores A,B] [--capacity N] [--stuck-after S]
//! ```
//!
//! Defaults: 200 000 round trips per run after 20 000 warm-up, 3 rounds, capacity 1024,
//! the first two available cores. A smoke check: `cargo run --release -- --samples 5000
//! --warmup 1000 --rounds 1`. Without a peer: `--no-default-features --features ipc-channel`
//! (or `iceoryx2`). A release build from nothing took, on our 2-vCPU guest with other builds
//! running (load about 2.8): 19 s without the peers (17 crates), 36 s with ipc-channel only
//! (34), 152 s with iceoryx2 only (82), 162 s with both (91).
//!
//! # Method
//!
//! As `benches/latency.rs`'s round trip: the parent's timed side pinned to core A pushes `i`
//! and waits for it to come back; the echo side, in a child process (this binary re-executed
//! with `RINGWAY_BENCH_CHILD`, see `shm.rs`) pinned to core B, waits for it and sends it back.
//! Every contender goes through the same `ping` / `pong` loops and the same wait loop (a spin
//! on `core::hint::spin_loop()` after each failed non-blocking push or pop); each contributes a
//! `try_push` / `try_pop` adapter. Raw `quanta` ticks per round trip into a preallocated
//! buffer; statistics afterwards. The child is started and attached before timing begins.
//!
//! Each round: the in-process floor (a raw cross-core atomic hand-off between two threads),
//! then every contender (the order rotated each round), then the in-process floor again;
//! ratios are to the mean of that round's two floor probes (mean of the fastest 99% of
//! samples), medians over rounds. A round whose two probes differ by more than 30% is flagged
//! (not re-run). Contenders:
//!
//! * `floor (atomic, cross-process)`: the same hand-off on two words of a mapping shared with
//!   the child: the limit for any shared-memory IPC between these two cores.
//! * `ringway shm`: two `ringway::shm` rings of `u64` (capacity 1024), `push` / `pop`.
//! * `ipc-channel` (0.23): an `IpcSender<u64>` / `IpcReceiver<u64>` pair each way (Unix
//!   sockets, bincode), set up through an `IpcOneShotServer`; `send` and `try_recv` (a
//!   non-blocking system call per poll).
//! * `iceoryx2` (0.10): two publish-subscribe services of `u64` (`ipc::Service`), one each
//!   way, with the settings of iceoryx2's own latency benchmark (one publisher, one
//!   subscriber, no history, a one-sample subscriber buffer, safe overflow); push: write the
//!   payload into a loaned sample and `send` it, then loan the next one (as that benchmark
//!   does); pop: `receive`. A send that reached no subscriber counts as a failed push and is
//!   retried.

#[path = "../../common/base.rs"]
mod base;
#[path = "../../common/shm.rs"]
mod shm;

use std::sync::atomic::AtomicU64;
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base::{pin, ping, pong, Cores, Padded};
use quanta::Clock;
use shm::{ChildSpec, WordRx, WordTx};

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

struct Opts {
    samples: usize,
    warmup: usize,
    rounds: usize,
    capacity: usize,
    cores: Option<(usize, usize)>,
    only: Vec<String>,
    stuck_after: Duration,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        samples: 200_000,
        warmup: 20_000,
        rounds: 3,
        capacity: 1024,
        cores: None,
        only: vec![],
        stuck_after: Duration::from_secs(60),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |flag: &str, v: Option<&String>| -> u64 {
        let v = v.unwrap_or_else(|| panic!("{flag} needs a value"));
        v.replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{flag}: not a number: {v}"))
    };
    let mut i = 0;
    while i < args.len() {
        let (a, v) = (args[i].as_str(), args.get(i + 1));
        match a {
            "--samples" => o.samples = num(a, v) as usize,
            "--warmup" => o.warmup = num(a, v) as usize,
            "--rounds" => o.rounds = (num(a, v) as usize).max(1),
            "--capacity" => o.capacity = (num(a, v) as usize).max(1),
            "--stuck-after" => o.stuck_after = Duration::from_secs(num(a, v)),
            "--only" => {
                o.only = v
                    .expect("--only NAME,...")
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_lowercase)
                    .collect()
            }
            "--cores" => {
                let v = v.expect("--cores A,B");
                let (x, y) = v.split_once(',').expect("--cores A,B");
                o.cores = Some((
                    x.trim().parse().expect("core"),
                    y.trim().parse().expect("core"),
                ));
            }
            _ => {
                i += 1; // a flag without a value (or cargo's --bench): ignored
                continue;
            }
        }
        i += 2;
    }
    o
}

// ---------------------------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------------------------

/// One round-trip run: `(capacity, warmup, samples, cores, clock) -> raw ticks per round trip`.
type RoundtripFn = fn(usize, usize, usize, Cores, &Clock) -> Vec<u64>;

struct Contender {
    name: &'static str,
    run: RoundtripFn,
}

fn contenders() -> Vec<Contender> {
    #[allow(unused_mut)] // pushed to with the peer features only
    let mut v = vec![
        Contender {
            name: "floor (atomic, cross-process)",
            run: |c, w, s, cores, clock| shm::roundtrip_floor(c, w, s, cores, clock).unwrap(),
        },
        Contender {
            name: "ringway shm",
            run: |c, w, s, cores, clock| shm::roundtrip_ring(c, w, s, cores, clock).unwrap(),
        },
    ];
    #[cfg(feature = "ipc-channel")]
    v.push(Contender {
        name: "ipc-channel",
        run: peers::ipc_channel::roundtrip,
    });
    #[cfg(feature = "iceoryx2")]
    v.push(Contender {
        name: "iceoryx2",
        run: peers::iceoryx2::roundtrip,
    });
    v
}

/// The in-process floor: `common::Floor`'s one-word hand-off each way between two threads
/// (ping on core A, pong on core B), through the same loops.
fn floor_in_process(
    _capacity: usize,
    warmup: usize,
    samples: usize,
    cores: Cores,
    clock: &Clock,
) -> Vec<u64> {
    let to_b = Box::new(Padded(AtomicU64::new(0)));
    let to_a = Box::new(Padded(AtomicU64::new(0)));
    let total = (warmup + samples) as u64;
    let barrier = &Barrier::new(2);
    let mut out = vec![1u64; samples];
    let out_ref = &mut out;
    let (a_tx, a_rx) = (WordTx(&to_b.0), WordRx(&to_a.0, 0));
    let (b_tx, b_rx) = (WordTx(&to_a.0), WordRx(&to_b.0, 0));
    thread::scope(|s| {
        s.spawn(move || {
            let (mut tx, mut rx) = (b_tx, b_rx);
            pin(cores.b);
            barrier.wait();
            pong(&mut rx, &mut tx, total);
        });
        s.spawn(move || {
            let (mut tx, mut rx) = (a_tx, a_rx);
            pin(cores.a);
            barrier.wait();
            ping(&mut tx, &mut rx, warmup, out_ref, clock);
        });
    });
    out
}

mod peers {
    #[cfg(feature = "ipc-channel")]
    pub mod ipc_channel {
        use ipc_channel::ipc::{self, IpcOneShotServer, IpcReceiver, IpcSender};
        use quanta::Clock;

        use crate::base::{pong, Cores, Rx, Tx};
        use crate::shm::{self, ChildRun, ChildSpec};

        /// What the child sends the parent through the one-shot server: the sender of the
        /// channel to the child and the receiver of the channel back.
        type Bootstrap = (IpcSender<u64>, IpcReceiver<u64>);

        impl Tx for IpcSender<u64> {
            #[inline(always)]
            fn try_push(&mut self, v: u64) -> bool {
                self.send(v).is_ok()
            }
        }

        impl Rx for IpcReceiver<u64> {
            #[inline(always)]
            fn try_pop(&mut self) -> Option<u64> {
                self.try_recv().ok()
            }
        }

        pub fn roundtrip(
            _capacity: usize,
            warmup: usize,
            samples: usize,
            cores: Cores,
            clock: &Clock,
        ) -> Vec<u64> {
            let total = (warmup + samples) as u64;
            let (server, name) = IpcOneShotServer::<Bootstrap>::new().expect("ipc-channel server");
            let child = ChildRun::start(
                "ipc-channel-pong",
                &[("server", name), ("total", total.to_string())],
                cores.b,
            );
            let (_, (tx, rx)) = server.accept().expect("ipc-channel: the child's channels");
            let out = shm::ping_child(tx, rx, warmup, samples, cores, clock);
            child.finish();
            out
        }

        pub fn child(spec: &ChildSpec) {
            let map = shm::Mapping::open(&spec.path("ctl")).expect("open the control file");
            let (to_child_tx, mut rx) = ipc::channel::<u64>().expect("ipc-channel channel");
            let (mut tx, to_parent_rx) = ipc::channel::<u64>().expect("ipc-channel channel");
            IpcSender::<Bootstrap>::connect(spec.get("server").to_owned())
                .expect("connect to the parent's server")
                .send((to_child_tx, to_parent_rx))
                .expect("send the channels");
            shm::signal_ready(map.control());
            pong(&mut rx, &mut tx, spec.num("total"));
        }
    }

    #[cfg(feature = "iceoryx2")]
    pub mod iceoryx2 {
        use core::mem::MaybeUninit;

        use iceoryx2::port::publisher::Publisher;
        use iceoryx2::port::subscriber::Subscriber;
        use iceoryx2::prelude::*;
        use iceoryx2::sample_mut_uninit::SampleMutUninit;
        use quanta::Clock;

        use crate::base::{pin, ping, pong, Cores, Rx, Tx};
        use crate::shm::{self, ChildRun, ChildSpec};

        type Service = ipc::Service;

        /// An `ipc::Service` publisher. Its ports hold `Rc`s, so they are not `Send`, but the
        /// `Tx` / `Rx` traits ask for `Send` (the in-process drivers move halves into their
        /// threads); these adapters are made, used and dropped on one thread (the timed thread
        /// in the parent, the main thread in the child) and never cross to another.
        /// `ipc_threadsafe::Service` would be `Send`, at the cost of a lock per operation that
        /// the single-threaded use here does not need.
        pub struct PubTx {
            publisher: Publisher<Service, u64, ()>,
            /// The sample the next push writes, loaned right after the previous send (as
            /// iceoryx2's own benchmark does), so the loan is not between a push and its
            /// answer's arrival.
            next: Option<SampleMutUninit<Service, MaybeUninit<u64>, ()>>,
        }

        impl PubTx {
            fn new(publisher: Publisher<Service, u64, ()>) -> Self {
                let next = publisher.loan_uninit().ok();
                PubTx { publisher, next }
            }
        }

        /// An `ipc::Service` subscriber; see [`PubTx`].
        pub struct SubRx(Subscriber<Service, u64, ()>);

        // SAFETY: never sent to another thread (see `PubTx`): each is created, used and dropped
        // on the thread that made it, so the `Rc`s inside are never touched from two threads.
        unsafe impl Send for PubTx {}
        // SAFETY: as for `PubTx`.
        unsafe impl Send for SubRx {}

        impl Tx for PubTx {
            #[inline(always)]
            fn try_push(&mut self, v: u64) -> bool {
                let sample = match self.next.take() {
                    Some(sample) => sample,
                    None => match self.publisher.loan_uninit() {
                        Ok(sample) => sample,
                        Err(_) => return false,
                    },
                };
                // The number of subscribers that got it: 0 means it reached no one (retried).
                let sent = matches!(sample.write_payload(v).send(), Ok(n) if n > 0);
                self.next = self.publisher.loan_uninit().ok();
                sent
            }
        }

        impl Rx for SubRx {
            #[inline(always)]
            fn try_pop(&mut self) -> Option<u64> {
                match self.0.receive() {
                    Ok(Some(sample)) => Some(*sample),
                    _ => None,
                }
            }
        }

        fn pub_sub(
            node: &Node<Service>,
            name: &str,
            create: bool,
        ) -> iceoryx2::service::port_factory::publish_subscribe::PortFactory<Service, u64, ()>
        {
            let name: ServiceName = name.try_into().expect("service name");
            // The settings of iceoryx2's own latency benchmark (benchmarks/publish-subscribe):
            // one publisher, one subscriber, no history, a one-sample buffer.
            let builder = node
                .service_builder(&name)
                .publish_subscribe::<u64>()
                .max_publishers(1)
                .max_subscribers(1)
                .history_size(0)
                .subscriber_max_buffer_size(1)
                .enable_safe_overflow(true);
            if create {
                builder.create().expect("create the iceoryx2 service")
            } else {
                builder.open().expect("open the iceoryx2 service")
            }
        }

        fn node() -> Node<Service> {
            set_log_level(LogLevel::Error);
            NodeBuilder::new()
                .create::<Service>()
                .expect("create an iceoryx2 node")
        }

        pub fn roundtrip(
            _capacity: usize,
            warmup: usize,
            samples: usize,
            cores: Cores,
            clock: &Clock,
        ) -> Vec<u64> {
            let total = (warmup + samples) as u64;
            let base = shm::scratch_path("iox2");
            let base = base.file_name().and_then(|n| n.to_str()).expect("a name");
            let (to_child, to_parent) = (format!("{base}/ping"), format!("{base}/pong"));
            let mut out = vec![1u64; samples];
            // The ports stay on the thread that made them (the timed one, pinned to core A):
            // they are not `Send`.
            std::thread::scope(|s| {
                s.spawn(|| {
                    pin(cores.a);
                    let node = node();
                    let (out_svc, back_svc) = (
                        pub_sub(&node, &to_child, true),
                        pub_sub(&node, &to_parent, true),
                    );
                    let mut tx =
                        PubTx::new(out_svc.publisher_builder().create().expect("publisher"));
                    let mut rx = SubRx(back_svc.subscriber_builder().create().expect("subscriber"));
                    let child = ChildRun::start(
                        "iceoryx2-pong",
                        &[
                            ("ping", to_child.clone()),
                            ("pong", to_parent.clone()),
                            ("total", total.to_string()),
                        ],
                        cores.b,
                    );
                    ping(&mut tx, &mut rx, warmup, &mut out, clock);
                    child.finish();
                });
            });
            out
        }

        pub fn child(spec: &ChildSpec) {
            let map = shm::Mapping::open(&spec.path("ctl")).expect("open the control file");
            let node = node();
            let (in_svc, out_svc) = (
                pub_sub(&node, spec.get("ping"), false),
                pub_sub(&node, spec.get("pong"), false),
            );
            let mut rx = SubRx(in_svc.subscriber_builder().create().expect("subscriber"));
            let mut tx = PubTx::new(out_svc.publisher_builder().create().expect("publisher"));
            shm::signal_ready(map.control());
            pong(&mut rx, &mut tx, spec.num("total"));
        }
    }
}

/// The roles of this crate's children (after `shm`'s own).
fn run_peer_child(spec: &ChildSpec) {
    match spec.role() {
        #[cfg(feature = "ipc-channel")]
        "ipc-channel-pong" => peers::ipc_channel::child(spec),
        #[cfg(feature = "iceoryx2")]
        "iceoryx2-pong" => peers::iceoryx2::child(spec),
        role => panic!("unknown bench child role {role}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and report
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Stats {
    p50: f64,
    p99: f64,
    p999: f64,
    mean99: f64,
}

fn stats(ticks: &[u64], clock: &Clock) -> Stats {
    let mut sorted = ticks.to_vec();
    sorted.sort_unstable();
    let ns = |t: u64| clock.delta_as_nanos(0, t) as f64;
    let at = |q: f64| ns(sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]);
    let keep = ((sorted.len() as f64 * 0.99).ceil() as usize).clamp(1, sorted.len());
    let big = 1u64 << 40;
    let ns_per_tick = clock.delta_as_nanos(0, big) as f64 / big as f64;
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        mean99: sorted[..keep].iter().map(|&t| t as f64).sum::<f64>() / keep as f64 * ns_per_tick,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The run in progress and when it started, for the watchdog.
static RUNNING: Mutex<Option<(&'static str, Instant)>> = Mutex::new(None);

/// A run still going after `limit` is stuck (a child died and the parent spins, or a peer lost
/// a message): say which and exit with status 3.
fn start_watchdog(limit: Duration) {
    if limit.is_zero() {
        return;
    }
    thread::spawn(move || loop {
        thread::sleep(Duration::from_secs(1));
        if let Some((name, since)) = *RUNNING.lock().unwrap() {
            if since.elapsed() > limit {
                eprintln!(
                    "STUCK: {name} has run for {:.0} s (--stuck-after {}); exiting",
                    since.elapsed().as_secs_f64(),
                    limit.as_secs()
                );
                std::process::exit(3);
            }
        }
    });
}

fn main() {
    if let Some(spec) = shm::child_request() {
        if !shm::run_child(&spec) {
            run_peer_child(&spec);
        }
        return;
    }
    let o = parse_opts();
    start_watchdog(o.stuck_after);
    let (cores, how) = Cores::detect(o.cores);
    let clock = Clock::new();
    let contenders: Vec<Contender> = contenders()
        .into_iter()
        .filter(|c| {
            c.name.starts_with("floor")
                || o.only.is_empty()
                || o.only.iter().any(|w| c.name.to_lowercase().contains(w))
        })
        .collect();
    println!(
        "ringway cross-process round trip (benches/ipc): {how}; u64, capacity {}; {} samples per \
         run after {} warm-up; {} round(s)",
        o.capacity, o.samples, o.warmup, o.rounds
    );
    let run = |name: &'static str, f: RoundtripFn| {
        *RUNNING.lock().unwrap() = Some((name, Instant::now()));
        let ticks = f(o.capacity, o.warmup, o.samples, cores, &clock);
        *RUNNING.lock().unwrap() = None;
        stats(&ticks, &clock)
    };
    let started = Instant::now();
    // Per contender: (stats, ratio to the round's in-process floor) per round.
    let mut per: Vec<Vec<(Stats, f64)>> = vec![vec![]; contenders.len()];
    let mut floors: Vec<Stats> = vec![];
    for round in 0..o.rounds {
        let t = Instant::now();
        let first = run("floor (atomic, in process)", floor_in_process);
        let n = contenders.len();
        let mut got = vec![];
        for k in 0..n {
            let i = (k + round) % n;
            got.push((i, run(contenders[i].name, contenders[i].run)));
        }
        let last = run("floor (atomic, in process)", floor_in_process);
        let floor = (first.mean99 + last.mean99) / 2.0;
        let drift = (first.mean99 - last.mean99).abs() / first.mean99.min(last.mean99);
        for (i, s) in got {
            per[i].push((s, s.mean99 / floor));
        }
        floors.extend([first, last]);
        println!(
            "  round {}: in-process floor {floor:.1} ns (probes {:.1} / {:.1}){}, {:.1} s",
            round + 1,
            first.mean99,
            last.mean99,
            if drift > 0.30 {
                " PROBES DIFFER BY MORE THAN 30% (vCPU moved?): this round is suspect"
            } else {
                ""
            },
            t.elapsed().as_secs_f64()
        );
    }

    let rows: Vec<(&str, Vec<Stats>, f64)> =
        std::iter::once(("floor (atomic, in process)", floors.clone(), 1.0))
            .chain(contenders.iter().zip(&per).map(|(c, r)| {
                (
                    c.name,
                    r.iter().map(|x| x.0).collect(),
                    median(r.iter().map(|x| x.1).collect()),
                )
            }))
            .collect();
    println!(
        "\n## Cross-process round trip, ns (median over rounds; the in-process floor over its {} \
         probes)\n",
        floors.len()
    );
    println!(
        "| {:<30} | {:>7} | {:>7} | {:>7} | {:>16} | {:>7} |",
        "queue", "p50", "p99", "p99.9", "mean fastest 99%", "x floor"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|",
        "-".repeat(32),
        "-".repeat(8) + ":",
        "-".repeat(8) + ":",
        "-".repeat(8) + ":",
        "-".repeat(17) + ":",
        "-".repeat(8) + ":"
    );
    for (name, s, ratio) in &rows {
        let m = |f: fn(&Stats) -> f64| median(s.iter().map(f).collect());
        println!(
            "| {:<30} | {:>7.1} | {:>7.1} | {:>7.1} | {:>16.1} | {:>6.2}x |",
            name,
            m(|s| s.p50),
            m(|s| s.p99),
            m(|s| s.p999),
            m(|s| s.mean99),
            ratio
        );
    }
    println!(
        "\nx floor: per round, the mean of the fastest 99% over that round's in-process floor \
         (the mean of its two probes); median over rounds. Issue #17's target for ringway shm: \
         <= 1.15x. Total {:.1} s.",
        started.elapsed().as_secs_f64()
    );
}
