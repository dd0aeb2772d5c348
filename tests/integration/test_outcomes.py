"""Wrong answers are results: UNSOLVED (no traceback, not a failure), explained in one line each before the
results, which come last; JUnit that CI can trust (0 failures for wrong answers, one failure per failed gate,
the headline metrics as properties); --amb-fail-unsolved for those who gate per sample; skipped tasks in the
results with their reason. Real runs through pytester, serial and under xdist."""

import json
import re
import xml.etree.ElementTree as ET

import pytest

QUIET = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
LOCOMO = ["--pyargs", "taskcases.locomo.test_locomo", *QUIET]
DBBENCH = ["--pyargs", "taskcases.dbbench.test_dbbench", *QUIET, "--amb-task=dbbench", "--amb-memory=zero_shot"]
OS = ["--pyargs", "taskcases.os_interaction.test_os", *QUIET, "--amb-task=os", "--amb-memory=zero_shot"]
NO_TRACEBACK = ("Traceback", "assert False", "where False", "AssertionError")


def _run(pytester, bench, *args):
    return pytester.runpytest(*bench, f"--amb-run-dir={pytester.path / 'runs'}", *args)


def _summary(pytester) -> dict:
    (run,) = sorted((pytester.path / "runs").iterdir())
    return json.loads((run / "summary.json").read_text())


def _suite(path):
    return ET.parse(path).getroot().find("testsuite")


def _properties(suite) -> dict:
    return {p.get("name"): p.get("value") for p in suite.find("properties").iter("property")}


def _index(lines, pattern) -> int:
    return next(i for i, line in enumerate(lines) if re.search(pattern, line))


def test_the_main_job_reports_wrong_answers_as_unsolved_and_ends_with_the_results(pytester):
    xml = pytester.path / "junit.xml"
    result = _run(pytester, LOCOMO, "--amb-mode=online", "--amb-memory=stream_icl", "-rA", f"--junitxml={xml}")
    text = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, text[-3000:]
    assert not [marker for marker in NO_TRACEBACK if marker in text], text[-3000:]
    outcomes = result.parseoutcomes()
    steps = [json.loads(line) for line in next((pytester.path / "runs").iterdir()).joinpath("steps.jsonl").open()]
    wrong = [s for s in steps if s["status"] == "failed"]
    assert "failed" not in outcomes and outcomes["passed"] == 11  # the session injections
    assert outcomes["unsolved"] == len(wrong) > 10 and outcomes["solved"] == 68 - 11 - len(wrong)
    lines = result.outlines
    assert re.fullmatch(r"=+ 11 passed, .*\d+ solved, \d+ unsolved in .*=+", lines[-1]), lines[-1]
    # pytest's short summary, then the unsolved samples in one line each, then the results, then the final line
    short, section, results = (_index(lines, "short test summary info"), _index(lines, r"^=+ unsolved: "),
                               _index(lines, r"^=+ AgentMemoryBench =+$"))  # fmt: skip
    assert short < section < results < len(lines) - 1
    listed = lines[section + 1 : section + 12]
    assert [line.split(": ", 1)[0] for line in listed[:10]] == [s["step"]["id"] for s in wrong[:10]]
    assert all(" | gold: " in line or line.endswith("…") for line in listed[:10])
    assert listed[10] == f"… and {len(wrong) - 10} more (all with -v; every one in steps.jsonl and the HTML report)"
    assert not [line for line in lines[results:] if line.startswith(("PASSED", "FAILED"))]

    suite = _suite(xml)
    assert (suite.get("failures"), suite.get("errors"), suite.get("tests")) == ("0", "0", "68")
    properties = _properties(suite)
    summary = _summary(pytester)
    assert properties["amb.run_id"] == summary["run_id"] and properties["amb.partial"] == "false"
    (row,) = summary["memories"]
    assert properties["amb.stream_icl.locomo.asr"] == f"{row['metrics']['asr']['value']:.4f}"
    case_outcomes = [
        {p.get("name"): p.get("value") for p in case.iter("property")}.get("amb_outcome")
        for case in suite.iter("testcase")
    ]
    assert case_outcomes.count("unsolved") == len(wrong) and case_outcomes.count(None) == 11


