"""The response cache: complete chat completions on disk, keyed by everything that can change the answer.

Key: the SHA-256 of the canonical JSON of a ``CacheRequest`` (``key_material``): the base URL in its redacted
form, the model, the full messages, tools and tool choice, every generation parameter, the headers that can
select an answer (``X-AMB-Purpose``/``X-AMB-Operation``: the reference model routes on them) and a repeat index,
so that repeated samples of one request are kept apart. Canonical means: keys sorted, no whitespace, ASCII,
integral floats written as integers (``0.0`` and ``0`` are the same JSON number to a server), a parameter set to
None left out (the client does not send it), tuples as lists.

An entry is one file, ``<dir>/<key[:2]>/<key>.json``, of two lines: a header (``format``, ``key``, ``model``,
``purpose``, ``written`` (UTC, ISO 8601), ``body_bytes``, ``body_sha256``) and a body (``request``: the key
material; ``response``: the chat completion as a JSON dict). It is written to a temporary file in the same
directory, fsynced and renamed over the entry (``os.replace``), so processes sharing the directory (xdist
workers) see either no entry or a whole one, and a killed writer leaves only a temporary file. A lookup serves
an entry only if its header, size, body digest and stored request all match the request; anything else is a
miss. A lookup never deletes: read mode must work on a read-only directory, a writing mode replaces a bad entry
with the fresh answer anyway, and ``prune`` removes what is broken.

Only complete answers are stored (``unstorable_reason``): a JSON object without an ``error``, with at least one
choice, every choice carrying a ``message`` object and a finish reason in ``COMPLETE_FINISH_REASONS``.
``length`` counts as complete: it is the whole answer to a request that set ``max_tokens``, and the same request
gets it again. ``content_filter``, a missing finish reason (a cut stream, some servers' errors) or any other
value is refused.

``python -m pytest_amb.llm.cache list|prune|clear`` lists, prunes and clears a cache directory
(``cache_command.py``).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_amb import redaction

FORMAT = 1  # of the key material and of the entry files; a new format makes every old entry a miss
COMPLETE_FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "function_call"})
EVENTS = ("hits", "misses", "stores", "refused")
TEMP_GRACE_S = 3600.0  # a temporary file younger than this may be a write in progress: prune leaves it alone
_REQUEST_FIELDS = frozenset({"model", "messages", "tools", "tool_choice"})  # fields of their own, not params
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"})
ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.json$")
TEMP_NAME = re.compile(r"^\.[0-9a-f]{64}\..*\.tmp$")
SHARD_NAME = re.compile(r"^[0-9a-f]{2}$")
HEADER_LIMIT = 4096  # bytes of the first line that listing reads


# -- modes --------------------------------------------------------------------------------------------------
class CacheMode(enum.Enum):
    OFF = "off"
    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"

    @property
    def reads(self) -> bool:
        return self in (CacheMode.READ, CacheMode.READWRITE)

    @property
    def writes(self) -> bool:
        return self in (CacheMode.WRITE, CacheMode.READWRITE)


def parse_mode(text: str) -> CacheMode:
    try:
        return CacheMode(str(text).strip().lower())
    except ValueError:
        accepted = ", ".join(m.value for m in CacheMode)
        raise ValueError(f"cache mode '{text}' is not one of: {accepted}") from None


def default_directory(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/pytest-amb/llm``, else ``~/.cache/pytest-amb/llm`` (a relative XDG_CACHE_HOME is
    ignored, as the XDG specification says)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME", "")
    if base and os.path.isabs(base):
        root = Path(base)
    else:
        root = (Path(environ["HOME"]) if environ.get("HOME") else Path.home()) / ".cache"
    return root / "pytest-amb" / "llm"


def command_directory(environ: Mapping[str, str] | None = None) -> Path:
    """The directory the command works on without ``--dir``: ``AMB_CACHE_DIR`` (the twin of ``--amb-cache-dir``),
    else the default."""
    environ = os.environ if environ is None else environ
    return Path(environ["AMB_CACHE_DIR"]).expanduser() if environ.get("AMB_CACHE_DIR") else default_directory(environ)


# -- the key ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CacheRequest:
    """One chat-completion request as far as its answer is concerned. Never put credentials in ``headers``:
    the key material is written into the entry."""

    base_url: str
    model: str
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[Mapping[str, Any]] | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # temperature, max_tokens, top_p, stop, seed, ...
    headers: Mapping[str, str] = field(default_factory=dict)
    repeat: int = 0  # the n-th sample of the same request


def key_material(request: CacheRequest) -> dict:
    """The canonical form of ``request`` that the key is the digest of (and that an entry stores)."""
    if not isinstance(request.model, str) or not request.model:
        raise ValueError("cache key: the model must be a non-empty string")
    if isinstance(request.repeat, bool) or not isinstance(request.repeat, int) or request.repeat < 0:
        raise ValueError(f"cache key: the repeat index must be an integer >= 0, got {request.repeat!r}")
    if not isinstance(request.messages, Sequence) or isinstance(request.messages, str):
        raise TypeError("cache key: the messages must be a list of message objects")
    clashing = sorted(_REQUEST_FIELDS & set(request.params))
    if clashing:
        raise ValueError(f"cache key: {', '.join(clashing)} are fields of the request, not generation parameters")
    headers = {str(name).lower(): str(value) for name, value in request.headers.items()}
    credentials = sorted(_CREDENTIAL_HEADERS & set(headers))
    if credentials:
        raise ValueError(f"cache key: the header {credentials[0]} carries credentials and must not be stored")
    return {
        "format": FORMAT,
        "base_url": _endpoint(request.base_url),
        "model": request.model,
        "messages": _canonical(request.messages),
        "tools": _canonical(request.tools) if request.tools else None,
        "tool_choice": _canonical(request.tool_choice),
        "params": {str(k): _canonical(v) for k, v in request.params.items() if v is not None},
        "headers": headers,
        "repeat": request.repeat,
    }


def cache_key(request: CacheRequest) -> str:
    """The entry's key: 64 hexadecimal digits."""
    return hashlib.sha256(_dumps(key_material(request))).hexdigest()


