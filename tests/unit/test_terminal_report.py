"""The terminal results table, rendered from hand-written summaries (schema 4): one block per task family,
one row per memory, at most 100 columns in every mode; identical metrics shown once; notes; the paired
differences to the reference memory; skipped families; the LLM calls' cost and the response cache; the
per-stream rows only when verbose. (Costs computed from step results: test_cost_report.py.)"""

import pytest

from pytest_amb.metrics.core import run_table
from pytest_amb.report.grid import WIDTH, Column, join_wrapped, table, wrap
from pytest_amb.report.results import blocks, difference_text, p_text
from pytest_amb.report.terminal import closing_lines, render

LONG_REASON = (
    "no container engine: neither Docker nor Podman answered on this machine; install one (apt-get install -y "
    "podman) and start its API socket (systemctl --user start podman.socket), or set DOCKER_HOST to an engine "
    "that runs elsewhere, then run again"
)


def metric(value, ci=None, n=114, over="samples"):
    return {"value": value, "ci95": ci, "n": n, "over": over}


def stream(sid: str, memory: str, asr: float, judge: float | None = None, turns: float = 1.0, lg: float = 0.02,
           rg: float | None = None) -> dict:  # fmt: skip
    """A stream summary as summary.py writes it (the parts the report reads)."""
    judge = asr if judge is None else judge
    out = {
        "stream": sid, "memory": memory, "task": sid.split("/")[1], "tasks": [sid.split("/")[1]],
        "errors": 0, "tokens": {"total": 17830}, "wall_s": 3.3, "backends": ["in-process"],
        "success": {"n": 30, "asr": asr, "as": turns,
                    "per_type": {"qa": {"n": 30, "asr": asr, "as": turns}}},
        "qa": {"n": 30, "judge_accuracy": judge, "f1": 0.25, "bleu": 0.23,
               "per_category": {"1": {"n": 6, "judge_accuracy": 0.0, "f1": 0.018, "bleu": 0.014}}},
        "n": 30, "csr": {"final": asr, "curve": []}, "lg": {"mean": lg, "curve": []}, "sl": {"mean": 0.5, "curve": []},
        "phases": {"online": {"n": 30, "asr": asr, "as": turns}},
        "memory_cost": {"retrieval": {"operations": 30, "llm_calls": 0, "tokens": 0, "embedding_calls": 30,
                                      "embedded_texts": 30},
                        "update": {"operations": 36, "llm_calls": 0, "tokens": 0, "embedding_calls": 17,
                                   "embedded_texts": 35}},
    }  # fmt: skip
    out["metrics"] = {"asr": asr, "as": turns, "judge_accuracy": judge, "f1": 0.25, "bleu": 0.23, "csr": asr,
                      "lg": lg, "sl": 0.5}  # fmt: skip
    if rg is not None:
        out["repair"] = {"full": {"rg": rg, "er": -0.017, "nr": -0.069, "n": 30, "before": 0.3, "wrong_test": 0.27,
                                  "right_test": 0.2},
                         "standard": {"rg": rg, "er": 0.0, "nr": -0.05, "n": 14, "before": 0.3, "wrong_test": 0.27,
                                      "right_test": 0.2}}  # fmt: skip
        out["metrics"].update({"rg": rg, "er": -0.017, "nr": -0.069})
    return out


def row(memory: str, asr: float, streams: list[dict], family: str = "locomo", learned: bool = True,
        note: str | None = None, **extra) -> dict:  # fmt: skip
    metrics = {
        "asr": metric(asr, [asr - 0.08, asr + 0.08]), "as": metric(1.0), "judge_accuracy": metric(asr),
        "f1": metric(0.297, [0.21, 0.37]), "bleu": metric(0.265), "csr": metric(asr),
        "lg": metric(streams[0]["metrics"]["lg"], None, len(streams), "streams"), "sl": metric(0.427, None, 2, "streams"),
    }  # fmt: skip
    metrics.update({name: metric(value, None, len(streams), "streams") for name, value in extra.items()})
    return {"family": family, "memory": memory, "streams": [s["stream"] for s in streams], "steps": 136,
            "samples": 114, "errors": 0, "tokens": 63626, "wall_s": 12.5, "cost_usd": 0.0, "metrics": metrics,
            "learned": learned, "note": note}  # fmt: skip


def mcnemar(difference, ci, p, better, worse, n=114):
    return {"difference": difference, "ci95": ci, "p_value": p, "test": "mcnemar", "n": n, "better": better,
            "worse": worse}  # fmt: skip


