"""The end of a run as pure functions: the complete summary (metrics, per-memory rows and differences, gates,
baseline comparison) from the step results, and the exit status from that outcome."""

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


def conclude(results: list[dict], run: dict, table, gates: list, request, baseline: dict | None, *,
             reference_memory: str | None = None, gate_scope: str = "memory", prices=None) -> RunOutcome:  # fmt: skip
    """``run``: the run metadata for summarize; ``request``: baseline.BaselineRequest (or None); ``baseline``:
    the loaded --amb-compare baseline (or None); ``reference_memory``: the memory the others are compared
    with (default: the run's first); ``gate_scope``: "memory" (gates and the baseline comparison judge each
    memory over all its streams) or "stream" (each stream); ``prices``: the llm.pricing.PriceTable the
    cost in money is computed with (default: the bundled table)."""
    from pytest_amb import gates as gate_rules
    from pytest_amb.baseline import compare
    from pytest_amb.report.summary import summarize

    metrics = summarize(results, run, table, reference_memory=reference_memory, prices=prices)
    if gate_scope == "stream":
        subjects = _stream_subjects(metrics, results, run, table)
    else:
        subjects = gate_rules.memory_subjects(metrics["memories"])
    gate_results = tuple(gate_rules.evaluate(gates, subjects, gate_scope))
    comparison = None
    if request is not None and baseline is not None:
        comparison = compare(request.compare, baseline, metrics, results, request.max_drops, request.alpha, table,
                             scope=gate_scope)  # fmt: skip
    summary = {**metrics, "gates": [r.to_json() for r in gate_results]}
    if comparison is not None:
        summary["comparison"] = comparison.to_json()
    return RunOutcome(summary, gate_results, comparison)


def _stream_subjects(summary: dict, results: list[dict], run: dict, table) -> list:
    """Every stream as a gate subject, with the n and interval of its metrics over its own samples."""
    from pytest_amb import gates as gate_rules
    from pytest_amb.metrics.memory_rows import family_block, stream_memory
    from pytest_amb.metrics.pooled import pool_streams
    from pytest_amb.report.summary import primary_samples, results_by_stream

    primary = {sid: primary_samples(items) for sid, items in results_by_stream(results).items()}
    families = run.get("families") or {}
    streams = summary["streams"]
    return gate_rules.stream_subjects(
        streams,
        {s["stream"]: pool_streams(table, [s], primary) for s in streams},
        {s["stream"]: stream_memory(s) for s in streams},
        {s["stream"]: family_block(s, families) for s in streams},
    )


def exit_status(current, other_failures: int, outcome: RunOutcome, nothing_to_do: bool = False,
                budget_stopped: bool = False):  # fmt: skip
    """0 when the run completed and every gate holds, even if the agent got samples wrong; 1 for a failed
    gate or baseline comparison, an ERROR step, another failing test, or a run the budget stopped before its end
    (its metrics are over part of the plan). A resumed run with nothing left to do is not "no tests collected": 0
    (or 1 for a failed gate)."""
    if budget_stopped and current in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return pytest.ExitCode.TESTS_FAILED
    if nothing_to_do and current == pytest.ExitCode.NO_TESTS_COLLECTED:
        current = pytest.ExitCode.OK
    if current == pytest.ExitCode.TESTS_FAILED and not other_failures and not outcome.failed_gate:
        return pytest.ExitCode.OK  # wrong answers are results, not failures of the run
    if outcome.failed_gate and current == pytest.ExitCode.OK:
        return pytest.ExitCode.TESTS_FAILED
    return current
