"""Selection the pytest way, or a reason (issue 15), through real pytest runs: the configuration lines show once
with and without xdist; a selection that would split a stream (-k, --lf, a node id) stops at collection with one
line, exit 4 and no run directory, while whole streams and read-only steps may be left out; a task family's folder
or package on the command line runs that family; an --amb-task that runs nothing of what the command line names
is refused; --amb-* options where no benchmark test is collected say how to collect it (--pyargs)."""

import pytest

from pytest_amb import registry
from pytest_amb.journal import read_steps
from tests.support.faulty_reference import FaultSwitch
from tests.support.results import runs_in_start_order

DBBENCH = ["--pyargs", "taskcases.dbbench.test_dbbench"]
LOCOMO = ["--pyargs", "taskcases.locomo.test_locomo"]
QUIET = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]


def _run(pytester, *args, cache=False):
    no_cache = [] if cache else ["-p", "no:cacheprovider"]
    runs = f"--amb-run-dir={pytester.path / 'runs'}"
    return pytester.runpytest_subprocess(*args, *no_cache, *QUIET, runs, timeout=600)


def _run_dirs(pytester) -> list:
    runs = pytester.path / "runs"
    return runs_in_start_order(runs) if runs.exists() else []


def _lines(result, prefix: str) -> list[str]:
    """The lines starting with ``prefix``, without what the environment of CI sets (AMB_OS_BASE_IMAGE)."""
    return [line.replace("os_base_image (env), ", "") for line in result.outlines if line.startswith(prefix)]


CTRL_C = """
import os, signal

def pytest_runtest_setup(item):  # Ctrl-C before the step at position 1 runs: the run is left partial
    if "/0001-" in item.nodeid:
        os.kill(os.getpid(), signal.SIGINT)
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_configuration_lines_show_once_with_and_without_xdist(pytester, workers):
    pytester.makepyfile(ctrl_c=CTRL_C)
    first = _run(pytester, *DBBENCH, "--amb-task=dbbench", "--amb-limit=3", "-p", "ctrl_c")
    assert first.ret == pytest.ExitCode.INTERRUPTED
    (run_dir,) = _run_dirs(pytester)
    result = _run(pytester, *DBBENCH, "--amb-task=dbbench", "--amb-limit=3", "-n", workers, "--amb-resume")
    assert "errors" not in result.parseoutcomes()
    (mode,) = _lines(result, "amb: mode=online ")
    assert "tasks=['dbbench']" in mode and "limit=3" in mode
    assert _lines(result, "amb: set by ") == ["amb: set by limit (cli), resume (cli), run_dir (cli), task (cli)"]
    assert _lines(result, "amb: the REFERENCE MODEL") == [
        "amb: the REFERENCE MODEL (deterministic, no LLM) answers on loopback"
    ]
    assert _lines(result, "amb: resuming run ") == [
        f"amb: resuming run {run_dir.name}: 1 results stand; 2 steps left (2 with no result)"
    ]


def test_a_run_without_benchmark_tests_prints_nothing_of_the_benchmark(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    for workers in ("0", "2"):
        result = pytester.runpytest_subprocess("test_plain.py", "-n", workers, "-p", "no:cacheprovider", timeout=120)
        assert result.ret == pytest.ExitCode.OK
        assert _lines(result, "amb:") == []
    assert not (pytester.path / "reports").exists()


SPLITS = {
    "-k": (["-k", "qa-3"], ("would split 2 streams: stream_icl/locomo/amb-sample-1 (1 of its 36 steps selected, "
                            "35 of its 36 learning steps left out); stream_icl/locomo/amb-sample-2 (1 of its 32 steps "
                            "selected, 31 of its 32 learning steps left out).")),
    "node id": ([(f"{registry.family_folder('locomo') / 'test_locomo.py'}::test_locomo"
                  "[stream_icl/locomo/amb-sample-1/0001-qa-3]")],
                ("would split 1 stream: stream_icl/locomo/amb-sample-1 (1 of its 36 steps selected, 35 of its 36 "
                 "learning steps left out).")),
}  # fmt: skip


@pytest.mark.parametrize(("how", "workers"), [("-k", "0"), ("-k", "2"), ("node id", "0")])
def test_a_selection_that_splits_a_stream_stops_at_collection_with_one_line(pytester, how, workers):
    selection, split = SPLITS[how]
    pyargs = LOCOMO if how == "-k" else []
    result = _run(pytester, *pyargs, *selection, "-n", workers)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = _lines(result, "ERROR") + [line for line in result.errlines if line.startswith("ERROR")]
    assert len(errors) == 1, result.stdout.str() + result.stderr.str()
    assert errors[0].startswith(f"ERROR: this selection (-k, -m, --deselect, --lf, node ids) {split}")
    assert "Select whole streams (e.g. -k 'stream_icl/locomo/amb-sample-1/')" in errors[0]
    assert "--amb-limit=N for a short run, and --amb-resume instead of --lf" in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert _run_dirs(pytester) == []  # nothing ran, nothing was written


def test_whole_streams_and_read_only_steps_may_be_left_out(pytester):
    """Offline: one conversation's stream, without the read-only tests of questions qa-1 and qa-1x; under xdist
    those tests fan out to any worker from the stream's checkpoints."""
    selection = "stream_icl/locomo/amb-sample-1/ and not test-qa-1"
    result = _run(pytester, *LOCOMO, "--amb-mode=offline", "-k", selection, "-n", "2")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    assert "errors" not in result.parseoutcomes()
    (run_dir,) = _run_dirs(pytester)
    steps = [s["step"] for s in read_steps(run_dir)]
    assert {s["stream"] for s in steps} == {"stream_icl/locomo/amb-sample-1"}
    assert sum(s["update"] for s in steps) == 6  # every learning step ran
    ran = {s["sample_id"] for s in steps if not s["update"]}
    assert ran and not any(sample == "qa-1" or sample.startswith("qa-1") for sample in ran)