def summary_of(memories: dict[str, float], mode: str = "online", family: str = "locomo", repair: bool = False,
               unlearned: str | None = None, skipped: list | None = None) -> dict:  # fmt: skip
    """Each memory with two streams (two conversations) of ``family``; memories after the first differ from it."""
    streams, rows = [], []
    for n, (memory, asr) in enumerate(memories.items()):
        own = [stream(f"{memory}/{family}/conv-{k}", memory, asr, lg=0.02 + 0.01 * k + 0.001 * n,
                      rg=(-0.067 if n else 0.0) if repair else None) for k in (1, 2)]  # fmt: skip
        streams += own
        extra = {"rg": own[0]["metrics"]["rg"], "er": -0.017, "nr": -0.069} if repair else {}
        learned = memory != unlearned
        note = None if learned else f"{memory}'s memory never changed on {family}: it learned nothing from these steps"
        rows.append(row(memory, asr, own, family, learned, note, **extra))
    names = list(memories)
    differences = None
    if len(names) > 1:
        reference = names[0]
        differences = {"reference": reference, "rows": []}
        for memory in names[1:]:
            d = memories[memory] - memories[reference]
            entries = {name: mcnemar(d, [d - 0.07, d + 0.07], 0.0012, 25, 4, 171)
                       for name in ("asr", "judge_accuracy", "csr")}  # fmt: skip
            entries["f1"] = {"difference": -0.004, "ci95": [-0.03, 0.02], "p_value": None, "test": "bootstrap",
                             "n": 171}  # fmt: skip
            entries["lg"] = {"difference": 0.001, "ci95": None, "p_value": None, "test": "bootstrap-streams", "n": 1}
            if repair:
                entries["rg"] = {"difference": -0.067, "ci95": [-0.1, -0.03], "p_value": None,
                                 "test": "bootstrap-streams", "n": 2}  # fmt: skip
            differences["rows"].append({"family": family, "memory": memory, "metrics": entries})
    purposes = {"agent": _purpose(92), **({"judge": _purpose(92)} if family == "locomo" else {})}
    return {
        "mode": mode, "reference_model": True, "config": {"model": "reference"}, "partial": None,
        "run_dir": "/tmp/runs/20261201-092255-f5c7b6", "streams": streams, "memories": rows,
        "differences": differences, "skipped": skipped or [], "transfer_gains": [],
        "llm": {**REFERENCE_LLM, "per_purpose": purposes},
        "totals": {"steps": 68, "passed": 35, "failed": 33, "errors": 0, "tokens": 63626},
    }  # fmt: skip


def _purpose(calls: int, hits: int = 0, misses: int = 0, cost: float | None = 0.0) -> dict:
    return {"cost_usd": cost, "calls": calls, "prompt_tokens": 1000 * calls, "cached_prompt_tokens": 0,
            "completion_tokens": 10 * calls, "unknown_models": [], "replayed": hits, "hits": hits,
            "misses": misses}  # fmt: skip


REFERENCE_LLM = {
    "cost_usd": 0.0, "per_purpose": {}, "unknown_models": [],
    "endpoints": [{"role": role, "model": "reference", "base_url": None, "key_variable": None}
                  for role in ("agent", "judge", "memory")],
    "cache": {"mode": "off", "directory": None}, "budget_usd": None,
}  # fmt: skip
# a run on real endpoints whose every text is as long as it gets: three roles on three long URLs, a memory
# model without a price, the cache on, a budget
LONG_LLM = {
    "cost_usd": None, "per_purpose": {"agent": _purpose(12_345, 6000, 6345, 1234.5678),
                                      "judge": _purpose(12_345, 12_345, 0, 0.0031),
                                      "memory": _purpose(4_321, 0, 4_321, None)},
    "unknown_models": ["Qwen/Qwen2.5-72B-Instruct-AWQ", "meta-llama/Llama-3.3-70B-Instruct"],
    "endpoints": [{"role": "agent", "model": "gpt-4o-2024-11-20", "key_variable": "AMB_API_KEY",
                   "base_url": "https://my-resource-name.openai.azure.com/openai/deployments/gpt-4o/v1"},
                  {"role": "judge", "model": "gpt-4.1-mini-2025-04-14", "key_variable": "AMB_JUDGE_API_KEY",
                   "base_url": "https://user:***@gateway.internal.example.org:8443/llm/openai/v1"},
                  {"role": "memory", "model": "Qwen/Qwen2.5-72B-Instruct-AWQ", "key_variable": None,
                   "base_url": "http://10.20.30.40:8000/v1"}],
    "cache": {"mode": "readwrite", "directory": "/home/user/.cache/pytest-amb/responses"}, "budget_usd": 2500.0,
}  # fmt: skip


