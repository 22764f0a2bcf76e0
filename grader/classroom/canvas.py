"""A batch-graded class's scores as the CSV Canvas's gradebook import takes.

    nnkit canvas OUTDIR --roster ROSTER --assignment "Homework 4 (12345)" [--match login|sis] [--percent]
    python -m grader.classroom.canvas OUTDIR --roster ROSTER --assignment "Homework 4 (12345)"

OUTDIR is what grader.classroom.batch wrote (its gradebook.csv). ROSTER is the CSV Canvas gives
you under Grades > Export (Export Entire Gradebook): its leading columns are the ones Canvas's
import needs, `Student, ID, SIS User ID, SIS Login ID, Section`. The result (OUTDIR/canvas.csv, or
--out) has those five columns, with the roster's values, and one column for the assignment, named
the way Canvas names it: the assignment's name and its id in parentheses (the id is the number at
the end of the assignment's address, .../courses/7/assignments/12345). Upload it under
Grades > Import; Canvas shows what would change before anything does.

Each submission is matched to a roster line by its name in the gradebook (the folder or file name
without its extension: `alice/` and `alice.zip` are both `alice`) against the roster's
`SIS Login ID` (--match login, the default) or `SIS User ID` (--match sis). The comparison
ignores case, surrounding spaces and how accents are encoded (`José` typed or saved by macOS is the
same name); nothing else is guessed. The score is the student's total points in the gradebook
(--percent: the gradebook's percent instead).

Worked example. The roster, exported from Canvas (columns after Section are ignored, so are the
Points Possible line and other lines without a student):

    Student,ID,SIS User ID,SIS Login ID,Section,Homework 4 (12345),Current Score
        Points Possible,,,,,223,(read only)
    "Smith, Alice",101,S001,alice,Section 1,,
    "Jones, Bob",102,S002,bob,Section 1,,
    "Díaz, José",103,S003,jdiaz,Section 2,,
    "Lee, Dana",104,S004,dlee,Section 2,,

graded/gradebook.csv, as the batch wrote it (one column per exercise where ... is):

    student,total,max,percent,AND,...,status,notes
    alice,212.5,223,95.3,1,...,graded,
    bob,0,223,0.0,0,...,invalid submission,no Python files in the zip
    jdiaz,223,223,100.0,1,...,graded,
    zed,40,223,17.9,1,...,graded,

    nnkit canvas graded/ --roster roster.csv --assignment "Homework 4 (12345)"

writes graded/canvas.csv:

    Student,ID,SIS User ID,SIS Login ID,Section,Homework 4 (12345)
    "Smith, Alice",101,S001,alice,Section 1,212.5
    "Jones, Bob",102,S002,bob,Section 1,0
    "Díaz, José",103,S003,jdiaz,Section 2,223

and says what did not go through as a plain score:
  - Lee, Dana (dlee) has no submission: left out of the file, so Canvas keeps what it has.
  - bob could not be graded ("invalid submission"): the cell is the gradebook's total, 0, and the
    name is listed so you can read the gradebook's notes before uploading.
  - zed matches no roster line: named on stderr, not written (a folder named after something
    other than the login, or a student who left the course).

No student is lost without a word. Two submissions that match one roster line (`alice/` and
`alice.zip`, or `Alice` and `alice`) are an error naming both: keep one and grade again. A roster
line without the match column's value can match nothing and is listed with the missing students.

A student without a submission is left out of the file: Canvas leaves students the file does not
list alone, so a grade entered by hand stays. --blank-missing gives them an empty cell instead;
Canvas's import lists an empty cell where it has a grade as a change that removes it. --points-possible adds Canvas's optional
"Points Possible" line (the gradebook's max points, 100 with --percent); Canvas uses it only when
it creates the assignment, i.e. when the id in --assignment is not one of the course's.

The file is UTF-8 with a byte-order mark (as Canvas's own exports can be: spreadsheets then show
accented names right; Canvas's import reads it), written to a temporary name and renamed into
place. Text cells that a spreadsheet would run as a formula get a leading ', as in the gradebook;
scores are plain numbers and Canvas's numeric ID is never changed, so Canvas still finds everyone.
"""

import argparse
import csv
import io
import math
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from grader.classroom.batch import FORMULA_START, Outputs, csv_cell
from grader.files import replaced

