//! Black-box tests of `ringway::shm`, from its docs: rings in files under `/dev/shm`,
//! shared by halves in this process and in child processes (this test binary, run
//! again as `shm_child`).
//!
//! * Bad input: each refused with its own error (a missing file, an existing one, a
//!   truncated one, one that is not a ring, another layout version, another item type,
//!   a role already held here or in another process), a bad capacity with a panic.
//! * Corruption: a hostile writer maps the same file and stores garbage into every
//!   word of the header (found by probing, as the module docs lay it out), between
//!   operations, racing them, and before a ring is opened; every operation of both
//!   halves (`shm_ops`) must stay in bounds and never panic.
//! * Two processes: items in order across them, single items, slices, chunks,
//!   iterators, drains, and a soak of a million items.
//! * Peers that die (killed with `SIGKILL`) or leave: the waiting operations end with
//!   `Disconnected` instead of hanging, `is_abandoned` says so, and a new half takes
//!   over where the last one stopped.
//! * Rings by descriptor: a sealed memfd ring (`create_memfd`) that no process can
//!   resize (`EPERM`, here and in a hostile child), `from_fd` refusing what `open`
//!   refuses with the same errors, a child that inherits the descriptor across
//!   `exec` and maps the ring, and a descriptor sent over a Unix socket
//!   (`SCM_RIGHTS`).
//!
//! No test times anything: a wait for a peer runs in a thread that a watchdog joins,
//! and fails (instead of hanging) only if it never returns.

// Linux only (`/dev/shm`, open file description locks); not under Miri, which can map
// no file (`src/shm/tests.rs` runs the same attacks on a heap region under Miri).
#![cfg(all(target_os = "linux", not(miri)))]

mod common;
mod shm_ops;

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use std::{env, thread};

use proptest::prelude::*;
use ringway::shm::{Error, Ring, Role, Shm, LAYOUT_VERSION, MAX_CAPACITY};
use ringway::spsc::{Consumer, Producer};
use ringway::{ChunkError, Disconnected, PopTimeoutError, PushTimeoutError};
use static_assertions::{assert_impl_all, assert_not_impl_any};

use common::{join_within_watchdog, Rng, WATCHDOG};
use shm_ops::Writers;

// ---------------------------------------------------------------------------------
// Files, the hostile mapping and the layout
// ---------------------------------------------------------------------------------

/// A path under `/dev/shm` named for this process and test, removed when dropped.
struct ShmFile(PathBuf);

impl ShmFile {
    fn new(test: &str) -> Self {
        let path = PathBuf::from(format!(
            "/dev/shm/ringway-test-{}-{test}",
            std::process::id()
        ));
        // A leftover of a process that had this pid before.
        let _ = fs::remove_file(&path);
        ShmFile(path)
    }

    /// A path for one case of a test that makes many (proptest).
    fn numbered(test: &str) -> Self {
        static CASES: AtomicUsize = AtomicUsize::new(0);
        Self::new(&format!("{test}-{}", CASES.fetch_add(1, Relaxed)))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Another mapping of a ring's file, through which a test stores what a buggy or
/// hostile process could: any value into any word.
struct Hostile {
    map: memmap2::MmapRaw,
}

impl Hostile {
    fn new(path: &Path) -> Self {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Hostile {
            map: memmap2::MmapOptions::new().map_raw(&file).unwrap(),
        }
    }

    /// The word at byte `offset`.
    fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset % 8 == 0 && offset + 8 <= self.map.len(),
            "word at {offset}"
        );
        // SAFETY: the word lies inside the mapping (asserted) and is aligned (the
        // mapping starts on a page, the offset is a multiple of 8); the mapping lives
        // as long as `self`. The ring's halves access the same bytes atomically (the
        // header) or as plain items whose every bit pattern is valid (the slots); this
        // test stores only into the header while halves run.
        unsafe { &*self.map.as_mut_ptr().add(offset).cast::<AtomicU64>() }
    }

    fn load(&self, offset: usize) -> u64 {
        self.word(offset).load(Relaxed)
    }

    fn store(&self, offset: usize, value: u64) {
        self.word(offset).store(value, Relaxed);
    }

    /// Every word below `end`.
    fn snapshot(&self, end: usize) -> Vec<u64> {
        (0..end / 8).map(|i| self.load(8 * i)).collect()
    }

    /// The words below `end` that differ from `before`, as `(offset, new value)`.
    fn changed(&self, before: &[u64]) -> Vec<(usize, u64)> {
        (0..before.len())
            .filter_map(|i| {
                let now = self.load(8 * i);
                (now != before[i]).then_some((8 * i, now))
            })
            .collect()
    }
}

/// Where a region keeps its counters and slots, found by watching which words an
/// operation changes (the module docs: `Meta` at 0, then the header whose first word
/// is `head`, `tail` a cache line further, then the abandoned flag, then the slots).
#[derive(Clone, Copy, Debug)]
struct Layout {
    head: usize,
    tail: usize,
    abandoned: usize,
    slots: usize,
}

fn layout() -> Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    *LAYOUT.get_or_init(|| {
        const MARK: u64 = 0x0bad_cafe_f00d_0001;
        let file = ShmFile::new("probe-layout");
        let ring = Ring::<u64>::create(file.path(), 4).unwrap();
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        let hostile = Hostile::new(file.path());
        let end = fs::metadata(file.path()).unwrap().len() as usize;

        let before = hostile.snapshot(end);
        tx.push(MARK).unwrap();
        let pushed = hostile.changed(&before);
        assert_eq!(pushed.len(), 2, "a push changed {pushed:x?}");
        let slot = pushed
            .iter()
            .find(|&&(_, v)| v == MARK)
            .expect("the item")
            .0;
        let tail = pushed.iter().find(|&&(_, v)| v == 1).expect("tail = 1").0;

        let before = hostile.snapshot(end);
        assert_eq!(rx.pop(), Some(MARK));
        let popped = hostile.changed(&before);
        assert_eq!(popped.len(), 1, "a pop changed {popped:x?}");
        let (head, one) = popped[0];
        assert_eq!(one, 1, "head = 1");

        let before = hostile.snapshot(end);
        drop(tx);
        let left = hostile.changed(&before);
        assert_eq!(left.len(), 1, "a producer's drop changed {left:x?}");
        let abandoned = left[0].0;

        let layout = Layout {
            head,
            tail,
            abandoned,
            slots: slot,
        };
        assert!(
            0 < head && head < tail && tail < abandoned && abandoned < slot,
            "{layout:?}"
        );
        layout
    })
}

// ---------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------

const CHILD_ROLE: &str = "RINGWAY_SHM_TEST_ROLE";
const CHILD_PATH: &str = "RINGWAY_SHM_TEST_PATH";
const CHILD_ARGS: &str = "RINGWAY_SHM_TEST_ARGS";
/// What a child prints when it holds what the test needs.
const READY: &str = "ringway-shm-child-ready";

/// Held while a child process is spawned (until it runs), and while this process takes
/// a role it held before (`no_forks`).
///
/// A role's lock belongs to the half's open file description, and a process forked from
/// this one shares every open file description until its `exec` has closed them (the
/// halves' files are close-on-exec). So while another test's thread is spawning a
/// child, a half this process dropped may still hold its role, and taking it again is
/// refused (`RoleTaken` with this process's own pid). `Command::spawn` can return a
/// moment before the child's `exec` has closed those files (the kernel lets a `vfork`
/// parent go on before it closes them), so [`Peer::spawn`] holds this until the child
/// has printed its first line.
static FORKS: Mutex<()> = Mutex::new(());

/// No child is being spawned until the guard is dropped: see [`FORKS`].
fn no_forks() -> MutexGuard<'static, ()> {
    FORKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A child process running `shm_child` in one of its roles; killed and reaped when
/// dropped if it is still running.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    role: String,
    /// The child said it was ready (in the line `spawn` read).
    ready: bool,
}

impl Peer {
    fn spawn(role: &str, path: &Path, args: &[u64]) -> Peer {
        Self::start(role, path, args, None)
    }

    /// A child that inherits `fd` (a ring's descriptor) across its `exec`, under the
    /// same number, as `ringway::shm::Ring::from_fd` documents; `args` names it.
    fn spawn_inheriting(role: &str, fd: BorrowedFd<'_>, args: &[u64]) -> Peer {
        Self::start(role, Path::new(""), args, Some(fd.as_raw_fd()))
    }

    fn start(role: &str, path: &Path, args: &[u64], inherit: Option<RawFd>) -> Peer {
        let args: Vec<String> = args.iter().map(u64::to_string).collect();
        let mut command = Command::new(env::current_exe().unwrap());
        command
            .args(["--exact", "shm_child", "--ignored", "--nocapture"])
            .args(["--test-threads=1", "--quiet"])
            .env(CHILD_ROLE, role)
            .env(CHILD_PATH, path)
            .env(CHILD_ARGS, args.join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(fd) = inherit {
            // SAFETY: the hook runs in the child between `fork` and `exec` and makes one
            // async-signal-safe call (`fcntl`), on a descriptor the child inherited
            // (the caller's borrow keeps it open until `spawn` returns): it clears
            // close-on-exec in the child alone.
            unsafe {
                command.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
                    -1 => Err(io::Error::last_os_error()),
                    _ => Ok(()),
                });
            }
        }
        let forks = no_forks();
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // Its first line (the test harness's, or nothing if it failed to start): it runs
        // the program now, so its `exec` has closed the files it shared with this one.
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        drop(forks);
        Peer {
            stdin: child.stdin.take(),
            stdout,
            child,
            role: role.to_string(),
            ready: first.contains(READY),
        }
    }

    fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }

    /// Reads the child's output until it says it is ready; fails if it ends first.
    fn wait_ready(&mut self) {
        let mut line = String::new();
        while !self.ready {
            line.clear();
            let n = self.stdout.read_line(&mut line).unwrap();
            if n == 0 {
                panic!(
                    "child {} ended before it was ready: {:?}",
                    self.role,
                    self.child.wait()
                );
            }
            self.ready = line.contains(READY);
        }
    }

    /// Kills the child (`SIGKILL`: no destructor runs) and reaps it; checks that it was
    /// still running, so that whatever the test saw before was with a live peer.
    fn kill(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "child {} ended before it was killed",
            self.role
        );
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    }

    /// Lets a holding child go on (its stdin closes), and waits for it to succeed;
    /// fails instead of hanging if it never ends.
    fn finish(&mut self) {
        drop(self.stdin.take());
        let start = Instant::now();
        let status: ExitStatus = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < WATCHDOG,
                "child {} still running after {WATCHDOG:?}",
                self.role
            );
            thread::sleep(Duration::from_millis(1));
        };
        assert!(status.success(), "child {} failed: {status}", self.role);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The child processes' entry point: this test binary run again by [`Peer::spawn`],
