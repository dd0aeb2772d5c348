"""Talking to the engine's low-level Docker API: the errors it can raise, the socket under a hijacked exec,
short helper commands nobody sees, and an exec's exit code."""

from __future__ import annotations

import select
import time

import docker


class SandboxError(RuntimeError):
    """The container itself failed (it is gone, or no process can start in it)."""


# What talking to an engine can raise: its API errors, and socket or HTTP failures (requests' are OSErrors).
ENGINE_ERRORS = (docker.errors.DockerException, OSError, SandboxError)


def raw_socket(hijacked):
    """The socket under the docker SDK's SocketIO wrapper (unix and tcp transports)."""
    return getattr(hijacked, "_sock", hijacked)


def run_quietly(api, container_id: str, argv: list[str], timeout: float = 5.0) -> bool:
    """Run a short helper command in the container (not shown to anyone); True if it exited 0."""
    try:
        exec_id = api.exec_create(container_id, argv, stdout=True, stderr=True)["Id"]
        sock = raw_socket(api.exec_start(exec_id, socket=True))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if select.select([sock], [], [], deadline - time.monotonic())[0] and not sock.recv(65536):
                    break
        finally:
            sock.close()
        return exec_exit_code(api, exec_id) == 0
    except ENGINE_ERRORS:
        return False


def exec_exit_code(api, exec_id: str, wait_s: float = 2.0) -> int | None:
    """The exec's exit code once the engine has recorded it (Podman can lag a moment behind the stream)."""
    deadline = time.monotonic() + wait_s
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") or time.monotonic() >= deadline:
            return info.get("ExitCode")
        time.sleep(0.02)
