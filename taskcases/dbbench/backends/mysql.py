"""A real MySQL or MariaDB server, by URL: ``mysql://user:password@host:port`` (``mariadb://`` works too;
``?unix_socket=/path`` connects over a socket).

The URL's user is the administrator: for every sample it creates a database and a user that may touch
only that database, loads the tables as that administrator, and drops both afterwards. The agent's
statements run as the sample user, with the server's statement timeout (MariaDB ``max_statement_time``,
MySQL ``max_execution_time``) and a socket read timeout as a backstop that kills the query.

Session settings for fidelity with the original MySQL 8 setup: utf8mb4 with a case- and
accent-insensitive collation, ``group_concat_max_len = 1024``, and a non-strict ``sql_mode`` (the
stored gold hashes were produced without strict mode; see docs/deviations.md).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from taskcases.dbbench.backends.base import DEFAULT_STATEMENT_TIMEOUT_S, SqlError, SqlTimeout
from taskcases.dbbench.backends.observation import OUTPUT_LIMIT, Observation
from taskcases.dbbench.scoring import GROUP_CONCAT_MAX_LEN, hash_query, quote_identifier

if TYPE_CHECKING:
    from taskcases.dbbench.loader import Table

SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
_TIMEOUT_CODES = {1969, 3024, 1317}  # MariaDB max_statement_time, MySQL max_execution_time, query interrupted
_CONNECTION_LOST = {2006, 2013}
_PRIVILEGE_CODES = {1044, 1045, 1142, 1227, 1410}  # access denied / not allowed to create a user or grant


class SqlBackendError(ConnectionError):
    """The SQL server cannot be reached or refuses the administrator's work (infrastructure, not the agent)."""


@dataclass(frozen=True)
class ServerAddress:
    user: str
    password: str
    host: str
    port: int
    unix_socket: str | None

    @property
    def redacted(self) -> str:
        where = self.unix_socket or f"{self.host}:{self.port}"
        return f"mysql://{self.user}@{where}"

    def connect_kwargs(self) -> dict:
        kwargs = {"user": self.user, "password": self.password, "host": self.host, "port": self.port}
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        return kwargs


