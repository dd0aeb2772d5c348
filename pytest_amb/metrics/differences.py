"""Memories compared side by side: each memory's difference to a reference memory, paired.

Within a family block, a stream of memory M is paired with the reference memory's stream whose id differs
only in the memory segment (``<memory>/<rest>``), and the samples of paired streams with the same task,
phase, stage and sample id (``sample_key``). Per metric (M − reference):

- pass/fail rates (an ``outcome``): the difference of the rates over the paired samples, McNemar's exact
  p-value on the discordant pairs (``worse``: the reference passed and M failed; ``better``: the reverse),
  and a paired bootstrap interval of the per-sample differences (1, 0 or −1);
- other per-sample means (a ``sample`` value, e.g. F1): the mean of the per-sample differences with its
  paired bootstrap interval;
- values of a whole stream (LG, SL, ...): the mean of the per-stream differences with a paired bootstrap
  interval over the stream pairs (none with fewer than 2 pairs).
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_amb.metrics.bootstrap import bootstrap_interval
from pytest_amb.metrics.paired import mcnemar_exact
from pytest_amb.metrics.table import Metric, MetricTable


def sample_key(result: dict) -> str:
    """What pairs a sample across runs and memories: ``task/phase/stage/sample_id``."""
    step = result["step"]
    return f"{step['task']}/{step['phase']}/{step.get('stage')}/{step['sample_id']}"


def counterpart(stream_id: str, memory: str) -> str:
    """The id of the same stream run with ``memory``."""
    return f"{memory}/{stream_id.split('/', 1)[-1]}"


def paired_streams(ours: list[dict], reference: list[dict], reference_memory: str) -> list[tuple[dict, dict]]:
    """(our stream, the reference's) for every stream of ``ours`` whose counterpart is among ``reference``."""
    by_id = {s["stream"]: s for s in reference}
    pairs = [(s, by_id.get(counterpart(s["stream"], reference_memory))) for s in ours]
    return [(s, r) for s, r in pairs if r is not None]


def paired_sample_values(table: MetricTable, metric: Metric, ours: list[dict], reference: list[dict]) -> list:
    """(our value, the reference's) of a per-sample metric for every sample both have a value for."""
    theirs = {sample_key(r): table.sample_value(metric, r) for r in reference}
    pairs = []
    for result in ours:
        mine, other = table.sample_value(metric, result), theirs.get(sample_key(result))
        if mine is not None and other is not None:
            pairs.append((mine, other))
    return pairs


def _interval(differences: list[float]) -> list[float] | None:
    return bootstrap_interval(differences) if len(differences) >= 2 else None


def compare_metric(table: MetricTable, metric: Metric, stream_pairs: list[tuple[dict, dict]],
                   primary: Mapping[str, list[dict]]) -> dict | None:  # fmt: skip
    """One metric of a memory against the reference over ``stream_pairs``; None when nothing pairs."""
    if metric.per_sample:
        pairs = [pair for ours, ref in stream_pairs for pair in paired_sample_values(
            table, metric, primary.get(ours["stream"], []), primary.get(ref["stream"], []))]  # fmt: skip
    else:
        values = [(ours["metrics"].get(metric.name), ref["metrics"].get(metric.name)) for ours, ref in stream_pairs]
        pairs = [(float(a), float(b)) for a, b in values if a is not None and b is not None]
    if not pairs:
        return None
    n = len(pairs)
    differences = [a - b for a, b in pairs]
    value, reference_value = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    out = {"difference": value - reference_value, "ci95": _interval(differences), "p_value": None,
           "test": "bootstrap" if metric.per_sample else "bootstrap-streams", "n": n,
           "value": value, "reference_value": reference_value}  # fmt: skip
    if metric.outcome is not None:
        worse = sum(b == 1 and a == 0 for a, b in pairs)
        better = sum(a == 1 and b == 0 for a, b in pairs)
        out.update(p_value=mcnemar_exact(worse, better), test="mcnemar", worse=worse, better=better)
    return out


def memory_differences(groups: Mapping[tuple[str, str], list[dict]], primary: Mapping[str, list[dict]],
                       table: MetricTable, reference: str) -> dict:  # fmt: skip
    """``{"reference", "rows"}``: a row per (family block, memory other than ``reference``) of ``groups``
    ((block, memory) -> stream summaries, in row order) whose block has streams of ``reference``."""
    rows = []
    for (block, memory), streams in groups.items():
        if memory == reference or (block, reference) not in groups:
            continue
        stream_pairs = paired_streams(streams, groups[(block, reference)], reference)
        metrics = {}
        for metric in table.metrics:
            compared = compare_metric(table, metric, stream_pairs, primary)
            if compared is not None:
                metrics[metric.name] = compared
        rows.append({"family": block, "memory": memory, "paired_streams": len(stream_pairs), "metrics": metrics})
    return {"reference": reference, "rows": rows}
