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
//!   spinning on a full (sender) or empty (receiver) queue is not busy.
//!
//! Run: `cargo run --release --example pipeline [-- --messages N --capacity N]`.

use std::thread;
use std::time::Instant;

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

fn main() {
    let messages = arg("--messages", 1_000_000);
    let capacity = arg("--capacity", 1024);
    assert!(messages >= 1, "--messages must be at least 1");
    let (mut tx, mut rx) = ringway::spsc::channel::<(usize, String)>(capacity);
    let base = Instant::now();

    let sender = thread::spawn(move || {
        // Per message: when the push started and when it succeeded.
        let mut started = Vec::with_capacity(messages);
        let mut sent = Vec::with_capacity(messages);
        let mut waiting = 0u64;
        let t0 = nanos(base);
        for i in 0..messages {
            let text = if i == 0 {
                "Hello, World!".to_owned()
            } else {
                format!("message {i}")
            };
            let start = nanos(base);
            let mut item = (i, text);
            let mut wait_from = None;
            loop {
                match tx.push(item) {
                    Ok(()) => break,
                    Err(e) => {
                        item = e.into_inner();
                        wait_from.get_or_insert_with(|| nanos(base));
                        std::hint::spin_loop();
                    }
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
        (started, sent, wall, waiting)
    });

    let receiver = thread::spawn(move || {
        // Per message: when it was popped and when its result was stored.
        let mut popped = vec![0u64; messages];
        let mut done = vec![0u64; messages];
        let mut results = Vec::with_capacity(messages);
        let mut waiting = 0u64;
        let t0 = nanos(base);
        while results.len() < messages {
            let wait_from = nanos(base);
            let mut spun = false;
            let (i, text) = loop {
                match rx.pop() {
                    Some(m) => break m,
                    None => {
                        spun = true;
                        std::hint::spin_loop();
                    }
                }
            };
            let got = nanos(base);
            if spun {
                waiting += got - wait_from;
            }
            results.push(text.to_uppercase());
            popped[i] = got;
            done[i] = nanos(base);
        }
        let wall = nanos(base) - t0;
        (results, popped, done, wall, waiting)
    });

    let (started, sent, send_wall, send_wait) = sender.join().expect("sender panicked");
    let (results, popped, done, recv_wall, recv_wait) = receiver.join().expect("receiver panicked");
    let total = done.iter().max().copied().unwrap_or(0) - started[0];

    assert_eq!(results[0], "HELLO, WORLD!");
    assert_eq!(results.len(), messages);
    println!("first result: {:?}", results[0]);
    println!(
        "{messages} messages through a ringway SPSC queue of capacity {capacity} in {:.3} s",
        total as f64 / 1e9
    );
    println!(
        "throughput: {:.2} M messages/s",
        messages as f64 / (total as f64 / 1e9) / 1e6
    );

    let mut parts = [
        ("send time", Vec::with_capacity(messages)),
        ("time in queue", Vec::with_capacity(messages)),
        ("receive time", Vec::with_capacity(messages)),
        ("end to end", Vec::with_capacity(messages)),
    ];
    for i in 0..messages {
        parts[0].1.push(sent[i] - started[i]);
        parts[1].1.push(popped[i].saturating_sub(sent[i]));
        parts[2].1.push(done[i] - popped[i]);
        parts[3].1.push(done[i] - started[i]);
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
    println!("utilisation (busy / wall; spinning on a full or empty queue is not busy)");
    for (name, wall, wait) in [
        ("sender", send_wall, send_wait),
        ("receiver", recv_wall, recv_wait),
    ] {
        println!(
            "  {name:<9} {:5.1}%  (wall {:.3} s, spinning {:.3} s)",
            100.0 * (wall - wait.min(wall)) as f64 / wall as f64,
            wall as f64 / 1e9,
            wait as f64 / 1e9
        );
    }
    println!("note: a spinning thread still occupies its core 100% of the time.");
}
