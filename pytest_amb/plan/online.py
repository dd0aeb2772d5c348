"""Online mode: every sample uses and updates memory, in schedule order (spec §5.1–§5.3, §6.2).

Without ``--amb-cross-task`` each task instance is its own stream. With it, all selected tasks share one
stream and one memory: system tasks only are interleaved by one global shuffle (§5.1 case C); conversations
with system tasks follows the original's mixed schedule (§5.3).
"""

from __future__ import annotations

import random

from pytest_amb.interfaces import TaskIndex
from pytest_amb.option_spec import OptionSpec, parse_bool
from pytest_amb.plan import SAMPLE, Entry, Mode, ModeParams, PlanError, Schedule, inject


def schedules(indexes: list[TaskIndex], params: ModeParams, *, seed: int, shuffle: bool) -> list[Schedule]:
    if not params.cross_task:
        return [
            Schedule(index.name, (index.name,), tuple(schedule(index, seed=seed, shuffle=shuffle))) for index in indexes
        ]
    if len(indexes) < 2:
        raise PlanError("--amb-cross-task: needs at least two task instances in --amb-task")
    names = tuple(index.name for index in indexes)
    conversational = [i for i in indexes if i.conversational]
    systems = [i for i in indexes if not i.conversational]
    if conversational and systems:
        entries = mixed_schedule(conversational, systems, seed=seed, shuffle=shuffle)
    elif conversational:
        raise PlanError(
            "--amb-cross-task: conversations need at least one system task (one without sessions) to mix with"
        )
    else:
        if not shuffle:
            raise PlanError("--amb-cross-task: interleaving system tasks needs --amb-shuffle=true (as the original)")
        entries = global_shuffle(systems, seed=seed)
    return [Schedule("cross:" + "+".join(names), names, tuple(entries))]


def schedule(index: TaskIndex, *, seed: int, shuffle: bool) -> list[Entry]:
    if index.conversational:
        return session_schedule(index, seed=seed, shuffle=shuffle)
    return sample_schedule(index, seed=seed, shuffle=shuffle)


def session_schedule(index: TaskIndex, *, seed: int, shuffle: bool) -> list[Entry]:
    """The original's ``build_locomo_session_schedule``: for each session in ascending order, its
    injection, then its askable QAs (file order, or shuffled with one RNG shared across sessions).
    Sessions without QAs are still injected."""
    rng = random.Random(seed)
    entries: list[Entry] = []
    for session in sorted(index.sessions, key=lambda s: s.session_id):
        entries.append(inject(index.name, session.session_id))
        qa_ids = list(session.qa_ids)
        if shuffle:
            rng.shuffle(qa_ids)
        entries.extend(Entry(index.name, SAMPLE, qa) for qa in qa_ids)
    return entries


def sample_schedule(index: TaskIndex, *, seed: int, shuffle: bool) -> list[Entry]:
    """The original's default scheduler for one task (cases A and B of §5.1)."""
    return [Entry(index.name, SAMPLE, s) for s in shuffled(index.sample_ids, seed=seed, shuffle=shuffle)]


def shuffled(items, *, seed: int, shuffle: bool) -> list:
    """A copy of ``items``, shuffled with a fresh ``Random(seed)`` when ``shuffle`` is on."""
    items = list(items)
    if shuffle:
        random.Random(seed).shuffle(items)
    return items


def global_shuffle(indexes: list[TaskIndex], *, seed: int) -> list[Entry]:
    """§5.1 case C: every (task, sample) pair in task order, then one ``Random(seed).shuffle``."""
    pairs = [Entry(index.name, SAMPLE, s) for index in indexes for s in index.sample_ids]
    random.Random(seed).shuffle(pairs)
    return pairs


def mixed_schedule(
    conversations: list[TaskIndex], systems: list[TaskIndex], *, seed: int, shuffle: bool
) -> list[Entry]:
    """§5.3 ``build_mixed_schedule``, with the RNG used exactly as the original. Fixed: a session without
    questions is still injected, at the point the original skipped it [Q10]. Several conversations are
    taken one after the other, as one list of sessions (the original allows one)."""
    rng = random.Random(seed)
    pool = [Entry(index.name, SAMPLE, s) for index in systems for s in index.sample_ids]
    if shuffle:
        rng.shuffle(pool)
    sessions = [(c.name, s) for c in conversations for s in sorted(c.sessions, key=lambda s: s.session_id)]
    qa_map = []
    for _, session in sessions:
        qa_ids = list(session.qa_ids)
        if shuffle:
            rng.shuffle(qa_ids)
        qa_map.append(qa_ids)
    out: list[Entry] = []
    p = 0
    for i, ((name, session), qa_ids) in enumerate(zip(sessions, qa_map)):
        marker = inject(name, session.session_id)
        questions = [Entry(name, SAMPLE, q) for q in qa_ids]
        if not qa_ids:
            out.append(marker)  # the original skips it entirely [Q10]
            continue
        remaining = len(pool) - p
        if remaining <= 0:
            out += [marker, *questions]
            continue
        cnt = remaining if i == len(sessions) - 1 else max(1, remaining // (len(sessions) - i))
        start, end = p, min(p + cnt, len(pool))
        off = rng.randint(0, max(1, cnt // 2)) if cnt > 1 else 0
        while p < start + off and p < end:
            out.append(pool[p])
            p += 1
        out.append(marker)
        for interval, question in zip(_intervals(end - p, len(questions), rng), questions):
            for _ in range(interval):
                if p >= end:
                    break
                out.append(pool[p])
                p += 1
            out.append(question)
    out += pool[p:]
    return out


def _intervals(rem: int, k: int, rng: random.Random) -> list[int]:
    if rem <= 0:
        return [0] * k
    if k == 1:
        return [rem]
    b = rem // (k + 1)
    left, intervals = rem, []
    for i in range(k - 1):
        iv = b + rng.randint(-b // 2, b // 2)
        iv = max(1, min(iv, left - (k - i - 1)))
        left -= iv
        intervals.append(iv)
    return [*intervals, left]


MODE = Mode(
    name="online",
    schedules=schedules,
    params=(
        OptionSpec("cross_task", "online: all selected tasks in one stream sharing one memory (true/false)",
                   default="false", metavar="BOOL", parse=parse_bool),
    ),
    only_here={"cross_task": "for transfer use --amb-transfer-from/-to"},
)  # fmt: skip
