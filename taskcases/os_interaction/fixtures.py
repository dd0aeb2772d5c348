"""Pytest fixtures for real os_interaction containers (registered by the pytest-amb plugin), on top of the shared
``amb_container_engine`` (``pytest_amb.containers.fixtures``).

* ``amb_os_sandbox`` (function): a fresh container of the "default" image, removed after the test.
* ``amb_os_sandbox_factory`` (function): ``factory(kind="default", **limits)`` makes more sandboxes; all of
  them are removed after the test.

Images are built FROM ``--amb-os-base-image`` (``AMB_OS_BASE_IMAGE``) when set. Every container is labelled
with the session's container id, so the end-of-session sweep removes what a test forgot.
"""

from __future__ import annotations

import pytest

from pytest_amb.containers.fixtures import progress, session_id
from pytest_amb.options import read_value


@pytest.fixture
def amb_os_sandbox_factory(request, amb_container_engine):
    """``factory(kind="default", memory="1g", cpus=2.0, pids=512, base_image=...)`` -> a fresh
    ``ContainerSandbox``; every sandbox made is removed after the test."""
    from taskcases.os_interaction import images

    config = request.config
    made = []

    def factory(kind: str = "default", **limits):
        limits.setdefault("base_image", read_value(config, "os_base_image"))
        images.ensure(amb_container_engine, kind, limits["base_image"], progress=progress(config))
        sandbox = images.open_sandbox(amb_container_engine, kind, session_id=session_id(config), **limits)
        made.append(sandbox)
        return sandbox

    yield factory
    for sandbox in made:
        sandbox.close()


@pytest.fixture
def amb_os_sandbox(amb_os_sandbox_factory):
    """A fresh container of the "default" os_interaction image, removed after the test."""
    return amb_os_sandbox_factory("default")
