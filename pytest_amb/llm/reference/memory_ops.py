"""The reference model's answers to the memory mechanisms' own calls, chosen by the request's
``X-AMB-Operation`` header and computed from the request body alone, deterministically:

- ``mem0.extract`` / ``mem0.extract_v3``: the salient sentences of the conversation in the prompt (v1:
  user lines only), each stamped with the observation date; v3 skips what the existing memories say;
- ``mem0.update``: per new fact, NONE for a near-duplicate of a current memory, UPDATE for a close one
  (keeping the longer text), else ADD;
- ``awm.induce``: one workflow whose steps are the trajectory's actions with literals abstracted;
- ``awm.manage``: ADD unless a near-duplicate exists (NONE);
- ``mems.route_retrieval`` / ``mems.route_update``: by the kind of task in the request (SQL or tools →
  system memory; questions about people and conversations → personal memory).
"""

from __future__ import annotations

import json
import re

from pytest_amb.llm.reference.text import content_stems

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DATE_LINE = re.compile(r"Observation [Dd]ate: (.+)")
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\b\d+(?:\.\d+)?\b")
MAX_FACTS = 12


def respond(operation: str, messages: list[dict]) -> str:
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
    handler = _HANDLERS.get(operation)
    if handler is None:
        return json.dumps({"error": f"the reference model has no answer for memory operation '{operation}'"})
    return json.dumps(handler(system, user))


def _similarity(a: str, b: str) -> float:
    sa, sb = set(content_stems(a)), set(content_stems(b))
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


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


def _json_after(text: str, heading: str):
    start = text.find(heading)
    if start == -1:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start + len(heading))
        return value
    except json.JSONDecodeError:
        return None


def _update(system: str, user: str) -> dict:
    current = _json_after(user, "Current memory:\n") or []
    facts = _json_after(user, "New facts:\n") or []
    decisions, next_id = [], len(current)
    for fact in facts:
        best = max(current, key=lambda m: _similarity(fact, m["text"]), default=None)
        score = _similarity(fact, best["text"]) if best else 0.0
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
    existing = [m["text"] for m in _json_after(user, "Existing Memories:\n") or []]
    messages = user.partition("New Messages:\n")[2].partition("\n\nObservation Date:")[0]
    lines = _conversation(messages)
    memories = []
    for role, fact in ((r, f) for r, c in lines for f in _salient([(r, c)], _date(system, user))):
        if all(_similarity(fact, old) < 0.9 for old in existing):
            memories.append(
                {
                    "id": str(len(memories)),
                    "text": fact,
                    "attributed_to": "assistant" if role == "assistant" else "user",
                }
            )
    return {"memory": memories[:MAX_FACTS]}


def _induce(system: str, user: str) -> dict:
    task = re.search(r"^Task: (.*)$", user, re.MULTILINE)
    actions = re.findall(r"^Action: (.*)$", user, re.MULTILINE)
    if not actions:
        return {"workflows": []}
    steps = [_LITERAL.sub("{value}", action) for action in actions]
    words = [w for w in re.findall(r"[a-z]+", (task.group(1) if task else "task").lower())[:4]]
    name = "_".join(words) or "workflow"
    description = f"Given that the task is like '{_LITERAL.sub('{value}', task.group(1)) if task else ''}', this workflow solves it"
    return {"workflows": [{"name": name, "description": description, "steps": steps}]}


def _manage(system: str, user: str) -> dict:
    existing = re.findall(
        r"^ID: (\S+)\n(.*?)(?=\n\nID: |\Z)",
        user.partition("Existing workflows:\n")[2].partition("\n\nNew workflows:")[0],
        re.MULTILINE | re.DOTALL,
    )
    new = _json_after(user, "New workflows:\n") or []
    decisions, next_id = [], len(existing)
    for text in new:
        match = next((wid for wid, old in existing if _similarity(text, old) >= 0.9), None)
        if match is not None:
            decisions.append({"id": match, "text": text, "event": "NONE"})
        else:
            decisions.append({"id": str(next_id), "text": text, "event": "ADD"})
            next_id += 1
    return {"memory": decisions}


def _route(system: str, user: str) -> dict:
    text = user.lower()
    procedural = bool(re.search(r"tools used: (?!none)", text)) or any(m in text for m in ("table information", "sql"))
    sources = ["system_memory"] if procedural else []
    if "conversation session" in text or not procedural:
        sources.append("personal_memory")
    return {"sources": sources, "reasoning": "tool use and SQL need procedures; conversations need personal facts"}


_HANDLERS = {
    "mem0.extract": _extract,
    "mem0.update": _update,
    "mem0.extract_v3": _extract_v3,
    "awm.induce": _induce,
    "awm.manage": _manage,
    "mems.route_retrieval": _route,
    "mems.route_update": _route,
}
