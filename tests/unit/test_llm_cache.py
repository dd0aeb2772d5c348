"""The response cache (pytest_amb.llm.cache): its key, what it stores, its files under concurrency and after a
kill, list/prune/clear and the command."""

import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_amb import redaction
from pytest_amb.llm import cache, cache_command
from pytest_amb.llm.cache import CacheMode, CacheRequest, ResponseCache, cache_key

ROOT = Path(__file__).resolve().parents[2]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "execute_sql",
            "description": "Run a statement",
            "parameters": {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]},
        },
    }
]
BASE = CacheRequest(
    base_url="http://alice:s3cret-pass@127.0.0.1:8000/v1",
    model="gpt-4o-mini",
    messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    tools=TOOLS,
    tool_choice="auto",
    params={
        "temperature": 0.0,
        "max_tokens": 64,
        "top_p": 1.0,
        "stop": ["\n"],
        "seed": 7,
        "response_format": {"type": "text"},
    },
    headers={"X-AMB-Purpose": "agent"},
    repeat=0,
)


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in redaction.API_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def completion(content="4", finish_reason="stop", **extra) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
        **extra,
    }


def at(year_day: int) -> datetime:
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=year_day)


# -- the key ------------------------------------------------------------------------------------------------
def test_the_key_is_a_sha256_and_pinned():
    # Pinned: a change of the key material silently turns every user's cache into misses; make it on purpose
    # (and bump cache.FORMAT) or not at all.
    assert cache_key(BASE) == "a8f37eaf5a7ec3b351f3383085c802aecf291796323aa9d9a98dc02f5645edf9"


CHANGES = {
    "base_url host": {"base_url": "http://alice:s3cret-pass@127.0.0.1:8001/v1"},
    "base_url path": {"base_url": "http://alice:s3cret-pass@127.0.0.1:8000/v2"},
    "base_url user": {"base_url": "http://bob:s3cret-pass@127.0.0.1:8000/v1"},
    "model": {"model": "gpt-4o"},
    "message content": {"messages": [BASE.messages[0], {"role": "user", "content": "What is 2+3?"}]},
    "message role": {"messages": [{"role": "user", "content": "You are terse."}, BASE.messages[1]]},
    "one more message": {"messages": [*BASE.messages, {"role": "assistant", "content": "4"}]},
    "message field": {"messages": [BASE.messages[0], {**BASE.messages[1], "name": "u"}]},
    "no tools": {"tools": None},
    "tool description": {"tools": [{"type": "function", "function": {**TOOLS[0]["function"], "description": "x"}}]},
    "tool_choice": {"tool_choice": "required"},
    "tool_choice object": {"tool_choice": {"type": "function", "function": {"name": "execute_sql"}}},
    "temperature": {"params": {**BASE.params, "temperature": 0.7}},
    "max_tokens": {"params": {**BASE.params, "max_tokens": 65}},
    "top_p": {"params": {**BASE.params, "top_p": 0.9}},
    "stop": {"params": {**BASE.params, "stop": ["\n\n"]}},
    "seed": {"params": {**BASE.params, "seed": 8}},
    "response_format": {"params": {**BASE.params, "response_format": {"type": "json_object"}}},
    "a new parameter": {"params": {**BASE.params, "frequency_penalty": 0.5}},
    "a parameter removed": {"params": {k: v for k, v in BASE.params.items() if k != "seed"}},
    "purpose header": {"headers": {"X-AMB-Purpose": "judge"}},
    "operation header": {"headers": {"X-AMB-Purpose": "agent", "X-AMB-Operation": "m.update"}},
    "repeat": {"repeat": 1},
}


def test_every_input_changes_the_key():
    keys = {"base": cache_key(BASE)}
    for name, change in CHANGES.items():
        keys[name] = cache_key(dataclasses.replace(BASE, **change))
    assert len(set(keys.values())) == len(keys), [n for n in keys if list(keys.values()).count(keys[n]) > 1]


def _reordered(value):
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