/// which names the role, the ring's path and the numbers it needs in the environment.
/// Run by itself (no role in the environment) it does nothing.
#[test]
#[ignore = "the child process of the two-process tests, not a test by itself"]
fn shm_child() {
    let Ok(role) = env::var(CHILD_ROLE) else {
        return;
    };
    let path = PathBuf::from(env::var(CHILD_PATH).unwrap());
    let args: Vec<u64> = env::var(CHILD_ARGS)
        .unwrap()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let ring = || Ring::<u64>::open(&path).unwrap();
    match (role.as_str(), &args[..]) {
        // Pushes `start .. start + n`, waiting for room; leaves cleanly.
        ("produce", &[n, start]) => {
            let mut tx = ring().producer().unwrap();
            say_ready();
            for i in start..start + n {
                tx.push_blocking(i).expect("the consumer went");
            }
        }
        // Pops `start .. start + n`, in order; leaves cleanly.
        ("consume", &[n, start]) => {
            let mut rx = ring().consumer().unwrap();
            say_ready();
            for i in start..start + n {
                assert_eq!(
                    rx.pop_blocking(),
                    Ok(i),
                    "item {i} of {start}..{}",
                    start + n
                );
            }
        }
        // Takes a half and holds it.
        ("hold", &[role]) => {
            let half: Box<dyn std::any::Any> = if role == 0 {
                Box::new(ring().producer().unwrap())
            } else {
                Box::new(ring().consumer().unwrap())
            };
            hold();
            drop(half);
        }
        // Publishes `0 .. n`, then writes `n .. n + unpublished` into a chunk it never
        // commits, and holds it.
        ("produce-then-hold", &[n, unpublished]) => {
            let mut tx = ring().producer().unwrap();
            let items: Vec<u64> = (0..n).collect();
            assert_eq!(tx.push_slice(&items), n as usize);
            let mut chunk = tx.write_chunk_uninit(unpublished as usize).unwrap();
            let (a, b) = chunk.as_mut_slices();
            for (slot, v) in a.iter_mut().chain(b.iter_mut()).zip(n..) {
                slot.write(v);
            }
            // Killed here, or let go: the chunk is never committed (nothing published).
            hold();
        }
        // Pops `0 .. popped` one by one, then takes `held` more without releasing them
        // (mode 0: a read chunk not committed; 1: a drain not dropped) or releasing
        // them (2: `pop_slice`), and holds.
        ("consume-then-hold", &[popped, held, mode]) => {
            let mut rx = ring().consumer().unwrap();
            for i in 0..popped {
                assert_eq!(rx.pop(), Some(i));
            }
            let expected: Vec<u64> = (popped..popped + held).collect();
            match mode {
                0 => {
                    let chunk = rx.read_chunk(held as usize).unwrap();
                    let (a, b) = chunk.as_slices();
                    assert_eq!([a, b].concat(), expected);
                    // Killed here, or let go: the chunk is never committed.
                    hold();
                }
                1 => {
                    let mut drain = rx.drain();
                    let got: Vec<u64> = drain.by_ref().take(held as usize).collect();
                    assert_eq!(got, expected);
                    hold();
                    std::mem::forget(drain);
                }
                _ => {
                    let mut got = vec![0; held as usize];
                    assert_eq!(rx.pop_slice(&mut got), held as usize);
                    assert_eq!(got, expected);
                    hold();
                }
            }
        }
        // Maps the ring whose descriptor it inherited (number `fd`) and pops `0 .. n`.
        ("fd-consume", &[fd, n]) => {
            let ring = Ring::<u64>::from_fd(inherited(fd)).unwrap();
            assert!(ring.is_sealed(), "a memfd ring is sealed in the child too");
            let mut rx = ring.consumer().unwrap();
            say_ready();
            for i in 0..n {
                assert_eq!(rx.pop_blocking(), Ok(i), "item {i} of {n}");
            }
        }
        // A hostile peer with the ring's descriptor (number `fd`): tries to shrink, grow
        // and unseal the file, through the descriptor and through a file description
        // of its own; every try must fail with `EPERM`. Then pushes `n` items (the ring
        // still works for it too).
        ("fd-truncate", &[fd, n]) => {
            let fd = inherited(fd);
            let ring = Ring::<u64>::from_fd(fd.try_clone().unwrap()).unwrap();
            assert!(ring.is_sealed());
            let file = fs::File::from(fd);
            let len = file.metadata().unwrap().len();
            assert_resize_refused_both_ways(&file, len);
            assert_eq!(file.metadata().unwrap().len(), len);
            let mut tx = ring.producer().unwrap();
            for i in 0..n {
                tx.push(i).expect("room for every item");
            }
        }
        ("stream-produce", &[n, seed, mixed]) => {
            let ring = Ring::<Item>::open(&path).unwrap();
            produce_stream(&mut ring.producer().unwrap(), n, seed, mixed != 0);
        }
        ("stream-consume", &[n, seed, mixed]) => {
            let ring = Ring::<Item>::open(&path).unwrap();
            let mut rx = ring.consumer().unwrap();
            consume_stream(&mut rx, n, seed, mixed != 0);
            assert_eq!(
                rx.pop_blocking(),
                Err(Disconnected(())),
                "an item beyond {n}"
            );
        }
        (role, args) => panic!("no child role {role} with {args:?}"),
    }
}

/// The descriptor numbered `fd` that this child inherited from its parent.
fn inherited(fd: u64) -> OwnedFd {
    let fd = RawFd::try_from(fd).unwrap();
    // SAFETY: the parent (`Peer::spawn_inheriting`) left this descriptor open across
    // `exec` for this process, and nothing else in it owns that number.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// [`assert_resize_refused`] through `file` (a sealed ring's descriptor) and through a
/// file description of its own, as a process that reopened `/proc/PID/fd/N` would have.
fn assert_resize_refused_both_ways(file: &fs::File, len: u64) {
    let reopened = OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .unwrap();
    assert_resize_refused(file, len, "descriptor");
    assert_resize_refused(&reopened, len, "reopened");
}

/// Every way to resize a sealed ring's file `handle` (of length `len`), and to change
/// its seals, fails with `EPERM`.
fn assert_resize_refused(handle: &fs::File, len: u64, how: &str) {
    let eperm = |result: io::Result<()>, what: &str| match result {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{what} ({how}): {e}"),
        Ok(()) => panic!("{what} ({how}) resized a sealed ring"),
    };
    for to in [0, 1, len / 2, len - 1, len + 1, len + 4096] {
        eperm(handle.set_len(to), &format!("ftruncate to {to} of {len}"));
    }
    let fd = handle.as_raw_fd();
    // SAFETY: `posix_fallocate` takes integers; the descriptor is open (`handle`).
    let code = unsafe { libc::posix_fallocate(fd, 0, len as libc::off_t + 4096) };
    eperm(
        if code == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(code))
        },
        "fallocate beyond the end",
    );
    // SAFETY: `fcntl` with `F_ADD_SEALS` takes an integer; the descriptor is open.
    let r = unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_WRITE) };
    eperm(
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        },
        "adding a seal",
    );
}

/// Tells the parent the child holds what the test needs (its half, mostly).
fn say_ready() {
    println!("{READY}");
    io::stdout().flush().unwrap();
}

/// Says it is ready and waits until the parent closes its stdin (or dies).
fn hold() {
    say_ready();
    let mut line = String::new();
    let _ = io::stdin().read_line(&mut line);
}

/// Runs `f` in a thread; its result, or a failure if it never returns.
fn within_watchdog<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    join_within_watchdog(thread::spawn(f), what)
}

// ---------------------------------------------------------------------------------
// Send and Sync
// ---------------------------------------------------------------------------------

assert_impl_all!(Ring<u64>: Send, Sync);
assert_impl_all!(Producer<u64, Shm>: Send);
assert_not_impl_any!(Producer<u64, Shm>: Sync);
assert_impl_all!(Consumer<u64, Shm>: Send);
assert_not_impl_any!(Consumer<u64, Shm>: Sync);
assert_impl_all!(Shm: Send);
assert_not_impl_any!(Shm: Sync);
assert_impl_all!(Error: Send, Sync, std::error::Error);

// ---------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------

fn io_error_kind<T>(result: Result<T, Error>) -> io::ErrorKind {
    match result {
        Err(Error::Io(e)) => e.kind(),
        Err(e) => panic!("expected an I/O error, got {e}"),
        Ok(_) => panic!("expected an I/O error, got a ring"),
    }
}

/// What `open` says, with the ring (which has no `Debug` of its items) as its capacity.
fn open_error(path: &Path) -> Error {
    match Ring::<u64>::open(path) {
        Err(e) => e,
        Ok(ring) => panic!("opened a ring of capacity {}", ring.capacity()),
    }
}

#[test]
fn open_of_a_missing_file_is_not_found() {
    let file = ShmFile::new("missing");
    assert_eq!(
        io_error_kind(Ring::<u64>::open(file.path())),
        io::ErrorKind::NotFound
    );
    assert!(!file.path().exists(), "open created the file");
}

#[test]
fn create_over_an_existing_file_is_already_exists_and_leaves_it_alone() {
    let file = ShmFile::new("exists");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    ring.producer().unwrap().push(7).unwrap();
    let kind = io_error_kind(Ring::<u64>::create(file.path(), 8));
    assert_eq!(kind, io::ErrorKind::AlreadyExists);
    let kind = io_error_kind(Ring::<u32>::create(file.path(), 4));
    assert_eq!(kind, io::ErrorKind::AlreadyExists);
    drop(ring);
    let ring = Ring::<u64>::open(file.path()).unwrap();
    assert_eq!(ring.capacity(), 4);
    assert_eq!(ring.consumer().unwrap().pop(), Some(7));

    let other = ShmFile::new("exists-not-a-ring");
    fs::write(other.path(), b"someone else's file").unwrap();
    let kind = io_error_kind(Ring::<u64>::create(other.path(), 4));
    assert_eq!(kind, io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read(other.path()).unwrap(), b"someone else's file");
}

