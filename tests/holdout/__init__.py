"""A held-out corpus for measuring hints: mistakes the hint code was not written against.

Frozen on 2026-12-01, before any hint of the feedback issue changed: each entry is a
mistake from the families that issue lists (activation derivatives, optimizers,
convolution, pooling, softmax, dropout, BatchNorm, eps placement), written apart from
the hints, with the words a hint that names the mistake would use. Hint work must not
be tuned on these entries; `python bench/hint_rate.py` prints how many are caught and
how many of those get a hint naming the mistake. Add entries only as a new, dated
holdout, never by editing these.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class HeldOut:
    name: str
    exercise: str
    replacement: object
    names: tuple  # a hint naming the mistake contains one of these (case-insensitive)


def holdout():
    from .bugs import HELD_OUT

    return HELD_OUT
