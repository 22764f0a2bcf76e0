"""Chapter 6: weight initialisation for an Affine weight matrix of shape (fan_in, fan_out)."""

import numpy as np


def xavier_init(fan_in, fan_out, rng=None):
    """Xavier (Glorot) normal initialisation: std = sqrt(2 / (fan_in + fan_out)).

    Returns a (fan_in, fan_out) array drawn from `rng` (a fresh Generator if None).
    """
    rng = np.random.default_rng() if rng is None else rng
    ### BEGIN SOLUTION: draw standard normals and scale them to the Xavier standard deviation
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))
    ### END SOLUTION


def he_init(fan_in, fan_out, rng=None):
    """He (Kaiming) normal initialisation for ReLU networks: std = sqrt(2 / fan_in).

    Returns a (fan_in, fan_out) array drawn from `rng` (a fresh Generator if None).
    """
    rng = np.random.default_rng() if rng is None else rng
    ### BEGIN SOLUTION: draw standard normals and scale them to the He standard deviation
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    ### END SOLUTION
