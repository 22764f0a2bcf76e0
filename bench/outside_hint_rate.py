"""Verdicts and hints of the grader on outside code: public implementations written apart from the kit.

    python bench/outside_hint_rate.py SOURCES_DIR [--fetch] [--clones ROOT] [--only ID] [--verbose]

The sources are listed in bench/outside_sources.toml: for each, a public repository, a commit,
the file(s) read, and the exercises taken from it, each with the adapter that wraps the code into
the kit's API. The code itself is never part of the kit: SOURCES_DIR holds it, one directory per
source, the repository's paths kept (SOURCES_DIR/<id>/<path>). Fill it in one of three ways:

    python bench/outside_hint_rate.py /tmp/outside --fetch              # git (or raw download) per repo@commit
    python bench/outside_hint_rate.py /tmp/outside --clones ~/clones    # from local clones ROOT/<owner>/<name>
    # or place each file at SOURCES_DIR/<id>/<path> by hand (the script says which are missing)

For every entry (one exercise of one source) the script

1. establishes the truth apart from the grader: the wrapped code against PyTorch (float64) on
   targeted cases (square and not, padding 0/1/2, strides dividing and not, batch of one, ...);
   it is "correct" when every output and gradient matches within 1e-6 and no input is written,
   "buggy" otherwise, with the cases that fail (the cases name what is wrong). Max-pool ties may be
   split among the tied maxima; BatchNorm's running variance may be biased or unbiased; Dropout,
   random by nature, is judged by its rate, scaling, masks and reproducibility. Where a source's
   own assignment asks less than the kit (padding 0, strides that do not divide H + 2P - K,
   inputs it must not write), the truth follows the kit's contract, which is PyTorch's;
2. grades the wrapped code in this process with every check of its exercise (hidden ones
   included), the reference implementation standing in for the other exercises;
3. prints the truth, the points lost, each failing check's hint with its stable identifier, and
   the judgement recorded in the TOML: whether the hints name the mistake the code has
   (`named`) and whether any names a mistake it does not have (`misleading`). The judgement was
   made for the hint identifiers listed in `mistake`; when the grader now gives others, the
   judgement is reported stale and not counted.

Rates: buggy code caught, correct code losing points, caught bugs with a hint naming the mistake,
misleading hints. Adapters only translate the API (names, parameter dicts, caches, grads); they
never fix what the code does. A check that needs what the source's own assignment does not ask
for (e.g. BatchNorm's backward in eval mode in CS231n) is left out for that adapter and listed.

PyTorch is needed for the truth (pip install -e '.[test]').
"""

import argparse
import contextlib
import importlib.util
import io
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.registry import all_checks, load_rubric  # noqa: E402
from grader.results import run_check  # noqa: E402
from tests.corpus import target_with  # noqa: E402

SOURCES = Path(__file__).with_name("outside_sources.toml")
TOL = 1e-6


# ============================================================================ loading
@dataclass
class Entry:
    source: str
    exercise: str
    adapter: str
    bug: str = ""
    mistake: list = field(default_factory=list)
    named: bool | None = None
    misleading: bool | None = None
    good_hint: str = ""


@dataclass
class Source:
    id: str
    repo: str
    commit: str
    files: list
    module: str
    syspath: str = ""
    note: str = ""
    entries: list = field(default_factory=list)


def read_sources(path=SOURCES):
    with open(path, "rb") as f:
        data = tomllib.load(f)
    sources = []
    for item in data["source"]:
        entries = [
            Entry(
                source=item["id"],
                exercise=e["exercise"],
                adapter=e["adapter"],
                bug=e.get("bug", ""),
                mistake=sorted([e["mistake"]] if isinstance(e.get("mistake"), str) else e.get("mistake", [])),
                named=e.get("named"),
                misleading=e.get("misleading"),
                good_hint=e.get("good_hint", ""),
            )
            for e in item.get("entry", [])
        ]
        files = item.get("files", [item["module"]])
        sources.append(
            Source(
                item["id"],
                item["repo"],
                item["commit"],
                files,
                item["module"],
                item.get("syspath", ""),
                item.get("note", ""),
                entries,
            )
        )
    return sources


