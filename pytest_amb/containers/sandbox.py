"""One fresh container for one sample, with two ways in:

* ``shell(command)``: one persistent ``bash --login`` with a TTY (``shell.py``), so ``cd``, variables and
  ``su - user`` carry over between commands; returns the cleaned text the terminal showed.
* ``exec(argv)``: a separate non-TTY exec (e.g. for setup and check scripts), with exit code, stdout and stderr,
  and a timeout.

Made by ``ContainerEngine.sandbox``; the container is removed on ``close``.
"""

from __future__ import annotations

import contextlib
import secrets
import select
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from pytest_amb.containers.api import ENGINE_ERRORS, SandboxError, exec_exit_code, raw_socket, run_quietly
from pytest_amb.containers.shell import STREAM_KEEP_BYTES, ShellOutput, TtyShell

if TYPE_CHECKING:
    from pytest_amb.containers.engine import ContainerEngine

__all__ = ["ContainerSandbox", "ExecResult", "SandboxError", "ShellOutput"]

# Devices the kernel puts in every network namespace when a tunnel module is loaded: down, without addresses,
# present in a network-less container too.
KERNEL_FALLBACK_DEVICES = ("tunl0", "sit0", "ip6tnl0", "gre0", "gretap0", "erspan0", "ip_vti0", "ip6_vti0", "ip6gre0")
EXEC_TAG_VARIABLE = "AMB_EXEC_TAG"  # marks an exec's processes, so a timed-out one can be killed in the container


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None when timed out
    stdout: str
    stderr: str
    timed_out: bool


class ByteBudget:
    """Bytes of one stream, kept up to a limit; the rest is counted, not stored."""

    def __init__(self, limit: int = STREAM_KEEP_BYTES):
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        note = f"\n[{self.dropped} more bytes of output were discarded]" if self.dropped else ""
        return self.data.decode("utf-8", errors="replace") + note


class ContainerSandbox:
    """One fresh container for one sample. Use as a context manager, or call ``close``."""

    def __init__(self, engine: ContainerEngine, container, image: str, network: str | None = None):
        self.engine_name = engine.name
        self.image = image
        self.container = container
        self.network = network  # the network the container is attached to, until disconnect_network
        self._api = engine.client.api
        self._shell: TtyShell | None = None
        self._closed = False

    @property
    def container_id(self) -> str:
        return self.container.id

    def shell(self, command: str, timeout: float = 30.0) -> ShellOutput:
        """Run ``command`` in the persistent login shell (started on first use) and return what the terminal
        showed: decoded, cleaned of control sequences, the echoed command and the prompt; not capped."""
        self._check_open()
        if self._shell is None or self._shell.sock is None:
            shell = TtyShell(self._api, self.container.id)
            try:
                shell.start()
            except Exception:
                shell.close()
                raise
            self._shell = shell
        return self._shell.run(command, timeout)

    def exec(self, argv: list[str], timeout: float = 30.0, user: str = "root") -> ExecResult:
        """Run ``argv`` without a TTY (e.g. ``["bash", "-c", code, "--", *params]``); on timeout its processes
        are killed and ``timed_out`` is set with the output so far.

        The command waits for a line on stdin before it starts, and gets that line only once the output stream
        is attached: Podman's attached exec otherwise drops the output a fast command writes at once (about
        one run in 250, measured with 4.3.1), which would misjudge a check.
        """
        self._check_open()
        tag = secrets.token_hex(8)
        gated = ["/bin/sh", "-c", 'read -r _ && exec "$@" </dev/null', "sh", *argv]
        exec_id = self._api.exec_create(
            self.container.id, gated, stdin=True, stdout=True, stderr=True, user=user,
            environment={EXEC_TAG_VARIABLE: tag},
        )["Id"]  # fmt: skip
        sock = raw_socket(self._api.exec_start(exec_id, socket=True))
        sock.sendall(b"start\n")  # the command starts only now that the output stream is attached (see above)
        streams = {1: ByteBudget(), 2: ByteBudget()}
        pending = bytearray()
        deadline = time.monotonic() + timeout
        finished = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if not select.select([sock], [], [], remaining)[0]:
                    continue
                try:
                    chunk = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                if not chunk:
                    finished = True
                    break
                pending += chunk
                # Multiplexed stream: 8-byte header (stream id, 3 zero bytes, big-endian length), then the payload.
                while len(pending) >= 8:
                    size = int.from_bytes(pending[4:8], "big")
                    if len(pending) < 8 + size:
                        break
                    streams.get(pending[0], streams[1]).add(bytes(pending[8 : 8 + size]))
                    del pending[: 8 + size]
        finally:
            sock.close()
        if not finished:
            self._kill_exec(tag)
            return ExecResult(None, streams[1].text(), streams[2].text(), timed_out=True)
        return ExecResult(exec_exit_code(self._api, exec_id), streams[1].text(), streams[2].text(), timed_out=False)

    def interfaces(self) -> list[str]:
        """The container's network interfaces, as its processes see them (``/sys/class/net``)."""
        result = self.exec(["ls", "-1", "/sys/class/net"], timeout=10.0)
        if result.exit_code != 0:
            raise SandboxError(f"cannot list the network interfaces: {(result.stderr or result.stdout).strip()!r}")
        return sorted(result.stdout.split())

    def disconnect_network(self) -> list[str]:
        """Detach every network from the container for good, then check from inside that only the loopback
        interface is left (raises SandboxError otherwise). Returns the networks detached."""
        self._check_open()
        try:
            self.container.reload()
            names = list((self.container.attrs.get("NetworkSettings") or {}).get("Networks") or {})
            for name in names:
                self._api.disconnect_container_from_network(self.container.id, name)
        except ENGINE_ERRORS as exc:
            raise SandboxError(f"cannot disconnect the container from its network: {exc}") from exc
        left = [name for name in self.interfaces() if name not in KERNEL_FALLBACK_DEVICES]
        if left != ["lo"]:
            raise SandboxError(f"the container still has network interfaces after disconnecting {names}: {left}")
        self.network = None
        return names

    def _kill_exec(self, tag: str) -> None:
        script = (
            'for e in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$e" 2>/dev/null | grep -qx "$1" && '
            'p="${e#/proc/}" && kill -KILL "${p%/environ}" 2>/dev/null; done; true'
        )
        run_quietly(self._api, self.container.id, ["sh", "-c", script, "sh", f"{EXEC_TAG_VARIABLE}={tag}"])

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox is closed")

    def close(self) -> None:
        """Remove the container (and everything in it); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._shell is not None:
            self._shell.close()
        with contextlib.suppress(*ENGINE_ERRORS):  # already gone (removed by a sweep or by the engine)
            self.container.remove(force=True, v=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
