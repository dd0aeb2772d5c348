"""The one redaction rule for URLs and secrets, applied to everything the harness prints or writes
(terminal, run.json, summary.json, steps.jsonl, JUnit XML, the HTML report, baselines, LLM error texts).

- A URL loses its password: ``scheme://user:***@host/...``, in a configuration value and anywhere in a text.
- A secret is replaced by ``***`` wherever it occurs in a text: the API key (``AMB_API_KEY`` /
  ``OPENAI_API_KEY``, and the judge's and memories' ``AMB_JUDGE_API_KEY`` / ``AMB_MEMORY_API_KEY``, read when
  a text is redacted, and any key an LLM client was given), the password of every
  registered URL (``--amb-base-url`` and every secret option's value) with its percent-decoded form and its HTTP
  basic-auth encoding, and the whole value of a secret option that is not a URL. A secret shorter than
  ``MIN_SECRET`` characters is redacted inside URLs only: replacing it in free text would shred the text.

A leaf module: it imports nothing of the harness.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from urllib.parse import unquote, urlsplit, urlunsplit

API_KEY_VARIABLES = ("AMB_API_KEY", "OPENAI_API_KEY")  # the agent's key, and every role's fallback
ROLE_KEY_VARIABLES = {"judge": "AMB_JUDGE_API_KEY", "memory": "AMB_MEMORY_API_KEY"}  # a role's own key
MASK = "***"
MIN_SECRET = 6
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:\"'<>]*):(?P<password>[^\s/?#@\"'<>]+)@")
_registered: set[str] = set()
_lock = threading.Lock()


def redact_url(url: str | None) -> str | None:
    """A URL without its password (``user:***@host``); None or "" gives None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.password is None:
        return redact(url)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return redact(urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{netloc[1]}")))


def register_secret(value: str | None) -> None:
    """From now on, ``value`` is replaced wherever it occurs in a redacted text (if at least MIN_SECRET long)."""
    if value and len(value) >= MIN_SECRET:
        with _lock:
            _registered.add(value)


def register_url(url: str | None) -> None:
    """The password of ``url`` becomes a secret: as written, percent-decoded, and as HTTP basic auth."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        user, password = parts.username or "", parts.password
    except ValueError:  # not a URL after all
        return
    if password is None:
        return
    for name, secret in ((user, password), (unquote(user), unquote(password))):
        register_secret(secret)
        register_secret(base64.b64encode(f"{name}:{secret}".encode()).decode())


def register_option_value(value: str | None) -> None:
    """A secret option's value: a URL's password, or the whole value when it is not a URL (a token)."""
    if value and "://" in value:
        register_url(value)
    else:
        register_secret(value)


def secrets() -> list[str]:
    """Every secret known now, longest first (so that a secret inside another is not half-replaced)."""
    found = {os.environ.get(name) or "" for name in (*API_KEY_VARIABLES, *ROLE_KEY_VARIABLES.values())}
    found = {s for s in found if len(s) >= MIN_SECRET}
    with _lock:
        found |= _registered
    return sorted(found, key=len, reverse=True)


def redact(text: str, known: list[str] | None = None) -> str:
    """``text`` with URL passwords masked and every secret replaced (``known``: secrets(), when reused)."""
    if not text or not isinstance(text, str):
        return text
    for secret in secrets() if known is None else known:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return text


def redact_json(value, known: list[str] | None = None):
    """A JSON-like value (dicts, lists, strings, numbers) with every string redacted; a new object."""
    known = secrets() if known is None else known
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, dict):
        return {redact(k, known) if isinstance(k, str) else k: redact_json(v, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(v, known) for v in value]
    return value