def test_a_failed_gate_is_the_one_junit_failure_and_fails_the_run(pytester):
    xml = pytester.path / "junit.xml"
    result = _run(pytester, DBBENCH, "--amb-gate", "asr>=0.9", "--amb-gate", "csr>=0.1", f"--junitxml={xml}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes()["unsolved"] > 0
    suite = _suite(xml)
    assert (suite.get("failures"), suite.get("errors")) == ("1", "0")
    gates = [case for case in suite.iter("testcase") if case.get("classname") == "amb.gates"]
    assert [g.get("name").split()[0] for g in gates] == ["asr>=0.9", "csr>=0.1"]
    (failure,) = [f for case in suite.iter("testcase") for f in case.iter("failure")]
    assert gates[0].find("failure") is failure and failure.get("message").startswith("FAIL asr>=0.9 ")
    properties = _properties(suite)
    assert properties["amb.gate.1"] == failure.get("message") and properties["amb.gate.2"].startswith("PASS csr>=0.1 ")


def test_error_steps_are_junit_errors(pytester):
    xml = pytester.path / "junit.xml"
    result = _run(pytester, DBBENCH, "--amb-limit=2", "--amb-db-url=mysql://root@127.0.0.1:9", f"--junitxml={xml}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED and result.parseoutcomes()["errors"] == 2
    suite = _suite(xml)
    assert (suite.get("failures"), suite.get("errors")) == ("0", "2")


@pytest.mark.parametrize("workers", ["0", "2"])
def test_fail_unsolved_makes_wrong_answers_failed_tests_without_a_traceback(pytester, workers):
    xml = pytester.path / "junit.xml"
    result = _run(pytester, LOCOMO, "--amb-memory=zero_shot", "--amb-limit=6", "--amb-fail-unsolved=true",
                  "-n", workers, f"--junitxml={xml}")  # fmt: skip
    text = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    wrong = [s for s in _steps(pytester) if s["status"] == "failed"]
    assert outcomes["failed"] == len(wrong) > 0 and "unsolved" not in outcomes and "errors" not in outcomes
    assert not [marker for marker in NO_TRACEBACK if marker in text], text[-3000:]
    result.stdout.fnmatch_lines(["*_ test_locomo[[]*-qa-*[]] _*",  # the failure, and its message: no traceback
                                 "unsolved (the agent's answer is wrong): question: * | gold: * | predicted: * | judge: *",
                                 "*_ test_locomo[[]*-qa-*[]] _*"])  # fmt: skip
    messages = [f.get("message") for f in _suite(xml).iter("failure")]
    assert len(messages) == len(wrong)
    for message in messages:
        assert re.match(r"unsolved \(the agent's answer is wrong\): question: .+ \| gold: .+ \| predicted: .*judge:",
                        message), message  # fmt: skip
    # the same run without the option: a green run
    again = _run(pytester, LOCOMO, "--amb-memory=zero_shot", "--amb-limit=6", "-n", workers)
    assert again.ret == pytest.ExitCode.OK and again.parseoutcomes()["unsolved"] == len(wrong)


def test_wrong_answers_are_unsolved_under_xdist_and_all_are_listed_with_v(pytester):
    xml = pytester.path / "junit.xml"
    result = _run(pytester, DBBENCH, "-n", "2", "-v", f"--junitxml={xml}")
    assert result.ret == pytest.ExitCode.OK
    wrong = sorted((s for s in _steps(pytester) if s["status"] == "failed"), key=lambda s: s["step"]["position"])
    assert result.parseoutcomes() == {"solved": 39 - len(wrong), "unsolved": len(wrong)}
    assert len([line for line in result.outlines if re.match(r"\[gw\d\] .* UNSOLVED ", line)]) == len(wrong)
    section = _index(result.outlines, r"^=+ unsolved: ")
    listed = [line.split(": ", 1)[0] for line in result.outlines[section + 1 : section + 1 + len(wrong)]]
    assert listed == [s["step"]["id"] for s in wrong]  # in plan order, every one
    assert _suite(xml).get("failures") == "0"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_task_skipped_for_want_of_a_container_engine_is_in_the_results_with_its_reason(
    pytester, monkeypatch, tmp_path, workers
):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    missing = f"unix://{tmp_path}/no-engine.sock"
    result = _run(pytester, OS, "--amb-limit=2", f"--amb-container-engine={missing}", "-n", workers)
    assert result.ret == pytest.ExitCode.OK
    assert result.parseoutcomes() == {"skipped": 2}
    (skipped,) = _summary(pytester)["skipped"]
    assert skipped["family"] == "os" and skipped["steps"] == 2
    assert "no container engine answered" in skipped["reason"] and f"{missing}: no such socket" in skipped["reason"]
    results = _index(result.outlines, r"^=+ AgentMemoryBench =+$")
    shown = " ".join(" ".join(result.outlines[results:]).split())  # the results, without -rs
    assert "os" in shown and "no container engine answered" in shown and "Get one of:" in shown


def _steps(pytester) -> list[dict]:
    (run,) = sorted((pytester.path / "runs").iterdir())
    return [json.loads(line) for line in (run / "steps.jsonl").read_text().splitlines()]
