"""Pairs of submissions whose code is suspiciously alike: a plagiarism check over a class.

    nnkit similarity SUBMISSIONS [--out HTML] [--json FILE] [--threshold T]

SUBMISSIONS is the folder batch grading reads, one entry per student (a folder laid out like
exercises/, a .zip of one, loose .py files, or nbgrader's submitted/<student>/<assignment>/*.ipynb),
and every entry is read exactly as `nnkit batch` reads it (grader.classroom.submissions; notebooks
give only their answer cells' definitions). An entry that cannot be read is listed with the reason
and compared with nobody; it never stops the run. Nothing here runs student code.

Each student's code is compared as a whole: every module of the implementation directory in one
text, since a short exercise on its own (`np.maximum(0, x)`) converges on the same code for
everyone. The comparison is copydetect's (tokens with names and strings blinded, then winnowed
fingerprints of 25 tokens), with the kit's stubs (exercises/) as boilerplate: what every student
started from never counts, so untouched stubs are similar to nothing, and a module a student did
not hand in counts as its stub.

A pair has two scores: the share of A's own code (the stubs left out) also found in B, and the
share of B's found in A; they differ when one student wrote more. A pair is flagged when either
score is above the threshold, 0.6 unless --threshold says otherwise. On the kit's test data
(tests/test_similarity.py): two complete correct implementations written independently (the
reference solutions and tests/similarity/independent/) share 0.25 and 0.26 of their code; a copy
of either with renamed variables, functions and classes in another order, new comments and new
docstrings shares 0.90 and 0.92 of the original's code (0.74 and 0.77 the other way: reordering
the stubs' own code makes some of it the copy's); the two copies, whose stubs' code was reordered
alike, share 0.39 and 0.43; untouched stubs share 0.0 with anything. 0.6 lies clear of both sides.

Even independent work shares about a quarter: where a student's code meets the stubs around it,
it matches any other student's code at that seam. So a submission with little code of its own can
score high on a few lines: two students who wrote only relu, sigmoid, tanh and softmax, alike,
share all of their own code, but fewer than 250 tokens with the seams. So a pair is flagged only
when it also shares at least 250 tokens (--min-tokens); a copied conv.py alone, with the rest
left as stubs, is still flagged, and a whole copied submission shares thousands (both in
tests/test_similarity.py). The table's tokens column says how much. A flagged pair is a reason
to read the two submissions side by
side, not a verdict.

Outputs: the flagged pairs as a table on stdout, copydetect's HTML report of the flagged pairs
with the matching code highlighted (--out, default similarity.html), and with --json every
pair's scores. `python -m grader.classroom.similarity` is the same command.
"""

import argparse
import contextlib
import html
import json
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.classroom.submissions import SubmissionError, discover, file_stem, prepare
from grader.files import replaced
from grader.installed import STUBS
from grader.progress import progress

FORMAT = "nnkit-similarity/1"
DEFAULT_THRESHOLD = 0.6
MIN_SHARED_TOKENS = 250  # below this, two students who each wrote a few one-liners alike are not flagged
NOISE_TOKENS = 25  # copydetect's default: matches shorter than this are noise

EXAMPLES = """\
examples:
  nnkit similarity submissions/                 flagged pairs on stdout, similarity.html
  nnkit similarity submitted/ --out ps4.html    an nbgrader course's submitted/ folder
  nnkit similarity submissions/ --json pairs.json   every pair's scores too
  nnkit similarity submissions/ --threshold 0.4     flag more pairs

A pair is flagged when more than THRESHOLD of either student's own code (the stubs left out)
is found in the other's. Independent correct solutions share about a quarter of their code,
disguised copies about 0.9; read a flagged pair side by side before drawing a conclusion.
"""


class SimilarityError(Exception):
    """The comparison cannot be made (a missing library, too few readable submissions).

    `unreadable` lists the entries that could not be read, [(student, why)], when that is the cause.
    """

    def __init__(self, message, unreadable=()):
        super().__init__(message)
        self.unreadable = list(unreadable)


USER_ERRORS = (SimilarityError,)  # what nnkit reports as one line, exit status 2


@dataclass(frozen=True)
class Pair:
    """Two students' scores: the share of each one's own code also found in the other's."""

    a: str
    b: str
    a_in_b: float
    b_in_a: float
    shared_tokens: int

    def flagged(self, threshold, min_tokens=MIN_SHARED_TOKENS):
        """Whether either share is above `threshold`, on at least `min_tokens` shared tokens."""
        return max(self.a_in_b, self.b_in_a) > threshold and self.shared_tokens >= min_tokens


