"""Repair mode (spec §5.7, §6.5): learn from wrong feedback, test, learn from right feedback, test.

Groups: system task = consecutive groups of ``repair_m`` samples of the online order; conversational task = one group
per session (injected first), its questions in shuffled order. In each group
``Random(repair_seed).sample`` picks the reversed samples (system: ``min(repair_n, |group|)``; conversational:
``max(1, floor(|group| · repair_size_locomo))``), one RNG across groups. Each group then runs four
phases over all its samples: ``wrong_learn`` (use + update, the reversed samples' outcome flipped),
``wrong_test`` (use), ``right_learn`` (use + update, true outcome), ``right_test`` (use).

``repair_n`` larger than ``repair_m`` is refused: the original clamped it to the group's size, so it meant
``n = m`` (every sample reversed) without saying so.

Fixed: the original's system-task path called APIs that do not exist [Q19]; a conversation session without
questions crashed the run [Q14] and is now injected and skipped.
"""

from __future__ import annotations

import math
import random

from pytest_amb.interfaces import TaskIndex
from pytest_amb.metrics.repair import repair_metrics
from pytest_amb.metrics.table import Aggregate, Metric, show
from pytest_amb.option_spec import OptionSpec, parse_float, parse_int
from pytest_amb.plan import SAMPLE, Entry, Mode, ModeParams, PlanError, Schedule, inject
from pytest_amb.plan.online import sample_schedule

PHASES = ("wrong_learn", "wrong_test", "right_learn", "right_test")


def schedules(indexes: list[TaskIndex], params: ModeParams, *, seed: int, shuffle: bool) -> list[Schedule]:
    if not 0 < params.repair_size_locomo <= 1:
        raise PlanError(
            f"--amb-repair-size-locomo: {params.repair_size_locomo} is not accepted; give a fraction in (0, 1]"
        )
    if params.repair_m < 1 or params.repair_n < 1:
        raise PlanError("--amb-repair-m and --amb-repair-n: give whole numbers >= 1")
    if params.repair_n > params.repair_m:  # the original clamped n to the group silently: n > m means n = m
        raise PlanError(
            f"--amb-repair-n: {params.repair_n} is larger than --amb-repair-m ({params.repair_m}): at most the "
            f"{params.repair_m} samples of a group can get wrong feedback; give n <= m (n = m: every sample)"
        )
    return [Schedule(i.name, (i.name,), tuple(entries(i, params, seed=seed, shuffle=shuffle))) for i in indexes]


def entries(index: TaskIndex, params: ModeParams, *, seed: int, shuffle: bool) -> list[Entry]:
    repair_rng = random.Random(params.repair_seed)
    out: list[Entry] = []
    if index.conversational:
        rng = random.Random(seed)
        for number, session in enumerate(sorted(index.sessions, key=lambda s: s.session_id), start=1):
            out.append(inject(index.name, session.session_id, phase="inject", stage=number))
            group = list(session.qa_ids)
            if shuffle:
                rng.shuffle(group)
            if group:
                n_reversed = max(1, math.floor(len(group) * params.repair_size_locomo))
                out += _group(index.name, number, group, set(repair_rng.sample(group, n_reversed)))
        return out
    order = [e.sample_id for e in sample_schedule(index, seed=seed, shuffle=shuffle)]
    groups = [order[i : i + params.repair_m] for i in range(0, len(order), params.repair_m)]
    for number, group in enumerate(groups, start=1):
        reversed_ = set(repair_rng.sample(group, min(params.repair_n, len(group))))
        out += _group(index.name, number, group, reversed_)
    return out


def _group(task: str, number: int, group: list[str], reversed_: set[str]) -> list[Entry]:
    out = []
    for phase in PHASES:
        learning = phase.endswith("learn")
        for sample_id in group:
            flip = phase == "wrong_learn" and sample_id in reversed_
            out.append(Entry(task, SAMPLE, sample_id, phase=phase, update=learning, stage=number, flip_reward=flip))
    return out


def _repair_lines(block: dict) -> list[str]:
    return [
        f"  repair ({variant}, n={b['n']}): RG {show(b['rg'], 'points')}, ER {show(b['er'], 'points')} (ours), "
        f"NR {show(b['nr'], 'points')} (ours); before {show(b['before'], 'percent')}, after wrong "
        f"{show(b['wrong_test'], 'percent')}, after right {show(b['right_test'], 'percent')}"
        for variant, b in block.items()
    ]


REPAIR = Aggregate(
    key="repair",
    compute=lambda primary, results: (
        repair_metrics(results) if any(r["step"]["phase"] == "wrong_test" for r in results) else None
    ),
    metrics=(
        Metric("rg", "RG", lambda b: b["full"]["rg"], "points", column=False,
               description="repair gain: success after right feedback minus after wrong feedback",
               short="repair gain"),
        Metric("er", "ER", lambda b: b["full"]["er"], "points", better=None, column=False,
               description="error rate change: how far wrong feedback moved success (ours; 0 = robust)",
               short="wrong-feedback effect"),
        Metric("nr", "NR", lambda b: b["full"]["nr"], "points", column=False,
               description="net repair: success after a wrong-then-right feedback cycle minus before (ours)",
               short="net repair"),
    ),
    lines=_repair_lines,
)  # fmt: skip


MODE = Mode(
    name="repair",
    schedules=schedules,
    aggregates=(REPAIR,),
    params=(
        OptionSpec("repair_m", "repair: samples per group (system tasks)", default="20", metavar="N", parse=parse_int),
        OptionSpec("repair_n", "repair: samples per group given wrong feedback (system tasks)", default="20",
                   metavar="N", parse=parse_int),
        OptionSpec("repair_seed", "repair: seed of the choice of samples given wrong feedback", default="66",
                   metavar="INT", parse=parse_int),
        # the original's name for it; it applies to every conversational task
        OptionSpec("repair_size_locomo", "repair: fraction of a session's questions given wrong feedback "
                   "(conversational tasks), in (0, 1]", default="0.5", metavar="FRACTION", parse=parse_float),
    ),
)  # fmt: skip