@pytest.mark.parametrize(
    "same",
    [
        pytest.param(
            {"messages": _reordered(BASE.messages), "tools": _reordered(TOOLS), "params": _reordered(BASE.params)},
            id="dict-order",
        ),
        pytest.param({"base_url": "http://alice:other-pass@127.0.0.1:8000/v1"}, id="url-password"),
        pytest.param({"base_url": "http://alice:s3cret-pass@127.0.0.1:8000/v1/"}, id="trailing-slash"),
        pytest.param({"params": {**BASE.params, "temperature": 0, "top_p": 1}}, id="0-and-0.0"),
        pytest.param({"params": {**BASE.params, "logit_bias": None}}, id="none-is-not-sent"),
        pytest.param({"messages": tuple(BASE.messages), "tools": tuple(TOOLS)}, id="tuples"),
        pytest.param({"headers": {"x-amb-purpose": "agent"}}, id="header-name-case"),
    ],
)
def test_the_key_ignores_what_does_not_reach_the_model(same):
    assert cache_key(dataclasses.replace(BASE, **same)) == cache_key(BASE)


def test_empty_tools_are_no_tools():
    assert cache_key(dataclasses.replace(BASE, tools=[])) == cache_key(dataclasses.replace(BASE, tools=None))


def test_the_key_material_holds_the_redacted_url_only():
    material = json.dumps(cache.key_material(BASE))
    assert "s3cret-pass" not in material and "alice:***@127.0.0.1:8000/v1" in material


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"params": {"model": "x"}}, ValueError, "fields of the request"),
        ({"headers": {"Authorization": "Bearer sk-1"}}, ValueError, "credentials"),
        ({"repeat": -1}, ValueError, "repeat"),
        ({"repeat": True}, ValueError, "repeat"),
        ({"model": ""}, ValueError, "model"),
        ({"base_url": ""}, ValueError, "base URL"),
        ({"params": {"temperature": float("nan")}}, ValueError, "JSON number"),
        ({"messages": [{"role": "user", "content": object()}]}, TypeError, "not JSON"),
        ({"messages": "hello"}, TypeError, "list of message"),
    ],
)
def test_a_request_that_cannot_be_keyed_says_why(change, error, words):
    with pytest.raises(error, match=words):
        cache_key(dataclasses.replace(BASE, **change))


# -- modes --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "mode", "reads", "writes"),
    [("off", CacheMode.OFF, False, False), ("read", CacheMode.READ, True, False),
     ("Write", CacheMode.WRITE, False, True), (" readwrite ", CacheMode.READWRITE, True, True)],
)  # fmt: skip
def test_modes_parse(text, mode, reads, writes):
    parsed = cache.parse_mode(text)
    assert parsed is mode and parsed.reads is reads and parsed.writes is writes


def test_a_bad_mode_names_the_accepted_values():
    with pytest.raises(ValueError, match="cache mode 'on' is not one of: off, read, write, readwrite"):
        cache.parse_mode("on")


def test_each_mode_reads_and_writes_as_named(tmp_path):
    ResponseCache(tmp_path, CacheMode.READWRITE).store(BASE, completion("stored"), "agent")
    for mode, served in ((CacheMode.OFF, None), (CacheMode.WRITE, None), (CacheMode.READ, "stored")):
        found = ResponseCache(tmp_path, mode).lookup(BASE, "agent")
        assert (found and found["choices"][0]["message"]["content"]) == served
    other = dataclasses.replace(BASE, repeat=3)
    assert not ResponseCache(tmp_path, CacheMode.READ).store(other, completion(), "agent")
    assert not ResponseCache(tmp_path, CacheMode.OFF).store(other, completion(), "agent")
    assert ResponseCache(tmp_path, CacheMode.READWRITE).lookup(other, "agent") is None


