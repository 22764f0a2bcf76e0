"""Grade a folder of submissions: a gradebook CSV and per-student feedback.

    nnkit batch SUBMISSIONS --out OUTDIR [--jobs N] [--force] [--dask ADDRESS|local] [--only NAME ...]

SUBMISSIONS holds one entry per student: a directory laid out like exercises/, a .zip
of one, or an nbgrader student folder of submitted notebooks (see grader/classroom/submissions.py).
Each submission is graded on its own, in its own process, with a time limit; a broken
or hostile submission only ever costs its own points.

OUTDIR receives
    gradebook.csv              student, total, max, percent, one column per exercise, status, notes
    feedback/<student>.txt     the report the student would see running the grader locally
    feedback/<student>.json    the same results in Gradescope's results.json format
    results/<student>.json     everything graded, used to resume

Every entry of SUBMISSIONS gets a row, graded or with the reason it could not be. Names
are kept as written; the files of a name that is not plain lower-case ASCII carry a hash
of it (`José~1f0e2d3c4b.txt`, see grader.classroom.submissions.file_stem). Cells of the CSV that a
spreadsheet would run as a formula are escaped with a leading '; the JSON keeps them as
they are.

Every file is written to a temporary name and renamed into place, so a killed run leaves
the previous gradebook (or none), never half of one. A re-run grades only submissions that
are new or changed (or were graded by another version of the grader); --force regrades all.

--dask ADDRESS sends the same per-submission job to a Dask scheduler (the workers need this
kit installed); --dask local starts a local Dask cluster with --jobs workers.
"""

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path

from grader.classroom.submissions import (
    SubmissionError,
    content_hash,
    discover,
    file_stem,
    pack,
    prepare,
    safe_extract,
    student_name,
)
from grader.expected import kit_fingerprint_of
from grader.files import replaced
from grader.hints import MISTAKE_ID
from grader.installed import KIT_ROOT
from grader.registry import RubricEntry, all_checks, load_rubric
from grader.report import gradescope_results, summary_table
from grader.results import CheckResult

CHILD_TIMEOUT = 600.0  # without the sandbox: wall-clock seconds for grading one whole submission
# The checks' data seed is process-wide while a submission is graded: one submission at a
# time per process (threads of a Dask worker wait their turn; use processes for parallelism).
GRADING_LOCK = threading.Lock()


# -- grading one implementation directory ------------------------------------------------------
def isolated_grader():
    """grader.sandbox.grade_isolated when this installation has it, else None."""
    try:
        from grader.sandbox import grade_isolated
    except ImportError:
        return None
    return grade_isolated


def engine_name():
    return "sandbox" if isolated_grader() else "subprocess"


def isolation_name():
    """The sandbox's isolation on this machine ("namespaces", "basic"), or "none" without the sandbox."""
    if not isolated_grader():
        return "none"
    from grader.sandbox import available_isolation

    return available_isolation()


def unusable_results(message):
    """A zero for every check, each carrying `message` (for a submission that cannot be graded)."""
    rubric = load_rubric()
    return [
        CheckResult(
            c.id,
            c.exercise,
            "error",
            0.0,
            rubric.get(c.id, RubricEntry(1.0)).points,
            message,
            visibility=rubric.get(c.id, RubricEntry(1.0)).visibility,
        )
        for c in all_checks()
    ]


