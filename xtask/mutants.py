#!/usr/bin/env python3
"""Ordering mutation check for ringway.

For every atomic ordering argument in src/ (each `Ordering::Acquire`, `Release`,
`AcqRel` and `SeqCst` token) and every `fence(...)` call, build a scratch copy of the
crate with that one site weakened (the token to `Ordering::Relaxed`, the fence
removed), run the loom models that cover the file, and report which model killed the
mutant. A mutant that survives must be listed, with a written reason, in the
allow-list (xtask/mutants-allow.txt); otherwise the tool exits non-zero.

Usage: python3 xtask/mutants.py [--only SUBSTR] [--allow FILE] [--keep]

Allow-list lines: `FILE | FN | CODE | N | reason`, where FN is the enclosing function,
CODE the trimmed source line and N the 1-based index of the site among the sites on
that line. Matching by code, not line number, keeps the list valid when unrelated
lines move.

Each mutant is judged by running the test binary of its file's models (a loom race
can abort a whole binary, so the killer is then found by running each model alone).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRATCH = os.environ.get("MUTANTS_SCRATCH", "/tmp/ringway-mutants")
ORDERING = re.compile(r"Ordering::(Acquire|Release|AcqRel|SeqCst)\b")
FENCE = re.compile(r"\bfence\((?:Ordering::)?\w+\);")

# Which loom model binaries judge a source file; files not listed get all of them.
# The first matching prefix wins, so the waiting files come before "src/spsc/".
MODELS_FOR = {
    "src/wait.rs": ["waiting"],
    "src/spsc/waiting.rs": ["waiting"],
    "src/mpmc/waiting.rs": ["waiting"],
    "src/spsc/": ["spsc"],
    "src/buffer.rs": ["spsc"],
    "src/mpmc.rs": ["mpmc"],
}


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


def cargo(args, env_extra, timeout=900):
    env = dict(os.environ)
    env.update(env_extra)
    return subprocess.run(
        ["cargo"] + args, cwd=os.path.join(SCRATCH, "work"), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )


LOOM_ENV = {
    "RUSTFLAGS": "--cfg loom",
    "LOOM_MAX_PREEMPTIONS": "3",
    "CARGO_TARGET_DIR": os.path.join(SCRATCH, "target"),
    "CARGO_TERM_COLOR": "never",
}
TEST = ["test", "-p", "loom-tests", "--profile", "loom"]


def list_models(binary):
    out = cargo(TEST + ["--test", binary, "--", "--list"], LOOM_ENV)
    if out.returncode != 0:
        sys.exit(f"mutants: cannot list models of {binary}:\n{out.stdout[-3000:]}")
    return [l[: -len(": test")] for l in out.stdout.splitlines() if l.endswith(": test")]


def judge(binaries, models):
    """Returns the name of a model that fails, or None if all pass."""
    for binary in binaries:
        try:
            out = cargo(TEST + ["--test", binary], LOOM_ENV)
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
                one = cargo(TEST + ["--test", binary, "--", "--exact", model], LOOM_ENV)
            except subprocess.TimeoutExpired:
                return f"{binary}::{model} (timed out)"
            if one.returncode != 0:
                return f"{binary}::{model}"
        return f"{binary} (aborted; no single model fails alone)"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="only sites in files whose path contains this")
    ap.add_argument("--allow", default=os.path.join(ROOT, "xtask", "mutants-allow.txt"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    args = ap.parse_args()

    allow = load_allow(args.allow)
    sites = list(find_sites(args.only))
    if not sites:
        sys.exit("mutants: no ordering sites found")
    work = os.path.join(SCRATCH, "work")
    shutil.rmtree(work, ignore_errors=True)
    # `shutil.copy` (not `copy2`): fresh modification times, so cargo never mistakes the
    # copy for older than a previous run's mutant build and reuses that build.
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("target", ".git"),
                    copy_function=shutil.copy)

    # Baseline: the unmutated models must pass, or every mutant would look killed.
    binaries = sorted({b for s in sites for b in binaries_for(s[0])})
    models = {b: list_models(b) for b in binaries}
    base = judge(binaries, models)
    if base is not None:
        sys.exit(f"mutants: the unmutated loom models fail ({base}); fix that first")

    rows, killed, justified, survived = [], 0, 0, 0
    started = time.time()
    for path, lineno, col, index, kind, code, function in sites:
        original = open(os.path.join(ROOT, path)).read()
        target = os.path.join(work, path)
        with open(target, "w") as f:
            f.write(mutate(original, lineno, col, kind))
        t0 = time.time()
        killer = judge(binaries_for(path), models)
        with open(target, "w") as f:
            f.write(original)
        reason = allow.get((path, function, code, index))
        if killer:
            killed += 1
            verdict = f"killed by {killer}"
        elif reason:
            justified += 1
            verdict = f"survived, justified: {reason}"
        else:
            survived += 1
            verdict = "SURVIVED"
        rows.append((f"{path}:{lineno}", function, code[:60], kind, verdict))
        print(f"{path}:{lineno} [{kind}] {verdict} ({time.time() - t0:.0f}s)", flush=True)

    stale = set(allow) - {(p, fn, c, i) for p, _, _, i, _, c, fn in sites}
    print()
    print("| site | fn | code | mutant | result |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(x.replace("|", "\\|") for x in row) + " |")
    print()
    print(f"sites: {len(sites)}, killed: {killed}, justified: {justified}, survived: {survived} "
          f"({time.time() - started:.0f}s)")
    if stale:
        print("allow-list entries matching no site (remove them):")
        for entry in sorted(stale):
            print(f"  {entry}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if survived or stale else 0)


if __name__ == "__main__":
    main()
