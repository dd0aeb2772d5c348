"""Benchmark outcomes of their own. A sample the agent solved is SOLVED; one it got wrong (its step has a verdict,
"failed", and its test failed on an ``assert``) is UNSOLVED: a result, not a failing test (outcome passed, no
traceback). With ``--amb-fail-unsolved`` it stays a failed test whose message is the step's explanation on one
line, without a traceback. ERRORs (no verdict) are untouched: they stay pytest errors.

The mark travels on the report as ``OUTCOME_ATTRIBUTE`` (a plain string, so it survives xdist's serialisation);
pytest's terminal counts the categories in its last line ("35 solved, 33 unsolved, 11 passed")."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from pytest_amb.names import OUTCOME_ATTRIBUTE, RESULT_KEY

SOLVED, UNSOLVED = "solved", "unsolved"
_FAILED = SimpleNamespace(passed=False, failed=True)  # a failed call report, to classify before it exists
_STATUS = {
    SOLVED: (SOLVED, ".", ("SOLVED", {"green": True})),
    UNSOLVED: (UNSOLVED, "u", ("UNSOLVED", {"yellow": True})),
}


def one_line(text: str) -> str:
    """A multi-line explanation (question, gold, predicted, judge label) as one line."""
    return " | ".join(line.strip() for line in (text or "").splitlines() if line.strip())


def unsolved_message(payload: dict) -> str:
    """What a wrong answer says as a failed test (``--amb-fail-unsolved``): one paragraph, no traceback."""
    from pytest_amb.storage import failure_text

    explanation = one_line(payload.get("explanation") or "") or f"reward {payload.get('reward')}"
    return failure_text(f"unsolved (the agent's answer is wrong): {explanation}")


def classify(payload: dict | None, report, raised_assertion: bool) -> str | None:
    """SOLVED, UNSOLVED or None (not a benchmark sample's verdict) for a call report. ``payload``: the step's
    result (None for a test that is not a benchmark step)."""
    from pytest_amb.plan import SAMPLE
    from pytest_amb.runner import FAILED, PASSED

    if payload is None or payload["step"].get("kind") != SAMPLE:
        return None
    if payload["status"] == PASSED and report.passed:
        return SOLVED
    if payload["status"] == FAILED and report.failed and raised_assertion:
        return UNSOLVED
    return None


class StepOutcomes:
    """The report-status plugin (registered by ``plugin.pytest_configure``, in every process)."""

    def __init__(self, fail_unsolved: bool):
        self.fail_unsolved = fail_unsolved

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when != "call":
            return report
        payload = item.stash.get(RESULT_KEY, None)
        raised_assertion = call.excinfo is not None and call.excinfo.errisinstance(AssertionError)
        outcome = classify(payload, report, raised_assertion)
        if outcome is None:
            return report
        setattr(report, OUTCOME_ATTRIBUTE, outcome)
        item.user_properties.append(("amb_outcome", outcome))  # JUnit: on the testcase's properties
        if outcome == UNSOLVED:
            if self.fail_unsolved:
                report.longrepr = unsolved_message(payload)
            else:
                report.outcome, report.longrepr = "passed", None
        return report

    def pytest_report_teststatus(self, report, config):
        if report.when != "call" or not report.passed:
            return None  # a wrong answer failed by --amb-fail-unsolved is pytest's FAILED
        return _STATUS.get(getattr(report, OUTCOME_ATTRIBUTE, None))


class UnsolvedReports:
    """Registered beside StepOutcomes (``plugin.pytest_configure``): makes the report of a wrong answer itself."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        """A wrong answer's call report, built without pytest formatting the ``assert``'s traceback (milliseconds a
        step, and never shown: the report carries the explanation instead). Other reports: pytest's own."""
        if call.when != "call" or call.excinfo is None or not call.excinfo.errisinstance(AssertionError):
            return None
        payload = item.stash.get(RESULT_KEY, None)
        if classify(payload, _FAILED, raised_assertion=True) != UNSOLVED:
            return None
        answered = copy.copy(call)
        answered.excinfo = None  # the report of a call that returned: no traceback to format
        report = pytest.TestReport.from_item_and_call(item, answered)
        report.outcome, report.longrepr = "failed", unsolved_message(payload)
        return report
