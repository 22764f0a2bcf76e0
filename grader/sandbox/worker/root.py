"""A worker's root file system (namespaces mode), built from the allow-list of view.py.

A tmpfs holding read-only bind mounts of the library directories (their Python directories
hidden), the standard library, the allowed packages, the interpreter, the runtime and the
submission; a small tmpfs as working directory, a private /proc and a few devices.
"""

import errno
import os

from .syscalls import (
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    mount,
)
from .view import within

# A bind mount in a user namespace keeps the flags its source has (the kernel locks them):
# a read-only remount must repeat them. statvfs flag -> mount flag.
KEPT_FLAGS = {
    getattr(os, "ST_NOEXEC", 8): MS_NOEXEC,
    getattr(os, "ST_NOATIME", 1024): MS_NOATIME,
    getattr(os, "ST_NODIRATIME", 2048): MS_NODIRATIME,
    getattr(os, "ST_RELATIME", 4096): MS_RELATIME,
}
DEVICES = ("null", "zero", "full", "random", "urandom")


def in_root(root, path):
    """Where `path` (as the worker will name it) is under `root`, following the symlinks already made
    there the way the chrooted worker will; missing directories on the way are made (mode 755)."""
    parts, done, hops = [p for p in path.split("/") if p not in ("", ".")], "", 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            done = done.rpartition("/")[0]
            continue
        here = root + done + "/" + part
        if os.path.islink(here):
            hops += 1
            if hops > 40:
                raise OSError(errno.ELOOP, f"too many symbolic links in {path}")
            link = os.readlink(here)
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            done = "" if link.startswith("/") else done
            continue
        if parts and not os.path.exists(here):
            os.mkdir(here, 0o755)
        done += "/" + part
    return root + done


def bind(source, root, read_only=True):
    """Bind `source` (a host path) at the same path under `root`."""
    target = in_root(root, source)
    if os.path.isdir(source):
        if not os.path.isdir(target):
            os.mkdir(target, 0o755)
    elif not os.path.exists(target):
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        kept = os.statvfs(source).f_flag
        flags = sum(mount_flag for flag, mount_flag in KEPT_FLAGS.items() if kept & flag)
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | flags)
    return target


def mask(path, root):
    """Hide the directory `path` under `root` behind an empty tmpfs (read-only once the root is built)."""
    target = in_root(root, path)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    return target


def build_root(config, view):
    """A new root from an allow-list: read-only library directories (their Python directories
    hidden), the standard library, the allowed packages, the runtime and the submission, a
    small tmpfs as working directory, a private /proc and a few devices.

    Paths inside it are the host's paths, so the submission and the runtime keep their names.
    """
    base, uid, limits = config["dir"], config["uid"], config["limits"]
    root = base + "/root"
    os.umask(0o022)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for path in view.libraries:
        if os.path.islink(path):
            link = in_root(root, os.path.dirname(path)) + "/" + os.path.basename(path)
            if not os.path.lexists(link):
                os.symlink(os.readlink(path), link)
        elif os.path.isdir(path):
            bind(path, root)
    masks = [mask(path, root) for path in view.hidden() if not any(within(path, s) for s in view.stdlib)]
    for path in view.stdlib:
        bind(path, root)
    masks += [mask(path, root) for path in view.hidden() if any(within(path, s) for s in view.stdlib)]
    for path in [*view.packages, *view.interpreter]:
        bind(path, root)
    os.makedirs(root + "/dev", mode=0o755, exist_ok=True)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, root, read_only=False)
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(in_root(root, "/tmp"), mode=0o755, exist_ok=True)
    bind(config["runtime"], root)
    bind(f"{base}/submission", root)
    work = in_root(root, base + "/work")
    os.makedirs(work, mode=0o700, exist_ok=True)
    size = max(1, limits["workdir_bytes"] // 1024)
    options = f"size={size}k,mode=700" + (f",uid={uid},gid={uid}" if uid else "")
    mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for target in [*masks, root]:
        mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chroot(root)
