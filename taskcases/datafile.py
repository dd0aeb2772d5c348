"""Reading the built-in task families' data files, with errors a user can act on.

Every ``DataError`` raised here is one line that names the file, the item (its position ``file[i]``, or
the line ``file:N`` of a JSON Lines file), the field (``.qa[3].answer``) and what is wrong. Values of the
wrong type, nulls and out-of-range values are refused, never coerced. The plugin turns a ``DataError``
into a usage error (exit status 4) before any step runs.
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_amb.tasks import DataError

MISSING: Any = object()


def read_text(path: Path, what: str = "file") -> str:
    """The file's text, decoded as UTF-8 (a leading byte-order mark is dropped)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a {what}") from None
    except OSError as exc:
        raise DataError(f"{path}: the {what} cannot be read ({exc.strerror or exc})") from None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", errors="replace")) + 1
        raise DataError(
            f"{path}:{line}: byte 0x{data[exc.start]:02x} at column {column} is not UTF-8; save the {what} as UTF-8"
        ) from None


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON value")


def parse_json(text: str, where: str) -> Any:
    """JSON text; an error names ``where`` and the line and column."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        problem = exc.msg.removesuffix(" starting at").removesuffix(" at")  # the position follows here
        raise DataError(f"{where}: not valid JSON at line {exc.lineno} column {exc.colno}: {problem}") from None
    except ValueError as exc:  # NaN, Infinity
        raise DataError(f"{where}: not valid JSON: {exc}") from None


def read_json(path: Path) -> Any:
    return parse_json(read_text(path), str(path))


def read_json_lines(path: Path, text: str | None = None) -> list[tuple[int, Any]]:
    """(line number, value) for every non-blank line of a JSON Lines file."""
    text = read_text(path) if text is None else text
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line, parse_constant=_no_constants)))
        except json.JSONDecodeError as exc:
            problem = exc.msg.removesuffix(" starting at").removesuffix(" at")
            raise DataError(f"{path}:{number}: not a valid JSON line ({problem} at column {exc.colno})") from None
        except ValueError as exc:
            raise DataError(f"{path}:{number}: not a valid JSON line ({exc})") from None
    return records


def no_samples(path: Path | str, detail: str = "") -> DataError:
    return DataError(f"{path}: the file holds no samples{f' ({detail})' if detail else ''}")


# -- typed fields ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    name: str  # "a string", said in messages
    accepts: Callable[[Any], bool]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


TEXT = Kind("a string", lambda v: isinstance(v, str))
INTEGER = Kind("an integer", _is_int)
NUMBER = Kind("a number", _is_number)
TEXT_OR_NUMBER = Kind("a string or a number", lambda v: isinstance(v, str) or _is_number(v))
SCALAR = Kind("a string, a number or null", lambda v: v is None or isinstance(v, str) or _is_number(v))
BOOLEAN = Kind("true or false", lambda v: isinstance(v, bool))
LIST = Kind("a list", lambda v: isinstance(v, list))
OBJECT = Kind("an object", lambda v: isinstance(v, dict))


def shown(value) -> str:
    """A value as a message shows it: its JSON type and, for a scalar, the value (short, on one line)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "…"
        return "an empty string" if not value.strip() else f"the string {json.dumps(text, ensure_ascii=False)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect(value, kind: Kind, where: str, *, nonempty: bool = False, hint: str = ""):
    """``value`` when it is of ``kind`` (and not empty when ``nonempty``); else a DataError naming ``where``."""
    if not kind.accepts(value) or (nonempty and isinstance(value, (str, list, dict)) and not _filled(value)):
        wanted = f"a non-empty {kind.name.removeprefix('a ').removeprefix('an ')}" if nonempty else kind.name
        raise DataError(f"{where}: expected {wanted}, got {shown(value)}{f'; {hint}' if hint else ''}")
    return value


def _filled(value) -> bool:
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def need_object(value, where: str, what: str = "an object") -> dict:
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected {what}, got {shown(value)}")
    return value


def get(obj: dict, key: str, where: str, kind: Kind, *, default=MISSING, nonempty: bool = False, hint: str = ""):
    """Field ``key`` of the object ``obj`` (at ``where``), of ``kind``. A missing field is an error unless a
    ``default`` is given; a field that is present must have the kind (null included: it is refused)."""
    if key not in obj:
        if default is MISSING:
            raise DataError(f"{where}: missing field '{key}'{f'; {hint}' if hint else ''}")
        return default
    return expect(obj[key], kind, f"{where}.{key}", nonempty=nonempty, hint=hint)
