"""The built-in mechanisms' documented defaults live in ``memories/configs/<name>.yaml``; each class reads
its file into ``default_config`` (the harness merges ``--amb-memory-config`` overrides into it)."""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"


def yaml_defaults(name: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text(encoding="utf-8")) or {}
