"""Where the checks' expected values come from: live oracles, or the data a student kit recorded.

Checks never compute an answer themselves. They ask for it by name:

    out = expected("conv.forward", x, W, b, stride, padding)

- **live** (the course repository, batch grading, Gradescope, nbgrader grading): the
  oracle registered under that name in `grader/oracles/` computes it;
- **recorded** (a student kit, which has no `grader/oracles/`): the value is read from
  `grader/recorded/`, written at export time by running the live oracles on the public
  checks (a `Recorder`). The key is the name plus a digest of the arguments, so the same
  check code finds the same numbers.

Arguments are data: arrays, numbers, strings, None, and tuples, lists and dicts of those.
"""

import contextlib
import hashlib
import importlib
import io
import json
import platform
import zipfile
from pathlib import Path

import numpy as np

RECORDED_DIR = Path(__file__).with_name("recorded")
INDEX_FILE = "index.json"
VALUES_FILE = "values.npz"
ORACLES_PACKAGE = f"{__package__}.oracles"


class UnknownOracle(LookupError):
    """A check asked for an oracle that is not registered (a mistake in the grader)."""


class RecordedDataError(Exception):
    """The kit's recorded expectations are missing, damaged, stale, or lack an entry. Never the student's fault."""


# ----------------------------------------------------------------------------- keys
def _encode(value, out):
    """Append a canonical byte form of `value` to `out` (floats quantised to float32, see `digest`)."""
    if value is None or isinstance(value, (bool, np.bool_, str)):
        out.append(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, (int, np.integer)):
        out.append(f"int:{int(value)};".encode())
    elif isinstance(value, (float, np.floating)):
        out.append(b"float:" + np.float32(value).tobytes() + b";")
    elif isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            data = np.ascontiguousarray(value, dtype=np.float32)
        elif value.dtype.kind in "biu":
            data = np.ascontiguousarray(value, dtype=np.int64)
        else:
            raise TypeError(f"cannot key an array of dtype {value.dtype}")
        out.append(f"array:{data.dtype.kind}{value.shape};".encode() + data.tobytes())
    elif isinstance(value, (tuple, list)):
        out.append(f"seq{len(value)}(".encode())
        for item in value:
            _encode(item, out)
        out.append(b")")
    elif isinstance(value, dict):
        out.append(f"dict{len(value)}(".encode())
        for key in sorted(value, key=str):
            _encode(str(key), out)
            _encode(value[key], out)
        out.append(b")")
    else:
        raise TypeError(f"an oracle argument must be data, not {type(value).__name__}")


def digest(name, args, kwargs):
    """The key of one question: sha256 of the oracle's name and its arguments.

    Floats enter as float32, so inputs that differ only in the last bits between two
    machines (another CPU's exp or sin) still find their recorded answer.
    """
    parts = [name.encode(), b"|"]
    _encode(tuple(args), parts)
    _encode(dict(kwargs), parts)
    return hashlib.sha256(b"".join(parts)).hexdigest()[:32]


# ----------------------------------------------------------------------------- values as data
def _pack(value, arrays):
    """A JSON skeleton of `value`, its arrays moved into `arrays` (name -> array)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"$f": repr(float(value))}
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = np.array(value)
        return {"$a": name}
    if isinstance(value, tuple):
        return {"$t": [_pack(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_pack(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"$d": [[str(k), _pack(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"an oracle must return data, not {type(value).__name__}")


def _unpack(skeleton, arrays):
    if isinstance(skeleton, list):
        return [_unpack(v, arrays) for v in skeleton]
    if isinstance(skeleton, dict):
        if "$a" in skeleton:
            return arrays[skeleton["$a"]].copy()
        if "$f" in skeleton:
            return float(skeleton["$f"])
        if "$t" in skeleton:
            return tuple(_unpack(v, arrays) for v in skeleton["$t"])
        if "$d" in skeleton:
            return {k: _unpack(v, arrays) for k, v in skeleton["$d"]}
    return skeleton


# ----------------------------------------------------------------------------- providers
class LiveProvider:
    """Computes every expected value with the oracles of grader/oracles/."""

    kind = "live"

    def __init__(self):
        self.oracles = importlib.import_module(ORACLES_PACKAGE).ORACLES

    def answer(self, name, args, kwargs):
        try:
            oracle = self.oracles[name]
        except KeyError:
            raise UnknownOracle(f"no oracle is registered as {name!r}") from None
        return oracle(*args, **kwargs)


class Recorder(LiveProvider):
    """A live provider that keeps every question and answer, to be saved as a kit's recorded data."""

    kind = "recording"

    def __init__(self):
        super().__init__()
        self.answers = {}  # digest -> (name, value)

    def answer(self, name, args, kwargs):
        value = super().answer(name, args, kwargs)
        self.answers.setdefault(digest(name, args, kwargs), (name, value))
        return value

    def files(self, fingerprint, environment=None):
        """{file name: bytes} of the recorded data: an index (JSON) and the arrays (npz, no pickle)."""
        arrays, entries = {}, {}
        for key in sorted(self.answers):
            name, value = self.answers[key]
            entries[key] = [name, _pack(value, arrays)]
        values = _npz_bytes(arrays)
        index = {
            "format": 1,
            "fingerprint": fingerprint,
            "environment": environment or environment_text(),
            "numpy": np.__version__,
            "values_sha256": hashlib.sha256(values).hexdigest(),
            "entries_sha256": entries_digest(entries),
            "entries": entries,
        }
        index_bytes = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
        return {INDEX_FILE: index_bytes, VALUES_FILE: values}


