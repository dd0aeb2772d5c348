"""Replaying every sample's gold solution through the normal step runner (the conformance checks)."""

from memories.zero_shot import ZeroShotMemory
from pytest_amb.llm.client import UsageLedger
from pytest_amb.llm.oracle import OracleAgent
from pytest_amb.memory import MemoryDeps
from pytest_amb.plan import SAMPLE, Step
from pytest_amb.runner import run_step


def oracle_failures(task, task_name: str, sample_ids: list[str]) -> dict[str, str]:
    """sample id -> why the oracle's gold solution did not score 1.0, for every sample that failed."""
    memory = ZeroShotMemory(MemoryDeps())
    failures = {}
    for position, sample_id in enumerate(sample_ids):
        step = Step(f"oracle/{task_name}", position, task_name, SAMPLE, sample_id, "online", True, True)
        result = run_step(step, task=task, memory=memory, agent_llm=OracleAgent(task.oracle_replies(sample_id)),
                          ledger=UsageLedger(), provenance={})  # fmt: skip
        if not result.passed:
            failures[sample_id] = f"{result.status}: {result.explanation or result.error}"
    return failures
