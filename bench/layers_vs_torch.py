"""Forward + backward time of the kit's layers against PyTorch CPU, then a training race.

    python bench/layers_vs_torch.py [--repeat 20] [--threads N] [--epochs 15] [--no-training]

Layers, on the same values in float32 and in float64 (best of `repeat` runs after warm-up):
    Conv2d               x (64, 16, 28, 28), 3x3 kernels, 16 -> 32 channels, padding 1
    MaxPool2d            x (64, 32, 28, 28), 2x2 windows, stride 2
    Affine               x (64, 32 * 14 * 14) -> 10
    SoftmaxCrossEntropy  scores (64, 10), integer labels
Conv2d and MaxPool2d are the fast versions of examples/fast_conv.py (FastConv2d,
FastMaxPool2d), the others the reference layers of solutions/. ratio = kit time / torch
time; target: at most 1.5 for Conv2d, 2 for the others. Conv2d's float32 target is read
with one thread on both sides: with more (--threads), its ratio is reported next to it,
without a target. The readable reference Conv2d and MaxPool2d (solutions/conv.py) are
timed on the same cases too, for comparison.

Training: the CNN of examples/digits_cnn.py, trained by the kit (its own `train`) and
by PyTorch: the same layers (translated one by one from the kit's model), the same
initial weights, mini-batches, epochs, optimizer and learning-rate schedule, float64
as in the kit. Both evaluate train and test accuracy after every epoch.

Threads: torch.set_num_threads and numpy's BLAS both get --threads (default: the
cores available), in the training race too (digits_cnn.train's own default is 1).

PyTorch is only needed here and in the tests (pip install -e '.[test]').
"""

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples import digits_cnn, fast_conv  # noqa: E402
from examples.fast_conv import FastConv2d, FastMaxPool2d  # noqa: E402
from solutions import (  # noqa: E402
    Affine,
    Conv2d,
    Flatten,
    MaxPool2d,
    Relu,
    SoftmaxCrossEntropy,
)

TARGETS = {"Conv2d": 1.5, "MaxPool2d": 2.0, "Affine": 2.0, "SoftmaxCrossEntropy": 2.0}


class Row(NamedTuple):
    """One line of the table: a layer's forward + backward, timed on both sides."""

    name: str
    shapes: str
    dtype: str
    threads: int
    kit: float  # seconds
    torch: float  # seconds
    diff: float  # dx relative difference
    target: float | None  # None: reported, no target


def best_time(fn, repeat, warmup=3):
    """Smallest wall time of `repeat` calls of fn(), in seconds, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cast_params(layer, dtype):
    """The layer's params and grads in `dtype` (a float32 model, as torch's .float())."""
    layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
    layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    return layer


@contextmanager
def threads_of_both(torch, count):
    """torch and numpy's BLAS on `count` threads inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with digits_cnn.blas_threads(count):
            yield
    finally:
        torch.set_num_threads(before)


