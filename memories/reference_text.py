"""What the built-in memories' reference answers share (``Memory.reference_operations``).

A mechanism's reference answers are computed from the request body alone, deterministically: each
operation reads the system message and the last user message of the request and answers JSON, as a
real model asked for JSON would. ``operation(handler)`` turns ``handler(system, user) -> dict`` into the
``fn(messages) -> content`` the reference server calls for that ``X-AMB-Operation``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pytest_amb.llm.reference.text import content_stems


def operation(handler: Callable[[str, str], dict]) -> Callable[[list[dict]], str]:
    def answer(messages: list[dict]) -> str:
        system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
        user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        return json.dumps(handler(system, user))

    return answer


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' content-word stems (0.0 when either has none)."""
    sa, sb = set(content_stems(a)), set(content_stems(b))
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def json_after(text: str, heading: str):
    """The JSON value written right after ``heading`` in ``text`` (None if absent or not JSON)."""
    start = text.find(heading)
    if start == -1:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start + len(heading))
        return value
    except json.JSONDecodeError:
        return None
