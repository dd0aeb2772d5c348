"""The sandbox child process seen from the parent: its command line and limits, starting it, one JSON
request/reply at a time over its pipes (``wire.py``) with a deadline, and killing and reaping it. Nothing
the child sends is trusted beyond being JSON of the expected shape and size (see ``sandbox.py`` for how
the backend uses it)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from taskcases.dbbench.backends import wire
from taskcases.dbbench.backends.sandbox_child import bootstrap_source

ROOT = Path(__file__).resolve().parents[3]  # holds the taskcases package
MAX_REPLY_BYTES = 1024 * 1024  # any reply but ``execute``'s rows


class SandboxError(OSError):
    """The SQL sandbox process could not be started, or a database could not be (re)built in it."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: int = 1024  # RLIMIT_AS of the child (SQLite itself: 512 MiB heap, 64 MiB per database)
    kill_grace_s: float = 0.5  # past the statement timeout, before the child is killed
    startup_s: float = 30.0  # for the child to start and say it is ready
    recycle_rss_mb: int = 256  # a child this large is replaced once no database is open in it


class ChildLost(Exception):
    """The child is gone: killed because it was overdue (``overdue``), or dead by itself (``how``)."""

    def __init__(self, how: str, overdue: bool = False, cpu_limit: bool = False):
        super().__init__(how)
        self.how, self.overdue, self.cpu_limit = how, overdue, cpu_limit


class SandboxProcess:
    """One sandbox child: started with its limits, one JSON request at a time, killed and reaped."""

    def __init__(self, limits: SandboxLimits):
        self.limits = limits
        # the parent-death signal follows the thread that starts the child: only the main thread's lives as long
        # as the process
        main = threading.current_thread() is threading.main_thread()
        config = json.dumps({"memory_bytes": limits.memory_mb * 1024 * 1024, "parent_pid": os.getpid() if main else 0})
        try:
            self.proc = subprocess.Popen(
                [*child_command(), str(ROOT), config],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                close_fds=True,
            )
        except OSError as exc:
            raise SandboxError(f"the SQL sandbox process could not be started: {exc}") from None
        self.pid = self.proc.pid
        self.peak_rss_kb = 0
        self._buffer = bytearray()
        self._poll = select.poll()
        self._poll.register(self.proc.stdout.fileno(), select.POLLIN)
        try:
            ready = self._read(time.monotonic() + limits.startup_s, MAX_REPLY_BYTES)
        except ChildLost as lost:
            raise SandboxError(f"the SQL sandbox process did not start: {lost.how}") from None
        if not ready.get("ready"):
            self.kill()
            raise SandboxError(f"the SQL sandbox process did not start: {str(ready)[:500]}")

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def call(self, request: dict, wait_s: float, max_reply: int = MAX_REPLY_BYTES) -> dict:
        """Send one request and wait up to ``wait_s`` for its reply; ChildLost (the child killed) otherwise."""
        try:
            wire.write_frame(self.proc.stdin.fileno(), request)
        except OSError:  # a broken pipe: the child died between requests
            raise self._dead() from None
        return self._read(time.monotonic() + wait_s, max_reply)

    def _read(self, deadline: float, max_reply: int) -> dict:
        fd = self.proc.stdout.fileno()
        size = None
        while True:
            if size is None and len(self._buffer) >= wire.HEADER_BYTES:
                size = int.from_bytes(self._buffer[: wire.HEADER_BYTES], "big")
                if size > max_reply:
                    self.kill()
                    raise ChildLost(f"it sent a reply of {size} bytes (more than {max_reply})")
            if size is not None and len(self._buffer) >= wire.HEADER_BYTES + size:
                body = bytes(self._buffer[wire.HEADER_BYTES : wire.HEADER_BYTES + size])
                del self._buffer[: wire.HEADER_BYTES + size]
                try:
                    reply = json.loads(body)
                except ValueError:
                    reply = None
                if not isinstance(reply, dict):
                    self.kill()
                    raise ChildLost("it sent a malformed reply")
                return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poll.poll(remaining * 1000):
                self.kill()
                raise ChildLost("it did not answer in time", overdue=True)
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise self._dead()
            self._buffer += chunk

    def _dead(self) -> ChildLost:
        """The child closed its end: reap it (killing it if it lingers) and say how it ended."""
        status, deadline = None, time.monotonic() + 1.0
        while status is None and self.alive and time.monotonic() < deadline:
            status = self._reap(os.WNOHANG)
            if status is None:
                time.sleep(0.005)
        if status is None:
            self.kill()
            return ChildLost("it closed its pipe")
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            return ChildLost(f"its process was killed by {signal_name(number)}", cpu_limit=number == signal.SIGXCPU)
        return ChildLost(f"its process exited with status {os.WEXITSTATUS(status)}")

    def kill(self) -> None:
        if self.alive:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap(0)

    def _reap(self, flags: int) -> int | None:
        if not self.alive:
            return None
        try:
            pid, status, usage = os.wait4(self.pid, flags)
        except ChildProcessError:
            self.proc.returncode = -1
            return None
        if pid == 0:
            return None
        self.peak_rss_kb = max(self.peak_rss_kb, usage.ru_maxrss)
        self.proc.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        return status


def child_command() -> list[str]:
    """The sandbox process's command line, before its two arguments (the repository root, the limits)."""
    return [sys.executable, "-I", "-S", "-c", bootstrap_source()]


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def kill_all(holder: list) -> None:
    for child in holder:
        child.kill()
    holder.clear()
