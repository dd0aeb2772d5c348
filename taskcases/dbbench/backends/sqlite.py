"""The embedded default's database engine: one in-memory SQLite database per sample, speaking enough MySQL.

This module runs agent SQL, so it is only ever used inside the sandbox child process (``sandbox.py``
starts it, ``sandbox_child.py`` drives it); it imports nothing outside the standard library and this
package. Hardening inside the engine: the database lives in memory and disappears on close; an
authorizer refuses ATTACH, DETACH, VACUUM INTO and PRAGMA (so agent SQL cannot touch a file), virtual
tables (fts3/4/5, rtree: the fts3 tokenizer pointer is how SQL crashes SQLite) and the functions that
hand out pointers or load code (``DENIED_FUNCTIONS``); a page cap bounds the database, a heap limit
SQLite's memory, a length limit any one value; temporary tables and sorts stay in memory; a progress
handler cuts off a statement that runs past the timeout (statements stuck in a Python function, like a
catastrophic REGEXP, are the parent's to kill). MySQL compatibility: see ``dialect.py`` for the syntax,
and below for the functions (md5, concat, concat_ws, if, locate, ...) and the case- and
accent-insensitive collation every column gets, like MySQL 8's utf8mb4_0900_ai_ci.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

from taskcases.dbbench.backends.base import DEFAULT_STATEMENT_TIMEOUT_S, SqlError, SqlTimeout
from taskcases.dbbench.backends.dialect import Special, special_statement, to_sqlite
from taskcases.dbbench.backends.observation import OUTPUT_LIMIT, Observation
from taskcases.dbbench.scoring import GROUP_CONCAT_MAX_LEN

if TYPE_CHECKING:
    from taskcases.dbbench.loader import Table

COLLATION = "amb_ai_ci"
MAX_PAGES = 16384  # 64 MiB at the default 4 KiB page size
MAX_VALUE_BYTES = 16 * 1024 * 1024  # SQLITE_LIMIT_LENGTH: one string or blob (MariaDB's max_allowed_packet)
MAX_SQL_BYTES = 1024 * 1024  # SQLITE_LIMIT_SQL_LENGTH: one statement
HEAP_LIMIT_BYTES = 512 * 1024 * 1024  # PRAGMA hard_heap_limit: all of SQLite's memory in the process
_DENIED_ACTIONS = {
    sqlite3.SQLITE_ATTACH,
    sqlite3.SQLITE_DETACH,
    sqlite3.SQLITE_PRAGMA,
    sqlite3.SQLITE_CREATE_VTABLE,
    sqlite3.SQLITE_DROP_VTABLE,
}
# Functions that return a pointer (fts3_tokenizer: with a second argument it installs one, and the next
# fts3 table calls it), load code (load_extension), or parse arbitrary blobs as internal structures (the
# rtree debugging functions). MySQL has none of them.
DENIED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension", "rtreenode", "rtreedepth", "rtreecheck", "fts5"})
# Actions of a statement that only reads; any other action means the statement may change the database.
_READ_ONLY_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_FOLD_CACHED_CHARS = 256


def fold(text: str) -> str:
    """Case- and accent-insensitive comparison key (short keys cached, long values never)."""
    return _fold_cached(text) if len(text) <= _FOLD_CACHED_CHARS else _fold(text)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_fold_cached = lru_cache(maxsize=65536)(_fold)


def _collate(a: str, b: str) -> int:
    fa, fb = fold(a), fold(b)
    return (fa > fb) - (fa < fb)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_hash_input(values) -> str:
    """MySQL's CONCAT_WS(',', ...): NULLs skipped."""
    return ",".join(_mysql_text(v) for v in values if v is not None)


def _mysql_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _md5(value):
    return None if value is None else hashlib.md5(_mysql_text(value).encode("utf-8")).hexdigest()


def _concat(*values):
    return None if any(v is None for v in values) else "".join(_mysql_text(v) for v in values)


def _concat_ws(separator, *values):
    return None if separator is None else _mysql_text(separator).join(_mysql_text(v) for v in values if v is not None)


def _like(pattern, value, escape=None):
    if pattern is None or value is None:
        return None
    pattern, regex, i = fold(_mysql_text(pattern)), [], 0
    while i < len(pattern):
        char = pattern[i]
        if escape and char == escape and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.fullmatch("".join(regex), fold(_mysql_text(value)), re.DOTALL) is not None


def _regexp(pattern, value):
    if pattern is None or value is None:
        return None
    return re.search(str(pattern), _mysql_text(value), re.IGNORECASE) is not None


def _locate(needle, haystack, start=1):
    if needle is None or haystack is None:
        return None
    return fold(str(haystack)).find(fold(str(needle)), max(int(start) - 1, 0)) + 1


