"""The one SQL-backend suite, run against embedded SQLite and a real MariaDB server (``sql_backend``)."""

import tracemalloc
from pathlib import Path

import pytest

from taskcases.dbbench import scoring
from taskcases.dbbench.backends.base import SqlError, SqlTimeout
from taskcases.dbbench.loader import Table, load_samples
from taskcases.dbbench.task import observation

BUNDLED = Path(__file__).resolve().parents[2] / "taskcases" / "dbbench" / "data" / "sample.jsonl"
PEOPLE = Table(
    "Club Members",
    ("Name", "City", "Age"),
    (("Zoë", "Montréal", "31"), ("Bob", "Paris", "9"), ("Cy", "paris", "104"), ("Di", "Oslo", "40")),
)


@pytest.fixture
def session(sql_backend):
    opened = sql_backend.open((PEOPLE,))
    yield opened
    opened.close()


def test_rows_come_back_as_tuples_of_text_and_numbers(session):
    assert session.execute("SELECT `Name` FROM `Club Members` WHERE `Name` = 'Bob'") == [("Bob",)]
    assert session.execute("SELECT COUNT(*) FROM `Club Members`") == [(4,)]
    assert session.execute("SELECT md5('abc')") == [("900150983cd24fb0d6963f7d28e17f72",)]
    assert session.execute("SELECT `Name` FROM `Club Members` ORDER BY `Name` LIMIT 1, 2") == [("Cy",), ("Di",)]
    assert session.execute("SELECT CONCAT_WS('-', `Name`, NULL, `City`) FROM `Club Members` WHERE `Age` = '9'") == [
        ("Bob-Paris",)
    ]


def test_comparisons_follow_mysql(session):
    # case- and accent-insensitive text comparison, as MySQL's utf8mb4 *_ci collations
    assert session.execute("SELECT COUNT(*) FROM `Club Members` WHERE `City` = 'PARIS'") == [(2,)]
    assert session.execute("SELECT `Name` FROM `Club Members` WHERE `City` = 'Montreal'") == [("Zoë",)]
    assert session.execute("SELECT `Name` FROM `Club Members` WHERE `City` LIKE 'montr%'") == [("Zoë",)]
    # a TEXT column compared with a bare number is compared as a number
    assert sorted(session.execute("SELECT `Name` FROM `Club Members` WHERE `Age` > 30")) == [("Cy",), ("Di",), ("Zoë",)]
    assert session.execute("SELECT `Name` FROM `Club Members` WHERE `Age` BETWEEN 5 AND 10") == [("Bob",)]


def test_mysql_string_escapes_and_double_quoted_strings(session):
    session.execute("INSERT INTO `Club Members` VALUES ('O\\'Neil', \"Line\\nTwo\", '1.50')")
    assert session.execute("SELECT `City`, `Age` FROM `Club Members` WHERE `Name` = 'O''Neil'") == [
        ("Line\nTwo", "1.50")
    ]


def test_show_tables_and_describe(session):
    assert session.execute("SHOW TABLES") == [("Club Members",)]
    described = session.execute("DESCRIBE `Club Members`")
    assert [row[0] for row in described] == ["Name", "City", "Age"]
    assert described[0][1].lower() == "text"


def test_a_failing_statement_is_an_error_message_and_changes_nothing(session):
    with pytest.raises(SqlError) as failure:
        session.execute("SELEC nonsense")
    assert str(failure.value)
    with pytest.raises(SqlError):
        session.execute("SELECT `Nope` FROM `Club Members`")
    assert session.execute("SELECT COUNT(*) FROM `Club Members`") == [(4,)]


def test_a_statement_that_runs_too_long_is_cut_off(session):
    runaway = "SELECT COUNT(*) FROM " + ", ".join(f"`Club Members` t{i}" for i in range(15))  # 4^15 rows
    with pytest.raises(SqlTimeout):
        session.execute(runaway)
    assert session.execute("SELECT COUNT(*) FROM `Club Members`") == [(4,)]  # the session still works


def _cross(n: int, columns: str = "a.`Name`, b.`City`") -> str:
    """A cross join of the 4-row table with itself: 4^n rows."""
    return (
        f"SELECT {columns} FROM "
        + ", ".join(f"`Club Members` t{i}" for i in range(n - 2))
        + ", `Club Members` a, `Club Members` b"
    )


