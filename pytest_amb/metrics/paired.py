"""Paired comparison of per-sample pass/fail outcomes: McNemar's exact test, and the smallest drop it can detect."""

from __future__ import annotations

from math import comb


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` pairs that went pass→fail and ``c`` that went fail→pass.

    Under the null hypothesis (no change) each discordant pair is pass→fail with probability 1/2, so
    p = min(1, 2 · P[Binomial(b + c, 1/2) ≤ min(b, c)]). Concordant pairs carry no information.
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def fewest_significant_discordant(alpha: float) -> int:
    """The fewest discordant pairs that can make McNemar's exact test significant at ``alpha``: k pairs all
    one way give p = 2·0.5^k, the smallest p any k discordant pairs can give, so k is the least with
    2·0.5^k < alpha (6 at alpha 0.05)."""
    k = 1
    while 2 * 0.5**k >= alpha:
        k += 1
    return k


def min_detectable_drop(pairs: int, alpha: float) -> float | None:
    """The smallest drop of a pass/fail rate McNemar's exact test can call significant with ``pairs`` paired
    samples: a drop of d = (worse − better)/pairs needs worse ≥ k (``fewest_significant_discordant``), and
    with better > 0 even more, so no drop below k/pairs is ever significant. None when pairs < k: no drop at
    all can be."""
    k = fewest_significant_discordant(alpha)
    return None if pairs < k else k / pairs
