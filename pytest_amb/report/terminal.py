"""The terminal summary: one table row per stream, then per-category rows, then where the run is."""

from __future__ import annotations


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _turns(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(summary: dict) -> list[str]:
    header = (
        f"{'stream':<44} {'n':>4} {'ASR':>7} {'AS':>5} {'judge':>7} {'F1':>6} {'BLEU':>6} {'CSR':>7} "
        f"{'errors':>6} {'tokens':>9} {'wall':>8}"
    )
    lines = []
    if (summary.get("config") or {}).get("model") == "oracle":
        lines.append("NOTE: the ORACLE replayed the gold solutions; these numbers check the environment, not an agent.")
    elif summary.get("reference_model"):
        lines.append(
            "NOTE: these numbers were produced by the deterministic REFERENCE MODEL (no LLM); "
            "they test the harness, not an agent."
        )
    lines += [header, "-" * len(header)]
    for stream in summary["streams"]:
        qa, success = stream["qa"], stream["success"]
        lines.append(
            f"{stream['stream']:<44} {success['n']:>4} {_pct(success['asr']):>7} {_turns(success['as']):>5} "
            f"{_pct(qa['judge_accuracy']):>7} {_num(qa['f1']):>6} {_num(qa['bleu']):>6} "
            f"{_pct(stream['csr']['final']):>7} {stream['errors']:>6} {stream['tokens']['total']:>9} "
            f"{stream['wall_s']:>7.1f}s"
        )
        for category, block in qa["per_category"].items():
            lines.append(
                f"{'  category ' + category:<44} {block['n']:>4} {'':>7} {'':>5} {_pct(block['judge_accuracy']):>7} "
                f"{_num(block['f1']):>6} {_num(block['bleu']):>6}"
            )
        for kind, block in success["per_type"].items():
            lines.append(f"{'  type ' + kind:<44} {block['n']:>4} {_pct(block['asr']):>7} {_turns(block['as']):>5}")
        lines.append(f"{'  backend: ' + ', '.join(stream['backends']):<44}")
    totals = summary["totals"]
    lines.append(
        f"steps: {totals['steps']} ({totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['errors']} errors: infrastructure or harness, not wrong answers)"
    )
    if summary.get("run_dir"):
        lines.append(f"run directory: {summary['run_dir']}")
    return lines
