"""Quality gates on the summary: ``--amb-gate "csr>=0.40"`` (repeatable). Every stream that has the
metric must satisfy the gate; a gate whose metric no stream has fails, so a typo cannot pass silently."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
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
class GateResult:
    gate: Gate
    stream: str
    value: float | None
    passed: bool

    def describe(self) -> str:
        value = "not measured in any stream" if self.value is None else f"{self.value:.4f}"
        return f"{'PASS' if self.passed else 'FAIL'} {self.gate} {self.stream}: {value}"


def parse(text: str, known: list[str]) -> Gate:
    """``known``: the metric names a gate may use (every installed family's and mode's, and the harness's)."""
    match = _GATE.match(text)
    if not match or match.group(1) not in known:
        raise GateError(
            f"--amb-gate '{text}': expected METRIC OP NUMBER such as 'csr>=0.40'; metrics: {', '.join(known)}; "
            "operators: >=, <=, >, <"
        )
    return Gate(match.group(1), match.group(2), float(match.group(3)))


def evaluate(gates: list[Gate], summary: dict) -> list[GateResult]:
    """Every stream's value of the gate's metric (``metrics`` of its summary, from the run's metric table)."""
    results = []
    for gate in gates:
        measured = [(s["stream"], s["metrics"].get(gate.metric)) for s in summary["streams"]]
        measured = [(stream, value) for stream, value in measured if value is not None]
        if not measured:
            results.append(GateResult(gate, "(all streams)", None, False))
        for stream, value in measured:
            results.append(GateResult(gate, stream, value, OPERATORS[gate.op](value, gate.threshold)))
    return results
