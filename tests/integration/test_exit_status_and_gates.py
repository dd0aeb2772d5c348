"""The exit status, defined once: 0 when the run completed and every gate holds (wrong answers are
results, not failures of the run); 1 for a failed gate, an ERROR step or a failing non-benchmark test;
4 for a usage error (a malformed gate included)."""

import json

import pytest

BENCH = ["--pyargs", "taskcases.dbbench.test_dbbench", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestAssertRewriteWarning", "--amb-task=dbbench", "--amb-memory=zero_shot"]  # fmt: skip


def _run(pytester, *args):
    return pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'runs'}", *args)


def _summary(pytester):
    (run,) = sorted((pytester.path / "runs").iterdir())
    return json.loads((run / "summary.json").read_text())


def test_wrong_answers_alone_do_not_fail_the_run(pytester):
    result = _run(pytester)
    assert result.parseoutcomes()["unsolved"] > 0  # the agent got samples wrong: reported, and...
    assert "failed" not in result.parseoutcomes() and "Traceback" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.OK  # ...the run itself succeeded


def test_a_failed_gate_fails_the_run_and_names_the_numbers(pytester):
    result = _run(pytester, "--amb-gate", "asr>=0.9", "--amb-gate", "csr>=0.1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["gate FAIL asr>=0.9 zero_shot on dbbench: 0.4872 [0.34, 0.64] (n=39)",
         "gate PASS csr>=0.1 zero_shot on dbbench: 0.4872 [0.34, 0.64] (n=39)",
         "amb: a quality gate failed; the run fails"]
    )  # fmt: skip
    gates = _summary(pytester)["gates"]
    assert [(g["gate"], g["passed"]) for g in gates] == [("asr>=0.9", False), ("csr>=0.1", True)]


def test_passing_gates_keep_the_run_green(pytester):
    assert _run(pytester, "--amb-gate", "csr>=0.4", "--amb-gate", "sl<=0.9").ret == pytest.ExitCode.OK


def test_a_gate_on_a_metric_no_stream_has_fails(pytester):
    result = _run(pytester, "--amb-gate", "judge_accuracy>=0.1")  # dbbench has no judge
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["gate FAIL judge_accuracy>=0.1 (all memories): not measured in any stream"])


def test_an_error_step_fails_the_run(pytester):
    # an unreachable SQL server: every step is an infrastructure ERROR
    result = _run(pytester, "--amb-limit=2", "--amb-db-url=mysql://root@127.0.0.1:9")
    assert result.parseoutcomes().get("errors") == 2
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_malformed_gate_is_a_usage_error(pytester):
    result = _run(pytester, "--amb-gate", "csr=>0.1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--amb-gate 'csr=>0.1': expected METRIC OP NUMBER such as 'csr>=0.40'*"])


def test_junit_xml_carries_the_step_properties(pytester):
    import xml.etree.ElementTree as ET

    xml = pytester.path / "amb.xml"
    _run(pytester, "--amb-limit=3", f"--junitxml={xml}")
    cases = ET.parse(xml).getroot().iter("testcase")
    properties = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert len(properties) == 3
    assert all(p["amb_task"] == "dbbench" and p["amb_phase"] == "online" and "amb_reward" in p for p in properties)
    assert {p["amb_memory_op"] for p in properties} == {"augment+update"}
