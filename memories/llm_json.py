"""A tolerant reader of the JSON objects memory LLM calls answer with (code fences, prose around the
object, trailing text), as the original's ``remove_code_blocks`` + ``json.loads`` + ``extract_json``; and the
one way a memory asks for one (``ask_json``): an unreadable answer is asked again once, then it is an error
(the original logged it and went on with nothing stored)."""

from __future__ import annotations

import json
import re

from pytest_amb.llm.client import LLMError

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json_object(text: str) -> dict | None:
    """The first JSON object in ``text``, or None."""
    text = str(text or "").strip()
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(text)
    for candidate in candidates:
        try:
            value = json.loads(candidate)
            if isinstance(value, dict):
                return value
        except json.JSONDecodeError:
            pass
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = json.JSONDecoder().raw_decode(candidate, start)
                if isinstance(value, dict):
                    return value
            except json.JSONDecodeError:
                pass
            start = candidate.find("{", start + 1)
    return None


class MemoryAnswerError(LLMError):
    """A memory's own LLM call kept answering with something it cannot use (no JSON, no workflow): a problem
    of the memory's endpoint, reported as an infrastructure ERROR, never a memory silently left empty."""


ANSWER_ATTEMPTS = 2  # a memory call whose answer cannot be read is asked once more, then fails


def ask(llm, messages: list[dict], *, operation: str, usable, attempts: int = ANSWER_ATTEMPTS) -> str:
    """The content of the first answer to a memory call that ``usable(content)`` accepts."""
    content = ""
    for _ in range(attempts):
        content = str(llm.chat(messages, purpose="memory", operation=operation).get("content") or "")
        if usable(content):
            return content
    raise MemoryAnswerError(
        f"{operation}: the memory model's answer cannot be used after {attempts} attempts: {content[:200]!r}"
    )


def ask_json(llm, messages: list[dict], *, operation: str, attempts: int = ANSWER_ATTEMPTS) -> dict:
    """The first JSON object a memory call answers with (asked again when there is none)."""
    content = ask(llm, messages, operation=operation, usable=lambda text: parse_json_object(text) is not None,
                  attempts=attempts)  # fmt: skip
    return parse_json_object(content)
