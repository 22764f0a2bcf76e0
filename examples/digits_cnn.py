"""Train a small CNN, built only from the kit's own layers, on scikit-learn's digits.

    python -m examples.digits_cnn [--epochs 15] [--seed 0] [--plot digits_cnn.png]

The 1797 bundled 8x8 images (offline, no download) are scaled to [0, 1] and split
80/20, stratified, with a fixed split seed; `--seed` sets the initial weights and
the mini-batch order, and the same seed gives the same run. Training: Adam on
mini-batches of 32 with a cosine-decaying learning rate, one `Sequential.fit`
call per epoch. Prints the test accuracy and the wall time, and saves a
loss/accuracy plot (needs matplotlib; without it the plot is skipped).

The convolution and pooling layers are the fast versions of the reference ones
(examples/fast_conv.py): the same results as solutions/conv.py, in less time.
"""

import argparse
import contextlib
import sys
import time

import numpy as np
from tqdm import tqdm

from examples.fast_conv import FastConv2d, FastMaxPool2d
from solutions import Adam, Affine, Flatten, Relu, Sequential, SoftmaxCrossEntropy

SPLIT_SEED = 0  # the train/test split is the same for every --seed
EPOCHS = 15
BATCH_SIZE = 32
LEARNING_RATE = 2e-3  # at the first epoch; decays along a half cosine towards 0


def load_data(test_size=0.2):
    """Digits as (X_train, X_test, y_train, y_test); X: (N, 1, 8, 8) floats in [0, 1], y: (N,) ints."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0)[:, None, :, :]
    return train_test_split(
        X, digits.target, test_size=test_size, stratify=digits.target, random_state=SPLIT_SEED
    )


def build_model(rng):
    """conv 3x3 (1 -> 32) - relu - pool 2 - conv 3x3 (32 -> 64) - relu - pool 2 - affine 256 -> 128 - relu - affine 128 -> 10.

    Shapes for a batch of N: (N, 1, 8, 8) -> (N, 32, 4, 4) -> (N, 64, 2, 2) -> (N, 256) -> (N, 128) -> (N, 10).
    """
    return Sequential(
        FastConv2d(1, 32, 3, padding=1, rng=rng),
        Relu(),
        FastMaxPool2d(2),
        FastConv2d(32, 64, 3, padding=1, rng=rng),
        Relu(),
        FastMaxPool2d(2),
        Flatten(),
        Affine(64 * 2 * 2, 128, rng=rng),
        Relu(),
        Affine(128, 10, rng=rng),
    )


def learning_rate(epoch, epochs, lr=LEARNING_RATE):
    """lr at the start of `epoch` (0-based): lr * (1 + cos(pi * epoch / epochs)) / 2."""
    return lr * 0.5 * (1.0 + np.cos(np.pi * epoch / epochs))


def accuracy(model, X, y, batch_size=512):
    """Fraction of samples whose largest score is the true class (predict runs in evaluation mode)."""
    predictions = np.concatenate([model.predict(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])
    return float(np.mean(predictions == y))


def blas_threads(count):
    """Context manager limiting numpy's BLAS to `count` threads (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(count, user_api="blas")


def train(
    epochs=EPOCHS,
    seed=0,
    batch_size=BATCH_SIZE,
    lr=LEARNING_RATE,
    train_size=None,
    progress=True,
    plot=None,
    threads=1,
):
    """Train the CNN and return its history.

    train_size: use only the first `train_size` training samples (quick runs); the test set is always whole.
    progress: show a tqdm bar that advances once per epoch. plot: a path to save the loss/accuracy plot to.
    threads: numpy's BLAS threads while training. This model's matrices are small: on an idle
    machine two threads save about a quarter of the time, but on a busy one they wait on each
    other and training gets several times slower. One thread is the safe default.

    Returns a dict: "step_losses" (one per mini-batch), "epoch_losses" (mean per epoch),
    "train_accuracy" and "test_accuracy" (per epoch), "seconds" (training time, without
    loading the data and plotting), "model", and "plot" (the path saved to, or None).
    """
    X_train, X_test, y_train, y_test = load_data()
    if train_size is not None:
        X_train, y_train = X_train[:train_size], y_train[:train_size]
    rng = np.random.default_rng(seed)
    model = build_model(rng)
    loss, optimizer = SoftmaxCrossEntropy(), Adam(lr=lr)
    history = {"step_losses": [], "epoch_losses": [], "train_accuracy": [], "test_accuracy": []}
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="digits CNN", unit="epoch", disable=not progress)
    with blas_threads(threads):
        for epoch in bar:
            optimizer.lr = learning_rate(epoch, epochs, lr)
            steps = model.fit(X_train, y_train, loss, optimizer, epochs=1, batch_size=batch_size, rng=rng)
            history["step_losses"] += steps
            history["epoch_losses"].append(float(np.mean(steps)))
            history["train_accuracy"].append(accuracy(model, X_train, y_train))
            history["test_accuracy"].append(accuracy(model, X_test, y_test))
            bar.set_postfix(
                loss=f"{history['epoch_losses'][-1]:.4f}",
                train=f"{history['train_accuracy'][-1]:.2%}",
                test=f"{history['test_accuracy'][-1]:.2%}",
            )
    history["seconds"] = time.perf_counter() - start
    history["model"] = model
    history["plot"] = plot if plot is not None and save_plot(history, plot) else None
    return history


def save_plot(history, path):
    """Loss per step and per epoch, and train/test accuracy per epoch, into a PNG at `path`.

    Returns True when saved, False (with a note) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
        return False
    epochs = np.arange(1, len(history["epoch_losses"]) + 1)
    steps_per_epoch = len(history["step_losses"]) / max(len(epochs), 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    step_axis = np.arange(1, len(history["step_losses"]) + 1) / steps_per_epoch
    ax_loss.plot(step_axis, history["step_losses"], alpha=0.3, label="mini-batch")
    ax_loss.plot(epochs, history["epoch_losses"], marker="o", label="epoch mean")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="training loss")
    ax_loss.legend()
    ax_acc.plot(epochs, history["train_accuracy"], marker="o", label="train")
    ax_acc.plot(epochs, history["test_accuracy"], marker="o", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--epochs", type=int, default=EPOCHS, help=f"passes over the training set (default {EPOCHS})"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the initial weights and batch order (default 0)"
    )
    parser.add_argument(
        "--plot", default="digits_cnn.png", help="where to save the plot (default: digits_cnn.png)"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    history = train(epochs=args.epochs, seed=args.seed, plot=args.plot)
    if history["test_accuracy"]:
        print(f"test accuracy: {history['test_accuracy'][-1]:.2%} after {args.epochs} epochs")
    print(f"wall time: {time.perf_counter() - start:.1f} s (training {history['seconds']:.1f} s)")
    if history["plot"]:
        print(f"plot saved to {history['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
