"""The paired bootstrap: a percentile 95% interval of a mean difference, seeded, in pure Python.

A resample draws n of the n paired differences with replacement; its mean is one bootstrap value. A pair
whose difference is 0 adds nothing to the sum, so a resample is drawn in two parts with the same
distribution: the number K of draws that land on a non-zero difference is Binomial(n, q) (q = the share
of non-zero differences), and those K draws are uniform over the non-zero differences. The cost of a
resample is O(K) instead of O(n): pass/fail comparisons, where most pairs agree, stay fast on thousands of
samples (docs/metrics.md gives the timings).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate

RESAMPLES = 2000
SEED = 20150  # fixed: the same differences always give the same interval
LEVEL = 0.95


def bootstrap_interval(differences: list[float], resamples: int = RESAMPLES, seed: int = SEED) -> list[float] | None:
    """Percentile interval (2.5% and 97.5% of ``resamples`` bootstrap means) of the mean of ``differences``;
    None when there are none. Deterministic: ``random.Random(seed)``."""
    n = len(differences)
    if n == 0:
        return None
    rng = random.Random(seed)
    nonzero = [float(d) for d in differences if d != 0]
    nonzero_draws = binomial_sampler(n, len(nonzero) / n, rng)
    means = sorted(sum(rng.choices(nonzero, k=nonzero_draws())) / n for _ in range(resamples))
    cut = int(resamples * (1 - LEVEL) / 2)  # 50 of 2000 below the interval, 50 above
    return [round(means[cut], 6), round(means[resamples - 1 - cut], 6)]


def binomial_sampler(n: int, p: float, rng: random.Random) -> Callable[[], int]:
    """Draws from Binomial(n, p) by inversion: one uniform, located by bisection in the cumulative
    probabilities (computed once, in log space so that no term underflows before it is exponentiated)."""
    if p <= 0:
        return lambda: 0
    if p >= 1:
        return lambda: n
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    cumulative = list(
        accumulate(
            math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q)
            for k in range(n + 1)
        )
    )
    total = cumulative[-1]
    return lambda: min(bisect_right(cumulative, rng.random() * total), n)
