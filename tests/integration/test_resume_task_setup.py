"""Tasks are set up independently (issue 14, item 9): one task whose backend cannot be reached errors only
its own steps; the other tasks of the run are scored as usual."""

import pytest

from pytest_amb.journal import read_steps

BENCH = ["--pyargs", "taskcases.locomo.test_locomo", "taskcases.dbbench.test_dbbench", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip


def test_an_unreachable_sql_server_errors_only_the_dbbench_steps(pytester):
    result = pytester.runpytest(*BENCH, f"--amb-run-dir={pytester.path / 'runs'}", "--amb-task=locomo,dbbench",
                                "--amb-db-url=mysql://u:p@127.0.0.1:1", "--amb-limit=3")  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (run,) = list((pytester.path / "runs").iterdir())
    steps = read_steps(run)
    dbbench = [s for s in steps if s["step"]["task"] == "dbbench"]
    locomo = [s for s in steps if s["step"]["task"] != "dbbench"]
    assert len(dbbench) == 3 and len(locomo) == 6
    assert {s["status"] for s in dbbench} == {"error"}
    assert {s["error"]["kind"] for s in dbbench} == {"infrastructure"}
    assert all("127.0.0.1:1" in s["error"]["message"] and ":p@" not in s["error"]["message"] for s in dbbench)
    assert {s["status"] for s in locomo} <= {"passed", "failed"} and any(s["status"] == "passed" for s in locomo)
    result.stdout.fnmatch_lines(["*infrastructure error (SqlBackendError): cannot connect to mysql://u@127.0.0.1:1*"])
