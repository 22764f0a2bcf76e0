"""Files written so that no reader ever sees half of one, with the permissions any new file gets.

    with replaced("out/gradebook.csv") as f:
        f.write(text)

The text goes to a temporary file beside the target, which is renamed into place once
complete (a crash leaves the old file, never a half-written one). The new file has the
mode a plain open() would give it (0666 less the umask), not mkstemp's private 0600.
"""

import contextlib
import os
import tempfile
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def replaced(path, mode="w", **open_kwargs):
    """A file object for the new content of `path` (made with its folder if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
