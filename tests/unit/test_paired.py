"""McNemar's exact test, against values computed by hand from the binomial distribution."""

import pytest

from pytest_amb.metrics.paired import mcnemar_exact


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [(0, 0, 1.0), (5, 1, 2 * 7 / 64), (1, 5, 2 * 7 / 64), (11, 0, 2 / 2**11), (3, 3, 1.0), (10, 2, 2 * 79 / 4096)],
)
def test_mcnemar_exact(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected)