def fetch_file(source, path, dest, clones=None):
    """Write `path` of source.repo at source.commit to `dest`: from a local clone, with git, or raw."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    spec = f"{source.commit}:{path}"
    if clones is not None:
        clone = Path(clones).expanduser() / source.repo
        git_dir = clone / ".git" if (clone / ".git").exists() else clone
        done = subprocess.run(["git", "--git-dir", str(git_dir), "show", spec], capture_output=True)
        if done.returncode == 0:
            dest.write_bytes(done.stdout)
            return True
        return False
    with tempfile.TemporaryDirectory() as tmp:
        url = f"https://github.com/{source.repo}.git"
        steps = [
            ["git", "init", "-q", tmp],
            ["git", "-C", tmp, "fetch", "-q", "--depth", "1", url, source.commit],
        ]
        if all(subprocess.run(step, capture_output=True).returncode == 0 for step in steps):
            done = subprocess.run(["git", "-C", tmp, "show", spec], capture_output=True)
            if done.returncode == 0:
                dest.write_bytes(done.stdout)
                return True
    try:
        raw = f"https://raw.githubusercontent.com/{source.repo}/{source.commit}/{path}"
        with urllib.request.urlopen(raw, timeout=30) as reply:
            dest.write_bytes(reply.read())
        return True
    except OSError:
        return False


def load_module(source, sources_dir):
    """Import source.module from SOURCES_DIR/<id>/ as a module of its own; (module, None) or (None, why)."""
    base = Path(sources_dir) / source.id
    missing = [p for p in source.files if not (base / p).is_file()]
    if missing:
        return None, f"missing {', '.join(str(base / p) for p in missing)}"
    before = set(sys.modules)
    path_entry = str((base / source.syspath).resolve())
    sys.path.insert(0, path_entry)
    try:
        spec = importlib.util.spec_from_file_location(
            f"outside_{source.id.replace('-', '_')}", base / source.module
        )
        module = importlib.util.module_from_spec(spec)
        with quiet():
            spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - outside code that does not import is reported, not raised
        return None, f"import failed: {type(error).__name__}: {error}"
    finally:
        sys.path.remove(path_entry)
        for name in set(sys.modules) - before:  # sources share package names (common, cs231n)
            del sys.modules[name]
    return module, None


@contextlib.contextmanager
def quiet(warn=False):
    """Outside code prints and warns: keep it off the report. With warn=True numpy's warnings stay on
    (grading: run_check records them as notes)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        if warn:
            yield
            return
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


# ============================================================================ adapters
# Each adapter builds a class with the kit's name, constructor signature and protocol around the
# outside functions or classes of one module. They translate, never correct.
def init_weight(rng, shape, fan_in):
    rng = np.random.default_rng() if rng is None else rng
    return rng.standard_normal(shape) / np.sqrt(fan_in)


class Adapted:
    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self


def cs231n_conv(m):
    class Conv2d(Adapted):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None):
            super().__init__()
            self.stride, self.padding = stride, padding
            shape = (out_channels, in_channels, kernel_size, kernel_size)
            self.params["W"] = init_weight(rng, shape, in_channels * kernel_size**2)
            self.params["b"] = np.zeros(out_channels)
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

        def forward(self, x):
            conv_param = {"stride": self.stride, "pad": self.padding}
            out, self.cache = m.conv_forward_naive(x, self.params["W"], self.params["b"], conv_param)
            return out

        def backward(self, dout):
            dx, self.grads["W"], self.grads["b"] = m.conv_backward_naive(dout, self.cache)
            return dx

    return Conv2d


def cs231n_pool(m):
    class MaxPool2d(Adapted):
        def __init__(self, kernel_size, stride=None):
            super().__init__()
            self.kernel_size = kernel_size
            self.stride = kernel_size if stride is None else stride

        def forward(self, x):
            k = self.kernel_size
            pool_param = {"pool_height": k, "pool_width": k, "stride": self.stride}
            out, self.cache = m.max_pool_forward_naive(x, pool_param)
            return out

        def backward(self, dout):
            return m.max_pool_backward_naive(dout, self.cache)

    return MaxPool2d


def cs231n_affine(m):
    class Affine(Adapted):
        def __init__(self, in_features, out_features, rng=None):
            super().__init__()
            self.params["W"] = init_weight(rng, (in_features, out_features), in_features)
            self.params["b"] = np.zeros(out_features)
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

        def forward(self, x):
            out, self.cache = m.affine_forward(x, self.params["W"], self.params["b"])
            return out

        def backward(self, dout):
            dx, self.grads["W"], self.grads["b"] = m.affine_backward(dout, self.cache)
            return dx

    return Affine


def cs231n_relu(m):
    class Relu(Adapted):
        def forward(self, x):
            out, self.cache = m.relu_forward(x)
            return out

        def backward(self, dout):
            return m.relu_backward(dout, self.cache)

    return Relu


def labels_of(y):
    """Integer labels from labels or exact one-hot rows (CS231n's loss takes labels only)."""
    y = np.asarray(y)
    if y.ndim == 2:
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            raise ValueError("this adapter passes labels or one-hot rows only")
        return y.argmax(axis=1)
    return y


def cs231n_softmax(m):
    class SoftmaxCrossEntropy:
        def __init__(self):
            self.params, self.grads = {}, {}

        def forward(self, scores, y):
            loss, self.dx = m.softmax_loss(scores, labels_of(y))
            return loss

        def backward(self, dout=1.0):
            return dout * self.dx

    return SoftmaxCrossEntropy


