"""The per-process benchmark engine: builds the LLM clients, tasks and memories a run needs, lazily,
and runs steps in stream order.

One engine per pytest process. Nothing here is created in runs that collect no benchmark items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import memories as memory_registry
from memories.base import MemoryDeps, Scope
from memories.embedder import CountingEmbedder, EmbedderError
from pytest_amb.config import ORACLE_MODEL, REFERENCE_MODEL, RunConfig
from pytest_amb.interfaces import JudgeError, TaskServices
from pytest_amb.llm.client import LLMClient, LLMError, UsageLedger, api_key_from_environment
from pytest_amb.llm.oracle import OracleAgent
from pytest_amb.plan import SAMPLE, Plan, Step
from pytest_amb.resume import find_checkpoint, save_checkpoint
from pytest_amb.runner import StepResult, run_step
from taskcases.registry import family_module


class StreamOrderError(RuntimeError):
    pass


@dataclass
class StreamState:
    memory: object
    next_position: int = 0


# Problems outside the agent's control: reported as ERRORs, never as wrong answers.
INFRASTRUCTURE_ERRORS = (LLMError, JudgeError, EmbedderError, OSError)


class Engine:
    def __init__(self, config: RunConfig, plan: Plan, checkpoints: Path | None = None):
        self.config = config
        self.plan = plan
        self.checkpoints = checkpoints  # <run>/checkpoints; None = no checkpoints (unit tests)
        self.ledger = UsageLedger()
        self._reference = None
        self._agent = None
        self._judge = None
        self._tasks: dict | None = None
        self._embedder = None
        self._streams: dict[str, StreamState] = {}
        self._memory_clients: dict[str, LLMClient] = {}

    # -- services -----------------------------------------------------------------------------------
    def _reference_url(self) -> str:
        if self._reference is None:
            from pytest_amb.llm.reference.server import ReferenceServer

            self._reference = ReferenceServer(latency_s=self.config.reference_latency).start()
        return self._reference.base_url

    def _client(self, model: str) -> LLMClient:
        if model == REFERENCE_MODEL:
            return LLMClient(base_url=self._reference_url(), model=model, endpoint="reference", ledger=self.ledger)
        return LLMClient(
            base_url=self.config.base_url,
            model=model,
            endpoint="openai-compatible",
            ledger=self.ledger,
            api_key=api_key_from_environment(),
        )

    def _judge_llm(self) -> LLMClient:
        if self._judge is None:
            self._judge = self._client(self.config.judge_model)
        return self._judge

    @property
    def agent(self) -> LLMClient:
        if self._agent is None:
            self._agent = self._client(self.config.model)
        return self._agent

    def _agent_for(self, task, step: Step):
        if self.config.uses_oracle and step.kind == SAMPLE:
            return OracleAgent(task.oracle_replies(step.sample_id))
        return self.agent

    def tasks(self) -> dict:
        if self._tasks is None:
            services = TaskServices(judge_llm=self._judge_llm(), db_url=self.config.db_url)
            tasks = {}
            for source in self.config.tasks:
                for task in family_module(source.family).make_tasks(source, services):
                    tasks[task.name] = task
            self._tasks = tasks
        return self._tasks

    def embedder(self):
        if self._embedder is None:
            from memories.embedder import load_embedder

            self._embedder = load_embedder(self.config.embedding_model)
        return self._embedder

    def _memory_llm(self, name: str) -> LLMClient:
        """The client of a mechanism's own calls: its configured model, else the agent's (the reference
        model when the agent is the oracle, which cannot write prompts)."""
        model = (self.config.memory_overrides.get(name) or {}).get("model") or self.config.model
        if model == ORACLE_MODEL:
            model = REFERENCE_MODEL
        key = f"memory:{model}"
        if key not in self._memory_clients:
            self._memory_clients[key] = self._client(model)
        return self._memory_clients[key]

    def _new_memory(self, name: str, stream_id: str):
        cls = memory_registry.memory_class(name)
        embedder = CountingEmbedder(self.embedder(), self.ledger) if cls.needs_embedder else None
        deps = MemoryDeps(
            embedder=embedder,
            llm=self._memory_llm(name) if cls.needs_llm else None,
            config=self.config.memory_overrides.get(name, {}),
            scope=Scope(user_id=stream_id),
            child_configs=self.config.memory_overrides,
        )
        return cls(deps)

    # -- steps --------------------------------------------------------------------------------------
    def _stream(self, step: Step) -> StreamState:
        """The stream's memory in this process; a stream met mid-way (a resumed run, or the rest of a
        stream whose worker crashed) starts from the checkpoint of the step before, if there is one."""
        if step.stream not in self._streams:
            memory_name = self.plan.stream(step.stream).memory
            state = StreamState(memory=self._new_memory(memory_name, step.stream))
            previous = (
                find_checkpoint(self.checkpoints, step.stream, step.position - 1)
                if self.checkpoints and step.position
                else None
            )
            if previous is not None:
                state.memory.load(previous)
                state.next_position = step.position
            self._streams[step.stream] = state
        return self._streams[step.stream]

    def provenance(self, step: Step) -> dict:
        task = self.tasks()[step.task]
        stream = self.plan.stream(step.stream)
        return {
            "task_backend": task.backend,
            "memory": stream.memory,
            "agent": {"model": self.config.model, "endpoint": ORACLE_MODEL if self.config.uses_oracle else self.agent.endpoint},
            "judge": {"model": self.config.judge_model, "endpoint": self._judge_llm().endpoint},
            "embedder": self._embedder.provenance() if self._embedder is not None else None,
        }  # fmt: skip

    def run(self, step: Step) -> StepResult:
        state = self._stream(step)
        if step.position != state.next_position:
            raise StreamOrderError(
                f"step {step.id} needs the steps before it in its stream to have run in this process "
                f"(next expected position: {state.next_position}). Do not deselect parts of a stream "
                "(-k, --deselect, --lf). If the run was interrupted or a worker crashed, finish it with --amb-resume"
            )
        try:
            task = self.tasks()[step.task]
            result = run_step(
                step,
                task=task,
                memory=state.memory,
                agent_llm=self._agent_for(task, step),
                ledger=self.ledger,
                provenance=self.provenance(step),
                infrastructure_errors=INFRASTRUCTURE_ERRORS,
            )
        finally:
            state.next_position += 1  # a step that could not start still takes its place in the stream
        if self.checkpoints is not None:
            save_checkpoint(state.memory, self.checkpoints, step.stream, step.position)
        return result

    def close(self) -> None:
        for task in (self._tasks or {}).values():
            task.close()
        self._tasks = None
        if self._reference is not None:
            self._reference.stop()
            self._reference = None
