"""Build the Gradescope autograder zip, and grade one submission inside Gradescope.

    nnkit gradescope --out autograder.zip [--rubric RUBRIC.toml]

The zip holds `setup.sh` (installs Python and the grader's dependencies with pip),
`run_autograder`, `requirements.txt`, the grader package (with its rubric: checks marked
`after_published` there stay hidden from students until grades are published), the
student stubs of exercises/ (so modules a student did not upload grade as not
implemented). Never solutions/.

Inside Gradescope, `run_autograder` calls

    python -m grader.classroom.gradescope --grade-submission      (nnkit gradescope --grade-submission)

which turns /autograder/submission (a zip, a folder laid out like exercises/, or loose .py
files) into an implementation directory, grades it in isolation and writes
/autograder/results/results.json. The /autograder root can be moved with the
AUTOGRADER_ROOT environment variable (or --root).
"""

import argparse
import json
import os
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

from grader.installed import KIT_ROOT, STUBS, dependencies

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"

usable() {  # a Python >= 3.11 that can make virtual environments
  command -v "$1" >/dev/null 2>&1 &&
    "$1" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}
pick_python() {
  for candidate in python3 python3.13 python3.12 python3.11; do
    if usable "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

PY="$(pick_python || true)"
if [ -z "$PY" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y python3-venv || true
  apt-get install -y python3.11 python3.11-venv || true
  PY="$(pick_python)" || { echo "setup.sh: no Python >= 3.11 available" >&2; exit 1; }
fi

"$PY" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --upgrade pip
"$ROOT/venv/bin/python" -m pip install -r "$ROOT/source/requirements.txt"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into
# /autograder/results/results.json. AUTOGRADER_ROOT moves /autograder (for testing);
# GRADER_TIMEOUT (seconds) replaces the time limit of the import and of every check.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${AUTOGRADER_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/venv/bin/python" ]; then PY="$ROOT/venv/bin/python"; else PY=python3; fi
fi
cd "$ROOT/source"
exec "$PY" -E -s -m grader.classroom.gradescope --grade-submission --root "$ROOT" ${GRADER_TIMEOUT:+--timeout "$GRADER_TIMEOUT"}
"""


class BundleError(Exception):
    """The bundle cannot be built; the message says why."""


USER_ERRORS = (BundleError,)  # what nnkit reports as one line, exit status 2


# -- building --------------------------------------------------------------------------------
def requirements():
    """The grader's run-time dependencies."""
    return dependencies()


def bundle_files(rubric=None):
    """{path in the zip: bytes}: the grader package (hidden checks and oracles included: Gradescope grades
    on the instructor's side), the stubs and the scripts; never solutions/."""
    files = {}
    for path in sorted((KIT_ROOT / "grader").rglob("*")):
        rel = path.relative_to(KIT_ROOT)
        if path.is_file() and path.suffix in (".py", ".toml", ".in") and "__pycache__" not in rel.parts:
            files[rel.as_posix()] = path.read_bytes()
    if rubric is not None:
        text = Path(rubric).read_bytes()
        try:
            tomllib.loads(text.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise BundleError(f"{rubric}: not a valid rubric file ({error})") from None
        files["grader/rubric.toml"] = text
    for path in sorted(STUBS.glob("*.py")):
        files[f"exercises/{path.name}"] = path.read_bytes()
    needs = requirements() + (
        ["nbformat"] if "grader/classroom/notebooks.py" in files else []
    )  # notebook uploads
    files["requirements.txt"] = ("\n".join(needs) + "\n").encode()
    files["setup.sh"] = SETUP_SH.encode()
    files["run_autograder"] = RUN_AUTOGRADER.encode()
    leaked = [p for p in files if p.startswith("solutions/")]
    if leaked:
        raise BundleError(f"refusing to bundle instructor-only files: {', '.join(leaked)}")
    return files


def build_bundle(out, rubric=None):
    """Write the autograder zip to `out` (atomically); return the list of its files."""
    from grader.files import replaced

    files = bundle_files(rubric)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replaced(out, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            mode = 0o755 if name in ("setup.sh", "run_autograder") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return list(files)


# -- grading inside Gradescope -------------------------------------------------------------------
def grade_submission(root, timeout=None):
    """Grade `root`/submission and write `root`/results/results.json; return the results data."""
    from grader.classroom.batch import grade_directory, unusable_results, write_atomic
    from grader.classroom.submissions import SubmissionError, prepare_upload
    from grader.report import gradescope_results

    root = Path(root)
    started = time.perf_counter()
    output = None
    try:
        with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
            impl = prepare_upload(root / "submission", Path(scratch) / "impl", STUBS)
            results = grade_directory(impl, timeout)
    except SubmissionError as error:
        output = f"Your submission could not be graded: {error}"
        results = unusable_results(output)
    data = gradescope_results(results, time.perf_counter() - started)
    if output:
        data["output"] = output
    write_atomic(root / "results" / "results.json", json.dumps(data, indent=2))
    return data


EXAMPLES = """\
examples:
  nnkit gradescope --out autograder.zip            upload as a "zip file upload" autograder
  nnkit gradescope --out autograder.zip --rubric week3.toml
"""


def add_arguments(parser):
    parser.add_argument(
        "--out", metavar="ZIP", help="where to write the autograder zip (e.g. autograder.zip)"
    )
    parser.add_argument(
        "--rubric", metavar="TOML", help="rubric to bundle (default: the grader's rubric.toml)"
    )
    parser.add_argument(
        "--grade-submission",
        action="store_true",
        help="inside Gradescope: grade ROOT/submission into ROOT/results/results.json",
    )
    parser.add_argument(
        "--root",
        default=os.environ.get("AUTOGRADER_ROOT", "/autograder"),
        help="the autograder root (default: $AUTOGRADER_ROOT or /autograder)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="time limit for the import and each check (default: each check's own limit)",
    )


def run(args):
    if args.grade_submission:
        if not (Path(args.root) / "submission").is_dir():
            raise BundleError(f"{Path(args.root) / 'submission'}: no such directory")
        data = grade_submission(args.root, args.timeout)
        print(f"score: {data['score']:g}; results written to {Path(args.root) / 'results' / 'results.json'}")
        return 0
    if not args.out:
        raise BundleError("--out ZIP is required to build the bundle")
    if args.rubric and not Path(args.rubric).is_file():
        raise BundleError(f"--rubric {args.rubric}: no such file")
    names = build_bundle(args.out, args.rubric)
    if not args.quiet:
        print(f"wrote {args.out} ({len(names)} files): upload it as the autograder in Gradescope")
    return 0


def main(argv=None):
    """`python -m grader.classroom.gradescope`: what run_autograder calls inside Gradescope, where the
    grader is a folder of files with only the grader's own dependencies, so nothing but this
    command's module is loaded."""
    parser = argparse.ArgumentParser(prog="python -m grader.classroom.gradescope", epilog=EXAMPLES)
    add_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="only results and errors")
    try:
        return run(parser.parse_args(argv))
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