def combined_code(impl_dir, stubs=STUBS):
    """Every module of an implementation directory as one text, each under a comment naming it.

    The kit's modules come first, in the stubs' order (one the directory lacks is its stub),
    then the student's own modules: the same layout for everyone, so what lies between two
    untouched modules is stub code too.
    """
    impl_dir, stubs = Path(impl_dir), Path(stubs)
    kit = [p.name for p in sorted(stubs.glob("*.py"))]
    own = sorted(
        p.relative_to(impl_dir).as_posix()
        for p in impl_dir.rglob("*.py")
        if p.is_file() and p.relative_to(impl_dir).as_posix() not in kit and "__pycache__" not in p.parts
    )
    parts = []
    for name in kit + own:
        path = impl_dir / name if (impl_dir / name).is_file() else stubs / name
        parts.append(f"# ---- {name} ----\n{path.read_text(encoding='utf-8', errors='replace')}")
    return "\n".join(parts)


def read_submissions(folder, work, exclude=(), quiet=False):
    """({student: combined code file}, [(student, why it could not be read)]) for `folder`.

    Each entry is prepared as batch grading prepares it; one that fails is listed, not raised.
    """
    entries = discover(folder, exclude=exclude)
    codes, unreadable = {}, []
    for submission in progress(entries, "reading", "submission", not quiet):
        stem = file_stem(submission.name)
        try:
            impl = prepare(submission, Path(work) / "impl" / stem)
            text = combined_code(impl)
        except Exception as error:  # noqa: BLE001 - unreadable files, broken notebooks, anything
            if isinstance(error, SubmissionError):
                reason = str(error)
            else:
                reason = f"cannot read it: {type(error).__name__}: {error}"
            unreadable.append((submission.name, reason))
            continue
        path = Path(work) / "code" / stem
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        codes[submission.name] = path
    return codes, unreadable


def compare(codes, boilerplate, threshold, out_file, quiet=False):
    """(copydetect's detector after its run, every Pair) for {student: code file}."""
    try:
        from copydetect import CopyDetector
    except ImportError as error:
        raise SimilarityError(
            f"copydetect is not installed ({error}): pip install 'nnkit[instructor]'"
        ) from None
    detector = CopyDetector(
        noise_t=NOISE_TOKENS,
        guarantee_t=NOISE_TOKENS,
        display_t=threshold,
        force_language="python",
        autoopen=False,
        out_file=Path(out_file).name,
        silent=quiet,
    )
    names = list(codes)
    for name in names:
        detector.add_file(str(codes[name]))
    detector.add_file(str(boilerplate), type="boilerplate")
    with contextlib.redirect_stdout(sys.stderr):
        detector.run()
    pairs = []
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            a_in_b, b_in_a = (max(float(s), 0.0) for s in detector.similarity_matrix[i, j])
            shared = max(int(detector.token_overlap_matrix[i, j]), 0)
            pairs.append(Pair(a, names[j], a_in_b, b_in_a, shared))
    pairs.sort(key=lambda p: (-max(p.a_in_b, p.b_in_a), p.a, p.b))
    return detector, pairs


def html_report(detector, codes, unflagged=()):
    """copydetect's HTML report, each code file shown by its student's name. The pairs `unflagged`
    (above the threshold on fewer tokens than --min-tokens) are left out of it, as of the table."""
    names, scores = list(codes), detector.similarity_matrix
    shown = scores.copy()
    for pair in unflagged:
        i, j = names.index(pair.a), names.index(pair.b)
        shown[i, j] = shown[j, i] = 0.0
    detector.similarity_matrix = shown
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # copydetect reads its template with open_text
            page = detector.generate_html_report(output_mode="return")
    finally:
        detector.similarity_matrix = scores
    for name, path in sorted(codes.items(), key=lambda item: -len(str(item[1]))):
        page = page.replace(str(path), html.escape(name))
    return page


def table(pairs, threshold, min_tokens=MIN_SHARED_TOKENS):
    """The flagged pairs as a text table (or a line saying there are none)."""
    flagged = [p for p in pairs if p.flagged(threshold, min_tokens)]
    head = f"{len(flagged)} of {len(pairs)} pairs flagged (more than {threshold:.0%} of one's code in the other's)"
    if not flagged:
        return head
    rows = [("student A", "student B", "A in B", "B in A", "tokens", "threshold")]
    rows += [
        (p.a, p.b, f"{p.a_in_b:.0%}", f"{p.b_in_a:.0%}", str(p.shared_tokens), f"{threshold:.0%}")
        for p in flagged
    ]
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if k < 2 else cell.rjust(w)
            for k, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join([head, *lines])


