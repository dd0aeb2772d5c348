"""The schedules of every mode, against orders computed by hand from the spec with CPython ``random``."""

import math
import random

import pytest

from pytest_amb.interfaces import SessionInfo, TaskIndex
from pytest_amb.plan import INJECT, SAMPLE, ModeParams, PlanError, build_plan
from pytest_amb.plan.online import mixed_schedule

DB = TaskIndex("db", "dbbench", tuple(f"s{i}" for i in range(10)))
DB2 = TaskIndex("db2", "dbbench", ("t0", "t1", "t2"))
CONV = TaskIndex(
    "conv",
    "locomo",
    ("qa-0", "qa-1", "qa-2", "qa-3", "qa-4"),
    (SessionInfo(1, "", ("qa-0", "qa-1", "qa-2")), SessionInfo(2, "", ()), SessionInfo(3, "", ("qa-3", "qa-4"))),
)


def plan(mode, indexes, seed=66, shuffle=True, memories=("stream_icl",), **params):
    return build_plan(mode, list(memories), [seed], shuffle, 0, indexes, ModeParams(**params))


def rows(stream):
    return [(s.phase, s.sample_id, s.augment, s.update) for s in stream.steps]


def shuffled(items, seed):
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def test_offline_system_task_splits_the_online_order():
    order = shuffled(DB.sample_ids, 66)
    split = math.floor(10 * 0.6)
    (stream,) = plan("offline", [DB], train_size=0.6).streams
    assert rows(stream) == [("train", s, False, True) for s in order[:split]] + [
        ("test", s, True, False) for s in order[split:]
    ]


def test_offline_locomo_injects_every_session_then_tests_every_question_shuffled_once():
    (stream,) = plan("offline", [CONV]).streams
    questions = shuffled(["qa-0", "qa-1", "qa-2", "qa-3", "qa-4"], 66)  # once, not twice [Q11]
    assert [s.sample_id for s in stream.steps] == ["session-1", "session-2", "session-3", *questions]
    assert all(not s.update for s in stream.steps if s.kind == SAMPLE)


def test_online_cross_task_system_tasks_are_one_global_shuffle():
    (stream,) = plan("online", [DB, DB2], cross_task=True).streams
    pairs = [("db", s) for s in DB.sample_ids] + [("db2", s) for s in DB2.sample_ids]
    assert [(s.task, s.sample_id) for s in stream.steps] == shuffled(pairs, 66)
    assert stream.id == "stream_icl/cross:db+db2"


def test_mixed_schedule_uses_the_rng_as_the_original_and_still_injects_empty_sessions():
    pool = ["t0", "t1", "t2"]  # shuffle off: only the randint draws use the RNG
    rng = random.Random(5)
    # session 1 (i=0, 3 sessions): remaining 3, cnt = max(1, 3 // 3) = 1, end = 1, off = 0 (cnt == 1)
    # rem = 1 with 3 QAs: b = 1 // 4 = 0; iv = 0 + randint(0, 0) -> clamp max(1, min(0, left - 2)) = 1? left=1 -> min(0,-1)=-1 -> 1
    rng.randint(0, 0)
    # second QA: left = 0 -> iv = max(1, min(0 + randint(0,0), 0 - 0)) = 1 ; left = -1 ; last QA gets -1 (none)
    rng.randint(0, 0)
    # session 2 has no QAs: injected in place [Q10]
    # session 3 (i=2, last): remaining 2, cnt = 2, end = 3, off = randint(0, 1)
    off = rng.randint(0, 1)
    expected = ["session-1", "t0", "qa-0", "qa-1", "qa-2", "session-2"]
    expected += pool[1 : 1 + off] + ["session-3"]
    # rem = 3 - (1 + off) with 2 QAs: b = rem // 3 = 0 -> iv = max(1, min(0 + randint(0, 0), rem - 1))
    rem = 3 - (1 + off)
    iv = max(1, min(0 + rng.randint(0, 0), rem - 1))
    rest = pool[1 + off :]
    expected += rest[:iv] + ["qa-3"] + rest[iv : iv + (rem - iv)] + ["qa-4"] + rest[iv + max(rem - iv, 0) :]
    entries = mixed_schedule([CONV], [DB2], seed=5, shuffle=False)
    assert [e.sample_id for e in entries] == expected
    assert sorted(e.sample_id for e in entries if e.kind == SAMPLE) == sorted(["t0", "t1", "t2", *CONV.sample_ids])


def test_replay_system_task_stages_immediate_tests_and_replay_draws():
    (stream,) = plan("replay", [DB], replay_m=4, replay_n=3, replay_seed=7).streams
    order = shuffled(DB.sample_ids, 66)
    test_rng = random.Random(7)
    expected, learned = [], []
    for stage, start in enumerate(range(0, 10, 4), start=1):
        batch = order[start : start + 4]
        for s in batch:
            expected += [("train", s, stage), ("immediate_test", s, stage)]
        learned += batch
        expected += [("replay_test", s, stage) for s in test_rng.sample(learned, min(3, len(learned)))]
    assert [(s.phase, s.sample_id, s.stage) for s in stream.steps] == expected
    assert all(s.update == (s.phase == "train") for s in stream.steps)


def test_locomo_replay_tests_questions_of_earlier_sessions():
    (stream,) = plan("replay", [CONV], replay_n=5, replay_seed=1).streams
    last_stage_tests = {s.sample_id for s in stream.steps if s.phase == "replay_test" and s.stage == 3}
    assert last_stage_tests == set(CONV.sample_ids)  # not only session 3's questions [Q13]
    assert [s.sample_id for s in stream.steps if s.kind == INJECT] == ["session-1", "session-2", "session-3"]


