"""A memory whose own LLM calls fail is an ERROR, never a result (issue 14, item 5): when a memory's update
fails (its endpoint is down, or answers junk after a retry), that step is an infrastructure ERROR and so is
every later step of the stream that depends on the memory; nothing is scored on the memory it failed to
build. The memory's calls go to a fault-injecting endpoint on loopback; the agent's calls succeed."""

import pytest

from pytest_amb.journal import read_steps
from tests.support.faulty_reference import JUNK, OUTAGE, FaultSwitch

MODULES = {"dbbench": "taskcases.dbbench.test_dbbench", "locomo": "taskcases.locomo.test_locomo"}


def _run(pytester, endpoint, task, *args, plugins=()):
    return pytester.runpytest(
        "--pyargs", MODULES[task], "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
        f"--amb-run-dir={pytester.path / 'runs'}", f"--amb-task={task}", "--amb-model=faulty",
        f"--amb-base-url={endpoint.base_url}", *args, plugins=list(plugins),
    )  # fmt: skip


def _steps(pytester):
    (run,) = list((pytester.path / "runs").iterdir())
    return sorted(read_steps(run), key=lambda s: (s["step"]["stream"], s["step"]["position"]))


@pytest.mark.parametrize("kind", [OUTAGE, JUNK])
def test_a_failing_mem0_makes_its_injections_and_the_questions_after_them_errors(pytester, endpoint, kind):
    switch = FaultSwitch(endpoint, ["[mem0/"], kind=kind, applies=lambda operation: operation.startswith("mem0."))
    result = _run(pytester, endpoint, "locomo", "--amb-memory=mem0", "--amb-limit=4", plugins=[switch])
    assert endpoint.failed > 0
    steps = _steps(pytester)
    assert len(steps) == 8 and {s["status"] for s in steps} == {"error"}  # not one answer scored
    assert {s["error"]["kind"] for s in steps} == {"infrastructure"}
    injections = [s for s in steps if s["step"]["kind"] == "inject"]
    assert {s["error"]["type"] for s in injections} <= {"LLMError", "MemoryAnswerError"}
    questions = [s for s in steps if s["step"]["kind"] == "sample"]
    for question in questions:
        assert question["error"]["type"] == "MemoryBroken"
        assert f"{question['step']['stream']}/0000-session-1" in question["error"]["message"]
    result.stdout.fnmatch_lines(["*infrastructure error (MemoryBroken): step mem0/locomo/amb-sample-1/0001-*"])
    assert not {"failed", "solved", "unsolved"} & result.parseoutcomes().keys()  # not one answer scored


def test_the_same_stream_with_a_healthy_memory_endpoint_answers_its_questions(pytester, endpoint):
    _run(pytester, endpoint, "locomo", "--amb-memory=mem0", "--amb-limit=4")
    assert endpoint.failed == 0
    assert {s["status"] for s in _steps(pytester)} <= {"passed", "failed"}


def test_junk_from_the_workflow_memory_is_an_error_from_its_first_write_on(pytester, endpoint):
    switch = FaultSwitch(endpoint, ["[awm_pro/"], kind=JUNK, applies=lambda operation: operation.startswith("awm."))
    _run(pytester, endpoint, "dbbench", "--amb-memory=awm_pro", "--amb-limit=12", plugins=[switch])
    steps = _steps(pytester)
    first = next(i for i, s in enumerate(steps) if s["status"] == "error")
    assert steps[first]["success"] is True  # the first solved sample: awm_pro writes only successes
    assert steps[first]["error"]["type"] == "MemoryAnswerError" and steps[first]["error"]["kind"] == "infrastructure"
    assert {s["status"] for s in steps[first + 1 :]} == {"error"}
    assert {s["error"]["type"] for s in steps[first + 1 :]} == {"MemoryBroken"}
