"""The loader, environment and scoring read and reproduce the original dbbench dev set
(../shared/amb-data/dbbench/dev.jsonl): the oracle's gold solutions must score 1.0 on every backend."""

from collections import Counter

from memories.base import MemoryDeps
from memories.zero_shot import ZeroShotMemory
from pytest_amb.llm.client import UsageLedger
from pytest_amb.llm.oracle import OracleAgent
from pytest_amb.plan import SAMPLE, Step
from pytest_amb.runner import run_step
from taskcases.dbbench.loader import load_samples
from taskcases.dbbench.task import DbbenchTask
from taskcases.registry import resolve


def test_dev_set_shape(amb_original_data):
    samples = load_samples(resolve("dbbench-dev", amb_original_data).files[0])
    assert len(samples) == 60
    kinds = Counter("mutation" if s.is_mutation else "query" for s in samples)
    assert kinds == {"query": 20, "mutation": 40}
    assert Counter(s.type for s in samples if s.is_mutation) == {"INSERT": 20, "UPDATE": 20}
    assert all(s.answer_md5 for s in samples if s.is_mutation)


def test_the_oracle_solves_the_whole_dev_set(amb_original_data, sql_backend):
    samples = load_samples(resolve("dbbench-dev", amb_original_data).files[0])
    task = DbbenchTask("dbbench-dev", samples, sql_backend)
    memory = ZeroShotMemory(MemoryDeps())
    failures = []
    for position, sample in enumerate(samples):
        step = Step("oracle/dbbench-dev", position, "dbbench-dev", SAMPLE, sample.sample_id, "online", True, True)
        result = run_step(
            step,
            task=task,
            memory=memory,
            agent_llm=OracleAgent(task.oracle_replies(sample.sample_id)),
            ledger=UsageLedger(),
            provenance={},
        )
        if not result.passed:
            failures.append((sample.sample_id, result.status, result.explanation or result.error))
    assert failures == []
