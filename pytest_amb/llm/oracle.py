"""The oracle agent: replays a sample's gold solution through the normal episode loop.

It proves an environment faithful (the gold solution must score 1.0) and calls no model. A reply may
be a function of the messages so far, for gold answers that are computed live (os_interaction answers
the output of its example command, which depends on randomised init data).
"""

from __future__ import annotations

import copy
import json

from pytest_amb.config import ORACLE_MODEL


def tool_call_turn(n: int, name: str, arguments: dict) -> dict:
    """A gold assistant turn that calls one tool (ids ``call_oracle_<n>``)."""
    call = {
        "id": f"call_oracle_{n}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return {"role": "assistant", "content": "", "tool_calls": [call]}


class OracleAgent:
    endpoint = ORACLE_MODEL
    model = ORACLE_MODEL

    def __init__(self, replies: list[dict]):
        self._replies = list(replies)

    def chat(self, messages: list[dict], *, purpose: str, tools: list[dict] | None = None, **_) -> dict:
        if not self._replies:
            return {"role": "assistant", "content": ""}
        reply = self._replies.pop(0)
        if callable(reply):  # a gold turn that depends on what the environment showed (os: answer the output)
            return reply(copy.deepcopy(messages))
        return copy.deepcopy(reply)