#[test]
fn open_of_a_file_shorter_than_a_header_is_truncated() {
    let file = ShmFile::new("short");
    // `Meta` ends before the SPSC header starts.
    for len in [0u64, 1, 7, 8, 64, layout().head as u64 / 2] {
        fs::write(file.path(), vec![0u8; len as usize]).unwrap();
        match open_error(file.path()) {
            Error::Truncated { len: l, needed } => {
                assert_eq!(l, len);
                assert!(
                    len < needed && needed <= layout().head as u64,
                    "needed {needed}"
                );
            }
            e => panic!("a file of {len} bytes: {e}"),
        }
    }
}

#[test]
fn open_of_a_file_shorter_than_its_header_says_is_truncated() {
    let file = ShmFile::new("cut");
    drop(Ring::<u64>::create(file.path(), 5).unwrap());
    let full = fs::metadata(file.path()).unwrap().len();
    let l = layout();
    let handle = OpenOptions::new().write(true).open(file.path()).unwrap();
    for cut in [
        full - 1,
        full - 8,
        l.slots as u64 + 8,
        l.slots as u64,
        l.tail as u64,
        l.head as u64,
    ] {
        handle.set_len(cut).unwrap();
        match open_error(file.path()) {
            Error::Truncated { len, needed } => assert_eq!((len, needed), (cut, full)),
            e => panic!("cut to {cut} of {full}: {e}"),
        }
    }
    // Grown back (the cut-off part reads as zeros), or longer: a ring again.
    for len in [full, full + 4096] {
        handle.set_len(len).unwrap();
        assert_eq!(Ring::<u64>::open(file.path()).unwrap().capacity(), 5);
    }
}

#[test]
fn open_of_bytes_that_are_not_a_ring_is_not_a_ring() {
    let file = ShmFile::new("not-a-ring");
    drop(Ring::<u64>::create(file.path(), 5).unwrap());
    let ring_bytes = fs::read(file.path()).unwrap();
    let mut rng = Rng::new(7);
    let random: Vec<u8> = (0..ring_bytes.len())
        .map(|_| rng.next_u64() as u8)
        .collect();
    let mut flipped = ring_bytes.clone();
    flipped[0] ^= 1;
    let text = b"RINGWAY is the name of this crate, not of this file".repeat(ring_bytes.len() / 40);
    for (what, bytes) in [
        ("zeros", vec![0u8; ring_bytes.len()]),
        ("random bytes", random),
        ("a ring with its magic number changed", flipped),
        ("text", text),
    ] {
        fs::write(file.path(), &bytes).unwrap();
        assert!(matches!(open_error(file.path()), Error::NotARing), "{what}");
    }
    fs::write(file.path(), &ring_bytes).unwrap();
    assert_eq!(Ring::<u64>::open(file.path()).unwrap().capacity(), 5);
}

#[test]
fn open_of_a_ring_being_created_is_refused_until_it_is_ready() {
    // `create` makes the file, sizes it, writes the header, and the magic number last:
    // a process that opens it on the way sees one of these, and may try again.
    let file = ShmFile::new("being-created");
    drop(Ring::<u64>::create(file.path(), 5).unwrap());
    let full = fs::metadata(file.path()).unwrap().len() as usize;
    let ring_bytes = fs::read(file.path()).unwrap();

    fs::write(file.path(), b"").unwrap(); // made, not yet sized
    assert!(matches!(
        open_error(file.path()),
        Error::Truncated { len: 0, .. }
    ));
    fs::write(file.path(), vec![0u8; full]).unwrap(); // sized, no header yet
    assert!(matches!(open_error(file.path()), Error::NotARing));
    let mut no_magic = ring_bytes.clone();
    no_magic[..8].fill(0); // the header written, the magic number not yet
    fs::write(file.path(), &no_magic).unwrap();
    assert!(matches!(open_error(file.path()), Error::NotARing));
    fs::write(file.path(), &ring_bytes).unwrap();
    assert!(Ring::<u64>::open(file.path()).is_ok());
}

#[test]
fn open_of_another_layout_version_is_refused() {
    let file = ShmFile::new("version");
    drop(Ring::<u64>::create(file.path(), 5).unwrap());
    let hostile = Hostile::new(file.path());
    // The module docs: Meta is magic (8 bytes), then the layout version (4 bytes).
    let word = hostile.load(8);
    assert_eq!(
        word as u32, LAYOUT_VERSION,
        "the version follows the magic number"
    );
    for found in [0, LAYOUT_VERSION + 1, u32::MAX] {
        hostile.store(8, (word & !0xffff_ffff) | u64::from(found));
        match open_error(file.path()) {
            Error::Version { found: f, expected } => {
                assert_eq!((f, expected), (found, LAYOUT_VERSION));
            }
            e => panic!("version {found}: {e}"),
        }
    }
    hostile.store(8, word);
    assert!(Ring::<u64>::open(file.path()).is_ok());
}

#[test]
fn open_as_another_item_type_is_refused() {
    let file = ShmFile::new("item-type");
    drop(Ring::<u64>::create(file.path(), 5).unwrap());
    let path = file.path();
    let wrong = |r: Result<(), Error>| match r {
        Err(Error::WrongType { found, expected }) => (found, expected),
        Err(e) => panic!("expected WrongType, got {e}"),
        Ok(()) => panic!("expected WrongType, opened it"),
    };
    // Same size and alignment, another name (u64 as i64, as f64).
    for (found, expected) in [
        wrong(Ring::<i64>::open(path).map(drop)),
        wrong(Ring::<f64>::open(path).map(drop)),
    ] {
        assert_eq!((found.size, found.align), (expected.size, expected.align));
        assert_ne!(found.name_hash, expected.name_hash);
        assert_eq!((found.size, found.align), (8, 8));
    }
    // Same size, another alignment.
    let (found, expected) = wrong(Ring::<[u8; 8]>::open(path).map(drop));
    assert_eq!((found.size, expected.size, expected.align), (8, 8, 1));
    // Another size.
    let (found, expected) = wrong(Ring::<u32>::open(path).map(drop));
    assert_eq!((found.size, expected.size), (8, 4));
    let (_, expected) = wrong(Ring::<[u64; 2]>::open(path).map(drop));
    assert_eq!(expected.size, 16);
    assert_eq!(Ring::<u64>::open(path).unwrap().capacity(), 5);
}

fn role_taken<T>(result: Result<T, Error>) -> (Role, u64) {
    match result {
        Err(Error::RoleTaken { role, pid }) => (role, pid),
        Err(e) => panic!("expected RoleTaken, got {e}"),
        Ok(_) => panic!("expected RoleTaken, got the half"),
    }
}

#[test]
fn a_role_held_in_this_process_is_refused_with_its_pid() {
    let file = ShmFile::new("role-here");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    let again = Ring::<u64>::open(file.path()).unwrap();
    let me = u64::from(std::process::id());

    let tx = ring.producer().unwrap();
    assert_eq!(role_taken(ring.producer()), (Role::Producer, me));
    assert_eq!(role_taken(again.producer()), (Role::Producer, me));
    let rx = again.consumer().unwrap();
    assert_eq!(role_taken(ring.consumer()), (Role::Consumer, me));
    assert_eq!(role_taken(again.consumer()), (Role::Consumer, me));
    let shown = ring.consumer().unwrap_err().to_string();
    assert!(
        shown.contains("consumer") && shown.contains(&me.to_string()),
        "{shown}"
    );

    drop((tx, rx));
    let _forks = no_forks();
    let (_tx, _rx) = (again.producer().unwrap(), ring.consumer().unwrap());
}

#[test]
fn a_role_held_in_another_process_is_refused_with_its_pid() {
    for (role, code) in [(Role::Producer, 0), (Role::Consumer, 1)] {
        let file = ShmFile::new(&format!("role-there-{code}"));
        let ring = Ring::<u64>::create(file.path(), 4).unwrap();
        let mut peer = Peer::spawn("hold", file.path(), &[code]);
        peer.wait_ready();
        let take = |r: Role| match r {
            Role::Producer => ring.producer().map(drop),
            Role::Consumer => ring.consumer().map(drop),
        };
        assert_eq!(role_taken(take(role)), (role, peer.pid()));
        let other = if role == Role::Producer {
            Role::Consumer
        } else {
            Role::Producer
        };
        take(other).expect("the other role is free");
        // Killed, the holder's lock goes with it.
        peer.kill();
        take(role).expect("the role of a killed holder is free");
    }
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn create_with_capacity_zero_panics() {
    let file = ShmFile::new("capacity-zero");
    let _ = Ring::<u64>::create(file.path(), 0);
}

#[test]
#[should_panic(expected = "capacity overflow")]
fn create_with_a_capacity_beyond_the_maximum_panics() {
    let file = ShmFile::new("capacity-max");
    let _ = Ring::<u8>::create(file.path(), MAX_CAPACITY + 1);
}

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(8192))]
struct OverAligned([[u8; 4096]; 2]);

#[test]
#[should_panic(expected = "aligned to at most 4096")]
fn create_of_items_aligned_beyond_a_page_panics() {
    let file = ShmFile::new("over-aligned");
    let _ = Ring::<OverAligned>::create(file.path(), 1);
}

#[test]
fn a_refused_capacity_leaves_no_file() {
    let file = ShmFile::new("refused-capacity");
    let path = file.path().to_path_buf();
    let result = std::panic::catch_unwind(move || Ring::<u64>::create(path, 0));
    assert!(result.is_err(), "capacity 0 did not panic");
    assert!(!file.path().exists(), "a file was left behind");
}

#[test]
fn a_create_that_cannot_map_its_ring_leaves_no_file() {
    // 2^50 pages (2^62 bytes): a sparse file tmpfs sizes, a mapping larger than any
    // x86_64 or aarch64 address space (57 bits at most), so `mmap` fails (ENOMEM);
    // elsewhere the sizing may fail first. Either way an I/O error, and no file.
    let file = ShmFile::new("create-fails");
    io_error_kind(Ring::<[u8; 4096]>::create(file.path(), 1 << 50));
    assert!(!file.path().exists(), "the failed create left its file");
    assert_eq!(
        Ring::<[u8; 4096]>::create(file.path(), 4)
            .unwrap()
            .capacity(),
        4
    );
}

#[test]
fn halves_need_the_ring_file_still_at_its_path() {
    let file = ShmFile::new("moved");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    let mut tx = ring.producer().unwrap();
    fs::remove_file(file.path()).unwrap();
    assert_eq!(io_error_kind(ring.consumer()), io::ErrorKind::NotFound);
    // Another ring at the same path: not this ring's file.
    let other = Ring::<u64>::create(file.path(), 4).unwrap();
    assert!(matches!(ring.consumer(), Err(Error::Io(_))));
    // The attached producer is unaffected; the new ring is a ring of its own.
    tx.push(1).unwrap();
    assert_eq!(tx.len(), 1);
    assert_eq!(other.consumer().unwrap().pop(), None);
}

