"""The bounded form of a step record: what ``steps.jsonl`` stores, the test report carries and the HTML report
shows, whatever a model, a memory or an environment produced.

- Every text passes through the redaction rule (``pytest_amb.redaction``).
- The messages are stored once, in ``transcript``; no other field holds a message list.
- A text longer than ``TEXT_LIMIT`` characters is cut: its beginning (3/4) and end (1/4) are kept around a
  marker that says how much was cut, and the record's ``cut`` list names the field (``transcript[2].content``)
  with the text's full length in characters and the SHA-256 of its UTF-8 (after redaction). A second copy of a
  cut text in the same record is stored as a reference to the first (``[same text as transcript[2].content
  ...]``).
- A record that is still ``STEP_LIMIT`` bytes or more (a long episode of long messages) is cut again with half the
  limit, down to ``MIN_TEXT`` characters per text. A step's line in ``steps.jsonl`` is therefore below
  ``STEP_LIMIT`` bytes unless it holds more than about 500 separate long texts (each then costs at most
  MIN_TEXT characters and its ``cut`` entry); every message is kept, so turn counts stay right.

``failure_text`` is the same cut at ``FAILURE_LIMIT`` characters, for what pytest prints per failed or errored
step (and writes into JUnit XML).
"""

from __future__ import annotations

import hashlib
import json

from pytest_amb.redaction import redact, redact_json, secrets

TEXT_LIMIT = 4_000  # characters per text in a step record
MIN_TEXT = 250  # the smallest per-text limit, for records that hold very many long texts
STEP_LIMIT = 256 * 1024  # bytes per step record (one steps.jsonl line)
FAILURE_LIMIT = 2_000  # characters of a failure message on the terminal and in JUnit XML
_FIRST = ("transcript",)  # walked first, so that the messages hold the first copy of a text


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def cut_text(text: str, limit: int, sha256: str | None = None) -> str:
    """``text`` if it has at most ``limit`` characters, else its beginning and end around a marker, ``limit``
    characters in all (so cutting again changes nothing)."""
    if len(text) <= limit:
        return text
    sha256 = sha256 or digest(text)
    marker = f"\n[... {{}} characters cut here; the full text has {len(text):,} characters, sha256 {sha256} ...]\n"
    keep = max(limit - len(marker.format(f"{len(text):,}")), 40)
    head = keep * 3 // 4
    tail = keep - head
    return text[:head] + marker.format(f"{len(text) - head - tail:,}") + text[len(text) - tail :]


def failure_text(text: str) -> str:
    """A failure message as pytest prints it and writes it into JUnit XML: redacted, at most FAILURE_LIMIT."""
    return cut_text(redact(text or ""), FAILURE_LIMIT)


def bound_record(record: dict) -> dict:
    """The record redacted, with long texts cut (see the module's docstring); ``cut`` lists what was cut."""
    clean = redact_json(record, secrets())
    earlier = clean.pop("cut", None) or []  # a record bounded before keeps what it says was cut
    digests: dict[str, tuple[int, str]] = {}  # path -> (characters, sha256) of each long text, computed once
    limit = TEXT_LIMIT
    while True:
        cut: list[dict] = []
        first: dict[str, str] = {}  # sha256 -> path of the first copy
        order = [k for k in _FIRST if k in clean] + [k for k in clean if k not in _FIRST]
        walked = {key: _walk(clean[key], key, limit, cut, first, digests) for key in order}
        bounded = {key: walked[key] for key in clean}
        bounded["cut"] = [*earlier, *(c for c in cut if c["path"] not in {e["path"] for e in earlier})]
        size = len(json.dumps(bounded, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size < STEP_LIMIT - 1024 or limit <= MIN_TEXT:  # 1 KiB left for what the journal adds to the line
            return bounded
        limit = max(MIN_TEXT, limit // 2)


def _walk(value, path: str, limit: int, cut: list, first: dict, digests: dict):
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        chars, sha256 = digests.get(path) or digests.setdefault(path, (len(value), digest(value)))
        cut.append({"path": path, "chars": chars, "sha256": sha256})
        if sha256 in first:
            return f"[same text as {first[sha256]}: {chars:,} characters, sha256 {sha256}]"
        first[sha256] = path
        return cut_text(value, limit, sha256)
    if isinstance(value, dict):
        return {k: _walk(v, f"{path}.{k}", limit, cut, first, digests) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, f"{path}[{i}]", limit, cut, first, digests) for i, v in enumerate(value)]
    return value
