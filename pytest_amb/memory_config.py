"""Each mechanism's parameters: its class's documented ``default_config``, overridden by the section of
the same name in the ``--amb-memory-config`` file. Unknown keys are errors."""

from __future__ import annotations

from pathlib import Path

import yaml


class MemoryConfigError(ValueError):
    """A memory configuration file or key is wrong; the message names the file and the key."""


def defaults(name: str) -> dict:
    """A registered mechanism's documented defaults (its class's ``default_config``)."""
    from pytest_amb import registry

    return dict(getattr(registry.memory_class(name), "default_config", {}))


def read_override_file(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise MemoryConfigError(f"--amb-memory-config: {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise MemoryConfigError(f"--amb-memory-config: {path} is not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise MemoryConfigError(
            f"--amb-memory-config: {path} must map mechanism names to their parameters, e.g. '<mechanism>: {{top_k: 20}}'"
        )
    return data


def resolve(name: str, base: dict, override: dict, source: str) -> dict:
    """``base`` (the mechanism's defaults) updated by ``override`` (nested dicts merged); unknown keys fail."""
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            raise MemoryConfigError(
                f"{source}: '{name}.{key}' is not a parameter of {name}; known: {', '.join(sorted(base))}"
            )
        if isinstance(base[key], dict) and isinstance(value, dict):
            merged[key] = resolve(f"{name}.{key}", base[key], value, source)
        else:
            merged[key] = value
    return merged