def cs231n_batchnorm(m):
    class BatchNorm1d(Adapted):
        def __init__(self, num_features, momentum=0.9, eps=1e-5):
            super().__init__()
            self.momentum, self.eps = momentum, eps
            self.params["gamma"] = np.ones(num_features)
            self.params["beta"] = np.zeros(num_features)
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
            self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)

        def forward(self, x):
            bn_param = {
                "mode": "train" if self.training else "test",
                "eps": self.eps,
                "momentum": self.momentum,
                "running_mean": self.running_mean,
                "running_var": self.running_var,
            }
            out, self.cache = m.batchnorm_forward(x, self.params["gamma"], self.params["beta"], bn_param)
            self.running_mean, self.running_var = bn_param["running_mean"], bn_param["running_var"]
            return out

        def backward(self, dout):
            dx, self.grads["gamma"], self.grads["beta"] = m.batchnorm_backward(dout, self.cache)
            return dx

    return BatchNorm1d


def cs231n_dropout(keep):
    """CS231n's dropout_param: `p` is the keep probability (keep=True, 2017 on) or the drop one;
    the layer's rng seeds each forward through the assignment's own 'seed' key."""

    def build(m):
        class Dropout(Adapted):
            def __init__(self, p=0.5, rng=None):
                super().__init__()
                self.p = p
                self.rng = np.random.default_rng() if rng is None else rng

            def forward(self, x):
                dropout_param = {
                    "p": 1 - self.p if keep else self.p,
                    "mode": "train" if self.training else "test",
                    "seed": int(self.rng.integers(2**31)),
                }
                out, self.cache = m.dropout_forward(x, dropout_param)
                return out

            def backward(self, dout):
                return m.dropout_backward(dout, self.cache)

        return Dropout

    return build


def dlfs_affine(m):
    class Affine(Adapted):
        def __init__(self, in_features, out_features, rng=None):
            super().__init__()
            self.params["W"] = init_weight(rng, (in_features, out_features), in_features)
            self.params["b"] = np.zeros(out_features)
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

        def forward(self, x):
            self.layer = m.Affine(self.params["W"], self.params["b"])
            return self.layer.forward(x)

        def backward(self, dout):
            dx = self.layer.backward(dout)
            self.grads["W"], self.grads["b"] = self.layer.dW, self.layer.db
            return dx

    return Affine


def dlfs_relu(m):
    class Relu(Adapted):
        def __init__(self):
            super().__init__()
            self.layer = m.Relu()

        def forward(self, x):
            return self.layer.forward(x)

        def backward(self, dout):
            return self.layer.backward(dout)

    return Relu


def dlfs_softmax(m):
    class SoftmaxCrossEntropy:
        def __init__(self):
            self.params, self.grads = {}, {}
            self.layer = m.SoftmaxWithLoss()

        def forward(self, scores, y):
            return self.layer.forward(scores, y)

        def backward(self, dout=1.0):
            return self.layer.backward(dout)

    return SoftmaxCrossEntropy


def dlfs_conv(m):
    class Conv2d(Adapted):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None):
            super().__init__()
            self.stride, self.padding = stride, padding
            shape = (out_channels, in_channels, kernel_size, kernel_size)
            self.params["W"] = init_weight(rng, shape, in_channels * kernel_size**2)
            self.params["b"] = np.zeros(out_channels)
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

        def forward(self, x):
            self.layer = m.Convolution(self.params["W"], self.params["b"], self.stride, self.padding)
            return self.layer.forward(x)

        def backward(self, dout):
            dx = self.layer.backward(dout)
            self.grads["W"], self.grads["b"] = self.layer.dW, self.layer.db
            return dx

    return Conv2d


def dlfs_pool(m):
    class MaxPool2d(Adapted):
        def __init__(self, kernel_size, stride=None):
            super().__init__()
            self.kernel_size = kernel_size
            self.stride = kernel_size if stride is None else stride

        def forward(self, x):
            k = self.kernel_size
            self.layer = m.Pooling(k, k, self.stride, 0)
            return self.layer.forward(x)

        def backward(self, dout):
            return self.layer.backward(dout)

    return MaxPool2d


ADAPTERS = {
    ("Conv2d", "cs231n"): cs231n_conv,
    ("MaxPool2d", "cs231n"): cs231n_pool,
    ("Affine", "cs231n"): cs231n_affine,
    ("Relu", "cs231n"): cs231n_relu,
    ("SoftmaxCrossEntropy", "cs231n"): cs231n_softmax,
    ("BatchNorm1d", "cs231n"): cs231n_batchnorm,
    ("Dropout", "cs231n-keep-p"): cs231n_dropout(keep=True),
    ("Dropout", "cs231n-drop-p"): cs231n_dropout(keep=False),
    ("Affine", "dlfs"): dlfs_affine,
    ("Relu", "dlfs"): dlfs_relu,
    ("SoftmaxCrossEntropy", "dlfs"): dlfs_softmax,
    ("Conv2d", "dlfs"): dlfs_conv,
    ("MaxPool2d", "dlfs"): dlfs_pool,
}

