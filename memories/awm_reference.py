"""The reference model's answers to awm_pro's own calls (``AwmProMemory.reference_operations``), computed
from the request body alone, deterministically:

- ``awm.induce``: one workflow whose steps are the trajectory's actions with literals abstracted;
- ``awm.manage``: ADD unless a near-duplicate exists (NONE).
"""

from __future__ import annotations

import re

from memories.reference_text import json_after, operation, similarity

_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\b\d+(?:\.\d+)?\b")


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
    new = json_after(user, "New workflows:\n") or []
    decisions, next_id = [], len(existing)
    for text in new:
        match = next((wid for wid, old in existing if similarity(text, old) >= 0.9), None)
        if match is not None:
            decisions.append({"id": match, "text": text, "event": "NONE"})
        else:
            decisions.append({"id": str(next_id), "text": text, "event": "ADD"})
            next_id += 1
    return {"memory": decisions}


OPERATIONS = {
    "awm.induce": operation(_induce),
    "awm.manage": operation(_manage),
}
