"""What a reference-model policy is: the LLM-free answer to one kind of request.

Task families declare their policies (``TaskFamily.reference``); memory mechanisms declare the answers to
their own operations (``Memory.reference_operations``, chosen by the ``X-AMB-Operation`` header). The
reference server asks the policies in registration order and uses the first that claims the request. A
policy computes from the request body alone, never from gold answers (a judge policy sees the gold answer
only because the judge prompt carries it, as a real judge model would).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReferencePolicy:
    name: str  # "<family>.<what it answers>"; listed when no policy claims a request
    claims: Callable[[dict], bool]  # the chat-completions request body -> whether this policy answers it
    respond: Callable[[dict], dict]  # the request body -> the assistant message (content and/or tool_calls)
