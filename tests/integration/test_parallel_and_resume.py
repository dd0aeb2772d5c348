"""pytest-xdist never splits a stream, results do not depend on -n, and a killed run (the whole session,
or one xdist worker) resumes with --amb-resume to the same final metrics as an uninterrupted run.
Runs are real subprocesses, killed with SIGKILL."""

import json
import signal

import pytest

from pytest_amb.journal import read_steps
from tests.support.results import stable

BENCH = ["--pyargs", "taskcases.dbbench.test_dbbench", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider"]
VOLATILE = ("wall_s", "latency_s", "run_id", "run_dir", "started_at")
KILLER = """
import os, pathlib, signal
MARK = pathlib.Path(__file__).with_name("killed-once")

def pytest_runtest_setup(item):  # before the step runs: it never completes
    target = os.environ.get("AMB_TEST_KILL_AT")
    if target and target in item.nodeid and not MARK.exists():
        MARK.write_text("killed")
        os.kill(os.getppid() if os.environ.get("AMB_TEST_KILL_PARENT") else os.getpid(), signal.SIGKILL)
"""


def _run(pytester, runs, *args, env=None):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        return pytester.runpytest_subprocess(*BENCH, f"--amb-run-dir={runs}", *args, timeout=600)


def _outcome(run_dir):
    steps = sorted(read_steps(run_dir), key=lambda s: (s["step"]["stream"], s["step"]["position"]))
    summary = json.loads((run_dir / "summary.json").read_text())
    return stable([{k: v for k, v in s.items() if k != "config_hash"} for s in steps], VOLATILE), stable(
        summary["streams"], VOLATILE
    )


def _only_dir(path):
    (run,) = [p for p in path.iterdir() if p.is_dir()]
    return run


ARGS = ["--amb-memory=mem0,stream_icl", "--amb-task=dbbench,locomo", "--amb-limit=12"]  # 6 streams


def test_results_do_not_depend_on_the_number_of_workers(pytester):
    outcomes = []
    for n in ("0", "2", "4"):
        runs = pytester.path / f"runs-{n}"
        result = _run(pytester, runs, *ARGS, "-n", n)
        assert "errors" not in result.parseoutcomes(), result.stdout.str()[-2000:]
        outcomes.append(_outcome(_only_dir(runs)))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    steps = outcomes[0][0]
    assert len({s["step"]["stream"] for s in steps}) == 6


@pytest.mark.parametrize("mode", ["offline", "replay", "transfer"])
def test_read_only_phases_fan_out_with_identical_results(pytester, mode):
    """Offline tests, replay tests and forward probes run on any worker from the stream's checkpoint."""
    args = [f"--amb-mode={mode}", "--amb-memory=stream_icl", "--amb-task=dbbench,locomo", "--amb-limit=30",
            "--amb-replay-m=8", "--amb-replay-n=4"]  # fmt: skip
    serial, parallel = pytester.path / "serial", pytester.path / "parallel"
    _run(pytester, serial, *args)
    result = _run(pytester, parallel, *args, "-n", "4", "-v")
    assert "errors" not in result.parseoutcomes()
    assert _outcome(_only_dir(serial)) == _outcome(_only_dir(parallel))
    read_only = {"offline": "-test-", "replay": "-replay_test-", "transfer": "-forward_test-"}[mode]
    workers = {line.split("]")[0] for line in result.outlines if read_only in line and line.startswith("[gw")}
    assert len(workers) >= 2  # the read-only steps did not all stay on one worker


def test_a_killed_session_resumes_to_the_same_final_metrics(pytester):
    reference = pytester.path / "uninterrupted"
    _run(pytester, reference, *ARGS)
    expected = _outcome(_only_dir(reference))

    pytester.makepyfile(killer=KILLER)  # loaded with -p killer
    runs = pytester.path / "runs"
    first = _run(pytester, runs, *ARGS, "-p", "killer", env={"AMB_TEST_KILL_AT": "[stream_icl/dbbench/0005-"})
    assert first.ret == -signal.SIGKILL
    run_dir = _only_dir(runs)
    assert 0 < len(read_steps(run_dir)) < len(expected[0])

    second = _run(pytester, runs, *ARGS, "--amb-resume")
    outcomes = second.parseoutcomes()
    assert "errors" not in outcomes and outcomes.get("deselected", 0) >= 1
    assert _only_dir(runs) == run_dir  # the same run directory, finished
    assert _outcome(run_dir) == expected
    assert "resumed_at" in json.loads((run_dir / "run.json").read_text())


def test_a_killed_worker_hands_its_stream_to_another_worker_from_the_checkpoint(pytester):
    reference = pytester.path / "uninterrupted"
    _run(pytester, reference, *ARGS)
    expected = _outcome(_only_dir(reference))

    pytester.makepyfile(killer=KILLER)
    runs = pytester.path / "runs"
    result = _run(
        pytester, runs, *ARGS, "-n", "2", "-p", "killer", env={"AMB_TEST_KILL_AT": "[stream_icl/dbbench/0005-"}
    )
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running '*stream_icl/dbbench/0005-*"])
    assert "errors" not in result.parseoutcomes()
    # xdist re-queues the unfinished part of the stream; the fresh worker starts it from checkpoint 4
    assert _outcome(_only_dir(runs)) == expected
    again = _run(pytester, runs, *ARGS, "-n", "2", "--amb-resume")  # nothing left to do: every step is done
    assert again.ret == pytest.ExitCode.OK
    again.stdout.fnmatch_lines(["*AgentMemoryBench*", "amb: run * is complete: nothing to do", "steps: 72 *"])
    assert _outcome(_only_dir(runs)) == expected


def test_resume_refuses_a_run_of_another_configuration(pytester):
    runs = pytester.path / "runs"
    _run(pytester, runs, "--amb-task=dbbench", "--amb-memory=zero_shot", "--amb-limit=2")
    result = _run(pytester, runs, "--amb-task=dbbench", "--amb-memory=stream_icl", "--amb-limit=2", "--amb-resume")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--amb-resume: no run under * has this configuration*"])


def test_plain_tests_run_under_xdist_with_the_stream_scheduler(pytester):
    pytester.makepyfile(
        test_plain="import pytest\n\n@pytest.mark.parametrize('n', range(7))\ndef test_n(n):\n    assert n >= 0\n"
    )
    result = pytester.runpytest_subprocess("-n", "2", "-v", "-p", "no:cacheprovider", "test_plain.py", timeout=120)
    result.stdout.fnmatch_lines(["scheduling tests via StreamScheduling", "*7 passed*"])


def test_dist_each_is_refused(pytester):
    result = _run(pytester, pytester.path / "runs", "--amb-task=dbbench", "--amb-limit=2", "-n", "2", "--dist", "each")
    assert "--dist each runs every item on every worker" in result.stderr.str() + result.stdout.str()
