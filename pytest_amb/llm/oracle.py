"""The oracle agent: replays a sample's gold solution through the normal episode loop.

It proves an environment faithful (the gold solution must score 1.0) and calls no model. A reply may
be a function of the messages so far, for gold answers that are computed live (e.g. the output
of an example command, which depends on randomised init data).
"""

from __future__ import annotations

import copy

from pytest_amb.config import ORACLE_MODEL
from pytest_amb.llm.messages import tool_call_message


def tool_call_turn(n: int, name: str, arguments: dict) -> dict:
    """A gold assistant turn that calls one tool (ids ``call_oracle_<n>``)."""
    return tool_call_message(f"call_oracle_{n}", name, arguments)


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
