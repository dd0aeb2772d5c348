"""The one LLM client: any OpenAI-compatible chat-completions endpoint, over HTTP (``transport.py``).

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
import random
import time
import warnings
from dataclasses import asdict, dataclass, field, replace

from pytest_amb import redaction
from pytest_amb.llm.breaker import CircuitBreaker
from pytest_amb.llm.cache import CacheMode, CacheRequest, ResponseCache, cache_key

PURPOSES = ("agent", "judge", "memory")
DEFAULT_DEADLINE_S = 120.0  # seconds one call may take, retries included (--amb-llm-deadline)
CONNECT_TIMEOUT_S = 10.0
_TRANSIENT_STATUS = (408, 409, 429)
REFERENCE_CACHE_URL = "reference://loopback"  # the reference model's port changes from run to run; its answers do not


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
    cached_prompt_tokens: int = 0  # prompt tokens the provider served from its own prompt cache (billed less)
    from_cache: bool = False  # the answer was replayed from the response cache: no request, no cost
    cache_lookup: bool = False  # the response cache was consulted (a miss when not from_cache)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class UsageLedger:
    """Every LLM call and embedding batch since the last ``drain``; the runner drains it once per step
    and reads ``mark``/``since`` to attribute costs to memory retrieval and memory update. ``step`` is the step
    running now (the response cache keys sampled answers by it), ``repeats`` how often each request was sent in
    it (so that a request sent twice in one step gets two answers, as it would from the endpoint)."""

    calls: list[CallRecord] = field(default_factory=list)
    embedded: list[int] = field(default_factory=list)  # texts per embedding call
    step: str = ""
    repeats: dict[str, int] = field(default_factory=dict)

    def start_step(self, step_id: str) -> None:
        self.step, self.repeats = step_id, {}

    def repeat_index(self, request_key: str) -> int:
        """0 for the first time ``request_key`` is sent in this step, 1 for the second, ..."""
        index = self.repeats.get(request_key, 0)
        self.repeats[request_key] = index + 1
        return index

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
        calls, self.calls, self.embedded, self.repeats = self.calls, [], [], {}
        return calls


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
        cache: ResponseCache | None = None,  # the response cache (its mode says whether it reads and writes)
    ):
        from pytest_amb.llm import transport

        self.model = model
        self.endpoint = endpoint
        self.ledger = ledger
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.deadline_s = deadline_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.cache = cache
        self._store_failed = False
        redaction.register_url(base_url)
        redaction.register_secret(api_key)
        _redact_http_logs()
        self._failures = transport
        self.api_key = api_key  # for a library that makes its own calls to this endpoint (mem0ai); never printed
        self._transport = transport.Transport(base_url, api_key)

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
        memory operation (``<mechanism>.<operation>``), sent as ``X-AMB-Operation``. With a response cache that
        reads, a stored answer to the same request is returned without a request."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown LLM call purpose '{purpose}'; known: {', '.join(PURPOSES)}")
        kwargs: dict = {"model": self.model, "messages": messages, "temperature": temperature}
        if tools:
            kwargs.update(tools=tools, tool_choice="auto")
        if max_tokens:
            kwargs["max_tokens"] = max_tokens
        headers = {"X-AMB-Purpose": purpose, **({"X-AMB-Operation": operation} if operation else {})}
        where = f"{purpose} call to {self.endpoint} {redaction.redact_url(self.base_url)} model '{self.model}'"
        started = time.perf_counter()
        request = self._cache_request(kwargs, headers)
        response = self.cache.lookup(request, purpose) if request is not None else None
        from_cache = response is not None
        if response is None:
            response = self._request(kwargs, headers, where, started)
        try:
            message = _message(response)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:  # a 200 that is no chat completion
            raise LLMError(f"{where} returned something that is not a chat completion: {_describe(exc)}") from exc
        if request is not None and not from_cache:
            self._store(request, response, purpose)
        usage = response.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        self.ledger.record(
            CallRecord(
                purpose=purpose,
                operation=operation,
                model=self.model,
                endpoint=self.endpoint,
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                latency_s=round(time.perf_counter() - started, 6),
                cached_prompt_tokens=int(details.get("cached_tokens") or 0),
                from_cache=from_cache,
                cache_lookup=request is not None and self.cache.mode.reads,
            )
        )
        return message

    def _request(self, kwargs: dict, headers: dict, where: str, started: float) -> dict:
        """The endpoint's answer as a JSON dict, or LLMError (counted by the breaker when the endpoint failed)."""
        refused = self.breaker.open_reason(self.base_url)
        if refused:
            raise LLMError(f"{where} not sent: {refused}")
        try:
            response = self._send(kwargs, headers)
            self.breaker.answered(self.base_url)
        except self._failures.TransportFailure as exc:
            why = self._describe(exc, time.perf_counter() - started)
            if self._transient(exc):
                self.breaker.failed(self.base_url, why)
            else:
                self.breaker.answered(self.base_url)
            raise LLMError(f"{where} failed: {why}") from exc
        except ValueError as exc:  # a 200 whose body is no JSON
            raise LLMError(f"{where} returned something that is not a chat completion: {_describe(exc)}") from exc
        if not isinstance(response, dict):
            raise LLMError(f"{where} returned something that is not a chat completion: a JSON {type(response).__name__}")
        return response

    # -- the response cache --------------------------------------------------------------------------
    def _cache_request(self, kwargs: dict, headers: dict) -> CacheRequest | None:
        """The cache key's request, or None without a cache. A sampled answer (temperature > 0) is kept per
        step, so that a rerun replays each step's own draw and two steps never share one; a request sent twice
        in a step gets its repeat index."""
        if self.cache is None or self.cache.mode is CacheMode.OFF:
            return None
        params = {k: v for k, v in kwargs.items() if k not in ("model", "messages", "tools", "tool_choice")}
        keyed = {name.lower(): value for name, value in headers.items()}
        if kwargs.get("temperature"):
            keyed["x-amb-step"] = self.ledger.step
        request = CacheRequest(
            base_url=REFERENCE_CACHE_URL if self.endpoint == "reference" else self.base_url,
            model=self.model,
            messages=kwargs["messages"],
            tools=kwargs.get("tools"),
            tool_choice=kwargs.get("tool_choice"),
            params=params,
            headers=keyed,
        )
        return replace(request, repeat=self.ledger.repeat_index(cache_key(request)))

    def _store(self, request: CacheRequest, response: dict, purpose: str) -> None:
        try:  # redacted, as everything the harness writes: an endpoint that echoes a key never gets it stored
            self.cache.store(request, redaction.redact_json(response), purpose)
        except OSError as exc:  # a full or read-only disk costs the cache, never the run
            if not self._store_failed:
                self._store_failed = True
                warnings.warn(
                    f"amb: the response cache at {self.cache.directory} cannot be written "
                    f"({exc.strerror or exc}); answers are not stored for the rest of this process",
                    stacklevel=2,
                )

    # -- retries within the deadline -------------------------------------------------------------------
    def _send(self, kwargs: dict, headers: dict):
        """One completion, retrying transient failures while ``max_retries`` and the deadline allow."""
        deadline = time.monotonic() + self.deadline_s
        attempt = 0
        while True:
            wait = max(min(self.timeout_s, deadline - time.monotonic()), 0.001)
            try:
                return self._transport.post_json("chat/completions", kwargs, headers, wait, min(CONNECT_TIMEOUT_S, wait))
            except self._failures.TransportFailure as exc:
                pause = _pause(exc, attempt)
                if not self._transient(exc) or attempt >= self.max_retries or time.monotonic() + pause >= deadline:
                    raise
            time.sleep(pause)
            attempt += 1

    def _transient(self, exc: Exception) -> bool:
        """A failure of the endpoint rather than of the request: retried, and counted by the breaker."""
        if isinstance(exc, self._failures.NoConnection):  # refused, reset, timed out
            return True
        status = getattr(exc, "status_code", None) or 0
        return status in _TRANSIENT_STATUS or status >= 500

    def _describe(self, exc: Exception, elapsed: float) -> str:
        if not isinstance(exc, self._failures.NoAnswer):
            return _describe(exc)
        if elapsed >= self.deadline_s - 0.05:
            return f"no answer within the deadline of {self.deadline_s:g} s (--amb-llm-deadline): {_describe(exc)}"
        return f"no answer in {elapsed:.1f} s (at most {self.timeout_s:g} s per attempt): {_describe(exc)}"


def _message(response: dict) -> dict:
    """The first choice's assistant message, without null fields."""
    message = _without_nulls(response["choices"][0]["message"])
    if not isinstance(message, dict):
        raise TypeError(f"the message is a {type(message).__name__}, not an object")
    message.setdefault("role", "assistant")
    message.setdefault("content", "")
    return message


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _pause(exc: Exception, attempt: int) -> float:
    """Seconds before the next attempt: the server's Retry-After (up to 60 s), else 0.5 s doubling to 8 s."""
    headers = getattr(exc, "headers", None) or {}  # lower-case names (transport.HTTPStatusFailure)
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
    """httpx2 logs request URLs (with their password) at INFO/DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redaction.redact(record.getMessage()), None
        return True


def _redact_http_logs() -> None:
    for name in ("httpx2", "httpcore2"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())
