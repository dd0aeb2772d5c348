"""The LLM layer against OpenAI-compatible servers on loopback (issue 16): the response cache (a second identical
run sends no completion request and journals the same results, under xdist too; an error is never replayed), an
endpoint per role (agent, judge and memory each reach only their own server), the preflight (a dead endpoint stops
the run in seconds with exit 4) and the budget (the run stops partial, --amb-resume finishes it)."""

import json
import socket
import time

import pytest

from pytest_amb.journal import read_steps
from tests.support.faulty_reference import FaultSwitch, FaultyReference
from tests.support.scripted_endpoint import HANG, ScriptedEndpoint

LOCOMO = ("--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider",
          "-W", "ignore::pytest.PytestAssertRewriteWarning")  # fmt: skip
VOLATILE = ("wall_s", "latency_s", "from_cache", "cache_lookup")  # timing, and where an answer came from


@pytest.fixture
def servers():
    """Factory of fault-injecting reference servers (real HTTP on loopback); all stopped at teardown."""
    started = []

    def make():
        server = FaultyReference().start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _run(pytester, runs, *args, plugins=()):
    return pytester.runpytest(*LOCOMO, f"--amb-run-dir={pytester.path / runs}",
                              f"--amb-cache-dir={pytester.path / 'cache'}", *args, plugins=list(plugins))  # fmt: skip


def _run_dir(pytester, runs):
    (run,) = sorted((pytester.path / runs).iterdir())
    return run


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _journal(run) -> dict:
    return {r["step"]["id"]: _stable(r) for r in read_steps(run)}


def _completions(server) -> int:
    return sum(purpose != "preflight" for purpose in server.purposes)


def test_a_second_identical_run_sends_no_completion_and_journals_the_same_results_across_xdist_workers(
    pytester, servers
):
    server = servers()
    args = ("--amb-memory=zero_shot", "--amb-limit=5", "--amb-model=faulty", f"--amb-base-url={server.base_url}")
    first = _run(pytester, "first", *args, "-n", "2")  # two streams, one per worker: both write the cache
    assert first.ret == 0
    filled = _completions(server)
    assert filled > 0 and set(server.purposes) - {"preflight"} == {"agent", "judge"}
    first.stdout.fnmatch_lines(["*cache (auto)*0 hits*"])

    second = _run(pytester, "second", *args)  # one process reads what both workers wrote
    assert second.ret == 0
    assert _completions(server) == filled  # not one completion request more
    second.stdout.fnmatch_lines([f"*cache (auto)*{filled} hits, 0 misses*"])
    assert _journal(_run_dir(pytester, "second")) == _journal(_run_dir(pytester, "first"))
    calls = [c for r in read_steps(_run_dir(pytester, "second")) for c in r["llm_calls"]]
    assert len(calls) == filled and all(c["from_cache"] and c["cache_lookup"] for c in calls)
    summary = json.loads((_run_dir(pytester, "second") / "summary.json").read_text())
    assert {p: (row["hits"], row["misses"]) for p, row in summary["llm"]["per_purpose"].items()} == {
        "agent": (filled // 2, 0), "judge": (filled // 2, 0)
    }  # fmt: skip

    third = _run(pytester, "third", *args, "--amb-cache=off")  # off: every answer is asked for again
    assert third.ret == 0 and _completions(server) == 2 * filled


def test_an_error_is_never_replayed_from_the_cache(pytester, servers):
    server = servers()
    args = ("--amb-memory=zero_shot", "--amb-limit=5", "--amb-model=faulty", f"--amb-base-url={server.base_url}",
            "--amb-llm-breaker=0")  # fmt: skip
    outage = FaultSwitch(server, ["amb-sample-1/0002-"])  # one question of one conversation meets an outage
    first = _run(pytester, "first", *args, plugins=[outage])
    errored = {r["step"]["id"] for r in read_steps(_run_dir(pytester, "first")) if r["status"] == "error"}
    assert first.ret == pytest.ExitCode.TESTS_FAILED and len(errored) == 1

    before = _completions(server)
    second = _run(pytester, "second", *args)
    assert second.ret == 0
    steps = read_steps(_run_dir(pytester, "second"))
    asked = {r["step"]["id"]: sum(not c["from_cache"] for c in r["llm_calls"]) for r in steps}
    assert {step for step, n in asked.items() if n} == errored  # only the failed step asked the endpoint again
    assert _completions(server) - before == sum(asked.values()) > 0
    assert all(r["status"] != "error" for r in steps)


def test_agent_judge_and_memory_each_reach_only_their_own_endpoint(pytester, servers, monkeypatch):
    agent, judge, memory = servers(), servers(), servers()
    monkeypatch.setenv("AMB_API_KEY", "sk-agent-key-000001")
    monkeypatch.setenv("AMB_JUDGE_API_KEY", "sk-judge-key-000002")
    result = _run(pytester, "runs", "--amb-memory=mem0", "--amb-limit=4", "--amb-model=agent-model",
                  f"--amb-base-url={agent.base_url}", "--amb-judge-model=judge-model",
                  f"--amb-judge-base-url={judge.base_url}", "--amb-memory-model=memory-model",
                  f"--amb-memory-base-url={memory.base_url}")  # fmt: skip
    assert result.ret == 0
    assert set(agent.purposes) - {"preflight"} == {"agent"}
    assert set(judge.purposes) - {"preflight"} == {"judge"}
    assert set(memory.purposes) - {"preflight"} == {"memory"}
    run = json.loads((_run_dir(pytester, "runs") / "run.json").read_text())
    assert [(e["role"], e["model"], e["base_url"], e["key_variable"]) for e in run["endpoints"]] == [
        ("agent", "agent-model", agent.base_url, "AMB_API_KEY"),
        ("judge", "judge-model", judge.base_url, "AMB_JUDGE_API_KEY"),
        ("memory", "memory-model", memory.base_url, "AMB_API_KEY"),  # no memory key of its own: the agent's
    ]
    assert "sk-agent-key" not in json.dumps(run) and "sk-judge-key" not in json.dumps(run)
    result.stdout.fnmatch_lines([f"*agent agent-model @ {agent.base_url}", f"*judge judge-model @ {judge.base_url}",
                                 f"*memory memory-model @ {memory.base_url}"])  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("dead", ["refused", "hanging"])
def test_a_dead_endpoint_stops_the_run_in_seconds_with_exit_4_naming_role_and_url(pytester, dead):
    hanging = ScriptedEndpoint(lambda request: HANG).start() if dead == "hanging" else None
    try:
        url = hanging.url("someone:Dead-Passw0rd-7") if hanging else f"http://127.0.0.1:{_free_port()}/v1"
        started = time.monotonic()
        result = _run(pytester, "runs", "--amb-memory=zero_shot", "--amb-model=some-model", f"--amb-base-url={url}")
        elapsed = time.monotonic() - started
    finally:
        if hanging:
            hanging.stop()
    assert result.ret == pytest.ExitCode.USAGE_ERROR and elapsed < 10
    (line,) = [line for line in result.stderr.lines if line.strip()]
    assert line.startswith("ERROR: preflight: the agent and judge endpoint http://") and "(model 'some-model')" in line
    assert ("connection refused" if dead == "refused" else "no answer") in line
    assert "Dead-Passw0rd-7" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "runs").exists()  # no run was started


