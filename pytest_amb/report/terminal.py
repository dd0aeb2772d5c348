"""The terminal summary: one table row per stream, then per-category rows, then where the run is."""

from __future__ import annotations


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(summary: dict) -> list[str]:
    header = f"{'stream':<44} {'n':>4} {'judge':>7} {'F1':>6} {'BLEU':>6} {'CSR':>7} {'errors':>6} {'tokens':>9} {'wall':>8}"
    lines = []
    if summary.get("reference_model"):
        lines.append(
            "NOTE: these numbers were produced by the deterministic REFERENCE MODEL (no LLM); "
            "they test the harness, not an agent."
        )
    lines += [header, "-" * len(header)]
    for stream in summary["streams"]:
        qa = stream["qa"]
        lines.append(
            f"{stream['stream']:<44} {qa['n']:>4} {_pct(qa['judge_accuracy']):>7} {_num(qa['f1']):>6} "
            f"{_num(qa['bleu']):>6} {_pct(stream['csr']['final']):>7} {stream['errors']:>6} "
            f"{stream['tokens']['total']:>9} {stream['wall_s']:>7.1f}s"
        )
        for category, block in qa["per_category"].items():
            lines.append(
                f"{'  category ' + category:<44} {block['n']:>4} {_pct(block['judge_accuracy']):>7} "
                f"{_num(block['f1']):>6} {_num(block['bleu']):>6}"
            )
    totals = summary["totals"]
    lines.append(
        f"steps: {totals['steps']} ({totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['errors']} errors: infrastructure or harness, not wrong answers)"
    )
    if summary.get("run_dir"):
        lines.append(f"run directory: {summary['run_dir']}")
    return lines
