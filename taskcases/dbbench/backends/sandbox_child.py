"""The SQLite sandbox process: runs agent SQL on behalf of the pytest process (``sandbox.py``).

Started as ``python -I -S -c <bootstrap> <repo root> <limits as JSON>``: no site-packages, no
environment, and none of the package ``__init__`` modules (the bootstrap registers empty packages), so
it imports only the standard library, the SQLite engine (``sqlite.py``), the MySQL dialect, the
observation builder and the scoring constants. Before it reads a request it limits itself
(``resource.setrlimit``): address space (RLIMIT_AS), no core files, no file writes (RLIMIT_FSIZE 0), few
descriptors, no new processes; before every request it sets its CPU limit (RLIMIT_CPU) to the CPU it has
used plus that request's budget, so a runaway statement dies by SIGXCPU even if the parent is gone.
SIGINT is ignored (Ctrl-C is the parent's to handle); end of file on stdin ends the process, and on Linux
the parent's death kills it (PR_SET_PDEATHSIG).

Requests and replies are frames (``wire.py``) on stdin/stdout, one reply per request:
``open`` (a sample's tables), ``observe`` / ``execute`` (one statement), ``hash`` (a table's hash),
``close``, ``stats``. A reply is ``{"ok": true, ...}`` or ``{"error": "sql"|"timeout"|"internal",
"message": ...}``; ``wrote`` says whether the statement may have changed the database (the parent keeps
those statements to rebuild the database if it has to kill this process).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import sys
import traceback
from collections import namedtuple

from taskcases.dbbench.backends import wire
from taskcases.dbbench.backends.base import SqlError, SqlTimeout
from taskcases.dbbench.backends.sqlite import SQLiteSession

STDIN, STDOUT = 0, 1
MAX_MESSAGE_CHARS = 2000
MAX_EXECUTE_BYTES = 32 * 1024 * 1024  # rows returned by ``execute`` (trusted SQL), as JSON
_Table = namedtuple("_Table", "name columns rows")


def bootstrap_source() -> str:
    """The ``-c`` program: empty packages for taskcases.dbbench.backends (no __init__ runs), then main()."""
    return (
        "import sys, types\n"
        "root = sys.argv[1]\n"
        "for name in ('taskcases', 'taskcases.dbbench', 'taskcases.dbbench.backends'):\n"
        "    package = types.ModuleType(name)\n"
        "    package.__path__ = [root + '/' + name.replace('.', '/')]\n"
        "    sys.modules[name] = package\n"
        "from taskcases.dbbench.backends.sandbox_child import main\n"
        "sys.exit(main(sys.argv[2]))\n"
    )


def die_with_parent(parent_pid: int) -> None:
    """Linux: SIGKILL when the parent dies (a killed pytest worker leaves no statement running); 0 = the
    parent started this process from a thread other than its main one, whose end would kill it."""
    if not parent_pid:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: end of file on stdin and RLIMIT_CPU still end the process
        pass
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(0)


def limit_self(limits: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(int(limits.get("parent_pid", 0)))
    memory = int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    for name, value in (("RLIMIT_CORE", 0), ("RLIMIT_FSIZE", 0), ("RLIMIT_NOFILE", 32), ("RLIMIT_NPROC", 0)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError, AttributeError):  # not lowerable here (e.g. NPROC as root): the rest holds
            pass


def limit_cpu(budget_s: float) -> None:
    """Die by SIGXCPU once this request has used ``budget_s`` CPU seconds (rounded up)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + budget_s) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def memory_kb() -> dict:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with open("/proc/self/statm") as statm:
            rss_kb = int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        rss_kb = usage.ru_maxrss
    return {"rss_kb": rss_kb, "maxrss_kb": usage.ru_maxrss}


def handle(sessions: dict, request: dict) -> dict:
    op, db = request.get("op"), request.get("db")
    try:
        limit_cpu(float(request.get("cpu_s", 60.0)))
        if op == "open":
            tables = tuple(
                _Table(t["name"], tuple(t["columns"]), tuple(map(tuple, t["rows"]))) for t in request["tables"]
            )
            old = sessions.pop(db, None)
            if old is not None:
                old.close()
            sessions[db] = SQLiteSession(tables, float(request["timeout_s"]))
            return {"ok": True}
        if op == "close":
            session = sessions.pop(db, None)
            if session is not None:
                session.close()
            return {"ok": True, **memory_kb()}
        if op == "stats":
            return {"ok": True, **memory_kb()}
        session = sessions[db]
        if op == "observe":
            text = session.observe(request["sql"], int(request["limit"]))
            return {"ok": True, "text": text, "wrote": session.wrote}
        if op == "execute":
            rows = [[wire.encode_value(v) for v in row] for row in session.execute(request["sql"])]
            reply = {"ok": True, "rows": rows, "wrote": session.wrote}
            if len(json.dumps(reply)) > MAX_EXECUTE_BYTES:
                return {
                    "error": "sql",
                    "message": f"result too large for the SQL sandbox (over {MAX_EXECUTE_BYTES} bytes)",
                }
            return reply
        if op == "hash":
            return {"ok": True, "hash": session.table_hash(request["table"], tuple(request["columns"]))}
        return {"error": "internal", "message": f"unknown request {op!r}"}
    except SqlTimeout as exc:
        return {"error": "timeout", "message": str(exc)}
    except SqlError as exc:
        return {"error": "sql", "message": str(exc)[:MAX_MESSAGE_CHARS]}
    except MemoryError:
        return {"error": "sql", "message": "out of memory (the SQL sandbox's memory is limited)"}
    except RecursionError:
        return {"error": "sql", "message": "statement too deeply nested"}
    except Exception:  # noqa: BLE001 (a bug here is reported to the parent, which decides)
        return {"error": "internal", "message": traceback.format_exc()[-MAX_MESSAGE_CHARS:]}


def main(limits_json: str) -> int:
    limit_self(json.loads(limits_json))
    wire.write_frame(STDOUT, {"ready": True, "pid": os.getpid(), "sqlite": sqlite3.sqlite_version})
    sessions: dict = {}
    while True:
        try:
            request = wire.read_frame(STDIN)
        except (ValueError, MemoryError):
            return 2  # not our parent speaking: stop
        if request is None:
            return 0
        try:
            wire.write_frame(STDOUT, handle(sessions, request))
        except BrokenPipeError:
            return 0


if __name__ == "__main__":  # pragma: no cover (started through bootstrap_source)
    sys.exit(main(sys.argv[1]))