def results_from_gradescope(data, problem, missing_status="error"):
    """CheckResults from a child's results.json; points and visibility come from the trusted rubric.

    A check missing from `data` (or all of them when `data` is None) gets zero, `problem` and
    `missing_status`.
    """
    rubric = load_rubric()
    tests = {t.get("name"): t for t in (data or {}).get("tests", []) if isinstance(t, dict)}
    results = []
    for c in all_checks():
        entry = rubric.get(c.id, RubricEntry(1.0))
        test = tests.get(c.id)
        if test is None:
            results.append(
                CheckResult(
                    c.id, c.exercise, missing_status, 0.0, entry.points, problem, visibility=entry.visibility
                )
            )
            continue
        passed = test.get("status") == "passed"
        message = "" if passed else str(test.get("output", ""))
        status = "passed" if passed else "failed"
        if message.split("\n", 1)[0].endswith("is not implemented yet"):
            status = "not implemented"
        elif "did not finish within" in message:
            status = "timeout"
        points = entry.points if passed else 0.0
        mistake = (
            (test.get("extra_data") or {}).get("mistake")
            if isinstance(test.get("extra_data"), dict)
            else None
        )
        results.append(
            CheckResult(
                c.id,
                c.exercise,
                status,
                points,
                entry.points,
                message,
                visibility=entry.visibility,
                mistake=mistake if isinstance(mistake, str) and MISTAKE_ID.fullmatch(mistake) else None,
            )
        )
    return results


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def grade_in_child(impl_dir, timeout=None):
    """Grade `impl_dir` with `python -m grader` in a child process group (killed after `timeout` s).

    The fallback when grader.sandbox is missing: it isolates crashes, hangs and exits, but the
    submission shares the child with the checks, so it is not tamper-proof.
    """
    timeout = timeout or CHILD_TIMEOUT
    with tempfile.TemporaryDirectory(prefix="grade-") as work:
        out = Path(work) / "results.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONPATH"] = str(KIT_ROOT)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        command = [
            sys.executable,
            "-m",
            "grader",
            "--impl",
            str(Path(impl_dir).resolve()),
            "--json",
            str(out),
        ]
        process = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        status = "error"
        try:
            code = process.wait(timeout=timeout)
            problem = f"grading stopped early (exit code {code}): does your code call sys.exit or os._exit?"
        except subprocess.TimeoutExpired:
            status = "timeout"
            problem = f"grading did not finish within {timeout:g} s: an infinite loop, or very slow code?"
        finally:
            _kill_group(process)  # also ends children the submission left behind
            process.wait()
        data = None
        try:
            data = json.loads(out.read_text())
        except (OSError, ValueError):
            pass
        return results_from_gradescope(data, problem, status)


def grade_directory(impl_dir, timeout=None, seed=None):
    """Every check's result for the implementation at `impl_dir`, graded outside this process.

    With the sandbox, `timeout` limits the import and each check (None: each check's own
    limit); without it, `timeout` limits the whole submission (None: CHILD_TIMEOUT).
    """
    grade_isolated = isolated_grader()
    if grade_isolated is None:
        return grade_in_child(impl_dir, timeout)
    from grader.sandbox import Limits

    limits = Limits() if timeout is None else Limits(import_seconds=timeout, check_seconds=timeout)
    with GRADING_LOCK:
        return grade_isolated(str(impl_dir), seed=seed, limits=limits)


def grade_job(payload, timeout=None, seed=None):
    """The per-submission job: unpack an implementation (zip bytes) and grade it; never raises.

    Returns a plain dict (status, problem, seconds, engine, results as dicts), so the
    same job runs in a local thread, a Dask worker or anywhere else.
    """
    started = time.perf_counter()
    status, problem = "graded", ""
    try:
        with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
            impl = safe_extract(payload, Path(scratch) / "impl")
            results = [without_paths(r, _folders(impl, "")) for r in grade_directory(impl, timeout, seed)]
    except SubmissionError as error:
        status, problem = "invalid submission", str(error)
        results = unusable_results(problem)
    except Exception as error:  # noqa: BLE001 - one submission's grading failure must not stop the batch
        status, problem = "grading error", f"the grader failed: {type(error).__name__}: {error}"
        results = unusable_results(problem)
    return {
        "status": status,
        "problem": problem,
        "seconds": round(time.perf_counter() - started, 3),
        "engine": engine_name(),
        "isolation": isolation_name(),
        "results": [dataclasses.asdict(r) for r in results],
    }


# -- writing files -----------------------------------------------------------------------------
def write_atomic(path, text):
    """Write `text` to a temporary file beside `path` and rename it into place."""
    # a lone surrogate (from a student's exception message) is written as \udXXX, not an error
    with replaced(path, encoding="utf-8", errors="backslashreplace", newline="") as f:
        f.write(text)