# Checks of what a source's assignment never asks for: not run for that adapter (listed in the report).
OUT_OF_CONTRACT = {
    ("BatchNorm1d", "cs231n"): {
        "BatchNorm1d.eval_backward": "CS231n's batchnorm_backward needs the training-mode cache",
    },
}


# ============================================================================ truth (PyTorch)
def torch_module():
    import torch

    torch.set_default_dtype(torch.float64)
    return torch


def close(got, want):
    """Same shape and max |got - want| <= TOL * max(1, max |want|)."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return False
    return bool(
        np.all(np.isfinite(got))
        and np.max(np.abs(got - want), initial=0) <= TOL * max(1.0, np.max(np.abs(want), initial=0))
    )


def describe_difference(got, want):
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"a {type(got).__name__}"
    if got.shape != np.shape(want):
        return f"shape {got.shape} instead of {np.shape(want)}"
    return f"max error {np.max(np.abs(got - want)):.3g}"


class Findings:
    """What went wrong on which case, in the order found."""

    def __init__(self):
        self.items = []

    def compare(self, case, what, got, want):
        if not close(got, want):
            self.items.append(f"{case}: {what} differs ({describe_difference(got, want)})")

    def crash(self, case, where, error):
        text = str(error).splitlines()[0][:80] if str(error) else ""
        self.items.append(f"{case}: {where} raised {type(error).__name__}" + (f" ({text})" if text else ""))

    def add(self, text):
        self.items.append(text)


def run_case(findings, case, where, fn, *args):
    """fn(*args) under a crash guard: (True, value) or (False, None) with the crash recorded."""
    try:
        with quiet():
            return True, fn(*args)
    except Exception as error:  # noqa: BLE001 - outside code may raise anything
        findings.crash(case, where, error)
        return False, None


def layer_case(findings, case, build, params, x, dout, want):
    """build() a layer, write `params` into its params, forward x, backward dout; compare with `want`
    ({"out", "dx", and a torch gradient per params key}); report any input written."""
    ok, layer = run_case(findings, case, "constructor", build)
    if not ok:
        return None
    for key, value in params.items():
        layer.params[key][...] = value
    x_in, dout_in = x.copy(), dout.copy()
    ok, out = run_case(findings, case, "forward", layer.forward, x_in)
    if not ok:
        return layer
    if not np.array_equal(x_in, x):
        findings.add(f"{case}: forward modified its input")
    findings.compare(case, "out", out, want["out"])
    ok, dx = run_case(findings, case, "backward", layer.backward, dout_in)
    if not ok:
        return layer
    if not np.array_equal(dout_in, dout):
        findings.add(f"{case}: backward modified its input dout")
    if "dx" in want:
        findings.compare(case, "dx", dx, want["dx"])
    for key in params:
        findings.compare(case, f"d{key}", layer.grads.get(key), want[key])
    return layer


def torch_run(fn, inputs, dout_rng=None, dout=None):
    """fn(*tensors) in torch; returns (out, dout, grads of every input) as numpy arrays."""
    torch = torch_module()
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = fn(*tensors)
    if dout is None:
        dout = dout_rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), dout, [t.grad.numpy() for t in tensors]


CONV_CASES = [  # label, N, C, F, H, W, K, S, P
    ("square, stride 1, pad 0", 2, 3, 2, 5, 5, 3, 1, 0),
    ("H != W", 2, 2, 3, 5, 7, 3, 1, 0),
    ("pad 1", 2, 2, 3, 5, 6, 3, 1, 1),
    ("pad 2, even kernel", 1, 3, 2, 6, 5, 2, 1, 2),
    ("stride 2 dividing H+2P-K", 2, 2, 2, 7, 7, 3, 2, 0),
    ("stride 2 not dividing H+2P-K (floor)", 2, 2, 3, 8, 6, 3, 2, 0),
    ("stride 3, pad 1, not dividing", 1, 2, 3, 8, 7, 2, 3, 1),
    ("batch of one", 1, 2, 2, 5, 5, 3, 1, 1),
    ("1x1 kernel", 2, 3, 2, 4, 5, 1, 1, 0),
    ("kernel as large as the padded input", 1, 1, 1, 3, 3, 5, 1, 1),
]


def conv_truth(cls, seed=0):
    tf = torch_module().nn.functional
    findings = Findings()
    for label, n, c, f, h, w, k, s, p in CONV_CASES:
        rng = np.random.default_rng(seed + h * 100 + w * 10 + s + p)
        x, W, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, k, k)), rng.standard_normal(f)
        out, dout, (dx, dW, db) = torch_run(
            lambda x, W, b, s=s, p=p: tf.conv2d(x, W, b, stride=s, padding=p), (x, W, b), rng
        )
        want = {"out": out, "dx": dx, "W": dW, "b": db}
        layer_case(
            findings, label, partial(cls, c, f, k, stride=s, padding=p), {"W": W, "b": b}, x, dout, want
        )
    return findings.items


POOL_CASES = [  # label, N, C, H, W, K, S
    ("2x2 stride 2, square", 2, 2, 4, 4, 2, 2),
    ("2x2 stride 2, H != W", 2, 2, 4, 6, 2, 2),
    ("rows and columns left over", 1, 3, 5, 7, 2, 2),
    ("3x3 stride 2, overlapping", 2, 2, 7, 5, 3, 2),
    ("2x2 stride 1, overlapping", 1, 2, 5, 6, 2, 1),
    ("2x2 stride 3, gaps", 1, 2, 7, 8, 2, 3),
    ("3x3 stride 3", 1, 2, 6, 9, 3, 3),
    ("batch of one, one channel", 1, 1, 4, 4, 2, 2),
]


def distinct(rng, shape):
    """Distinct values (no ties) with many negatives; channel 0 of sample 0 all negative."""
    size = int(np.prod(shape))
    x = ((rng.permutation(size) - 0.6 * size) * 0.1).reshape(shape)
    x[0, 0] -= x[0, 0].max() + 0.5
    return x


def pool_truth(cls, seed=0):
    tf = torch_module().nn.functional
    findings = Findings()
    for label, n, c, h, w, k, s in POOL_CASES:
        rng = np.random.default_rng(seed + h * 100 + w * 10 + k + s)
        x = distinct(rng, (n, c, h, w))
        out, dout, (dx,) = torch_run(lambda x, k=k, s=s: tf.max_pool2d(x, k, s), (x,), rng)
        layer_case(findings, label, partial(cls, k, stride=s), {}, x, dout, {"out": out, "dx": dx})
    # ties, as after a ReLU: any split of a window's dout among its tied maxima is a valid gradient
    label, k, rng = "tied maxima (values -1, 0, 1)", 2, np.random.default_rng(seed + 7)
    x = rng.integers(-1, 2, (2, 2, 4, 6)).astype(float)
    x[0, 0] = 0.0
    out, dout, (dx,) = torch_run(
        lambda x: tf.max_pool2d(x, k, k), (x,), dout=rng.uniform(0.5, 2.0, (2, 2, 2, 3))
    )
    tie_findings = Findings()
    layer = layer_case(tie_findings, label, partial(cls, k, stride=k), {}, x, dout, {"out": out})
    if layer is not None and not tie_findings.items:
        ok, got = run_case(tie_findings, label, "backward", layer.backward, dout.copy())
        if ok and not valid_tie_split(got, x, dout, k):
            tie_findings.compare(label, "dx", got, dx)
    findings.items += tie_findings.items
    return findings.items


def valid_tie_split(dx, x, dout, k):
    """Each (non-overlapping) window's gradient lies on its maxima and sums to its dout."""
    try:
        dx = np.asarray(dx, dtype=float)
    except (TypeError, ValueError):
        return False
    if dx.shape != x.shape:
        return False
    covered = np.zeros(x.shape, dtype=bool)
    for n, c, i, j in np.ndindex(dout.shape):
        rows, cols = slice(i * k, i * k + k), slice(j * k, j * k + k)
        window, grad = x[n, c, rows, cols], dx[n, c, rows, cols]
        covered[n, c, rows, cols] = True
        if np.any(np.abs(grad[window != window.max()]) > TOL) or abs(grad.sum() - dout[n, c, i, j]) > TOL:
            return False
    return bool(np.all(np.abs(dx[~covered]) <= TOL))