OBSERVED = [
    "SELECT `Name` FROM `Club Members` ORDER BY `Name`",
    "SELECT COUNT(*), NULL, 'it''s', '\"q\"' FROM `Club Members`",
    "SELECT `Name` FROM `Club Members` WHERE `Name` = 'nobody'",
    "SHOW TABLES",
    "DESCRIBE `Club Members`",
    _cross(4) + " ORDER BY 1, 2",
    "SELECT '" + "ab''c\"d" * 300 + "', 1",  # a long value with both quotes (repr escapes one)
    "SELECT '" + "ab''c" * 300 + "'",  # and with single quotes only (repr switches to double quotes)
    "UPDATE `Club Members` SET `Age` = `Age` WHERE `Name` = 'Bob'",
]


def test_observations_are_the_original_text_of_the_rows(session):
    for statement in OBSERVED:
        assert session.observe(statement) == observation(session.execute(statement)), statement
    assert session.observe(_cross(4) + " ORDER BY 1, 2").endswith("[TRUNCATED]")


def test_a_huge_result_is_observed_without_holding_it(session):
    tracemalloc.start()
    try:
        text = session.observe(_cross(8))  # 65536 rows
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(text) == 811 and text.endswith("[TRUNCATED]")
    assert peak < 1_000_000, peak  # the whole result: several MB


def test_a_runaway_result_is_read_to_its_timeout_as_in_the_original(session):
    with pytest.raises(SqlTimeout):
        session.observe(_cross(15, "a.`Name`"))  # 4^15 rows streamed: cut off by the statement timeout
    assert session.observe("SELECT COUNT(*) FROM `Club Members`") == "[(4,)]"


def test_changes_are_committed_and_hashed_like_the_original(session):
    before = session.table_hash(PEOPLE.name, PEOPLE.columns)
    assert session.execute("UPDATE `Club Members` SET `Age` = '10' WHERE `Name` = 'Bob'") == []
    after = session.table_hash(PEOPLE.name, PEOPLE.columns)
    assert before != after and len(after) == 32
    session.execute("DELETE FROM `Club Members`")
    assert session.table_hash(PEOPLE.name, PEOPLE.columns) == "None"


def test_samples_are_isolated_and_dropped(sql_backend):
    first = sql_backend.open((PEOPLE,))
    second = sql_backend.open((PEOPLE,))
    try:
        first.execute("DELETE FROM `Club Members` WHERE `Name` = 'Bob'")
        assert second.execute("SELECT COUNT(*) FROM `Club Members`") == [(4,)]
    finally:
        first.close()
        second.close()
    second.close()  # closing twice is harmless


def test_agent_sql_cannot_reach_outside_its_sample(sql_backend, tmp_path):
    session = sql_backend.open((PEOPLE,))
    try:
        outside = [
            f"ATTACH DATABASE '{tmp_path / 'x.db'}' AS other",  # SQLite: a file
            f"VACUUM INTO '{tmp_path / 'copy.db'}'",
            "SELECT * FROM mysql.user",  # MySQL: the server's own tables
            f"SELECT 'x' INTO OUTFILE '{tmp_path / 'out.txt'}'",
            "CREATE DATABASE amb_intruder",
        ]
        for statement in outside:
            with pytest.raises(SqlError):
                session.execute(statement)
        assert not list(tmp_path.iterdir())
    finally:
        session.close()


def test_bundled_query_labels_are_reproduced_by_their_sql(sql_backend):
    for sample in load_samples(BUNDLED):
        if sample.is_mutation:
            continue
        session = sql_backend.open(sample.tables)
        try:
            rows = session.execute(sample.source_sql)
        finally:
            session.close()
        assert scoring.answers_match(str(rows), list(sample.label)), (sample.sample_id, rows, sample.label)


def test_bundled_mutations_hash_the_same_on_every_backend(sql_backend):
    """Gold hashes of the bundled mutations are computed on the scoring backend; they must agree with
    the hashes recorded from SQLite, so both backends score the same answers the same way."""
    from taskcases.dbbench.backends.sandbox import SQLiteBackend

    reference = SQLiteBackend()
    for sample in load_samples(BUNDLED):
        if not sample.is_mutation:
            continue
        hashes = []
        for backend in (sql_backend, reference):
            session = backend.open(sample.tables)
            try:
                for statement in sample.label:
                    session.execute(statement)
                hashes.append(scoring.combine_hashes([session.table_hash(t.name, t.columns) for t in sample.tables]))
            finally:
                session.close()
        assert hashes[0] == hashes[1], sample.sample_id
