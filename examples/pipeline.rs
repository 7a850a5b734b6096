//! The classic asynchronous hand-off: a sender thread sends messages through a ringway
//! SPSC queue to a receiver thread that processes them (upper-cases them) and collects
//! the results.
//!
//! It reports the three figures that describe such a pipeline:
//! * throughput: messages processed per second, end to end;
//! * latency, decomposed per message into send time (from the sender starting the
//!   push until the push succeeded, including any wait for space), time in queue (from
//!   then until the receiver popped it) and receive time (from the pop until the
//!   processed result was stored), as p50 and p99 of each part;
//! * resource utilisation: each thread's busy time / wall time, where time spent
//!   waiting on a full (sender) or empty (receiver) queue is not busy, and its CPU
//!   time / wall time (from `/proc/thread-self/schedstat` on Linux), which shows what
//!   the waiting cost the machine: a spinning thread holds its core the whole time.
//!
//! With `--blocking` it runs the pipeline twice, first spinning (`push`/`pop` in a
//! spin loop) and then with blocking waits (`push_blocking`/`pop_blocking` on a ring
//! built with `WaitStrategy::SpinPark`), with the sender pacing its messages in bursts
//! (`--burst` messages, then a `--pause-us` sleep) as a telemetry source would, and
//! prints the utilisation of both side by side.
//!
//! Run: `cargo run --release --example pipeline [-- --messages N --capacity N]`, or
//! `cargo run --release --example pipeline -- --blocking [--burst N --pause-us N]`.

use std::thread;
use std::time::{Duration, Instant};

use ringway::WaitStrategy;

/// How the two threads wait for space or items.
#[derive(Clone, Copy, PartialEq)]
enum Wait {
    /// `push`/`pop` in a spin loop (the ring built by `spsc::channel`).
    Spin,
    /// `push_blocking`/`pop_blocking` on a ring built with `WaitStrategy::SpinPark`.
    Park,
}

/// The sender's pacing: `burst` messages back to back, then a sleep of `pause`.
#[derive(Clone, Copy)]
struct Pacing {
    burst: usize,
    pause: Duration,
}

/// What one thread measured: wall time, time spent waiting, and CPU time if known.
struct Usage {
    wall: u64,
    waiting: u64,
    cpu: Option<u64>,
}

/// This thread's CPU time so far in ns (Linux: the first field of
/// `/proc/thread-self/schedstat`); `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Parses `--name value` from the command line, with a default.
fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

