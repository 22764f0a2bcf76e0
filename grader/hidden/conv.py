"""Hidden checks for Conv2d, MaxPool2d and AvgPool2d: kernels of 1 and of the whole input, padding
wider than the kernel, strides above the kernel size, more channels and a batch of three."""

from ..checks.conv import (
    ConvCase,
    PoolCase,
    avg_forward_cases,
    avg_pool_gradient,
    conv_forward_cases,
    conv_gradient,
    db_hints,
    dw_hints,
    dx_hints,
    pool_forward_cases,
    pool_gradient,
)
from ..registry import check

ODD_CONV = [
    ConvCase(3, 3, 4, 7, 8, 4, 3, 2),  # even kernel, stride 3, padding 2, batch of three
    ConvCase(1, 1, 1, 5, 5, 5, 1, 2),  # kernel as large as the input, one channel
    ConvCase(2, 4, 1, 7, 6, 1, 2, 0),  # 1 x 1 kernel with stride 2, one output channel
    ConvCase(1, 2, 2, 6, 9, 3, 4, 3),  # stride > kernel, padding = kernel: windows of zeros only
]


@check("Conv2d", "odd_geometry_forward")
def conv_odd_geometry_forward(t):
    conv_forward_cases(t, ODD_CONV, seed=50)


@check("Conv2d", "odd_geometry_backward")
def conv_odd_geometry_backward(t):
    conv_gradient(t, ODD_CONV, "x", dx_hints)
    conv_gradient(t, ODD_CONV, "W", dw_hints)
    conv_gradient(t, ODD_CONV, "b", db_hints)


ODD_POOL = [
    PoolCase(2, 3, 9, 10, 3, 2),  # overlapping 3 x 3 windows on odd sizes
    PoolCase(1, 2, 7, 7, 4, 3),  # even kernel larger than the stride
    PoolCase(2, 1, 5, 9, 5, None),  # windows as tall as the input
    PoolCase(1, 2, 6, 11, 2, 5),  # stride far above the kernel
    PoolCase(1, 1, 3, 4, 1, None),  # kernel 1: the identity
]


@check("MaxPool2d", "odd_windows")
def pool_odd_windows(t):
    pool_forward_cases(t, ODD_POOL, seed=50)
    pool_gradient(t, ODD_POOL)


@check("AvgPool2d", "odd_windows")
def avg_pool_odd_windows(t):
    avg_forward_cases(t, ODD_POOL, seed=50)
    avg_pool_gradient(t, ODD_POOL, seed=50)
