"""The end of a run as pure functions: the complete summary (metrics, gates, baseline comparison) from the
step results, and the exit status from that outcome."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class RunOutcome:
    summary: dict  # complete: the gates' results and the comparison are in it
    gate_results: tuple = ()  # gates.GateResult
    comparison: object = None  # baseline.Comparison, with --amb-compare

    @property
    def failed_gate(self) -> bool:
        return any(not r.passed for r in self.gate_results) or (
            self.comparison is not None and not self.comparison.passed
        )


def conclude(results: list[dict], run: dict, table, gates: list, request, baseline: dict | None) -> RunOutcome:
    """``run``: the run metadata for summarize; ``request``: baseline.BaselineRequest (or None); ``baseline``:
    the loaded --amb-compare baseline (or None)."""
    from pytest_amb import gates as gate_rules
    from pytest_amb.baseline import compare
    from pytest_amb.report.summary import summarize

    metrics = summarize(results, run, table)
    gate_results = tuple(gate_rules.evaluate(gates, metrics))
    comparison = None
    if request is not None and baseline is not None:
        comparison = compare(request.compare, baseline, metrics, results, request.max_drops, request.alpha, table)
    summary = {
        **metrics,
        "gates": [{"gate": str(r.gate), "stream": r.stream, "value": r.value, "passed": r.passed} for r in gate_results],
    }
    if comparison is not None:
        summary["comparison"] = comparison.to_json()
    return RunOutcome(summary, gate_results, comparison)


def exit_status(current, other_failures: int, outcome: RunOutcome, nothing_to_do: bool = False):
    """0 when the run completed and every gate holds, even if the agent got samples wrong; 1 for a failed
    gate or baseline comparison, an ERROR step or another failing test. A resumed run with nothing left to do
    is not "no tests collected": 0 (or 1 for a failed gate)."""
    if nothing_to_do and current == pytest.ExitCode.NO_TESTS_COLLECTED:
        current = pytest.ExitCode.OK
    if current == pytest.ExitCode.TESTS_FAILED and not other_failures and not outcome.failed_gate:
        return pytest.ExitCode.OK  # wrong answers are results, not failures of the run
    if outcome.failed_gate and current == pytest.ExitCode.OK:
        return pytest.ExitCode.TESTS_FAILED
    return current
