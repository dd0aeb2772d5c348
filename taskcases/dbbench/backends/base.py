"""The one SQL interface the dbbench episode drives, whatever the server.

A backend opens one isolated database per sample, loaded with the sample's tables (every column TEXT,
every value a string). The session runs the agent's statements (committing each, rolling back on error),
computes the per-table row hashes the scoring needs, and drops everything on close.

Standard library only at run time: the SQLite sandbox child imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from taskcases.dbbench.loader import Table

DEFAULT_STATEMENT_TIMEOUT_S = 60.0  # the original's per-statement limit


class SqlError(Exception):
    """The statement failed; the message is what the agent sees as the observation."""


class SqlTimeout(SqlError):
    """The statement ran longer than the backend's statement timeout and was cut off."""


class SqlSession(Protocol):
    def observe(self, statement: str) -> str:
        """Run one statement of the agent and commit it; the original's observation of its result
        (``str`` of the row tuples cut at 800 characters, see ``observation.py``), built while fetching,
        so an unbounded result is never held. Raises SqlError (rolled back) or SqlTimeout."""

    def execute(self, statement: str) -> list[tuple]:
        """Run one statement and commit it; rows as tuples ([] for statements without rows), for trusted
        SQL (gold labels, tests). Raises SqlError (rolled back) or SqlTimeout."""

    def table_hash(self, table: str, columns: tuple[str, ...]) -> str:
        """The original's hash of a table: md5 of the sorted 5-char row hashes, or "None" when empty."""

    def close(self) -> None:
        """Drop the sample's database (and its user); safe to call twice."""


class SqlBackend(Protocol):
    name: str  # provenance, e.g. "sqlite 3.40.1 (sandbox process)" or "mysql://127.0.0.1:3306 (MariaDB 10.11.18)"

    def open(self, tables: tuple[Table, ...]) -> SqlSession: ...

    def close(self) -> None: ...
