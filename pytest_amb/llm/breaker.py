"""Fail fast on a dead endpoint: a circuit breaker over the LLM clients of one process.

Per endpoint (its base URL) the breaker counts the calls in a row that ended in an infrastructure failure: no
answer within the call's deadline, a refused or broken connection, or HTTP 408/409/429/5xx still there after
the retries. At ``failures`` in a row it opens: every further call to that endpoint fails at once, without a
request, for the rest of the process. Any answer (a completion, or an error the endpoint chose to send, such as a
401) resets the count. ``failures=0`` never opens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pytest_amb.redaction import redact_url

DEFAULT_FAILURES = 3


@dataclass
class _Endpoint:
    in_a_row: int = 0
    last: str = ""


class CircuitBreaker:
    def __init__(self, failures: int = DEFAULT_FAILURES):
        self.failures = failures
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()

    def open_reason(self, url: str) -> str | None:
        """Why calls to ``url`` fail at once, or None while the breaker is closed."""
        with self._lock:
            state = self._endpoints.get(url)
            if not self.failures or state is None or state.in_a_row < self.failures:
                return None
            return (f"the endpoint {redact_url(url)} failed {state.in_a_row} calls in a row (last: {state.last}); "
                    f"every further call to it in this process fails at once (circuit breaker after "
                    f"--amb-llm-breaker={self.failures} failures)")  # fmt: skip

    def failed(self, url: str, why: str) -> None:
        with self._lock:
            state = self._endpoints.setdefault(url, _Endpoint())
            state.in_a_row += 1
            state.last = why

    def answered(self, url: str) -> None:
        with self._lock:
            self._endpoints.pop(url, None)