def layer_cases(torch, dtype, rng, conv_type=FastConv2d, pool_type=FastMaxPool2d):
    """Yield (name, shapes, kit_step, torch_step, check): each step runs forward + backward once.

    check() returns the largest relative difference between the kit's and torch's dx.
    conv_type and pool_type: the kit's Conv2d and MaxPool2d to time.
    """
    F = torch.nn.functional

    def tensor(a, grad=False):
        return torch.tensor(a, requires_grad=grad)

    def rel_diff(ours, theirs):
        theirs = theirs.detach().numpy()
        return float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-30))

    # Conv2d
    conv = cast_params(conv_type(16, 32, 3, padding=1, rng=rng), dtype)
    x = rng.standard_normal((64, 16, 28, 28)).astype(dtype)
    dout = rng.standard_normal((64, 32, 28, 28)).astype(dtype)
    xt, Wt, bt, dt = (
        tensor(x, True),
        tensor(conv.params["W"], True),
        tensor(conv.params["b"], True),
        tensor(dout),
    )

    def conv_torch():
        return torch.autograd.grad(F.conv2d(xt, Wt, bt, padding=1), (xt, Wt, bt), dt)

    yield (
        "Conv2d",
        "(64,16,28,28) 3x3 ->32 pad 1",
        lambda: (conv.forward(x), conv.backward(dout)),
        conv_torch,
        lambda: (conv.forward(x), rel_diff(conv.backward(dout), conv_torch()[0]))[1],
    )

    # MaxPool2d (distinct values: no ties, so both pick the same maximum)
    pool = pool_type(2)
    xp = rng.permutation(64 * 32 * 28 * 28).reshape(64, 32, 28, 28).astype(dtype)
    dp = rng.standard_normal((64, 32, 14, 14)).astype(dtype)
    xpt, dpt = tensor(xp, True), tensor(dp)

    def pool_torch():
        return torch.autograd.grad(F.max_pool2d(xpt, 2), (xpt,), dpt)

    yield (
        "MaxPool2d",
        "(64,32,28,28) 2x2",
        lambda: (pool.forward(xp), pool.backward(dp)),
        pool_torch,
        lambda: (pool.forward(xp), rel_diff(pool.backward(dp), pool_torch()[0]))[1],
    )

    # Affine
    affine = cast_params(Affine(32 * 14 * 14, 10, rng=rng), dtype)
    xa = rng.standard_normal((64, 32 * 14 * 14)).astype(dtype)
    da = rng.standard_normal((64, 10)).astype(dtype)
    xat, Wat, bat, dat = (
        tensor(xa, True),
        tensor(affine.params["W"].T.copy(), True),
        tensor(affine.params["b"], True),
        tensor(da),
    )

    def affine_torch():
        return torch.autograd.grad(F.linear(xat, Wat, bat), (xat, Wat, bat), dat)

    yield (
        "Affine",
        "(64,6272) -> 10",
        lambda: (affine.forward(xa), affine.backward(da)),
        affine_torch,
        lambda: (affine.forward(xa), rel_diff(affine.backward(da), affine_torch()[0]))[1],
    )

    # SoftmaxCrossEntropy
    loss = SoftmaxCrossEntropy()
    scores = rng.standard_normal((64, 10)).astype(dtype)
    labels = rng.integers(0, 10, 64)
    st, lt = tensor(scores, True), torch.tensor(labels)

    def ce_torch():
        return torch.autograd.grad(F.cross_entropy(st, lt), (st,))

    yield (
        "SoftmaxCrossEntropy",
        "(64,10), int labels",
        lambda: (loss.forward(scores, labels), loss.backward()),
        ce_torch,
        lambda: (loss.forward(scores, labels), rel_diff(loss.backward(), ce_torch()[0]))[1],
    )


def conv_products_time(dtype, repeat):
    """Time of Conv2d's three matrix products alone on the benchmark's shapes, in seconds.

    The same products, block by block, as FastConv2d's forward and backward compute
    (W @ cols, cols @ dout.T, W.T @ dout), with every block's cols built beforehand: a floor
    for any layer built on them, whatever its im2col, col2im and copies cost.
    """
    rng = np.random.default_rng(0)
    n, c, f, size, k, padding = 64, 16, 32, 28, 3, 1  # the Conv2d case of layer_cases
    x = rng.standard_normal((n, c, size, size)).astype(dtype)
    w_rows = fast_conv.kernel_rows(rng.standard_normal((f, c, k, k)), dtype)  # (F, K * K * C)
    width = size + 2 * padding  # of a padded image
    rows = fast_conv.padded_rows(x, padding, k)
    blocks = []
    for block in fast_conv.sample_blocks(n):
        length = (block.stop - block.start) * width * width
        cols = fast_conv.im2col(rows[:, block.start * width * width :], k, width, length)
        blocks.append((cols, rng.standard_normal((f, length)).astype(dtype)))

    def products():
        for cols, dpixels in blocks:
            w_rows @ cols, cols @ dpixels.T, w_rows.T @ dpixels

    return best_time(products, repeat)


