"""The terminal summary, at most ``grid.WIDTH`` columns wide: the endpoints per role (when not all inside
pytest-amb), per task-family block one row per memory (n, the headline metric with its 95% interval, the
other metrics measured there, errors, tokens, cost, wall), the blocks' notes, skipped families with their
reason, the LLM calls' cost and the response cache's hits, the paired differences to the reference memory,
a legend of the metrics shown, and where the run is. ``verbose`` adds the per-stream rows first (breakdown
and phase rows, the aggregates' lines, memory cost, backends)."""

from __future__ import annotations

from pytest_amb.metrics.core import SUCCESS
from pytest_amb.metrics.table import MetricTable, show
from pytest_amb.report.grid import WIDTH, Column, join_wrapped, table, wrap, wrap_text
from pytest_amb.report.results import (
    DEFINITIONS,
    Block,
    Contrast,
    blocks,
    contrasts,
    difference_interval_text,
    difference_text,
    endpoint_parts,
    evidence_text,
    gloss,
    interval_text,
    legend_metrics,
    llm_parts,
    money_text,
    p_text,
    totals_text,
    unknown_price_text,
    value_text,
)


def pct(value: float | None) -> str:
    return show(value, "percent")


def points(value: float | None) -> str:
    return show(value, "points")


def render(summary: dict, table_: MetricTable, verbose: bool = False) -> list[str]:
    lines = _preamble(summary)
    if verbose:
        lines += per_stream_lines(summary, table_)
    found = blocks(summary, table_)
    if found:
        lines.append("results per memory (n: samples over all its streams; 95% interval of the first metric)")
    for block in found:
        lines += block_lines(block)
    for skipped in summary.get("skipped") or []:
        lines += wrap_text(f"{skipped['family']}: skipped ({skipped['steps']} steps): {skipped['reason']}")
    for gain in summary.get("transfer_gains") or []:
        lines += wrap(transfer_gain_text(gain), hang="    ")
    lines += join_wrapped(llm_parts(summary), separator=" ", hang="    ")
    unknown = unknown_price_text(summary)
    if unknown:
        lines += wrap(unknown, hang="    ")
    lines += comparison_lines(contrasts(summary, found))
    shown = legend_metrics(found, table_)
    if shown:
        lines += join_wrapped([gloss(m) for m in shown])
        lines.append(DEFINITIONS)
    lines += _closing(summary)
    return lines


def _preamble(summary: dict) -> list[str]:
    lines = []
    if (summary.get("config") or {}).get("model") == "oracle":
        lines += wrap(
            "NOTE: the ORACLE replayed the gold solutions; these numbers check the environment, not an agent."
        )
    elif summary.get("reference_model"):
        lines += wrap("NOTE: these numbers were produced by the deterministic REFERENCE MODEL (no LLM); "
                      "they test the harness, not an agent.")  # fmt: skip
    lines.append(f"mode: {summary.get('mode')}")
    lines += endpoint_lines(endpoint_parts(summary))
    partial = summary.get("partial")
    if partial:
        lines += wrap(f"PARTIAL: {partial['missing']} of {partial['steps']} steps have no result (not run, an ERROR, "
                      "or run on a memory that has changed since); the table is over the others")  # fmt: skip
    return lines


def endpoint_lines(parts: list[str]) -> list[str]:
    """"endpoints: agent m @ url, judge ..." on one line when it fits, else one role per line below it."""
    if not parts:
        return []
    one = "endpoints: " + ", ".join(parts)
    if len(one) <= WIDTH:
        return [one]
    return ["endpoints:", *(line for part in parts for line in wrap(part, indent="  ", hang="    "))]


def _closing(summary: dict) -> list[str]:
    totals = summary["totals"]
    lines = wrap(totals_text(totals))
    if summary.get("run_dir"):
        lines.append(f"run directory: {summary['run_dir']}")
    partial = summary.get("partial")
    if partial:
        environment = partial.get("environment")
        lines.append(f"  finish it with: {partial['command']}"
                     + (f"  (with {', '.join(environment)} set as now)" if environment else ""))  # fmt: skip
    return lines


