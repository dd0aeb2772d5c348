"""dbbench end to end through pytester: collection, the reference model over real HTTP, memories,
the embedded SQLite backend and a real MariaDB server."""

import json
import socket

import pytest

from pytest_amb.journal import read_steps

BENCH = [
    "--pyargs", "taskcases.dbbench.test_dbbench", "taskcases.locomo.test_locomo",
    "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
]  # fmt: skip
BUNDLED_SAMPLES = 39


def _run(pytester, *args):
    return pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'runs'}", *args)


def _only_run(pytester):
    (run,) = sorted((pytester.path / "runs").iterdir())
    return run, read_steps(run), json.loads((run / "summary.json").read_text())


def test_the_oracle_solves_every_bundled_sample_on_sqlite(pytester):
    result = _run(pytester, "--amb-task=dbbench", "--amb-model=oracle", "--amb-memory=zero_shot", "-v")
    assert result.parseoutcomes() == {"solved": BUNDLED_SAMPLES, "deselected": 1}
    result.stdout.fnmatch_lines(["NOTE: the ORACLE replayed the gold solutions*", "*type INSERT*5*100.0%*"])
    _, steps, summary = _only_run(pytester)
    assert {s["provenance"]["task_backend"] for s in steps} == {summary["streams"][0]["backends"][0]}
    assert summary["streams"][0]["backends"][0].startswith("sqlite")
    assert summary["streams"][0]["success"]["asr"] == 1.0
    assert all(s["metrics"]["backend"].startswith("sqlite") for s in steps)


def test_with_the_reference_model_stream_icl_beats_zero_shot(pytester):
    _run(pytester, "--amb-task=dbbench", "--amb-memory=zero_shot,stream_icl")
    _, steps, summary = _only_run(pytester)
    asr = {s["memory"]: s["success"]["asr"] for s in summary["streams"]}
    assert 0 < asr["zero_shot"] < asr["stream_icl"] < 1
    # every assistant tool call in every transcript got exactly one tool reply
    for step in steps:
        transcript = step["transcript"]
        for i, message in enumerate(transcript):
            ids = [c["id"] for c in message.get("tool_calls") or []]
            replies = [m["tool_call_id"] for m in transcript[i + 1 : i + 1 + len(ids)]]
            assert replies == ids, step["step"]["id"]


def test_dbbench_and_locomo_run_together_as_separate_streams(pytester):
    result = _run(pytester, "--amb-task=dbbench,locomo", "--amb-memory=stream_icl", "--amb-limit=4")
    outcomes = result.parseoutcomes()
    assert sum(outcomes.get(k, 0) for k in ("passed", "solved", "unsolved")) == 3 * 4
    _, _, summary = _only_run(pytester)
    assert [s["stream"] for s in summary["streams"]] == [
        "stream_icl/dbbench", "stream_icl/locomo/amb-sample-1", "stream_icl/locomo/amb-sample-2",
    ]  # fmt: skip


def test_a_real_mariadb_server_scores_the_oracle_and_never_shows_the_password(pytester, mariadb_url):
    import pymysql

    from taskcases.dbbench.backends.mysql import parse_url

    root = parse_url(mariadb_url)
    with pymysql.connect(**root.connect_kwargs(), autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS 'amb_admin'@'%' IDENTIFIED BY 'S3cret-pw'")
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'amb_admin'@'%' WITH GRANT OPTION")
    url = f"mysql://amb_admin:S3cret-pw@127.0.0.1:{root.port}"
    result = _run(pytester, "--amb-task=dbbench", "--amb-model=oracle", "--amb-memory=zero_shot", f"--amb-db-url={url}")
    assert result.parseoutcomes() == {"solved": BUNDLED_SAMPLES, "deselected": 1}
    run, _, summary = _only_run(pytester)
    assert "MariaDB" in summary["streams"][0]["backends"][0]
    assert summary["config"]["db_url"] == f"mysql://amb_admin:***@127.0.0.1:{root.port}"
    everything = "\n".join(result.outlines + result.errlines) + "".join(
        p.read_text() for p in run.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl")
    )
    assert "S3cret-pw" not in everything
    with pymysql.connect(**root.connect_kwargs()) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'amb\\_%'")
        assert cursor.fetchone() == (0,)  # every sample database was dropped


def test_an_unreachable_server_is_an_infrastructure_error(pytester):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _run(pytester, "--amb-task=dbbench", "--amb-limit=2", f"--amb-db-url=mysql://root@127.0.0.1:{port}")
    assert result.parseoutcomes().get("errors") == 2
    result.stdout.fnmatch_lines(
        [f"*infrastructure error (SqlBackendError): cannot connect to mysql://root@127.0.0.1:{port}*"]
    )


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgres://u@h", "--amb-db-url (from --amb-db-url): 'postgres://u@h': expected a URL like mysql://"),
        ("mysql://u:pw@h:notaport", "'mysql://u:***@h:notaport': the port is not a number"),
    ],
)
def test_a_bad_db_url_is_a_usage_error(pytester, url, message):
    result = _run(pytester, "--amb-task=dbbench", f"--amb-db-url={url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in "\n".join(result.errlines)
    assert ":pw@" not in "\n".join(result.errlines)
