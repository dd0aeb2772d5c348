"""A user-written task family (the worked example of docs/tasks.md, docs/examples/arithmetic/) installed by a
real entry point and run through pytester in all five modes: its own option, its own metric in the
terminal table, summary.json, the HTML report and a gate, and its reference policy answering on loopback."""

import json
import sys
from pathlib import Path

import pytest

from tests.support.entry_points import install

ROOT = Path(__file__).resolve().parents[2]
BENCH = ["--pyargs", "arithmetic.test_arithmetic", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestAssertRewriteWarning", "--amb-task=arithmetic"]  # fmt: skip
MODES = {
    "online": [],
    "offline": ["--amb-train-size=0.5"],
    "replay": ["--amb-replay-m=8", "--amb-replay-n=4"],
    "transfer": ["--amb-forward-n=2"],
    "repair": ["--amb-repair-m=8", "--amb-repair-n=3"],
}


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """The example installed as a distribution would be: a dist-info with its entry point on sys.path."""
    install(monkeypatch, tmp_path / "site", "arithmetic_example", "pytest_amb.tasks", "arithmetic = arithmetic:FAMILY",
            ROOT / "docs" / "examples")  # fmt: skip
    yield
    for name in [m for m in sys.modules if m == "arithmetic" or m.startswith("arithmetic.")]:
        sys.modules.pop(name)


def _run(pytester, *args):
    return pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'runs'}", *args)


def _summary(pytester) -> dict:
    (run,) = sorted((pytester.path / "runs").iterdir())
    return json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize("mode", list(MODES))
def test_the_example_task_runs_in_every_mode_with_its_metric_and_option(pytester, installed, mode):
    result = _run(pytester, f"--amb-mode={mode}", "--amb-memory=stream_icl", "--amb-arithmetic-tolerance=0.5",
                  "--amb-gate=abs_error<=0.5", *MODES[mode])  # fmt: skip
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert "errors" not in outcomes and "failed" not in outcomes and outcomes.get("solved", 0) > 0
    result.stdout.fnmatch_lines(["  memory * n *ASR*|err|*", "gate PASS abs_error<=0.5 stream_icl on arithmetic*"])
    summary = _summary(pytester)
    assert summary["config"]["arithmetic_tolerance"] == 0.5
    stream = summary["streams"][0]
    assert stream["metrics"]["abs_error"] == pytest.approx(0.0)  # the reference policy computes each expression
    assert stream["arithmetic"]["n"] > 0 and stream["success"]["per_type"].keys() == {"+", "-", "*"}
    assert all(s["success"]["asr"] is None or s["success"]["asr"] == 1.0 for s in summary["streams"])


def test_a_failed_gate_on_the_example_metric_fails_the_run(pytester, installed):
    result = _run(pytester, "--amb-memory=zero_shot", "--amb-gate=abs_error<0")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["gate FAIL abs_error<0 zero_shot on arithmetic: 0.0000 [0.00, 0.00] (n=24)"])


def test_the_example_metric_is_in_the_html_report(pytester, installed):
    report = pytester.path / "report.html"
    result = _run(pytester, "--amb-memory=zero_shot", f"--html={report}", "--self-contained-html")
    assert result.ret == pytest.ExitCode.OK
    page = report.read_text(encoding="utf-8")
    assert "<th>|err|</th>" in page and "zero_shot/arithmetic" in page


@pytest.mark.parametrize(
    ("value", "message"),
    [("-1", "'-1' is negative; give an absolute tolerance >= 0"), ("much", "'much' is not a number")],
)
def test_a_bad_value_of_the_example_option_is_a_usage_error_naming_it(pytester, installed, value, message):
    result = _run(pytester, f"--amb-arithmetic-tolerance={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--amb-arithmetic-tolerance (from --amb-arithmetic-tolerance): {message}*"])


def test_the_example_option_has_ini_and_environment_twins(pytester, installed, monkeypatch):
    pytester.makeini("[pytest]\namb_arithmetic_tolerance = 2\n")
    _run(pytester, "--amb-memory=zero_shot", "--amb-limit=2")
    assert _summary(pytester)["config"]["arithmetic_tolerance"] == 2.0
    monkeypatch.setenv("AMB_ARITHMETIC_TOLERANCE", "3")  # the environment wins over the ini file
    pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'env-runs'}", "--amb-memory=zero_shot", "--amb-limit=2")
    (run,) = (pytester.path / "env-runs").iterdir()
    assert json.loads((run / "summary.json").read_text())["config"]["arithmetic_tolerance"] == 3.0
