"""Real containers for os_interaction, driven by the docker SDK against a Docker Engine or Podman's
Docker-compatible API.

One fresh container per sample (``ContainerEngine.sandbox``), with two ways in, as in the original:

* ``shell(command)``: one persistent ``bash --login`` with a TTY, so ``cd``, variables and ``su - user``
  carry over between commands; returns the cleaned text the terminal showed. A command that runs past its
  timeout is interrupted and reported in the text (never raised), and the shell keeps working.
* ``exec(argv)``: a separate non-TTY exec for init, start and check scripts, with exit code, stdout and
  stderr, and a timeout.

Containers have no network, a memory limit without swap, CPU and process-count limits, carry the labels
``amb.pytest``, ``amb.session``, ``amb.pid`` and ``amb.host``, and are removed on ``close`` (or by
``ContainerEngine.sweep`` after a crash).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import select
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import docker

from taskcases.os_interaction import images, terminal

OUTPUT_LIMIT = 800  # the original's cap on an observation
OUTPUT_KEEP = 780
TRUNCATION_NOTE = "\n[truncated because the output is too long]"

LABEL = "amb.pytest"
PODMAN_SOCKET_HINT = "unix:///tmp/amb-podman.sock"
PING_TIMEOUT_S = 5.0
API_TIMEOUT_S = 900.0  # long enough for an image build's quiet steps
SHELL_START_TIMEOUT_S = 20.0
INTERRUPT_GRACE_S = 2.0  # how long a command gets to come back to the prompt after Ctrl-C / a kill
QUIET_S = 0.15  # a standard prompt at the end of the stream counts once nothing follows for this long
STREAM_KEEP_BYTES = 1 << 20  # output kept per command or stream; a flood beyond it is drained, not stored
EXEC_TAG_VARIABLE = "AMB_EXEC_TAG"  # marks an exec's processes, so a timed-out one can be killed in the container


class EngineUnavailable(RuntimeError):
    """No container engine answered; the message says which were tried and how to get one."""


class ImageBuildError(RuntimeError):
    """An os_interaction image could not be built; the message carries the build's last lines."""


class SandboxError(RuntimeError):
    """The container itself failed (it is gone, or no process can start in it)."""


# What talking to an engine can raise: its API errors, and socket or HTTP failures (requests' are OSErrors).
ENGINE_ERRORS = (docker.errors.DockerException, OSError, SandboxError)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None when timed out
    stdout: str
    stderr: str
    timed_out: bool


@dataclass(frozen=True)
class ShellOutput:
    text: str  # cleaned, not capped (see cap_output)
    timed_out: bool


def cap_output(text: str) -> str:
    """The original's cap on what the agent sees: over 800 characters, the first 780 and a note."""
    if len(text) > OUTPUT_LIMIT:
        return text[:OUTPUT_KEEP] + TRUNCATION_NOTE
    return text


def _raw_socket(hijacked):
    """The socket under the docker SDK's SocketIO wrapper (unix and tcp transports)."""
    return getattr(hijacked, "_sock", hijacked)


class _ByteBudget:
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


@dataclass(frozen=True)
class _Reading:
    prompt: terminal.PromptMatch | None  # None: the deadline passed or the stream ended
    closed: bool  # the stream ended: the shell exited


class _TtyShell:
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
        self.sock = _raw_socket(self.api.exec_start(exec_id, socket=True, tty=True))
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
        return _run_quietly(self.api, self.container_id, ["sh", "-c", script, "sh", str(self.pid)])

    def _restart(self) -> None:
        if self.pid is not None:
            _run_quietly(self.api, self.container_id, ["kill", "-KILL", str(self.pid)])
        self.close()
        self.start()


def _run_quietly(api, container_id: str, argv: list[str], timeout: float = 5.0) -> bool:
    """Run a short helper command in the container (not shown to anyone); True if it exited 0."""
    try:
        exec_id = api.exec_create(container_id, argv, stdout=True, stderr=True)["Id"]
        sock = _raw_socket(api.exec_start(exec_id, socket=True))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if select.select([sock], [], [], deadline - time.monotonic())[0] and not sock.recv(65536):
                    break
        finally:
            sock.close()
        return _exit_code(api, exec_id) == 0
    except ENGINE_ERRORS:
        return False


def _exit_code(api, exec_id: str, wait_s: float = 2.0) -> int | None:
    """The exec's exit code once the engine has recorded it (Podman can lag a moment behind the stream)."""
    deadline = time.monotonic() + wait_s
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") or time.monotonic() >= deadline:
            return info.get("ExitCode")
        time.sleep(0.02)


