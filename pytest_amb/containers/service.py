"""The harness service "containers" (``TaskFamily.services``): the container engine chosen by
``--amb-container-engine``, discovered on first use and shared by every task of the process that asks."""

from __future__ import annotations


class ContainerService:
    def __init__(self, choice: str = "auto"):
        self.choice = choice  # auto, docker, podman or a socket URL
        self._engine = None
        self._unavailable = None  # the EngineUnavailable of a failed discovery, kept: one try per process

    def engine(self):
        """The discovered ``ContainerEngine``; raises ``EngineUnavailable`` (how to get one) when none answers."""
        from pytest_amb.containers.engine import ContainerEngine, EngineUnavailable

        if self._unavailable is not None:
            raise self._unavailable
        if self._engine is None:
            try:
                self._engine = ContainerEngine.discover(self.choice)
            except EngineUnavailable as exc:
                self._unavailable = exc
                raise
            self._engine.sweep()  # containers left by crashed runs on this host
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
