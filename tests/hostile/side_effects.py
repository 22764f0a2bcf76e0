"""Hostile submissions about side effects and the worker's replies (issue 13, findings 2 and 7).

Each is a copy of solutions/ (through tests.hostile.write_submission) with one part changed,
next to its honest twin: the same change without the tampering. The tampering patches what
the worker used to report about itself (the mutations of a call, numpy's comparisons and
flags) or the replies it sends, so a grader that trusted the worker would be fooled.
"""

from pathlib import Path

from tests.hostile import write_submission

# Module code: patch every report the worker could make about side effects. `_remember(x)` keeps
# x as it was, and the worker then answers a fetch of x (or of a dict holding it) with that.
LIE = """
import sys as _sys

_before = {}


def _remember(x):
    _before[id(x)] = x.copy()


def _original(obj):
    if isinstance(obj, dict):
        return {k: _original(v) for k, v in obj.items()}
    return _before.get(id(obj), obj)


_worker = _sys.modules.get("grader.sandbox.worker.loop")
if _worker is not None and not getattr(_worker, "_lies", False):
    _worker._lies = True
    _invoke, _handle = _worker.Worker.invoke, _worker.Worker.handle

    def _quiet_invoke(self, fn, request, blobs):
        out = _invoke(self, fn, request, blobs)
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], list):
            return out[0], []  # (result, mutations): report none
        return out

    def _lying_handle(self, request, blobs):
        if request.get("op") == "fetch" and request.get("ref") in self.objects:
            blobs_out = []
            value = _worker.to_wire(_original(self.objects[request["ref"]]), blobs_out)
            return {"value": value, "mutations": []}, blobs_out
        reply, blobs_out = _handle(self, request, blobs)
        reply["mutations"] = []
        return reply, blobs_out

    _worker.Worker.invoke, _worker.Worker.handle = _quiet_invoke, _lying_handle
    np.array_equal = lambda *a, **k: True
    np.allclose = lambda *a, **k: True
"""

# Module code: zero an array in place whatever it takes.
ZERO = '''
def _zero(x):
    """Zero x in place: through its flags, a new view of its buffer, or its raw memory."""
    import ctypes
    import mmap

    for way in ("flags", "setflags", "view"):
        try:
            if way == "flags":
                x.flags.writeable = True
                x[...] = 0
            elif way == "setflags":
                x.setflags(write=True)
                x[...] = 0
            else:
                np.ndarray(x.shape, x.dtype, buffer=x)[...] = 0
            return
        except (ValueError, TypeError):
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    start = x.ctypes.data // mmap.PAGESIZE * mmap.PAGESIZE
    libc.mprotect(ctypes.c_void_p(start), ctypes.c_size_t(x.ctypes.data + x.nbytes - start), 3)
    ctypes.memset(x.ctypes.data, 0, x.nbytes)  # faults where the memory cannot be written
'''

# Affine.forward: the right answer, computed from a copy, and the input zeroed.
FORWARD = """
self.x_shape = x.shape
self.x = x.reshape(x.shape[0], -1).copy()
out = self.x @ self.params["W"] + self.params["b"]
{zero}
return out
"""


def zeroing_affine(dest, hostile):
    """Affine.forward zeroes its input after computing the right answer: `hostile` through every
    way there is, with the worker's reports patched; else (the honest twin) with x[...] = 0."""
    zero = "_remember(x)\n_zero(x)" if hostile else "x[...] = 0"
    module = (LIE + ZERO) if hostile else ""
    return write_submission(dest, forward=FORWARD.format(zero=zero), module=module)


# functions.py additions: a numerical_gradient that leaves x nudged by +h.
NUDGING = '''

def numerical_gradient(f, x, h=1e-4):
    """Central differences that leave every x[i] at x[i] + h."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        f_plus = float(f(x))
        x[idx] = original - h
        f_minus = float(f(x))
        x[idx] = original + h
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
'''

# ...that also hides it: the worker denies the change.
NUDGING_LIE = """
_nudging = numerical_gradient


def numerical_gradient(f, x, h=1e-4):
    _remember(x)
    return _nudging(f, x, h)
"""


