"""Side effects are judged by the trusted side, and a worker's garbled reply is its failure (issue 13).

Inputs reach sandboxed student code in memory it cannot write; what the contract lets it
write is shared memory the grading process reads itself. Nothing the worker says about its
own side effects is used, so a worker patched to deny them gains nothing.
"""

import sys

import numpy as np
import pytest

import grader.sandbox.target as sandbox
import solutions
from grader.checks.handed import bowl
from grader.registry import all_checks, load_rubric
from grader.results import CheckFailure, run_check
from grader.sandbox import SandboxTarget, grade_isolated, grading_seed
from grader.target import InProcessTarget, Rng, load_impl
from tests.corpus import collect
from tests.hostile import ROOT, write_submission
from tests.hostile.side_effects import LIES, lying_reply, nudging_gradient, sgd_into_grads, zeroing_affine

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox needs Linux")

RUBRIC = load_rubric()
SEED = 20261123
IN_PLACE = "modified its input in place"
COPY_HINT = "work on a copy"

# layers.py additions, exported: which ways of writing into its argument work for student code.
PROBE = '''
def probe_writes(x):
    """For x and for a copy of it: 1.0 for each way of writing into it that worked."""
    import ctypes
    import mmap

    def ways(a):
        found = []
        for way in ("flags", "setflags", "view", "mprotect"):
            try:
                if way == "flags":
                    a.flags.writeable = True
                    a[...] = 1.0
                elif way == "setflags":
                    a.setflags(write=True)
                    a[...] = 1.0
                elif way == "view":
                    np.ndarray(a.shape, a.dtype, buffer=a)[...] = 1.0
                else:
                    libc = ctypes.CDLL(None, use_errno=True)
                    start = a.ctypes.data // mmap.PAGESIZE * mmap.PAGESIZE
                    size = ctypes.c_size_t(a.ctypes.data + a.nbytes - start)
                    if libc.mprotect(ctypes.c_void_p(start), size, 3) != 0:
                        raise ValueError("mprotect refused")
                found.append(1.0)
            except (ValueError, TypeError):
                found.append(0.0)
        return found

    return np.array([ways(x), ways(x.copy())])
'''


def grade(impl, checks, limits=None):
    return grade_isolated(impl, checks=checks, seed=SEED, limits=limits)


def in_process(impl, checks, read_only_inputs=False):
    target = load_impl(impl)
    target.read_only_inputs = read_only_inputs
    chosen = [c for c in all_checks() if c.id in checks or c.exercise in checks]
    with grading_seed(SEED):
        return [run_check(c, target, RUBRIC[c.id].points, RUBRIC[c.id].visibility) for c in chosen]


def total(results):
    return sum(r.points for r in results)


def summary(results):
    """What a student reads of each result, as text (frames apart, for a comparison)."""
    return [f"{r.id} {r.status} {r.points} {r.hint}: {r.message}" for r in results]


@pytest.fixture
def probe(tmp_path):
    return write_submission(tmp_path / "probe", module=PROBE, exports=("probe_writes",))


# ----------------------------------------------------------------------------- read-only inputs
def test_inputs_cannot_be_written_by_the_worker_however_it_tries(probe):
    """Flags, a new view, mprotect: none makes the input writable; the same ways work on a copy
    (the probe's positive control), and the grader's array is untouched."""
    x = np.arange(12.0).reshape(3, 4)
    with SandboxTarget(probe) as target:
        assert target.input_memory in ("sealed", "read-only")
        got = target.call("probe_writes", x)
    assert got[0].tolist() == [0.0, 0.0, 0.0, 0.0], got
    assert got[1].tolist() == [1.0, 1.0, 1.0, 1.0], got
    assert np.array_equal(x, np.arange(12.0).reshape(3, 4))


def test_an_in_place_edit_fails_in_the_students_frame_with_the_usual_hint(tmp_path):
    impl = write_submission(tmp_path / "relu")
    functions = impl / "functions.py"
    functions.write_text(functions.read_text() + "\n\ndef relu(x):\n    x[x < 0] = 0\n    return x\n")
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    with SandboxTarget(impl) as target, pytest.raises(CheckFailure) as caught:
        target.call("relu", x)
    assert caught.value.message.startswith(f"relu {IN_PLACE} (argument 1)")
    assert "assignment destination is read-only" in caught.value.message
    assert f'File "{functions.resolve()}"' in caught.value.message and "x[x < 0] = 0" in caught.value.message
    assert COPY_HINT in caught.value.hint
    assert x.tolist() == [[-1.0, 2.0], [3.0, -4.0]]
    # the same verdicts, messages and hints as in this process with the sandbox's read-only inputs
    sandboxed, local = grade(impl, ["relu"]), in_process(impl, ["relu"], read_only_inputs=True)
    assert [line.split("\n  File")[0] for line in summary(sandboxed)] == [
        line.split("\n  File")[0] for line in summary(local)
    ]


@pytest.mark.slow
def test_correct_variants_keep_full_marks_with_read_only_inputs():
    """Every different-but-correct corpus variant, and the reference, with the sandbox's input
    semantics (arrays read-only except what the contract writes in place)."""
    namespace = {k: v for k, v in vars(solutions).items() if not k.startswith("_")}
    checks = all_checks()
    reference = InProcessTarget(namespace, read_only_inputs=True)
    results = [run_check(c, reference, RUBRIC[c.id].points) for c in checks]
    assert all(r.passed for r in results), [r.text() for r in results if not r.passed]
    for alt in collect("ALTERNATIVES"):
        target = InProcessTarget({**namespace, alt.exercise: alt.replacement}, read_only_inputs=True)
        results = [run_check(c, target, RUBRIC[c.id].points) for c in checks if c.exercise == alt.exercise]
        assert all(r.passed for r in results), (alt.name, [r.text() for r in results if not r.passed])


