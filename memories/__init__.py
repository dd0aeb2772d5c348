"""Memory mechanisms behind one interface (``memories.base.Memory``).

The registry maps the names ``--amb-memory`` accepts to classes, imported only when a run needs them.
Mechanisms from other packages register under the entry-point group ``pytest_amb.memories``
(``name = "module:Class"``); see docs/memories.md.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "pytest_amb.memories"
REGISTRY: dict[str, str] = {
    "zero_shot": "memories.zero_shot:ZeroShotMemory",
    "stream_icl": "memories.stream_icl:StreamICLMemory",
    "awm_pro": "memories.awm_pro:AwmProMemory",
    "mem0": "memories.mem0:Mem0Memory",
    "mems": "memories.mems:MemsMemory",
}


def available() -> dict[str, str]:
    """Built-in mechanisms, then those installed packages register (a built-in name cannot be replaced)."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **REGISTRY}


def memory_class(name: str):
    module, _, attr = available()[name].partition(":")
    return getattr(importlib.import_module(module), attr)