ROSTER_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MATCH_COLUMNS = {"login": "SIS Login ID", "sis": "SIS User ID"}
GRADEBOOK_COLUMNS = ("student", "total", "max", "percent", "status")
SCORE_COLUMNS = {False: "total", True: "percent"}
# Canvas reads an assignment column as "<title> (<id>)" (a space, then digits in parentheses)
ASSIGNMENT = re.compile(r"(?P<title>\S.*?)\s\((?P<id>\d+)\)")
ARCHIVE_SUFFIX = ".zip"  # `alice.zip` keeps its suffix in the gradebook when `alice/` is there too
NOT_A_STUDENT = re.compile(r"\s*(Muted|Manual Posting.*)?\s*", re.IGNORECASE)


class CanvasError(Exception):
    """The export cannot be made as asked; the message (one line) says why."""


USER_ERRORS = (CanvasError,)  # what nnkit reports as one line, exit status 2


@dataclass
class CanvasExport:
    """What canvas_rows made: the CSV's lines and every student that did not get a plain score."""

    header: list
    rows: list  # data lines in roster order (the Points Possible line first, when asked for)
    scored: list = field(default_factory=list)  # gradebook names written with their score
    missing: list = field(default_factory=list)  # roster lines (dicts) without a submission
    unmatched: list = field(default_factory=list)  # gradebook names no roster line matched: not written
    # (gradebook name, status, score written) of entries that were not graded
    ungraded: list = field(default_factory=list)

    def csv_text(self):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buffer.getvalue()


# -- reading ---------------------------------------------------------------------------------------
def assignment_column(text):
    """`text` as Canvas's column name for an assignment, `Name (digits)`; CanvasError otherwise."""
    text = (text or "").strip()
    if not ASSIGNMENT.fullmatch(text):
        raise CanvasError(
            f"--assignment {text!r}: Canvas needs the assignment id in parentheses after the name, "
            f'e.g. "Homework 4 (12345)" (the id ends the assignment\'s address: .../assignments/12345)'
        )
    return text