# ----------------------------------------------------------------------------- a lying worker
def test_what_numerical_gradient_does_to_x_is_seen_by_the_grader_when_the_worker_denies_it(tmp_path):
    hostile = nudging_gradient(tmp_path / "hostile", hostile=True)
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    with SandboxTarget(hostile) as target:
        target.begin_check(30)
        target.call("numerical_gradient", bowl, x)
        assert target.last_mutations == ["argument 2"]
        held = target.put(x, "x")
        target.call("numerical_gradient", bowl, held)
        assert np.allclose(held.fetch() - x, 1e-4)
    checks = ["numerical_gradient"]
    honest = nudging_gradient(tmp_path / "honest", hostile=False)
    lying, twin = grade(hostile, checks), grade(honest, checks)
    assert total(lying) <= total(twin) < total(grade(ROOT / "solutions", checks))
    assert any("changed x" in r.message for r in lying)


def test_an_input_zeroed_every_way_while_the_worker_lies_scores_no_more_than_its_honest_twin(tmp_path):
    """Finding 2: right answers, inputs zeroed, the worker's reports and numpy patched."""
    checks = ["Affine", "Sequential.forward", "Sequential.backward"]
    hostile = grade(zeroing_affine(tmp_path / "hostile", hostile=True), checks)
    twin_impl = zeroing_affine(tmp_path / "honest", hostile=False)
    twin, twin_local = grade(twin_impl, checks), in_process(twin_impl, checks)
    full = total(grade(ROOT / "solutions", checks))
    assert total(hostile) <= total(twin) <= total(twin_local) < full, (total(hostile), total(twin), full)
    assert any(IN_PLACE in r.message and COPY_HINT in (r.hint or "") for r in twin)


ATTACKS = {  # a hostile submission and its honest twin, and the checks they are graded on
    "zeroed inputs": (zeroing_affine, ["Affine.forward", "Affine.backward_dx"]),
    "x left nudged": (nudging_gradient, ["numerical_gradient"]),
    "grads edited": (sgd_into_grads, ["SGD"]),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_without_shared_memory_the_same_attacks_would_pay(attack, tmp_path, monkeypatch):
    """The positive control of the tests around it: with inputs as the worker's own copies (the
    fallback where there is no memfd) a raw write and the worker's lies go unseen, and each
    hostile submission scores more than its twin."""
    monkeypatch.setattr(sandbox, "shared_inputs", lambda: "copies")
    build, checks = ATTACKS[attack]
    hostile = grade(build(tmp_path / "hostile", hostile=True), checks)
    twin = grade(build(tmp_path / "honest", hostile=False), checks)
    assert total(hostile) > total(twin)


def test_an_optimizer_that_edits_grads_gains_nothing_by_lying(tmp_path):
    checks = ["SGD"]
    hostile = grade(sgd_into_grads(tmp_path / "hostile", hostile=True), checks)
    twin_impl = sgd_into_grads(tmp_path / "honest", hostile=False)
    twin = grade(twin_impl, checks)
    assert total(hostile) <= total(twin) <= total(in_process(twin_impl, checks))
    assert any(f"SGD.step {IN_PLACE} (argument 2)" in r.message for r in twin)


# ----------------------------------------------------------------------------- the fallback
def test_without_shared_memory_inputs_are_still_read_only(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "shared_inputs", lambda: "copies")
    impl = write_submission(tmp_path / "relu")
    functions = impl / "functions.py"
    functions.write_text(functions.read_text() + "\n\ndef relu(x):\n    x[x < 0] = 0\n    return x\n")
    reference = grade(ROOT / "solutions", ["Affine", "relu", "numerical_gradient", "SGD"])
    assert all(r.passed for r in reference), [r.text() for r in reference if not r.passed]
    (values, untouched) = grade(impl, ["relu"])
    assert IN_PLACE in values.message and IN_PLACE in untouched.message


# ----------------------------------------------------------------------------- garbled replies
@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_malformed_reply_is_the_workers_failure_not_a_grader_crash(lie, tmp_path):
    (result,) = grade(lying_reply(tmp_path / lie, lie), ["Affine.forward"])
    assert result.status == "error" and result.points == 0
    assert "broke the grading protocol" in result.message or "larger than" in result.message, result.message
    assert "your code raised" not in result.message and "grader/sandbox/" not in result.message
    assert "Traceback" not in result.message


def test_a_bad_reply_in_one_check_leaves_the_next_check_a_fresh_worker(tmp_path):
    results = grade(lying_reply(tmp_path / "lie", "wrong_length"), ["Affine.forward", "sigmoid"])
    assert results[0].status == "error"
    assert all(r.passed for r in results[1:])


def test_the_worker_gets_new_shared_memory_when_an_arena_fills(tmp_path):
    """Inputs larger than an arena, and many of them: each call still sees its own."""
    with SandboxTarget(ROOT / "solutions") as target:
        target.begin_check(60)
        for n in (10, sandbox.ARENA_BYTES // 8 + 1, 3, 200_000):
            x = np.linspace(-2.0, 2.0, n)
            assert np.array_equal(target.call("relu", x), np.maximum(x, 0.0))
        layer = target.new("Affine", 4, 3, rng=Rng(0))
        xs = [np.full((2, 4), float(i)) for i in range(300)]
        for x in xs:
            layer.call("forward", x)
        assert layer.call("backward", np.ones((2, 3))).shape == (2, 4)
