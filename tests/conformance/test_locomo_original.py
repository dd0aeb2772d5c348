"""The loader and plan read the original AgentMemoryBench LoCoMo files (../shared/amb-data/locomo)."""

from collections import Counter

import pytest

from pytest_amb.plan import INJECT, build_plan
from pytest_amb.registry import indexes as task_indexes
from pytest_amb.registry import resolve
from taskcases.locomo.loader import load_conversations

# Counted from the data (spec amb_tasks §7.1): sessions, askable QAs, categories 1-4 of the askable QAs.
EXPECTED = {
    "locomo-0": (19, 152, {1: 32, 2: 37, 3: 13, 4: 70}),
    "locomo-1": (19, 81, {1: 11, 2: 26, 4: 44}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_original_conversation_counts(amb_original_data, name):
    sessions, askable, categories = EXPECTED[name]
    (conversation,) = load_conversations(resolve(name, amb_original_data).files[0])
    assert len(conversation.sessions) == sessions
    assert len(conversation.askable_qas) == askable
    assert Counter(q.category for q in conversation.askable_qas) == categories
    assert all(s.date_time for s in conversation.sessions)
    assert sum(len(conversation.qas_for_session(s.session_id)) for s in conversation.sessions) == askable


def test_original_online_plan_asks_each_question_after_its_session(amb_original_data):
    (index,) = task_indexes(resolve("locomo-0", amb_original_data))
    plan = build_plan("online", ["zero_shot"], [66], True, 0, [index])
    steps = plan.steps()
    assert len(steps) == 19 + 152
    (conversation,) = load_conversations(resolve("locomo-0", amb_original_data).files[0])
    where = {q.sample_id: q.where for q in conversation.askable_qas}
    injected = set()
    for step in steps:
        if step.kind == INJECT:
            injected.add(int(step.sample_id.removeprefix("session-")))
        else:
            assert where[step.sample_id] in injected and max(injected) == where[step.sample_id]


def test_the_plugin_runs_locomo_0_from_the_original_data(pytester, amb_original_data):
    result = pytester.runpytest(
        "--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "--amb-task=locomo-0", f"--amb-data-dir={amb_original_data}", "--amb-memory=zero_shot",
        f"--amb-run-dir={pytester.path / 'runs'}",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert sum(outcomes.get(k, 0) for k in ("passed", "solved", "unsolved")) == 19 + 152
    assert "errors" not in outcomes
    result.stdout.fnmatch_lines(["  zero_shot  152 *"])  # the per-memory row: all 152 questions


def test_the_same_seed_gives_the_same_journal_in_processes_with_other_hash_seeds(pytester, monkeypatch,
                                                                                   amb_original_data):
    """Determinism across processes: Python orders sets by a per-process string hash seed, and a reference-model
    score summed over a set once changed in its last bit with it, flipping a tie on locomo-0 (issue 17)."""
    from pytest_amb.journal import read_steps
    from tests.support.results import stable

    runs = pytester.path / "runs"
    for hash_seed in ("0", "1"):  # these two order a tie on locomo-0 differently
        monkeypatch.setenv("PYTHONHASHSEED", hash_seed)
        result = pytester.runpytest_subprocess(
            "--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider", "--amb-task=locomo-0",
            f"--amb-data-dir={amb_original_data}", "--amb-memory=stream_icl", f"--amb-run-dir={runs}",
        )  # fmt: skip
        assert result.ret in (0, 1), result.stdout.str()[-2000:]
    first, second = (read_steps(d) for d in sorted(runs.iterdir()))
    assert len(first) == 19 + 152
    assert stable(first, ("wall_s", "latency_s", "provenance")) == stable(second, ("wall_s", "latency_s", "provenance"))
