"""Find the submissions in a folder and turn each into an implementation directory.

A submissions folder holds one entry per student; the student's name is the entry's
name without its extension:

    submissions/
      alice/            a directory laid out like exercises/ (or holding one, or its .py files)
      bob.zip           a zip of such a directory
      carol/ps1/*.ipynb an nbgrader student folder of submitted notebooks
                        (a course root with a `submitted/` folder is accepted too)

Nothing here runs student code. Zips are extracted safely (no absolute paths, no `..`,
no links, capped size and file count); links inside directories are not followed.
Problems with one submission raise `SubmissionError`, which callers report for that
student alone.
"""

import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "exercises"  # the stubs: modules a student did not hand in are graded as not implemented

MAX_BYTES = 50 * 1024 * 1024  # total size of one submission's files
MAX_FILES = 2000
IGNORED = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".git"}


def _size(n):
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n} bytes"


class SubmissionError(Exception):
    """A submission (or the submissions folder) cannot be used; the message says why."""


@dataclass(frozen=True)
class Submission:
    """One student's hand-in. `kind` is "dir", "zip" or "notebooks"."""

    name: str
    path: Path
    kind: str
    notebooks: tuple = field(default=())


# -- discovery ---------------------------------------------------------------------------
def student_name(path):
    """The student's name for a submission path: its stem, with unsafe characters replaced."""
    stem = path.stem if path.is_file() else path.name
    name = re.sub(r"[^A-Za-z0-9._@+-]", "_", stem).strip("._")
    if not name:
        raise SubmissionError(f"{path}: cannot make a student name from this file name")
    return name


def _visible(path):
    return not path.name.startswith(".") and path.name not in IGNORED


