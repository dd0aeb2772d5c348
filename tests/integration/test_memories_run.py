"""Every memory mechanism end to end through pytester on the reference model (real HTTP, tagged memory
operations), the memory configuration file, costs in the summary, and a user-written mechanism
registered by an entry point (the worked example of docs/memories.md)."""

import json
import sys
from pathlib import Path

import pytest

from pytest_amb.journal import read_steps
from tests.support.entry_points import install

ROOT = Path(__file__).resolve().parents[2]
BENCH = [
    "--pyargs", "taskcases.dbbench.test_dbbench", "taskcases.locomo.test_locomo",
    "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
]  # fmt: skip


def _run(pytester, *args):
    return pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'runs'}", *args)


def _run_dir(pytester):
    (run,) = sorted((pytester.path / "runs").iterdir())
    return run, read_steps(run), json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize("memory", ["zero_shot", "stream_icl", "awm_pro", "mem0", "mems"])
def test_each_memory_runs_both_tasks_to_the_end(pytester, memory):
    result = _run(pytester, f"--amb-memory={memory}", "--amb-task=dbbench,locomo", "-v")  # -v: per-stream rows
    outcomes = result.parseoutcomes()
    assert "errors" not in outcomes and sum(outcomes.get(k, 0) for k in ("passed", "solved", "unsolved")) == 39 + 68
    result.stdout.fnmatch_lines([f"  memory cost ({memory}): retrieval ×*"])
    _, steps, summary = _run_dir(pytester)
    calls = [c for s in steps for c in s["llm_calls"] if c["purpose"] == "memory"]
    if memory in ("awm_pro", "mem0", "mems"):
        assert calls and all(c["operation"] for c in calls)
        assert sum(s["memory_cost"]["update"]["llm_calls"] for s in summary["streams"]) == len(
            [c for c in calls if not c["operation"].endswith("route_retrieval")]
        )
    else:
        assert not calls


def test_mems_runs_on_a_mixed_cross_task_stream(pytester):
    _run(pytester, "--amb-memory=mems", "--amb-task=dbbench,locomo", "--amb-cross-task=true", "--amb-limit=50")
    _, steps, summary = _run_dir(pytester)
    (stream,) = summary["streams"]
    assert {"dbbench", "locomo/amb-sample-1"} <= set(stream["tasks"]) and stream["errors"] == 0
    routed = {c["operation"] for s in steps for c in s["llm_calls"]}
    assert {"mems.route_retrieval", "mems.route_update", "awm.induce", "mem0.extract"} <= routed


def test_the_memory_config_file_overrides_parameters(pytester):
    config = pytester.path / "memory.yaml"
    config.write_text("mem0:\n  algorithm: v3\n  top_k: 3\n")
    _run(pytester, "--amb-memory=mem0", "--amb-task=locomo", "--amb-limit=20", f"--amb-memory-config={config}")
    run, steps, _ = _run_dir(pytester)
    assert {c["operation"] for s in steps for c in s["llm_calls"] if c["purpose"] == "memory"} == {"mem0.extract_v3"}
    assert max(len(s["retrieved"]) for s in steps) == 3
    assert json.loads((run / "run.json").read_text())["config"]["memory_overrides"] == {
        "mem0": {"algorithm": "v3", "top_k": 3}
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("mem0:\n  top_kk: 3\n", "*memory.yaml: 'mem0.top_kk' is not a parameter of mem0; known: *"),
        ("memzero:\n  top_k: 3\n", "*memory.yaml: 'memzero' is not a memory mechanism*"),
        ("mem0: [1, 2]\n", "*memory.yaml must map mechanism names to their parameters*"),
    ],
)
def test_a_bad_memory_config_is_a_usage_error_naming_file_and_key(pytester, text, message):
    config = pytester.path / "memory.yaml"
    config.write_text(text)
    result = _run(pytester, f"--amb-memory-config={config}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--amb-memory-config*{message}"])


def test_a_user_written_memory_registers_by_entry_point_and_runs(pytester, monkeypatch, tmp_path):
    install(monkeypatch, tmp_path / "site", "recent_memory_example", "pytest_amb.memories",
            "recent = recent_memory:RecentMemory", ROOT / "docs" / "examples")  # fmt: skip
    help_text = pytester.runpytest("--amb-memory=nope").stderr.str()
    assert "accepted: recent, zero_shot" in help_text
    config = pytester.path / "memory.yaml"
    config.write_text("recent:\n  keep: 2\n")
    result = _run(pytester, "--amb-memory=recent", "--amb-task=dbbench", f"--amb-memory-config={config}")
    assert "errors" not in result.parseoutcomes()
    _, steps, summary = _run_dir(pytester)
    assert summary["streams"][0]["memory"] == "recent"
    assert max(len(s["retrieved"]) for s in steps) == 2
    sys.modules.pop("recent_memory", None)
