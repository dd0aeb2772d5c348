"""The loader, environment and scoring read and reproduce the original dbbench dev set
(../shared/amb-data/dbbench/dev.jsonl): the oracle's gold solutions must score 1.0 on every backend."""

from collections import Counter

from pytest_amb.registry import resolve
from taskcases.dbbench.loader import load_samples
from taskcases.dbbench.task import DbbenchTask
from tests.support.oracle import oracle_failures


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
    failures = oracle_failures(task, "dbbench-dev", [s.sample_id for s in samples])
    assert failures == {}
