"""An endpoint outage in the middle of a stream, then --amb-resume with the endpoint healthy again: every
result is kept or re-run to exactly what an uninterrupted run gives, steps.jsonl is only appended to, the
interrupted run says it is partial and how to finish it, and a finished run has nothing left to do (issue 14,
items 1 and 6). The endpoint is the reference model behind a fault-injecting server on loopback."""

import json

import pytest

from pytest_amb.journal import latest_attempts, read_steps
from tests.support.faulty_reference import FaultSwitch
from tests.support.results import stable

VOLATILE = ("wall_s", "latency_s", "run_id", "run_dir", "started_at")
MODULES = {"dbbench": "taskcases.dbbench.test_dbbench", "locomo": "taskcases.locomo.test_locomo"}


def _run(pytester, endpoint, runs, task, *args, plugins=()):
    return pytester.runpytest(
        "--pyargs", MODULES[task], "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
        f"--amb-run-dir={runs}", f"--amb-task={task}", "--amb-model=faulty", f"--amb-base-url={endpoint.base_url}",
        "--amb-cache=off",  # every run must meet the endpoint: a cached answer would skip the outage
        *args, plugins=list(plugins),
    )  # fmt: skip


def _only_dir(path):
    (run,) = [p for p in path.iterdir() if p.is_dir()]
    return run


def _results(run_dir):
    """The results that count: the latest attempt of every step, in plan order."""
    latest = latest_attempts(read_steps(run_dir)).values()
    ordered = sorted(latest, key=lambda r: (r["step"]["stream"], r["step"]["position"]))
    return stable([{k: v for k, v in r.items() if k != "config_hash"} for r in ordered], VOLATILE)


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def _outage_then_resume(pytester, endpoint, reference, runs, task, stream, positions, *args):
    """Outage while the steps at ``positions`` of ``stream`` run, then two resumes with the endpoint healthy.
    Returns (the ERRORs of the interrupted run by step id, how many attempts the resume appended)."""
    expected = _results(reference)
    switch = FaultSwitch(endpoint, [f"[{stream}/{p:04d}-" for p in positions])
    first = _run(pytester, endpoint, runs, task, *args, plugins=[switch])
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    run_dir = _only_dir(runs)
    before = (run_dir / "steps.jsonl").read_bytes()
    interrupted = latest_attempts(read_steps(run_dir))
    assert len(interrupted) == len(expected)
    errors = {r["step"]["id"]: r["error"] for r in interrupted.values() if r["status"] == "error"}
    hit = {
        r["step"]["position"] for r in interrupted.values() if r["status"] == "error" and r["step"]["stream"] == stream
    }
    assert hit >= set(positions) and min(hit) == min(positions)  # the endpoint's circuit breaker may add more
    assert {e["kind"] for e in errors.values()} == {"infrastructure"}
    partial = _summary(run_dir)["partial"]
    assert partial["missing"] == len(errors) and partial["steps"] == len(expected)
    assert partial["command"].startswith("pytest ") and partial["command"].endswith(f"--amb-resume={run_dir.name}")
    first.stdout.fnmatch_lines([f"PARTIAL: {len(errors)} of {len(expected)} steps have no result*",
                                f"  finish it with: pytest *--amb-resume={run_dir.name}*"])  # fmt: skip

    endpoint.failed = 0
    second = _run(pytester, endpoint, runs, task, *args, "--amb-resume")
    assert second.ret == 0, second.stdout.str()[-3000:]
    assert endpoint.failed == 0 and _only_dir(runs) == run_dir
    after = (run_dir / "steps.jsonl").read_bytes()
    assert after.startswith(before)  # append-only: nothing deleted or rewritten
    assert _results(run_dir) == expected  # every result, identical to the uninterrupted run
    summary = _summary(run_dir)
    assert summary["partial"] is None
    assert stable(summary["streams"], VOLATILE) == stable(_summary(reference)["streams"], VOLATILE)
    appended = after[len(before) :].decode().splitlines()
    outcomes = second.parseoutcomes()  # each step left either ran again (journaled) or was kept (skipped)
    assert len(appended) == sum(outcomes.get(k, 0) for k in ("passed", "solved", "unsolved", "failed"))

    third = _run(pytester, endpoint, runs, task, *args, "--amb-resume")
    assert third.ret == 0
    third.stdout.fnmatch_lines([f"amb: run {run_dir.name} is complete: nothing to do*"])
    assert (run_dir / "steps.jsonl").read_bytes() == after
    return errors, len(appended)


def _uninterrupted(pytester, endpoint, task, *args):
    runs = pytester.path / "uninterrupted"
    assert _run(pytester, endpoint, runs, task, *args).ret == 0
    return _only_dir(runs)


def test_a_dbbench_outage_at_steps_11_to_13_resumes_to_all_39_results_of_an_uninterrupted_run(pytester, endpoint):
    reference = _uninterrupted(pytester, endpoint, "dbbench")
    assert len(_results(reference)) == 39
    errors, rerun = _outage_then_resume(pytester, endpoint, reference, pytester.path / "runs", "dbbench",
                                        "stream_icl/dbbench", (11, 12, 13))  # fmt: skip
    assert rerun >= len(errors) >= 3


def test_after_a_one_step_outage_only_what_read_a_changed_memory_runs_again(pytester, endpoint):
    """The step that failed runs again from the checkpoint before it. When its new attempt leaves the memory as
    it was (a wrong answer: stream_icl keeps successes only), everything after it stands; when it changes the
    memory (a success is stored), everything after it that reads the memory runs again."""
    limit = "--amb-limit=16"
    reference = _uninterrupted(pytester, endpoint, "dbbench", limit)
    outcome = {r["step"]["position"]: r["status"] for r in _results(reference)}
    wrong = next(p for p in range(2, 16) if outcome[p] == "failed")
    right = next(p for p in range(2, 16) if outcome[p] == "passed")
    errors, rerun = _outage_then_resume(pytester, endpoint, reference, pytester.path / "wrong", "dbbench",
                                        "stream_icl/dbbench", (wrong,), limit)  # fmt: skip
    assert len(errors) == 1 and rerun == 1  # the steps after it are kept (skipped): the memory is the same
    errors, rerun = _outage_then_resume(pytester, endpoint, reference, pytester.path / "right", "dbbench",
                                        "stream_icl/dbbench", (right,), limit)  # fmt: skip
    assert len(errors) == 1 and rerun == 16 - right


def test_a_locomo_outage_with_500s_resumes_to_the_results_of_an_uninterrupted_run(pytester, endpoint):
    """mem0 calls the endpoint too: the outage hits the agent, the judge and a session injection (position 11)
    whose memory update fails, so the questions after it are ERRORs, not answers on a memory without it."""
    args = ("--amb-memory=mem0", "--amb-limit=20")  # sessions at positions 0, 6, 11, 18 of the first conversation
    reference = _uninterrupted(pytester, endpoint, "locomo", *args)
    assert len(_results(reference)) == 40
    errors, rerun = _outage_then_resume(pytester, endpoint, reference, pytester.path / "runs", "locomo",
                                        "mem0/locomo/amb-sample-1", (9, 10, 11, 12), *args)  # fmt: skip
    broken = [e for step, e in errors.items() if "amb-sample-1" in step and e["type"] == "MemoryBroken"]
    assert broken and all("mem0/locomo/amb-sample-1/0011-session-3" in e["message"] for e in broken)
    assert rerun >= len(errors)
