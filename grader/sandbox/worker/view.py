"""What of this Python installation a worker may see and import: an allow-list (PACKAGES, NEVER).

View lists it, once, in the fork server. restrict_imports holds a worker's imports to it in
every mode; in namespaces mode root.py mounts exactly it as the worker's file system, so the
kit's own packages (the grader's trusted side, solutions, the oracles) are not there however
the kit is installed.
"""

import importlib
import importlib.machinery
import os
import re
import sys

# The file-system view of a worker (namespaces mode): these system directories (for the shared
# libraries; their Python directories hidden), the standard library, and only these packages
# and what they require, if installed. The kit's own packages are never on it.
LIB_DIRS = ("lib", "lib32", "lib64", "libx32")
SYSTEM_DIRS = (
    "/bin",
    "/usr/bin",
    *(f"/{d}" for d in LIB_DIRS),
    *(f"/usr/{d}" for d in LIB_DIRS),
    "/usr/local/lib",
)
PACKAGES = ("numpy", "scipy", "tqdm", "matplotlib")
PACKAGE_DIRS = ("site-packages", "dist-packages")
NEVER = ("grader", "solutions", "exercises")  # top-level names no allowed distribution may bring in


def within(path, folder):
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def normalized(name):
    """A distribution's name as its metadata's file names and requirements compare (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def metadata_text(meta, name):
    path = meta if os.path.isfile(meta) else os.path.join(meta, name)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def requirements(meta):
    """The names of the distributions that the one described by `meta` needs (no extras)."""
    if meta.endswith(".dist-info"):
        header = metadata_text(meta, "METADATA").split("\n\n", 1)[0]
        lines = [line.partition(":")[2] for line in header.splitlines() if line.startswith("Requires-Dist:")]
    else:  # an .egg-info: requires.txt, unconditional part first
        lines = metadata_text(meta, "requires.txt").split("\n[", 1)[0].splitlines()
    names = []
    for line in lines:
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if found and "extra" not in line.partition(";")[2]:
            names.append(normalized(found.group(1)))
    return names


def installed_entries(site, meta):
    """The names in `site` a distribution installed: packages, modules, vendored libraries, metadata."""
    if meta.endswith(".dist-info"):
        record = metadata_text(meta, "RECORD").splitlines()
        names = {line.split(",", 1)[0].split("/", 1)[0] for line in record}
    else:
        names = {os.path.basename(meta)}
        for top in metadata_text(meta, "top_level.txt").split():
            names.add(top)
            names.update(e for e in os.listdir(site) if e.startswith(top + ".") and not e.endswith("-info"))
    names -= {"", ".", "..", "__pycache__"}
    return sorted(n for n in names if os.path.lexists(os.path.join(site, n)))


def module_name(site, entry):
    """The top-level module an installed entry provides, or None (metadata, vendored libraries)."""
    if os.path.isdir(os.path.join(site, entry)):
        return None if "." in entry else entry
    for suffix in importlib.machinery.all_suffixes():
        if entry.endswith(suffix):
            return entry[: -len(suffix)]
    return None


class View:
    """What of this Python installation a worker may see and import: an allow-list.

    The standard library; the packages in PACKAGES and the distributions they require (as
    their metadata says), each entry they installed and nothing else of their site
    directory; the interpreter and the shared libraries of the system and of Python's
    prefixes, with every Python directory in those hidden (other Pythons, site-packages).
    Never the kit itself, however it is installed: it is not on the list.
    """

    def __init__(self, home, packages=PACKAGES):
        stdlib_home = os.path.dirname(os.__file__)
        entries = [p for p in dict.fromkeys(sys.path) if p and os.path.isdir(p) and not within(p, home)]
        self.stdlib = [
            p
            for p in entries
            if not set(p.split("/")) & set(PACKAGE_DIRS)
            and (within(p, stdlib_home) or os.path.basename(p) == "lib-dynload")
        ]
        self.sites = [p for p in entries if p not in self.stdlib]
        installed = {}
        for site in self.sites:
            for entry in sorted(os.listdir(site)):
                if entry.endswith((".dist-info", ".egg-info")):
                    name = normalized(entry.rsplit(".", 1)[0].split("-")[0])
                    installed.setdefault(name, (site, os.path.join(site, entry)))
        self.packages, self.modules = [], {}  # paths to bind; {top-level module: its site directory}
        todo, seen = [normalized(p) for p in packages], set()
        while todo:
            name = todo.pop(0)
            if name in seen or name not in installed:
                continue
            seen.add(name)
            site, meta = installed[name]
            for entry in installed_entries(site, meta):
                module = module_name(site, entry)
                if module in NEVER:
                    continue
                self.packages.append(os.path.join(site, entry))
                if module:
                    self.modules.setdefault(module, site)
            todo += requirements(meta)
        prefixes = dict.fromkeys([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix])
        self.libraries = [*SYSTEM_DIRS, *(f"{p}/{lib}" for p in prefixes for lib in ("lib", "lib64"))]
        self.libraries = [p for p in dict.fromkeys(self.libraries) if os.path.lexists(p)]
        self.interpreter = [p for p in {os.path.realpath(sys.executable)} if os.path.isfile(p)]

    def hidden(self):
        """Directories inside the bound ones that the worker must not see: other Pythons and
        site directories (the allowed packages are bound back into them)."""
        bound = [p for p in [*self.libraries, *self.stdlib] if os.path.isdir(p) and not os.path.islink(p)]
        candidates = [s for s in self.sites if any(within(s, d) for d in bound)]
        for folder in self.libraries:
            if folder in bound:
                candidates += [f"{folder}/{e}" for e in sorted(os.listdir(folder)) if e.startswith("python")]
        candidates += self.stdlib
        found = []
        for path in candidates:
            if os.path.islink(path) or not os.path.isdir(path):
                continue
            if any(within(s, path) for s in self.stdlib):  # the standard library's: only its site dirs
                found += [f"{path}/{d}" for d in PACKAGE_DIRS if os.path.isdir(f"{path}/{d}")]
            else:
                found.append(path)
        found = [p for p in dict.fromkeys(found) if not any(within(s, p) for s in self.stdlib)]
        return [p for p in found if not any(q != p and within(p, q) for q in found)]

    def readable(self):
        return [*self.stdlib, *(os.path.dirname(p) for p in self.packages)]


class AllowedModules:
    """A meta path finder for the allowed packages: each top-level name in its own site directory only."""

    def __init__(self, modules):
        self.modules = modules

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in self.modules:
            return importlib.machinery.PathFinder.find_spec(fullname, [self.modules[fullname]])
        return None

    def invalidate_caches(self):
        pass


def restrict_imports(runtime, view):
    """Imports find the runtime, the standard library and the allowed packages, nothing else.

    In basic mode this is no security boundary (the files can still be read by path), but it
    keeps an installed kit (editable or not) from being imported by name.
    """
    machinery = importlib.machinery
    standard = (machinery.BuiltinImporter, machinery.FrozenImporter, machinery.PathFinder)
    sys.path[:] = [runtime, *view.stdlib]
    sys.meta_path[:] = [f for f in sys.meta_path if f in standard] + [AllowedModules(view.modules)]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def readable_by_anyone(paths):
    """Whether another uid could use these directories (every ancestor searchable, each readable)."""
    for path in paths:
        if not os.stat(path).st_mode & 0o004:
            return False
        while path != "/":
            if not os.stat(path).st_mode & 0o001:
                return False
            path = os.path.dirname(path)
    return True
