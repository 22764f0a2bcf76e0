"""The grader catches every known mistake and passes every correct variant."""

import pytest

from grader.registry import all_checks, load_rubric
from grader.results import run_check
from tests.corpus import collect, target_with

CHECKS = all_checks()
RUBRIC = load_rubric()
BUGS = collect("BUGS")
ALTERNATIVES = collect("ALTERNATIVES")


def results_for(exercise, target):
    return [run_check(c, target, RUBRIC[c.id].points) for c in CHECKS if c.exercise == exercise]


GRADED = {}  # (exercise, bug name) -> its results: the tests below judge the same (seeded, deterministic) runs


def graded(bug):
    """The results of grading `bug`'s exercise with the bug in place (once per test session)."""
    key = (bug.exercise, bug.name)
    if key not in GRADED:
        GRADED[key] = results_for(bug.exercise, target_with(**{bug.exercise: bug.replacement}))
    return GRADED[key]


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_bug_is_caught_with_the_right_hint(bug):
    results = graded(bug)
    failed = [r for r in results if not r.passed]
    assert failed, f"no check of {bug.exercise} catches: {bug.name}"
    if bug.hint:
        shown = [r.text() for r in failed]
        assert any(bug.hint in text for text in shown), (
            f"expected a hint with {bug.hint!r}, got:\n" + "\n".join(shown)
        )


@pytest.mark.parametrize("alt", ALTERNATIVES, ids=[a.name for a in ALTERNATIVES])
def test_correct_variant_scores_full_marks(alt):
    results = results_for(alt.exercise, target_with(**{alt.exercise: alt.replacement}))
    failed = [f"{r.id}: {r.text()}" for r in results if not r.passed]
    assert results and not failed, "\n".join(failed)


# Exercises where every failing check of every corpus bug names a specific likely mistake
# (not just "off by a constant factor"): a student sees a hint whichever check they read.
FULLY_HINTED = [
    "AND", "NAND", "OR", "XOR", "step", "sigmoid", "relu", "tanh", "softmax", "mse",
    "numerical_gradient", "gradient_descent", "MulLayer", "AddLayer", "Relu", "Sigmoid", "Tanh",
    "Affine", "Flatten", "SoftmaxCrossEntropy", "MSELoss", "Conv2d", "MaxPool2d", "AvgPool2d",
    "SGD", "Momentum", "AdaGrad", "RMSProp", "Adam", "xavier_init", "he_init", "Dropout",
    "Perceptron", "cross_entropy", "BatchNorm1d", "Sequential",
]  # fmt: skip


@pytest.mark.parametrize("exercise", FULLY_HINTED)
def test_every_failing_check_names_a_likely_mistake(exercise):
    bugs = [b for b in BUGS if b.exercise == exercise]
    assert bugs, f"no corpus bug for {exercise}"
    for bug in bugs:
        for r in graded(bug):
            text = r.text()
            if not r.passed:
                assert "likely mistake" in text and "constant factor" not in text, (
                    f"{bug.name}: {r.id}: {text}"
                )


def test_corpus_size():
    assert len(BUGS) >= 60, f"only {len(BUGS)} bugs in the corpus"
    assert len(ALTERNATIVES) >= 10, f"only {len(ALTERNATIVES)} correct variants in the corpus"


def test_every_check_that_sees_a_gradient_divided_by_n_names_the_batch_size():
    from tests.corpus.layers import AffineDividesByN

    failed = [r for r in results_for("Affine", target_with(Affine=AffineDividesByN)) if not r.passed]
    assert len(failed) >= 3, [r.id for r in failed]  # the 2-d, odd-shaped and 4-d inputs
    for r in failed:
        assert "off by a factor of 1/N" in r.text(), f"{r.id}: {r.text()}"


def test_a_check_blocked_by_a_missing_prerequisite_says_so_first():
    import exercises

    results = results_for("Sequential", target_with(SGD=exercises.SGD))
    blocked = [r for r in results if "SGD" in r.message]
    assert blocked, [r.text() for r in results]
    for r in blocked:
        first_line = r.text().splitlines()[0]
        assert r.status == "not implemented" and r.points == 0
        assert (
            first_line
            == f"{r.id} cannot be graded yet: it runs your SGD, and SGD.step is not implemented yet"
        )
        assert "implement SGD first" in r.text()
    assert any(r.passed for r in results)  # forward and backward do not run SGD


def test_a_check_blocked_by_a_wrong_prerequisite_names_it_first():
    from tests.corpus.optim import BUGS as OPTIM_BUGS

    blamed = 0
    for bug in (b for b in OPTIM_BUGS if b.exercise == "SGD"):  # some (weight decay) do not touch fit at all
        for r in results_for("Sequential", target_with(SGD=bug.replacement)):
            if not r.passed:
                assert "it runs your SGD, which fails a basic test" in r.text().splitlines()[0], r.text()
                blamed += 1
    assert blamed


def test_every_hint_names_its_mistake_by_a_stable_identifier():
    """Hints carry an identifier without numbers or shapes, so a class's results can be counted per mistake."""
    by_mistake = {}
    for bug in BUGS:
        for r in graded(bug):
            if not r.passed and r.hint:
                assert r.mistake, f"{bug.name}: {r.id}: no identifier for the hint {r.hint!r}"
                assert type(r.hint) is str  # the result holds plain text, the identifier apart
                by_mistake.setdefault(r.mistake, set()).add(bug.exercise)
    assert len(by_mistake) >= 150, sorted(by_mistake)
    # the same mistake named with different numbers (batch sizes, channels) keeps one identifier
    assert {"Conv2d"} <= by_mistake["conv.db_multiplied_number_output_channels"]
