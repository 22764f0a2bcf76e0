"""Find the submissions in a folder and turn each into an implementation directory.

A submissions folder holds one entry per student; the student's name is the entry's
name without its extension, as written (two entries with the same name keep their full
names, e.g. `alice` and `alice.zip`):

    submissions/
      alice/            a directory laid out like exercises/ (or holding one, or its .py files)
      bob.zip           a zip of such a directory
      carol/ps1/*.ipynb an nbgrader student folder of submitted notebooks
                        (a course root with a `submitted/` folder is accepted too)

Nothing here runs student code. Zips are extracted safely (no absolute paths, no `..`,
no links, capped size and file count); links inside directories are not followed.
A submission holds at most the sandbox's `Limits.submission_bytes` of files, whatever its
form. Discovery never fails because of one entry: an entry that cannot be used becomes a
Submission of kind "invalid" with the reason. Problems found later raise
`SubmissionError`, which callers report for that student alone. No message about a
submission names a folder of this machine.
"""

import dataclasses
import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.installed import STUBS
from grader.sandbox import Limits

TEMPLATE = STUBS  # modules a student did not hand in are graded as not implemented

MAX_BYTES = Limits().submission_bytes  # one submission's files, unpacked: the sandbox's own limit
MAX_FILES = 2000
IGNORED = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".git"}
# files at the top of a submissions folder that look like a hand-in the batch cannot use
NOT_SUPPORTED = {".py", ".ipynb", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"}
PLAIN_NAME = re.compile(r"[a-z0-9]([a-z0-9._@+-]{0,62}[a-z0-9])?")
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def _size(n):
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n} bytes"


def _too_big(max_bytes, what="of files"):
    return f"more than {_size(max_bytes)} {what} (the limit for one submission)"


class SubmissionError(Exception):
    """A submission (or the submissions folder) cannot be used; the message says why."""


@dataclass(frozen=True)
class Submission:
    """One student's hand-in. `kind` is "dir", "zip", "notebooks" or "invalid" (see `problem`)."""

    name: str
    path: Path
    kind: str
    notebooks: tuple = field(default=())
    problem: str = ""


# -- names -------------------------------------------------------------------------------
def shown(name):
    """A file name as text: bytes that are not UTF-8 are written as \\xNN (so it can be printed and saved)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def student_name(path):
    """The student's name for a submission path, as written: the entry's name without its extension."""
    path = Path(path)
    return shown(path.name if path.is_dir() else path.stem)


def file_stem(name):
    """The name of a student's files (results/, feedback/): `name` itself when it is plain lower-case
    ASCII, else its letters and digits plus a hash of the whole name (`José` -> `José~1f0e...`).

    It depends on `name` alone, so a new student never renames another's files, and two names
    never share a file, even on case-insensitive or Unicode-normalising file systems.
    """
    if PLAIN_NAME.fullmatch(name) and name.split(".")[0] not in RESERVED:
        return name
    slug = "".join(c if c.isalnum() or c in "._@+-" else "_" for c in unicodedata.normalize("NFC", name))
    slug = slug.strip("._-+@")[:40] or "student"
    return f"{slug}~{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def unique_names(submissions):
    """`submissions` with distinct names, whatever else is in the folder.

    Entries that share a name are named by their full entry name (`alice` and `alice.zip`);
    names that still read alike (bytes that are not UTF-8) get a hash of the entry's name.
    """
    subs = list(submissions)
    names = [s.name for s in subs]
    while True:
        holders = {}
        for i, name in enumerate(names):
            holders.setdefault(name, []).append(i)
        renamed = False
        for group in holders.values():
            for i in group if len(group) > 1 else ():
                full = shown(subs[i].path.name)
                renamed |= names[i] != full
                names[i] = full
        if not renamed:
            break
    counts = {name: names.count(name) for name in names}
    for i, name in enumerate(names):
        if counts[name] > 1:
            names[i] = f"{name}~{hashlib.sha256(os.fsencode(subs[i].path.name)).hexdigest()[:10]}"
    return [dataclasses.replace(s, name=n) for s, n in zip(subs, names, strict=True)]


def _visible(path):
    return not path.name.startswith(".") and path.name not in IGNORED


def _files(directory):
    """Regular files under `directory`, skipping links, hidden and cache folders, sorted.

    A folder in it that cannot be read is a SubmissionError (not a silently smaller submission).
    """

    def unreadable(error):
        raise SubmissionError(f"cannot read a folder of it ({error.strerror or type(error).__name__})")

    found = []
    for dirpath, dirnames, filenames in os.walk(directory, onerror=unreadable):
        dirnames[:] = sorted(
            d for d in dirnames if _visible(Path(d)) and not os.path.islink(Path(dirpath, d))
        )
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if _visible(path) and not path.is_symlink() and path.is_file():
                found.append(path)
    return found


def _invalid(path, problem):
    return Submission(student_name(path), path, "invalid", problem=problem)


def _classify(path):
    """A Submission for one entry of the submissions folder, or None to ignore it (a stray file)."""
    if path.is_symlink():
        return _invalid(path, "a symbolic link (links are not followed): put the files themselves here")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".zip":
            return Submission(student_name(path), path, "zip")
        if suffix in NOT_SUPPORTED:
            return _invalid(path, f"a {suffix} file: hand in a folder or a .zip")
        return None
    if not path.is_dir():
        return None
    try:
        files = _files(path)
    except SubmissionError as error:
        return _invalid(path, str(error))
    if not files:
        return _invalid(path, "nothing handed in (the folder holds no files)")
    notebooks = tuple(p for p in files if p.suffix == ".ipynb")
    if notebooks and not any(p.suffix == ".py" for p in files):
        return Submission(student_name(path), path, "notebooks", notebooks)
    return Submission(student_name(path), path, "dir")


def _entries(folder, skip):
    for entry in sorted(folder.iterdir()):
        try:
            if not _visible(entry) or entry.resolve() in skip:
                continue
            submission = _classify(entry)
        except (OSError, RuntimeError) as error:  # unreadable entries, link loops
            reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
            submission = _invalid(entry, f"cannot read it ({reason})")
        if submission is not None:
            yield submission


def _same_name(a, b):
    return unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def discover(folder, only=None, exclude=()):
    """Every submission in `folder`, sorted by student name; one entry never stops the others.

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
    try:
        found = unique_names(_entries(folder, skip))
    except OSError as error:
        raise SubmissionError(f"{folder}: cannot list it ({error.strerror})") from None
    if not found:
        raise SubmissionError(
            f"no submissions in {folder}: expected one directory, .zip or nbgrader student folder per student"
        )
    if only:
        unknown = sorted(n for n in set(only) if not any(_same_name(n, s.name) for s in found))
        if unknown:
            raise SubmissionError(f"no submission named {', '.join(unknown)} in {folder}")
        found = [s for s in found if any(_same_name(n, s.name) for n in only)]
    return sorted(found, key=lambda s: s.name)


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
            raise SubmissionError(f"{Path(str(label)).name}: {_too_big(max_bytes, 'when unpacked')}")
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
                                f"{Path(str(label)).name}: {_too_big(max_bytes, 'when unpacked')}"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
                raise SubmissionError(
                    f"{Path(str(label)).name}: cannot read {info.filename!r} ({error})"
                ) from None
    return dest


