"""Every input the exercise does not fix comes from the run's seed, and the learning checks judge the
weights a student's fit learned with the grader's own forward: recognising inputs gains nothing."""

import itertools
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import solutions
from grader.checks import common, network, perceptron
from grader.registry import all_checks, load_rubric
from grader.results import run_check
from grader.sandbox import grade_isolated, grading_seed
from grader.target import InProcessTarget, as_target, load_impl
from tests.corpus import collect, target_with
from tests.hostile.memorised import CASES, PUBLIC_SEED

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric()
CHECKS = all_checks()
OTHER_SEEDS = [7, 3_141_592_653]  # fixed, so a failure here can be replayed


def secret_seed():
    while (seed := secrets.randbits(32)) == PUBLIC_SEED:
        pass
    return seed


def score(results, exercise):
    return sum(r.points for r in results if r.exercise == exercise)


def graded_in_process(impl, exercises, seed):
    target = load_impl(impl)
    with grading_seed(seed):
        return [run_check(c, target, RUBRIC[c.id].points) for c in CHECKS if c.exercise in exercises]


# ----------------------------------------------------------------------------- inputs follow the seed
class LoggingTarget(InProcessTarget):
    """The reference, in process, keeping every array handed to it."""

    def __init__(self):
        super().__init__(as_target(solutions).namespace)
        self.sent = []

    def _log(self, values):
        for value in values:
            if isinstance(value, np.ndarray):
                self.sent.append(np.array(value))
            elif isinstance(value, dict):
                self._log(value.values())

    def _invoke(self, fn, args, kwargs, *more):
        self._log([*args, *kwargs.values()])
        return super()._invoke(fn, args, kwargs, *more)

    def new_filled(self, name, args, kwargs, attr, values):
        self._log([values])
        return super().new_filled(name, args, kwargs, attr, values)

    def put(self, value, label="value"):
        self._log([value])
        return super().put(value, label)


def inputs_sent(part, seed):
    """Every array the sanity test of `part` hands to student code with `seed`."""
    target = LoggingTarget()
    with grading_seed(seed):
        network.SANITY[part](target, backward=True)
    return target.sent


@pytest.mark.parametrize("part", sorted(network.SANITY))
def test_the_sanity_tests_of_sequentials_parts_draw_from_the_seed(part):
    public, other = inputs_sent(part, PUBLIC_SEED), inputs_sent(part, OTHER_SEEDS[1])
    assert public and other, "the sanity test sent no array"
    assert all(a.shape != b.shape or not np.allclose(a, b) for a, b in zip(public, other, strict=False)), (
        f"the {part} sanity test sends the same inputs under another seed"
    )


def test_the_learning_inputs_and_the_perceptron_data_draw_from_the_seed():
    with grading_seed(PUBLIC_SEED):
        split, case = network.digits()[1], perceptron.fit_case()
        weights = network.random_params([("Affine", 2, 4)], common.data_rng(4610))
    with grading_seed(OTHER_SEEDS[1]):
        assert not np.array_equal(network.digits()[1], split)
        assert not np.array_equal(perceptron.fit_case()[0], case[0])
        assert not np.allclose(
            network.random_params([("Affine", 2, 4)], common.data_rng(4610))["0.W"], weights["0.W"]
        )


def test_the_perceptron_data_stays_dyadic_and_balanced():
    for seed in [PUBLIC_SEED, *OTHER_SEEDS, *range(20)]:
        with grading_seed(seed):
            X, y = perceptron.fit_case()
        assert np.array_equal(X * 2, np.round(X * 2)) and np.abs(X).max() <= 1, X
        assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize(
    "implementation",
    [
        "reference",
        "perceptron thresholding with >= 0, errors after each epoch",
        "perceptron with np.heaviside",
    ],
)
def test_the_perceptron_learns_every_gate_in_every_order_within_20_epochs(implementation):
    alternatives = {a.name: a.replacement for a in collect("ALTERNATIVES")}
    cls = solutions.Perceptron if implementation == "reference" else alternatives[implementation]
    tables = {"AND": (0, 0, 0, 1), "OR": (0, 1, 1, 1), "NAND": (1, 1, 1, 0)}
    for (gate, table), order in itertools.product(tables.items(), itertools.permutations(range(4))):
        p, y = cls(2), np.array(table)
        errors = p.fit(perceptron.GATE_X[list(order)], y[list(order)], epochs=20)
        assert np.array_equal(p.predict(perceptron.GATE_X), y) and list(errors)[-1] == 0, (gate, order)