# Modules of grader/ that never change a result: what reads results, builds the course or parses commands.
NOT_GRADING = (
    "authoring/",
    "cli.py",
    "classroom/class_report.py",
    "classroom/canvas.py",
    "classroom/similarity.py",
)


def grader_fingerprint():
    """sha256 of the grader's code and rubric: results from another grader version are regraded."""
    grader_dir = KIT_ROOT / "grader"
    files = {
        f"grader/{rel}": path.read_bytes()
        for path in grader_dir.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not (rel := path.relative_to(grader_dir).as_posix()).startswith(NOT_GRADING)
    }
    return kit_fingerprint_of(files)


def check_results(record):
    return [CheckResult(**r) for r in record["results"]]


# -- what a student reads names no folder of this machine ----------------------------------
def _folders(path, shown_as):
    """(folder, shown as) for `path` as given and resolved."""
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):
        resolved = Path(path)
    return [(str(p).rstrip("/"), shown_as) for p in {Path(path), resolved} if len(str(p)) > 1]


def host_folders(record=None):
    """Folders of this machine that may appear in messages, with what a student reads instead."""
    pairs = []
    if record and record.get("submission"):
        source = Path(record["submission"])
        pairs += _folders(source, "") + _folders(source.parent, "")
    pairs += _folders(KIT_ROOT, "")
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        pairs += _folders(prefix, "<python>/")
    pairs += _folders(tempfile.gettempdir(), "<tmp>/") + _folders(Path.home(), "~/")
    return sorted(set(pairs), key=lambda pair: -len(pair[0]))


def scrub(text, folders):
    """`text` with every `folder/` written as its replacement, and a bare folder name as `.`."""
    if not text:
        return text
    for folder, shown_as in folders:
        text = text.replace(folder + "/", shown_as)
        text = re.sub(re.escape(folder) + r"(?![\w.-])", shown_as.rstrip("/") or ".", text)
    return text


def without_paths(result, folders):
    """A copy of a CheckResult whose message, hint and notes name none of `folders`."""
    return dataclasses.replace(
        result,
        message=scrub(result.message, folders),
        hint=scrub(result.hint, folders),
        notes=[scrub(str(note), folders) for note in result.notes],
    )


def _student_view(record):
    folders = host_folders(record)
    results = [without_paths(r, folders) for r in check_results(record)]
    return results, scrub(record.get("problem") or "", folders)


def feedback_text(record):
    """What the student reads: the local grader's report, after any problem with the submission."""
    results, problem = _student_view(record)
    if problem and record.get("status") == "invalid submission":  # nothing was graded: one line says why
        total = sum(r.max_points for r in results)
        return f"Your submission could not be graded: {problem}\n\nScore: 0 / {total:g}\n"
    text = summary_table(results)
    if problem:
        text = f"Your submission could not be graded: {problem}\n\n{text}"
    return text + "\n"


def feedback_json(record):
    results, problem = _student_view(record)
    data = gradescope_results(results, record.get("seconds"))
    if problem:
        data["output"] = f"Your submission could not be graded: {problem}"
    return data


