"""The one place that touches the code under test.

Checks never hold a student object. They ask a *target* to build objects and
call their methods, and get back only plain values: numpy arrays (a fresh
base-class copy with a numeric dtype), Python numbers, None, and lists, tuples
and dicts of those. Objects that must stay on the student's side (a layer, a
params dict whose identity matters, a Generator) are handed back as `Ref`s.

    t = load_impl("solutions")
    layer = t.new("Affine", 4, 3, rng=Rng(0))
    out = layer.call("forward", x)          # np.ndarray, a copy
    layer.get("grads")                      # {"W": ndarray, "b": ndarray}
    t.last_mutations                        # inputs the last call modified in place

`InProcessTarget` runs the code in this process (fast, real tracebacks);
a sandboxed target can implement the same methods over a pipe.
"""

import importlib.util
import inspect
import itertools
import re
import sys
import types
from pathlib import Path

import numpy as np

try:
    from .expected import RecordedDataError
except ImportError:  # a sandbox worker has no expected values to ask for

    class RecordedDataError(Exception):
        pass


class Rng:
    """Stands for `numpy.random.default_rng(seed)`, made on the student's side."""

    def __init__(self, seed):
        self.seed = seed

    def __repr__(self):
        return f"Rng({self.seed})"


class Ref:
    """A handle to an object living in the implementation under test."""

    def __init__(self, target, key, label):
        self.target, self.key, self.label = target, key, label

    def call(self, method, *args, **kwargs):
        """Call a method and return its result as a plain value."""
        return self.target.call_method(self, method, args, kwargs, want="value")

    def call_ref(self, method, *args, **kwargs):
        """Call a method and keep its result on the student's side."""
        return self.target.call_method(self, method, args, kwargs, want="ref")

    def run(self, method, *args, **kwargs):
        """Call a method and ignore its result."""
        self.target.call_method(self, method, args, kwargs, want="none")

    def get(self, attr):
        return self.target.get_attr(self, attr, want="value")

    def ref(self, attr):
        return self.target.get_attr(self, attr, want="ref")

    def set(self, attr, value):
        self.target.set_attr(self, attr, value)

    def has(self, attr):
        return self.target.has_attr(self, attr)

    def fetch(self):
        """The object itself as a plain value (e.g. an array or a dict of arrays)."""
        return self.target.fetch(self)

    def __repr__(self):
        return f"<{self.label}>"


class GraderDataUsed(RuntimeError):
    """Student code asked the grader's provider of expected values for an answer it does not hold."""


class TargetError(Exception):
    """The implementation returned or holds something that is not a plain value."""


# The array arguments the student API writes in place by contract: function or method name ->
# (parameter name, position). A sandboxed target hands every other array argument to student
# code read-only, and sees changes to these itself.
WRITTEN_IN_PLACE = {
    "numerical_gradient": ("x", 1),  # nudged by +h and -h, then restored
    "step": ("params", 0),  # an optimizer updates the parameters in place
}


def written_in_place(callee, where):
    """Whether argument `where` (a position or a keyword) of `callee` is written in place by contract."""
    name, position = WRITTEN_IN_PLACE.get(callee, (None, None))
    return where == name if isinstance(where, str) else where == position


READ_ONLY_ERROR = re.compile(r"read-only|WRITEABLE flag")  # numpy's ValueError on a write into one
EARLIER_INPUT = "an input of an earlier call"


def input_written(what, names, error=None, frames=""):
    """The CheckFailure for a call that wrote into an input it may not write: expect_untouched's
    message and hint, then what the student's code raised and where. Trusted side only."""
    from .expect import expect_untouched
    from .results import CheckFailure

    try:
        expect_untouched(types.SimpleNamespace(last_mutations=names), what)
    except CheckFailure as failure:
        if error is not None:
            failure.message = (
                f"{failure.message}\n  (inputs are read-only: your code raised {type(error).__name__}: {error})"
                f"\n{frames}"
            ).rstrip()
        return failure
    raise AssertionError("expect_untouched passed a call with modified inputs")


def fill_arrays(container, values):
    """Copy every values[key] into the array container[key] in place, if all keys fit.

    Nothing is copied unless every key exists with exactly the shape of its value (so a
    broadcast never hides a wrong shape). Returns (the container's keys, {key: the shape
    of container[key], or None if the key is missing}) for the caller to judge.
    """
    keys = [str(k) for k in container]
    shapes = {key: tuple(np.shape(container[key])) if key in container else None for key in values}
    if all(shapes[key] == np.shape(value) for key, value in values.items()):
        for key, value in values.items():
            np.copyto(container[key], np.asarray(value))
    return keys, shapes


