"""Transfer mode (spec §5.5, §6.4).

Cross-task (``--amb-transfer-from A --amb-transfer-to B``, two different system tasks): all of A with
memory use and update (phase ``source``), then all of B with memory use only (phase ``target``), each in
its own ``Random(seed)`` order. For the transfer gain TG a second stream runs B with the baseline memory (role
``baseline``) in the same run.

Forward (``--amb-forward-n n``, without from/to): the task's online stream (phase ``train``); after each
sample is learned, a probe (phase ``forward_test``, use only) of the n-th sample after it. The original
ran a system task's list twice [Q12]; we run it once. For conversations the original also probed questions of
sessions not yet injected [Q17]; we probe only questions whose session has been injected.
"""

from __future__ import annotations

from pytest_amb.interfaces import TaskIndex
from pytest_amb.metrics.table import Aggregate, Metric, show
from pytest_amb.metrics.transfer import forward_transfer_gain
from pytest_amb.option_spec import OptionSpec, parse_int, parse_text
from pytest_amb.plan import BASELINE, INJECT, SAMPLE, Entry, Mode, ModeParams, PlanError, Schedule
from pytest_amb.plan.online import sample_schedule, session_schedule

SOURCE, TARGET, TRAIN, FORWARD = "source", "target", "train", "forward_test"


def schedules(indexes: list[TaskIndex], params: ModeParams, *, seed: int, shuffle: bool) -> list[Schedule]:
    if params.transfer_from or params.transfer_to:
        return cross_task(indexes, params, seed=seed, shuffle=shuffle)
    if params.forward_n < 1:
        raise PlanError(f"--amb-forward-n: {params.forward_n} is not accepted; give a whole number >= 1")
    return [
        Schedule(i.name, (i.name,), tuple(forward(i, params.forward_n, seed=seed, shuffle=shuffle))) for i in indexes
    ]


def cross_task(indexes: list[TaskIndex], params: ModeParams, *, seed: int, shuffle: bool) -> list[Schedule]:
    by_name = {index.name: index for index in indexes}
    for option, name in (("--amb-transfer-from", params.transfer_from), ("--amb-transfer-to", params.transfer_to)):
        if not name:
            raise PlanError(
                f"{option}: missing; cross-task transfer needs both --amb-transfer-from and --amb-transfer-to"
            )
        if name not in by_name:
            raise PlanError(f"{option}: '{name}' is not a selected task; add it to --amb-task ({', '.join(by_name)})")
        if by_name[name].conversational:
            raise PlanError(f"{option}: '{name}' is a conversation; cross-task transfer is between system tasks")
    if params.transfer_from == params.transfer_to:
        raise PlanError("--amb-transfer-to: equals --amb-transfer-from; for transfer within a task use --amb-forward-n")
    source, target = by_name[params.transfer_from], by_name[params.transfer_to]
    learn = [_as(e, SOURCE, update=True) for e in sample_schedule(source, seed=seed, shuffle=shuffle)]
    probe = [_as(e, TARGET, update=False) for e in sample_schedule(target, seed=seed, shuffle=shuffle)]
    tasks = (source.name, target.name)
    name = f"transfer:{source.name}->{target.name}"
    return [
        Schedule(name, tasks, tuple(learn + probe)),
        Schedule(target.name, (target.name,), tuple(probe), role=BASELINE),
    ]


def forward(index: TaskIndex, n: int, *, seed: int, shuffle: bool) -> list[Entry]:
    base = (
        session_schedule(index, seed=seed, shuffle=shuffle)
        if index.conversational
        else sample_schedule(index, seed=seed, shuffle=shuffle)
    )
    injected_before: list[set[str]] = []  # sessions injected up to each position
    injected: set[str] = set()
    for entry in base:
        if entry.kind == INJECT:
            injected.add(entry.sample_id)
        injected_before.append(set(injected))
    session_of = _session_of(index)
    samples = [p for p, e in enumerate(base) if e.kind == SAMPLE]
    out: list[Entry] = []
    for position, entry in enumerate(base):
        if entry.kind == INJECT:
            out.append(entry)
            continue
        out.append(_as(entry, TRAIN, update=True))
        later = [p for p in samples if p > position]
        if len(later) < n:
            continue
        target = base[later[n - 1]]
        if index.conversational and session_of[target.sample_id] not in injected_before[position]:
            continue  # its session is not in memory yet [Q17]
        out.append(Entry(target.task, SAMPLE, target.sample_id, phase=FORWARD, update=False, probe_of=entry.sample_id))
    return out


def _session_of(index: TaskIndex) -> dict[str, str]:
    return {qa: f"session-{s.session_id}" for s in index.sessions for qa in s.qa_ids}


def _as(entry: Entry, phase: str, *, update: bool) -> Entry:
    return Entry(entry.task, entry.kind, entry.sample_id, phase=phase, update=update)


def _forward_lines(block: dict) -> list[str]:
    return [f"  forward transfer: FTG {show(block['ftg'], 'signed')} (n={block['n']} probe pairs)"]


FORWARD_TRANSFER = Aggregate(
    key="forward_transfer",
    compute=lambda primary, results: (
        forward_transfer_gain(results) if any(r["step"]["phase"] == FORWARD for r in results) else None
    ),
    metrics=(
        Metric("ftg", "FTG", lambda b: b["ftg"], "signed", column=False,
               description="forward transfer gain: change of a later sample's reward once the one before is learned",
               short="forward transfer gain"),
    ),
    lines=_forward_lines,
)  # fmt: skip


MODE = Mode(
    name="transfer",
    schedules=schedules,
    aggregates=(FORWARD_TRANSFER,),
    params=(
        OptionSpec("transfer_from", "transfer: source task (cross-task transfer)", metavar="TASK", parse=parse_text),
        OptionSpec("transfer_to", "transfer: target task (cross-task transfer)", metavar="TASK", parse=parse_text),
        OptionSpec("forward_n", "transfer without from/to: probe the n-th sample after each learned one (forward "
                   "transfer)", default="3", metavar="N", parse=parse_int),
    ),
    fan_out_phases=(TARGET, FORWARD),
)  # fmt: skip
