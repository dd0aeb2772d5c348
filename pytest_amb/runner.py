"""The episode loop for one Step, producing a StepResult.

A step either injects a conversation session into memory, or runs one sample: open the episode, let the
memory augment the clean initial messages, alternate LLM calls and environment steps until the
environment finishes (or the round limit), then let the memory learn from the clean trajectory.
What a step result is turned into for the report and the journal is its bounded, redacted form (``storage``).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field, fields

from pytest_amb.interfaces import Augmentation, EnvReply, Outcome
from pytest_amb.plan import INJECT, Step
from pytest_amb.redaction import redact
from pytest_amb.storage import bound_record

PASSED, FAILED, ERROR = "passed", "failed", "error"


@dataclass(repr=False)
class StepResult:
    step: dict
    status: str  # passed / failed / error
    success: bool | None = None
    reward: float | None = None
    metrics: dict = field(default_factory=dict)
    explanation: str = ""
    transcript: list = field(default_factory=list)
    memory_block: str = ""
    retrieved: list = field(default_factory=list)
    update: dict = field(default_factory=dict)
    error: dict | None = None  # {"kind": "infrastructure"|"harness", "type", "message"}
    llm_calls: list = field(default_factory=list)
    memory_cost: dict = field(default_factory=dict)  # {"retrieval"|"update": {llm_calls, tokens, embedding_calls, ...}}
    wall_s: float = 0.0
    provenance: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The bounded, redacted record (``storage.bound_record``): what the report carries and the journal keeps."""
        # a shallow view: bound_record copies while it redacts (asdict's deep copy before it cost a millisecond a step)
        return bound_record({**{f.name: getattr(self, f.name) for f in fields(self)}, "tokens": self.tokens})

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __repr__(self) -> str:
        return f"StepResult({self.step.get('id')}: {self.status})"

    @property
    def tokens(self) -> int:
        return sum(c["prompt_tokens"] + c["completion_tokens"] for c in self.llm_calls)


def run_step(step: Step, *, task, memory, agent_llm, ledger, provenance: dict, infrastructure_errors=()) -> StepResult:
    """Run one step; never raises for problems inside the step, which become ``status == "error"``."""
    started = time.perf_counter()
    ledger.start_step(step.id)
    result = StepResult(step=step.to_json(), status=ERROR, provenance=provenance)
    try:
        if step.kind == INJECT:
            _inject(step, task, memory, result, ledger)
        else:
            _sample(step, task, memory, agent_llm, result, ledger)
    except Exception as exc:  # noqa: BLE001 (any failure inside a step becomes an ERROR result)
        kind = "infrastructure" if isinstance(exc, infrastructure_errors) else "harness"
        result.status = ERROR
        result.error = {
            "kind": kind,
            "type": type(exc).__name__,
            "message": redact(str(exc)),
            "traceback": redact("".join(traceback.format_exception(exc)))[-4000:],
        }
    finally:
        result.llm_calls = [call.to_json() for call in ledger.drain()]
        result.wall_s = round(time.perf_counter() - started, 6)
    return result


def session_number(sample_id: str) -> int:
    return int(sample_id.removeprefix("session-"))


def _inject(step: Step, task, memory, result: StepResult, ledger) -> None:
    session_id = session_number(step.sample_id)
    info = task.session_info(session_id)
    trajectory = task.session_messages(session_id)
    mark = ledger.mark()
    report = memory.update(info, trajectory, Outcome(True, 1.0, "completed", kind="session_injection"))
    result.memory_cost["update"] = ledger.since(mark)
    result.transcript = trajectory
    result.update = report.to_json()
    # Writing a session is not scored: a mechanism may rightly keep nothing (one that induces from episodes,
    # or one that finds nothing new); the report says what it kept and why.
    result.success = report.stored
    result.status = PASSED
    result.explanation = "" if report.stored else f"the memory kept nothing of this session: {report.reason}"


def _sample(step: Step, task, memory, agent_llm, result: StepResult, ledger) -> None:
    episode = task.open(step.sample_id)
    try:
        mark = ledger.mark()
        augmentation = (
            memory.augment(episode.info, episode.messages)
            if step.augment
            else Augmentation(messages=[dict(m) for m in episode.messages])
        )
        if step.augment:
            result.memory_cost["retrieval"] = ledger.since(mark)
        result.memory_block = augmentation.block
        result.retrieved = [asdict(item) for item in augmentation.retrieved]
        sent = list(augmentation.messages)  # what the model saw
        clean = [dict(m) for m in episode.messages]  # the same without injected memory
        result.transcript = sent
        reply = EnvReply([], finish=True, reward=0.0, status="task limit reached",
                         explanation=f"no verdict within {episode.max_rounds} rounds")  # fmt: skip
        for _ in range(episode.max_rounds):
            assistant = agent_llm.chat(sent, purpose="agent", tools=episode.tools or None)
            sent.append(assistant)
            clean.append(assistant)
            env = episode.step(assistant)
            sent.extend(env.messages)
            clean.extend(env.messages)
            if env.finish:
                reply = env
                break
        success = reply.reward >= 1.0
        result.success, result.reward = success, reply.reward
        result.metrics = dict(reply.metrics, status=reply.status)
        result.explanation = reply.explanation
        result.status = PASSED if success else FAILED
        if step.update:
            outcome = Outcome(success, reply.reward, reply.status)
            if step.flip_reward:  # repair mode's wrong feedback: the memory is told the opposite
                outcome = Outcome(not success, 1.0 - reply.reward, reply.status)
            mark = ledger.mark()
            report = memory.update(episode.info, clean, outcome)
            result.memory_cost["update"] = ledger.since(mark)
            result.update = {**report.to_json(), "told_success": outcome.success}
    finally:
        episode.close()
