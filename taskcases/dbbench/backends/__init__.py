"""SQL backends for dbbench: embedded SQLite in a sandbox process (the default) or a MySQL/MariaDB server by URL."""

from __future__ import annotations

from taskcases.dbbench.backends.base import DEFAULT_STATEMENT_TIMEOUT_S, SqlBackend


def open_backend(db_url: str | None, statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S) -> SqlBackend:
    if not db_url:
        from taskcases.dbbench.backends.sandbox import SQLiteBackend

        return SQLiteBackend(statement_timeout_s)
    from taskcases.dbbench.backends.mysql import MySQLBackend

    return MySQLBackend(db_url, statement_timeout_s)
