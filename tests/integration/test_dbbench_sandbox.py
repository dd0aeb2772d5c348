"""Hostile SQL through the normal episode loop (run_step, a scripted model): agent SQL runs in the SQLite
sandbox process, never in the pytest process, and whatever it does, the step ends with an observation or
an infrastructure ERROR, and the next statement and the next sample still run.

Before the sandbox: the fts3 tokenizer sequence was a SIGSEGV of the whole session, a catastrophic
REGEXP or LIKE ran far past the statement timeout, and ``zeroblob(900000000)`` or a huge result took
gigabytes of the pytest process's memory."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memories.zero_shot import ZeroShotMemory
from pytest_amb.engine import INFRASTRUCTURE_ERRORS
from pytest_amb.llm.client import UsageLedger
from pytest_amb.llm.oracle import tool_call_turn
from pytest_amb.memory import MemoryDeps
from pytest_amb.plan import SAMPLE, Step
from pytest_amb.runner import ERROR, FAILED, PASSED, run_step
from taskcases.dbbench.backends import sandbox_process
from taskcases.dbbench.backends.sandbox import SandboxLimits, SQLiteBackend
from taskcases.dbbench.loader import load_samples
from taskcases.dbbench.task import TIMED_OUT, DbbenchTask

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 1.0  # the statement timeout in these tests (the original's is 60 s)
MARGIN_S = 1.5  # kill grace (0.5 s) and a loaded machine
REGEXP = "SELECT `Name` FROM `People` WHERE `Note` REGEXP '^(a+)+$'"  # 2^40 steps on 'aaa…a!'
LIKE = "SELECT `Name` FROM `People` WHERE `Note` LIKE '%a%a%a%a%a%a%a%b'"  # ~3000^7/7! on 'aaa…a'
COUNT = "SELECT COUNT(*) FROM `People` WHERE `City` = 'Oslo'"
INSERT = "INSERT INTO `People` VALUES ('Ed', 'Oslo', 'z')"
ROWS = [["Ann", "Oslo", "x"], ["Bo", "Rome", "y"], ["Cy", "Oslo", "a" * 40 + "!"], ["Di", "Rome", "a" * 3000]]


def _records():
    def sample(sample_id, description, label, kind):
        table = {
            "table_name": "People",
            "table_info": {"columns": [{"name": c} for c in ("Name", "City", "Note")], "rows": ROWS},
        }
        return {"id": sample_id, "description": description, "label": label, "type": [kind], "table": table}

    return [
        sample("count", "How many people live in Oslo?", ["2"], "counting"),
        sample("ins", "Add Ed from Oslo with note z.", [INSERT], "INSERT"),
    ]


def hostile_task(directory: Path, timeout_s: float = TIMEOUT_S, limits: SandboxLimits | None = None) -> DbbenchTask:
    path = directory / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _records()))
    return DbbenchTask("dbbench", load_samples(path), SQLiteBackend(timeout_s, limits))


class ScriptedModel:
    """The agent: replays scripted turns (a turn may be a function of the messages, called when it is
    due), and times every environment step (the time between two calls of the model)."""

    def __init__(self, turns):
        self.turns = list(turns)
        self.called_at: list[float] = []

    def chat(self, messages, *, purpose, tools=None, **_):
        self.called_at.append(time.monotonic())
        if not self.turns:
            return {"role": "assistant", "content": ""}
        turn = self.turns.pop(0)
        return turn(messages) if callable(turn) else turn

    @property
    def step_seconds(self) -> list[float]:
        return [b - a for a, b in zip(self.called_at, self.called_at[1:])]


def script(*statements, answers=("done",)):
    """One execute_sql turn per statement (or the callable itself), then the commit."""
    turns = [s if callable(s) else tool_call_turn(i, "execute_sql", {"query": s}) for i, s in enumerate(statements)]
    return [*turns, tool_call_turn(len(turns), "commit_final_answer", {"answers": list(answers)})]


def run(task, sample_id, turns, position=0):
    model = ScriptedModel(turns)
    step = Step("scripted/dbbench", position, "dbbench", SAMPLE, sample_id, "online", True, True)
    result = run_step(step, task=task, memory=ZeroShotMemory(MemoryDeps()), agent_llm=model, ledger=UsageLedger(),
                      provenance={}, infrastructure_errors=INFRASTRUCTURE_ERRORS)  # fmt: skip
    observations = [
        m["content"] for m in result.transcript if m.get("role") == "tool" and m["content"] != "Answer committed."
    ]
    return result, observations, model.step_seconds


@pytest.fixture
def task(tmp_path):
    hostile = hostile_task(tmp_path)
    yield hostile
    hostile.close()


def test_the_fts3_tokenizer_sequence_and_load_extension_are_refused(task):
    result, seen, _ = run(task, "count", script(
        "SELECT fts3_tokenizer('simple')",  # a raw pointer, before
        "SELECT fts3_tokenizer('simple', x'4141414141414141')",  # installs a pointer, before
        "CREATE VIRTUAL TABLE docs USING fts3(tokenize=simple)",  # calls it: SIGSEGV of pytest, before
        "INSERT INTO docs VALUES ('boom')",
        "SELECT load_extension('/tmp/amb-nothing.so')",
        "SELECT rtreenode(2, x'00')",
        "SELECT * FROM sqlite_master WHERE fts3_tokenizer('porter') IS NOT NULL",
        COUNT,
        answers=["2"],
    ))  # fmt: skip
    assert result.status == PASSED, result.error
    assert seen[:2] == ["not authorized to use function: fts3_tokenizer"] * 2
    assert seen[2] == "not authorized"
    assert seen[3] == "no such table: docs"
    assert seen[4] == "not authorized to use function: load_extension"
    assert seen[5] == "not authorized to use function: rtreenode"
    assert seen[6] == "not authorized to use function: fts3_tokenizer"
    assert seen[7] == "[(2,)]"


def test_catastrophic_regexp_and_like_are_killed_at_the_timeout_and_the_episode_goes_on(task):
    """The regex engine never returns to SQLite's progress handler: the sandbox process is killed, rebuilt
    with the changes made so far, and the episode and the next sample go on."""
    result, seen, seconds = run(task, "ins", script(INSERT, REGEXP, COUNT, LIKE, COUNT))
    assert seen == ["[]", TIMED_OUT, "[(3,)]", TIMED_OUT, "[(3,)]"]
    assert max(seconds[1], seconds[3]) < TIMEOUT_S + MARGIN_S, seconds
    assert result.status == PASSED, result.explanation  # the table hash includes the INSERT made before the kill
    assert task.sql.stats["killed_overdue"] == 2
    nxt, seen, _ = run(task, "count", script(COUNT, answers=["2"]), position=1)
    assert nxt.status == PASSED and seen == ["[(2,)]"]


def test_without_a_parent_the_sandbox_dies_by_its_own_cpu_limit(tmp_path):
    """RLIMIT_CPU in the child is the backstop: with a kill grace far too long, SIGXCPU ends the statement."""
    task = hostile_task(tmp_path, timeout_s=0.5, limits=SandboxLimits(kill_grace_s=30.0))
    try:
        result, seen, seconds = run(task, "count", script(REGEXP, COUNT, answers=["2"]))
    finally:
        task.close()
    assert seen == [TIMED_OUT, "[(2,)]"] and result.status == PASSED
    assert seconds[0] < 10.0, seconds  # CPU budget 0.5 + 1 s, rounded up to whole seconds, on a loaded machine


def test_a_crashed_sandbox_is_an_observation_and_the_database_is_rebuilt(task):
    def crash(messages):  # SQLite crashing in the sandbox, as the fts3 tokenizer sequence did in pytest
        os.kill(task.sql.pid, signal.SIGSEGV)
        time.sleep(0.2)
        return tool_call_turn(90, "execute_sql", {"query": COUNT})

    result, seen, _ = run(task, "ins", script(INSERT, crash, COUNT))
    assert seen[0] == "[]"
    assert seen[1].startswith("Lost connection to the SQL sandbox during query: its process was killed by SIGSEGV.")
    assert seen[2] == "[(3,)]"
    assert result.status == PASSED and result.error is None


def test_a_sandbox_that_cannot_start_or_be_rebuilt_is_an_infrastructure_error_and_the_stream_goes_on(task, monkeypatch):
    broken = [sys.executable, "-c", "import sys; sys.exit(3)"]
    monkeypatch.setattr(sandbox_process, "child_command", lambda: broken)
    result, _, _ = run(task, "count", script(COUNT, answers=["2"]))
    assert result.status == ERROR and result.error["kind"] == "infrastructure"
    assert result.error["type"] == "SandboxError"
    assert "the SQL sandbox process did not start: its process exited with status 3" in result.error["message"]
    monkeypatch.undo()

    def break_the_sandbox(messages):  # the next start fails: the database cannot be rebuilt after the kill
        monkeypatch.setattr(sandbox_process, "child_command", lambda: broken)
        return tool_call_turn(91, "execute_sql", {"query": COUNT})

    result, seen, _ = run(task, "ins", script(INSERT, REGEXP, break_the_sandbox), position=1)
    assert seen[:2] == ["[]", TIMED_OUT]
    assert result.status == ERROR and result.error["kind"] == "infrastructure", result.error
    monkeypatch.undo()
    nxt, seen, _ = run(task, "count", script(COUNT, answers=["2"]), position=2)
    assert nxt.status == PASSED and seen == ["[(2,)]"]


def test_huge_values_and_results_are_bounded_observations(task):
    cross = (
        "SELECT a.`Name`, b.`City` FROM " + ", ".join(f"`People` t{i}" for i in range(8)) + ", `People` a, `People` b"
    )
    result, seen, _ = run(task, "count", script(
        "SELECT zeroblob(900000000)",
        "SELECT printf('%.*c', 900000000, 'x')",
        "SELECT randomblob(10000000)",
        "SELECT zeroblob(10000000), 'x'",
        cross,  # 4^10 rows
        COUNT,
        answers=["2"],
    ))  # fmt: skip
    assert seen[0] == "string or blob too big"
    assert seen[1] == TIMED_OUT  # SQLite's printf loops 900M times in C, past the progress handler: killed
    assert len(seen[2]) == len(seen[3]) == 811 and seen[3].startswith("[(b'\\x00\\x00")
    assert seen[4] in (TIMED_OUT,) or (len(seen[4]) == 811 and seen[4].startswith("[('Ann', 'Oslo'), "))
    assert seen[5] == "[(2,)]" and result.status == PASSED


MEMORY_PROBE = """
import json, resource, sys, tempfile
from pathlib import Path
from tests.integration.test_dbbench_sandbox import hostile_task, run, script
statements = sys.argv[1:]
with tempfile.TemporaryDirectory() as tmp:
    task = hostile_task(Path(tmp), timeout_s=10.0)
    run(task, "count", script("SELECT 1", answers=["2"]))  # warm up: the sandbox started, every module loaded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, seen, seconds = run(task, "count", script(*statements, answers=["2"]), position=1)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = task.sql.sandbox_stats()
    task.close()
