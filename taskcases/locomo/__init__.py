"""LoCoMo: long conversations injected session by session, questions about them answered and judged."""

from pathlib import Path

from pytest_amb.tasks import TaskFamily
from taskcases.locomo import reference, task
from taskcases.locomo.metrics import QA

FAMILY = TaskFamily(
    name="locomo",
    root=Path(__file__).parent,
    bundled="data/sample*.json",
    original={f"locomo-{n}": f"locomo/locomo{n}.json" for n in range(10)},
    load=task.load,
    index=task.index,
    build=task.build,
    services=("judge_llm",),
    aggregates=(QA,),
    reference=reference.POLICIES,
    order=1,
    description="question answering over long conversations (sessions injected into memory first)",
)
