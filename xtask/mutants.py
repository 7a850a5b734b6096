#!/usr/bin/env python3
"""Ordering mutation check for ringway.

For every atomic ordering argument in src/ (each `Ordering::Acquire`, `Release`,
`AcqRel` and `SeqCst` token) and every `fence(...)` call, build a scratch copy of the
crate with that one site weakened (the token to `Ordering::Relaxed`, the fence
removed), run the loom models that cover the file, and report which model killed the
mutant. A mutant that survives must be listed, with a written reason, in the
allow-list (xtask/mutants-allow.txt); otherwise the tool exits non-zero.

Usage: python3 xtask/mutants.py [--only SUBSTR] [--allow FILE] [--keep] [--no-miri]
                                [--miri-seeds N] [--jobs N]

Allow-list lines: `FILE | FN | CODE | N | reason`, where FN is the enclosing function,
CODE the trimmed source line and N the 1-based index of the site among the sites on
that line. Matching by code, not line number, keeps the list valid when unrelated
lines move.

Each mutant is judged by running the test binary of its file's models (a loom race
can abort a whole binary, so the killer is then found by running each model alone).

Scratch copies and speed. --jobs N (default 2, one per core of the CI machine) workers
judge mutants at the same time, each in its own copy of the crate (SCRATCH/work,
SCRATCH/work1, ...; SCRATCH is $MUTANTS_SCRATCH, default /tmp/ringway-mutants) with its
own target dirs (SCRATCH/target, target1, ...; Miri: miri-target, miri-target1, ...),
one mutant per copy at a time. Verdicts are printed in site order whatever order they
finish in; the table, summary and exit code do not depend on N. A scratch target dir
that does not exist yet starts as a copy of the repository's target/loom (CI's loom
stage has built the same dependencies there with the same RUSTFLAGS and profile), and
the other workers' ones as a copy of worker 0's after the baseline, so loom and the
other crates.io dependencies are compiled at most once. Where a test binary fails more
than one model, the one named is the first to fail, so it can change from run to run
(as it could before the workers: libtest runs the models on several threads).
Measured on the 2-core CI machine, --only src/mpmc.rs --no-miri: 242 s with one
worker, 149 s with two; a fresh scratch dir costs about 60 s less when seeded.

Miri fallback. loom cannot judge every site (it never explores load buffering, and
loom#392 hides some interleavings), so a mutant that survives the loom models is
then run through the threaded integration tests under Miri, on the same mutated
scratch copy:
`cargo +nightly miri test -p ringway --test BIN -- TEST` with MIRIFLAGS
`-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check -Zmiri-many-seeds=0..N`
(N = --miri-seeds, default 8) and the worker's own CARGO_TARGET_DIR under the scratch
dir (`cargo +nightly miri setup` runs once first, so two workers never race to build
the sysroot).
The tests are those named in .ci/miri-seeded-tests.txt (the list CI's Miri seed
sweep also reads), each looked up in tests/*.rs and run only if its binary judges
the file (MODELS_FOR: tests/mpmc.rs for src/mpmc.rs, and so on; the summary names
files that no listed test judges), one at a time in the list's order, stopping at
the first that fails: the verdict is then
"killed by miri::TEST (seed K)". The first time a test kills a mutant, the same
command is run on the unmutated copy; if that fails too, the tool stops (as it does
when the unmutated loom models fail), since the kill would prove nothing. Only a
mutant that passes both loom and Miri may be justified by the allow-list, and an
allow-list entry whose mutant is killed is reported for removal (exit 1).
A surviving mutant costs every listed test N seeds: measured, about 5 CPU-minutes for
src/mpmc.rs (pop_after_own_push_is_never_empty on both storages, ~34 s a seed, is
most of it) and under 2 for src/spsc/; a killed one usually stops within a few
seeds, plus about half a minute to check the kill on the unmutated copy.
--no-miri skips the fallback; so does a missing `cargo +nightly miri`. Either prints
"SKIPPED: miri fallback (...)", and the allow-list then judges loom survivors alone:
one that only Miri kills (src/mpmc.rs displace_oldest's head compare-and-swap, as of
this writing) then shows as SURVIVED and the tool exits non-zero.
"""

import argparse
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRATCH = os.environ.get("MUTANTS_SCRATCH", "/tmp/ringway-mutants")
ORDERING = re.compile(r"Ordering::(Acquire|Release|AcqRel|SeqCst)\b")
FENCE = re.compile(r"\bfence\((?:Ordering::)?\w+\);")

