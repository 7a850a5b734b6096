//! The cross-process harness (`ringway::shm`, issue #17): the pieces a benchmark needs to run
//! one side of a ping-pong or of a stream in another process, with the same loops
//! (`base::{ping, pong, produce, consume}`) and the same wait loop as in process.
//!
//! * **The child** is the running bench binary itself, re-executed
//!   (`std::env::current_exe()`) with [`CHILD_ENV`] in its environment saying what to do
//!   (a role and `key=value` arguments): nothing else has to be built. The binary's `main`
//!   starts with [`child_main`] (or, for a harness with roles of its own, [`child_request`]
//!   and [`run_child`]), which runs the role and returns true in the child. The child is
//!   pinned to core B (the parent's timed side runs on core A), takes the parent's wait mode
//!   (spin, or yield on fewer than two cores), and asks the kernel to kill it if the
//!   parent dies (`PR_SET_PDEATHSIG`), so a bench that stops midway leaves no spinning child.
//! * **The control block** ([`Control`]) is a small file under `/dev/shm` mapped by both
//!   processes: the child's ready flag, streaming's release flag (`go`), and the two words
//!   of the cross-process floor, each on its own 128-byte block. The parent waits (asleep,
//!   on its main thread) until the child is attached and pinned before it starts its timed
//!   side, so spawning and attaching are never timed.
//! * **Drivers** with the signatures of the in-process ones (`common::roundtrip`,
//!   `common::stream`): [`roundtrip_floor`] (the raw atomic ping-pong of `common::Floor`,
//!   on two words of the shared mapping), [`roundtrip_ring`] (ping-pong through two
//!   `ringway::shm` rings, the echo side in the child), [`stream_ring`] and
//!   [`stream_ring_slice`] (the child produces, the parent consumes and is timed). Every
//!   file is created afresh for a run and removed after it.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use core_affinity::CoreId;
use quanta::Clock;
use ringway::shm::{Ring, Shm};
use ringway::spsc::{Consumer, Producer};

use super::base::{
    consume, pin, ping, pong, produce, set_yield_when_waiting, yield_when_waiting, Cores, Padded,
    Regime, Rx, SliceOps, SliceRx, SliceTx, Tx,
};

/// The environment variable that makes the bench binary a child: `ROLE key=value ...`.
pub const CHILD_ENV: &str = "RINGWAY_BENCH_CHILD";

/// How long the parent waits for a child to attach before it gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The shared control block
// ---------------------------------------------------------------------------------------------

/// [`Control::ready`]: the child is attached and pinned, and about to run its side.
pub const READY: u32 = 1;

/// The first bytes of a control file, the same layout in both processes (they are the same
/// binary). All atomic words, valid for any bits, and all zero in a new file.
#[repr(C)]
pub struct Control {
    /// 0, then [`READY`] (stored by the child).
    pub ready: Padded<AtomicU32>,
    /// Streaming's release flag (`base::produce` / `base::consume`).
    pub go: Padded<AtomicU32>,
    /// Floor: the word the parent stores into.
    pub ping: Padded<AtomicU64>,
    /// Floor: the word the child stores into.
    pub pong: Padded<AtomicU64>,
}

/// A file under `/dev/shm` mapped shared, holding a [`Control`]; the parent's copy (made with
/// [`Mapping::create`]) removes the file when dropped.
pub struct Mapping {
    map: memmap2::MmapRaw,
    path: PathBuf,
    owner: bool,
}

impl Mapping {
    /// The length of a control file: one page.
    const LEN: usize = 4096;

    /// Creates the file at `path` (zero-filled) and maps it.
    pub fn create(path: &Path) -> io::Result<Self> {
        const { assert!(size_of::<Control>() <= Mapping::LEN) };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        file.set_len(Self::LEN as u64)?;
        let map = memmap2::MmapOptions::new().len(Self::LEN).map_raw(&file)?;
        Ok(Mapping {
            map,
            path: path.to_path_buf(),
            owner: true,
        })
    }