#[test]
fn a_refused_attach_leaves_the_role_free() {
    let file = ShmFile::new("refused-attach");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    let l = layout();
    let hostile = Hostile::new(file.path());
    hostile.store(l.tail, 5); // head 0: five items in a ring of four
    assert!(matches!(ring.producer(), Err(Error::Corrupt(_))));
    assert!(matches!(ring.consumer(), Err(Error::Corrupt(_))));
    hostile.store(l.tail, 4);
    let _forks = no_forks(); // the refused attaches' files were just closed
    let (_tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!(rx.drain().count(), 4, "four garbage items");
}

// ---------------------------------------------------------------------------------
// Corruption
// ---------------------------------------------------------------------------------

#[test]
fn the_region_is_laid_out_as_the_module_docs_say() {
    let l = layout();
    // The header right after Meta, `tail` one padded cache line after `head`, the
    // abandoned flag after that, the slots last.
    let line = l.tail - l.head;
    assert!(line.is_power_of_two() && line >= 64, "{l:?}");
    assert_eq!(l.abandoned, l.tail + line, "{l:?}");
    assert_eq!(l.head % line, 0, "{l:?}");
    assert_eq!(l.slots % line, 0, "{l:?}");
    if cfg!(target_arch = "x86_64") {
        assert_eq!((l.head, l.tail, l.slots), (128, 256, 4096), "as on x86_64");
    }
}

/// Values to store into a word that holds `old`, in a ring whose counters are `head`
/// and `tail` and whose capacity is `cap`.
fn garbage(old: u64, head: u64, tail: u64, cap: u64) -> Vec<u64> {
    vec![
        0,
        1,
        old ^ 1,
        old.wrapping_add(1),
        old.wrapping_sub(1),
        head,
        tail,
        head.wrapping_sub(1),
        tail.wrapping_add(1),
        head.wrapping_add(cap),
        head.wrapping_add(cap + 1),
        tail.wrapping_sub(cap + 1),
        u64::MAX,
        u64::MAX - cap,
        1 << 63,
        0x5555_5555_5555_5555,
    ]
}

/// For every word of Meta and the header, and each garbage value: a ring with items
/// in it, the value stored between operations (again before each half's turn, since a
/// half's next store overwrites its own counter), every operation of both halves, a
/// second opener refused the held roles, and the halves dropped and attached again.
#[test]
fn garbage_in_any_header_word_between_operations_is_survived() {
    let l = layout();
    let cap = 5;
    let mut cases = 0;
    // Meta and the header: `tail`'s padded line, then the flags' (the rest of the page,
    // up to the slots, is padding nobody reads).
    let header_end = l.slots.min(l.tail + 256);
    for offset in (0..header_end).step_by(8) {
        let file = ShmFile::new(&format!("garbage-{offset}"));
        drop(Ring::<u64>::create(file.path(), cap).unwrap());
        let pristine = fs::read(file.path()).unwrap();
        let old = Hostile::new(file.path()).load(offset);
        for value in garbage(old, 1, 3, cap as u64) {
            fs::write(file.path(), &pristine).unwrap();
            let ring = Ring::<u64>::open(file.path()).unwrap();
            let hostile = Hostile::new(file.path());
            let forks = no_forks(); // the last case's halves held this file's roles
            let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
            drop(forks);
            let mut next = 100;
            assert_eq!(tx.push_slice(&[1, 2, 3]), 3);
            assert_eq!(rx.pop(), Some(1));
            let what = format!("word {offset} = {value:#x}");

            hostile.store(offset, value);
            shm_ops::exercise_consumer(&mut rx, Writers::Quiet);
            shm_ops::check_counts(&tx, &rx, Writers::Quiet);
            hostile.store(offset, value);
            shm_ops::exercise_producer(&mut tx, &mut next, Writers::Quiet);
            shm_ops::check_counts(&tx, &rx, Writers::Quiet);
            hostile.store(offset, value);
            shm_ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet);
            if offset < l.head {
                // Meta: the halves copied what they need when they attached.
                shm_ops::round_trip(&mut tx, &mut rx, &mut next);
            }

            // Whatever the header says, the roles are held.
            hostile.store(offset, value);
            if let Ok(again) = Ring::<u64>::open(file.path()) {
                assert!(
                    matches!(again.producer(), Err(Error::RoleTaken { .. })),
                    "{what}"
                );
                assert!(
                    matches!(again.consumer(), Err(Error::RoleTaken { .. })),
                    "{what}"
                );
            }

            drop((tx, rx));
            let (head, tail) = (hostile.load(l.head), hostile.load(l.tail));
            let forks = no_forks();
            let attached = (ring.producer(), ring.consumer());
            drop(forks);
            match attached {
                (Ok(mut tx), Ok(mut rx)) => {
                    assert!(tail.wrapping_sub(head) <= cap as u64, "{what}: attached");
                    shm_ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet);
                }
                (Err(Error::Corrupt(_)), Err(Error::Corrupt(_))) => {
                    assert!(tail.wrapping_sub(head) > cap as u64, "{what}: refused");
                }
                (p, c) => panic!("{what}: attach gave {:?} and {:?}", p.err(), c.err()),
            }
            cases += 1;
        }
    }
    assert_eq!(cases, header_end / 8 * 16, "every word, every value");
}

/// One hostile store: a word of Meta or the header, and a value relative to what is
/// there or to the counters, or absolute.
#[derive(Clone, Debug)]
enum Store {
    Relative { word: usize, by: i64 },
    NearHead { word: usize, by: i64 },
    Absolute { word: usize, value: u64 },
}

fn stores(words: usize) -> impl Strategy<Value = Vec<(Store, u8)>> {
    let store = prop_oneof![
        (0..words, -3i64..=3).prop_map(|(word, by)| Store::Relative { word, by }),
        (0..words, -10i64..=10).prop_map(|(word, by)| Store::NearHead { word, by }),
        (
            0..words,
            prop_oneof![
                0u64..16,
                (0u64..16).prop_map(|d| u64::MAX - d),
                any::<u64>()
            ]
        )
            .prop_map(|(word, value)| Store::Absolute { word, value }),
    ];
    proptest::collection::vec((store, any::<u8>()), 1..12)
}

impl Store {
    fn apply(&self, hostile: &Hostile, l: Layout) {
        let (word, value) = match *self {
            Store::Relative { word, by } => (word, hostile.load(8 * word).wrapping_add(by as u64)),
            Store::NearHead { word, by } => (word, hostile.load(l.head).wrapping_add(by as u64)),
            Store::Absolute { word, value } => (word, value),
        };
        hostile.store(8 * word, value);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Sequences of random stores into the header words (the counters mostly), each
    /// followed by one half's operations or both halves'.
    #[test]
    fn fuzzed_header_words_between_operations_are_survived(
        cap in 1usize..12,
        filled in 0usize..12,
        stores in stores(layout().slots / 8),
    ) {
        let l = layout();
        let file = ShmFile::numbered("fuzz-header");
        let ring = Ring::<u64>::create(file.path(), cap).unwrap();
        let hostile = Hostile::new(file.path());
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        let mut next = 0;
        let items: Vec<u64> = (0..filled as u64).collect();
        tx.push_slice(&items);
        for (store, turn) in &stores {
            // Mostly the counters and the flag: they are what the halves read.
            let store = match (store, turn % 4) {
                (Store::Absolute { value, .. }, 0) => Store::Absolute { word: l.tail / 8, value: *value },
                (Store::Relative { by, .. }, 1) => Store::Relative { word: l.head / 8, by: *by },
                (Store::NearHead { by, .. }, 2) => Store::NearHead { word: l.tail / 8, by: *by },
                (store, _) => store.clone(),
            };
            store.apply(&hostile, l);
            match turn % 3 {
                0 => shm_ops::exercise_producer(&mut tx, &mut next, Writers::Quiet),
                1 => shm_ops::exercise_consumer(&mut rx, Writers::Quiet),
                _ => shm_ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet),
            }
            shm_ops::check_counts(&tx, &rx, Writers::Quiet);
        }
    }

    /// Random stores into Meta of a ring no half holds: `open` refuses it, or accepts
    /// a header that fits the file and gives a working ring.
    #[test]
    fn opening_a_fuzzed_meta_fails_or_gives_a_working_ring(
        cap in 1usize..40,
        stores in stores(layout().head / 8),
    ) {
        let file = ShmFile::numbered("fuzz-meta");
        drop(Ring::<u64>::create(file.path(), cap).unwrap());
        let hostile = Hostile::new(file.path());
        for (store, _) in &stores {
            store.apply(&hostile, layout());
        }
        if let Ok(ring) = Ring::<u64>::open(file.path()) {
            let c = ring.capacity();
            prop_assert!(c >= 1 && c.next_power_of_two() <= cap.next_power_of_two(), "capacity {}", c);
            let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
            shm_ops::round_trip(&mut tx, &mut rx, &mut 0);
            shm_ops::exercise(&mut tx, &mut rx, &mut 0, Writers::Quiet);
        }
    }
}

/// Sets its flag when dropped (unwinding included): stops a helper thread.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}

/// A thread stores garbage into every word of Meta and the header, again and again,
/// while the halves run every operation: each stays in bounds.
#[test]
fn a_writer_racing_the_halves_never_breaks_them() {
    let l = layout();
    let file = ShmFile::new("racing");
    let ring = Ring::<u64>::create(file.path(), 7).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let hostile = Hostile::new(file.path());
            let mut rng = Rng::new(3);
            while !done.load(Relaxed) {
                // The counters and the flag half the time, any header word otherwise.
                let offset = match rng.below(4) {
                    0 => l.head,
                    1 => l.tail,
                    _ => 8 * rng.below(l.slots.min(l.tail + 256) / 8),
                };
                let (head, tail) = (hostile.load(l.head), hostile.load(l.tail));
                let values = garbage(hostile.load(offset), head, tail, 7);
                hostile.store(offset, values[rng.below(values.len())]);
                if rng.one_in(8) {
                    thread::yield_now();
                }
            }
        });
        let stop = StopOnDrop(&done); // also if an operation panics
        let mut next = 0;
        for _ in 0..3000 {
            shm_ops::exercise(&mut tx, &mut rx, &mut next, Writers::Racing);
        }
        drop(stop);
    });
}

