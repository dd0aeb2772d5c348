"""The pytest11 entry point: options and hooks, thin, delegating everything.

Import-cheap on purpose: only the option table is imported at start-up. The plan is built (and so
validated) at configure time, which reads the task index files and nothing more; a run that collects
no benchmark items (no test function takes ``amb_step``) starts no server, loads no model and writes
nothing.
"""

from __future__ import annotations

import pytest

from pytest_amb import options
from pytest_amb.names import SESSION_PLUGIN, STEP_FIXTURE, TASK_MARKER


def pytest_addoption(parser):
    from pytest_amb import registry

    registry.refresh()
    options.add_options(parser, options.all_specs())
    parser.getgroup("amb").addoption(
        "--amb-gate",
        action="append",
        dest="amb_gate",
        default=[],
        metavar="METRIC>=VALUE",
        help="quality gate on every stream, e.g. 'csr>=0.40' (repeatable); a failed gate fails the run",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{TASK_MARKER}(family): a benchmark module of one task family; its tests take the '{STEP_FIXTURE}' fixture",
    )
    from pytest_amb.config import ConfigError, named_families, resolve

    raw = options.read_raw(config)
    try:
        run_config = resolve(raw, config.rootpath, named_families(config))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    from pytest_amb import baseline, fixtures, gates
    from pytest_amb.metrics.core import known_table
    from pytest_amb.plan import PlanError
    from pytest_amb.resume import ResumeError
    from pytest_amb.session import BenchSession
    from pytest_amb.tasks import DataError

    bench = BenchSession(config, run_config)
    try:
        _load_data(run_config)
        bench.plan()
        bench.prepare_run()
        known = known_table()
        metric_names = [m.name for m in known.metrics]
        bench.gates = [gates.parse(text, metric_names) for text in config.getoption("amb_gate") or []]
        bench.baseline_request = baseline.request_from(raw, config.rootpath, known.comparable)
        if bench.baseline_request.compare and not hasattr(config, "workerinput"):
            bench.baseline = baseline.load(bench.baseline_request, run_config)
    except (PlanError, DataError, ResumeError, gates.GateError, baseline.BaselineError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(bench, SESSION_PLUGIN)
    from pytest_amb.outcomes import StepOutcomes, UnsolvedReports
    from pytest_amb.progress import Progress

    config.pluginmanager.register(StepOutcomes(run_config.fail_unsolved), "amb-step-outcomes")
    config.pluginmanager.register(UnsolvedReports(), "amb-unsolved-reports")
    config.pluginmanager.register(Progress(bench), "amb-progress")
    from pytest_amb.collection import StepCollection

    config.pluginmanager.register(StepCollection(bench), "amb-step-collection")
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        from pytest_amb.scheduling import StreamSchedulingPlugin

        config.pluginmanager.register(StreamSchedulingPlugin(bench), "amb-stream-scheduling")
    config.pluginmanager.register(fixtures, "amb-fixtures")
    from pytest_amb import registry
    from pytest_amb.containers import fixtures as container_fixtures

    config.pluginmanager.register(container_fixtures, "amb-container-fixtures")
    for family in registry.task_families().values():  # fixtures a task family offers its users
        if family.plugin:
            config.pluginmanager.import_plugin(family.plugin)
    if config.getoption("htmlpath", None) and not hasattr(config, "workerinput"):
        from pytest_amb.report.html import HtmlReport

        config.pluginmanager.register(HtmlReport(bench), "amb-html-report")


def _load_data(run_config) -> None:
    """Every selected task's data, loaded now (once per process, shared with the run): a file a family cannot
    read is a usage error of one line, whatever its loader raised, never a traceback."""
    from pytest_amb import registry
    from pytest_amb.tasks import DataError

    for source in run_config.tasks:
        try:
            registry.load_data(source)
        except DataError as exc:
            raise DataError(" ".join(str(exc).split())) from None
        except Exception as exc:  # noqa: BLE001 (a loader's unforeseen failure on a file: the data's fault, said in one line)
            files = ", ".join(str(f) for f in source.files)
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise DataError(f"task '{source.name}' ({files}): its data cannot be read: {detail}") from None
