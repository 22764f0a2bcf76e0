"""Canvas gradebook export: columns Canvas's import reads, matching, nobody lost, names kept exactly."""

import csv
import dataclasses
import io
import textwrap
import unicodedata

import pytest

from grader.classroom import batch, canvas

ASSIGNMENT = "Homework 4 (12345)"
HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]


def record(name, points, status="graded", problem=""):
    """A result record as the batch stores it, worth `points` (checks passed in order)."""
    results = [dataclasses.asdict(r) for r in batch.unusable_results(problem or "not graded")]
    left = points
    for r in results:
        r["points"] = min(left, r["max_points"]) if status == "graded" else 0.0
        left -= r["points"]
        if status == "graded":
            r["status"], r["message"] = (
                ("passed", "") if r["points"] == r["max_points"] else ("failed", "wrong")
            )
    assert left == 0 or status != "graded", "more points than the rubric has"
    return {
        "student": name,
        "submission": f"/submissions/{name}",
        "key": "k",
        "graded_at": "2024-01-01T00:00:00+00:00",
        "status": status,
        "problem": problem,
        "seconds": 1.0,
        "engine": "sandbox",
        "results": results,
    }


def graded(tmp_path, *records):
    """OUTDIR as the batch leaves it: results/, feedback/ and gradebook.csv, by batch's own writers."""
    outputs = batch.Outputs(tmp_path / "graded")
    for r in records:
        outputs.save(r)
    outputs.write_gradebook(outputs.records())
    return outputs.root


