"""The terminal summary: one table row per stream (its headline samples) with a column per metric of the
run's metric table, then each aggregate's breakdown rows, per-phase rows and descriptive lines, then
where the run is."""

from __future__ import annotations

from pytest_amb.metrics.core import SUCCESS
from pytest_amb.metrics.table import MetricTable, show

STREAM_WIDTH = 44


def pct(value: float | None) -> str:
    return show(value, "percent")


def points(value: float | None) -> str:
    return show(value, "points")


def _ci(interval: list[float] | None, scale: float = 100.0) -> str:
    return "" if not interval else f" [{scale * interval[0]:.1f}, {scale * interval[1]:.1f}]"


def _width(label: str) -> int:
    return max(len(label), 7)


def header(table: MetricTable) -> str:
    cells = " ".join(f"{m.label:>{_width(m.label)}}" for _, m in table.columns)
    return f"{'stream':<{STREAM_WIDTH}} {'n':>4} {cells} {'errors':>6} {'tokens':>9} {'wall':>8}"


def render(summary: dict, table: MetricTable) -> list[str]:
    lines = []
    if (summary.get("config") or {}).get("model") == "oracle":
        lines.append("NOTE: the ORACLE replayed the gold solutions; these numbers check the environment, not an agent.")
    elif summary.get("reference_model"):
        lines.append(
            "NOTE: these numbers were produced by the deterministic REFERENCE MODEL (no LLM); "
            "they test the harness, not an agent."
        )
    lines.append(f"mode: {summary.get('mode')}")
    partial = summary.get("partial")
    if partial:
        lines.append(f"PARTIAL: {partial['missing']} of {partial['steps']} steps have no result (not run, an ERROR, "
                     "or run on a memory that has changed since); the table is over the others")  # fmt: skip
    columns = header(table)
    lines += [columns, "-" * len(columns)]
    for stream in summary["streams"]:
        lines += _stream_lines(stream, table)
    for gain in summary.get("transfer_gains", []):
        baseline_memory = gain["baseline"].split("/", 1)[0]
        lines.append(
            f"TG {gain['stream']} → {gain['target']}: {points(gain['tg'])}{_ci(gain['ci95'])} "
            f"(ASR {pct(gain.get('asr_transfer'))} vs {baseline_memory} {pct(gain.get('asr_baseline'))}, "
            f"n={gain['n_transfer']}/{gain['n_baseline']})"
        )
    totals = summary["totals"]
    lines.append(
        f"steps: {totals['steps']} ({totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['errors']} errors: infrastructure or harness, not wrong answers)"
    )
    if summary.get("run_dir"):
        lines.append(f"run directory: {summary['run_dir']}")
    if partial:
        environment = partial.get("environment")
        lines.append(f"  finish it with: {partial['command']}"
                     + (f"  (with {', '.join(environment)} set as now)" if environment else ""))  # fmt: skip
    return lines


def _row(label: str, n: int, cells: dict[str, str], table: MetricTable) -> str:
    values = " ".join(f"{cells.get(m.name, ''):>{_width(m.label)}}" for _, m in table.columns)
    return f"{label:<{STREAM_WIDTH}} {n:>4} {values}".rstrip()


def _stream_lines(stream: dict, table: MetricTable) -> list[str]:
    cells = {m.name: m.show(a.value(m, stream)) for a, m in table.columns}
    n = stream["success"]["n"]
    headline = (f"{_row(stream['stream'], n, cells, table)} {stream['errors']:>6} {stream['tokens']['total']:>9} "
                f"{stream['wall_s']:>7.1f}s")  # fmt: skip
    lines = [headline]
    for aggregate in table.aggregates:
        block = aggregate.block(stream)
        if block is None:
            continue
        own = [m for m in aggregate.metrics if m.column]
        for breakdown in aggregate.breakdowns:
            for key, sub in (block.get(f"per_{breakdown}") or {}).items():
                sub_cells = {m.name: m.show(m.read(sub)) for m in own}
                lines.append(_row(f"  {breakdown} {key}", sub["n"], sub_cells, table))
    if len(stream["phases"]) > 1:
        own = [m for m in SUCCESS.metrics if m.column]
        for phase, block in stream["phases"].items():
            lines.append(_row(f"  phase {phase}", block["n"], {m.name: m.show(m.read(block)) for m in own}, table))
    for aggregate in table.aggregates:
        block = aggregate.block(stream)
        if block is None or aggregate.key is None:
            continue
        if aggregate.lines is not None:
            lines += aggregate.lines(block)
        else:
            others = [m for m in aggregate.metrics if not m.column]
            if others:
                lines.append("  " + ", ".join(f"{m.label} {m.show(m.read(block))}" for m in others))
    lines.append(_cost_line(stream))
    lines.append(f"  backend: {', '.join(stream['backends'])}")
    return lines


def _cost_line(stream: dict) -> str:
    parts = []
    for operation, block in stream["memory_cost"].items():
        parts.append(
            f"{operation} ×{block['operations']}: {block['llm_calls']} LLM calls, {block['tokens']} tokens, "
            f"{block['embedding_calls']} embedding calls ({block['embedded_texts']} texts)"
        )
    return f"  memory cost ({stream['memory']}): " + "; ".join(parts)


def closing_lines(outcome, saved_baseline, plots: list, plot_error: str | None) -> list[tuple[str, dict]]:
    """The lines after the table (gates, baseline comparison, saved files), each with its terminal colour."""
    lines = []
    for result in outcome.gate_results:
        lines.append((f"gate {result.describe()}", {"red": not result.passed, "green": result.passed}))
    if any(not r.passed for r in outcome.gate_results):
        lines.append(("amb: a quality gate failed; the run fails", {"red": True, "bold": True}))
    comparison = outcome.comparison
    if comparison is not None:
        for result in comparison.results:
            lines.append((f"baseline {comparison.name}: {result.describe()}",
                          {"red": not result.passed, "green": result.passed}))  # fmt: skip
        if not comparison.passed:
            lines.append((f"amb: worse than baseline {comparison.name}; the run fails", {"red": True, "bold": True}))
    if saved_baseline is not None:
        lines.append((f"baseline saved: {saved_baseline}", {}))
    if plots:
        lines.append((f"plots: {', '.join(str(p.png) for p in plots)} (and .svg)", {}))
    if plot_error:
        lines.append((f"amb: the plots could not be drawn ({plot_error})", {"yellow": True}))
    return lines
