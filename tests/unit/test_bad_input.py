"""Bad input (issue 14, item 7), below the plugin: the data-file readers, the memory parameters' rule (the
type of the documented default, the default ranges, declared limits), the plugin's last resort for a loader
that fails unforeseen, and repair's n <= m. The whole runs are in tests/integration/test_bad_input.py."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_amb import memory_config, plugin, registry
from pytest_amb.memory import PLACEMENTS, MemoryDeps
from pytest_amb.memory_config import Choice, MemoryConfigError, Range, resolve
from pytest_amb.plan import ModeParams, PlanError, build_plan
from pytest_amb.tasks import DataError, TaskSource
from taskcases import datafile
from tests.unit.test_mode_plans import DB


# -- data files ---------------------------------------------------------------------------------------------
def test_reading_a_data_file_names_what_is_wrong_in_one_line(tmp_path):
    with pytest.raises(DataError, match=r"nope\.json: file not found$"):
        datafile.read_text(tmp_path / "nope.json")
    with pytest.raises(DataError, match=rf"{tmp_path}: is a directory, not a file$"):
        datafile.read_text(tmp_path)
    crlf = tmp_path / "crlf.json"
    crlf.write_bytes(b'{"a": 1,\r\n "b": "\xc3\xa9\xff"}')
    with pytest.raises(DataError, match=r"crlf\.json:2: byte 0xff at column 9 is not UTF-8"):
        datafile.read_text(crlf)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf[1]")
    assert datafile.read_json(bom) == [1]
    for text in ("[NaN]", "[1, Infinity]"):
        with pytest.raises(DataError, match=r"not valid JSON: (NaN|Infinity) is not a JSON value"):
            datafile.parse_json(text, "f.json")
    with pytest.raises(DataError, match=r"f\.json: not valid JSON at line 2 column 1: Expecting value"):
        datafile.parse_json("[1,\n]", "f.json")


@pytest.mark.parametrize(
    "value, kind, shown",
    [
        (None, datafile.TEXT, "null"),
        (True, datafile.INTEGER, "true"),
        (2.5, datafile.INTEGER, "the number 2.5"),
        ("x" * 50, datafile.INTEGER, 'the string "' + "x" * 40 + '…"'),
        ("a\nb", datafile.INTEGER, r'the string "a\nb"'),
        ([1, 2], datafile.OBJECT, "a list of 2"),
        ({}, datafile.LIST, "an object"),
        (float("nan"), datafile.NUMBER, "the number nan"),
    ],
)
def test_wrong_types_are_refused_never_coerced_and_shown_on_one_line(value, kind, shown):
    with pytest.raises(DataError) as caught:
        datafile.expect(value, kind, "f.json[0].x")
    assert str(caught.value) == f"f.json[0].x: expected {kind.name}, got {shown}"
    assert "\n" not in str(caught.value)


def test_a_field_may_be_missing_only_when_it_has_a_default():
    assert datafile.get({}, "x", "w", datafile.TEXT, default="") == ""
    with pytest.raises(DataError, match=r"^w: missing field 'x'$"):
        datafile.get({}, "x", "w", datafile.TEXT)
    with pytest.raises(DataError, match=r"^w\.x: expected a string, got null$"):
        datafile.get({"x": None}, "x", "w", datafile.TEXT, default="")  # present but null: refused
    with pytest.raises(DataError, match=r"^w\.x: expected a non-empty string, got an empty string$"):
        datafile.get({"x": "  "}, "x", "w", datafile.TEXT, nonempty=True)


# -- memory parameters --------------------------------------------------------------------------------------
DEFAULTS = {"top_k": 4, "threshold": 0.0, "success_only": True, "placement": "front", "model": "", "tags": [],
            "children": {"role": "x"}, "anything": None}  # fmt: skip


@pytest.mark.parametrize(
    "key, value",
    [("top_k", 1), ("top_k", 500), ("threshold", 0), ("threshold", 0.25), ("success_only", False),
     ("placement", "tail"), ("model", "gpt"), ("tags", ["a"]), ("anything", "x"), ("anything", None)],
)  # fmt: skip
def test_values_of_the_defaults_type_and_range_are_accepted(key, value):
    assert resolve("m", DEFAULTS, {key: value}, "cfg.yaml")[key] == value


@pytest.mark.parametrize(
    "key, value, accepted",
    [
        ("top_k", -5, "a whole number >= 1"), ("top_k", 0, "a whole number >= 1"), ("top_k", 2.0, "a whole number"),
        ("top_k", "3", "a whole number"), ("top_k", True, "a whole number"), ("top_k", None, "a whole number"),
        ("threshold", math.nan, "a number >= 0"), ("threshold", math.inf, "a number >= 0"),
        ("threshold", -0.1, "a number >= 0"), ("threshold", "0.1", "a number >= 0"),
        ("success_only", 1, "true or false"), ("success_only", "true", "true or false"),
        ("placement", "middle", "one of front, tail"), ("model", 3, "a string"), ("model", None, "a string"),
        ("tags", "a", "a list"), ("children", "x", "a mapping"),
    ],
)  # fmt: skip
def test_values_of_another_type_or_out_of_range_are_refused(key, value, accepted):
    with pytest.raises(MemoryConfigError) as caught:
        resolve("m", DEFAULTS, {key: value}, "cfg.yaml")
    message = str(caught.value)
    assert message.startswith(f"cfg.yaml: 'm.{key}' is ") and f"; accepted: {accepted}" in message, message


def test_a_mechanism_declares_other_limits_for_its_keys_nested_ones_dotted():
    declared = {"threshold": Range(-1.0, 1.0), "top_k": Range(0, 10), "model": Choice("a", "b"),
                "children.role": Choice("x", "y")}  # fmt: skip
    merged = resolve("m", DEFAULTS, {"threshold": -0.5, "top_k": 0, "children": {"role": "y"}}, "c", declared)
    assert (merged["threshold"], merged["top_k"], merged["children"]) == (-0.5, 0, {"role": "y"})
    for override, accepted in (({"top_k": 11}, "a whole number from 0 to 10"), ({"model": "c"}, "one of a, b"),
                               ({"threshold": 1.5}, "a number from -1 to 1"),
                               ({"children": {"role": "z"}}, "one of x, y")):  # fmt: skip
        with pytest.raises(MemoryConfigError, match=f"accepted: {accepted}"):
            resolve("m", DEFAULTS, override, "c", declared)


def test_the_harness_placement_limit_is_memorys_own_list():
    assert tuple(memory_config.HARNESS_LIMITS["placement"]) == PLACEMENTS


def test_a_mechanism_built_with_a_bad_value_is_refused_too():
    cls = registry.memory_class(registry.default("memory"))
    with pytest.raises(MemoryConfigError, match=r"memory config: '.*\.top_k' is -5; accepted: a whole number >= 1"):
        cls(MemoryDeps(config={"top_k": -5}))


def test_a_memory_config_file_that_cannot_be_read_is_one_line(tmp_path):
    with pytest.raises(MemoryConfigError, match="is a directory, not a YAML file"):
        memory_config.read_override_file(tmp_path)
    broken = tmp_path / "m.yaml"
    broken.write_text("a:\n  b: [1\n  c: 2\n")
    with pytest.raises(MemoryConfigError) as caught:
        memory_config.read_override_file(broken)
    assert "\n" not in str(caught.value) and "is not valid YAML at line" in str(caught.value)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert memory_config.read_override_file(empty) == {}


# -- a loader's unforeseen failure, and repair -------------------------------------------------------------
def test_an_unforeseen_loader_failure_is_still_one_usage_line(monkeypatch, tmp_path):
    source = TaskSource("thing-dev", "thing", (tmp_path / "a.json", tmp_path / "b.json"), bundled=False)
    config = SimpleNamespace(tasks=(source,))

    def broken(_source):
        raise KeyError("table\nrows")

    monkeypatch.setattr(registry, "load_data", broken)
    with pytest.raises(DataError) as caught:
        plugin._load_data(config)
    assert str(caught.value) == (
        f"task 'thing-dev' ({tmp_path / 'a.json'}, {tmp_path / 'b.json'}): its data cannot be read: "
        "KeyError: 'table\\nrows'"
    )

    def multi_line(_source):
        raise DataError("f.json[0]: bad\n  really")

    monkeypatch.setattr(registry, "load_data", multi_line)
    with pytest.raises(DataError, match=r"^f\.json\[0\]: bad really$"):
        plugin._load_data(config)


def test_repair_refuses_more_reversed_samples_than_a_group_holds():
    with pytest.raises(PlanError, match=r"--amb-repair-n: 5 is larger than --amb-repair-m \(4\)"):
        build_plan("repair", ["stream_icl"], [66], True, 0, [DB], ModeParams(repair_m=4, repair_n=5))
    (stream,) = build_plan("repair", ["stream_icl"], [66], True, 0, [DB], ModeParams(repair_m=4, repair_n=4)).streams
    assert sum(s.flip_reward for s in stream.steps) == 10  # n = m: every sample of every group


def test_data_files_of_the_repository_still_load():
    from taskcases.dbbench.loader import load_samples as db
    from taskcases.locomo.loader import load_conversations
    from taskcases.os_interaction.loader import load_samples as os_items

    root = Path(__file__).resolve().parents[2] / "taskcases"
    assert sum(len(load_conversations(p)) for p in sorted(root.glob("locomo/data/*.json"))) == 2
    assert len(db(root / "dbbench/data/sample.jsonl")) == 39
    assert len(os_items(sorted(root.glob("os_interaction/data/data/*.json")))) == 25
