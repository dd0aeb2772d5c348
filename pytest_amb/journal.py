"""The run directory: ``run.json`` (configuration, versions, data hashes, seed), ``steps.jsonl`` (one
line per attempt of a step, appended and flushed as soon as the step ends; never rewritten) and
``summary.json``.

The one rule for reading ``steps.jsonl`` (``latest_attempts``): a step may have several attempts (a resumed run
runs again what had no result or an ERROR); the latest journaled attempt of a step id is the one that stands."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path

_VERSIONED = ("pytest-amb", "pytest", "httpx2", "onnxruntime", "sentence-transformers", "faiss-cpu", "torch", "numpy")


def new_run_id(config_hash: str, now: datetime | None = None) -> str:
    return f"{(now or datetime.now()):%Y%m%d-%H%M%S}-{config_hash[:6]}"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def versions() -> dict:
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


class Journal:
    def __init__(self, path: Path, config_hash: str):
        self.path = Path(path)
        self.config_hash = config_hash
        self._steps = None

    def start(self, run: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._write_json("run.json", run)
        steps = self.path / "steps.jsonl"
        cut = steps.is_file() and steps.stat().st_size > 0 and _last_byte(steps) != b"\n"
        self._steps = open(steps, "a", encoding="utf-8")  # noqa: SIM115 (open for the run)
        if cut:  # a line cut by a crash stays as it is; the next attempt starts on a line of its own
            self._steps.write("\n")

    def append(self, result: dict) -> None:
        line = json.dumps({"config_hash": self.config_hash, **result}, ensure_ascii=False)
        self._steps.write(line + "\n")
        self._steps.flush()
        os.fsync(self._steps.fileno())

    def write_summary(self, summary: dict) -> Path:
        return self._write_json("summary.json", summary)

    def close(self) -> None:
        if self._steps is not None:
            self._steps.close()
            self._steps = None

    def _write_json(self, name: str, obj: dict) -> Path:
        target = self.path / name
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(obj, indent=2, ensure_ascii=False), encoding="utf-8")
        temporary.replace(target)
        return target


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


def read_steps(path: Path) -> list[dict]:
    """Every journaled attempt, in journal order; a line cut by a crash is skipped."""
    steps = Path(path) / "steps.jsonl"
    if not steps.is_file():
        return []
    attempts = []
    with open(steps, encoding="utf-8") as handle:
        for line in handle:
            try:
                attempts.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return attempts


def latest_attempts(attempts: list[dict]) -> dict[str, dict]:
    """Step id -> its latest attempt: a later attempt of a step supersedes every earlier one."""
    latest: dict[str, dict] = {}
    for attempt in attempts:
        latest[attempt["step"]["id"]] = attempt
    return latest