# -- per memory ---------------------------------------------------------------------------------------------
def block_lines(block: Block) -> list[str]:
    rows = block.rows
    labels = [Column("memory", tuple(block.memory_label(r) for r in rows), "<"),
              Column("n", tuple(str(block.n(r)) for r in rows))]  # fmt: skip
    columns: list = []
    if block.headline is not None:
        metric = block.headline.metric
        value = Column(block.headline.label, tuple(value_text(metric, block.value(r, metric)) for r in rows))
        interval = Column("95% CI", tuple(interval_text(metric, block.interval(r)) for r in rows), "<")
        columns.append((value, interval))
    for shown in block.columns:
        columns.append(Column(shown.label, tuple(value_text(shown.metric, block.value(r, shown.metric)) for r in rows)))
    columns += [
        Column("errors", tuple(str(r.get("errors", 0)) for r in rows)),
        Column("tokens", tuple(f"{r.get('tokens', 0):,}" for r in rows)),
        *([Column("cost", tuple(money_text(r.get("cost_usd")) for r in rows))] if block.shows_cost else []),
        Column("wall", tuple(f"{r.get('wall_s', 0.0):.1f}s" for r in rows)),
    ]
    heading = f"{block.family}: {block.streams_per_memory}" if block.streams_per_memory else block.family
    lines = [heading, *table(labels, columns, indent="  ")]
    return lines + [line for note in block.notes for line in wrap(note, indent="  ")]


def transfer_gain_text(gain: dict) -> str:
    baseline_memory = gain["baseline"].split("/", 1)[0]
    interval = gain.get("ci95")
    ci = f" [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]" if interval else ""
    return (f"TG {gain['stream']} → {gain['target']}: {points(gain['tg'])}{ci} "
            f"(ASR {pct(gain.get('asr_transfer')).strip()} vs {baseline_memory} {pct(gain.get('asr_baseline')).strip()}, "
            f"n={gain['n_transfer']}/{gain['n_baseline']})")  # fmt: skip


# -- the comparison -------------------------------------------------------------------------------------------
def comparison_lines(found: list[Contrast]) -> list[str]:
    if not found:
        return []
    lines = wrap(f"difference to {found[0].reference}, paired on the same samples (* the 95% interval excludes 0; "
                 "p: McNemar's exact test)")  # fmt: skip
    families = list(dict.fromkeys(c.family for c in found))
    for family in families:
        members = [c for c in found if c.family == family]
        memory, metric, diff, ci, p, pairs = [], [], [], [], [], []
        for contrast in members:
            for n, difference in enumerate(contrast.differences):
                entry, m = difference.entry, difference.shown.metric
                memory.append(contrast.memory if n == 0 else "")
                metric.append(difference.shown.label)
                diff.append(difference_text(m, entry.get("difference")))
                ci.append(difference_interval_text(m, entry.get("ci95")) + (" *" if difference.excludes_zero else ""))
                p.append(p_text(entry.get("p_value")))
                pairs.append(evidence_text(entry))
        lines.append(f"{family}:")
        labels = [Column("memory", tuple(memory), "<"), Column("metric", tuple(metric), "<")]
        columns = [Column("difference", tuple(diff)), Column("95% CI", tuple(ci), "<"), Column("p", tuple(p), "<"),
                   Column("pairs", tuple(pairs), "<")]  # fmt: skip
        lines += table(labels, columns, indent="  ")
    return lines


# -- per stream (verbose) -----------------------------------------------------------------------------------
def per_stream_lines(summary: dict, table_: MetricTable) -> list[str]:
    lines = ["per stream"]
    for stream in summary.get("streams") or []:
        lines += stream_lines(stream, table_)
    return lines


