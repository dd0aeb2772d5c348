"""The terminal summary: one table row per stream (its headline samples), then per-category, per-type
and per-phase rows, the mode's own metrics, then where the run is."""

from __future__ import annotations


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}%"


def num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def turns(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f} pp"


def _ci(interval: list[float] | None, scale: float = 100.0) -> str:
    return "" if not interval else f" [{scale * interval[0]:.1f}, {scale * interval[1]:.1f}]"


COLUMNS = (
    f"{'stream':<44} {'n':>4} {'ASR':>7} {'AS':>5} {'judge':>7} {'F1':>6} {'BLEU':>6} {'CSR':>7} {'LG':>6} {'SL':>6} "
    f"{'errors':>6} {'tokens':>9} {'wall':>8}"
)


def render(summary: dict) -> list[str]:
    lines = []
    if (summary.get("config") or {}).get("model") == "oracle":
        lines.append("NOTE: the ORACLE replayed the gold solutions; these numbers check the environment, not an agent.")
    elif summary.get("reference_model"):
        lines.append(
            "NOTE: these numbers were produced by the deterministic REFERENCE MODEL (no LLM); "
            "they test the harness, not an agent."
        )
    lines.append(f"mode: {summary.get('mode')}")
    lines += [COLUMNS, "-" * len(COLUMNS)]
    for stream in summary["streams"]:
        lines += _stream_lines(stream)
    for gain in summary.get("transfer_gains", []):
        lines.append(
            f"TG {gain['stream']} → {gain['target']}: {points(gain['tg'])}{_ci(gain['ci95'])} "
            f"(ASR {pct(gain.get('asr_transfer'))} vs zero_shot {pct(gain.get('asr_baseline'))}, "
            f"n={gain['n_transfer']}/{gain['n_baseline']})"
        )
    totals = summary["totals"]
    lines.append(
        f"steps: {totals['steps']} ({totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['errors']} errors: infrastructure or harness, not wrong answers)"
    )
    if summary.get("run_dir"):
        lines.append(f"run directory: {summary['run_dir']}")
    return lines


def _stream_lines(stream: dict) -> list[str]:
    qa, success = stream["qa"], stream["success"]
    headline = (
        f"{stream['stream']:<44} {success['n']:>4} {pct(success['asr']):>7} {turns(success['as']):>5} "
        f"{pct(qa['judge_accuracy']):>7} {num(qa['f1']):>6} {num(qa['bleu']):>6} "
        f"{pct(stream['csr']['final']):>7} {num(stream['lg']['mean']):>6} {num(stream['sl']['mean']):>6} "
        f"{stream['errors']:>6} {stream['tokens']['total']:>9} {stream['wall_s']:>7.1f}s"
    )
    lines = [headline]
    for category, block in qa["per_category"].items():
        lines.append(
            f"{'  category ' + category:<44} {block['n']:>4} {'':>7} {'':>5} {pct(block['judge_accuracy']):>7} "
            f"{num(block['f1']):>6} {num(block['bleu']):>6}"
        )
    for kind, block in success["per_type"].items():
        lines.append(f"{'  type ' + kind:<44} {block['n']:>4} {pct(block['asr']):>7} {turns(block['as']):>5}")
    if len(stream["phases"]) > 1:
        for phase, block in stream["phases"].items():
            lines.append(f"{'  phase ' + phase:<44} {block['n']:>4} {pct(block['asr']):>7} {turns(block['as']):>5}")
    lines += _mode_lines(stream)
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


def _mode_lines(stream: dict) -> list[str]:
    lines = []
    if "replay" in stream:
        replay = stream["replay"]
        fr = "-" if replay["fr"] is None else f"{replay['fr']:.1f}%"
        lines.append(
            f"  replay: FR {fr} over {len(replay['per_stage'])} stages (n={replay['n']}); "
            f"immediate {pct(replay['immediate']['mean'])}, replay {pct(replay['replay']['mean'])} "
            f"(n={replay['replay']['n']})"
        )
    if "forward_transfer" in stream:
        ftg = stream["forward_transfer"]
        value = "-" if ftg["ftg"] is None else f"{ftg['ftg']:+.1f}"
        lines.append(f"  forward transfer: FTG {value} (n={ftg['n']} probe pairs)")
    if "repair" in stream:
        for variant, block in stream["repair"].items():
            lines.append(
                f"  repair ({variant}, n={block['n']}): RG {points(block['rg'])}, ER {points(block['er'])} (ours), "
                f"NR {points(block['nr'])} (ours); before {pct(block['before'])}, after wrong "
                f"{pct(block['wrong_test'])}, after right {pct(block['right_test'])}"
            )
    return lines