def plain(value, where="value"):
    """Copy `value` into trusted plain types, or raise TargetError."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        arr = np.array(value, copy=True, subok=False)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TargetError(f"{where} is an array of dtype {arr.dtype}, expected numbers")
        return arr
    if type(value) in (list, tuple):
        return type(value)(plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if type(value) is dict:
        return {str(k): plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TargetError(f"{where} is a {type(value).__name__}, expected a number or a numpy array")


class InProcessTarget:
    """Runs an implementation's code in this process.

    Args:
        namespace: name -> class or function of the student API.
        origin: directory of the implementation (its frames are shown on a crash).
        label: how reports name this implementation.
        import_errors: name or module -> error text, for parts that failed to import.
        read_only_inputs: hand array arguments to student code read-only, as the sandbox does
            (except what written_in_place names); a write into one raises numpy's ValueError.
            Off by default: locally, an input modified in place is reported by expect_untouched.
    """

    def __init__(
        self, namespace, origin=None, label="implementation", import_errors=None, read_only_inputs=False
    ):
        self.namespace = dict(namespace)
        self.origin = Path(origin).resolve() if origin else None
        self.label = label
        self.import_errors = dict(import_errors or {})
        self.read_only_inputs = read_only_inputs
        self.objects = {}
        self.stored = set()  # keys of the objects put() here
        self.ids = itertools.count()
        self.last_mutations = []

    # -- what exists -------------------------------------------------------
    def has(self, name):
        return name in self.namespace

    def parameters(self, name):
        """Parameter names of a function or class constructor, or None if unknown."""
        obj = self.namespace[name]
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            return None
        return [p.name for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    # -- building and calling ---------------------------------------------
    def new(self, name, *args, **kwargs):
        """Construct `name(*args, **kwargs)` and return a Ref to it."""
        obj = self._invoke(self.namespace[name], args, kwargs, name, name)
        return self._keep(obj, name)

    def new_filled(self, name, args, kwargs, attr, values):
        """Construct `name(*args, **kwargs)`, then fill_arrays(obj.<attr>, values).

        Returns (Ref, keys, shapes) as fill_arrays reports them.
        """
        ref = self.new(name, *args, **kwargs)
        keys, shapes = fill_arrays(getattr(self.objects[ref.key], attr), values)
        return ref, keys, shapes

    def call(self, name, *args, **kwargs):
        """Call the function `name` and return a plain value."""
        return plain(self._invoke(self.namespace[name], args, kwargs, name, name), f"{name}(...)")

    def put(self, value, label="value"):
        """Store a copy of `value` on the student's side (Refs inside it are resolved)."""
        ref = self._keep(self._resolve(value), label)
        self.stored.add(ref.key)
        return ref

    def call_method(self, ref, method, args, kwargs, want):
        fn = getattr(self.objects[ref.key], method)
        result = self._invoke(fn, args, kwargs, method, f"{ref.label}.{method}")
        label = f"{ref.label}.{method}(...)"
        if want == "ref":
            return self._keep(result, label)
        return plain(result, label) if want == "value" else None

    def get_attr(self, ref, attr, want):
        value = getattr(self.objects[ref.key], attr)
        label = f"{ref.label}.{attr}"
        return self._keep(value, label) if want == "ref" else plain(value, label)

    def set_attr(self, ref, attr, value):
        setattr(self.objects[ref.key], attr, self._resolve(value))

    def has_attr(self, ref, attr):
        return hasattr(self.objects[ref.key], attr)

    def fetch(self, ref):
        return plain(self.objects[ref.key], ref.label)

    # -- internals -----------------------------------------------------------
    def _keep(self, obj, label):
        key = next(self.ids)
        self.objects[key] = obj
        return Ref(self, key, label)

    def _resolve(self, value):
        """Turn trusted values into the objects the student's code receives (fresh copies)."""
        if isinstance(value, Ref):
            return self.objects[value.key]
        if isinstance(value, Rng):
            return np.random.default_rng(value.seed)
        if isinstance(value, np.ndarray):
            return value.copy()
        if type(value) in (list, tuple):
            return type(value)(self._resolve(v) for v in value)
        if type(value) is dict:
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    @staticmethod
    def _freeze(value):
        """Make the arrays of `value` (and of the lists, tuples and dicts in it) read-only; whether it has any."""
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
            return True
        if type(value) in (list, tuple, dict):
            items = value.values() if type(value) is dict else value
            return any([InProcessTarget._freeze(item) for item in items])
        return False

    def _send(self, value, callee, where, frozen):
        """An argument as student code receives it (read_only_inputs: as the sandbox hands it over:
        arrays and containers put() here read-only, a stored array and student objects as they are).
        The name of an argument made read-only goes into `frozen`."""
        sent = self._resolve(value)
        if self.read_only_inputs and not written_in_place(callee, where):
            if not isinstance(value, Ref) or value.key in self.stored and type(sent) in (list, tuple, dict):
                if self._freeze(sent):
                    frozen.append(f"argument {where + 1}" if isinstance(where, int) else where)
        return sent

    def _invoke(self, fn, args, kwargs, callee=None, what=None):
        """Call `fn` on fresh copies of the arguments; record which array arguments it modified."""
        frozen = []
        sent_args = [self._send(a, callee, i, frozen) for i, a in enumerate(args)]
        sent_kwargs = {k: self._send(v, callee, k, frozen) for k, v in kwargs.items()}
        try:
            result = fn(*sent_args, **sent_kwargs)
        except RecordedDataError as error:  # the student's code asked the grader: its crash, not the kit's
            raise GraderDataUsed(
                "your code called the grader's expected values, which hold answers only for the grader's own "
                f"inputs ({error})"
            ) from None
        except ValueError as error:
            if not (self.read_only_inputs and READ_ONLY_ERROR.search(str(error))):
                raise
            from .results import student_frames

            frames = student_frames(error, self.origin)
            raise input_written(what or callee, frozen or [EARLIER_INPUT], error, frames) from None
        self.last_mutations = [
            name
            for name, original, sent in itertools.chain(
                ((f"argument {i + 1}", a, s) for i, (a, s) in enumerate(zip(args, sent_args, strict=True))),
                ((k, kwargs[k], sent_kwargs[k]) for k in kwargs),
            )
            if isinstance(original, np.ndarray)
            and not (sent.shape == original.shape and np.array_equal(sent, original, equal_nan=True))
        ]
        return result