ONLINE = run_table(["locomo"], "online")
THREE = {"zero_shot": 0.35, "stream_icl": 0.474, "awm_pro": 0.0}


def _fits(lines: list[str]) -> None:
    too_wide = [line for line in lines if len(line) > WIDTH]
    assert not too_wide, too_wide


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize(
    "families, mode, repair",
    [(["locomo"], "online", False), (["locomo"], "offline", False), (["locomo"], "repair", True),
     (["locomo"], "replay", False), (["locomo"], "transfer", False), (["dbbench"], "online", False),
     (["os"], "online", False), (["dbbench", "locomo"], "online", False)],
)  # fmt: skip
def test_every_line_fits_100_columns_in_every_mode_and_family(families, mode, repair, verbose):
    family = families[0]
    summary = summary_of(THREE, mode=mode, family=family, repair=repair, unlearned="awm_pro",
                         skipped=[{"family": "os", "steps": 25, "reason": LONG_REASON}])  # fmt: skip
    summary["llm"] = LONG_LLM
    for n, item in enumerate(summary["memories"]):
        item["cost_usd"] = [1234.5678, None, 0.0031][n]
    lines = render(summary, run_table(families, mode), verbose=verbose)
    _fits(lines)
    assert "  agent gpt-4o-2024-11-20 @ https://my-resource-name.openai.azure.com/openai/deployments/gpt-4o/v1" in lines
    assert any(line.startswith("LLM: agent 12,345 calls $1,234.57,") for line in lines)
    assert any(line.startswith("cost unknown for models 'Qwen/Qwen2.5-72B-Instruct-AWQ'") for line in lines)
    assert any(line.startswith(f"{family}: 2 streams per memory") for line in lines)
    assert any(line.startswith("  awm_pro †") for line in lines)


def test_a_block_has_one_row_per_memory_with_n_the_headline_interval_and_the_other_metrics():
    lines = render(summary_of(THREE), ONLINE)
    start = lines.index("locomo: 2 streams per memory")
    header, *rows = lines[start + 1 : start + 5]
    # the reference model costs $0.00 in every row: no cost column (the LLM line says so)
    assert header.split() == ["memory", "n", "ASR=judge=CSR", "95%", "CI", "F1", "BLEU", "LG", "SL", "errors",
                              "tokens", "wall"]  # fmt: skip
    assert rows[0].split() == ["zero_shot", "114", "35.0%", "[27.0,", "43.0]", "0.297", "0.265", "0.030", "0.427",
                               "0", "63,626", "12.5s"]  # fmt: skip
    assert "LLM: agent 92 calls $0.00, judge 92 calls $0.00; total $0.00" in lines
    assert rows[1].split()[:5] == ["stream_icl", "114", "47.4%", "[39.4,", "55.4]"]


def test_identical_metrics_share_a_column_and_a_constant_without_direction_is_a_note():
    lines = render(summary_of(THREE), ONLINE)
    text = "\n".join(lines)
    assert "ASR=judge=CSR" in text and " AS " not in lines[lines.index("locomo: 2 streams per memory") + 1]
    assert "  AS = 1.0 in every row" in lines
    # a metric that differs in one stream of the block keeps its own column
    summary = summary_of(THREE)
    summary["streams"][3]["metrics"]["judge_accuracy"] = 0.5
    (block,) = blocks(summary, ONLINE)
    assert block.headline.label == "ASR=CSR" and "judge" in [s.label for s in block.columns]
    # a metric without direction that varies (LG) stays a column
    assert "LG" in [s.label for s in block.columns]


def test_only_pass_fail_rates_share_a_column_other_equal_metrics_are_a_coincidence():
    summary = summary_of(THREE)
    for item in [*summary["streams"], *summary["memories"]]:
        for name in ("f1", "bleu", "sl"):
            if isinstance(item["metrics"][name], dict):
                item["metrics"][name]["value"] = 0.0
            else:
                item["metrics"][name] = 0.0
    (block,) = blocks(summary, ONLINE)
    assert block.headline.label == "ASR=judge=CSR"
    assert [s.label for s in block.columns] == ["F1", "BLEU", "LG", "SL"]


