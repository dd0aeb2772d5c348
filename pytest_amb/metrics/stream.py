"""Metrics over the order of a stream."""

from __future__ import annotations


def csr_curve(successes: list[bool]) -> list[float]:
    """Cumulative success rate: CSR_t = (1/t) · Σ_{i≤t} s_i for t = 1..T (spec §8.3).

    ``successes`` are the verdicts of the stream's samples in execution order (session injections and
    errored steps are not samples and are left out by the caller).
    """
    curve, total = [], 0
    for t, success in enumerate(successes, start=1):
        total += bool(success)
        curve.append(total / t)
    return curve
