"""The embedded default backend: SQLite in a sandbox process, so agent SQL never runs in the pytest process.

Process model: one child process per backend (per pytest process), started on first use, holding every
open sample database (a sample's episode and, while it is scored, its gold-SQL database). The child is a
fresh ``python -I -S`` that imports only the standard library and the engine (``sandbox_child.py``), limits
its own address space, CPU time, files and processes, and speaks JSON frames over its stdin/stdout
(``wire.py``); nothing the child sends is trusted beyond being JSON of the expected shape and size.

Timeouts: the child's progress handler cuts off a statement at the statement timeout (an ordinary
timeout, the child lives on). A statement the child cannot cut off (stuck in a Python function: REGEXP,
LIKE, the MySQL shims) is killed: the parent waits ``statement timeout + kill_grace_s`` for the reply,
then SIGKILLs the child; the child's own RLIMIT_CPU is the backstop if the parent is gone. Either way the
agent sees the original's ``Error: SQL execution timed out.``

A killed or crashed child loses every database it held. Each session keeps the statements that
changed its database (those that succeeded and were not read-only), and before its next request starts a
new child, reloads the sample's tables and replays them, so the episode goes on where it was (rows
from ``random()`` or the clock may differ). A crash during an agent's statement is that statement's
observation ("Lost connection to the SQL sandbox during query ..."); a child that cannot be started or
a database that cannot be rebuilt, or a failure while scoring, is a ``SandboxError`` (an ``OSError``:
the step is an infrastructure ERROR, the stream goes on).

The child process itself is ``sandbox_process.py``; observations are built in the child, row by row, to the original's 800 characters (``observation.py``):
only that text crosses the pipe.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import weakref
from typing import TYPE_CHECKING

from taskcases.dbbench.backends import wire
from taskcases.dbbench.backends.base import DEFAULT_STATEMENT_TIMEOUT_S, SqlError, SqlTimeout
from taskcases.dbbench.backends.observation import OUTPUT_LIMIT, TRUNCATED
from taskcases.dbbench.backends.sandbox_child import MAX_EXECUTE_BYTES
from taskcases.dbbench.backends.sandbox_process import (
    MAX_REPLY_BYTES,
    ChildLost,
    SandboxError,
    SandboxLimits,
    SandboxProcess,
    kill_all,
)

if TYPE_CHECKING:
    from taskcases.dbbench.loader import Table

SCORING_S = 60.0  # a table hash, loading a sample's tables


class SQLiteBackend:
    """The embedded default: every sample's database in one sandbox process (see the module text)."""

    def __init__(self, statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S, limits: SandboxLimits | None = None):
        self.statement_timeout_s = statement_timeout_s
        self.limits = limits or SandboxLimits()
        self.name = f"sqlite {sqlite3.sqlite_version} (sandbox process)"
        self.generation = 0  # which child: a session whose generation differs rebuilds its database
        self.stats = {"started": 0, "killed_overdue": 0, "lost": 0, "peak_rss_kb": 0}
        self._children: list[SandboxProcess] = []  # the current child, if any (a list, for the finalizer)
        self._open: set[int] = set()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._finalizer = weakref.finalize(self, kill_all, self._children)

    # -- the child ---------------------------------------------------------------------------------------
    def _child(self) -> SandboxProcess:
        if self._children and self._children[0].alive:
            return self._children[0]
        self._drop()
        child = SandboxProcess(self.limits)
        self._children.append(child)
        self.stats["started"] += 1
        return child

    def _drop(self) -> None:
        """Forget the current child (killing it if alive): every open database must be rebuilt."""
        for child in self._children:
            child.kill()
            self.stats["peak_rss_kb"] = max(self.stats["peak_rss_kb"], child.peak_rss_kb)
        if self._children:
            self._children.clear()
            self.generation += 1

    def call(self, request: dict, wait_s: float, max_reply: int = MAX_REPLY_BYTES) -> tuple[dict, int]:
        """The child's reply and the generation it came from; ChildLost when the child was lost meanwhile."""
        with self._lock:
            child = self._child()
            generation = self.generation
            try:
                return child.call(request, wait_s, max_reply), generation
            except ChildLost as lost:
                self.stats["killed_overdue" if lost.overdue else "lost"] += 1
                self._drop()
                raise
            except BaseException:  # e.g. Ctrl-C while waiting: no reply may arrive later for another request
                self._drop()
                raise

    def discard(self) -> None:
        """Kill the child (it misbehaved): every open database is rebuilt in a new one."""
        with self._lock:
            self.stats["lost"] += 1
            self._drop()

    @property
    def pid(self) -> int | None:
        """The sandbox process's id (None before the first sample or after a loss)."""
        return self._children[0].pid if self._children and self._children[0].alive else None

    def sandbox_stats(self) -> dict:
        """Children started, children killed as overdue or lost, and the largest peak RSS (KiB) of any."""
        with self._lock:
            if self.pid is not None:
                try:
                    reply, _ = self.call({"op": "stats"}, self.limits.startup_s)
                    self.stats["peak_rss_kb"] = max(self.stats["peak_rss_kb"], int(reply.get("maxrss_kb", 0)))
                except (ChildLost, ValueError, TypeError):
                    pass
            return dict(self.stats)

    # -- sessions ------------------------------------------------------------------------------------------
    def open(self, tables: tuple[Table, ...]) -> SandboxSession:
        return SandboxSession(self, tables)

    def _opened(self, db: int) -> None:
        self._open.add(db)

    def _closed(self, db: int, rss_kb: int) -> None:
        self._open.discard(db)
        if not self._open and rss_kb > self.limits.recycle_rss_mb * 1024:
            with self._lock:
                self._drop()  # a child grown large (a hostile sample) does not carry its heap into the next

    def close(self) -> None:
        with self._lock:
            self._drop()