    /// Maps the file another process created at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        if file.metadata()?.len() < Self::LEN as u64 {
            return Err(io::Error::other("control file too short"));
        }
        let map = memmap2::MmapOptions::new().len(Self::LEN).map_raw(&file)?;
        Ok(Mapping {
            map,
            path: path.to_path_buf(),
            owner: false,
        })
    }

    pub fn control(&self) -> &Control {
        // SAFETY: the mapping is `LEN` bytes, at least `size_of::<Control>()` (asserted in
        // `create`, checked against the file in `open`), and starts on a page, so it is
        // aligned for `Control` (128); `Control` is atomic words only, valid for any bits
        // (a new file is zeros), and other processes only ever access them atomically; the
        // reference borrows `self`, which keeps the mapping alive.
        unsafe { &*self.map.as_mut_ptr().cast::<Control>() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.owner {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A fresh path under `/dev/shm` for this process's `n`-th file: `ringway-bench-PID-N-WHAT`.
pub fn scratch_path(what: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!(
        "/dev/shm/ringway-bench-{}-{n}-{what}",
        std::process::id()
    ))
}

/// Removes a file when dropped (the rings' files; a process that maps one keeps its mapping).
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The floor's adapters: one word each way, as `common::Floor`, but in the shared mapping
// ---------------------------------------------------------------------------------------------

/// Stores `v + 1` into the word (`common::FloorTx`'s operation).
pub struct WordTx<'a>(pub &'a AtomicU64);

/// Returns a new value of the word, if any (`common::FloorRx`'s operation).
pub struct WordRx<'a>(pub &'a AtomicU64, pub u64);

impl Tx for WordTx<'_> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.0.store(v + 1, Ordering::Release);
        true
    }
}

impl Rx for WordRx<'_> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        let x = self.0.load(Ordering::Acquire);
        if x != self.1 {
            self.1 = x;
            Some(x - 1)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ringway shm's halves as contenders (the in-process ones are in `common::ringway_adapters`)
// ---------------------------------------------------------------------------------------------

impl Tx for Producer<u64, Shm> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> bool {
        self.push(v).is_ok()
    }
}

impl Rx for Consumer<u64, Shm> {
    #[inline(always)]
    fn try_pop(&mut self) -> Option<u64> {
        self.pop()
    }
}

impl SliceOps for Producer<u64, Shm> {
    #[inline(always)]
    fn push_slice(&mut self, items: &[u64]) -> usize {
        Producer::push_slice(self, items)
    }
    fn pop_slice(&mut self, _: &mut [u64]) -> usize {
        unreachable!()
    }
}

impl SliceOps for Consumer<u64, Shm> {
    fn push_slice(&mut self, _: &[u64]) -> usize {
        unreachable!()
    }
    #[inline(always)]
    fn pop_slice(&mut self, out: &mut [u64]) -> usize {
        Consumer::pop_slice(self, out)
    }
}

// ---------------------------------------------------------------------------------------------
// The child process
// ---------------------------------------------------------------------------------------------

/// What a child was asked to do: the role and its `key=value` arguments.
pub struct ChildSpec {
    role: String,
    args: Vec<(String, String)>,
}

impl ChildSpec {
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The argument `key`.
    ///
    /// # Panics
    ///
    /// If it is missing (the parent always sends every argument of a role).
    pub fn get(&self, key: &str) -> &str {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("bench child {}: no argument {key}", self.role))
    }

    pub fn num(&self, key: &str) -> u64 {
        let v = self.get(key);
        v.parse()
            .unwrap_or_else(|_| panic!("bench child: {key}={v} is not a number"))
    }

    pub fn path(&self, key: &str) -> PathBuf {
        PathBuf::from(self.get(key))
    }
}

/// The child's request, when this process is a child ([`CHILD_ENV`] is set).
pub fn child_request() -> Option<ChildSpec> {
    let spec = std::env::var(CHILD_ENV).ok()?;
    let mut words = spec.split_whitespace();
    let role = words.next()?.to_owned();
    let args = words
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Some(ChildSpec { role, args })
}

/// In a child: runs its role and returns true (the caller then returns from `main`). In the
/// parent: returns false at once.
///
/// # Panics
///
/// In a child whose role this module does not know.
pub fn child_main() -> bool {
    let Some(spec) = child_request() else {
        return false;
    };
    assert!(run_child(&spec), "unknown bench child role {}", spec.role);
    true
}

