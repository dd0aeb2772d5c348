"""--amb-compare on aggregates: each memory pooled over its streams against the baseline's matching streams
pooled the same way (McNemar on every paired sample), per stream on request, and the warning when too few
paired samples can never show the allowed drop. Hand-built runs; the arithmetic is next to each case."""

from __future__ import annotations

import pytest

from pytest_amb.baseline import DropResult, compare, sample_outcomes, sample_values
from pytest_amb.metrics.core import CURVES, SUCCESS
from pytest_amb.metrics.table import merge
from pytest_amb.report.summary import summarize
from taskcases.locomo.metrics import QA

TABLE = merge((SUCCESS,), (QA,), (CURVES,))
# per seed, the outcomes of questions q1..q4 and their F1 (the same in both seeds)
SOLVED = {"good": {1: [1, 0, 1, 1], 2: [1, 1, 1, 0]}, "weak": {1: [1, 1, 0, 0], 2: [1, 0, 0, 0]}}
F1 = {"good": [0.5, 0.0, 1.0, 1.0], "weak": [0.5, 0.5, 0.0, 0.0]}


def _results(memory: str, seeds=(1, 2)) -> list[dict]:
    out = []
    for seed in seeds:
        for q, solved in enumerate(SOLVED[memory][seed], start=1):
            f1 = F1[memory][q - 1]
            out.append({
                "step": {"stream": f"{memory}/fam/x/seed{seed}", "position": q, "task": "fam/x", "kind": "sample",
                         "sample_id": f"q{q}", "phase": "online", "augment": True, "update": True, "stage": 0},
                "status": "passed" if solved else "failed", "success": bool(solved), "reward": float(solved),
                "metrics": {"judge": float(solved), "f1": f1, "bleu": f1, "category": 1},
                "transcript": [{"role": "assistant"}], "llm_calls": [], "wall_s": 0.1,
                "provenance": {"memory": memory}, "memory_cost": {}, "update": {"stored": True},
            })  # fmt: skip
    return out


def _baseline(memory: str, seeds=(1, 2), with_values=True) -> dict:
    results = _results(memory, seeds)
    baseline = {"summary": summarize(results, {"config": {"memories": [memory]}}, TABLE),
                "samples": sample_outcomes(results, TABLE)}  # fmt: skip
    if with_values:
        baseline["sample_values"] = sample_values(results, TABLE)
    return baseline


def _compare(baseline: dict, memory: str, drops, scope="memory"):
    results = _results(memory)
    summary = summarize(results, {"config": {"memories": [memory]}}, TABLE)
    return compare("main", baseline, summary, results, drops, 0.05, TABLE, scope=scope)


def test_a_memory_is_compared_pooled_over_its_streams():
    # baseline "good": 6 of 8 solved; this run "weak": 3 of 8. Paired on all 8 questions: 4 went pass -> fail
    # (s1 q3, q4; s2 q2, q3), 1 fail -> pass (s1 q2): McNemar p = 2·P[Binomial(5, 1/2) <= 1] = 2·6/32 = 0.375.
    # 8 pairs: the smallest drop that can be significant is 6/8 = 0.75
    (asr,) = _compare(_baseline("good"), "weak", [("asr", 0.1)]).results
    assert (asr.baseline, asr.current, asr.worsening) == (0.75, 0.375, 0.375)
    assert (asr.pairs, asr.worse, asr.better, asr.p_value) == (8, 4, 1, pytest.approx(0.375))
    assert asr.passed and asr.min_detectable_drop == 0.75
    assert asr.describe() == (
        "PASS asr max drop 0.1 weak on fam: 0.7500 -> 0.3750 (worse by +0.3750); McNemar exact p=0.375 (not "
        "significant, treated as noise at alpha 0.05; 4 pass->fail, 1 fail->pass of 8 paired samples); warning: "
        "with 8 paired samples the smallest drop McNemar can detect at alpha 0.05 is 0.750 (6 of 8): a drop above "
        "the allowed 0.1 but below 0.750 cannot fail"
    )
    entry = asr.to_json()
    assert (entry["scope"], entry["subject"], entry["memory"], entry["family"], entry["stream"]) == (
        "memory", "weak on fam", "weak", "fam", None)  # fmt: skip
    assert entry["streams"] == ["weak/fam/x/seed1", "weak/fam/x/seed2"]
    assert entry["baseline_streams"] == ["good/fam/x/seed1", "good/fam/x/seed2"]
    assert entry["min_detectable_drop"] == 0.75 and entry["warning"].startswith("with 8 paired samples")


