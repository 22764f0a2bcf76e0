"""Grading untrusted code: the checks run here, the submission runs in a shut-in worker process.

    results = grade_isolated("submissions/alice")          # list[CheckResult]
    python -m grader.sandbox --impl submissions/alice --json results.json

The trusted side, this process (the checks; every comparison, hint and point):

    grading.py   grade_isolated: a submission graded check by check, with a secret data seed
    target.py    SandboxTarget: the target interface the checks call, answered by the worker
    channel.py   a worker's life (its directory, start, hello, kill, restart) and the pipes to it
    wire.py      replies decoded and checked: values, arrays, the student's exceptions, warnings
    memory.py    the shared memory a call's inputs travel in (sealed read-only, or written)
    limits.py    Limits of a worker; grading held to one CPU; which isolation works here
    spawn.py     the fork server that starts workers; RUNTIME_FILES, the files they get
    __main__.py  python -m grader.sandbox

The untrusted side, worker/ (the only grader code a worker runs; worker/__init__.py maps it):
the fork server and a worker's start, the request loop, the wire format, the allow-list of
what a worker may see, its root file system, and its confinement (namespaces, seccomp,
cgroups, resource limits).

Threat model. A submission is arbitrary Python written by someone who wants a
higher score (or just has a bug that loops, exits or eats memory). It runs in
its own worker process (worker/) that imports it and executes only the calls a
check asks for, on inputs this process chose (from a per-run secret seed).
Workers are forked from a small fork server (spawn.py) that has imported numpy
once, so a worker starts in milliseconds. Replies are length-prefixed JSON plus
the raw bytes of numeric arrays (dtype and shape validated, never pickle),
capped in size, and re-made with grader.target.plain, so a reply is only ever
numbers and base-class numeric arrays. Every comparison, hint and point is
computed here. Therefore:

Protected against
  - wrong scores from tampering: monkeypatching numpy, builtins or the grader's
    modules changes only the worker; lying __eq__/__array__/subclasses do not
    survive the wire; printing a fake report goes to /dev/null, never into the
    protocol (which uses private pipes);
  - crashes and hangs: sys.exit/os._exit/segfaults, infinite loops (at import
    or in a method), memory bombs (RLIMIT_AS, and memory.max of a cgroup per
    worker where the host delegates one), fork bombs and memory held by children
    (pids.max there; elsewhere a seccomp filter refuses child processes), CPU
    burn (RLIMIT_CPU), huge files (RLIMIT_FSIZE), floods of
    output or replies: each becomes a failed check with a reason; the worker is
    killed and restarted for the next check; one submission never raises out
    of grade_isolated;
  - leftover processes: after every call the worker kills everything it
    started (it is pid 1 of its own pid namespace, or a child subreaper);
  - hidden side effects: the arrays a call takes as inputs are in shared memory
    this process keeps (SandboxTarget.input_memory). Those the contract does not
    let student code write (forward/backward inputs, dout, labels, targets, an
    optimizer's grads) are in a memfd sealed with F_SEAL_FUTURE_WRITE, mapped
    from a read-only descriptor: an in-place edit fails in the student's own
    frame (numpy's "assignment destination is read-only", or a segfault for a
    raw write) and reads "modified its input in place", as expect_untouched
    words it. What the contract writes in place (numerical_gradient's x, the
    params of a step, arrays put() on the worker's side) is in shared memory
    both sides write, and this process reads the change itself
    (last_mutations, fetch). The worker reports no side effect; a reply it
    forges or garbles (bad JSON, lengths, dtypes, markers, error reports) ends
    it with a protocol error, never as the student's own exception;
  - with isolation "namespaces" (as root, as on the grading machines and in
    Gradescope's containers; or without root where the kernel lets a user make a
    user namespace, as on most JupyterHubs and laptops): no network (empty network
    namespace); a read-only root built from an
    allow-list (worker/view.py: View): shared libraries, the standard
    library, the allowed packages, the worker's runtime files and the submission
    copy only, so solutions/, grader/hidden, the oracles, other submissions,
    gradebooks and results files do not exist for it, however the kit is
    installed; a private /proc; a small tmpfs as working directory; no_new_privs,
    its own empty session keyring and no keyring, mount, root or namespace calls
    (nothing it leaves reaches the next submission, nothing changes its view); as
    root an unprivileged random uid, without root the grading user's own uid with
    every capability of its user namespace dropped (it can still only write its
    working directory: everything else it sees is mounted read-only).

Not protected
  - with isolation "basic" (no namespaces, e.g. a container that refuses user
    namespaces, or macOS): limits, process cleanup and the trusted verdict
    still hold, but the worker sees the file system and the network as the
    grading user does (as root it still drops to a private uid, unless the
    Python installation is readable only by root, e.g. pyenv under /root);
    grade where solutions/ is absent (the Gradescope bundle ships none).
    `SandboxTarget.isolation` says which mode ran;
  - a submission reading the grader functions it is handed by name
    (grader.checks.handed) or the inputs it is sent;
  - on older kernels, less of the above: below Linux 5.1 (no F_SEAL_FUTURE_WRITE)
    inputs are still mapped read-only from a read-only descriptor and compared
    here after every call ("read-only"); without memfd (before 3.17) they are
    read-only numpy views of the worker's own copy ("copies"): numpy writes
    still fail, but a deliberate raw write (ctypes) edits that copy unseen, and
    what numerical_gradient does to x is not seen. A process can always remap
    its own address space; what it then edits is its own copy, which no
    verdict reads. What a worker says about its own objects (the keys of a
    dict, an attribute) is what it reports;
  - side channels such as timing, and kernel exploits.
"""

from .channel import describe_exit
from .grading import common_seed, grade_isolated, grading_seed, select_checks
from .limits import Limits, available_isolation, current_cpu, on_one_cpu
from .memory import shared_inputs
from .spawn import RUNTIME_FILES, SpawnError, spawner
from .target import SandboxTarget
from .wire import WorkerFailure, remote_exception

__all__ = [
    "RUNTIME_FILES",
    "Limits",
    "SandboxTarget",
    "SpawnError",
    "WorkerFailure",
    "available_isolation",
    "common_seed",
    "current_cpu",
    "describe_exit",
    "grade_isolated",
    "grading_seed",
    "main",
    "on_one_cpu",
    "remote_exception",
    "select_checks",
    "shared_inputs",
    "spawner",
]


def main(argv=None):
    """`python -m grader.sandbox` (__main__.py) as a function: the exit status."""
    from .__main__ import main as command

    return command(argv)