print(json.dumps({"before_kb": before, "after_kb": after, "seen": [s[:40] for s in seen], "lengths": [len(s) for s in seen],
                  "seconds": seconds, "status": result.status, "sandbox": stats, "error": result.error}))
"""


def test_hostile_results_never_reach_the_pytest_process_memory():
    """Measured in a fresh process: its peak RSS must not grow with the hostile results (before the
    sandbox, zeroblob(900000000) alone took 2.7 GB: the blob and its repr)."""
    cross = "SELECT a.`Note` FROM " + ", ".join(f"`People` t{i}" for i in range(9)) + ", `People` a"  # 4^10 rows
    statements = [
        "SELECT zeroblob(900000000)",
        "SELECT zeroblob(16000000), zeroblob(16000000), zeroblob(16000000), zeroblob(16000000)",
        cross,
        cross + " ORDER BY random()",  # a sort of 3 GB of values: SQLite's heap limit
        "SELECT group_concat(a.`Note`) FROM " + ", ".join(f"`People` t{i}" for i in range(6)) + ", `People` a",
    ]
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, *statements], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["status"] == PASSED, probe
    assert probe["seen"][0] == "string or blob too big"
    assert probe["lengths"][1] == probe["lengths"][2] == 811, probe
    assert (probe["after_kb"] - probe["before_kb"]) < 20 * 1024, probe  # the pytest side: under 20 MiB more
    assert probe["sandbox"]["peak_rss_kb"] < SandboxLimits().memory_mb * 1024, probe
    assert probe["sandbox"]["peak_rss_kb"] > 16_000, probe  # the 64 MB row was built there, not here


@pytest.mark.parametrize("outcome", [PASSED, FAILED])
def test_ordinary_episodes_are_unchanged(task, outcome):
    answers = ["2"] if outcome == PASSED else ["3"]
    result, seen, _ = run(
        task, "count", script(COUNT, "SELECT `Name` FROM `People` WHERE `Note` = 'y'", answers=answers)
    )
    assert seen == ["[(2,)]", "[('Bo',)]"] and result.status == outcome
