"""The oracle agent: replays a sample's gold solution through the normal episode loop.

It proves an environment faithful (the gold solution must score 1.0) and calls no model.
"""

from __future__ import annotations

import copy

from pytest_amb.config import ORACLE_MODEL


class OracleAgent:
    endpoint = ORACLE_MODEL
    model = ORACLE_MODEL

    def __init__(self, replies: list[dict]):
        self._replies = list(replies)

    def chat(self, messages: list[dict], *, purpose: str, tools: list[dict] | None = None, **_) -> dict:
        if not self._replies:
            return {"role": "assistant", "content": ""}
        return copy.deepcopy(self._replies.pop(0))
