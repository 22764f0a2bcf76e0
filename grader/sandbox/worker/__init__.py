"""The untrusted side of the sandbox: imports one submission and runs only the calls it is sent.

Started by grader.sandbox (never by hand) from a copy of this package, grader/target.py and
grader/checks/handed.py (RUNTIME_FILES in grader/sandbox/spawn.py): nothing of the sandbox's
trusted side, no check, no oracle. Its modules import only the standard library, numpy,
grader.target and (by name, for the callables checks hand to student code) grader.checks.handed.

    server.py     the fork server (forks a worker per request) and a worker's start:
                  shut in, import the submission, serve
    loop.py       Worker: the submission's namespace and objects, one reply per request
    wire.py       the wire format, both ways: frames, arrays and values
    view.py       the allow-list: what of this Python installation a worker may see and import
    root.py       the worker's new root, mounted from the allow-list (namespaces mode)
    confine.py    namespaces, capabilities, the session keyring, resource limits, the uid
    seccomp.py    the seccomp filter: no keyrings, mounts or namespaces; no children without a cgroup
    processes.py  a cgroup per worker; killing the processes a call left behind
    syscalls.py   the C library calls the os module lacks (mount, prctl, unshare)

The worker first shuts itself in (while still running only this package's code):
with Linux namespaces it builds a new root from an allow-list (View: shared
libraries, the standard library, the allowed packages, the runtime, the
submission), a small tmpfs working directory and a private /proc, chroots into
it and drops to an unprivileged uid. Everywhere it joins an empty session
keyring of its own, installs a seccomp filter (no keyring calls; no child
processes unless a cgroup of its own sums their memory), sets resource limits
and imports only from the allow-list. Only then does it import the submission
and answer requests.
"""
