"""Chapter 4: computational-graph nodes with two inputs."""


class MulLayer:
    """Node `out = x * y` (elementwise); backward returns (dx, dy)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x, y):
        ### BEGIN SOLUTION: remember both inputs, return their product
        self.x, self.y = x, y
        return x * y
        ### END SOLUTION

    def backward(self, dout):
        ### BEGIN SOLUTION: each input's gradient is dout times the other input
        return dout * self.y, dout * self.x
        ### END SOLUTION


class AddLayer:
    """Node `out = x + y`; backward returns (dx, dy)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x, y):
        ### BEGIN SOLUTION: return the sum
        return x + y
        ### END SOLUTION

    def backward(self, dout):
        ### BEGIN SOLUTION: the gradient flows unchanged to both inputs
        return dout, dout
        ### END SOLUTION
