"""dbbench: loader errors, the original scoring rules, the MySQL→SQLite translation and the episode loop."""

import json

import pytest

from pytest_amb.tasks import DataError
from taskcases.dbbench import scoring
from taskcases.dbbench.backends.dialect import special_statement, to_sqlite
from taskcases.dbbench.backends.sandbox import SQLiteBackend
from taskcases.dbbench.loader import load_samples
from taskcases.dbbench.task import AFTER_COMMIT, INVALID_FUNCTION, NO_TOOL_CALLS, TIMED_OUT, DbbenchTask


def record(**overrides):
    base = {
        "description": "How many rows have City equal to 'Oslo'?",
        "label": ["1"],
        "type": ["counting"],
        "table": {
            "table_name": "People",
            "table_info": {"columns": [{"name": "Name"}, {"name": "City"}], "rows": [["Ann", "Oslo"], ["Bo", 7]]},
        },
    }
    return {**base, **overrides}


def write_jsonl(path, *records, raw_lines=()):
    path.write_text("\n".join([*(json.dumps(r) for r in records), *raw_lines]) + "\n")
    return path


# -- loader -------------------------------------------------------------------------------------------
def test_loader_reads_the_original_fields_and_stringifies_values(tmp_path):
    mutation = record(type=["INSERT"], label=["INSERT INTO `People` VALUES ('C', 'Rome')"], answer_md5="[('ab',)]")
    samples = load_samples(write_jsonl(tmp_path / "d.jsonl", record(), mutation))
    assert [s.sample_id for s in samples] == ["0", "1"]
    assert samples[0].tables[0].rows == (("Ann", "Oslo"), ("Bo", "7"))
    assert samples[0].user_message().endswith("Question: How many rows have City equal to 'Oslo'?")
    assert "The name of this table is People" in samples[0].user_message()
    assert samples[1].is_mutation and samples[1].answer_md5 == "[('ab',)]"


def test_a_malformed_line_names_the_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", record(), raw_lines=['{"description": "broken'])
    with pytest.raises(DataError, match=r"d\.jsonl:2: not a valid JSON line"):
        load_samples(path)


def test_a_row_missing_a_column_is_reported(tmp_path):
    bad = record()
    bad["table"]["table_info"]["rows"].append(["only-one"])
    with pytest.raises(DataError, match=r"d\.jsonl:1\.table\.table_info\.rows\[2\]: table 'People' has 2 columns"):
        load_samples(write_jsonl(tmp_path / "d.jsonl", bad))


def test_duplicate_sample_ids_and_missing_fields_are_reported(tmp_path):
    with pytest.raises(DataError, match=r"d\.jsonl:2: duplicate sample id 'x' \(first at .*d\.jsonl:1\)"):
        load_samples(write_jsonl(tmp_path / "d.jsonl", record(id="x"), record(id="x")))
    missing = record()
    del missing["label"]
    with pytest.raises(DataError, match=r"e\.jsonl:1: missing field 'label'"):
        load_samples(write_jsonl(tmp_path / "e.jsonl", missing))


# -- scoring (spec §2.4) --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "predicted, gold, expected",
    [
        (["March 19, 1998"], ["March 19, 1998"], True),
        (["1.004"], ["1"], True),  # 0.01 float tolerance
        (["1.02"], ["1"], False),
        (["45%"], ["45"], True),
        (["None"], ["0"], True),
        ("[('a',), ('b',)]", ["b", "a"], True),  # raw MySQL output, order-insensitive
        (["a", "a", "b"], ["b", "a"], True),  # set semantics for text
        (["1", "2"], ["2.001", "1"], True),  # one-to-one float matching
        (["1", "1"], ["1", "2"], False),
        (["Paris"], ["paris"], False),  # text stays case-sensitive
        ("[(Decimal('3.50'),)]", ["3.5"], True),
        (None, ["0"], True),
    ],
)
def test_answers_match_follows_the_original(predicted, gold, expected):
    assert scoring.answers_match(predicted, gold) is expected


def test_gold_hashes_are_normalised_sorted_and_joined():
    assert scoring.normalize_gold_hash("[('03b2eddd4fe471e0f29fc9e907fd5a5d',)]") == "03b2eddd4fe471e0f29fc9e907fd5a5d"
    assert scoring.combine_hashes(["b" * 32, "a" * 32]) == "a" * 32 + "_" + "b" * 32


