"""Per-memory rows, paired differences and gates on aggregates through real runs (bundled LoCoMo, reference
model). Every number is recomputed here from the run's own steps.jsonl, by a path independent of the
summary code: counting the headline samples (online: the samples that use and update memory) and pairing them
by hand."""

import json

import pytest

from pytest_amb.metrics.intervals import wilson
from pytest_amb.metrics.paired import mcnemar_exact

BENCH = ["--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestAssertRewriteWarning", "--amb-task=locomo"]  # fmt: skip


def _run_dir(pytester):
    (run,) = sorted((pytester.path / "runs").iterdir())
    return run


def _headline(run) -> list[dict]:
    """The scored samples that use and update memory (online mode's headline samples), from the journal."""
    lines = (run / "steps.jsonl").read_text().splitlines()
    results = [json.loads(line) for line in lines if line.strip()]
    return [r for r in results if "step" in r and r["step"]["kind"] == "sample" and r["status"] != "error"
            and r["step"]["augment"] and r["step"]["update"]]  # fmt: skip


def _memory(result) -> str:
    return result["step"]["stream"].split("/", 1)[0]


def test_two_memories_three_seeds_one_row_each_and_their_paired_difference(pytester):
    result = pytester.runpytest_subprocess(
        *BENCH, "--amb-memory=zero_shot,stream_icl", "--amb-seed=66,67,68", "-n", "2",
        f"--amb-run-dir={pytester.path / 'runs'}", timeout=600,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    run = _run_dir(pytester)
    summary = json.loads((run / "summary.json").read_text())
    samples = _headline(run)

    rows = summary["memories"]
    assert [(r["family"], r["memory"]) for r in rows] == [("locomo", "zero_shot"), ("locomo", "stream_icl")]
    for row in rows:
        mine = [r for r in samples if _memory(r) == row["memory"]]
        solved = sum(bool(r["success"]) for r in mine)
        # 2 conversations (30 + 27 questions) × 3 seeds
        assert len(mine) == 57 * 3 == row["metrics"]["asr"]["n"] == row["metrics"]["f1"]["n"]
        assert len(row["streams"]) == 6 and row["samples"] == 171
        assert row["metrics"]["asr"] == {"value": pytest.approx(solved / 171), "ci95": wilson(solved, 171),
                                         "n": 171, "over": "samples"}  # fmt: skip
        assert row["metrics"]["csr"]["value"] == row["metrics"]["asr"]["value"]
        f1 = sum(r["metrics"]["f1"] for r in mine) / len(mine)
        assert row["metrics"]["f1"]["value"] == pytest.approx(f1)
        assert row["metrics"]["lg"]["n"] == 6 and row["metrics"]["lg"]["over"] == "streams"
        assert row["learned"] is True  # both keep the injected sessions

    # pair every question of a stream_icl stream with the same question of the zero_shot stream of that seed
    def outcomes(memory):
        return {(r["step"]["stream"].split("/", 1)[1], r["step"]["sample_id"]): bool(r["success"])
                for r in samples if _memory(r) == memory}  # fmt: skip

    reference, ours = outcomes("zero_shot"), outcomes("stream_icl")
    assert reference.keys() == ours.keys() and len(ours) == 171
    worse = sum(reference[k] and not ours[k] for k in ours)
    better = sum(ours[k] and not reference[k] for k in ours)
    differences = summary["differences"]
    assert differences["reference"] == "zero_shot"
    (row,) = differences["rows"]
    assert (row["family"], row["memory"], row["paired_streams"]) == ("locomo", "stream_icl", 6)
    asr = row["metrics"]["asr"]
    assert (asr["test"], asr["n"], asr["worse"], asr["better"]) == ("mcnemar", 171, worse, better)
    assert asr["difference"] == pytest.approx((better - worse) / 171)
    assert asr["p_value"] == pytest.approx(mcnemar_exact(worse, better))
    assert asr["ci95"][0] <= asr["difference"] <= asr["ci95"][1]
    assert row["metrics"]["f1"]["test"] == "bootstrap" and row["metrics"]["f1"]["n"] == 171
    assert row["metrics"]["lg"]["test"] == "bootstrap-streams" and row["metrics"]["lg"]["n"] == 6


def test_the_readme_gate_is_judged_per_memory(pytester):
    result = pytester.runpytest(*BENCH, "--amb-memory=stream_icl", "--amb-gate=csr>=0.40",
                                f"--amb-run-dir={pytester.path / 'runs'}")  # fmt: skip
    samples = _headline(_run_dir(pytester))
    solved = sum(bool(r["success"]) for r in samples)
    assert len(samples) == 57  # 30 + 27 questions
    low, high = wilson(solved, 57)
    line = f"gate PASS csr>=0.4 stream_icl on locomo: {solved / 57:.4f} [{low:.2f}, {high:.2f}] (n=57)"
    result.stdout.fnmatch_lines([line])
    assert result.ret == pytest.ExitCode.OK
    (gate,) = json.loads((_run_dir(pytester) / "summary.json").read_text())["gates"]
    assert (gate["scope"], gate["subject"], gate["stream"], gate["n"], gate["passed"]) == (
        "memory", "stream_icl on locomo", None, 57, True)  # fmt: skip


def test_the_same_gate_per_stream_on_request(pytester):
    result = pytester.runpytest(*BENCH, "--amb-memory=stream_icl", "--amb-gate=csr>=0.40", "--amb-gate-scope=stream",
                                f"--amb-run-dir={pytester.path / 'runs'}")  # fmt: skip
    samples = _headline(_run_dir(pytester))
    lines = []
    for conversation, n in (("amb-sample-1", 30), ("amb-sample-2", 27)):
        stream = f"stream_icl/locomo/{conversation}"
        solved = sum(bool(r["success"]) for r in samples if r["step"]["stream"] == stream)
        low, high = wilson(solved, n)
        verdict = "PASS" if solved / n >= 0.4 else "FAIL"
        lines.append(f"gate {verdict} csr>=0.4 {stream}: {solved / n:.4f} [{low:.2f}, {high:.2f}] (n={n})")
    assert lines[0].startswith("gate FAIL")  # 11 of 30 (the 0.3667): the per-stream gate fails
    result.stdout.fnmatch_lines(lines)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    gates = json.loads((_run_dir(pytester) / "summary.json").read_text())["gates"]
    assert [(g["scope"], g["stream"], g["passed"]) for g in gates] == [
        ("stream", "stream_icl/locomo/amb-sample-1", False), ("stream", "stream_icl/locomo/amb-sample-2", True)]  # fmt: skip
