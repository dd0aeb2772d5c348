"""The one LLM client: any OpenAI-compatible chat-completions endpoint, through the ``openai`` SDK.

Every call is tagged with its purpose (agent, judge, memory, ...), sent as the ``X-AMB-Purpose``
header so a server can log or route it, and recorded with tokens and latency in a shared ledger.
Transient errors (connection, timeout, 408/409/429/5xx) are retried with exponential backoff (or the
server's Retry-After), a bounded number of times and only within the call's deadline (``deadline_s``: no
attempt waits past it). A call that still fails counts against the endpoint in the process's circuit
breaker (``breaker.py``); once it is open, calls fail at once. Anything that goes wrong raises LLMError,
which the harness reports as an infrastructure error, never as a wrong answer. Its message passes through
the redaction rule, so an endpoint that echoes the API key or the URL's password never gets it written.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import asdict, dataclass, field

from pytest_amb import redaction
from pytest_amb.llm.breaker import CircuitBreaker

PURPOSES = ("agent", "judge", "memory")
API_KEY_VARIABLES = redaction.API_KEY_VARIABLES
DEFAULT_DEADLINE_S = 120.0  # seconds one call may take, retries included (--amb-llm-deadline)
CONNECT_TIMEOUT_S = 10.0
_TRANSIENT_STATUS = (408, 409, 429)


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
        timeout_s: float = 120.0,  # the longest one attempt may wait (within the deadline)
        max_retries: int = 3,
        deadline_s: float = DEFAULT_DEADLINE_S,
        breaker: CircuitBreaker | None = None,  # shared by the clients of one process; else the client's own
    ):
        import openai  # heavy; only when a benchmark step needs an LLM

        self.model = model
        self.endpoint = endpoint
        self.ledger = ledger
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.deadline_s = deadline_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        redaction.register_url(base_url)
        redaction.register_secret(api_key)
        _redact_http_logs()
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
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
        refused = self.breaker.open_reason(self.base_url)
        if refused:
            raise LLMError(f"{where} not sent: {refused}")
        try:
            headers = {"X-AMB-Purpose": purpose, **({"X-AMB-Operation": operation} if operation else {})}
            response = self._send(kwargs, headers)
            self.breaker.answered(self.base_url)
            message = response.choices[0].message.model_dump(exclude_none=True)
        except self._openai.OpenAIError as exc:
            why = self._describe(exc, time.perf_counter() - started)
            if self._transient(exc):
                self.breaker.failed(self.base_url, why)
            else:
                self.breaker.answered(self.base_url)
            raise LLMError(f"{where} failed: {why}") from exc
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

    # -- retries within the deadline -------------------------------------------------------------------
    def _send(self, kwargs: dict, headers: dict):
        """One completion, retrying transient failures while ``max_retries`` and the deadline allow."""
        deadline = time.monotonic() + self.deadline_s
        attempt = 0
        while True:
            wait = max(min(self.timeout_s, deadline - time.monotonic()), 0.001)
            timeout = self._openai.Timeout(wait, connect=min(CONNECT_TIMEOUT_S, wait))
            try:
                return self._client.chat.completions.create(**kwargs, extra_headers=headers, timeout=timeout)
            except self._openai.OpenAIError as exc:
                pause = _pause(exc, attempt)
                if not self._transient(exc) or attempt >= self.max_retries or time.monotonic() + pause >= deadline:
                    raise
            time.sleep(pause)
            attempt += 1

    def _transient(self, exc: Exception) -> bool:
        """A failure of the endpoint rather than of the request: retried, and counted by the breaker."""
        if isinstance(exc, self._openai.APIConnectionError):  # refused, reset, timed out
            return True
        status = getattr(exc, "status_code", None) or 0
        return status in _TRANSIENT_STATUS or status >= 500

    def _describe(self, exc: Exception, elapsed: float) -> str:
        if not isinstance(exc, self._openai.APITimeoutError):
            return _describe(exc)
        if elapsed >= self.deadline_s - 0.05:
            return f"no answer within the deadline of {self.deadline_s:g} s (--amb-llm-deadline): {_describe(exc)}"
        return f"no answer in {elapsed:.1f} s (at most {self.timeout_s:g} s per attempt): {_describe(exc)}"


def _pause(exc: Exception, attempt: int) -> float:
    """Seconds before the next attempt: the server's Retry-After (up to 60 s), else 0.5 s doubling to 8 s."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            seconds = float(headers.get(name, "")) * scale
        except ValueError:
            continue
        if 0 < seconds <= 60:
            return seconds
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
    detail = redaction.redact(str(exc))  # before the cut: a secret must not survive in part
    return f"{text}: {detail[:300]}" if detail else text


class _RedactingFilter(logging.Filter):
    """httpx and openai log request URLs (with their password) and error bodies at INFO/DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redaction.redact(record.getMessage()), None
        return True


def _redact_http_logs() -> None:
    for name in ("httpx", "httpx2", "openai", "openai._base_client"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())
