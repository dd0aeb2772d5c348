"""The persistent TTY shell of a sandbox: one ``bash --login`` over the engine's hijacked exec socket, so ``cd``,
variables and ``su - user`` carry over between commands.

``TtyShell.run`` returns the cleaned text the terminal showed (``ShellOutput``), not capped. A command that
runs past its timeout is interrupted and reported in the text (never raised), and the shell keeps working.
Output beyond a byte budget (``STREAM_KEEP_BYTES``) is drained, not stored.
"""

from __future__ import annotations

import contextlib
import secrets
import select
import time
from dataclasses import dataclass

from pytest_amb.containers import terminal
from pytest_amb.containers.api import ENGINE_ERRORS, SandboxError, raw_socket, run_quietly

SHELL_START_TIMEOUT_S = 20.0
INTERRUPT_GRACE_S = 2.0  # how long a command gets to come back to the prompt after Ctrl-C / a kill
QUIET_S = 0.15  # a standard prompt at the end of the stream counts once nothing follows for this long
STREAM_KEEP_BYTES = 1 << 20  # output kept per command or stream; a flood beyond it is drained, not stored


@dataclass(frozen=True)
class ShellOutput:
    text: str  # cleaned, not capped (a task caps what its agent sees)
    timed_out: bool


@dataclass(frozen=True)
class _Reading:
    prompt: terminal.PromptMatch | None  # None: the deadline passed or the stream ended
    closed: bool  # the stream ended: the shell exited


