"""Offline mode (spec §5.4, §6.1): a train phase that only writes memory, then a test phase that only
reads it (frozen: no updates).

System task: the online order split at ``floor(N · train_size)``; train samples run without memory and
update it, test samples use it. Conversational task: train = every session injected in order, test = every askable
question (sessions in order, then one ``Random(seed)`` shuffle). The original shuffled the test list a
second time with the same seed and reseeded the global RNG [Q11]; we shuffle once.
"""

from __future__ import annotations

import math
import random

from pytest_amb.interfaces import TaskIndex
from pytest_amb.option_spec import OptionSpec, parse_float
from pytest_amb.plan import SAMPLE, Entry, Mode, ModeParams, PlanError, Schedule, inject
from pytest_amb.plan.online import sample_schedule


def schedules(indexes: list[TaskIndex], params: ModeParams, *, seed: int, shuffle: bool) -> list[Schedule]:
    if not 0 < params.train_size < 1:
        raise PlanError(f"--amb-train-size: {params.train_size} is not accepted; give a fraction between 0 and 1")
    return [
        Schedule(index.name, (index.name,), tuple(entries(index, params, seed=seed, shuffle=shuffle)))
        for index in indexes
    ]


def entries(index: TaskIndex, params: ModeParams, *, seed: int, shuffle: bool) -> list[Entry]:
    if index.conversational:
        sessions = sorted(index.sessions, key=lambda s: s.session_id)
        questions = [q for s in sessions for q in s.qa_ids]
        if shuffle:
            random.Random(seed).shuffle(questions)
        train = [inject(index.name, s.session_id, phase="train") for s in sessions]
        return train + [test(index.name, q) for q in questions]
    order = sample_schedule(index, seed=seed, shuffle=shuffle)
    split = math.floor(len(order) * params.train_size)
    train = [Entry(e.task, SAMPLE, e.sample_id, phase="train", augment=False, update=True) for e in order[:split]]
    return train + [test(e.task, e.sample_id) for e in order[split:]]


def test(task: str, sample_id: str) -> Entry:
    return Entry(task, SAMPLE, sample_id, phase="test", augment=True, update=False)


MODE = Mode(
    name="offline",
    schedules=schedules,
    params=(
        OptionSpec("train_size", "offline: fraction of a system task's samples in the train phase", default="0.6",
                   metavar="FRACTION", parse=parse_float),
    ),
    fan_out_phases=("test",),
)  # fmt: skip
