"""The os_interaction images: their Dockerfile folders (package data) and content-addressed tags.

A tag is ``localhost/amb-os-<kind>:<hash12>`` where the hash covers every file of the kind's folder and
the base image, so editing a Dockerfile or choosing another base gives a new tag (and one build), and an
unchanged one is reused across sessions.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

IMAGES_DIR = Path(__file__).parent / "images"
KINDS = ("default", "packages", "ubuntu")  # the original's local-os/<kind> images
BASE_IMAGE_ENV = "AMB_OS_BASE_IMAGE"


def image_dir(kind: str, images_dir: Path = IMAGES_DIR) -> Path:
    folder = images_dir / kind
    if not (folder / "Dockerfile").is_file():
        known = ", ".join(sorted(p.name for p in images_dir.iterdir() if (p / "Dockerfile").is_file()))
        raise ValueError(f"unknown os_interaction image kind '{kind}' (known: {known})")
    return folder


def resolve_base_image(base_image: str | None) -> str | None:
    """Explicit, else $AMB_OS_BASE_IMAGE, else None (the Dockerfile's own default, ubuntu:22.04)."""
    return base_image or os.environ.get(BASE_IMAGE_ENV) or None


def content_hash(folder: Path, base_image: str | None) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(b"base=" + (base_image or "").encode())
    return digest.hexdigest()[:12]


def image_tag(kind: str, folder: Path, base_image: str | None) -> str:
    return f"localhost/amb-os-{kind}:{content_hash(folder, base_image)}"