# ----------------------------------------------------------------------------- honest submissions
@pytest.mark.slow
def test_the_reference_keeps_full_marks_on_a_secret_seed_in_the_sandbox():
    exercises = ["Perceptron", "Sequential", "step", "sigmoid", "tanh", "cross_entropy", "SoftmaxCrossEntropy",
                 "xavier_init", "he_init", "Dropout"]  # fmt: skip
    seed = secret_seed()
    results = grade_isolated(ROOT / "solutions", checks=exercises, seed=seed)
    failed = [f"{r.id}: {r.text()}" for r in results if not r.passed]
    assert results and not failed, f"seed {seed}:\n" + "\n".join(failed)


# The exercises whose inputs the seed now draws (sizes, labels, extreme values, student-side seeds).
SEEDED = {"Perceptron", "Sequential", "step", "sigmoid", "tanh", "cross_entropy", "SoftmaxCrossEntropy",
          "xavier_init", "he_init", "Dropout", "SGD", "Affine", "Relu", "Tanh"}  # fmt: skip
BUGS = [b for b in collect("BUGS") if b.exercise in SEEDED]
ALTERNATIVES = [a for a in collect("ALTERNATIVES") if a.exercise in SEEDED]


def results_for(exercise, target, seed):
    with grading_seed(seed):
        return [run_check(c, target, RUBRIC[c.id].points) for c in CHECKS if c.exercise == exercise]


@pytest.mark.slow
@pytest.mark.parametrize("seed", OTHER_SEEDS)
def test_on_other_seeds_every_bug_is_caught_with_its_hint_and_every_variant_keeps_full_marks(seed):
    problems = []
    for bug in BUGS:
        failed = [
            r
            for r in results_for(bug.exercise, target_with(**{bug.exercise: bug.replacement}), seed)
            if not r.passed
        ]
        if not failed:
            problems.append(f"not caught: {bug.name}")
        elif bug.hint and not any(bug.hint in r.text() for r in failed):
            problems.append(
                f"{bug.name}: no hint with {bug.hint!r} in " + " | ".join(r.text() for r in failed)
            )
    for alt in ALTERNATIVES:
        results = results_for(alt.exercise, target_with(**{alt.exercise: alt.replacement}), seed)
        problems += [f"{alt.name}: {r.id}: {r.text()}" for r in results if not r.passed]
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- hostile submissions
@pytest.mark.parametrize("case", sorted(CASES))
def test_recognising_inputs_scores_no_more_than_the_honest_twin_on_a_secret_seed(case, tmp_path):
    build, exercises, compared = CASES[case]
    hostile, honest = build(tmp_path / "hostile", True), build(tmp_path / "honest", False)
    seed = secret_seed()
    got = score(grade_isolated(hostile, checks=exercises, seed=seed), compared)
    deserved = score(grade_isolated(honest, checks=exercises, seed=seed), compared)
    assert got <= deserved, f"{case} scored {got} > its honest twin's {deserved} (seed {seed})"


def test_the_sanity_case_gains_with_the_public_seed(tmp_path):
    """Positive control: the memorised dout passes the gate when the inputs are the public ones."""
    build, exercises, compared = CASES["sanity"]
    got = score(graded_in_process(build(tmp_path / "hostile", True), exercises, PUBLIC_SEED), compared)
    deserved = score(graded_in_process(build(tmp_path / "honest", False), exercises, PUBLIC_SEED), compared)
    assert got > deserved, (got, deserved)


@pytest.mark.parametrize("case", ["lookup_forward", "lookup_predict"])
def test_the_lookup_cases_gain_when_only_the_students_code_is_asked(case, tmp_path, monkeypatch):
    """Positive control: judged by the student's forward or predict alone (as in a kit), a lookup passes."""
    build, exercises, compared = CASES[case]
    hostile, honest = build(tmp_path / "hostile", True), build(tmp_path / "honest", False)
    seed = secret_seed()
    for module in (network, perceptron):
        monkeypatch.setattr(module, "judged_by_grader", lambda: False)
    got = score(graded_in_process(hostile, exercises, seed), compared)
    deserved = score(graded_in_process(honest, exercises, seed), compared)
    assert got > deserved, (got, deserved)


# ----------------------------------------------------------------------------- the bench
@pytest.mark.slow
def test_the_learning_seeds_bench_grades_the_variants_on_random_seeds():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "learning_seeds.py"), "--seeds", "1", "--jobs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failures: 0" in done.stdout and "passed on 1 of 1 seeds" in done.stdout, done.stdout
    for alt in collect("ALTERNATIVES"):
        if alt.exercise in ("Sequential", "SGD", "Perceptron"):
            assert alt.name in done.stdout, done.stdout