def _endpoint(base_url: str) -> str:
    if not isinstance(base_url, str) or not base_url:
        raise ValueError("cache key: the base URL must be a non-empty string")
    return (redaction.redact_url(base_url) or "").rstrip("/")  # the SDK adds the slash itself


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cache key: {value!r} is not a JSON number")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("cache key: object keys must be strings")
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise TypeError(f"cache key: a {type(value).__name__} is not JSON")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


# -- what may be stored -------------------------------------------------------------------------------------
def unstorable_reason(response: Any) -> str | None:
    """Why ``response`` (a chat completion as a dict) must not be cached; None when it is a complete answer."""
    if not isinstance(response, Mapping):
        return "the response is not a JSON object"
    if response.get("error") is not None:
        return "the response carries an error"
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return "the response has no choices"
    for index, choice in enumerate(choices):
        if not isinstance(choice, Mapping) or not isinstance(choice.get("message"), Mapping):
            return f"choice {index} has no message"
        if choice.get("error") is not None:
            return f"choice {index} carries an error"
        reason = choice.get("finish_reason")
        if reason not in COMPLETE_FINISH_REASONS:
            return f"choice {index} finished with {reason!r}, not one of {', '.join(sorted(COMPLETE_FINISH_REASONS))}"
    try:
        _dumps(response)
    except (TypeError, ValueError) as exc:
        return f"the response is not JSON ({exc})"
    return None