# Which loom model binaries judge a source file; files not listed get all of them.
# The Miri fallback reads the same names as tests/*.rs binaries (tests/mpmc.rs, ...).
# The first matching prefix wins, so the waiting files come before "src/spsc/".
MODELS_FOR = {
    "src/wait.rs": ["waiting"],
    # The no-`std` lock of the waker lists: the loom build's lists use loom's Mutex, so
    # only its own model reaches it.
    "src/sync/spin_lock.rs": ["spin_lock"],
    "src/spsc/waiting.rs": ["waiting"],
    "src/spsc/overwriting.rs": ["overwriting"],
    "src/broadcast.rs": ["broadcast"],
    "src/mpmc/waiting.rs": ["waiting"],
    "src/spsc/": ["spsc"],
    "src/buffer.rs": ["spsc"],
    "src/mpmc.rs": ["mpmc"],
}


# The Miri fallback: the threaded tests it runs (shared with .ci/run), its flags, and
# the per-run limit (a run that exceeds it counts as a kill, as a loom time-out does,
# and is checked against the unmutated copy like any other kill).
MIRI_TESTS_FILE = os.path.join(ROOT, ".ci", "miri-seeded-tests.txt")
MIRI_BASE_FLAGS = "-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check"
MIRI_SEEDS = 8
MIRI_TIMEOUT = 600

# Mutants judged at the same time (--jobs). A loom model run is single-threaded per
# model, and the optimized build of a test binary is mostly single-threaded too, so two
# workers keep both cores of the CI machine busy.
JOBS = 2


def model_binaries():
    tests = os.path.join(ROOT, "loom-tests", "tests")
    return sorted(f[:-3] for f in os.listdir(tests) if f.endswith(".rs") and f != "canary_scan.rs")


def binaries_for(path):
    for prefix, bins in MODELS_FOR.items():
        if path.startswith(prefix):
            return bins
    return model_binaries()


def find_sites(only):
    """Yields (path, line number, column, 1-based index on the line, kind, code, fn)."""
    for dirpath, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.relpath(os.path.join(dirpath, name), ROOT)
            if only and only not in path:
                continue
            with open(os.path.join(ROOT, path)) as f:
                function = "-"
                for lineno, line in enumerate(f, 1):
                    code = line.strip()
                    m = re.search(r"\bfn (\w+)", line)
                    if m and not code.startswith("//"):
                        function = m.group(1)
                    if code.startswith("//"):
                        continue
                    line = line.split("//")[0]
                    sites = []
                    fences = [(m.start(), m.end()) for m in FENCE.finditer(line)]
                    for m in fences:
                        sites.append((m[0], "fence removed"))
                    for m in ORDERING.finditer(line):
                        if any(a <= m.start() < b for a, b in fences):
                            continue  # judged as a whole fence; a Relaxed fence panics
                        sites.append((m.start(), f"{m.group(1)} -> Relaxed"))
                    for index, (col, kind) in enumerate(sorted(sites), 1):
                        yield path, lineno, col, index, kind, code, function


def mutate(text, lineno, col, kind):
    lines = text.split("\n")
    line = lines[lineno - 1]
    if kind == "fence removed":
        m = FENCE.match(line, col)
        lines[lineno - 1] = line[:col] + "/* fence removed */" + line[m.end():]
    else:
        m = ORDERING.match(line, col)
        lines[lineno - 1] = line[:col] + "Ordering::Relaxed" + line[m.end():]
    return "\n".join(lines)


def load_allow(path):
    allow = {}
    if not os.path.exists(path):
        return allow
    with open(path) as f:
        for raw in f:
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            parts = [p.strip() for p in raw.split("|", 4)]
            if len(parts) != 5 or not parts[4]:
                sys.exit(f"mutants: malformed allow-list line (FILE | FN | CODE | N | reason): {raw!r}")
            allow[(parts[0], parts[1], parts[2], int(parts[3]))] = parts[4]
    return allow


class Fatal(Exception):
    """Stops the whole run (raised in a worker thread, reported by the main thread)."""


class Worker:
    """One scratch copy of the crate with its own target dirs; worker 0 uses
    SCRATCH/work, SCRATCH/target and SCRATCH/miri-target, worker K the same names
    with K appended. A worker holds at most one mutant at a time."""

    def __init__(self, index):
        suffix = str(index) if index else ""
        self.index = index
        self.work = os.path.join(SCRATCH, "work" + suffix)
        self.target = os.path.join(SCRATCH, "target" + suffix)
        self.miri_target = os.path.join(SCRATCH, "miri-target" + suffix)
        self.loom_env = {
            "RUSTFLAGS": "--cfg ringway_loom",
            "LOOM_MAX_PREEMPTIONS": "3",
            "CARGO_TARGET_DIR": self.target,
            "CARGO_TERM_COLOR": "never",
        }

    def cargo(self, args, env_extra, timeout=900):
        env = dict(os.environ)
        env.update(env_extra)
        return subprocess.run(
            ["cargo"] + args, cwd=self.work, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
        )


