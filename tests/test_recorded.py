"""A student kit grades from recorded data exactly as the course repository grades live.

The public checks are recorded once against the reference (as `tools.export` does); then
every corpus entry is graded twice, by the live oracles and from the recording, and the
two must agree on every check: status, message, hint and points.
"""

import pytest

from grader.expected import RecordedProvider, using
from grader.results import run_check
from tests.corpus import collect, target_with
from tools.record import public_checks, record

ENTRIES = collect("BUGS") + collect("ALTERNATIVES")
EXERCISES = sorted({c.exercise for c in public_checks({e.exercise for e in ENTRIES})})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recorded")
    recorder = record(EXERCISES)
    for name, data in recorder.files("test").items():
        (folder / name).write_bytes(data)
    return RecordedProvider(folder)


def outcome(result):
    return result.status, result.message, result.hint, result.points


@pytest.mark.parametrize("exercise", EXERCISES)
def test_corpus_grades_alike_from_recorded_data(exercise, recorded):
    checks = [c for c in public_checks([exercise])]
    differences = []
    for entry in (e for e in ENTRIES if e.exercise == exercise):
        for check in checks:
            live = run_check(check, target_with(**{exercise: entry.replacement}))
            with using(recorded):
                kit = run_check(check, target_with(**{exercise: entry.replacement}))
            if outcome(live) != outcome(kit):
                differences.append(f"{entry.name}: {check.id}\n  live: {live.text()}\n  kit:  {kit.text()}")
    assert not differences, "\n".join(differences)