/// Sets the child up (kill it with its parent, wait mode, pinning) and runs `spec`'s role if
/// it is one of this module's; false (after the set-up) if not, for a caller with roles of
/// its own.
pub fn run_child(spec: &ChildSpec) -> bool {
    // SAFETY: `prctl(PR_SET_PDEATHSIG, sig)` takes two integers and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // The parent may have died before the line above took effect.
    if std::os::unix::process::parent_id() as u64 != spec.num("parent") {
        std::process::exit(1);
    }
    set_yield_when_waiting(spec.get("yield") == "1");
    pin(match spec.get("core") {
        "-" => None,
        id => Some(CoreId {
            id: id.parse().expect("core id"),
        }),
    });
    match spec.role() {
        "floor" => child_floor(spec),
        "ring-pong" => child_ring_pong(spec),
        "ring-stream" => child_ring_stream(spec),
        _ => return false,
    }
    true
}

/// A running child and the control block it shares with the parent.
pub struct ChildRun {
    child: Child,
    pub ctl: Mapping,
}

impl ChildRun {
    /// Creates a control file and starts this binary as a child with `role` and `args` (values
    /// without spaces), pinned to `core`; returns once the child says it is ready.
    ///
    /// # Panics
    ///
    /// If the child cannot be started, or ends or takes more than 30 s before it is ready.
    pub fn start(role: &str, args: &[(&str, String)], core: Option<CoreId>) -> Self {
        let ctl = Mapping::create(&scratch_path("ctl")).expect("create the control file");
        let mut spec = format!(
            "{role} ctl={} parent={} yield={} core={}",
            ctl.path().display(),
            std::process::id(),
            u8::from(yield_when_waiting()),
            core.map_or("-".to_owned(), |c| c.id.to_string())
        );
        for (k, v) in args {
            assert!(!v.contains(char::is_whitespace), "child argument {k}={v}");
            spec.push_str(&format!(" {k}={v}"));
        }
        let exe = std::env::current_exe().expect("the bench binary's path");
        let child = Command::new(exe)
            .env(CHILD_ENV, spec)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the bench binary as a child");
        let mut run = ChildRun { child, ctl };
        run.wait_ready();
        run
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        while self.ctl.control().ready.0.load(Ordering::Acquire) != READY {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                panic!("the bench child ended ({status}) before it was ready");
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = self.child.kill();
                panic!("the bench child was not ready after {READY_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// Waits for the child to end.
    ///
    /// # Panics
    ///
    /// If it failed.
    pub fn finish(mut self) {
        let status = self.child.wait().expect("wait for the bench child");
        assert!(status.success(), "the bench child failed: {status}");
    }
}

/// Tells the parent that this child is ready.
pub fn signal_ready(ctl: &Control) {
    ctl.ready.0.store(READY, Ordering::Release);
}

fn child_floor(spec: &ChildSpec) {
    let map = Mapping::open(&spec.path("ctl")).expect("open the control file");
    let ctl = map.control();
    let (mut rx, mut tx) = (WordRx(&ctl.ping.0, 0), WordTx(&ctl.pong.0));
    signal_ready(ctl);
    pong(&mut rx, &mut tx, spec.num("total"));
}

fn child_ring_pong(spec: &ChildSpec) {
    let map = Mapping::open(&spec.path("ctl")).expect("open the control file");
    let mut rx = Ring::<u64>::open(spec.path("to_child"))
        .and_then(|r| r.consumer())
        .expect("attach to the parent's ring");
    let mut tx = Ring::<u64>::open(spec.path("to_parent"))
        .and_then(|r| r.producer())
        .expect("attach to the ring back");
    signal_ready(map.control());
    pong(&mut rx, &mut tx, spec.num("total"));
}

fn child_ring_stream(spec: &ChildSpec) {
    let map = Mapping::open(&spec.path("ctl")).expect("open the control file");
    let ctl = map.control();
    let tx = Ring::<u64>::open(spec.path("ring"))
        .and_then(|r| r.producer())
        .expect("attach to the parent's ring");
    let regime = match spec.get("regime") {
        "full" => Regime::Full,
        _ => Regime::Empty,
    };
    let items = spec.num("items");
    if spec.get("slice") == "1" {
        let mut tx = SliceTx::new(tx);
        signal_ready(ctl);
        produce(&mut tx, items, regime, &ctl.go.0);
    } else {
        let mut tx = tx;
        signal_ready(ctl);
        produce(&mut tx, items, regime, &ctl.go.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Parent drivers (the signatures of `common::roundtrip` and `common::stream`)
// ---------------------------------------------------------------------------------------------

/// Runs the timed side of a ping-pong against a ready child on core `cores.a`: the samples, as
/// `common::roundtrip` returns them.
pub fn ping_child<T: Tx, R: Rx>(
    mut tx: T,
    mut rx: R,
    warmup: usize,
    samples: usize,
    cores: Cores,
    clock: &Clock,
) -> Vec<u64> {
    let mut out = vec![1u64; samples]; // non-zero: the pages are touched before timing
    let out_ref = &mut out;
    // The halves move into the timed thread (see `common::roundtrip`).
    thread::scope(|s| {
        s.spawn(move || {
            pin(cores.a);
            ping(&mut tx, &mut rx, warmup, out_ref, clock);
        });
    });
    out
}

/// The floor across processes: `common::Floor`'s one-word hand-off each way, on two words of
/// a mapping shared with a child process (on core B) that echoes.
pub fn roundtrip_floor(
    _capacity: usize,
    warmup: usize,
    samples: usize,
    cores: Cores,
    clock: &Clock,
) -> Option<Vec<u64>> {
    let total = (warmup + samples) as u64;
    let child = ChildRun::start("floor", &[("total", total.to_string())], cores.b);
    let ctl = child.ctl.control();
    let (tx, rx) = (WordTx(&ctl.ping.0), WordRx(&ctl.pong.0, 0));
    let out = ping_child(tx, rx, warmup, samples, cores, clock);
    child.finish();
    Some(out)
}

/// ringway shm round trip: two rings of `capacity` `u64`s (one each way), the echo side in a
/// child process on core B.
pub fn roundtrip_ring(
    capacity: usize,
    warmup: usize,
    samples: usize,
    cores: Cores,
    clock: &Clock,
) -> Option<Vec<u64>> {
    let total = (warmup + samples) as u64;
    let (to_child, to_parent) = (scratch_path("to-child"), scratch_path("to-parent"));
    let _files = (
        RemoveOnDrop(to_child.clone()),
        RemoveOnDrop(to_parent.clone()),
    );
    let ring_out = Ring::<u64>::create(&to_child, capacity).expect("create a ring");
    let ring_back = Ring::<u64>::create(&to_parent, capacity).expect("create a ring");
    let tx = ring_out.producer().expect("attach");
    let rx = ring_back.consumer().expect("attach");
    let child = ChildRun::start(
        "ring-pong",
        &[
            ("to_child", to_child.display().to_string()),
            ("to_parent", to_parent.display().to_string()),
            ("total", total.to_string()),
        ],
        cores.b,
    );
    let out = ping_child(tx, rx, warmup, samples, cores, clock);
    child.finish();
    Some(out)
}

/// Cross-process streaming, single-item `push` / `pop`: a child on core B produces `0..items`
/// into a ring of `capacity`, the parent on core A consumes, checks and is timed (as
/// `common::stream`'s consumer).
pub fn stream_ring(
    capacity: usize,
    items: u64,
    regime: Regime,
    cores: Cores,
    clock: &Clock,
) -> Option<Duration> {
    Some(stream_from_child(
        capacity, items, regime, false, cores, clock,
    ))
}

/// As [`stream_ring`], with `push_slice` / `pop_slice` of up to `SLICE_BATCH` items.
pub fn stream_ring_slice(
    capacity: usize,
    items: u64,
    regime: Regime,
    cores: Cores,
    clock: &Clock,
) -> Option<Duration> {
    Some(stream_from_child(
        capacity, items, regime, true, cores, clock,
    ))
}

fn stream_from_child(
    capacity: usize,
    items: u64,
    regime: Regime,
    slice: bool,
    cores: Cores,
    clock: &Clock,
) -> Duration {
    let path = scratch_path("stream");
    let _file = RemoveOnDrop(path.clone());
    let ring = Ring::<u64>::create(&path, capacity).expect("create a ring");
    let rx = ring.consumer().expect("attach");
    let child = ChildRun::start(
        "ring-stream",
        &[
            ("ring", path.display().to_string()),
            ("items", items.to_string()),
            (
                "regime",
                match regime {
                    Regime::Full => "full",
                    Regime::Empty => "empty",
                }
                .to_owned(),
            ),
            ("slice", u8::from(slice).to_string()),
        ],
        cores.b,
    );
    let go = &child.ctl.control().go.0;
    let elapsed = thread::scope(|s| {
        s.spawn(move || {
            pin(cores.a);
            if slice {
                consume(&mut SliceRx::new(rx), items, regime, go, clock)
            } else {
                let mut rx = rx;
                consume(&mut rx, items, regime, go, clock)
            }
        })
        .join()
        .expect("the consumer panicked")
    });
    child.finish();
    elapsed
}
