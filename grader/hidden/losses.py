"""Hidden checks for SoftmaxCrossEntropy: many classes, big batches and extreme scores."""

import numpy as np

from ..checks.losses import (
    LOG_ZERO_HINT,
    OVERFLOW_HINT,
    check_ce_backward,
    check_ce_case,
    labels_data,
    nan_or_inf,
    overflows,
)
from ..expect import given_shapes
from ..hints import named
from ..registry import check
from ..results import CheckFailure, name_crash

ONE_CLASS_LABELS = named(
    "losses.labels_taken_for_one_hot",
    "with one class, int labels (N,) have as many entries as the scores (N, 1) and pass for one-hot rows: "
    "tell labels from one-hot by y.ndim (1 or 2), not by y.size",
)

MANY_CLASSES = [(32, 50), (2, 100), (9, 1)]  # (N, C): a single class costs nothing


@check("SoftmaxCrossEntropy", "many_classes")
def softmax_ce_many_classes(t):
    for case in MANY_CLASSES:
        scores, labels, _ = labels_data(case, k=90)
        one_class = case[1] == 1  # a crash only here (the cases before passed) points at the size test
        try:
            check_ce_case(t, scores, labels, given_shapes(scores=scores) + " and int labels", [])
        except CheckFailure as failure:
            if one_class and " raised " in failure.message:
                failure.hint = ONE_CLASS_LABELS
            raise
        except Exception as error:
            if one_class:
                name_crash(error, ONE_CLASS_LABELS)
            raise
    check_ce_backward(t, MANY_CLASSES[:2], dout=0.7, as_onehot=True)


@check("SoftmaxCrossEntropy", "extreme_scores")
def softmax_ce_extreme_scores(t):
    scores = np.array(
        [
            [1e4, -1e4, 0.0, 5e3],  # the true class far above the rest
            [7.0, 7.0, 7.0, 7.0],  # a uniform row: loss log(4)
            [-3e3, -3e3 + 1, -3e3 + 2, -3e3],  # every score far below zero
            [0.0, 0.0, 2e4, -2e4],  # confidently wrong by 40000
        ]
    )
    labels = np.array([0, 2, 1, 3])
    given = "scores mixing +-1e4, +-2e4, a uniform row and a row near -3000, with int labels"
    check_ce_case(t, scores, labels, given, [nan_or_inf(OVERFLOW_HINT if overflows(t) else LOG_ZERO_HINT)])