def stream_lines(stream: dict, table_: MetricTable) -> list[str]:
    backends = ", ".join(stream.get("backends") or []) or "?"
    cost = f"{money_text(stream['cost'].get('usd'))}, " if isinstance(stream.get("cost"), dict) else ""
    lines = wrap(f"{stream['stream']}: {stream['errors']} errors, {stream['tokens']['total']:,} tokens, {cost}"
                 f"{stream['wall_s']:.1f}s, backend {backends}")  # fmt: skip
    names = [m.name for _, m in table_.columns]
    rows: list[tuple[str, int, dict[str, str]]] = [
        ("all", stream["success"]["n"], {m.name: m.show(a.value(m, stream)).strip() for a, m in table_.columns})
    ]
    for aggregate in table_.aggregates:
        block = aggregate.block(stream)
        if block is None:
            continue
        own = [m for m in aggregate.metrics if m.column]
        for breakdown in aggregate.breakdowns:
            for key, sub in (block.get(f"per_{breakdown}") or {}).items():
                rows.append((f"{breakdown} {key}", sub["n"], {m.name: m.show(m.read(sub)).strip() for m in own}))
    if len(stream["phases"]) > 1:
        own = [m for m in SUCCESS.metrics if m.column]
        for phase, block in stream["phases"].items():
            rows.append((f"phase {phase}", block["n"], {m.name: m.show(m.read(block)).strip() for m in own}))
    labels = [Column("", tuple(r[0] for r in rows), "<"), Column("n", tuple(str(r[1]) for r in rows))]
    columns = [Column(m.label, tuple(r[2].get(m.name, "") for r in rows)) for m in (table_.metric(n) for n in names)]
    lines += table(labels, columns, indent="  ")
    for aggregate in table_.aggregates:
        block = aggregate.block(stream)
        if block is None or aggregate.key is None:
            continue
        if aggregate.lines is not None:
            described = aggregate.lines(block)
        else:
            others = [m for m in aggregate.metrics if not m.column]
            described = ["  " + ", ".join(f"{m.label} {m.show(m.read(block))}" for m in others)] if others else []
        lines += [wrapped for line in described for wrapped in wrap(line.strip(), indent="  ")]
    lines += wrap(_cost_text(stream), indent="  ")
    return lines


def _cost_text(stream: dict) -> str:
    parts = []
    for operation, block in stream["memory_cost"].items():
        parts.append(
            f"{operation} ×{block['operations']}: {block['llm_calls']} LLM calls, {block['tokens']} tokens, "
            f"{block['embedding_calls']} embedding calls ({block['embedded_texts']} texts)"
        )
    return f"memory cost ({stream['memory']}): " + "; ".join(parts)


# -- after the table ----------------------------------------------------------------------------------------
def closing_lines(outcome, saved_baseline, plots: list, plot_error: str | None) -> list[tuple[str, dict]]:
    """The lines after the table (gates, baseline comparison, saved files), each with its terminal colour."""
    lines = []
    for result in outcome.gate_results:
        lines += _coloured(f"gate {result.describe()}", {"red": not result.passed, "green": result.passed})
    if any(not r.passed for r in outcome.gate_results):
        lines.append(("amb: a quality gate failed; the run fails", {"red": True, "bold": True}))
    comparison = outcome.comparison
    if comparison is not None:
        for result in comparison.results:
            lines += _coloured(f"baseline {comparison.name}: {result.describe()}",
                               {"red": not result.passed, "green": result.passed})  # fmt: skip
        if not comparison.passed:
            lines += _coloured(
                f"amb: worse than baseline {comparison.name}; the run fails", {"red": True, "bold": True}
            )
    if saved_baseline is not None:
        lines.append((f"baseline saved: {saved_baseline}", {}))
    if plots:
        names = ", ".join(p.png.name for p in plots)
        lines.append((f"plots: {names} (and .svg) in {plots[0].png.parent}", {}))
    if plot_error:
        lines += _coloured(f"amb: the plots could not be drawn ({plot_error})", {"yellow": True})
    return lines


def _coloured(text: str, colour: dict) -> list[tuple[str, dict]]:
    return [(line, colour) for line in wrap(text, hang="    ")]
