"""Baselines like pytest-benchmark: ``--amb-save-baseline`` records a run; ``--amb-compare`` with
``--amb-max-drop`` fails the run only when a metric got worse by more than allowed AND, for per-sample
pass/fail metrics, the paired drop is significant (McNemar's exact test); each memory is compared over all
its streams unless ``--amb-gate-scope=stream``; incomparable baselines are refused. Runs are real (LoCoMo bundled samples, reference model): different memories give different
answers, and awm_pro keeps nothing from conversations, so its judge accuracy collapses."""

import json

import pytest

BENCH = ["--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestAssertRewriteWarning", "--amb-task=locomo"]  # fmt: skip


def _run(pytester, memory, *args):
    return pytester.runpytest(
        *BENCH, f"--amb-memory={memory}", f"--amb-run-dir={pytester.path / 'runs'}",
        f"--amb-baseline-dir={pytester.path / 'baselines'}", *args,
    )  # fmt: skip


@pytest.fixture
def saved(pytester):
    result = _run(pytester, "stream_icl", "--amb-save-baseline=main")
    assert result.ret == pytest.ExitCode.OK
    return json.loads((pytester.path / "baselines" / "main.json").read_text())


def test_a_saved_baseline_records_what_makes_runs_comparable(saved):
    assert saved["schema"] == "pytest-amb/baseline"
    assert saved["model"] == "reference" and saved["memories"] == ["stream_icl"]
    assert saved["recipe"]["mode"] == "online" and saved["recipe"]["tasks"] == ["locomo"]
    assert [d["task"] for d in saved["data"]] == ["locomo"] * len(saved["data"]) and len(saved["data_hash"]) == 16
    assert "commit" in saved and saved["summary"]["streams"]
    samples = saved["samples"]["stream_icl/locomo/amb-sample-1"]
    assert len(samples) == 30 and all(set(o) == {"success", "judge"} for o in samples.values())
    values = saved["sample_values"]["stream_icl/locomo/amb-sample-1"]
    assert values.keys() == samples.keys() and all(set(v) == {"as", "f1", "bleu"} for v in values.values())


def _said(result) -> str:
    """The terminal output with runs of whitespace made one space (long lines may be wrapped)."""
    return " ".join(result.stdout.str().split())


def _comparison(pytester, memory):
    """The comparison of the latest run of ``memory``."""
    runs = [p for p in sorted((pytester.path / "runs").iterdir()) if memory in (p / "steps.jsonl").read_text()[:4000]]
    return json.loads((runs[-1] / "summary.json").read_text())["comparison"]


def test_same_memory_passes_and_a_collapsed_memory_fails_the_gate(pytester, saved):
    # per memory: stream_icl solves 11 of 30 + 13 of 27 = 24 of 57 questions of the two conversations
    same = _run(pytester, "stream_icl", "--amb-compare=main", "--amb-max-drop=judge_accuracy=0.03")
    assert same.ret == pytest.ExitCode.OK
    assert ("baseline main: PASS judge_accuracy max drop 0.03 stream_icl on locomo: 0.4211 -> 0.4211 (worse by "
            "+0.0000); McNemar exact p=1 (not significant, treated as noise at alpha 0.05; 0 pass->fail, 0 fail->pass "
            "of 57 paired samples)") in _said(same)  # fmt: skip
    # 6 discordant pairs all one way are the fewest McNemar can call significant at 0.05 (2·0.5^6 < 0.05)
    assert ("warning: with 57 paired samples the smallest drop McNemar can detect at alpha 0.05 is 0.105 (6 of 57): "
            "a drop above the allowed 0.03 but below 0.105 cannot fail") in _said(same)  # fmt: skip

    # awm_pro keeps nothing from conversations: all 24 solved questions now fail, p = 2·0.5^24
    collapsed = _run(pytester, "awm_pro", "--amb-compare=main", "--amb-max-drop=judge_accuracy=0.03")
    assert collapsed.ret == pytest.ExitCode.TESTS_FAILED
    assert ("baseline main: FAIL judge_accuracy max drop 0.03 awm_pro on locomo: 0.4211 -> 0.0000 (worse by "
            "+0.4211); McNemar exact p=1.192e-07 (significant at alpha 0.05; 24 pass->fail, 0 fail->pass of 57 paired "
            "samples)") in _said(collapsed)  # fmt: skip
    collapsed.stdout.fnmatch_lines(["amb: worse than baseline main; the run fails"])
    comparison = _comparison(pytester, "awm")
    assert comparison["baseline"] == "main" and comparison["passed"] is False
    (result,) = comparison["results"]
    assert (result["scope"], result["subject"], result["memory"], result["family"], result["stream"]) == (
        "memory", "awm_pro on locomo", "awm_pro", "locomo", None)  # fmt: skip
    assert result["baseline_streams"] == ["stream_icl/locomo/amb-sample-1", "stream_icl/locomo/amb-sample-2"]
    assert (result["pairs"], result["worse"], result["better"]) == (57, 24, 0)
    assert result["p_value"] == pytest.approx(2 * 0.5**24) and result["min_detectable_drop"] == pytest.approx(6 / 57)