def test_lf_after_an_errored_step_says_to_resume_instead(pytester, endpoint):
    runs = pytester.path / "runs"
    args = [*DBBENCH, *QUIET, "--amb-task=dbbench", "--amb-limit=6", "--amb-model=faulty",
            f"--amb-base-url={endpoint.base_url}", f"--amb-run-dir={runs}"]  # fmt: skip
    first = pytester.runpytest(*args, plugins=[FaultSwitch(endpoint, ["[stream_icl/dbbench/0002-"])])
    assert first.parseoutcomes().get("errors")
    (run_dir,) = _run_dirs(pytester)
    again = pytester.runpytest(*args, "--lf")
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    again.stderr.fnmatch_lines(
        [("ERROR: this selection (-k, -m, --deselect, --lf, node ids) would split 1 stream: stream_icl/dbbench (* of "
          "its 6 steps selected, * of its 6 learning steps left out)*--amb-resume instead of --lf to finish a run "
          "that had ERRORs")]
    )  # fmt: skip
    assert _run_dirs(pytester) == [run_dir]


@pytest.mark.parametrize("named", ["folder", "package"])
def test_a_task_familys_folder_on_the_command_line_runs_that_family(pytester, named):
    """`pytest taskcases/dbbench` (or `--pyargs taskcases.dbbench`) with --amb-task at its default runs dbbench."""
    target = [str(registry.family_folder("dbbench"))] if named == "folder" else ["--pyargs", "taskcases.dbbench"]
    result = _run(pytester, *target, "--amb-limit=2")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    assert "errors" not in result.parseoutcomes()
    assert "tasks=['dbbench']" in _lines(result, "amb: mode=online ")[0]
    assert _lines(result, "amb: set by ") == ["amb: set by limit (cli), run_dir (cli), task (path)"]
    (run_dir,) = _run_dirs(pytester)
    assert {s["step"]["stream"] for s in read_steps(run_dir)} == {"stream_icl/dbbench"}


def test_an_amb_task_that_runs_nothing_the_command_line_names_is_refused(pytester):
    result = _run(pytester, *DBBENCH, "--amb-task=locomo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [("ERROR: --amb-task (from --amb-task): 'locomo' runs no step of taskcases.dbbench.test_dbbench (task family "
          "'dbbench'): --amb-task=dbbench would, or --amb-task=locomo,dbbench to run them together")]
    )  # fmt: skip
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("workers", ["0", "2"])
def test_amb_options_where_no_benchmark_is_collected_say_to_use_pyargs(pytester, workers):
    """`cd /tmp && pytest --amb-memory=stream_icl`: nothing is collected there; the run says what to type."""
    result = pytester.runpytest_subprocess("--amb-memory=stream_icl", "-n", workers, timeout=120)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    hints = _lines(result, "amb: no benchmark test was collected")
    assert len(hints) == 1
    assert hints[0].startswith(
        f"amb: no benchmark test was collected in {pytester.path}, though --amb-* options were given; collect the "
        "benchmark's tests by package name: pytest --pyargs taskcases.locomo "
    )
    assert hints[0].endswith(f"--amb-memory=stream_icl -n {workers}")
    assert _lines(result, "amb: mode=") == []
