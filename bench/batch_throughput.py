"""Submissions graded per minute by batch grading, and the cost of isolation per submission.

    python bench/batch_throughput.py [--count 200] [--jobs 2] [--timeout 3] [--sample 5] [--keep DIR]

Generates `count` submissions from solutions/: half correct, 30% buggy (solution bodies
stubbed out or with a sign flipped) and 20% hostile (infinite loop in a function or at
import, sys.exit and os._exit inside a function, a syntax error). Grades them with
`nnkit batch --jobs N --timeout T` and prints the throughput. Then, for `sample`
harmless submissions, times isolated grading (as the batch does it) against grading the
same submission in this process, and prints the difference in wall time and in CPU time
(this process plus the sandbox workers, as they report it): what isolation costs beyond
the checks themselves. Both run numpy single-threaded, as batch grading does (one
grading process per core) and held to one CPU, as grading is (grader.sandbox.on_one_cpu);
the two are alternated and medians are reported, since shared machines are noisy. One warm-up grading comes first; the fork server that
starts sandbox workers starts once per grading process and is reported on its own.
"""

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")  # before numpy is imported

from grader.authoring.regions import find_regions, stub_lines  # noqa: E402
from grader.classroom.batch import engine_name  # noqa: E402
from grader.registry import all_checks, load_rubric  # noqa: E402
from grader.results import run_check  # noqa: E402
from grader.sandbox import grade_isolated, on_one_cpu, shared_inputs  # noqa: E402
from grader.sandbox.spawn import spawner  # noqa: E402
from grader.target import load_impl  # noqa: E402

SOLUTIONS = ROOT / "solutions"
HOSTILE = {
    # kind: (module, function whose body is changed, line put first in the body)
    "loop_in_function": ("functions.py", "tanh", "while True:\n    pass"),
    "sys_exit": ("functions.py", "relu", "import sys\nsys.exit(0)"),
    "os_exit": ("functions.py", "sigmoid", "import os\nos._exit(0)"),
}


def regions_of(path):
    return find_regions(path.read_text(), str(path))


def edit_region(path, owner, change):
    """Rewrite the solution region of function `owner` in `path` with `change(region, lines)`."""
    lines = path.read_text().splitlines()
    (region,) = [r for r in regions_of(path) if r.owner == owner]
    lines[region.begin : region.end + 1] = change(region, lines[region.begin + 1 : region.end])
    path.write_text("\n".join(lines) + "\n")


def make_buggy(impl, rng):
    """Stub out one to three solution bodies, or flip a sign in one."""
    files = sorted(p for p in impl.glob("*.py") if regions_of(p))
    if rng.random() < 0.5:
        path = rng.choice(files)
        region = rng.choice([r for r in regions_of(path) if r.owner])
        flipped = [line.replace(" + ", " - ", 1) for line in region.body]
        edit_region(path, region.owner, lambda r, body: flipped)
        return
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(files)
        region = rng.choice([r for r in regions_of(path) if r.owner])
        edit_region(path, region.owner, lambda r, body: stub_lines(r))


def make_hostile(impl, kind):
    if kind == "loop_at_import":
        init = impl / "__init__.py"
        init.write_text("while True:\n    pass\n" + init.read_text())
    elif kind == "syntax_error":
        with open(impl / "layers.py", "a") as f:
            f.write("\ndef broken(:\n")
    else:
        module, owner, code = HOSTILE[kind]

        def insert(region, body):
            return [region.indent + line for line in code.splitlines()] + body

        edit_region(impl / module, owner, insert)


def generate(folder, count, seed=0):
    """Write `count` submissions into `folder`; return {name: kind}."""
    rng = random.Random(seed)
    hostile_kinds = ["loop_in_function", "loop_at_import", "sys_exit", "os_exit", "syntax_error"]
    kinds = {}
    for i in range(count):
        roll = rng.random()
        kind = "correct" if roll < 0.5 else ("buggy" if roll < 0.8 else rng.choice(hostile_kinds))
        name = f"student{i:03d}_{kind}"
        impl = folder / name
        shutil.copytree(SOLUTIONS, impl, ignore=shutil.ignore_patterns("__pycache__"))
        if kind == "buggy":
            make_buggy(impl, rng)
        elif kind != "correct":
            make_hostile(impl, kind)
        kinds[name] = kind
    return kinds


