"""A throwaway MariaDB server for tests: its own data directory, socket and free loopback port,
started with ``mariadbd`` from the Debian packages (``apt-get install mariadb-server``) and stopped by
PID. Nothing is shared with a system server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

REQUIRED = ("mariadb-install-db", "mariadbd")


def missing_binaries() -> list[str]:
    return [name for name in REQUIRED if shutil.which(name) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDBServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.datadir = self.root / "data"
        self.socket = self.root / "mariadb.sock"
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> MariaDBServer:
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mariadb-install-db", f"--datadir={self.datadir}", "--auth-root-authentication-method=normal",
             "--skip-test-db", "--user=root"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with open(self.root / "server.log", "wb") as log:  # the child keeps its own handle
            self.process = subprocess.Popen(
                ["mariadbd", "--no-defaults", "--user=root", f"--datadir={self.datadir}", f"--socket={self.socket}",
                 f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-log-bin", "--skip-name-resolve"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited; see {self.root / 'server.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mariadbd did not listen on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