class ContainerSandbox:
    """One fresh container for one sample. Use as a context manager, or call ``close``."""

    def __init__(self, engine: ContainerEngine, container, image: str):
        self.engine_name = engine.name
        self.image = image
        self.container = container
        self._api = engine.client.api
        self._shell: _TtyShell | None = None
        self._closed = False

    @property
    def container_id(self) -> str:
        return self.container.id

    def shell(self, command: str, timeout: float = 30.0) -> ShellOutput:
        """Run ``command`` in the persistent login shell (started on first use) and return what the terminal
        showed: decoded, cleaned of control sequences, the echoed command and the prompt; not capped."""
        self._check_open()
        if self._shell is None or self._shell.sock is None:
            shell = _TtyShell(self._api, self.container.id)
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
        sock = _raw_socket(self._api.exec_start(exec_id, socket=True))
        sock.sendall(b"start\n")  # the command starts only now that the output stream is attached (see above)
        streams = {1: _ByteBudget(), 2: _ByteBudget()}
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
        return ExecResult(_exit_code(self._api, exec_id), streams[1].text(), streams[2].text(), timed_out=False)

    def _kill_exec(self, tag: str) -> None:
        script = (
            'for e in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$e" 2>/dev/null | grep -qx "$1" && '
            'p="${e#/proc/}" && kill -KILL "${p%/environ}" 2>/dev/null; done; true'
        )
        _run_quietly(self._api, self.container.id, ["sh", "-c", script, "sh", f"{EXEC_TAG_VARIABLE}={tag}"])

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


def _candidate_urls(choice: str) -> list[str]:
    docker_host = os.environ.get("DOCKER_HOST", "")
    docker_urls = [docker_host] if docker_host else []
    docker_urls.append("unix:///var/run/docker.sock")
    podman_urls = []
    if os.environ.get("XDG_RUNTIME_DIR"):
        podman_urls.append(f"unix://{os.environ['XDG_RUNTIME_DIR']}/podman/podman.sock")
    podman_urls += ["unix:///run/podman/podman.sock", PODMAN_SOCKET_HINT]
    if choice == "auto":
        urls = docker_urls + podman_urls
    elif choice == "docker":
        urls = docker_urls
    elif choice == "podman":
        urls = podman_urls
    elif "://" in choice:
        urls = [choice]
    else:
        raise ValueError(f"container engine '{choice}' is not accepted: auto, docker, podman, or a URL")
    return list(dict.fromkeys(urls))


def _how_to_get_an_engine(tried: list[str]) -> str:
    lines = "\n".join(f"  - {line}" for line in tried)
    return (
        "no container engine answered for os_interaction. Tried:\n"
        f"{lines}\n"
        "Get one of:\n"
        "  - Docker: start the Docker Engine (its socket /var/run/docker.sock), or set DOCKER_HOST;\n"
        "  - Podman: apt-get install -y podman runc; then\n"
        f"      podman system service --time=0 {PODMAN_SOCKET_HINT} &\n"
        f"      export DOCKER_HOST={PODMAN_SOCKET_HINT}\n"
        "Without access to image registries, build the base image first: extra/os/build-base-image.sh and\n"
        "export AMB_OS_BASE_IMAGE=localhost/amb-base:bookworm (see extra/README.md)."
    )