def in_process_seconds(impl):
    """(wall, CPU) seconds to grade `impl` in this process, held to one CPU as isolated grading is."""
    rubric = load_rubric()
    started, cpu = time.perf_counter(), time.process_time()
    with on_one_cpu():
        target = load_impl(impl)
        for check in all_checks():
            run_check(check, target, rubric[check.id].points)
    return time.perf_counter() - started, time.process_time() - cpu


def isolated_seconds(impl):
    """(wall, CPU) seconds to grade `impl` as the batch does; CPU = this process + its workers."""
    targets = []
    started, cpu = time.perf_counter(), time.process_time()
    grade_isolated(str(impl), target_out=targets)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return wall, cpu + sum(t.worker_cpu_seconds for t in targets)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200, help="submissions to generate (default 200)")
    parser.add_argument("--jobs", type=int, default=2, help="batch --jobs (default 2)")
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="batch --timeout: per import and check (default 3)"
    )
    parser.add_argument("--sample", type=int, default=5, help="submissions timed for the isolation overhead")
    parser.add_argument(
        "--keep", metavar="DIR", help="generate into DIR and keep it (default: a temporary folder)"
    )
    args = parser.parse_args(argv)

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="batch-bench-"))
    shutil.rmtree(base / "submissions", ignore_errors=True)
    shutil.rmtree(base / "out", ignore_errors=True)
    (base / "submissions").mkdir(parents=True)
    kinds = generate(base / "submissions", args.count)
    mix = {k: list(kinds.values()).count(k) for k in sorted(set(kinds.values()))}
    print(
        f"{args.count} submissions ({', '.join(f'{n} {k}' for k, n in mix.items())}); engine: {engine_name()}"
    )

    command = [
        sys.executable,
        "-m",
        "grader.cli",
        "batch",
        str(base / "submissions"),
        "--out",
        str(base / "out"),
    ]
    command += ["--jobs", str(args.jobs), "--timeout", str(args.timeout)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(f"batch grading failed with exit code {done.returncode}")
        return 1
    with open(base / "out" / "gradebook.csv") as f:
        book = {row["student"]: row for row in csv.DictReader(f)}
    full = [n for n, k in kinds.items() if k == "correct" and book[n]["percent"] == "100.0"]
    print(
        f"graded in {elapsed:.1f} s with --jobs {args.jobs}: {args.count / elapsed * 60:.1f} submissions per minute"
    )
    print(f"  correct submissions with full marks: {len(full)} of {mix.get('correct', 0)}")
    for kind in sorted(set(kinds.values()) - {"correct", "buggy"}):
        scores = sorted({float(book[n]["percent"]) for n, k in kinds.items() if k == kind})
        print(f"  {kind:<18} percent scores: {', '.join(f'{s:g}' for s in scores)}")

    harmless = [base / "submissions" / n for n, k in kinds.items() if k in ("correct", "buggy")][
        : args.sample
    ]
    overheads = []
    if harmless:  # once per grading process: start the sandbox's fork server, import the checks
        started = time.perf_counter()
        spawner()
        print(
            f"sandbox fork server started in {time.perf_counter() - started:.2f} s (once per grading process); "
            f"inputs: {shared_inputs()} (SandboxTarget.input_memory)"
        )
        isolated_seconds(harmless[0]), in_process_seconds(harmless[0])
    for impl in harmless:
        isolated, local = isolated_seconds(impl), in_process_seconds(impl)
        overheads.append((isolated, local))
    if overheads:
        wall = median([i[0] - j[0] for i, j in overheads])
        cpu = median([i[1] - j[1] for i, j in overheads])
        iso, loc = median([i[0] for i, _ in overheads]), median([j[0] for _, j in overheads])
        print(
            f"isolation overhead per submission beyond the checks (median of {len(overheads)}): "
            f"{wall:.2f} s wall time (isolated {iso:.2f} s, in-process {loc:.2f} s), "
            f"{cpu:.2f} s CPU time (grading process + its workers)"
        )
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
