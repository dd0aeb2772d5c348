"""The per-process benchmark engine: builds the LLM clients, tasks and memories a run needs, lazily,
and runs steps in stream order.

One engine per pytest process. Nothing here is created in runs that collect no benchmark items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_amb import registry
from pytest_amb.config import ORACLE_MODEL, REFERENCE_MODEL, RunConfig
from pytest_amb.embedding import CountingEmbedder, EmbedderError
from pytest_amb.interfaces import EnvironmentUnavailable, JudgeError
from pytest_amb.llm.client import LLMClient, LLMError, UsageLedger, api_key_from_environment
from pytest_amb.llm.oracle import OracleAgent
from pytest_amb.memory import MemoryDeps, Scope
from pytest_amb.plan import SAMPLE, Plan, Step, memory_anchors
from pytest_amb.resume import find_checkpoint, save_checkpoint
from pytest_amb.runner import StepResult, run_step
from pytest_amb.tasks import TaskContext


class StreamOrderError(RuntimeError):
    pass


@dataclass
class StreamState:
    memory: object
    last_learned: int = -1  # position of the last step that updated this memory (-1: none yet)


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
        self._containers = None
        self._streams: dict[str, StreamState] = {}
        self._memory_clients: dict[str, LLMClient] = {}
        self._snapshots: dict[tuple[str, int], object] = {}
        self.anchors = {
            step.id: anchor
            for stream in plan.streams
            for step, anchor in zip(stream.steps, memory_anchors(stream.steps))
        }
        # checkpoints read-only steps start from: kept for the whole run
        self.kept_anchors = {
            stream.id: {self.anchors[s.id] for s in stream.steps if not s.update} for stream in plan.streams
        }

    # -- services -----------------------------------------------------------------------------------
    def _reference_url(self) -> str:
        if self._reference is None:
            from pytest_amb.llm.reference.server import ReferenceServer

            self._reference = ReferenceServer(
                policies=registry.reference_policies(),
                operations=registry.memory_operations(),
                latency_s=self.config.reference_latency,
            ).start()
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

    def service(self, name: str):
        """A harness service a task family asked for by name (``TaskFamily.services``)."""
        if name == "judge_llm":
            return self._judge_llm()
        if name == "containers":
            if self._containers is None:
                from pytest_amb.containers.service import ContainerService

                self._containers = ContainerService(self.config.container_engine)
            return self._containers
        raise KeyError(f"no harness service '{name}'")

    def _context(self, family) -> TaskContext:
        def service(name: str):
            if name not in family.services:
                raise KeyError(f"task family '{family.name}' uses the service '{name}' without declaring it")
            return self.service(name)

        return TaskContext(options=self.config.task_options.get(family.name, {}), service=service)

    def tasks(self) -> dict:
        if self._tasks is None:
            tasks = {}
            for source in self.config.tasks:
                family = registry.family(source.family)
                for task in family.build(source, registry.load_data(source), self._context(family)):
                    tasks[task.name] = task
            self._tasks = tasks
        return self._tasks

    def embedder(self):
        if self._embedder is None:
            from pytest_amb.embedding import load_embedder

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
        cls = registry.memory_class(name)
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
        stream whose worker crashed) starts from the checkpoint of its last learning step, if there is one."""
        if step.stream not in self._streams:
            state = StreamState(memory=self._new_memory(self.plan.stream(step.stream).memory, step.stream))
            anchor = self.anchors[step.id]
            previous = (
                find_checkpoint(self.checkpoints, step.stream, anchor) if self.checkpoints and anchor >= 0 else None
            )
            if previous is not None:
                state.memory.load(previous)
                state.last_learned = anchor
            self._streams[step.stream] = state
        return self._streams[step.stream]

    def _frozen_memory(self, step: Step):
        """The memory a read-only step needs: the stream's own when it is at the right point in this
        process, else the checkpoint of the stream's last learning step before it (fan-out under xdist)."""
        anchor = self.anchors[step.id]
        state = self._streams.get(step.stream)
        if state is not None and state.last_learned == anchor:
            return state.memory
        key = (step.stream, anchor)
        if key not in self._snapshots:
            memory = self._new_memory(self.plan.stream(step.stream).memory, step.stream)
            if anchor >= 0:
                found = find_checkpoint(self.checkpoints, step.stream, anchor) if self.checkpoints else None
                if found is None:
                    raise StreamOrderError(
                        f"step {step.id} reads the memory as it was after position {anchor} of its stream, and no "
                        "checkpoint of it exists (that step did not complete). Finish the run with --amb-resume"
                    )
                memory.load(found)
            self._snapshots = {k: v for k, v in self._snapshots.items() if k[0] != step.stream}  # one per stream
            self._snapshots[key] = memory
        return self._snapshots[key]

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
        """Run one step. A learning step (it updates memory) must follow the stream's previous learning
        step in this process; a read-only step needs the memory as of the learning step before it."""
        anchor = self.anchors[step.id]
        if step.update:
            state = self._stream(step)
            if state.last_learned != anchor:
                raise StreamOrderError(
                    f"step {step.id} needs the steps before it in its stream to have run in this process "
                    f"(it follows position {anchor}; this process is at {state.last_learned}). Do not deselect parts "
                    "of a stream (-k, --deselect, --lf). If the run was interrupted or a worker crashed, finish it "
                    "with --amb-resume"
                )
            memory = state.memory
        else:
            state, memory = None, self._frozen_memory(step)
        completed, unavailable = False, None
        try:
            task = self.tasks()[step.task]
            unavailable = _unavailable(task) if step.kind == SAMPLE else None
            if unavailable is None:
                result = run_step(
                    step,
                    task=task,
                    memory=memory,
                    agent_llm=self._agent_for(task, step),
                    ledger=self.ledger,
                    provenance=self.provenance(step),
                    infrastructure_errors=INFRASTRUCTURE_ERRORS,
                )
            completed = True
        finally:
            if state is not None:
                state.last_learned = step.position  # a step that could not start still takes its place
        if completed and state is not None and self.checkpoints is not None:
            save_checkpoint(memory, self.checkpoints, step.stream, step.position, keep=self.kept_anchors[step.stream])
        if unavailable:  # the memory is unchanged and checkpointed; the step itself is skipped
            raise EnvironmentUnavailable(unavailable)
        return result

    def close(self) -> None:
        for task in (self._tasks or {}).values():
            task.close()
        self._tasks = None
        if self._containers is not None:
            self._containers.close()
            self._containers = None
        if self._reference is not None:
            self._reference.stop()
            self._reference = None


def _unavailable(task) -> str | None:
    """Why the task's environment cannot run here (a task may define ``unavailable()``), else None."""
    check = getattr(task, "unavailable", None)
    return check() if check is not None else None