def parse_url(url: str) -> ServerAddress:
    """The server address in a ``mysql://`` URL; ValueError says what is wrong (never echoing a password)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"expected a URL like mysql://user:password@host:port (schemes: {', '.join(SCHEMES)})")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError("the port is not a number") from None
    query = parse_qs(parts.query)
    unix_socket = query.get("unix_socket", [None])[0]
    if not parts.hostname and not unix_socket:
        raise ValueError("no host: expected mysql://user:password@host:port or ?unix_socket=/path")
    if not parts.username:
        raise ValueError("no user: expected mysql://user:password@host:port")
    return ServerAddress(
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        host=parts.hostname or "localhost",
        port=port,
        unix_socket=unix_socket,
    )


def _connect(address: ServerAddress, **overrides):
    import pymysql

    kwargs = {**address.connect_kwargs(), "charset": "utf8mb4", "connect_timeout": 10, "autocommit": True}
    kwargs.update(overrides)
    try:
        return pymysql.connect(**kwargs)
    except pymysql.err.MySQLError as exc:
        raise SqlBackendError(f"cannot connect to {address.redacted} as '{kwargs['user']}': {_message(exc)}") from None


def _message(exc) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return f"{args[0]}: {args[1]}"
    return str(exc)


def _close_quietly(conn) -> None:
    import pymysql

    with contextlib.suppress(pymysql.err.Error, OSError):  # already gone
        conn.close()


def _code(exc) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class MySQLSession:
    def __init__(self, backend: MySQLBackend, tables: tuple[Table, ...]):
        self.backend = backend
        self.database = "amb_" + secrets.token_hex(8)
        self._password = secrets.token_hex(16)
        self._closed = False
        backend.admin_execute(
            f"CREATE DATABASE {quote_identifier(self.database)} CHARACTER SET utf8mb4 COLLATE {backend.collation}",
            f"CREATE USER '{self.database}'@'%' IDENTIFIED BY '{self._password}' WITH MAX_USER_CONNECTIONS 4",
            f"GRANT ALL PRIVILEGES ON {quote_identifier(self.database)}.* TO '{self.database}'@'%'",
        )
        try:
            for table in tables:
                backend.load_table(self.database, table)
            self.conn = self._agent_connection()
        except BaseException:
            self.close()
            raise

    def _agent_connection(self):
        b = self.backend
        conn = _connect(
            b.address,
            user=self.database,
            password=self._password,
            database=self.database,
            autocommit=False,
            read_timeout=b.statement_timeout_s + 10,
            write_timeout=30,
        )
        with conn.cursor() as cursor:
            cursor.execute(f"SET SESSION sql_mode = '', SESSION group_concat_max_len = {GROUP_CONCAT_MAX_LEN}")
            if b.is_mariadb:
                cursor.execute(f"SET SESSION max_statement_time = {b.statement_timeout_s:g}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {int(b.statement_timeout_s * 1000)}")
        return conn

    def observe(self, statement: str) -> str:
        """The original's observation, read row by row from an unbuffered cursor. Once it is determined the
        remaining rows are still read, one at a time, and dropped, so the statement runs to its end or to the
        server's timeout, as in the original (the driver's own drain on close would hide that timeout)."""
        import pymysql

        built = Observation(OUTPUT_LIMIT)

        def consume(cursor) -> None:
            for row in iter(cursor.fetchone, None):
                if not built.complete:
                    built.add(row)

        self._run(statement, consume, pymysql.cursors.SSCursor)
        return built.text()

    def execute(self, statement: str) -> list[tuple]:
        rows: list[tuple] = []
        self._run(statement, lambda cursor: rows.extend(tuple(r) for r in cursor.fetchall()))
        return rows

    def _run(self, statement: str, consume, cursor_class=None) -> None:
        import pymysql

        try:
            with self.conn.cursor(cursor_class) as cursor:
                cursor.execute(statement)
                if cursor.description is not None:
                    consume(cursor)
            self.conn.commit()
        except pymysql.err.MySQLError as exc:
            code = _code(exc)
            if code in _CONNECTION_LOST:  # the read-timeout backstop fired, or the server dropped us
                self.backend.kill_user_queries(self.database)
                self.conn = self._agent_connection()
                raise SqlTimeout(f"statement cut off after {self.backend.statement_timeout_s:g} s") from None
            self._rollback()
            if code in _TIMEOUT_CODES:
                raise SqlTimeout(f"statement cut off after {self.backend.statement_timeout_s:g} s") from None
            raise SqlError(_message(exc)) from None

    def _rollback(self) -> None:
        try:
            self.conn.rollback()
        except Exception:  # noqa: BLE001 (a broken connection is replaced on the next statement)
            self.conn = self._agent_connection()

    def table_hash(self, table: str, columns: tuple[str, ...]) -> str:
        rows = self.execute(hash_query(table, columns))
        value = rows[0][0] if rows else None
        return "None" if value is None else str(value)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        conn = getattr(self, "conn", None)
        if conn is not None:
            _close_quietly(conn)
        self.backend.admin_execute(
            f"DROP DATABASE IF EXISTS {quote_identifier(self.database)}",
            f"DROP USER IF EXISTS '{self.database}'@'%'",
        )


class MySQLBackend:
    def __init__(self, url: str, statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S):
        try:
            self.address = parse_url(url)
        except ValueError as exc:
            raise SqlBackendError(f"--amb-db-url: {exc}") from None
        self.statement_timeout_s = statement_timeout_s
        self._lock = threading.Lock()
        self._admin = _connect(self.address)
        version = self._admin_query("SELECT VERSION()")[0][0]
        self.is_mariadb = "mariadb" in version.lower()
        self.collation = "utf8mb4_general_ci" if self.is_mariadb else "utf8mb4_0900_ai_ci"
        self.name = f"{self.address.redacted} ({'MariaDB' if self.is_mariadb else 'MySQL'} {version.split('-')[0]})"

    def _admin_query(self, sql: str, args=None, many: bool = False) -> list[tuple]:
        import pymysql

        with self._lock:
            try:
                with self._admin.cursor() as cursor:
                    if many:
                        cursor.executemany(sql, args)
                        return []
                    cursor.execute(sql, args)
                    return list(cursor.fetchall())
            except pymysql.err.MySQLError as exc:
                hint = (
                    ". The user in --amb-db-url needs CREATE, DROP, INSERT, CREATE USER and GRANT OPTION privileges"
                    if _code(exc) in _PRIVILEGE_CODES
                    else ""
                )
                statement = sql.split(" IDENTIFIED")[0][:120]
                raise SqlBackendError(
                    f"{self.address.redacted}: the administrator could not run '{statement}': {_message(exc)}{hint}"
                ) from None

    def admin_execute(self, *statements: str) -> None:
        for sql in statements:
            self._admin_query(sql)

    def load_table(self, database: str, table: Table) -> None:
        name = f"{quote_identifier(database)}.{quote_identifier(table.name)}"
        columns = ", ".join(f"{quote_identifier(c)} TEXT" for c in table.columns)
        self.admin_execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        if table.rows:
            marks = ", ".join(["%s"] * len(table.columns))
            insert = f"INSERT INTO {name.replace('%', '%%')} VALUES ({marks})"
            self._admin_query(insert, [list(r) for r in table.rows], many=True)

    def kill_user_queries(self, user: str) -> None:
        for (thread_id,) in self._admin_query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s AND COMMAND = 'Query'", (user,)
        ):
            try:
                self._admin_query(f"KILL QUERY {int(thread_id)}")
            except SqlBackendError:
                pass  # it finished meanwhile

    def open(self, tables: tuple[Table, ...]) -> MySQLSession:
        return MySQLSession(self, tables)

    def close(self) -> None:
        with self._lock:
            _close_quietly(self._admin)