def race(ours, theirs, repeat):
    """(kit seconds, torch seconds): two rounds, alternating, so a burst of load elsewhere hits both sides alike."""
    t_ours = t_torch = float("inf")
    for _ in range(2):
        t_ours = min(t_ours, best_time(ours, repeat))
        t_torch = min(t_torch, best_time(theirs, repeat))
    return t_ours, t_torch


def bench_layers(torch, repeat, threads):
    """Print the table of kit / torch ratios and the reference's times; return the targets missed."""
    rows = []
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        for name, shapes, ours, theirs, check in layer_cases(torch, dtype, rng):
            dtype_name, target, diff = np.dtype(dtype).name, TARGETS[name], check()
            if name == "Conv2d" and dtype_name == "float32" and threads > 1:
                rows.append(Row(name, shapes, dtype_name, threads, *race(ours, theirs, repeat), diff, None))
                with threads_of_both(torch, 1):
                    rows.append(Row(name, shapes, dtype_name, 1, *race(ours, theirs, repeat), diff, target))
            else:
                rows.append(Row(name, shapes, dtype_name, threads, *race(ours, theirs, repeat), diff, target))
    print(f"{'fwd + bwd of':<22}{'shapes':<30}{'dtype':<9}{'threads':>7}{'kit ms':>8}{'torch ms':>10}"
          f"{'ratio':>7}{'target':>8}  {'dx rel. diff':>12}")  # fmt: skip
    missed = []
    for row in rows:
        ratio = row.kit / row.torch
        if row.target is None:
            limit, verdict = "-", "reported"
        else:
            limit, verdict = f"<= {row.target}", "ok" if ratio <= row.target else "MISSED"
        if verdict == "MISSED":
            missed.append(f"{row.name} {row.dtype}")
        print(f"{row.name:<22}{row.shapes:<30}{row.dtype:<9}{row.threads:>7}{row.kit * 1e3:>8.2f}"
              f"{row.torch * 1e3:>10.2f}{ratio:>7.2f}{limit:>8}  {row.diff:>12.1e}  {verdict}")  # fmt: skip
    at_threads = {(row.name, row.dtype): row for row in rows if row.threads == threads}
    floors = [
        f"{name} {t * 1e3:.2f} ms = {t / at_threads['Conv2d', name].torch:.2f}x torch's whole forward + backward"
        for name, t in ((np.dtype(d).name, conv_products_time(d, repeat)) for d in (np.float32, np.float64))
    ]
    print("\nConv2d's three matrix products alone (no im2col, col2im or copies):\n  " + "\n  ".join(floors))
    bench_reference(torch, repeat, threads, at_threads)
    return missed


def bench_reference(torch, repeat, threads, at_threads):
    """Print the readable reference Conv2d and MaxPool2d's times on the table's cases.

    Each raced against torch again (the ratio to torch is its own race); at_threads: the
    table's rows at `threads`, by (name, dtype), for the ratio to the fast version.
    """
    print(f"\nThe readable reference layers (solutions/conv.py) on the same cases, {threads} threads:")
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        for name, _, ours, theirs, _ in layer_cases(torch, dtype, rng, Conv2d, MaxPool2d):
            if name not in ("Conv2d", "MaxPool2d"):
                continue
            fast = at_threads[name, np.dtype(dtype).name]
            t_ref, t_torch = race(ours, theirs, repeat)
            print(f"  {name:<11}{fast.dtype:<9}{t_ref * 1e3:8.2f} ms = {t_ref / t_torch:5.2f}x torch, "
                  f"{t_ref / fast.kit:5.2f}x the fast version ({fast.kit * 1e3:.2f} ms)")  # fmt: skip