def test_cross_task_transfer_learns_the_source_then_probes_the_target_with_a_zero_shot_baseline():
    transfer, baseline = plan("transfer", [DB, DB2], transfer_from="db", transfer_to="db2").streams
    source = [("source", s, True, True) for s in shuffled(DB.sample_ids, 66)]
    target = [("target", s, True, False) for s in shuffled(DB2.sample_ids, 66)]
    assert rows(transfer) == source + target
    assert baseline.memory == "zero_shot" and baseline.role == "baseline" and rows(baseline) == target
    assert baseline.id == "zero_shot/db2/baseline"


def test_forward_transfer_runs_each_sample_once_and_probes_the_nth_later_one():
    (stream,) = plan("transfer", [DB], forward_n=2).streams
    order = shuffled(DB.sample_ids, 66)
    expected = []
    for i, s in enumerate(order):
        expected.append(("train", s, ""))
        if i + 2 < len(order):
            expected.append(("forward_test", order[i + 2], s))
    assert [(s.phase, s.sample_id, s.probe_of) for s in stream.steps] == expected  # no second pass [Q12]


def test_forward_transfer_on_locomo_probes_only_questions_already_injected():
    (stream,) = plan("transfer", [CONV], forward_n=1, shuffle=False).streams
    probes = [(s.probe_of, s.sample_id) for s in stream.steps if s.phase == "forward_test"]
    # qa-2 is last of session 1: its next question qa-3 belongs to session 3, not yet injected [Q17]
    assert probes == [("qa-0", "qa-1"), ("qa-1", "qa-2"), ("qa-3", "qa-4")]


def test_repair_system_task_groups_reversed_draws_and_four_phases():
    (stream,) = plan("repair", [DB], repair_m=4, repair_n=2, repair_seed=9).streams
    order = shuffled(DB.sample_ids, 66)
    rng = random.Random(9)
    expected = []
    for number, start in enumerate(range(0, 10, 4), start=1):
        group = order[start : start + 4]
        flipped = set(rng.sample(group, min(2, len(group))))
        for phase in ("wrong_learn", "wrong_test", "right_learn", "right_test"):
            expected += [
                (phase, s, number, phase.endswith("learn"), phase == "wrong_learn" and s in flipped) for s in group
            ]
    assert [(s.phase, s.sample_id, s.stage, s.update, s.flip_reward) for s in stream.steps] == expected


def test_repair_on_locomo_injects_each_session_and_survives_a_session_without_questions():
    (stream,) = plan("repair", [CONV], repair_size_locomo=0.5, repair_seed=3, shuffle=False).streams
    rng = random.Random(3)
    first = set(rng.sample(["qa-0", "qa-1", "qa-2"], max(1, math.floor(3 * 0.5))))
    third = set(rng.sample(["qa-3", "qa-4"], max(1, math.floor(2 * 0.5))))
    flipped = {(s.stage, s.sample_id) for s in stream.steps if s.flip_reward}
    assert flipped == {(1, q) for q in first} | {(3, q) for q in third}
    assert [s.sample_id for s in stream.steps if s.kind == INJECT] == ["session-1", "session-2", "session-3"]  # [Q14]


@pytest.mark.parametrize("mode", ["offline", "online", "replay", "transfer", "repair"])
def test_same_seed_same_plan_other_seed_other_plan(mode):
    kwargs = {"replay_n": 3} if mode == "replay" else {}
    assert plan(mode, [DB, CONV], **kwargs) == plan(mode, [DB, CONV], **kwargs)
    assert plan(mode, [DB], seed=1, **kwargs) != plan(mode, [DB], seed=2, **kwargs)


@pytest.mark.parametrize(
    "mode, indexes, params, message",
    [
        ("replay", [DB], {"replay_n": 11}, "--amb-replay-n: 11 replay tests per stage, but 'db' has only 10"),
        (
            "transfer",
            [DB, DB2],
            {"transfer_from": "db", "transfer_to": "other"},
            "--amb-transfer-to: 'other' is not a selected task",
        ),
        (
            "transfer",
            [DB, CONV],
            {"transfer_from": "db", "transfer_to": "conv"},
            "--amb-transfer-to: 'conv' is a conversation",
        ),
        (
            "repair",
            [DB],
            {"repair_size_locomo": 0.0},
            "--amb-repair-size-locomo: 0.0 is not accepted; give a fraction in (0, 1]",
        ),
        ("repair", [DB], {"repair_size_locomo": 1.5}, "--amb-repair-size-locomo: 1.5"),
        ("offline", [DB], {"train_size": 1.0}, "--amb-train-size: 1.0"),
        ("online", [DB], {"cross_task": True}, "--amb-cross-task: needs at least two"),
    ],
)
def test_mode_parameters_that_make_no_sense_name_the_option(mode, indexes, params, message):
    with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        plan(mode, indexes, **params)


def test_xdist_work_units_keep_learning_steps_together_and_chunk_read_only_steps():
    from pytest_amb.scheduling import CHUNK, work_units

    offline = plan("offline", [DB])
    scopes, waits_for = work_units(offline)
    (stream,) = offline.streams
    train = [s for s in stream.steps if s.phase == "train"]
    tests = [s for s in stream.steps if s.phase == "test"]
    assert {scopes[s.id] for s in train} == {stream.id}
    test_scopes = [scopes[s.id] for s in tests]
    assert len(set(test_scopes)) == -(-len(tests) // CHUNK) and stream.id not in test_scopes
    assert set(waits_for.values()) == {train[-1].id}  # every chunk waits for the last learning step
    online_scopes, online_waits = work_units(plan("online", [DB]))
    assert set(online_scopes.values()) == {"stream_icl/db"} and not online_waits