class Outputs:
    """The files of OUTDIR: per-student results and feedback, and the gradebook."""

    def __init__(self, out):
        self.root = Path(out)
        self.results = self.root / "results"
        self.feedback = self.root / "feedback"
        self.gradebook = self.root / "gradebook.csv"

    def result_path(self, name):
        return self.results / f"{file_stem(name)}.json"

    def stored_key(self, name):
        try:
            record = json.loads(self.result_path(name).read_text(encoding="utf-8"))
            return record.get("key") if record.get("student") == name else None
        except (OSError, ValueError, AttributeError):
            return None

    def save(self, record):
        """Feedback first, then the result (the result file marks the submission as done)."""
        stem = file_stem(record["student"])
        write_atomic(self.feedback / f"{stem}.txt", feedback_text(record))
        write_atomic(self.feedback / f"{stem}.json", json.dumps(feedback_json(record), indent=2))
        write_atomic(self.result_path(record["student"]), json.dumps(record, indent=2))

    def records(self):
        """Every stored record, one per student (the one in the student's own file if two claim a name)."""
        found = {}
        for path in sorted(self.results.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                name = record["student"]
                if not isinstance(name, str):
                    raise ValueError("no student name")
            except (OSError, ValueError, TypeError, KeyError):
                print(f"warning: skipping unreadable {path}", file=sys.stderr)
                continue
            if name not in found or path.stem == file_stem(name):
                found[name] = record
        return list(found.values())

    def write_gradebook(self, records, notes=None):
        write_atomic(self.gradebook, gradebook_csv(records, notes))


def notes_for(record, results):
    """A short reason for a low score: the submission's problem, a failed import, checks that timed out or crashed."""
    if record.get("problem"):
        return record["problem"]
    notes = []
    imports = [r.message for r in results if "import failed:" in r.message]
    if imports:
        reason = imports[0].split("import failed:", 1)[1].strip().removesuffix(")")
        notes.append(f"import failed: {reason}"[:200])
    broken = [r for r in results if r.status in ("timeout", "error")]
    counts = {}
    for r in broken:
        counts[r.status] = counts.get(r.status, 0) + 1
    words = {"timeout": "timed out", "error": "crashed"}
    notes += [f"{n} check{'s' * (n != 1)} {words[s]}" for s, n in counts.items()]
    if broken and not imports:
        example = broken[0].message.splitlines()[0] if broken[0].message else ""
        notes.append(f"e.g. {example[:157] + '...' if len(example) > 160 else example}")
    return "; ".join(notes)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text):
    """`text` as a spreadsheet shows it, never as a formula: a leading = + - @ gets a '."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def gradebook_csv(records, notes=None):
    """The gradebook as CSV text: one row per student, exercises in curriculum order.

    notes: {student: text} added to a row's notes (e.g. a name shared with another entry).
    """
    notes = notes or {}
    exercises = list(dict.fromkeys(c.exercise for c in all_checks()))
    for record in records:
        for r in record["results"]:
            if r["exercise"] not in exercises:
                exercises.append(r["exercise"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "total", "max", "percent", *exercises, "status", "notes"])
    for record in sorted(records, key=lambda r: r["student"]):
        results = check_results(record)
        got, possible = sum(r.points for r in results), sum(r.max_points for r in results)
        per_exercise = {}
        for r in results:
            per_exercise[r.exercise] = per_exercise.get(r.exercise, 0.0) + r.points
        percent = 100 * got / possible if possible else 0.0
        note = "; ".join(n for n in (notes.get(record["student"]), notes_for(record, results)) if n)
        writer.writerow(
            [
                csv_cell(record["student"]),
                f"{got:g}",
                f"{possible:g}",
                f"{percent:.1f}",
                *(f"{per_exercise[e]:g}" if e in per_exercise else "" for e in exercises),
                csv_cell(record["status"]),
                csv_cell(note),
            ]
        )
    return buffer.getvalue()


# -- running many jobs -------------------------------------------------------------------------
def failed_job(problem, engine):
    """The record of a job that did not come back (its worker process died)."""
    return {
        "status": "grading error",
        "problem": problem,
        "seconds": None,
        "engine": engine,
        "results": [dataclasses.asdict(r) for r in unusable_results(problem)],
    }


def hold_to_cpu(counter):
    """Pool initializer: the k-th job process runs on the k-th CPU it may use, and its sandbox
    workers with it (a job and its worker take turns; two jobs never share a CPU by chance)."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the scheduler decides
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})


def run_local(tasks, jobs, timeout):
    """Yield (name, record) as each (name, payload) task finishes, `jobs` processes at a time."""
    if jobs <= 1:
        for name, payload in tasks:
            yield name, grade_job(payload, timeout)
        return
    context = multiprocessing.get_context("spawn")
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")  # one grading process per core: no BLAS threads on top
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=hold_to_cpu, initargs=(context.Value("i", 0),)
    )
    with pool:
        futures = {pool.submit(grade_job, payload, timeout): name for name, payload in tasks}
        try:
            for future in as_completed(futures):
                try:
                    record = future.result()
                except Exception as error:  # noqa: BLE001 - a lost worker costs one submission, reported
                    record = failed_job(
                        f"the grading process failed: {type(error).__name__}: {error}", "local"
                    )
                yield futures[future], record
        finally:
            for future in futures:
                future.cancel()


