"""The os_interaction images: their Dockerfile folders (package data), their tags, and sandboxes of them.

The shared container layer (``pytest_amb.containers``) builds a kind's folder as
``localhost/amb-os-<kind>:<hash12>``, where the hash covers every file of the folder and the base image, so
editing a Dockerfile or choosing another base gives a new tag (and one build), and an unchanged one is reused
across sessions. The shared layer (and so docker) is imported only when an image is wanted.
"""

from __future__ import annotations

import os
from pathlib import Path

IMAGES_DIR = Path(__file__).parent / "images"
KINDS = ("default", "packages", "ubuntu")  # the original's local-os/<kind> images
BASE_IMAGE_ENV = "AMB_OS_BASE_IMAGE"
OFFLINE_ENGINE_HINT = (
    "Without access to image registries, build the base image first: extra/os/build-base-image.sh and\n"
    "export AMB_OS_BASE_IMAGE=localhost/amb-base:bookworm (see extra/README.md)."
)
OFFLINE_BUILD_HINT = (
    "Offline machines: build a local base image (extra/os/build-base-image.sh) and set "
    "AMB_OS_BASE_IMAGE=localhost/amb-base:bookworm."
)


def image_dir(kind: str, images_dir: Path = IMAGES_DIR) -> Path:
    folder = images_dir / kind
    if not (folder / "Dockerfile").is_file():
        known = ", ".join(sorted(p.name for p in images_dir.iterdir() if (p / "Dockerfile").is_file()))
        raise ValueError(f"unknown os_interaction image kind '{kind}' (known: {known})")
    return folder


def image_name(kind: str) -> str:
    """The name part of the kind's tag: ``localhost/amb-<name>:<hash12>``."""
    return f"os-{kind}"


def resolve_base_image(base_image: str | None) -> str | None:
    """Explicit, else $AMB_OS_BASE_IMAGE, else None (the Dockerfile's own default, ubuntu:22.04)."""
    return base_image or os.environ.get(BASE_IMAGE_ENV) or None


def image_tag(kind: str, folder: Path, base_image: str | None) -> str:
    from pytest_amb.containers import images as container_images

    return container_images.image_tag(image_name(kind), folder, base_image)


def ensure(engine, kind: str, base_image: str | None = None, progress=print, images_dir: Path = IMAGES_DIR) -> str:
    """The tag of the ``kind`` image on ``engine`` (a ``ContainerEngine``), built when the engine lacks it."""
    from pytest_amb.containers.images import ImageBuildError

    folder = image_dir(kind, images_dir)
    try:
        return engine.ensure_image(folder, image_name(kind), resolve_base_image(base_image), progress)
    except ImageBuildError as exc:
        raise ImageBuildError(f"{exc}\n{OFFLINE_BUILD_HINT}") from None


def open_sandbox(engine, kind: str = "default", *, session_id: str, base_image: str | None = None, **limits):
    """A fresh ``ContainerSandbox`` of the ``kind`` image (labelled ``amb.kind``); ``limits``: memory, cpus, pids,
    network (see ``ContainerEngine.sandbox``)."""
    tag = ensure(engine, kind, base_image)
    return engine.sandbox(tag, session_id=session_id, labels={"amb.kind": kind}, **limits)
