"""The reference model's answers to mem0's own calls (``Mem0Memory.reference_operations``), computed from
the request body alone, deterministically:

- ``mem0.extract`` / ``mem0.extract_v3``: the salient sentences of the conversation in the prompt (v1:
  user lines only), each stamped with the observation date; v3 skips what the existing memories say;
- ``mem0.update``: per new fact, NONE for a near-duplicate of a current memory, UPDATE for a close one
  (keeping the longer text), else ADD.
"""

from __future__ import annotations

import re

from memories.reference_text import json_after, operation, similarity
from pytest_amb.llm.reference.text import content_stems

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DATE_LINE = re.compile(r"Observation [Dd]ate: (.+)")
MAX_FACTS = 12


def _date(system: str, user: str) -> str:
    match = _DATE_LINE.search(system) or _DATE_LINE.search(user)
    value = match.group(1).strip() if match else ""
    return "" if value in ("", "unknown") else value


def _salient(lines: list[tuple[str, str]], date: str) -> list[str]:
    facts = []
    for _, content in lines:
        if content.startswith(("Tool call:", "Tool result:")):
            continue
        for sentence in _SENTENCE.split(content):
            sentence = sentence.strip()
            if len(content_stems(sentence)) >= 3 and sentence not in facts:
                facts.append(sentence)
    stamped = [f"{fact} [{date}]" if date else fact for fact in facts]
    return stamped[:MAX_FACTS]


def _conversation(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        role, sep, content = line.partition(": ")
        if sep and role in ("user", "assistant", "tool"):
            out.append((role, content.strip()))
        elif out and line.strip():
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
    return out


def _extract(system: str, user: str) -> dict:
    lines = [(r, c) for r, c in _conversation(user.partition("Input:\n")[2]) if r == "user"]
    return {"facts": _salient(lines, _date(system, user))}


def _update(system: str, user: str) -> dict:
    current = json_after(user, "Current memory:\n") or []
    facts = json_after(user, "New facts:\n") or []
    decisions, next_id = [], len(current)
    for fact in facts:
        best = max(current, key=lambda m: similarity(fact, m["text"]), default=None)
        score = similarity(fact, best["text"]) if best else 0.0
        if score >= 0.9:
            decisions.append({"id": best["id"], "text": best["text"], "event": "NONE"})
        elif score >= 0.6:
            longer = fact if len(fact) >= len(best["text"]) else best["text"]
            decisions.append({"id": best["id"], "text": longer, "event": "UPDATE", "old_memory": best["text"]})
        else:
            decisions.append({"id": str(next_id), "text": fact, "event": "ADD"})
            next_id += 1
    return {"memory": decisions}


def _extract_v3(system: str, user: str) -> dict:
    existing = [m["text"] for m in json_after(user, "Existing Memories:\n") or []]
    messages = user.partition("New Messages:\n")[2].partition("\n\nObservation Date:")[0]
    lines = _conversation(messages)
    memories = []
    for role, fact in ((r, f) for r, c in lines for f in _salient([(r, c)], _date(system, user))):
        if all(similarity(fact, old) < 0.9 for old in existing):
            memories.append(
                {
                    "id": str(len(memories)),
                    "text": fact,
                    "attributed_to": "assistant" if role == "assistant" else "user",
                }
            )
    return {"memory": memories[:MAX_FACTS]}


OPERATIONS = {
    "mem0.extract": operation(_extract),
    "mem0.update": operation(_update),
    "mem0.extract_v3": operation(_extract_v3),
}