class TtyShell:
    """One ``bash --login`` with a TTY over the engine's hijacked exec socket.

    Commands are typed as a bracketed paste (a multi-line script is one input, one prompt afterwards), and
    the shell's prompt is set to a random marker, so the end of a command is found exactly. A new shell
    started by a command (``su - jack``) shows a standard prompt instead: it is recognised the way the
    original does, and then given the marker too.
    """

    def __init__(self, api, container_id: str):
        self.api = api
        self.container_id = container_id
        self.marker = f"amb-{secrets.token_hex(8)}$ ".encode()
        self.sock = None
        self.pid: int | None = None  # the login shell's pid inside the container

    # -- life cycle

    def start(self) -> None:
        exec_id = self.api.exec_create(self.container_id, ["bash", "--login"], stdin=True, tty=True)["Id"]
        self.sock = raw_socket(self.api.exec_start(exec_id, socket=True, tty=True))
        # Typed ahead: whatever the image's first prompt looks like, the shell reads this line once ready.
        self.pid = self._install_marker(time.monotonic() + SHELL_START_TIMEOUT_S)

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    # -- commands

    def run(self, command: str, timeout: float) -> ShellOutput:
        self._drop_pending()
        try:
            self.sock.sendall(terminal.paste(command))
        except OSError:  # the shell ended since the last command (e.g. killed by a background job)
            self._restart()
            self.sock.sendall(terminal.paste(command))
        buffer = bytearray()
        reading = self._read_until_prompt(buffer, time.monotonic() + timeout)
        if reading.prompt is not None:
            return ShellOutput(self._finish(buffer, reading.prompt), timed_out=False)
        if reading.closed:
            text = self._output(buffer, len(buffer))
            self._restart()
            note = "[the shell exited; a new login shell was started (as root, in /root)]"
            return ShellOutput(f"{text}\n{note}".lstrip("\n"), timed_out=False)
        return self._interrupt(buffer, timeout)

    def _interrupt(self, buffer: bytearray, timeout: float) -> ShellOutput:
        """Ctrl-C; if the prompt does not come back, kill the terminal's foreground process group; if it
        still does not, replace the shell."""
        note = f"[the command timed out after {timeout:g} s and was interrupted]"
        interrupted_at = len(buffer)
        with contextlib.suppress(OSError):
            self.sock.sendall(b"\x03")
        reading = self._read_until_prompt(buffer, time.monotonic() + INTERRUPT_GRACE_S, interrupted_at)
        if reading.prompt is None and not reading.closed and self._kill_foreground():
            reading = self._read_until_prompt(buffer, time.monotonic() + INTERRUPT_GRACE_S, interrupted_at)
            note = f"[the command timed out after {timeout:g} s; it ignored Ctrl-C and was killed]"
        if reading.prompt is not None:
            return ShellOutput(f"{self._finish(buffer, reading.prompt)}\n{note}".lstrip("\n"), timed_out=True)
        text = self._output(buffer, len(buffer))
        try:
            self._restart()
            note = (
                f"[the command timed out after {timeout:g} s and the shell did not respond; it was replaced "
                "by a new login shell (as root, in /root): directory, variables and user were reset]"
            )
        except ENGINE_ERRORS as exc:  # no process can start in the container (e.g. its process limit is reached)
            self.close()
            note = f"[the command timed out after {timeout:g} s; the shell could not be restarted: {exc}]"
        return ShellOutput(f"{text}\n{note}".lstrip("\n"), timed_out=True)

    # -- internals

    def _finish(self, buffer: bytearray, prompt: terminal.PromptMatch) -> str:
        """The output before ``prompt``; a standard prompt (a new shell) is then given our marker."""
        text = self._output(buffer, prompt.start)
        if not prompt.ours:
            self._install_marker(time.monotonic() + SHELL_START_TIMEOUT_S)
        return text

    def _read_until_prompt(self, buffer: bytearray, deadline: float, search_from: int | None = None) -> _Reading:
        """Append to ``buffer`` until a prompt, the end of the stream or the deadline. The prompt is looked
        for from ``search_from``, by default from where readline accepted the command. Past the keep limit the
        middle of a flood is dropped (the head is the output; the tail holds the prompt)."""
        scanned = 0
        dropped = 0
        while True:
            start = terminal.output_start(bytes(buffer)) if search_from is None else search_from
            prompt = None
            if start is not None:
                prompt = terminal.find_prompt(bytes(buffer), self.marker, max(start, scanned - len(self.marker)))
                scanned = len(buffer)
            if prompt is not None and prompt.ours:
                del buffer[prompt.end :]  # what follows (a late job notice) is dropped before the next command
                return _Reading(prompt, closed=False)
            now = time.monotonic()
            if now >= deadline:
                return _Reading(None, closed=False)
            wait = min(deadline - now, QUIET_S) if prompt is not None else deadline - now
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready:
                if prompt is not None:  # a standard prompt and nothing after it
                    return _Reading(prompt, closed=False)
                continue
            try:
                chunk = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                return _Reading(None, closed=True)
            buffer += chunk
            if len(buffer) > 2 * STREAM_KEEP_BYTES:
                cut = len(buffer) - STREAM_KEEP_BYTES // 16
                dropped += cut - STREAM_KEEP_BYTES
                buffer[STREAM_KEEP_BYTES:cut] = f"\r\n[{dropped} bytes of output were discarded]\r\n".encode()
                scanned = STREAM_KEEP_BYTES
                if search_from is not None:
                    search_from = min(search_from, STREAM_KEEP_BYTES)

    @staticmethod
    def _output(buffer: bytearray, end: int) -> str:
        raw = bytes(buffer[:end])
        start = terminal.output_start(raw)
        return "" if start is None else terminal.clean(raw[start:])

    def _install_marker(self, deadline: float) -> int | None:
        """Give the shell at the prompt our marked prompt and learn its pid. The line also turns bracketed
        paste on for shells whose readline has it off (bash 5.0); its leading space keeps it out of the
        history where HISTCONTROL ignores spaces."""
        self._drop_pending()
        token = self.marker.decode()[len("amb-") :]
        # Quoted in two pieces, so that the echo of this line does not contain the marker itself.
        line = f" bind 'set enable-bracketed-paste on' 2>/dev/null; PS1='amb-''{token}'; echo amb-shell-pid=$$\r"
        self.sock.sendall(line.encode())
        buffer = bytearray()
        reading = self._read_until_prompt(buffer, deadline)
        while reading.prompt is not None and not reading.prompt.ours:
            reading = self._read_until_prompt(buffer, deadline)
        if reading.prompt is None:
            seen = terminal.clean(bytes(buffer))[-300:]
            raise SandboxError(f"the shell did not show the marked prompt; it showed: {seen!r}")
        for line in self._output(buffer, reading.prompt.start).splitlines():
            if line.startswith("amb-shell-pid="):
                return int(line.split("=", 1)[1])
        return None

    def _drop_pending(self, limit_s: float = 0.05) -> None:
        """Discard what arrived since the last prompt (a background job's late output), for at most
        ``limit_s`` (a background job may write without end)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and select.select([self.sock], [], [], 0)[0]:
            try:
                if not self.sock.recv(65536):
                    return
            except OSError:
                return

    def _kill_foreground(self) -> bool:
        """SIGKILL the terminal's foreground process group (found from the login shell's /proc stat), unless
        that is the shell itself. Runs as a separate exec; False if it could not."""
        if self.pid is None:
            return False
        script = (
            'read -r _ _ _ _ pgrp _ _ tpgid _ < "/proc/$1/stat" || exit 1; '
            '[ "$tpgid" -gt 0 ] && [ "$tpgid" != "$pgrp" ] && kill -KILL "-$tpgid"'
        )
        return run_quietly(self.api, self.container_id, ["sh", "-c", script, "sh", str(self.pid)])

    def _restart(self) -> None:
        if self.pid is not None:
            run_quietly(self.api, self.container_id, ["kill", "-KILL", str(self.pid)])
        self.close()
        self.start()
