"""dbbench observations built while fetching (exactly the original's cut ``str(rows)``, never more than it
needs), and the SQLite sandbox's wire format and hostile-reply handling."""

import itertools
import json
import random
import sys
import time
import tracemalloc

import pytest

from taskcases.dbbench.backends import sandbox_process, wire
from taskcases.dbbench.backends.base import SqlError
from taskcases.dbbench.backends.observation import OUTPUT_LIMIT, Observation, bounded_repr, observation
from taskcases.dbbench.backends.sandbox import SandboxError, SQLiteBackend
from taskcases.dbbench.loader import Table

ALPHABET = ["a", "'", '"', "\\", "\n", "é", "\x00", "\U0001f600", "b", ","]


def original(rows, limit=OUTPUT_LIMIT):
    text = str(rows)
    return text[:limit] + "[TRUNCATED]" if len(text) > limit else text


def test_bounded_repr_is_a_prefix_of_repr_longer_than_its_budget():
    rng = random.Random(14)
    for _ in range(20000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))
        value = text if rng.random() < 0.5 else text.encode("utf-8")
        budget = rng.randint(0, 20)
        bounded = bounded_repr(value, budget)
        assert repr(value).startswith(bounded), (value, budget)
        assert bounded == repr(value) if len(value) <= budget else len(bounded) > budget


def test_observations_equal_the_original_cut_of_str_rows():
    rng = random.Random(2)
    for _ in range(20000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))
        pool = [None, 0, -7, 2.5, 1e300, text, text.encode(), "x" * rng.randint(0, 9), b""]
        rows = [tuple(rng.choice(pool) for _ in range(rng.randint(0, 3))) for _ in range(rng.randint(0, 7))]
        limit = rng.randint(0, 60)
        assert observation(rows, limit) == original(rows, limit), (rows, limit)
    assert observation([]) == "[]" and observation([(1,)]) == "[(1,)]" and observation([()]) == "[()]"


def test_only_the_rows_the_observation_needs_are_read():
    endless = ((i, "name") for i in itertools.count())
    text = observation(endless)
    assert len(text) == OUTPUT_LIMIT + len("[TRUNCATED]")
    assert next(endless)[0] < 100  # ~50 rows were consumed, of infinitely many


def test_a_huge_value_contributes_only_the_characters_shown():
    huge = "a'" * 50_000_000  # 100 MB
    tracemalloc.start()
    try:
        started = time.perf_counter()
        text = observation([(huge, b"\x00" * 10)])
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text == original([(huge[:2000],)])[:OUTPUT_LIMIT] + "[TRUNCATED]"
    assert peak < 100_000 and elapsed < 1.0, (peak, elapsed)
    built = Observation(10)
    assert built.add(("x" * 100,)) and built.complete


def test_the_wire_carries_json_and_bytes_only():
    frame = wire.encode({"rows": [[wire.encode_value(b"\x00\xff"), "é", None, 1.5]]})
    size = int.from_bytes(frame[: wire.HEADER_BYTES], "big")
    assert size == len(frame) - wire.HEADER_BYTES
    (row,) = json.loads(frame[wire.HEADER_BYTES :])["rows"]
    assert [wire.decode_value(v) for v in row] == [b"\x00\xff", "é", None, 1.5]


FAKE_CHILD = r"""
import json, os, sys
def send(obj):
    body = json.dumps(obj).encode()
    os.write(1, len(body).to_bytes(8, "big") + body)
def receive():
    size = int.from_bytes(os.read(0, 8), "big")
    body = b""
    while len(body) < size:
        body += os.read(0, size - len(body))
    return json.loads(body)
send({"ready": True})
while True:
    request = receive()
    if request["op"] == "open":
        send({"ok": True})
    elif MODE == "huge":
        os.write(1, (1 << 40).to_bytes(8, "big"))  # announces a terabyte
    elif MODE == "junk":
        os.write(1, (5).to_bytes(8, "big") + b"\xff\xfe{[(")
    elif MODE == "long":
        send({"ok": True, "text": "x" * 5000})
"""


@pytest.mark.parametrize("mode, reason", [
    ("huge", "it sent a reply of 1099511627776 bytes (more than 1048576)"),
    ("junk", "it sent a malformed reply"),
    ("long", "it sent a malformed reply"),
])  # fmt: skip
def test_a_misbehaving_sandbox_is_never_trusted(monkeypatch, mode, reason):
    """Whatever a (compromised) sandbox process sends, the parent reads at most a bounded JSON reply."""
    monkeypatch.setattr(sandbox_process, "child_command", lambda: [sys.executable, "-c", f"MODE = {mode!r}\n" + FAKE_CHILD])
    backend = SQLiteBackend(1.0)
    try:
        session = backend.open((Table("t", ("a",), (("1",),)),))
        with pytest.raises(SqlError) as lost:
            session.observe("SELECT 1")
        assert str(lost.value).startswith(f"Lost connection to the SQL sandbox during query: {reason}")
        monkeypatch.setattr(sandbox_process, "child_command", lambda: [sys.executable, "-c", "import sys; sys.exit(0)"])
        with pytest.raises(SandboxError, match="did not start: its process exited with status 0"):
            session.observe("SELECT 1")  # the database cannot be rebuilt: an infrastructure error
        session.close()
    finally:
        backend.close()
    assert backend.pid is None