FUNCTIONS = {
    ("md5", 1): _md5,
    ("concat", -1): _concat,
    ("concat_ws", -1): _concat_ws,
    ("if", 3): lambda condition, a, b: a if condition else b,
    ("locate", 2): _locate,
    ("locate", 3): _locate,
    ("left", 2): lambda s, n: None if s is None or n is None else _mysql_text(s)[: max(int(n), 0)],
    ("right", 2): lambda s, n: None if s is None or n is None else (_mysql_text(s)[-int(n) :] if int(n) > 0 else ""),
    ("lcase", 1): lambda s: None if s is None else _mysql_text(s).lower(),
    ("ucase", 1): lambda s: None if s is None else _mysql_text(s).upper(),
    ("char_length", 1): lambda s: None if s is None else len(_mysql_text(s)),
    ("character_length", 1): lambda s: None if s is None else len(_mysql_text(s)),
    ("mid", 3): lambda s, p, n: None if s is None else _mysql_text(s)[int(p) - 1 : int(p) - 1 + int(n)],
    ("like", 2): lambda pattern, value: _like(pattern, value),
    ("like", 3): _like,
    ("regexp", 2): _regexp,
}


class SQLiteSession:
    """One sample's database (inside the sandbox child)."""

    def __init__(self, tables: tuple[Table, ...], timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S):
        self.timeout_s = timeout_s
        self.wrote = False  # whether the last statement may have changed the database
        self._deadline: float | None = None
        self.conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        if hasattr(self.conn, "enable_load_extension"):  # only where Python was built with extension loading
            self.conn.enable_load_extension(False)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
        self.conn.create_collation(COLLATION, _collate)
        for (name, arity), function in FUNCTIONS.items():
            self.conn.create_function(name, arity, function, deterministic=True)
        self.conn.execute(f"PRAGMA max_page_count = {MAX_PAGES}")
        self.conn.execute("PRAGMA temp_store = MEMORY")  # sorts and temporary tables never write files
        self.conn.execute(f"PRAGMA hard_heap_limit = {HEAP_LIMIT_BYTES}")
        for table in tables:
            columns = ", ".join(f"{quote(c)} TEXT COLLATE {COLLATION}" for c in table.columns)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(table.name)} ({columns})")
            if table.rows:
                marks = ", ".join("?" for _ in table.columns)
                self.conn.executemany(f"INSERT INTO {quote(table.name)} VALUES ({marks})", table.rows)
        self.conn.set_authorizer(self._authorize)
        self.conn.set_progress_handler(self._progress, 2000)

    def _authorize(self, action: int, arg1, arg2, database, source) -> int:
        if action in _DENIED_ACTIONS:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_DENY if str(arg2).lower() in DENIED_FUNCTIONS else sqlite3.SQLITE_OK
        if action not in _READ_ONLY_ACTIONS:
            self.wrote = True
        return sqlite3.SQLITE_OK

    def _progress(self) -> int:
        return 1 if self._deadline is not None and time.monotonic() > self._deadline else 0

    def observe(self, statement: str, limit: int = OUTPUT_LIMIT) -> str:
        """The original's observation of the statement's result, built from the rows as they are stepped
        through; once it is determined, the remaining rows are stepped through and dropped unseen, so the
        statement runs to its end or to the timeout as in the original (and as on MySQL)."""
        built = Observation(limit)
        self._run(statement, lambda rows: _feed(built, rows))
        return built.text()

    def execute(self, statement: str) -> list[tuple]:
        return self._run(statement, lambda rows: [tuple(row) for row in rows])

    def _run(self, statement: str, consume):
        self.wrote = False
        special = special_statement(statement)
        if special is not None:
            return consume(iter(self._special(special)))
        sql = to_sqlite(statement)
        if not sql:
            raise SqlError("Query was empty")
        self._deadline = time.monotonic() + self.timeout_s
        cursor = None
        try:
            cursor = self.conn.execute(sql)
            return consume(iter(cursor.fetchone, None))
        except sqlite3.OperationalError as exc:
            if str(exc) == "interrupted":
                raise SqlTimeout(f"statement cut off after {self.timeout_s:g} s") from None
            raise SqlError(str(exc)) from None
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            raise SqlError(str(exc)) from None
        finally:
            self._deadline = None
            if cursor is not None:
                cursor.close()

    def _special(self, special: Special) -> list[tuple]:
        if special.kind == "show_tables":
            return self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
        try:
            cursor = self.conn.execute(f"SELECT * FROM {quote(special.table)} LIMIT 0")
        except sqlite3.Error as exc:
            raise SqlError(str(exc)) from None
        return [(d[0], "text", "YES", "", None, "") for d in cursor.description]

    def table_hash(self, table: str, columns: tuple[str, ...]) -> str:
        fields = ", ".join(quote(c) for c in columns)
        rows = self.conn.execute(f"SELECT {fields} FROM {quote(table)}").fetchall()
        if not rows:
            return "None"
        row_hashes = sorted(hashlib.md5(row_hash_input(r).encode("utf-8")).hexdigest()[:5] for r in rows)
        joined = ",".join(row_hashes)[:GROUP_CONCAT_MAX_LEN]
        return hashlib.md5(joined.encode("utf-8")).hexdigest()

    def close(self) -> None:
        self.conn.close()


def _feed(built: Observation, rows) -> None:
    for row in rows:  # one row at a time: at most one row is ever held
        if not built.complete:
            built.add(row)
