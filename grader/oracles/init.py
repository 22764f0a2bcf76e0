"""The standard deviations of the Xavier and He initialisers, and the wrong ones the hints name."""

import numpy as np

from . import oracle


@oracle
def xavier_std(fan_in, fan_out):
    return np.sqrt(2.0 / (fan_in + fan_out))


@oracle
def he_std(fan_in, fan_out):
    return np.sqrt(2.0 / fan_in)


@oracle
def wrong_stds(name, fan_in, fan_out):
    """{mistake: std} for the classic wrong standard deviations of initialiser `name`."""
    i, o = fan_in, fan_out
    if name == "xavier_init":
        wrong = {
            "he": he_std(i, o),
            "fan_in_only": np.sqrt(1.0 / i),
            "fan_out_only": np.sqrt(1.0 / o),
            "no_factor_2": np.sqrt(1.0 / (i + o)),
            "variance": 2.0 / (i + o),
            "uniform": xavier_std(i, o) / np.sqrt(3),
        }
    else:
        wrong = {
            "xavier": xavier_std(i, o),
            "one_over_fan_in": np.sqrt(1.0 / i),
            "fan_out": np.sqrt(2.0 / o),
            "variance": 2.0 / i,
            "uniform": he_std(i, o) / np.sqrt(3),
        }
    return {key: float(value) for key, value in wrong.items()}
