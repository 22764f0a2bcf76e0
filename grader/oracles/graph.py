"""The computational-graph nodes MulLayer and AddLayer from their definitions."""

from . import oracle


@oracle
def mul_forward(x, y):
    return x * y


@oracle
def add_forward(x, y):
    return x + y


@oracle
def mul_gradients(x, y, dout):
    """(dx, dy) of out = x * y: each input gets dout times the other."""
    return dout * y, dout * x


@oracle
def add_gradients(x, y, dout):
    """(dx, dy) of out = x + y: dout passes through to both."""
    return dout, dout
