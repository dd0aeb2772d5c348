import random

from pytest_amb.interfaces import SessionInfo, TaskIndex
from pytest_amb.plan import INJECT, SAMPLE, build_plan
from pytest_amb.plan.online import session_schedule

INDEX = TaskIndex(
    name="locomo-x",
    family="locomo",
    sample_ids=("qa-0", "qa-1", "qa-2", "qa-3", "qa-4", "qa-5"),
    sessions=(
        SessionInfo(2, "", ("qa-3", "qa-4", "qa-5")),
        SessionInfo(1, "", ("qa-0", "qa-1", "qa-2")),
        SessionInfo(3, "", ()),  # a session without questions is still injected
    ),
)


def _order(entries):
    return [e.sample_id for e in entries]


def test_session_schedule_matches_the_original_rng_use():
    # Spec §5.2: one Random(seed) shared across sessions, in ascending session order; each session's
    # QA list (file order) is shuffled in place; the injection marker precedes the session's QAs.
    rng = random.Random(66)
    first, second = ["qa-0", "qa-1", "qa-2"], ["qa-3", "qa-4", "qa-5"]
    rng.shuffle(first)
    rng.shuffle(second)
    expected = ["session-1", *first, "session-2", *second, "session-3"]
    assert _order(session_schedule(INDEX, seed=66, shuffle=True)) == expected


def test_session_schedule_without_shuffle_keeps_file_order():
    entries = session_schedule(INDEX, seed=66, shuffle=False)
    assert _order(entries) == ["session-1", "qa-0", "qa-1", "qa-2", "session-2", "qa-3", "qa-4", "qa-5", "session-3"]
    assert [e.kind for e in entries][:2] == [INJECT, SAMPLE]


def test_same_seed_same_plan_and_other_seed_other_plan():
    big = TaskIndex("t", "locomo", (), (SessionInfo(1, "", tuple(f"qa-{i}" for i in range(12))),))
    plan_a = build_plan("online", ["stream_icl"], [66], True, 0, [big])
    plan_b = build_plan("online", ["stream_icl"], [66], True, 0, [big])
    plan_c = build_plan("online", ["stream_icl"], [67], True, 0, [big])
    assert plan_a == plan_b
    assert [s.sample_id for s in plan_a.steps()] != [s.sample_id for s in plan_c.steps()]


def test_plan_has_one_stream_per_memory_seed_and_task_with_positions_and_ops():
    other = TaskIndex("locomo-y", "locomo", ("qa-0",), (SessionInfo(1, "", ("qa-0",)),))
    plan = build_plan("online", ["zero_shot", "stream_icl"], [1, 2], True, 0, [INDEX, other])
    assert [s.id for s in plan.streams] == [
        "zero_shot/locomo-x/seed1", "zero_shot/locomo-y/seed1",
        "zero_shot/locomo-x/seed2", "zero_shot/locomo-y/seed2",
        "stream_icl/locomo-x/seed1", "stream_icl/locomo-y/seed1",
        "stream_icl/locomo-x/seed2", "stream_icl/locomo-y/seed2",
    ]  # fmt: skip
    for stream in plan.streams:
        assert [s.position for s in stream.steps] == list(range(len(stream.steps)))
        for step in stream.steps:
            assert step.update
            assert step.augment == (step.kind == SAMPLE)  # injections write memory only
            assert step.memory_op == ("augment+update" if step.kind == SAMPLE else "update")


def test_single_seed_stream_ids_and_step_ids_are_readable_and_stable():
    plan = build_plan("online", ["stream_icl"], [66], False, 0, [INDEX])
    assert plan.streams[0].id == "stream_icl/locomo-x"
    assert plan.steps()[1].id == "stream_icl/locomo-x/0001-qa-0"


def test_limit_keeps_the_first_steps_of_each_stream():
    plan = build_plan("online", ["stream_icl"], [66], False, 4, [INDEX])
    assert [s.sample_id for s in plan.steps()] == ["session-1", "qa-0", "qa-1", "qa-2"]
