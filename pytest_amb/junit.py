"""JUnit XML that CI can trust (``--junitxml``): wrong answers are not failures (they are UNSOLVED, see
``outcomes``), ERROR steps are errors, and every gate result is a testcase of its own (classname ``amb.gates``)
that fails when the gate fails. The run's headline metrics, its id, whether it is partial and each gate's line
are properties of the testsuite.

Written through the junitxml plugin's ``LogXML`` (``config.stash[xml_key]``, as ``record_testsuite_property``
reaches it) on the controller, before that plugin writes its file in its ``pytest_sessionfinish``."""

from __future__ import annotations

import pytest

GATES_CLASS = "amb.gates"
BASELINE_CLASS = "amb.baseline"


def _log_xml(config):
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pytest moved it: no JUnit additions rather than a crash
        return None
    return config.stash.get(xml_key, None)


def record(config, outcome) -> None:
    """Add the run's properties and gate testcases to the JUnit file being written (nothing without one)."""
    xml = _log_xml(config)
    if xml is None:
        return
    for name, value in properties(outcome.summary, outcome.gate_results):
        xml.add_global_property(name, value)
    for classname, name, failure in gate_cases(outcome):
        _testcase(xml, classname, name, failure)


def properties(summary: dict, gate_results) -> list[tuple[str, str]]:
    """``amb.run_id``, ``amb.partial``, one ``amb.<memory>.<family>.<metric>`` per headline value (per memory
    over its streams; per stream, ``amb.<stream>.<metric>``, for summaries without ``memories``), and
    ``amb.gate.<i>`` = the gate's line (PASS/FAIL first)."""
    partial = summary.get("partial")
    out = [("amb.run_id", str(summary.get("run_id"))), ("amb.partial", "true" if partial else "false")]
    if partial:
        out.append(("amb.steps_missing", str(partial.get("missing"))))
    out += [(f"amb.{key}", f"{value:.4f}") for key, value in headline_values(summary)]
    for i, result in enumerate(gate_results, 1):
        out.append((f"amb.gate.{i}", gate_line(result)))
    return out


def headline_values(summary: dict) -> list[tuple[str, float]]:
    """(``<memory>.<family>.<metric>``, value) from ``summary["memories"]``, else (``<stream>.<metric>``,
    value) from ``summary["streams"]``; metrics without a value are left out."""
    out = []
    if summary.get("memories") is not None:
        for row in summary["memories"]:
            for metric, cell in (row.get("metrics") or {}).items():
                value = cell.get("value") if isinstance(cell, dict) else cell
                if isinstance(value, int | float):
                    out.append((f"{row['memory']}.{row['family']}.{metric}", float(value)))
        return out
    for stream in summary.get("streams") or []:
        for metric, value in (stream.get("metrics") or {}).items():
            if isinstance(value, int | float):
                out.append((f"{stream['stream']}.{metric}", float(value)))
    return out


def gate_line(result) -> str:
    line = result.describe()
    verdict = "PASS" if result.passed else "FAIL"
    return line if line.startswith(verdict) else f"{verdict} {line}"


def gate_cases(outcome) -> list[tuple[str, str, str | None]]:
    """(classname, name, failure message or None) per gate result and per baseline comparison result."""
    cases = []
    for result in outcome.gate_results:
        subject = getattr(result, "subject", None) or getattr(result, "stream", "")
        cases.append((GATES_CLASS, f"{result.gate} {subject}".strip(), None if result.passed else gate_line(result)))
    comparison = outcome.comparison
    for result in comparison.results if comparison is not None else ():
        subject = getattr(result, "subject", None) or getattr(result, "stream", "")
        name = f"{comparison.name}: {result.metric} {subject}".strip()
        cases.append((BASELINE_CLASS, name, None if result.passed else result.describe()))
    return cases


def _testcase(xml, classname: str, name: str, failure: str | None) -> None:
    """One testcase, fed to LogXML as the reports of a test would be (a call report, then the teardown that
    closes the testcase)."""
    nodeid = f"{classname}::{name}"
    location = (classname, None, name)
    call = pytest.TestReport(nodeid, location, {}, "failed" if failure else "passed", failure, "call")
    teardown = pytest.TestReport(nodeid, location, {}, "passed", None, "teardown")
    xml.pytest_runtest_logreport(call)
    xml.pytest_runtest_logreport(teardown)
