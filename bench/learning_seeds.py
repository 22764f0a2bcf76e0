"""Do the learning checks converge on every secret seed? The reference and the corpus's correct variants.

    python bench/learning_seeds.py [--seeds 200] [--jobs 2] [--first SEED]

Batch grading draws the learning checks' starting weights, sample order and digits split
from a per-run secret seed. This grades the Sequential and Perceptron checks of the
reference and of every correct corpus variant of the parts they run (Sequential, Affine,
Tanh, Relu, SoftmaxCrossEntropy, SGD, Perceptron) on `--seeds` seeds, random unless
`--first` is given, and prints how many passed, the lowest digits accuracy seen and
every failure with its seed.
"""

import argparse
import multiprocessing
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEQUENTIAL_PARTS = ("Sequential", "Affine", "Tanh", "Relu", "SoftmaxCrossEntropy", "SGD")


def variants():
    """[(name, overrides, exercises graded)]: the reference, then the correct corpus variants."""
    from tests.corpus import collect

    found = [("reference", {}, ("Perceptron", "Sequential"))]
    for alt in collect("ALTERNATIVES"):
        if alt.exercise in SEQUENTIAL_PARTS:
            found.append((alt.name, {alt.exercise: alt.replacement}, ("Sequential",)))
        elif alt.exercise == "Perceptron":
            found.append((alt.name, {alt.exercise: alt.replacement}, ("Perceptron",)))
    return found


def grade_seed(seed):
    """(seed, {variant name: [(check id, status, message) of its failed checks]}, the reference's digits accuracy)."""
    from grader.checks import common
    from grader.registry import all_checks
    from grader.results import run_check
    from grader.sandbox import grading_seed
    from tests.corpus import target_with

    checks = all_checks()
    outcome, lowest = {}, None
    with grading_seed(seed):
        for name, overrides, exercises in variants():
            target = target_with(**overrides)
            results = [run_check(c, target) for c in checks if c.exercise in exercises]
            outcome[name] = [(r.id, r.status, r.message) for r in results if not r.passed]
            if name == "reference":
                lowest = digits_accuracy(target)
        assert common.SEED == seed
    return seed, outcome, lowest


def digits_accuracy(target):
    """The test accuracy learns_digits finds for `target` on this seed's split and weights."""
    from grader.checks import network
    from grader.expected import expected

    spec = [("Affine", 64, 32), ("Relu",), ("Affine", 32, 10)]
    X, y, X_test, y_test = network.digits()
    params = expected("network.he_params", spec, int(network.data_rng(4631).integers(2**31)))
    try:
        accuracy, _, _ = network.train_and_score(target, spec, params, X, y, 0.1, 8, 16, X_test, y_test)
    except Exception:  # noqa: BLE001 - reported by the check itself
        return 1.0
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--first", type=int, help="grade seeds first, first + 1, ... (default: random ones)")
    args = parser.parse_args(argv)
    seeds = (
        [args.first + i for i in range(args.seeds)]
        if args.first is not None
        else [secrets.randbits(32) for _ in range(args.seeds)]
    )
    from grader.checks.network import DIGITS_ACCURACY

    names = [name for name, _, _ in variants()]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        runs = pool.map(grade_seed, seeds, chunksize=1)
    failures = [(seed, name, check) for seed, outcome, _ in runs for name in names for check in outcome[name]]
    lowest = min(low for _, _, low in runs)
    print(f"{len(seeds)} seeds x {len(names)} implementations in {time.perf_counter() - started:.0f} s")
    for name in names:
        passed = sum(not outcome[name] for _, outcome, _ in runs)
        print(f"  {name:<60} passed on {passed} of {len(seeds)} seeds")
    print(
        f"lowest test accuracy of the reference in learns_digits: {lowest:.1%} (needs {DIGITS_ACCURACY:.0%})"
    )
    for seed, name, (check, status, message) in failures:
        text = " ".join(message.split())[:200]
        print(f"FAILED seed {seed}: {name}: {check} {status}: {text}")
    print(f"failures: {len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