# CI's loom stage builds the same dependencies (RUSTFLAGS "--cfg ringway_loom", --profile loom,
# the same lock file) into target/loom; a scratch target dir that does not exist yet
# starts as a copy of it, so that loom and the rest of crates.io are not compiled again.
REPO_LOOM_TARGET = os.path.join(ROOT, "target", "loom")


def copy_tree(src, dst):
    """Copies a target dir, keeping modification times (cargo's fingerprints read them)."""
    shutil.rmtree(dst, ignore_errors=True)
    if subprocess.run(["cp", "-a", src, dst], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


def seed_target(target, source):
    """Starts `target` as a copy of `source` if it does not exist; a failed or missing
    copy only costs a full build."""
    if os.path.exists(target) or not os.path.isdir(source):
        return
    try:
        copy_tree(source, target)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)


TEST = ["test", "-p", "loom-tests", "--profile", "loom"]


def list_models(worker, binary):
    out = worker.cargo(TEST + ["--test", binary, "--", "--list"], worker.loom_env)
    if out.returncode != 0:
        sys.exit(f"mutants: cannot list models of {binary}:\n{out.stdout[-3000:]}")
    return [l[: -len(": test")] for l in out.stdout.splitlines() if l.endswith(": test")]


def judge(worker, binaries, models):
    """Returns the name of a model that fails, or None if all pass."""
    for binary in binaries:
        try:
            out = worker.cargo(TEST + ["--test", binary], worker.loom_env)
        except subprocess.TimeoutExpired:
            return f"{binary} (timed out)"
        if out.returncode == 0:
            continue
        failed = re.findall(r"^test (\S+) \.\.\. FAILED", out.stdout, re.M)
        if failed:
            return f"{binary}::{failed[0]}"
        if "error[" in out.stdout or "could not compile" in out.stdout:
            return f"(compile error) {out.stdout[-500:]}"
        # The binary aborted (a loom panic inside a destructor): run models one by one.
        for model in models[binary]:
            try:
                one = worker.cargo(TEST + ["--test", binary, "--", "--exact", model],
                                   worker.loom_env)
            except subprocess.TimeoutExpired:
                return f"{binary}::{model} (timed out)"
            if one.returncode != 0:
                return f"{binary}::{model}"
        return f"{binary} (aborted; no single model fails alone)"
    return None


def miri_tests():
    """The Miri fallback's tests, in the list's order, as (test binary, test name)."""
    with open(MIRI_TESTS_FILE) as f:
        names = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
    tests_dir = os.path.join(ROOT, "tests")
    sources = {}
    for name in sorted(os.listdir(tests_dir)):
        if name.endswith(".rs"):
            with open(os.path.join(tests_dir, name)) as f:
                sources[name[:-3]] = f.read()
    found = []
    for test in names:
        # `NAME::heap` names one storage's instance of a test written for both.
        base = test.split("::")[0]
        bins = [b for b, src in sources.items() if re.search(rf"\bfn {re.escape(base)}\(", src)]
        if len(bins) != 1:
            sys.exit(f"mutants: {os.path.relpath(MIRI_TESTS_FILE, ROOT)} names {test!r}, "
                     f"found in {len(bins)} files of tests/ (want exactly 1)")
        found.append((bins[0], test))
    return found


