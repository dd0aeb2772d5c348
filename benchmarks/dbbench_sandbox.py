"""The SQLite sandbox's cost and bounds (issue 14): per-sample overhead of the sandbox process on the
bundled stream (the oracle through the normal episode loop, against the same engine run in this process),
how long each hostile statement ran, and the peak memory of the sandbox process and of this one.

Usage: python benchmarks/dbbench_sandbox.py [--timeout 2] [--repeat 5]
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memories.zero_shot import ZeroShotMemory
from pytest_amb.llm.client import UsageLedger
from pytest_amb.llm.oracle import OracleAgent
from pytest_amb.memory import MemoryDeps
from pytest_amb.plan import SAMPLE, Step
from pytest_amb.runner import run_step
from taskcases.dbbench.backends.sandbox import SQLiteBackend
from taskcases.dbbench.backends.sqlite import SQLiteSession
from taskcases.dbbench.loader import load_samples
from taskcases.dbbench.task import DbbenchTask
from tests.integration.test_dbbench_sandbox import COUNT, INSERT, LIKE, REGEXP, hostile_task, run, script

BUNDLED = ROOT / "taskcases" / "dbbench" / "data" / "sample.jsonl"


class InProcessBackend:
    """The engine without the sandbox, as before issue 14: for comparison only, never for agent SQL."""

    name = "sqlite (in-process, benchmark only)"

    def open(self, tables):
        return SQLiteSession(tables)

    def close(self):
        pass


def stream_seconds(backend) -> tuple[float, int]:
    task = DbbenchTask("dbbench", load_samples(BUNDLED), backend)
    memory, passed = ZeroShotMemory(MemoryDeps()), 0
    started = time.perf_counter()
    for position, sample_id in enumerate(task.index.sample_ids):
        step = Step("bench/dbbench", position, "dbbench", SAMPLE, sample_id, "online", True, True)
        result = run_step(step, task=task, memory=memory, agent_llm=OracleAgent(task.oracle_replies(sample_id)),
                          ledger=UsageLedger(), provenance={})  # fmt: skip
        passed += result.passed
    elapsed = time.perf_counter() - started
    task.close()
    return elapsed, passed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=2.0, help="statement timeout for the hostile statements")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    n = len(load_samples(BUNDLED))
    inproc = min(stream_seconds(InProcessBackend())[0] for _ in range(options.repeat))
    sandboxed = []
    for _ in range(options.repeat):
        elapsed, passed = stream_seconds(SQLiteBackend())
        sandboxed.append(elapsed)
    print(f"bundled stream, oracle, {n} samples ({passed}/{n} solved in the sandbox): in-process engine {inproc:.3f} s, "
          f"sandbox {min(sandboxed):.3f} s (best of {options.repeat}; first {sandboxed[0]:.3f} s incl. the process start)")  # fmt: skip
    print(f"per-sample overhead of the sandbox process: {(min(sandboxed) - inproc) / n * 1000:.2f} ms")

    cross = "SELECT a.`Note` FROM " + ", ".join(f"`People` t{i}" for i in range(9)) + ", `People` a"
    hostile = [
        ("fts3_tokenizer pointer", "SELECT fts3_tokenizer('simple')"),
        ("fts3_tokenizer install", "SELECT fts3_tokenizer('simple', x'4141414141414141')"),
        ("fts3 table (segfault before)", "CREATE VIRTUAL TABLE docs USING fts3(tokenize=simple)"),
        ("load_extension", "SELECT load_extension('/tmp/amb-nothing.so')"),
        ("REGEXP ^(a+)+$", REGEXP),
        ("LIKE %a%a%a%a%a%a%a%b", LIKE),
        ("printf %.*c 900M", "SELECT printf('%.*c', 900000000, 'x')"),
        ("zeroblob(900000000)", "SELECT zeroblob(900000000)"),
        (
            "4 x zeroblob(16000000)",
            "SELECT zeroblob(16000000), zeroblob(16000000), zeroblob(16000000), zeroblob(16000000)",
        ),
        ("cross join 4^10 rows", cross),
        ("sort of 4^10 rows (~1 GB)", cross + " ORDER BY random()"),
        ("runaway cross join 4^15", "SELECT COUNT(*) FROM " + ", ".join(f"`People` t{i}" for i in range(15))),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        task = hostile_task(Path(tmp), timeout_s=options.timeout)
        run(task, "count", script("SELECT 1", answers=["2"]))  # warm up
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result, seen, seconds = run(task, "ins", script(INSERT, *(sql for _, sql in hostile), COUNT), position=1)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats = task.sql.sandbox_stats()
        task.close()
    print(f"\nhostile statements, statement timeout {options.timeout:g} s (kill grace 0.5 s), one episode:")
    for (label, _), observed, took in zip(hostile, seen[1:], seconds[1:]):
        print(f"  {label:<30} {took:7.3f} s  {observed[:60]!r}")
    print(
        f"  then {COUNT!r}: {seen[-1]!r} (the INSERT made before the kills survived the rebuilds); step {result.status}"
    )
    print(f"longest hostile statement: {max(seconds[1:-1]):.3f} s (timeout {options.timeout:g} s)")
    print(f"sandbox: {stats['started']} processes started, {stats['killed_overdue']} killed at the timeout, "
          f"peak RSS {stats['peak_rss_kb'] / 1024:.0f} MiB (limit 1024 MiB address space, 512 MiB SQLite heap)")  # fmt: skip
    print(f"this process: peak RSS {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB after")


if __name__ == "__main__":
    main()
