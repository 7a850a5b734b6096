//! The producer of a ring in shared memory (`ringway::shm`), for a consumer in another
//! process (`examples/shm_consumer.rs`).
//!
//! It creates the ring (a file under `/dev/shm`), pushes a stream of `Stamp`s (a
//! sequence number and the time it was pushed), waits until the consumer has taken them
//! all, lets go of the ring (the consumer then sees `Disconnected`) and removes the file.
//!
//! Run both at once (the producer starts the consumer as a child process):
//!
//! ```text
//! cargo run --example shm_producer --features shm -- --spawn-consumer
//! ```
//!
//! or each in its own terminal, in either order (the consumer waits for the ring to
//! appear, the producer for a consumer once the ring is full):
//!
//! ```text
//! cargo run --example shm_producer --features shm
//! cargo run --example shm_consumer --features shm
//! ```
//!
//! Options: `shm_producer [PATH] [--items N] [--spawn-consumer]`, `shm_consumer [PATH]`;
//! the path defaults to `/dev/shm/ringway-example`. Add `--release` after `cargo run`
//! for the speed of an optimised build.

#[path = "shm_common/mod.rs"]
mod shm_common;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use ringway::shm::{Ring, Shm};
use ringway::spsc::Producer;
use ringway::{PushError, PushTimeoutError};
use shm_common::{Stamp, CAPACITY, DEFAULT_PATH};

/// Items pushed unless `--items` says otherwise.
const DEFAULT_ITEMS: u64 = 5_000_000;

/// How long a full ring may stay full before the producer says it is waiting.
const NOTICE_AFTER: Duration = Duration::from_secs(1);

type Error = Box<dyn std::error::Error>;

struct Args {
    path: PathBuf,
    items: u64,
    spawn_consumer: bool,
}

fn parse_args() -> Result<Args, Error> {
    let mut args = Args {
        path: PathBuf::from(DEFAULT_PATH),
        items: DEFAULT_ITEMS,
        spawn_consumer: false,
    };
    let mut it = env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--spawn-consumer" => args.spawn_consumer = true,
            "--items" => {
                let n = it.next().ok_or("--items needs a number")?;
                args.items = n.replace('_', "").parse()?;
            }
            "-h" | "--help" => {
                println!("usage: shm_producer [PATH] [--items N] [--spawn-consumer]");
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}").into()),
            path => args.path = PathBuf::from(path),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shm_producer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Error> {
    let args = parse_args()?;
    let ring = match Ring::<Stamp>::create(&args.path, CAPACITY) {
        Ok(ring) => ring,
        Err(ringway::shm::Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!(
                "{} exists: another producer is using it, or one ended without removing it \
                 (then `rm {0}`)",
                args.path.display()
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    // Removes the file however this function ends (the normal end removes it earlier).
    let file = RemoveOnDrop(args.path.clone());
    let mut tx = ring.producer()?;
    println!(
        "shm_producer: ring {} ({CAPACITY} items of {} bytes), pid {}",
        args.path.display(),
        size_of::<Stamp>(),
        std::process::id()
    );

    let mut child = if args.spawn_consumer {
        Some(spawn_consumer(&args.path)?)
    } else {
        println!(
            "shm_producer: start the consumer in another terminal: cargo run --example \
             shm_consumer --features shm -- {}",
            args.path.display()
        );
        None
    };

    let started = Instant::now();
    let mut pushed = 0;
    for seq in 0..args.items {
        let item = Stamp::now(seq);
        // The fast path: a free slot. When the ring is full, wait for the consumer.
        if let Err(PushError::Full(item)) = tx.push(item) {
            if !wait_for_room(&mut tx, item, &mut child)? {
                eprintln!("shm_producer: the consumer went away after {seq} items");
                break;
            }
        }
        pushed = seq + 1;
    }
    let elapsed = started.elapsed();
    println!(
        "shm_producer: pushed {pushed} items in {:.3} s ({:.1} M items/s)",
        elapsed.as_secs_f64(),
        pushed as f64 / elapsed.as_secs_f64() / 1e6
    );

    // Let the consumer take what is left before letting go: the file is removed below,
    // and a consumer that has not opened it yet could not find it any more.
    while !tx.is_empty() && !tx.is_abandoned() && !child_ended(&mut child)? {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Dropping the producer tells the consumer that no item will come (`Disconnected`
    // once it has popped the rest).
    drop(tx);
    drop(ring);
    drop(file);

    let mut code = ExitCode::SUCCESS;
    if let Some(child) = child.as_mut() {
        let status = child.wait()?;
        if !status.success() {
            eprintln!("shm_producer: the consumer ended with {status}");
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// Removes the ring's file when dropped. A process that still maps it keeps its
/// mapping; only the name goes.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            eprintln!("shm_producer: could not remove {}: {e}", self.0.display());
        }
    }
}

/// Waits for a free slot for `item`, saying so once if the ring stays full for a
/// second (no consumer yet, or a slow one). False if the consumer is gone: it dropped
/// its half or its process ended (`Disconnected`), or the child consumer ended before
/// it ever attached.
fn wait_for_room(
    tx: &mut Producer<Stamp, Shm>,
    mut item: Stamp,
    child: &mut Option<Child>,
) -> Result<bool, Error> {
    let mut told = false;
    loop {
        match tx.push_timeout(item, NOTICE_AFTER) {
            Ok(()) => return Ok(true),
            Err(PushTimeoutError::Disconnected(_)) => return Ok(false),
            Err(PushTimeoutError::Timeout(back)) => {
                if child_ended(child)? {
                    return Ok(false);
                }
                if !told {
                    println!("shm_producer: the ring is full, waiting for the consumer");
                    told = true;
                }
                item = back;
            }
        }
    }
}

/// Whether the consumer this process started (if any) has ended.
fn child_ended(child: &mut Option<Child>) -> Result<bool, Error> {
    Ok(match child {
        Some(child) => child.try_wait()?.is_some(),
        None => false,
    })
}

/// Starts `shm_consumer` (the binary beside this one) on `path`.
fn spawn_consumer(path: &Path) -> Result<Child, Error> {
    let exe = env::current_exe()?;
    let consumer = exe.with_file_name(format!("shm_consumer{}", env::consts::EXE_SUFFIX));
    build_consumer_if_under_cargo(&exe)?;
    if !consumer.exists() {
        return Err(format!(
            "{} not found: build it first with `cargo build --example shm_consumer --features shm`",
            consumer.display()
        )
        .into());
    }
    println!("shm_producer: starting {}", consumer.display());
    Ok(Command::new(consumer).arg(path).spawn()?)
}

/// Under `cargo run`, which builds only the example it runs, builds `shm_consumer` with
/// the same profile into the same directory, so the sibling exists and is up to date.
/// Run directly (no `CARGO` in the environment), the sibling is used as it is.
fn build_consumer_if_under_cargo(exe: &Path) -> Result<(), Error> {
    let (Some(cargo), Some(manifest_dir)) =
        (env::var_os("CARGO"), env::var_os("CARGO_MANIFEST_DIR"))
    else {
        return Ok(());
    };
    // <target dir>/<profile dir>/examples/shm_producer
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("unexpected location of the example")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("unexpected location of the example")?;
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--quiet",
            "--example",
            "shm_consumer",
            "--features",
            "shm",
        ])
        .arg("--manifest-path")
        .arg(Path::new(&manifest_dir).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            build.arg("--release");
        }
        Some(profile) => {
            build.args(["--profile", profile]);
        }
        None => {}
    }
    let status = build.status()?;
    if !status.success() {
        return Err(format!("building shm_consumer failed ({status})").into());
    }
    Ok(())
}