def affine_truth(cls, seed=0):
    findings = Findings()
    for label, x_shape, m in (
        ("(N, D) input", (4, 5), 3),
        ("(N, 2, 3, 2) input", (3, 2, 3, 2), 4),
        ("batch of one", (1, 6), 2),
    ):
        rng = np.random.default_rng(seed + len(x_shape) + m)
        d = int(np.prod(x_shape[1:]))
        x, W, b = rng.standard_normal(x_shape), rng.standard_normal((d, m)), rng.standard_normal(m)
        out, dout, (dx, dW, db) = torch_run(lambda x, W, b: x.reshape(x.shape[0], -1) @ W + b, (x, W, b), rng)
        want = {"out": out, "dx": dx, "W": dW, "b": db}
        layer_case(findings, label, partial(cls, d, m), {"W": W, "b": b}, x, dout, want)
    return findings.items


def relu_truth(cls, seed=0):
    torch = torch_module()
    findings = Findings()
    for label, shape in (("(N, D)", (4, 6)), ("(N, C, H, W)", (2, 3, 4, 5))):
        rng = np.random.default_rng(seed + len(shape))
        x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1, 1], shape)
        dout = rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)  # signs apart from x's
        out, _, (dx,) = torch_run(torch.relu, (x,), dout=dout)
        layer_case(findings, label, cls, {}, x, dout, {"out": out, "dx": dx})
    return findings.items


