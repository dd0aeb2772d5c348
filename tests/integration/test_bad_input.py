"""Bad input (issue 14, item 7): every corrupted data file, bad memory-config value and bad option is one line
naming the file, the item and the field (or the option), exit status 4, with no traceback and no
INTERNALERROR, before any step runs. Each case is a real run through pytester, on a copy of the bundled data
laid out like the original's data/ folder and corrupted in one place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
MODULES = {"locomo": "taskcases.locomo.test_locomo", "dbbench": "taskcases.dbbench.test_dbbench",
           "os": "taskcases.os_interaction.test_os"}  # fmt: skip
TASKS = {"locomo": "locomo-0", "dbbench": "dbbench-dev", "os": "os-dev"}


def _locomo() -> list:
    return json.loads((ROOT / "taskcases/locomo/data/sample1.json").read_text())


def _dbbench() -> list:
    return [json.loads(line) for line in (ROOT / "taskcases/dbbench/data/sample.jsonl").read_text().splitlines()]


def _os_item(**fields) -> dict:
    return {"description": "How many files are in /tmp/x?", "create": {"init": "mkdir -p /tmp/x"},
            "evaluation": {"match": "0"}, **fields}  # fmt: skip


def _write(data_dir: Path, family: str, content) -> Path:
    """The family's file under the original layout; ``content``: bytes, a str, or JSON data."""
    relative = {"locomo": "locomo/locomo0.json", "dbbench": "dbbench/dev.jsonl", "os": "os_interaction/data/dev.json"}
    path = data_dir / relative[family]
    path.parent.mkdir(parents=True, exist_ok=True)
    if family == "os":
        (data_dir / "os_interaction/scripts/dev").mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif family == "dbbench" and isinstance(content, list) and content:
        path.write_text("".join(json.dumps(r) + "\n" for r in content), encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def _usage_error(result) -> str:
    """The one line of a usage error; fails on anything else (a traceback, an INTERNALERROR, more lines)."""
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), lines
    return lines[0].removeprefix("ERROR: ")


def _run_on(pytester, family: str, content, *args) -> tuple[str, Path]:
    data_dir = pytester.path / "data"
    path = _write(data_dir, family, content)
    result = pytester.runpytest("--pyargs", MODULES[family], *BENCH, f"--amb-task={TASKS[family]}",
                                f"--amb-data-dir={data_dir}", f"--amb-run-dir={pytester.path / 'runs'}", *args)  # fmt: skip
    return _usage_error(result), path


def _locomo_with(change) -> list:
    data = _locomo()
    change(data[0])
    return data


def _dbbench_with(change) -> list:
    data = _dbbench()
    change(data[1])  # the second line
    return data


