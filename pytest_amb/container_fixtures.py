"""Pytest fixtures for real os_interaction containers (registered by the pytest-amb plugin).

* ``amb_container_engine`` (session): the engine chosen by ``--amb-container-engine`` (``AMB_CONTAINER_ENGINE``,
  default auto); the test is skipped, with the message saying how to get an engine, when none answers
  (failed instead when ``AMB_REQUIRE_CONTAINERS=1``).
* ``amb_os_sandbox`` (function): a fresh container of the "default" image, removed after the test.
* ``amb_os_sandbox_factory`` (function): ``factory(kind="default", **limits)`` makes more sandboxes; all of
  them are removed after the test.

Images are built FROM ``--amb-os-base-image`` (``AMB_OS_BASE_IMAGE``) when set. Every container is labelled
with one id per pytest session (the controller's under xdist); at the end of the session the containers
of that id are swept, and at the first use of an engine the leftovers of crashed sessions on this host.
Runs that use no container never touch the engine's socket.
"""

from __future__ import annotations

import os
import uuid

import pytest

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


def _option(config, name: str) -> str | None:
    from pytest_amb import options

    return options.read_raw(config)[name].value


def _progress(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return lambda line: None  # an xdist worker has no terminal; the build still happens
    return lambda line: reporter.write_line(line)


@pytest.fixture(scope="session")
def amb_container_engine(request):
    """The container engine of this session (a ``taskcases.os_interaction.sandbox.ContainerEngine``).
    Skips the test when no engine answers; fails it instead when AMB_REQUIRE_CONTAINERS=1 (CI)."""
    from taskcases.os_interaction.sandbox import ContainerEngine, EngineUnavailable

    config = request.config
    engine = config.stash.get(_engine, None)
    if engine is None:
        try:
            engine = ContainerEngine.discover(_option(config, "container_engine") or "auto")
        except EngineUnavailable as exc:
            if os.environ.get(REQUIRE_VARIABLE) == "1":
                pytest.fail(f"{REQUIRE_VARIABLE}=1 but {exc}", pytrace=False)
            pytest.skip(str(exc))
        engine.sweep()  # leftovers of crashed sessions on this host
        config.stash[_engine] = engine
    return engine


@pytest.fixture
def amb_os_sandbox_factory(request, amb_container_engine):
    """``factory(kind="default", memory="1g", cpus=2.0, pids=512)`` -> a fresh ``ContainerSandbox``; every
    sandbox made is removed after the test."""
    config = request.config
    made = []

    def factory(kind: str = "default", **limits):
        limits.setdefault("base_image", _option(config, "os_base_image"))
        amb_container_engine.ensure_image(kind, limits["base_image"], progress=_progress(config))
        sandbox = amb_container_engine.sandbox(kind, session_id=config.stash[_session_id], **limits)
        made.append(sandbox)
        return sandbox

    yield factory
    for sandbox in made:
        sandbox.close()


@pytest.fixture
def amb_os_sandbox(amb_os_sandbox_factory):
    """A fresh container of the "default" os_interaction image, removed after the test."""
    return amb_os_sandbox_factory("default")


def session_id(config) -> str:
    """The id this session's containers are labelled with (``amb.session``)."""
    return config.stash[_session_id]
