"""McNemar's exact test and the smallest drop it can detect, against values computed by hand from the
binomial distribution."""

import pytest

from pytest_amb.metrics.paired import fewest_significant_discordant, mcnemar_exact, min_detectable_drop


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [(0, 0, 1.0), (5, 1, 2 * 7 / 64), (1, 5, 2 * 7 / 64), (11, 0, 2 / 2**11), (3, 3, 1.0), (10, 2, 2 * 79 / 4096)],
)
def test_mcnemar_exact(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("alpha", "k"),
    [
        (0.05, 6),  # 2·0.5^5 = 0.0625 >= 0.05; 2·0.5^6 = 0.03125 < 0.05
        (0.01, 8),  # 2·0.5^7 = 0.0156 >= 0.01; 2·0.5^8 = 0.0078 < 0.01
        (0.10, 5),  # 2·0.5^4 = 0.125 >= 0.1;   2·0.5^5 = 0.0625 < 0.1
        (0.0625, 6),  # 2·0.5^5 = 0.0625 is not < 0.0625: the inequality is strict
    ],
)
def test_fewest_significant_discordant_pairs(alpha, k):
    assert fewest_significant_discordant(alpha) == k
    # the same through the test itself: k pairs all one way are significant, k - 1 are not
    assert mcnemar_exact(k, 0) < alpha <= mcnemar_exact(k - 1, 0)


@pytest.mark.parametrize(
    ("pairs", "alpha", "expected"),
    [(30, 0.05, 6 / 30), (57, 0.05, 6 / 57), (171, 0.05, 6 / 171), (6, 0.05, 1.0), (5, 0.05, None), (40, 0.01, 0.2)],
)
def test_min_detectable_drop(pairs, alpha, expected):
    assert min_detectable_drop(pairs, alpha) == (None if expected is None else pytest.approx(expected))


def test_no_smaller_drop_is_ever_significant():
    """Every split of n = 30 paired samples into worse, better and concordant pairs: a drop (worse − better)/n
    that McNemar calls significant at 0.05 is never below 6/30."""
    n, alpha = 30, 0.05
    significant_drops = [
        (worse - better) / n
        for worse in range(n + 1)
        for better in range(n + 1 - worse)
        if worse > better and mcnemar_exact(worse, better) < alpha
    ]
    assert min(significant_drops) == pytest.approx(min_detectable_drop(n, alpha)) == pytest.approx(0.2)
