"""The per-process benchmark engine: builds the LLM clients, tasks and memories a run needs, lazily,
and runs steps in stream order.

One engine per pytest process. Nothing here is created in runs that collect no benchmark items.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_amb import registry
from pytest_amb.budget import Spending
from pytest_amb.config import ORACLE_MODEL, REFERENCE_MODEL, RunConfig
from pytest_amb.embedding import CountingEmbedder, EmbedderError, package_version
from pytest_amb.interfaces import EnvironmentUnavailable, JudgeError
from pytest_amb.llm.breaker import CircuitBreaker
from pytest_amb.llm.cache import CacheCounters, ResponseCache, parse_mode
from pytest_amb.llm.client import LLMClient, LLMError, UsageLedger
from pytest_amb.llm.oracle import OracleAgent
from pytest_amb.llm.pricing import PriceTable
from pytest_amb.memory import MemoryDeps, Scope
from pytest_amb.plan import INJECT, SAMPLE, Plan, Step, memory_anchors
from pytest_amb.resume import (
    INITIAL,
    broken_reason,
    checkpoint_digest,
    find_checkpoint,
    link_checkpoint,
    mark_broken,
    mark_unusable,
    save_checkpoint,
    tree_digest,
)
from pytest_amb.run_location import active
from pytest_amb.runner import StepResult, run_step, session_number
from pytest_amb.stream_memory import (
    KEPT,
    CheckpointError,
    MemoryBroken,
    StreamOrderError,
    StreamState,
    TaskSetupError,
    Watched,
)
from pytest_amb.tasks import TaskContext

REFERENCE_SERVICE, CONTAINER_SERVICE, EMBEDDER_SERVICE = "reference", "containers", "embedder"
LLM_SERVICE = "llm"  # the LLM clients (not a TaskContext service: only loaded early)

EMBED_AHEAD_STEPS = 8  # how far ahead of the running step a stream's texts are embedded

# Problems outside the agent's control: reported as ERRORs, never as wrong answers.
_OUTSIDE = (LLMError, JudgeError, EmbedderError, OSError)
INFRASTRUCTURE_ERRORS = (*_OUTSIDE, MemoryBroken)


class Engine:
    def __init__(self, config: RunConfig, plan: Plan, checkpoints: Path | None = None, recheck: dict | None = None):
        self.config = config
        self.plan = plan
        self.checkpoints = checkpoints  # <run>/checkpoints; None = no checkpoints (unit tests)
        self.ledger = UsageLedger()
        self._breaker = CircuitBreaker(config.llm_breaker)  # one per process: fail fast on a dead endpoint
        self._cache_counters = CacheCounters()
        self._reference = None
        self._agent = None
        self._judge = None
        self._built: dict[str, dict | Exception] = {}  # task source -> its tasks by name, or why they failed
        self._sources: dict | None = None  # task name -> source
        self._embedder = None
        self._containers = None
        self._streams: dict[str, StreamState] = {}
        self._memory_clients: dict[str, LLMClient] = {}
        self._snapshots: dict[tuple[str, int], tuple] = {}
        self._ahead_until: dict[str, int] = {}  # stream -> the first position whose texts are not queued yet
        self.anchors = {
            step.id: anchor
            for stream in plan.streams
            for step, anchor in zip(stream.steps, memory_anchors(stream.steps))
        }
        location = active(Path(checkpoints).parent) if checkpoints is not None else None
        if recheck is None and location is not None:
            recheck = location.recheck
        self.recheck = recheck or {}  # a resumed run: step id -> the memory digests its latest attempt recorded
        spend_dir = Path(checkpoints).parent / "spend" / location.invocation if location is not None else None
        self.spending = Spending(config.budget, PriceTable.load(config.prices), spend_dir)

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

    def _client(self, endpoint) -> LLMClient:
        """One client per role and model: the reference model's loopback server, or the role's endpoint with the
        role's key (``llm.endpoints``); each with the response cache in the run's mode."""
        limits = {"deadline_s": self.config.llm_deadline, "breaker": self._breaker}
        if not endpoint.real:
            return LLMClient(base_url=self._reference_url(), model=endpoint.model, endpoint="reference",
                             ledger=self.ledger, cache=self._cache_for(real=False), **limits)  # fmt: skip
        return LLMClient(
            base_url=endpoint.base_url,
            model=endpoint.model,
            endpoint="openai-compatible",
            ledger=self.ledger,
            api_key=endpoint.api_key(),
            cache=self._cache_for(real=True),
            **limits,
        )

    def _cache_for(self, real: bool):
        """The response cache of a client: ``--amb-cache=auto`` reads and writes for real endpoints and is off
        for the reference model (its answers cost nothing and are computed, not sampled)."""
        mode = self.config.cache
        if mode == "auto":
            mode = "readwrite" if real else "off"
        if mode == "off":
            return None
        return ResponseCache(self.config.cache_dir, parse_mode(mode), counters=self._cache_counters)

    def _judge_llm(self) -> LLMClient:
        if self._judge is None:
            self._judge = self._client(self.config.endpoint("judge"))
        return self._judge

    @property
    def agent(self) -> LLMClient:
        if self._agent is None:
            self._agent = self._client(self.config.endpoint("agent"))
        return self._agent

    def _agent_for(self, task, step: Step):
        if self.config.uses_oracle and step.kind == SAMPLE:
            return OracleAgent(task.oracle_replies(step.sample_id))
        return self.agent

    def service(self, name: str):
        """A harness service a task family asked for by name (``TaskFamily.services``)."""
        if name == "judge_llm":
            return self._judge_llm()
        if name == CONTAINER_SERVICE:
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

    def task(self, name: str):
        """The task instance ``name``. Each task source is built on first use, on its own: a source whose build
        fails (e.g. its backend is unreachable) makes only its own steps ERRORs, every time they ask."""
        if self._sources is None:
            self._sources = {index.name: source for source in self.config.tasks for index in registry.indexes(source)}
        source = self._sources[name]
        if source.name not in self._built:
            try:
                family = registry.family(source.family)
                built = family.build(source, registry.load_data(source), self._context(family))
                self._built[source.name] = {task.name: task for task in built}
            except Exception as exc:  # noqa: BLE001 (one task's setup must not cost the other tasks their steps)
                self._built[source.name] = exc
        built = self._built[source.name]
        if isinstance(built, _OUTSIDE):  # its backend is unreachable: the same infrastructure ERROR, as it was
            raise built.with_traceback(None)
        if isinstance(built, Exception):
            raise TaskSetupError(
                f"task '{source.name}' could not be set up ({type(built).__name__}: {built})"
            ) from built
        return built[name]

    def warm_up(self) -> list[tuple[str, Callable[[], str]]]:
        """What this process's first steps would load, as (what, load) in loading order; ``load()`` loads it now
        and returns what it found (a short phrase). Loading early changes only when the time is spent: a failure
        is kept where the steps meet it (the embedder is tried again, the container engine is not)."""
        loaders = {REFERENCE_SERVICE: self._load_reference, CONTAINER_SERVICE: self._load_containers,
                   LLM_SERVICE: self._load_clients, EMBEDDER_SERVICE: self._load_embedder}  # fmt: skip
        return [(label, loaders[name]) for name, label in services_to_load(self.config)]

    def _load_reference(self) -> str:
        from urllib.parse import urlsplit

        return f"on {urlsplit(self._reference_url()).netloc}"

    def _load_containers(self) -> str:
        from pytest_amb.containers.engine import EngineUnavailable

        try:
            engine = self.service(CONTAINER_SERVICE).engine()
        except EngineUnavailable:
            return "none answered: the steps that need one are skipped (the results say how to get one)"
        return f"{engine.name} at {engine.url}"

    def _load_clients(self) -> str:
        """The agent's and the judge's clients (the HTTP library's import), while the embedder loads in the
        background."""
        clients = [self._judge_llm()] if self.config.uses_oracle else [self.agent, self._judge_llm()]
        return f"httpx2 {package_version('httpx2')}, " + ", ".join(dict.fromkeys(c.endpoint for c in clients))

    def _load_embedder(self) -> str:
        runtime = self.embedder().runtime  # waits for the background load
        return f"loaded ({runtime.provenance()['runtime']})"

    def embedder(self):
        """The process's EmbeddingService: the runtime loads in its background thread from the moment this is
        first asked for (``start_embedder``), vectors are cached, and coming steps' texts are embedded ahead."""
        if self._embedder is None:
            from pytest_amb.embedding_service import EmbeddingService, load_runtime
            from pytest_amb.vector_cache import default_directory

            name, runtime = self.config.embedding_model, self.config.embedding_runtime
            cache_dir = default_directory() if self.config.embedding_cache else None
            self._embedder = EmbeddingService(name, lambda: load_runtime(name, runtime), cache_dir, self.config.embed_ahead)
        return self._embedder

    def start_embedder(self) -> None:
        """Start loading the embedding model now when this run's memories embed (it loads in the background)."""
        if any(registry.memory_class(name).needs_embedder for name in self.config.memories):
            self.embedder()

    def _memory_llm(self, name: str) -> LLMClient:
        """The client of a mechanism's own calls: its configured model, else the memory model (``--amb-memory-model``,
        by default the agent's; the reference model when the agent is the oracle, which cannot write prompts)."""
        model = (self.config.memory_overrides.get(name) or {}).get("model") or self.config.memory_llm_model
        if model not in self._memory_clients:
            self._memory_clients[model] = self._client(self.config.endpoint("memory", model))
        return self._memory_clients[model]

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

    # -- memory per stream ---------------------------------------------------------------------------
    def _start_stream(self, step: Step, anchor: int) -> StreamState:
        """The stream's memory in this process; a stream met mid-way (a resumed run, or the rest of a stream
        whose worker crashed) starts from the checkpoint of the learning step before it."""
        state = StreamState(memory=self._new_memory(self.plan.stream(step.stream).memory, step.stream))
        if anchor >= 0:
            state.digest = None
            path = find_checkpoint(self.checkpoints, step.stream, anchor) if self.checkpoints else None
            if path is not None:
                try:
                    state.memory.load(path)
                    state.last_learned, state.digest = anchor, checkpoint_digest(path)
                except Exception as exc:  # noqa: BLE001 (a damaged checkpoint errors the steps that need it)
                    state.last_learned, state.broken = anchor, self._unloadable(path, exc)
            elif self.checkpoints is not None:
                reason = broken_reason(self.checkpoints, step.stream, anchor)
                if reason is not None:
                    state.last_learned, state.broken = anchor, reason
        self._streams[step.stream] = state
        return state

    def _unloadable(self, path: Path, exc: Exception) -> str:
        reason = f"the memory checkpoint {path} cannot be loaded ({type(exc).__name__}: {exc})"
        mark_unusable(path, reason)  # a resume re-runs the step that wrote it instead
        return reason

    def _learning_state(self, step: Step, anchor: int) -> StreamState:
        state = self._streams.get(step.stream) or self._start_stream(step, anchor)
        if state.last_learned != anchor:
            if state.last_learned < 0 and anchor >= 0:
                where = (f"step {step.id} starts from the memory after position {anchor} of its stream "
                         f"({self.plan.stream(step.stream).steps[anchor].id}), and no checkpoint of it exists: "
                         "that step has not completed in this run. ")  # fmt: skip
            else:
                where = (f"step {step.id} follows position {anchor} of its stream, but this process is at position "
                         f"{state.last_learned}. ")  # fmt: skip
            raise StreamOrderError(
                where + "The steps of a stream run in order, in one process: do not deselect parts of a stream "
                "(-k, --deselect, --lf)."
            )
        state.last_learned = step.position  # a step that cannot run still takes its place
        if state.broken is not None:
            if self.checkpoints is not None:
                mark_broken(self.checkpoints, step.stream, step.position, state.broken)
            raise MemoryBroken(f"step {step.id} was not run: it depends on its stream's memory, and {state.broken}")
        return state

    def _frozen_memory(self, step: Step, anchor: int) -> tuple:
        """(memory, digest) a read-only step reads: the stream's own when it is at the right point in this
        process, else the checkpoint of the stream's last learning step before it (fan-out under xdist)."""
        state = self._streams.get(step.stream)
        if state is not None and state.last_learned == anchor:
            if state.broken is not None:
                raise MemoryBroken(f"step {step.id} was not run: it reads its stream's memory, and {state.broken}")
            return state.memory, state.digest
        key = (step.stream, anchor)
        if key not in self._snapshots:
            memory, digest = self._new_memory(self.plan.stream(step.stream).memory, step.stream), INITIAL
            if anchor >= 0:
                path = find_checkpoint(self.checkpoints, step.stream, anchor) if self.checkpoints else None
                if path is None:
                    reason = broken_reason(self.checkpoints, step.stream, anchor) if self.checkpoints else None
                    if reason is not None:
                        raise MemoryBroken(f"step {step.id} was not run: it reads its stream's memory, and {reason}")
                    raise StreamOrderError(
                        f"step {step.id} reads the memory as it was after position {anchor} of its stream, and no "
                        "checkpoint of it exists: that step has not completed in this run"
                    )
                try:
                    memory.load(path)
                except Exception as exc:
                    raise CheckpointError(f"step {step.id} was not run: {self._unloadable(path, exc)}") from exc
                digest = checkpoint_digest(path)
            self._snapshots = {k: v for k, v in self._snapshots.items() if k[0] != step.stream}  # one per stream
            self._snapshots[key] = (memory, digest)
        return self._snapshots[key]

    def _kept_learning_step(self, step: Step, state: StreamState) -> bool:
        """A re-checked learning step (a resumed run) whose journaled attempt read this very memory: its
        result stands, and the memory becomes the one its checkpoint holds."""
        check = self.recheck.get(step.id)
        if not check or check.get("read") is None or check["read"] != state.digest or not self.checkpoints:
            return False
        path = find_checkpoint(self.checkpoints, step.stream, step.position)
        wrote = check.get("wrote")
        if path is None or wrote is None or checkpoint_digest(path) != wrote or tree_digest(path) != wrote:
            return False
        memory = self._new_memory(self.plan.stream(step.stream).memory, step.stream)
        try:
            memory.load(path)
        except Exception:  # noqa: BLE001 (run the step instead)
            return False
        state.memory, state.digest = memory, check["wrote"]
        return True

    def _after_learning(self, step: Step, state: StreamState, watched: Watched) -> None:
        """A learning step ended: checkpoint the memory, or, when its update raised, mark it broken."""
        failure = watched.update_failed
        if failure is not None:
            state.broken = (
                f"step {step.id} failed in its memory update ({type(failure).__name__}: {str(failure)[:300]})"
            )
            state.digest = None
            if self.checkpoints is not None:
                mark_broken(self.checkpoints, step.stream, step.position, state.broken)
        elif self.checkpoints is not None:
            anchor = self.anchors[step.id]
            unchanged = None if watched.changed or anchor < 0 else find_checkpoint(self.checkpoints, step.stream, anchor)
            if unchanged is not None and checkpoint_digest(unchanged) == state.digest:
                state.digest = link_checkpoint(unchanged, self.checkpoints, step.stream, step.position)
            else:
                state.digest = save_checkpoint(state.memory, self.checkpoints, step.stream, step.position)
        else:
            state.digest = None

    # -- steps --------------------------------------------------------------------------------------
    def provenance(self, step: Step) -> dict:
        task = self.task(step.task)
        stream = self.plan.stream(step.stream)
        return {
            "task_backend": task.backend,
            "memory": stream.memory,
            "agent": {"model": self.config.model, "endpoint": ORACLE_MODEL if self.config.uses_oracle else self.agent.endpoint},
            "judge": {"model": self.config.judge_model, "endpoint": self._judge_llm().endpoint},
            "embedder": self._embedder.provenance() if self._embedder is not None else None,
        }  # fmt: skip

    def run(self, step: Step) -> StepResult:
        """Run one step. A learning step (it updates memory) must follow the stream's previous learning step
        in this process; a read-only step needs the memory as of the learning step before it. In a resumed
        run, a re-checked step whose journaled attempt read the very memory it would read now is skipped:
        that result stands. Every result records the digests of the memory it read and left."""
        self.spending.check()  # before anything: a step the budget does not allow is skipped untouched
        anchor = self.anchors[step.id]
        state = None
        if step.update:
            state = self._learning_state(step, anchor)
            if self._kept_learning_step(step, state):
                pytest.skip(KEPT.format(digest=state.digest[:12]))
            memory, read = state.memory, state.digest
        else:
            memory, read = self._frozen_memory(step, anchor)
            check = self.recheck.get(step.id)
            if check and read is not None and check.get("read") == read:
                pytest.skip(KEPT.format(digest=read[:12]))
        self._embed_ahead(step, memory)
        watched = Watched(memory)
        try:
            result = self._execute(step, watched)
        finally:
            if state is not None:
                self._after_learning(step, state, watched)
        result.provenance["memory_state"] = {"read": read, "wrote": state.digest if state is not None else None}
        self.spending.add(result.llm_calls)
        _freeze_once()
        return result

    def _embed_ahead(self, step: Step, memory) -> None:
        """Queue what this step and the next ``EMBED_AHEAD_STEPS`` of its stream will embed (``Memory.texts_ahead``),
        to be embedded while this process waits on the model. Only for tasks already built: preparing never sets
        up an environment. A guess is never a result: vectors are a pure function of the text."""
        if self._embedder is None or not self.config.embed_ahead:
            return
        steps = self.plan.stream(step.stream).steps
        start = max(step.position, self._ahead_until.get(step.stream, 0))
        end = min(len(steps), step.position + 1 + EMBED_AHEAD_STEPS)
        for coming in steps[start:end]:
            built = self._built.get(self._sources[coming.task].name) if self._sources else None
            task = built.get(coming.task) if isinstance(built, dict) else None
            if task is None:
                continue
            try:
                if coming.kind == INJECT:
                    session = session_number(coming.sample_id)
                    texts = memory.texts_ahead(task.session_info(session), task.session_messages(session))
                elif coming.augment and hasattr(task, "sample_info"):
                    texts = memory.texts_ahead(task.sample_info(coming.sample_id))
                else:
                    continue
            except Exception:  # noqa: BLE001,S112 (a guess that cannot be made is not made; the step does the work)
                continue
            self._embedder.ahead(texts)
        self._ahead_until[step.stream] = max(end, start)

    def _execute(self, step: Step, memory) -> StepResult:
        task = self.task(step.task)
        if step.kind == SAMPLE:
            unavailable = _unavailable(task)
            if unavailable:  # the memory is unchanged (and checkpointed); the step itself is skipped
                raise EnvironmentUnavailable(unavailable)
        return run_step(
            step,
            task=task,
            memory=memory,
            agent_llm=self._agent_for(task, step),
            ledger=self.ledger,
            provenance=self.provenance(step),
            infrastructure_errors=INFRASTRUCTURE_ERRORS,
        )

    def close(self) -> None:
        for built in self._built.values():
            for task in built.values() if isinstance(built, dict) else ():
                task.close()
        self._built = {}
        if self._containers is not None:
            self._containers.close()
            self._containers = None
        if self._reference is not None:
            self._reference.stop()
            self._reference = None
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None


_FROZEN = []  # once per process: a process that runs pytest again (pytester) keeps its later runs collectable


def _freeze_once() -> None:
    """After the first step, what it loaded (libraries' classes, the runtimes, the task's data) lives as long as the
    process: out of every later garbage collection, pytest's own at exit included (0.3-0.6 s here)."""
    if not _FROZEN:
        gc.freeze()
        _FROZEN.append(True)


def services_to_load(config: RunConfig) -> list[tuple[str, str]]:
    """(service, label) of what an engine loads on first use for this run, slowest last: the reference server
    when a model, the judge or a memory's model is the reference model; the container engine when a selected
    family declares that service; the LLM clients (importing the SDK while the embedding model loads in the
    background); the embedding model when a selected memory embeds."""
    memories = [registry.memory_class(name) for name in config.memories]
    out = []
    if any(endpoint.model == REFERENCE_MODEL for endpoint in config.endpoints()):
        out.append((REFERENCE_SERVICE, "reference model"))
    if any(CONTAINER_SERVICE in registry.family(family).services for family in config.families):
        out.append((CONTAINER_SERVICE, "container engine"))
    out.append((LLM_SERVICE, "LLM clients"))  # imported while the embedding model loads in the background
    if any(cls.needs_embedder for cls in memories):
        from pytest_amb.embedding import BUNDLED_NAME

        bundled = " (bundled)" if config.embedding_model == BUNDLED_NAME else ""
        out.append((EMBEDDER_SERVICE, f"embedding model {config.embedding_model}{bundled}"))
    return out


def _unavailable(task) -> str | None:
    """Why the task's environment cannot run here (a task may define ``unavailable()``), else None."""
    check = getattr(task, "unavailable", None)
    return check() if check is not None else None
