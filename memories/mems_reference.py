"""The reference model's answers to mems' own calls (``MemsMemory.reference_operations``), computed from
the request body alone, deterministically:

- ``mems.route_retrieval`` / ``mems.route_update``: by the kind of task in the request (SQL or tools →
  system memory; questions about people and conversations → personal memory).
"""

from __future__ import annotations

import re

from memories.reference_text import operation


def _route(system: str, user: str) -> dict:
    text = user.lower()
    procedural = bool(re.search(r"tools used: (?!none)", text)) or any(m in text for m in ("table information", "sql"))
    sources = ["system_memory"] if procedural else []
    if "conversation session" in text or not procedural:
        sources.append("personal_memory")
    return {"sources": sources, "reasoning": "tool use and SQL need procedures; conversations need personal facts"}


OPERATIONS = {
    "mems.route_retrieval": operation(_route),
    "mems.route_update": operation(_route),
}