def _files(directory):
    """Regular files under `directory`, skipping links, hidden and cache folders, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(
            d for d in dirnames if _visible(Path(d)) and not os.path.islink(Path(dirpath, d))
        )
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if _visible(path) and not path.is_symlink() and path.is_file():
                found.append(path)
    return found


def _classify(path):
    """A Submission for one entry of the submissions folder, or None to ignore it."""
    if path.is_file():
        return Submission(student_name(path), path, "zip") if path.suffix.lower() == ".zip" else None
    if not path.is_dir() or path.is_symlink():
        return None
    files = _files(path)
    if not files:
        return None
    notebooks = tuple(p for p in files if p.suffix == ".ipynb")
    if notebooks and not any(p.suffix == ".py" for p in files):
        return Submission(student_name(path), path, "notebooks", notebooks)
    return Submission(student_name(path), path, "dir")


def discover(folder, only=None, exclude=()):
    """Every submission in `folder`, sorted by student name.

    Args:
        folder: the submissions folder (or an nbgrader course root with `submitted/`).
        only: student names to keep (all when None); an unknown name is an error.
        exclude: paths to skip (e.g. the output folder when it lies inside `folder`).
    """
    folder = Path(folder)
    if not folder.exists():
        raise SubmissionError(f"{folder}: no such directory")
    if not folder.is_dir():
        raise SubmissionError(
            f"{folder}: not a directory (pass the folder holding one submission per student)"
        )
    if (folder / "submitted").is_dir():
        folder = folder / "submitted"
    if (folder / "__init__.py").is_file():
        raise SubmissionError(
            f"{folder} is one implementation directory; pass the folder that holds one submission per student"
        )
    skip = {Path(p).resolve() for p in exclude}
    found = {}
    for entry in sorted(folder.iterdir()):
        if not _visible(entry) or entry.resolve() in skip:
            continue
        submission = _classify(entry)
        if submission is None:
            continue
        if submission.name in found:
            other = found[submission.name].path.name
            raise SubmissionError(f"two submissions for {submission.name}: {other} and {entry.name}")
        found[submission.name] = submission
    if not found:
        raise SubmissionError(
            f"no submissions in {folder}: expected one directory, .zip or nbgrader student folder per student"
        )
    if only:
        unknown = sorted(set(only) - set(found))
        if unknown:
            raise SubmissionError(f"no submission named {', '.join(unknown)} in {folder}")
        found = {name: found[name] for name in only}
    return [found[name] for name in sorted(found)]


def content_hash(submission):
    """sha256 of everything a submission holds (its files' relative paths and bytes)."""
    digest = hashlib.sha256()
    if submission.path.is_file():
        digest.update(submission.path.read_bytes())
        return digest.hexdigest()
    for path in _files(submission.path):
        digest.update(path.relative_to(submission.path).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


# -- safe extraction -----------------------------------------------------------------------
def _unsafe_reason(info):
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in parts:
        return "a path leading outside the zip ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if info.flag_bits & 0x1:
        return "an encrypted file"
    return None


def safe_extract(zip_source, dest, max_bytes=MAX_BYTES, max_files=MAX_FILES):
    """Extract a zip (a path or bytes) into `dest`, refusing anything that could escape it.

    The whole archive is checked before anything is written: absolute paths, `..`,
    links, encryption, more than `max_files` entries or `max_bytes` in total are refused.
    """
    label = zip_source if isinstance(zip_source, (str, Path)) else "the zip"
    source = io.BytesIO(zip_source) if isinstance(zip_source, bytes) else zip_source
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise SubmissionError(f"{Path(str(label)).name}: not a readable zip file ({error})") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > max_files:
            raise SubmissionError(f"{Path(str(label)).name}: more than {max_files} files")
        for info in infos:
            reason = _unsafe_reason(info)
            if reason:
                raise SubmissionError(f"{Path(str(label)).name}: refused {info.filename!r}: {reason}")
        if sum(i.file_size for i in infos) > max_bytes:
            raise SubmissionError(f"{Path(str(label)).name}: more than {_size(max_bytes)} when unpacked")
        dest = Path(dest)
        written = 0
        for info in infos:
            target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        if written > max_bytes:
                            raise SubmissionError(
                                f"{Path(str(label)).name}: more than {_size(max_bytes)} when unpacked"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
                raise SubmissionError(
                    f"{Path(str(label)).name}: cannot read {info.filename!r} ({error})"
                ) from None
    return dest


# -- building the implementation directory -----------------------------------------------------
def _copy_files(files, base, dest, max_bytes=MAX_BYTES, max_files=MAX_FILES):
    if len(files) > max_files:
        raise SubmissionError(f"{base.name}: more than {max_files} files")
    if sum(p.stat().st_size for p in files) > max_bytes:
        raise SubmissionError(f"{base.name}: more than {_size(max_bytes)} of files")
    for path in files:
        target = dest / path.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _package_dirs(files, base):
    """Folders under `base` holding an __init__.py, shallowest first ("exercises" preferred on ties)."""
    dirs = {p.parent for p in files if p.name == "__init__.py"}
    return sorted(dirs, key=lambda d: (len(d.relative_to(base).parts), d.name != "exercises", str(d)))


def assemble(upload, dest, template=TEMPLATE):
    """Make the implementation directory `dest` from an unpacked upload folder; return `dest`.

    Accepted: a folder laid out like exercises/ (at the top or in one sub-folder), or
    loose .py files named like the modules of exercises/ (laid over the stubs, so what
    was not handed in is graded as not implemented).
    """
    upload, dest = Path(upload), Path(dest)
    files = _files(upload)
    packages = _package_dirs(files, upload)
    if packages:
        package = packages[0]
        _copy_files([p for p in files if p.is_relative_to(package)], package, dest)
        return dest
    modules = [p for p in files if p.suffix == ".py"]
    wanted = {p.name for p in Path(template).glob("*.py")} if template and Path(template).is_dir() else set()
    matching = [p for p in modules if p.name in wanted]
    if not matching:
        names = ", ".join(sorted(wanted)) or "the modules of exercises/"
        raise SubmissionError(
            "no implementation found: expected a folder laid out like exercises/ (with __init__.py) "
            f"or its .py files ({names})"
        )
    names = [p.name for p in matching]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SubmissionError(f"more than one copy of {', '.join(duplicates)} in the upload")
    _copy_files(sorted(Path(template).glob("*.py")), Path(template), dest)
    for path in matching:
        shutil.copyfile(path, dest / path.name)
    return dest


def _notebooks_to_impl(notebooks, dest):
    try:
        from tools.notebooks import extract_impl
    except ImportError as error:
        raise SubmissionError(
            f"nbgrader notebook submissions are not supported by this installation ({error}; "
            "they need tools/notebooks.py and nbformat)"
        ) from None
    try:
        made = extract_impl([str(p) for p in notebooks], str(dest))
    except (ValueError, OSError, SyntaxError) as error:
        raise SubmissionError(f"cannot read the notebooks: {error}") from None
    impl = Path(made) if isinstance(made, (str, Path)) else Path(dest)
    if not (impl / "__init__.py").is_file():
        raise SubmissionError("no implementation could be extracted from the notebooks")
    return impl


def prepare(submission, dest, template=TEMPLATE):
    """Build the implementation directory of `submission` at `dest` (which must not exist); return it."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="upload-") as scratch:
        if submission.kind == "zip":
            upload = safe_extract(submission.path, Path(scratch) / "unzipped")
            return assemble(upload, dest, template)
        if submission.kind == "notebooks":
            return _notebooks_to_impl(submission.notebooks, dest)
        return assemble(submission.path, dest, template)


def prepare_upload(upload, dest, template=TEMPLATE):
    """Build an implementation directory from whatever a student uploaded into the folder `upload`.

    A single .zip is extracted safely first; notebooks go through tools.notebooks; otherwise
    the folder is assembled as in `assemble`.
    """
    upload = Path(upload)
    files = _files(upload)
    zips = [p for p in files if p.suffix.lower() == ".zip"]
    if not any(p.suffix == ".py" for p in files) and len(zips) == 1:
        return prepare(Submission("upload", zips[0], "zip"), dest, template)
    notebooks = tuple(p for p in files if p.suffix == ".ipynb")
    if notebooks and not any(p.suffix == ".py" for p in files):
        return prepare(Submission("upload", upload, "notebooks", notebooks), dest, template)
    return assemble(upload, dest, template)


def pack(directory):
    """The files of an implementation directory as zip bytes (to ship a job to another machine)."""
    buffer = io.BytesIO()
    base = Path(directory)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(base):
            archive.write(path, path.relative_to(base).as_posix())
    return buffer.getvalue()
