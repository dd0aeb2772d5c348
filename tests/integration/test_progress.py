"""Progress: what loads before the first step (only what the run needs), and the estimate of the time left on
pytest's own progress suffix, in every display (default, -q, -v, -n 2) without pushing lines past the edge."""

import re
from types import SimpleNamespace

import pytest

from pytest_amb.progress import estimate_left, format_left, install_estimate, with_estimate

QUIET = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
DBBENCH = ["--pyargs", "taskcases.dbbench.test_dbbench", *QUIET, "--amb-task=dbbench"]
ESTIMATE = re.compile(r"\[\s*\d+%, ~\d+:\d\d left\]")


def _run(pytester, *args):
    return pytester.runpytest(*DBBENCH, f"--amb-run-dir={pytester.path / 'runs'}", *args)


def _first_result(lines) -> int:
    return next(i for i, line in enumerate(lines) if re.search(r"(^|\s)[.u]+\s+\[|SOLVED|UNSOLVED", line))


def test_what_loads_is_said_before_the_first_step_and_only_what_the_run_needs(pytester):
    result = _run(pytester, "--amb-memory=zero_shot", "--amb-limit=3")  # zero_shot embeds nothing
    lines = result.outlines
    (loaded,) = [i for i, line in enumerate(lines) if line.startswith("amb: reference model ... ")]
    assert re.fullmatch(r"amb: reference model \.\.\. on 127\.0\.0\.1:\d+ \(\d+\.\d s\)", lines[loaded])
    assert loaded < _first_result(lines)
    assert not [line for line in lines if line.startswith(("amb: embedding model", "amb: container engine"))]

    result = _run(pytester, "--amb-memory=stream_icl", "--amb-limit=3")
    loading = "amb: embedding model all-MiniLM-L6-v2 (bundled) ... loaded (onnxruntime *) (* s)"
    clients = "amb: LLM clients ... httpx2 *, reference (* s)"  # imported while the embedding model loads
    result.stdout.fnmatch_lines(["amb: reference model ... on 127.0.0.1:*", clients, loading])
    assert "Loading weights" not in result.stdout.str()  # the library's own progress bar stays out of the line


def test_under_xdist_the_controller_says_what_each_worker_loads(pytester):
    result = _run(pytester, "--amb-memory=stream_icl", "--amb-limit=3", "-n", "2")
    loaded = "the reference model, the LLM clients and the embedding model all-MiniLM-L6-v2 (bundled)"
    result.stdout.fnmatch_lines([f"amb: each xdist worker loads {loaded} before its first step"])
    assert "amb: reference model ... " not in result.stdout.str()  # the controller itself loads nothing


def test_collect_only_loads_nothing(pytester):
    result = _run(pytester, "--amb-memory=stream_icl", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert not [line for line in result.outlines if " ... " in line and line.startswith("amb: ")]


@pytest.mark.parametrize(
    ("args", "columns"),
    [([], 60), (["-q"], 60), (["-n", "2"], 60), (["-v"], 300), (["-v", "-n", "2"], 160)],
    ids=["default", "q", "xdist", "v", "v-xdist"],
)
def test_the_progress_suffix_carries_an_estimate_and_lines_keep_to_the_width(pytester, monkeypatch, args, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    result = _run(pytester, "--amb-memory=zero_shot", *args)
    assert result.ret == pytest.ExitCode.OK
    lines = result.outlines
    shown = [line for line in lines if ESTIMATE.search(line)]
    assert shown, "\n".join(lines)
    progress = [line for line in lines if re.search(r"\[\s*\d+%(, ~[\d:]+ left)?\]", line)]
    assert progress and all(len(line) <= columns for line in progress), [len(line) for line in progress]
    assert "[100%]" in progress[-1]  # the end carries no estimate


def test_the_estimate_is_the_rate_so_far_times_what_is_left():
    assert estimate_left(10.0, 5, 5) == 10.0
    assert estimate_left(3.0, 0, 5) is None and estimate_left(3.0, 5, 0) is None
    assert [format_left(s) for s in (12, 754, 3723, -1)] == ["0:12", "12:34", "1:02:03", "0:00"]
    assert with_estimate(" [ 58%]", 12.4) == " [ 58%, ~0:12 left]"
    assert with_estimate(" [ 58%]", None) == " [ 58%]"
    assert with_estimate(" [23/39]", 12) == " [23/39]"  # the count style is left alone


def test_a_reporter_that_does_not_look_as_expected_gets_no_estimate_and_no_crash():
    assert install_estimate(object(), lambda: 1.0, True) is False
    counting = SimpleNamespace(_get_progress_information_message=lambda: " [1/2]", _show_progress_info="count",
                               _screen_width=80, _tw=SimpleNamespace(fullwidth=80, width_of_current_line=0))  # fmt: skip
    assert install_estimate(counting, lambda: 1.0, True) is False and counting._screen_width == 80
    progress = SimpleNamespace(_get_progress_information_message=lambda: " [ 50%]", _show_progress_info="progress",
                               _screen_width=80, _tw=SimpleNamespace(fullwidth=80, width_of_current_line=10))  # fmt: skip
    assert install_estimate(progress, lambda: 1 / 0, True) is True  # an estimate that raises: the plain message
    assert progress._get_progress_information_message() == " [ 50%]"
    assert install_estimate(progress, lambda: 5.0, True) is False  # never wrapped twice