// ---------------------------------------------------------------------------------
// Two processes
// ---------------------------------------------------------------------------------

#[test]
fn a_child_producer_delivers_every_item_in_order() {
    const N: u64 = 20_000;
    let file = ShmFile::new("child-produces");
    let ring = Ring::<u64>::create(file.path(), 64).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut peer = Peer::spawn("produce", file.path(), &[N, 0]);
    let rx = within_watchdog("consumer", move || {
        for i in 0..N {
            assert_eq!(rx.pop_blocking(), Ok(i));
        }
        // The producer leaves after its last item: nothing more, then disconnected.
        assert_eq!(rx.pop_blocking(), Err(Disconnected(())));
        rx
    });
    peer.finish();
    assert!(rx.is_abandoned());
    assert!(rx.is_empty());
}

#[test]
fn a_child_consumer_receives_every_item_in_order() {
    const N: u64 = 20_000;
    let file = ShmFile::new("child-consumes");
    let ring = Ring::<u64>::create(file.path(), 64).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut peer = Peer::spawn("consume", file.path(), &[N, 0]);
    let mut tx = within_watchdog("producer", move || {
        for i in 0..N {
            tx.push_blocking(i).expect("the consumer went");
        }
        tx
    });
    peer.finish();
    assert!(tx.is_abandoned(), "the consumer left");
    assert!(tx.is_empty(), "the consumer took everything");
    assert_eq!(
        tx.push_timeout(1, Duration::from_secs(3600)),
        Err(PushTimeoutError::Disconnected(1))
    );
}

/// An item that shows when it is torn or garbage: its check is a function of its
/// sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Item {
    seq: u64,
    check: u64,
}

impl Item {
    fn new(seq: u64) -> Self {
        Item {
            seq,
            check: seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5_A5A5_A5A5_A5A5,
        }
    }
}

/// Pushes items `0 .. n`: with slices and chunks of random sizes, or (`mixed`) also
/// single pushes, iterators and blocking pushes. Fails if the consumer goes first.
fn produce_stream(tx: &mut Producer<Item, Shm>, n: u64, seed: u64, mixed: bool) {
    let mut rng = Rng::new(seed);
    let max = 2 * tx.capacity();
    let mut next = 0u64;
    while next < n {
        let batch = rng.range(1, max).min((n - next) as usize);
        let before = next;
        match rng.below(if mixed { 6 } else { 2 }) {
            0 => {
                let items: Vec<Item> = (next..next + batch as u64).map(Item::new).collect();
                next += tx.push_slice(&items) as u64;
            }
            1 => {
                let batch = match tx.write_chunk_uninit(batch) {
                    Ok(_) => batch,
                    Err(ChunkError::TooFewSlots(free)) => free,
                };
                if batch > 0 {
                    let mut chunk = tx.write_chunk_uninit(batch).unwrap();
                    let (a, b) = chunk.as_mut_slices();
                    for (slot, seq) in a.iter_mut().chain(b.iter_mut()).zip(next..) {
                        slot.write(Item::new(seq));
                    }
                    // SAFETY: every slot of the chunk was written just above.
                    unsafe { chunk.commit_all() };
                    next += batch as u64;
                }
            }
            2 | 3 => {
                if tx.push(Item::new(next)).is_ok() {
                    next += 1;
                }
            }
            4 => next += tx.push_iter((next..next + batch as u64).map(Item::new)) as u64,
            _ => {
                tx.push_blocking(Item::new(next))
                    .expect("the consumer went");
                next += 1;
            }
        }
        if next == before {
            assert!(
                !tx.is_abandoned(),
                "the consumer went after {next} of {n} items"
            );
            thread::yield_now();
        }
    }
}

/// Pops items `0 .. n`, checking each: with slices and chunks of random sizes, or
/// (`mixed`) also single pops and peeks, partial drains and blocking pops. Fails if
/// the producer goes first.
fn consume_stream(rx: &mut Consumer<Item, Shm>, n: u64, seed: u64, mixed: bool) {
    let mut rng = Rng::new(seed);
    let max = 2 * rx.capacity();
    let mut buf = vec![Item::new(0); max];
    let mut expected = 0u64;
    let check = |got: &[Item], expected: &mut u64| {
        for item in got {
            assert_eq!(*item, Item::new(*expected), "item {expected} of {n}");
            *expected += 1;
        }
    };
    while expected < n {
        let batch = rng.range(1, max).min((n - expected) as usize);
        let before = expected;
        match rng.below(if mixed { 6 } else { 2 }) {
            0 => {
                let got = rx.pop_slice(&mut buf[..batch]);
                check(&buf[..got], &mut expected);
            }
            1 => {
                let batch = match rx.read_chunk(batch) {
                    Ok(_) => batch,
                    Err(ChunkError::TooFewSlots(available)) => available,
                };
                if batch > 0 {
                    let chunk = rx.read_chunk(batch).unwrap();
                    let (a, b) = chunk.as_slices();
                    check(a, &mut expected);
                    check(b, &mut expected);
                    chunk.commit_all();
                }
            }
            2 => {
                let peeked = rx.peek().copied();
                let popped = rx.pop();
                if peeked.is_some() {
                    assert_eq!(peeked, popped, "peek and pop disagree");
                }
                if let Some(item) = popped {
                    check(&[item], &mut expected);
                }
            }
            3 => {
                let got: Vec<Item> = rx.drain().take(batch).collect();
                check(&got, &mut expected);
            }
            4 => {
                if let Some(item) = rx.pop() {
                    check(&[item], &mut expected);
                }
            }
            _ => {
                let item = rx.pop_blocking().expect("the producer went early");
                check(&[item], &mut expected);
            }
        }
        if expected == before {
            if rx.is_abandoned() {
                // Everything published before it left is still there.
                let item = rx
                    .pop()
                    .unwrap_or_else(|| panic!("the producer went after {expected} of {n} items"));
                check(&[item], &mut expected);
            }
            thread::yield_now();
        }
    }
}

/// A child producer streaming `n` items to this process, then the reverse.
fn stream_both_ways(test: &str, n: u64, capacity: usize, mixed: bool) {
    let file = ShmFile::new(&format!("{test}-to-parent"));
    let ring = Ring::<Item>::create(file.path(), capacity).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut peer = Peer::spawn("stream-produce", file.path(), &[n, 1, mixed as u64]);
    within_watchdog("the parent's consumer", move || {
        consume_stream(&mut rx, n, 2, mixed);
        assert_eq!(
            rx.pop_blocking(),
            Err(Disconnected(())),
            "an item beyond {n}"
        );
    });
    peer.finish();

    let file = ShmFile::new(&format!("{test}-to-child"));
    let ring = Ring::<Item>::create(file.path(), capacity).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut peer = Peer::spawn("stream-consume", file.path(), &[n, 3, mixed as u64]);
    let tx = within_watchdog("the parent's producer", move || {
        produce_stream(&mut tx, n, 4, mixed);
        tx
    });
    drop(tx); // the child then sees the end
    peer.finish();
}

#[test]
fn slices_and_chunks_stream_across_processes() {
    stream_both_ways("stream", 300_000, 1000, false);
}

#[test]
fn soak_a_million_items_of_mixed_operations_across_processes() {
    stream_both_ways("soak", 1_000_000, 127, true);
}

// ---------------------------------------------------------------------------------
// Peers that die, leave and come back
// ---------------------------------------------------------------------------------

/// Runs `wait` (which blocks on the peer) in a thread, kills the peer while it waits,
/// and returns what `wait` returned.
fn kill_while_waiting<R: Send + 'static>(
    peer: &mut Peer,
    wait: impl FnOnce() -> R + Send + 'static,
) -> R {
    let waiter = thread::spawn(wait);
    // A chance for the waiter to start waiting; the outcome must be the same if it
    // starts after the kill.
    thread::sleep(Duration::from_millis(50));
    assert!(
        !waiter.is_finished(),
        "the wait ended while the peer was alive"
    );
    peer.kill();
    join_within_watchdog(waiter, "a wait on a killed peer")
}

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn a_killed_producer_ends_pop_blocking_with_disconnected() {
    let file = ShmFile::new("killed-producer-blocking");
    let ring = Ring::<u64>::create(file.path(), 8).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut peer = Peer::spawn("produce-then-hold", file.path(), &[3, 2]);
    peer.wait_ready();
    let (got, end, rx) = kill_while_waiting(&mut peer, move || {
        let got: Vec<u64> = (0..3).map(|_| rx.pop_blocking().unwrap()).collect();
        let end = rx.pop_blocking();
        (got, end, rx)
    });
    assert_eq!(got, [0, 1, 2], "the published items");
    assert_eq!(
        end,
        Err(Disconnected(())),
        "the chunk it never committed is lost"
    );
    assert!(rx.is_abandoned());
}

#[test]
fn a_killed_producer_ends_pop_timeout_with_disconnected() {
    let file = ShmFile::new("killed-producer-timeout");
    let ring = Ring::<u64>::create(file.path(), 8).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut peer = Peer::spawn("hold", file.path(), &[0]);
    peer.wait_ready();
    let (end, rx) = kill_while_waiting(&mut peer, move || (rx.pop_timeout(LONG), rx));
    assert_eq!(end, Err(PopTimeoutError::Disconnected));
    assert!(rx.is_abandoned());
}

#[test]
fn a_killed_consumer_ends_push_blocking_with_disconnected() {
    let file = ShmFile::new("killed-consumer-blocking");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    let mut tx = ring.producer().unwrap();
    assert_eq!(tx.push_slice(&[0, 1, 2, 3]), 4);
    let mut peer = Peer::spawn("hold", file.path(), &[1]);
    peer.wait_ready();
    let (end, tx) = kill_while_waiting(&mut peer, move || (tx.push_blocking(99), tx));
    assert_eq!(end, Err(Disconnected(99)), "the value comes back");
    assert!(tx.is_abandoned());
    assert_eq!(tx.len(), 4, "the items stay for the next consumer");
}

#[test]
fn a_killed_consumer_ends_push_timeout_with_disconnected() {
    let file = ShmFile::new("killed-consumer-timeout");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    let mut tx = ring.producer().unwrap();
    assert_eq!(tx.push_slice(&[0, 1, 2, 3]), 4);
    let mut peer = Peer::spawn("hold", file.path(), &[1]);
    peer.wait_ready();
    let (end, tx) = kill_while_waiting(&mut peer, move || (tx.push_timeout(99, LONG), tx));
    assert_eq!(end, Err(PushTimeoutError::Disconnected(99)));
    assert!(tx.is_abandoned());
}

