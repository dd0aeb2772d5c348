"""Plans: the streams of steps a run executes, as pure, seeded functions of the configuration.

A stream is one continual-learning sequence with its own memory; its steps must run in order, in one
process. Independent streams (several tasks, memories or seeds) may run anywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pytest_amb.interfaces import TaskIndex

INJECT = "inject"  # write a conversation session into memory; no LLM call
SAMPLE = "sample"  # run one sample of a task as an episode


@dataclass(frozen=True)
class Step:
    stream: str  # stream id
    position: int  # 0-based position in the stream
    task: str  # task instance name
    kind: str  # INJECT or SAMPLE
    sample_id: str  # e.g. "session-3" or "qa-17"
    phase: str  # e.g. "online"
    augment: bool  # the memory rewrites the prompt before the first LLM call
    update: bool  # the memory learns from the outcome

    @property
    def id(self) -> str:
        return f"{self.stream}/{self.position:04d}-{self.sample_id}"

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


@dataclass(frozen=True)
class Plan:
    mode: str
    streams: tuple[Stream, ...]

    def steps(self) -> list[Step]:
        return [step for stream in self.streams for step in stream.steps]

    def stream(self, stream_id: str) -> Stream:
        for stream in self.streams:
            if stream.id == stream_id:
                return stream
        raise KeyError(stream_id)


@dataclass(frozen=True)
class Entry:
    """One schedule entry before it becomes a Step: a session to inject or a sample to run."""

    task: str
    kind: str
    sample_id: str


def stream_id(memory: str, task: str, seed: int, several_seeds: bool) -> str:
    return f"{memory}/{task}" + (f"/seed{seed}" if several_seeds else "")


def build_plan(mode: str, memories, seeds, shuffle: bool, limit: int, indexes: list[TaskIndex]) -> Plan:
    """One stream per (memory, seed, task instance), in that order; ``limit`` keeps the first N steps."""
    from pytest_amb.plan import online

    builders = {"online": online.schedule}
    schedule = builders[mode]
    streams = []
    for memory in memories:
        for seed in seeds:
            for index in indexes:
                sid = stream_id(memory, index.name, seed, len(seeds) > 1)
                entries = schedule(index, seed=seed, shuffle=shuffle)
                if limit:
                    entries = entries[:limit]
                steps = tuple(
                    Step(
                        stream=sid,
                        position=i,
                        task=entry.task,
                        kind=entry.kind,
                        sample_id=entry.sample_id,
                        phase=mode,
                        augment=entry.kind == SAMPLE,
                        update=True,
                    )
                    for i, entry in enumerate(entries)
                )
                streams.append(Stream(sid, (index.name,), memory, seed, steps))
    return Plan(mode, tuple(streams))
