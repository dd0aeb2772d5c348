"""The pytest fixture for real containers, and the end-of-session sweep (registered by the pytest-amb plugin).

* ``amb_container_engine`` (session): the engine chosen by ``--amb-container-engine`` (``AMB_CONTAINER_ENGINE``,
  default auto); the test is skipped, with the message saying how to get an engine, when none answers
  (failed instead when ``AMB_REQUIRE_CONTAINERS=1``).

A task's own sandbox fixtures build on it, labelling their containers with ``session_id(config)`` and
reporting image builds through ``progress(config)``. There is one id per pytest session (the controller's
under xdist); at the end of the session the containers of that id are swept, and at the first use of an
engine the leftovers of crashed sessions on this host. Runs that use no container never touch the engine's
socket, and importing this module imports no docker.
"""

from __future__ import annotations

import os
import uuid

import pytest

from pytest_amb import options

REQUIRE_VARIABLE = "AMB_REQUIRE_CONTAINERS"
SESSION_ID_KEY = "amb_container_session"  # in xdist's workerinput: the controller's session id
_session_id = pytest.StashKey[str]()
_engine = pytest.StashKey[object]()


def pytest_configure(config):
    workerinput = getattr(config, "workerinput", None)
    config.stash[_session_id] = (workerinput or {}).get(SESSION_ID_KEY) or uuid.uuid4().hex[:12]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: workers label their containers with the controller's session id."""
    node.workerinput[SESSION_ID_KEY] = node.config.stash[_session_id]


def pytest_sessionfinish(session):
    engine = session.config.stash.get(_engine, None)
    if engine is not None:  # only a process that used an engine; each removes what it made
        engine.sweep(session.config.stash[_session_id], pid=os.getpid())
        engine.close()


def progress(config):
    """Where image build progress goes: the terminal (an xdist worker has none; the build still happens)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return lambda line: None
    return lambda line: reporter.write_line(line)


@pytest.fixture(scope="session")
def amb_container_engine(request):
    """The container engine of this session (a ``pytest_amb.containers.engine.ContainerEngine``).
    Skips the test when no engine answers; fails it instead when AMB_REQUIRE_CONTAINERS=1 (CI)."""
    from pytest_amb.containers.engine import ContainerEngine, EngineUnavailable

    config = request.config
    engine = config.stash.get(_engine, None)
    if engine is None:
        try:
            engine = ContainerEngine.discover(options.read_value(config, "container_engine") or "auto")
        except EngineUnavailable as exc:
            if os.environ.get(REQUIRE_VARIABLE) == "1":
                pytest.fail(f"{REQUIRE_VARIABLE}=1 but {exc}", pytrace=False)
            pytest.skip(str(exc))
        engine.sweep()  # leftovers of crashed sessions on this host
        config.stash[_engine] = engine
    return engine


def session_id(config) -> str:
    """The id this session's containers are labelled with (``amb.session``)."""
    return config.stash[_session_id]
