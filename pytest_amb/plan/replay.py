"""Replay mode (spec §5.6, §6.3): learn in stages; after each training sample an immediate test of the
same sample; after each stage a replay test of samples learned so far (forgetting).

System task: stages of ``replay_m`` training samples (online order); after stage r,
``Random(replay_seed).sample(learned, min(replay_n, |learned|))`` from every sample learned so far,
one RNG across stages, exactly as the original. Conversational task: one stage per session (its injection, then its
questions). The original re-tested only the current session's questions, so forgetting could not show
[Q13]; we draw the replay test from all questions learned so far, as for system tasks.
"""

from __future__ import annotations

import random

from pytest_amb.interfaces import TaskIndex
from pytest_amb.metrics.replay import forgetting
from pytest_amb.metrics.table import Aggregate, Metric, show
from pytest_amb.option_spec import OptionSpec, parse_int
from pytest_amb.plan import SAMPLE, Entry, Mode, ModeParams, PlanError, Schedule, inject
from pytest_amb.plan.online import sample_schedule

TRAIN, IMMEDIATE, REPLAY = "train", "immediate_test", "replay_test"


def schedules(indexes: list[TaskIndex], params: ModeParams, *, seed: int, shuffle: bool) -> list[Schedule]:
    if params.replay_m < 1:
        raise PlanError(f"--amb-replay-m: {params.replay_m} is not accepted; give at least 1 sample per stage")
    if params.replay_n < 1:
        raise PlanError(f"--amb-replay-n: {params.replay_n} is not accepted; give at least 1 replay test per stage")
    out = []
    for index in indexes:
        if params.replay_n > len(index.sample_ids):
            raise PlanError(
                f"--amb-replay-n: {params.replay_n} replay tests per stage, but '{index.name}' has only "
                f"{len(index.sample_ids)} samples to learn; give at most {len(index.sample_ids)}"
            )
        stages = (
            _locomo_stages(index, seed, shuffle)
            if index.conversational
            else _system_stages(index, params, seed, shuffle)
        )
        out.append(Schedule(index.name, (index.name,), tuple(_entries(index.name, stages, params))))
    return out


def _system_stages(
    index: TaskIndex, params: ModeParams, seed: int, shuffle: bool
) -> list[tuple[list[Entry], list[str]]]:
    order = [e.sample_id for e in sample_schedule(index, seed=seed, shuffle=shuffle)]
    batches = [order[i : i + params.replay_m] for i in range(0, len(order), params.replay_m)]
    return [([], batch) for batch in batches]


def _locomo_stages(index: TaskIndex, seed: int, shuffle: bool) -> list[tuple[list[Entry], list[str]]]:
    rng = random.Random(seed)
    stages = []
    for number, session in enumerate(sorted(index.sessions, key=lambda s: s.session_id), start=1):
        qa_ids = list(session.qa_ids)
        if shuffle:
            rng.shuffle(qa_ids)
        stages.append(([inject(index.name, session.session_id, phase=TRAIN, stage=number)], qa_ids))
    return stages


def _entries(task: str, stages, params: ModeParams) -> list[Entry]:
    test_rng = random.Random(params.replay_seed)
    learned: list[str] = []
    out: list[Entry] = []
    for number, (injections, batch) in enumerate(stages, start=1):
        out += injections
        for sample_id in batch:
            out.append(Entry(task, SAMPLE, sample_id, phase=TRAIN, stage=number))
            out.append(Entry(task, SAMPLE, sample_id, phase=IMMEDIATE, update=False, stage=number))
        learned += batch
        if learned:
            for sample_id in test_rng.sample(learned, min(params.replay_n, len(learned))):
                out.append(Entry(task, SAMPLE, sample_id, phase=REPLAY, update=False, stage=number))
    return out


def _replay_lines(block: dict) -> list[str]:
    line = (
        f"  replay: FR {show(block['fr'], 'percent_value')} over {len(block['per_stage'])} stages (n={block['n']}); "
        f"immediate {show(block['immediate']['mean'], 'percent')}, replay {show(block['replay']['mean'], 'percent')} "
        f"(n={block['replay']['n']})"
    )
    return [line]


FORGETTING = Aggregate(
    key="replay",
    compute=lambda primary, results: forgetting(results) if any(r["step"]["phase"] == REPLAY for r in results) else None,
    metrics=(
        Metric("fr", "FR", lambda b: b["fr"], "percent_value", better="lower", column=False,
               description="forgetting rate: % of later replay tests failed on samples solved right after learning",
               short="forgetting rate"),
    ),
    lines=_replay_lines,
)  # fmt: skip


MODE = Mode(
    name="replay",
    schedules=schedules,
    aggregates=(FORGETTING,),
    params=(
        OptionSpec("replay_m", "replay: training samples per stage (system tasks)", default="20", metavar="N",
                   parse=parse_int),
        OptionSpec("replay_n", "replay: replay tests after each stage", default="20", metavar="N", parse=parse_int),
        OptionSpec("replay_seed", "replay: seed of the replay-test draws", default="66", metavar="INT",
                   parse=parse_int),
    ),
    fan_out_phases=(IMMEDIATE, REPLAY),
)  # fmt: skip
