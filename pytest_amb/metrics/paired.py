"""Paired comparison of per-sample pass/fail outcomes: McNemar's exact test."""

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
