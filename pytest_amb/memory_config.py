"""Each mechanism's parameters: its class's documented ``default_config``, overridden by the section of
the same name in the ``--amb-memory-config`` file. Unknown keys are errors, and so are values the
documented default does not allow:

- a value must have the type of its default: ``true``/``false`` for a boolean, a whole number for an
  integer (never a float, a string or a boolean), a finite number for a float, a string for a string, a
  list for a list, a mapping for a mapping (merged key by key); a default of ``null`` accepts anything;
- an integer must be >= 1 (it counts or sizes something: ``top_k``, a window, a character budget) and a
  float must be >= 0, unless the mechanism declares other limits for that key;
- a mechanism declares limits in ``config_limits``: ``{"threshold": Range(-1.0, 1.0), "algorithm":
  Choice("v1", "v3")}`` (keys of nested mappings are dotted, ``"children.role"``). ``placement`` is read by the
  harness itself and is one of ``front``, ``tail`` for every mechanism.

Nothing is coerced: ``top_k: "5"``, ``top_k: 5.0`` and ``top_k: -5`` are refused with the file, the key and
what is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml


class MemoryConfigError(ValueError):
    """A memory configuration file or key is wrong; the message names the file and the key."""


@dataclass(frozen=True)
class Range:
    """Accepted numbers of a parameter: ``low <= value <= high`` (None: unbounded)."""

    low: float | None = None
    high: float | None = None

    def admits(self, value) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f">= {self.low:g}" if self.low is not None else "any number"
        return f"<= {self.high:g}" if self.low is None else f"from {self.low:g} to {self.high:g}"


class Choice(tuple):
    """Accepted values of a parameter, e.g. ``Choice("v1", "v3")``."""

    def __new__(cls, *values):
        return super().__new__(cls, values)

    def admits(self, value) -> bool:
        return value in self

    def __str__(self) -> str:
        return "one of " + ", ".join(str(v) for v in self)


COUNT = Range(1, None)  # an integer parameter, unless declared otherwise
AMOUNT = Range(0, None)  # a float parameter, unless declared otherwise
HARNESS_LIMITS = {"placement": Choice("front", "tail")}  # read by Memory itself (memory.PLACEMENTS)


def defaults(name: str) -> dict:
    """A registered mechanism's documented defaults (its class's ``default_config``)."""
    from pytest_amb import registry

    return dict(getattr(registry.memory_class(name), "default_config", {}))


def limits(name: str) -> dict:
    """The limits a registered mechanism declares (``config_limits``), with the harness's own."""
    from pytest_amb import registry

    if name not in registry.memory_names():
        return dict(HARNESS_LIMITS)
    return {**HARNESS_LIMITS, **dict(getattr(registry.memory_class(name), "config_limits", {}) or {})}


def read_override_file(path: Path | None) -> dict:
    if path is None:
        return {}
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MemoryConfigError(f"--amb-memory-config: {path} does not exist") from None
    except IsADirectoryError:
        raise MemoryConfigError(f"--amb-memory-config: {path} is a directory, not a YAML file") from None
    except UnicodeDecodeError as exc:
        raise MemoryConfigError(f"--amb-memory-config: {path} is not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise MemoryConfigError(f"--amb-memory-config: {path} cannot be read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise MemoryConfigError(f"--amb-memory-config: {path} is not valid YAML{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise MemoryConfigError(
            f"--amb-memory-config: {path} must map mechanism names to their parameters, e.g. '<mechanism>: {{top_k: 20}}'"
        )
    return data


def resolve(name: str, base: dict, override: dict, source: str, declared: dict | None = None) -> dict:
    """``base`` (the mechanism's defaults) updated by ``override`` (nested dicts merged); unknown keys and
    values the default's type and the limits do not admit fail. ``declared``: the limits, by key (dotted
    below the top); default: those of the mechanism ``name`` (see ``limits``)."""
    if declared is None:
        declared = limits(name.split(".", 1)[0])
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            raise MemoryConfigError(
                f"{source}: '{name}.{key}' is not a parameter of {name}; known: {', '.join(sorted(base))}"
            )
        if isinstance(base[key], dict) and isinstance(value, dict):
            inner = {k.removeprefix(f"{key}."): v for k, v in declared.items() if k.startswith(f"{key}.")}
            merged[key] = resolve(f"{name}.{key}", base[key], value, source, inner)
        else:
            merged[key] = check(f"{name}.{key}", base[key], value, declared.get(key), source)
    return merged


def check(key: str, default, value, limit, source: str):
    """``value`` when the default's type and ``limit`` (else the default range of its type) admit it."""

    def refuse(accepted: str):
        raise MemoryConfigError(f"{source}: '{key}' is {_shown(value)}; accepted: {accepted} (default {default!r})")

    if default is None:
        pass
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            refuse("true or false")
    elif isinstance(default, int):
        limit = limit if limit is not None else COUNT
        if isinstance(value, bool) or not isinstance(value, int) or not limit.admits(value):
            refuse(f"a whole number {limit}" if isinstance(limit, Range) else str(limit))
    elif isinstance(default, float):
        limit = limit if limit is not None else AMOUNT
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or not limit.admits(value):
            refuse(f"a number {limit}" if isinstance(limit, Range) else str(limit))
    elif isinstance(default, str):
        if not isinstance(value, str) or (limit is not None and not limit.admits(value)):
            refuse(str(limit) if limit is not None else "a string")
    elif isinstance(default, (list, dict)) and not isinstance(value, type(default)):
        refuse("a list" if isinstance(default, list) else "a mapping")
    return value


def _shown(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return f"{value!r}"
    return f"a {'list' if isinstance(value, list) else 'mapping' if isinstance(value, dict) else type(value).__name__}"
