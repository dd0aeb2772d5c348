"""95% intervals for the means the summary reports."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, n: int) -> list[float] | None:
    """Wilson score interval of a proportion; None when n = 0."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


def mean_interval(values: list[float]) -> list[float] | None:
    """Normal-approximation interval of a mean: mean ± 1.96·s/√n (sample sd); None when n < 2."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = Z95 * sd / math.sqrt(n)
    return [round(mean - half, 6), round(mean + half, 6)]


def difference_interval(p1: float, n1: int, p2: float, n2: int) -> list[float] | None:
    """Interval of p1 − p2 for two independent proportions (normal approximation); None if a side is empty."""
    if n1 == 0 or n2 == 0:
        return None
    half = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return [round(p1 - p2 - half, 6), round(p1 - p2 + half, 6)]
