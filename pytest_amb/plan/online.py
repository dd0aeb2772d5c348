"""Online mode: every sample uses and updates memory, in schedule order (spec §5.1, §5.2, §6.2)."""

from __future__ import annotations

import random

from pytest_amb.interfaces import TaskIndex
from pytest_amb.plan import INJECT, SAMPLE, Entry


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
        entries.append(Entry(index.name, INJECT, f"session-{session.session_id}"))
        qa_ids = list(session.qa_ids)
        if shuffle:
            rng.shuffle(qa_ids)
        entries.extend(Entry(index.name, SAMPLE, qa) for qa in qa_ids)
    return entries


def sample_schedule(index: TaskIndex, *, seed: int, shuffle: bool) -> list[Entry]:
    """The original's default scheduler for one task (cases A and B of §5.1)."""
    sample_ids = list(index.sample_ids)
    if shuffle:
        random.Random(seed).shuffle(sample_ids)
    return [Entry(index.name, SAMPLE, s) for s in sample_ids]
