"""The run directory: ``run.json`` (configuration, versions, data hashes, seed), ``steps.jsonl`` (one
line per finished step, appended and flushed as soon as the step ends) and ``summary.json``."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path

_VERSIONED = ("pytest-amb", "pytest", "openai", "sentence-transformers", "faiss-cpu", "torch", "numpy")


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
        self._steps = open(self.path / "steps.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (open for the run)

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


def read_steps(path: Path) -> list[dict]:
    with open(Path(path) / "steps.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
