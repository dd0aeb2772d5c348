"""os_interaction end to end in real containers: the episode protocol against a live sandbox, the oracle and
the reference model through pytester, and the skip without an engine.

Tests that need an engine take ``amb_container_engine``: skipped without one, failed under
AMB_REQUIRE_CONTAINERS=1 (CI). Images are built FROM AMB_OS_BASE_IMAGE, else from the offline base image when
the engine has it, else from the Dockerfiles' default.
"""

from __future__ import annotations

import json
import os

import pytest

from pytest_amb.journal import read_steps
from taskcases.os_interaction import task
from taskcases.os_interaction.loader import Match, OsSample, Script
from taskcases.os_interaction.output import TRUNCATION_NOTE
from taskcases.os_interaction.task import NO_TOOL_CALLS, NOT_ACTED_ON, OsTask, TaskSetupError

BENCH = [
    "--pyargs", "taskcases.os_interaction.test_os", "taskcases.locomo.test_locomo",
    "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
]  # fmt: skip
BUNDLED_SAMPLES = 25


@pytest.fixture
def container_options(engine, base_image):
    return [f"--amb-container-engine={engine.url}", *([f"--amb-os-base-image={base_image}"] if base_image else [])]


def _run(pytester, *args):
    return pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'runs'}", *args)


def _only_run(pytester):
    (run,) = sorted((pytester.path / "runs").iterdir())
    return run, read_steps(run), json.loads((run / "summary.json").read_text())


def _our_containers(engine) -> list:
    return engine.client.containers.list(all=True, filters={"label": f"amb.pid={os.getpid()}"})


# -- the episode against a live container -------------------------------------------------------------
def sample(**fields) -> OsSample:
    defaults = {"sample_id": "0", "file": "t.json", "index_in_file": 0, "description": "d", "image": "default"}
    return OsSample(**{**defaults, **fields})


@pytest.fixture
def open_episode(engine, base_image):
    opened = []

    def factory(item: OsSample):
        episode = OsTask("os-test", [item], engine, base_image).open(item.sample_id)
        opened.append(episode)
        return episode

    yield factory
    for episode in opened:
        episode.close()