def _truncated() -> str:
    text = json.dumps(_locomo())
    return text[: len(text) // 2]


def _non_utf8() -> bytes:
    raw = json.dumps(_locomo()).encode()
    return raw[:100] + b"\xff" + raw[100:]


def _del(key):
    return lambda obj: obj.pop(key)


def _set(path: str, value):
    def change(obj):
        *parents, last = re.findall(r"[^.\[\]]+", path)
        for part in parents:
            obj = obj[int(part)] if part.isdigit() else obj[part]
        obj[int(last) if last.isdigit() else last] = value

    return change


LOCOMO_CASES = [
    ("truncated JSON", _truncated, r"locomo0\.json: not valid JSON at line 1 column \d+: Unterminated string"),
    ("a QA without answer", lambda: _locomo_with(lambda c: c["qa"][3].pop("answer")),
     r"locomo0\.json\[0\]\.qa\[3\]: missing field 'answer'$"),
    ("a non-UTF-8 byte", _non_utf8, r"locomo0\.json:1: byte 0xff at column 101 is not UTF-8"),
    ("a turn that is a string", lambda: _locomo_with(_set("conversation.session_1.2", "hello")),
     r"locomo0\.json\[0\]\.conversation\.session_1\[2\]: expected a turn object .*got the string \"hello\""),
    ("a non-string text", lambda: _locomo_with(_set("conversation.session_1.2.text", 42)),
     r"locomo0\.json\[0\]\.conversation\.session_1\[2\]\.text: expected a string, got the number 42"),
    ("where 999", lambda: _locomo_with(_set("qa.3.where", 999)),
     r"locomo0\.json\[0\]\.qa\[3\]\.where: 999 is not a session of this conversation \(sessions 1-6\)"),
    ("where as a string", lambda: _locomo_with(_set("qa.3.where", "1")),
     r"locomo0\.json\[0\]\.qa\[3\]\.where: expected an integer, got the string \"1\""),
    ("a null question", lambda: _locomo_with(_set("qa.0.question", None)),
     r"locomo0\.json\[0\]\.qa\[0\]\.question: expected a non-empty string, got null"),
    ("category 7", lambda: _locomo_with(_set("qa.0.category", 7)),
     r"locomo0\.json\[0\]\.qa\[0\]\.category: 7 is not a LoCoMo category \(1 to 5\)"),
    ("an answer that is a list", lambda: _locomo_with(_set("qa.0.answer", ["a"])),
     r"locomo0\.json\[0\]\.qa\[0\]\.answer: expected a string or a number, got a list of 1"),
    ("an unknown speaker", lambda: _locomo_with(_set("conversation.session_2.0.speaker", "Eve")),
     r"session_2\[0\]\.speaker: 'Eve' is neither speaker_a \('Priya'\) nor speaker_b \('Tomasz'\)"),
    ("a file holding []", list, r"locomo0\.json: the file holds no samples \(an empty list\)"),
    ("only category-5 questions", lambda: _locomo_with(lambda c: c.update(qa=[{**q, "category": 5} for q in c["qa"]])),
     r"locomo0\.json: the file holds no samples \(no question outside category 5"),
]  # fmt: skip


@pytest.mark.parametrize("case, content, message", LOCOMO_CASES, ids=[c[0] for c in LOCOMO_CASES])
def test_bad_locomo_data_is_one_line_naming_file_item_and_field(pytester, case, content, message):
    line, path = _run_on(pytester, "locomo", content())
    assert re.search(message, line) and str(path) in line, line


DBBENCH_CASES = [
    ("columns null", lambda: _dbbench_with(_set("table.table_info.columns", None)),
     r"dev\.jsonl:2\.table\.table_info\.columns: expected a non-empty list, got null"),
    ("description null", lambda: _dbbench_with(_set("description", None)),
     r"dev\.jsonl:2\.description: expected a non-empty string, got null"),
    ("a label that is a number", lambda: _dbbench_with(_set("label", [2])),
     r"dev\.jsonl:2\.label\[0\]: expected a string, got the number 2"),
    ("a cell that is a list", lambda: _dbbench_with(_set("table.table_info.rows.0.1", ["x"])),
     r"dev\.jsonl:2\.table\.table_info\.rows\[0\]\[1\]: expected a string, a number or null, got a list of 1"),
    ("an empty table list", lambda: _dbbench_with(_set("table", [])), r"dev\.jsonl:2\.table: an empty list"),
    ("a type of two", lambda: _dbbench_with(_set("type", ["counting", "ranking"])),
     r"dev\.jsonl:2\.type: expected a one-element list"),
    ("a line that is not an object", lambda: "[1, 2]\n", r"dev\.jsonl\[0\]: expected a JSON object \(one sample\), got the number 1"),
    ("a file holding []", lambda: "[]", r"dev\.jsonl: the file holds no samples \(an empty list\)"),
    ("an empty file", lambda: "\n", r"dev\.jsonl: the file holds no samples \(no JSON lines\)"),
    ("a broken line", lambda: json.dumps(_dbbench()[0]) + "\n{\"description\": \"x\n",
     r"dev\.jsonl:2: not a valid JSON line"),
]  # fmt: skip


@pytest.mark.parametrize("case, content, message", DBBENCH_CASES, ids=[c[0] for c in DBBENCH_CASES])
def test_bad_dbbench_data_is_one_line_naming_file_item_and_field(pytester, case, content, message):
    line, path = _run_on(pytester, "dbbench", content())
    assert re.search(message, line) and str(path) in line, line


OS_CASES = [
    ("description null", [_os_item(description=None)], r"dev\.json\[0\]\.description: expected a non-empty string, got null"),
    ("strip that is a string", [_os_item(evaluation={"match": {"answer": "0", "strip": "yes"}})],
     r"dev\.json\[0\]\.evaluation\.match\.strip: expected true or false, got the string \"yes\""),
    ("a bad regex", [_os_item(evaluation={"match": {"regex": "(["}})],
     r"dev\.json\[0\]\.evaluation\.match\.regex: not a valid regular expression"),
    ("a label that is a number", [_os_item(labels=[3])], r"dev\.json\[0\]\.labels\[0\]: expected a string, got the number 3"),
    ("a script file name that is a number", [_os_item(create={"init": {"file": 5}})],
     r"dev\.json\[0\]\.create\.init\[0\]\.file: expected a non-empty string, got the number 5"),
    ("an item that is a list", [[1]], r"dev\.json\[0\]: expected a JSON object \(one item\), got a list of 1"),
    ("a file holding []", [], r"dev\.json: the file holds no samples \(no os_interaction items\)"),
]  # fmt: skip


@pytest.mark.parametrize("case, content, message", OS_CASES, ids=[c[0] for c in OS_CASES])
def test_bad_os_data_is_one_line_naming_file_item_and_field(pytester, case, content, message):
    line, path = _run_on(pytester, "os", content)
    assert re.search(message, line) and str(path) in line, line


def test_a_script_file_that_is_not_utf8_names_the_item_and_the_script(pytester):
    scripts = pytester.path / "data/os_interaction/scripts/dev/init"
    scripts.mkdir(parents=True)
    (scripts / "bad.sh").write_bytes(b"echo \xe9t\xe9\n")
    line, _ = _run_on(pytester, "os", [_os_item(create={"init": {"file": "init/bad.sh"}})])
    assert re.search(r"scripts/dev/init/bad\.sh:1: byte 0xe9 at column 6 is not UTF-8; save the script file", line)


# -- options and the memory configuration -----------------------------------------------------------------
def _run_bundled(pytester, *args):
    return pytester.runpytest("--pyargs", MODULES["locomo"], *BENCH, *args)


def _memory_config(pytester, text: str | bytes) -> str:
    path = pytester.path / "memory.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return f"--amb-memory-config={path}"


MEMORY_CASES = [
    ("stream_icl:\n  top_k: -5\n", r"memory\.yaml: 'stream_icl\.top_k' is -5; accepted: a whole number >= 1 \(default 4\)"),
    ("stream_icl:\n  top_k: 0\n", r"'stream_icl\.top_k' is 0; accepted: a whole number >= 1"),
    ("stream_icl:\n  top_k: '5'\n", r"'stream_icl\.top_k' is the string '5'; accepted: a whole number >= 1"),
    ("stream_icl:\n  top_k: 5.0\n", r"'stream_icl\.top_k' is 5\.0; accepted: a whole number >= 1"),
    ("stream_icl:\n  top_k: true\n", r"'stream_icl\.top_k' is true; accepted: a whole number >= 1"),
    ("stream_icl:\n  top_k: null\n", r"'stream_icl\.top_k' is null; accepted: a whole number >= 1"),
    ("stream_icl:\n  success_only: 'yes'\n", r"'stream_icl\.success_only' is the string 'yes'; accepted: true or false"),
    ("stream_icl:\n  placement: middle\n", r"'stream_icl\.placement' is the string 'middle'; accepted: one of front, tail"),
    ("mem0:\n  threshold: .nan\n", r"'mem0\.threshold' is nan; accepted: a number >= 0"),
    ("mem0:\n  threshold: -0.5\n", r"'mem0\.threshold' is -0\.5; accepted: a number >= 0"),
    ("mem0:\n  model: 5\n", r"'mem0\.model' is 5; accepted: a string"),
    ("mems:\n  children: [a]\n", r"'mems\.children' is a list; accepted: a mapping"),
    ("stream_icl:\n  top_k: [1\n", r"memory\.yaml is not valid YAML at line \d+ column \d+: "),
    (b"stream_icl:\n  model: '\xff'\n", r"memory\.yaml is not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize("text, message", MEMORY_CASES, ids=[str(c[0])[:40] for c in MEMORY_CASES])
def test_memory_config_values_are_checked_against_their_documented_defaults(pytester, text, message):
    line = _usage_error(_run_bundled(pytester, _memory_config(pytester, text)))
    assert line.startswith("--amb-memory-config (from --amb-memory-config): ") and re.search(message, line), line


def test_a_valid_memory_config_with_an_int_for_a_float_still_runs(pytester):
    config = _memory_config(pytester, "mem0:\n  threshold: 0\n  top_k: 3\nstream_icl:\n  placement: tail\n")
    result = _run_bundled(pytester, config, "--amb-limit=1", f"--amb-run-dir={pytester.path / 'runs'}")
    assert result.ret == 0, result.stdout.str()


def test_bad_paths_and_numbers_in_options_are_one_line(pytester, monkeypatch):
    folder = pytester.mkdir("a-folder")
    a_file = pytester.path / "a-file"
    a_file.write_text("x")
    cases = [
        ([f"--amb-memory-config={folder}"], rf"--amb-memory-config \(from --amb-memory-config\): '{folder}' is a directory"),
        ([f"--amb-run-dir={a_file}"], rf"--amb-run-dir \(from --amb-run-dir\): '{a_file}' is a file, not a directory"),
        ([f"--amb-run-dir={a_file}/runs"], rf"'{a_file}/runs' cannot be created: '{a_file}' is a file"),
        (["--amb-reference-latency=nan"], r"--amb-reference-latency \(from --amb-reference-latency\): 'nan' is not accepted"),
        (["--amb-reference-latency=inf"], r"'inf' is not accepted; give finite seconds >= 0"),
        (["--amb-reference-latency=-1"], r"'-1' is not accepted; give seconds >= 0"),
        (["--amb-mode=repair", "--amb-repair-m=5", "--amb-repair-n=10"],
         r"--amb-repair-n: 10 is larger than --amb-repair-m \(5\): at most the 5 samples of a group"),
    ]  # fmt: skip
    for args, message in cases:
        line = _usage_error(_run_bundled(pytester, *args))
        assert re.search(message, line), (args, line)
    monkeypatch.setenv("AMB_RUN_DIR", str(a_file))
    line = _usage_error(_run_bundled(pytester))
    assert line.startswith("--amb-run-dir (from AMB_RUN_DIR): ")