def read_gradebook(outdir):
    """The rows of OUTDIR/gradebook.csv as dicts, each `student` the name as the batch knows it.

    The gradebook writes a name starting with = + - @ with a leading '; the results files keep the
    name as it is, so an escaped cell is read back through them (or, failing that, by the rule).
    """
    path = Path(outdir) / "gradebook.csv"
    if not path.is_file():
        raise CanvasError(
            f"{path}: no such file (grade the class first: nnkit batch SUBMISSIONS --out {outdir})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CanvasError(f"{path}: cannot read it ({error})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    absent = [c for c in GRADEBOOK_COLUMNS if c not in (reader.fieldnames or [])]
    if absent:
        raise CanvasError(f"{path}: not a batch gradebook (no column {', '.join(absent)})")
    rows = [{k: v or "" for k, v in row.items() if k is not None} for row in reader]
    written = {}
    if any(row["student"].startswith("'") for row in rows):
        for record in Outputs(outdir).records():
            written.setdefault(csv_cell(record["student"]), set()).add(record["student"])
    for row in rows:
        row["student"] = _unescaped(row["student"], written)
    return rows


def _unescaped(cell, written):
    names = written.get(cell)
    if names and len(names) == 1:
        return next(iter(names))
    if cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


def read_roster(path):
    """The lines of a roster exported from Canvas, as dicts keyed by its (stripped) column names."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CanvasError(f"--roster {path}: no such file") from None
    except UnicodeDecodeError:
        raise CanvasError(
            f"--roster {path}: not UTF-8 text; use the CSV Canvas exports (or save it as 'CSV UTF-8')"
        ) from None
    except OSError as error:
        raise CanvasError(f"--roster {path}: cannot read it ({error.strerror})") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # Canvas can export either
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader, [])]
    absent = [c for c in ("Student", "ID") if c not in header]
    if absent:
        raise CanvasError(
            f"--roster {path}: no column {' or '.join(absent)}; export the gradebook from Canvas "
            f"(its first columns are {', '.join(ROSTER_COLUMNS)})"
        )
    return [{name: (row[i] if i < len(row) else "") for i, name in enumerate(header)} for row in reader]


def is_student(line):
    """False for the roster's lines that name no student: Points Possible, muted or blank lines."""
    if "Points Possible" in (line.get("Student") or ""):
        return False
    return not all(NOT_A_STUDENT.fullmatch(value or "") for value in line.values())


def match_key(name):
    """What two spellings of one name share: Unicode NFC, no surrounding spaces, case folded."""
    return unicodedata.normalize("NFC", name or "").strip().casefold()


def _keys(student):
    keys = {match_key(student)}
    if student.lower().endswith(ARCHIVE_SUFFIX) and len(student) > len(ARCHIVE_SUFFIX):
        keys.add(match_key(student[: -len(ARCHIVE_SUFFIX)]))
    return keys - {""}


def _score(text):
    """`text` when it is a number (as the gradebook wrote it), else ""."""
    text = (text or "").strip()
    try:
        return text if math.isfinite(float(text)) else ""
    except ValueError:
        return ""


def _label(line, column):
    value = (line.get(column) or "").strip()
    return f"{line.get('Student') or '?'} ({column} {value})" if value else (line.get("Student") or "?")


# -- the export --------------------------------------------------------------------------------------
def canvas_rows(
    gradebook, roster, assignment, points=None, *, match="login", percent=False, omit_missing=True
):
    """The Canvas import for `gradebook` (read_gradebook's rows) and `roster` (read_roster's lines).

    assignment: the column name, "Name (id)". points: the value of a "Points Possible" line
    (None: no such line). match: "login" or "sis", the roster column the gradebook's names are
    compared with. percent: the gradebook's percent instead of its total. omit_missing: leave
    roster students without a submission out (Canvas then keeps what it has) instead of giving them
    an empty cell.
    Raises CanvasError when the column name is not Canvas's form, the roster lacks the match
    column, or a roster line is matched by two submissions (or a submission by two lines).
    """
    assignment = assignment_column(assignment)
    if match not in MATCH_COLUMNS:
        raise CanvasError(f"--match {match!r}: use one of {', '.join(MATCH_COLUMNS)}")
    column = MATCH_COLUMNS[match]
    lines = [line for line in roster if is_student(line)]
    if not lines:
        raise CanvasError("the roster lists no students")
    if not any(column in line for line in lines):
        other = next(m for m in MATCH_COLUMNS if m != match)
        raise CanvasError(
            f"the roster has no {column!r} column (Canvas leaves the SIS columns out for who may not see them); "
            f"export it again with them, or try --match {other}"
        )
    by_key = {}
    for index, line in enumerate(lines):
        key = match_key(line.get(column))
        if key:
            by_key.setdefault(key, []).append(index)

    claims, unmatched, problems = {}, [], []  # claims: roster index -> gradebook rows
    for row in gradebook:
        found = sorted({i for key in _keys(row["student"]) for i in by_key.get(key, [])})
        if not found:
            unmatched.append(row["student"])
        elif len(found) > 1:
            problems.append(
                f"submission {row['student']} matches {len(found)} roster lines: "
                + " and ".join(_label(lines[i], column) for i in found)
            )
        else:
            claims.setdefault(found[0], []).append(row)
    for index, rows in sorted(claims.items()):
        if len(rows) > 1:
            problems.append(
                f"{_label(lines[index], column)} has {len(rows)} submissions: "
                + " and ".join(r["student"] for r in rows)
                + " (keep one and grade again)"
            )
    if problems:
        raise CanvasError("; ".join(problems))

    export = CanvasExport(header=[*ROSTER_COLUMNS, csv_cell(assignment)], rows=[], unmatched=unmatched)
    if points is not None:
        export.rows.append(
            ["Points Possible", "", "", "", "", f"{points:g}" if isinstance(points, float) else str(points)]
        )
    for index, line in enumerate(lines):
        identity = [csv_cell(line.get(c) or "") for c in ROSTER_COLUMNS]
        rows = claims.get(index)
        if not rows:
            export.missing.append(line)
            if not omit_missing:
                export.rows.append([*identity, ""])
            continue
        row = rows[0]
        score = _score(row.get(SCORE_COLUMNS[percent]))
        if row.get("status") != "graded" or not score:
            export.ungraded.append((row["student"], row.get("status") or "no status", score))
        else:
            export.scored.append(row["student"])
        export.rows.append([*identity, score])
    return export


def points_possible(gradebook, percent=False):
    """The Points Possible value: 100 for percents, else the gradebook's max (the same on every row)."""
    if percent:
        return 100
    maxima = sorted({_score(row.get("max")) for row in gradebook} - {""}, key=float)
    if len(maxima) != 1:
        found = ", ".join(maxima) or "none"
        raise CanvasError(
            f"--points-possible: the gradebook's rows disagree on the max points ({found}); grade the class again with --force"
        )
    return maxima[0]


def export(
    outdir, roster, assignment, out=None, *, match="login", percent=False, points=False, omit_missing=True
):
    """Read OUTDIR's gradebook and `roster`, write the Canvas CSV to `out` (default OUTDIR/canvas.csv)."""
    outdir = Path(outdir)
    out = Path(out) if out else outdir / "canvas.csv"
    assignment = assignment_column(assignment)
    for other, what in ((outdir / "gradebook.csv", "the gradebook"), (Path(roster), "the roster")):
        if out.resolve() == other.resolve():
            raise CanvasError(f"--out {out}: that is {what}; write the Canvas file elsewhere")
    gradebook = read_gradebook(outdir)
    lines = read_roster(roster)
    value = points_possible(gradebook, percent) if points else None
    result = canvas_rows(
        gradebook, lines, assignment, value, match=match, percent=percent, omit_missing=omit_missing
    )
    try:
        with replaced(out, encoding="utf-8-sig", newline="") as f:
            f.write(result.csv_text())
    except OSError as error:
        raise CanvasError(f"--out {out}: cannot write it ({error.strerror or error})") from None
    return out, result


# -- command line ------------------------------------------------------------------------------------
EXAMPLES = """\
examples:
  nnkit canvas graded/ --roster canvas_export.csv --assignment "Homework 4 (12345)"
  nnkit canvas graded/ --roster canvas_export.csv --assignment "Homework 4 (12345)" --match sis
  nnkit canvas graded/ --roster canvas_export.csv --assignment "Homework 4 (12345)" --percent --out hw4.csv
  nnkit canvas graded/ --roster canvas_export.csv --assignment "Homework 4 (12345)" --blank-missing

ROSTER: Canvas > Grades > Export > Export Entire Gradebook. The assignment id is the number at the
end of the assignment's address. Upload the result under Canvas > Grades > Import.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("outdir", metavar="OUTDIR", help="the batch's output folder (holding gradebook.csv)")
    parser.add_argument(
        "--roster", required=True, metavar="CSV", help="the gradebook CSV exported from Canvas (its students)"
    )
    parser.add_argument(
        "--assignment",
        required=True,
        metavar='"NAME (ID)"',
        help='the Canvas column to fill: the assignment\'s name and id, e.g. "Homework 4 (12345)"',
    )
    parser.add_argument(
        "--match",
        choices=sorted(MATCH_COLUMNS),
        default="login",
        help="roster column the submission names are: login = SIS Login ID (default), sis = SIS User ID",
    )
    parser.add_argument(
        "--percent", action="store_true", help="export the percent (0-100) instead of the total points"
    )
    parser.add_argument("--out", metavar="CSV", help="where to write (default: OUTDIR/canvas.csv)")
    parser.add_argument(
        "--blank-missing",
        action="store_true",
        help="give roster students without a submission an empty cell, which clears a grade Canvas already "
        "has (default: leave them out of the file, so Canvas keeps what it has)",
    )
    parser.add_argument(
        "--points-possible",
        action="store_true",
        help="add Canvas's Points Possible line (the gradebook's max, or 100 with --percent)",
    )


def _names(names):
    return "; ".join(names)


def run(args) -> int:
    """Write the import file and say what did not go through; a CanvasError is nnkit's one-line error."""
    out, result = export(
        args.outdir,
        args.roster,
        args.assignment,
        args.out,
        match=args.match,
        percent=args.percent,
        points=args.points_possible,
        omit_missing=not args.blank_missing,
    )
    column = MATCH_COLUMNS[args.match]
    if result.unmatched:  # never silent: a submission that reaches no student is lost until fixed
        print(
            f"warning: not written, no roster line has the {column} of: {_names(result.unmatched)}",
            file=sys.stderr,
        )
    if args.quiet:
        return 0
    what = "percent" if args.percent else "total points"
    students = len(result.scored) + len(result.ungraded) + len(result.missing)
    print(
        f"wrote {out}: {args.assignment.strip()} ({what}) for {students} roster students: "
        f"{len(result.scored)} graded, {len(result.ungraded)} not graded, {len(result.missing)} without a submission"
    )
    if result.ungraded:
        shown = [f"{name} ({status}: {score or 'empty'})" for name, status, score in result.ungraded]
        print(f"  not graded, given the gradebook's score (see its notes): {_names(shown)}")
    if result.missing:
        left = "cell left empty" if args.blank_missing else "left out of the file"
        shown = [
            _label(line, column)
            if (line.get(column) or "").strip()
            else f"{line.get('Student')} (no {column})"
            for line in result.missing
        ]
        print(f"  no submission, {left}: {_names(shown)}")
    return 0


def main(argv=None):
    """`python -m grader.classroom.canvas`: the same as `nnkit canvas`."""
    from grader.cli import main as nnkit

    return nnkit(["canvas", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
