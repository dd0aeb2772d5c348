"""Memory mechanisms behind one interface (``memories.base.Memory``).

The registry maps the names ``--amb-memory`` accepts to classes, imported only when a run needs them.
"""

from __future__ import annotations

import importlib

REGISTRY: dict[str, str] = {
    "zero_shot": "memories.zero_shot:ZeroShotMemory",
    "stream_icl": "memories.stream_icl:StreamICLMemory",
}

# Mechanisms of the original benchmark this version does not implement yet.
PLANNED = ("awm_pro", "mem0", "mems")


def memory_class(name: str):
    module, _, attr = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attr)