def unreadable_lines(unreadable):
    """The entries that could not be read, one line each with the reason ("" when there are none)."""
    if not unreadable:
        return ""
    lines = [f"not compared, could not be read ({len(unreadable)}):"]
    lines += [f"  {name}: {problem}" for name, problem in unreadable]
    return "\n".join(lines) + "\n"


def report_json(pairs, unreadable, threshold, min_tokens=MIN_SHARED_TOKENS):
    """Everything the run found, for --json."""
    return {
        "format": FORMAT,
        "threshold": threshold,
        "min_tokens": min_tokens,
        "students": sorted({p.a for p in pairs} | {p.b for p in pairs}),
        "unreadable": [{"student": name, "problem": problem} for name, problem in unreadable],
        "pairs": [{**asdict(p), "flagged": p.flagged(threshold, min_tokens)} for p in pairs],
    }


def similarity(
    folder, out, json_path=None, threshold=DEFAULT_THRESHOLD, quiet=False, min_tokens=MIN_SHARED_TOKENS
):
    """Compare every readable submission of `folder`; write the reports; return (pairs, unreadable)."""
    with tempfile.TemporaryDirectory(prefix="similarity-") as work:
        outputs = [p for p in (out, json_path) if p]
        codes, unreadable = read_submissions(folder, work, exclude=outputs, quiet=quiet)
        if len(codes) < 2:
            raise SimilarityError(
                f"nothing to compare: {len(codes)} of {len(codes) + len(unreadable)} submissions could be read",
                unreadable,
            )
        boilerplate = Path(work) / "stubs"
        boilerplate.write_text(combined_code(STUBS), encoding="utf-8")
        detector, pairs = compare(codes, boilerplate, threshold, out, quiet)
        few_tokens = [
            p for p in pairs if max(p.a_in_b, p.b_in_a) > threshold and not p.flagged(threshold, min_tokens)
        ]
        page = html_report(detector, codes, few_tokens)
    with replaced(out, encoding="utf-8") as f:
        f.write(page)
    if json_path:
        with replaced(json_path, encoding="utf-8") as f:
            f.write(
                json.dumps(
                    report_json(pairs, unreadable, threshold, min_tokens), indent=2, ensure_ascii=False
                )
                + "\n"
            )
    return pairs, unreadable


def threshold_value(text):
    """--threshold: a share of code, above 0 and at most 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {text}")
    return value


def positive_int(text):
    """--min-tokens: a whole number of tokens, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments, for `nnkit similarity` and `python -m grader.classroom.similarity`."""
    parser.add_argument(
        "submissions",
        metavar="SUBMISSIONS",
        help="folder with one submission per student, as for nnkit batch",
    )
    parser.add_argument(
        "--out",
        metavar="HTML",
        default="similarity.html",
        help="copydetect's report of the flagged pairs, matching code highlighted (default ./similarity.html)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every pair's scores here")
    parser.add_argument(
        "--threshold",
        type=threshold_value,
        default=DEFAULT_THRESHOLD,
        metavar="T",
        help=f"flag a pair when more than T of either one's own code is in the other's (default "
        f"{DEFAULT_THRESHOLD}: independent correct solutions share about 0.25, disguised copies about 0.9)",
    )
    parser.add_argument(
        "--min-tokens",
        type=positive_int,
        default=MIN_SHARED_TOKENS,
        metavar="N",
        help=f"flag only pairs that share at least N tokens of their own code (default {MIN_SHARED_TOKENS}: "
        "a few one-liners everyone writes alike are not a copy; a whole copied submission shares thousands)",
    )


def run(args) -> int:
    """Compare the class; print the flagged pairs and the unreadable entries. 0, or 2 on a user error."""
    quiet = getattr(args, "quiet", False)
    try:
        pairs, unreadable = similarity(
            args.submissions, args.out, args.json, args.threshold, quiet, args.min_tokens
        )
    except (SimilarityError, SubmissionError) as error:
        print(unreadable_lines(getattr(error, "unreadable", [])), end="")
        print(f"nnkit similarity: error: {error}", file=sys.stderr)
        return 2
    print(table(pairs, args.threshold, args.min_tokens))
    print(unreadable_lines(unreadable), end="")
    written = [str(args.out)] + ([str(args.json)] if args.json else [])
    print(f"report: {', '.join(written)}")
    return 0


def main(argv=None):
    """`python -m grader.classroom.similarity`: the same as `nnkit similarity`."""
    from grader.cli import main as nnkit

    return nnkit(["similarity", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