def connect_dask(address, jobs):
    """(client, cluster) for the Dask scheduler at `address`; "local" starts a LocalCluster (cluster is None otherwise)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SubmissionError("--dask needs the 'distributed' package: pip install distributed") from None
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        else:
            client = Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        if cluster is not None:
            cluster.close()
        raise SubmissionError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    return client, cluster


def run_dask(tasks, client, cluster, timeout):
    """Like run_local, on a connected Dask client; closes the client (and the local cluster) when done."""
    from distributed import as_completed as dask_completed

    run_id = uuid.uuid4().hex[:8]
    try:
        futures = {
            client.submit(
                grade_job, payload, timeout, key=f"grade-{file_stem(name)}-{run_id}", pure=False
            ): name
            for name, payload in tasks
        }
        for future in dask_completed(futures):
            name = futures[future]
            try:
                record = future.result()
            except Exception as error:  # noqa: BLE001 - a lost worker costs one submission, reported
                record = failed_job(
                    f"the grading job failed on the cluster: {type(error).__name__}: {error}", "dask"
                )
            yield name, record
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _progress(total, quiet=False):
    from tqdm import tqdm

    return tqdm(
        total=total, unit="submission", desc="grading", file=sys.stderr, dynamic_ncols=True, disable=quiet
    )


def check_out_folder(submissions_dir, out):
    """SubmissionError when OUTDIR would be read as submissions or hide one: the submissions folder
    itself, a folder inside a student's entry, or a folder in SUBMISSIONS that holds something other
    than an earlier batch output (a student's folder)."""
    given, target = Path(submissions_dir).resolve(), Path(out).resolve()
    folder = given / "submitted" if (given / "submitted").is_dir() else given
    if target in (given, folder):
        raise SubmissionError(f"--out {out}: that is where the submissions are; choose another folder")
    if not target.is_relative_to(folder):
        return
    entry = folder / target.relative_to(folder).parts[0]
    earlier_output = (entry / "results").is_dir() or (entry / "gradebook.csv").is_file()
    if entry != target or (entry.exists() and not earlier_output and any(entry.iterdir())):
        raise SubmissionError(
            f"--out {out}: inside SUBMISSIONS, in {entry.name}, which is not a batch output "
            "(a student's submission?); choose a folder outside SUBMISSIONS"
        )


def grade_batch(submissions_dir, out, jobs=1, force=False, dask=None, only=None, timeout=None, quiet=False):
    """Grade every (new or changed) submission and rebuild the gradebook; return a summary dict."""
    check_out_folder(submissions_dir, out)
    outputs = Outputs(out)
    everyone = discover(submissions_dir, exclude=[outputs.root])
    submissions = discover(submissions_dir, only=only, exclude=[outputs.root]) if only else everyone
    fingerprint = grader_fingerprint()
    summary = {"graded": 0, "skipped": 0, "problems": 0, "gone": []}
    tasks, keys, sources = [], {}, {}
    for submission in submissions:  # one entry's problem is its own row, never the batch's
        name, source, key = submission.name, str(Path(submission.path).absolute()), None
        try:
            if submission.kind == "invalid":
                key = _key(f"invalid:{submission.problem}", fingerprint)
            else:
                key = _key(content_hash(submission), fingerprint)
            if not force and outputs.stored_key(name) == key:
                summary["skipped"] += 1
                continue
            with tempfile.TemporaryDirectory(prefix="pack-") as scratch:
                payload = pack(prepare(submission, Path(scratch) / "impl"))
        except Exception as error:  # noqa: BLE001 - unreadable files, broken notebooks, anything
            if isinstance(error, SubmissionError):
                problem = str(error)
            else:
                problem = f"cannot read it: {type(error).__name__}: {error}"
            record = {
                "status": "invalid submission",
                "problem": problem,
                "seconds": 0.0,
                "engine": "none",
                "results": [dataclasses.asdict(r) for r in unusable_results(problem)],
            }
            outputs.save(_finish(record, name, key, source))
            summary["problems"] += 1
            continue
        keys[name], sources[name] = key, source
        tasks.append((name, payload))
    if tasks:
        if dask:
            client, cluster = connect_dask(dask, jobs)
            finished = run_dask(tasks, client, cluster, timeout)
        else:
            finished = run_local(tasks, jobs, timeout)
        with _progress(len(tasks), quiet) as bar:
            for name, record in finished:
                outputs.save(_finish(record, name, keys[name], sources[name]))
                summary["graded"] += 1
                summary["problems"] += record["status"] != "graded"
                bar.set_postfix_str(name, refresh=False)
                bar.update()
    present = {submission.name for submission in everyone}
    records = outputs.records()
    # results of submissions that are no longer in the folder stay on disk, out of the gradebook
    summary["gone"] = sorted(r["student"] for r in records if r["student"] not in present)
    outputs.write_gradebook([r for r in records if r["student"] in present], shared_name_notes(everyone))
    return summary


def _key(content, fingerprint):
    return hashlib.sha256(f"{content}:{fingerprint}".encode()).hexdigest()


def shared_name_notes(submissions):
    """{student: note} for entries named by their full name because another entry has the same name."""
    groups = {}
    for submission in submissions:
        groups.setdefault(student_name(submission.path), []).append(submission.name)
    return {
        name: f"entries {', '.join(names)} have the same name: keep one"
        for names in groups.values()
        if len(names) > 1
        for name in names
    }


def _finish(record, name, key, source):
    return {
        "student": name,
        "submission": source,
        "key": key,
        "graded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **record,
    }


# -- command line --------------------------------------------------------------------------------
USER_ERRORS = (SubmissionError,)  # what nnkit reports as one line, exit status 2
EXAMPLES = """\
examples:
  nnkit batch submissions/ --out graded/ --jobs 2
  nnkit batch submissions/ --out graded/ --dask local --jobs 2         a local Dask cluster
  nnkit batch submissions/ --out graded/ --dask tcp://scheduler:8786   an existing cluster
  nnkit batch submissions/ --out graded/ --only alice bob --force      regrade two students
"""


def add_arguments(parser):
    parser.add_argument("submissions", metavar="SUBMISSIONS", help="folder with one submission per student")
    parser.add_argument(
        "--out", required=True, metavar="OUTDIR", help="folder for the gradebook and feedback"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="submissions graded at once (default 1)"
    )
    parser.add_argument("--force", action="store_true", help="regrade submissions that are already graded")
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="grade on a Dask scheduler (tcp://host:8786), or 'local' for a LocalCluster",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="grade only these students")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="time limit for importing a submission and for each check (default: each check's own limit; "
        f"without grader.sandbox: for the whole submission, default {CHILD_TIMEOUT:g})",
    )


def run(args):
    if args.jobs < 1:
        raise SubmissionError("--jobs must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise SubmissionError("--timeout must be positive")
    try:
        summary = grade_batch(
            args.submissions, args.out, args.jobs, args.force, args.dask, args.only, args.timeout, args.quiet
        )
    except KeyboardInterrupt:
        print(
            "interrupted: graded submissions are kept; run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    gradebook = Path(args.out) / "gradebook.csv"
    if summary["gone"]:
        print(
            f"warning: left out of the gradebook, no submission any more: {', '.join(summary['gone'])} "
            f"(their results stay in {Path(args.out) / 'results'})",
            file=sys.stderr,
        )
    if not args.dask and isolation_name() == "basic":
        from grader.sandbox.limits import BASIC_WARNING

        print(BASIC_WARNING, file=sys.stderr)
    if not args.quiet:
        print(
            f"graded {summary['graded']}, already graded {summary['skipped']}, "
            f"with problems {summary['problems']}; gradebook: {gradebook}"
        )
    return 0
