"""A container engine, driven by the docker SDK: a Docker Engine or Podman's Docker-compatible API.

``ContainerEngine.discover`` finds one ($DOCKER_HOST, the Docker socket, the Podman sockets) or raises
``EngineUnavailable`` saying what was tried and how to get one. ``sandbox`` starts a fresh container with no
network (or, when asked, with one until its sandbox disconnects it for good), a memory limit without swap, CPU
and process-count limits, and the labels ``amb.pytest``, ``amb.session``, ``amb.pid`` and ``amb.host``; the
sandbox removes it on ``close``, and ``sweep`` removes a session's containers and the leftovers of crashed
sessions on this host.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import docker

from pytest_amb.containers.api import ENGINE_ERRORS
from pytest_amb.containers.images import ImageBuilder
from pytest_amb.containers.sandbox import ContainerSandbox

LABEL = "amb.pytest"
PODMAN_SOCKET_HINT = "unix:///tmp/amb-podman.sock"
PING_TIMEOUT_S = 5.0
API_TIMEOUT_S = 900.0  # long enough for an image build's quiet steps
# The engine's default bridge network (Podman's Docker API answers to it too): for a sandbox that may use the
# network for a while (a task's setup) before ``disconnect_network``.
INIT_NETWORK = "bridge"


class EngineUnavailable(RuntimeError):
    """No container engine answered; the message says which were tried and how to get one."""


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
        "no container engine answered. Tried:\n"
        f"{lines}\n"
        "Get one of:\n"
        "  - Docker: start the Docker Engine (its socket /var/run/docker.sock), or set DOCKER_HOST;\n"
        "  - Podman: apt-get install -y podman runc; then\n"
        f"      podman system service --time=0 {PODMAN_SOCKET_HINT} &\n"
        f"      export DOCKER_HOST={PODMAN_SOCKET_HINT}"
    )


class ContainerEngine:
    """A Docker Engine or Podman answering the Docker API, with the images and containers it made for us."""

    def __init__(self, client, url: str, name: str):
        self.client = client
        self.url = url
        self.name = name  # provenance, e.g. "podman 4.3.1" or "docker 24.0.7"
        self.images = ImageBuilder(client, name)

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

    def ensure_image(self, folder: Path, name: str, base_image: str | None = None, progress=print) -> str:
        """The tag ``localhost/amb-<name>:<hash12>`` of the image built from the Dockerfile folder ``folder``
        FROM ``base_image`` (else the Dockerfile's default), built when the engine lacks it (see images.py)."""
        return self.images.ensure(folder, name, base_image, progress)

    def has_image(self, tag: str) -> bool:
        """Whether the engine has the image ``tag`` (never pulls)."""
        return self.images.has(tag)

    # -- containers

    def sandbox(
        self,
        image: str,
        *,
        session_id: str,
        labels: dict[str, str] | None = None,
        memory: str = "1g",
        cpus: float = 2.0,
        pids: int = 512,
        network: str | None = None,
    ) -> ContainerSandbox:
        """A fresh, labelled, network-less, resource-limited container of the image ``image`` (a tag, e.g. from
        ``ensure_image``). ``labels`` are added to ours (``amb.pytest``, ``amb.session``, ``amb.pid``,
        ``amb.host``). ``network`` (e.g. ``INIT_NETWORK``): the container starts attached to that network
        instead, until ``ContainerSandbox.disconnect_network`` detaches it for good."""
        settings = {
            "entrypoint": ["sleep", "infinity"],
            "command": [],
            "detach": True,
            "labels": {
                LABEL: "1",
                "amb.session": session_id,
                "amb.pid": str(os.getpid()),
                "amb.host": socket.gethostname(),
                **(labels or {}),
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
        if network:
            del settings["network_mode"], settings["network_disabled"]
            settings["network"] = network
        try:
            container = self.client.containers.run(image, **settings)
        except docker.errors.APIError as exc:
            if "init" not in str(exc).lower():
                raise
            settings["init"] = False  # the engine has no init binary; sleep is then PID 1
            container = self.client.containers.run(image, **settings)
        return ContainerSandbox(self, container, image, network=network)

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