def test_per_sample_means_and_stream_values_are_pooled_like_the_rows():
    # F1 per question, both seeds: good (0.5 + 0 + 1 + 1)/4 = 0.625, weak (0.5 + 0.5 + 0 + 0)/4 = 0.25;
    # no significance test for a mean: a drop of 0.375 > 0.1 fails
    f1, lg = _compare(_baseline("good"), "weak", [("f1", 0.1), ("sl", 1.0)]).results
    assert (f1.baseline, f1.current, f1.p_value, f1.passed) == (0.625, 0.25, None, False)
    assert f1.warning is None and f1.min_detectable_drop is None
    assert f1.describe() == "FAIL f1 max drop 0.1 weak on fam: 0.6250 -> 0.2500 (worse by +0.3750)"
    # a baseline saved before per-sample values were stored: the mean of the streams' values on both sides
    (old,) = _compare(_baseline("good", with_values=False), "weak", [("f1", 0.1)]).results
    assert (old.baseline, old.current) == (0.625, 0.25)
    # SL (lower is better) is a value of a whole stream: the mean over the two streams of each side
    good, weak = (summarize(_results(m), {}, TABLE)["streams"] for m in ("good", "weak"))
    assert lg.baseline == pytest.approx(sum(s["metrics"]["sl"] for s in good) / 2)
    assert lg.current == pytest.approx(sum(s["metrics"]["sl"] for s in weak) / 2)
    assert lg.worsening == pytest.approx(lg.current - lg.baseline)


def test_each_stream_on_request():
    # seed 1: good 3 of 4 -> weak 2 of 4; 4 pairs: 2 pass -> fail, 1 fail -> pass, p = 2·P[Bin(3) <= 1] = 1
    first, second = _compare(_baseline("good"), "weak", [("asr", 0.1)], scope="stream").results
    assert (first.subject, first.stream, first.baseline_streams) == ("weak/fam/x/seed1", "weak/fam/x/seed1",
                                                                      ("good/fam/x/seed1",))  # fmt: skip
    assert (first.pairs, first.worse, first.better, first.p_value) == (4, 2, 1, 1.0)
    assert first.describe().endswith(
        "; warning: with 4 paired samples no drop can be significant at alpha 0.05 (McNemar needs at least 6 "
        "discordant pairs): this comparison cannot fail"
    )
    assert first.to_json()["baseline_stream"] == "good/fam/x/seed1"
    assert second.subject == "weak/fam/x/seed2" and second.passed


def test_streams_without_a_match():
    # the baseline has seed 1 only: the memory is compared on seed 1 and says one stream had no match
    (asr,) = _compare(_baseline("good", seeds=(1,)), "weak", [("asr", 0.5)]).results
    assert (asr.baseline, asr.current, asr.unmatched) == (0.75, 0.5, 1)
    assert asr.describe().endswith("; 1 of 2 streams have no match in the baseline; warning: with 4 paired "
                                   "samples no drop can be significant at alpha 0.05 (McNemar needs at least 6 "
                                   "discordant pairs): this comparison cannot fail")  # fmt: skip
    nothing = DropResult("asr", "weak on other", 0.1)
    assert (
        not nothing.passed
        and nothing.describe() == "FAIL asr max drop 0.1 weak on other: no stream of the baseline matches"
    )


@pytest.mark.parametrize(
    ("pairs", "allowed", "warned"),
    [(30, 0.1, True), (30, 0.2, False), (60, 0.1, False), (100, 0.03, True), (5, 0.5, True)],
)
def test_the_warning_appears_exactly_when_the_allowed_drop_is_below_the_detectable_one(pairs, allowed, warned):
    # 6 discordant pairs are needed at alpha 0.05: 6/30 = 0.2, 6/60 = 0.1, 6/100 = 0.06; 5 pairs: never
    result = DropResult("asr", "m on f", allowed, baseline_streams=("b",), streams=("s",), baseline=0.5,
                        current=0.5, p_value=1.0, pairs=pairs)  # fmt: skip
    assert (result.warning is not None) is warned
    if pairs == 30 and warned:
        assert result.warning == ("with 30 paired samples the smallest drop McNemar can detect at alpha 0.05 is "
                                  "0.200 (6 of 30): a drop above the allowed 0.1 but below 0.200 cannot fail")  # fmt: skip
