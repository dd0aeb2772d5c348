"""The endpoint of each role: the agent, the LLM judge and the memories' own calls each have a model, a base URL
and a key. Keys come only from the environment, one variable per role, falling back to the agent's; the key itself
is never stored in a RunConfig, a run directory or a report (``Endpoint`` names only the variable)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_amb import redaction

ROLES = ("agent", "judge", "memory")
AGENT_KEY_VARIABLES = redaction.API_KEY_VARIABLES  # AMB_API_KEY, then OPENAI_API_KEY
ROLE_KEY_VARIABLE = redaction.ROLE_KEY_VARIABLES
URL_OPTION = {"agent": "--amb-base-url", "judge": "--amb-judge-base-url", "memory": "--amb-memory-base-url"}


@dataclass(frozen=True)
class Endpoint:
    role: str
    model: str
    base_url: str | None  # None: a model that runs inside pytest-amb (the reference model, the oracle)

    @property
    def real(self) -> bool:
        return self.base_url is not None

    def key_variable(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The environment variable this role's key comes from, or None when none is set."""
        environ = os.environ if environ is None else environ
        own = ROLE_KEY_VARIABLE.get(self.role)
        for name in ((own,) if own else ()) + tuple(AGENT_KEY_VARIABLES):
            if environ.get(name):
                return name
        return None

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        environ = os.environ if environ is None else environ
        name = self.key_variable(environ)
        return environ[name] if name else None

    def to_json(self, environ: Mapping[str, str] | None = None) -> dict:
        """What run.json, the baseline recipe and the reports show: the URL redacted, the key by its variable."""
        redaction.register_secret(self.api_key(environ))  # a key inside the URL (a query parameter) is masked too
        return {
            "role": self.role,
            "model": self.model,
            "base_url": redaction.redact_url(self.base_url),
            "key_variable": self.key_variable(environ) if self.real else None,
        }
