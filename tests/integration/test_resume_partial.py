"""Partial runs say so (issue 14, item 6): a run stopped with Ctrl-C writes a summary marked partial, with how
many steps are missing and the exact command that finishes it; that command finishes it."""

import json
import shlex

import pytest

from pytest_amb.journal import latest_attempts, read_steps

BENCH = ["--pyargs", "taskcases.dbbench.test_dbbench", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip


CTRL_C = """
import os, signal

def pytest_runtest_setup(item):  # Ctrl-C while the step at position 4 is about to run
    if "/0004-" in item.nodeid:
        os.kill(os.getpid(), signal.SIGINT)
"""


def test_a_run_stopped_with_ctrl_c_is_marked_partial_and_its_command_finishes_it(pytester):
    runs = pytester.path / "runs"
    args = [*BENCH, f"--amb-run-dir={runs}", "--amb-task=dbbench", "--amb-limit=6"]
    pytester.makepyfile(ctrl_c=CTRL_C)
    first = pytester.runpytest_subprocess(*args, "-p", "ctrl_c", timeout=600)
    assert first.ret == pytest.ExitCode.INTERRUPTED
    (run_dir,) = list(runs.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["partial"]["missing"] == 2 and summary["partial"]["steps"] == 6
    assert summary["totals"]["steps"] == 4
    first.stdout.fnmatch_lines(["PARTIAL: 2 of 6 steps have no result*", "  finish it with: pytest *"])

    command = shlex.split(summary["partial"]["command"])
    assert command[0] == "pytest" and command[-1] == f"--amb-resume={run_dir.name}"
    plugin = command.index("ctrl_c")  # "-p ctrl_c": the plugin that pressed Ctrl-C
    del command[plugin - 1 : plugin + 1]
    second = pytester.runpytest_subprocess(*command[1:], timeout=600)
    assert second.ret == 0
    second.stdout.fnmatch_lines([f"amb: resuming run {run_dir.name}: 4 results stand; 2 steps left (2 with no result)"])
    assert len(latest_attempts(read_steps(run_dir))) == 6
    assert json.loads((run_dir / "summary.json").read_text())["partial"] is None
