"""The one metric table: every metric declared once, read by the summary, terminal, HTML report, gates and
baseline comparison alike.

An ``Aggregate`` computes one block of a stream's summary from its step results (``compute(primary,
results)``: the stream's headline samples and all its results; ``None`` = not applicable to this stream).
Its ``Metric``s read their values out of that block and say how to show and compare them. The harness
declares the metrics every task has (CSR/LG/SL, ASR/AS); a task family declares its own
(``TaskFamily.aggregates``), a mode its own (``Mode.aggregates``). A new metric is one declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

FORMATS = ("percent", "number", "turns", "points", "signed", "percent_value")
PASS_FAIL = "success"  # the per-sample outcome every task has: the task's verdict
SHORT_LIMIT = 24


@dataclass(frozen=True)
class Metric:
    name: str  # used by --amb-gate, --amb-max-drop and summary.json "metrics"
    label: str  # column heading or short name
    read: Callable[[dict], float | None]  # the value, from its aggregate's block
    format: str = "number"  # one of FORMATS
    better: str | None = "higher"  # "higher", "lower", or None (no direction: not compared with baselines)
    outcome: str | None = None  # the per-sample pass/fail outcome this is a rate of (paired McNemar comparison)
    column: bool = True  # a column of the metric table; else shown on its aggregate's lines
    description: str = ""  # one line for the legend
    short: str = ""  # a gloss for a one-line legend, at most SHORT_LIMIT characters ("success rate")
    # The value one step result contributes when the metric is a mean over samples (F1 of an answer, turns of
    # a sample); None where it does not apply. Pass/fail rates name their ``outcome`` instead.
    sample: Callable[[dict], float | None] | None = None

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"metric '{self.name}': format '{self.format}' is not one of {', '.join(FORMATS)}")
        if self.better not in ("higher", "lower", None):
            raise ValueError(f"metric '{self.name}': better must be 'higher', 'lower' or None")
        if len(self.short) > SHORT_LIMIT:
            raise ValueError(f"metric '{self.name}': short '{self.short}' is longer than {SHORT_LIMIT} characters")
        if self.outcome is not None and self.sample is not None:
            raise ValueError(f"metric '{self.name}': a rate of an outcome has no other per-sample value; "
                             "declare outcome or sample, not both")  # fmt: skip

    @property
    def per_sample(self) -> bool:
        """A mean over samples (pooled over a memory's samples), not a value of a whole stream."""
        return self.outcome is not None or self.sample is not None

    def show(self, value: float | None) -> str:
        return show(value, self.format)


@dataclass(frozen=True)
class SampleOutcome:
    """A per-sample pass/fail outcome, stored with baselines for paired comparisons."""

    name: str
    of: Callable[[dict], bool | None]  # a step result -> the outcome, or None when it does not apply


@dataclass(frozen=True)
class Aggregate:
    key: str | None  # the stream summary key of its block; None = its keys are merged into the stream summary
    compute: Callable[[list[dict], list[dict]], dict | None]
    metrics: tuple[Metric, ...] = ()
    breakdowns: tuple[str, ...] = ()  # sub-blocks "per_<name>" of the block, shown as rows under the stream
    outcomes: tuple[SampleOutcome, ...] = ()
    lines: Callable[[dict], list[str]] | None = None  # extra terminal lines describing the block

    def block(self, stream: dict) -> dict | None:
        return stream if self.key is None else stream.get(self.key)

    def value(self, metric: Metric, stream: dict) -> float | None:
        block = self.block(stream)
        return None if block is None else metric.read(block)


def show(value: float | None, format: str) -> str:
    if value is None:
        return "-"
    if format == "percent":
        return f"{100 * value:5.1f}%"
    if format == "turns":
        return f"{value:.1f}"
    if format == "points":
        return f"{100 * value:+.1f} pp"
    if format == "signed":
        return f"{value:+.1f}"
    if format == "percent_value":
        return f"{value:.1f}%"
    return f"{value:.3f}"


@dataclass(frozen=True)
class MetricTable:
    aggregates: tuple[Aggregate, ...]

    @property
    def metrics(self) -> list[Metric]:
        return [m for a in self.aggregates for m in a.metrics]

    @property
    def columns(self) -> list[tuple[Aggregate, Metric]]:
        return [(a, m) for a in self.aggregates for m in a.metrics if m.column]

    @property
    def outcomes(self) -> list[SampleOutcome]:
        return [o for a in self.aggregates for o in a.outcomes]

    @property
    def comparable(self) -> list[str]:
        return [m.name for m in self.metrics if m.better is not None]

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    def outcome(self, name: str) -> SampleOutcome:
        for outcome in self.outcomes:
            if outcome.name == name:
                return outcome
        raise KeyError(f"no aggregate of the table declares the per-sample outcome '{name}'")

    def sample_value(self, metric: Metric, result: dict) -> float | None:
        """One step result's value of a per-sample metric: its outcome as 1/0, or ``metric.sample``; None
        where it does not apply (or the metric is a value of a whole stream)."""
        if metric.outcome is not None:
            passed = self.outcome(metric.outcome).of(result)
            return None if passed is None else float(bool(passed))
        if metric.sample is not None:
            value = metric.sample(result)
            return None if value is None else float(value)
        return None

    def value(self, name: str, stream: dict) -> float | None:
        for aggregate in self.aggregates:
            for metric in aggregate.metrics:
                if metric.name == name:
                    return aggregate.value(metric, stream)
        raise KeyError(name)

    def summarize(self, primary: list[dict], results: list[dict]) -> dict:
        """The aggregates' blocks of one stream, plus ``metrics``: every metric's value by name."""
        out: dict = {}
        for aggregate in self.aggregates:
            block = aggregate.compute(primary, results)
            if block is None:
                continue
            if aggregate.key is None:
                out.update(block)
            else:
                out[aggregate.key] = block
        out["metrics"] = {m.name: a.value(m, out) for a in self.aggregates for m in a.metrics}
        return out


def merge(*groups) -> MetricTable:
    """One table from groups of aggregates, each aggregate once (a family selected twice counts once)."""
    seen, aggregates = set(), []
    for group in groups:
        for aggregate in group:
            if id(aggregate) not in seen:
                seen.add(id(aggregate))
                aggregates.append(aggregate)
    names = [m.name for a in aggregates for m in a.metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"metrics declared twice: {', '.join(duplicates)}")
    return MetricTable(tuple(aggregates))
