"""The benchmark scripts the README quotes still run, on tiny settings, and report what they claim.

Their timings are not checked (machines are noisy); what they compare and count is.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(script, *args, timeout=300):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_grade_time_covers_every_check_of_the_reference():
    from grader.registry import all_checks

    out = run_bench("grade_time.py", "--repeat", "1")
    total = re.search(r"total: ([\d.]+) s for (\d+) checks", out)
    assert total, out
    assert int(total.group(2)) == len(all_checks())
    for exercise in ("Affine", "Conv2d", "MaxPool2d", "Adam", "Sequential"):
        assert re.search(rf"^{exercise}\s+\d+\s+[\d.]+", out, re.MULTILINE), out


def test_layers_vs_torch_compares_the_same_gradients_and_trains_both():
    pytest.importorskip("torch")
    out = run_bench("layers_vs_torch.py", "--repeat", "1", "--epochs", "1")
    rows = re.findall(
        r"^(\w+)\s+\(.*?\)\S*.*?\s(float32|float64)\s.*?\s([\d.]+e[+-]\d+)\s+(ok|MISSED)$", out, re.M
    )
    assert {(name, dtype) for name, dtype, _, _ in rows} == {
        (name, dtype)
        for name in ("Conv2d", "MaxPool2d", "Affine", "SoftmaxCrossEntropy")
        for dtype in ("float32", "float64")
    }, out
    for name, dtype, diff, _ in rows:  # the kit's dx and torch's dx agree: both sides did the same work
        assert float(diff) < (1e-5 if dtype == "float32" else 1e-12), (name, dtype, diff)
    assert re.search(r"float32 [\d.]+ ms = [\d.]+x torch's whole forward \+ backward", out), out
    race = re.findall(r"^\s+(kit|torch)\s+[\d.]+ s\s+test accuracy ([\d.]+)%", out, re.M)
    assert [side for side, _ in race] == ["kit", "torch"], out
    assert re.search(r"ratio kit / torch: [\d.]+", out), out


def test_batch_throughput_grades_a_small_mixed_batch():
    out = run_bench("batch_throughput.py", "--count", "6", "--sample", "1")
    full = re.search(r"correct submissions with full marks: (\d+) of (\d+)", out)
    assert full and full.group(1) == full.group(2) != "0", out
    assert re.search(r"isolation overhead per submission .*: -?[\d.]+ s wall time", out), out


@pytest.mark.slow
def test_nbgrader_autograde_bench_grades_a_class_and_reports_seconds_per_submission():
    pytest.importorskip("nbgrader")
    from grader.sandbox import available_isolation

    if available_isolation() != "namespaces":
        pytest.skip("the course's autograde refuses to grade without isolation")
    out = run_bench("nbgrader_autograde.py", "--students", "1", "--chapters", "ch2_activations")
    assert re.search(
        r"ch2_activations: 1 submissions in [\d.]+ s: [\d.]+ s per submission; full marks for 1 of 1", out
    ), out


def test_hint_rate_reports_every_held_out_mistake():
    from tests.holdout import holdout

    out = run_bench("hint_rate.py")
    assert f"held-out mistakes: {len(holdout())};" in out, out
    assert len(re.findall(r"^(named|caught, not named|MISSED) ", out, re.MULTILINE)) == len(holdout()), out
