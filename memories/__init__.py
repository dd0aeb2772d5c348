"""The built-in memory mechanisms, each registered by this distribution's ``pyproject.toml`` under the
entry-point group ``pytest_amb.memories`` (``name = "module:Class"``), exactly as another package would
register its own; the interface is ``pytest_amb.memory.Memory``. See docs/memories.md."""

DEFAULT_MEMORY = "stream_icl"  # --amb-memory's default (entry point pytest_amb.defaults: memory)