class SandboxSession:
    """One sample's database in the sandbox process."""

    def __init__(self, backend: SQLiteBackend, tables: tuple[Table, ...]):
        self.backend = backend
        self.tables = tables
        self.db = next(backend._ids)
        self.writes: list[str] = []  # statements that may have changed the database, to rebuild it
        self.generation: int | None = None
        self._closed = False
        self._build()
        backend._opened(self.db)

    @property
    def timeout_s(self) -> float:
        return self.backend.statement_timeout_s

    def _build(self) -> None:
        """Load the tables into a database in the current child, and replay the changes made so far."""
        request = {
            "op": "open",
            "db": self.db,
            "timeout_s": self.timeout_s,
            "tables": [
                {"name": t.name, "columns": list(t.columns), "rows": [list(r) for r in t.rows]} for t in self.tables
            ],
            "cpu_s": SCORING_S,
        }
        for attempt in range(2):  # a child lost meanwhile (another session's statement) is replaced once
            try:
                reply, generation = self.backend.call(request, SCORING_S)
                self._check(reply, "load the sample's tables")
                for n, statement in enumerate(self.writes, 1):
                    reply, again = self._call("observe", statement, self.timeout_s + self.backend.limits.kill_grace_s)
                    if again != generation:
                        raise ChildLost("it was replaced meanwhile")
                    self._check(reply, f"replay statement {n} of {len(self.writes)} ({statement[:200]!r})")
                self.generation = generation
                return
            except ChildLost as lost:
                if attempt:
                    raise SandboxError(f"the SQL sandbox could not rebuild the sample's database: {lost.how}") from None

    def _check(self, reply: dict, doing: str) -> None:
        if not reply.get("ok"):
            raise SandboxError(
                f"the SQL sandbox could not {doing}: {reply.get('error')}: {str(reply.get('message'))[:500]}"
            )

    def _call(self, op: str, statement: str, wait_s: float, max_reply: int = MAX_REPLY_BYTES) -> tuple[dict, int]:
        request = {"op": op, "db": self.db, "sql": statement, "limit": OUTPUT_LIMIT, "cpu_s": self.timeout_s + 1}
        return self.backend.call(request, wait_s, max_reply)

    def _ready(self) -> None:
        if self._closed:
            raise SqlError("the sample's database is closed")
        if self.generation != self.backend.generation or self.backend.pid is None:
            self._build()

    def _statement(self, op: str, statement: str, max_reply: int = MAX_REPLY_BYTES) -> dict:
        self._ready()
        try:
            reply, _ = self._call(op, statement, self.timeout_s + self.backend.limits.kill_grace_s, max_reply)
        except ChildLost as lost:
            if lost.overdue or lost.cpu_limit:
                raise SqlTimeout(f"statement killed after {self.timeout_s:g} s") from None
            raise SqlError(
                f"Lost connection to the SQL sandbox during query: {lost.how}. The database is rebuilt as it was "
                "before this statement."
            ) from None
        error = reply.get("error")
        if error == "timeout":
            raise SqlTimeout(str(reply.get("message", "")))
        if error == "sql":
            raise SqlError(str(reply.get("message", ""))[:2000])
        if not reply.get("ok"):
            raise RuntimeError(f"SQL sandbox internal error: {str(reply.get('message'))[:2000]}")
        if reply.get("wrote"):
            self.writes.append(statement)
        return reply

    def observe(self, statement: str) -> str:
        text = self._statement("observe", statement).get("text")
        if not isinstance(text, str) or len(text) > OUTPUT_LIMIT + len(TRUNCATED):
            raise self._malformed()
        return text

    def execute(self, statement: str) -> list[tuple]:
        reply = self._statement("execute", statement, MAX_EXECUTE_BYTES + MAX_REPLY_BYTES)
        try:
            return [tuple(wire.decode_value(v) for v in row) for row in reply["rows"]]
        except (KeyError, TypeError, ValueError):
            raise self._malformed() from None

    def _malformed(self) -> SqlError:
        """A reply of the wrong shape: the child is not trusted any more (killed, the database rebuilt)."""
        self.backend.discard()
        return SqlError("Lost connection to the SQL sandbox during query: it sent a malformed reply.")

    def table_hash(self, table: str, columns: tuple[str, ...]) -> str:
        self._ready()
        request = {"op": "hash", "db": self.db, "table": table, "columns": list(columns), "cpu_s": SCORING_S}
        try:
            reply, _ = self.backend.call(request, max(SCORING_S, self.timeout_s) + self.backend.limits.kill_grace_s)
        except ChildLost as lost:
            raise SandboxError(f"the SQL sandbox was lost while hashing table '{table}': {lost.how}") from None
        if not reply.get("ok") or not isinstance(reply.get("hash"), str):
            raise SandboxError(f"the SQL sandbox could not hash table '{table}': {str(reply.get('message'))[:500]}")
        return reply["hash"]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        rss_kb = 0
        if self.generation == self.backend.generation and self.backend.pid is not None:
            try:
                reply, _ = self.backend.call({"op": "close", "db": self.db, "cpu_s": SCORING_S}, SCORING_S)
                rss_kb = int(reply.get("rss_kb") or 0)
            except (ChildLost, ValueError, TypeError):
                pass
        self.backend._closed(self.db, rss_kb)
