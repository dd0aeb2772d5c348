"""Plans: the streams of steps a run executes, as pure, seeded functions of the configuration.

A stream is one continual-learning sequence with its own memory; its steps must run in order, in one
process. Independent streams (several tasks, memories or seeds) may run anywhere. Each mode has its own
module (``online``, ``offline``, ``replay``, ``transfer``, ``repair``) that turns task indexes into
``Schedule``s; ``build_plan`` attaches memories and seeds and numbers the steps.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cache

from pytest_amb.interfaces import TaskIndex
from pytest_amb.option_spec import OptionSpec

BASELINE = "baseline"  # a transfer run's reference stream: the target task with the baseline memory
INJECT = "inject"  # write a conversation session into memory; no LLM call
SAMPLE = "sample"  # run one sample of a task as an episode
MODES = ("offline", "online", "replay", "transfer", "repair")


class PlanError(ValueError):
    """Mode parameters that cannot make a plan; the message names the option and what to do."""


@dataclass(frozen=True)
class Mode:
    """Everything about one evaluation mode, declared in its own module ``plan/<mode>.py``: its parameters
    (options with ini and ``AMB_*`` twins), its schedules (pure and seeded), the phases whose read-only
    steps may fan out to other xdist workers, and its own metrics (``metrics.table.Aggregate``)."""

    name: str
    schedules: Callable  # (indexes, params, *, seed, shuffle) -> list[Schedule]
    params: tuple[OptionSpec, ...] = ()
    fan_out_phases: tuple[str, ...] = ()
    aggregates: tuple = ()
    only_here: Mapping[str, str] = field(default_factory=dict)  # parameter -> hint when it is set in another mode


@cache
def modes() -> dict[str, Mode]:
    return {name: importlib.import_module(f"pytest_amb.plan.{name}").MODE for name in MODES}


class ModeParams:
    """The values of every mode's parameters (declared defaults, overridden by keyword), read as attributes."""

    def __init__(self, **values):
        specs = {spec.name: spec for mode in modes().values() for spec in mode.params}
        unknown = set(values) - set(specs)
        if unknown:
            raise TypeError(f"unknown mode parameters: {', '.join(sorted(unknown))}")
        self._values = {name: spec.parse(spec.default) for name, spec in specs.items()} | values

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def of(self, mode: str) -> dict:
        """The parameters ``mode`` reads, by name (they enter the configuration and its hash)."""
        return {spec.name: self._values[spec.name] for spec in modes()[mode].params}

    def __eq__(self, other) -> bool:
        return isinstance(other, ModeParams) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return f"ModeParams({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"


@dataclass(frozen=True)
class Entry:
    """One schedule entry before it becomes a Step."""

    task: str
    kind: str  # INJECT or SAMPLE
    sample_id: str
    phase: str = ""  # "" = the mode's name
    augment: bool = True  # the memory rewrites the prompt before the first LLM call
    update: bool = True  # the memory learns from the outcome
    stage: int = 0  # replay stage or repair group (1-based); 0 = none
    flip_reward: bool = False  # repair: the memory is told the opposite outcome
    probe_of: str = ""  # forward transfer: the sample just learned before this probe


def inject(task: str, session_id: int, phase: str = "", stage: int = 0) -> Entry:
    return Entry(task, INJECT, f"session-{session_id}", phase=phase, augment=False, update=True, stage=stage)


@dataclass(frozen=True)
class Schedule:
    """One stream's entries, before a memory and a seed are attached."""

    name: str  # the task part of the stream id
    tasks: tuple[str, ...]
    entries: tuple[Entry, ...]
    role: str = ""  # "" or BASELINE


@dataclass(frozen=True)
class Step:
    stream: str  # stream id
    position: int  # 0-based position in the stream
    task: str  # task instance name
    kind: str  # INJECT or SAMPLE
    sample_id: str  # e.g. "session-3" or "qa-17"
    phase: str  # e.g. "online", "train", "immediate_test"
    augment: bool
    update: bool
    stage: int = 0
    flip_reward: bool = False
    probe_of: str = ""

    @property
    def id(self) -> str:
        label = self.sample_id if self.phase in ("online", "") else f"{self.phase}-{self.sample_id}"
        return f"{self.stream}/{self.position:04d}-{label}"

    @property
    def memory_op(self) -> str:
        return "+".join(op for op, on in (("augment", self.augment), ("update", self.update)) if on)

    def to_json(self) -> dict:
        return {"id": self.id, **asdict(self), "memory_op": self.memory_op}


@dataclass(frozen=True)
class Stream:
    id: str
    tasks: tuple[str, ...]
    memory: str
    seed: int
    steps: tuple[Step, ...]
    role: str = ""


@dataclass(frozen=True)
class Plan:
    mode: str
    streams: tuple[Stream, ...]
    params: ModeParams = field(default_factory=ModeParams)

    @property
    def fan_out_phases(self) -> tuple[str, ...]:
        return modes()[self.mode].fan_out_phases

    def steps(self) -> list[Step]:
        return [step for stream in self.streams for step in stream.steps]

    def stream(self, stream_id: str) -> Stream:
        for stream in self.streams:
            if stream.id == stream_id:
                return stream
        raise KeyError(stream_id)


def memory_anchors(steps) -> list[int]:
    """For each step, the position of the last step before it that updates memory (-1: none). A step
    that only reads memory can run from the checkpoint taken after that step."""
    anchors, last = [], -1
    for step in steps:
        anchors.append(last)
        if step.update:
            last = step.position
    return anchors


def stream_id(memory: str, name: str, seed: int, several_seeds: bool) -> str:
    return f"{memory}/{name}" + (f"/seed{seed}" if several_seeds else "")


def build_plan(
    mode: str,
    memories,
    seeds,
    shuffle: bool,
    limit: int,
    indexes: list[TaskIndex],
    params: ModeParams | None = None,
    baseline_memory: str | None = None,
) -> Plan:
    """One stream per (memory, seed, schedule of the mode); ``limit`` keeps the first N steps of each. A
    BASELINE schedule runs with ``baseline_memory`` (default: the installed mechanism that learns nothing)."""
    if mode not in MODES:
        raise PlanError(f"unknown mode '{mode}'; accepted: {', '.join(MODES)}")
    params = params or ModeParams()
    schedules = modes()[mode].schedules
    streams: dict[str, Stream] = {}
    for memory in memories:
        for seed in seeds:
            for schedule in schedules(indexes, params, seed=seed, shuffle=shuffle):
                if schedule.role == BASELINE and baseline_memory is None:
                    from pytest_amb import registry

                    baseline_memory = registry.baseline_memory()
                owner = baseline_memory if schedule.role == BASELINE else memory
                name = schedule.name + (f"/{BASELINE}" if schedule.role == BASELINE else "")
                sid = stream_id(owner, name, seed, len(seeds) > 1)
                if sid in streams:
                    continue  # a baseline shared by several memories runs once
                entries = schedule.entries[:limit] if limit else schedule.entries
                steps = tuple(
                    Step(stream=sid, position=i, **asdict(replace(e, phase=e.phase or mode)))
                    for i, e in enumerate(entries)
                )
                streams[sid] = Stream(sid, schedule.tasks, owner, seed, steps, schedule.role)
    return Plan(mode, tuple(streams.values()), params)