def entries_digest(entries):
    """sha256 of the index's entries in a canonical JSON form."""
    return hashlib.sha256(json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _npz_bytes(arrays):
    """np.savez_compressed of `arrays`, byte-for-byte the same for the same arrays (fixed zip timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def environment_text():
    """What the recording's inputs depend on, for the message when a kit's data does not fit."""
    return f"numpy {np.__version__}, Python {platform.python_version()}"


class RecordedProvider:
    """Reads every expected value from a kit's recorded data; computes nothing."""

    kind = "recorded"

    def __init__(self, folder=RECORDED_DIR, fingerprint=None):
        self.folder = Path(folder)
        index_path, values_path = self.folder / INDEX_FILE, self.folder / VALUES_FILE
        for path in (index_path, values_path):
            if not path.is_file():
                raise RecordedDataError(
                    f"{path} is missing: this kit cannot grade without its recorded expectations "
                    "(download or export the kit again)"
                )
        try:
            index = json.loads(index_path.read_bytes())
            entries, wanted = index["entries"], index["values_sha256"]
            intact = entries_digest(entries) == index["entries_sha256"]
        except (ValueError, KeyError, TypeError) as error:
            raise RecordedDataError(
                f"{index_path} is damaged ({error}): download or export the kit again"
            ) from None
        if not intact:
            raise RecordedDataError(f"{index_path} was edited or damaged: download or export the kit again")
        values = values_path.read_bytes()
        if hashlib.sha256(values).hexdigest() != wanted:
            raise RecordedDataError(
                f"{values_path} does not match {index_path} (edited, truncated, or from another export): "
                "download or export the kit again"
            )
        if fingerprint is not None and index.get("fingerprint") != fingerprint:
            raise RecordedDataError(
                f"{index_path} was recorded for another version of this kit's grader (a file under grader/ "
                "was changed, or the data comes from another export): restore grader/ or export the kit again"
            )
        try:
            with np.load(io.BytesIO(values), allow_pickle=False) as data:
                self.arrays = {name: data[name] for name in data.files}
        except Exception as error:  # noqa: BLE001 - any unreadable archive is the same problem
            raise RecordedDataError(
                f"{values_path} is damaged ({error}): download or export the kit again"
            ) from None
        self.entries, self.environment = entries, index.get("environment", "unknown")
        self.numpy = index.get("numpy", "")

    def answer(self, name, args, kwargs):
        entry = self.entries.get(digest(name, args, kwargs))
        if entry is None or entry[0] != name:
            here = environment_text()
            advice = (
                f"The kit was recorded with {self.environment}; this machine has {here}: install that "
                f'numpy (pip install "numpy=={self.numpy}"), or ask for a kit exported for yours'
                if here != self.environment
                else "Its grader asks for something the recording does not hold: export the kit again"
            )
            raise RecordedDataError(
                f"{self.folder / INDEX_FILE} has no recorded answer for {name} on these inputs. {advice}"
            )
        return _unpack(entry[1], self.arrays)


# ----------------------------------------------------------------------------- the active provider
_active = None


def oracles_present():
    """Whether the live oracles are beside this file (the course repository), not in a student kit."""
    return (Path(__file__).parent / "oracles" / "__init__.py").is_file()


def kit_fingerprint(grader_dir=Path(__file__).parent):
    """sha256 of a grader folder's code and rubric (not recorded data): what a kit's data was recorded
    for, and what batch results were graded with."""
    files = {}
    for path in grader_dir.rglob("*"):
        rel = path.relative_to(grader_dir)
        if path.is_file() and "__pycache__" not in rel.parts:
            files[f"grader/{rel.as_posix()}"] = path.read_bytes()
    return kit_fingerprint_of(files)


def kit_fingerprint_of(files):
    """kit_fingerprint() of a kit that is not written yet: `files` maps 'grader/...' paths to bytes."""
    digest_ = hashlib.sha256()
    for rel in sorted(files):
        parts = rel.split("/")
        if parts[0] == "grader" and parts[1] != "recorded" and rel.endswith((".py", ".toml")):
            digest_.update("/".join(parts[1:]).encode() + b"\0" + files[rel])
    return digest_.hexdigest()


def provider():
    """The provider in use: live where the oracles are, else this kit's recorded data."""
    global _active
    if _active is None:
        _active = LiveProvider() if oracles_present() else RecordedProvider(fingerprint=kit_fingerprint())
    return _active


@contextlib.contextmanager
def using(new_provider):
    """Answer from `new_provider` inside the block (recording an export, testing recorded data)."""
    global _active
    previous, _active = _active, new_provider
    try:
        yield new_provider
    finally:
        _active = previous


def recording():
    """True while a Recorder is active: hints then compute their candidates even for a right answer."""
    return _active is not None and _active.kind == "recording"


def expected(name, *args, **kwargs):
    """The expected value `name(*args, **kwargs)`, from the active provider."""
    return provider().answer(name, args, kwargs)
