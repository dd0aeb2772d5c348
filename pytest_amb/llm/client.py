"""The one LLM client: any OpenAI-compatible chat-completions endpoint, through the ``openai`` SDK.

Every call is tagged with its purpose (agent, judge, memory, ...), sent as the ``X-AMB-Purpose``
header so a server can log or route it, and recorded with tokens and latency in a shared ledger.
Transient errors (connection, timeout, 408/409/429/5xx) are retried with exponential backoff by the
SDK, a bounded number of times; anything else raises LLMError, which the harness reports as an
infrastructure error, never as a wrong answer.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

PURPOSES = ("agent", "judge", "memory")
API_KEY_VARIABLES = ("AMB_API_KEY", "OPENAI_API_KEY")


class LLMError(RuntimeError):
    """The endpoint failed (after retries) or answered with something that is not a chat completion."""


@dataclass(frozen=True)
class CallRecord:
    purpose: str
    operation: str  # a memory operation, "<mechanism>.<operation>"; "" for agent and judge calls
    model: str
    endpoint: str  # "reference" or "openai-compatible"
    prompt_tokens: int
    completion_tokens: int
    latency_s: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class UsageLedger:
    """Every LLM call and embedding batch since the last ``drain``; the runner drains it once per step
    and reads ``mark``/``since`` to attribute costs to memory retrieval and memory update."""

    calls: list[CallRecord] = field(default_factory=list)
    embedded: list[int] = field(default_factory=list)  # texts per embedding call

    def record(self, call: CallRecord) -> None:
        self.calls.append(call)

    def record_embedding(self, texts: int) -> None:
        self.embedded.append(texts)

    def mark(self) -> tuple[int, int]:
        return len(self.calls), len(self.embedded)

    def since(self, mark: tuple[int, int], purpose: str = "memory") -> dict:
        calls = [c for c in self.calls[mark[0] :] if c.purpose == purpose]
        embedded = self.embedded[mark[1] :]
        return {
            "llm_calls": len(calls),
            "tokens": sum(c.prompt_tokens + c.completion_tokens for c in calls),
            "embedding_calls": len(embedded),
            "embedded_texts": sum(embedded),
        }

    def drain(self) -> list[CallRecord]:
        calls, self.calls, self.embedded = self.calls, [], []
        return calls


def api_key_from_environment() -> str | None:
    for name in API_KEY_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


class LLMClient:
    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        endpoint: str,
        ledger: UsageLedger,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 3,
    ):
        import openai  # heavy; only when a benchmark step needs an LLM

        self.model = model
        self.endpoint = endpoint
        self.ledger = ledger
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def chat(
        self,
        messages: list[dict],
        *,
        purpose: str,
        tools: list[dict] | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        operation: str = "",
    ) -> dict:
        """One chat completion; returns the assistant message as a plain dict. ``operation`` names a
        memory operation (``<mechanism>.<operation>``), sent as ``X-AMB-Operation``."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown LLM call purpose '{purpose}'; known: {', '.join(PURPOSES)}")
        kwargs: dict = {"model": self.model, "messages": messages, "temperature": temperature}
        if tools:
            kwargs.update(tools=tools, tool_choice="auto")
        if max_tokens:
            kwargs["max_tokens"] = max_tokens
        started = time.perf_counter()
        where = f"{purpose} call to {self.endpoint} model '{self.model}'"
        try:
            headers = {"X-AMB-Purpose": purpose, **({"X-AMB-Operation": operation} if operation else {})}
            response = self._client.chat.completions.create(**kwargs, extra_headers=headers)
            message = response.choices[0].message.model_dump(exclude_none=True)
        except self._openai.OpenAIError as exc:
            raise LLMError(f"{where} failed: {_describe(exc)}") from exc
        except (ValueError, AttributeError, TypeError, IndexError) as exc:  # a 200 that is no chat completion
            raise LLMError(f"{where} returned something that is not a chat completion: {_describe(exc)}") from exc
        latency = time.perf_counter() - started
        usage = getattr(response, "usage", None)
        self.ledger.record(
            CallRecord(
                purpose=purpose,
                operation=operation,
                model=self.model,
                endpoint=self.endpoint,
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                latency_s=round(latency, 6),
            )
        )
        message.setdefault("role", "assistant")
        message.setdefault("content", "")
        return message


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
    detail = str(exc)
    return f"{text}: {detail[:300]}" if detail else text
