"""Micro-benchmarks (pytest-benchmark; run with `pytest benchmarks -p no:xdist`)."""

from pytest_amb.metrics.answer import bleu1, token_f1
from pytest_amb.plan import build_plan
from pytest_amb.registry import indexes as task_indexes
from pytest_amb.registry import resolve
from taskcases.locomo import reference


def test_answer_metrics(benchmark):
    benchmark(lambda: (token_f1("went to the LGBTQ support group on 7 May", "7 May 2023"),
                       bleu1("went to the LGBTQ support group on 7 May", "7 May 2023")))  # fmt: skip


def test_reference_answer_over_a_full_bundled_conversation(benchmark):
    # the zero_shot worst case: every session of a conversation in the prompt
    from memories.zero_shot import ZeroShotMemory
    from pytest_amb.interfaces import Outcome
    from pytest_amb.memory import MemoryDeps
    from pytest_amb.registry import load_data
    from pytest_amb.tasks import TaskContext
    from taskcases.locomo import FAMILY

    source = resolve("locomo", None)
    (task, _) = FAMILY.build(source, load_data(source), TaskContext({}, lambda name: None))
    memory = ZeroShotMemory(MemoryDeps())
    for session in task.index.sessions:
        memory.update(task.session_info(session.session_id), task.session_messages(session.session_id),
                      Outcome(True, 1.0, "completed", kind="session_injection"))  # fmt: skip
    episode = task.open(task.index.sample_ids[-1])
    messages = memory.augment(episode.info, episode.messages).messages
    benchmark(reference.answer, messages)


def test_plan_for_the_bundled_set(benchmark):
    indexes = task_indexes(resolve("locomo", None))
    benchmark(build_plan, "online", ["zero_shot", "stream_icl"], [66, 67], True, 0, indexes)