# -- counters -----------------------------------------------------------------------------------------------
class CacheCounters:
    """Hits, misses, stores and refused answers per purpose; thread-safe; ``to_json``/``add`` move them between
    processes, ``drain`` hands them out per step."""

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def count(self, purpose: str, event: str, n: int = 1) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown cache event '{event}'; known: {', '.join(EVENTS)}")
        with self._lock:
            row = self._counts.setdefault(purpose, dict.fromkeys(EVENTS, 0))
            row[event] += n

    def get(self, purpose: str, event: str) -> int:
        with self._lock:
            return self._counts.get(purpose, {}).get(event, 0)

    def to_json(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {purpose: dict(self._counts[purpose]) for purpose in sorted(self._counts)}

    def add(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        for purpose, row in counts.items():
            for event, n in row.items():
                self.count(purpose, event, int(n))

    def drain(self) -> dict[str, dict[str, int]]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return {purpose: counts[purpose] for purpose in sorted(counts)}

    @staticmethod
    def hit_rate(row: Mapping[str, int]) -> float | None:
        """Hits over lookups; None when nothing was looked up."""
        lookups = row.get("hits", 0) + row.get("misses", 0)
        return row.get("hits", 0) / lookups if lookups else None


# -- the store ----------------------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(UTC)


class ResponseCache:
    """The cache one client uses: a directory, a mode and the counters. ``lookup`` and ``store`` count per
    purpose (lookups only when the mode reads, stores and refusals only when it writes)."""

    def __init__(
        self,
        directory: Path | str,
        mode: CacheMode,
        *,
        counters: CacheCounters | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.directory = Path(directory)
        self.mode = mode
        self.counters = counters if counters is not None else CacheCounters()
        self._clock = clock

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def lookup(self, request: CacheRequest, purpose: str) -> dict | None:
        """The stored answer to ``request``, or None (a miss, or a mode that does not read)."""
        if not self.mode.reads:
            return None
        material = key_material(request)
        key = hashlib.sha256(_dumps(material)).hexdigest()
        response = _read_entry(self.path(key), key, material)
        self.counters.count(purpose, "hits" if response is not None else "misses")
        return response

    def store(self, request: CacheRequest, response: Mapping[str, Any], purpose: str) -> bool:
        """Stores a complete answer (see ``unstorable_reason``); False when refused or the mode does not write.
        An OSError (disk full, read-only directory) is the caller's to handle."""
        if not self.mode.writes:
            return False
        if unstorable_reason(response) is not None:
            self.counters.count(purpose, "refused")
            return False
        material = key_material(request)
        key = hashlib.sha256(_dumps(material)).hexdigest()
        body = _dumps({"request": material, "response": response})
        header = {
            "format": FORMAT,
            "key": key,
            "model": request.model,
            "purpose": purpose,
            "written": self._clock().astimezone(UTC).isoformat(timespec="milliseconds"),
            "body_bytes": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        _write_atomically(self.path(key), _dumps(header) + b"\n" + body + b"\n")
        self.counters.count(purpose, "stores")
        return True


def _read_entry(path: Path, key: str, material: dict) -> dict | None:
    try:
        data = path.read_bytes()
    except OSError:  # absent (the usual miss), unreadable, a directory: all misses
        return None
    newline = data.find(b"\n")
    try:
        header = json.loads(data[:newline]) if newline > 0 else None
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("key") != key:
        return None
    rest, body_bytes = data[newline + 1 :], header.get("body_bytes")
    body = rest[:-1]
    if not isinstance(body_bytes, int) or len(rest) != body_bytes + 1 or rest[-1:] != b"\n":  # truncated or grown
        return None
    if hashlib.sha256(body).hexdigest() != header.get("body_sha256"):  # damaged
        return None
    try:
        stored = json.loads(body)
    except ValueError:
        return None
    if not isinstance(stored, dict) or stored.get("request") != material:
        return None
    response = stored.get("response")
    return response if unstorable_reason(response) is None else None


def _write_atomically(path: Path, data: bytes) -> None:
    for attempt in (1, 2):  # a concurrent ``clear`` may remove the shard between mkdir and the rename
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        except FileNotFoundError:
            if attempt == 2:
                raise
            continue
        try:
            with os.fdopen(handle, "wb") as file:  # mkstemp: mode 0600, the prompts are the user's
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            return
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if attempt == 2:
                raise
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


if __name__ == "__main__":  # the command lives in cache_command.py; this keeps its documented name
    from pytest_amb.llm.cache_command import main

    raise SystemExit(main())