def test_per_stream_on_request(pytester, saved):
    collapsed = _run(pytester, "awm_pro", "--amb-compare=main", "--amb-max-drop=judge_accuracy=0.03",
                     "--amb-gate-scope=stream")  # fmt: skip
    assert collapsed.ret == pytest.ExitCode.TESTS_FAILED
    # conversation 1: the 11 solved questions of 30 all fail now, p = 2·0.5^11 = 0.0009766
    assert ("baseline main: FAIL judge_accuracy max drop 0.03 awm_pro/locomo/amb-sample-1: 0.3667 -> 0.0000 (worse "
            "by +0.3667); McNemar exact p=0.0009766 (significant at alpha 0.05; 11 pass->fail, 0 fail->pass of 30 "
            "paired samples)") in _said(collapsed)  # fmt: skip
    results = _comparison(pytester, "awm")["results"]
    assert [(r["scope"], r["stream"], r["baseline_stream"], r["pairs"]) for r in results] == [
        ("stream", "awm_pro/locomo/amb-sample-1", "stream_icl/locomo/amb-sample-1", 30),
        ("stream", "awm_pro/locomo/amb-sample-2", "stream_icl/locomo/amb-sample-2", 27)]  # fmt: skip


def test_a_drop_that_is_not_significant_does_not_fail_ci_and_says_what_n_can_detect(pytester, saved):
    # per stream, conversation 1: 0.3667 -> 0.2667 (4 pass->fail, 1 fail->pass: p = 2·6/32 = 0.375); a 10-point
    # drop passes as noise, and the result says that with 30 pairs no drop below 6/30 = 0.2 can fail
    noisy = _run(pytester, "mem0", "--amb-compare=main", "--amb-max-drop=csr=0.03,judge_accuracy=0.03",
                 "--amb-gate-scope=stream")  # fmt: skip
    assert noisy.ret == pytest.ExitCode.OK
    assert ("baseline main: PASS csr max drop 0.03 mem0/locomo/amb-sample-1: 0.3667 -> 0.2667 (worse by +0.1000); "
            "McNemar exact p=0.375 (not significant, treated as noise at alpha 0.05; 4 pass->fail, 1 fail->pass of 30 "
            "paired samples); warning: with 30 paired samples the smallest drop McNemar can detect at alpha 0.05 is "
            "0.200 (6 of 30): a drop above the allowed 0.03 but below 0.200 cannot fail") in _said(noisy)  # fmt: skip
    # per memory (the default): 57 pairs, still no significant drop, and the smallest detectable one is 6/57
    pooled = _run(pytester, "mem0", "--amb-compare=main", "--amb-max-drop=csr=0.03")
    assert pooled.ret == pytest.ExitCode.OK
    (result,) = [r for r in _comparison(pytester, "mem0")["results"] if r["scope"] == "memory"]
    assert result["pairs"] == 57 and result["worsening"] > 0.03 and result["p_value"] >= 0.05 and result["passed"]
    assert result["min_detectable_drop"] == pytest.approx(6 / 57) and "6 of 57" in result["warning"]


def test_a_baseline_of_another_model_or_recipe_is_refused(pytester, saved):
    oracle = _run(pytester, "stream_icl", "--amb-model=oracle", "--amb-compare=main", "--amb-max-drop=csr=0.03")
    assert oracle.ret == pytest.ExitCode.USAGE_ERROR
    oracle.stderr.fnmatch_lines([("*--amb-compare main: refused, the baseline * does not match this run: "
                                 "model: baseline 'reference', this run 'oracle'*")])  # fmt: skip
    other_seed = _run(pytester, "stream_icl", "--amb-seed=7", "--amb-compare=main", "--amb-max-drop=csr=0.03")
    assert other_seed.ret == pytest.ExitCode.USAGE_ERROR
    assert "refused, the baseline" in other_seed.stderr.str()
    assert "seeds: baseline [66], this run [7]" in other_seed.stderr.str()


def test_baseline_options_are_checked(pytester):
    missing = _run(pytester, "stream_icl", "--amb-compare=nope", "--amb-max-drop=csr=0.03")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines([("*--amb-compare nope: * does not exist (none is saved yet); record one with "
                                  "--amb-save-baseline nope*")])  # fmt: skip
    unknown = _run(pytester, "stream_icl", "--amb-compare=x", "--amb-max-drop=tokens=5")
    unknown.stderr.fnmatch_lines(["*--amb-max-drop 'tokens=5': metric 'tokens' is not comparable; accepted: csr,*"])
    alone = _run(pytester, "stream_icl", "--amb-max-drop=csr=0.03")
    alone.stderr.fnmatch_lines(["*--amb-max-drop needs --amb-compare NAME*"])
