"""bench/outside_hint_rate.py: its source list is well formed, its adapters keep the kit's API, and its
truth, grading and judgement bookkeeping work, on stand-ins built from the reference (no outside code)."""

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import solutions
from grader.contract import SIGNATURES
from grader.hints import MISTAKE_ID
from grader.registry import all_checks, load_rubric

ROOT = Path(__file__).resolve().parent.parent


def bench():
    spec = importlib.util.spec_from_file_location(
        "outside_hint_rate", ROOT / "bench" / "outside_hint_rate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


B = bench()


def test_every_source_is_pinned_and_every_entry_has_an_adapter_and_a_judgement_of_its_bug():
    sources = B.read_sources()
    assert len({s.id for s in sources}) == len(sources)
    assert len({s.repo for s in sources}) >= 15
    for source in sources:
        assert len(source.commit) == 40 and int(source.commit, 16) >= 0, source.id
        assert source.module in source.files, source.id
        for entry in source.entries:
            assert (entry.exercise, entry.adapter) in B.ADAPTERS, (source.id, entry.exercise)
            assert all(MISTAKE_ID.fullmatch(m) for m in entry.mistake), (source.id, entry.exercise)
            if entry.bug:
                assert isinstance(entry.named, bool) and isinstance(entry.misleading, bool), (
                    source.id,
                    entry,
                )
            else:
                assert entry.named is None and not entry.mistake, (source.id, entry.exercise)


@pytest.mark.parametrize("key", sorted(B.ADAPTERS))
def test_adapters_keep_the_kits_constructor_signature(key):
    exercise, _ = key
    cls = B.ADAPTERS[key](types.SimpleNamespace())
    target = B.target_with(**{exercise: cls})
    assert cls.__name__ == exercise
    assert target.parameters(exercise)[: len(SIGNATURES[exercise])] == SIGNATURES[exercise]


def cs231n_style(crop_with_minus_p=False):
    """conv/pool functions with CS231n's signatures, computed by the reference layers."""

    def conv_forward_naive(x, w, b, conv_param):
        layer = solutions.Conv2d(w.shape[1], w.shape[0], w.shape[2], conv_param["stride"], conv_param["pad"])
        layer.params["W"][...], layer.params["b"][...] = w, b
        return layer.forward(x), (layer, conv_param["pad"])

    def conv_backward_naive(dout, cache):
        layer, p = cache
        dx = layer.backward(dout)
        if crop_with_minus_p:  # a known mistake: the crop p:-p is empty when p = 0
            padded = np.pad(dx, ((0, 0), (0, 0), (p, p), (p, p)))
            dx = padded[:, :, p:-p, p:-p]
        return dx, layer.grads["W"], layer.grads["b"]

    def max_pool_forward_naive(x, pool_param):
        layer = solutions.MaxPool2d(pool_param["pool_height"], pool_param["stride"])
        return layer.forward(x), layer

    def max_pool_backward_naive(dout, cache):
        return cache.backward(dout)

    return types.SimpleNamespace(
        **{
            f.__name__: f
            for f in (
                conv_forward_naive,
                conv_backward_naive,
                max_pool_forward_naive,
                max_pool_backward_naive,
            )
        }
    )


@pytest.mark.torch
def test_truth_and_grading_through_the_adapters_on_reference_stand_ins():
    pytest.importorskip("torch")
    checks, rubric = all_checks(), load_rubric()
    for exercise in ("Conv2d", "MaxPool2d"):
        outcome = B.evaluate(B.Entry("ref", exercise, "cs231n"), cs231n_style(), checks, rubric)
        assert outcome.truth == [] and not outcome.caught, (exercise, outcome.truth, outcome.failed)
    outcome = B.evaluate(B.Entry("crop", "Conv2d", "cs231n"), cs231n_style(True), checks, rubric)
    padded = {label for label, *case in B.CONV_CASES if case[-1] > 0}
    assert outcome.buggy and all(": dx differs" in t for t in outcome.truth), outcome.truth
    assert not any(t.split(":")[0] in padded for t in outcome.truth), outcome.truth
    assert outcome.caught and "conv.crop_minus_p_empty" in outcome.mistakes
    stale = B.Outcome(
        B.Entry("crop", "Conv2d", "cs231n", mistake=["conv.some_other"]), outcome.truth, outcome.failed
    )
    assert stale.stale
    fresh = B.Outcome(
        B.Entry("crop", "Conv2d", "cs231n", mistake=outcome.mistakes), outcome.truth, outcome.failed
    )
    assert not fresh.stale


@pytest.mark.torch
def test_truth_of_the_reference_layers_is_correct():
    pytest.importorskip("torch")
    for exercise, truth in B.TRUTH.items():
        assert truth(getattr(solutions, exercise)) == [], exercise


def test_files_come_from_local_clones_and_missing_ones_are_reported(tmp_path):
    clone = tmp_path / "clones" / "someone" / "course"
    clone.mkdir(parents=True)

    def run(*args):
        return subprocess.run(["git", "-C", str(clone), *args], check=True, capture_output=True, text=True)

    run("init", "-q")
    (clone / "layers.py").write_text("VALUE = 3\n")
    run("add", "layers.py")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    commit = run("rev-parse", "HEAD").stdout.strip()
    source = B.Source("someone", "someone/course", commit, ["layers.py"], "layers.py")
    sources_dir = tmp_path / "outside"
    assert B.load_module(source, sources_dir)[0] is None
    assert B.fetch_file(source, "layers.py", sources_dir / "someone" / "layers.py", tmp_path / "clones")
    module, why_not = B.load_module(source, sources_dir)
    assert why_not is None and module.VALUE == 3
    assert not B.fetch_file(source, "absent.py", sources_dir / "someone" / "absent.py", tmp_path / "clones")


def test_the_script_reports_sources_it_cannot_find(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "outside_hint_rate.py"),
            str(tmp_path),
            "--only",
            "oreilly-japan",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "not graded (missing" in done.stdout and "not graded: oreilly-japan" in done.stdout
