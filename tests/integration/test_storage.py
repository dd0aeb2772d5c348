"""Bounded storage (issue 14, item 4): a model that answers 5 MB per call costs a bounded number of bytes
per step in ``steps.jsonl``, in the HTML report and on the terminal, and the cut answer keeps its full
length and SHA-256."""

import hashlib

import pytest

from pytest_amb import storage
from pytest_amb.journal import read_steps
from tests.support.scripted_endpoint import ScriptedEndpoint, completion

ANSWER = ("The answer is a very long one. " * 200_000)[:5_000_000]  # 5 MB


@pytest.fixture
def verbose_endpoint():
    server = ScriptedEndpoint(lambda request: completion(ANSWER)).start()
    yield server
    server.stop()


def test_a_5mb_answer_costs_a_bounded_number_of_bytes_per_step(pytester, verbose_endpoint):
    result = pytester.runpytest(
        "--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "--amb-memory=stream_icl", "--amb-limit=4", "--amb-model=verbose", "--amb-judge-model=reference",
        "--amb-fail-unsolved=true",  # wrong answers as failed tests: what pytest prints per failure stays bounded
        f"--amb-base-url={verbose_endpoint.url()}", f"--amb-run-dir={pytester.path / 'runs'}",
        f"--html={pytester.path / 'report.html'}", "--self-contained-html",
    )  # fmt: skip
    (run,) = (pytester.path / "runs").iterdir()
    lines = (run / "steps.jsonl").read_bytes().splitlines()
    steps = read_steps(run)
    questions = [s for s in steps if s["step"]["kind"] == "sample"]
    assert len(steps) == len(lines) == 8 and len(questions) == 6
    assert all(s["status"] == "failed" for s in questions)  # judged wrong answers, not errors
    assert max(len(line) for line in lines) < storage.STEP_LIMIT
    # each message once, the long answer cut with its full length and SHA-256 kept
    for step in questions:
        answer = step["transcript"][-1]
        assert answer["role"] == "assistant" and len(answer["content"]) < storage.TEXT_LIMIT + 200
        cut = {entry["path"]: entry for entry in step["cut"]}
        assert cut["transcript[2].content"]["chars"] == len(ANSWER)
        assert cut["transcript[2].content"]["sha256"] == hashlib.sha256(ANSWER.encode()).hexdigest()
        assert "characters cut" in answer["content"]
    # the terminal: one short block per failure
    output = "\n".join(result.outlines + result.errlines)
    assert len(output) < 6 * (storage.FAILURE_LIMIT + 1_000) + 20_000
    result.stdout.fnmatch_lines(["*6 failed, 2 passed*"])
    report = (pytester.path / "report.html").stat().st_size
    assert report < 2_000_000 + 8 * storage.STEP_LIMIT  # pytest-html's own assets, plots and the steps' panels