def test_default_directory_follows_xdg(tmp_path):
    assert cache.default_directory({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "pytest-amb" / "llm"
    home = tmp_path / "home"
    assert cache.default_directory({"HOME": str(home)}) == home / ".cache" / "pytest-amb" / "llm"
    assert cache.default_directory({"XDG_CACHE_HOME": "relative", "HOME": str(home)}) == (
        home / ".cache" / "pytest-amb" / "llm"
    )


# -- what is stored and served ------------------------------------------------------------------------------
def test_a_stored_answer_is_served_whole_and_counted(tmp_path):
    store = ResponseCache(tmp_path, CacheMode.READWRITE, clock=lambda: at(3))
    assert store.lookup(BASE, "agent") is None
    response = completion("4", tool_calls_like=[{"id": "c1", "args": {"a": [1, 2.5]}}])
    assert store.store(BASE, response, "agent")
    assert store.lookup(BASE, "agent") == response
    assert store.lookup(dataclasses.replace(BASE, repeat=1), "judge") is None
    assert store.counters.to_json() == {
        "agent": {"hits": 1, "misses": 1, "stores": 1, "refused": 0},
        "judge": {"hits": 0, "misses": 1, "stores": 0, "refused": 0},
    }
    path = store.path(cache_key(BASE))
    assert path.parent.name == cache_key(BASE)[:2] and path.stat().st_mode & 0o077 == 0
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["written"] == "2025-01-04T00:00:00.000+00:00" and header["model"] == "gpt-4o-mini"
    assert header["purpose"] == "agent" and header["body_bytes"] > 0


@pytest.mark.parametrize(
    ("response", "why"),
    [
        (completion(finish_reason=None), "finished with None"),
        (completion(finish_reason="content_filter"), "content_filter"),
        (completion(finish_reason="abort"), "abort"),
        ({**completion(), "error": {"message": "overloaded"}}, "carries an error"),
        ({"error": {"message": "rate limited", "code": 429}}, "carries an error"),
        ({**completion(), "choices": []}, "no choices"),
        ({**completion(), "choices": [{"index": 0, "finish_reason": "stop"}]}, "no message"),
        ({**completion(), "choices": [{**completion()["choices"][0], "error": {"code": 502}}]}, "carries an error"),
        ({**completion(), "usage": {"cost": float("nan")}}, "not JSON"),
        ("a string", "not a JSON object"),
    ],
)
def test_incomplete_or_failed_answers_are_refused(tmp_path, response, why):
    assert why in cache.unstorable_reason(response)
    store = ResponseCache(tmp_path, CacheMode.READWRITE)
    assert store.store(BASE, response, "judge") is False
    assert store.counters.get("judge", "refused") == 1 and store.counters.get("judge", "stores") == 0
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.parametrize("reason", ["stop", "length", "tool_calls", "function_call"])
def test_complete_finish_reasons_are_stored(reason):
    assert cache.unstorable_reason(completion(finish_reason=reason)) is None


def _stored(tmp_path) -> tuple[ResponseCache, Path]:
    store = ResponseCache(tmp_path, CacheMode.READWRITE)
    store.store(BASE, completion("fine"), "agent")
    return store, store.path(cache_key(BASE))


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_content(data: bytes) -> bytes:
    return data.replace(b'"fine"', b'"FINE"')


def _bad_header(data: bytes) -> bytes:
    return b"{not json\n" + data.split(b"\n", 1)[1]


def _old_format(data: bytes) -> bytes:
    header, body = data.split(b"\n", 1)
    return json.dumps({**json.loads(header), "format": 0}).encode() + b"\n" + body


def _empty(data: bytes) -> bytes:
    return b""


@pytest.mark.parametrize("damage", [_truncate, _flip_content, _bad_header, _old_format, _empty])
def test_a_damaged_entry_is_a_miss_left_in_place_in_read_mode_and_replaced_in_write_mode(tmp_path, damage):
    _, path = _stored(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    reader = ResponseCache(tmp_path, CacheMode.READ)
    assert reader.lookup(BASE, "agent") is None and reader.counters.get("agent", "misses") == 1
    assert path.exists()  # a lookup never deletes (read mode must work on a read-only directory)
    writer = ResponseCache(tmp_path, CacheMode.READWRITE)
    assert writer.lookup(BASE, "agent") is None
    writer.store(BASE, completion("fresh"), "agent")
    assert writer.lookup(BASE, "agent")["choices"][0]["message"]["content"] == "fresh"


def test_an_entry_under_another_key_is_a_miss(tmp_path):
    _, path = _stored(tmp_path)
    other = dataclasses.replace(BASE, model="gpt-4o")
    target = ResponseCache(tmp_path, CacheMode.READ).path(cache_key(other))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes())  # a valid entry, but for BASE
    assert ResponseCache(tmp_path, CacheMode.READ).lookup(other, "agent") is None
    header, body = path.read_bytes().split(b"\n", 1)
    forged = json.dumps({**json.loads(header), "key": cache_key(other)}).encode() + b"\n" + body
    target.write_bytes(forged)  # the header claims the key, the stored request says otherwise
    assert ResponseCache(tmp_path, CacheMode.READ).lookup(other, "agent") is None


def test_a_directory_in_place_of_an_entry_is_a_miss(tmp_path):
    store = ResponseCache(tmp_path, CacheMode.READ)
    store.path(cache_key(BASE)).mkdir(parents=True)
    assert store.lookup(BASE, "agent") is None


# -- several processes, and a kill --------------------------------------------------------------------------
KEYS = 6
ROUNDS = 12


def _request(k: int) -> CacheRequest:
    return dataclasses.replace(BASE, messages=[{"role": "user", "content": f"question {k}"}], repeat=k)


def _answer(k: int, writer: int, round_: int) -> dict:
    # large enough that a write is many system calls: a reader of an unrenamed file would see it in part
    return completion(f"answer {k} from {writer} in {round_} " + "x" * 200_000)


def _valid(k: int, response: dict) -> bool:
    words = response["choices"][0]["message"]["content"].split(" ", 6)
    return words[:2] == ["answer", str(k)] and response == _answer(k, int(words[3]), int(words[5]))


def _writer(directory, writer, barrier, results):
    store, bad = ResponseCache(directory, CacheMode.READWRITE), 0
    barrier.wait()
    for round_ in range(ROUNDS):
        for k in range(KEYS):
            store.store(_request(k), _answer(k, writer, round_), "agent")
            found = store.lookup(_request((k + writer) % KEYS), "agent")
            bad += found is None or not _valid((k + writer) % KEYS, found)
    results.put(("writer", bad, store.counters.to_json()))


def _reader(directory, barrier, writers_done, results):
    store, bad, hits = ResponseCache(directory, CacheMode.READ), 0, 0
    barrier.wait()
    while not writers_done.is_set():
        for k in range(KEYS):
            found = store.lookup(_request(k), "judge")
            hits += found is not None
            bad += found is None or not _valid(k, found)
    results.put(("reader", bad, hits))


def test_processes_sharing_the_directory_always_see_a_whole_entry_while_others_rewrite_it(tmp_path):
    # Every key has an entry before the processes start, so every lookup must be a hit on a whole, valid
    # answer: a reader that met a half-written file would count a miss (the entry's checks reject it).
    filled = ResponseCache(tmp_path, CacheMode.WRITE)
    for k in range(KEYS):
        filled.store(_request(k), _answer(k, 99, 0), "agent")
    context = multiprocessing.get_context("spawn")
    barrier, writers_done, results = context.Barrier(5), context.Event(), context.Queue()
    writers = [context.Process(target=_writer, args=(tmp_path, w, barrier, results)) for w in range(3)]
    readers = [context.Process(target=_reader, args=(tmp_path, barrier, writers_done, results)) for _ in range(2)]
    for process in writers + readers:
        process.start()
    reports = [results.get(timeout=120) for _ in writers]
    writers_done.set()
    reports += [results.get(timeout=120) for _ in readers]
    for process in writers + readers:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert [bad for _, bad, _ in reports] == [0] * 5
    assert all(r[2]["agent"]["stores"] == KEYS * ROUNDS for r in reports if r[0] == "writer")
    assert all(r[2] > 0 for r in reports if r[0] == "reader")  # the readers did look while the writers wrote
    final = ResponseCache(tmp_path, CacheMode.READ)
    assert all(_valid(k, final.lookup(_request(k), "agent")) for k in range(KEYS))
    assert not list(tmp_path.rglob("*.tmp"))
    assert cache_command.list_cache(tmp_path).entries == KEYS


def _killed_while_writing(directory):
    os.fsync = lambda fd: os._exit(9)  # the process dies with the temporary file written, before the rename
    ResponseCache(directory, CacheMode.READWRITE).store(BASE, completion("never served"), "agent")


def test_a_writer_killed_mid_write_leaves_no_entry_only_a_temporary_file_that_prune_removes(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=_killed_while_writing, args=(tmp_path,))
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 9
    (temporary,) = tmp_path.rglob("*.tmp")
    assert ResponseCache(tmp_path, CacheMode.READ).lookup(BASE, "agent") is None
    assert cache_command.list_cache(tmp_path).broken == 0  # young: it may be a write in progress
    old = temporary.stat().st_mtime - cache.TEMP_GRACE_S - 1
    os.utime(temporary, (old, old))
    assert cache_command.list_cache(tmp_path).broken == 1
    removal = cache_command.prune(tmp_path, older_than_days=365)
    assert removal.removed == 1 and not temporary.exists()


# -- list, prune, clear -------------------------------------------------------------------------------------
def _fill(directory, days=(0, 1, 2, 3), models=("gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gpt-4o-mini")):
    paths = []
    for n, (day, model) in enumerate(zip(days, models, strict=True)):
        request = dataclasses.replace(BASE, model=model, repeat=n)
        store = ResponseCache(directory, CacheMode.WRITE, clock=lambda day=day: at(day))
        store.store(request, completion("y" * (100 * (n + 1))), "agent")
        paths.append(store.path(cache_key(request)))
    return paths


def test_list_counts_entries_bytes_dates_and_models(tmp_path):
    paths = _fill(tmp_path)
    (tmp_path / "notes.txt").write_text("not the cache's")
    listing = cache_command.list_cache(tmp_path)
    sizes = [p.stat().st_size for p in paths]
    assert (listing.entries, listing.bytes, listing.oldest, listing.newest) == (4, sum(sizes), at(0), at(3))
    assert listing.per_model == {"gpt-4o": (1, sizes[2]), "gpt-4o-mini": (3, sizes[0] + sizes[1] + sizes[3])}
    assert listing.broken == 0
    assert cache_command.list_cache(tmp_path / "absent").entries == 0


def test_prune_by_age_then_by_size_oldest_first(tmp_path):
    paths = _fill(tmp_path)
    removal = cache_command.prune(tmp_path, older_than_days=1.5, now=at(3))
    assert removal.removed == 2 and [p.exists() for p in paths] == [False, False, True, True]
    keep = paths[3].stat().st_size
    removal = cache_command.prune(tmp_path, max_bytes=keep, now=at(3))
    assert (removal.removed, removal.kept, removal.kept_bytes) == (1, 1, keep)
    assert [p.exists() for p in paths] == [False, False, False, True]


def test_prune_removes_broken_entries(tmp_path):
    paths = _fill(tmp_path)
    paths[1].write_bytes(paths[1].read_bytes()[:-10])
    assert cache_command.list_cache(tmp_path).broken == 1
    removal = cache_command.prune(tmp_path, older_than_days=1000, now=at(3))
    assert removal.removed == 1 and not paths[1].exists() and removal.kept == 3


@pytest.mark.parametrize(("days", "size"), [(-1, None), (float("nan"), None), (None, -5)])
def test_prune_refuses_negative_limits(tmp_path, days, size):
    with pytest.raises(ValueError, match="older-than|max-bytes"):
        cache_command.prune(tmp_path, older_than_days=days, max_bytes=size)


def test_clear_removes_the_cache_files_only(tmp_path):
    paths = _fill(tmp_path)
    (tmp_path / "notes.txt").write_text("keep")
    (paths[0].parent / "mine.txt").write_text("keep")
    removal = cache_command.clear(tmp_path)
    assert removal.removed == 4 and removal.kept == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["notes.txt", f"{paths[0].parent.name}/mine.txt"]
    )
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == [paths[0].parent]  # the others were emptied and removed


def test_counters_merge_across_processes_and_drain():
    one, two = cache.CacheCounters(), cache.CacheCounters()
    one.count("agent", "hits", 3)
    one.count("agent", "misses")
    two.count("judge", "stores")
    two.add(one.to_json())
    assert two.to_json() == {"agent": {"hits": 3, "misses": 1, "stores": 0, "refused": 0},
                             "judge": {"hits": 0, "misses": 0, "stores": 1, "refused": 0}}  # fmt: skip
    assert cache.CacheCounters.hit_rate(two.to_json()["agent"]) == 0.75
    assert cache.CacheCounters.hit_rate(two.to_json()["judge"]) is None
    assert two.drain()["agent"]["hits"] == 3 and two.to_json() == {}
    with pytest.raises(ValueError, match="unknown cache event"):
        one.count("agent", "hit")


# -- the command --------------------------------------------------------------------------------------------
def test_the_command_lists_prunes_and_clears(tmp_path, capsys):
    _fill(tmp_path, days=(0, 0, 0, 0))
    assert cache_command.main(["list", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{tmp_path}: 4 entries, ") and "oldest 2025-01-01 00:00:00 UTC" in out[0]
    assert [line.split()[:2] for line in out[1:]] == [["gpt-4o", "1"], ["gpt-4o-mini", "3"]]
    assert cache_command.main(["prune", "--dir", str(tmp_path), "--older-than", "30"]) == 0
    assert "removed 4 files" in capsys.readouterr().out
    _fill(tmp_path)
    assert cache_command.main(["prune", "--dir", str(tmp_path), "--max-bytes", "1K"]) == 0
    assert cache_command.list_cache(tmp_path).bytes <= 1024
    assert cache_command.main(["clear", "--dir", str(tmp_path)]) == 0
    assert "kept 0 entries" in capsys.readouterr().out and cache_command.list_cache(tmp_path).entries == 0


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], "required"),
        (["drop"], "invalid choice"),
        (["prune"], "prune needs --older-than DAYS or --max-bytes N"),
        (["prune", "--older-than", "-3"], "'-3' is not a number of days >= 0"),
        (["prune", "--older-than", "soon"], "'soon' is not a number of days"),
        (["prune", "--max-bytes", "12Q"], "'12Q' is not a size in bytes"),
        (["list", "--older-than", "3"], "unrecognized arguments"),
        (["list", "--dir", "FILE"], "is not a directory"),
    ],
)
def test_bad_input_to_the_command_is_one_line_and_exit_2(tmp_path, capsys, argv, words):
    (tmp_path / "FILE").write_text("")
    argv = [str(tmp_path / "FILE") if a == "FILE" else a for a in argv]
    with pytest.raises(SystemExit) as stopped:
        cache_command.main([*argv, *(["--dir", str(tmp_path)] if argv and "--dir" not in argv and argv[0] != "drop" else [])])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and err.startswith("python -m pytest_amb.llm.cache: ")


def _command(*argv, env):
    return subprocess.run([sys.executable, "-m", "pytest_amb.llm.cache", *argv], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60, check=False)  # fmt: skip


def test_the_module_runs_as_a_command(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    ran = _command("list", env=env)
    assert ran.returncode == 0 and ran.stdout.startswith(f"{tmp_path / 'pytest-amb' / 'llm'}: 0 entries")
    bad = _command("prune", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
