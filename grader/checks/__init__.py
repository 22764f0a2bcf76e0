"""Every check, chapter by chapter, and one `check_<exercise>` function per exercise.

Each `check_<exercise>(impl)` runs all checks of that exercise on `impl` (a class
or function, a module, `globals()`, or a target) and raises AssertionError
listing what failed: the function a notebook's test cell calls.
"""

import importlib
from pathlib import Path

from ..registry import CHECKS, load_hidden_checks
from ..results import run_check
from ..target import as_target

# The check modules in the curriculum's order, in which reports list the exercises.
CHAPTERS = (
    "perceptron",
    "functions",
    "graph",
    "layers",
    "losses",
    "network",
    "optim",
    "init",
    "regularization",
    "conv",
)

# Importing a module registers its checks. A student kit holds only the modules of the
# exercises it hands out.
for _chapter in CHAPTERS:
    if (Path(__file__).parent / f"{_chapter}.py").is_file():
        importlib.import_module(f"{__name__}.{_chapter}")


def run_exercise(exercise, *impl):
    """Run every check of `exercise` on `impl`; return the CheckResults."""
    target = as_target(*impl)
    return [run_check(c, target) for c in CHECKS.values() if c.exercise == exercise]


def exercise_checker(exercise):
    def check_exercise(*impl):
        results = run_exercise(exercise, *impl)
        failed = [r for r in results if not r.passed]
        if failed:
            raise AssertionError("\n".join(f"[{r.id}] {r.text()}" for r in failed))
        return results

    check_exercise.__name__ = f"check_{exercise}"
    check_exercise.__doc__ = f"Run every check of {exercise}; raise AssertionError describing each failure."
    return check_exercise


check_and = exercise_checker("AND")
check_nand = exercise_checker("NAND")
check_or = exercise_checker("OR")
check_xor = exercise_checker("XOR")
check_perceptron = exercise_checker("Perceptron")
check_step = exercise_checker("step")
check_sigmoid_function = exercise_checker("sigmoid")
check_relu_function = exercise_checker("relu")
check_tanh_function = exercise_checker("tanh")
check_softmax = exercise_checker("softmax")
check_mse = exercise_checker("mse")
check_cross_entropy = exercise_checker("cross_entropy")
check_numerical_gradient = exercise_checker("numerical_gradient")
check_gradient_descent = exercise_checker("gradient_descent")
check_mul_layer = exercise_checker("MulLayer")
check_add_layer = exercise_checker("AddLayer")
check_affine = exercise_checker("Affine")
check_relu = exercise_checker("Relu")
check_sigmoid = exercise_checker("Sigmoid")
check_tanh = exercise_checker("Tanh")
check_flatten = exercise_checker("Flatten")
check_dropout = exercise_checker("Dropout")
check_batch_norm1d = exercise_checker("BatchNorm1d")
check_softmax_cross_entropy = exercise_checker("SoftmaxCrossEntropy")
check_mseloss = exercise_checker("MSELoss")
check_conv2d = exercise_checker("Conv2d")
check_max_pool2d = exercise_checker("MaxPool2d")
check_avg_pool2d = exercise_checker("AvgPool2d")
check_sgd = exercise_checker("SGD")
check_momentum = exercise_checker("Momentum")
check_ada_grad = exercise_checker("AdaGrad")
check_rmsprop = exercise_checker("RMSProp")
check_adam = exercise_checker("Adam")
check_xavier_init = exercise_checker("xavier_init")
check_he_init = exercise_checker("he_init")
check_sequential = exercise_checker("Sequential")

# The hidden checks too (absent from a student kit), so check_<exercise> in a notebook runs them.
load_hidden_checks()