def roster_file(tmp_path, text, name="roster.csv", encoding="utf-8-sig"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
    return path


ROSTER = """
    Student,ID,SIS User ID,SIS Login ID,Section,Homework 4 (12345),Current Score
        Points Possible,,,,,223,(read only)
    "Smith, Alice",101,S001,alice,Section 1,,
    "Jones, Bob",102,S002,bob,Section 1,,
    "Díaz, José",103,S003,jdiaz,Section 2,,
    "Lee, Dana",104,S004,dlee,Section 2,,
"""


def the_class(tmp_path):
    return graded(
        tmp_path,
        record("alice", 212.5),
        record("bob", 0, "invalid submission", "no Python files in the zip"),
        record("jdiaz", 223),
        record("zed", 40),
    )


def run(capsys, *argv):
    code = canvas.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_login_match_columns_and_summary(tmp_path, capsys):
    outdir = the_class(tmp_path)
    roster = roster_file(tmp_path, ROSTER)
    code, out, err = run(capsys, outdir, "--roster", roster, "--assignment", ASSIGNMENT)
    assert code == 0, err
    rows = read_csv(outdir / "canvas.csv")
    assert rows[0] == HEADER
    assert rows[1:] == [
        ["Smith, Alice", "101", "S001", "alice", "Section 1", "212.5"],
        ["Jones, Bob", "102", "S002", "bob", "Section 1", "0"],
        ["Díaz, José", "103", "S003", "jdiaz", "Section 2", "223"],
    ]  # Dana has no submission: not in the file, so Canvas keeps what it has
    assert (outdir / "canvas.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "zed" in err and "zed" not in (outdir / "canvas.csv").read_text(encoding="utf-8-sig")
    assert len(err.strip().splitlines()) == 1 and err.startswith("warning:")
    assert (
        "left out of the file: Lee, Dana (SIS Login ID dlee)" in out and "bob (invalid submission: 0)" in out
    )
    assert "for 4 roster students: 2 graded, 1 not graded, 1 without a submission" in out


def test_docstring_example_is_what_the_command_writes(tmp_path, capsys):
    doc = canvas.__doc__
    roster = doc.split("without a student):\n\n", 1)[1].split("\n\n", 1)[0]
    expected = doc.split("writes graded/canvas.csv:\n\n", 1)[1].split("\n\n", 1)[0]
    outdir = the_class(tmp_path)
    gradebook = {
        row["student"]: row for row in csv.DictReader(io.StringIO((outdir / "gradebook.csv").read_text()))
    }
    for line in doc.split("as the batch wrote it", 1)[1].split("\n\n", 2)[1].splitlines()[1:]:
        name, total, maximum, percent = line.split(",")[:4]
        assert [gradebook[name.strip()][k] for k in ("total", "max", "percent")] == [total, maximum, percent]
    path = roster_file(tmp_path, roster)
    assert run(capsys, outdir, "--roster", path, "--assignment", ASSIGNMENT)[0] == 0
    assert (outdir / "canvas.csv").read_text(encoding="utf-8-sig") == textwrap.dedent(expected) + "\n"


def test_sis_match_percent_and_out(tmp_path, capsys):
    outdir = graded(tmp_path, record("S001", 212.5), record("s003", 223))  # any case
    roster = roster_file(tmp_path, ROSTER)
    target = tmp_path / "upload" / "hw4.csv"
    code, out, err = run(
        capsys,
        outdir,
        "--roster",
        roster,
        "--assignment",
        ASSIGNMENT,
        "--match",
        "sis",
        "--percent",
        "--out",
        target,
    )
    assert code == 0, err
    assert not (outdir / "canvas.csv").exists()
    rows = read_csv(target)
    assert [r[-1] for r in rows[1:]] == ["95.3", "100.0"]  # bob and Dana: no submission by SIS id
    assert "(percent)" in out and err == ""
    # logins mean nothing with --match sis: the same class by login matches nobody
    assert (
        run(capsys, outdir, "--roster", roster, "--assignment", ASSIGNMENT, "--quiet")[2].count("S001") == 1
    )


def test_blank_missing_and_points_possible(tmp_path, capsys):
    outdir = the_class(tmp_path)
    roster = roster_file(tmp_path, ROSTER)
    code, out, _ = run(
        capsys, outdir, "--roster", roster, "--assignment", ASSIGNMENT, "--blank-missing", "--points-possible"
    )
    assert code == 0
    rows = read_csv(outdir / "canvas.csv")
    assert rows[1] == ["Points Possible", "", "", "", "", "223"]
    assert [r[0] for r in rows[2:]] == ["Smith, Alice", "Jones, Bob", "Díaz, José", "Lee, Dana"]
    assert rows[-1][-1] == "" and "cell left empty: Lee, Dana" in out


@pytest.mark.parametrize("names", [("alice", "alice.zip"), ("Alice", "alice")])
def test_two_submissions_for_one_student_is_an_error_naming_both(tmp_path, capsys, names):
    outdir = graded(tmp_path, record(names[0], 10), record(names[1], 20))
    roster = roster_file(tmp_path, ROSTER)
    code, out, err = run(capsys, outdir, "--roster", roster, "--assignment", ASSIGNMENT)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("nnkit canvas: error: ")
    assert all(name in err for name in names) and "Smith, Alice" in err and "Traceback" not in err
    assert not (outdir / "canvas.csv").exists()


def test_one_submission_for_two_roster_lines_is_an_error(tmp_path, capsys):
    outdir = graded(tmp_path, record("alice", 10))
    roster = roster_file(tmp_path, ROSTER + '    "Smith, Alicia",105,S005,Alice,Section 2,,\n')
    code, _, err = run(capsys, outdir, "--roster", roster, "--assignment", ASSIGNMENT)
    assert code == 2 and "Smith, Alice" in err and "Smith, Alicia" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("name", ["Homework 4", "Homework 4 (abc)", "(12345)", "Homework 4(12345)", ""])
def test_assignment_needs_the_id_in_parentheses(tmp_path, capsys, name):
    outdir = the_class(tmp_path)
    roster = roster_file(tmp_path, ROSTER)
    code, out, err = run(capsys, outdir, "--roster", roster, "--assignment", name)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("nnkit canvas: error: ") and "parentheses" in err
    assert not (outdir / "canvas.csv").exists()


def test_user_errors_are_one_line(tmp_path, capsys):
    outdir = the_class(tmp_path)
    roster = roster_file(tmp_path, ROSTER)
    no_sis = roster_file(tmp_path, "Student,ID,Section\nAl,1,S\n", "no_sis.csv")
    cases = [
        (tmp_path / "nowhere", roster, [], "gradebook.csv"),
        (outdir, tmp_path / "absent.csv", [], "no such file"),
        (outdir, no_sis, [], "SIS Login ID"),
        (outdir, roster, ["--out", outdir / "gradebook.csv"], "gradebook"),
    ]
    for where, path, extra, words in cases:
        code, out, err = run(capsys, where, "--roster", path, "--assignment", ASSIGNMENT, *extra)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith("nnkit canvas: error: ") and words in err


def test_non_ascii_names_round_trip(tmp_path, capsys):
    decomposed = unicodedata.normalize("NFD", "josé")  # as a macOS folder name arrives
    outdir = graded(tmp_path, record(decomposed, 100), record("Zoë", 50))
    roster = roster_file(
        tmp_path,
        """
        Student,ID,SIS User ID,SIS Login ID,Section
        "Núñez, José",201,Ü-01,josé,Grupo Ñ
        "Łukasz, Zoë",202,Ü-02,zoë,Grupo Ñ
        "王, 小明",203,Ü-03,xiaoming,Grupo Ñ
        """,
    )
    code, out, err = run(capsys, outdir, "--roster", roster, "--assignment", "Übung 4 – Netze (777)")
    assert code == 0, err
    rows = read_csv(outdir / "canvas.csv")
    assert rows[0][-1] == "Übung 4 – Netze (777)"
    assert rows[1:] == [
        ["Núñez, José", "201", "Ü-01", "josé", "Grupo Ñ", "100"],
        ["Łukasz, Zoë", "202", "Ü-02", "zoë", "Grupo Ñ", "50"],
    ]
    assert "王, 小明" in out


def test_formula_cells_are_protected_and_escaped_names_still_match(tmp_path, capsys):
    outdir = graded(tmp_path, record("=cmd", 30), record("+bob", 20))
    assert "'=cmd" in (outdir / "gradebook.csv").read_text()  # the batch escaped it
    roster = roster_file(
        tmp_path,
        """
        Student,ID,SIS User ID,SIS Login ID,Section
        "=HYPERLINK(""http://x"")",301,@s1,=cmd,-A
        Plain,302,S2,+bob,B
        """,
    )
    code, _, err = run(capsys, outdir, "--roster", roster, "--assignment", "=Quiz (42)")
    assert code == 0, err
    rows = read_csv(outdir / "canvas.csv")
    assert rows[0][-1] == "'=Quiz (42)"
    assert rows[1] == ['\'=HYPERLINK("http://x")', "301", "'@s1", "'=cmd", "'-A", "30"]
    assert rows[2] == ["Plain", "302", "S2", "'+bob", "B", "20"]
    assert all(cell == batch.csv_cell(cell) for row in rows for cell in row)


def test_roster_variants(tmp_path, capsys):
    """Semicolons, no BOM, a muted line, blank lines, a student without login: all read as Canvas writes them."""
    outdir = graded(tmp_path, record("alice", 5))
    roster = roster_file(
        tmp_path,
        """
        Student;ID;SIS User ID;SIS Login ID;Section
        ;;;;Manual Posting
        "Smith; Alice";101;S001;alice;S

        Nobody, Test;102;;;S
        """,
        encoding="utf-8",
    )
    code, out, err = run(capsys, outdir, "--roster", roster, "--assignment", ASSIGNMENT, "--blank-missing")
    assert code == 0, err
    assert read_csv(outdir / "canvas.csv")[1:] == [
        ["Smith; Alice", "101", "S001", "alice", "S", "5"],
        ["Nobody, Test", "102", "", "", "S", ""],
    ]
    assert "Nobody, Test (no SIS Login ID)" in out


def test_canvas_rows_directly(tmp_path):
    outdir = the_class(tmp_path)
    gradebook = canvas.read_gradebook(outdir)
    lines = canvas.read_roster(roster_file(tmp_path, ROSTER))
    result = canvas.canvas_rows(gradebook, lines, ASSIGNMENT)
    assert result.header == HEADER
    assert result.scored == ["alice", "jdiaz"]
    assert result.ungraded == [("bob", "invalid submission", "0")]
    assert result.unmatched == ["zed"]
    assert [line["Student"] for line in result.missing] == ["Lee, Dana"]
    with_points = canvas.canvas_rows(gradebook, lines, ASSIGNMENT, points=canvas.points_possible(gradebook))
    assert with_points.rows[0][0] == "Points Possible" and with_points.rows[0][-1] == "223"
    with pytest.raises(canvas.CanvasError, match="parentheses"):
        canvas.canvas_rows(gradebook, lines, "Homework 4")
    with pytest.raises(canvas.CanvasError, match="SIS User ID"):
        canvas.canvas_rows(
            gradebook, [{"Student": "A", "ID": "1", "SIS Login ID": "a"}], ASSIGNMENT, match="sis"
        )


def test_run_with_the_top_level_parsers_namespace(tmp_path, capsys):
    """A parser built by add_arguments (as the nnkit command mounts it) and args.quiet: only errors and warnings."""
    import argparse

    parser = argparse.ArgumentParser(prog="nnkit canvas", epilog=canvas.EXAMPLES)
    canvas.add_arguments(parser)
    outdir = the_class(tmp_path)
    args = parser.parse_args(
        [str(outdir), "--roster", str(roster_file(tmp_path, ROSTER)), "--assignment", ASSIGNMENT]
    )
    args.quiet = True
    assert canvas.run(args) == 0
    out, err = capsys.readouterr()
    assert out == "" and "zed" in err
    assert canvas.EXAMPLES.startswith("examples:\n  nnkit canvas ")