# -- building the implementation directory -----------------------------------------------------
def _check_size(files, max_bytes=MAX_BYTES, max_files=MAX_FILES):
    if len(files) > max_files:
        raise SubmissionError(f"more than {max_files} files (the limit for one submission)")
    if sum(p.stat().st_size for p in files) > max_bytes:
        raise SubmissionError(_too_big(max_bytes))


def _copy_files(files, base, dest, max_bytes=MAX_BYTES, max_files=MAX_FILES):
    _check_size(files, max_bytes, max_files)
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
    stubs = [p for p in sorted(Path(template).glob("*.py")) if p.name not in names]
    _check_size(stubs + matching)
    _copy_files(sorted(Path(template).glob("*.py")), Path(template), dest)
    for path in matching:
        shutil.copyfile(path, dest / path.name)
    return dest


def _notebooks_to_impl(notebooks, dest):
    try:
        from grader.classroom.notebooks import NotebookError, extract_impl
    except ImportError as error:
        raise SubmissionError(
            f"nbgrader notebook submissions are not supported by this installation ({error}; "
            "they need grader/classroom/notebooks.py)"
        ) from None
    _check_size(list(notebooks))
    try:
        made = extract_impl([str(p) for p in notebooks], str(dest))
    except NotebookError as error:  # names the notebook and the cell
        raise SubmissionError(str(error)) from None
    except (ValueError, OSError, SyntaxError, RecursionError, MemoryError) as error:
        raise SubmissionError(f"cannot read the notebooks ({type(error).__name__})") from None
    impl = Path(made) if isinstance(made, (str, Path)) else Path(dest)
    if not (impl / "__init__.py").is_file():
        raise SubmissionError("no implementation could be extracted from the notebooks")
    return impl


def prepare(submission, dest, template=TEMPLATE):
    """Build the implementation directory of `submission` at `dest` (which must not exist); return it."""
    dest = Path(dest)
    if submission.kind == "invalid":
        raise SubmissionError(submission.problem)
    with tempfile.TemporaryDirectory(prefix="upload-") as scratch:
        if submission.kind == "zip":
            impl = assemble(safe_extract(submission.path, Path(scratch) / "unzipped"), dest, template)
        elif submission.kind == "notebooks":
            impl = _notebooks_to_impl(submission.notebooks, dest)
        else:
            impl = assemble(submission.path, dest, template)
    _check_size(_files(impl))  # what the sandbox will copy: the same limit, so it never refuses
    return impl


def prepare_upload(upload, dest, template=TEMPLATE):
    """Build an implementation directory from whatever a student uploaded into the folder `upload`.

    A single .zip is extracted safely first; notebooks go through grader.classroom.notebooks; otherwise
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