/// Nanoseconds since `base`.
fn nanos(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// The `p`-th percentile (0..=100) of `sorted`.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

/// The results of one run.
struct Report {
    total: u64,
    results: Vec<String>,
    started: Vec<u64>,
    sent: Vec<u64>,
    popped: Vec<u64>,
    done: Vec<u64>,
    sender: Usage,
    receiver: Usage,
}

/// Runs the pipeline once.
fn run(wait: Wait, messages: usize, capacity: usize, pacing: Option<Pacing>) -> Report {
    let strategy = match wait {
        Wait::Spin => WaitStrategy::SPIN_YIELD,
        Wait::Park => WaitStrategy::SPIN_PARK,
    };
    let (mut tx, mut rx) =
        ringway::spsc::channel_with_wait_strategy::<(usize, String)>(capacity, strategy);
    let base = Instant::now();

    let sender = thread::spawn(move || {
        // Per message: when the push started and when it succeeded.
        let mut started = Vec::with_capacity(messages);
        let mut sent = Vec::with_capacity(messages);
        let mut waiting = 0u64;
        let cpu0 = thread_cpu_ns();
        let t0 = nanos(base);
        for i in 0..messages {
            if let Some(p) = pacing {
                if i > 0 && i % p.burst == 0 {
                    let from = nanos(base);
                    thread::sleep(p.pause);
                    waiting += nanos(base) - from;
                }
            }
            let text = if i == 0 {
                "Hello, World!".to_owned()
            } else {
                format!("message {i}")
            };
            let start = nanos(base);
            let mut item = (i, text);
            let mut wait_from = None;
            match wait {
                Wait::Spin => loop {
                    match tx.push(item) {
                        Ok(()) => break,
                        Err(e) => {
                            item = e.into_inner();
                            wait_from.get_or_insert_with(|| nanos(base));
                            std::hint::spin_loop();
                        }
                    }
                },
                Wait::Park => {
                    if tx.is_full() {
                        wait_from = Some(start);
                    }
                    tx.push_blocking(item)
                        .expect("the receiver outlives the sender");
                }
            }
            let end = nanos(base);
            if let Some(w) = wait_from {
                waiting += end - w;
            }
            started.push(start);
            sent.push(end);
        }
        let wall = nanos(base) - t0;
        let cpu = thread_cpu_ns().zip(cpu0).map(|(b, a)| b - a);
        (started, sent, Usage { wall, waiting, cpu })
    });

    let receiver = thread::spawn(move || {
        // Per message: when it was popped and when its result was stored.
        let mut popped = vec![0u64; messages];
        let mut done = vec![0u64; messages];
        let mut results = Vec::with_capacity(messages);
        let mut waiting = 0u64;
        let cpu0 = thread_cpu_ns();
        let t0 = nanos(base);
        while results.len() < messages {
            let wait_from = nanos(base);
            let mut waited = false;
            let (i, text) = match wait {
                Wait::Spin => loop {
                    match rx.pop() {
                        Some(m) => break m,
                        None => {
                            waited = true;
                            std::hint::spin_loop();
                        }
                    }
                },
                Wait::Park => {
                    waited = rx.is_empty();
                    rx.pop_blocking().expect("the sender sends every message")
                }
            };
            let got = nanos(base);
            if waited {
                waiting += got - wait_from;
            }
            results.push(text.to_uppercase());
            popped[i] = got;
            done[i] = nanos(base);
        }
        let wall = nanos(base) - t0;
        let cpu = thread_cpu_ns().zip(cpu0).map(|(b, a)| b - a);
        (results, popped, done, Usage { wall, waiting, cpu })
    });

    let (started, sent, sender) = sender.join().expect("sender panicked");
    let (results, popped, done, receiver) = receiver.join().expect("receiver panicked");
    let total = done.iter().max().copied().unwrap_or(0) - started[0];
    assert_eq!(results[0], "HELLO, WORLD!");
    assert_eq!(results.len(), messages);
    Report {
        total,
        results,
        started,
        sent,
        popped,
        done,
        sender,
        receiver,
    }
}

/// `part / whole` as a percentage.
fn pct(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// Prints throughput, the latency decomposition and the utilisation of one run.
fn print_report(r: &Report, messages: usize) {
    println!("first result: {:?}", r.results[0]);
    println!(
        "throughput: {:.2} M messages/s ({messages} messages in {:.3} s)",
        messages as f64 / (r.total as f64 / 1e9) / 1e6,
        r.total as f64 / 1e9
    );
    let mut parts = [
        ("send time", Vec::with_capacity(messages)),
        ("time in queue", Vec::with_capacity(messages)),
        ("receive time", Vec::with_capacity(messages)),
        ("end to end", Vec::with_capacity(messages)),
    ];
    for i in 0..messages {
        parts[0].1.push(r.sent[i] - r.started[i]);
        parts[1].1.push(r.popped[i].saturating_sub(r.sent[i]));
        parts[2].1.push(r.done[i] - r.popped[i]);
        parts[3].1.push(r.done[i] - r.started[i]);
    }
    println!("latency (ns)        p50        p99");
    for (name, values) in &mut parts {
        values.sort_unstable();
        println!(
            "  {name:<14} {:>9} {:>10}",
            percentile(values, 50.0),
            percentile(values, 99.0)
        );
    }
    println!("utilisation: busy / wall (waiting on a full or empty queue, or pacing, is not busy); CPU / wall");
    for (name, u) in [("sender", &r.sender), ("receiver", &r.receiver)] {
        let cpu = match u.cpu {
            Some(c) => format!("{:5.1}%", pct(c, u.wall)),
            None => "  n/a".to_owned(),
        };
        println!(
            "  {name:<9} busy {:5.1}%  CPU {cpu}  (wall {:.3} s, waiting {:.3} s)",
            pct(u.wall - u.waiting.min(u.wall), u.wall),
            u.wall as f64 / 1e9,
            u.waiting as f64 / 1e9
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let blocking = args.iter().any(|a| a == "--blocking");
    let messages = arg("--messages", if blocking { 200_000 } else { 1_000_000 });
    let capacity = arg("--capacity", 1024);
    assert!(messages >= 1, "--messages must be at least 1");
    if !blocking {
        let r = run(Wait::Spin, messages, capacity, None);
        println!("ringway SPSC queue of capacity {capacity}, spinning waits");
        print_report(&r, messages);
        println!("note: a spinning thread still occupies its core 100% of the time.");
        return;
    }
    let burst = arg("--burst", 64).max(1);
    let pacing = Pacing {
        burst,
        pause: Duration::from_micros(arg("--pause-us", 200) as u64),
    };
    println!(
        "ringway SPSC queue of capacity {capacity}; the sender sends bursts of {burst} messages \
         with a {} us sleep between them",
        pacing.pause.as_micros()
    );
    let mut rows = Vec::new();
    for (wait, name) in [
        (Wait::Spin, "spinning (push/pop in a spin loop)"),
        (Wait::Park, "parking (push_blocking/pop_blocking, SpinPark)"),
    ] {
        println!();
        println!("== {name}");
        let r = run(wait, messages, capacity, Some(pacing));
        print_report(&r, messages);
        rows.push((name, r));
    }
    println!();
    println!("utilisation, spinning against parking (busy / wall, CPU / wall):");
    for (name, r) in &rows {
        let cpu = |u: &Usage| {
            u.cpu
                .map_or("n/a".to_owned(), |c| format!("{:.1}%", pct(c, u.wall)))
        };
        println!(
            "  {name:<48} sender busy {:5.1}% CPU {:>6}   receiver busy {:5.1}% CPU {:>6}",
            pct(
                r.sender.wall - r.sender.waiting.min(r.sender.wall),
                r.sender.wall
            ),
            cpu(&r.sender),
            pct(
                r.receiver.wall - r.receiver.waiting.min(r.receiver.wall),
                r.receiver.wall
            ),
            cpu(&r.receiver),
        );
    }
}