def turn(*calls, content=""):
    """An assistant message with the given (name, arguments) tool calls; arguments may be a raw string."""
    tool_calls = [
        {"id": f"c{n}", "type": "function",
         "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
        for n, (name, args) in enumerate(calls)
    ]  # fmt: skip
    return {"role": "assistant", "content": content, "tool_calls": tool_calls}


def test_setup_runs_init_then_start_in_the_agents_shell_and_only_the_first_call_acts(open_episode):
    episode = open_episode(sample(
        init=(Script("bash", "mkdir -p /tmp/w && echo hi > /tmp/w/f"), Script("python", "open('/tmp/w/g', 'w')")),
        start=Script("bash", "cd /tmp/w && x=5"),
        match=Match(answer="5"),
    ))  # fmt: skip
    reply = episode.step(
        turn(("bash_action", {"script": "pwd; echo $x; cat f; ls"}), ("answer_action", {"answer": "5"}))
    )
    assert not reply.finish
    assert reply.messages == [
        {"role": "tool", "tool_call_id": "c0", "content": "The output of the OS:\n\n/tmp/w\n5\nhi\nf  g"},
        {"role": "tool", "tool_call_id": "c1", "content": NOT_ACTED_ON},
    ]
    assert episode.step({"role": "assistant", "content": "thinking"}).messages == [
        {"role": "user", "content": NO_TOOL_CALLS}
    ]
    (bad,) = episode.step(turn(("bash_action", "{not json"))).messages
    assert bad["tool_call_id"] == "c0" and bad["content"].startswith("Error: the arguments are not valid JSON")
    (unknown,) = episode.step(turn(("sudo_action", {"script": "id"}))).messages
    assert unknown["content"].startswith("Invalid function call 'sudo_action'")
    assert (
        episode.step(turn(("bash_action", {"script": "true"}))).messages[0]["content"]
        == "The output of the OS is empty."
    )
    (long,) = episode.step(turn(("bash_action", {"script": "seq 1 1000"}))).messages
    assert long["content"] == "The output of the OS:\n\n" + "\n".join(map(str, range(1, 1001)))[:780] + TRUNCATION_NOTE
    verdict = episode.step(turn(("finish_action", {"thought": " 5\n"})))  # the thought is the answer
    assert (verdict.finish, verdict.reward, verdict.status) == (True, 1.0, "completed")
    assert verdict.metrics["answer"] == " 5\n" and verdict.metrics["rounds"] == 7
    assert verdict.metrics["engine"] == episode.provenance["engine"]
    assert verdict.metrics["image"].startswith("localhost/amb-os-default:")


def test_a_start_script_can_switch_user_for_the_whole_episode(open_episode):
    episode = open_episode(sample(
        init=(Script("bash", "useradd -m -s /bin/bash jack"),), start=Script("bash", "su - jack"), match=Match("x")
    ))  # fmt: skip
    assert (
        episode.step(turn(("bash_action", {"script": "whoami; pwd"})))
        .messages[0]["content"]
        .endswith("jack\n/home/jack")
    )


def test_a_timed_out_command_is_an_observation_and_the_shell_keeps_its_state(open_episode, monkeypatch):
    monkeypatch.setattr(task, "COMMAND_TIMEOUT_S", 1.0)
    episode = open_episode(sample(start=Script("bash", "y=7"), match=Match(answer="7")))
    (slow,) = episode.step(turn(("bash_action", {"script": "echo started; sleep 20"}))).messages
    assert slow["content"].startswith("The output of the OS:\n\nstarted\n") and "timed out" in slow["content"]
    assert episode.step(turn(("bash_action", {"script": "echo $y"}))).messages[0]["content"].endswith("\n7")
    verdict = episode.step(turn(("answer_action", {"answer": "7"})))
    assert verdict.reward == 1.0 and verdict.metrics["timeouts"] == 1


def test_checks_run_in_the_same_container_after_the_agent_with_the_answer_as_argument(open_episode):
    check = (Script("bash", 'test -f /tmp/made && [ "$1" = yes ]'), None, Script("python", "import sys\nassert sys.argv[1:] == ['yes', '', 'gold\\n']"))  # fmt: skip
    item = sample(check=check, example=Script("bash", "echo gold"))
    episode = open_episode(item)
    episode.step(turn(("bash_action", {"script": "touch /tmp/made"})))
    verdict = episode.step(turn(("answer_action", {"answer": "yes"})))
    assert verdict.reward == 1.0
    assert [s["script"] for s in verdict.metrics["check"]] == ["inline", "example", "inline"]
    wrong = open_episode(item).step(turn(("answer_action", {"answer": "yes"})))  # a fresh container: no /tmp/made
    assert wrong.reward == 0.0 and "check[0] inline exited with 1" in wrong.explanation


def test_eight_rounds_without_an_answer_end_the_sample(open_episode):
    episode = open_episode(sample(match=Match(answer="1")))
    replies = [episode.step(turn(("bash_action", {"script": f"echo {n}"}))) for n in range(task.MAX_ROUNDS)]
    assert [r.finish for r in replies] == [False] * (task.MAX_ROUNDS - 1) + [True]
    last = replies[-1]
    assert (last.status, last.reward, last.metrics["reason"]) == ("task limit reached", 0.0, "round limit")
    assert last.messages[0]["content"] == f"The output of the OS:\n\n{task.MAX_ROUNDS - 1}"


def test_a_failing_init_script_is_a_setup_error_and_leaves_no_container(engine, base_image):
    before = len(_our_containers(engine))
    broken = sample(file="items.json", index_in_file=3, init=(Script("bash", "echo fine"), Script("bash", "echo no >&2; exit 3")),
                    match=Match("x"))  # fmt: skip
    with pytest.raises(
        TaskSetupError, match=r"sample 0 \(items\.json\[3\]\): init script 1 \(inline\) exited with 3.*no"
    ):
        OsTask("os-test", [broken], engine, base_image).open("0")
    assert len(_our_containers(engine)) == before


# -- whole runs ---------------------------------------------------------------------------------------
def test_the_oracle_solves_every_bundled_sample_in_real_containers(pytester, engine, container_options):
    result = _run(pytester, "--amb-task=os", "--amb-model=oracle", "--amb-memory=zero_shot", "-v", *container_options)
    assert result.parseoutcomes()["solved"] == BUNDLED_SAMPLES and result.ret == 0
    # the per-type breakdown is part of the per-stream rows, which -v shows
    result.stdout.fnmatch_lines(["NOTE: the ORACLE replayed the gold solutions*", "*type integer-match*11*100.0%*"])
    _, steps, summary = _only_run(pytester)
    (stream,) = summary["streams"]
    assert stream["success"]["asr"] == 1.0
    assert stream["backends"][0].startswith(engine.name + " (containers")
    assert {s["metrics"]["engine"] for s in steps} == {engine.name}
    assert all(s["metrics"]["image"].startswith("localhost/amb-os-default:") for s in steps)
    assert _our_containers(engine) == []  # every sample's container was removed


def test_with_the_reference_model_stream_icl_beats_zero_shot(pytester, container_options):
    _run(pytester, "--amb-task=os", "--amb-memory=zero_shot,stream_icl", "--amb-seed=66,67", *container_options)
    _, steps, summary = _only_run(pytester)
    asr = {s["stream"]: s["success"]["asr"] for s in summary["streams"]}
    for seed in (66, 67):
        assert 0 < asr[f"zero_shot/os/seed{seed}"] < asr[f"stream_icl/os/seed{seed}"] < 1, asr
    assert any(s["retrieved"] for s in steps if s["step"]["stream"].startswith("stream_icl"))
    for step in steps:  # every assistant tool call got exactly one tool reply
        transcript = step["transcript"]
        for i, message in enumerate(transcript):
            ids = [c["id"] for c in message.get("tool_calls") or []]
            replies = [m["tool_call_id"] for m in transcript[i + 1 : i + 1 + len(ids)]]
            assert replies == ids, step["step"]["id"]


def test_without_an_engine_os_steps_are_skipped_and_the_rest_of_the_run_goes_on(pytester, tmp_path):
    missing = f"unix://{tmp_path}/no-engine.sock"
    result = _run(pytester, "--amb-task=os,locomo", "--amb-limit=2", f"--amb-container-engine={missing}", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes["skipped"] == 2 and sum(outcomes.get(k, 0) for k in ("passed", "solved", "unsolved")) == 4
    result.stdout.fnmatch_lines(["SKIPPED*os: no container engine answered*", f"*{missing}: no such socket*"])
    assert result.ret == 0


def test_a_container_that_disappears_is_an_infrastructure_error_not_a_wrong_answer(open_episode):
    episode = open_episode(sample(match=Match(answer="1")))
    episode.step(turn(("bash_action", {"script": "echo up"})))
    episode.sandbox.container.remove(force=True)
    with pytest.raises(OSError):  # ContainerFailure or the engine's own error: both classed as infrastructure
        episode.step(turn(("bash_action", {"script": "echo still there?"})))