def test_equal_values_in_one_row_and_stream_alone_are_not_called_constant():
    summary = summary_of({"stream_icl": 0.4})
    summary["streams"] = summary["streams"][:1]
    summary["memories"][0]["streams"] = summary["memories"][0]["streams"][:1]
    (block,) = blocks(summary, ONLINE)
    assert not block.constants and "AS" in [s.label for s in block.columns]


def test_a_memory_that_learned_nothing_is_marked_with_its_note_below_the_block():
    lines = render(summary_of(THREE, unlearned="awm_pro"), ONLINE)
    marked = [line for line in lines if line.startswith("  awm_pro †")]
    assert len(marked) == 1
    note = "  † awm_pro's memory never changed on locomo: it learned nothing from these steps"
    assert note in lines and lines.index(note) > lines.index(marked[0])
    assert not any(line.startswith("  stream_icl †") for line in lines)


def test_the_comparison_gives_each_memory_its_paired_differences_to_the_reference():
    lines = render(summary_of(THREE), ONLINE)
    start = next(n for n, line in enumerate(lines) if line.startswith("difference to zero_shot, paired"))
    assert lines[start + 2] == "locomo:"
    table_ = lines[start + 3 :]
    assert table_[0].split() == ["memory", "metric", "difference", "95%", "CI", "p", "pairs"]
    headline = table_[1]
    assert headline.split()[:2] == ["stream_icl", "ASR=judge=CSR"]
    assert "+12.4 pp  [5.4, 19.4] *" in headline and "0.0012" in headline and "25 better, 4 worse of 171" in headline
    f1 = next(line for line in table_ if line.split()[:1] == ["F1"])
    assert "-0.004  [-0.030, 0.020]  " in f1 and "*" not in f1 and "171 samples" in f1  # the interval holds 0
    lg = next(line for line in table_ if line.split()[:1] == ["LG"])
    assert "+0.001" in lg and "1 stream pair (no interval)" in lg
    assert any(line.startswith("  awm_pro") and "-35.0 pp" in line for line in table_)


def test_one_memory_has_no_comparison():
    lines = render(summary_of({"stream_icl": 0.4}), ONLINE)
    assert not any(line.startswith("difference to") for line in lines)


def test_the_legend_names_the_metrics_shown_and_points_to_their_definitions():
    lines = render(summary_of(THREE), ONLINE)
    end = lines.index("definitions: docs/metrics.md")
    legend = " ".join(lines[end - 3 : end])
    for gloss in ("ASR success rate", "AS turns per sample", "LG learning gain", "SL stability loss (lower is better)",
                  "judge judged correct"):  # fmt: skip
        assert gloss in legend
    dbbench = render(summary_of(THREE, family="dbbench"), run_table(["dbbench"], "online"))
    assert not any("judge" in line for line in dbbench) and "definitions: docs/metrics.md" in dbbench


def test_repair_metrics_stay_visible_in_percentage_points():
    lines = render(summary_of(THREE, mode="repair", repair=True), run_table(["locomo"], "repair"))
    text = "\n".join(lines)
    assert "RG" in text and "-6.7 pp" in text and "+0.0 pp" in text  # the table: as the plot labels them
    assert any(line.split()[:1] == ["RG"] and "-6.7 pp  [-10.0, -3.0] *" in line for line in lines)  # the comparison
    _fits(lines)


def test_a_skipped_family_is_a_block_line_with_its_reason_wrapped():
    skipped = [{"family": "os", "steps": 25, "reason": LONG_REASON}]
    lines = render(summary_of({"stream_icl": 0.4}, skipped=skipped), ONLINE)
    start = next(n for n, line in enumerate(lines) if line.startswith("os: skipped (25 steps): no container engine"))
    wrapped = [lines[start]] + [line for line in lines[start + 1 : start + 4] if line.startswith("  ")]
    assert " ".join(line.strip() for line in wrapped) == f"os: skipped (25 steps): {LONG_REASON}"
    _fits(lines)


def test_the_totals_count_solved_unsolved_and_errors():
    lines = render(summary_of(THREE), ONLINE)
    assert ("steps: 68 — 35 solved, 33 unsolved, 0 errors (endpoint or harness, never counted as answers)") in lines
    assert lines[-1] == "run directory: /tmp/runs/20261201-092255-f5c7b6"
    assert lines[0].startswith("NOTE: these numbers were produced by the deterministic REFERENCE MODEL")


