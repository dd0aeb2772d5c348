"""Preflight: before the first step, one cheap request per configured LLM endpoint, so that a dead, unauthorised or
rate-limited endpoint stops the run in seconds with one line naming the role, the URL and the status, instead of
every step failing after its retries.

Targets sharing an endpoint (base URL and key) are checked once, their roles named together. A check is
``GET {base}/models``; an endpoint without a model listing (404/405/501, or an answer that is not one) gets a
one-token chat per model instead. A model missing from a listing is only a note: servers alias model names.
429 waits for the server's Retry-After when that fits in the time left; a 5xx is tried once more after 0.5 s.
The endpoints are checked at the same time (one thread each) and all within ``time_limit_s``.

The requests go through the standard library (``urllib``), not the LLM client's ``httpx2`` (``transport.py``): the
check loads nothing a step needs. Like that client, a user and password in
the URL are sent as basic auth (taking the place of the key), and the ``*_PROXY`` variables are honoured.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from pytest_amb import redaction

DEFAULT_TIME_LIMIT_S = 8.0
CONNECT_TIMEOUT_S = 3.0  # per attempt; the read timeout is whatever is left of the time limit
SERVER_ERROR_PAUSE_S = 0.5  # before the one retry of a 5xx
RATE_LIMIT_PAUSE_S = 1.0  # before retrying a 429 that gives no Retry-After
RETRY_MARGIN_S = 0.2  # a retry needs time of its own after the pause
JOIN_GRACE_S = 0.5  # a thread stuck where no timeout reaches (a hung DNS lookup) is given up on after this
BODY_LIMIT = 200  # characters of a server's answer in a message
READ_LIMIT = 8 * 1024 * 1024  # bytes read of an answer (model listings of routers run to megabytes)
NO_LISTING = (404, 405, 501)
UNAUTHORISED = (401, 403)
PURPOSE_HEADER = "X-AMB-Purpose"


@dataclass(frozen=True)
class PreflightTarget:
    roles: tuple[str, ...]  # e.g. ("agent", "memory"): endpoints shared by several roles are checked once
    base_url: str  # OpenAI-compatible base, e.g. http://127.0.0.1:8000/v1 (may contain user:pass@)
    model: str
    api_key: str | None
    key_variable: str | None  # the environment variable the key came from, for the message; the key is never shown
    option: str  # the option to fix, e.g. "--amb-base-url" or "--amb-judge-base-url"


class PreflightError(Exception):
    """One line, redacted: the role(s), the URL, the status, and what to do."""


@dataclass(frozen=True)
class _Endpoint:
    """The targets sharing one base URL and key, checked with one request (or one chat per model)."""

    roles: tuple[str, ...]
    base_url: str
    models: tuple[str, ...]
    api_key: str | None
    key_variables: tuple[str, ...]
    options: tuple[str, ...]


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _Unreachable(Exception):
    """No HTTP answer: ``reason`` says why (connection refused, host not found, timeout, TLS)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check(targets: list[PreflightTarget], *, time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> list[str]:
    """Raises PreflightError for the first endpoint (in the targets' order) that fails; returns notes (one line each)
    for non-fatal findings, such as a model the endpoint does not list."""
    for target in targets:
        redaction.register_url(target.base_url)
        redaction.register_secret(target.api_key)
    endpoints = _group(targets)
    deadline = time.monotonic() + time_limit_s
    outcomes: list[list[str] | PreflightError | None] = [None] * len(endpoints)

    def run(index: int, endpoint: _Endpoint) -> None:
        try:
            outcomes[index] = _check_endpoint(endpoint, deadline, time_limit_s)
        except PreflightError as error:
            outcomes[index] = error
        except Exception as error:  # noqa: BLE001 (a failure in a thread would be lost; one line instead)
            outcomes[index] = _error(endpoint, f"could not be checked ({type(error).__name__}: {error})", _url_fix)

    threads = [
        threading.Thread(target=run, args=(i, e), name=f"amb-preflight-{i}", daemon=True)
        for i, e in enumerate(endpoints)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + JOIN_GRACE_S)
    notes: list[str] = []
    for endpoint, outcome in zip(endpoints, outcomes, strict=True):
        if outcome is None:  # still running: stuck where no timeout reaches
            raise _error(endpoint, f"gave no answer within the preflight's {time_limit_s:g} s", _url_fix)
        if isinstance(outcome, PreflightError):
            raise outcome
        notes += outcome
    return notes


def _group(targets: list[PreflightTarget]) -> list[_Endpoint]:
    """One endpoint per (base URL, key), in the order first met; roles, models, key variables and options merged."""
    groups: dict[tuple[str, str | None], list[PreflightTarget]] = {}
    for target in targets:
        groups.setdefault((target.base_url, target.api_key), []).append(target)
    return [
        _Endpoint(
            roles=_unique(role for t in members for role in t.roles),
            base_url=base_url,
            models=_unique(t.model for t in members),
            api_key=api_key,
            key_variables=_unique(t.key_variable for t in members if t.key_variable),
            options=_unique(t.option for t in members),
        )
        for (base_url, api_key), members in groups.items()
    ]


def retry_after_s(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks to wait (``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date;
    ``now``: the epoch time), or None when it does not say."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now) if when.tzinfo else None


# --------------------------------------------------------------------------------------------------
# one endpoint
# --------------------------------------------------------------------------------------------------


def _check_endpoint(endpoint: _Endpoint, deadline: float, time_limit_s: float) -> list[str]:
    listing = _request(endpoint, "GET", "/models", None, deadline, time_limit_s)
    if listing.status in UNAUTHORISED:
        raise _unauthorised(endpoint, listing)
    if 200 <= listing.status < 300:
        listed = _listed_ids(listing.body)
        if listed is not None:
            return [_unlisted_note(endpoint, model, listed) for model in endpoint.models if model not in listed]
    # no model listing here (404/405/501, another 4xx, or an answer that is not a listing): ask for one token
    notes = []
    for model in endpoint.models:
        body = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
        reply = _request(endpoint, "POST", "/chat/completions", body, deadline, time_limit_s)
        if 200 <= reply.status < 300:
            if not _is_completion(reply.body):
                raise _error(endpoint, f"answered a one-token chat with HTTP {reply.status} but not with a chat "
                             f"completion{_server_says(reply)}", _base_url_fix)  # fmt: skip
        elif reply.status in UNAUTHORISED:
            raise _unauthorised(endpoint, reply)
        elif reply.status == 404:
            if model in reply.body.decode("utf-8", "replace"):
                raise _error(endpoint, f"says model '{model}' not found (HTTP 404){_server_says(reply)}", _model_fix)
            raise _error(endpoint, "has neither /models nor /chat/completions (HTTP 404)", _base_url_fix)
        elif reply.status in (405, 501):
            raise _error(endpoint, f"does not take chat completions (HTTP {reply.status})", _base_url_fix)
        else:  # the endpoint answers and accepted the key; the run may still work with its own parameters
            notes.append(_note(endpoint, f"answered a one-token chat with model '{model}' with HTTP {reply.status}"
                               f"{_server_says(reply)}; the run goes on"))  # fmt: skip
    return notes


def _request(endpoint: _Endpoint, method: str, path: str, body: dict | None, deadline: float, limit: float) -> _Reply:
    """One request, repeated after a 429 (as the server asks, when that fits before the deadline) and once after a
    5xx; any other status is returned. No answer at all raises PreflightError."""
    url, headers = _address(endpoint, path)
    if urlsplit(url).scheme not in ("http", "https"):
        raise _error(endpoint, "is not an http:// or https:// URL", _url_fix)
    data = None if body is None else json.dumps(body).encode()
    server_errors = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _error(endpoint, f"gave no answer within the preflight's {limit:g} s", _url_fix)
        try:
            reply = _send(method, url, headers, data, connect_s=min(CONNECT_TIMEOUT_S, left), read_s=left)
        except _Unreachable as error:
            raise _error(endpoint, f"cannot be reached: {error.reason}", _url_fix) from None
        left = deadline - time.monotonic()
        if reply.status == 429:
            asked = retry_after_s(reply.headers, time.time())
            pause = RATE_LIMIT_PAUSE_S if asked is None else asked
            if pause + RETRY_MARGIN_S > left:
                raise _rate_limited(endpoint, reply, asked, left, limit)
            time.sleep(pause)
            continue
        if reply.status >= 500 and reply.status not in NO_LISTING:  # 501: a method the server does not have
            server_errors += 1
            if server_errors == 1 and SERVER_ERROR_PAUSE_S + RETRY_MARGIN_S <= left:
                time.sleep(SERVER_ERROR_PAUSE_S)
                continue
            times = "twice" if server_errors > 1 else "once, with no time left to retry"
            raise _error(endpoint, f"answered HTTP {reply.status} {times}{_server_says(reply)}", _server_fix)
        return reply


def _address(endpoint: _Endpoint, path: str) -> tuple[str, dict[str, str]]:
    """The request URL without its user and password, and the headers (a user and password in the URL become basic
    auth, which takes the place of the key, as in the LLM client's httpx2)."""
    parts = urlsplit(endpoint.base_url.rstrip("/") + path)
    headers = {"Accept": "application/json", "User-Agent": "pytest-amb-preflight", PURPOSE_HEADER: "preflight"}
    if path == "/chat/completions":
        headers["Content-Type"] = "application/json"
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        parts = parts._replace(netloc=host)
    return urlunsplit(parts), headers


# --------------------------------------------------------------------------------------------------
# HTTP: urllib with a connect timeout apart from the read timeout
# --------------------------------------------------------------------------------------------------


def _send(method: str, url: str, headers: dict, data: bytes | None, *, connect_s: float, read_s: float) -> _Reply:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    opener = urllib.request.build_opener(_HTTPHandler(read_s), _HTTPSHandler(read_s))
    try:
        with opener.open(request, timeout=connect_s) as response:
            return _Reply(response.status, response.headers, response.read(READ_LIMIT))
    except urllib.error.HTTPError as error:  # an answer with an error status
        with error:
            return _Reply(error.code, error.headers, _read_error_body(error))
    except urllib.error.URLError as error:  # connecting or sending failed
        raise _Unreachable(_why(error.reason, connecting=True, connect_s=connect_s, read_s=read_s)) from None
    except (OSError, http.client.HTTPException) as error:  # after sending: no (complete) answer
        raise _Unreachable(_why(error, connecting=False, connect_s=connect_s, read_s=read_s)) from None
    except ValueError as error:  # urllib's word for a URL it cannot use
        raise _Unreachable(f"not a usable URL ({error})") from None


def _read_error_body(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(READ_LIMIT)
    except (OSError, http.client.HTTPException):
        return b""


def _why(error, *, connecting: bool, connect_s: float, read_s: float) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"the host name does not resolve ({error.strerror or error})"
    if isinstance(error, TimeoutError):
        return f"no connection within {connect_s:.1f} s" if connecting else f"no answer within {read_s:.1f} s"
    if isinstance(error, ssl.SSLError):
        detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or error
        return f"TLS failed ({detail})"
    if isinstance(error, ConnectionError | http.client.HTTPException):
        return f"the connection was closed without a complete answer ({type(error).__name__})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error)


def _read_timeout_connection(base: type[http.client.HTTPConnection], read_s: float):
    """``base`` connecting within the timeout urllib passes (the connect timeout), then reading within ``read_s``."""

    class Connection(base):
        def connect(self):
            super().connect()
            self.sock.settimeout(read_s)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read_s: float):
        super().__init__()
        self._connection = _read_timeout_connection(http.client.HTTPConnection, read_s)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_s: float):
        super().__init__()
        self._connection = _read_timeout_connection(http.client.HTTPSConnection, read_s)

    def https_open(self, req):
        return self.do_open(self._connection, req, context=self._context)


# --------------------------------------------------------------------------------------------------
# answers
# --------------------------------------------------------------------------------------------------


def _listed_ids(body: bytes) -> set[str] | None:
    """The model ids of a ``{"data": [{"id": ...}, ...]}`` listing; None when the body is not one."""
    try:
        listing = json.loads(body)
    except ValueError:
        return None
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        return None
    return {str(item["id"]) for item in listing["data"] if isinstance(item, dict) and "id" in item}


def _is_completion(body: bytes) -> bool:
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and isinstance(answer.get("choices"), list)


def _server_says(reply: _Reply) -> str:
    """``: <the server's message>``, redacted, on one line, cut to BODY_LIMIT characters; "" for an empty body."""
    text = reply.body.decode("utf-8", "replace")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        error = answer.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        message = message or answer.get("detail") or answer.get("message")
        if isinstance(message, str) and message.strip():
            text = message
    text = " ".join(redaction.redact(text).split())  # redacted before the cut: no part of a secret survives it
    if not text:
        return ""
    return f": {text[:BODY_LIMIT]}" + ("..." if len(text) > BODY_LIMIT else "")


# --------------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------------


def _error(endpoint: _Endpoint, problem: str, fix) -> PreflightError:
    return PreflightError(_line(endpoint, f"{problem}; {fix(endpoint)}"))


def _note(endpoint: _Endpoint, finding: str) -> str:
    return _line(endpoint, finding)


def _line(endpoint: _Endpoint, text: str) -> str:
    roles = _and(list(endpoint.roles))
    noun = "model" if len(endpoint.models) == 1 else "models"
    models = _and([f"'{m}'" for m in endpoint.models])
    line = f"preflight: the {roles} endpoint {redaction.redact_url(endpoint.base_url)} ({noun} {models}) {text}"
    return " ".join(redaction.redact(line).split())


def _unauthorised(endpoint: _Endpoint, reply: _Reply) -> PreflightError:
    problem = f"answered unauthorised (HTTP {reply.status}){_server_says(reply)}"
    return _error(endpoint, problem, _key_fix)


def _rate_limited(endpoint: _Endpoint, reply: _Reply, asked: float | None, left: float, limit: float):
    if asked is None:
        problem = f"is rate limited (HTTP 429) throughout the preflight's {limit:g} s{_server_says(reply)}"
    else:
        problem = (f"is rate limited (HTTP 429) for {asked:g} s more (Retry-After), more than the {max(left, 0):.1f} s "
                   f"left of the preflight's {limit:g} s{_server_says(reply)}")  # fmt: skip
    return PreflightError(_line(endpoint, f"{problem}; wait and run again, or use another key or endpoint"))


def _url_fix(endpoint: _Endpoint) -> str:
    return f"check {' or '.join(endpoint.options)}"


def _base_url_fix(endpoint: _Endpoint) -> str:
    return f"check {' or '.join(endpoint.options)} (an OpenAI-compatible base URL, usually ending in /v1)"


def _server_fix(endpoint: _Endpoint) -> str:
    return f"check the server (its log), or {' or '.join(endpoint.options)}"


def _model_fix(endpoint: _Endpoint) -> str:
    return "check the model name (the endpoint lists no models to compare with)"


def _key_fix(endpoint: _Endpoint) -> str:
    if "@" in urlsplit(endpoint.base_url).netloc:
        return f"check the user and password in the URL ({' or '.join(endpoint.options)})"
    if endpoint.api_key:
        if endpoint.key_variables:
            return "check the key in " + " or ".join(f"${v}" for v in endpoint.key_variables)
        return "check the API key"
    return "no key was set: set " + " or ".join(f"${v}" for v in _key_variables_for(endpoint.roles))


def _key_variables_for(roles: tuple[str, ...]) -> tuple[str, ...]:
    """Where a key for these roles is read: a role's own variable, then the agent's (which every role falls back
    to); the agent's alone when the agent is among them."""
    own = () if "agent" in roles else tuple(redaction.ROLE_KEY_VARIABLES.get(r) for r in roles)
    return _unique(v for v in (*own, *redaction.API_KEY_VARIABLES) if v)


def _unlisted_note(endpoint: _Endpoint, model: str, listed: set[str]) -> str:
    shown = ", ".join(f"'{m}'" for m in sorted(listed)[:5]) + (", ..." if len(listed) > 5 else "")
    lists = f"it lists {len(listed)}: {shown}" if listed else "it lists none"
    return _note(endpoint, f"does not list model '{model}' ({lists}); the run goes on, as servers may alias names")


def _and(words: list[str]) -> str:
    if not words:
        return "LLM"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _unique(values) -> tuple:
    return tuple(dict.fromkeys(values))
