"""Plans: the streams of steps a run executes, as pure, seeded functions of the configuration.

A stream is one continual-learning sequence with its own memory; its steps must run in order, in one
process. Independent streams (several tasks, memories or seeds) may run anywhere. Each mode has its own
module (``online``, ``offline``, ``replay``, ``transfer``, ``repair``) that turns task indexes into
``Schedule``s; ``build_plan`` attaches memories and seeds and numbers the steps.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field, replace

from pytest_amb.interfaces import TaskIndex

INJECT = "inject"  # write a conversation session into memory; no LLM call
SAMPLE = "sample"  # run one sample of a task as an episode
MODES = ("offline", "online", "replay", "transfer", "repair")


class PlanError(ValueError):
    """Mode parameters that cannot make a plan; the message names the option and what to do."""


@dataclass(frozen=True)
class ModeParams:
    """The original's experiment parameters (shipped ``default.yaml`` values as defaults)."""

    train_size: float = 0.6
    cross_task: bool = False
    replay_m: int = 20
    replay_n: int = 20
    replay_seed: int = 66
    transfer_from: str = ""
    transfer_to: str = ""
    forward_n: int = 3
    repair_m: int = 20
    repair_n: int = 20
    repair_seed: int = 66
    repair_size_locomo: float = 0.5


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
    role: str = ""  # "" or "baseline" (the zero_shot reference stream of a transfer run)
    memory: str = ""  # a fixed memory ("" = the configured one)


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
) -> Plan:
    """One stream per (memory, seed, schedule of the mode); ``limit`` keeps the first N steps of each."""
    if mode not in MODES:
        raise PlanError(f"unknown mode '{mode}'; accepted: {', '.join(MODES)}")
    params = params or ModeParams()
    module = importlib.import_module(f"pytest_amb.plan.{mode}")
    streams: dict[str, Stream] = {}
    for memory in memories:
        for seed in seeds:
            for schedule in module.schedules(indexes, params, seed=seed, shuffle=shuffle):
                owner = schedule.memory or memory
                name = schedule.name + ("/baseline" if schedule.role == "baseline" else "")
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