class ContainerEngine:
    """A Docker Engine or Podman answering the Docker API, with the images and containers of os_interaction."""

    def __init__(self, client, url: str, name: str, images_dir: Path = images.IMAGES_DIR):
        self.client = client
        self.url = url
        self.name = name  # provenance, e.g. "podman 4.3.1" or "docker 24.0.7"
        self.images_dir = images_dir  # the Dockerfile folders, one per kind
        self._built: set[str] = set()

    @classmethod
    def discover(cls, choice: str = "auto") -> ContainerEngine:
        """The first engine that answers a ping. ``choice``: "auto" ($DOCKER_HOST, the Docker socket, then the
        Podman sockets), "docker", "podman", or a URL (unix://..., tcp://...)."""
        tried = []
        for url in _candidate_urls(choice):
            if url.startswith("unix://") and not Path(url[len("unix://") :]).exists():
                tried.append(f"{url}: no such socket")
                continue
            try:
                if url == os.environ.get("DOCKER_HOST"):  # honours DOCKER_TLS_VERIFY / DOCKER_CERT_PATH
                    client = docker.from_env(timeout=PING_TIMEOUT_S)
                else:
                    client = docker.DockerClient(base_url=url, timeout=PING_TIMEOUT_S)
                client.ping()
                version = client.version()
            except ENGINE_ERRORS as exc:
                tried.append(f"{url}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            client.api.timeout = API_TIMEOUT_S
            return cls(client, url, _engine_name(version))
        raise EngineUnavailable(_how_to_get_an_engine(tried))

    # -- images

    def ensure_image(self, kind: str, base_image: str | None = None, progress=print) -> str:
        """The tag of the ``kind`` image, built from our Dockerfile when the engine lacks it. The tag is a
        content hash of the Dockerfile folder and the base image, so a second call (or session) reuses it."""
        base = images.resolve_base_image(base_image)
        folder = images.image_dir(kind, self.images_dir)
        tag = images.image_tag(kind, folder, base)
        if tag in self._built:
            return tag
        lock_path = Path(tempfile.gettempdir()) / f"amb-image-{tag.rsplit('/', 1)[-1].replace(':', '-')}.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers on one machine build an image once
            if not self.has_image(tag):
                self._build(folder, tag, base, progress)
        self._built.add(tag)
        return tag

    def has_image(self, tag: str) -> bool:
        """Whether the engine has the image ``tag`` (never pulls)."""
        try:
            self.client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _build(self, folder: Path, tag: str, base: str | None, progress) -> None:
        started = time.monotonic()
        progress(f"amb: building {tag} from {folder} (base {base or 'the Dockerfile default'}) with {self.name}")
        lines: list[str] = []
        stream = self.client.api.build(
            path=str(folder),
            tag=tag,
            buildargs={"BASE": base} if base else None,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        error = None
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            for line in text.splitlines():
                if line.strip():
                    lines.append(line)
                    progress(f"amb:   {line}")
            if "error" in chunk or "errorDetail" in chunk:
                error = chunk.get("error") or chunk["errorDetail"].get("message")
        if error or not self.has_image(tag):
            tail = "\n".join(lines[-15:])
            raise ImageBuildError(
                f"building {tag} failed: {error or 'no image was produced'}\n{tail}\n"
                "Offline machines: build a local base image (extra/os/build-base-image.sh) and set "
                "AMB_OS_BASE_IMAGE=localhost/amb-base:bookworm."
            )
        progress(f"amb: built {tag} in {time.monotonic() - started:.1f} s")

    # -- containers

    def sandbox(
        self,
        kind: str = "default",
        *,
        session_id: str,
        memory: str = "1g",
        cpus: float = 2.0,
        pids: int = 512,
        base_image: str | None = None,
    ) -> ContainerSandbox:
        """A fresh, labelled, network-less, resource-limited container of the ``kind`` image."""
        image = self.ensure_image(kind, base_image)
        settings = {
            "entrypoint": ["sleep", "infinity"],
            "command": [],
            "detach": True,
            "labels": {
                LABEL: "1",
                "amb.session": session_id,
                "amb.pid": str(os.getpid()),
                "amb.host": socket.gethostname(),
                "amb.kind": kind,
            },
            "network_mode": "none",
            "network_disabled": True,
            "mem_limit": memory,
            "memswap_limit": memory,  # equal to the memory limit: no swap
            "nano_cpus": int(cpus * 1e9),
            "pids_limit": pids,
            "user": "root",
            "working_dir": "/root",
            "init": True,
        }
        try:
            container = self.client.containers.run(image, **settings)
        except docker.errors.APIError as exc:
            if "init" not in str(exc).lower():
                raise
            settings["init"] = False  # the engine has no init binary; sleep is then PID 1
            container = self.client.containers.run(image, **settings)
        return ContainerSandbox(self, container, image)

    def sweep(self, session_id: str | None = None, pid: int | None = None) -> int:
        """Remove the labelled containers of ``session_id`` (only those made by process ``pid`` when given: an
        xdist worker must not remove its siblings' containers), and those of any session whose process
        (``amb.pid``) on this host is gone (leftovers of a crash). Returns how many were removed."""
        host = socket.gethostname()
        removed = 0
        # The low-level listing carries the labels: no inspection of each container, which fails (Podman: 500)
        # when another session removes it in between.
        for container in self.client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
            labels = container.get("Labels") or {}
            ours = (
                session_id is not None
                and labels.get("amb.session") == session_id
                and (pid is None or labels.get("amb.pid") == str(pid))
            )
            orphan = labels.get("amb.host") == host and not _pid_alive(labels.get("amb.pid"))
            if ours or orphan:
                with contextlib.suppress(*ENGINE_ERRORS):  # removed meanwhile by its own session
                    self.client.api.remove_container(container["Id"], force=True, v=True)
                    removed += 1
        return removed

    def close(self) -> None:
        with contextlib.suppress(*ENGINE_ERRORS):
            self.client.close()


def _engine_name(version: dict) -> str:
    for component in version.get("Components") or []:
        if "podman" in str(component.get("Name", "")).lower():
            return f"podman {component.get('Version', '?')}"
    return f"docker {version.get('Version', '?')}"


def _pid_alive(pid: str | None) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError):
        return True  # no readable pid: not ours to judge
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
