"""One metric over several streams: pooled over their samples, or averaged over the streams.

A metric with a per-sample value (``Metric.per_sample``: a pass/fail ``outcome`` counted 1/0, or a
``sample`` value such as F1) is pooled: value = the mean over every headline sample of the streams, n = those
samples, and a 95% interval (Wilson for 0/1 values, mean ± 1.96·s/√n otherwise). Any other metric is a
value of a whole stream (LG, SL, FR, ...): value = the mean of the streams' values, n = those streams, and
the interval mean ± 1.96·s/√n (none with fewer than 2). Pooling treats every sample as independent, also
the same question asked again in another seed's stream (docs/metrics.md).
"""

from __future__ import annotations

from pytest_amb.metrics.intervals import mean_interval, wilson
from pytest_amb.metrics.table import Metric, MetricTable

SAMPLES, STREAMS = "samples", "streams"


def pooled(values: list[float], over: str, binary: bool) -> dict | None:
    """``{"value", "ci95", "n", "over"}`` of the mean of ``values``; None when there are none."""
    if not values:
        return None
    n = len(values)
    mean = sum(values) / n
    interval = wilson(round(sum(values)), n) if binary else mean_interval(values)
    return {"value": mean, "ci95": interval, "n": n, "over": over}


def sample_values(table: MetricTable, metric: Metric, samples: list[dict]) -> list[float]:
    """The per-sample values of ``metric`` among ``samples`` (step results), those that apply."""
    values = (table.sample_value(metric, r) for r in samples)
    return [v for v in values if v is not None]


def pool_metric(table: MetricTable, metric: Metric, samples: list[dict], stream_values: list) -> dict | None:
    """``metric`` over a group of streams: ``samples`` are their headline samples (step results),
    ``stream_values`` the metric's value in each stream (None where not measured)."""
    if metric.per_sample:
        return pooled(sample_values(table, metric, samples), SAMPLES, binary=metric.outcome is not None)
    return pooled([float(v) for v in stream_values if v is not None], STREAMS, binary=False)


def pool_streams(table: MetricTable, streams: list[dict], primary: dict[str, list[dict]]) -> dict[str, dict]:
    """Every metric of ``table`` measured in at least one of ``streams`` (stream summaries), pooled;
    ``primary``: stream id -> its headline samples."""
    out = {}
    for metric in table.metrics:
        stream_values = [s["metrics"].get(metric.name) for s in streams]
        if all(v is None for v in stream_values):
            continue
        samples = [r for s in streams for r in primary.get(s["stream"], [])]
        value = pool_metric(table, metric, samples, stream_values)
        if value is not None:
            out[metric.name] = value
    return out