#[test]
fn a_killed_peer_is_seen_abandoned() {
    // The module docs: the lock is tested on the first call and then at most once a
    // millisecond; a killed peer is seen within a bounded time (the bound here only
    // keeps a failure from hanging the suite: it is no timing assertion).
    for role in [0, 1] {
        let file = ShmFile::new(&format!("killed-seen-{role}"));
        let ring = Ring::<u64>::create(file.path(), 4).unwrap();
        let mut peer = Peer::spawn("hold", file.path(), &[role]);
        peer.wait_ready();
        let half: Box<dyn Fn() -> bool> = if role == 0 {
            let rx = ring.consumer().unwrap();
            Box::new(move || rx.is_abandoned())
        } else {
            let tx = ring.producer().unwrap();
            Box::new(move || tx.is_abandoned())
        };
        for call in 0..200 {
            assert!(!half(), "call {call}: abandoned while the peer lives");
        }
        peer.kill();
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !half() {
            assert!(
                std::time::Instant::now() < give_up,
                "a killed peer still not abandoned after 30 s"
            );
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        assert!(half(), "abandoned, then not");
    }
}

#[test]
fn a_peer_that_leaves_cleanly_is_abandoned() {
    let file = ShmFile::new("left-cleanly-producer");
    let ring = Ring::<u64>::create(file.path(), 8).unwrap();
    let mut rx = ring.consumer().unwrap();
    assert!(!rx.is_abandoned(), "no producer yet is not a producer gone");
    Peer::spawn("produce", file.path(), &[5, 0]).finish();
    assert!(rx.is_abandoned());
    assert_eq!(
        rx.drain().collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "its items stay"
    );
    assert_eq!(rx.pop_blocking(), Err(Disconnected(())));
    assert_eq!(rx.pop_timeout(LONG), Err(PopTimeoutError::Disconnected));

    let file = ShmFile::new("left-cleanly-consumer");
    let ring = Ring::<u64>::create(file.path(), 8).unwrap();
    let mut tx = ring.producer().unwrap();
    assert!(!tx.is_abandoned(), "no consumer yet is not a consumer gone");
    assert_eq!(tx.push_slice(&[0, 1, 2, 3, 4]), 5);
    Peer::spawn("consume", file.path(), &[3, 0]).finish();
    assert!(tx.is_abandoned());
    assert_eq!(tx.len(), 2);
    assert_eq!(tx.push_blocking(9), Err(Disconnected(9)));
}

#[test]
fn a_consumer_restarted_after_a_kill_gets_the_first_unreleased_item() {
    // Modes: 0, three items in a read chunk never committed; 1, three drained but the
    // drain never dropped (both delivered again); 2, three popped by `pop_slice`
    // (released).
    for mode in [0, 1, 2] {
        let file = ShmFile::new(&format!("consumer-restarted-{mode}"));
        let ring = Ring::<u64>::create(file.path(), 16).unwrap();
        let mut tx = ring.producer().unwrap();
        let items: Vec<u64> = (0..16).collect();
        assert_eq!(tx.push_slice(&items), 16);
        let mut peer = Peer::spawn("consume-then-hold", file.path(), &[5, 3, mode]);
        peer.wait_ready();
        peer.kill();
        let first = if mode == 2 { 8 } else { 5 };
        let mut rx = ring.consumer().unwrap();
        assert_eq!(tx.len(), 16 - first as usize, "mode {mode}");
        assert_eq!(
            rx.drain().collect::<Vec<_>>(),
            (first..16).collect::<Vec<_>>(),
            "mode {mode}"
        );
    }
}

#[test]
fn a_consumer_restarted_in_a_new_process_gets_the_rest() {
    let file = ShmFile::new("consumer-new-process");
    let ring = Ring::<u64>::create(file.path(), 16).unwrap();
    let mut tx = ring.producer().unwrap();
    let items: Vec<u64> = (0..16).collect();
    assert_eq!(tx.push_slice(&items), 16);
    let mut first = Peer::spawn("consume-then-hold", file.path(), &[5, 0, 2]);
    first.wait_ready();
    first.kill();
    // The second consumer takes the rest and 100 more, pushed as room appears.
    let mut second = Peer::spawn("consume", file.path(), &[111, 5]);
    // Pushing before it attached would rightly find no consumer.
    second.wait_ready();
    let tx = within_watchdog("producer", move || {
        for i in 16..116 {
            tx.push_blocking(i).expect("the second consumer went");
        }
        tx
    });
    second.finish();
    assert!(tx.is_abandoned() && tx.is_empty());
}

#[test]
fn a_new_producer_continues_where_a_killed_one_published() {
    let file = ShmFile::new("producer-restarted");
    let ring = Ring::<u64>::create(file.path(), 8).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut peer = Peer::spawn("produce-then-hold", file.path(), &[3, 2]);
    peer.wait_ready();
    peer.kill();
    assert_eq!(rx.pop(), Some(0));
    let mut tx = ring.producer().expect("the killed producer's role is free");
    assert_eq!(tx.len(), 2, "items 1 and 2 are still there");
    assert_eq!(tx.push_slice(&[3, 4, 5]), 3);
    // Items 3 and 4 of the killed producer's chunk were never published: the new
    // producer's items take their places.
    assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    // And a new producer in another process continues from there.
    drop(tx);
    Peer::spawn("produce", file.path(), &[4, 6]).finish();
    assert_eq!(rx.drain().collect::<Vec<_>>(), [6, 7, 8, 9]);
}

#[test]
fn a_new_peer_in_place_of_a_killed_one_is_seen_at_once() {
    // The module docs: a new half may attach in place of the one that went, and
    // `is_abandoned` is false again for the other side; so the other side's waiting
    // operations wait for it again.
    let file = ShmFile::new("peer-replaced");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut peer = Peer::spawn("hold", file.path(), &[1]);
    peer.wait_ready();
    peer.kill();
    assert!(
        (0..64).any(|_| tx.is_abandoned()),
        "the killed consumer is seen gone"
    );
    let mut rx = ring.consumer().unwrap();
    assert!(!tx.is_abandoned(), "a consumer is attached again");
    assert_eq!(tx.push_blocking(1), Ok(()), "a consumer is attached again");
    assert_eq!(rx.pop(), Some(1));

    drop(tx);
    let mut peer = Peer::spawn("hold", file.path(), &[0]);
    peer.wait_ready();
    peer.kill();
    assert!(
        (0..64).any(|_| rx.is_abandoned()),
        "the killed producer is seen gone"
    );
    let mut tx = ring.producer().unwrap();
    assert!(!rx.is_abandoned(), "a producer is attached again");
    tx.push(2).unwrap();
    assert_eq!(rx.pop_timeout(LONG), Ok(2));
}

// ---------------------------------------------------------------------------------
// SpinPark across processes: the futex words in the region
// ---------------------------------------------------------------------------------

/// The region's futex words (`Meta::futex`, x86_64 and every 64-bit target: after 13
/// words of `Meta`), each `seq` in the low and `sleepers` in the high half of a word:
/// the consumer's (waiting for items), then the producer's (waiting for room).
const FUTEX_WORDS: [usize; 2] = [104, 112];

/// Each side of a `SpinPark` ring sleeps on the region's futex while the other process
/// is slow (here: pauses every few items), and the other side's pushes or pops wake it:
/// every item arrives in order, a notifier found a sleeper on the word and moved its
/// sequence (it moves only then), and no sleeper is left counted at the end.
#[test]
fn spin_park_sleepers_are_woken_across_processes() {
    for child_consumes in [true, false] {
        let file = ShmFile::new(&format!("spin-park-{child_consumes}"));
        let ring = Ring::<u64>::create_with_wait_strategy(
            file.path(),
            2,
            ringway::WaitStrategy::SPIN_PARK,
        )
        .unwrap();
        assert_eq!(
            Ring::<u64>::open(file.path()).unwrap().wait_strategy(),
            ringway::WaitStrategy::SPIN_PARK,
            "the strategy is the region's"
        );
        let hostile = Hostile::new(file.path());
        const N: u64 = 300;
        if child_consumes {
            let mut peer = Peer::spawn("consume", file.path(), &[N, 0]);
            let mut tx = ring.producer().unwrap();
            peer.wait_ready();
            for i in 0..N {
                if i % 20 == 0 {
                    // Long enough for the consumer to spin out and sleep.
                    thread::sleep(Duration::from_millis(2));
                }
                tx.push_blocking(i).unwrap();
            }
            peer.finish();
        } else {
            let mut peer = Peer::spawn("produce", file.path(), &[N, 0]);
            let mut rx = ring.consumer().unwrap();
            peer.wait_ready();
            for i in 0..N {
                if i % 20 == 0 {
                    // The ring (capacity 2) fills: the producer sleeps.
                    thread::sleep(Duration::from_millis(2));
                }
                assert_eq!(rx.pop_blocking(), Ok(i));
            }
            peer.finish();
        }
        let slept_on = FUTEX_WORDS[usize::from(!child_consumes)];
        let word = hostile.load(slept_on);
        assert_ne!(
            word & 0xffff_ffff,
            0,
            "no notifier ever found the sleeping side on its futex word"
        );
        for at in FUTEX_WORDS {
            assert_eq!(
                hostile.load(at) >> 32,
                0,
                "a sleeper is still counted at {at}"
            );
        }
    }
}

/// A thread asleep on the region's futex (`SpinPark`) whose peer is killed wakes within
/// a nap, sees the peer gone and returns `Disconnected`, for either side.
#[test]
fn spin_park_sleeper_sees_a_killed_peer() {
    for role in [0u64, 1] {
        let file = ShmFile::new(&format!("spin-park-killed-{role}"));
        let ring = Ring::<u64>::create_with_wait_strategy(
            file.path(),
            1,
            ringway::WaitStrategy::SPIN_PARK,
        )
        .unwrap();
        let mut peer = Peer::spawn("hold", file.path(), &[role]);
        peer.wait_ready();
        let waiter = if role == 0 {
            let mut rx = ring.consumer().unwrap();
            thread::spawn(move || rx.pop_blocking().map(drop))
        } else {
            let mut tx = ring.producer().unwrap();
            tx.push(1).unwrap(); // full: the next push waits
            thread::spawn(move || {
                tx.push_blocking(2).map_err(|e| {
                    assert_eq!(e.into_inner(), 2, "the value comes back");
                    Disconnected(())
                })
            })
        };
        thread::sleep(Duration::from_millis(5)); // let it fall asleep, usually
        peer.kill();
        assert_eq!(
            join_within_watchdog(waiter, "a sleeper whose peer was killed"),
            Err(Disconnected(()))
        );
    }
}

/// A timed wait on a `SpinPark` ring in shared memory returns `Timeout` when nothing
/// comes, sleeping on the futex in naps of at most its remaining time.
#[test]
fn spin_park_timeouts_expire() {
    let file = ShmFile::new("spin-park-timeout");
    let ring =
        Ring::<u64>::create_with_wait_strategy(file.path(), 1, ringway::WaitStrategy::SPIN_PARK)
            .unwrap();
    let mut peer = Peer::spawn("hold", file.path(), &[0]);
    peer.wait_ready();
    let mut rx = ring.consumer().unwrap();
    assert_eq!(
        rx.pop_timeout(Duration::from_millis(25)),
        Err(PopTimeoutError::Timeout)
    );
    peer.finish();
    assert_eq!(
        rx.pop_timeout(Duration::from_millis(25)),
        Err(PopTimeoutError::Disconnected)
    );
}

/// A half killed in its sleep leaves itself counted on its futex word; the half that
/// attaches in its place (the only one whose threads sleep there) clears the count, so
/// the other side's pushes or pops stop paying a wake-up system call for a ghost.
#[test]
fn attaching_forgets_sleepers_of_a_dead_half() {
    let file = ShmFile::new("forget-sleepers");
    let ring =
        Ring::<u64>::create_with_wait_strategy(file.path(), 4, ringway::WaitStrategy::SPIN_PARK)
            .unwrap();
    let hostile = Hostile::new(file.path());
    for (role, at) in [
        (Role::Consumer, FUTEX_WORDS[0]),
        (Role::Producer, FUTEX_WORDS[1]),
    ] {
        let other = FUTEX_WORDS[usize::from(at == FUTEX_WORDS[0])];
        hostile.store(at, 3 << 32 | 17); // 3 sleepers, sequence 17
        hostile.store(other, 5 << 32 | 9);
        let half: Box<dyn std::any::Any> = match role {
            Role::Consumer => Box::new(ring.consumer().unwrap()),
            Role::Producer => Box::new(ring.producer().unwrap()),
        };
        assert_eq!(
            hostile.load(at),
            17,
            "{role}: its word's sleepers forgotten, sequence kept"
        );
        assert_eq!(
            hostile.load(other),
            5 << 32 | 9,
            "{role}: the other word untouched"
        );
        drop(half);
    }
}

// ---------------------------------------------------------------------------------
// Rings by descriptor: sealed memfd rings, `from_fd`
// ---------------------------------------------------------------------------------

/// A new memfd that can be sealed (and is not), holding `bytes`.
fn memfd_holding(bytes: &[u8]) -> OwnedFd {
    // SAFETY: the name is a NUL-terminated string that lives across the call, which
    // takes no other pointer.
    let fd = unsafe {
        libc::memfd_create(
            c"ringway-test".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    assert!(fd >= 0, "memfd_create: {}", io::Error::last_os_error());
    // SAFETY: `fd` was just opened by `memfd_create` and nothing else owns it.
    let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(bytes).unwrap();
    file.into()
}

/// The seals on the file `fd` refers to.
fn seals_of(fd: BorrowedFd<'_>) -> libc::c_int {
    // SAFETY: `fcntl` with `F_GET_SEALS` takes no argument; the descriptor is open.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    assert!(seals >= 0, "F_GET_SEALS: {}", io::Error::last_os_error());
    seals
}

/// A copy of `ring`'s descriptor, as another process would receive it.
fn fd_of<T>(ring: &Ring<T>) -> OwnedFd {
    ring.as_fd().try_clone_to_owned().unwrap()
}

/// What a ring's checks say of `bytes`, as the capacity or the error (`Debug`): first
/// by `open` of a named file holding them, then by `from_fd` of a memfd holding them;
/// both must say the same.
fn open_and_from_fd_agree<T: bytemuck::Pod>(file: &ShmFile, bytes: &[u8]) -> Result<usize, String> {
    fs::write(file.path(), bytes).unwrap();
    let by_path = Ring::<T>::open(file.path())
        .map(|r| r.capacity())
        .map_err(|e| format!("{e:?}"));
    let by_fd = Ring::<T>::from_fd(memfd_holding(bytes))
        .map(|r| r.capacity())
        .map_err(|e| format!("{e:?}"));
    assert_eq!(
        by_path,
        by_fd,
        "open and from_fd disagree on {} bytes",
        bytes.len()
    );
    by_fd
}

#[test]
fn a_memfd_ring_round_trips_in_one_process() {
    let ring = Ring::<u64>::create_memfd(3).unwrap();
    assert_eq!(ring.capacity(), 3);
    assert_eq!(ring.wait_strategy(), ringway::WaitStrategy::SPIN_YIELD);
    assert!(ring.is_sealed());
    assert_eq!(
        seals_of(ring.as_fd()),
        libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL
    );
    // SAFETY: `fcntl` with `F_GETFD` takes no argument; the descriptor is open.
    let flags = unsafe { libc::fcntl(ring.as_fd().as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC, "close-on-exec");
    // Every page allocated up front, as for a named file.
    let file = fs::File::from(fd_of(&ring));
    let meta = file.metadata().unwrap();
    assert!(
        meta.len() > 4096 && std::os::unix::fs::MetadataExt::blocks(&meta) * 512 >= meta.len(),
        "{meta:?}"
    );

    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!(
        role_taken(ring.producer()),
        (Role::Producer, u64::from(std::process::id()))
    );
    assert_eq!(tx.push_slice(&[1, 2, 3, 4]), 3);
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(rx.drain().sum::<u64>(), 5);
    for i in 0..100 {
        tx.push(i).unwrap();
        assert_eq!(rx.pop(), Some(i));
    }
    drop(tx);
    assert!(rx.is_abandoned());

    let ring =
        Ring::<u64>::create_memfd_with_wait_strategy(8, ringway::WaitStrategy::SPIN_PARK).unwrap();
    assert_eq!(ring.wait_strategy(), ringway::WaitStrategy::SPIN_PARK);
    let other = Ring::<u64>::from_fd(fd_of(&ring)).unwrap();
    assert_eq!(other.wait_strategy(), ringway::WaitStrategy::SPIN_PARK);
    let mut rx = other.consumer().unwrap();
    let mut tx = ring.producer().unwrap();
    let sleeper = thread::spawn(move || rx.pop_blocking());
    tx.push(9).unwrap();
    assert_eq!(join_within_watchdog(sleeper, "sleeper"), Ok(9));
}

#[test]
fn from_fd_of_a_cloned_descriptor_shares_the_ring() {
    let ring = Ring::<u64>::create_memfd(4).unwrap();
    let other = Ring::<u64>::from_fd(fd_of(&ring)).unwrap();
    assert_eq!(other.capacity(), 4);
    assert!(other.is_sealed());
    let mut tx = ring.producer().unwrap();
    let mut rx = other.consumer().unwrap();
    // The roles are the ring's, whichever handle takes them.
    let pid = u64::from(std::process::id());
    assert_eq!(role_taken(other.producer()), (Role::Producer, pid));
    assert_eq!(role_taken(ring.consumer()), (Role::Consumer, pid));
    assert_eq!(tx.push_slice(&[5, 6, 7]), 3);
    assert_eq!(rx.pop(), Some(5));
    drop(tx);
    assert!(rx.is_abandoned());
    let mut tx = other.producer().unwrap(); // the role is free again
    assert!(!rx.is_abandoned(), "a new producer in its place");
    // The first handle (and its descriptor) may go: the other keeps the ring.
    drop(ring);
    tx.push(8).unwrap();
    assert_eq!(rx.drain().collect::<Vec<_>>(), [6, 7, 8]);
}

#[test]
fn from_fd_validates_as_open_does() {
    let file = ShmFile::new("from-fd-checks");
    drop(Ring::<u64>::create(file.path(), 5).unwrap());
    let ring_bytes = fs::read(file.path()).unwrap();
    let full = ring_bytes.len();
    let l = layout();
    assert_eq!(open_and_from_fd_agree::<u64>(&file, &ring_bytes), Ok(5));
    // Junk.
    let mut rng = Rng::new(11);
    let random: Vec<u8> = (0..full).map(|_| rng.next_u64() as u8).collect();
    let mut flipped = ring_bytes.clone();
    flipped[0] ^= 1;
    for (what, bytes) in [
        ("zeros", vec![0u8; full]),
        ("random", random),
        ("magic", flipped),
    ] {
        let e = open_and_from_fd_agree::<u64>(&file, &bytes).unwrap_err();
        assert!(e.contains("NotARing"), "{what}: {e}");
    }
    // Too short: for a header, then for what the header says.
    for len in [0, 1, 8, l.head / 2] {
        let e = open_and_from_fd_agree::<u64>(&file, &ring_bytes[..len]).unwrap_err();
        assert!(e.starts_with("Truncated"), "{len} bytes: {e}");
    }
    for len in [l.head, l.slots, full - 1] {
        let e = open_and_from_fd_agree::<u64>(&file, &ring_bytes[..len]).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{:?}",
                Error::Truncated {
                    len: len as u64,
                    needed: full as u64
                }
            )
        );
    }
    // Another layout version (the word after the magic number).
    let mut version = ring_bytes.clone();
    version[8..12].copy_from_slice(&(LAYOUT_VERSION + 1).to_le_bytes());
    let e = open_and_from_fd_agree::<u64>(&file, &version).unwrap_err();
    assert!(e.starts_with("Version"), "{e}");
    // Another item type.
    for e in [
        open_and_from_fd_agree::<u32>(&file, &ring_bytes).unwrap_err(),
        open_and_from_fd_agree::<i64>(&file, &ring_bytes).unwrap_err(),
        open_and_from_fd_agree::<[u8; 8]>(&file, &ring_bytes).unwrap_err(),
    ] {
        assert!(e.starts_with("WrongType"), "{e}");
    }
    // A header that contradicts itself: each word of `Meta` changed in turn.
    for offset in (16..l.head).step_by(8) {
        let mut bytes = ring_bytes.clone();
        bytes[offset] ^= 0x40;
        let _ = open_and_from_fd_agree::<u64>(&file, &bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any `Meta` a hostile process could write: `open` and `from_fd` say the same.
    #[test]
    fn open_and_from_fd_agree_on_a_fuzzed_meta(
        stores in proptest::collection::vec((0usize..16, any::<u64>(), any::<bool>()), 1..6),
    ) {
        let file = ShmFile::numbered("from-fd-fuzz");
        drop(Ring::<u64>::create(file.path(), 5).unwrap());
        let mut bytes = fs::read(file.path()).unwrap();
        for (word, value, small) in stores {
            let value = if small { value % 64 } else { value };
            bytes[8 * word..8 * word + 8].copy_from_slice(&value.to_le_bytes());
        }
        let _ = open_and_from_fd_agree::<u64>(&file, &bytes);
    }
}

#[test]
fn from_fd_refuses_what_is_not_a_ring_file() {
    let not_a_ring = |fd: OwnedFd, what: &str| match Ring::<u64>::from_fd(fd) {
        Err(Error::NotARing) => {}
        Err(e) => panic!("{what}: {e}"),
        Ok(_) => panic!("{what}: a ring"),
    };
    let (reader, writer) = std::io::pipe().unwrap();
    not_a_ring(reader.into(), "a pipe's reader");
    not_a_ring(writer.into(), "a pipe's writer");
    not_a_ring(fs::File::open("/dev/shm").unwrap().into(), "a directory");
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap();
    not_a_ring(null.into(), "a device");
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    not_a_ring(a.into(), "a socket");

    // A ring's file, open for reading only: it cannot be mapped for writing.
    let file = ShmFile::new("from-fd-read-only");
    drop(Ring::<u64>::create(file.path(), 5).unwrap());
    let read_only = fs::File::open(file.path()).unwrap();
    assert_eq!(
        io_error_kind(Ring::<u64>::from_fd(read_only.into())),
        io::ErrorKind::PermissionDenied
    );
}

#[test]
fn a_sealed_ring_cannot_be_resized_and_keeps_working() {
    let ring = Ring::<u64>::create_memfd(5).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!(tx.push_slice(&[1, 2, 3]), 3);
    let file = fs::File::from(fd_of(&ring));
    let len = file.metadata().unwrap().len();
    assert_resize_refused_both_ways(&file, len);
    assert_eq!(file.metadata().unwrap().len(), len);
    assert!(ring.is_sealed());
    // Every slot, the header and `Meta` still there.
    assert_eq!(tx.push_slice(&[4, 5, 6]), 2);
    assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    for i in 0..20 {
        tx.push(i).unwrap();
        assert_eq!(rx.pop(), Some(i));
    }
    assert_eq!(Ring::<u64>::from_fd(file.into()).unwrap().capacity(), 5);
}

#[test]
fn only_a_sealed_memfd_ring_is_sealed() {
    // A named file, by path and by descriptor: not sealed, and the roles are shared
    // between the handles.
    let file = ShmFile::new("from-fd-named");
    let ring = Ring::<u64>::create(file.path(), 4).unwrap();
    assert!(!ring.is_sealed());
    assert!(!Ring::<u64>::open(file.path()).unwrap().is_sealed());
    let handle = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file.path())
        .unwrap();
    let by_fd = Ring::<u64>::from_fd(handle.into()).unwrap();
    assert!(!by_fd.is_sealed());
    let mut tx = ring.producer().unwrap();
    let pid = u64::from(std::process::id());
    assert_eq!(role_taken(by_fd.producer()), (Role::Producer, pid));
    let mut rx = by_fd.consumer().unwrap();
    tx.push(3).unwrap();
    assert_eq!(rx.pop(), Some(3));

    // A memfd its maker did not seal: accepted, not sealed, until someone seals it
    // (asked of the kernel on each call).
    let bytes = fs::read(file.path()).unwrap();
    let unsealed = Ring::<u64>::from_fd(memfd_holding(&bytes)).unwrap();
    assert!(!unsealed.is_sealed());
    let (mut tx, mut rx) = (unsealed.producer().unwrap(), unsealed.consumer().unwrap());
    tx.push(4).unwrap();
    assert_eq!(rx.pop(), Some(4));
    // SAFETY: `fcntl` with `F_ADD_SEALS` takes an integer; the descriptor is open.
    let r = unsafe {
        libc::fcntl(
            unsealed.as_fd().as_raw_fd(),
            libc::F_ADD_SEALS,
            libc::F_SEAL_SHRINK,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    assert!(unsealed.is_sealed());
}

#[test]
fn a_child_maps_an_inherited_memfd_ring_and_receives_every_item() {
    const N: u64 = 20_000;
    let ring = Ring::<u64>::create_memfd(64).unwrap();
    let mut tx = ring.producer().unwrap();
    let fd = ring.as_fd().as_raw_fd() as u64;
    let mut peer = Peer::spawn_inheriting("fd-consume", ring.as_fd(), &[fd, N]);
    peer.wait_ready();
    let tx = within_watchdog("producer", move || {
        for i in 0..N {
            tx.push_blocking(i).expect("the consumer went");
        }
        tx
    });
    peer.finish();
    assert!(tx.is_abandoned(), "the consumer left");
    assert!(tx.is_empty(), "the consumer took everything");
}

/// Sends `fd` over the Unix socket `sock` as an `SCM_RIGHTS` control message, with one
/// byte of data (a stream socket carries no message without data).
fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one descriptor's control message, aligned as `cmsghdr` needs.
    let mut control = [0u64; 8];
    // SAFETY: a computation on its argument.
    let space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
    assert!(space <= size_of_val(&control));
    // SAFETY: an all-zero `msghdr` is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` describes `control`, which has room for the header and one
    // descriptor (`space`), so the first header and its data lie inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null());
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        libc::CMSG_DATA(cmsg)
            .cast::<RawFd>()
            .write_unaligned(fd.as_raw_fd());
    }
    // SAFETY: `msg` and the buffers it points to live across the call.
    let sent = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
    assert_eq!(sent, 1, "sendmsg: {}", io::Error::last_os_error());
}

/// Receives the descriptor [`send_fd`] sent over `sock`: a new descriptor of this
/// process (close-on-exec) for the same open file.
fn recv_fd(sock: BorrowedFd<'_>) -> OwnedFd {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 8];
    // SAFETY: an all-zero `msghdr` is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: `msg` and the buffers it points to live across the call.
    let got = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert_eq!(got, 1, "recvmsg: {}", io::Error::last_os_error());
    assert_eq!(
        msg.msg_flags & libc::MSG_CTRUNC,
        0,
        "control message truncated"
    );
    // SAFETY: the kernel filled `control` and set `msg_controllen` to what it wrote;
    // the header is checked before its data is read.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null(), "no control message");
        assert_eq!((*cmsg).cmsg_level, libc::SOL_SOCKET);
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        assert_eq!(
            (*cmsg).cmsg_len as usize,
            libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize,
            "one descriptor"
        );
        let fd = libc::CMSG_DATA(cmsg).cast::<RawFd>().read_unaligned();
        // The kernel installed `fd` in this process for us; nothing else owns it.
        OwnedFd::from_raw_fd(fd)
    }
}

#[test]
fn a_memfd_ring_sent_over_a_unix_socket_works_on_the_far_side() {
    // The route the docs give for a process that is not a child: the descriptor
    // travels as `SCM_RIGHTS` (here both ends are in this process; the kernel installs
    // a new descriptor for the receiver either way).
    let ring = Ring::<u64>::create_memfd(8).unwrap();
    let (near, far) = std::os::unix::net::UnixStream::pair().unwrap();
    send_fd(near.as_fd(), ring.as_fd());
    let received = recv_fd(far.as_fd());
    assert_ne!(received.as_raw_fd(), ring.as_fd().as_raw_fd());
    let other = Ring::<u64>::from_fd(received).unwrap();
    assert!(
        other.is_sealed(),
        "the seals are the file's, so they travel with it"
    );
    assert_eq!(other.capacity(), 8);
    let mut tx = ring.producer().unwrap();
    let mut rx = other.consumer().unwrap();
    assert_eq!(tx.push_slice(&[1, 2, 3]), 3);
    assert_eq!(rx.drain().collect::<Vec<_>>(), [1, 2, 3]);
    for i in 0..20 {
        tx.push(i).unwrap();
        assert_eq!(rx.pop(), Some(i));
    }
    drop(tx);
    assert!(rx.is_abandoned());
}

#[test]
fn a_hostile_child_cannot_truncate_a_sealed_ring() {
    let ring = Ring::<u64>::create_memfd(16).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    assert_eq!(tx.push_slice(&[100, 101]), 2);
    drop(tx); // the child pushes next
    let len = fs::File::from(fd_of(&ring)).metadata().unwrap().len();
    let fd = ring.as_fd().as_raw_fd() as u64;
    let mut peer = Peer::spawn_inheriting("fd-truncate", ring.as_fd(), &[fd, 5]);
    peer.finish(); // it asserted `EPERM` for every try
    assert_eq!(fs::File::from(fd_of(&ring)).metadata().unwrap().len(), len);
    assert!(ring.is_sealed());
    // This process touches every page it uses, unharmed, and gets the child's items.
    assert_eq!(rx.drain().collect::<Vec<_>>(), [100, 101, 0, 1, 2, 3, 4]);
    let mut tx = ring.producer().unwrap();
    assert_eq!(tx.push_slice(&[7; 16]), 16);
    assert_eq!(rx.drain().count(), 16);
}

#[test]
fn a_sealed_ring_with_holes_punched_in_it_stays_in_bounds() {
    // What the seal does not stop: a peer may punch holes (the module docs, Trust),
    // which zeroes the pages. The size stays, so this process never faults for want of
    // a page, and zeroed counters are garbage like any other.
    let ring = Ring::<u64>::create_memfd(7).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let fd = ring.as_fd().as_raw_fd();
    let len = fs::File::from(fd_of(&ring)).metadata().unwrap().len() as libc::off_t;
    let mut next = 0;
    for round in 0..20 {
        for _ in 0..round {
            shm_ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet);
        }
        // The whole file, or the slots' page alone, in turn.
        let (start, end) = if round % 2 == 0 {
            (0, len)
        } else {
            (4096, len)
        };
        // SAFETY: `fallocate` takes integers; the descriptor is open (`ring`).
        let r = unsafe {
            libc::fallocate(
                fd,
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                start,
                end - start,
            )
        };
        assert_eq!(r, 0, "punching a hole: {}", io::Error::last_os_error());
        assert!(ring.is_sealed());
        for _ in 0..20 {
            shm_ops::exercise(&mut tx, &mut rx, &mut next, Writers::Quiet);
        }
    }
    assert_eq!(
        fs::File::from(fd_of(&ring)).metadata().unwrap().len() as libc::off_t,
        len
    );
}