def softmax_truth(cls, seed=0):
    torch = torch_module()
    findings = Findings()
    rng = np.random.default_rng(seed)
    one_high = np.where(np.eye(4, 3, dtype=bool), 1000.0, rng.uniform(-5, 5, (4, 3)))
    cases = [  # label, scores, labels (None: random), dout
        ("ordinary scores", rng.standard_normal((5, 4)) * 2, None, 1.0),
        ("batch of one", rng.standard_normal((1, 3)), None, 1.0),
        ("scores near 1000", 1000 + rng.uniform(-3, 3, (4, 5)), None, 1.0),
        ("one score near 1000, the true class", one_high, one_high.argmax(axis=1), 1.0),
        ("one score near 1000, a wrong class", one_high, (one_high.argmax(axis=1) + 1) % 3, 1.0),
        ("one class (C = 1)", rng.standard_normal((5, 1)), None, 1.0),
        ("dout = 2.5", rng.standard_normal((4, 5)), None, 2.5),
    ]
    for label, scores, labels, dout in cases:
        labels = rng.integers(0, scores.shape[1], len(scores)) if labels is None else labels
        ts = torch.tensor(scores, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(ts, torch.tensor(labels))
        (dout * loss).backward()
        ok, layer = run_case(findings, label, "constructor", cls)
        if not ok:
            continue
        s_in = scores.copy()
        ok, got = run_case(findings, label, "forward", layer.forward, s_in, labels.copy())
        if not ok:
            continue
        if not np.array_equal(s_in, scores):
            findings.add(f"{label}: forward modified its input")
        findings.compare(label, "loss", got, loss.item())
        ok, dx = run_case(findings, label, "backward", layer.backward, dout)
        if ok:
            findings.compare(label, "dscores", dx, ts.grad.numpy())
    return findings.items


def batchnorm_truth(cls, seed=0):
    torch = torch_module()
    tf = torch.nn.functional
    findings = Findings()
    rng = np.random.default_rng(seed)
    d, eps = 4, 1e-5
    for label, n, scale in (
        ("training, N = 6", 6, 3.0),
        ("training, N = 2", 2, 1.0),
        ("small variance", 8, 1e-3),
    ):
        x = rng.standard_normal((n, d)) * scale + rng.uniform(-2, 2, d)
        gamma, beta = rng.uniform(0.5, 2, d), rng.standard_normal(d)
        out, dout, (dx, dg, db) = torch_run(
            lambda x, g, b: tf.batch_norm(x, None, None, g, b, training=True, eps=eps), (x, gamma, beta), rng
        )
        want = {"out": out, "dx": dx, "gamma": dg, "beta": db}
        layer_case(findings, label, partial(cls, d, eps=eps), {"gamma": gamma, "beta": beta}, x, dout, want)
    # running statistics: running = momentum * running + (1 - momentum) * batch (biased or unbiased var)
    label, momentum = "running statistics, momentum 0.8, 3 batches", 0.8
    ok, layer = run_case(findings, label, "constructor", partial(cls, d, momentum=momentum, eps=eps))
    if ok:
        mean, var_b, var_u = np.zeros(d), np.ones(d), np.ones(d)
        for _ in range(3):
            x = rng.standard_normal((5, d)) * 2 + 1
            if not run_case(findings, label, "forward", layer.forward, x.copy())[0]:
                break
            mean = momentum * mean + (1 - momentum) * x.mean(axis=0)
            var_b = momentum * var_b + (1 - momentum) * x.var(axis=0)
            var_u = momentum * var_u + (1 - momentum) * x.var(axis=0, ddof=1)
        else:
            findings.compare(label, "running_mean", getattr(layer, "running_mean", None), mean)
            rv = getattr(layer, "running_var", None)
            if not close(rv, var_u):
                findings.compare(label, "running_var", rv, var_b)
    # evaluation: normalise with the running statistics
    label = "eval, small running_var (eps visible)"
    ok, layer = run_case(findings, label, "constructor", partial(cls, d, eps=1e-2))
    if ok:
        x, gamma, beta = rng.standard_normal((5, d)), rng.uniform(0.5, 2, d), rng.standard_normal(d)
        rm, rv = rng.standard_normal(d), rng.uniform(1e-3, 1e-2, d)
        layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
        layer.running_mean, layer.running_var = rm.copy(), rv.copy()
        layer.training = False
        want = tf.batch_norm(*(torch.tensor(a) for a in (x, rm, rv, gamma, beta)), training=False, eps=1e-2)
        ok, got = run_case(findings, label, "forward", layer.forward, x.copy())
        if ok:
            findings.compare(label, "out", got, want.numpy())
    return findings.items


def dropout_truth(cls, seed=0):
    findings = Findings()
    x = np.ones((200, 500))
    for p in (0.2, 0.5, 0.8):
        label = f"p = {p}"
        ok, layer = run_case(findings, label, "constructor", partial(cls, p, rng=np.random.default_rng(seed)))
        if not ok:
            continue
        ok, out = run_case(findings, label, "forward", layer.forward, x.copy())
        if not ok:
            continue
        out = np.asarray(out, dtype=float)
        if out.shape != x.shape:
            findings.add(f"{label}: out has shape {out.shape}")
            continue
        dropped = np.mean(out == 0)
        if abs(dropped - p) > 5 * np.sqrt(p * (1 - p) / x.size):
            findings.add(f"{label}: {dropped:.3f} of the entries dropped")
        if not np.allclose(out[out != 0], 1 / (1 - p)):
            findings.add(f"{label}: survivors are not x / (1 - p)")
        dout = np.random.default_rng(seed + 1).standard_normal(x.shape)
        ok, dx = run_case(findings, label, "backward", layer.backward, dout.copy())
        if ok:
            findings.compare(label, "dx", dx, dout * out)  # out = mask / (1 - p) for x = 1
    label = "eval mode"
    ok, layer = run_case(findings, label, "constructor", partial(cls, 0.5, rng=np.random.default_rng(seed)))
    if ok:
        layer.training = False
        xe = np.random.default_rng(seed + 2).standard_normal((4, 5))
        ok, out = run_case(findings, label, "forward", layer.forward, xe.copy())
        if ok:
            findings.compare(label, "out", out, xe)
    label = "masks"
    try:
        with quiet():
            a, b = cls(0.5, rng=np.random.default_rng(5)), cls(0.5, rng=np.random.default_rng(5))
            first, again, other = a.forward(x[:20]), a.forward(x[:20]), b.forward(x[:20])
        if np.array_equal(first, again):
            findings.add(f"{label}: two forward passes drew the same mask")
        if not np.array_equal(first, other):
            findings.add(f"{label}: layers with the same rng drew different masks")
    except Exception as error:  # noqa: BLE001
        findings.crash(label, "forward", error)
    return findings.items


TRUTH = {
    "Conv2d": conv_truth,
    "MaxPool2d": pool_truth,
    "Affine": affine_truth,
    "Relu": relu_truth,
    "SoftmaxCrossEntropy": softmax_truth,
    "BatchNorm1d": batchnorm_truth,
    "Dropout": dropout_truth,
}


# ============================================================================ grading and report
@dataclass
class Outcome:
    entry: Entry
    truth: list | None  # findings; [] = correct; None = not loaded
    failed: list = field(default_factory=list)  # CheckResults that did not pass
    lost: float = 0.0
    total: float = 0.0
    skipped: dict = field(default_factory=dict)
    why_not: str = ""

    @property
    def buggy(self):
        return bool(self.truth)

    @property
    def caught(self):
        return bool(self.failed)

    @property
    def mistakes(self):
        return sorted({r.mistake for r in self.failed if r.mistake})

    @property
    def stale(self):
        return self.caught and self.mistakes != self.entry.mistake


def grade(cls, exercise, skipped, checks, rubric):
    target = target_with(**{exercise: cls})
    results = []
    with quiet(warn=True):
        for check in checks:
            if check.exercise == exercise and check.id not in skipped:
                results.append(run_check(check, target, rubric[check.id].points))
    return results


def evaluate(entry, module, checks, rubric):
    key = (entry.exercise, entry.adapter)
    if key not in ADAPTERS:
        return Outcome(entry, None, why_not=f"no adapter {entry.adapter!r} for {entry.exercise}")
    cls = ADAPTERS[key](module)
    skipped = OUT_OF_CONTRACT.get(key, {})
    truth = TRUTH[entry.exercise](cls)
    results = grade(cls, entry.exercise, skipped, checks, rubric)
    failed = [r for r in results if not r.passed]
    return Outcome(
        entry,
        truth,
        failed,
        lost=sum(r.max_points for r in failed),
        total=sum(r.max_points for r in results),
        skipped=skipped,
    )


def first_line(text, width=150):
    line = (text or "").strip().splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def report(outcome, verbose):
    e = outcome.entry
    head = f"{e.source} {e.exercise}"
    if outcome.truth is None:
        print(f"{head}: not graded ({outcome.why_not})")
        return
    truth = "buggy" if outcome.buggy else "correct"
    verdict = f"lost {outcome.lost:g} of {outcome.total:g} points" if outcome.caught else "full marks"
    print(f"{head}\n  truth: {truth}" + (f" - {e.bug}" if e.bug else ""))
    shown = outcome.truth if verbose else outcome.truth[:4]
    for item in shown:
        print(f"    vs torch: {item}")
    if len(outcome.truth) > len(shown):
        print(f"    vs torch: ... and {len(outcome.truth) - len(shown)} more")
    if e.bug and not outcome.buggy:
        print("  NOTE: the TOML describes a bug, but the code matches torch on every case")
    if outcome.buggy and not e.bug:
        print("  NOTE: torch finds a bug the TOML does not describe")
    print(f"  kit: {verdict}" + (f" ({len(outcome.failed)} checks failed)" if outcome.caught else ""))
    for check_id, reason in outcome.skipped.items():
        print(f"    not run: {check_id} ({reason})")
    seen = set()
    for r in outcome.failed:
        key = (r.mistake, r.hint)
        if key in seen and not verbose:
            continue
        seen.add(key)
        hint = f"[{r.mistake or 'no identifier'}] {first_line(r.hint)}" if r.hint else "(no hint)"
        print(f"    {r.id}: {hint}")
        if verbose:
            print(f"      message: {first_line(r.message, 300)}")
    if outcome.caught and outcome.buggy:
        if outcome.stale:
            print(f"  judgement STALE: made for {e.mistake}, the grader now gives {outcome.mistakes}")
        elif e.named is None:
            print("  judgement: none recorded")
        else:
            print(
                f"  judgement: {'names the mistake' if e.named else 'does NOT name the mistake'}"
                f"{', MISLEADING' if e.misleading else ''}"
            )
        if e.good_hint and not (e.named and not e.misleading):
            print(f"  a good hint: {e.good_hint}")
    elif outcome.buggy:
        print("  MISSED" + (f"; a good hint: {e.good_hint}" if e.good_hint else ""))
    elif outcome.caught:
        print("  CORRECT CODE LOST POINTS")


GRADER_FAILED = "the grader itself failed"


def rates(outcomes):
    graded = [o for o in outcomes if o.truth is not None]
    buggy = [o for o in graded if o.buggy]
    correct = [o for o in graded if not o.buggy]
    caught = [o for o in buggy if o.caught]
    judged = [o for o in caught if not o.stale and o.entry.named is not None]
    named = [o for o in judged if o.entry.named]
    misleading = [o for o in judged if o.entry.misleading]
    no_hint = [o for o in caught if not any(r.hint for r in o.failed)]
    failed_checks = [r for o in caught for r in o.failed]
    print()
    print(
        f"entries graded: {len(graded)} of {len(outcomes)} ({len(buggy)} buggy, {len(correct)} correct by torch)"
    )
    print(f"buggy caught: {len(caught)} of {len(buggy)}")
    print(f"correct code losing points: {sum(o.caught for o in correct)} of {len(correct)}")
    print(
        f"caught bugs with no hint at all: {len(no_hint)} of {len(caught)}; failing checks without a hint: "
        f"{sum(not r.hint for r in failed_checks)} of {len(failed_checks)}"
    )
    print(
        f"caught bugs with a hint naming the mistake: {len(named)} of {len(judged)} judged "
        f"({len(named) / max(len(judged), 1):.0%}); misleading: {len(misleading)}; "
        f"judgements stale or missing: {len(caught) - len(judged)}"
    )
    for exercise in sorted({o.entry.exercise for o in graded}):
        mine = [o for o in judged if o.entry.exercise == exercise]
        if mine:
            print(f"  {exercise:<20} named {sum(o.entry.named for o in mine)} of {len(mine)}")
    problems = [
        ("missed", [o for o in buggy if not o.caught]),
        ("correct code that lost points", [o for o in correct if o.caught]),
        ("no hint at all", no_hint),
        ("hints not naming the mistake", [o for o in judged if not o.entry.named]),
        ("misleading hints", misleading),
        ("stale or missing judgements", [o for o in caught if o not in judged]),
        (
            "the grader failed itself",
            [o for o in graded if any(GRADER_FAILED in r.message for r in o.failed)],
        ),
        ("not graded", [o for o in outcomes if o.truth is None]),
    ]
    for title, items in problems:
        if items:
            print(f"{title}: " + ", ".join(f"{o.entry.source} {o.entry.exercise}" for o in items))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sources_dir", type=Path, help="where the outside files are (SOURCES_DIR/<id>/<path>)"
    )
    parser.add_argument("--sources", type=Path, default=SOURCES, help="the list of sources (TOML)")
    parser.add_argument("--fetch", action="store_true", help="fetch missing files with git (or raw download)")
    parser.add_argument(
        "--clones", type=Path, help="take missing files from local clones ROOT/<owner>/<name>"
    )
    parser.add_argument("--only", action="append", help="grade only this source id (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="every torch finding, every hint and message")
    args = parser.parse_args(argv)
    sources = read_sources(args.sources)
    if args.only:
        sources = [s for s in sources if s.id in args.only]
    if args.fetch or args.clones:
        for source in sources:
            for path in source.files:
                dest = args.sources_dir / source.id / path
                if not dest.is_file() and not fetch_file(source, path, dest, args.clones):
                    print(f"could not fetch {source.repo}@{source.commit[:10]}:{path}")
    checks, rubric = all_checks(), load_rubric()
    outcomes = []
    for source in sources:
        module, why_not = load_module(source, args.sources_dir)
        for entry in source.entries:
            if module is None:
                outcome = Outcome(entry, None, why_not=why_not)
            else:
                outcome = evaluate(entry, module, checks, rubric)
            report(outcome, args.verbose)
            outcomes.append(outcome)
    rates(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
