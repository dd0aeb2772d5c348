"""OpenAI chat messages the harness writes itself (the oracle's and the reference policies' turns)."""

from __future__ import annotations

import json


def tool_call_message(call_id: str, name: str, arguments: dict, content: str = "") -> dict:
    """An assistant turn that calls one tool."""
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return {"role": "assistant", "content": content, "tool_calls": [call]}
