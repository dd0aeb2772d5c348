"""The HTTP of the LLM client: a chat-completions request as one JSON POST over a kept-alive connection.

It is httpx2, the HTTP library under the openai SDK (the same TLS, proxies from the environment, compression and
connection pool), without the SDK: importing the SDK took 0.5 s of every process's start and its request path about
half a millisecond a call (issue 17). The client (client.py) decides what to retry; this module only says what
happened: an answer (its JSON), ``HTTPStatusFailure`` (status >= 400, with headers and the start of the body),
``NoConnection`` (refused, reset, DNS, TLS) or ``NoAnswer`` (a timeout).
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version


class TransportFailure(Exception):
    """The request got no usable HTTP answer."""


class NoConnection(TransportFailure):
    pass


class NoAnswer(NoConnection):
    """Connected (or trying to), but no answer in time."""


class HTTPStatusFailure(TransportFailure):
    """An answer with status >= 400; its message is the start of the body (what the endpoint said)."""

    def __init__(self, status_code: int, headers: dict, body: str):
        self.status_code = status_code
        self.headers = headers  # lower-case names
        super().__init__(body[:500] or "(no body)")


def _user_agent() -> str:
    try:
        return f"pytest-amb/{version('pytest-amb')}"
    except PackageNotFoundError:
        return "pytest-amb"


class Transport:
    def __init__(self, base_url: str, api_key: str | None):
        import httpx2

        self._httpx = httpx2
        headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx2.Client(base_url=base_url.rstrip("/") + "/", headers=headers)

    def post_json(self, path: str, body: dict, headers: dict, timeout_s: float, connect_s: float):
        """The answer's JSON (any JSON value; ValueError when the body is none)."""
        httpx = self._httpx
        content = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        try:
            response = self._client.post(
                path.lstrip("/"),
                content=content,
                headers={"Content-Type": "application/json", **headers},
                timeout=httpx.Timeout(timeout_s, connect=connect_s),
            )
        except httpx.TimeoutException as exc:
            raise NoAnswer(f"{type(exc).__name__}: {exc or 'timed out'}") from exc
        except httpx.TransportError as exc:  # refused, reset, DNS, TLS, a proxy that failed
            raise NoConnection(f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
        if response.status_code >= 400:
            headers = {name.lower(): value for name, value in response.headers.items()}
            raise HTTPStatusFailure(response.status_code, headers, response.text)
        return json.loads(response.content)

    def close(self) -> None:
        self._client.close()
