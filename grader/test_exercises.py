"""One test per check. Select with -k (e.g. -k Affine) or -m (e.g. -m Conv2d)."""

import pytest

from grader.plugin import check_params


@pytest.mark.parametrize("check", check_params())
def test(check, grade):
    grade(check)
