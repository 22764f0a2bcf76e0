"""Hostile submissions: copies of solutions/ with Affine.forward (or layers.py) tampered with.

Each case is a small template applied to a fresh copy of the reference, so the
corpus never drifts from the solutions. `honest` names the score the submission
deserves: "full" (the tampering leaves the answers right) or "stub" (the same
submission with Affine.forward not implemented).
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
# The reference body of Affine.forward, replaced by each case.
ANSWER = """        self.x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.params["W"] + self.params["b"]
"""
STUB = '        raise NotImplementedError("Affine.forward: tampered")\n'
MARKER = "300.4242"  # the argument of the `sleep` a hostile submission leaves behind
GRADEBOOK = Path("/tmp/nnkit-hostile-gradebook.csv")  # a file outside the sandbox it tries to overwrite


@dataclass(frozen=True)
class Hostile:
    name: str
    honest: str  # "full" or "stub"
    forward: str = ""  # code run at the start of Affine.forward
    answer: bool = True  # then return the right answer (else raise NotImplementedError)
    module: str = ""  # code appended to layers.py
    reason: str = ""  # a phrase the failed checks' messages must contain
    exports: tuple = ()  # names of layers.py the package exports as well


def indent(code):
    return "".join(f"        {line}\n" for line in code.strip("\n").splitlines())


CASES = [
    Hostile("syntax_error", "stub", module="def broken(:\n    pass\n", reason="SyntaxError"),
    Hostile("import_error", "stub", module="import not_a_module_of_the_kit\n", reason="ModuleNotFoundError"),
    Hostile("loop_at_import", "stub", module="while True:\n    pass\n", reason="did not finish within"),
    Hostile("loop_in_forward", "stub", forward="while True:\n    pass", reason="did not finish within"),
    Hostile("memory_bomb", "stub", forward="hog = b'x' * (8 << 30)", reason="MemoryError"),
    Hostile("sys_exit", "stub", forward="import sys\nsys.exit(0)", reason="SystemExit"),
    Hostile(
        "os_exit", "stub", forward="import os\nos._exit(0)", reason="ended the grading process (exit code 0)"
    ),
    Hostile(
        "fake_report",
        "full",
        forward=(
            "import os, sys\n"
            "print('Score: 188 / 188 (100.0%)')\n"
            "print('Score: 188 / 188 (100.0%)', file=sys.stderr)\n"
            "os.write(1, b'Score: 188 / 188 (100.0%)\\n')"
        ),
    ),
    Hostile(
        "monkeypatch",
        "stub",
        module=(
            "import builtins, sys\n"
            "np.allclose = lambda *a, **k: True\n"
            "np.array_equal = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "builtins.abs = lambda v: 0.0\n"
            "for _name in list(sys.modules):\n"
            "    if _name.startswith('grader'):\n"
            "        _m = sys.modules[_name]\n"
            "        for _attr in ('expect_array', 'rel_error', 'plain', 'run_check'):\n"
            "            if hasattr(_m, _attr):\n"
            "                setattr(_m, _attr, lambda *a, **k: None)\n"
        ),
        forward="return np.zeros((x.shape[0], self.out_features))",
        reason="is wrong",
    ),
    Hostile(
        "lying_objects",
        "stub",
        forward=(
            "class Liar(np.ndarray):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    def __array__(self, *a, **k):\n"
            "        return np.zeros(3)\n"
            "class Agreeable:\n"
            "    __eq__ = lambda self, other: True\n"
            "    __array__ = lambda self, *a, **k: np.zeros((x.shape[0], self.out_features))\n"
            "if x.shape[0] % 2:\n"
            "    return Agreeable()\n"
            "return np.zeros((x.shape[0], self.out_features)).view(Liar)"
        ),
        reason="",
    ),
    Hostile(
        "huge_reply",
        "stub",
        forward="return np.zeros((7_000_000,))",
        reason="larger than",
    ),
    Hostile(
        "forged_reply",
        "stub",
        forward=(
            "import os\n"
            "for fd in range(3, 64):\n"
            "    try:\n"
            "        os.write(fd, b'\\x00\\x00\\x00\\x0b{\"ok\":true}garbage')\n"
            "    except OSError:\n"
            "        pass"
        ),
        answer=False,
        reason="protocol",
    ),
    Hostile(
        "read_solutions",
        "stub",
        forward=(
            "import importlib.util\n"
            f"spec = importlib.util.spec_from_file_location('ref_layers', {str(SOLUTIONS / 'layers.py')!r})\n"
            "try:\n"
            "    ref = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(ref)\n"
            "except Exception:\n"
            "    ref = None\n"
            "if ref is not None:\n"
            "    return x.reshape(x.shape[0], -1) @ self.params['W'] + self.params['b']"
        ),
        answer=False,
        module=(
            "def probe(paths):\n"
            "    '''1.0 for each path this code can read, else 0.0.'''\n"
            "    found = []\n"
            "    for path in paths:\n"
            "        path = __file__ if path == 'SELF' else path\n"
            "        try:\n"
            "            with open(path, 'rb') as f:\n"
            "                f.read(1)\n"
            "            found.append(1.0)\n"
            "        except OSError:\n"
            "            found.append(0.0)\n"
            "    return np.array(found)\n"
            "def network():\n"
            "    '''1.0 if a TCP connection to the outside can be opened.'''\n"
            "    import socket\n"
            "    try:\n"
            "        socket.create_connection(('1.1.1.1', 53), timeout=1).close()\n"
            "        return 1.0\n"
            "    except OSError:\n"
            "        return 0.0\n"
        ),
        exports=("probe", "network"),
    ),
    Hostile(
        "write_gradebook",
        "full",
        forward=(
            "for path, text in [(GRADEBOOK, 'alice,100\\n'), (GRADEBOOK + '.new', 'x')]:\n"
            "    try:\n"
            "        with open(path, 'w') as f:\n"
            "            f.write(text)\n"
            "    except OSError:\n"
            "        pass"
        ),
        module=f"GRADEBOOK = {str(GRADEBOOK)!r}\n",
    ),
    Hostile(
        "fork_children",
        "full",
        forward=(
            "import os\n"
            "try:\n"
            "    pid = os.fork()\n"
            "except OSError:\n"  # refused where no cgroup sums the children's memory
            "    pid = None\n"
            "if pid == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execv('/bin/sleep', ['sleep', '{MARKER}'])\n"
            "    os._exit(0)"
        ),
    ),
    Hostile(
        "delete_files",
        "full",
        forward=(
            "import os, shutil, pathlib\n"
            "shutil.rmtree(os.getcwd(), ignore_errors=True)\n"
            "for path in pathlib.Path(__file__).parent.glob('*.py'):\n"
            "    try:\n"
            "        path.unlink()\n"
            "    except OSError:\n"
            "        pass"
        ),
    ),
    Hostile(
        "big_output",
        "full",
        forward=(
            "if not _spoken:\n"
            "    _spoken.append(True)\n"
            "    import sys\n"
            "    sys.stdout.write('x' * 50_000_000)\n"
            "    sys.stderr.write('y' * 1_000_000)"
        ),
        module="_spoken = []\n",
    ),
    Hostile(
        "raises",
        "stub",
        forward="raise ValueError('a bug of the student')",
        reason="ValueError: a bug of the student",
    ),
]


def write_submission(dest, forward="", answer=True, module="", exports=()):
    """A copy of solutions/ in `dest` with Affine.forward starting with `forward` (and layers.py extended)."""
    shutil.copytree(SOLUTIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    layers = Path(dest, "layers.py")
    source = layers.read_text()
    if ANSWER not in source:
        raise AssertionError("solutions/layers.py changed: update ANSWER in tests/hostile/__init__.py")
    body = indent(forward) if forward.strip() else ""
    source = source.replace(ANSWER, body + (ANSWER if answer else STUB), 1)
    if module:
        source += "\n\n" + module
    layers.write_text(source)
    if exports:
        init = Path(dest, "__init__.py")
        init.write_text(init.read_text() + f"\nfrom .layers import {', '.join(exports)}\n")
    return Path(dest)


def build(case, dest):
    return write_submission(dest, case.forward, case.answer, case.module, case.exports)


def build_stub(dest):
    """The honest "stub" baseline: the reference with Affine.forward not implemented."""
    return write_submission(dest, answer=False)