def torch_twin(torch, model):
    """The kit's Sequential as a torch.nn.Sequential: same layer types, settings and current weights (float64)."""
    nn = torch.nn
    layers = []
    for layer in model.layers:
        if isinstance(layer, Conv2d):
            twin = nn.Conv2d(
                layer.in_channels,
                layer.out_channels,
                layer.kernel_size,
                layer.stride,
                layer.padding,
                dtype=torch.float64,
            )
            weight, bias = layer.params["W"], layer.params["b"]
        elif isinstance(layer, Affine):
            twin = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            weight, bias = layer.params["W"].T, layer.params["b"]  # torch keeps (out, in)
        elif isinstance(layer, MaxPool2d):
            twin = nn.MaxPool2d(layer.kernel_size, layer.stride)
        elif isinstance(layer, Relu):
            twin = nn.ReLU()
        elif isinstance(layer, Flatten):
            twin = nn.Flatten()
        else:
            raise TypeError(f"no torch twin for {type(layer).__name__}")
        if isinstance(layer, (Conv2d, Affine)):
            with torch.no_grad():
                twin.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
                twin.bias.copy_(torch.from_numpy(bias))
        layers.append(twin)
    return nn.Sequential(*layers)


def train_torch(torch, epochs, seed):
    """Train the twin of digits_cnn's model as digits_cnn.train does; returns (seconds, test accuracy)."""
    X_train, X_test, y_train, y_test = digits_cnn.load_data()
    rng = np.random.default_rng(seed)
    model = torch_twin(torch, digits_cnn.build_model(rng))  # the same draws: same initial weights
    optimizer = torch.optim.Adam(model.parameters(), lr=digits_cnn.LEARNING_RATE)
    Xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train)
    Xv, yv = torch.from_numpy(X_test), torch.from_numpy(y_test)

    def accuracy(X, y):
        model.eval()
        with torch.no_grad():
            correct = (model(X).argmax(dim=1) == y).double().mean().item()
        model.train()
        return correct

    start = time.perf_counter()
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = digits_cnn.learning_rate(epoch, epochs)
        order = torch.from_numpy(rng.permutation(len(X_train)))  # Sequential.fit's batch order
        for begin in range(0, len(order), digits_cnn.BATCH_SIZE):
            batch = order[begin : begin + digits_cnn.BATCH_SIZE]
            loss = torch.nn.functional.cross_entropy(model(Xt[batch]), yt[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        accuracy(Xt, yt)
        test_accuracy = accuracy(Xv, yv)
    return time.perf_counter() - start, test_accuracy


def bench_training(torch, epochs, seed, threads):
    kit = digits_cnn.train(epochs=epochs, seed=seed, progress=False, threads=threads)
    seconds, accuracy = train_torch(torch, epochs, seed)
    print(
        f"\ndigits CNN, {epochs} epochs, batch {digits_cnn.BATCH_SIZE}, float64, seed {seed}, "
        f"{threads} threads each:"
    )
    print(f"  kit   {kit['seconds']:6.2f} s   test accuracy {kit['test_accuracy'][-1]:.2%}")
    print(f"  torch {seconds:6.2f} s   test accuracy {accuracy:.2%}")
    print(f"  ratio kit / torch: {kit['seconds'] / seconds:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per layer and side (default 20)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument(
        "--threads", type=int, default=cores, help=f"threads for both sides (default: the {cores} cores)"
    )
    parser.add_argument("--epochs", type=int, default=digits_cnn.EPOCHS, help="epochs of the training race")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training race")
    parser.add_argument("--no-training", action="store_true", help="time the layers only")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("this benchmark needs PyTorch: pip install -e '.[test]'", file=sys.stderr)
        return 1
    with threads_of_both(torch, args.threads):  # BLAS: through threadpoolctl (comes with scikit-learn)
        print(f"numpy {np.__version__}, torch {torch.__version__}, {args.threads} threads each, "
              f"best of {args.repeat} after warm-up\n")  # fmt: skip
        missed = bench_layers(torch, args.repeat, args.threads)
        if not args.no_training:
            bench_training(torch, args.epochs, args.seed, args.threads)
    if missed:
        print(f"\ntarget missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