def test_per_stream_rows_only_when_verbose():
    summary = summary_of(THREE)
    quiet, verbose = render(summary, ONLINE), render(summary, ONLINE, verbose=True)
    assert not any("conv-1" in line or "category" in line or "memory cost" in line for line in quiet)
    assert "per stream" in verbose
    start = verbose.index("stream_icl/locomo/conv-1: 0 errors, 17,830 tokens, 3.3s, backend in-process")
    assert verbose[start + 1].split() == ["n", "ASR", "AS", "judge", "F1", "BLEU", "CSR", "LG", "SL"]
    assert verbose[start + 2].split()[:3] == ["all", "30", "47.4%"]
    assert any(line.split()[:4] == ["category", "1", "6", "0.0%"] for line in verbose[start:])
    assert any(line.startswith("  memory cost (stream_icl): retrieval ×30: 0 LLM calls") for line in verbose[start:])
    assert verbose.index("per stream") < verbose.index("locomo: 2 streams per memory")  # the results come last


def test_the_closing_lines_wrap_long_texts_and_name_the_plots():
    class Gate:
        passed = False

        def describe(self):
            return "FAIL csr>=0.9 stream_icl on locomo: 0.4211 (n=57); " + "the minimum detectable drop " * 4

    class Outcome:
        gate_results = (Gate(),)
        comparison = None

    class Plot:
        def __init__(self, name):
            from pathlib import Path

            self.png = Path("/tmp/runs/x/plots") / f"{name}.png"

    lines = closing_lines(Outcome(), None, [Plot("csr"), Plot("repair")], None)
    texts = [text for text, _ in lines]
    assert texts[0].startswith("gate FAIL csr>=0.9") and texts[1].startswith("    ") and len(texts) >= 3
    assert all(colour == {"red": True, "green": False} for _, colour in lines[:2])
    assert "plots: csr.png, repair.png (and .svg) in /tmp/runs/x/plots" in texts
    _fits(texts)


def test_a_table_too_wide_is_split_into_tables_that_repeat_the_labels():
    labels = [Column("memory", ("zero_shot", "stream_icl"), "<")]
    columns = [Column(f"metric{n}", ("0.123456789", "0.2")) for n in range(8)]
    pair = (Column("value", ("1", "2")), Column("interval", ("[0, 1]", "[1, 2]"), "<"))
    lines = table(labels, [*columns[:5], pair, *columns[5:]], indent="  ")
    headers = [line for line in lines if line.startswith("  memory")]
    assert len(headers) == 2 and all(len(line) <= WIDTH for line in lines)
    assert all(line.split()[0] in ("memory", "zero_shot", "stream_icl") for line in lines)
    joined = [h for h in headers if "value" in h]
    assert len(joined) == 1 and "interval" in joined[0]  # a tuple of columns stays in one table
    widths = sorted(len(h) for h in headers)
    assert widths[1] - widths[0] <= len("  value  interval")  # as evenly wide as can be: not 99 and 40
    assert table(labels, columns[:2]) == ["memory          metric0      metric1",
                                          "zero_shot   0.123456789  0.123456789",
                                          "stream_icl          0.2          0.2"]  # fmt: skip


def test_wrapping_helpers_keep_the_width():
    words = ["ASR success rate", "AS turns per sample", "LG learning gain"] * 8
    lines = join_wrapped(words)
    assert all(len(line) <= WIDTH for line in lines) and " · ".join(lines).count("ASR success rate") == 8
    assert all(not line.startswith(" · ") and not line.endswith(" · ") for line in lines)
    assert wrap("a " * 80, indent="  ")[1].startswith("    a")


def test_numbers_print_in_the_units_of_their_metric():
    asr, rg, f1, as_ = (ONLINE.metric(n) for n in ("asr", "csr", "f1", "as"))
    assert difference_text(asr, 0.123) == "+12.3 pp" and difference_text(rg, -0.0004) == "+0.0 pp"
    assert difference_text(f1, -0.0004) == "+0.000" and difference_text(as_, 0.25) == "+0.25"
    assert [p_text(p) for p in (0.00001, 0.0012, 0.375, 1.0, None)] == ["<0.0001", "0.0012", "0.375", "1.000", ""]


def test_a_skip_reason_of_several_lines_keeps_its_lines_and_their_indentation():
    reason = "no container engine answered. Tried:\n  - unix:///var/run/docker.sock: no such socket\nGet one of: ..."
    lines = render(summary_of({"stream_icl": 0.4}, skipped=[{"family": "os", "steps": 25, "reason": reason}]), ONLINE)
    start = lines.index("os: skipped (25 steps): no container engine answered. Tried:")
    assert lines[start + 1 : start + 3] == ["    - unix:///var/run/docker.sock: no such socket", "  Get one of: ..."]
