"""Content-hashed image builds from a Dockerfile folder named by the caller.

A tag is ``localhost/amb-<name>:<hash12>`` where the hash covers every file of the folder and the base image,
so editing a Dockerfile or choosing another base gives a new tag (and one build), and an unchanged one is
reused across sessions. The base image is passed to the build as the ``BASE`` build argument (the Dockerfile
declares ``ARG BASE``); without one the Dockerfile's own default applies. Images are never pulled.
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
import time
from pathlib import Path

import docker


class ImageBuildError(RuntimeError):
    """An image could not be built; the message carries the build's last lines."""


def content_hash(folder: Path, base_image: str | None) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(b"base=" + (base_image or "").encode())
    return digest.hexdigest()[:12]


def image_tag(name: str, folder: Path, base_image: str | None) -> str:
    return f"localhost/amb-{name}:{content_hash(folder, base_image)}"


class ImageBuilder:
    """The images of one engine: found, or built from a caller's Dockerfile folder. Remembers the tags it has
    seen in this process, so a second ``ensure`` of an image asks the engine nothing."""

    def __init__(self, client, engine_name: str):
        self.client = client  # a docker SDK client
        self.engine_name = engine_name  # for the progress lines
        self._built: set[str] = set()

    def ensure(self, folder: Path, name: str, base_image: str | None = None, progress=print) -> str:
        """The tag of the image of ``folder`` (see ``image_tag``), built when the engine lacks it. A file lock
        in the temp folder makes processes on one machine (xdist workers) build an image once."""
        tag = image_tag(name, folder, base_image)
        if tag in self._built:
            return tag
        lock_path = Path(tempfile.gettempdir()) / f"amb-image-{tag.rsplit('/', 1)[-1].replace(':', '-')}.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.has(tag):
                self._build(folder, tag, base_image, progress)
        self._built.add(tag)
        return tag

    def has(self, tag: str) -> bool:
        """Whether the engine has the image ``tag`` (never pulls)."""
        try:
            self.client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _build(self, folder: Path, tag: str, base: str | None, progress) -> None:
        started = time.monotonic()
        progress(f"amb: building {tag} from {folder} (base {base or 'the Dockerfile default'}) with {self.engine_name}")
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
        if error or not self.has(tag):
            tail = "\n".join(lines[-15:])
            raise ImageBuildError(f"building {tag} failed: {error or 'no image was produced'}\n{tail}")
        progress(f"amb: built {tag} in {time.monotonic() - started:.1f} s")
