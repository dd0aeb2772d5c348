"""Baselines like pytest-benchmark: ``--amb-save-baseline`` records a run; ``--amb-compare`` with
``--amb-max-drop`` fails the run only when a metric got worse by more than allowed AND, for per-sample
pass/fail metrics, the paired drop is significant (McNemar's exact test); incomparable baselines are
refused. Runs are real (LoCoMo bundled samples, reference model): different memories give different
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


def test_same_memory_passes_and_a_collapsed_memory_fails_the_gate(pytester, saved):
    same = _run(pytester, "stream_icl", "--amb-compare=main", "--amb-max-drop=judge_accuracy=0.03")
    assert same.ret == pytest.ExitCode.OK
    same.stdout.fnmatch_lines([("baseline main: PASS judge_accuracy max drop 0.03 stream_icl/locomo/amb-sample-1: "
                               "0.3667 -> 0.3667 (worse by +0.0000); McNemar exact p=1 *")])  # fmt: skip

    collapsed = _run(pytester, "awm_pro", "--amb-compare=main", "--amb-max-drop=judge_accuracy=0.03")
    assert collapsed.ret == pytest.ExitCode.TESTS_FAILED
    collapsed.stdout.fnmatch_lines([
        ("baseline main: FAIL judge_accuracy max drop 0.03 awm_pro/locomo/amb-sample-1: 0.3667 -> 0.0000 "
        "(worse by +0.3667); McNemar exact p=0.0009766 (significant at alpha 0.05; 11 pass->fail, 0 fail->pass of "
        "30 paired samples)"),
        "amb: worse than baseline main; the run fails",
    ])  # fmt: skip
    (run,) = [p for p in sorted((pytester.path / "runs").iterdir()) if "awm" in (p / "steps.jsonl").read_text()[:4000]]
    comparison = json.loads((run / "summary.json").read_text())["comparison"]
    assert comparison["baseline"] == "main" and comparison["passed"] is False


def test_a_drop_that_is_not_significant_does_not_fail_ci(pytester, saved):
    noisy = _run(pytester, "mem0", "--amb-compare=main", "--amb-max-drop=csr=0.03,judge_accuracy=0.03")
    assert noisy.ret == pytest.ExitCode.OK
    noisy.stdout.fnmatch_lines([("baseline main: PASS csr max drop 0.03 mem0/locomo/amb-sample-1: 0.3667 -> 0.2667 "
                                "(worse by +0.1000); McNemar exact p=* (not significant, treated as noise *")])  # fmt: skip


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