# -- dialect ------------------------------------------------------------------------------------------
def test_mysql_is_translated_for_sqlite():
    assert to_sqlite("SELECT * FROM t WHERE a > 5;") == "SELECT * FROM t WHERE a > CAST(5 AS NUMERIC)"
    assert to_sqlite('UPDATE t SET a = 1.50 WHERE b = "it\\\'s"') == "UPDATE t SET a = '1.50' WHERE b = 'it''s'"
    assert to_sqlite("select 2010_rank from t # comment") == "select `2010_rank` from t "
    assert (
        to_sqlite("select * from t where a <=> NULL or b RLIKE 'x'")
        == "select * from t where a IS NULL or b REGEXP 'x'"
    )
    assert special_statement("DESCRIBE `My Table`;").table == "My Table"
    assert special_statement("show tables").kind == "show_tables"
    assert special_statement("SELECT 1") is None


# -- the episode loop -----------------------------------------------------------------------------------
def call(n, name, arguments):
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": f"c{n}", "type": "function", "function": {"name": name, "arguments": args}}


def assistant(*calls):
    return {"role": "assistant", "content": "", "tool_calls": list(calls)}


@pytest.fixture
def task(tmp_path):
    big = record(id="big", description="List all names.", label=["x"], type=["other"])
    big["table"]["table_info"]["rows"] = [[f"name-{i:04d}", "Oslo"] for i in range(200)]
    mutation = record(id="ins", type=["INSERT"], label=["INSERT INTO `People` VALUES ('Cy', 'Rome')"])
    samples = load_samples(write_jsonl(tmp_path / "d.jsonl", record(id="count"), big, mutation))
    dbbench = DbbenchTask("dbbench", samples, SQLiteBackend(statement_timeout_s=0.5))
    yield dbbench
    dbbench.close()


def test_every_tool_call_is_answered_in_order(task):
    episode = task.open("count")
    try:
        reply = episode.step(
            assistant(
                call(1, "execute_sql", {"query": "SELECT COUNT(*) FROM `People` WHERE `City` = 'Oslo'"}),
                call(2, "no_such_tool", {"x": 1}),
                call(3, "execute_sql", "{not json"),
                call(4, "commit_final_answer", {"answers": ["1"]}),
                call(5, "execute_sql", {"query": "DELETE FROM `People`"}),
            )
        )
    finally:
        episode.close()
    assert [m["tool_call_id"] for m in reply.messages] == ["c1", "c2", "c3", "c4", "c5"]
    contents = [m["content"] for m in reply.messages]
    assert contents[0] == "[(1,)]"
    assert contents[1] == INVALID_FUNCTION
    assert contents[2].startswith("Error: Failed to parse tool call arguments")
    assert contents[4] == AFTER_COMMIT
    assert reply.finish and reply.reward == 1.0 and reply.metrics["backend"].startswith("sqlite")


def test_errors_timeouts_and_long_output_are_observations(task):
    episode = task.open("big")
    try:
        error = episode.step(assistant(call(1, "execute_sql", {"query": "SELECT nope FROM `People`"})))
        assert not error.finish and "no such column" in error.messages[0]["content"]
        long = episode.step(assistant(call(2, "execute_sql", {"query": "SELECT * FROM `People`"})))
        assert long.messages[0]["content"].endswith("[TRUNCATED]") and len(long.messages[0]["content"]) == 811
        slow = "SELECT COUNT(*) FROM " + ", ".join(f"`People` p{i}" for i in range(6))
        assert episode.step(assistant(call(3, "execute_sql", {"query": slow}))).messages[0]["content"] == TIMED_OUT
        plain = episode.step({"role": "assistant", "content": "I think the answer is x"})
        assert plain.messages == [{"role": "user", "content": NO_TOOL_CALLS}] and not plain.finish
    finally:
        episode.close()


def test_mutations_are_scored_by_table_hash_against_the_gold_sql(task):
    for statements, expected in (([" INSERT INTO `People` VALUES ('Cy', 'Rome')"], 1.0), ([], 0.0)):
        episode = task.open("ins")
        try:
            for n, sql in enumerate(statements):
                episode.step(assistant(call(n, "execute_sql", {"query": sql})))
            reply = episode.step(assistant(call(9, "commit_final_answer", {"answers": ["done"]})))
        finally:
            episode.close()
        assert reply.reward == expected
        assert reply.metrics["gold_from"] == "label SQL"


def test_the_oracle_replays_the_gold_solution(task):
    for sample_id in ("count", "ins"):
        episode = task.open(sample_id)
        try:
            replies = [episode.step(turn) for turn in task.oracle_replies(sample_id)]
        finally:
            episode.close()
        assert replies[-1].finish and replies[-1].reward == 1.0