def miri_unavailable():
    """None if `cargo +nightly miri` runs, else why not."""
    try:
        out = subprocess.run(["cargo", "+nightly", "miri", "--version"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`cargo +nightly miri --version`: {e}"
    if out.returncode != 0:
        first = (out.stdout.strip().splitlines() or ["no output"])[0][:200]
        return f"`cargo +nightly miri --version` failed: {first}"
    return None


MIRI_SETUP = threading.Lock()
MIRI_SETUP_DONE = []


def miri_run(worker, binary, test, seeds):
    """Runs one test under Miri over `seeds` seeds; returns None if it passes, else why."""
    with MIRI_SETUP:
        # Once, before two workers' first Miri runs could race to build the sysroot.
        if not MIRI_SETUP_DONE:
            worker.cargo(["+nightly", "miri", "setup"], {"CARGO_TERM_COLOR": "never"},
                         timeout=MIRI_TIMEOUT)
            MIRI_SETUP_DONE.append(True)
    env = {
        "MIRIFLAGS": f"{MIRI_BASE_FLAGS} -Zmiri-many-seeds=0..{seeds}",
        "CARGO_TARGET_DIR": worker.miri_target,
        "CARGO_TERM_COLOR": "never",
    }
    # A name filter, as CI's seed sweep uses, not --exact: it also matches the per-storage
    # instances `TEST::heap` and `TEST::static_storage` of a test written for both.
    args = ["+nightly", "miri", "test", "-p", "ringway", "--test", binary, "--", test]
    try:
        out = worker.cargo(args, env, timeout=MIRI_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"miri::{test} (timed out after {MIRI_TIMEOUT}s)"
    if out.returncode == 0:
        if not re.search(r"ok\. [1-9]\d* passed", out.stdout):
            raise Fatal(f"mutants: miri ran no test named {test} in tests/{binary}.rs:\n"
                        f"{out.stdout[-2000:]}")
        return None
    if "error[" in out.stdout or "could not compile" in out.stdout:
        return f"(miri compile error) {out.stdout[-500:]}"
    seed = re.search(r"FAILING SEED: (\d+)", out.stdout)
    return f"miri::{test}" + (f" (seed {seed.group(1)})" if seed else "")


def miri_tests_for(path, tests):
    """The Miri tests whose binary judges `path` (see MODELS_FOR), in the list's order."""
    bins = binaries_for(path)
    return [(binary, test) for binary, test in tests if binary in bins]


def miri_judge(worker, tests, seeds):
    """Runs `tests` under Miri in order; returns ((binary, test), why) for the first that
    fails, or None if all pass."""
    for binary, test in tests:
        why = miri_run(worker, binary, test, seeds)
        if why is not None:
            return (binary, test), why
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="only sites in files whose path contains this")
    ap.add_argument("--allow", default=os.path.join(ROOT, "xtask", "mutants-allow.txt"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    ap.add_argument("--no-miri", action="store_true",
                    help="skip the Miri fallback for mutants that survive loom")
    ap.add_argument("--jobs", type=int, default=JOBS, metavar="N",
                    help=f"mutants judged at the same time, each in its own scratch copy "
                         f"(default {JOBS})")
    ap.add_argument("--miri-seeds", type=int, default=MIRI_SEEDS, metavar="N",
                    help=f"seeds per Miri test, -Zmiri-many-seeds=0..N (default {MIRI_SEEDS})")
    args = ap.parse_args()

    tests = miri_tests()
    miri_skipped = "--no-miri" if args.no_miri else miri_unavailable()
    if miri_skipped:
        print(f"SKIPPED: miri fallback ({miri_skipped}); loom survivors are judged by the "
              "allow-list alone", flush=True)

    allow = load_allow(args.allow)
    sites = list(find_sites(args.only))
    if not sites:
        sys.exit("mutants: no ordering sites found")
    jobs = max(1, min(args.jobs, len(sites)))
    workers = [Worker(i) for i in range(jobs)]
    for worker in workers:
        shutil.rmtree(worker.work, ignore_errors=True)
        # `shutil.copy` (not `copy2`): fresh modification times, so cargo never mistakes
        # the copy for older than a previous run's mutant build and reuses that build.
        shutil.copytree(ROOT, worker.work, ignore=shutil.ignore_patterns("target", ".git"),
                        copy_function=shutil.copy)
    seed_target(workers[0].target, REPO_LOOM_TARGET)

    # Baseline: the unmutated models must pass, or every mutant would look killed.
    binaries = sorted({b for s in sites for b in binaries_for(s[0])})
    models = {b: list_models(workers[0], b) for b in binaries}
    base = judge(workers[0], binaries, models)
    if base is not None:
        sys.exit(f"mutants: the unmutated loom models fail ({base}); fix that first")
    # The other workers start from the baseline's build (dependencies included).
    for worker in workers[1:]:
        seed_target(worker.target, workers[0].target)

    rows, killed, justified, survived = [], 0, 0, 0
    miri_runs, miri_kills, miri_seconds, miri_confirmed = 0, 0, 0.0, set()
    miri_untested = set()
    killed_allowed = []
    started = time.time()
    # The workers take sites in order from `todo` and record each verdict in `results`;
    # the main thread prints them in site order, each as soon as the sites before it are
    # done. `lock` guards the counters shared by the workers and the Miri kill checks.
    todo = queue.Queue()
    for number, site in enumerate(sites):
        todo.put((number, site))
    results = {}
    done = threading.Condition()
    lock = threading.Lock()
    failure = []

    def mutant(worker, site):
        nonlocal miri_runs, miri_kills, miri_seconds
        path, lineno, col, index, kind, code, function = site
        original = open(os.path.join(ROOT, path)).read()
        target = os.path.join(worker.work, path)
        with open(target, "w") as f:
            f.write(mutate(original, lineno, col, kind))
        t0 = time.time()
        killer = judge(worker, binaries_for(path), models)
        miri_killer = None
        if killer is None and not miri_skipped:
            if miri_tests_for(path, tests):
                m0 = time.time()
                miri_killer = miri_judge(worker, miri_tests_for(path, tests), args.miri_seeds)
                with lock:
                    miri_runs += 1
                    miri_seconds += time.time() - m0
            else:
                with lock:
                    miri_untested.add(path)
        with open(target, "w") as f:
            f.write(original)
        if miri_killer:
            (binary, test), killer = miri_killer
            with lock:
                miri_kills += 1
                # A kill counts only if the unmutated copy passes the same run (held
                # under the lock, so each test is checked once).
                if (binary, test) not in miri_confirmed:
                    m0 = time.time()
                    base = miri_run(worker, binary, test, args.miri_seeds)
                    miri_seconds += time.time() - m0
                    if base is not None:
                        raise Fatal(f"mutants: the unmutated code fails under miri ({base}); "
                                    "fix that first")
                    miri_confirmed.add((binary, test))
        return killer, time.time() - t0

    def work(worker):
        while not failure:
            try:
                number, site = todo.get_nowait()
            except queue.Empty:
                return
            try:
                result = mutant(worker, site)
            except BaseException as e:  # Fatal, SystemExit, a time-out: stop everything
                with done:
                    failure.append(e)
                    done.notify_all()
                return
            with done:
                results[number] = result
                done.notify_all()

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for number, (path, lineno, col, index, kind, code, function) in enumerate(sites):
        with done:
            while number not in results and not failure:
                done.wait()
            if failure:
                e = failure[0]
                sys.exit(e.code if isinstance(e, SystemExit) else
                         str(e) if isinstance(e, Fatal) else f"mutants: {e!r}")
            killer, took = results[number]
        reason = allow.get((path, function, code, index))
        if killer:
            killed += 1
            verdict = f"killed by {killer}"
            if reason:
                killed_allowed.append((path, function, code, index))
        elif reason:
            justified += 1
            verdict = f"survived, justified: {reason}"
        else:
            survived += 1
            verdict = "SURVIVED" + (" (loom; miri fallback skipped)" if miri_skipped else "")
        rows.append((f"{path}:{lineno}", function, code[:60], kind, verdict))
        print(f"{path}:{lineno} [{kind}] {verdict} ({took:.0f}s)", flush=True)
    for thread in threads:
        thread.join()

    # With --only, entries for other files are not judged in this run.
    stale = {e for e in allow if not args.only or args.only in e[0]}
    stale -= {(p, fn, c, i) for p, _, _, i, _, c, fn in sites}
    print()
    print("| site | fn | code | mutant | result |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(x.replace("|", "\\|") for x in row) + " |")
    print()
    print(f"sites: {len(sites)}, killed: {killed}, justified: {justified}, survived: {survived} "
          f"({time.time() - started:.0f}s)")
    if miri_skipped:
        print(f"SKIPPED: miri fallback ({miri_skipped})"
              + (f"; {survived} loom survivor(s) not judged by miri" if survived else ""))
    else:
        print(f"miri fallback: {miri_runs} loom survivor(s) run, {miri_kills} killed by miri, "
              f"{len(miri_confirmed)} kill(s) checked on the unmutated copy "
              f"({miri_seconds:.0f}s, {args.miri_seeds} seeds)")
        if miri_untested:
            print(f"miri fallback: no test in {os.path.relpath(MIRI_TESTS_FILE, ROOT)} judges "
                  f"{', '.join(sorted(miri_untested))}: their loom survivors were not run")
    if stale:
        print("allow-list entries matching no site (remove them):")
        for entry in sorted(stale):
            print(f"  {entry}")
    if killed_allowed:
        print("allow-list entries for killed mutants (remove them):")
        for entry in sorted(killed_allowed):
            print(f"  {entry}")
    if not args.keep:
        for worker in workers:
            shutil.rmtree(worker.work, ignore_errors=True)
    sys.exit(1 if survived or stale or killed_allowed else 0)


if __name__ == "__main__":
    main()
