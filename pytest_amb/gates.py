"""Quality gates on the summary: ``--amb-gate "csr>=0.40"`` (repeatable).

By default a gate judges each memory of each family block over all its streams (the summary's
``memories`` rows: pooled over samples, with n and a 95% interval); with ``--amb-gate-scope=stream`` it
judges every stream, as the per-stream rows show it. Every subject that has the metric must satisfy the
gate; a gate whose metric nothing measured fails, so a typo cannot pass silently."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from pytest_amb.metrics.pooled import SAMPLES, STREAMS

OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
SCOPES = ("memory", "stream")
_GATE = re.compile(r"^\s*([a-z_0-9]+)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


class GateError(ValueError):
    pass


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


@dataclass(frozen=True)
class Subject:
    """What a gate judges: a memory on a family block, or one stream; ``metrics``: name -> pooled value
    (``{"value", "ci95", "n", "over"}``)."""

    scope: str
    name: str  # "<memory> on <family>" or the stream id
    memory: str | None
    family: str | None
    stream: str | None
    metrics: dict


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    scope: str
    subject: str
    value: float | None
    passed: bool
    memory: str | None = None
    family: str | None = None
    stream: str | None = None
    n: int = 0
    over: str = SAMPLES
    ci95: list | None = None

    def describe(self) -> str:
        """``PASS csr>=0.4 <memory> on <family>: 0.4211 [0.30, 0.55] (n=57)``; a mean over streams reads
        ``(n=2 streams)``."""
        head = f"{'PASS' if self.passed else 'FAIL'} {self.gate} {self.subject}"
        if self.value is None:
            return f"{head}: not measured in any stream"
        interval = f" [{self.ci95[0]:.2f}, {self.ci95[1]:.2f}]" if self.ci95 else ""
        count = f"n={self.n}" if self.over == SAMPLES else f"n={self.n} {STREAMS if self.n != 1 else 'stream'}"
        return f"{head}: {self.value:.4f}{interval} ({count})"

    def to_json(self) -> dict:
        return {"gate": str(self.gate), "scope": self.scope, "subject": self.subject, "memory": self.memory,
                "family": self.family, "stream": self.stream, "value": self.value, "ci95": self.ci95, "n": self.n,
                "over": self.over, "passed": self.passed}  # fmt: skip


def parse(text: str, known: list[str]) -> Gate:
    """``known``: the metric names a gate may use (every installed family's and mode's, and the harness's)."""
    match = _GATE.match(text)
    if not match or match.group(1) not in known:
        raise GateError(
            f"--amb-gate '{text}': expected METRIC OP NUMBER such as 'csr>=0.40'; metrics: {', '.join(known)}; "
            "operators: >=, <=, >, <"
        )
    return Gate(match.group(1), match.group(2), float(match.group(3)))


def memory_subjects(rows: list[dict]) -> list[Subject]:
    """The summary's ``memories`` rows as gate subjects."""
    return [Subject("memory", f"{row['memory']} on {row['family']}", row["memory"], row["family"], None, row["metrics"])
            for row in rows]  # fmt: skip


def stream_subjects(streams: list[dict], pooled: dict[str, dict], memories: dict[str, str],
                    families: dict[str, str]) -> list[Subject]:  # fmt: skip
    """Every stream summary as a gate subject: its own metric values, with the n and interval of its
    metrics over its samples (``pooled``: stream id -> ``pooled.pool_streams`` of that stream alone);
    ``memories`` and ``families``: stream id -> its memory and family block."""
    subjects = []
    for stream in streams:
        sid, own = stream["stream"], pooled.get(stream["stream"], {})
        metrics = {name: {**own[name], "value": value} for name, value in stream["metrics"].items()
                   if value is not None and name in own}  # fmt: skip
        subjects.append(Subject("stream", sid, memories.get(sid), families.get(sid), sid, metrics))
    return subjects


def evaluate(gates: list[Gate], subjects: list[Subject], scope: str = "memory") -> list[GateResult]:
    """Every subject's value of each gate's metric, in the order of ``subjects``; ``scope`` names what the
    subjects are, for the line of a gate nothing measured."""
    results = []
    for gate in gates:
        measured = [s for s in subjects if (s.metrics.get(gate.metric) or {}).get("value") is not None]
        if not measured:
            everything = "(all memories)" if scope == "memory" else "(all streams)"
            results.append(GateResult(gate, scope, everything, None, False))
        for subject in measured:
            entry = subject.metrics[gate.metric]
            passed = OPERATORS[gate.op](entry["value"], gate.threshold)
            results.append(GateResult(gate, subject.scope, subject.name, entry["value"], passed, subject.memory,
                                      subject.family, subject.stream, entry["n"], entry["over"], entry["ci95"]))  # fmt: skip
    return results