def nudging_gradient(dest, hostile):
    """numerical_gradient leaves x changed; `hostile` also patches the worker to deny it."""
    impl = write_submission(dest)
    functions = Path(impl, "functions.py")
    functions.write_text(functions.read_text() + NUDGING + (LIE + NUDGING_LIE if hostile else ""))
    return impl


# optim.py additions: SGD computes the right step, then writes into grads (its input).
SGD_INTO_GRADS = """

class SGD:
    \"\"\"SGD whose step is right but leaves grads changed.\"\"\"

    def __init__(self, lr=0.01, weight_decay=0.0):
        self.lr, self.weight_decay = lr, weight_decay

    def step(self, params, grads):
        for key in params:
            g = grads[key]
            update = self.lr * (g + self.weight_decay * params[key])
            EDIT
            params[key] -= update
"""


def sgd_into_grads(dest, hostile):
    """SGD.step zeroes grads after computing the right step: `hostile` every way there is, with
    the reports patched; the honest twin with g[...] = 0."""
    impl = write_submission(dest)
    edit = "_remember(g); _zero(g)" if hostile else "g[...] = 0"
    optim = Path(impl, "optim.py")
    optim.write_text(
        optim.read_text() + (LIE + ZERO if hostile else "") + SGD_INTO_GRADS.replace("EDIT", edit)
    )
    return impl


# Malformed replies: Affine.forward patches how the worker encodes its reply, then answers right.
# name -> code run at the start of Affine.forward (the worker module is `_w`).
LIES = {
    "dtype_numpy_refuses": "_w.to_wire = lambda v, b, d=0: (b.append(b'abc'), "
    "{'$array': 0, 'dtype': '<f3', 'shape': [1]})[1]",
    "wrong_length": "_w.to_wire = lambda v, b, d=0: (b.append(b'abc'), {'$array': 0, 'dtype': '<f8', 'shape': [2]})[1]",
    "huge_empty_shape": "_w.to_wire = lambda v, b, d=0: (b.append(b''), "
    "{'$array': 0, 'dtype': '<f8', 'shape': [0, 2**62]})[1]",
    "unknown_marker": "_w.to_wire = lambda v, b, d=0: {'$weird': 1}",
    "bad_dict": "_w.to_wire = lambda v, b, d=0: {'$dict': [[1, 2, 3]]}",
    "bad_json": "_w.encode_frame = lambda h, b=(): _w.HEADER.pack(6) + b'{bad}]'",
    "blob_sizes_lie": "_w.encode_frame = lambda h, b=(): (lambda d: _w.HEADER.pack(len(d)) + d)"
    '(b\'{"ok": true, "seq": %d, "blobs": [1000000000]}\' % h[\'seq\'])',
    "ok_not_a_bool": "_w.encode_frame = lambda h, b=(): (lambda d: _w.HEADER.pack(len(d)) + d)"
    '(b\'{"ok": "yes", "seq": %d, "blobs": []}\' % h[\'seq\'])',
    "error_report_not_a_dict": "_w.Worker.error_reply = lambda self, e: 5\nraise ValueError('x')",
    "error_bases_not_a_list": "_w.Worker.error_reply = lambda self, e: "
    "{'type': 'ValueError', 'bases': 7, 'message': 'x', 'frames': []}\nraise ValueError('x')",
    "error_frames_wrong": "_w.Worker.error_reply = lambda self, e: "
    "{'type': 'ValueError', 'bases': ['ValueError'], 'message': 'x', 'frames': {'a': 1}}\nraise ValueError('x')",
}


def lying_reply(dest, lie):
    """Affine.forward makes the worker send a malformed reply (LIES[lie]), then answers right."""
    code = "import sys\n_w = sys.modules.get('grader.sandbox.worker.loop')\nif _w is not None:\n"
    code += "".join(f"    {line}\n" for line in LIES[lie].splitlines())
    return write_submission(dest, forward=code)