def test_a_budget_stops_the_run_partial_and_resume_finishes_it(pytester, servers):
    server = servers()
    args = ("--amb-memory=zero_shot", "--amb-limit=8", "--amb-model=gpt-4o-mini", f"--amb-base-url={server.base_url}",
            "--amb-cache=off")  # fmt: skip
    whole = _run(pytester, "whole", *args)
    assert whole.ret == 0
    cost = json.loads((_run_dir(pytester, "whole") / "summary.json").read_text())["llm"]["cost_usd"]
    assert cost > 0

    budget = cost / 3
    stopped = _run(pytester, "runs", *args, f"--amb-budget={budget}")
    run = _run_dir(pytester, "runs")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["partial"] and summary["partial"]["missing"] > 0
    assert summary["llm"]["cost_usd"] <= budget
    assert stopped.ret == pytest.ExitCode.TESTS_FAILED  # a stopped run is not a passing run: CI must not read it so
    stopped.stdout.fnmatch_lines(["PARTIAL: * of 16 steps have no result*",
                                  "locomo: skipped (* steps): the budget of $* (--amb-budget) would be passed by*",
                                  "LLM: agent * calls $*; total $* of a budget of $*",
                                  "  finish it with: pytest * --amb-resume=*"])  # fmt: skip

    finished = _run(pytester, "runs", *args, "--amb-resume")
    assert finished.ret == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["partial"] is None
    ours = {r["step"]["id"]: (r["status"], r["reward"]) for r in read_steps(run)}
    theirs = {r["step"]["id"]: (r["status"], r["reward"]) for r in read_steps(_run_dir(pytester, "whole"))}
    assert ours == theirs  # the same results as the run that was never stopped