def as_target(*objects, **named):
    """Make an in-process target from classes/functions, a module, or a dict such as `globals()`.

    as_target(Affine)            # a notebook cell grading one class
    as_target(solutions)         # a whole module
    as_target(globals())
    """
    namespace = {}
    for obj in objects:
        if isinstance(obj, InProcessTarget):
            return obj
        if isinstance(obj, types.ModuleType):
            namespace.update({k: v for k, v in vars(obj).items() if not k.startswith("_")})
        elif isinstance(obj, dict):
            namespace.update({k: v for k, v in obj.items() if not k.startswith("_")})
        else:
            namespace[obj.__name__] = obj
    namespace.update(named)
    origin = None
    for obj in objects:
        if isinstance(obj, types.ModuleType) and getattr(obj, "__file__", None):
            origin = Path(obj.__file__).parent
    return InProcessTarget(namespace, origin=origin, label="your code")


def _module_name(path):
    return f"_graded_{abs(hash(str(path))):x}"


def load_impl(path):
    """Import an implementation directory laid out like exercises/ as an in-process target.

    The package's __init__ is tried first; if it fails (e.g. a syntax error in one
    file), each module is imported on its own so the rest can still be graded.
    """
    path = Path(path).resolve()
    if not (path / "__init__.py").is_file():
        raise FileNotFoundError(f"{path} is not an implementation directory (no __init__.py)")
    name = _module_name(path)
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    spec = importlib.util.spec_from_file_location(
        name, path / "__init__.py", submodule_search_locations=[str(path)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        namespace = {k: v for k, v in vars(package).items() if not k.startswith("_")}
        return InProcessTarget(namespace, origin=path, label=path.name)
    except Exception as error:  # noqa: BLE001 - any import failure is reported per name
        package_error = f"{type(error).__name__}: {error}"
    namespace, errors = {}, {"__init__": package_error}
    for file in sorted(path.glob("*.py")):
        if file.stem == "__init__":
            continue
        try:
            module = importlib.import_module(f"{name}.{file.stem}")
        except Exception as error:  # noqa: BLE001
            errors[file.name] = f"{type(error).__name__}: {error}"
            continue
        namespace.update(
            {
                k: v
                for k, v in vars(module).items()
                if not k.startswith("_") and getattr(v, "__module__", None) == module.__name__
            }
        )
    return InProcessTarget(namespace, origin=path, label=path.name, import_errors=errors)
