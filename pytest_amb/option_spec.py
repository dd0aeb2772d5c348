"""What one option is (flag, ini twin, ``AMB_*`` variable, default, parser), the parsers declared options
use (a secret option's value passes through ``pytest_amb.redaction``). A leaf module: the
option table, the modes and the task families all declare their options with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OptionSpec:
    name: str  # e.g. "mode"; flag --amb-mode, ini amb_mode, env AMB_MODE
    help: str
    default: str | None = None
    metavar: str = "VALUE"
    const: str | None = None  # the value of the bare flag (an optional argument)
    # raw string (or None) -> value; raises ValueError with a message saying what is accepted (declared options)
    parse: Callable[[str | None], Any] | None = None
    secret: bool = False  # a URL that may carry a password (or a token): shown and written only redacted

    @property
    def flag(self) -> str:
        return "--amb-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "amb_" + self.name

    @property
    def env(self) -> str:
        return "AMB_" + self.name.upper()

    @property
    def dest(self) -> str:
        return "amb_" + self.name


def describe(spec: OptionSpec, source: str) -> str:
    """``--amb-x (from AMB_X)``: the option and where its value came from, for error messages."""
    where = {"cli": spec.flag, "env": spec.env, "ini": f"ini option {spec.ini}", "default": f"default of {spec.flag}"}
    return f"{spec.flag} (from {where[source]})"


# -- parsers for declared options (each raises ValueError saying what is accepted) -----------------------
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_bool(text: str | None) -> bool:
    value = (text or "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"'{text}' is not accepted; accepted: true, false")
    return value in _TRUE


def parse_int(text: str | None) -> int:
    value = (text or "").strip()
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an integer") from None


def parse_float(text: str | None) -> float:
    value = (text or "").strip()
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a number") from None


def parse_text(text: str | None) -> str:
    return (text or "").strip()


def parse_optional_text(text: str | None) -> str | None:
    return (text or "").strip() or None
