"""The pytest11 entry point: options and hooks, thin, delegating everything.

Import-cheap on purpose: only the option table is imported at start-up. A run that collects no
benchmark items (no test function takes ``amb_step``) builds no plan, starts no server, loads no model
and writes nothing.
"""

from __future__ import annotations

import pytest

from pytest_amb import options

STEP_FIXTURE = "amb_step"
TASK_MARKER = "amb_task"
SESSION_PLUGIN = "amb-bench-session"
REPORT_ATTRIBUTE = "amb_result"  # JSON-only step result carried on the test report (survives xdist)


def pytest_addoption(parser):
    options.add_options(parser)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{TASK_MARKER}(family): a benchmark module of one task family; its tests take the '{STEP_FIXTURE}' fixture",
    )
    from pytest_amb.config import ConfigError, resolve

    try:
        run_config = resolve(options.read_raw(config), config.rootpath)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    from pytest_amb import fixtures
    from pytest_amb.session import BenchSession

    config.pluginmanager.register(BenchSession(config, run_config), SESSION_PLUGIN)
    config.pluginmanager.register(fixtures, "amb-fixtures")
