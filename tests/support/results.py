"""Comparing journaled results across runs."""

TIMINGS = ("wall_s", "latency_s")


def stable(value, volatile=TIMINGS):
    """``value`` without the keys that legitimately differ between runs (timings, and any ``volatile``)."""
    if isinstance(value, dict):
        return {k: stable(v, volatile) for k, v in value.items() if k not in volatile}
    if isinstance(value, list):
        return [stable(v, volatile) for v in value]
    return value
