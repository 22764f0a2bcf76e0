"""Chapter 6: weight initialisation for an Affine weight matrix of shape (fan_in, fan_out)."""

import numpy as np


def xavier_init(fan_in, fan_out, rng=None):
    """Xavier (Glorot) normal initialisation: std = sqrt(2 / (fan_in + fan_out)).

    Returns a (fan_in, fan_out) array drawn from `rng` (a fresh Generator if None).
    """
    rng = np.random.default_rng() if rng is None else rng
    scale = (2.0 / float(fan_in + fan_out)) ** 0.5
    draws = rng.standard_normal(size=(fan_in, fan_out))
    return scale * draws


def he_init(fan_in, fan_out, rng=None):
    """He (Kaiming) normal initialisation for ReLU networks: std = sqrt(2 / fan_in).

    Returns a (fan_in, fan_out) array drawn from `rng` (a fresh Generator if None).
    """
    rng = np.random.default_rng() if rng is None else rng
    scale = (2.0 / float(fan_in)) ** 0.5
    draws = rng.standard_normal(size=(fan_in, fan_out))
    return scale * draws
