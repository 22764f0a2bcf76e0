"""The student API as the checks expect it: names and parameter names."""

from .results import CheckFailure

SIGNATURES = {
    "AND": ["x1", "x2"],
    "NAND": ["x1", "x2"],
    "OR": ["x1", "x2"],
    "XOR": ["x1", "x2"],
    "Perceptron": ["n_inputs", "lr"],
    "step": ["x"],
    "sigmoid": ["x"],
    "relu": ["x"],
    "tanh": ["x"],
    "softmax": ["x"],
    "mse": ["y", "t"],
    "cross_entropy": ["y", "t"],
    "numerical_gradient": ["f", "x", "h"],
    "gradient_descent": ["f", "x0", "lr", "steps"],
    "MulLayer": [],
    "AddLayer": [],
    "Affine": ["in_features", "out_features", "rng"],
    "Relu": [],
    "Sigmoid": [],
    "Tanh": [],
    "Flatten": [],
    "Dropout": ["p", "rng"],
    "BatchNorm1d": ["num_features", "momentum", "eps"],
    "SoftmaxCrossEntropy": [],
    "MSELoss": [],
    "Conv2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding", "rng"],
    "MaxPool2d": ["kernel_size", "stride"],
    "AvgPool2d": ["kernel_size", "stride"],
    "SGD": ["lr", "weight_decay"],
    "Momentum": ["lr", "momentum", "weight_decay"],
    "AdaGrad": ["lr", "eps", "weight_decay"],
    "RMSProp": ["lr", "alpha", "eps", "weight_decay"],
    "Adam": ["lr", "beta1", "beta2", "eps", "weight_decay"],
    "xavier_init": ["fan_in", "fan_out", "rng"],
    "he_init": ["fan_in", "fan_out", "rng"],
    "Sequential": [],
}


def need(t, *names):
    """Fail with a clear message unless each name exists with the expected parameters."""
    for name in names:
        if not t.has(name):
            errors = getattr(t, "import_errors", {})
            why = "; ".join(f"{where}: {text}" for where, text in errors.items())
            raise CheckFailure(
                f"{name} is missing from your code" + (f" (import failed: {why})" if why else "")
            )
        expected = SIGNATURES.get(name)
        found = t.parameters(name)
        if expected is not None and found is not None and found[: len(expected)] != expected:
            raise CheckFailure(
                f"{name} should take parameters ({', '.join(expected)}), found ({', '.join(found)})",
                hint="keep the signature of the stub; the grader calls it by these names",
            )
