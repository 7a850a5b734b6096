//! The consumer of a ring in shared memory (`ringway::shm`), fed by a producer in
//! another process (`examples/shm_producer.rs`).
//!
//! It opens the ring (waiting for the producer to create it), pops with `pop_blocking`,
//! checks that the sequence numbers are consecutive, and ends when the producer is gone
//! (`Disconnected`) and the ring is drained, with a summary: items, rate, and how long
//! the items took from push to pop (mean and longest; items pushed before the consumer
//! came waited in the full ring until it did).
//!
//! Run both at once (the producer starts this consumer as a child process):
//!
//! ```text
//! cargo run --example shm_producer --features shm -- --spawn-consumer
//! ```
//!
//! or each in its own terminal, in either order:
//!
//! ```text
//! cargo run --example shm_producer --features shm
//! cargo run --example shm_consumer --features shm
//! ```
//!
//! Options: `shm_consumer [PATH]` (default `/dev/shm/ringway-example`, as the producer's).

#[path = "shm_common/mod.rs"]
mod shm_common;

use std::env;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ringway::shm::{Error as ShmError, Ring};
use shm_common::{now_ns, Stamp, DEFAULT_PATH};

/// How long to wait for the producer to create the ring.
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shm_consumer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Error> {
    let path = match env::args().nth(1) {
        Some(a) if a == "-h" || a == "--help" => {
            println!("usage: shm_consumer [PATH]");
            return Ok(ExitCode::SUCCESS);
        }
        Some(a) => PathBuf::from(a),
        None => PathBuf::from(DEFAULT_PATH),
    };

    let ring = open_when_ready(&path)?;
    let mut rx = ring.consumer()?;
    println!(
        "shm_consumer: attached to {} (capacity {}), pid {}",
        path.display(),
        ring.capacity(),
        std::process::id()
    );

    let mut first: Option<(u64, Instant)> = None;
    let (mut items, mut gaps, mut next) = (0u64, 0u64, 0u64);
    let (mut age_ns_sum, mut age_ns_max) = (0u128, 0u64);
    let mut last_at = Instant::now();
    // `pop_blocking` spins, then yields, while the ring is empty, and returns
    // `Err(Disconnected)` once the producer is gone (it dropped its half, or its process
    // ended) and every item it pushed has been popped.
    while let Ok(stamp) = rx.pop_blocking() {
        last_at = Instant::now();
        let age_ns = now_ns().saturating_sub(stamp.sent_ns);
        age_ns_sum += u128::from(age_ns);
        age_ns_max = age_ns_max.max(age_ns);
        if first.is_none() {
            // A consumer that replaces one that died starts where that one stopped.
            first = Some((stamp.seq, last_at));
        } else if stamp.seq != next {
            if gaps == 0 {
                eprintln!("shm_consumer: expected item {next}, got {}", stamp.seq);
            }
            gaps += 1;
        }
        next = stamp.seq.wrapping_add(1);
        items += 1;
    }

    let Some((first_seq, first_at)) = first else {
        println!("shm_consumer: the producer ended without sending anything");
        return Ok(ExitCode::SUCCESS);
    };
    let secs = last_at.duration_since(first_at).as_secs_f64().max(1e-9);
    println!(
        "shm_consumer: {items} items (seq {first_seq} ..= {}), {} in {:.3} s: {:.1} M items/s; \
         push to pop {:.1} us on average, {:.1} us at most",
        next.wrapping_sub(1),
        if gaps == 0 {
            "all consecutive".to_owned()
        } else {
            format!("{gaps} GAPS")
        },
        secs,
        items as f64 / secs / 1e6,
        age_ns_sum as f64 / items as f64 / 1e3,
        age_ns_max as f64 / 1e3
    );
    Ok(if gaps == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Opens the ring at `path`, waiting while it does not exist yet or its creator has not
/// finished writing it.
fn open_when_ready(path: &Path) -> Result<Ring<Stamp>, Error> {
    let deadline = Instant::now() + OPEN_TIMEOUT;
    let mut told = false;
    loop {
        match Ring::<Stamp>::open(path) {
            Ok(ring) => return Ok(ring),
            Err(ShmError::Io(e)) if e.kind() == ErrorKind::NotFound => {}
            // Created but not yet sized or not yet stamped with its magic number.
            Err(ShmError::Truncated { .. } | ShmError::NotARing) => {}
            Err(e) => return Err(e.into()),
        }
        if Instant::now() > deadline {
            return Err(format!("no ring at {} after {OPEN_TIMEOUT:?}", path.display()).into());
        }
        if !told {
            println!(
                "shm_consumer: waiting for a producer to create {} (cargo run --example \
                 shm_producer --features shm)",
                path.display()
            );
            told = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
