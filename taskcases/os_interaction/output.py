"""The original's cap on what the agent sees of a command's output (the shared shell never caps)."""

from __future__ import annotations

OUTPUT_LIMIT = 800  # the original's cap on an observation
OUTPUT_KEEP = 780
TRUNCATION_NOTE = "\n[truncated because the output is too long]"


def cap_output(text: str) -> str:
    """Over 800 characters, the first 780 and a note."""
    if len(text) > OUTPUT_LIMIT:
        return text[:OUTPUT_KEEP] + TRUNCATION_NOTE
    return text
